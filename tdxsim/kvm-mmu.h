/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * tdxsim: upstream KVM's mirror TDP MMU for TD private memory (kvm-mmu.c).
 * A sibling of the side-table UAPI (kvm-sept.h): neither includes the
 * other; kvm.h's ioctls choose between them by vm->sept.enabled.
 */
#ifndef TDXSIM_KVM_MMU_H
#define TDXSIM_KVM_MMU_H

#include "kvm-vm.h"

/*
 * vm->lock held.  4K map for KVM_PRE_FAULT_MEMORY, or PAGE.ADD with
 * add_page (INIT_MEM_REGION), retried on RET_PF_RETRY: 0, -EFAULT (no
 * guest_memfd page), -ENOMEM, -EAGAIN (still busy), -EIO (KVM_BUG_ON).
 */
int sim_mmu_map_private(struct sim_vm *vm, uint64_t gpa, bool add_page);
/*
 * vm->lock held on entry and return, dropped meanwhile: a vCPU's lazy 4K
 * fault, concurrent with other vCPUs' faults (mmu_lock held for read).
 * 0, -EAGAIN (RET_PF_RETRY: re-enter and fault again), -EFAULT, -ENOMEM,
 * -EIO (KVM_BUG_ON, or the VM died meanwhile).
 */
int sim_mmu_fault_private(struct sim_vcpu *vcpu, uint64_t gpa);
/* Zap the private leaves of [gpa, gpa + size) (mirror mode only). */
void sim_mmu_zap_private(struct sim_vm *vm, uint64_t gpa, uint64_t size);
int sim_pre_fault_memory(struct sim_vcpu *vcpu, struct kvm_pre_fault_memory *r);

#endif /* TDXSIM_KVM_MMU_H */
