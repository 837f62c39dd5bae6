// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * tdxsim unit test: TDXSIM_INJECT parsing and seeded trigger decisions
 * (inject.c).
 */
#include <glib.h>
#include "inject.h"

static void test_parse(void)
{
    GError *err = NULL;
    struct inject *inj = inject_parse(
        "busy:TDH.MEM.PAGE.AUG:p=0.1, busy:TDH.MEM.RANGE.BLOCK:every=7;"
        "enomem:map:nth=3;eintr:init_mem_region:every=2", 1, &err);
    struct inject_rule *r;

    g_assert_no_error(err);
    g_assert_cmpuint(inj->rules->len, ==, 4);
    r = &g_array_index(inj->rules, struct inject_rule, 0);
    g_assert_cmpint(r->kind, ==, INJ_BUSY);
    g_assert_cmpstr(r->site, ==, "TDH.MEM.PAGE.AUG");
    g_assert_cmpfloat(r->probability, ==, 0.1);
    r = &g_array_index(inj->rules, struct inject_rule, 1);
    g_assert_cmpuint(r->every, ==, 7);
    r = &g_array_index(inj->rules, struct inject_rule, 2);
    g_assert_cmpint(r->kind, ==, INJ_ENOMEM);
    g_assert_cmpuint(r->nth, ==, 3);
    inject_free(inj);

    inj = inject_parse(NULL, 1, &err);
    g_assert_no_error(err);
    g_assert_cmpuint(inj->rules->len, ==, 0);
    g_assert_false(inject_hit(inj, INJ_ENOMEM, "map"));
    inject_free(inj);
}

static void test_errors(void)
{
    static const char *const bad[] = {
        "busy", "busy:TDH.MEM.PAGE.AUG", "oops:map:nth=1", "enomem:disk:nth=1",
        "eintr:run:every=1", "busy:TDH.MEM.PAGE.AUG:nth=2", "enomem:map:p=0",
        "enomem:map:p=1.5", "enomem:map:every=0", "enomem:map:every=x",
        "enomem:map:sometimes",
    };

    for (unsigned i = 0; i < G_N_ELEMENTS(bad); i++) {
        GError *err = NULL;
        g_assert_null(inject_parse(bad[i], 1, &err));
        g_assert_nonnull(err);
        g_error_free(err);
    }
}

static void test_triggers(void)
{
    struct inject *inj =
        inject_parse("enomem:map:nth=3;eintr:pre_fault:every=2", 1, NULL);

    g_assert_false(inject_hit(inj, INJ_ENOMEM, "map"));
    g_assert_false(inject_hit(inj, INJ_ENOMEM, "map"));
    g_assert_true(inject_hit(inj, INJ_ENOMEM, "map"));
    g_assert_false(inject_hit(inj, INJ_ENOMEM, "map"));
    g_assert_false(inject_hit(inj, INJ_EINTR, "pre_fault"));
    g_assert_true(inject_hit(inj, INJ_EINTR, "pre_fault"));
    g_assert_false(inject_hit(inj, INJ_EINTR, "init_mem_region"));
    inject_free(inj);

    /* after=N: the first N calls pass, every later one fires. */
    inj = inject_parse("enomem:map:after=2", 1, NULL);
    g_assert_false(inject_hit(inj, INJ_ENOMEM, "map"));
    g_assert_false(inject_hit(inj, INJ_ENOMEM, "map"));
    g_assert_true(inject_hit(inj, INJ_ENOMEM, "map"));
    g_assert_true(inject_hit(inj, INJ_ENOMEM, "map"));
    inject_free(inj);
    inj = inject_parse("busy:TDH.MEM.PAGE.AUG:after=1", 1, NULL);
    g_assert_false(inject_hit(inj, INJ_BUSY, "TDH.MEM.PAGE.AUG"));
    g_assert_true(inject_hit(inj, INJ_BUSY, "TDH.MEM.PAGE.AUG"));
    inject_free(inj);
}

static unsigned pattern(uint64_t seed, GString *out)
{
    struct inject *inj = inject_parse("eintr:pre_fault:p=0.3", seed, NULL);
    unsigned hits = 0;

    for (int i = 0; i < 1000; i++) {
        bool h = inject_hit(inj, INJ_EINTR, "pre_fault");
        g_string_append_c(out, h ? '1' : '0');
        hits += h;
    }
    inject_free(inj);
    return hits;
}

static void test_reproducible(void)
{
    g_autoptr(GString) a = g_string_new(NULL);
    g_autoptr(GString) b = g_string_new(NULL);
    g_autoptr(GString) c = g_string_new(NULL);
    unsigned hits = pattern(42, a);

    pattern(42, b);
    pattern(43, c);
    g_assert_cmpstr(a->str, ==, b->str);
    g_assert_cmpstr(a->str, !=, c->str);
    g_assert_cmpuint(hits, >, 200);
    g_assert_cmpuint(hits, <, 400);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/inject/parse", test_parse);
    g_test_add_func("/inject/errors", test_errors);
    g_test_add_func("/inject/triggers", test_triggers);
    g_test_add_func("/inject/reproducible", test_reproducible);
    return g_test_run();
}
