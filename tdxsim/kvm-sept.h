/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * tdxsim: the side-table UAPI (KVM_CAP_TDX_SIDE_SEPT, KVM_TDX_SEPT_*):
 * kvm-sept.c (the commands) on kvm-sept-ops.c (their SEAMCALL sequences).
 * A sibling of the mirror MMU (kvm-mmu.h): neither includes the other.
 */
#ifndef TDXSIM_KVM_SEPT_H
#define TDXSIM_KVM_SEPT_H

#include "kvm-vm.h"

/* kvm-sept.c: the side-table UAPI (KVM_CAP_TDX_SIDE_SEPT, KVM_TDX_SEPT_*). */
#define SIM_SEPT_LEAVES (KVM_TDX_SEPT_LEAF_4K | KVM_TDX_SEPT_LEAF_2M)
int sim_sept_enable(struct sim_vm *vm, const struct kvm_enable_cap *cap);
/* KVM_TDX_SEPT_* (vm->lock held); other ids return -ENOTTY. */
int sim_sept_vm_op(struct sim_vm *vm, struct kvm_tdx_cmd *cmd);
/* Teardown of all private memory (TEARDOWN, or VM destruction). */
int sim_sept_teardown(struct sim_vm *vm, bool interruptible);
/* UNMAP of a range from inside KVM (memslot deletion). */
void sim_sept_unmap_internal(struct sim_vm *vm, uint64_t gpa, uint64_t size);

/* kvm-sept-ops.c: SEAMCALL sequences on the side table (vm->lock held). */
void sim_sept_table_init(struct sim_vm *vm);
/* 0 or -EAGAIN (busy), -ENOMEM, -EIO (*hw set, VM bugged). */
int sim_sept_link(struct sim_vm *vm, uint64_t gpa, int leaf_level,
                  tdx_status_t *hw);
int sim_sept_aug(struct sim_vm *vm, uint64_t gpa, int level, tdx_pfn_t pfn,
                 tdx_status_t *hw);
/* PAGE.ADD of KVM_TDX_INIT_MEM_REGION in side-table mode (pins it). */
int sim_sept_add_page(struct sim_vm *vm, uint64_t gpa);
int sim_sept_track(struct sim_vm *vm, tdx_status_t *hw);
int sim_sept_demote(struct sim_vm *vm, uint64_t gpa2m, tdx_status_t *hw);
/* BLOCK, one TRACK, REMOVE for leaves[n] (gpa | level in bit 0). */
int sim_sept_remove_batch(struct sim_vm *vm, const uint64_t *leaves,
                          unsigned n, unsigned *removed, tdx_status_t *hw);
/* Remove S-EPT pages left empty by removals under gpas. */
int sim_sept_prune(struct sim_vm *vm, tdx_status_t *hw);
void sim_sept_note_touched(struct sim_vm *vm, uint64_t gpa);
/* Try to merge the 4K leaves of the 2M block at gpa2m: 1 merged, 0 not
 * (yet), <0 error. */
int sim_sept_try_promote(struct sim_vm *vm, uint64_t gpa2m, tdx_status_t *hw);
void sim_sept_retry_candidates(struct sim_vm *vm, unsigned budget);
/* KVM's count of present 4K leaves in the block (512 if a 2M leaf). */
unsigned sim_sept_block_present(struct sim_vm *vm, uint64_t gpa2m);
uint64_t sim_sept_table_pages(struct sim_vm *vm);
/* Guest 4K ACCEPT hit a 2M leaf: split it (BLOCK, TRACK, DEMOTE). */
int sim_sept_accept_split(struct sim_vm *vm, uint64_t gpa);

#endif /* TDXSIM_KVM_SEPT_H */
