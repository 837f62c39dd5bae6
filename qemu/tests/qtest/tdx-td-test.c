/*
 * QTest: whole TD lifecycles under a TDX host simulator
 *
 * There is no TDX hardware in CI and QEMU has no hardware-free TDX path, so
 * these tests run qemu-system-x86_64 on top of an LD_PRELOAD simulator of
 * KVM and the TDX module (the project's tdxsim, outside the QEMU tree),
 * found through the environment:
 *
 *   TDXSIM_LIB      the simulator library (the tests skip without it)
 *   TDXSIM_TDVF     TDX firmware, e.g. Debian's OVMF.inteltdx.ms.fd
 *   TDXSIM_TRACES   directory of the simulator's guest traces
 *
 * Each lifecycle test boots a TD whose scripted guest plays one trace
 * (conversions, accepts, hostile MapGPAs, ...) and shuts down; the
 * simulator then writes a JSON report that the test checks: the TD was
 * finalized and torn down, QEMU exited cleanly, no S-EPT invariant was
 * broken and no page leaked.  In x-sept-mode=side-table the tests also
 * compare the build and query-stats with the simulator's own figures, and
 * check every refusal of the mode.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include <sys/prctl.h>
#include <linux/capability.h>
#include "libqtest.h"
#include "qemu/units.h"
#include "qapi/error.h"
#include "qobject/qdict.h"
#include "qobject/qjson.h"
#include "qobject/qnum.h"

#define TDXSIM_DEVICE "/dev/tdxsim-kvm"

typedef struct TdTest {
    const char *trace;
    const char *mem;
    int vcpus;
    /* The trace includes MapGPAs that must fail (hostile guest). */
    bool expect_mapgpa_errors;
    /* Upstream (mirror) QEMU stops the VM on this trace. */
    bool side_table_only;
    /*
     * A large trace: the structural self-check of the whole S-EPT runs
     * only at FINALIZE and teardown (TDXSIM_CHECK_EVERY=0), not every 64
     * operations; range and agreement checks still run on each one.
     */
    bool sparse_checks;
    /* At least this much guest memory accepted (MiB), 0: no check. */
    int64_t min_accepted_mib;
    /* At most this many MapGPA calls, 0: no check. */
    int64_t max_mapgpa_calls;
} TdTest;

static const TdTest td_tests[] = {
    /*
     * The firmware accepts the 2 GiB below 4 GiB, Linux lazily accepts
     * what a workload touching half of RAM uses above 4 GiB, and converts
     * dozens of buffers, not thousands.
     */
    { "linux-boot", "4G", 2, false, false, true, 3 * 1024, 200 },
    /* edk2's old IoMmu pattern: ~5000 small conversions. */
    { "legacy-edk2-iommu", "2G", 2, false, false },
    { "parallel-stress", "2G", 2, false, false },
    { "hostile", "2G", 2, true, false },
    { "hostile-private", "2G", 2, true, false },
    /* Four vCPUs on the same and on interleaved pages, 300 rounds. */
    { "conversion-race", "2G", 4, false, false },
    /*
     * Storms: four vCPUs leave a barrier together and convert the same,
     * touching and overlapping ranges (also at the end of RAM below 4G)
     * among implicit conversions, RETRYs and bad MapGPAs, 200 rounds.
     */
    { "storm", "2G", 4, true, false },
    /* MapGPAs across every section boundary of each layout. */
    { "straddle-2G", "2G", 1, true, false },
    { "straddle-4G", "4G", 1, true, false },
    { "straddle-8G", "8G", 1, true, false },
};

/*
 * The cases run a TD under the TDX host simulator (tdxsim, out of tree):
 * without it they are skipped, so that a build without the simulator is
 * not failed by it.  The project's test command runs them with the
 * simulator and fails on any skipped case.
 */
static bool have_simulator(void)
{
    static const char *const vars[] = {
        "TDXSIM_LIB", "TDXSIM_TDVF", "TDXSIM_TRACES",
    };

    for (size_t i = 0; i < ARRAY_SIZE(vars); i++) {
        const char *v = g_getenv(vars[i]);

        if (!v || !g_file_test(v, G_FILE_TEST_EXISTS)) {
            g_autofree char *why = g_strdup_printf(
                "%s is not set or does not exist: the TDX host simulator "
                "is needed", vars[i]);

            g_test_skip(why);
            return false;
        }
    }
    return true;
}

static int64_t dict_int(QDict *dict, const char *key)
{
    QObject *obj = qdict_get(dict, key);

    if (!obj) {
        g_test_message("missing key '%s'", key);
    }
    g_assert_nonnull(obj);
    return qnum_get_int(qobject_to(QNum, obj));
}

static int64_t dict_int_or_zero(QDict *dict, const char *key)
{
    return qdict_haskey(dict, key) ? dict_int(dict, key) : 0;
}

static char *trace_path(const char *name)
{
    g_autofree char *file = g_strdup_printf("%s.trace", name);

    return g_build_filename(g_getenv("TDXSIM_TRACES"), file, NULL);
}

/* The simulator's environment, for the QEMU child only. */
static void set_simulator_env(const char *trace, const char *report,
                              const char *inject)
{
    if (trace) {
        g_setenv("TDXSIM_TRACE", trace, true);
    } else {
        g_unsetenv("TDXSIM_TRACE");
    }
    if (inject) {
        g_setenv("TDXSIM_INJECT", inject, true);
    } else {
        g_unsetenv("TDXSIM_INJECT");
    }
    g_setenv("TDXSIM_REPORT", report, true);
    g_setenv("TDXSIM_DEVICE", TDXSIM_DEVICE, true);
}

static char *td_args(const char *mode, const char *mem, int vcpus,
                     const char *extra)
{
    return g_strdup_printf("-accel kvm,device=" TDXSIM_DEVICE " "
                           "-machine q35,kernel-irqchip=split,"
                           "confidential-guest-support=tdx0 "
                           "-object tdx-guest,id=tdx0,x-sept-mode=%s "
                           "-cpu host -bios %s -m %s -smp %d -nodefaults %s",
                           mode, g_getenv("TDXSIM_TDVF"), mem, vcpus,
                           extra ?: "");
}

/*
 * Start a TD with its vCPUs stopped (a short trace could otherwise end
 * before libqtest is connected), then let it run.
 */
static QTestState *start_td(const char *mode, const char *trace,
                            const char *mem, int vcpus, const char *report,
                            const char *extra, const char *inject)
{
    g_autofree char *stopped = g_strdup_printf("-S %s", extra ?: "");
    g_autofree char *args = td_args(mode, mem, vcpus, stopped);
    QTestState *qts;

    set_simulator_env(trace, report, inject);
    g_setenv("LD_PRELOAD", g_getenv("TDXSIM_LIB"), true);
    qts = qtest_init(args);
    g_unsetenv("LD_PRELOAD");
    qobject_unref(qtest_qmp(qts, "{ 'execute': 'cont' }"));
    return qts;
}

/*
 * The run failed if the simulator says so: a trace expectation not met, a
 * livelock, a guest panic, an access before accept, a dead VM, or a
 * report that is only a snapshot (the TD never ended).
 */
static void check_run_ok(QDict *report)
{
    QDict *trace = qdict_get_qdict(report, "trace");

    g_assert_nonnull(trace);
    g_assert_cmpint(dict_int(trace, "expect_failures"), ==, 0);
    g_assert_cmpint(dict_int(trace, "run_failures"), ==, 0);
    g_assert_cmpint(dict_int(trace, "livelocks"), ==, 0);
    g_assert_cmpint(dict_int(trace, "guest_panics"), ==, 0);
    g_assert_cmpint(dict_int(trace, "access_before_accept"), ==, 0);
    g_assert_false(qdict_get_bool(report, "vm_dead"));
    g_assert_true(qdict_get_bool(report, "complete"));
}

/*
 * Wait for the TD to end.  A run the simulator declares failed (livelock,
 * panicked guest, dead VM: it then exits QEMU with status 3) fails here at
 * once; a TD that does not end in @secs fails too, instead of hanging until
 * the harness times out.
 */
static void wait_td_end(QTestState *qts, const char *report, int secs)
{
    for (int i = 0; i < secs * 10; i++) {
        g_autofree char *text = NULL;
        QDict *dict;

        if (g_file_get_contents(report, &text, NULL, NULL)) {
            dict = qobject_to(QDict, qobject_from_json(text, NULL));
            if (dict && qdict_haskey(dict, "complete")) {
                QDict *trace = qdict_get_qdict(dict, "trace");
                bool done = qdict_get_bool(dict, "complete");
                int64_t failures = dict_int(trace, "run_failures");

                qobject_unref(dict);
                if (failures) {
                    g_test_message("the simulator reports a failed run "
                                   "(%" PRId64 " run failures)", failures);
                    g_assert_cmpint(failures, ==, 0);
                }
                if (done) {
                    break;
                }
            } else {
                qobject_unref(dict);
            }
        }
        g_usleep(100 * 1000);
    }
    qtest_wait_qemu(qts);
}

static QDict *read_report(const char *report)
{
    g_autofree char *text = NULL;
    QDict *dict;

    g_assert_true(g_file_get_contents(report, &text, NULL, NULL));
    dict = qobject_to(QDict, qobject_from_json(text, &error_abort));
    g_assert_nonnull(dict);
    unlink(report);
    return dict;
}

/*
 * Boot a TD, let its guest play @trace to its shutdown, with faults
 * injected as @inject says (TDXSIM_INJECT), and return the report.
 */
static QDict *run_td_inject(const char *mode, const char *trace,
                            const char *mem, int vcpus, const char *inject)
{
    g_autofree char *dir = g_dir_make_tmp("tdx-td-test-XXXXXX", NULL);
    g_autofree char *report = g_build_filename(dir, "report.json", NULL);
    QTestState *qts = start_td(mode, trace, mem, vcpus, report, NULL, inject);
    QDict *dict;

    /* The scripted guest shuts the TD down when its trace ends. */
    wait_td_end(qts, report, 240);
    qtest_quit(qts);
    dict = read_report(report);
    rmdir(dir);
    return dict;
}

static QDict *run_td(const char *mode, const char *trace, const char *mem,
                     int vcpus)
{
    return run_td_inject(mode, trace, mem, vcpus, NULL);
}

static void check_clean_lifecycle(const TdTest *t, QDict *report)
{
    QDict *seamcalls = qdict_get_qdict(report, "seamcalls");
    QDict *mapgpa = qdict_get_qdict(report, "mapgpa");

    g_assert_nonnull(seamcalls);
    g_assert_nonnull(mapgpa);
    check_run_ok(report);
    g_assert_cmpint(dict_int(report, "invariant_violations"), ==, 0);
    g_assert_cmpint(dict_int(report, "leaks"), ==, 0);
    /* Built, measured, finalized, torn down. */
    g_assert_cmpint(dict_int(seamcalls, "TDH.MR.FINALIZE"), ==, 1);
    g_assert_cmpint(dict_int(seamcalls, "TDH.MEM.PAGE.ADD"), >, 0);
    g_assert_cmpint(dict_int(seamcalls, "TDH.MNG.KEY.FREEID"), ==, 1);
    g_assert_cmpint(dict_int(seamcalls, "TDH.PHYMEM.PAGE.RECLAIM"), >, 0);
    if (t->expect_mapgpa_errors) {
        g_assert_cmpint(dict_int(mapgpa, "error"), >, 0);
    } else {
        g_assert_cmpint(dict_int(mapgpa, "success"), >, 0);
        g_assert_cmpint(dict_int_or_zero(mapgpa, "error"), ==, 0);
    }
    g_assert_cmpint(dict_int(report, "estimated_ns"), >, 0);
}

static void test_lifecycle(const TdTest *t, const char *mode)
{
    g_autofree char *trace = trace_path(t->trace);
    QDict *report, *accept;
    int64_t accepted_mib;

    if (!have_simulator()) {
        return;
    }
    if (t->sparse_checks) {
        g_setenv("TDXSIM_CHECK_EVERY", "0", true);
    }
    report = run_td(mode, trace, t->mem, t->vcpus);
    g_unsetenv("TDXSIM_CHECK_EVERY");
    g_assert_cmpstr(qdict_get_str(report, "mode"), ==, mode);
    check_clean_lifecycle(t, report);
    accept = qdict_get_qdict(report, "accept");
    accepted_mib = (dict_int(accept, "accepted_4k") * 4 * KiB +
                    dict_int(accept, "accepted_2m") * 2 * MiB) / MiB;
    g_test_message("%s: %" PRId64 " MiB accepted, %" PRId64 " MapGPAs",
                   t->trace, accepted_mib,
                   dict_int(qdict_get_qdict(report, "mapgpa"), "calls"));
    if (t->min_accepted_mib) {
        g_assert_cmpint(accepted_mib, >=, t->min_accepted_mib);
    }
    if (t->max_mapgpa_calls) {
        g_assert_cmpint(dict_int(qdict_get_qdict(report, "mapgpa"), "calls"),
                        <=, t->max_mapgpa_calls);
    }
    qobject_unref(report);
}

static void test_mirror(const void *data)
{
    test_lifecycle(data, "mirror");
}

static void test_side_table(const void *data)
{
    test_lifecycle(data, "side-table");
}

/*
 * The side-table statistics of query-stats (provider "tdx", target "vm"),
 * as a dictionary from their names without the "sept-" prefix.
 */
static QDict *query_side_table(QTestState *qts)
{
    QDict *resp = qtest_qmp(qts, "{ 'execute': 'query-stats', 'arguments': "
                            "{ 'target': 'vm', 'providers': "
                            "[ { 'provider': 'tdx' } ] } }");
    QList *results = qdict_get_qlist(resp, "return");
    QDict *st = qdict_new();
    QDict *result;
    QListEntry *e;

    g_assert_nonnull(results);
    g_assert_cmpint(qlist_size(results), ==, 1);
    result = qobject_to(QDict, qlist_peek(results));
    g_assert_cmpstr(qdict_get_str(result, "provider"), ==, "tdx");
    QLIST_FOREACH_ENTRY(qdict_get_qlist(result, "stats"), e) {
        QDict *stat = qobject_to(QDict, qlist_entry_obj(e));
        const char *name = qdict_get_str(stat, "name");

        g_assert_true(g_str_has_prefix(name, "sept-"));
        qdict_put_int(st, name + strlen("sept-"),
                      qdict_get_int(stat, "value"));
    }
    qobject_unref(resp);
    return st;
}

/* A copy of @trace without its shutdown: the guest halts at its end. */
static char *trace_without_shutdown(const char *trace, const char *dir)
{
    g_autofree char *text = NULL;
    g_auto(GStrv) lines = NULL;
    g_autoptr(GString) out = g_string_new("");
    char *path = g_build_filename(dir, "no-shutdown.trace", NULL);

    g_assert_true(g_file_get_contents(trace, &text, NULL, NULL));
    lines = g_strsplit(text, "\n", -1);
    for (char **l = lines; *l; l++) {
        if (!g_str_has_prefix(g_strstrip(*l), "shutdown")) {
            g_string_append_printf(out, "%s\n", *l);
        }
    }
    g_assert_true(g_file_set_contents(path, out->str, -1, NULL));
    return path;
}

/*
 * Boot a Linux-boot TD whose guest halts instead of shutting down, wait
 * until its conversions are over, and compare what QEMU reports through
 * query-stats with what the simulator saw; then quit and check the build
 * and the teardown.
 */
static void test_side_table_query(const void *data)
{
    g_autofree char *dir = NULL;
    g_autofree char *report_path = NULL;
    g_autofree char *trace = NULL;
    g_autofree char *hmp = NULL;
    QDict *st = NULL, *report, *build, *build_leaves, *leaves, *side, *resp;
    QDict *schema;
    QListEntry *e;
    QTestState *qts;
    int64_t conversions = -1;
    size_t nr_schema = 0;
    bool found_time = false;

    if (!have_simulator()) {
        return;
    }
    dir = g_dir_make_tmp("tdx-td-test-XXXXXX", NULL);
    report_path = g_build_filename(dir, "report.json", NULL);
    trace = trace_without_shutdown(trace_path("legacy-edk2-iommu"), dir);
    /*
     * A fixed TSC frequency, so that the only migration blocker is the
     * mode's own (-cpu host adds one for its invariant TSC otherwise).
     */
    qts = start_td("side-table", trace, "2G", 2, report_path,
                   "-cpu host,tsc-frequency=2000000000", NULL);

    /* Conversions stop when the guest's trace is over. */
    for (int i = 0; i < 600; i++) {
        int64_t now;

        qobject_unref(st);
        st = query_side_table(qts);
        now = dict_int(st, "to-private") + dict_int(st, "to-shared") +
              dict_int(st, "failed-conversions");
        if (now == conversions && now > 0) {
            break;
        }
        conversions = now;
        g_usleep(500 * 1000);
    }
    g_assert_cmpint(dict_int(st, "to-shared"), >, 1000);
    g_assert_cmpint(dict_int(st, "failed-conversions"), ==, 0);
    g_assert_cmpint(dict_int(st, "build-pages"), >, 0);

    hmp = qtest_hmp(qts, "info stats vm");
    g_assert_nonnull(strstr(hmp, "provider: tdx"));
    g_assert_nonnull(strstr(hmp, "sept-to-shared"));

    /* The schema says what build-time is measured in. */
    resp = qtest_qmp(qts, "{ 'execute': 'query-stats-schemas', "
                     "'arguments': { 'provider': 'tdx' } }");
    g_assert_cmpint(qlist_size(qdict_get_qlist(resp, "return")), ==, 1);
    schema = qobject_to(QDict,
                        qlist_peek(qdict_get_qlist(resp, "return")));
    g_assert_cmpstr(qdict_get_str(schema, "target"), ==, "vm");
    QLIST_FOREACH_ENTRY(qdict_get_qlist(schema, "stats"), e) {
        QDict *value = qobject_to(QDict, qlist_entry_obj(e));

        if (!strcmp(qdict_get_str(value, "name"), "sept-build-time")) {
            g_assert_cmpstr(qdict_get_str(value, "unit"), ==, "seconds");
            g_assert_cmpint(qdict_get_int(value, "exponent"), ==, -9);
            found_time = true;
        }
        nr_schema++;
    }
    g_assert_true(found_time);
    g_assert_cmpint(nr_schema, ==, qdict_size(st));
    qobject_unref(resp);

    /* The mode blocks migration. */
    resp = qtest_qmp(qts, "{ 'execute': 'migrate', 'arguments': "
                     "{ 'uri': 'exec:cat >/dev/null' } }");
    g_assert_nonnull(qdict_get_qdict(resp, "error"));
    g_test_message("migrate: %s",
                   qdict_get_str(qdict_get_qdict(resp, "error"), "desc"));
    g_assert_nonnull(strstr(qdict_get_str(qdict_get_qdict(resp, "error"),
                                          "desc"),
                            "does not support migration"));
    qobject_unref(resp);

    qtest_quit(qts);
    report = read_report(report_path);
    rmdir(dir);
    unlink(trace);

    g_assert_cmpstr(qdict_get_str(report, "mode"), ==, "side-table");
    check_run_ok(report);
    g_assert_cmpint(dict_int(report, "invariant_violations"), ==, 0);
    g_assert_cmpint(dict_int(report, "leaks"), ==, 0);

    /*
     * QEMU's live figures against independent ones: the leaves against a
     * walk of the S-EPT (not the counters KVM_TDX_SEPT_STATS copies), QEMU's
     * own count of its calls against the kernel's.
     */
    leaves = qdict_get_qdict(report, "leaves");
    g_assert_cmpint(dict_int(st, "leaves-4k"), ==,
                    dict_int(leaves, "4K_walked"));
    g_assert_cmpint(dict_int(leaves, "2M_walked"), ==, 0);
    side = qdict_get_qdict(report, "side_table");
    g_assert_nonnull(side);
    g_assert_cmpint(dict_int(st, "kernel-calls"), ==,
                    dict_int(side, "map_calls") +
                    dict_int(side, "unmap_calls"));

    /*
     * The build mapped every page QEMU asked for, one AUG per 4K leaf, and
     * the S-EPT after it also holds the firmware pages added.
     */
    build = qdict_get_qdict(report, "build");
    g_assert_nonnull(build);
    build_leaves = qdict_get_qdict(build, "leaves");
    g_assert_cmpint(dict_int(build_leaves, "4K"), ==,
                    dict_int(st, "build-pages") +
                    dict_int(qdict_get_qdict(report, "seamcalls"),
                             "TDH.MEM.PAGE.ADD"));
    g_assert_cmpint(dict_int(qdict_get_qdict(build, "seamcalls"),
                             "TDH.MEM.PAGE.AUG"), ==,
                    dict_int(st, "build-pages"));
    g_assert_nonnull(qdict_get_qdict(report, "teardown"));

    qobject_unref(st);
    qobject_unref(report);
}

/*
 * Faults in the kernel during conversions: the guest gets an error for the
 * conversions that fail, QEMU and the kernel roll them back (the simulator
 * checks after every conversion that the S-EPT agrees with the attributes)
 * and the TD runs on to a clean shutdown.  The faults are those the KVM
 * series can meet after the build (its pages are pinned, its S-EPT pages
 * kept, so a MAP allocates nothing): the TDX module busy (retried with
 * the vCPUs kept out) and signals.  A module busy for good is the
 * rollback-* tests' fault.
 */
typedef struct InjectTest {
    const char *name;
    const char *inject;
    bool expect_mapgpa_errors;
    bool expect_busy_retries;
} InjectTest;

static const InjectTest inject_tests[] = {
    /* BLOCK and TRACK busy now and then: the kernel's retry succeeds. */
    { "busy-unmap", "busy:TDH.MEM.RANGE.BLOCK:every=3,"
      "busy:TDH.MEM.TRACK:every=2", false, true },
    /* Busy AUGs are retried by the kernel and resumed by QEMU. */
    { "busy-aug", "busy:TDH.MEM.PAGE.AUG:p=0.5", false, true },
    /* Signals interrupt long calls; QEMU resumes them. */
    { "eintr", "eintr:sept_map:every=301,eintr:sept_unmap:every=5", false,
      false },
};

/*
 * A copy of @trace whose MapGPAs expect nothing in particular: with faults
 * injected some conversions fail on purpose (any other unmet expectation
 * still fails the run).
 */
static char *trace_expect_any(const char *trace, const char *dir)
{
    g_autofree char *text = NULL;
    g_auto(GStrv) parts = NULL;
    g_autofree char *out = NULL;
    char *path = g_build_filename(dir, "expect-any.trace", NULL);

    g_assert_true(g_file_get_contents(trace, &text, NULL, NULL));
    parts = g_strsplit(text, "expect=ok", -1);
    out = g_strjoinv("expect=any", parts);
    g_assert_true(g_file_set_contents(path, out, -1, NULL));
    return path;
}

static void test_side_table_inject(const void *data)
{
    const InjectTest *t = data;
    g_autofree char *dir = NULL;
    g_autofree char *trace = NULL;
    QDict *report, *mapgpa, *side;

    if (!have_simulator()) {
        return;
    }
    dir = g_dir_make_tmp("tdx-td-test-XXXXXX", NULL);
    trace = trace_expect_any(trace_path("legacy-edk2-iommu"), dir);
    report = run_td_inject("side-table", trace, "2G", 2, t->inject);
    unlink(trace);
    rmdir(dir);
    check_run_ok(report);
    g_assert_cmpint(dict_int(report, "invariant_violations"), ==, 0);
    g_assert_cmpint(dict_int(report, "leaks"), ==, 0);
    mapgpa = qdict_get_qdict(report, "mapgpa");
    side = qdict_get_qdict(report, "side_table");
    g_test_message("%s: %" PRId64 " MapGPA errors, %" PRId64
                   " busy retries", t->name, dict_int(mapgpa, "error"),
                   dict_int(side, "busy_retries"));
    if (t->expect_mapgpa_errors) {
        g_assert_cmpint(dict_int(mapgpa, "error"), >, 0);
    } else {
        g_assert_cmpint(dict_int(mapgpa, "error"), ==, 0);
    }
    if (t->expect_busy_retries) {
        g_assert_cmpint(dict_int(side, "busy_retries"), >, 0);
    }
    if (strstr(t->inject, "eintr")) {
        /* Interrupted calls happened, and QEMU resumed every one. */
        g_assert_cmpint(dict_int(side, "eintr"), >, 0);
    }
    g_assert_cmpint(dict_int(mapgpa, "success"), >, 4000);
    qobject_unref(report);
}

/*
 * Real contention, nothing injected: the simulator's TDX module takes its
 * locks as try-locks between threads that run at the same time (vCPUs in
 * the guest, QEMU's conversions).  TDXSIM_LOCK_HOLD widens the windows
 * (TDH.MEM.TRACK keeps the epoch lock, the guest's ACCEPT its entry lock a
 * little longer) so that with four vCPUs converting and accepting, entries
 * and TRACKs meet busy locks; the kernel retries (VP.ENTER again,
 * tdh_do_no_vcpus()'s kick and retry) and the TD runs clean.
 */
static void test_contention(const void *data)
{
    const char *mode = data;
    QDict *report, *contention;

    if (!have_simulator()) {
        return;
    }
    g_setenv("TDXSIM_LOCK_HOLD",
             "TDH.MEM.TRACK=300,TDG.MEM.PAGE.ACCEPT=50", true);
    report = run_td(mode, trace_path("conversion-race"), "2G", 4);
    g_unsetenv("TDXSIM_LOCK_HOLD");
    check_run_ok(report);
    g_assert_cmpint(dict_int(report, "invariant_violations"), ==, 0);
    g_assert_cmpint(dict_int(report, "leaks"), ==, 0);
    contention = qdict_get_qdict(report, "contention");
    g_test_message("%s: %" PRId64 " BUSY from real overlap, %" PRId64
                   " kernel retries, %" PRId64 " vCPUs kicked out", mode,
                   dict_int(contention, "busy"),
                   dict_int(contention, "kvm_busy_retries"),
                   dict_int(contention, "vcpus_kicked"));
    g_assert_cmpint(dict_int(contention, "busy"), >, 0);
    g_assert_cmpint(dict_int(contention, "kvm_busy_retries"), >, 0);
    g_assert_cmpint(dict_int(contention, "vcpus_kicked"), >, 0);
    g_assert_cmpint(dict_int(contention, "kick_timeouts"), ==, 0);
    qobject_unref(report);
}

/* Write a guest trace for one vCPU: @steps, then shutdown. */
static char *write_trace(const char *dir, const char *name,
                         const char *steps)
{
    char *path = g_build_filename(dir, name, NULL);
    g_autofree char *text = g_strdup_printf("vcpu 0\n%sshutdown\n", steps);

    g_assert_true(g_file_set_contents(path, text, -1, NULL));
    return path;
}

/*
 * Guest steps for the failed-undo test: a 2 MiB range across a 2 MiB
 * boundary (so that a MAP of it is two blocks, interruptible between
 * them) becomes shared; with @back, it is converted back to private.
 */
static char *write_undo_trace(const char *dir, const char *name, bool back)
{
    g_autofree char *steps = g_strdup_printf(
        "accept 0x4000000 0x400000\n"
        "mapgpa shared 0x4100000 0x200000 expect=ok\n"
        "%s",
        back ? "mapgpa private 0x4100000 0x200000 expect=any\n" : "");

    return write_trace(dir, name, steps);
}

/* Run @steps in a 1-vCPU side-table TD of @mem; return the report. */
static QDict *run_steps(const char *mem, const char *steps,
                        const char *inject)
{
    g_autofree char *dir = g_dir_make_tmp("tdx-td-test-XXXXXX", NULL);
    g_autofree char *trace = write_trace(dir, "steps.trace", steps);
    QDict *report = run_td_inject("side-table", trace, mem, 1, inject);

    unlink(trace);
    rmdir(dir);
    return report;
}

/*
 * A conversion of a range mixing private and shared runs costs one kernel
 * call per run that changes, not one per page: three shared runs of two
 * pages in 64 KiB, made private at once, are three MAP calls.
 */
static void test_side_table_calls_per_run(void)
{
    static const char *const shared_runs =
        "accept 0x4000000 0x10000\n"
        "mapgpa shared 0x4000000 0x2000 expect=ok\n"
        "mapgpa shared 0x4004000 0x2000 expect=ok\n"
        "mapgpa shared 0x4008000 0x2000 expect=ok\n";
    g_autofree char *all = g_strdup_printf(
        "%smapgpa private 0x4000000 0x10000 expect=ok\n", shared_runs);
    QDict *before, *after;
    int64_t calls;

    if (!have_simulator()) {
        return;
    }
    before = run_steps("2G", shared_runs, NULL);
    after = run_steps("2G", all, NULL);
    check_run_ok(after);
    calls = dict_int(qdict_get_qdict(after, "side_table"), "map_calls") -
            dict_int(qdict_get_qdict(before, "side_table"), "map_calls");
    g_test_message("MAP calls for 3 runs of 2 pages: %" PRId64, calls);
    g_assert_cmpint(calls, ==, 3);
    qobject_unref(before);
    qobject_unref(after);
}

/*
 * Run @before to count its PAGE.AUGs, then @before and @after with the
 * TDX module busy for good from the @aug_before-th PAGE.AUG of the next
 * conversion (KVM's MAP answers -EAGAIN): the guest is asked to retry that
 * MapGPA (counted as its error), whatever the conversion touched is put back,
 * so the TD runs on with nothing out of step and none of @after's
 * accesses faults (each touches memory in the state it had before).
 */
static void check_refused_map_undone(const char *mem, const char *before,
                                     const char *after, int64_t aug_before)
{
    g_autofree char *steps = g_strdup_printf("%s%s", before, after);
    g_autofree char *inject = NULL;
    QDict *report;
    int64_t augs;

    report = run_steps(mem, before, NULL);
    augs = dict_int_or_zero(qdict_get_qdict(report, "seamcalls"),
                            "TDH.MEM.PAGE.AUG");
    qobject_unref(report);

    /*
     * The kernel's MAP of pinned pages can fail only when the TDX module
     * stays busy: every PAGE.AUG after the first @aug_before of the
     * failing conversion answers BUSY, KVM answers -EAGAIN without
     * progress and QEMU gives up after its resumes.
     */
    inject = g_strdup_printf("busy:TDH.MEM.PAGE.AUG:after=%" PRId64,
                             augs + aug_before);
    report = run_steps(mem, steps, inject);
    check_run_ok(report);
    g_assert_cmpint(dict_int(report, "invariant_violations"), ==, 0);
    g_assert_cmpint(dict_int(qdict_get_qdict(report, "mapgpa"), "error"),
                    ==, 1);
    g_assert_cmpint(dict_int_or_zero(qdict_get_qdict(report, "exits"),
                                     "memory_fault"), ==, 0);
    qobject_unref(report);
}

/*
 * A conversion to private of a range that is half private already is
 * refused by the kernel: only the half that changed is put back, the
 * private half stays private (touching it as private causes no exit).
 * Restoring the whole range's attributes made that half shared in KVM
 * while QEMU still had it private: the guest's access then faulted for
 * ever.
 */
static void test_side_table_rollback_keeps_unchanged(void)
{
    if (!have_simulator()) {
        return;
    }
    check_refused_map_undone("2G",
                             "accept 0x4000000 0x10000\n"
                             "mapgpa shared 0x4008000 0x8000 expect=ok\n",
                             "mapgpa private 0x4000000 0x10000 "
                             "expect=fail\n"
                             "access private 0x4000000\n"
                             "access shared 0x4008000\n", 0);
}

/*
 * A conversion to private across two RAM sections (the TDVF's last page
 * and the first page above 4 GiB) fails in the second (the conversion
 * maps the TDVF page first): the first is put back, so both pages are
 * still shared, and the guest was asked to retry.  (The module stays
 * busy for PAGE.AUG from then on: no later conversion to private.)
 */
static void test_side_table_rollback_across_sections(void)
{
    if (!have_simulator()) {
        return;
    }
    check_refused_map_undone("4G",
                             "mapgpa shared 0xfffff000 0x2000 expect=ok\n",
                             "mapgpa private 0xfffff000 0x2000 "
                             "expect=fail\n"
                             "access shared 0xfffff000\n"
                             "access shared 0x100000000\n", 1);
}

/*
 * A virtio-balloon, which libvirt adds to every domain by default, is
 * accepted and answers its commands, as in the default mode (it cannot
 * give pinned private memory back to the host).
 */
static void test_side_table_balloon(void)
{
    g_autofree char *dir = NULL;
    g_autofree char *report_path = NULL;
    g_autofree char *trace = NULL;
    QDict *report, *resp;
    QTestState *qts;

    if (!have_simulator()) {
        return;
    }
    dir = g_dir_make_tmp("tdx-td-test-XXXXXX", NULL);
    report_path = g_build_filename(dir, "report.json", NULL);
    /* A guest that halts at once, so that the TD stays up. */
    trace = g_build_filename(dir, "halt.trace", NULL);
    g_assert_true(g_file_set_contents(trace, "vcpu 0\n", -1, NULL));
    qts = start_td("side-table", trace, "2G", 1, report_path,
                   "-device virtio-balloon-pci,id=balloon0", NULL);
    resp = qtest_qmp(qts, "{ 'execute': 'balloon', "
                     "'arguments': { 'value': %" PRIu64 " } }",
                     (uint64_t)GiB);
    g_assert_nonnull(qdict_get_qdict(resp, "return"));
    qobject_unref(resp);
    resp = qtest_qmp(qts, "{ 'execute': 'query-balloon' }");
    g_assert_nonnull(qdict_get_qdict(resp, "return"));
    qobject_unref(resp);
    qtest_quit(qts);
    report = read_report(report_path);
    g_assert_cmpint(dict_int(report, "invariant_violations"), ==, 0);
    g_assert_cmpint(dict_int(report, "leaks"), ==, 0);
    g_assert_nonnull(qdict_get_qdict(report, "teardown"));
    qobject_unref(report);
    unlink(trace);
    rmdir(dir);
}

/*
 * Refusals: QEMU must exit with status 1 and a message naming the problem.
 * QEMU is spawned directly so that its stderr can be read.
 */
typedef struct Refusal {
    const char *name;
    const char *mem;
    const char *extra;
    const char *message;
    /*
     * Extra environment for the simulator, e.g. hiding the capability
     * ("NAME=VALUE", several separated by spaces).
     */
    const char *env;
    /*
     * Drop CAP_IPC_LOCK and play a host whose RLIMIT_MEMLOCK is this many
     * bytes (TDXSIM_MEMLOCK_LIMIT: QEMU and the simulated kernel read it).
     */
    uint64_t memlock;
    /* A message QEMU must not print. */
    const char *not_message;
    /* The tdx-guest's sept-mode and more properties; NULL: side-table. */
    const char *mode;
} Refusal;

static const Refusal refusals[] = {
    { "no-capability", "2G", NULL,
      "needs KVM_CAP_TDX_SIDE_SEPT", "TDXSIM_HIDE_CAPS=250", 0 },
    { "mem-lock", "2G", "-overcommit mem-lock=on",
      "cannot be used with -overcommit mem-lock=on", NULL, 0 },
    { "memory-hotplug", "2G,slots=2,maxmem=4G", NULL,
      "does not support memory hotplug", NULL, 0 },
    { "virtio-mem", "2G,maxmem=4G",
      "-object memory-backend-ram,id=vmem0,size=1G "
      "-device virtio-mem-pci,memdev=vmem0",
      "does not support memory hotplug", NULL, 0 },
    /* Guest RAM and the 4 MiB TDVF are pinned: 4 KiB short is refused. */
    { "memlock-limit", "2G", NULL,
      "needs RLIMIT_MEMLOCK of at least 2101248 KiB",
      NULL, 2 * GiB + 4 * MiB - 4 * KiB },
    /*
     * Enough for guest RAM and TDVF alone, but 64 KiB are locked already
     * (as VFIO's pins would be): the kernel charges on top of them.
     */
    { "memlock-locked-already", "2G", NULL,
      "needs RLIMIT_MEMLOCK of at least 2101248 KiB on top of the 64 KiB "
      "locked already", "TDXSIM_MLOCK=65536", 2 * GiB + 4 * MiB },
    /*
     * More RAM than the host can reserve: QEMU fails before the S-EPT is
     * built, so there is nothing to tear down and no error about it.
     */
    { "ram-unavailable", "64G", NULL, "cannot set up guest memory",
      NULL, 0, "tearing the S-EPT down" },
    /* Bad property values. */
    { "bad-sept-mode", "2G", NULL,
      "Parameter 'x-sept-mode' does not accept value 'side'",
      NULL, 0, NULL, "side" },
    /* Not a refusal up front: the kernel fails the build. */
    { "build-failure", "2G", NULL,
      "building the S-EPT of [0x0, 0x800000) failed",
      "TDXSIM_INJECT=enomem:map:nth=1", 0 },
};

static void drop_memlock(gpointer data)
{
    const Refusal *r = data;

    if (r->memlock) {
        /* Out of the bounding set, so that exec as root cannot regain it. */
        prctl(PR_CAPBSET_DROP, CAP_IPC_LOCK, 0, 0, 0);
    }
}

/*
 * Run QEMU to its end as @r says (no trace: the guest shuts down at once)
 * and return its wait status and stderr.
 */
static int run_qemu_sync(const Refusal *r, char **err)
{
    g_autofree char *args = NULL;
    g_autofree char *cmd = NULL;
    g_autofree char *out = NULL;
    g_auto(GStrv) argv = NULL;
    g_auto(GStrv) envp = NULL;
    g_autoptr(GError) error = NULL;
    int status;

    args = td_args(r->mode ?: "side-table", r->mem, 1, r->extra);
    cmd = g_strdup_printf("%s %s -display none", qtest_qemu_binary(NULL),
                          args);
    g_assert_true(g_shell_parse_argv(cmd, NULL, &argv, NULL));
    envp = g_get_environ();
    envp = g_environ_setenv(envp, "LD_PRELOAD", g_getenv("TDXSIM_LIB"), true);
    envp = g_environ_setenv(envp, "TDXSIM_DEVICE", TDXSIM_DEVICE, true);
    envp = g_environ_unsetenv(envp, "TDXSIM_TRACE");
    envp = g_environ_unsetenv(envp, "TDXSIM_INJECT");
    if (r->env) {
        g_auto(GStrv) vars = g_strsplit(r->env, " ", -1);

        for (size_t i = 0; vars[i]; i++) {
            g_auto(GStrv) kv = g_strsplit(vars[i], "=", 2);

            envp = g_environ_setenv(envp, kv[0], kv[1], true);
        }
    }
    if (r->memlock) {
        g_autofree char *limit = g_strdup_printf("%" PRIu64, r->memlock);

        envp = g_environ_setenv(envp, "TDXSIM_MEMLOCK_LIMIT", limit, true);
    }
    g_assert_true(g_spawn_sync(NULL, argv, envp, G_SPAWN_DEFAULT,
                               drop_memlock, (gpointer)r, &out, err,
                               &status, &error));
    g_test_message("QEMU said: %s", *err);
    return status;
}

static void test_refusal(const void *data)
{
    const Refusal *r = data;
    g_autofree char *err = NULL;
    int status;

    if (!have_simulator()) {
        return;
    }
    status = run_qemu_sync(r, &err);
    /* QEMU refuses to start: exit status 1. */
    g_assert_true(WIFEXITED(status));
    g_assert_cmpint(WEXITSTATUS(status), ==, 1);
    g_assert_nonnull(strstr(err, r->message));
    if (r->not_message) {
        g_assert_null(strstr(err, r->not_message));
    }
}

/*
 * Without CAP_IPC_LOCK, a limit of exactly guest RAM + TDVF is enough: the
 * TD is built, runs and is torn down, every pin charged by the simulated
 * kernel (with 4 KiB less, refuse/memlock-limit).
 */
static void test_side_table_memlock_exact(void)
{
    const Refusal exact = {
        .name = "memlock-exact", .mem = "2G", .memlock = 2 * GiB + 4 * MiB,
    };
    g_autofree char *err = NULL;
    int status;

    if (!have_simulator()) {
        return;
    }
    status = run_qemu_sync(&exact, &err);
    g_assert_true(WIFEXITED(status));
    g_assert_cmpint(WEXITSTATUS(status), ==, 0);
}

/*
 * The KVM series maps 4K leaves only (KVM_CAP_TDX_SIDE_SEPT answers
 * KVM_TDX_SEPT_LEAF_4K: 7.2's guest_memfd has order-0 folios): a 4 GiB
 * TD's build maps every page of RAM with a 4K leaf.
 */
static void test_side_table_kernel_4k_build(void)
{
    g_autofree char *dir = g_dir_make_tmp("tdx-4k-XXXXXX", NULL);
    g_autofree char *report_path = g_build_filename(dir, "report.json", NULL);
    g_autofree char *env = g_strdup_printf("TDXSIM_REPORT=%s", report_path);
    const Refusal build = { .name = "4k-build", .mem = "4G", .env = env };
    g_autofree char *err = NULL;
    QDict *report, *leaves, *side;
    int status;

    if (!have_simulator()) {
        return;
    }
    status = run_qemu_sync(&build, &err);
    g_assert_true(WIFEXITED(status));
    g_assert_cmpint(WEXITSTATUS(status), ==, 0);
    g_assert_null(strstr(err, "2 MiB leaves"));
    report = read_report(report_path);
    check_run_ok(report);
    g_assert_cmpint(dict_int(report, "invariant_violations"), ==, 0);
    g_assert_cmpint(dict_int(report, "leaks"), ==, 0);
    side = qdict_get_qdict(report, "side_table");
    g_assert_cmpint(dict_int(side, "leaf_sizes"), ==, 1);
    leaves = qdict_get_qdict(qdict_get_qdict(report, "build"), "leaves");
    g_test_message("4 GiB build: %" PRId64 " 4K leaves",
                   dict_int(leaves, "4K"));
    g_assert_cmpint(dict_int(leaves, "2M"), ==, 0);
    g_assert_cmpint(dict_int(leaves, "4K"), ==, 4 * GiB / (4 * KiB) +
                    4 * MiB / (4 * KiB));
    qobject_unref(report);
    unlink(report_path);
    rmdir(dir);
}

/*
 * A conversion to private fails half way and undoing the half that was
 * mapped fails too: the range is then in neither state, so the VM must
 * stop with an internal error instead of telling the guest "nothing
 * changed".  With the KVM series both can only come from the TDX module:
 * PAGE.AUG stays busy half way through the conversion's 512 pages (MAP
 * answers -EAGAIN until QEMU gives up), and RANGE.BLOCK stays busy for the
 * undo's UNMAP, which KVM treats as a bug (KVM_BUG_ON, as the TDP MMU
 * does after tdh_do_no_vcpus()): the VM is dead.  The faults are placed by
 * counting the SEAMCALLs of a run of the steps before the conversion.
 */
static void test_side_table_failed_undo(void)
{
    g_autofree char *dir = NULL;
    g_autofree char *before = NULL;
    g_autofree char *trace = NULL;
    g_autofree char *report_path = NULL;
    g_autofree char *env = NULL;
    g_autofree char *err = NULL;
    QDict *report, *seamcalls;
    Refusal run = { .name = "failed-undo", .mem = "2G" };
    int status;

    if (!have_simulator()) {
        return;
    }
    dir = g_dir_make_tmp("tdx-td-test-XXXXXX", NULL);
    before = write_undo_trace(dir, "before.trace", false);
    trace = write_undo_trace(dir, "undo.trace", true);
    report_path = g_build_filename(dir, "report.json", NULL);
    report = run_td_inject("side-table", before, "2G", 1, NULL);
    g_assert_cmpint(dict_int(report, "invariant_violations"), ==, 0);
    seamcalls = qdict_get_qdict(report, "seamcalls");
    env = g_strdup_printf("TDXSIM_TRACE=%s TDXSIM_REPORT=%s "
                          "TDXSIM_INJECT=busy:TDH.MEM.PAGE.AUG:after=%" PRId64
                          ",busy:TDH.MEM.RANGE.BLOCK:after=%" PRId64,
                          trace, report_path,
                          dict_int(seamcalls, "TDH.MEM.PAGE.AUG") + 256,
                          dict_int(seamcalls, "TDH.MEM.RANGE.BLOCK"));
    qobject_unref(report);

    /*
     * QEMU stops the VM with an internal error; stopping a VM whose KVM is
     * dead then aborts in QEMU 10.2.2 (KVM_GET_CLOCK), so only "it did not
     * end as a clean run" is asserted of the exit.
     */
    run.env = env;
    status = run_qemu_sync(&run, &err);
    g_assert_false(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    g_assert_nonnull(strstr(err, "cannot undo the partial"));
    report = read_report(report_path);
    g_assert_true(qdict_get_bool(report, "vm_dead"));
    qobject_unref(report);
    unlink(report_path);
    unlink(before);
    unlink(trace);
    rmdir(dir);
}

/* Wait for @path to exist, at most @secs seconds. */
static bool wait_for_file(const char *path, int secs)
{
    for (int i = 0; i < secs * 100; i++) {
        if (g_file_test(path, G_FILE_TEST_EXISTS)) {
            return true;
        }
        g_usleep(10 * 1000);
    }
    return false;
}

/* Set q35's PAM register @reg (0x90..0x96) through the host bridge. */
static void q35_set_pam(QTestState *qts, uint8_t reg, uint8_t value)
{
    qtest_outl(qts, 0xcf8, 0x80000000u | (reg & ~3u));
    qtest_outb(qts, 0xcfc + (reg & 3), value);
}

/*
 * The guest can make QEMU delete and re-add part of a RAM memslot: q35's
 * PAM registers switch 0xc0000-0xfffff between RAM, read-only RAM (no
 * memslot in a TD) and PCI (hw/pci-host/pam.c).  KVM's memory attributes
 * are per GFN and QEMU makes a re-added guest_memfd slot private as a
 * whole, while its own state still has part of it shared: the guest's
 * shared accesses there must still be served, not fault for ever, and its
 * conversions must still work.
 */
static void test_pam_readd(const void *data)
{
    const char *mode = data;
    g_autofree char *dir = g_dir_make_tmp("tdx-pam-XXXXXX", NULL);
    g_autofree char *report = g_build_filename(dir, "report.json", NULL);
    g_autofree char *trace = g_build_filename(dir, "pam.trace", NULL);
    g_autofree char *at = g_build_filename(dir, "at-1", NULL);
    g_autofree char *go = g_build_filename(dir, "1", NULL);
    QTestState *qts;
    QDict *dict;

    if (!have_simulator()) {
        return;
    }
    g_assert_true(g_file_set_contents(trace,
        "vcpu 0\n"
        "mapgpa shared 0xc0000 0x8000 expect=ok\n"
        "access shared 0xc0000\n"
        "access shared 0xc4000\n"
        "gate 1\n"
        "access shared 0xc0000\n"
        "access shared 0xc7000\n"
        "mapgpa private 0xc0000 0x8000 expect=ok\n"
        "accept 0xc0000 0x8000\n"
        "access private 0xc0000\n"
        "access private 0xc4000\n"
        "shutdown\n", -1, NULL));
    g_setenv("TDXSIM_GATE_DIR", dir, true);
    qts = start_td(mode, trace, "2G", 1, report, NULL, NULL);
    g_unsetenv("TDXSIM_GATE_DIR");
    g_assert_true(wait_for_file(at, 120));

    /* PAM1 covers 0xc0000-0xc7fff: read-only RAM, then PCI again. */
    q35_set_pam(qts, 0x91, 0x11);
    q35_set_pam(qts, 0x91, 0x00);
    g_assert_true(g_file_set_contents(go, "", 0, NULL));

    wait_td_end(qts, report, 120);
    qtest_quit(qts);
    dict = read_report(report);
    check_run_ok(dict);
    g_assert_cmpint(dict_int(dict, "invariant_violations"), ==, 0);
    g_assert_cmpint(dict_int(dict, "leaks"), ==, 0);
    qobject_unref(dict);
    unlink(trace);
    unlink(at);
    unlink(go);
    rmdir(dir);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    for (size_t i = 0; i < ARRAY_SIZE(td_tests); i++) {
        g_autofree char *mirror = g_strdup_printf("/tdx/td/mirror/%s",
                                                  td_tests[i].trace);
        g_autofree char *side = g_strdup_printf("/tdx/td/side-table/%s",
                                                td_tests[i].trace);

        if (!td_tests[i].side_table_only) {
            qtest_add_data_func(mirror, &td_tests[i], test_mirror);
        }
        qtest_add_data_func(side, &td_tests[i], test_side_table);
    }
    qtest_add_data_func("/tdx/td/side-table/query-matches-kernel", NULL,
                        test_side_table_query);
    qtest_add_func("/tdx/td/side-table/kernel-4k-build",
                   test_side_table_kernel_4k_build);
    qtest_add_func("/tdx/td/side-table/kernel-calls-per-run",
                   test_side_table_calls_per_run);
    qtest_add_func("/tdx/td/side-table/rollback-across-sections",
                   test_side_table_rollback_across_sections);
    qtest_add_func("/tdx/td/side-table/rollback-keeps-unchanged",
                   test_side_table_rollback_keeps_unchanged);
    qtest_add_func("/tdx/td/side-table/failed-undo-stops-vm",
                   test_side_table_failed_undo);
    qtest_add_func("/tdx/td/side-table/balloon",
                   test_side_table_balloon);
    qtest_add_func("/tdx/td/side-table/memlock-exactly-enough",
                   test_side_table_memlock_exact);
    qtest_add_data_func("/tdx/td/mirror/pam-readds-memslot", "mirror",
                        test_pam_readd);
    qtest_add_data_func("/tdx/td/side-table/pam-readds-memslot",
                        "side-table", test_pam_readd);
    qtest_add_data_func("/tdx/td/mirror/contention", "mirror",
                        test_contention);
    qtest_add_data_func("/tdx/td/side-table/contention", "side-table",
                        test_contention);

    for (size_t i = 0; i < ARRAY_SIZE(inject_tests); i++) {
        g_autofree char *path = g_strdup_printf("/tdx/td/side-table/inject/%s",
                                                inject_tests[i].name);

        qtest_add_data_func(path, &inject_tests[i], test_side_table_inject);
    }
    for (size_t i = 0; i < ARRAY_SIZE(refusals); i++) {
        g_autofree char *path = g_strdup_printf("/tdx/td/side-table/refuse/%s",
                                                refusals[i].name);

        qtest_add_data_func(path, &refusals[i], test_refusal);
    }
    return g_test_run();
}
