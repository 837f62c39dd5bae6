/*
 * TDX side-table S-EPT mode: the manager
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
#include "qapi/qapi-types-stats.h"
#include "hw/boards.h"
#include "hw/core/cpu.h"
#include "migration/blocker.h"
#include "system/kvm.h"
#include "system/kvm_int.h"
#include "system/runstate.h"
#include "system/stats.h"
#include "system/system.h"
#include "tdx-sept.h"
#include "tdx-sept-kvm.h"
#include "tdx-sept-listener.h"
#include "tdx-sept-ranges.h"
#include "trace.h"

/*
 * Counted by QEMU; the kernel counts leaves, pins and SEAMCALLs.  Updated
 * under TdxSept.lock, read without it (qatomic) so that query-stats
 * never waits for a long kernel call.
 */
typedef struct TdxSeptCounters {
    uint64_t to_private;
    uint64_t to_shared;
    uint64_t pages_to_private;
    uint64_t pages_to_shared;
    /* Mapped or unmapped because the memory map changed. */
    uint64_t pages_remapped;
    uint64_t pages_unmapped;
    uint64_t failed_conversions;
    uint64_t kernel_calls;
    uint64_t retries;
    uint64_t build_pages;
    uint64_t build_ns;
} TdxSeptCounters;

/*
 * Locking: conversions come from vCPU threads without the BQL, already
 * serialised by KVM's conversion lock and called under the converted
 * block's RamBlockAttributes lock; the build, the teardown and memory map
 * changes come with the BQL.  @lock, taken last, serialises every kernel
 * call that changes the S-EPT; nothing under it takes another lock.
 */
struct TdxSept {
    QemuMutex lock;
    /* Set under @lock; read with qatomic_read() outside it. */
    bool built;
    bool torn_down;
    TdxSeptCounters counters;
    TdxSeptListener *listener;
    Error *migration_blocker;
    Notifier exit_notifier;
};

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
 * fail half way (tdx_sept_check_memlock()).
 *
 * Memory already charged to this process's locked_vm (VmLck of
 * /proc/self/status), e.g. by VFIO type1 pins: the kernel charges the
 * pinned private memory on top of it.
 */
static uint64_t tdx_sept_locked_now(void)
{
    g_autofree char *status = NULL;
    const char *line;

    if (!g_file_get_contents("/proc/self/status", &status, NULL, NULL)) {
        return 0;
    }
    line = strstr(status, "\nVmLck:");
    return line ? g_ascii_strtoull(line + strlen("\nVmLck:"), NULL, 10) * KiB
                : 0;
}

static bool tdx_sept_check_memlock(uint64_t need, Error **errp)
{
    ERRP_GUARD();
    struct rlimit rlim;
    uint64_t locked;

    if (tdx_sept_has_cap_ipc_lock()) {
        return true;
    }
    if (getrlimit(RLIMIT_MEMLOCK, &rlim)) {
        error_setg_errno(errp, errno, "cannot read RLIMIT_MEMLOCK");
        return false;
    }
    locked = tdx_sept_locked_now();
    if (rlim.rlim_cur != RLIM_INFINITY && rlim.rlim_cur < need + locked) {
        g_autofree char *already = locked ?
            g_strdup_printf(" on top of the %" PRIu64 " KiB locked already",
                            locked / KiB) : g_strdup("");

        error_setg(errp, "x-sept-mode=side-table pins all private memory "
                   "(guest RAM and firmware): it needs RLIMIT_MEMLOCK of at "
                   "least %" PRIu64 " KiB%s, but the limit is %" PRIu64 " KiB",
                   need / KiB, already, (uint64_t)rlim.rlim_cur / KiB);
        error_append_hint(errp, "Raise the limit (e.g. ulimit -l, or "
                          "LimitMEMLOCK= for a systemd unit) or run QEMU "
                          "with CAP_IPC_LOCK.\n");
        return false;
    }
    return true;
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

    /*
     * From exit(): a thread that called it, or another, may hold the lock
     * in a long kernel call.  Only a built S-EPT, and only once no vCPU
     * runs (QEMU's shutdown paused them): otherwise VM destruction does
     * the same work.
     */
    if (qemu_mutex_trylock(&sept->lock)) {
        return;
    }
    if (!sept->built || sept->torn_down || !tdx_sept_vcpus_stopped()) {
        qemu_mutex_unlock(&sept->lock);
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

        error_report("x-sept-mode=side-table: tearing the S-EPT down failed: "
                     "%s%s", strerror(-ret), detail);
    }
    qemu_mutex_unlock(&sept->lock);
}

/* The listener's conversions: tdx_sept_convert() of this TD. */
static int tdx_sept_listener_convert(void *opaque, uint64_t gpa,
                                     uint64_t size, bool to_private,
                                     bool conversion)
{
    return tdx_sept_convert(opaque, gpa, size, to_private, conversion);
}

TdxSept *tdx_sept_new(Error **errp)
{
    MachineState *ms = MACHINE(qdev_get_machine());
    g_autofree TdxSept *sept = NULL;
    uint64_t supported;
    int ret;

    supported = tdx_sept_kvm_supported_leaves();
    if (!(supported & KVM_TDX_SEPT_LEAF_4K)) {
        error_setg(errp, "x-sept-mode=side-table needs KVM_CAP_TDX_SIDE_SEPT, "
                   "which this host's KVM does not offer");
        return NULL;
    }
    if (should_mlock(mlock_state)) {
        error_setg(errp, "x-sept-mode=side-table cannot be used with "
                   "-overcommit mem-lock=on: the kernel pins private memory "
                   "itself, and locked shared memory cannot be discarded on "
                   "conversion");
        return NULL;
    }
    if (ms->maxram_size > ms->ram_size) {
        error_setg(errp, "x-sept-mode=side-table does not support memory "
                   "hotplug (pc-dimm, virtio-mem): drop maxmem and slots "
                   "from -m");
        return NULL;
    }

    sept = g_new0(TdxSept, 1);
    /* 4 KiB leaves: the only size KVM maps so far. */
    ret = tdx_sept_kvm_enable(KVM_TDX_SEPT_LEAF_4K);
    if (ret) {
        error_setg_errno(errp, -ret, "x-sept-mode=side-table: KVM refused to "
                         "enable KVM_CAP_TDX_SIDE_SEPT");
        return NULL;
    }

    error_setg(&sept->migration_blocker,
               "TDX x-sept-mode=side-table does not support migration");
    if (migrate_add_blocker(&sept->migration_blocker, errp) < 0) {
        return NULL;
    }

    qemu_mutex_init(&sept->lock);
    kvm_state->private_memory_pinned = true;
    sept->listener = tdx_sept_listener_new(tdx_sept_listener_convert, sept);
    sept->exit_notifier.notify = tdx_sept_teardown;
    qemu_add_exit_notifier(&sept->exit_notifier);
    trace_tdx_sept_init(KVM_TDX_SEPT_LEAF_4K);
    return g_steal_pointer(&sept);
}

bool tdx_sept_check_host(TdxSept *sept, Error **errp)
{
    return tdx_sept_check_memlock(
        tdx_sept_listener_guest_memfd_size(sept->listener), errp);
}

static bool tdx_sept_build_locked(TdxSept *sept, GArray *ranges,
                                  Error **errp)
{
    int64_t start = get_clock();

    QEMU_LOCK_GUARD(&sept->lock);
    for (guint i = 0; i < ranges->len; i++) {
        TdxSeptRange *r = &g_array_index(ranges, TdxSeptRange, i);
        TdxSeptKvmCall call;
        int ret = tdx_sept_kvm_map(r->gpa, r->size, &call);

        qatomic_inc(&sept->counters.kernel_calls);
        qatomic_add(&sept->counters.retries, call.resumes);
        if (ret) {
            g_autofree char *detail = tdx_sept_error_detail(-ret,
                                                            call.hw_error);

            error_setg_errno(errp, -ret, "x-sept-mode=side-table: building the "
                             "S-EPT of [0x%" PRIx64 ", 0x%" PRIx64 ") failed"
                             "%s", r->gpa, r->gpa + r->size, detail);
            return false;
        }
    }
    qatomic_set(&sept->counters.build_ns, get_clock() - start);
    qatomic_set(&sept->built, true);
    return true;
}

bool tdx_sept_build(TdxSept *sept, const TdxSeptRange *added,
                    size_t nr_added, Error **errp)
{
    g_autoptr(GArray) private = NULL;
    g_autoptr(GArray) ranges = g_array_new(false, false, sizeof(TdxSeptRange));
    Error *local_err = NULL;
    uint64_t pages = 0;

    private = tdx_sept_listener_private_ranges(sept->listener);
    tdx_sept_ranges_subtract((TdxSeptRange *)private->data, private->len,
                             added, nr_added, ranges);
    for (guint i = 0; i < ranges->len; i++) {
        pages += g_array_index(ranges, TdxSeptRange, i).size /
                 TDX_SEPT_PAGE_SIZE;
    }
    trace_tdx_sept_build(ranges->len, pages);

    /* Not with the lock held: exit() on &error_fatal tears down. */
    if (!tdx_sept_build_locked(sept, ranges, &local_err)) {
        error_propagate(errp, local_err);
        return false;
    }
    qatomic_set(&sept->counters.build_pages, pages);
    trace_tdx_sept_build_done(sept->counters.build_ns);
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
        ret = tdx_sept_kvm_map(gpa, done, &call);
    }
    qatomic_inc(&sept->counters.kernel_calls);
    qatomic_add(&sept->counters.retries, call.resumes);
    trace_tdx_sept_undo(gpa, done, to_private, ret, call.hw_error);
    if (ret) {
        g_autofree char *detail = tdx_sept_error_detail(-ret, call.hw_error);

        error_report("x-sept-mode=side-table: cannot undo the partial %s of "
                     "[0x%" PRIx64 ", 0x%" PRIx64 "): %s%s",
                     to_private ? "map" : "unmap", gpa, gpa + done,
                     strerror(-ret), detail);
    }
    return ret;
}

int tdx_sept_convert(TdxSept *sept, uint64_t gpa, uint64_t size,
                     bool to_private, bool conversion)
{
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
        ret = tdx_sept_kvm_map(gpa, size, &call);
    } else {
        ret = tdx_sept_kvm_unmap(gpa, size, &call);
    }
    qatomic_inc(&c->kernel_calls);
    qatomic_add(&c->retries, call.resumes);
    trace_tdx_sept_convert(gpa, size, to_private, ret, call.hw_error);
    if (!ret) {
        if (conversion) {
            qatomic_inc(to_private ? &c->to_private : &c->to_shared);
            qatomic_add(to_private ? &c->pages_to_private :
                                     &c->pages_to_shared,
                        size / TDX_SEPT_PAGE_SIZE);
        } else {
            qatomic_add(to_private ? &c->pages_remapped : &c->pages_unmapped,
                        size / TDX_SEPT_PAGE_SIZE);
        }
        return 0;
    }
    qatomic_inc(&c->failed_conversions);
    if (ret != -EAGAIN) {
        g_autofree char *detail = tdx_sept_error_detail(-ret, call.hw_error);

        /* QEMU and KVM disagree, or the host is short of something. */
        error_report("x-sept-mode=side-table: %s [0x%" PRIx64 ", 0x%" PRIx64
                     ") failed: %s%s", to_private ? "mapping" : "unmapping",
                     gpa, gpa + size, strerror(-ret), detail);
    }
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

/* The statistics of query-stats (provider "tdx", target "vm"). */
typedef enum TdxSeptStat {
    TDX_SEPT_STAT_LEAVES_4K,
    TDX_SEPT_STAT_SEPT_PAGES,
    TDX_SEPT_STAT_PINNED_PAGES,
    TDX_SEPT_STAT_BUSY_RETRIES,
    TDX_SEPT_STAT_TO_PRIVATE,
    TDX_SEPT_STAT_TO_SHARED,
    TDX_SEPT_STAT_PAGES_TO_PRIVATE,
    TDX_SEPT_STAT_PAGES_TO_SHARED,
    TDX_SEPT_STAT_PAGES_REMAPPED,
    TDX_SEPT_STAT_PAGES_UNMAPPED,
    TDX_SEPT_STAT_FAILED_CONVERSIONS,
    TDX_SEPT_STAT_KERNEL_CALLS,
    TDX_SEPT_STAT_RESUMES,
    TDX_SEPT_STAT_BUILD_PAGES,
    TDX_SEPT_STAT_BUILD_TIME,
    TDX_SEPT_STAT__MAX,
} TdxSeptStat;

static const struct {
    const char *name;
    StatsType type;
    bool in_ns;
} tdx_sept_stat_schema[TDX_SEPT_STAT__MAX] = {
    /* Counted by the kernel: what the S-EPT holds now. */
    [TDX_SEPT_STAT_LEAVES_4K] = { "sept-leaves-4k", STATS_TYPE_INSTANT },
    [TDX_SEPT_STAT_SEPT_PAGES] = { "sept-pages", STATS_TYPE_INSTANT },
    [TDX_SEPT_STAT_PINNED_PAGES] = { "sept-pinned-pages",
                                     STATS_TYPE_INSTANT },
    [TDX_SEPT_STAT_BUSY_RETRIES] = { "sept-busy-retries",
                                     STATS_TYPE_CUMULATIVE },
    /* Counted by QEMU. */
    [TDX_SEPT_STAT_TO_PRIVATE] = { "sept-to-private", STATS_TYPE_CUMULATIVE },
    [TDX_SEPT_STAT_TO_SHARED] = { "sept-to-shared", STATS_TYPE_CUMULATIVE },
    [TDX_SEPT_STAT_PAGES_TO_PRIVATE] = { "sept-pages-to-private",
                                         STATS_TYPE_CUMULATIVE },
    [TDX_SEPT_STAT_PAGES_TO_SHARED] = { "sept-pages-to-shared",
                                        STATS_TYPE_CUMULATIVE },
    /* Mapped or unmapped because RAM came or went, not converted. */
    [TDX_SEPT_STAT_PAGES_REMAPPED] = { "sept-pages-remapped",
                                       STATS_TYPE_CUMULATIVE },
    [TDX_SEPT_STAT_PAGES_UNMAPPED] = { "sept-pages-unmapped",
                                       STATS_TYPE_CUMULATIVE },
    [TDX_SEPT_STAT_FAILED_CONVERSIONS] = { "sept-failed-conversions",
                                           STATS_TYPE_CUMULATIVE },
    [TDX_SEPT_STAT_KERNEL_CALLS] = { "sept-kernel-calls",
                                     STATS_TYPE_CUMULATIVE },
    [TDX_SEPT_STAT_RESUMES] = { "sept-resumes", STATS_TYPE_CUMULATIVE },
    [TDX_SEPT_STAT_BUILD_PAGES] = { "sept-build-pages", STATS_TYPE_INSTANT },
    [TDX_SEPT_STAT_BUILD_TIME] = { "sept-build-time", STATS_TYPE_INSTANT,
                                   true },
};

/* The figures KVM_TDX_SEPT_STATS gives. */
static bool tdx_sept_stat_is_kernels(int stat)
{
    return stat == TDX_SEPT_STAT_LEAVES_4K ||
           stat == TDX_SEPT_STAT_SEPT_PAGES ||
           stat == TDX_SEPT_STAT_PINNED_PAGES ||
           stat == TDX_SEPT_STAT_BUSY_RETRIES;
}

void tdx_sept_query_stats(TdxSept *sept, StatsResultList **result,
                          strList *names, Error **errp)
{
    struct kvm_tdx_sept_stats kstats = { 0 };
    TdxSeptCounters *c = &sept->counters;
    uint64_t values[TDX_SEPT_STAT__MAX];
    StatsList *list = NULL;
    bool kernel_ok = true;
    int ret;

    /*
     * Not under sept->lock, which a conversion holds through long kernel
     * calls: the kernel's figures are its own, ours are read atomically.
     * After the teardown the kernel holds nothing any more.  If the kernel
     * cannot answer (a bugged VM fails every ioctl), its figures are left
     * out and ours still reported: query-stats must not lose the other
     * providers' statistics because of this one.
     */
    if (!qatomic_read(&sept->torn_down)) {
        ret = tdx_sept_kvm_stats(&kstats);
        kernel_ok = !ret || qatomic_read(&sept->torn_down);
        if (!kernel_ok) {
            warn_report_once("KVM_TDX_SEPT_STATS failed: %s; the side-table "
                             "statistics leave the kernel's figures out",
                             strerror(-ret));
        }
    }
    values[TDX_SEPT_STAT_LEAVES_4K] = kstats.leaves_4k;
    values[TDX_SEPT_STAT_SEPT_PAGES] = kstats.sept_pages;
    values[TDX_SEPT_STAT_PINNED_PAGES] = kstats.pinned_pages;
    values[TDX_SEPT_STAT_BUSY_RETRIES] = kstats.busy_retries;
    values[TDX_SEPT_STAT_TO_PRIVATE] = qatomic_read(&c->to_private);
    values[TDX_SEPT_STAT_TO_SHARED] = qatomic_read(&c->to_shared);
    values[TDX_SEPT_STAT_PAGES_TO_PRIVATE] =
        qatomic_read(&c->pages_to_private);
    values[TDX_SEPT_STAT_PAGES_TO_SHARED] = qatomic_read(&c->pages_to_shared);
    values[TDX_SEPT_STAT_PAGES_REMAPPED] = qatomic_read(&c->pages_remapped);
    values[TDX_SEPT_STAT_PAGES_UNMAPPED] = qatomic_read(&c->pages_unmapped);
    values[TDX_SEPT_STAT_FAILED_CONVERSIONS] =
        qatomic_read(&c->failed_conversions);
    values[TDX_SEPT_STAT_KERNEL_CALLS] = qatomic_read(&c->kernel_calls);
    values[TDX_SEPT_STAT_RESUMES] = qatomic_read(&c->retries);
    values[TDX_SEPT_STAT_BUILD_PAGES] = qatomic_read(&c->build_pages);
    values[TDX_SEPT_STAT_BUILD_TIME] = qatomic_read(&c->build_ns);

    for (int i = TDX_SEPT_STAT__MAX - 1; i >= 0; i--) {
        Stats *stat;

        if (!apply_str_list_filter(tdx_sept_stat_schema[i].name, names) ||
            (!kernel_ok && tdx_sept_stat_is_kernels(i))) {
            continue;
        }
        stat = g_new0(Stats, 1);
        stat->name = g_strdup(tdx_sept_stat_schema[i].name);
        stat->value = g_new0(StatsValue, 1);
        stat->value->type = QTYPE_QNUM;
        stat->value->u.scalar = values[i];
        QAPI_LIST_PREPEND(list, stat);
    }
    if (list) {
        add_stats_entry(result, STATS_PROVIDER_TDX, NULL, list);
    }
}

void tdx_sept_query_stats_schemas(StatsSchemaList **result)
{
    StatsSchemaValueList *list = NULL;

    for (int i = TDX_SEPT_STAT__MAX - 1; i >= 0; i--) {
        StatsSchemaValue *value = g_new0(StatsSchemaValue, 1);

        value->name = g_strdup(tdx_sept_stat_schema[i].name);
        value->type = tdx_sept_stat_schema[i].type;
        if (tdx_sept_stat_schema[i].in_ns) {
            value->has_unit = true;
            value->unit = STATS_UNIT_SECONDS;
            value->has_base = true;
            value->base = 10;
            value->exponent = -9;
        }
        QAPI_LIST_PREPEND(list, value);
    }
    add_stats_schema(result, STATS_PROVIDER_TDX, STATS_TARGET_VM, list);
}
