/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Unit tests of the TDX module model (tdxmod*.c): one or more tests per
 * transition and per error rule of shared/design/tdx-facts.md, with exact
 * status codes.  The self-check tests reach into tdxmod-int.h to corrupt the
 * model on purpose.
 */
#include <glib.h>
#include <string.h>

#include "tdxmod.h"
#include "tdxmod-int.h"

#define RCX         TDX_OPERAND_ID_RCX
#define R8          TDX_OPERAND_ID_R8
#define SZ_4K       0x1000ULL
#define SZ_2M       0x200000ULL
#define SZ_1G       0x40000000ULL

#define ASSERT_STATUS(expr, want) g_assert_cmphex((expr), ==, (want))
#define ASSERT_OK(expr) ASSERT_STATUS(expr, TDX_SUCCESS)

/* A module with one TD (4 TDCS pages) and one vCPU (TDVPR + 2 TDCX). */
typedef struct {
    struct tdxmod *m;
    struct tdx_td *td;
    tdx_pfn_t next_4k;          /* 4K pages from 0x1000 */
    tdx_pfn_t next_2m;          /* 2M-aligned runs from 0x100000 */
    tdx_pfn_t tdr;
    tdx_pfn_t tdcs[4];
    tdx_pfn_t tdvpr;
    tdx_pfn_t tdcx[2];
    int vcpu;
} Fix;

static tdx_pfn_t pfn_4k(Fix *f)
{
    return f->next_4k++;
}

static tdx_pfn_t pfn_2m(Fix *f)
{
    tdx_pfn_t p = f->next_2m;

    f->next_2m += 512;
    return p;
}

static void fix_init_seed(Fix *f, unsigned gpaw, uint64_t seed)
{
    memset(f, 0, sizeof(*f));
    f->m = tdxmod_new(seed);
    f->next_4k = 0x1000;
    f->next_2m = 0x100000;
    f->tdr = pfn_4k(f);
    for (int i = 0; i < 4; i++) {
        f->tdcs[i] = pfn_4k(f);
    }
    f->td = tdx_td_create(f->m, f->tdr, f->tdcs, 4, gpaw);
    g_assert_nonnull(f->td);
    f->tdvpr = pfn_4k(f);
    f->tdcx[0] = pfn_4k(f);
    f->tdcx[1] = pfn_4k(f);
    f->vcpu = tdx_vp_create(f->td, f->tdvpr, f->tdcx, 2);
    g_assert_cmpint(f->vcpu, ==, 0);
}

static void fix_init(Fix *f, unsigned gpaw)
{
    fix_init_seed(f, gpaw, 1);
}

static void fix_free(Fix *f)
{
    tdxmod_free(f->m);
}

/* SEPT.ADD the missing tables from the root down to the entry at level. */
static void map_tables(Fix *f, uint64_t gpa, int level)
{
    for (int l = tdx_td_levels(f->td) - 1; l > level; l--) {
        uint64_t base = gpa & ~(tdx_level_size(l) - 1);
        tdx_pfn_t p = f->next_4k;
        tdx_status_t s = tdh_mem_sept_add(f->td, base, l, p);

        if (s == TDX_SUCCESS) {
            f->next_4k++;
        } else {
            ASSERT_STATUS(s, TDX_EPT_ENTRY_STATE_INCORRECT | RCX);
        }
    }
}

static tdx_pfn_t aug_4k(Fix *f, uint64_t gpa)
{
    tdx_pfn_t p;

    map_tables(f, gpa, TDX_LEVEL_4K);
    p = pfn_4k(f);
    ASSERT_OK(tdh_mem_page_aug(f->td, gpa, TDX_LEVEL_4K, p));
    return p;
}

static tdx_pfn_t aug_2m(Fix *f, uint64_t gpa)
{
    tdx_pfn_t p = pfn_2m(f);

    map_tables(f, gpa, TDX_LEVEL_2M);     /* tables come from the 4K pool */
    ASSERT_OK(tdh_mem_page_aug(f->td, gpa, TDX_LEVEL_2M, p));
    return p;
}

static void finalize(Fix *f)
{
    ASSERT_OK(tdh_mr_finalize(f->td));
    g_assert_cmpint(tdx_td_state(f->td), ==, TD_STATE_RUNNABLE);
}

static void block_track(Fix *f, uint64_t gpa, int level)
{
    ASSERT_OK(tdh_mem_range_block(f->td, gpa, level));
    ASSERT_OK(tdh_mem_track(f->td));
}

static enum tdx_sept_state leaf_state(Fix *f, uint64_t gpa)
{
    struct tdx_sept_leaf_info info;

    return tdx_td_lookup(f->td, gpa, &info) ? info.state : SEPT_FREE;
}

static unsigned check(Fix *f)
{
    return tdx_td_check(f->td, NULL, NULL);
}

/* VP.FLUSH, VPFLUSHDONE, CACHE.WB, KEY.FREEID. */
static void teardown_key(Fix *f)
{
    tdx_vp_exit(f->td, f->vcpu);
    ASSERT_OK(tdh_vp_flush(f->td, f->vcpu));
    ASSERT_OK(tdh_mng_vpflushdone(f->td));
    ASSERT_OK(tdh_phymem_cache_wb(f->td, false));
    ASSERT_OK(tdh_mng_key_freeid(f->td));
    g_assert_cmpint(tdx_td_state(f->td), ==, TD_STATE_TEARDOWN);
}

/*
 * RECLAIM every page the fixture handed out that the module still owns,
 * except the TDR and `skip`; a pfn inside a 2M page must be refused.
 */
static unsigned reclaim_all_but_tdr(Fix *f, tdx_pfn_t skip)
{
    unsigned n = 0;

    for (tdx_pfn_t p = 0x1000; p < f->next_4k; p++) {
        if (p != f->tdr && p != skip &&
            tdxmod_page_type(f->m, p) != PT_NDA) {
            ASSERT_OK(tdh_phymem_page_reclaim(f->m, p));
            n++;
        }
    }
    for (tdx_pfn_t p = 0x100000; p < f->next_2m; p++) {
        if (p == skip || tdxmod_page_type(f->m, p) == PT_NDA) {
            continue;
        }
        if (p % 512) {
            /* a 4K page of a demoted 2M page, or inside a 2M page */
            tdx_status_t s = tdh_phymem_page_reclaim(f->m, p);

            g_assert(s == TDX_SUCCESS || s == (TDX_OPERAND_INVALID | RCX));
            n += s == TDX_SUCCESS;
        } else {
            ASSERT_OK(tdh_phymem_page_reclaim(f->m, p));
            n++;
        }
    }
    return n;
}

/* Names. */

static void test_names(void)
{
    g_assert_cmpstr(tdx_leaf_name(TDH_MEM_PAGE_AUG), ==, "TDH.MEM.PAGE.AUG");
    g_assert_cmpstr(tdx_leaf_name(TDH_MEM_SEPT_REMOVE), ==,
                    "TDH.MEM.SEPT.REMOVE");
    g_assert_cmpstr(tdx_leaf_name(TDH_PHYMEM_PAGE_WBINVD), ==,
                    "TDH.PHYMEM.PAGE.WBINVD");
    g_assert_null(tdx_leaf_name(5));
    g_assert_null(tdx_leaf_name(TDX_NR_LEAVES));
    g_assert_cmpstr(tdx_status_name(TDX_EPT_WALK_FAILED | RCX), ==,
                    "TDX_EPT_WALK_FAILED");
    g_assert_cmpstr(tdx_status_name(TDX_OPERAND_BUSY |
                                    TDX_OPERAND_ID_SEPT_TREE), ==,
                    "TDX_OPERAND_BUSY");
    g_assert_cmpstr(tdx_status_name(TDX_GPA_RANGE_ALREADY_BLOCKED), ==,
                    "TDX_GPA_RANGE_ALREADY_BLOCKED");
    g_assert_cmpstr(tdx_status_name(TDX_SUCCESS), ==, "TDX_SUCCESS");
    g_assert_cmpstr(tdx_status_name(0xC0000B7700000000ULL), ==, "UNKNOWN");
    g_assert_cmpstr(tdx_sept_state_name(SEPT_PENDING_BLOCKED), ==,
                    "PENDING_BLOCKED");
    g_assert_cmpstr(tdx_sept_state_name(SEPT_NL_MAPPED), ==, "NL_MAPPED");
    g_assert_cmpstr(tdx_sept_state_name(99), ==, "UNKNOWN");
}

/* TD and vCPU creation. */

static void test_create(void)
{
    Fix f;
    const struct tdx_counters *c;
    tdx_pfn_t dup[2] = { 0x9000, 0x9000 };
    tdx_pfn_t used[1];

    fix_init(&f, 48);
    g_assert_cmpuint(tdx_td_levels(f.td), ==, 4);
    g_assert_cmphex(tdx_td_shared_bit(f.td), ==, 1ULL << 47);
    g_assert_cmpint(tdx_td_state(f.td), ==, TD_STATE_BUILD);
    c = tdx_td_counters(f.td);
    g_assert_cmpuint(c->seamcalls[TDH_MNG_CREATE], ==, 1);
    g_assert_cmpuint(c->seamcalls[TDH_MNG_KEY_CONFIG], ==, 1);
    g_assert_cmpuint(c->seamcalls[TDH_MNG_ADDCX], ==, 4);
    g_assert_cmpuint(c->seamcalls[TDH_MNG_INIT], ==, 1);
    g_assert_cmpuint(c->seamcalls[TDH_VP_CREATE], ==, 1);
    g_assert_cmpuint(c->seamcalls[TDH_VP_ADDCX], ==, 2);
    g_assert_cmpuint(c->seamcalls[TDH_VP_INIT], ==, 1);
    g_assert_cmpint(tdxmod_page_type(f.m, f.tdr), ==, PT_TDR);
    g_assert_cmpint(tdxmod_page_type(f.m, f.tdcs[3]), ==, PT_TDCX);
    g_assert_cmpint(tdxmod_page_type(f.m, f.tdcx[1]), ==, PT_TDCX);
    g_assert_cmpint(tdxmod_page_type(f.m, 0x9000), ==, PT_NDA);
    g_assert_cmpuint(tdxmod_pages_owned(f.m), ==, 8);
    g_assert_cmpuint(check(&f), ==, 0);

    /* Bad GPAW, pages already owned or repeated: refused. */
    g_assert_null(tdx_td_create(f.m, 0x9000, &dup[0], 1, 50));
    g_assert_null(tdx_td_create(f.m, f.tdr, &dup[0], 1, 48));
    g_assert_null(tdx_td_create(f.m, 0x9001, dup, 2, 48));
    used[0] = f.tdcs[1];
    g_assert_null(tdx_td_create(f.m, 0x9001, used, 1, 48));
    g_assert_cmpint(tdx_vp_create(f.td, f.tdvpr, NULL, 0), ==, -1);
    g_assert_cmpuint(tdxmod_pages_owned(f.m), ==, 8);

    /* vCPUs only while the TD is built. */
    finalize(&f);
    g_assert_cmpint(tdx_vp_create(f.td, 0x9002, NULL, 0), ==, -1);
    fix_free(&f);
}

/* SEPT.ADD. */

static void test_sept_add(void)
{
    Fix f;
    tdx_pfn_t p = 0x8000;

    fix_init(&f, 48);
    /* The walk to the level-2 entry needs the level-3 entry's table. */
    ASSERT_STATUS(tdh_mem_sept_add(f.td, 0, TDX_LEVEL_1G, p),
                  TDX_EPT_WALK_FAILED | RCX);
    ASSERT_OK(tdh_mem_sept_add(f.td, 0, TDX_LEVEL_PML4, p));
    g_assert_cmpint(tdxmod_page_type(f.m, p), ==, PT_SEPT);
    g_assert_cmpuint(tdx_td_sept_pages(f.td, TDX_LEVEL_1G), ==, 1);
    ASSERT_STATUS(tdh_mem_sept_add(f.td, 0, TDX_LEVEL_PML4, p + 1),
                  TDX_EPT_ENTRY_STATE_INCORRECT | RCX);
    /* Operands: alignment, level range, shared bit, page ownership. */
    ASSERT_STATUS(tdh_mem_sept_add(f.td, SZ_4K, TDX_LEVEL_1G, p + 1),
                  TDX_OPERAND_INVALID | RCX);
    ASSERT_STATUS(tdh_mem_sept_add(f.td, 0, TDX_LEVEL_4K, p + 1),
                  TDX_OPERAND_INVALID | RCX);
    ASSERT_STATUS(tdh_mem_sept_add(f.td, 0, TDX_LEVEL_PML5, p + 1),
                  TDX_OPERAND_INVALID | RCX);
    ASSERT_STATUS(tdh_mem_sept_add(f.td, 1ULL << 47, TDX_LEVEL_PML4, p + 1),
                  TDX_OPERAND_INVALID | RCX);
    ASSERT_STATUS(tdh_mem_sept_add(f.td, 0, TDX_LEVEL_1G, f.tdr),
                  TDX_OPERAND_INVALID | R8);
    ASSERT_STATUS(tdh_mem_sept_add(f.td, 0, TDX_LEVEL_1G, p),
                  TDX_OPERAND_INVALID | R8);
    ASSERT_OK(tdh_mem_sept_add(f.td, 0, TDX_LEVEL_1G, p + 1));
    ASSERT_OK(tdh_mem_sept_add(f.td, 0, TDX_LEVEL_2M, p + 2));
    g_assert_cmpuint(tdx_td_sept_pages(f.td, TDX_LEVEL_4K), ==, 1);
    g_assert_cmpuint(tdx_td_sept_pages(f.td, TDX_LEVEL_2M), ==, 1);
    g_assert_cmpuint(tdx_td_sept_pages(f.td, TDX_LEVEL_PML4), ==, 0);
    g_assert_cmpuint(tdx_td_counters(f.td)->failed[TDH_MEM_SEPT_ADD], ==, 8);
    g_assert_cmpuint(check(&f), ==, 0);
    fix_free(&f);
}

/* PAGE.AUG. */

static void test_aug(void)
{
    Fix f;
    struct tdx_sept_leaf_info info;
    uint64_t g = SZ_1G;
    tdx_pfn_t p, big, run;

    fix_init(&f, 48);
    ASSERT_STATUS(tdh_mem_page_aug(f.td, g, TDX_LEVEL_4K, 0x8000),
                  TDX_EPT_WALK_FAILED | RCX);
    p = aug_4k(&f, g);
    g_assert_true(tdx_td_lookup(f.td, g, &info));
    g_assert_cmpint(info.state, ==, SEPT_PENDING);
    g_assert_cmpint(info.level, ==, TDX_LEVEL_4K);
    g_assert_cmphex(info.pfn, ==, p);
    g_assert_cmphex(info.gpa, ==, g);
    g_assert_cmpint(tdxmod_page_type(f.m, p), ==, PT_REG);
    g_assert_cmpuint(tdx_td_leaves(f.td, TDX_LEVEL_4K), ==, 1);

    /* Entry must be FREE. */
    ASSERT_STATUS(tdh_mem_page_aug(f.td, g, TDX_LEVEL_4K, pfn_4k(&f)),
                  TDX_EPT_ENTRY_STATE_INCORRECT | RCX);
    /* Operands. */
    ASSERT_STATUS(tdh_mem_page_aug(f.td, g + 0x800, TDX_LEVEL_4K, pfn_4k(&f)),
                  TDX_OPERAND_INVALID | RCX);
    ASSERT_STATUS(tdh_mem_page_aug(f.td, g + SZ_4K, TDX_LEVEL_1G, pfn_4k(&f)),
                  TDX_OPERAND_INVALID | RCX);
    ASSERT_STATUS(tdh_mem_page_aug(f.td, g | (1ULL << 47), TDX_LEVEL_4K,
                                   pfn_4k(&f)),
                  TDX_OPERAND_INVALID | RCX);
    ASSERT_STATUS(tdh_mem_page_aug(f.td, g + SZ_4K, TDX_LEVEL_4K, p),
                  TDX_OPERAND_INVALID | R8);
    ASSERT_STATUS(tdh_mem_page_aug(f.td, g + SZ_4K, TDX_LEVEL_4K, f.tdcs[0]),
                  TDX_OPERAND_INVALID | R8);

    /* 2M: FREE level-1 entry -> PENDING 2M leaf. */
    big = aug_2m(&f, g + 4 * SZ_2M);
    g_assert_true(tdx_td_lookup(f.td, g + 4 * SZ_2M + 5 * SZ_4K, &info));
    g_assert_cmpint(info.level, ==, TDX_LEVEL_2M);
    g_assert_cmpint(info.state, ==, SEPT_PENDING);
    g_assert_cmphex(info.pfn, ==, big);
    g_assert_cmphex(info.gpa, ==, g + 4 * SZ_2M);
    g_assert_cmpuint(tdx_td_leaves(f.td, TDX_LEVEL_2M), ==, 1);
    g_assert_cmpint(tdxmod_page_type(f.m, big + 17), ==, PT_REG);
    g_assert_cmpuint(tdx_td_counters(f.td)->aug_2m, ==, 1);
    /* A 4K AUG inside the 2M leaf: the walk ends at the leaf. */
    ASSERT_STATUS(tdh_mem_page_aug(f.td, g + 4 * SZ_2M + SZ_4K, TDX_LEVEL_4K,
                                   pfn_4k(&f)),
                  TDX_EPT_WALK_FAILED | RCX);
    /* A 2M AUG where the level-0 table exists. */
    ASSERT_STATUS(tdh_mem_page_aug(f.td, g, TDX_LEVEL_2M, pfn_2m(&f)),
                  TDX_EPT_ENTRY_STATE_INCORRECT | RCX);
    /* Host pages: 2M must be aligned and entirely unowned. */
    ASSERT_STATUS(tdh_mem_page_aug(f.td, g + 5 * SZ_2M, TDX_LEVEL_2M,
                                   pfn_2m(&f) + 1),
                  TDX_OPERAND_INVALID | R8);
    ASSERT_STATUS(tdh_mem_page_aug(f.td, g + SZ_4K, TDX_LEVEL_4K, big + 3),
                  TDX_OPERAND_INVALID | R8);
    run = pfn_2m(&f);
    ASSERT_OK(tdh_mem_page_aug(f.td, g + SZ_4K, TDX_LEVEL_4K, run + 7));
    ASSERT_STATUS(tdh_mem_page_aug(f.td, g + 5 * SZ_2M, TDX_LEVEL_2M, run),
                  TDX_OPERAND_INVALID | R8);

    /* AUG works after MR.FINALIZE too. */
    finalize(&f);
    aug_4k(&f, g + 2 * SZ_4K);
    g_assert_cmpuint(tdx_td_leaves(f.td, TDX_LEVEL_4K), ==, 3);
    g_assert_cmpuint(check(&f), ==, 0);
    fix_free(&f);
}

/* PAGE.ADD / MR.EXTEND / MR.FINALIZE. */

static void test_build_time(void)
{
    Fix f;
    uint64_t g = 0x100000;
    tdx_pfn_t p;

    fix_init(&f, 48);
    map_tables(&f, g, TDX_LEVEL_4K);
    p = pfn_4k(&f);
    ASSERT_OK(tdh_mem_page_add(f.td, g, p));
    g_assert_cmpint(leaf_state(&f, g), ==, SEPT_MAPPED);
    ASSERT_STATUS(tdh_mem_page_add(f.td, g, pfn_4k(&f)),
                  TDX_EPT_ENTRY_STATE_INCORRECT | RCX);
    ASSERT_STATUS(tdh_mem_page_add(f.td, g + SZ_4K, p),
                  TDX_OPERAND_INVALID | R8);
    ASSERT_STATUS(tdh_mem_page_add(f.td, g + 0x10, pfn_4k(&f)),
                  TDX_OPERAND_INVALID | RCX);
    ASSERT_STATUS(tdh_mem_page_add(f.td, 3 * SZ_1G, pfn_4k(&f)),
                  TDX_EPT_WALK_FAILED | RCX);

    for (int i = 0; i < 16; i++) {
        ASSERT_OK(tdh_mr_extend(f.td, g + i * 256));
    }
    ASSERT_STATUS(tdh_mr_extend(f.td, g + 1), TDX_OPERAND_INVALID | RCX);
    ASSERT_STATUS(tdh_mr_extend(f.td, 3 * SZ_1G), TDX_EPT_WALK_FAILED | RCX);
    aug_4k(&f, g + SZ_4K);
    ASSERT_STATUS(tdh_mr_extend(f.td, g + SZ_4K),
                  TDX_EPT_ENTRY_STATE_INCORRECT | RCX);
    g_assert_cmpuint(tdx_td_counters(f.td)->seamcalls[TDH_MR_EXTEND], ==, 19);

    /* After MR.FINALIZE the module's op_state check refuses build leaves. */
    finalize(&f);
    ASSERT_STATUS(tdh_mem_page_add(f.td, g + 2 * SZ_4K, pfn_4k(&f)),
                  TDX_OP_STATE_INCORRECT);
    ASSERT_STATUS(tdh_mr_extend(f.td, g), TDX_OP_STATE_INCORRECT);
    ASSERT_STATUS(tdh_mr_finalize(f.td), TDX_OP_STATE_INCORRECT);
    g_assert_cmpint(leaf_state(&f, g + 2 * SZ_4K), ==, SEPT_FREE);
    g_assert_cmpuint(tdx_td_counters(f.td)->failed[TDH_MEM_PAGE_ADD], ==, 5);
    g_assert_cmpuint(check(&f), ==, 0);
    fix_free(&f);
}

/* PAGE.REMOVE: block + track on a runnable TD. */

static void test_remove_runnable(void)
{
    Fix f;
    uint64_t g = SZ_1G;
    tdx_pfn_t p, out = 0;

    fix_init(&f, 48);
    finalize(&f);
    p = aug_4k(&f, g);
    ASSERT_STATUS(tdh_mem_page_remove(f.td, g, TDX_LEVEL_4K, &out),
                  TDX_GPA_RANGE_NOT_BLOCKED | RCX);
    ASSERT_OK(tdh_mem_range_block(f.td, g, TDX_LEVEL_4K));
    g_assert_cmpint(leaf_state(&f, g), ==, SEPT_PENDING_BLOCKED);
    ASSERT_STATUS(tdh_mem_page_remove(f.td, g, TDX_LEVEL_4K, &out),
                  TDX_TLB_TRACKING_NOT_DONE | RCX);
    ASSERT_OK(tdh_mem_track(f.td));
    ASSERT_OK(tdh_mem_page_remove(f.td, g, TDX_LEVEL_4K, &out));
    g_assert_cmphex(out, ==, p);
    g_assert_cmpint(tdxmod_page_type(f.m, p), ==, PT_NDA);
    g_assert_cmpint(leaf_state(&f, g), ==, SEPT_FREE);
    g_assert_cmpuint(tdx_td_leaves(f.td, TDX_LEVEL_4K), ==, 0);

    ASSERT_STATUS(tdh_mem_page_remove(f.td, g, TDX_LEVEL_4K, &out),
                  TDX_EPT_ENTRY_FREE | RCX);
    ASSERT_STATUS(tdh_mem_page_remove(f.td, g, TDX_LEVEL_2M, &out),
                  TDX_EPT_ENTRY_NOT_LEAF | RCX);
    ASSERT_STATUS(tdh_mem_page_remove(f.td, g, TDX_LEVEL_PML4, &out),
                  TDX_OPERAND_INVALID | RCX);
    ASSERT_STATUS(tdh_mem_page_remove(f.td, 5 * SZ_1G, TDX_LEVEL_4K, &out),
                  TDX_EPT_WALK_FAILED | RCX);

    /* A 2M leaf, MAPPED after ACCEPT, goes the same way. */
    p = aug_2m(&f, g + SZ_2M);
    ASSERT_OK(tdh_vp_enter(f.td, f.vcpu));
    ASSERT_OK(tdg_mem_page_accept(f.td, f.vcpu, g + SZ_2M, TDX_LEVEL_2M));
    tdx_vp_exit(f.td, f.vcpu);
    block_track(&f, g + SZ_2M, TDX_LEVEL_2M);
    g_assert_cmpint(leaf_state(&f, g + SZ_2M), ==, SEPT_BLOCKED);
    ASSERT_OK(tdh_mem_page_remove(f.td, g + SZ_2M, TDX_LEVEL_2M, &out));
    g_assert_cmphex(out, ==, p);
    g_assert_cmpint(tdxmod_page_type(f.m, p + 100), ==, PT_NDA);
    g_assert_cmpuint(check(&f), ==, 0);
    fix_free(&f);
}

/* PAGE.REMOVE before MR.FINALIZE: no block, no track. */

static void test_remove_build(void)
{
    Fix f;
    uint64_t g = SZ_1G;
    tdx_pfn_t p, q, out = 0;

    fix_init(&f, 48);
    p = aug_4k(&f, g);
    q = pfn_4k(&f);
    ASSERT_OK(tdh_mem_page_add(f.td, g + SZ_4K, q));
    ASSERT_OK(tdh_mem_page_remove(f.td, g, TDX_LEVEL_4K, &out));
    g_assert_cmphex(out, ==, p);
    ASSERT_OK(tdh_mem_page_remove(f.td, g + SZ_4K, TDX_LEVEL_4K, &out));
    g_assert_cmphex(out, ==, q);
    g_assert_cmpuint(tdx_td_leaves(f.td, TDX_LEVEL_4K), ==, 0);
    g_assert_cmpuint(check(&f), ==, 0);
    fix_free(&f);
}

/* MEM.TRACK and vCPUs in the guest. */

static void test_track_epochs(void)
{
    Fix f;
    uint64_t g = SZ_1G;
    tdx_pfn_t out;

    fix_init(&f, 48);
    finalize(&f);
    aug_4k(&f, g);
    aug_4k(&f, g + SZ_4K);
    g_assert_cmpuint(tdx_td_epoch(f.td), ==, 1);

    ASSERT_OK(tdh_vp_enter(f.td, f.vcpu));
    g_assert_true(tdx_vp_in_guest(f.td, f.vcpu));
    ASSERT_OK(tdh_mem_range_block(f.td, g, TDX_LEVEL_4K));
    /* The vCPU entered in the current epoch: TRACK may advance it... */
    ASSERT_OK(tdh_mem_track(f.td));
    g_assert_cmpuint(tdx_td_epoch(f.td), ==, 2);
    /* ...but not twice while the vCPU is still in the previous one. */
    ASSERT_STATUS(tdh_mem_track(f.td), TDX_PREVIOUS_TLB_EPOCH_BUSY);
    g_assert_cmpuint(tdx_td_epoch(f.td), ==, 2);
    /* The vCPU may still hold the translation: not tracked yet. */
    ASSERT_STATUS(tdh_mem_page_remove(f.td, g, TDX_LEVEL_4K, &out),
                  TDX_TLB_TRACKING_NOT_DONE | RCX);
    tdx_vp_exit(f.td, f.vcpu);
    g_assert_false(tdx_vp_in_guest(f.td, f.vcpu));
    ASSERT_OK(tdh_mem_page_remove(f.td, g, TDX_LEVEL_4K, &out));
    ASSERT_OK(tdh_mem_track(f.td));
    g_assert_cmpuint(tdx_td_epoch(f.td), ==, 3);

    /* A vCPU entering after the TRACK does not hold up the removal. */
    ASSERT_OK(tdh_mem_range_block(f.td, g + SZ_4K, TDX_LEVEL_4K));
    ASSERT_OK(tdh_mem_track(f.td));
    ASSERT_OK(tdh_vp_enter(f.td, f.vcpu));
    ASSERT_OK(tdh_mem_page_remove(f.td, g + SZ_4K, TDX_LEVEL_4K, &out));
    tdx_vp_exit(f.td, f.vcpu);
    g_assert_cmpuint(tdx_td_counters(f.td)->failed[TDH_MEM_TRACK], ==, 1);
    fix_free(&f);
}

/* RANGE.BLOCK. */

static void test_block(void)
{
    Fix f;
    uint64_t g = SZ_1G;
    tdx_status_t s;

    fix_init(&f, 48);
    finalize(&f);
    aug_4k(&f, g);
    ASSERT_OK(tdh_mem_range_block(f.td, g, TDX_LEVEL_4K));
    s = tdh_mem_range_block(f.td, g, TDX_LEVEL_4K);
    ASSERT_STATUS(s, TDX_GPA_RANGE_ALREADY_BLOCKED | RCX);
    g_assert_false(TDX_STATUS_IS_ERROR(s));
    g_assert_cmpuint(tdx_td_counters(f.td)->failed[TDH_MEM_RANGE_BLOCK], ==,
                     0);
    g_assert_cmpuint(tdx_td_counters(f.td)->seamcalls[TDH_MEM_RANGE_BLOCK],
                     ==, 2);
    ASSERT_STATUS(tdh_mem_range_block(f.td, g + SZ_4K, TDX_LEVEL_4K),
                  TDX_EPT_ENTRY_FREE | RCX);
    ASSERT_STATUS(tdh_mem_range_block(f.td, 7 * SZ_1G, TDX_LEVEL_4K),
                  TDX_EPT_WALK_FAILED | RCX);
    ASSERT_STATUS(tdh_mem_range_block(f.td, g + 8, TDX_LEVEL_4K),
                  TDX_OPERAND_INVALID | RCX);

    /* A non-leaf entry: NL_MAPPED -> NL_BLOCKED, the guest sees nothing. */
    aug_4k(&f, g + SZ_2M);
    ASSERT_OK(tdh_vp_enter(f.td, f.vcpu));
    ASSERT_OK(tdh_mem_range_block(f.td, g + SZ_2M, TDX_LEVEL_2M));
    ASSERT_STATUS(tdg_mem_page_accept(f.td, f.vcpu, g + SZ_2M, TDX_LEVEL_4K),
                  TDX_EPT_ENTRY_NOT_PRESENT);
    ASSERT_STATUS(tdh_mem_range_block(f.td, g + SZ_2M, TDX_LEVEL_2M),
                  TDX_GPA_RANGE_ALREADY_BLOCKED | RCX);
    /* SEAMCALLs still walk through it; the leaf below can be blocked. */
    ASSERT_OK(tdh_mem_range_block(f.td, g + SZ_2M, TDX_LEVEL_4K));
    g_assert_cmpint(leaf_state(&f, g + SZ_2M), ==, SEPT_PENDING_BLOCKED);
    tdx_vp_exit(f.td, f.vcpu);
    g_assert_cmpuint(check(&f), ==, 0);
    fix_free(&f);
}

/* RANGE.UNBLOCK. */

static void test_unblock(void)
{
    Fix f;
    uint64_t g = SZ_1G;

    fix_init(&f, 48);
    finalize(&f);
    aug_4k(&f, g);
    ASSERT_STATUS(tdh_mem_range_unblock(f.td, g, TDX_LEVEL_4K),
                  TDX_GPA_RANGE_NOT_BLOCKED | RCX);
    ASSERT_STATUS(tdh_mem_range_unblock(f.td, g + SZ_4K, TDX_LEVEL_4K),
                  TDX_EPT_ENTRY_FREE | RCX);
    ASSERT_OK(tdh_mem_range_block(f.td, g, TDX_LEVEL_4K));
    ASSERT_STATUS(tdh_mem_range_unblock(f.td, g, TDX_LEVEL_4K),
                  TDX_TLB_TRACKING_NOT_DONE | RCX);
    ASSERT_OK(tdh_mem_track(f.td));
    ASSERT_OK(tdh_mem_range_unblock(f.td, g, TDX_LEVEL_4K));
    g_assert_cmpint(leaf_state(&f, g), ==, SEPT_PENDING);

    /* MAPPED comes back MAPPED; a non-leaf comes back NL_MAPPED. */
    ASSERT_OK(tdh_vp_enter(f.td, f.vcpu));
    ASSERT_OK(tdg_mem_page_accept(f.td, f.vcpu, g, TDX_LEVEL_4K));
    tdx_vp_exit(f.td, f.vcpu);
    block_track(&f, g, TDX_LEVEL_4K);
    ASSERT_OK(tdh_mem_range_unblock(f.td, g, TDX_LEVEL_4K));
    g_assert_cmpint(leaf_state(&f, g), ==, SEPT_MAPPED);
    block_track(&f, g, TDX_LEVEL_2M);
    ASSERT_OK(tdh_mem_range_unblock(f.td, g, TDX_LEVEL_2M));
    ASSERT_OK(tdh_vp_enter(f.td, f.vcpu));
    ASSERT_STATUS(tdg_mem_page_accept(f.td, f.vcpu, g, TDX_LEVEL_4K),
                  TDX_PAGE_ALREADY_ACCEPTED | TDX_LEVEL_4K);
    tdx_vp_exit(f.td, f.vcpu);
    g_assert_cmpuint(check(&f), ==, 0);
    fix_free(&f);
}

/* SEPT.REMOVE. */

static void test_sept_remove(void)
{
    Fix f;
    uint64_t g = SZ_1G;
    tdx_pfn_t out = 0, pt;

    fix_init(&f, 48);
    finalize(&f);
    pt = f.next_4k + 2;                 /* map_tables: levels 3, 2, 1 */
    aug_4k(&f, g);
    g_assert_cmpint(tdxmod_page_type(f.m, pt), ==, PT_SEPT);
    ASSERT_STATUS(tdh_mem_sept_remove(f.td, g, TDX_LEVEL_2M, &out),
                  TDX_GPA_RANGE_NOT_BLOCKED | RCX);
    block_track(&f, g, TDX_LEVEL_2M);
    ASSERT_STATUS(tdh_mem_sept_remove(f.td, g, TDX_LEVEL_2M, &out),
                  TDX_EPT_PAGE_NOT_FREE | RCX);
    /* Empty the table: its leaf is blocked, tracked and removed first. */
    block_track(&f, g, TDX_LEVEL_4K);
    ASSERT_OK(tdh_mem_page_remove(f.td, g, TDX_LEVEL_4K, NULL));
    ASSERT_OK(tdh_mem_sept_remove(f.td, g, TDX_LEVEL_2M, &out));
    g_assert_cmphex(out, ==, pt);
    g_assert_cmpint(tdxmod_page_type(f.m, pt), ==, PT_NDA);
    g_assert_cmpuint(tdx_td_sept_pages(f.td, TDX_LEVEL_4K), ==, 0);
    g_assert_cmpuint(tdx_td_sept_pages_peak(f.td, TDX_LEVEL_4K), ==, 1);
    ASSERT_STATUS(tdh_mem_sept_remove(f.td, g, TDX_LEVEL_2M, &out),
                  TDX_EPT_ENTRY_FREE | RCX);
    ASSERT_STATUS(tdh_mem_sept_remove(f.td, g, TDX_LEVEL_4K, &out),
                  TDX_OPERAND_INVALID | RCX);

    /* A leaf is not a table; a blocked one still is not. */
    aug_2m(&f, g + SZ_2M);
    block_track(&f, g + SZ_2M, TDX_LEVEL_2M);
    ASSERT_STATUS(tdh_mem_sept_remove(f.td, g + SZ_2M, TDX_LEVEL_2M, &out),
                  TDX_EPT_ENTRY_LEAF | RCX);
    /* Tracking: an in-guest vCPU from the block epoch holds it up. */
    ASSERT_OK(tdh_vp_enter(f.td, f.vcpu));
    map_tables(&f, g + 4 * SZ_2M, TDX_LEVEL_4K);
    ASSERT_OK(tdh_mem_range_block(f.td, g + 4 * SZ_2M, TDX_LEVEL_2M));
    ASSERT_OK(tdh_mem_track(f.td));
    ASSERT_STATUS(tdh_mem_sept_remove(f.td, g + 4 * SZ_2M, TDX_LEVEL_2M,
                                      &out),
                  TDX_TLB_TRACKING_NOT_DONE | RCX);
    tdx_vp_exit(f.td, f.vcpu);
    ASSERT_OK(tdh_mem_sept_remove(f.td, g + 4 * SZ_2M, TDX_LEVEL_2M, &out));
    g_assert_cmpuint(check(&f), ==, 0);
    fix_free(&f);
}

static void test_sept_remove_build(void)
{
    Fix f;
    tdx_pfn_t out = 0;

    fix_init(&f, 48);
    map_tables(&f, 0, TDX_LEVEL_4K);
    g_assert_cmpuint(tdx_td_sept_pages(f.td, TDX_LEVEL_4K), ==, 1);
    /* Bottom up, no block needed before MR.FINALIZE; not a non-empty one. */
    ASSERT_STATUS(tdh_mem_sept_remove(f.td, 0, TDX_LEVEL_1G, &out),
                  TDX_EPT_PAGE_NOT_FREE | RCX);
    ASSERT_OK(tdh_mem_sept_remove(f.td, 0, TDX_LEVEL_2M, &out));
    ASSERT_OK(tdh_mem_sept_remove(f.td, 0, TDX_LEVEL_1G, &out));
    ASSERT_OK(tdh_mem_sept_remove(f.td, 0, TDX_LEVEL_PML4, &out));
    for (int l = 0; l < 4; l++) {
        g_assert_cmpuint(tdx_td_sept_pages(f.td, l), ==, 0);
        g_assert_cmpuint(tdx_td_sept_pages_peak(f.td, l), ==, l < 3);
    }
    g_assert_cmpuint(tdxmod_pages_owned(f.m), ==, 8);
    g_assert_cmpuint(check(&f), ==, 0);
    fix_free(&f);
}

/* PAGE.DEMOTE then PAGE.PROMOTE on a runnable TD. */

static void test_demote_promote(void)
{
    Fix f;
    struct tdx_sept_leaf_info info;
    uint64_t g = SZ_1G + 3 * SZ_2M;
    tdx_pfn_t p, sp, out = 0;
    uint64_t owned;

    fix_init(&f, 48);
    finalize(&f);
    p = aug_2m(&f, g);
    ASSERT_OK(tdh_vp_enter(f.td, f.vcpu));
    ASSERT_OK(tdg_mem_page_accept(f.td, f.vcpu, g, TDX_LEVEL_2M));
    tdx_vp_exit(f.td, f.vcpu);
    owned = tdxmod_pages_owned(f.m);

    sp = pfn_4k(&f);
    ASSERT_STATUS(tdh_mem_page_demote(f.td, g, TDX_LEVEL_2M, sp),
                  TDX_GPA_RANGE_NOT_BLOCKED | RCX);
    ASSERT_OK(tdh_mem_range_block(f.td, g, TDX_LEVEL_2M));
    ASSERT_STATUS(tdh_mem_page_demote(f.td, g, TDX_LEVEL_2M, sp),
                  TDX_TLB_TRACKING_NOT_DONE | RCX);
    ASSERT_OK(tdh_mem_track(f.td));
    ASSERT_STATUS(tdh_mem_page_demote(f.td, g, TDX_LEVEL_2M, f.tdr),
                  TDX_OPERAND_INVALID | R8);
    ASSERT_STATUS(tdh_mem_page_demote(f.td, g, TDX_LEVEL_4K, sp),
                  TDX_OPERAND_INVALID | RCX);
    ASSERT_OK(tdh_mem_page_demote(f.td, g, TDX_LEVEL_2M, sp));
    g_assert_true(tdx_td_lookup(f.td, g + 7 * SZ_4K, &info));
    g_assert_cmpint(info.level, ==, TDX_LEVEL_4K);
    g_assert_cmpint(info.state, ==, SEPT_MAPPED);
    g_assert_cmphex(info.pfn, ==, p + 7);
    g_assert_cmpuint(tdx_td_leaves(f.td, TDX_LEVEL_4K), ==, 512);
    g_assert_cmpuint(tdx_td_leaves(f.td, TDX_LEVEL_2M), ==, 0);
    g_assert_cmpuint(tdx_td_sept_pages(f.td, TDX_LEVEL_4K), ==, 1);
    g_assert_cmpint(tdxmod_page_type(f.m, sp), ==, PT_SEPT);
    g_assert_cmpuint(tdxmod_pages_owned(f.m), ==, owned + 1);
    g_assert_cmpuint(check(&f), ==, 0);
    /* Demote wants a 2M leaf. */
    ASSERT_STATUS(tdh_mem_page_demote(f.td, g, TDX_LEVEL_2M, pfn_4k(&f)),
                  TDX_EPT_ENTRY_NOT_LEAF | RCX);
    ASSERT_STATUS(tdh_mem_page_demote(f.td, g + SZ_2M, TDX_LEVEL_2M,
                                      pfn_4k(&f)),
                  TDX_EPT_ENTRY_FREE | RCX);
    /* The 4K pages are accepted already: the MAPPED state carried over. */
    ASSERT_OK(tdh_vp_enter(f.td, f.vcpu));
    ASSERT_STATUS(tdg_mem_page_accept(f.td, f.vcpu, g + SZ_4K, TDX_LEVEL_4K),
                  TDX_PAGE_ALREADY_ACCEPTED | TDX_LEVEL_4K);
    tdx_vp_exit(f.td, f.vcpu);

    /* Back: block the non-leaf entry, track, promote. */
    ASSERT_STATUS(tdh_mem_page_promote(f.td, g, TDX_LEVEL_2M, &out),
                  TDX_GPA_RANGE_NOT_BLOCKED | RCX);
    ASSERT_OK(tdh_mem_range_block(f.td, g, TDX_LEVEL_2M));
    ASSERT_STATUS(tdh_mem_page_promote(f.td, g, TDX_LEVEL_2M, &out),
                  TDX_TLB_TRACKING_NOT_DONE | RCX);
    ASSERT_OK(tdh_mem_track(f.td));
    ASSERT_OK(tdh_mem_page_promote(f.td, g, TDX_LEVEL_2M, &out));
    g_assert_cmphex(out, ==, sp);
    g_assert_true(tdx_td_lookup(f.td, g + 9 * SZ_4K, &info));
    g_assert_cmpint(info.level, ==, TDX_LEVEL_2M);
    g_assert_cmpint(info.state, ==, SEPT_MAPPED);
    g_assert_cmphex(info.pfn, ==, p);
    g_assert_cmpuint(tdx_td_leaves(f.td, TDX_LEVEL_4K), ==, 0);
    g_assert_cmpuint(tdx_td_leaves(f.td, TDX_LEVEL_2M), ==, 1);
    g_assert_cmpuint(tdx_td_sept_pages(f.td, TDX_LEVEL_4K), ==, 0);
    g_assert_cmpint(tdxmod_page_type(f.m, sp), ==, PT_NDA);
    g_assert_cmpuint(tdxmod_pages_owned(f.m), ==, owned);
    /* Module 1.5 tdh_mem_page_promote(): only a non-leaf entry merges. */
    ASSERT_STATUS(tdh_mem_page_promote(f.td, g, TDX_LEVEL_2M, &out),
                  TDX_EPT_ENTRY_STATE_INCORRECT | RCX);
    ASSERT_STATUS(tdh_mem_page_promote(f.td, g + SZ_2M, TDX_LEVEL_2M, &out),
                  TDX_EPT_ENTRY_STATE_INCORRECT | RCX);
    g_assert_cmpuint(check(&f), ==, 0);
    fix_free(&f);
}

/* Before MR.FINALIZE: no block needed, PENDING survives the round trip. */

static void test_demote_pending_build(void)
{
    Fix f;
    uint64_t g = 4 * SZ_2M;
    tdx_pfn_t p, sp, out = 0;

    fix_init(&f, 48);
    p = aug_2m(&f, g);
    sp = pfn_4k(&f);
    ASSERT_OK(tdh_mem_page_demote(f.td, g, TDX_LEVEL_2M, sp));
    g_assert_cmpint(leaf_state(&f, g + 511 * SZ_4K), ==, SEPT_PENDING);
    ASSERT_OK(tdh_mem_page_promote(f.td, g, TDX_LEVEL_2M, &out));
    g_assert_cmphex(out, ==, sp);
    g_assert_cmpint(leaf_state(&f, g), ==, SEPT_PENDING);
    g_assert_cmpint(tdxmod_page_type(f.m, p + 511), ==, PT_REG);
    g_assert_cmpuint(check(&f), ==, 0);
    fix_free(&f);
}

/* AUG 512 4K leaves at g with pfns base + perm(i). */
static void aug_run(Fix *f, uint64_t g, tdx_pfn_t base, int swap)
{
    map_tables(f, g, TDX_LEVEL_4K);
    for (int i = 0; i < 512; i++) {
        int j = i == swap ? swap + 1 : i == swap + 1 ? swap : i;

        ASSERT_OK(tdh_mem_page_aug(f->td, g + i * SZ_4K, TDX_LEVEL_4K,
                                   base + j));
    }
}

static void test_promote_invalid(void)
{
    Fix f;
    uint64_t g = SZ_1G;
    tdx_pfn_t out = 0, p;

    fix_init(&f, 48);
    /* Contiguous but not 512-aligned. */
    p = pfn_2m(&f);
    pfn_2m(&f);
    aug_run(&f, g, p + 1, -2);
    ASSERT_STATUS(tdh_mem_page_promote(f.td, g, TDX_LEVEL_2M, &out),
                  TDX_EPT_INVALID_PROMOTE_CONDITIONS | RCX);
    /* Aligned, but two pfns swapped. */
    aug_run(&f, g + SZ_2M, pfn_2m(&f), 100);
    ASSERT_STATUS(tdh_mem_page_promote(f.td, g + SZ_2M, TDX_LEVEL_2M, &out),
                  TDX_EPT_INVALID_PROMOTE_CONDITIONS | RCX);
    /* One entry missing. */
    p = pfn_2m(&f);
    aug_run(&f, g + 2 * SZ_2M, p, -2);
    ASSERT_OK(tdh_mem_page_remove(f.td, g + 2 * SZ_2M + 9 * SZ_4K,
                                  TDX_LEVEL_4K, NULL));
    ASSERT_STATUS(tdh_mem_page_promote(f.td, g + 2 * SZ_2M, TDX_LEVEL_2M,
                                       &out),
                  TDX_EPT_INVALID_PROMOTE_CONDITIONS | RCX);
    /* One child blocked. */
    ASSERT_OK(tdh_mem_page_aug(f.td, g + 2 * SZ_2M + 9 * SZ_4K, TDX_LEVEL_4K,
                               p + 9));
    block_track(&f, g + 2 * SZ_2M + 10 * SZ_4K, TDX_LEVEL_4K);
    ASSERT_STATUS(tdh_mem_page_promote(f.td, g + 2 * SZ_2M, TDX_LEVEL_2M,
                                       &out),
                  TDX_EPT_INVALID_PROMOTE_CONDITIONS | RCX);
    ASSERT_OK(tdh_mem_range_unblock(f.td, g + 2 * SZ_2M + 10 * SZ_4K,
                                    TDX_LEVEL_4K));
    ASSERT_OK(tdh_mem_page_promote(f.td, g + 2 * SZ_2M, TDX_LEVEL_2M, &out));

    /* Mixed states on a runnable TD: some accepted, some pending. */
    finalize(&f);
    p = pfn_2m(&f);
    aug_run(&f, g + 3 * SZ_2M, p, -2);
    ASSERT_OK(tdh_vp_enter(f.td, f.vcpu));
    for (int i = 0; i < 100; i++) {
        ASSERT_OK(tdg_mem_page_accept(f.td, f.vcpu, g + 3 * SZ_2M + i * SZ_4K,
                                      TDX_LEVEL_4K));
    }
    tdx_vp_exit(f.td, f.vcpu);
    block_track(&f, g + 3 * SZ_2M, TDX_LEVEL_2M);
    ASSERT_STATUS(tdh_mem_page_promote(f.td, g + 3 * SZ_2M, TDX_LEVEL_2M,
                                       &out),
                  TDX_EPT_INVALID_PROMOTE_CONDITIONS | RCX);
    g_assert_cmpint(leaf_state(&f, g + 3 * SZ_2M), ==, SEPT_MAPPED);
    g_assert_cmpint(leaf_state(&f, g + 3 * SZ_2M + 100 * SZ_4K), ==,
                    SEPT_PENDING);
    g_assert_cmpuint(tdx_td_counters(f.td)->failed[TDH_MEM_PAGE_PROMOTE], ==,
                     5);
    g_assert_cmpuint(check(&f), ==, 0);
    fix_free(&f);
}

/* Guest TDG.MEM.PAGE.ACCEPT. */

static void test_accept(void)
{
    Fix f;
    const struct tdx_counters *c;
    uint64_t g = SZ_1G;
    int v;

    fix_init(&f, 48);
    v = f.vcpu;
    aug_4k(&f, g);
    ASSERT_STATUS(tdg_mem_page_accept(f.td, v, g, TDX_LEVEL_4K),
                  TDX_LIFECYCLE_STATE_INCORRECT);
    finalize(&f);
    ASSERT_OK(tdh_vp_enter(f.td, v));
    ASSERT_OK(tdg_mem_page_accept(f.td, v, g, TDX_LEVEL_4K));
    g_assert_cmpint(leaf_state(&f, g), ==, SEPT_MAPPED);
    /* Module 1.5: ALREADY_ACCEPTED | the level the walk ended at. */
    ASSERT_STATUS(tdg_mem_page_accept(f.td, v, g, TDX_LEVEL_4K),
                  TDX_PAGE_ALREADY_ACCEPTED | TDX_LEVEL_4K);
    /* FREE entry, or no table on the way: EPT violation to the host. */
    ASSERT_STATUS(tdg_mem_page_accept(f.td, v, g + SZ_4K, TDX_LEVEL_4K),
                  TDX_EPT_ENTRY_NOT_PRESENT);
    ASSERT_STATUS(tdg_mem_page_accept(f.td, v, 9 * SZ_1G, TDX_LEVEL_4K),
                  TDX_EPT_ENTRY_NOT_PRESENT);
    ASSERT_STATUS(tdg_mem_page_accept(f.td, v, g + 8 * SZ_2M, TDX_LEVEL_2M),
                  TDX_EPT_ENTRY_NOT_PRESENT);
    /* A 4K table exists under the 2M entry; 1G is never a leaf here. */
    ASSERT_STATUS(tdg_mem_page_accept(f.td, v, g, TDX_LEVEL_2M),
                  TDX_PAGE_SIZE_MISMATCH | TDX_LEVEL_2M);
    ASSERT_STATUS(tdg_mem_page_accept(f.td, v, g, TDX_LEVEL_1G),
                  TDX_PAGE_SIZE_MISMATCH | TDX_LEVEL_1G);
    /*
     * 4K inside a 2M leaf: a *pending* leaf is an EPT violation (the host
     * may demote), an accepted one ALREADY_ACCEPTED | 2M
     * (check_tdaccept_failure(), cases 1.1 and 1.2).
     */
    aug_2m(&f, g + SZ_2M);
    ASSERT_STATUS(tdg_mem_page_accept(f.td, v, g + SZ_2M + SZ_4K,
                                      TDX_LEVEL_4K),
                  TDX_EPT_ENTRY_NOT_PRESENT);
    ASSERT_OK(tdg_mem_page_accept(f.td, v, g + SZ_2M, TDX_LEVEL_2M));
    ASSERT_STATUS(tdg_mem_page_accept(f.td, v, g + SZ_2M, TDX_LEVEL_2M),
                  TDX_PAGE_ALREADY_ACCEPTED | TDX_LEVEL_2M);
    ASSERT_STATUS(tdg_mem_page_accept(f.td, v, g + SZ_2M + SZ_4K,
                                      TDX_LEVEL_4K),
                  TDX_PAGE_ALREADY_ACCEPTED | TDX_LEVEL_2M);
    /* Blocked leaf: not present. */
    aug_4k(&f, g + 2 * SZ_4K);
    ASSERT_OK(tdh_mem_range_block(f.td, g + 2 * SZ_4K, TDX_LEVEL_4K));
    ASSERT_STATUS(tdg_mem_page_accept(f.td, v, g + 2 * SZ_4K, TDX_LEVEL_4K),
                  TDX_EPT_ENTRY_NOT_PRESENT);
    /* Host holds the entry lock: host priority, then it goes through. */
    aug_4k(&f, g + 3 * SZ_4K);
    tdx_td_hold_entry_lock(f.td, g + 3 * SZ_4K, TDX_LEVEL_4K);
    ASSERT_STATUS(tdg_mem_page_accept(f.td, v, g + 3 * SZ_4K, TDX_LEVEL_4K),
                  TDX_OPERAND_BUSY_HOST_PRIORITY | RCX);
    g_assert_cmpint(leaf_state(&f, g + 3 * SZ_4K), ==, SEPT_PENDING);
    tdx_td_release_entry_lock(f.td, g + 3 * SZ_4K, TDX_LEVEL_4K);
    ASSERT_OK(tdg_mem_page_accept(f.td, v, g + 3 * SZ_4K, TDX_LEVEL_4K));
    /* Operands. */
    ASSERT_STATUS(tdg_mem_page_accept(f.td, v, g + 0x100, TDX_LEVEL_4K),
                  TDX_OPERAND_INVALID | RCX);
    ASSERT_STATUS(tdg_mem_page_accept(f.td, 7, g, TDX_LEVEL_4K),
                  TDX_OPERAND_INVALID | RCX);
    tdx_vp_exit(f.td, v);

    c = tdx_td_counters(f.td);
    g_assert_cmpuint(c->accepts, ==, 17);
    g_assert_cmpuint(c->accepts_2m, ==, 4);
    g_assert_cmpuint(tdxmod_counters(f.m)->accepts, ==, 17);
    g_assert_cmpuint(check(&f), ==, 0);
    fix_free(&f);
}

/* Try-locks. */

/*
 * Real contention between two threads (tdxmod-lock.c): a call holds its
 * locks for its whole duration; the window is widened (lock hold, not an
 * injected status) so that the second thread's call meets the holder for
 * certain: the main thread waits until the first call holds its lock.
 */
#define HOLD_NS (400ULL * 1000 * 1000)

struct bg_call {
    Fix *f;
    enum tdx_leaf leaf;
    uint64_t gpa;
    tdx_status_t status;
};

static gpointer bg_call_thread(gpointer opaque)
{
    struct bg_call *c = opaque;

    switch ((int)c->leaf) {
    case TDH_MEM_TRACK:
        c->status = tdh_mem_track(c->f->td);
        break;
    case TDH_VP_ENTER:
        c->status = tdh_vp_enter(c->f->td, c->f->vcpu);
        break;
    case TDH_MEM_PAGE_AUG:
        c->status = tdh_mem_page_aug(c->f->td, c->gpa, TDX_LEVEL_4K, 0x9000);
        break;
    case TDX_ACCEPT_SLOT:
        c->status = tdg_mem_page_accept(c->f->td, c->f->vcpu, c->gpa,
                                        TDX_LEVEL_4K);
        break;
    }
    return NULL;
}

/* Start c in a thread; return once held() says its lock is taken. */
static GThread *bg_start(struct bg_call *c, bool (*held)(Fix *f))
{
    GThread *t = g_thread_new("bg-call", bg_call_thread, c);
    gint64 until = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;

    while (!held(c->f)) {
        g_assert_cmpint(g_get_monotonic_time(), <, until);
        g_usleep(100);
    }
    return t;
}

static bool epoch_held(Fix *f)
{
    return tdx_td_epoch_lock_held(f->td);
}

static uint64_t held_gpa;

/* The entry at held_gpa is locked: a host probe meets BUSY | RCX. */
static bool entry_held(Fix *f)
{
    tdx_status_t s = tdh_mem_range_unblock(f->td, held_gpa, TDX_LEVEL_4K);

    return s == (TDX_OPERAND_BUSY | RCX);
}

static bool tree_shared_held(Fix *f)
{
    return tdh_mem_range_unblock(f->td, held_gpa + SZ_2M, TDX_LEVEL_4K) ==
           (TDX_OPERAND_BUSY | TDX_OPERAND_ID_SEPT_TREE);
}

static void test_contention_threads(void)
{
    Fix f;
    uint64_t g = SZ_1G;
    struct bg_call c = { .f = &f };
    const struct tdx_counters *k;
    GThread *t;

    fix_init(&f, 48);
    map_tables(&f, g, TDX_LEVEL_4K);
    map_tables(&f, g + SZ_2M, TDX_LEVEL_4K);
    finalize(&f);

    /* TRACK holds the epoch lock exclusively: VP.ENTER meets it. */
    tdxmod_set_lock_hold(f.m, TDH_MEM_TRACK, HOLD_NS);
    c.leaf = TDH_MEM_TRACK;
    t = bg_start(&c, epoch_held);
    ASSERT_STATUS(tdh_vp_enter(f.td, f.vcpu),
                  TDX_OPERAND_BUSY | TDX_OPERAND_ID_TD_EPOCH);
    g_thread_join(t);
    ASSERT_OK(c.status);
    tdxmod_set_lock_hold(f.m, TDH_MEM_TRACK, 0);

    /* VP.ENTER samples the epoch under the lock, shared: TRACK meets it. */
    tdxmod_set_lock_hold(f.m, TDH_VP_ENTER, HOLD_NS);
    c.leaf = TDH_VP_ENTER;
    t = bg_start(&c, epoch_held);
    ASSERT_STATUS(tdh_mem_track(f.td),
                  TDX_OPERAND_BUSY | TDX_OPERAND_ID_TD_EPOCH);
    g_thread_join(t);
    ASSERT_OK(c.status);
    tdxmod_set_lock_hold(f.m, TDH_VP_ENTER, 0);

    /*
     * AUG holds the tree lock shared and its entry: a second AUG on
     * another entry runs at the same time; BLOCK (exclusive) and a host
     * call on the same entry are busy.
     */
    tdxmod_set_lock_hold(f.m, TDH_MEM_PAGE_AUG, HOLD_NS);
    held_gpa = g;
    c.leaf = TDH_MEM_PAGE_AUG;
    c.gpa = g;
    t = bg_start(&c, tree_shared_held);
    ASSERT_STATUS(tdh_mem_range_block(f.td, g + 2 * SZ_4K, TDX_LEVEL_4K),
                  TDX_OPERAND_BUSY | TDX_OPERAND_ID_SEPT_TREE);
    tdxmod_set_lock_hold(f.m, TDH_MEM_PAGE_AUG, 0);
    ASSERT_OK(tdh_mem_page_aug(f.td, g + SZ_4K, TDX_LEVEL_4K, 0x9001));
    g_thread_join(t);
    ASSERT_OK(c.status);

    /* The guest's ACCEPT holds the entry (guest side): host calls on it
     * are busy, on other entries not. */
    tdxmod_set_lock_hold(f.m, TDX_ACCEPT_SLOT, HOLD_NS);
    c.leaf = TDX_ACCEPT_SLOT;
    c.gpa = g;
    t = bg_start(&c, entry_held);
    ASSERT_STATUS(tdh_mem_range_block(f.td, g, TDX_LEVEL_4K),
                  TDX_OPERAND_BUSY | RCX);
    ASSERT_OK(tdh_mem_range_block(f.td, g + SZ_4K, TDX_LEVEL_4K));
    g_thread_join(t);
    ASSERT_OK(c.status);
    tdxmod_set_lock_hold(f.m, TDX_ACCEPT_SLOT, 0);
    tdx_vp_exit(f.td, f.vcpu);

    k = tdx_td_counters(f.td);
    g_assert_cmpuint(k->contended_epoch, ==, 2);
    g_assert_cmpuint(k->contended[TDH_VP_ENTER], ==, 1);
    g_assert_cmpuint(k->contended[TDH_MEM_TRACK], ==, 1);
    g_assert_cmpuint(k->contended_tree, >=, 2);
    g_assert_cmpuint(k->contended_entry, >=, 2);
    g_assert_cmpuint(k->contended[TDH_MEM_RANGE_BLOCK], ==, 2);
    g_assert_cmpuint(check(&f), ==, 0);
    fix_free(&f);
}


static void test_tree_lock(void)
{
    Fix f;
    uint64_t g = SZ_1G;
    tdx_status_t s;

    fix_init(&f, 48);
    finalize(&f);
    map_tables(&f, g, TDX_LEVEL_4K);
    aug_4k(&f, g + SZ_4K);

    /* Exclusive holder (zero-step vCPU): everything is busy. */
    tdx_td_hold_tree_lock(f.td, true);
    s = tdh_mem_page_aug(f.td, g, TDX_LEVEL_4K, 0x8000);
    ASSERT_STATUS(s, TDX_OPERAND_BUSY | TDX_OPERAND_ID_SEPT_TREE);
    g_assert_true(TDX_STATUS_IS_BUSY(s));
    ASSERT_STATUS(tdh_mem_sept_add(f.td, 1ULL << 39, TDX_LEVEL_PML4, 0x8000),
                  TDX_OPERAND_BUSY | TDX_OPERAND_ID_SEPT_TREE);
    ASSERT_STATUS(tdh_mem_range_block(f.td, g + SZ_4K, TDX_LEVEL_4K),
                  TDX_OPERAND_BUSY | TDX_OPERAND_ID_SEPT_TREE);
    ASSERT_STATUS(tdh_mem_page_promote(f.td, g, TDX_LEVEL_2M, NULL),
                  TDX_OPERAND_BUSY | TDX_OPERAND_ID_SEPT_TREE);
    g_assert_cmpint(leaf_state(&f, g), ==, SEPT_FREE);
    tdx_td_release_tree_lock(f.td);

    /* Shared holders: exclusive leaves are busy, shared ones are not. */
    tdx_td_hold_tree_lock(f.td, false);
    tdx_td_hold_tree_lock(f.td, false);
    ASSERT_STATUS(tdh_mem_range_block(f.td, g + SZ_4K, TDX_LEVEL_4K),
                  TDX_OPERAND_BUSY | TDX_OPERAND_ID_SEPT_TREE);
    ASSERT_STATUS(tdh_mem_range_unblock(f.td, g + SZ_4K, TDX_LEVEL_4K),
                  TDX_OPERAND_BUSY | TDX_OPERAND_ID_SEPT_TREE);
    ASSERT_STATUS(tdh_mem_sept_remove(f.td, g, TDX_LEVEL_2M, NULL),
                  TDX_OPERAND_BUSY | TDX_OPERAND_ID_SEPT_TREE);
    ASSERT_OK(tdh_mem_page_aug(f.td, g, TDX_LEVEL_4K, 0x8000));
    /*
     * PROMOTE takes the tree lock shared (module 1.5 tdh_mem_page_promote():
     * lock_sept_check_and_walk_private_gpa(..., TDX_LOCK_SHARED, ...)): it
     * gets past shared holders to its own checks.
     */
    ASSERT_STATUS(tdh_mem_page_promote(f.td, g, TDX_LEVEL_2M, NULL),
                  TDX_GPA_RANGE_NOT_BLOCKED | RCX);
    tdx_td_release_tree_lock(f.td);
    ASSERT_STATUS(tdh_mem_range_block(f.td, g + SZ_4K, TDX_LEVEL_4K),
                  TDX_OPERAND_BUSY | TDX_OPERAND_ID_SEPT_TREE);
    tdx_td_release_tree_lock(f.td);
    ASSERT_OK(tdh_mem_range_block(f.td, g + SZ_4K, TDX_LEVEL_4K));

    g_assert_cmpuint(tdx_td_counters(f.td)->busy[TDH_MEM_RANGE_BLOCK], ==, 3);
    g_assert_cmpuint(tdx_td_counters(f.td)->failed[TDH_MEM_RANGE_BLOCK], ==,
                     3);
    g_assert_cmpuint(tdx_td_counters(f.td)->busy[TDH_MEM_PAGE_AUG], ==, 1);
    g_assert_cmpuint(tdxmod_counters(f.m)->busy[TDH_MEM_SEPT_ADD], ==, 1);
    fix_free(&f);
}

static void test_entry_and_epoch_lock(void)
{
    Fix f;
    uint64_t g = SZ_1G;

    fix_init(&f, 48);
    map_tables(&f, g, TDX_LEVEL_4K);
    tdx_td_hold_entry_lock(f.td, g, TDX_LEVEL_4K);
    /* Module 1.5 sept_lock_acquire_host(): BUSY, reported with RCX. */
    ASSERT_STATUS(tdh_mem_page_aug(f.td, g, TDX_LEVEL_4K, 0x8000),
                  TDX_OPERAND_BUSY | RCX);
    /* Other entries, and the same GPA at another level, are not locked. */
    ASSERT_OK(tdh_mem_page_aug(f.td, g + SZ_4K, TDX_LEVEL_4K, 0x8001));
    ASSERT_OK(tdh_mem_range_block(f.td, g, TDX_LEVEL_2M));
    tdx_td_release_entry_lock(f.td, g, TDX_LEVEL_4K);
    ASSERT_OK(tdh_mem_page_aug(f.td, g, TDX_LEVEL_4K, 0x8000));

    tdx_td_hold_epoch_lock(f.td);
    ASSERT_STATUS(tdh_mem_track(f.td),
                  TDX_OPERAND_BUSY | TDX_OPERAND_ID_TD_EPOCH);
    g_assert_cmpuint(tdx_td_epoch(f.td), ==, 1);
    tdx_td_release_epoch_lock(f.td);
    ASSERT_OK(tdh_mem_track(f.td));
    g_assert_cmpuint(tdx_td_epoch(f.td), ==, 2);
    g_assert_cmpuint(tdx_td_counters(f.td)->busy[TDH_MEM_TRACK], ==, 1);
    fix_free(&f);
}

/* Life cycle. */

static void test_lifecycle(void)
{
    Fix f;
    uint64_t g = SZ_1G;
    tdx_pfn_t p, out;

    fix_init(&f, 48);
    p = aug_4k(&f, g);
    ASSERT_STATUS(tdh_vp_enter(f.td, f.vcpu), TDX_LIFECYCLE_STATE_INCORRECT);
    finalize(&f);
    ASSERT_OK(tdh_vp_enter(f.td, f.vcpu));
    ASSERT_STATUS(tdh_vp_enter(f.td, f.vcpu), TDX_VCPU_ASSOCIATED);
    ASSERT_STATUS(tdh_vp_enter(f.td, 3), TDX_OPERAND_INVALID | RCX);
    ASSERT_STATUS(tdh_vp_flush(f.td, f.vcpu), TDX_VCPU_ASSOCIATED);
    tdx_vp_exit(f.td, f.vcpu);

    /* RECLAIM only in TEARDOWN. */
    ASSERT_STATUS(tdh_phymem_page_reclaim(f.m, p),
                  TDX_LIFECYCLE_STATE_INCORRECT);
    ASSERT_STATUS(tdh_phymem_page_reclaim(f.m, f.tdr),
                  TDX_LIFECYCLE_STATE_INCORRECT);
    /* No key to write back yet. */
    ASSERT_STATUS(tdh_phymem_cache_wb(f.td, false),
                  TDX_NO_HKID_READY_TO_WBCACHE);
    ASSERT_STATUS(tdh_mng_key_freeid(f.td), TDX_LIFECYCLE_STATE_INCORRECT);
    ASSERT_STATUS(tdh_mng_vpflushdone(f.td), TDX_FLUSHVP_NOT_DONE);
    ASSERT_OK(tdh_vp_flush(f.td, f.vcpu));
    ASSERT_STATUS(tdh_vp_flush(f.td, f.vcpu), TDX_VCPU_NOT_ASSOCIATED);
    ASSERT_OK(tdh_mng_vpflushdone(f.td));
    g_assert_cmpint(tdx_td_state(f.td), ==, TD_STATE_BLOCKED);
    ASSERT_STATUS(tdh_mng_vpflushdone(f.td), TDX_LIFECYCLE_STATE_INCORRECT);

    /* BLOCKED: no entry, no new memory; taking memory away still works. */
    ASSERT_STATUS(tdh_vp_enter(f.td, f.vcpu), TDX_LIFECYCLE_STATE_INCORRECT);
    ASSERT_STATUS(tdh_mem_page_aug(f.td, g + SZ_4K, TDX_LEVEL_4K, 0x8000),
                  TDX_LIFECYCLE_STATE_INCORRECT);
    ASSERT_STATUS(tdh_mem_sept_add(f.td, 1ULL << 39, TDX_LEVEL_PML4, 0x8000),
                  TDX_LIFECYCLE_STATE_INCORRECT);
    block_track(&f, g, TDX_LEVEL_4K);
    ASSERT_OK(tdh_mem_page_remove(f.td, g, TDX_LEVEL_4K, &out));
    g_assert_cmphex(out, ==, p);

    ASSERT_STATUS(tdh_mng_key_freeid(f.td), TDX_WBCACHE_NOT_COMPLETE);
    ASSERT_OK(tdh_phymem_cache_wb(f.td, false));
    ASSERT_OK(tdh_mng_key_freeid(f.td));
    g_assert_cmpint(tdx_td_state(f.td), ==, TD_STATE_TEARDOWN);

    /* TEARDOWN: only RECLAIM. */
    ASSERT_STATUS(tdh_mem_range_block(f.td, g, TDX_LEVEL_2M),
                  TDX_LIFECYCLE_STATE_INCORRECT);
    ASSERT_STATUS(tdh_mem_track(f.td), TDX_LIFECYCLE_STATE_INCORRECT);
    ASSERT_STATUS(tdh_mng_key_freeid(f.td), TDX_LIFECYCLE_STATE_INCORRECT);
    ASSERT_STATUS(tdh_phymem_page_reclaim(f.m, f.tdr),
                  TDX_TD_ASSOCIATED_PAGES_EXIST);
    fix_free(&f);
}

/* Full teardown: everything comes back, in any order. */

static void test_teardown_full(void)
{
    Fix f;
    uint64_t g = SZ_1G;
    tdx_pfn_t big, demoted;
    unsigned n;
    uint64_t reclaims;

    fix_init(&f, 48);
    map_tables(&f, 0, TDX_LEVEL_4K);
    ASSERT_OK(tdh_mem_page_add(f.td, 0, pfn_4k(&f)));
    ASSERT_OK(tdh_mem_page_add(f.td, SZ_4K, pfn_4k(&f)));
    finalize(&f);
    for (int i = 0; i < 8; i++) {
        aug_4k(&f, g + i * SZ_4K);
    }
    big = aug_2m(&f, g + SZ_2M);
    demoted = aug_2m(&f, g + 2 * SZ_2M);
    block_track(&f, g + 2 * SZ_2M, TDX_LEVEL_2M);
    ASSERT_OK(tdh_mem_page_demote(f.td, g + 2 * SZ_2M, TDX_LEVEL_2M,
                                  pfn_4k(&f)));
    ASSERT_OK(tdh_vp_enter(f.td, f.vcpu));
    g_assert_cmpuint(check(&f), ==, 0);

    teardown_key(&f);
    g_assert_cmpuint(check(&f), ==, 0);
    /* Pages cannot be reclaimed through a pfn inside a 2M page. */
    ASSERT_STATUS(tdh_phymem_page_reclaim(f.m, big + 1),
                  TDX_OPERAND_INVALID | RCX);
    ASSERT_STATUS(tdh_phymem_page_reclaim(f.m, 0x80000),
                  TDX_PAGE_METADATA_INCORRECT | RCX);
    /*
     * An S-EPT page before its leaves: allowed once the key is gone.  The
     * first table map_tables() added (level-3 entry of GPA 0) came right
     * after TDR, 4 TDCS, TDVPR and 2 TDCX pages.
     */
    g_assert_cmpint(tdxmod_page_type(f.m, f.tdr + 8), ==, PT_SEPT);
    ASSERT_OK(tdh_phymem_page_reclaim(f.m, f.tdr + 8));
    ASSERT_STATUS(tdh_phymem_page_reclaim(f.m, f.tdr),
                  TDX_TD_ASSOCIATED_PAGES_EXIST);
    n = reclaim_all_but_tdr(&f, 0);
    /*
     * 4 TDCS + TDVPR + 2 TDCX; 3 tables for GPA 0, 2 more for 1G and the
     * demote's, less the one reclaimed above; 2 added, 8 AUGed 4K, one 2M
     * and 512 demoted 4K pages.
     */
    g_assert_cmpuint(n, ==, 7 + 5 + 2 + 8 + 1 + 512);
    g_assert_cmpint(tdxmod_page_type(f.m, demoted + 5), ==, PT_NDA);
    g_assert_cmpuint(tdxmod_pages_owned(f.m), ==, 1);
    ASSERT_OK(tdh_phymem_page_reclaim(f.m, f.tdr));
    ASSERT_OK(tdh_phymem_page_wbinvd(f.m, f.tdr));
    g_assert_cmpuint(tdxmod_pages_owned(f.m), ==, 0);
    g_assert_cmpint(tdxmod_page_type(f.m, f.tdr), ==, PT_NDA);

    /* The module's counters survive the TD. */
    reclaims = tdxmod_counters(f.m)->seamcalls[TDH_PHYMEM_PAGE_RECLAIM];
    g_assert_cmpuint(reclaims, ==, 4 + n + 1);
    g_assert_cmpuint(tdxmod_counters(f.m)->failed[TDH_PHYMEM_PAGE_RECLAIM], ==,
                     3);
    g_assert_cmpuint(tdxmod_counters(f.m)->seamcalls[TDH_PHYMEM_PAGE_WBINVD],
                     ==, 1);
    g_assert_cmpuint(tdxmod_counters(f.m)->seamcalls[TDH_MEM_PAGE_DEMOTE], ==,
                     1);
    fix_free(&f);
}

/* A page not reclaimed stays visible. */

static void test_leak(void)
{
    Fix f;
    tdx_pfn_t leaked;

    fix_init(&f, 48);
    finalize(&f);
    aug_4k(&f, SZ_1G);
    leaked = aug_4k(&f, SZ_1G + SZ_4K);
    teardown_key(&f);
    reclaim_all_but_tdr(&f, leaked);
    g_assert_cmpuint(tdxmod_pages_owned(f.m), ==, 2);
    g_assert_cmpint(tdxmod_page_type(f.m, leaked), ==, PT_REG);
    ASSERT_STATUS(tdh_phymem_page_reclaim(f.m, f.tdr),
                  TDX_TD_ASSOCIATED_PAGES_EXIST);
    ASSERT_OK(tdh_phymem_page_reclaim(f.m, leaked));
    ASSERT_OK(tdh_phymem_page_reclaim(f.m, f.tdr));
    g_assert_cmpuint(tdxmod_pages_owned(f.m), ==, 0);
    fix_free(&f);
}

/* Fault injection. */

/* after=N: the first N calls of the leaf pass, every later one is BUSY. */
static void test_inject_after(void)
{
    Fix f;
    struct tdx_inject_busy after2 = { .after_set = true, .after = 2 };
    uint64_t g = SZ_1G;

    fix_init(&f, 48);
    map_tables(&f, g, TDX_LEVEL_4K);
    tdxmod_inject_busy(f.m, TDH_MEM_PAGE_AUG, &after2);
    for (int i = 1; i <= 4; i++) {
        tdx_status_t s = tdh_mem_page_aug(f.td, g + i * SZ_4K, TDX_LEVEL_4K,
                                          pfn_4k(&f));

        if (i > 2) {
            ASSERT_STATUS(s, TDX_OPERAND_BUSY | TDX_OPERAND_ID_SEPT_TREE);
        } else {
            ASSERT_OK(s);
        }
    }
    g_assert_cmpuint(tdx_td_leaves(f.td, TDX_LEVEL_4K), ==, 2);
    fix_free(&f);
}

static void test_inject_every_nth(void)
{
    Fix f;
    struct tdx_inject_busy every3 = { .every_nth = 3 };
    const struct tdx_counters *c;
    uint64_t g = SZ_1G;

    fix_init(&f, 48);
    map_tables(&f, g, TDX_LEVEL_4K);
    tdxmod_inject_busy(f.m, TDH_MEM_PAGE_AUG, &every3);
    for (int i = 1; i <= 6; i++) {
        tdx_status_t s = tdh_mem_page_aug(f.td, g + i * SZ_4K, TDX_LEVEL_4K,
                                          pfn_4k(&f));

        if (i % 3 == 0) {
            ASSERT_STATUS(s, TDX_OPERAND_BUSY | TDX_OPERAND_ID_SEPT_TREE);
            g_assert_cmpint(leaf_state(&f, g + i * SZ_4K), ==, SEPT_FREE);
        } else {
            ASSERT_OK(s);
        }
    }
    /* Injection comes before the other checks (an invalid call too). */
    ASSERT_STATUS(tdh_mem_page_aug(f.td, 1, TDX_LEVEL_4K, 0),
                  TDX_OPERAND_INVALID | RCX);
    ASSERT_STATUS(tdh_mem_page_aug(f.td, 1, TDX_LEVEL_4K, 0),
                  TDX_OPERAND_INVALID | RCX);
    ASSERT_STATUS(tdh_mem_page_aug(f.td, 1, TDX_LEVEL_4K, 0),
                  TDX_OPERAND_BUSY | TDX_OPERAND_ID_SEPT_TREE);
    c = tdx_td_counters(f.td);
    g_assert_cmpuint(c->seamcalls[TDH_MEM_PAGE_AUG], ==, 9);
    g_assert_cmpuint(c->busy[TDH_MEM_PAGE_AUG], ==, 3);
    g_assert_cmpuint(c->failed[TDH_MEM_PAGE_AUG], ==, 5);
    g_assert_cmpuint(tdx_td_leaves(f.td, TDX_LEVEL_4K), ==, 4);
    tdxmod_inject_busy(f.m, TDH_MEM_PAGE_AUG, NULL);
    ASSERT_OK(tdh_mem_page_aug(f.td, g + 3 * SZ_4K, TDX_LEVEL_4K,
                               pfn_4k(&f)));

    /* The operand id is the lock the leaf takes. */
    every3.every_nth = 1;
    tdxmod_inject_busy(f.m, TDH_MEM_TRACK, &every3);
    ASSERT_STATUS(tdh_mem_track(f.td),
                  TDX_OPERAND_BUSY | TDX_OPERAND_ID_TD_EPOCH);
    g_assert_cmpuint(tdx_td_epoch(f.td), ==, 1);
    tdxmod_inject_busy(f.m, TDH_MEM_PAGE_ADD, &every3);
    ASSERT_STATUS(tdh_mem_page_add(f.td, g, pfn_4k(&f)),
                  TDX_OPERAND_BUSY | TDX_OPERAND_ID_TDR);
    g_assert_cmpint(leaf_state(&f, g), ==, SEPT_FREE);
    tdxmod_inject_busy(f.m, TDH_PHYMEM_PAGE_RECLAIM, &every3);
    ASSERT_STATUS(tdh_phymem_page_reclaim(f.m, f.tdr),
                  TDX_OPERAND_BUSY | RCX);
    g_assert_cmpuint(tdx_td_counters(f.td)->busy[TDH_PHYMEM_PAGE_RECLAIM], ==,
                     1);
    g_assert_cmpuint(check(&f), ==, 0);
    fix_free(&f);
}

/* 200 TRACKs with BUSY probability 0.5: the pattern of failures. */
static void busy_pattern(uint64_t seed, char *pattern, size_t n)
{
    Fix f;
    struct tdx_inject_busy half = { .probability = 0.5 };

    fix_init_seed(&f, 48, seed);
    tdxmod_inject_busy(f.m, TDH_MEM_TRACK, &half);
    for (size_t i = 0; i < n; i++) {
        tdx_status_t s = tdh_mem_track(f.td);

        g_assert(s == TDX_SUCCESS ||
                 s == (TDX_OPERAND_BUSY | TDX_OPERAND_ID_TD_EPOCH));
        pattern[i] = s ? 'B' : '.';
    }
    pattern[n] = '\0';
    fix_free(&f);
}

static void test_inject_probability(void)
{
    char a[201], b[201], c[201];
    unsigned busy = 0;

    busy_pattern(42, a, 200);
    busy_pattern(42, b, 200);
    busy_pattern(43, c, 200);
    g_assert_cmpstr(a, ==, b);
    g_assert_cmpstr(a, !=, c);
    for (int i = 0; i < 200; i++) {
        busy += a[i] == 'B';
    }
    g_assert_cmpuint(busy, >, 60);
    g_assert_cmpuint(busy, <, 140);
}

/* Counters and the time estimate. */

static void test_counters_cost(void)
{
    Fix f;
    struct tdx_cost_table t = { .cpu_mhz = 1000 };
    const struct tdx_counters *c, *mc;
    uint64_t g = SZ_1G;

    fix_init(&f, 48);
    g_assert_cmpuint(tdxmod_cost_table(f.m)->cpu_mhz, ==, 2000);
    g_assert_cmpuint(tdxmod_cost_table(f.m)->cycles[TDH_MEM_PAGE_AUG], ==,
                     10000);
    g_assert_cmpuint(tdxmod_cost_table(f.m)->cycles[TDH_MEM_PAGE_ADD], ==,
                     15000);
    t.cycles[TDH_MEM_PAGE_AUG] = 1000;
    t.aug_2m_cycles = 3000;
    t.cycles[TDH_MEM_SEPT_ADD] = 500;
    t.accept_cycles[0] = 200;
    t.accept_cycles[1] = 7000;
    tdxmod_set_cost_table(f.m, &t);
    g_assert_cmpuint(tdxmod_estimated_ns(f.m), ==, 0);

    map_tables(&f, g, TDX_LEVEL_4K);                /* 3 SEPT.ADD */
    ASSERT_OK(tdh_mem_page_aug(f.td, g, TDX_LEVEL_4K, pfn_4k(&f)));
    ASSERT_OK(tdh_mem_page_aug(f.td, g + SZ_4K, TDX_LEVEL_4K, pfn_4k(&f)));
    ASSERT_STATUS(tdh_mem_page_aug(f.td, g, TDX_LEVEL_4K, pfn_4k(&f)),
                  TDX_EPT_ENTRY_STATE_INCORRECT | RCX);     /* counted, costed */
    ASSERT_OK(tdh_mem_page_aug(f.td, g + SZ_2M, TDX_LEVEL_2M, pfn_2m(&f)));
    finalize(&f);
    ASSERT_OK(tdh_vp_enter(f.td, f.vcpu));
    ASSERT_OK(tdg_mem_page_accept(f.td, f.vcpu, g, TDX_LEVEL_4K));
    ASSERT_OK(tdg_mem_page_accept(f.td, f.vcpu, g + SZ_4K, TDX_LEVEL_4K));
    ASSERT_OK(tdg_mem_page_accept(f.td, f.vcpu, g + SZ_2M, TDX_LEVEL_2M));
    tdx_vp_exit(f.td, f.vcpu);

    c = tdx_td_counters(f.td);
    mc = tdxmod_counters(f.m);
    g_assert_cmpuint(c->seamcalls[TDH_MEM_SEPT_ADD], ==, 3);
    g_assert_cmpuint(c->seamcalls[TDH_MEM_PAGE_AUG], ==, 4);
    g_assert_cmpuint(c->failed[TDH_MEM_PAGE_AUG], ==, 1);
    g_assert_cmpuint(c->busy[TDH_MEM_PAGE_AUG], ==, 0);
    g_assert_cmpuint(c->aug_2m, ==, 1);
    g_assert_cmpuint(c->accepts, ==, 3);
    g_assert_cmpuint(c->accepts_2m, ==, 1);
    g_assert_cmpuint(c->seamcalls[TDH_VP_ENTER], ==, 1);
    g_assert_cmpuint(c->seamcalls[TDH_MR_FINALIZE], ==, 1);
    g_assert_cmpmem(c, sizeof(*c), mc, sizeof(*mc));
    /* 3*500 + 3*1000 + 3000 + 2*200 + 7000 cycles at 1000 MHz. */
    g_assert_cmpuint(tdxmod_estimated_ns(f.m), ==, 14900);
    g_assert_cmpuint(tdx_counters_estimated_ns(c, tdxmod_cost_table(f.m)), ==,
                     14900);
    g_assert_true(tdxmod_parse_cost_overrides(f.m, "CPU_MHZ=2000"));
    g_assert_cmpuint(tdxmod_estimated_ns(f.m), ==, 7450);
    fix_free(&f);
}

static void test_cost_overrides(void)
{
    struct tdxmod *m = tdxmod_new(0);
    const struct tdx_cost_table *t = tdxmod_cost_table(m);

    g_assert_true(tdxmod_parse_cost_overrides(m,
                                              "TDH.MEM.PAGE.AUG=12000,29=8000"));
    g_assert_cmpuint(t->cycles[TDH_MEM_PAGE_AUG], ==, 12000);
    g_assert_cmpuint(t->cycles[TDH_MEM_PAGE_REMOVE], ==, 8000);
    g_assert_true(tdxmod_parse_cost_overrides(m,
        " tdh.mem.track = 0x10 , CPU_MHZ=3000,TDG.MEM.PAGE.ACCEPT.2M=5,"
        "TDH.MEM.PAGE.AUG.2M=7, TDG.MEM.PAGE.ACCEPT=9,"));
    g_assert_cmpuint(t->cycles[TDH_MEM_TRACK], ==, 16);
    g_assert_cmpuint(t->cpu_mhz, ==, 3000);
    g_assert_cmpuint(t->accept_cycles[1], ==, 5);
    g_assert_cmpuint(t->aug_2m_cycles, ==, 7);
    g_assert_cmpuint(t->accept_cycles[0], ==, 9);
    g_assert_cmpuint(t->cycles[TDH_MEM_PAGE_AUG], ==, 12000);

    /* Errors change nothing, even after a good item. */
    g_assert_false(tdxmod_parse_cost_overrides(m, "6=1,TDH.NOPE=2"));
    g_assert_cmpuint(t->cycles[TDH_MEM_PAGE_AUG], ==, 12000);
    g_assert_false(tdxmod_parse_cost_overrides(m, "6=abc"));
    g_assert_false(tdxmod_parse_cost_overrides(m, "6=-5"));
    g_assert_false(tdxmod_parse_cost_overrides(m, "64=1"));
    g_assert_false(tdxmod_parse_cost_overrides(m, "TDH.MEM.PAGE.AUG"));
    g_assert_false(tdxmod_parse_cost_overrides(m, "CPU_MHZ=0"));
    g_assert_false(tdxmod_parse_cost_overrides(m, "6=1,,7=2"));
    g_assert_false(tdxmod_parse_cost_overrides(m, NULL));
    g_assert_cmpuint(t->cycles[TDH_MEM_PAGE_AUG], ==, 12000);
    g_assert_cmpuint(t->cycles[TDH_MEM_RANGE_BLOCK], ==, 6000);
    tdxmod_free(m);
}

/* GPAW 52: 5-level S-EPT, shared bit 51. */

static void test_five_level(void)
{
    Fix f, f4;
    struct tdx_sept_leaf_info info;
    uint64_t g = 1ULL << 50;            /* beyond a 4-level TD's reach */
    tdx_pfn_t p, out;

    fix_init(&f, 52);
    g_assert_cmpuint(tdx_td_levels(f.td), ==, 5);
    g_assert_cmphex(tdx_td_shared_bit(f.td), ==, 1ULL << 51);
    ASSERT_STATUS(tdh_mem_page_aug(f.td, g, TDX_LEVEL_4K, 0x8000),
                  TDX_EPT_WALK_FAILED | RCX);
    ASSERT_STATUS(tdh_mem_sept_add(f.td, g, TDX_LEVEL_PML4, 0x8000),
                  TDX_EPT_WALK_FAILED | RCX);
    p = aug_4k(&f, g);
    for (int l = 0; l < 4; l++) {
        g_assert_cmpuint(tdx_td_sept_pages(f.td, l), ==, 1);
    }
    g_assert_true(tdx_td_lookup(f.td, g, &info));
    g_assert_cmphex(info.pfn, ==, p);
    ASSERT_STATUS(tdh_mem_page_aug(f.td, g | (1ULL << 51), TDX_LEVEL_4K,
                                   0x8000),
                  TDX_OPERAND_INVALID | RCX);
    ASSERT_STATUS(tdh_mem_sept_add(f.td, 0, 5, 0x8000),
                  TDX_OPERAND_INVALID | RCX);
    finalize(&f);
    block_track(&f, g, TDX_LEVEL_PML5 - 1);     /* a level-3 entry */
    block_track(&f, g, TDX_LEVEL_4K);
    ASSERT_OK(tdh_mem_page_remove(f.td, g, TDX_LEVEL_4K, &out));
    g_assert_cmphex(out, ==, p);
    g_assert_cmpuint(check(&f), ==, 0);
    fix_free(&f);

    /* The same GPA is past the shared bit of a 4-level TD. */
    fix_init(&f4, 48);
    ASSERT_STATUS(tdh_mem_sept_add(f4.td, g, TDX_LEVEL_PML4, 0x8000),
                  TDX_OPERAND_INVALID | RCX);
    ASSERT_STATUS(tdh_mem_sept_add(f4.td, 0, TDX_LEVEL_PML5, 0x8000),
                  TDX_OPERAND_INVALID | RCX);
    fix_free(&f4);
}

/* Inspection and the self-check. */

struct visit {
    uint64_t last_gpa;
    unsigned n;
    unsigned stop_after;
};

static bool visit_leaf(const struct tdx_sept_leaf_info *info, void *opaque)
{
    struct visit *v = opaque;

    g_assert(v->n == 0 || info->gpa > v->last_gpa);
    v->last_gpa = info->gpa;
    v->n++;
    return v->n != v->stop_after;
}

static void count_report(const char *msg, void *opaque)
{
    g_assert_nonnull(msg);
    (*(unsigned *)opaque)++;
}

static void test_check(void)
{
    Fix f;
    struct tdx_sept_leaf_info info;
    struct visit v = { 0 };
    uint64_t g = SZ_1G;
    unsigned reports = 0;
    struct sept_node *pt;
    tdx_pfn_t p;

    fix_init(&f, 48);
    map_tables(&f, 0, TDX_LEVEL_4K);
    ASSERT_OK(tdh_mem_page_add(f.td, 0, pfn_4k(&f)));
    finalize(&f);
    for (int i = 0; i < 5; i++) {
        aug_4k(&f, g + (4 - i) * SZ_4K);
    }
    aug_2m(&f, g + 3 * SZ_2M);
    aug_2m(&f, 5 * SZ_1G);
    block_track(&f, g + 3 * SZ_2M, TDX_LEVEL_2M);
    ASSERT_OK(tdh_mem_page_demote(f.td, g + 3 * SZ_2M, TDX_LEVEL_2M,
                                  pfn_4k(&f)));
    g_assert_cmpuint(tdx_td_check(f.td, count_report, &reports), ==, 0);
    g_assert_cmpuint(reports, ==, 0);

    tdx_td_for_each_leaf(f.td, visit_leaf, &v);
    g_assert_cmpuint(v.n, ==, 1 + 5 + 512 + 1);
    g_assert_cmphex(v.last_gpa, ==, 5 * SZ_1G);
    memset(&v, 0, sizeof(v));
    v.stop_after = 3;
    tdx_td_for_each_leaf(f.td, visit_leaf, &v);
    g_assert_cmpuint(v.n, ==, 3);

    g_assert_false(tdx_td_lookup(f.td, g + 5 * SZ_4K, &info));
    g_assert_cmpint(info.state, ==, SEPT_FREE);
    g_assert_cmpint(info.level, ==, TDX_LEVEL_4K);
    g_assert_false(tdx_td_lookup(f.td, 9 * SZ_1G, &info));
    g_assert_cmpint(info.level, ==, TDX_LEVEL_1G);
    g_assert_cmphex(info.gpa, ==, 9 * SZ_1G);

    /* Corrupt a cached count: one violation, reported. */
    f.td->leaves[TDX_LEVEL_4K]++;
    g_assert_cmpuint(tdx_td_check(f.td, count_report, &reports), ==, 1);
    g_assert_cmpuint(reports, ==, 1);
    f.td->leaves[TDX_LEVEL_4K]--;
    /* Drop a mapped page from the PAMT: the tree and the PAMT disagree. */
    g_assert_true(tdx_td_lookup(f.td, g, &info));
    p = info.pfn;
    tdx_pamt_clear(f.m, p);
    g_assert_cmpuint(tdx_td_check(f.td, NULL, NULL), ==, 2);
    tdx_pamt_set(f.m, p, f.td, PT_REG, TDX_LEVEL_4K);
    /* Map one host page twice (GPA 1G + 4K: indexes 0, 1, 0, 1). */
    g_assert_true(tdx_td_lookup(f.td, g + SZ_4K, &info));
    pt = f.td->root->e[0].child->e[1].child->e[0].child;
    g_assert_cmphex(pt->e[1].pfn, ==, info.pfn);
    pt->e[1].pfn = p;
    g_assert_cmpuint(tdx_td_check(f.td, NULL, NULL), ==, 1);
    pt->e[1].pfn = info.pfn;
    g_assert_cmpuint(check(&f), ==, 0);
    fix_free(&f);
}

/* A large-ish TD: 64 MiB in 4K pages, removed again. */

static void test_scale(void)
{
    Fix f;
    uint64_t n = 16384, g = 4 * SZ_1G;

    fix_init(&f, 48);
    finalize(&f);
    for (uint64_t i = 0; i < n; i++) {
        if (!(i % 512)) {
            map_tables(&f, g + i * SZ_4K, TDX_LEVEL_4K);
        }
        ASSERT_OK(tdh_mem_page_aug(f.td, g + i * SZ_4K, TDX_LEVEL_4K,
                                   pfn_4k(&f)));
    }
    g_assert_cmpuint(tdx_td_leaves(f.td, TDX_LEVEL_4K), ==, n);
    g_assert_cmpuint(tdx_td_sept_pages(f.td, TDX_LEVEL_4K), ==, n / 512);
    g_assert_cmpuint(check(&f), ==, 0);
    for (uint64_t i = 0; i < n; i++) {
        ASSERT_OK(tdh_mem_range_block(f.td, g + i * SZ_4K, TDX_LEVEL_4K));
    }
    ASSERT_OK(tdh_mem_track(f.td));
    for (uint64_t i = 0; i < n; i++) {
        ASSERT_OK(tdh_mem_page_remove(f.td, g + i * SZ_4K, TDX_LEVEL_4K,
                                      NULL));
    }
    g_assert_cmpuint(tdx_td_leaves(f.td, TDX_LEVEL_4K), ==, 0);
    g_assert_cmpuint(check(&f), ==, 0);
    fix_free(&f);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/tdxmod/names", test_names);
    g_test_add_func("/tdxmod/create", test_create);
    g_test_add_func("/tdxmod/sept-add", test_sept_add);
    g_test_add_func("/tdxmod/aug", test_aug);
    g_test_add_func("/tdxmod/build-time", test_build_time);
    g_test_add_func("/tdxmod/remove-runnable", test_remove_runnable);
    g_test_add_func("/tdxmod/remove-build", test_remove_build);
    g_test_add_func("/tdxmod/track-epochs", test_track_epochs);
    g_test_add_func("/tdxmod/block", test_block);
    g_test_add_func("/tdxmod/unblock", test_unblock);
    g_test_add_func("/tdxmod/sept-remove", test_sept_remove);
    g_test_add_func("/tdxmod/sept-remove-build", test_sept_remove_build);
    g_test_add_func("/tdxmod/demote-promote", test_demote_promote);
    g_test_add_func("/tdxmod/demote-pending-build", test_demote_pending_build);
    g_test_add_func("/tdxmod/promote-invalid", test_promote_invalid);
    g_test_add_func("/tdxmod/accept", test_accept);
    g_test_add_func("/tdxmod/tree-lock", test_tree_lock);
    g_test_add_func("/tdxmod/entry-epoch-lock", test_entry_and_epoch_lock);
    g_test_add_func("/tdxmod/contention-threads", test_contention_threads);
    g_test_add_func("/tdxmod/lifecycle", test_lifecycle);
    g_test_add_func("/tdxmod/teardown-full", test_teardown_full);
    g_test_add_func("/tdxmod/leak", test_leak);
    g_test_add_func("/tdxmod/inject-every-nth", test_inject_every_nth);
    g_test_add_func("/tdxmod/inject-after", test_inject_after);
    g_test_add_func("/tdxmod/inject-probability", test_inject_probability);
    g_test_add_func("/tdxmod/counters-cost", test_counters_cost);
    g_test_add_func("/tdxmod/cost-overrides", test_cost_overrides);
    g_test_add_func("/tdxmod/five-level", test_five_level);
    g_test_add_func("/tdxmod/check", test_check);
    g_test_add_func("/tdxmod/scale", test_scale);
    return g_test_run();
}
