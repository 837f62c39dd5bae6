/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * tdxsim: the KVM UAPI the fake KVM answers.  Upstream's comes from QEMU's
 * linux-headers/ (QEMU_SRC); the side-table RFC comes from the simulator's
 * own side-sept-uapi.h.  A materialised QEMU tree carries QEMU's copy of
 * the RFC in the same headers, so its names are renamed out of the way
 * while <linux/kvm.h> is read (nothing of it is used) and undefined after.
 */
#ifndef TDXSIM_KVM_UAPI_H
#define TDXSIM_KVM_UAPI_H

#define kvm_tdx_sept_range      qemu_rfc_kvm_tdx_sept_range
#define kvm_tdx_sept_stats      qemu_rfc_kvm_tdx_sept_stats
#define KVM_TDX_SEPT_MAP        QEMU_RFC_KVM_TDX_SEPT_MAP
#define KVM_TDX_SEPT_UNMAP      QEMU_RFC_KVM_TDX_SEPT_UNMAP
#define KVM_TDX_SEPT_TEARDOWN   QEMU_RFC_KVM_TDX_SEPT_TEARDOWN
#define KVM_TDX_SEPT_STATS      QEMU_RFC_KVM_TDX_SEPT_STATS
#include <linux/kvm.h>
#undef kvm_tdx_sept_range
#undef kvm_tdx_sept_stats
#undef KVM_TDX_SEPT_MAP
#undef KVM_TDX_SEPT_UNMAP
#undef KVM_TDX_SEPT_TEARDOWN
#undef KVM_TDX_SEPT_STATS
#undef KVM_CAP_TDX_SIDE_SEPT
#undef KVM_TDX_SEPT_LEAF_4K
#undef KVM_TDX_SEPT_LEAF_2M
#undef KVM_TDX_SEPT_MAP_ALLOW_2M

#include "side-sept-uapi.h"

#endif /* TDXSIM_KVM_UAPI_H */
