/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * tdxsim: side-table mode (KVM_CAP_TDX_SIDE_SEPT), which is the KVM
 * series' linux/arch/x86/kvm/vmx/tdx_side_sept.c hosted through kshim/
 * (kvm-sept.c wires it).  A sibling of the mirror MMU (kvm-mmu.h): neither
 * includes the other.
 */
#ifndef TDXSIM_KVM_SEPT_H
#define TDXSIM_KVM_SEPT_H

#include "kvm-vm.h"

/* What the kernel offers: 4K leaves (guest_memfd has order-0 folios). */
#define SIM_SEPT_LEAVES KVM_TDX_SEPT_LEAF_4K

/* All with vm->lock held, but sim_sept_stats(). */
int sim_sept_enable(struct sim_vm *vm, const struct kvm_enable_cap *cap);
/* KVM_TDX_INIT_VM made the TD; KVM_TDX_FINALIZE_VM made it runnable. */
void sim_sept_td_created(struct sim_vm *vm);
void sim_sept_finalized(struct sim_vm *vm);
/* KVM_TDX_SEPT_* ; other ids return -ENOTTY. */
int sim_sept_vm_op(struct sim_vm *vm, struct kvm_tdx_cmd *cmd);
/* KVM_TDX_SEPT_STATS, without vm->lock (the kernel takes no lock). */
int sim_sept_stats(struct sim_vm *vm, struct kvm_tdx_cmd *cmd);
/* KVM_TDX_INIT_MEM_REGION's PAGE.ADD in side-table mode. */
int sim_sept_add_page(struct sim_vm *vm, uint64_t gpa);
/* VM destruction: the key, then every page (tdx_side_sept_destroy()). */
void sim_sept_destroy(struct sim_vm *vm);
/* A memslot deleted: kvm_arch_flush_shadow_memslot()'s hook. */
void sim_sept_unmap_internal(struct sim_vm *vm, uint64_t gpa, uint64_t size);
/* fallocate(PUNCH_HOLE) on g: 0 or -EBUSY (a pinned page). */
int sim_sept_punch_hole(struct sim_vm *vm, struct sim_gmem *g,
                        uint64_t offset, uint64_t len);
/* EPT violation on a private GPA: 1 = the guest retries, -EFAULT = a
 * KVM_EXIT_MEMORY_FAULT is prepared in vcpu->run. */
int sim_sept_private_fault(struct sim_vcpu *vcpu, uint64_t gpa);
/* The hosted side table, read for the report and the checks. */
void sim_sept_stats_read(struct sim_vm *vm, struct kvm_tdx_sept_stats *st);
void sim_sept_for_each_page(struct sim_vm *vm,
                            void (*fn)(uint64_t gfn, uint64_t pfn,
                                       bool mapped, void *opaque),
                            void *opaque);
uint64_t sim_sept_table_pages(struct sim_vm *vm);

#endif /* TDXSIM_KVM_SEPT_H */
