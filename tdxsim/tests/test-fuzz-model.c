// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * tdxsim unit test: the conversion fuzzer's reference model (fuzz-model.c)
 * and input decoding (fuzz-input.c).
 */
#include <glib.h>

#include "fuzz-input.h"
#include "fuzz-model.h"

#define MB (1ULL << 20)

/* A page nobody observed must keep its state; the model takes the actual. */
static void test_unobserved(void)
{
    struct fuzz_model m;

    fuzz_model_init(&m, 2);
    fuzz_model_add_area(&m, 0, 4 * MB);
    *fuzz_model_page(&m, 0x1000) |= FM_PRIVATE;
    g_assert_cmpint(fuzz_model_judge(&m, 0x1000, true, NULL), ==, FUZZ_OK);
    g_assert_cmpint(fuzz_model_judge(&m, 0x1000, false, NULL), ==,
                    FUZZ_UNCHANGED_EXPECTED);
    /* it took the actual state: shared now */
    g_assert_cmpint(fuzz_model_judge(&m, 0x1000, false, NULL), ==, FUZZ_OK);
    g_assert_cmpint(fuzz_model_judge(&m, 0x2000, true, NULL), ==,
                    FUZZ_UNCHANGED_EXPECTED);
    fuzz_model_free(&m);
}

/*
 * The final state is one of the vCPUs' *last* observations: an earlier
 * observation of the same vCPU does not count.
 */
static void test_last_observation(void)
{
    struct fuzz_model m;
    g_autoptr(GString) why = g_string_new("");

    fuzz_model_init(&m, 2);
    fuzz_model_add_area(&m, 0, 4 * MB);
    fuzz_model_observe(&m, 0, 0x3000, 0x1000, true);
    fuzz_model_observe(&m, 0, 0x3000, 0x1000, false);
    g_assert_true(fuzz_model_seen(&m, 0x3000));
    g_assert_true(fuzz_model_seen_private(&m, 0x3000));
    g_assert_false(fuzz_model_seen_private(&m, 0x4000));
    g_assert_cmpint(fuzz_model_judge(&m, 0x3000, true, why), ==,
                    FUZZ_NOT_OBSERVED);
    g_assert_cmpstr(why->str, ==, "vCPU 0 last saw it shared");
    g_assert_cmpint(fuzz_model_judge(&m, 0x3000, false, NULL), ==, FUZZ_OK);

    /* two vCPUs disagree: either outcome */
    fuzz_model_observe(&m, 1, 0x3000, 0x1000, true);
    g_assert_cmpint(fuzz_model_judge(&m, 0x3000, true, NULL), ==, FUZZ_OK);
    g_assert_cmpint(fuzz_model_judge(&m, 0x3000, false, NULL), ==, FUZZ_OK);

    fuzz_model_round_end(&m);
    g_assert_false(fuzz_model_seen(&m, 0x3000));
    g_assert_false(fuzz_model_seen_private(&m, 0x3000));
    /* unobserved now: it must stay shared (the last actual state) */
    g_assert_cmpint(fuzz_model_judge(&m, 0x3000, true, NULL), ==,
                    FUZZ_UNCHANGED_EXPECTED);
    fuzz_model_free(&m);
}

/* Areas merge; observations outside them are dropped. */
static void test_areas(void)
{
    struct fuzz_model m;

    fuzz_model_init(&m, 1);
    fuzz_model_add_area(&m, 8 * MB, 12 * MB);
    fuzz_model_add_area(&m, 0, 4 * MB);
    fuzz_model_add_area(&m, 2 * MB, 6 * MB);
    g_assert_cmpuint(m.areas->len, ==, 2);
    g_assert_cmphex(g_array_index(m.areas, struct fuzz_area, 0).start, ==, 0);
    g_assert_cmphex(g_array_index(m.areas, struct fuzz_area, 0).end, ==,
                    6 * MB);
    g_assert_cmphex(g_array_index(m.areas, struct fuzz_area, 1).start, ==,
                    8 * MB);
    g_assert_null(fuzz_model_page(&m, 7 * MB));
    fuzz_model_observe(&m, 0, 6 * MB - 0x1000, 0x2000, true);
    g_assert_cmpuint(m.observations, ==, 1);
    fuzz_model_free(&m);
}

static const struct trace_op *op_at(GArray *a, unsigned i)
{
    g_assert_cmpuint(i, <, a->len);
    return &g_array_index(a, struct trace_op, i);
}

static void test_decode(void)
{
    struct fuzz_model m;
    GArray *ops[2];
    const uint8_t input[] = {
        /* vCPU 0, MapGPA private, 1 page, area 0, page 3 */
        0x00, 0, 3, 0,
        /* vCPU 3 % 2 = 1, MapGPA shared + interrupt, 512 pages from
         * page 700: starts on the 2 MiB boundary (page 512) */
        0x03 | 0x04 | 0x10 | 5 << 5, 0, 700 & 0xff, 700 >> 8,
        /* vCPU 0, shared access, area 1 (8 MiB), page 2 */
        0x08, 1, 2, 0,
        /* vCPU 0, ACCEPT of 1024 pages from page 1020 of area 0: clipped
         * to the area's end, split around the hole at pages 1022-1023 */
        0x0c | 7 << 5, 0, 1020 & 0xff, 1020 >> 8,
        /* a partial record: ignored */
        0x00, 0,
    };
    const struct trace_op *o;

    fuzz_model_init(&m, 2);
    fuzz_model_add_area(&m, 0, 4 * MB + 0x4000);      /* 1028 pages */
    fuzz_model_add_area(&m, 8 * MB, 12 * MB);
    for (uint64_t g = 0; g < 4 * MB + 0x4000; g += 0x1000) {
        if (g / 0x1000 != 1022 && g / 0x1000 != 1023) {
            *fuzz_model_page(&m, g) |= FM_RAM;
        }
    }
    for (int v = 0; v < 2; v++) {
        ops[v] = g_array_new(false, true, sizeof(struct trace_op));
    }
    g_assert_cmpuint(fuzz_decode(input, sizeof(input), &m, 0, ops), ==, 4);

    o = op_at(ops[0], 0);
    g_assert_cmpint(o->kind, ==, TOP_MAPGPA);
    g_assert_true(o->private && o->tolerant);
    g_assert_cmphex(o->gpa, ==, 0x3000);
    g_assert_cmphex(o->size, ==, 0x1000);
    o = op_at(ops[0], 1);
    g_assert_cmpint(o->kind, ==, TOP_ACCESS);
    g_assert_false(o->private);
    g_assert_cmphex(o->gpa, ==, 8 * MB + 0x2000);
    o = op_at(ops[0], 2);
    g_assert_cmpint(o->kind, ==, TOP_ACCEPT);
    g_assert_cmphex(o->gpa, ==, 1020 * 0x1000);
    g_assert_cmphex(o->size, ==, 0x2000);
    o = op_at(ops[0], 3);
    g_assert_cmpint(o->kind, ==, TOP_ACCEPT);
    g_assert_cmphex(o->gpa, ==, 1024 * 0x1000);
    g_assert_cmphex(o->size, ==, 0x4000);
    g_assert_cmpuint(ops[0]->len, ==, 4);

    g_assert_cmpint(op_at(ops[1], 0)->kind, ==, TOP_INTERRUPT);
    o = op_at(ops[1], 1);
    g_assert_cmpint(o->kind, ==, TOP_MAPGPA);
    g_assert_false(o->private);
    g_assert_cmphex(o->gpa, ==, 2 * MB);
    g_assert_cmphex(o->size, ==, 2 * MB);
    g_assert_cmpuint(ops[1]->len, ==, 2);

    /* while faults are injected: MapGPAs only */
    for (int v = 0; v < 2; v++) {
        g_array_set_size(ops[v], 0);
    }
    g_assert_cmpuint(fuzz_decode(input, sizeof(input), &m,
                                 FUZZ_DECODE_MAPGPA_ONLY, ops), ==, 4);
    g_assert_cmpuint(ops[0]->len, ==, 3);
    o = op_at(ops[0], 1);
    g_assert_cmpint(o->kind, ==, TOP_MAPGPA);
    g_assert_false(o->private);
    g_assert_cmphex(o->gpa, ==, 8 * MB + 0x2000);
    g_assert_cmphex(o->size, ==, 0x1000);
    o = op_at(ops[0], 2);
    g_assert_cmpint(o->kind, ==, TOP_MAPGPA);
    g_assert_true(o->private);
    g_assert_cmphex(o->gpa, ==, 1020 * 0x1000);
    g_assert_cmphex(o->size, ==, 8 * 0x1000);

    /* at most FUZZ_MAX_OPS records */
    {
        uint8_t big[FUZZ_RECORD * (FUZZ_MAX_OPS + 5)] = { 0 };

        g_assert_cmpuint(fuzz_decode(big, sizeof(big), &m, 0, ops), ==,
                         FUZZ_MAX_OPS);
    }
    for (int v = 0; v < 2; v++) {
        g_array_free(ops[v], true);
    }
    fuzz_model_free(&m);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/fuzz-model/unobserved-unchanged", test_unobserved);
    g_test_add_func("/fuzz-model/last-observation", test_last_observation);
    g_test_add_func("/fuzz-model/areas", test_areas);
    g_test_add_func("/fuzz-model/decode", test_decode);
    return g_test_run();
}
