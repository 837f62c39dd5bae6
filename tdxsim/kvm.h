/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * tdxsim: the fake KVM's ioctl level -- fds and dispatch, capabilities,
 * memslots and guest_memfd, the TDX commands, KVM_RUN -- above the mirror
 * MMU (kvm-mmu.h) and the side-table UAPI (kvm-sept.h), on the objects of
 * kvm-vm.h.  preload.c routes libc calls on the fake fds here; every fake
 * fd is a real memfd so the kernel never sees a collision.
 */
#ifndef TDXSIM_KVM_H
#define TDXSIM_KVM_H

#include "kvm-vm.h"
#include "kvm-guest.h"

/* kvm.c: host, fd table and dispatch. */
void sim_init(void);
bool sim_is_device(const char *path);
int sim_open_device(int flags);
bool sim_owns_fd(int fd);
int sim_ioctl(int fd, unsigned long req, void *arg);
void sim_close(int fd);
void sim_fini(void);
struct sim_obj *sim_new_obj(enum sim_obj_kind kind, const char *name,
                            uint64_t size);
void sim_vm_put(struct sim_vm *vm);

/* kvm-caps.c: capabilities, CPUID, MSRs (system and VM scope). */
int sim_check_extension(struct sim_vm *vm, long cap);
int sim_get_supported_cpuid(struct kvm_cpuid2 *arg);
int sim_get_msr_index_list(struct kvm_msr_list *arg, bool features);
int sim_get_feature_msrs(struct kvm_msrs *arg);
int sim_get_device_attr(struct kvm_device_attr *attr);
int sim_enable_cap(struct sim_vm *vm, struct kvm_enable_cap *cap);
int sim_create_irqchip(struct sim_vm *vm);
/* TDX view: configurable CPUID list, supported attributes and XFAM. */
int sim_tdx_fill_caps(struct kvm_tdx_capabilities *caps);
unsigned sim_tdx_nr_cpuid_config(void);
/* The configurable CPUID entry (function, index) as CAPABILITIES reports. */
bool sim_tdx_cpuid_config(uint32_t function, uint32_t index,
                          struct kvm_cpuid_entry2 *out);
void sim_tdx_vcpu_cpuid(struct sim_vm *vm, struct kvm_cpuid2 *out,
                        uint32_t max);
unsigned sim_host_phys_bits(void);

/* kvm-mem.c: memslots, guest_memfd, memory attributes. */
int sim_set_memory_region2(struct sim_vm *vm,
                           const struct kvm_userspace_memory_region2 *r);
int sim_create_guest_memfd(struct sim_vm *vm, struct kvm_create_guest_memfd *a);
/* GUEST_MEMFD_FLAG_* a guest_memfd of vm (NULL: the system fd) may have. */
uint64_t sim_gmem_supported_flags(struct sim_vm *vm);
int sim_set_memory_attributes(struct sim_vm *vm,
                              const struct kvm_memory_attributes *a);
/*
 * fallocate() on a guest_memfd, before the real memfd does it: checks the
 * mode as guest_memfd does and, for a hole punch, zaps the private
 * mappings of every memslot bound to the range (kvm_gmem_invalidate).
 * Returns 0 or -errno; fd must be a guest_memfd (sim_is_gmem_fd()).
 */
int sim_gmem_fallocate(int fd, int mode, uint64_t offset, uint64_t len);
bool sim_is_gmem_fd(int fd);
/* kvm_gmem_release(): the file's last reference went (vm->lock held). */
void sim_gmem_release(struct sim_vm *vm, struct sim_gmem *g);
/*
 * mmap() of a guest_memfd: 0 if kvm_gmem_mmap() would map it (created with
 * GUEST_MEMFD_FLAG_MMAP, MAP_SHARED), else -errno.  A TD's guest_memfd is
 * never INIT_SHARED, so every access to such a mapping is SIGBUS
 * (kvm_gmem_fault_user_mapping()).  read()/write() fail -EINVAL and
 * pread()/pwrite() -ESPIPE: the file has no read/write operations.
 */
int sim_gmem_mmap_check(int fd, int flags);
/*
 * The model's own write into a guest_memfd (INIT_MEM_REGION's copy); -1
 * (EBADF) once the file is released.
 */
ssize_t sim_gmem_pwrite(struct sim_gmem *g, const void *buf, size_t len,
                        uint64_t off);
/*
 * Zap the private mappings of [gpa, gpa + size): the mirror MMU's zap, or
 * in side-table mode an UNMAP from inside KVM (vm->lock held).
 */
void sim_zap_private(struct sim_vm *vm, uint64_t gpa, uint64_t size);

/* kvm-tdx.c: KVM_MEMORY_ENCRYPT_OP and TD teardown. */
int sim_tdx_vm_op(struct sim_vm *vm, struct kvm_tdx_cmd *cmd);
int sim_tdx_vcpu_op(struct sim_vcpu *vcpu, struct kvm_tdx_cmd *cmd);
int sim_tdx_create_vcpu(struct sim_vm *vm);
void sim_tdx_destroy(struct sim_vm *vm);
/* "linux-7.2-release" or "key-release-first" (report teardown.order). */
const char *sim_teardown_order_name(struct sim_vm *vm);

/* kvm-run.c: KVM_RUN. */
int sim_vcpu_run(struct sim_vcpu *vcpu);
/* The scripted guest KVM_RUN enters (sim_register_guest()). */
const struct sim_guest_ops *sim_guest(void);

#endif /* TDXSIM_KVM_H */
