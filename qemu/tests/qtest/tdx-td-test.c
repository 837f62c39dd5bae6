/*
 * QTest: whole TD lifecycles under a TDX host simulator
 *
 * There is no TDX hardware in CI and QEMU has no hardware-free TDX path, so
 * these tests run qemu-system-x86_64, unmodified, on top of an LD_PRELOAD
 * simulator of KVM and the TDX module (the project's tdxsim, outside the
 * QEMU tree), found through the environment:
 *
 *   TDXSIM_LIB      the simulator library (tests skip without it)
 *   TDXSIM_TDVF     TDX firmware, e.g. Debian's OVMF.inteltdx.ms.fd
 *   TDXSIM_TRACES   directory of the simulator's guest traces
 *
 * Each test boots a TD whose scripted guest plays one trace (conversions,
 * accepts, hostile MapGPAs, ...) and shuts down; the simulator then writes
 * a JSON report that the test checks: the lifecycle went through
 * TDH.MR.FINALIZE, QEMU exited cleanly, no S-EPT invariant was broken and
 * no page leaked.
 *
 * Copyright (c) 2026 The TDX side-table S-EPT authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "libqtest.h"
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
} TdTest;

static const TdTest td_tests[] = {
    { "linux-boot", "2G", 2, false },
    { "parallel-stress", "2G", 4, false },
    { "hostile", "2G", 2, true },
};

static int64_t dict_int(QDict *dict, const char *key)
{
    QObject *obj = qdict_get(dict, key);

    g_assert_nonnull(obj);
    return qnum_get_int(qobject_to(QNum, obj));
}

static int64_t dict_int_or_zero(QDict *dict, const char *key)
{
    return qdict_haskey(dict, key) ? dict_int(dict, key) : 0;
}

static QDict *run_td(const TdTest *t, const char *mode)
{
    const char *lib = g_getenv("TDXSIM_LIB");
    const char *tdvf = g_getenv("TDXSIM_TDVF");
    const char *traces = g_getenv("TDXSIM_TRACES");
    g_autofree char *dir = g_dir_make_tmp("tdx-td-test-XXXXXX", NULL);
    g_autofree char *report = g_build_filename(dir, "report.json", NULL);
    g_autofree char *file = g_strdup_printf("%s.trace", t->trace);
    g_autofree char *trace = g_build_filename(traces, file, NULL);
    g_autofree char *text = NULL;
    g_autofree char *sept_mode = NULL;
    QTestState *qts;
    QDict *dict;

    g_assert_nonnull(dir);
    if (strcmp(mode, "mirror")) {
        sept_mode = g_strdup_printf(",sept-mode=%s", mode);
    }

    /* Only the QEMU child gets the simulator. */
    g_setenv("TDXSIM_TRACE", trace, true);
    g_setenv("TDXSIM_REPORT", report, true);
    g_setenv("TDXSIM_DEVICE", TDXSIM_DEVICE, true);
    g_setenv("LD_PRELOAD", lib, true);
    qts = qtest_initf("-accel kvm,device=" TDXSIM_DEVICE " "
                      "-machine q35,kernel-irqchip=split,"
                      "confidential-guest-support=tdx0 "
                      "-object tdx-guest,id=tdx0%s "
                      "-cpu host -bios %s -m %s -smp %d -nodefaults",
                      sept_mode ?: "", tdvf, t->mem, t->vcpus);
    g_unsetenv("LD_PRELOAD");

    /* The scripted guest shuts the TD down when its trace ends. */
    qtest_wait_qemu(qts);
    qtest_quit(qts);

    g_assert_true(g_file_get_contents(report, &text, NULL, NULL));
    dict = qobject_to(QDict, qobject_from_json(text, &error_abort));
    g_assert_nonnull(dict);
    unlink(report);
    rmdir(dir);
    return dict;
}

static void check_clean_lifecycle(const TdTest *t, QDict *report)
{
    QDict *seamcalls = qdict_get_qdict(report, "seamcalls");
    QDict *mapgpa = qdict_get_qdict(report, "mapgpa");

    g_assert_nonnull(seamcalls);
    g_assert_nonnull(mapgpa);
    g_assert_cmpint(dict_int(report, "invariant_violations"), ==, 0);
    g_assert_cmpint(dict_int(report, "leaks"), ==, 0);
    /* Built, measured, finalized, torn down. */
    g_assert_cmpint(dict_int(seamcalls, "TDH.MR.FINALIZE"), ==, 1);
    g_assert_cmpint(dict_int(seamcalls, "TDH.MEM.PAGE.ADD"), >, 0);
    g_assert_cmpint(dict_int(seamcalls, "TDH.MNG.KEY.FREEID"), ==, 1);
    g_assert_cmpint(dict_int(seamcalls, "TDH.PHYMEM.PAGE.RECLAIM"), >, 0);
    g_assert_cmpint(dict_int(mapgpa, "success"), >, 0);
    if (t->expect_mapgpa_errors) {
        g_assert_cmpint(dict_int(mapgpa, "error"), >, 0);
    } else {
        g_assert_cmpint(dict_int_or_zero(mapgpa, "error"), ==, 0);
    }
    g_assert_cmpint(dict_int(report, "estimated_ns"), >, 0);
}

static void test_mirror(const void *data)
{
    const TdTest *t = data;
    QDict *report;

    if (!g_getenv("TDXSIM_LIB") || !g_getenv("TDXSIM_TDVF") ||
        !g_getenv("TDXSIM_TRACES")) {
        g_test_skip("TDXSIM_LIB, TDXSIM_TDVF and TDXSIM_TRACES are not set");
        return;
    }
    report = run_td(t, "mirror");
    g_assert_cmpstr(qdict_get_str(report, "mode"), ==, "mirror");
    check_clean_lifecycle(t, report);
    qobject_unref(report);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    for (size_t i = 0; i < ARRAY_SIZE(td_tests); i++) {
        g_autofree char *path = g_strdup_printf("/tdx/td/mirror/%s",
                                                td_tests[i].trace);

        qtest_add_data_func(path, &td_tests[i], test_mirror);
    }
    return g_test_run();
}
