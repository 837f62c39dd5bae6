/* SPDX-License-Identifier: GPL-2.0-or-later */
/* tdxsim kshim: build and read a TD of the hosted code (kshim-vm.c). */
#ifndef TDXSIM_KSHIM_VM_H
#define TDXSIM_KSHIM_VM_H

#include "kshim-types.h"

/* mod_td: the TDX module model's TD; hkid 1, state UNINITIALIZED. */
struct kvm *kshim_vm_new(void *mod_td, bool five_level,
                         const struct kshim_host_ops *host, void *opaque);
void kshim_vm_free(struct kvm *kvm);
/* enum kvm_tdx_state: 0 uninitialized, 1 initialized, 2 runnable. */
void kshim_vm_set_state(struct kvm *kvm, int state);
void kshim_vm_set_hkid(struct kvm *kvm, int hkid);
bool kshim_vm_wait_for_sept_zap(struct kvm *kvm);
bool kshim_vm_side_lock_held(struct kvm *kvm);

#endif /* TDXSIM_KSHIM_VM_H */
