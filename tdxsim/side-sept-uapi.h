/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * tdxsim: the proposed side-table S-EPT UAPI, written from its spec
 * (qemu/docs/devel/tdx-side-table-uapi.rst), not taken from QEMU's
 * linux-headers.  The simulator plays the kernel: if QEMU's copy of the
 * UAPI and this one drift apart, the simulator must not silently follow
 * QEMU.  tests/test-uapi.c compares the two, constant by constant and
 * field by field, and fails when they differ.
 *
 * Included through kvm-uapi.h, after <linux/kvm.h> with any RFC copy of
 * these names renamed out of the way.
 */
#ifndef TDXSIM_SIDE_SEPT_UAPI_H
#define TDXSIM_SIDE_SEPT_UAPI_H

#include <stddef.h>
#include <linux/types.h>

/* "Discovery and enabling": KVM_CHECK_EXTENSION / KVM_ENABLE_CAP. */
#define KVM_CAP_TDX_SIDE_SEPT       250
/* Leaf sizes: the capability's mask and KVM_ENABLE_CAP args[0]. */
#define KVM_TDX_SEPT_LEAF_4K        (1ULL << 0)
#define KVM_TDX_SEPT_LEAF_2M        (1ULL << 1)

/* "Commands": KVM_MEMORY_ENCRYPT_OP ids (6 is KVM_TDX_TERMINATE_VM's). */
#define KVM_TDX_SEPT_MAP            7
#define KVM_TDX_SEPT_UNMAP          8
#define KVM_TDX_SEPT_TEARDOWN       9
#define KVM_TDX_SEPT_STATS          10

/* KVM_TDX_SEPT_MAP flags ("Range argument"). */
#define KVM_TDX_SEPT_MAP_ALLOW_2M   (1ULL << 0)

/* KVM_TDX_SEPT_MAP, KVM_TDX_SEPT_UNMAP: kvm_tdx_cmd.data points here. */
struct kvm_tdx_sept_range {
    __u64 gpa;          /* in: first GPA, 4K aligned, no shared bit */
    __u64 nr_pages;     /* in: length in 4K pages */
    __u64 flags;        /* in: KVM_TDX_SEPT_MAP_* */
    __u64 done;         /* in/out: 4K pages already processed */
};

/* KVM_TDX_SEPT_STATS: kvm_tdx_cmd.data points here (out). */
struct kvm_tdx_sept_stats {
    __u64 leaves_4k;    /* private 4K leaves mapped now */
    __u64 leaves_2m;    /* private 2M leaves mapped now */
    __u64 sept_pages;   /* S-EPT pages (non-leaf tables) now */
    __u64 pinned_pages; /* 4K pages pinned and charged */
    __u64 map_calls;
    __u64 unmap_calls;
    __u64 seamcalls;    /* SEAMCALLs issued for side-table work */
    __u64 busy_retries; /* SEAMCALLs retried after TDX_OPERAND_BUSY */
    __u64 demotions;    /* 2M leaves split for a partial unmap */
    __u64 promotions;   /* 512 4K leaves merged back into 2M */
    __u64 reserved[6];
};

/* The layout the spec gives: u64 fields at fixed offsets, no padding. */
#define SIDE_SEPT_FIELD(s, f, off, size) \
    _Static_assert(offsetof(struct s, f) == (off) && \
                   sizeof(((struct s *)0)->f) == (size), #s "." #f)
SIDE_SEPT_FIELD(kvm_tdx_sept_range, gpa, 0, 8);
SIDE_SEPT_FIELD(kvm_tdx_sept_range, nr_pages, 8, 8);
SIDE_SEPT_FIELD(kvm_tdx_sept_range, flags, 16, 8);
SIDE_SEPT_FIELD(kvm_tdx_sept_range, done, 24, 8);
_Static_assert(sizeof(struct kvm_tdx_sept_range) == 32, "kvm_tdx_sept_range");
SIDE_SEPT_FIELD(kvm_tdx_sept_stats, leaves_4k, 0, 8);
SIDE_SEPT_FIELD(kvm_tdx_sept_stats, leaves_2m, 8, 8);
SIDE_SEPT_FIELD(kvm_tdx_sept_stats, sept_pages, 16, 8);
SIDE_SEPT_FIELD(kvm_tdx_sept_stats, pinned_pages, 24, 8);
SIDE_SEPT_FIELD(kvm_tdx_sept_stats, map_calls, 32, 8);
SIDE_SEPT_FIELD(kvm_tdx_sept_stats, unmap_calls, 40, 8);
SIDE_SEPT_FIELD(kvm_tdx_sept_stats, seamcalls, 48, 8);
SIDE_SEPT_FIELD(kvm_tdx_sept_stats, busy_retries, 56, 8);
SIDE_SEPT_FIELD(kvm_tdx_sept_stats, demotions, 64, 8);
SIDE_SEPT_FIELD(kvm_tdx_sept_stats, promotions, 72, 8);
SIDE_SEPT_FIELD(kvm_tdx_sept_stats, reserved, 80, 48);
_Static_assert(sizeof(struct kvm_tdx_sept_stats) == 128, "kvm_tdx_sept_stats");
#undef SIDE_SEPT_FIELD

#endif /* TDXSIM_SIDE_SEPT_UAPI_H */
