/*
 * TDX side-table S-EPT mode: the manager
 *
 * Copyright (c) 2026 The TDX side-table S-EPT authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include <sys/resource.h>
#include <sys/syscall.h>
#include <linux/capability.h>
#include "qemu/atomic.h"
#include "qemu/error-report.h"
#include "qemu/lockable.h"
#include "qemu/notify.h"
#include "qemu/timer.h"
#include "qemu/units.h"
#include "qapi/error.h"
#include "qobject/qdict.h"
#include "hw/boards.h"
#include "hw/core/cpu.h"
#include "hw/mem/memory-device.h"
#include "hw/qdev-core.h"
#include "migration/blocker.h"
#include "system/kvm.h"
#include "system/kvm_int.h"
#include "system/runstate.h"
#include "system/system.h"
#include "accel/tdx/sept.h"
#include "accel/tdx/sept-kvm.h"
#include "accel/tdx/sept-listener.h"
#include "accel/tdx/sept-plan.h"
#include "trace.h"

/*
 * Counted by QEMU; the kernel counts leaves, pins and SEAMCALLs.  Updated
 * under TdxSept.lock, read without it (qatomic) so that query-tdx-sept
 * never waits for a long kernel call.
 */
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

/*
 * Locking: conversions come from vCPU threads without the BQL, already
 * serialised by KVM's conversion lock and called under the converted
 * block's RamBlockAttributes lock; the build, the teardown and memory map
 * changes come with the BQL.  @lock, taken last, serialises every kernel
 * call that changes the S-EPT; nothing under it takes another lock.
 */
typedef struct TdxSept {
    QemuMutex lock;
    /* KVM_TDX_SEPT_LEAF_* the mode runs with. */
    uint64_t leaves;
    /* Set under @lock; read with qatomic_read() outside it. */
    bool built;
    bool torn_down;
    TdxSeptCounters counters;
    TdxSeptListener *listener;
    Error *migration_blocker;
    Notifier exit_notifier;
    DeviceListener device_listener;
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

/*
 * Does the kernel count this process as having CAP_IPC_LOCK?  It checks
 * the capability in the initial user namespace (capable()): an effective
 * CAP_IPC_LOCK counts only where the process's user namespace is the
 * initial one, whose uid_map is the identity over all 2^32 - 1 ids.
 */
static bool tdx_sept_has_cap_ipc_lock(void)
{
    struct __user_cap_header_struct header = {
        .version = _LINUX_CAPABILITY_VERSION_3,
    };
    struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3];
    g_autofree char *uid_map = NULL;
    unsigned long first, lower, count;

    if (syscall(SYS_capget, &header, data) ||
        !(data[CAP_TO_INDEX(CAP_IPC_LOCK)].effective &
          CAP_TO_MASK(CAP_IPC_LOCK))) {
        return false;
    }
    if (!g_file_get_contents("/proc/self/uid_map", &uid_map, NULL, NULL) ||
        sscanf(uid_map, "%lu %lu %lu", &first, &lower, &count) != 3) {
        return false;
    }
    return first == 0 && lower == 0 && count == UINT32_MAX;
}

/*
 * The kernel charges every private page it pins to RLIMIT_MEMLOCK unless
 * the process has CAP_IPC_LOCK, and it pins every page of guest_memfd
 * memory sooner or later (the firmware pages when they are added, the rest
 * at the build or when converted to private): refuse up front rather than
 * fail half way.
 */
static bool tdx_sept_check_memlock(uint64_t need, Error **errp)
{
    ERRP_GUARD();
    struct rlimit rlim;

    if (tdx_sept_has_cap_ipc_lock()) {
        return true;
    }
    if (getrlimit(RLIMIT_MEMLOCK, &rlim)) {
        error_setg_errno(errp, errno, "cannot read RLIMIT_MEMLOCK");
        return false;
    }
    if (rlim.rlim_cur != RLIM_INFINITY && rlim.rlim_cur < need) {
        error_setg(errp, "sept-mode=side-table pins all private memory "
                   "(guest RAM and firmware): it needs RLIMIT_MEMLOCK of at "
                   "least %" PRIu64 " KiB, but the limit is %" PRIu64 " KiB",
                   need / KiB, (uint64_t)rlim.rlim_cur / KiB);
        error_append_hint(errp, "Raise the limit (e.g. ulimit -l, or "
                          "LimitMEMLOCK= for a systemd unit) or run QEMU "
                          "with CAP_IPC_LOCK.\n");
        return false;
    }
    return true;
}

/*
 * Devices that discard or plug guest memory at run time cannot work with
 * pinned private memory: refuse them on the command line and in
 * device_add, for the whole life of the VM.
 */
static bool tdx_sept_refuse_device(DeviceListener *listener,
                                   const QDict *device_opts, bool from_json,
                                   Error **errp)
{
    static const char *const refused[] = {
        TYPE_MEMORY_DEVICE,         /* pc-dimm, nvdimm, virtio-mem-pci */
        "virtio-balloon-device",
        "virtio-balloon-pci-base",
    };
    /*
     * -device accepts aliases (qdev_alias_table in system/qdev-monitor.c),
     * resolved after this hook: those of the devices above.
     */
    static const char *const refused_aliases[] = {
        "virtio-balloon",           /* virtio-balloon-pci */
    };
    const char *driver = qdict_get_try_str(device_opts, "driver");
    ObjectClass *oc = driver ? object_class_by_name(driver) : NULL;

    for (size_t i = 0; driver && i < ARRAY_SIZE(refused_aliases); i++) {
        if (!strcmp(driver, refused_aliases[i])) {
            oc = object_class_by_name("virtio-balloon-pci");
        }
    }
    for (size_t i = 0; oc && i < ARRAY_SIZE(refused); i++) {
        if (object_class_dynamic_cast(oc, refused[i])) {
            error_setg(errp, "sept-mode=side-table cannot be used with %s: "
                       "private memory is pinned and never discarded or "
                       "plugged", driver);
            return false;
        }
    }
    return false;
}

/* No vCPU can be in KVM_RUN: all were paused, or never ran. */
static bool tdx_sept_vcpus_stopped(void)
{
    CPUState *cpu;

    CPU_FOREACH(cpu) {
        if (!qatomic_read(&cpu->stopped)) {
            return false;
        }
    }
    return true;
}

static void tdx_sept_teardown(Notifier *notifier, void *data)
{
    TdxSept *sept = container_of(notifier, TdxSept, exit_notifier);
    struct kvm_tdx_sept_stats stats;
    TdxSeptKvmCall call;
    int64_t start;
    int ret;

    QEMU_LOCK_GUARD(&sept->lock);
    /*
     * Only a built S-EPT, and only once no vCPU runs (QEMU's shutdown
     * paused them): otherwise VM destruction does the same work.
     */
    if (!sept->built || sept->torn_down || !tdx_sept_vcpus_stopped()) {
        return;
    }
    tdx_sept_kvm_stats(&stats);
    start = get_clock();
    ret = tdx_sept_kvm_teardown(&call);
    qatomic_set(&sept->torn_down, true);
    trace_tdx_sept_teardown(ret, call.hw_error, get_clock() - start,
                            stats.leaves_4k, stats.leaves_2m,
                            stats.sept_pages, stats.pinned_pages);
    if (ret) {
        g_autofree char *detail = tdx_sept_error_detail(-ret, call.hw_error);

        error_report("sept-mode=side-table: tearing the S-EPT down failed: "
                     "%s%s", strerror(-ret), detail);
    }
}

bool tdx_sept_side_table_init(bool huge_leaves, Error **errp)
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

    tdx_sept = g_new0(TdxSept, 1);
    tdx_sept->leaves = supported & (KVM_TDX_SEPT_LEAF_4K |
                                    (huge_leaves ? KVM_TDX_SEPT_LEAF_2M : 0));
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
    kvm_state->private_memory_pinned = true;
    tdx_sept->device_listener.hide_device = tdx_sept_refuse_device;
    device_listener_register(&tdx_sept->device_listener);
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

bool tdx_sept_side_table_check_host(Error **errp)
{
    return tdx_sept_check_memlock(
        tdx_sept_listener_guest_memfd_size(tdx_sept->listener), errp);
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

        qatomic_inc(&sept->counters.kernel_calls);
        qatomic_add(&sept->counters.retries, call.resumes);
        if (ret) {
            g_autofree char *detail = tdx_sept_error_detail(-ret,
                                                            call.hw_error);

            error_setg_errno(errp, -ret, "sept-mode=side-table: building the "
                             "S-EPT of [0x%" PRIx64 ", 0x%" PRIx64 ") failed"
                             "%s", r->gpa, r->gpa + r->size, detail);
            return false;
        }
    }
    qatomic_set(&sept->counters.build_ns, get_clock() - start);
    qatomic_set(&sept->built, true);
    return true;
}

/*
 * A planned 2 MiB leaf needs 2 MiB of physically contiguous backing; where
 * the kernel has none for a block it maps the block with 512 4 KiB leaves
 * instead.  Say so, from what the kernel reports having mapped: everything
 * after that costs more (one AUG per 4 KiB, demotions that are not needed).
 */
static void tdx_sept_report_build_leaves(uint64_t planned_2m)
{
    struct kvm_tdx_sept_stats stats;
    uint64_t fallen_back;

    if (tdx_sept_kvm_stats(&stats) < 0) {
        return;
    }
    trace_tdx_sept_build_mapped(stats.leaves_4k, stats.leaves_2m);
    if (stats.leaves_2m >= planned_2m) {
        return;
    }
    fallen_back = planned_2m - stats.leaves_2m;
    warn_report("sept-mode=side-table: the kernel mapped %" PRIu64 " of the "
                "%" PRIu64 " planned 2 MiB leaves with 4 KiB leaves (%" PRIu64
                " MiB of guest RAM): its backing of those blocks is not 2 MiB "
                "contiguous", fallen_back, planned_2m, fallen_back * 2);
    error_printf("Building and converting that memory costs one SEAMCALL per "
                 "4 KiB page; with sept-huge-leaves=off all of guest RAM is "
                 "mapped that way.\n");
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
    qatomic_set(&sept->counters.build_pages, pages);
    qatomic_set(&sept->counters.planned_leaves_4k, nr_4k);
    qatomic_set(&sept->counters.planned_leaves_2m, nr_2m);
    trace_tdx_sept_build_done(sept->counters.build_ns);
    if (allow_2m) {
        tdx_sept_report_build_leaves(nr_2m);
    }
    return true;
}

/*
 * Undo the part of a failed map or unmap that the kernel did, so that the
 * S-EPT agrees with the attributes the conversion is rolled back to.  Both
 * run while the range is private (see kvm_convert_memory()).  Pages whose
 * unmap is undone come back zeroed, pending the guest's acceptance: their
 * contents were gone once unmapped.  Returns 0 or the kernel's -errno.
 */
static int tdx_sept_undo(TdxSept *sept, uint64_t gpa, uint64_t done,
                         bool to_private)
{
    TdxSeptKvmCall call;
    int ret;

    if (!done) {
        return 0;
    }
    if (to_private) {
        ret = tdx_sept_kvm_unmap(gpa, done, &call);
    } else {
        ret = tdx_sept_kvm_map(gpa, done, sept->leaves & KVM_TDX_SEPT_LEAF_2M,
                               &call);
    }
    qatomic_inc(&sept->counters.kernel_calls);
    qatomic_add(&sept->counters.retries, call.resumes);
    trace_tdx_sept_undo(gpa, done, to_private, ret, call.hw_error);
    if (ret) {
        g_autofree char *detail = tdx_sept_error_detail(-ret, call.hw_error);

        error_report("sept-mode=side-table: cannot undo the partial %s of "
                     "[0x%" PRIx64 ", 0x%" PRIx64 "): %s%s",
                     to_private ? "map" : "unmap", gpa, gpa + done,
                     strerror(-ret), detail);
    }
    return ret;
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
    qatomic_inc(&c->kernel_calls);
    qatomic_add(&c->retries, call.resumes);
    trace_tdx_sept_convert(gpa, size, to_private, ret, call.hw_error);
    if (!ret) {
        qatomic_inc(to_private ? &c->to_private : &c->to_shared);
        qatomic_add(to_private ? &c->pages_to_private : &c->pages_to_shared,
                    size / TDX_SEPT_PAGE_SIZE);
        return 0;
    }
    qatomic_inc(&c->failed_conversions);
    /*
     * -EIO: an unexpected SEAMCALL failure, the kernel marked the VM
     * bugged and nothing can be undone.  Otherwise (-ENOMEM, -EAGAIN, ...)
     * undo the kernel's partial work so that the conversion is refused
     * with the mapping as before (pages unmapped and mapped again come
     * back zeroed and pending); if even that fails, the S-EPT is in neither
     * state.
     */
    if (ret == -EIO || tdx_sept_undo(sept, gpa, call.done, to_private)) {
        return -EIO;
    }
    return ret;
}

TdxSeptSideTableInfo *tdx_sept_side_table_info(Error **errp)
{
    TdxSept *sept = tdx_sept;
    g_autofree TdxSeptSideTableInfo *info = g_new0(TdxSeptSideTableInfo, 1);
    struct kvm_tdx_sept_stats stats = { 0 };
    TdxSeptCounters *c = &sept->counters;
    int ret;

    /*
     * Not under sept->lock, which a conversion holds through long kernel
     * calls: the kernel's figures are its own, ours are read atomically.
     */
    if (!qatomic_read(&sept->torn_down)) {
        ret = tdx_sept_kvm_stats(&stats);
        if (ret && !qatomic_read(&sept->torn_down)) {
            error_setg_errno(errp, -ret, "KVM_TDX_SEPT_STATS failed");
            return NULL;
        }
    }
    *info = (TdxSeptSideTableInfo) {
        .leaves_4k = stats.leaves_4k,
        .leaves_2m = stats.leaves_2m,
        .sept_pages = stats.sept_pages,
        .pinned_pages = stats.pinned_pages,
        .to_private = qatomic_read(&c->to_private),
        .to_shared = qatomic_read(&c->to_shared),
        .pages_to_private = qatomic_read(&c->pages_to_private),
        .pages_to_shared = qatomic_read(&c->pages_to_shared),
        .failed_conversions = qatomic_read(&c->failed_conversions),
        .kernel_calls = qatomic_read(&c->kernel_calls),
        .retries = qatomic_read(&c->retries),
        .busy_retries = stats.busy_retries,
        .demotions = stats.demotions,
        .promotions = stats.promotions,
        .build_pages = qatomic_read(&c->build_pages),
        .planned_leaves_4k = qatomic_read(&c->planned_leaves_4k),
        .planned_leaves_2m = qatomic_read(&c->planned_leaves_2m),
        .build_ns = qatomic_read(&c->build_ns),
    };
    return g_steal_pointer(&info);
}
