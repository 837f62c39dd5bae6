// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * tdxsim tests: the simulator's own copy of the side-table UAPI
 * (side-sept-uapi.h, written from qemu/docs/devel/tdx-side-table-uapi.rst)
 * against QEMU's linux-headers (QEMU_SRC, the materialised tree that
 * carries the series' linux-headers patch).  Every constant, struct size,
 * field offset and field size must be equal; every side-table name QEMU's
 * headers define must be one the simulator knows; and the numbers the
 * spec gives must be the simulator's.
 *
 * This file is compiled against QEMU's <linux/kvm.h> only; the
 * simulator's values come from the model library (side-sept-uapi.c).
 */
#include <glib.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <linux/kvm.h>

#include "side-sept-uapi-list.h"

#ifndef TDXSIM_QEMU_HEADERS
#error "TDXSIM_QEMU_HEADERS: QEMU's linux-headers directory"
#endif

static const struct side_sept_uapi_item qemu_uapi[] = SIDE_SEPT_UAPI_TABLE;

/* Every constant, size and offset: QEMU's value == the simulator's. */
static void test_values(void)
{
    unsigned n = G_N_ELEMENTS(qemu_uapi), bad = 0;

    g_assert_cmpuint(n, ==, sim_side_sept_uapi_len);
    for (unsigned i = 0; i < n; i++) {
        const struct side_sept_uapi_item *q = &qemu_uapi[i];
        const struct side_sept_uapi_item *s = &sim_side_sept_uapi[i];

        g_assert_cmpstr(q->name, ==, s->name);
        if (q->value != s->value) {
            g_test_message("%s: QEMU's linux-headers say %" G_GUINT64_FORMAT
                           ", the simulator's side-sept-uapi.h %"
                           G_GUINT64_FORMAT, q->name, q->value, s->value);
            bad++;
        }
    }
    if (bad) {
        g_test_message("%u of %u items differ", bad, n);
        g_test_fail();
    }
}

static bool known(const char *name)
{
    for (unsigned i = 0; i < sim_side_sept_uapi_len; i++) {
        if (!strcmp(sim_side_sept_uapi[i].name, name)) {
            return true;
        }
    }
    return false;
}

/*
 * Names QEMU's headers define for the side-table UAPI that the simulator
 * does not know (a constant or field added on one side only).
 */
static void scan_header(const char *rel, unsigned *found, unsigned *bad)
{
    g_autofree char *path = g_build_filename(TDXSIM_QEMU_HEADERS, rel, NULL);
    g_autofree char *text = NULL;
    g_autoptr(GRegex) ident = g_regex_new(
        "\\b(KVM_CAP_TDX_SIDE_SEPT|KVM_TDX_SEPT_[A-Z0-9_]+)\\b", 0, 0, NULL);
    g_autoptr(GRegex) strct = g_regex_new(
        "struct\\s+(kvm_tdx_sept_\\w+)\\s*\\{([^}]*)\\}", 0, 0, NULL);
    g_autoptr(GRegex) field = g_regex_new(
        "(\\w+)\\s*(\\[[^]]*\\])?\\s*;", 0, 0, NULL);
    g_autoptr(GRegex) comment = g_regex_new("/\\*.*?\\*/",
                                            G_REGEX_DOTALL, 0, NULL);
    g_autofree char *code = NULL;
    GMatchInfo *m;

    g_assert_true(g_file_get_contents(path, &text, NULL, NULL));
    code = g_regex_replace_literal(comment, text, -1, 0, " ", 0, NULL);
    g_regex_match(ident, code, 0, &m);
    for (; g_match_info_matches(m); g_match_info_next(m, NULL)) {
        g_autofree char *name = g_match_info_fetch(m, 1);

        (*found)++;
        if (!known(name)) {
            g_test_message("%s: %s is not in the simulator's UAPI", rel, name);
            (*bad)++;
        }
    }
    g_match_info_free(m);
    g_regex_match(strct, code, 0, &m);
    for (; g_match_info_matches(m); g_match_info_next(m, NULL)) {
        g_autofree char *sname = g_match_info_fetch(m, 1);
        g_autofree char *body = g_match_info_fetch(m, 2);
        g_autofree char *size = g_strdup_printf("sizeof(struct %s)", sname);
        GMatchInfo *fm;

        (*found)++;
        if (!known(size)) {
            g_test_message("%s: struct %s is not in the simulator's UAPI",
                           rel, sname);
            (*bad)++;
        }
        g_regex_match(field, body, 0, &fm);
        for (; g_match_info_matches(fm); g_match_info_next(fm, NULL)) {
            g_autofree char *f = g_match_info_fetch(fm, 1);
            g_autofree char *off = g_strdup_printf("offsetof(struct %s, %s)",
                                                   sname, f);

            (*found)++;
            if (!known(off)) {
                g_test_message("%s: field %s.%s is not in the simulator's "
                               "UAPI", rel, sname, f);
                (*bad)++;
            }
        }
        g_match_info_free(fm);
    }
    g_match_info_free(m);
}

static void test_names(void)
{
    unsigned found = 0, bad = 0;

    scan_header("linux/kvm.h", &found, &bad);
    scan_header("asm-x86/kvm.h", &found, &bad);
    /* 8 constants, 2 structs, 15 fields, some named more than once. */
    g_assert_cmpuint(found, >=, 8 + 2 + 15);
    if (bad) {
        g_test_fail();
    }
}

/* The spec's "``NAME`` (N)" numbers are the simulator's. */
static void test_spec(void)
{
    g_autofree char *path = g_build_filename(TDXSIM_SRCDIR, "..", "qemu",
        "docs", "devel", "tdx-side-table-uapi.rst", NULL);
    g_autofree char *text = NULL;
    g_autoptr(GRegex) num = g_regex_new("``(KVM_\\w+)``\\s+\\((\\d+)\\)",
                                        0, 0, NULL);
    g_autoptr(GRegex) bit = g_regex_new(
        "``(KVM_TDX_SEPT_LEAF_\\w+)``\\s+\\(bit (\\d+)\\)", 0, 0, NULL);
    unsigned found = 0, bad = 0;
    GMatchInfo *m;

    if (!g_file_get_contents(path, &text, NULL, NULL)) {
        g_test_message("%s not found", path);
        g_test_fail();
        return;
    }
    for (int pass = 0; pass < 2; pass++) {
        g_regex_match(pass ? bit : num, text, 0, &m);
        for (; g_match_info_matches(m); g_match_info_next(m, NULL)) {
            g_autofree char *name = g_match_info_fetch(m, 1);
            g_autofree char *val = g_match_info_fetch(m, 2);
            uint64_t want = g_ascii_strtoull(val, NULL, 10);
            bool seen = false;

            want = pass ? 1ULL << want : want;
            for (unsigned i = 0; i < sim_side_sept_uapi_len; i++) {
                if (!strcmp(sim_side_sept_uapi[i].name, name)) {
                    seen = true;
                    if (sim_side_sept_uapi[i].value != want) {
                        g_test_message("%s: the spec says %" G_GUINT64_FORMAT
                                       ", the simulator %" G_GUINT64_FORMAT,
                                       name, want,
                                       sim_side_sept_uapi[i].value);
                        bad++;
                    }
                }
            }
            if (!seen) {
                g_test_message("%s (spec) is not in the simulator's UAPI",
                               name);
                bad++;
            }
            found++;
        }
        g_match_info_free(m);
    }
    /* KVM_CAP_TDX_SIDE_SEPT, MAP, UNMAP, TEARDOWN, STATS, LEAF_4K/2M */
    g_assert_cmpuint(found, >=, 7);
    if (bad) {
        g_test_fail();
    }
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/uapi/values", test_values);
    g_test_add_func("/uapi/names", test_names);
    g_test_add_func("/uapi/spec", test_spec);
    return g_test_run();
}
