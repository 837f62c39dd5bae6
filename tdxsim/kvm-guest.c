// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * tdxsim: KVM's side of what the scripted guest does (kvm-guest.h): the
 * EPT violations of its accesses and ACCEPTs (implicit conversion exits,
 * the mirror MMU's lazy fault-in, side-table mode's split of a pending 2M
 * leaf) and the TDCALLs it makes.  Runs with vm->lock held, from KVM_RUN.
 */
#include <errno.h>

#include "kvm.h"
#include "kvm-guest.h"
#include "kvm-mmu.h"
#include "kvm-sept.h"

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
    struct sim_slot *slot;
    int r;

    vm->stats.private_faults++;
    if (!sim_gfn_private(vm, gpa >> 12)) {
        return fault_exit(vcpu, gpa);
    }
    if (vm->sept.enabled) {
        slot = sim_find_slot(vm, gpa);
        if (!slot || !slot->gmem) {
            return fault_exit(vcpu, gpa);
        }
        vm->sept.racing_faults++;
        return KVM_FAULT_RACING;
    }
    r = sim_mmu_map_private(vm, gpa, false);
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

/*
 * The EPT violation of an ACCEPT (the module exits to the host with the
 * accept level): a 4K ACCEPT inside a *pending* 2M leaf makes KVM split the
 * leaf (side-table mode, as KVM's TDX huge-page support does); anything
 * else is KVM's private fault (lazy AUG, implicit conversion exit, ...).
 */
enum kvm_fault kvm_guest_accept_fault(struct sim_vcpu *vcpu, uint64_t gpa,
                                      int level, int *err)
{
    struct sim_vm *vm = vcpu->vm;
    struct tdx_sept_leaf_info info;

    if (level == TDX_LEVEL_4K && vm->sept.enabled &&
        tdx_td_lookup(vm->td, gpa, &info) && info.level == TDX_LEVEL_2M &&
        info.state == SEPT_PENDING) {
        /* The TD exit: this vCPU is out of the guest while KVM works. */
        tdx_vp_exit(vm->td, vcpu->vp);
        if (sim_sept_accept_split(vm, gpa) == -EIO ||
            sim_vcpu_reenter(vcpu)) {
            *err = EIO;
            return KVM_FAULT_ERROR;
        }
        return KVM_FAULT_RETRY;
    }
    return kvm_guest_private_fault(vcpu, gpa, err);
}
