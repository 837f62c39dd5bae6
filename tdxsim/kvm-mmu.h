/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * tdxsim: upstream KVM's mirror TDP MMU for TD private memory (kvm-mmu.c).
 * A sibling of the side-table UAPI (kvm-sept.h): neither includes the
 * other; kvm.h's ioctls choose between them by vm->sept.enabled.
 */
#ifndef TDXSIM_KVM_MMU_H
#define TDXSIM_KVM_MMU_H

#include "kvm-vm.h"

/* vm->lock held.  Lazy 4K fault-in (or PAGE.ADD with add_page). */
int sim_mmu_map_private(struct sim_vm *vm, uint64_t gpa, bool add_page);
/* Zap the private leaves of [gpa, gpa + size) (mirror mode only). */
void sim_mmu_zap_private(struct sim_vm *vm, uint64_t gpa, uint64_t size);
int sim_pre_fault_memory(struct sim_vcpu *vcpu, struct kvm_pre_fault_memory *r);

#endif /* TDXSIM_KVM_MMU_H */
