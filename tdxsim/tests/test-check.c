// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * tdxsim unit test: the TDX module model's incremental structural
 * self-check (tdx_td_check_range()), which the simulator runs after every
 * operation.  Each way the model's state can go wrong (the tree, the PAMT,
 * the kept totals; corrupted through the module's test-only hook
 * tdx_td_test_corrupt()) must be reported by a check of a range through
 * the corruption, or, for a total, of any range; an entry's corruption is
 * not seen from an unrelated range (the check stays local).  The check's
 * cost (S-EPT pages and entries it visits) must be the same for a TD with
 * one leaf and one with 100,000.  And check.c must run it after every
 * operation by default, without the whole walk.
 */
#include <glib.h>
#include <stdlib.h>
#include <string.h>

#include "tdxmod.h"
#include "kvm-vm.h"
#include "tdxsim.h"
#include "tests/sim-test.h"

#define SZ_4K       0x1000ULL
#define SZ_2M       0x200000ULL
#define SZ_1G       0x40000000ULL

#define ASSERT_OK(expr) g_assert_cmphex((expr), ==, TDX_SUCCESS)

/*
 * One finalized TD (4-level S-EPT) and its pages: around GPA 1 GiB a
 * pending 4K leaf A, a blocked 4K leaf B next to it, a FREE entry D after
 * them in the same S-EPT page, a 2M leaf C; far away (5 GiB) a 4K leaf E.
 */
#define GPA_A   (SZ_1G)
#define GPA_B   (SZ_1G + SZ_4K)
#define GPA_D   (SZ_1G + 2 * SZ_4K)
#define GPA_C   (SZ_1G + 3 * SZ_2M)
#define GPA_E   (5 * SZ_1G)

typedef struct {
    struct tdxmod *m;
    struct tdx_td *td;
    tdx_pfn_t next_4k;          /* 4K pages from 0x1000 */
    tdx_pfn_t next_2m;          /* 2M-aligned runs from 0x100000 */
    tdx_pfn_t pfn_a, pfn_c;
} Fix;

static struct tdx_td *new_td(struct tdxmod *m, tdx_pfn_t *next_4k)
{
    tdx_pfn_t tdr = (*next_4k)++, tdcs[4], tdvpr, tdcx[2];
    struct tdx_td *td;

    for (int i = 0; i < 4; i++) {
        tdcs[i] = (*next_4k)++;
    }
    td = tdx_td_create(m, tdr, tdcs, 4, 48);
    g_assert_nonnull(td);
    tdvpr = (*next_4k)++;
    tdcx[0] = (*next_4k)++;
    tdcx[1] = (*next_4k)++;
    g_assert_cmpint(tdx_vp_create(td, tdvpr, tdcx, 2), ==, 0);
    return td;
}

/* SEPT.ADD the missing S-EPT pages from the root down to the entry at level. */
static void map_tables(struct tdx_td *td, tdx_pfn_t *next_4k, uint64_t gpa,
                       int level)
{
    for (int l = tdx_td_levels(td) - 1; l > level; l--) {
        uint64_t size = SZ_4K << (9 * l);

        if (tdh_mem_sept_add(td, gpa & ~(size - 1), l, *next_4k) ==
            TDX_SUCCESS) {
            (*next_4k)++;
        }
    }
}

static tdx_pfn_t aug(struct tdx_td *td, tdx_pfn_t *next, uint64_t gpa,
                     int level, tdx_pfn_t *next_4k)
{
    tdx_pfn_t p;

    map_tables(td, next_4k, gpa, level);
    p = *next;
    ASSERT_OK(tdh_mem_page_aug(td, gpa, level, p));
    *next += level == TDX_LEVEL_4K ? 1 : 512;
    return p;
}

static void fix_init(Fix *f)
{
    memset(f, 0, sizeof(*f));
    f->m = tdxmod_new(1);
    f->next_4k = 0x1000;
    f->next_2m = 0x100000;
    f->td = new_td(f->m, &f->next_4k);
    ASSERT_OK(tdh_mr_finalize(f->td));
    f->pfn_a = aug(f->td, &f->next_4k, GPA_A, TDX_LEVEL_4K, &f->next_4k);
    aug(f->td, &f->next_4k, GPA_B, TDX_LEVEL_4K, &f->next_4k);
    f->pfn_c = aug(f->td, &f->next_2m, GPA_C, TDX_LEVEL_2M, &f->next_4k);
    aug(f->td, &f->next_4k, GPA_E, TDX_LEVEL_4K, &f->next_4k);
    ASSERT_OK(tdh_mem_range_block(f->td, GPA_B, TDX_LEVEL_4K));
}

static void print_report(const char *msg, void *opaque)
{
    g_test_message("%s: %s", (const char *)opaque, msg);
}

/* The range check's reports, one a line. */
static GString *reported;

static void collect_report(const char *msg, void *opaque)
{
    g_test_message("range: %s", msg);
    g_string_append_printf(reported, "%s\n", msg);
}

static unsigned check_range(Fix *f, uint64_t gpa, uint64_t size)
{
    if (!reported) {
        reported = g_string_new(NULL);
    }
    g_string_truncate(reported, 0);
    return tdx_td_check_range(f->td, gpa, size, collect_report, NULL);
}

static unsigned check_full(Fix *f)
{
    return tdx_td_check(f->td, print_report, "full");
}

/* The untouched fixture is clean, both ways. */
static void test_clean(void)
{
    Fix f;

    fix_init(&f);
    g_assert_cmpuint(check_range(&f, GPA_A, 4 * SZ_2M), ==, 0);
    g_assert_cmpuint(check_range(&f, GPA_E, SZ_4K), ==, 0);
    g_assert_cmpuint(check_range(&f, 0, 1ULL << 47), ==, 0);
    g_assert_cmpuint(check_full(&f), ==, 0);
    tdxmod_free(f.m);
}

/*
 * One corruption: what, at (gpa, level), set to value (or old + delta);
 * a check of the range [near, near + near_size) must report it, with a
 * message containing expect (the rule meant to find it); a check of the
 * far leaf E's page must report it too if far (a total), else stay quiet.
 */
struct corruption {
    const char *name;
    enum tdx_test_corruption what;
    uint64_t gpa;
    int level;
    uint64_t value;             /* used when delta == 0 */
    uint64_t delta;
    uint64_t near, near_size;
    bool far;
    const char *expect;
};

/* Values that depend on the fixture. */
#define VALUE_A_PFN         (~0ULL)     /* pfn of A */
#define VALUE_IN_C          (~1ULL)     /* a pfn inside C's 2M page */
#define VALUE_FRESH_4K      (~2ULL)     /* a host page nobody owns */

static const struct corruption corruptions[] = {
    { "nr-present", TDX_CORRUPT_NR_PRESENT, GPA_A, TDX_LEVEL_4K, 0, 1,
      GPA_D, SZ_4K, false,
      "present entries, cached" },
    { "unknown-state", TDX_CORRUPT_STATE, GPA_A, TDX_LEVEL_4K, 9, 0,
      GPA_A, SZ_4K, false,
      "unknown state" },
    { "free-entry-not-cleared", TDX_CORRUPT_PFN, GPA_D, TDX_LEVEL_4K,
      0x777, 0, GPA_D, SZ_4K, false,
      "FREE entry not cleared" },
    { "block-epoch-future", TDX_CORRUPT_BEPOCH, GPA_B, TDX_LEVEL_4K, 0, 5,
      GPA_B, SZ_4K, false,
      "in the future" },
    { "unblocked-with-epoch", TDX_CORRUPT_BEPOCH, GPA_A, TDX_LEVEL_4K, 1, 0,
      GPA_A, SZ_4K, false,
      "PENDING entry keeps block epoch" },
    { "child-level", TDX_CORRUPT_CHILD_LEVEL, GPA_A, TDX_LEVEL_2M, 2, 0,
      GPA_D, SZ_4K, false,
      "bad non-leaf entry" },
    { "pamt-owner-leaf", TDX_CORRUPT_PAMT_OWNER, GPA_A, TDX_LEVEL_4K, 99, 0,
      GPA_A, SZ_4K, false,
      "PAMT says td 0 type 4 level 0" },
    { "pamt-type-sept-page", TDX_CORRUPT_PAMT_TYPE, GPA_A, TDX_LEVEL_2M,
      PT_REG, 0, GPA_D, SZ_4K, false,
      "PAMT says td 1 type 4 level 0, tree says td 1 type 3" },
    { "pamt-level-2m-leaf", TDX_CORRUPT_PAMT_LEVEL, GPA_C, TDX_LEVEL_2M,
      TDX_LEVEL_4K, 0, GPA_C + 7 * SZ_4K, SZ_4K, false,
      "PAMT says td 1 type 4 level 0, tree says td 1 type 4 level 1" },
    { "4k-in-2m-frame-from-4k", TDX_CORRUPT_LEAF_MOVE, GPA_A, TDX_LEVEL_4K,
      VALUE_IN_C, 0, GPA_A, SZ_4K, false,
      "lies in the 2M page" },
    { "4k-in-2m-frame-from-2m", TDX_CORRUPT_LEAF_MOVE, GPA_A, TDX_LEVEL_4K,
      VALUE_IN_C, 0, GPA_C, SZ_2M, false,
      "which has a PAMT entry of its own" },
    { "pamt-drop", TDX_CORRUPT_PAMT_DROP, GPA_A, TDX_LEVEL_4K, 0, 0,
      GPA_A, SZ_4K, true,
      "has no PAMT entry of its own" },
    { "pamt-drop-sept-page", TDX_CORRUPT_PAMT_DROP, GPA_A, TDX_LEVEL_2M, 0, 0,
      GPA_D, SZ_4K, true,
      "S-EPT pages owned" },
    { "leaves-cached", TDX_CORRUPT_LEAVES, 0, TDX_LEVEL_4K, 0, 1,
      GPA_E, SZ_4K, true,
      "leaves, cached" },
    { "leaves-2m-cached", TDX_CORRUPT_LEAVES, 0, TDX_LEVEL_2M, 0, -1ULL,
      GPA_E, SZ_4K, true,
      "leaves, cached" },
    { "sept-pages-cached", TDX_CORRUPT_SEPT_PAGES, 0, TDX_LEVEL_2M, 0, 1,
      GPA_E, SZ_4K, true,
      "S-EPT pages, cached" },
    { "child-pages", TDX_CORRUPT_CHILD_PAGES, 0, 0, 0, 1,
      GPA_E, SZ_4K, true,
      "child count" },
    { "pamt-stray-page", TDX_CORRUPT_PAMT_STRAY, 0, 0, VALUE_FRESH_4K, 0,
      GPA_E, SZ_4K, true,
      "private 4K pages owned" },
};

static uint64_t resolve(Fix *f, uint64_t v)
{
    switch (v) {
    case VALUE_A_PFN:
        return f->pfn_a;
    case VALUE_IN_C:
        return f->pfn_c + 5;
    case VALUE_FRESH_4K:
        return f->next_4k++;
    default:
        return v;
    }
}

static void test_corruption(gconstpointer opaque)
{
    const struct corruption *k = opaque;
    uint64_t old = 0, value;
    Fix f;

    fix_init(&f);
    g_assert_cmpuint(check_range(&f, k->near, k->near_size), ==, 0);
    g_assert_cmpuint(check_range(&f, GPA_E, SZ_4K), ==, 0);
    /* Learn the old value first when the corruption is relative. */
    if (k->delta) {
        g_assert_true(tdx_td_test_corrupt(f.td, k->what, k->gpa, k->level,
                                          0, &old));
        value = old + k->delta;
    } else {
        value = resolve(&f, k->value);
    }
    g_assert_true(tdx_td_test_corrupt(f.td, k->what, k->gpa, k->level,
                                      value, k->delta ? NULL : &old));

    g_assert_cmpuint(check_range(&f, k->near, k->near_size), >=, 1);
    g_assert_nonnull(strstr(reported->str, k->expect));
    if (k->far) {
        g_assert_cmpuint(check_range(&f, GPA_E, SZ_4K), >=, 1);
    } else {
        g_assert_cmpuint(check_range(&f, GPA_E, SZ_4K), ==, 0);
    }
    /* The whole walk finds it too. */
    g_assert_cmpuint(check_full(&f), >=, 1);
    if (k->what == TDX_CORRUPT_CHILD_LEVEL) {
        /* Put the level back: the tree's free walks by levels. */
        g_assert_true(tdx_td_test_corrupt(f.td, k->what, k->gpa, k->level,
                                          old, NULL));
    }
    tdxmod_free(f.m);
}

/*
 * What only the whole walk finds: a page mapped at two GPAs while each
 * looks right on its own (B maps A's page, B's own page still the TD's).
 */
static void test_full_only(void)
{
    Fix f;

    fix_init(&f);
    g_assert_true(tdx_td_test_corrupt(f.td, TDX_CORRUPT_PFN, GPA_B,
                                      TDX_LEVEL_4K, f.pfn_a, NULL));
    g_assert_cmpuint(check_range(&f, GPA_A, 2 * SZ_4K), ==, 0);
    g_assert_cmpuint(check_full(&f), >=, 1);
    tdxmod_free(f.m);
}

/*
 * The check's cost for one operation does not depend on the TD's size:
 * a 4K AUG, a 2M AUG and a 64K range in a TD with one other leaf and in
 * one with 100,000 other leaves visit the same S-EPT pages and entries.
 */
struct cost {
    uint64_t aug_4k, aug_2m, range_64k, block;
};

static struct cost measure(uint64_t others)
{
    struct tdxmod *m = tdxmod_new(1);
    tdx_pfn_t next_4k = 0x1000, next_2m = 0x10000000;
    struct tdx_td *td = new_td(m, &next_4k);
    uint64_t v, g = 8 * SZ_1G;
    struct cost c;

    ASSERT_OK(tdh_mr_finalize(td));
    /* Other leaves, 4K, from GPA 8 GiB on (some share S-EPT pages). */
    for (uint64_t i = 0; i < others; i++) {
        aug(td, &next_4k, g + i * SZ_4K, TDX_LEVEL_4K, &next_4k);
    }
    g_assert_cmpuint(tdx_td_leaves(td, TDX_LEVEL_4K), ==, others);

    v = tdx_td_check_visits(td);
    aug(td, &next_4k, 2 * SZ_1G, TDX_LEVEL_4K, &next_4k);
    g_assert_cmpuint(tdx_td_check_range(td, 2 * SZ_1G, SZ_4K, NULL, NULL),
                     ==, 0);
    c.aug_4k = tdx_td_check_visits(td) - v;

    v = tdx_td_check_visits(td);
    aug(td, &next_2m, 2 * SZ_1G + SZ_2M, TDX_LEVEL_2M, &next_4k);
    g_assert_cmpuint(tdx_td_check_range(td, 2 * SZ_1G + SZ_2M, SZ_2M, NULL,
                                        NULL), ==, 0);
    c.aug_2m = tdx_td_check_visits(td) - v;

    v = tdx_td_check_visits(td);
    g_assert_cmpuint(tdx_td_check_range(td, 2 * SZ_1G, 16 * SZ_4K, NULL,
                                        NULL), ==, 0);
    c.range_64k = tdx_td_check_visits(td) - v;

    v = tdx_td_check_visits(td);
    ASSERT_OK(tdh_mem_range_block(td, 2 * SZ_1G, TDX_LEVEL_4K));
    g_assert_cmpuint(tdx_td_check_range(td, 2 * SZ_1G, SZ_4K, NULL, NULL),
                     ==, 0);
    c.block = tdx_td_check_visits(td) - v;

    g_assert_cmpuint(tdx_td_check(td, NULL, NULL), ==, 0);
    tdxmod_free(m);
    return c;
}

static void test_cost(void)
{
    struct cost small = measure(1), large = measure(100000);

    /* 4 S-EPT pages on the walk and one entry in each. */
    g_assert_cmpuint(small.aug_4k, ==, 8);
    /* 3 S-EPT pages on the walk and one entry in each. */
    g_assert_cmpuint(small.aug_2m, ==, 6);
    /* 3 pages and one entry down to the 4K page, then 16 entries. */
    g_assert_cmpuint(small.range_64k, ==, 4 + 3 + 16);
    g_assert_cmpuint(small.block, ==, 8);
    g_assert_cmpuint(large.aug_4k, ==, small.aug_4k);
    g_assert_cmpuint(large.aug_2m, ==, small.aug_2m);
    g_assert_cmpuint(large.range_64k, ==, small.range_64k);
    g_assert_cmpuint(large.block, ==, small.block);
}

/*
 * check.c, as the simulator wires it: with TDXSIM_CHECK_EVERY unset every
 * checked operation runs the incremental check (a corruption is a
 * violation at the next operation) and never the whole walk.
 */
static void test_default_wiring(void)
{
    struct sim_vm *vm = g_new0(struct sim_vm, 1);
    tdx_pfn_t next_4k = 0x1000, next_2m = 0x100000;
    struct tdx_td *td;
    uint64_t old;

    g_unsetenv("TDXSIM_CHECK_EVERY");
    tdxsim_init();
    g_assert_cmpuint(sim.check_every, ==, 0);
    td = new_td(sim.mod, &next_4k);
    ASSERT_OK(tdh_mr_finalize(td));
    aug(td, &next_2m, SZ_1G, TDX_LEVEL_2M, &next_4k);
    map_tables(td, &next_4k, 2 * SZ_1G, TDX_LEVEL_4K);
    vm->td = td;

    /* Ranges without leaves: check.c's own leaf checks have nothing to do. */
    for (int i = 0; i < 200; i++) {
        sim_check_range(vm, 2 * SZ_1G + i * SZ_4K, SZ_4K);
    }
    g_assert_cmpuint(vm->check_ops, ==, 200);
    g_assert_cmpuint(vm->full_checks, ==, 0);
    g_assert_cmpuint(vm->stats.invariant_violations, ==, 0);
    g_assert_cmpuint(tdx_td_check_visits(td), ==, 200 * 8);

    /* An S-EPT page's present count, seen from an operation below it. */
    g_assert_true(tdx_td_test_corrupt(td, TDX_CORRUPT_NR_PRESENT, 2 * SZ_1G,
                                      TDX_LEVEL_4K, 3, &old));
    sim_check_range(vm, 2 * SZ_1G + 5 * SZ_4K, SZ_4K);
    g_assert_cmpuint(vm->stats.invariant_violations, ==, 1);
    g_assert_true(tdx_td_test_corrupt(td, TDX_CORRUPT_NR_PRESENT, 2 * SZ_1G,
                                      TDX_LEVEL_4K, old, NULL));
    /* A kept total, seen from any operation. */
    g_assert_true(tdx_td_test_corrupt(td, TDX_CORRUPT_LEAVES, 0,
                                      TDX_LEVEL_2M, 2, &old));
    sim_check_range(vm, 3 * SZ_1G, SZ_4K);
    g_assert_cmpuint(vm->stats.invariant_violations, ==, 2);
    g_assert_cmpuint(vm->full_checks, ==, 0);
    g_free(vm);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/check/clean", test_clean);
    for (size_t i = 0; i < G_N_ELEMENTS(corruptions); i++) {
        g_autofree gchar *path = g_strdup_printf("/check/finds/%s",
                                                 corruptions[i].name);

        g_test_add_data_func(path, &corruptions[i], test_corruption);
    }
    g_test_add_func("/check/full-only", test_full_only);
    g_test_add_func("/check/cost-independent-of-size", test_cost);
    g_test_add_func("/check/default-wiring", test_default_wiring);
    return g_test_run();
}
