/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * tdxsim kshim: what a host of the hosted KVM code (a test, the simulator)
 * calls.  See kshim-kernel.h for what the shim fakes.
 */
#ifndef TDXSIM_KSHIM_H
#define TDXSIM_KSHIM_H

#include "kshim-types.h"

struct tdxmod;

/* The module model and the allocator of S-EPT pages (alloc_page()). */
void kshim_init(struct tdxmod *mod, uint64_t (*alloc_pfn)(void),
                void (*free_pfn)(uint64_t pfn));
/* The VM the calling thread works for (account_locked_vm(), signals). */
extern __thread struct kvm *kshim_current_kvm;
/* A guest page with one more reference (gmem_get_pfn callbacks). */
struct page *kshim_page_get(uint64_t pfn);
unsigned kshim_page_refs(uint64_t pfn);
/* Pages with a reference left (leaks, after the teardown). */
uint64_t kshim_pages_referenced(void);
/* pr_err() lines printed by the hosted code. */
uint64_t kshim_error_count(void);

/* The hosted code's entry points (tdx_side_sept.h), kernel types. */
struct kvm_enable_cap;
struct kvm_tdx_cmd;
int tdx_side_sept_enable(struct kvm *kvm, struct kvm_enable_cap *cap);
int tdx_side_sept_ioctl(struct kvm *kvm, struct kvm_tdx_cmd *cmd);
int tdx_side_sept_teardown(struct kvm *kvm);
void tdx_side_sept_destroy(struct kvm *kvm);
int tdx_side_sept_add_page(struct kvm *kvm, gfn_t gfn, kvm_pfn_t pfn,
                           struct page *source);
int tdx_side_sept_handle_private_fault(struct kvm_vcpu *vcpu, gpa_t gpa);
void tdx_side_sept_flush_memslot(struct kvm *kvm,
                                 struct kvm_memory_slot *slot);
int tdx_side_sept_gmem_punch_hole(struct kvm *kvm,
                                  struct kvm_gfn_range *range);

#endif /* TDXSIM_KSHIM_H */
