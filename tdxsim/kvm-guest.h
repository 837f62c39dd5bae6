/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * tdxsim: what the scripted guest (guest.c) may ask of the fake KVM, and
 * how KVM_RUN enters it.  The guest sits above KVM: it includes this
 * header only, never the mirror MMU, the side-table UAPI or the TDX
 * module's interface; KVM reaches the guest only through the ops it
 * registers here (kvm-run.c calls them).  See "Layout" in TRACES.md.
 */
#ifndef TDXSIM_KVM_GUEST_H
#define TDXSIM_KVM_GUEST_H

#include "kvm-vm.h"

/* What one guest step leaves KVM_RUN to do. */
enum guest_result {
    GUEST_EXIT,         /* kvm_run filled; return 0 from KVM_RUN */
    GUEST_EFAULT,       /* KVM_EXIT_MEMORY_FAULT; return -EFAULT */
    GUEST_CONTINUE,     /* handled inside KVM; run the next step */
    GUEST_BLOCK,        /* nothing to do: halt until kicked/woken */
    GUEST_ERROR,        /* KVM would fail KVM_RUN (errno in *err) */
};

/* The guest's entry points, all called with vm->lock held. */
struct sim_guest_ops {
    void (*vm_setup)(struct sim_vm *vm);
    void (*vcpu_setup)(struct sim_vcpu *vcpu);
    /* KVM_TDX_FINALIZE_VM done: the guest may check its trace's vCPUs. */
    void (*vm_finalized)(struct sim_vm *vm);
    /* complete_userspace_io (before immediate_exit is looked at). */
    enum guest_result (*complete)(struct sim_vcpu *vcpu, int *err);
    /* One step in the guest, between TDH.VP.ENTER and the TD exit. */
    enum guest_result (*step)(struct sim_vcpu *vcpu, int *err);
};
void sim_register_guest(const struct sim_guest_ops *ops);

/* ---- kvm-guest.c: KVM's side of what the guest does ---- */

/* The S-EPT state of a private GPA as the CPU finds it. */
enum kvm_gpa_state {
    KVM_GPA_UNMAPPED,       /* no leaf: an access is an EPT violation */
    KVM_GPA_PENDING,        /* mapped, not accepted */
    KVM_GPA_ACCEPTED,
};
/* *level (if not NULL): the leaf's level when mapped. */
enum kvm_gpa_state kvm_guest_gpa_state(struct sim_vcpu *vcpu, uint64_t gpa,
                                       int *level);

/* TDG.MEM.PAGE.ACCEPT from the vCPU (a TDCALL: the TDX module answers). */
tdx_status_t kvm_guest_accept(struct sim_vcpu *vcpu, uint64_t gpa, int level);

/* How KVM resolved an EPT violation on a private GPA. */
enum kvm_fault {
    KVM_FAULT_RETRY,        /* mapped (or BUSY: RET_PF_RETRY): re-execute */
    KVM_FAULT_EXIT,         /* KVM_EXIT_MEMORY_FAULT filled: -EFAULT */
    KVM_FAULT_RACING,       /* side-table: private, unmapped, a conversion
                               racing it is in flight: re-execute later */
    KVM_FAULT_ERROR,        /* KVM_RUN fails (errno in *err) */
};
/*
 * The EPT violation of a private access at gpa (tdx_handle_ept_violation()
 * -> the TDP MMU fault): implicit conversion exit if the attribute says
 * shared, else a lazy 4K map (mirror mode).
 */
enum kvm_fault kvm_guest_private_fault(struct sim_vcpu *vcpu, uint64_t gpa,
                                       int *err);
/*
 * The EPT violation of an ACCEPT at level: a 4K ACCEPT inside a pending 2M
 * leaf splits it (side-table mode), anything else is the private fault.
 */
enum kvm_fault kvm_guest_accept_fault(struct sim_vcpu *vcpu, uint64_t gpa,
                                      int level, int *err);
/* KVM_EXIT_MEMORY_FAULT for gpa (conversion request to userspace). */
enum guest_result kvm_guest_memory_fault_exit(struct sim_vcpu *vcpu,
                                              uint64_t gpa, bool private);

#endif /* TDXSIM_KVM_GUEST_H */
