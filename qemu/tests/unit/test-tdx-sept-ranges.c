/*
 * Unit tests for the TDX side-table S-EPT range arithmetic
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qapi/error.h"
#include "../../target/i386/kvm/tdx-sept-ranges.h"

#define TOP_PAGE (UINT64_MAX - TDX_SEPT_PAGE_SIZE + 1)   /* 2^64 - 4K */

static void check_range_error(uint64_t gpa, uint64_t size, const char *msg)
{
    Error *err = NULL;

    g_assert_false(tdx_sept_range_check(gpa, size, &err));
    g_assert_nonnull(err);
    g_assert_nonnull(strstr(error_get_pretty(err), msg));
    error_free(err);
}

static void test_range_check(void)
{
    /* Empty, single pages, and ranges ending exactly at 2^64 are fine... */
    g_assert_true(tdx_sept_range_check(0x5000, 0, &error_abort));
    g_assert_true(tdx_sept_range_check(0, 0x1000, &error_abort));
    g_assert_true(tdx_sept_range_check(TOP_PAGE, 0x1000, &error_abort));
    g_assert_true(tdx_sept_range_check(0x1000, UINT64_MAX - 0xfff,
                                       &error_abort));
    /* ...unaligned ones are not... */
    check_range_error(0x1800, 0x1000, "not 4 KiB aligned");
    check_range_error(0x1000, 0x800, "not 4 KiB aligned");
    /* ...and one page more wraps, and is refused rather than wrapped. */
    check_range_error(TOP_PAGE, 0x2000, "past the top of the address space");
    check_range_error(0x2000, UINT64_MAX - 0xfff,
                      "past the top of the address space");
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
    g_test_add_func("/tdx-sept-ranges/check", test_range_check);
    g_test_add_func("/tdx-sept-ranges/merge", test_merge);
    g_test_add_func("/tdx-sept-ranges/merge/edge-cases", test_merge_edge_cases);
    g_test_add_func("/tdx-sept-ranges/subtract", test_subtract);
    g_test_add_func("/tdx-sept-ranges/subtract/edge-cases",
                    test_subtract_edges);
    return g_test_run();
}
