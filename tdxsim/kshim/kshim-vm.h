/* SPDX-License-Identifier: GPL-2.0-or-later */
/* tdxsim kshim: build and read a TD of the hosted code (kshim-vm.c). */
#ifndef TDXSIM_KSHIM_VM_H
#define TDXSIM_KSHIM_VM_H

#include "kshim-types.h"

/* mod_td: the TDX module model's TD; hkid 1, state UNINITIALIZED. */
struct kvm *kshim_vm_new(void *mod_td, bool five_level,
                         const struct kshim_host_ops *host, void *opaque);
/* enum kvm_tdx_state: 0 uninitialized, 1 initialized, 2 runnable. */
void kshim_vm_set_state(struct kvm *kvm, int state);
void kshim_vm_set_hkid(struct kvm *kvm, int hkid);
bool kshim_vm_wait_for_sept_zap(struct kvm *kvm);
bool kshim_vm_side_lock_held(struct kvm *kvm);

/* The TD of the module model, once KVM_TDX_INIT_VM made it. */
void kshim_vm_set_td(struct kvm *kvm, void *mod_td, bool five_level);
/* kvm_tdx->wait_for_sept_zap: vCPUs must stay out of the guest. */
bool *kshim_vm_wait_for_sept_zap_flag(struct kvm *kvm);
bool kshim_vm_side_torn_down(struct kvm *kvm);
/* The side table's counters (KVM_TDX_SEPT_STATS without the copy). */
void kshim_vm_side_stats(struct kvm *kvm, struct kvm_tdx_sept_stats *st);
/* Every pinned page: gfn, host pfn, whether mapped in the S-EPT. */
void kshim_vm_side_for_each_page(struct kvm *kvm,
                                 void (*fn)(uint64_t gfn, uint64_t pfn,
                                            bool mapped, void *opaque),
                                 void *opaque);
/* S-EPT pages the side table added and holds. */
uint64_t kshim_vm_side_tables(struct kvm *kvm);

/* KVM_BUG_ON() fired in the hosted code: the VM is dead. */
bool kshim_vm_bugged(struct kvm *kvm);

#endif /* TDXSIM_KSHIM_VM_H */
