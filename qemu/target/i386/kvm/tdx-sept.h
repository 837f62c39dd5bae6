/*
 * TDX side-table S-EPT mode (tdx-guest x-sept-mode=side-table)
 *
 * The TD's private memory is pinned, its Secure-EPT is built completely at
 * machine init and torn down at machine exit, and private<->shared
 * conversions map and unmap just the converted ranges.  This is the
 * manager: one lock per TD serialising all S-EPT work, the build, the
 * conversions, the teardown and the statistics.  Data flows one way:
 * tdx-sept-listener.c -> here -> tdx-sept-ranges.c / tdx-sept-kvm.c.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef I386_TDX_SEPT_H
#define I386_TDX_SEPT_H

#include "qapi/qapi-types-stats.h"
#include "tdx-sept-ranges.h"

typedef struct TdxSept TdxSept;

/*
 * Check that this host and machine can run the mode and select it in KVM,
 * with 4 KiB leaves (the UAPI reserves 2 MiB ones for later).  Called
 * from the TDX guest's KVM init, before the TD is initialized; the state
 * lives as long as the process.  NULL with @errp set on failure.
 */
TdxSept *tdx_sept_new(Error **errp);

/*
 * Check that the host lets the mode pin all guest_memfd memory of the
 * machine (RLIMIT_MEMLOCK, CAP_IPC_LOCK).  Called at machine init, before
 * any private page is added.
 */
bool tdx_sept_check_host(TdxSept *sept, Error **errp);

/*
 * Map every private RAM range of the TD but the @nr_added ranges @added,
 * which KVM_TDX_INIT_MEM_REGION mapped already.  Called once at machine
 * init, after the TDVF pages were added and before the TD is finalized.
 */
bool tdx_sept_build(TdxSept *sept, const TdxSeptRange *added,
                    size_t nr_added, Error **errp);

/*
 * A guest_memfd-backed range [gpa, gpa + size) became private (map it) or
 * shared (unmap it): by a conversion if @conversion, else because the
 * memory map changed (counted apart).  Returns 0; -EAGAIN if the kernel
 * stayed busy and its partial work was undone (try again later); -EIO if
 * the kernel failed in a way that cannot be undone (the VM is bugged, or
 * undoing its partial work failed too: the range is then partly mapped);
 * any other -errno if the kernel refused (a host fault, reported) and its
 * partial work was undone.  After an undo the mapping is as before, but
 * pages whose unmap was undone lost their contents (they come back zeroed
 * and pending).
 * Serialised by the S-EPT state's own lock: conversions call it with their
 * RamBlockAttributes lock held, the memory listener with the BQL; it never
 * takes the BQL.
 */
int tdx_sept_convert(TdxSept *sept, uint64_t gpa, uint64_t size,
                     bool to_private, bool conversion);

/*
 * query-stats for provider "tdx", target "vm".  Never fails: if the kernel
 * cannot answer, its figures are left out (with a warning, once).
 */
void tdx_sept_query_stats(TdxSept *sept, StatsResultList **result,
                          strList *names, Error **errp);
void tdx_sept_query_stats_schemas(StatsSchemaList **result);

#endif /* I386_TDX_SEPT_H */
