// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * tdxsim: the conversion fuzzer's reference model of the private set
 * (fuzz-model.h explains the rule).  Pure.
 */
#include "fuzz-model.h"

#define PAGE    4096ULL

void fuzz_model_init(struct fuzz_model *m, unsigned nr_vcpus)
{
    g_assert(nr_vcpus >= 1 && nr_vcpus <= FUZZ_MAX_VCPUS);
    m->areas = g_array_new(false, true, sizeof(struct fuzz_area));
    m->nr_vcpus = nr_vcpus;
    for (unsigned v = 0; v < FUZZ_MAX_VCPUS; v++) {
        m->last[v] = g_hash_table_new(g_direct_hash, g_direct_equal);
    }
    m->ever_private = g_hash_table_new(g_direct_hash, g_direct_equal);
    m->observations = 0;
}

void fuzz_model_free(struct fuzz_model *m)
{
    for (unsigned i = 0; i < m->areas->len; i++) {
        g_free(g_array_index(m->areas, struct fuzz_area, i).page);
    }
    g_array_free(m->areas, true);
    for (unsigned v = 0; v < FUZZ_MAX_VCPUS; v++) {
        g_hash_table_destroy(m->last[v]);
    }
    g_hash_table_destroy(m->ever_private);
}

static gint area_cmp(gconstpointer a, gconstpointer b)
{
    const struct fuzz_area *x = a, *y = b;

    return x->start < y->start ? -1 : x->start > y->start;
}

void fuzz_model_add_area(struct fuzz_model *m, uint64_t start, uint64_t end)
{
    struct fuzz_area n = {
        .start = start & ~(PAGE - 1),
        .end = (end + PAGE - 1) & ~(PAGE - 1),
    };
    GArray *merged = g_array_new(false, true, sizeof(struct fuzz_area));

    g_assert(n.end > n.start);
    /* Merge with every area it touches; flags are only set after setup. */
    for (unsigned i = 0; i < m->areas->len; i++) {
        struct fuzz_area *a = &g_array_index(m->areas, struct fuzz_area, i);

        if (a->end >= n.start && a->start <= n.end) {
            n.start = MIN(n.start, a->start);
            n.end = MAX(n.end, a->end);
            g_free(a->page);
        } else {
            g_array_append_val(merged, *a);
        }
    }
    n.page = g_malloc0((n.end - n.start) / PAGE);
    g_array_append_val(merged, n);
    g_array_sort(merged, area_cmp);
    g_array_free(m->areas, true);
    m->areas = merged;
}

struct fuzz_area *fuzz_model_area(struct fuzz_model *m, uint64_t gpa)
{
    for (unsigned i = 0; i < m->areas->len; i++) {
        struct fuzz_area *a = &g_array_index(m->areas, struct fuzz_area, i);

        if (gpa >= a->start && gpa < a->end) {
            return a;
        }
    }
    return NULL;
}

uint8_t *fuzz_model_page(struct fuzz_model *m, uint64_t gpa)
{
    struct fuzz_area *a = fuzz_model_area(m, gpa);

    return a ? &a->page[(gpa - a->start) / PAGE] : NULL;
}

void fuzz_model_observe(struct fuzz_model *m, unsigned vcpu, uint64_t gpa,
                        uint64_t size, bool private)
{
    uint64_t end = gpa + size;

    g_assert(vcpu < m->nr_vcpus);
    for (uint64_t g = gpa & ~(PAGE - 1); g < end; g += PAGE) {
        struct fuzz_area *a = fuzz_model_area(m, g);

        if (!a) {
            continue;
        }
        g_hash_table_insert(m->last[vcpu], GSIZE_TO_POINTER(g / PAGE),
                            GSIZE_TO_POINTER(1 + private));
        if (private) {
            g_hash_table_add(m->ever_private, GSIZE_TO_POINTER(g / PAGE));
        }
        m->observations++;
    }
}

static unsigned last_of(struct fuzz_model *m, unsigned v, uint64_t gpa)
{
    return GPOINTER_TO_SIZE(g_hash_table_lookup(m->last[v],
                                                GSIZE_TO_POINTER(gpa / PAGE)));
}

bool fuzz_model_seen_private(struct fuzz_model *m, uint64_t gpa)
{
    return g_hash_table_contains(m->ever_private,
                                 GSIZE_TO_POINTER(gpa / PAGE));
}

bool fuzz_model_seen(struct fuzz_model *m, uint64_t gpa)
{
    for (unsigned v = 0; v < m->nr_vcpus; v++) {
        if (last_of(m, v, gpa)) {
            return true;
        }
    }
    return false;
}

enum fuzz_verdict fuzz_model_judge(struct fuzz_model *m, uint64_t gpa,
                                   bool actual_private, GString *why)
{
    uint8_t *p = fuzz_model_page(m, gpa);
    bool seen = false, ok = false;
    enum fuzz_verdict verdict;

    g_assert(p);
    for (unsigned v = 0; v < m->nr_vcpus; v++) {
        unsigned l = last_of(m, v, gpa);

        if (!l) {
            continue;
        }
        seen = true;
        ok |= (l == 2) == actual_private;
        if (why) {
            g_string_append_printf(why, "%svCPU %u last saw it %s",
                                   why->len ? ", " : "", v,
                                   l == 2 ? "private" : "shared");
        }
    }
    if (!seen) {
        ok = !!(*p & FM_PRIVATE) == actual_private;
        if (why) {
            g_string_append_printf(why, "no vCPU saw it; it was %s before",
                                   *p & FM_PRIVATE ? "private" : "shared");
        }
        verdict = ok ? FUZZ_OK : FUZZ_UNCHANGED_EXPECTED;
    } else {
        verdict = ok ? FUZZ_OK : FUZZ_NOT_OBSERVED;
    }
    *p = (*p & ~FM_PRIVATE) | (actual_private ? FM_PRIVATE : 0);
    return verdict;
}

void fuzz_model_round_end(struct fuzz_model *m)
{
    for (unsigned v = 0; v < FUZZ_MAX_VCPUS; v++) {
        g_hash_table_remove_all(m->last[v]);
    }
    g_hash_table_remove_all(m->ever_private);
}
