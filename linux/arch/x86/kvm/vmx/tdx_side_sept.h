/* SPDX-License-Identifier: GPL-2.0 */
#ifndef __KVM_X86_VMX_TDX_SIDE_SEPT_H
#define __KVM_X86_VMX_TDX_SIDE_SEPT_H

#include <linux/kvm_host.h>
#include <linux/mutex.h>
#include <linux/xarray.h>

/*
 * S-EPT pages KVM adds with TDH.MEM.SEPT.ADD, by the level of the entry that
 * points to them: PG_LEVEL_2M (pages of 4K entries) up to PG_LEVEL_256T
 * (5-level S-EPT).  The root belongs to the TDCS.
 */
#define TDX_SIDE_SEPT_NR_TABLE_LEVELS	(PG_LEVEL_256T - PG_LEVEL_2M + 1)

/*
 * The side table of a TD in side-table mode (KVM_CAP_TDX_SIDE_SEPT): which
 * private pages are pinned and which of them are mapped in the S-EPT, and
 * the S-EPT pages KVM added.  KVM keeps no mirror of the S-EPT and never
 * faults private memory in: userspace maps and unmaps explicitly.
 */
struct tdx_side_sept {
	/* KVM_TDX_SEPT_LEAF_* enabled; 0: the TD uses the TDP MMU mirror. */
	u64 leaves;
	/* See "Locking" in tdx_side_sept.c. */
	struct mutex lock;
	/* gfn -> pinned struct page; marked TDX_SIDE_SEPT_MAPPED if mapped. */
	struct xarray pages;
	/* Per level, gfn >> (9 * (level - 1)) -> S-EPT page. */
	struct xarray tables[TDX_SIDE_SEPT_NR_TABLE_LEVELS];
	bool torn_down;
	/* Written under @lock, read without it (KVM_TDX_SEPT_STATS). */
	struct kvm_tdx_sept_stats stats;
};

int tdx_side_sept_enable(struct kvm *kvm, struct kvm_enable_cap *cap);
int tdx_side_sept_ioctl(struct kvm *kvm, struct kvm_tdx_cmd *cmd);
int tdx_side_sept_teardown(struct kvm *kvm);
void tdx_side_sept_destroy(struct kvm *kvm);
int tdx_side_sept_add_page(struct kvm *kvm, gfn_t gfn, kvm_pfn_t pfn,
			   struct page *source);
int tdx_side_sept_handle_private_fault(struct kvm_vcpu *vcpu, gpa_t gpa);
void tdx_side_sept_flush_memslot(struct kvm *kvm, struct kvm_memory_slot *slot);
int tdx_side_sept_gmem_punch_hole(struct kvm *kvm, struct kvm_gfn_range *range);

static inline bool tdx_side_sept_enabled(struct tdx_side_sept *ss)
{
	return READ_ONCE(ss->leaves);
}

#endif /* __KVM_X86_VMX_TDX_SIDE_SEPT_H */
