// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * tdxsim: KVM's side of what the scripted guest does (kvm-guest.h): the
 * EPT violations of its accesses and ACCEPTs (implicit conversion exits,
 * the mirror MMU's lazy fault-in, side-table mode's split of a pending 2M
 * leaf) and the TDCALLs it makes.  Runs with vm->lock held, from KVM_RUN;
 * a TDCALL and the mirror's private fault drop it meanwhile.
 */
#include <errno.h>

#include "kvm.h"
#include "kvm-guest.h"
#include "kvm-mmu.h"
#include "kvm-sept.h"

/* Local retries of one private fault (each paused a little, kvm-mmu.c). */
#define FAULT_LOCAL_RETRIES 100000

enum kvm_gpa_state kvm_guest_gpa_state(struct sim_vcpu *vcpu, uint64_t gpa,
                                       int *level)
{
    struct sim_vm *vm = vcpu->vm;
    struct tdx_sept_leaf_info info;

    if (!sim_gfn_private(vm, gpa >> 12) || !tdx_td_lookup(vm->td, gpa, &info)) {
        return KVM_GPA_UNMAPPED;
    }
    if (level) {
        *level = info.level;
    }
    return info.state == SEPT_PENDING ? KVM_GPA_PENDING : KVM_GPA_ACCEPTED;
}

/*
 * The TDCALL runs in the guest, without vm->lock, overlapping every other
 * thread's SEAMCALLs; a kick meanwhile is a TD exit, after which the vCPU
 * enters again to go on (kvm-kick.c).
 */
tdx_status_t kvm_guest_accept(struct sim_vcpu *vcpu, uint64_t gpa, int level)
{
    bool unlocked = sim_vcpu_unlock_in_guest(vcpu);
    tdx_status_t st = tdg_mem_page_accept(vcpu->vm->td, vcpu->vp, gpa, level);

    if (unlocked) {
        sim_vcpu_lock_in_guest(vcpu);
        if (vcpu->kicked_out) {
            /* -EIO: the TD is going away; KVM_RUN's loop returns then. */
            sim_vcpu_reenter(vcpu);
        }
    }
    return st;
}

enum guest_result kvm_guest_memory_fault_exit(struct sim_vcpu *vcpu,
                                              uint64_t gpa, bool private)
{
    struct kvm_run *run = vcpu->run;

    run->exit_reason = KVM_EXIT_MEMORY_FAULT;
    run->memory_fault.flags = private ? KVM_MEMORY_EXIT_FLAG_PRIVATE : 0;
    run->memory_fault.gpa = gpa & ~0xfffULL;
    run->memory_fault.size = SIM_PAGE_SIZE;
    if (vcpu->vm->sept.enabled) {
        vcpu->conv_gpa = run->memory_fault.gpa;
        vcpu->conv_size = SIM_PAGE_SIZE;
    }
    return GUEST_EFAULT;
}

static enum kvm_fault fault_exit(struct sim_vcpu *vcpu, uint64_t gpa)
{
    kvm_guest_memory_fault_exit(vcpu, gpa, true);
    return KVM_FAULT_EXIT;
}

/*
 * KVM's private fault at gpa: implicit conversion exit if the attributes
 * say shared, else a lazy 4K map.  Side-table mode never faults private
 * memory in: a private, unmapped page there is a conversion racing the
 * access (userspace set the attribute and has not mapped yet).
 */
enum kvm_fault kvm_guest_private_fault(struct sim_vcpu *vcpu, uint64_t gpa,
                                       int *err)
{
    struct sim_vm *vm = vcpu->vm;
    int r;

    vm->stats.private_faults++;
    if (vm->sept.enabled) {
        /* tdx_side_sept_handle_private_fault(): retry, or exit. */
        if (sim_sept_private_fault(vcpu, gpa) > 0) {
            return KVM_FAULT_RACING;
        }
        return fault_exit(vcpu, gpa);
    }
    /*
     * Linux 7.2 tdx_handle_ept_violation(): a private fault answered
     * RET_PF_RETRY (a frozen SPTE, a zap in between, BUSY from AUG or
     * SEPT.ADD) is retried locally, without re-entering the guest, until
     * it is resolved, a signal is pending (immediate_exit here) or the VM
     * is dead; bounded here so that a BUSY that never ends shows up (the
     * guest then re-executes, and a livelock is found).
     */
    for (unsigned tries = 0;; tries++) {
        if (!sim_gfn_private(vm, gpa >> 12)) {
            return fault_exit(vcpu, gpa);
        }
        /* vm->lock dropped meanwhile: other vCPUs fault in parallel. */
        r = sim_mmu_fault_private(vcpu, gpa);
        if (r != -EAGAIN || tries >= FAULT_LOCAL_RETRIES ||
            __atomic_load_n(&vcpu->run->immediate_exit, __ATOMIC_ACQUIRE)) {
            break;
        }
    }
    switch (r) {
    case 0:
        sim_check_range(vm, gpa & ~0xfffULL, SIM_PAGE_SIZE);
        return KVM_FAULT_RETRY;
    case -EAGAIN:
        return KVM_FAULT_RETRY;
    case -EFAULT:
        /* no guest_memfd behind it: KVM reports a memory fault */
        return fault_exit(vcpu, gpa);
    default:
        *err = -r;
        return KVM_FAULT_ERROR;
    }
}

/* The EPT violation of an ACCEPT: KVM's private fault, as any other. */
enum kvm_fault kvm_guest_accept_fault(struct sim_vcpu *vcpu, uint64_t gpa,
                                      int level, int *err)
{
    return kvm_guest_private_fault(vcpu, gpa, err);
}
