/*
 * TDX side-table S-EPT mode (tdx-guest sept-mode=side-table)
 *
 * The TD's private memory is pinned, its Secure-EPT is built completely at
 * machine init and torn down at machine exit, and private<->shared
 * conversions map and unmap just the converted ranges.  This is the
 * manager: one lock per TD serialising all S-EPT work, the build, the
 * conversions, the teardown and the statistics.  Data flows one way:
 * sept-listener.c -> here -> sept-plan.c / sept-kvm.c.
 *
 * Copyright (c) 2026 The TDX side-table S-EPT authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef ACCEL_TDX_SEPT_H
#define ACCEL_TDX_SEPT_H

#include "qapi/qapi-types-misc-i386.h"
#include "accel/tdx/sept-plan.h"

/*
 * Check that this host and machine can run the mode and select it in KVM,
 * with 2 MiB leaves (and the kernel's 2 MiB backing for them) if
 * @huge_leaves and the kernel offers them.  Called from the TDX guest's
 * KVM init, before the TD is initialized.
 */
bool tdx_sept_side_table_init(bool huge_leaves, Error **errp);

/*
 * Check that the host lets the mode pin all guest_memfd memory of the
 * machine (RLIMIT_MEMLOCK, CAP_IPC_LOCK).  Called at machine init, before
 * any private page is added.
 */
bool tdx_sept_side_table_check_host(Error **errp);

/*
 * Map every private RAM range of the TD but the @nr_added ranges @added,
 * which KVM_TDX_INIT_MEM_REGION mapped already.  Called once at machine
 * init, after the TDVF pages were added and before the TD is finalized.
 */
bool tdx_sept_side_table_build(const TdxSeptRange *added, size_t nr_added,
                               Error **errp);

/* Is the TD in side-table mode? */
bool tdx_sept_side_table_enabled(void);

/*
 * A guest_memfd-backed range [gpa, gpa + size) became private (map it) or
 * shared (unmap it).  Returns 0; -EIO if the kernel failed in a way that
 * cannot be undone (the VM is bugged, or undoing its partial work failed
 * too: the range is then partly mapped and must not be trusted); any other
 * -errno if the kernel refused and its partial work was undone: the
 * mapping is as before, but pages whose unmap was undone lost their
 * contents (they come back zeroed and pending).  Serialised by the S-EPT
 * state's own lock: conversions call it with their RamBlockAttributes lock
 * held, the memory listener with the BQL; it never takes the BQL.
 */
int tdx_sept_side_table_convert(uint64_t gpa, uint64_t size, bool to_private);

/* State and statistics for query-tdx-sept. */
TdxSeptSideTableInfo *tdx_sept_side_table_info(Error **errp);

#endif /* ACCEL_TDX_SEPT_H */
