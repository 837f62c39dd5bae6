/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * tdxsim kshim: the kernel API that linux/arch/x86/kvm/vmx/tdx_side_sept.c
 * uses, for compiling that file unchanged in user space (as
 * tools/testing/radix-tree hosts lib/radix-tree.c).  Every header the
 * file includes (<linux/kvm_host.h>, <linux/mm.h>, <linux/pagemap.h>,
 * <asm/tdx.h>, "mmu.h", "x86_ops.h", "tdx.h") is a one-line file of
 * kshim/include/ that includes this one.
 *
 * What it fakes (kshim.c implements it):
 * - locks: mutex and rwlock are pthread locks with an owner for the
 *   lockdep assertions; kvm->srcu is a reader lock; guest_memfd's
 *   invalidate lock a pthread rwlock;
 * - the xarray: a sorted map with marks (GTree), same semantics for the
 *   calls used;
 * - pages: struct page is a pfn of the TDX module model with a reference
 *   count; alloc_page() takes S-EPT pages from the host's allocator;
 * - SEAMCALL wrappers (tdh_*, tdx_reclaim_page()): the TDX module model
 *   (tdxmod.h), PG_LEVEL_* turned into TDX levels as arch/x86/virt does;
 * - guest_memfd lookups, memory attributes, kicks, the key release and
 *   signals: callbacks of the host (struct kshim_host_ops);
 * - RLIMIT_MEMLOCK: account_locked_vm() against kvm->memlock_limit;
 * - user copies: plain memcpy (the host passes its own pointers).
 */
#ifndef TDXSIM_KSHIM_KERNEL_H
#define TDXSIM_KSHIM_KERNEL_H

/* The kernel's names of what the TDX module model also names. */
#define tdx_td                          kshim_tdx_td
#define tdh_mem_sept_add                kshim_tdh_mem_sept_add
#define tdh_mem_page_aug                kshim_tdh_mem_page_aug
#define tdh_mem_page_add                kshim_tdh_mem_page_add
#define tdh_mem_range_block             kshim_tdh_mem_range_block
#define tdh_mem_track                   kshim_tdh_mem_track
#define tdh_mem_page_remove             kshim_tdh_mem_page_remove
#define tdh_phymem_page_wbinvd_hkid     kshim_tdh_phymem_page_wbinvd_hkid

#include "kshim-api.h"

/* TDX ("tdx.h", <asm/tdx.h>, "x86_ops.h") */
#define TDX_SEAMCALL_STATUS_MASK        0xFFFFFFFF00000000ULL
#define TDX_OPERAND_BUSY                0x8000020000000000ULL

enum kvm_tdx_state {
    TD_STATE_UNINITIALIZED = 0,
    TD_STATE_INITIALIZED,
    TD_STATE_RUNNABLE,
};

#include "../../linux/arch/x86/kvm/vmx/tdx_side_sept.h"

struct kvm_tdx {
    struct kvm kvm;
    int hkid;
    enum kvm_tdx_state state;
    struct tdx_td td;
    bool wait_for_sept_zap;
    struct tdx_side_sept side_sept;
};

static inline struct kvm_tdx *to_kvm_tdx(struct kvm *kvm)
{
    return container_of(kvm, struct kvm_tdx, kvm);
}
static inline bool tdx_operand_busy(u64 err)
{
    return (err & TDX_SEAMCALL_STATUS_MASK) == TDX_OPERAND_BUSY;
}
static inline bool is_hkid_assigned(struct kvm_tdx *kvm_tdx)
{
    return kvm_tdx->hkid > 0;
}
static inline bool vt_is_tdx_private_gpa(struct kvm *kvm, gpa_t gpa)
{
    return !(gpa_to_gfn(gpa) & kvm_gfn_direct_bits(kvm));
}

#endif /* TDXSIM_KSHIM_KERNEL_H */
