/*
 * Unit tests for the TDX side-table S-EPT range planner
 *
 * Copyright (c) 2026 The TDX side-table S-EPT authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qapi/error.h"
#include "accel/tdx/sept-plan.h"

#define TOP_PAGE (UINT64_MAX - TDX_SEPT_PAGE_SIZE + 1)   /* 2^64 - 4K */

typedef struct Expected {
    uint64_t gpa;
    uint64_t size;
    TdxSeptLeaf leaf;
} Expected;

static void check_split(uint64_t gpa, uint64_t size, TdxSeptLeaf max_leaf,
                        const Expected *expected, int nr_expected)
{
    TdxSeptPiece pieces[TDX_SEPT_PLAN_MAX_PIECES];
    int nr = tdx_sept_plan_split(gpa, size, max_leaf, pieces, &error_abort);

    g_assert_cmpint(nr, ==, nr_expected);
    for (int i = 0; i < nr; i++) {
        g_assert_cmphex(pieces[i].gpa, ==, expected[i].gpa);
        g_assert_cmphex(pieces[i].size, ==, expected[i].size);
        g_assert_cmpint(pieces[i].leaf, ==, expected[i].leaf);
        /* Each piece is naturally aligned to its leaf size. */
        g_assert_true(QEMU_IS_ALIGNED(pieces[i].gpa,
                                      tdx_sept_leaf_size(pieces[i].leaf)));
        g_assert_true(QEMU_IS_ALIGNED(pieces[i].size,
                                      tdx_sept_leaf_size(pieces[i].leaf)));
    }
}

static void check_split_error(uint64_t gpa, uint64_t size, const char *msg)
{
    TdxSeptPiece pieces[TDX_SEPT_PLAN_MAX_PIECES];
    Error *err = NULL;

    g_assert_cmpint(tdx_sept_plan_split(gpa, size, TDX_SEPT_LEAF_2M, pieces,
                                        &err), ==, -1);
    g_assert_nonnull(err);
    g_assert_nonnull(strstr(error_get_pretty(err), msg));
    error_free(err);
}

static void test_split_empty(void)
{
    check_split(0, 0, TDX_SEPT_LEAF_2M, NULL, 0);
    check_split(0x123000, 0, TDX_SEPT_LEAF_2M, NULL, 0);
    /* An empty range at the very top is still just empty. */
    check_split(TOP_PAGE, 0, TDX_SEPT_LEAF_2M, NULL, 0);
}

static void test_split_sub_page(void)
{
    check_split_error(0x1000, 0x800, "not 4 KiB aligned");
    check_split_error(0x1800, 0x1000, "not 4 KiB aligned");
    check_split_error(0x1000, 1, "not 4 KiB aligned");
    g_assert_false(tdx_sept_range_check(0x1000, 0xfff, NULL));
    g_assert_true(tdx_sept_range_check(0x1000, 0x1000, NULL));
}

static void test_split_single_page(void)
{
    Expected e[] = { { 0x200000, 0x1000, TDX_SEPT_LEAF_4K } };

    /* A 2M-aligned single page is still a 4K leaf. */
    check_split(0x200000, 0x1000, TDX_SEPT_LEAF_2M, e, 1);
}

static void test_split_aligned(void)
{
    Expected e[] = { { 2 * MiB, 4 * MiB, TDX_SEPT_LEAF_2M } };

    check_split(2 * MiB, 4 * MiB, TDX_SEPT_LEAF_2M, e, 1);
}

static void test_split_max_leaf_4k(void)
{
    Expected e[] = { { 2 * MiB, 4 * MiB, TDX_SEPT_LEAF_4K } };

    check_split(2 * MiB, 4 * MiB, TDX_SEPT_LEAF_4K, e, 1);
}

static void test_split_unaligned_both_ends(void)
{
    Expected e[] = {
        { 2 * MiB - 0x2000, 0x2000, TDX_SEPT_LEAF_4K },
        { 2 * MiB, 4 * MiB, TDX_SEPT_LEAF_2M },
        { 6 * MiB, 0x3000, TDX_SEPT_LEAF_4K },
    };

    check_split(2 * MiB - 0x2000, 4 * MiB + 0x5000, TDX_SEPT_LEAF_2M, e, 3);
}

static void test_split_unaligned_start(void)
{
    Expected e[] = {
        { 0x1000, 2 * MiB - 0x1000, TDX_SEPT_LEAF_4K },
        { 2 * MiB, 2 * MiB, TDX_SEPT_LEAF_2M },
    };

    check_split(0x1000, 4 * MiB - 0x1000, TDX_SEPT_LEAF_2M, e, 2);
}

static void test_split_unaligned_end(void)
{
    Expected e[] = {
        { 0, 2 * MiB, TDX_SEPT_LEAF_2M },
        { 2 * MiB, 0x1000, TDX_SEPT_LEAF_4K },
    };

    check_split(0, 2 * MiB + 0x1000, TDX_SEPT_LEAF_2M, e, 2);
}

static void test_split_no_whole_huge_page(void)
{
    /* Crosses a 2M boundary but holds no whole aligned 2M block. */
    Expected e[] = { { 2 * MiB - 0x1000, 2 * MiB, TDX_SEPT_LEAF_4K } };

    check_split(2 * MiB - 0x1000, 2 * MiB, TDX_SEPT_LEAF_2M, e, 1);
}

static void test_split_across_4g(void)
{
    Expected e[] = {
        { 4 * GiB - 2 * MiB - 0x1000, 0x1000, TDX_SEPT_LEAF_4K },
        { 4 * GiB - 2 * MiB, 4 * MiB, TDX_SEPT_LEAF_2M },
        { 4 * GiB + 2 * MiB, 0x1000, TDX_SEPT_LEAF_4K },
    };

    check_split(4 * GiB - 2 * MiB - 0x1000, 4 * MiB + 0x2000,
                TDX_SEPT_LEAF_2M, e, 3);
}

static void test_split_top_of_address_space(void)
{
    Expected last_page[] = { { TOP_PAGE, 0x1000, TDX_SEPT_LEAF_4K } };
    Expected last_4m[] = {
        { UINT64_MAX - 4 * MiB + 1, 4 * MiB, TDX_SEPT_LEAF_2M },
    };
    Expected near_top[] = {
        { UINT64_MAX - 2 * MiB + 0x1001, 2 * MiB - 0x1000, TDX_SEPT_LEAF_4K },
    };
    Expected tail_at_top[] = {
        { UINT64_MAX - 4 * MiB - 0xfff, 0x1000, TDX_SEPT_LEAF_4K },
        { UINT64_MAX - 4 * MiB + 1, 4 * MiB, TDX_SEPT_LEAF_2M },
    };

    /* Ranges that end exactly at 2^64 are fine... */
    check_split(TOP_PAGE, 0x1000, TDX_SEPT_LEAF_2M, last_page, 1);
    check_split(UINT64_MAX - 4 * MiB + 1, 4 * MiB, TDX_SEPT_LEAF_2M,
                last_4m, 1);
    check_split(UINT64_MAX - 2 * MiB + 0x1001, 2 * MiB - 0x1000,
                TDX_SEPT_LEAF_2M, near_top, 1);
    check_split(UINT64_MAX - 4 * MiB - 0xfff, 4 * MiB + 0x1000,
                TDX_SEPT_LEAF_2M, tail_at_top, 2);
    /* ...one page more wraps, and is refused rather than wrapped. */
    check_split_error(TOP_PAGE, 0x2000, "past the top of the address space");
    check_split_error(UINT64_MAX - 4 * MiB + 1, 4 * MiB + 0x1000,
                      "past the top of the address space");
    check_split_error(0x2000, UINT64_MAX - 0xfff,
                      "past the top of the address space");
}

static void test_count_leaves(void)
{
    TdxSeptPiece pieces[TDX_SEPT_PLAN_MAX_PIECES];
    uint64_t nr_4k = 0, nr_2m = 0;
    int nr;

    nr = tdx_sept_plan_split(2 * MiB - 0x2000, 4 * MiB + 0x5000,
                             TDX_SEPT_LEAF_2M, pieces, &error_abort);
    tdx_sept_plan_count_leaves(pieces, nr, &nr_4k, &nr_2m);
    g_assert_cmpuint(nr_4k, ==, 5);
    g_assert_cmpuint(nr_2m, ==, 2);

    /* Counts accumulate; a whole 4 GiB at 4K is 1 Mi leaves. */
    nr = tdx_sept_plan_split(0, 4 * GiB, TDX_SEPT_LEAF_4K, pieces,
                             &error_abort);
    tdx_sept_plan_count_leaves(pieces, nr, &nr_4k, &nr_2m);
    g_assert_cmpuint(nr_4k, ==, 5 + 1024 * 1024);
    g_assert_cmpuint(nr_2m, ==, 2);
}

static void test_merge(void)
{
    TdxSeptRange r[] = {
        { 0x10000, 0x1000 },    /* touches the next one */
        { 0x5000, 0x1000 },     /* alone */
        { 0x11000, 0x2000 },
        { 0x12000, 0x4000 },    /* overlaps the previous one */
        { 0x13000, 0x1000 },    /* contained */
        { 0x9000, 0 },          /* empty: dropped */
        { 0x20000, 0x1000 },
    };
    size_t n = tdx_sept_ranges_merge(r, ARRAY_SIZE(r));

    g_assert_cmpuint(n, ==, 3);
    g_assert_cmphex(r[0].gpa, ==, 0x5000);
    g_assert_cmphex(r[0].size, ==, 0x1000);
    g_assert_cmphex(r[1].gpa, ==, 0x10000);
    g_assert_cmphex(r[1].size, ==, 0x6000);
    g_assert_cmphex(r[2].gpa, ==, 0x20000);
    g_assert_cmphex(r[2].size, ==, 0x1000);
}

static void test_merge_edge_cases(void)
{
    TdxSeptRange none[1] = { { 0 } };
    TdxSeptRange top[] = {
        { TOP_PAGE, 0x1000 },
        { TOP_PAGE - 0x1000, 0x1000 },
    };
    TdxSeptRange all[] = {
        { 1ULL << 63, (1ULL << 63) },
        { 0, 1ULL << 63 },
    };
    size_t n;

    g_assert_cmpuint(tdx_sept_ranges_merge(none, 0), ==, 0);

    /* Merging up to the last page of the address space. */
    n = tdx_sept_ranges_merge(top, ARRAY_SIZE(top));
    g_assert_cmpuint(n, ==, 1);
    g_assert_cmphex(top[0].gpa, ==, TOP_PAGE - 0x1000);
    g_assert_cmphex(top[0].size, ==, 0x2000);

    /* A union of all 2^64 bytes does not fit a size: it stays two ranges. */
    n = tdx_sept_ranges_merge(all, ARRAY_SIZE(all));
    g_assert_cmpuint(n, ==, 2);
    g_assert_cmphex(all[0].gpa, ==, 0);
    g_assert_cmphex(all[0].size, ==, 1ULL << 63);
    g_assert_cmphex(all[1].gpa, ==, 1ULL << 63);
    g_assert_cmphex(all[1].size, ==, 1ULL << 63);
}

static void check_subtract(const TdxSeptRange *ranges, size_t nr_ranges,
                           const TdxSeptRange *holes, size_t nr_holes,
                           const TdxSeptRange *expected, size_t nr_expected)
{
    g_autoptr(GArray) out = g_array_new(false, false, sizeof(TdxSeptRange));

    tdx_sept_ranges_subtract(ranges, nr_ranges, holes, nr_holes, out);
    g_assert_cmpuint(out->len, ==, nr_expected);
    for (size_t i = 0; i < nr_expected; i++) {
        TdxSeptRange *r = &g_array_index(out, TdxSeptRange, i);

        g_assert_cmphex(r->gpa, ==, expected[i].gpa);
        g_assert_cmphex(r->size, ==, expected[i].size);
    }
}

static void test_subtract(void)
{
    /* RAM below 2G and the firmware, minus pages the TDVF added. */
    TdxSeptRange ram[] = {
        { 0, 2 * GiB },
        { 4 * GiB - 4 * MiB, 4 * MiB },
    };
    TdxSeptRange added[] = {
        { 0x810000, 0x10000 },              /* out of order */
        { 0x800000, 0x6000 },
        { 0x809000, 0x2000 },
        { 0x80b000, 0x2000 },               /* touches the previous one */
        { 4 * GiB - 4 * MiB, 4 * MiB },     /* the whole firmware */
        { 8 * GiB, 0x1000 },                /* beyond every range */
    };
    TdxSeptRange expected[] = {
        { 0, 0x800000 },
        { 0x806000, 0x3000 },
        { 0x80d000, 0x3000 },
        { 0x820000, 2 * GiB - 0x820000 },
    };

    check_subtract(ram, ARRAY_SIZE(ram), added, ARRAY_SIZE(added),
                   expected, ARRAY_SIZE(expected));
}

static void test_subtract_edges(void)
{
    TdxSeptRange range[] = { { 0x10000, 0x10000 } };
    TdxSeptRange none[1] = { { 0 } };
    TdxSeptRange overlapping[] = {
        { 0xf000, 0x2000 },     /* covers the head */
        { 0x1f000, 0x4000 },    /* covers the tail and beyond */
        { 0x14000, 0x2000 },
        { 0x15000, 0x2000 },    /* overlaps the previous one */
    };
    TdxSeptRange left[] = {
        { 0x11000, 0x3000 },
        { 0x17000, 0x8000 },
    };
    TdxSeptRange everything[] = { { 0, 1ULL << 40 } };
    TdxSeptRange top[] = { { TOP_PAGE - 0x2000, 0x3000 } };
    TdxSeptRange top_hole[] = { { TOP_PAGE - 0x1000, 0x1000 } };
    TdxSeptRange top_left[] = {
        { TOP_PAGE - 0x2000, 0x1000 },
        { TOP_PAGE, 0x1000 },
    };

    /* No holes: the range is left whole. */
    check_subtract(range, 1, none, 0, range, 1);
    check_subtract(range, 1, overlapping, ARRAY_SIZE(overlapping),
                   left, ARRAY_SIZE(left));
    /* A hole covering everything leaves nothing. */
    check_subtract(range, 1, everything, 1, NULL, 0);
    /* A range ending at the top of the address space. */
    check_subtract(top, 1, top_hole, 1, top_left, ARRAY_SIZE(top_left));
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/tdx-sept-plan/split/empty", test_split_empty);
    g_test_add_func("/tdx-sept-plan/split/sub-page", test_split_sub_page);
    g_test_add_func("/tdx-sept-plan/split/single-page",
                    test_split_single_page);
    g_test_add_func("/tdx-sept-plan/split/aligned", test_split_aligned);
    g_test_add_func("/tdx-sept-plan/split/max-leaf-4k",
                    test_split_max_leaf_4k);
    g_test_add_func("/tdx-sept-plan/split/unaligned-both-ends",
                    test_split_unaligned_both_ends);
    g_test_add_func("/tdx-sept-plan/split/unaligned-start",
                    test_split_unaligned_start);
    g_test_add_func("/tdx-sept-plan/split/unaligned-end",
                    test_split_unaligned_end);
    g_test_add_func("/tdx-sept-plan/split/no-whole-huge-page",
                    test_split_no_whole_huge_page);
    g_test_add_func("/tdx-sept-plan/split/across-4g", test_split_across_4g);
    g_test_add_func("/tdx-sept-plan/split/top-of-address-space",
                    test_split_top_of_address_space);
    g_test_add_func("/tdx-sept-plan/count-leaves", test_count_leaves);
    g_test_add_func("/tdx-sept-plan/merge", test_merge);
    g_test_add_func("/tdx-sept-plan/merge/edge-cases", test_merge_edge_cases);
    g_test_add_func("/tdx-sept-plan/subtract", test_subtract);
    g_test_add_func("/tdx-sept-plan/subtract/edge-cases", test_subtract_edges);
    return g_test_run();
}
