/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * tdxsim: every name of the side-table UAPI (constants, structs, fields),
 * as lists, so that the same table can be built from two definitions:
 * the simulator's (side-sept-uapi.h, in side-sept-uapi.c) and QEMU's
 * linux-headers (tests/test-uapi.c).  Defines nothing itself.
 */
#ifndef TDXSIM_SIDE_SEPT_UAPI_LIST_H
#define TDXSIM_SIDE_SEPT_UAPI_LIST_H

#include <stddef.h>
#include <stdint.h>

#define SIDE_SEPT_UAPI_CONSTANTS(X) \
    X(KVM_CAP_TDX_SIDE_SEPT) \
    X(KVM_TDX_SEPT_LEAF_4K) \
    X(KVM_TDX_SEPT_LEAF_2M) \
    X(KVM_TDX_SEPT_MAP) \
    X(KVM_TDX_SEPT_UNMAP) \
    X(KVM_TDX_SEPT_TEARDOWN) \
    X(KVM_TDX_SEPT_STATS) \
    X(KVM_TDX_SEPT_MAP_ALLOW_2M)

#define SIDE_SEPT_UAPI_STRUCTS(X) \
    X(kvm_tdx_sept_range) \
    X(kvm_tdx_sept_stats)

#define SIDE_SEPT_UAPI_FIELDS(X) \
    X(kvm_tdx_sept_range, gpa) \
    X(kvm_tdx_sept_range, nr_pages) \
    X(kvm_tdx_sept_range, flags) \
    X(kvm_tdx_sept_range, done) \
    X(kvm_tdx_sept_stats, leaves_4k) \
    X(kvm_tdx_sept_stats, leaves_2m) \
    X(kvm_tdx_sept_stats, sept_pages) \
    X(kvm_tdx_sept_stats, pinned_pages) \
    X(kvm_tdx_sept_stats, map_calls) \
    X(kvm_tdx_sept_stats, unmap_calls) \
    X(kvm_tdx_sept_stats, seamcalls) \
    X(kvm_tdx_sept_stats, busy_retries) \
    X(kvm_tdx_sept_stats, demotions) \
    X(kvm_tdx_sept_stats, promotions) \
    X(kvm_tdx_sept_stats, reserved)

struct side_sept_uapi_item {
    const char *name;
    uint64_t value;
};

#define SSU_CONST(n)    { #n, (uint64_t)(n) },
#define SSU_SIZE(s)     { "sizeof(struct " #s ")", sizeof(struct s) },
#define SSU_FIELD(s, f) \
    { "offsetof(struct " #s ", " #f ")", offsetof(struct s, f) }, \
    { "sizeof(struct " #s "." #f ")", sizeof(((struct s *)0)->f) },
#define SIDE_SEPT_UAPI_TABLE { \
    SIDE_SEPT_UAPI_CONSTANTS(SSU_CONST) \
    SIDE_SEPT_UAPI_STRUCTS(SSU_SIZE) \
    SIDE_SEPT_UAPI_FIELDS(SSU_FIELD) \
}

/* side-sept-uapi.c: the table as the simulator defines the UAPI. */
extern const struct side_sept_uapi_item sim_side_sept_uapi[];
extern const unsigned sim_side_sept_uapi_len;

#endif /* TDXSIM_SIDE_SEPT_UAPI_LIST_H */
