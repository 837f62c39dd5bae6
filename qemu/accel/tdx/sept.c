/*
 * TDX side-table S-EPT mode: the manager
 *
 * Copyright (c) 2026 The TDX side-table S-EPT authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include <sys/resource.h>
#include "qemu/error-report.h"
#include "qemu/lockable.h"
#include "qemu/notify.h"
#include "qemu/timer.h"
#include "qemu/units.h"
#include "qapi/error.h"
#include "hw/boards.h"
#include "migration/blocker.h"
#include "system/kvm.h"
#include "system/runstate.h"
#include "system/system.h"
#include "accel/tdx/sept.h"
#include "accel/tdx/sept-kvm.h"
#include "accel/tdx/sept-listener.h"
#include "accel/tdx/sept-plan.h"
#include "trace.h"

/* Counted by QEMU; the kernel counts leaves, pins and SEAMCALLs. */
typedef struct TdxSeptCounters {
    uint64_t to_private;
    uint64_t to_shared;
    uint64_t pages_to_private;
    uint64_t pages_to_shared;
    uint64_t failed_conversions;
    uint64_t kernel_calls;
    uint64_t retries;
    uint64_t build_pages;
    uint64_t planned_leaves_4k;
    uint64_t planned_leaves_2m;
    uint64_t build_ns;
} TdxSeptCounters;

typedef struct TdxSept {
    /* Serialises all S-EPT work of the TD: build, conversions, teardown. */
    QemuMutex lock;
    /* KVM_TDX_SEPT_LEAF_* the mode runs with. */
    uint64_t leaves;
    bool built;
    bool torn_down;
    TdxSeptCounters counters;
    TdxSeptListener *listener;
    Error *migration_blocker;
    Notifier exit_notifier;
} TdxSept;

/* One TD per QEMU process. */
static TdxSept *tdx_sept;

/* What to add to an error message about a failed kernel call. */
static char *tdx_sept_error_detail(int err, uint64_t hw_error)
{
    if (hw_error) {
        return g_strdup_printf(" (TDX status 0x%" PRIx64 ")", hw_error);
    }
    if (err == ENOMEM) {
        return g_strdup(" (private memory is pinned: check RLIMIT_MEMLOCK)");
    }
    return g_strdup("");
}

static bool tdx_sept_has_cap_ipc_lock(void)
{
    g_autofree char *status = NULL;
    const char *line;
    uint64_t caps;

    if (!g_file_get_contents("/proc/self/status", &status, NULL, NULL)) {
        return false;
    }
    line = strstr(status, "\nCapEff:");
    if (!line || sscanf(line + strlen("\nCapEff:"), "%" SCNx64, &caps) != 1) {
        return false;
    }
    return caps & (1ULL << 14); /* CAP_IPC_LOCK */
}

/*
 * The kernel charges every private page it pins to RLIMIT_MEMLOCK unless
 * the process has CAP_IPC_LOCK: refuse up front rather than fail half way
 * through the build.
 */
static bool tdx_sept_check_memlock(uint64_t need, Error **errp)
{
    struct rlimit rlim;

    if (tdx_sept_has_cap_ipc_lock()) {
        return true;
    }
    if (getrlimit(RLIMIT_MEMLOCK, &rlim)) {
        error_setg_errno(errp, errno, "cannot read RLIMIT_MEMLOCK");
        return false;
    }
    if (rlim.rlim_cur != RLIM_INFINITY && rlim.rlim_cur < need) {
        error_setg(errp, "sept-mode=side-table pins all private memory: "
                   "it needs RLIMIT_MEMLOCK of at least %" PRIu64 " KiB, "
                   "but the limit is %" PRIu64 " KiB",
                   need / KiB, (uint64_t)rlim.rlim_cur / KiB);
        error_append_hint(errp, "Raise the limit (e.g. ulimit -l, or "
                          "LimitMEMLOCK= for a systemd unit) or run QEMU "
                          "with CAP_IPC_LOCK.\n");
        return false;
    }
    return true;
}

/* A device type that is present in the machine, or NULL. */
static const char *tdx_sept_find_refused_device(void)
{
    static const char *const refused[] = {
        "virtio-mem", "virtio-balloon-device",
    };

    for (size_t i = 0; i < ARRAY_SIZE(refused); i++) {
        bool ambiguous = false;

        if (object_class_by_name(refused[i]) &&
            (object_resolve_path_type("", refused[i], &ambiguous) ||
             ambiguous)) {
            return refused[i];
        }
    }
    return NULL;
}

static void tdx_sept_teardown(Notifier *notifier, void *data)
{
    TdxSept *sept = container_of(notifier, TdxSept, exit_notifier);
    struct kvm_tdx_sept_stats stats;
    TdxSeptKvmCall call;
    int64_t start;
    int ret;

    QEMU_LOCK_GUARD(&sept->lock);
    if (sept->torn_down) {
        return;
    }
    tdx_sept_kvm_stats(&stats);
    start = get_clock();
    ret = tdx_sept_kvm_teardown(&call);
    sept->torn_down = true;
    trace_tdx_sept_teardown(ret, call.hw_error, get_clock() - start,
                            stats.leaves_4k, stats.leaves_2m,
                            stats.sept_pages, stats.pinned_pages);
    if (ret) {
        g_autofree char *detail = tdx_sept_error_detail(-ret, call.hw_error);

        error_report("sept-mode=side-table: tearing the S-EPT down failed: "
                     "%s%s", strerror(-ret), detail);
    }
}

bool tdx_sept_side_table_init(Error **errp)
{
    MachineState *ms = MACHINE(qdev_get_machine());
    uint64_t supported;
    int ret;

    assert(!tdx_sept);
    supported = tdx_sept_kvm_supported_leaves();
    if (!(supported & KVM_TDX_SEPT_LEAF_4K)) {
        error_setg(errp, "sept-mode=side-table needs KVM_CAP_TDX_SIDE_SEPT, "
                   "which this host's KVM does not offer");
        return false;
    }
    if (should_mlock(mlock_state)) {
        error_setg(errp, "sept-mode=side-table cannot be used with "
                   "-overcommit mem-lock=on: the kernel pins private memory "
                   "itself, and locked shared memory cannot be discarded on "
                   "conversion");
        return false;
    }
    if (ms->maxram_size > ms->ram_size) {
        error_setg(errp, "sept-mode=side-table does not support memory "
                   "hotplug (pc-dimm, virtio-mem): drop maxmem and slots "
                   "from -m");
        return false;
    }
    if (!tdx_sept_check_memlock(ms->ram_size, errp)) {
        return false;
    }

    tdx_sept = g_new0(TdxSept, 1);
    tdx_sept->leaves = supported &
                       (KVM_TDX_SEPT_LEAF_4K | KVM_TDX_SEPT_LEAF_2M);
    ret = tdx_sept_kvm_enable(tdx_sept->leaves);
    if (ret) {
        error_setg_errno(errp, -ret, "sept-mode=side-table: KVM refused to "
                         "enable KVM_CAP_TDX_SIDE_SEPT");
        g_clear_pointer(&tdx_sept, g_free);
        return false;
    }

    error_setg(&tdx_sept->migration_blocker,
               "TDX sept-mode=side-table does not support migration");
    if (migrate_add_blocker(&tdx_sept->migration_blocker, errp) < 0) {
        g_clear_pointer(&tdx_sept, g_free);
        return false;
    }

    qemu_mutex_init(&tdx_sept->lock);
    kvm_private_memory_pinned = true;
    tdx_sept->listener = tdx_sept_listener_new();
    tdx_sept->exit_notifier.notify = tdx_sept_teardown;
    qemu_add_exit_notifier(&tdx_sept->exit_notifier);
    trace_tdx_sept_init(tdx_sept->leaves);
    return true;
}

bool tdx_sept_side_table_enabled(void)
{
    return tdx_sept != NULL;
}

static bool tdx_sept_build_locked(TdxSept *sept, GArray *ranges,
                                  bool allow_2m, Error **errp)
{
    int64_t start = get_clock();

    QEMU_LOCK_GUARD(&sept->lock);
    for (guint i = 0; i < ranges->len; i++) {
        TdxSeptRange *r = &g_array_index(ranges, TdxSeptRange, i);
        TdxSeptKvmCall call;
        int ret = tdx_sept_kvm_map(r->gpa, r->size, allow_2m, &call);

        sept->counters.kernel_calls++;
        sept->counters.retries += call.resumes;
        if (ret) {
            g_autofree char *detail = tdx_sept_error_detail(-ret,
                                                            call.hw_error);

            error_setg_errno(errp, -ret, "sept-mode=side-table: building the "
                             "S-EPT of [0x%" PRIx64 ", 0x%" PRIx64 ") failed"
                             "%s", r->gpa, r->gpa + r->size, detail);
            return false;
        }
    }
    sept->counters.build_ns = get_clock() - start;
    sept->built = true;
    return true;
}

bool tdx_sept_side_table_build(const TdxSeptRange *added, size_t nr_added,
                               Error **errp)
{
    TdxSept *sept = tdx_sept;
    bool allow_2m = sept->leaves & KVM_TDX_SEPT_LEAF_2M;
    TdxSeptLeaf max_leaf = allow_2m ? TDX_SEPT_LEAF_2M : TDX_SEPT_LEAF_4K;
    g_autoptr(GArray) private = NULL;
    g_autoptr(GArray) ranges = g_array_new(false, false, sizeof(TdxSeptRange));
    uint64_t nr_4k = 0, nr_2m = 0, pages = 0;
    Error *local_err = NULL;
    const char *device;

    device = tdx_sept_find_refused_device();
    if (device) {
        error_setg(errp, "sept-mode=side-table cannot be used with %s: "
                   "private memory is pinned and never discarded", device);
        return false;
    }

    private = tdx_sept_listener_private_ranges(sept->listener);
    tdx_sept_ranges_subtract((TdxSeptRange *)private->data, private->len,
                             added, nr_added, ranges);
    for (guint i = 0; i < ranges->len; i++) {
        TdxSeptRange *r = &g_array_index(ranges, TdxSeptRange, i);
        TdxSeptPiece pieces[TDX_SEPT_PLAN_MAX_PIECES];
        int n = tdx_sept_plan_split(r->gpa, r->size, max_leaf, pieces, errp);

        if (n < 0) {
            return false;
        }
        tdx_sept_plan_count_leaves(pieces, n, &nr_4k, &nr_2m);
        pages += r->size / TDX_SEPT_PAGE_SIZE;
    }
    trace_tdx_sept_build(ranges->len, pages, nr_4k, nr_2m);

    /* Not with the lock held: exit() on &error_fatal tears down. */
    if (!tdx_sept_build_locked(sept, ranges, allow_2m, &local_err)) {
        error_propagate(errp, local_err);
        return false;
    }
    sept->counters.build_pages = pages;
    sept->counters.planned_leaves_4k = nr_4k;
    sept->counters.planned_leaves_2m = nr_2m;
    trace_tdx_sept_build_done(sept->counters.build_ns);
    return true;
}

/*
 * Undo the part of a failed map or unmap that the kernel did, so that the
 * S-EPT agrees with the attributes the conversion is rolled back to.  Both
 * run while the range is private (see kvm_convert_memory()).  Pages whose
 * unmap is undone come back zeroed, pending the guest's acceptance: their
 * contents were gone once unmapped.
 */
static void tdx_sept_undo(TdxSept *sept, uint64_t gpa, uint64_t done,
                          bool to_private)
{
    TdxSeptKvmCall call;
    int ret;

    if (!done) {
        return;
    }
    if (to_private) {
        ret = tdx_sept_kvm_unmap(gpa, done, &call);
    } else {
        ret = tdx_sept_kvm_map(gpa, done, sept->leaves & KVM_TDX_SEPT_LEAF_2M,
                               &call);
    }
    sept->counters.kernel_calls++;
    sept->counters.retries += call.resumes;
    trace_tdx_sept_undo(gpa, done, to_private, ret, call.hw_error);
    if (ret) {
        g_autofree char *detail = tdx_sept_error_detail(-ret, call.hw_error);

        error_report("sept-mode=side-table: cannot undo the partial %s of "
                     "[0x%" PRIx64 ", 0x%" PRIx64 "): %s%s",
                     to_private ? "map" : "unmap", gpa, gpa + done,
                     strerror(-ret), detail);
    }
}

int tdx_sept_side_table_convert(uint64_t gpa, uint64_t size, bool to_private)
{
    TdxSept *sept = tdx_sept;
    TdxSeptCounters *c = &sept->counters;
    TdxSeptKvmCall call;
    int ret;

    QEMU_LOCK_GUARD(&sept->lock);
    /*
     * Before the build, the build maps what is private then; after the
     * teardown nothing is mapped any more.
     */
    if (!sept->built || sept->torn_down) {
        return 0;
    }
    if (to_private) {
        ret = tdx_sept_kvm_map(gpa, size, sept->leaves & KVM_TDX_SEPT_LEAF_2M,
                               &call);
    } else {
        ret = tdx_sept_kvm_unmap(gpa, size, &call);
    }
    c->kernel_calls++;
    c->retries += call.resumes;
    trace_tdx_sept_convert(gpa, size, to_private, ret, call.hw_error);
    if (ret) {
        c->failed_conversions++;
        tdx_sept_undo(sept, gpa, call.done, to_private);
        return ret;
    }
    if (to_private) {
        c->to_private++;
        c->pages_to_private += size / TDX_SEPT_PAGE_SIZE;
    } else {
        c->to_shared++;
        c->pages_to_shared += size / TDX_SEPT_PAGE_SIZE;
    }
    return 0;
}

TdxSeptSideTableInfo *tdx_sept_side_table_info(Error **errp)
{
    TdxSept *sept = tdx_sept;
    g_autofree TdxSeptSideTableInfo *info = g_new0(TdxSeptSideTableInfo, 1);
    struct kvm_tdx_sept_stats stats = { 0 };
    TdxSeptCounters *c = &sept->counters;
    int ret;

    QEMU_LOCK_GUARD(&sept->lock);
    if (!sept->torn_down) {
        ret = tdx_sept_kvm_stats(&stats);
        if (ret) {
            error_setg_errno(errp, -ret, "KVM_TDX_SEPT_STATS failed");
            return NULL;
        }
    }
    *info = (TdxSeptSideTableInfo) {
        .leaves_4k = stats.leaves_4k,
        .leaves_2m = stats.leaves_2m,
        .sept_pages = stats.sept_pages,
        .pinned_pages = stats.pinned_pages,
        .to_private = c->to_private,
        .to_shared = c->to_shared,
        .pages_to_private = c->pages_to_private,
        .pages_to_shared = c->pages_to_shared,
        .failed_conversions = c->failed_conversions,
        .kernel_calls = c->kernel_calls,
        .retries = c->retries,
        .busy_retries = stats.busy_retries,
        .demotions = stats.demotions,
        .promotions = stats.promotions,
        .build_pages = c->build_pages,
        .planned_leaves_4k = c->planned_leaves_4k,
        .planned_leaves_2m = c->planned_leaves_2m,
        .build_ns = c->build_ns,
    };
    return g_steal_pointer(&info);
}
