/*
 * TDX side-table S-EPT: the kernel interface
 *
 * The only code that issues the side-table ioctls (KVM_CAP_TDX_SIDE_SEPT
 * and the KVM_TDX_SEPT_* commands, see docs/devel/tdx-side-table-uapi.rst).
 * Every call resumes partial progress itself and is traced.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef I386_TDX_SEPT_KVM_H
#define I386_TDX_SEPT_KVM_H

#include <linux/kvm.h>

/* What one call cost and, on failure, what the TDX module said. */
typedef struct TdxSeptKvmCall {
    unsigned resumes;       /* calls resumed after -EINTR/-EAGAIN */
    uint64_t done;          /* bytes of the range processed, also on error */
    uint64_t hw_error;      /* raw SEAMCALL status on -EIO, else 0 */
} TdxSeptKvmCall;

/* Leaf sizes (KVM_TDX_SEPT_LEAF_*) KVM supports; 0 if it lacks the mode. */
uint64_t tdx_sept_kvm_supported_leaves(void);

/* Select side-table mode with the leaf sizes allowed; 0 or -errno. */
int tdx_sept_kvm_enable(uint64_t leaves);

/*
 * Map or unmap [gpa, gpa + size) in the S-EPT, resuming partial progress.
 * Return 0 or -errno: -EAGAIN if the kernel stayed busy or interrupted
 * without progress too many times in a row.  @call reports resumes, the
 * progress and the TDX status.
 */
int tdx_sept_kvm_map(uint64_t gpa, uint64_t size, TdxSeptKvmCall *call);
int tdx_sept_kvm_unmap(uint64_t gpa, uint64_t size, TdxSeptKvmCall *call);

/*
 * Remove and reclaim everything, releasing the TD's key first; resumed
 * after -EINTR a bounded number of times.
 */
int tdx_sept_kvm_teardown(TdxSeptKvmCall *call);

int tdx_sept_kvm_stats(struct kvm_tdx_sept_stats *stats);

#endif /* I386_TDX_SEPT_KVM_H */
