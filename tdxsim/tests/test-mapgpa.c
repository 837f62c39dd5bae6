// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * tdxsim unit test: MapGPA checks, 2 MiB chunking, completion and the
 * Linux guest's retry rule (mapgpa.c).
 */
#include <errno.h>
#include <glib.h>
#include "mapgpa.h"

#define SHARED (1ULL << 47)

static void test_checks(void)
{
    /* valid */
    g_assert_cmphex(mapgpa_check(0x100000, 0x1000, 48, SHARED), ==, 0);
    g_assert_cmphex(mapgpa_check(SHARED | 0x100000, 0x200000, 48, SHARED),
                    ==, GHCI_SUCCESS);
    /* overflow, zero size */
    g_assert_cmphex(mapgpa_check(~0xfffULL, 0x2000, 48, SHARED), ==,
                    GHCI_INVALID_OPERAND);
    g_assert_cmphex(mapgpa_check(0x1000, 0, 48, SHARED), ==,
                    GHCI_INVALID_OPERAND);
    /* beyond MAXPHYADDR */
    g_assert_cmphex(mapgpa_check(1ULL << 48, 0x1000, 48, SHARED), ==,
                    GHCI_INVALID_OPERAND);
    g_assert_cmphex(mapgpa_check((1ULL << 48) - 0x1000, 0x2000, 48, SHARED),
                    ==, GHCI_INVALID_OPERAND);
    /* crossing the shared bit */
    g_assert_cmphex(mapgpa_check(SHARED - 0x1000, 0x2000, 48, SHARED), ==,
                    GHCI_INVALID_OPERAND);
    /* alignment is checked after the operand checks */
    g_assert_cmphex(mapgpa_check(0x1800, 0x1000, 48, SHARED), ==,
                    GHCI_ALIGN_ERROR);
    g_assert_cmphex(mapgpa_check(0x1000, 0x800, 48, SHARED), ==,
                    GHCI_ALIGN_ERROR);
    g_assert_cmphex(mapgpa_check(SHARED - 0x800, 0x1000, 48, SHARED), ==,
                    GHCI_INVALID_OPERAND);
}

static void test_chunks(void)
{
    uint64_t start = SHARED | 0x101000, end = start + 5 * MAPGPA_MAX_CHUNK;
    uint64_t next = start;
    unsigned n = 0;
    struct mapgpa_chunk c;
    enum mapgpa_step st;

    c = mapgpa_next_chunk(next, end, SHARED);
    g_assert_cmphex(c.gpa, ==, 0x101000);
    g_assert_cmpuint(c.npages, ==, 512);
    g_assert_cmphex(c.attrs, ==, 0);
    do {
        c = mapgpa_next_chunk(next, end, SHARED);
        g_assert_cmphex(c.gpa, ==, (start & ~SHARED) + n * MAPGPA_MAX_CHUNK);
        n++;
        st = mapgpa_complete(&next, end, 0, false);
    } while (st == MAPGPA_STEP_CONTINUE);
    g_assert_cmpint(st, ==, MAPGPA_STEP_DONE);
    g_assert_cmpuint(n, ==, 5);

    /* short private range: one chunk, encrypted */
    c = mapgpa_next_chunk(0x3000, 0x5000, SHARED);
    g_assert_cmpuint(c.npages, ==, 2);
    g_assert_cmphex(c.attrs, ==, MAP_GPA_RANGE_ENCRYPTED);
}

static void test_complete(void)
{
    uint64_t next = 0, end = 3 * MAPGPA_MAX_CHUNK;

    /*
     * Linux 7.2 tdx_complete_vmcall_map_gpa(): EINVAL is INVALID_OPERAND,
     * EAGAIN is RETRY, both with R11 = the failed chunk; anything else
     * (a negative errno, a GHCI status) fails KVM_RUN.
     */
    g_assert_cmpint(mapgpa_complete(&next, end, EINVAL, false), ==,
                    MAPGPA_STEP_ERROR);
    g_assert_cmphex(next, ==, 0);       /* R11 = the failed chunk */
    g_assert_cmpint(mapgpa_complete(&next, end, EAGAIN, false), ==,
                    MAPGPA_STEP_RETRY);
    g_assert_cmphex(next, ==, 0);
    g_assert_cmpint(mapgpa_complete(&next, end, 1, false), ==,
                    MAPGPA_STEP_BAD_RET);
    g_assert_cmpint(mapgpa_complete(&next, end, (uint64_t)-EINVAL, false),
                    ==, MAPGPA_STEP_BAD_RET);
    g_assert_cmpint(mapgpa_complete(&next, end, 0x8000000000000000ULL,
                                    false), ==, MAPGPA_STEP_BAD_RET);
    g_assert_cmphex(next, ==, 0);
    g_assert_cmpint(mapgpa_complete(&next, end, 0, true), ==,
                    MAPGPA_STEP_RETRY);
    g_assert_cmphex(next, ==, MAPGPA_MAX_CHUNK);
    g_assert_cmpint(mapgpa_complete(&next, end, 0, false), ==,
                    MAPGPA_STEP_CONTINUE);
    /* the last chunk completes even with an interrupt pending */
    g_assert_cmpint(mapgpa_complete(&next, end, 0, true), ==,
                    MAPGPA_STEP_DONE);
}

static void test_guest_retry(void)
{
    uint64_t start = 0x10000, end = 0x810000;
    int retries = 0;

    g_assert_true(mapgpa_guest_retry(&start, end, 0x210000, &retries));
    g_assert_cmphex(start, ==, 0x210000);
    /* no progress: three strikes */
    g_assert_true(mapgpa_guest_retry(&start, end, 0x210000, &retries));
    g_assert_true(mapgpa_guest_retry(&start, end, 0x210000, &retries));
    g_assert_false(mapgpa_guest_retry(&start, end, 0x210000, &retries));
    /* R11 outside the range: give up */
    retries = 0;
    g_assert_false(mapgpa_guest_retry(&start, end, end, &retries));
    g_assert_false(mapgpa_guest_retry(&start, end, 0x1000, &retries));
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/mapgpa/checks", test_checks);
    g_test_add_func("/mapgpa/chunks", test_chunks);
    g_test_add_func("/mapgpa/complete", test_complete);
    g_test_add_func("/mapgpa/guest-retry", test_guest_retry);
    return g_test_run();
}
