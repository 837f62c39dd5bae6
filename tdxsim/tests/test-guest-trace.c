// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * tdxsim unit test: the guest trace parser (guest-trace.c), including the
 * shipped traces in tdxsim/traces/.
 */
#include <glib.h>
#include "guest-trace.h"

static void test_numbers(void)
{
    uint64_t v;

    g_assert_true(trace_parse_number("4096", &v) && v == 4096);
    g_assert_true(trace_parse_number("0x1000", &v) && v == 0x1000);
    g_assert_true(trace_parse_number("2M", &v) && v == 2 << 20);
    g_assert_true(trace_parse_number("1G", &v) && v == 1ULL << 30);
    g_assert_true(trace_parse_number("64k", &v) && v == 64 << 10);
    g_assert_false(trace_parse_number("", &v));
    g_assert_false(trace_parse_number("-1", &v));
    g_assert_false(trace_parse_number("12Q", &v));
    g_assert_false(trace_parse_number("2MM", &v));
    g_assert_false(trace_parse_number("0xffffffffffffffffK", &v));
}

static void test_parse(void)
{
    GError *err = NULL;
    struct trace *t = trace_parse(
        "# comment\n"
        "vcpu 1\n"
        "  mapgpa shared 0x1000 8K expect=ok  # trailing\n"
        "access private 0x2000\n"
        "accept 0x200000 2M\n"
        "interrupt 3\n"
        "barrier\n"
        "vcpu 0\n"
        "mapgpa private 0x1001 0x1000 expect=align\n"
        "shutdown\n"
        "vcpu 2\n"
        "park\n", &err);
    const struct trace_op *ops;
    unsigned n;

    g_assert_no_error(err);
    g_assert_nonnull(t);
    g_assert_cmpuint(trace_nr_vcpus(t), ==, 3);
    ops = trace_vcpu_ops(t, 1, &n);
    g_assert_cmpuint(n, ==, 5);
    g_assert_cmpint(ops[0].kind, ==, TOP_MAPGPA);
    g_assert_false(ops[0].private);
    g_assert_cmphex(ops[0].size, ==, 0x2000);
    g_assert_cmpint(ops[0].expect, ==, TEXPECT_OK);
    g_assert_cmpuint(ops[0].line, ==, 3);
    g_assert_cmpint(ops[1].kind, ==, TOP_ACCESS);
    g_assert_true(ops[1].private);
    g_assert_cmpint(ops[2].kind, ==, TOP_ACCEPT);
    g_assert_cmpuint(ops[3].count, ==, 3);
    g_assert_cmpint(ops[4].kind, ==, TOP_BARRIER);
    ops = trace_vcpu_ops(t, 0, &n);
    g_assert_cmpuint(n, ==, 2);
    g_assert_cmpint(ops[0].expect, ==, TEXPECT_ALIGN);
    g_assert_cmpint(ops[1].kind, ==, TOP_SHUTDOWN);
    ops = trace_vcpu_ops(t, 2, &n);
    g_assert_cmpuint(n, ==, 1);
    g_assert_cmpint(ops[0].kind, ==, TOP_PARK);
    g_assert_false(ops[0].tolerant);
    g_assert_null(trace_vcpu_ops(t, 7, &n));
    g_assert_cmpuint(n, ==, 0);
    trace_free(t);
}

static void test_gate(void)
{
    GError *err = NULL;
    struct trace *t = trace_parse("vcpu 0\ngate 3\nshutdown\n", &err);
    const struct trace_op *ops;
    unsigned n;

    g_assert_no_error(err);
    ops = trace_vcpu_ops(t, 0, &n);
    g_assert_cmpuint(n, ==, 2);
    g_assert_cmpint(ops[0].kind, ==, TOP_GATE);
    g_assert_cmpuint(ops[0].count, ==, 3);
    trace_free(t);
    g_assert_null(trace_parse("vcpu 0\ngate\n", &err));
    g_assert_nonnull(err);
    g_clear_error(&err);
    g_assert_null(trace_parse("vcpu 0\nrepeat 2 0x1000\ngate 1\nend\n",
                              &err));
    g_assert_nonnull(err);
    g_clear_error(&err);
}

static void test_repeat(void)
{
    GError *err = NULL;
    struct trace *t = trace_parse("vcpu 0\nrepeat 3 0x10000\n"
                                  "mapgpa shared 0x100000 4K\n"
                                  "mapgpa private 0x100000 4K\nend\n", &err);
    const struct trace_op *ops;
    unsigned n;

    g_assert_no_error(err);
    ops = trace_vcpu_ops(t, 0, &n);
    g_assert_cmpuint(n, ==, 6);
    g_assert_cmphex(ops[4].gpa, ==, 0x120000);
    g_assert_true(ops[5].private);
    trace_free(t);
}

static void test_errors(void)
{
    static const char *const bad[] = {
        "mapgpa shared 0 4K\n",                 /* before vcpu */
        "vcpu 0\nmapgpa both 0 4K\n",
        "vcpu 0\nmapgpa shared 0\n",
        "vcpu 0\naccess private\n",
        "vcpu 0\naccept 0x1000 0x800\n",
        "vcpu 0\naccept 0x1000 0\n",
        "vcpu 0\nfly 0x1000\n",
        "vcpu 0\naccess private 0x1000 expect=ok\n",
        "vcpu 0\nmapgpa shared 0 4K expect=maybe\n",
        "vcpu 0\nrepeat 2 4K\nbarrier\nend\n",
        "vcpu 0\nrepeat 2 4K\n",
        "vcpu 0\nend\n",
        "vcpu 99999\n",
        "vcpu 0\nshutdown now\n",
        "vcpu 0\npark 1\n",
        "vcpu 0\nrepeat 2 4K\npark\nend\n",
    };

    for (unsigned i = 0; i < G_N_ELEMENTS(bad); i++) {
        GError *err = NULL;
        struct trace *t = trace_parse(bad[i], &err);

        g_assert_null(t);
        g_assert_nonnull(err);
        g_error_free(err);
    }
}

/*
 * Every trace of tdxsim/traces/ parses, and the shipped ones are there.
 * The directory is found from any working directory (the source path is
 * compiled in; TDXSIM_TRACES_DIR overrides it); not finding it is a failure,
 * never a skip.
 */
static void test_shipped(void)
{
    static const char *const shipped[] = {
        "linux-boot", "legacy-edk2-iommu", "parallel-stress", "hostile",
        "hostile-private",
    };
    const char *dir = g_getenv("TDXSIM_TRACES_DIR");
    g_autofree char *def = g_build_filename(TDXSIM_SRCDIR, "traces", NULL);
    g_autoptr(GDir) d = NULL;
    GError *derr = NULL;
    const char *name;
    unsigned files = 0;

    if (!dir) {
        dir = def;
    }
    d = g_dir_open(dir, 0, &derr);
    g_assert_no_error(derr);
    g_assert_nonnull(d);
    while ((name = g_dir_read_name(d))) {
        g_autofree char *path = g_build_filename(dir, name, NULL);
        GError *err = NULL;
        struct trace *t;

        if (!g_str_has_suffix(name, ".trace")) {
            continue;
        }
        t = trace_load(path, &err);
        g_assert_no_error(err);
        g_assert_cmpuint(trace_nr_vcpus(t), >=, 1);
        trace_free(t);
        files++;
    }
    g_assert_cmpuint(files, >=, G_N_ELEMENTS(shipped));
    for (unsigned i = 0; i < G_N_ELEMENTS(shipped); i++) {
        g_autofree char *file = g_strdup_printf("%s.trace", shipped[i]);
        g_autofree char *path = g_build_filename(dir, file, NULL);

        g_assert_true(g_file_test(path, G_FILE_TEST_IS_REGULAR));
    }
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/trace/numbers", test_numbers);
    g_test_add_func("/trace/parse", test_parse);
    g_test_add_func("/trace/repeat", test_repeat);
    g_test_add_func("/trace/gate", test_gate);
    g_test_add_func("/trace/errors", test_errors);
    g_test_add_func("/trace/shipped", test_shipped);
    return g_test_run();
}
