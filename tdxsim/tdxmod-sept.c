/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * tdxsim: the Secure-EPT of a TD -- radix tree, the S-EPT SEAMCALLs
 * (PAGE.ADD, SEPT.ADD, PAGE.AUG, RANGE.BLOCK/UNBLOCK, PAGE.REMOVE,
 * SEPT.REMOVE, PAGE.DEMOTE/PROMOTE), the guest's TDG.MEM.PAGE.ACCEPT,
 * read-only inspection and the structural self-check.
 *
 * Levels follow KVM's use of the API: `level` names the S-EPT entry the call
 * works on.  SEPT.ADD(gpa, 1, page) installs the page that holds the 4K
 * leaves into the level-1 entry covering gpa; AUG(gpa, 1) maps a 2M leaf.
 * The root table (entries at level levels-1) is part of the TDCS.
 *
 * Order of checks, as in the TDX module 1.5 handlers: life cycle, operand
 * checks (OPERAND_INVALID | RCX), the tree try-lock (BUSY | SEPT_TREE), the
 * walk to the entry at `level` (EPT_WALK_FAILED | RCX when a FREE entry or a
 * leaf above `level` stops it), the entry's host lock, then the entry state,
 * then block/track, then the host page (OPERAND_INVALID | R8).
 *
 * Entry-state errors (tdx-facts.md names the rule, not always the code):
 *  - PAGE.ADD, SEPT.ADD, PAGE.AUG on an entry that is not FREE, PROMOTE
 *    on an entry that is not a non-leaf:    EPT_ENTRY_STATE_INCORRECT | RCX
 *    (module 1.5 tdh_mem_page_add.c, tdh_mem_sept_add.c, tdh_mem_page_aug.c,
 *    tdh_mem_page_promote.c: !sept_state_is_seamcall_leaf_allowed())
 *  - entry must be present but is FREE:      EPT_ENTRY_FREE | RCX
 *  - leaf required, non-leaf found:          EPT_ENTRY_NOT_LEAF | RCX
 *  - non-leaf required, leaf found (SEPT.REMOVE): EPT_ENTRY_LEAF | RCX
 *  - BLOCK on a blocked entry:               GPA_RANGE_ALREADY_BLOCKED | RCX
 *  - blocked entry required:                 GPA_RANGE_NOT_BLOCKED | RCX
 *  - block epoch not tracked yet:            TLB_TRACKING_NOT_DONE | RCX
 * The module reports all of these with operand id RCX (the GPA operand).
 * An entry whose host lock is held: OPERAND_BUSY | RCX (module 1.5
 * sept_lock_acquire_host() returns TDX_OPERAND_BUSY, which every caller
 * reports with api_error_with_operand_id(..., OPERAND_ID_RCX)).
 */
#include <inttypes.h>
#include <stdarg.h>
#include <string.h>

#include "tdxmod-int.h"

static inline unsigned sept_index(uint64_t gpa, int level)
{
    return (gpa >> (12 + 9 * level)) & (SEPT_ENTRIES - 1);
}

static bool state_is_leaf(uint8_t s)
{
    return s == SEPT_MAPPED || s == SEPT_BLOCKED || s == SEPT_PENDING ||
           s == SEPT_PENDING_BLOCKED;
}

static bool state_is_nl(uint8_t s)
{
    return s == SEPT_NL_MAPPED || s == SEPT_NL_BLOCKED;
}

static bool state_is_blocked(uint8_t s)
{
    return s == SEPT_NL_BLOCKED || s == SEPT_BLOCKED ||
           s == SEPT_PENDING_BLOCKED;
}

/* RANGE.BLOCK: NL_MAPPED/MAPPED/PENDING -> *_BLOCKED (tdx-facts.md). */
static uint8_t state_block(uint8_t s)
{
    switch (s) {
    case SEPT_NL_MAPPED:
        return SEPT_NL_BLOCKED;
    case SEPT_MAPPED:
        return SEPT_BLOCKED;
    case SEPT_PENDING:
        return SEPT_PENDING_BLOCKED;
    default:
        return s;
    }
}

static uint8_t state_unblock(uint8_t s)
{
    switch (s) {
    case SEPT_NL_BLOCKED:
        return SEPT_NL_MAPPED;
    case SEPT_BLOCKED:
        return SEPT_MAPPED;
    case SEPT_PENDING_BLOCKED:
        return SEPT_PENDING;
    default:
        return s;
    }
}

struct sept_node *tdx_sept_node_new(tdx_pfn_t pfn, int level)
{
    struct sept_node *n = g_malloc0(sizeof(*n));

    n->pfn = pfn;
    n->level = level;
    return n;
}

void tdx_sept_tree_free(struct sept_node *n)
{
    if (!n) {
        return;
    }
    if (n->level > 0) {
        for (unsigned i = 0; i < SEPT_ENTRIES; i++) {
            if (state_is_nl(n->e[i].state)) {
                tdx_sept_tree_free(n->e[i].child);
            }
        }
    }
    g_free(n);
}

struct sept_walk {
    struct sept_node *node;     /* S-EPT page holding e */
    struct sept_entry *e;       /* last entry visited */
    int level;                  /* its level */
};

/*
 * Walk from the root towards the entry at level covering gpa.  Returns true
 * if that entry was reached; false if a FREE entry or a leaf above level
 * stopped the walk (w describes it).  SEAMCALL walks go through NL_BLOCKED
 * entries (the S-EPT page is still there); the guest's walk does not (a
 * blocked entry is not present to the CPU).
 */
static bool sept_walk(const struct tdx_td *td, uint64_t gpa, int level,
                      bool guest, struct sept_walk *w)
{
    struct sept_node *n = td->root;
    int l = td->levels - 1;

    for (;;) {
        struct sept_entry *e = &n->e[sept_index(gpa, l)];

        w->node = n;
        w->e = e;
        w->level = l;
        if (l == level) {
            return true;
        }
        if (e->state == SEPT_NL_MAPPED ||
            (!guest && e->state == SEPT_NL_BLOCKED)) {
            n = e->child;
            l--;
            continue;
        }
        return false;
    }
}

enum tree_lock {
    TREE_LOCK_NONE,         /* PAGE.ADD: covered by the exclusive TDR lock */
    TREE_LOCK_SHARED,
    TREE_LOCK_EXCLUSIVE,
};

/*
 * Front half shared by the S-EPT leaves (see the top of this file): returns
 * TDX_SUCCESS with w on the target entry, or the status to fail with.  The
 * tree and entry try-locks are held until the call ends (tdxmod-lock.c;
 * tdx-facts.md: "shared for AUG, SEPT.ADD, PAGE.REMOVE, DEMOTE, PROMOTE;
 * exclusive for RANGE.BLOCK, SEPT.REMOVE, UNBLOCK").
 */
static tdx_status_t sept_locate(struct tdx_td *td, enum tdx_leaf leaf,
                                uint64_t gpa, int level, int min_level,
                                int max_level, enum tree_lock lock,
                                struct sept_walk *w)
{
    tdx_status_t s = tdx_td_state_check(td, leaf);

    if (s) {
        return s;
    }
    if (level < min_level || level > max_level ||
        gpa >= tdx_td_shared_bit(td) ||
        (gpa & (tdx_level_size(level) - 1))) {
        return TDX_OPERAND_INVALID | TDX_OPERAND_ID_RCX;
    }
    if (lock != TREE_LOCK_NONE &&
        !tdx_try_tree_lock(td, lock == TREE_LOCK_EXCLUSIVE)) {
        return TDX_OPERAND_BUSY | TDX_OPERAND_ID_SEPT_TREE;
    }
    if (!sept_walk(td, gpa, level, false, w)) {
        return TDX_EPT_WALK_FAILED | TDX_OPERAND_ID_RCX;
    }
    return tdx_try_entry_lock(td, gpa, level, false);
}

/*
 * On a runnable TD an entry must be blocked, and its block epoch tracked,
 * before REMOVE / SEPT.REMOVE / DEMOTE / PROMOTE (tdx-facts.md); before
 * MR.FINALIZE no vCPU can hold translations, so neither is needed.
 */
static tdx_status_t check_blocked_tracked(const struct tdx_td *td,
                                          const struct sept_entry *e)
{
    if (!tdx_td_finalized(td)) {
        return TDX_SUCCESS;
    }
    if (!state_is_blocked(e->state)) {
        return TDX_GPA_RANGE_NOT_BLOCKED | TDX_OPERAND_ID_RCX;
    }
    if (!tdx_td_tracked(td, e->bepoch)) {
        return TDX_TLB_TRACKING_NOT_DONE | TDX_OPERAND_ID_RCX;
    }
    return TDX_SUCCESS;
}

/*
 * Tree bookkeeping.  Every change of an entry between FREE, non-leaf and
 * leaf goes through entry_set() / entry_free(), which keep the S-EPT
 * page's nr_present and the TD's tree_* totals (what a walk would count);
 * the SEAMCALLs keep leaves[] and sept_pages[] themselves.  Both checks
 * compare them (tdx_td_check() against a recount too).
 */
static void entry_account(struct tdx_td *td, const struct sept_node *n,
                          uint8_t state, int delta)
{
    if (state_is_leaf(state) && n->level <= TDX_LEVEL_2M) {
        td->tree_leaves[n->level] += delta;
    } else if (state_is_nl(state) && n->level > TDX_LEVEL_4K) {
        td->tree_sept_pages[n->level - 1] += delta;
    }
}

static void entry_set(struct tdx_td *td, struct sept_node *n,
                      struct sept_entry *e, tdx_pfn_t pfn, uint8_t state)
{
    if (e->state == SEPT_FREE) {
        n->nr_present++;
    } else {
        entry_account(td, n, e->state, -1);
    }
    entry_account(td, n, state, 1);
    e->pfn = pfn;
    e->bepoch = 0;
    e->state = state;
}

static void entry_free(struct tdx_td *td, struct sept_node *n,
                       struct sept_entry *e)
{
    if (e->state != SEPT_FREE) {
        n->nr_present--;
        entry_account(td, n, e->state, -1);
    }
    e->pfn = 0;
    e->bepoch = 0;
    e->state = SEPT_FREE;
}

static void sept_pages_inc(struct tdx_td *td, int level)
{
    if (++td->sept_pages[level] > td->sept_pages_peak[level]) {
        td->sept_pages_peak[level] = td->sept_pages[level];
    }
}

/* Make e (at level) a non-leaf entry pointing to the new page child. */
static void entry_link(struct tdx_td *td, struct sept_node *n,
                       struct sept_entry *e, struct sept_node *child)
{
    entry_set(td, n, e, 0, SEPT_NL_MAPPED);
    e->child = child;
    tdx_pamt_set(td->m, child->pfn, td, PT_SEPT, TDX_LEVEL_4K);
    sept_pages_inc(td, child->level);
}

/* SEPT.ADD: FREE -> NL_MAPPED with a new (empty) S-EPT page. */
static tdx_status_t do_sept_add(struct tdx_td *td, uint64_t gpa, int level,
                                tdx_pfn_t sept_pfn)
{
    struct sept_walk w;
    tdx_status_t s = sept_locate(td, TDH_MEM_SEPT_ADD, gpa, level, 1,
                                 td->levels - 1, TREE_LOCK_SHARED, &w);

    if (s) {
        return s;
    }
    if (w.e->state != SEPT_FREE) {
        return TDX_EPT_ENTRY_STATE_INCORRECT | TDX_OPERAND_ID_RCX;
    }
    if (!tdx_pamt_range_free(td->m, sept_pfn, TDX_LEVEL_4K)) {
        return TDX_OPERAND_INVALID | TDX_OPERAND_ID_R8;
    }
    entry_link(td, w.node, w.e, tdx_sept_node_new(sept_pfn, level - 1));
    return TDX_SUCCESS;
}

tdx_status_t tdh_mem_sept_add(struct tdx_td *td, uint64_t gpa,
                              enum tdx_level level, tdx_pfn_t sept_pfn)
{
    tdx_status_t s = tdx_call_begin(td->m, TDH_MEM_SEPT_ADD);

    return tdx_call_end(td->m, td, TDH_MEM_SEPT_ADD,
                       s ? s : do_sept_add(td, gpa, level, sept_pfn));
}

/*
 * Map a private page as a new leaf: PAGE.ADD (4K, FREE -> MAPPED) and
 * PAGE.AUG (4K or 2M, FREE -> PENDING).  The host page (a 512-aligned run
 * for 2M) must not belong to any TD: OPERAND_INVALID | R8 otherwise (R8 is
 * the page operand of both leaves).
 */
static tdx_status_t map_leaf(struct tdx_td *td, enum tdx_leaf leaf,
                             uint64_t gpa, int level, tdx_pfn_t pfn,
                             uint8_t state, int max_level, enum tree_lock lock)
{
    struct sept_walk w;
    tdx_status_t s = sept_locate(td, leaf, gpa, level, TDX_LEVEL_4K,
                                 max_level, lock, &w);

    if (s) {
        return s;
    }
    if (w.e->state != SEPT_FREE) {
        return TDX_EPT_ENTRY_STATE_INCORRECT | TDX_OPERAND_ID_RCX;
    }
    if ((pfn & (tdx_level_pages(level) - 1)) ||
        !tdx_pamt_range_free(td->m, pfn, level)) {
        return TDX_OPERAND_INVALID | TDX_OPERAND_ID_R8;
    }
    entry_set(td, w.node, w.e, pfn, state);
    td->leaves[level]++;
    tdx_pamt_set(td->m, pfn, td, PT_REG, level);
    return TDX_SUCCESS;
}

/*
 * PAGE.ADD before MR.FINALIZE only; afterwards the module's op_state check
 * answers OP_STATE_INCORRECT (tdx_td_state_check()).
 */
tdx_status_t tdh_mem_page_add(struct tdx_td *td, uint64_t gpa, tdx_pfn_t pfn)
{
    tdx_status_t s = tdx_call_begin(td->m, TDH_MEM_PAGE_ADD);

    if (!s) {
        s = map_leaf(td, TDH_MEM_PAGE_ADD, gpa, TDX_LEVEL_4K, pfn,
                     SEPT_MAPPED, TDX_LEVEL_4K, TREE_LOCK_NONE);
    }
    return tdx_call_end(td->m, td, TDH_MEM_PAGE_ADD, s);
}

tdx_status_t tdh_mem_page_aug(struct tdx_td *td, uint64_t gpa,
                              enum tdx_level level, tdx_pfn_t pfn)
{
    tdx_status_t s = tdx_call_begin(td->m, TDH_MEM_PAGE_AUG);

    if (level == TDX_LEVEL_2M) {
        tdx_account_count(td->m, td, offsetof(struct tdx_counters, aug_2m));
    }
    if (!s) {
        s = map_leaf(td, TDH_MEM_PAGE_AUG, gpa, level, pfn, SEPT_PENDING,
                     TDX_LEVEL_2M, TREE_LOCK_SHARED);
    }
    return tdx_call_end(td->m, td, TDH_MEM_PAGE_AUG, s);
}

/* RANGE.BLOCK: any present entry at any level, stamps the TD epoch. */
static tdx_status_t do_range_block(struct tdx_td *td, uint64_t gpa, int level)
{
    struct sept_walk w;
    tdx_status_t s = sept_locate(td, TDH_MEM_RANGE_BLOCK, gpa, level,
                                 TDX_LEVEL_4K, td->levels - 1,
                                 TREE_LOCK_EXCLUSIVE, &w);

    if (s) {
        return s;
    }
    if (w.e->state == SEPT_FREE) {
        return TDX_EPT_ENTRY_FREE | TDX_OPERAND_ID_RCX;
    }
    if (state_is_blocked(w.e->state)) {
        return TDX_GPA_RANGE_ALREADY_BLOCKED | TDX_OPERAND_ID_RCX;
    }
    w.e->state = state_block(w.e->state);
    w.e->bepoch = td->epoch;
    return TDX_SUCCESS;
}

tdx_status_t tdh_mem_range_block(struct tdx_td *td, uint64_t gpa,
                                 enum tdx_level level)
{
    tdx_status_t s = tdx_call_begin(td->m, TDH_MEM_RANGE_BLOCK);

    return tdx_call_end(td->m, td, TDH_MEM_RANGE_BLOCK,
                       s ? s : do_range_block(td, gpa, level));
}

/* RANGE.UNBLOCK: *_BLOCKED -> unblocked, once the block epoch is tracked. */
static tdx_status_t do_range_unblock(struct tdx_td *td, uint64_t gpa,
                                     int level)
{
    struct sept_walk w;
    tdx_status_t s = sept_locate(td, TDH_MEM_RANGE_UNBLOCK, gpa, level,
                                 TDX_LEVEL_4K, td->levels - 1,
                                 TREE_LOCK_EXCLUSIVE, &w);

    if (s) {
        return s;
    }
    if (w.e->state == SEPT_FREE) {
        return TDX_EPT_ENTRY_FREE | TDX_OPERAND_ID_RCX;
    }
    if (!state_is_blocked(w.e->state)) {
        return TDX_GPA_RANGE_NOT_BLOCKED | TDX_OPERAND_ID_RCX;
    }
    if (!tdx_td_tracked(td, w.e->bepoch)) {
        return TDX_TLB_TRACKING_NOT_DONE | TDX_OPERAND_ID_RCX;
    }
    w.e->state = state_unblock(w.e->state);
    w.e->bepoch = 0;
    return TDX_SUCCESS;
}

tdx_status_t tdh_mem_range_unblock(struct tdx_td *td, uint64_t gpa,
                                   enum tdx_level level)
{
    tdx_status_t s = tdx_call_begin(td->m, TDH_MEM_RANGE_UNBLOCK);

    return tdx_call_end(td->m, td, TDH_MEM_RANGE_UNBLOCK,
                       s ? s : do_range_unblock(td, gpa, level));
}

/*
 * PAGE.REMOVE: leaf -> FREE; the host page leaves the TD (PAMT: free).
 * Levels 0..2 are accepted as by the module (a level-2 entry is never a
 * leaf here: EPT_ENTRY_NOT_LEAF).
 */
static tdx_status_t do_page_remove(struct tdx_td *td, uint64_t gpa, int level,
                                   tdx_pfn_t *pfn)
{
    struct sept_walk w;
    tdx_pfn_t old;
    tdx_status_t s = sept_locate(td, TDH_MEM_PAGE_REMOVE, gpa, level,
                                 TDX_LEVEL_4K, TDX_LEVEL_1G,
                                 TREE_LOCK_SHARED, &w);

    if (s) {
        return s;
    }
    if (w.e->state == SEPT_FREE) {
        return TDX_EPT_ENTRY_FREE | TDX_OPERAND_ID_RCX;
    }
    if (!state_is_leaf(w.e->state)) {
        return TDX_EPT_ENTRY_NOT_LEAF | TDX_OPERAND_ID_RCX;
    }
    s = check_blocked_tracked(td, w.e);
    if (s) {
        return s;
    }
    old = w.e->pfn;
    entry_free(td, w.node, w.e);
    td->leaves[level]--;
    tdx_pamt_clear(td->m, old);
    if (pfn) {
        *pfn = old;
    }
    return TDX_SUCCESS;
}

tdx_status_t tdh_mem_page_remove(struct tdx_td *td, uint64_t gpa,
                                 enum tdx_level level, tdx_pfn_t *pfn)
{
    tdx_status_t s = tdx_call_begin(td->m, TDH_MEM_PAGE_REMOVE);

    return tdx_call_end(td->m, td, TDH_MEM_PAGE_REMOVE,
                       s ? s : do_page_remove(td, gpa, level, pfn));
}

/* SEPT.REMOVE: NL_* -> FREE once all 512 entries of the page are FREE. */
static tdx_status_t do_sept_remove(struct tdx_td *td, uint64_t gpa, int level,
                                   tdx_pfn_t *sept_pfn)
{
    struct sept_walk w;
    struct sept_node *child;
    tdx_status_t s = sept_locate(td, TDH_MEM_SEPT_REMOVE, gpa, level, 1,
                                 td->levels - 1, TREE_LOCK_EXCLUSIVE, &w);

    if (s) {
        return s;
    }
    if (w.e->state == SEPT_FREE) {
        return TDX_EPT_ENTRY_FREE | TDX_OPERAND_ID_RCX;
    }
    if (!state_is_nl(w.e->state)) {
        return TDX_EPT_ENTRY_LEAF | TDX_OPERAND_ID_RCX;
    }
    s = check_blocked_tracked(td, w.e);
    if (s) {
        return s;
    }
    child = w.e->child;
    if (child->nr_present) {
        return TDX_EPT_PAGE_NOT_FREE | TDX_OPERAND_ID_RCX;
    }
    if (sept_pfn) {
        *sept_pfn = child->pfn;
    }
    entry_free(td, w.node, w.e);
    td->sept_pages[child->level]--;
    tdx_pamt_clear(td->m, child->pfn);
    tdx_sept_tree_free(child);
    return TDX_SUCCESS;
}

tdx_status_t tdh_mem_sept_remove(struct tdx_td *td, uint64_t gpa,
                                 enum tdx_level level, tdx_pfn_t *sept_pfn)
{
    tdx_status_t s = tdx_call_begin(td->m, TDH_MEM_SEPT_REMOVE);

    return tdx_call_end(td->m, td, TDH_MEM_SEPT_REMOVE,
                       s ? s : do_sept_remove(td, gpa, level, sept_pfn));
}

/*
 * PAGE.DEMOTE (level 1 only: the model has no 1G leaves): 2M leaf -> NL_MAPPED
 * entry whose new S-EPT page holds 512 4K leaves with contiguous pfns, in the
 * unblocked state of the 2M leaf (MAPPED or PENDING).  The PAMT entry of the
 * 2M page becomes 512 4K entries.
 */
static tdx_status_t do_page_demote(struct tdx_td *td, uint64_t gpa, int level,
                                   tdx_pfn_t sept_pfn)
{
    struct sept_walk w;
    struct sept_node *child;
    tdx_pfn_t head;
    uint8_t state;
    tdx_status_t s = sept_locate(td, TDH_MEM_PAGE_DEMOTE, gpa, level,
                                 TDX_LEVEL_2M, TDX_LEVEL_2M,
                                 TREE_LOCK_SHARED, &w);

    if (s) {
        return s;
    }
    if (w.e->state == SEPT_FREE) {
        return TDX_EPT_ENTRY_FREE | TDX_OPERAND_ID_RCX;
    }
    if (!state_is_leaf(w.e->state)) {
        return TDX_EPT_ENTRY_NOT_LEAF | TDX_OPERAND_ID_RCX;
    }
    s = check_blocked_tracked(td, w.e);
    if (s) {
        return s;
    }
    if (!tdx_pamt_range_free(td->m, sept_pfn, TDX_LEVEL_4K)) {
        return TDX_OPERAND_INVALID | TDX_OPERAND_ID_R8;
    }
    head = w.e->pfn;
    state = state_unblock(w.e->state);
    child = tdx_sept_node_new(sept_pfn, TDX_LEVEL_4K);
    for (unsigned i = 0; i < SEPT_ENTRIES; i++) {
        entry_set(td, child, &child->e[i], head + i, state);
    }
    tdx_pamt_clear(td->m, head);
    for (unsigned i = 0; i < SEPT_ENTRIES; i++) {
        tdx_pamt_set(td->m, head + i, td, PT_REG, TDX_LEVEL_4K);
    }
    entry_link(td, w.node, w.e, child);     /* the 2M leaf becomes a link */
    td->leaves[TDX_LEVEL_2M]--;
    td->leaves[TDX_LEVEL_4K] += SEPT_ENTRIES;
    return TDX_SUCCESS;
}

tdx_status_t tdh_mem_page_demote(struct tdx_td *td, uint64_t gpa,
                                 enum tdx_level level, tdx_pfn_t sept_pfn)
{
    tdx_status_t s = tdx_call_begin(td->m, TDH_MEM_PAGE_DEMOTE);

    return tdx_call_end(td->m, td, TDH_MEM_PAGE_DEMOTE,
                       s ? s : do_page_demote(td, gpa, level, sept_pfn));
}

/*
 * PAGE.PROMOTE (level 1): the 512 4K leaves under the level-1 entry must be
 * all MAPPED or all PENDING (none blocked or FREE), with contiguous pfns
 * starting 512-aligned, else EPT_INVALID_PROMOTE_CONDITIONS | RCX.  They
 * become one 2M leaf in that state; the S-EPT page is freed.
 */
static bool promote_ok(const struct sept_node *child)
{
    const struct sept_entry *e0 = &child->e[0];

    if ((e0->state != SEPT_MAPPED && e0->state != SEPT_PENDING) ||
        (e0->pfn & (PAGES_PER_2M - 1))) {
        return false;
    }
    for (unsigned i = 1; i < SEPT_ENTRIES; i++) {
        if (child->e[i].state != e0->state || child->e[i].pfn != e0->pfn + i) {
            return false;
        }
    }
    return true;
}

static tdx_status_t do_page_promote(struct tdx_td *td, uint64_t gpa, int level,
                                    tdx_pfn_t *sept_pfn)
{
    struct sept_walk w;
    struct sept_node *child;
    tdx_pfn_t head;
    uint8_t state;
    tdx_status_t s = sept_locate(td, TDH_MEM_PAGE_PROMOTE, gpa, level,
                                 TDX_LEVEL_2M, TDX_LEVEL_2M,
                                 TREE_LOCK_SHARED, &w);

    if (s) {
        return s;
    }
    /* Module 1.5 tdh_mem_page_promote(): only a non-leaf entry may merge. */
    if (!state_is_nl(w.e->state)) {
        return TDX_EPT_ENTRY_STATE_INCORRECT | TDX_OPERAND_ID_RCX;
    }
    s = check_blocked_tracked(td, w.e);
    if (s) {
        return s;
    }
    child = w.e->child;
    if (!promote_ok(child)) {
        return TDX_EPT_INVALID_PROMOTE_CONDITIONS | TDX_OPERAND_ID_RCX;
    }
    head = child->e[0].pfn;
    state = child->e[0].state;
    for (unsigned i = 0; i < SEPT_ENTRIES; i++) {
        tdx_pamt_clear(td->m, head + i);
    }
    tdx_pamt_set(td->m, head, td, PT_REG, TDX_LEVEL_2M);
    tdx_pamt_clear(td->m, child->pfn);
    if (sept_pfn) {
        *sept_pfn = child->pfn;
    }
    td->sept_pages[TDX_LEVEL_4K]--;
    for (unsigned i = 0; i < SEPT_ENTRIES; i++) {
        entry_free(td, child, &child->e[i]);
    }
    tdx_sept_tree_free(child);
    entry_set(td, w.node, w.e, head, state);    /* the link becomes a leaf */
    td->leaves[TDX_LEVEL_4K] -= SEPT_ENTRIES;
    td->leaves[TDX_LEVEL_2M]++;
    return TDX_SUCCESS;
}

tdx_status_t tdh_mem_page_promote(struct tdx_td *td, uint64_t gpa,
                                  enum tdx_level level, tdx_pfn_t *sept_pfn)
{
    tdx_status_t s = tdx_call_begin(td->m, TDH_MEM_PAGE_PROMOTE);

    return tdx_call_end(td->m, td, TDH_MEM_PAGE_PROMOTE,
                       s ? s : do_page_promote(td, gpa, level, sept_pfn));
}

/*
 * Guest TDG.MEM.PAGE.ACCEPT, as module 1.5's tdg_mem_page_accept() and
 * check_tdaccept_failure() (td_dispatcher/vm_exits/tdg_mem_page_accept.c):
 *  - the walk stops above `level` at a guest-accessible leaf (MAPPED, e.g.
 *    a 4K ACCEPT inside an accepted 2M leaf):   PAGE_ALREADY_ACCEPTED
 *  - the walk stops above `level` at any other leaf (PENDING, blocked: a
 *    4K ACCEPT inside a pending 2M leaf) or at a missing/blocked non-leaf:
 *                                               EPT violation (TD exit)
 *  - the entry at `level` is locked by the host: OPERAND_BUSY_HOST_PRIORITY
 *  - a non-leaf entry at `level` (smaller pages mapped): PAGE_SIZE_MISMATCH
 *  - a MAPPED leaf at `level`:                  PAGE_ALREADY_ACCEPTED
 *  - FREE or blocked leaf at `level`:           EPT violation (TD exit)
 *  - PENDING leaf at `level`: MAPPED (the module zeroes it), SUCCESS.
 * ALREADY_ACCEPTED and SIZE_MISMATCH carry the level the walk ended at as
 * operand id (api_error_with_operand_id(..., ept_level)), the busy status
 * RCX; "EPT violation" is returned as TDX_EPT_ENTRY_NOT_PRESENT (the guest
 * never sees it: the host gets an EPT-violation exit with the accept level).
 * Levels 0..2 are accepted: the Linux guest tries 1G first.  Only a
 * runnable TD runs guest code (LIFECYCLE_STATE_INCORRECT otherwise).
 * The guest takes no tree lock (walk_private_gpa()), only the entry's
 * guest-side lock (sept_lock_acquire_guest()), held until the call ends.
 */
static tdx_status_t do_accept(struct tdx_td *td, int vcpu, uint64_t gpa,
                               enum tdx_level level)
{
    struct sept_walk w;
    tdx_status_t s;

    tdx_account_count(td->m, td, offsetof(struct tdx_counters, accepts));
    if (level == TDX_LEVEL_2M) {
        tdx_account_count(td->m, td, offsetof(struct tdx_counters, accepts_2m));
    }
    if (td->state != TD_STATE_RUNNABLE) {
        return TDX_LIFECYCLE_STATE_INCORRECT;
    }
    if (vcpu < 0 || (unsigned)vcpu >= td->vcpus->len ||
        (int)level < TDX_LEVEL_4K || level > TDX_LEVEL_1G ||
        gpa >= tdx_td_shared_bit(td) || (gpa & (tdx_level_size(level) - 1))) {
        return TDX_OPERAND_INVALID | TDX_OPERAND_ID_RCX;
    }
    if (!sept_walk(td, gpa, level, true, &w)) {
        if (w.e->state == SEPT_MAPPED) {
            return TDX_PAGE_ALREADY_ACCEPTED | (uint64_t)w.level;
        }
        return TDX_EPT_ENTRY_NOT_PRESENT;
    }
    s = tdx_try_entry_lock(td, gpa, level, true);
    if (s) {
        return s;
    }
    switch (w.e->state) {
    case SEPT_PENDING:
        w.e->state = SEPT_MAPPED;
        return TDX_SUCCESS;
    case SEPT_MAPPED:
        return TDX_PAGE_ALREADY_ACCEPTED | (uint64_t)level;
    case SEPT_NL_MAPPED:
        return TDX_PAGE_SIZE_MISMATCH | (uint64_t)level;
    default:
        return TDX_EPT_ENTRY_NOT_PRESENT;
    }
}

tdx_status_t tdg_mem_page_accept(struct tdx_td *td, int vcpu, uint64_t gpa,
                                 enum tdx_level level)
{
    tdx_call_begin_accept(td->m);
    return tdx_call_finish(td->m, do_accept(td, vcpu, gpa, level));
}

/* Inspection. */

bool tdx_td_lookup(const struct tdx_td *td, uint64_t gpa,
                   struct tdx_sept_leaf_info *info)
{
    TDX_GUARD(td->m);

    struct sept_walk w;

    memset(info, 0, sizeof(*info));
    info->state = SEPT_FREE;
    if (gpa >= tdx_td_shared_bit(td)) {
        info->gpa = gpa;
        info->level = td->levels - 1;
        return false;
    }
    /* Walking towards level 0 ends on a FREE entry or on a leaf. */
    sept_walk(td, gpa, TDX_LEVEL_4K, false, &w);
    info->level = w.level;
    info->gpa = gpa & ~(tdx_level_size(w.level) - 1);
    if (!state_is_leaf(w.e->state)) {
        return false;
    }
    info->state = w.e->state;
    info->pfn = w.e->pfn;
    return true;
}

static bool visit_leaves(const struct sept_node *n, uint64_t base,
                         bool (*fn)(const struct tdx_sept_leaf_info *, void *),
                         void *opaque)
{
    for (unsigned i = 0; i < SEPT_ENTRIES; i++) {
        const struct sept_entry *e = &n->e[i];
        uint64_t gpa = base + (uint64_t)i * tdx_level_size(n->level);

        if (state_is_nl(e->state)) {
            if (!visit_leaves(e->child, gpa, fn, opaque)) {
                return false;
            }
        } else if (state_is_leaf(e->state)) {
            struct tdx_sept_leaf_info info = {
                .gpa = gpa, .level = n->level, .state = e->state,
                .pfn = e->pfn,
            };

            if (!fn(&info, opaque)) {
                return false;
            }
        }
    }
    return true;
}

void tdx_td_for_each_leaf(const struct tdx_td *td,
                          bool (*fn)(const struct tdx_sept_leaf_info *, void *),
                          void *opaque)
{
    TDX_GUARD(td->m);

    visit_leaves(td->root, 0, fn, opaque);
}

uint64_t tdx_td_sept_pages(const struct tdx_td *td, enum tdx_level level)
{
    TDX_GUARD(td->m);

    return (unsigned)level < td->levels ? td->sept_pages[level] : 0;
}

uint64_t tdx_td_sept_pages_peak(const struct tdx_td *td, enum tdx_level level)
{
    TDX_GUARD(td->m);

    return (unsigned)level < td->levels ? td->sept_pages_peak[level] : 0;
}

uint64_t tdx_td_leaves(const struct tdx_td *td, enum tdx_level level)
{
    TDX_GUARD(td->m);

    return (unsigned)level <= TDX_LEVEL_2M ? td->leaves[level] : 0;
}

/*
 * Self-checks.  tdx_td_check() walks the whole tree and recounts every
 * total (rare: quiescent points); tdx_td_check_range() checks the part of
 * the tree one operation touched and compares the totals kept where they
 * change, at a cost independent of the TD's size (after every operation).
 * Both check each entry the same way (check_entry()).
 */

#define CHECK_REPORT_MAX 16

struct check_ctx {
    const struct tdx_td *td;
    bool check_pamt;            /* the PAMT is authoritative until teardown */
    unsigned violations;
    void (*report)(const char *msg, void *opaque);
    void *opaque;
    /*
     * Full walk: the 4K pfns in the tree (leaves, S-EPT pages) and the
     * frames (pfn >> 9) of the 2M leaves.  NULL in the range check, which
     * asks the PAMT instead.
     */
    GHashTable *pfns;
    GHashTable *frames;
    uint64_t leaves[2];         /* recounted by the full walk */
    uint64_t sept_pages[TDX_MAX_LEVELS];
    uint64_t visits;            /* S-EPT pages and entries visited */
};

static void G_GNUC_PRINTF(2, 3)
violation(struct check_ctx *c, const char *fmt, ...)
{
    va_list ap;
    gchar *msg;

    if (++c->violations > CHECK_REPORT_MAX || !c->report) {
        return;
    }
    va_start(ap, fmt);
    msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    c->report(msg, c->opaque);
    g_free(msg);
}

/*
 * A host page the tree holds at gpa (a leaf's page or an S-EPT page): its
 * own PAMT entry says this TD, type and level.  Each page mapped once: the
 * full walk remembers every page; the range check asks the PAMT whether a
 * 4K page lies in a 2M page's frame, and whether a 2M leaf's frame holds a
 * page with a PAMT entry of its own.
 */
static void check_page(struct check_ctx *c, uint64_t gpa, tdx_pfn_t pfn,
                       int level, enum tdx_page_type type)
{
    struct pamt_info pi;

    if (level != TDX_LEVEL_4K && (pfn & (PAGES_PER_2M - 1))) {
        violation(c, "gpa 0x%" PRIx64 ": 2M leaf pfn 0x%" PRIx64
                  " not 2M aligned", gpa, pfn);
    }
    if (c->pfns && level == TDX_LEVEL_4K &&
        !g_hash_table_add(c->pfns, GSIZE_TO_POINTER(pfn))) {
        violation(c, "gpa 0x%" PRIx64 ": pfn 0x%" PRIx64
                  " mapped twice", gpa, pfn);
    }
    if (c->frames && level != TDX_LEVEL_4K &&
        !g_hash_table_add(c->frames, GSIZE_TO_POINTER(pfn >> 9))) {
        violation(c, "gpa 0x%" PRIx64 ": 2M page 0x%" PRIx64
                  " mapped twice", gpa, pfn);
    }
    if (!c->check_pamt) {
        return;
    }
    if (!tdx_pamt_find(c->td->m, pfn, &pi) || pi.head != pfn) {
        violation(c, "gpa 0x%" PRIx64 ": pfn 0x%" PRIx64
                  " has no PAMT entry of its own", gpa, pfn);
    } else if (pi.td != c->td || pi.type != type || (int)pi.level != level) {
        violation(c, "gpa 0x%" PRIx64 ": pfn 0x%" PRIx64 " PAMT says td %u"
                  " type %d level %d, tree says td %u type %d level %d",
                  gpa, pfn, pi.td ? pi.td->id : 0, pi.type, pi.level,
                  c->td->id, type, level);
    }
    if (c->pfns) {
        return;
    }
    if (level == TDX_LEVEL_4K) {
        tdx_pfn_t head = pfn & ~(PAGES_PER_2M - 1);

        if (head != pfn && tdx_pamt_find(c->td->m, head, &pi) &&
            pi.head == head && pi.level == TDX_LEVEL_2M) {
            violation(c, "gpa 0x%" PRIx64 ": pfn 0x%" PRIx64 " lies in the"
                      " 2M page 0x%" PRIx64, gpa, pfn, head);
        }
        return;
    }
    for (uint64_t i = 1; i < PAGES_PER_2M; i++) {
        if (tdx_pamt_find(c->td->m, pfn + i, &pi) && pi.head == pfn + i) {
            violation(c, "gpa 0x%" PRIx64 ": 2M page 0x%" PRIx64 " holds pfn"
                      " 0x%" PRIx64 ", which has a PAMT entry of its own",
                      gpa, pfn, pfn + i);
            break;
        }
    }
}

/* The S-EPT page's cached count of present entries (512 reads). */
static void check_present(struct check_ctx *c, const struct sept_node *n,
                          uint64_t base)
{
    unsigned present = 0;

    for (unsigned i = 0; i < SEPT_ENTRIES; i++) {
        present += n->e[i].state != SEPT_FREE;
    }
    if (present != n->nr_present) {
        violation(c, "S-EPT page 0x%" PRIx64 " (gpa 0x%" PRIx64 ", level %d):"
                  " %u present entries, cached %u", n->pfn, base, n->level,
                  present, n->nr_present);
    }
}

/*
 * One entry of the S-EPT page n, at gpa: its state, block epoch, child
 * level and host page.  Returns the child page of a sound non-leaf entry
 * (to descend into), else NULL.
 */
static const struct sept_node *check_entry(struct check_ctx *c,
                                           const struct sept_node *n,
                                           const struct sept_entry *e,
                                           uint64_t gpa)
{
    if (e->state == SEPT_FREE) {
        if (e->pfn || e->bepoch) {
            violation(c, "gpa 0x%" PRIx64 " level %d: FREE entry not "
                      "cleared", gpa, n->level);
        }
        return NULL;
    }
    if (state_is_blocked(e->state) && e->bepoch > c->td->epoch) {
        violation(c, "gpa 0x%" PRIx64 " level %d: block epoch %" PRIu64
                  " in the future", gpa, n->level, e->bepoch);
    } else if (!state_is_blocked(e->state) && e->bepoch) {
        violation(c, "gpa 0x%" PRIx64 " level %d: %s entry keeps block "
                  "epoch %" PRIu64, gpa, n->level,
                  tdx_sept_state_name(e->state), e->bepoch);
    }
    if (state_is_nl(e->state)) {
        const struct sept_node *ch = e->child;

        if (n->level == TDX_LEVEL_4K || !ch || ch->level != n->level - 1) {
            violation(c, "gpa 0x%" PRIx64 " level %d: bad non-leaf entry",
                      gpa, n->level);
            return NULL;
        }
        c->sept_pages[ch->level]++;
        check_page(c, gpa, ch->pfn, TDX_LEVEL_4K, PT_SEPT);
        return ch;
    }
    if (state_is_leaf(e->state)) {
        if (n->level > TDX_LEVEL_2M) {
            violation(c, "gpa 0x%" PRIx64 ": leaf at level %d", gpa,
                      n->level);
            return NULL;
        }
        c->leaves[n->level]++;
        check_page(c, gpa, e->pfn, n->level, PT_REG);
        return NULL;
    }
    violation(c, "gpa 0x%" PRIx64 " level %d: unknown state %u", gpa,
              n->level, e->state);
    return NULL;
}

static void check_node(struct check_ctx *c, const struct sept_node *n,
                       uint64_t base)
{
    check_present(c, n, base);
    for (unsigned i = 0; i < SEPT_ENTRIES; i++) {
        uint64_t gpa = base + (uint64_t)i * tdx_level_size(n->level);
        const struct sept_node *ch = check_entry(c, n, &n->e[i], gpa);

        if (ch) {
            check_node(c, ch, gpa);
        }
    }
}

/*
 * The part of the tree under n (covering from base) that [lo, hi) touches:
 * the page itself (its present count) and its entries in the range, and
 * below them.  A range within one 4K page visits one page and one entry
 * per level, whatever the size of the TD.
 */
static void check_range_node(struct check_ctx *c, const struct sept_node *n,
                             uint64_t base, uint64_t lo, uint64_t hi)
{
    uint64_t size = tdx_level_size(n->level);
    unsigned first = (lo - base) / size, last = (hi - 1 - base) / size;

    c->visits++;
    check_present(c, n, base);
    for (unsigned i = first; i <= last; i++) {
        uint64_t gpa = base + (uint64_t)i * size;
        const struct sept_node *ch;

        c->visits++;
        ch = check_entry(c, n, &n->e[i], gpa);
        if (ch) {
            check_range_node(c, ch, gpa, MAX(lo, gpa), MIN(hi, gpa + size));
        }
    }
}

/* 4K pages of PAMT entries counted by type and level (4K, 2M). */
static uint64_t pamt_pages(const uint64_t (*pamt)[2], enum tdx_page_type t)
{
    return pamt[t][0] + pamt[t][1] * PAGES_PER_2M;
}

/*
 * The totals: leaves and S-EPT pages counted (recounted by the full walk,
 * kept by the entry primitives for the range check) against those the
 * SEAMCALLs keep, and, until teardown, against the PAMT entries the TD
 * owns (recounted, or kept by tdx_pamt_set/clear) by type and level.
 */
static void check_totals(struct check_ctx *c, const uint64_t *leaves,
                         const uint64_t *sept_pages,
                         const uint64_t (*pamt)[2])
{
    const struct tdx_td *td = c->td;
    uint64_t sept = 0;
    struct pamt_info pi;

    for (int l = 0; l <= TDX_LEVEL_2M; l++) {
        if (leaves[l] != td->leaves[l]) {
            violation(c, "level %d: %" PRIu64 " leaves, cached %" PRIu64, l,
                      leaves[l], td->leaves[l]);
        }
    }
    for (unsigned l = 0; l < TDX_MAX_LEVELS; l++) {
        if (sept_pages[l] != td->sept_pages[l]) {
            violation(c, "level %u: %" PRIu64 " S-EPT pages, cached %" PRIu64,
                      l, sept_pages[l], td->sept_pages[l]);
        }
        if (td->sept_pages[l] > td->sept_pages_peak[l]) {
            violation(c, "level %u: S-EPT pages above their peak", l);
        }
        sept += sept_pages[l];
    }
    if (!c->check_pamt) {
        return;
    }
    for (int l = 0; l <= TDX_LEVEL_2M; l++) {
        if (pamt[PT_REG][l] != leaves[l]) {
            violation(c, "PAMT: %" PRIu64 " private %s pages owned, %" PRIu64
                      " mapped", pamt[PT_REG][l], l ? "2M" : "4K", leaves[l]);
        }
    }
    if (pamt_pages(pamt, PT_SEPT) != sept) {
        violation(c, "PAMT: %" PRIu64 " S-EPT pages owned, %" PRIu64
                  " in the tree", pamt_pages(pamt, PT_SEPT), sept);
    }
    if (pamt_pages(pamt, PT_TDR) != 1 ||
        !tdx_pamt_find(td->m, td->tdr_pfn, &pi) || pi.type != PT_TDR) {
        violation(c, "PAMT: TDR 0x%" PRIx64 " not owned as TDR",
                  td->tdr_pfn);
    }
    if (!tdx_pamt_find(td->m, td->root->pfn, &pi) || pi.td != td ||
        pi.type != PT_TDCX) {
        violation(c, "PAMT: root S-EPT (TDCS page 0x%" PRIx64 ") not "
                  "owned as TDCX", td->root->pfn);
    }
    if (pamt_pages(pamt, PT_REG) + pamt_pages(pamt, PT_SEPT) +
        pamt_pages(pamt, PT_TDCX) != td->child_pages) {
        violation(c, "PAMT: child count %" PRIu64 " != owned pages",
                  td->child_pages);
    }
}

/* PAMT entries the TD owns, by type and level: a walk of the whole PAMT. */
static void count_pamt(const struct tdx_td *td, uint64_t (*per_type)[2])
{
    GHashTableIter it;
    gpointer key, val;

    g_hash_table_iter_init(&it, td->m->pamt);
    while (g_hash_table_iter_next(&it, &key, &val)) {
        gsize v = GPOINTER_TO_SIZE(val);

        if ((v >> 8) == td->id) {
            per_type[(v >> 4) & 0xf][(v & 0xf) != TDX_LEVEL_4K]++;
        }
    }
}

unsigned tdx_td_check(const struct tdx_td *td,
                      void (*report)(const char *msg, void *opaque),
                      void *opaque)
{
    TDX_GUARD(td->m);

    struct check_ctx c = {
        .td = td,
        .check_pamt = td->state != TD_STATE_TEARDOWN,
        .report = report,
        .opaque = opaque,
        .pfns = g_hash_table_new(g_direct_hash, g_direct_equal),
        .frames = g_hash_table_new(g_direct_hash, g_direct_equal),
    };
    uint64_t pamt[16][2] = { { 0 } };
    GHashTableIter it;
    gpointer key;

    check_node(&c, td->root, 0);

    /* No 4K page (leaf or S-EPT page) inside a 2M leaf. */
    g_hash_table_iter_init(&it, c.pfns);
    while (g_hash_table_iter_next(&it, &key, NULL)) {
        tdx_pfn_t pfn = GPOINTER_TO_SIZE(key);

        if (g_hash_table_contains(c.frames, GSIZE_TO_POINTER(pfn >> 9))) {
            violation(&c, "pfn 0x%" PRIx64 " mapped both in 4K and in a 2M"
                      " leaf", pfn);
        }
    }

    /* The totals the range check relies on equal the recount. */
    for (int l = 0; l <= TDX_LEVEL_2M; l++) {
        if (td->tree_leaves[l] != c.leaves[l]) {
            violation(&c, "level %d: %" PRIu64 " leaves, %" PRIu64 " kept by"
                      " the tree", l, c.leaves[l], td->tree_leaves[l]);
        }
    }
    for (unsigned l = 0; l < TDX_MAX_LEVELS; l++) {
        if (td->tree_sept_pages[l] != c.sept_pages[l]) {
            violation(&c, "level %u: %" PRIu64 " S-EPT pages, %" PRIu64
                      " kept by the tree", l, c.sept_pages[l],
                      td->tree_sept_pages[l]);
        }
    }
    if (c.check_pamt) {
        count_pamt(td, pamt);
        for (int t = PT_TDR; t <= PT_REG; t++) {
            for (int l = 0; l < 2; l++) {
                if (pamt[t][l] != td->pamt_entries[t][l]) {
                    violation(&c, "PAMT: %" PRIu64 " entries of type %d level"
                              " %d owned, %" PRIu64 " kept", pamt[t][l], t, l,
                              td->pamt_entries[t][l]);
                }
            }
        }
    }
    check_totals(&c, c.leaves, c.sept_pages, (const uint64_t (*)[2])pamt);
    g_hash_table_destroy(c.pfns);
    g_hash_table_destroy(c.frames);
    return c.violations;
}

unsigned tdx_td_check_range(struct tdx_td *td, uint64_t gpa, uint64_t size,
                            void (*report)(const char *msg, void *opaque),
                            void *opaque)
{
    TDX_GUARD(td->m);

    struct check_ctx c = {
        .td = td,
        .check_pamt = td->state != TD_STATE_TEARDOWN,
        .report = report,
        .opaque = opaque,
    };
    uint64_t end = tdx_td_shared_bit(td);

    if (size < end && gpa < end - size) {
        end = gpa + size;
    }
    if (size && gpa < end) {
        check_range_node(&c, td->root, 0, gpa, end);
    }
    check_totals(&c, td->tree_leaves, td->tree_sept_pages,
                 (const uint64_t (*)[2])td->pamt_entries);
    td->check_visits += c.visits;
    return c.violations;
}

uint64_t tdx_td_check_visits(const struct tdx_td *td)
{
    TDX_GUARD(td->m);

    return td->check_visits;
}

/* Test only: see tdxmod.h. */
bool tdx_td_test_corrupt(struct tdx_td *td, enum tdx_test_corruption what,
                         uint64_t gpa, enum tdx_level level, uint64_t value,
                         uint64_t *old)
{
    TDX_GUARD(td->m);

    struct sept_walk w;
    struct sept_entry *e;
    struct pamt_info pi;
    uint64_t prev = 0;
    tdx_pfn_t page;

    switch (what) {
    case TDX_CORRUPT_LEAVES:
        if (level > TDX_LEVEL_2M) {
            return false;
        }
        prev = td->leaves[level];
        td->leaves[level] = value;
        goto done;
    case TDX_CORRUPT_SEPT_PAGES:
        if ((unsigned)level >= td->levels) {
            return false;
        }
        prev = td->sept_pages[level];
        td->sept_pages[level] = value;
        goto done;
    case TDX_CORRUPT_CHILD_PAGES:
        prev = td->child_pages;
        td->child_pages = value;
        goto done;
    case TDX_CORRUPT_PAMT_STRAY:
        if (!tdx_pamt_range_free(td->m, value, TDX_LEVEL_4K)) {
            return false;
        }
        tdx_pamt_set(td->m, value, td, PT_REG, TDX_LEVEL_4K);
        goto done;
    default:
        break;
    }
    if ((unsigned)level >= td->levels || gpa >= tdx_td_shared_bit(td) ||
        !sept_walk(td, gpa, level, false, &w)) {
        return false;
    }
    e = w.e;
    page = state_is_nl(e->state) ? e->child->pfn : e->pfn;
    switch (what) {
    case TDX_CORRUPT_NR_PRESENT:
        prev = w.node->nr_present;
        w.node->nr_present = value;
        break;
    case TDX_CORRUPT_STATE:
        prev = e->state;
        e->state = value;
        break;
    case TDX_CORRUPT_PFN:
        if (state_is_nl(e->state)) {
            return false;
        }
        prev = e->pfn;
        e->pfn = value;
        break;
    case TDX_CORRUPT_BEPOCH:
        prev = e->bepoch;
        e->bepoch = value;
        break;
    case TDX_CORRUPT_CHILD_LEVEL:
        if (!state_is_nl(e->state)) {
            return false;
        }
        prev = e->child->level;
        e->child->level = value;
        break;
    case TDX_CORRUPT_PAMT_OWNER:
    case TDX_CORRUPT_PAMT_TYPE:
    case TDX_CORRUPT_PAMT_LEVEL:
        if (e->state == SEPT_FREE || !tdx_pamt_find(td->m, page, &pi) ||
            pi.head != page) {
            return false;
        }
        prev = what == TDX_CORRUPT_PAMT_OWNER ? (pi.td ? pi.td->id : 0) :
               what == TDX_CORRUPT_PAMT_TYPE ? pi.type : pi.level;
        tdx_pamt_set_raw(td->m, page,
                         what == TDX_CORRUPT_PAMT_OWNER ? value :
                         pi.td ? pi.td->id : 0,
                         what == TDX_CORRUPT_PAMT_TYPE ? value : pi.type,
                         what == TDX_CORRUPT_PAMT_LEVEL ? value : pi.level);
        break;
    case TDX_CORRUPT_PAMT_DROP:
        if (e->state == SEPT_FREE) {
            return false;
        }
        tdx_pamt_clear(td->m, page);
        break;
    case TDX_CORRUPT_LEAF_MOVE:
        if (!state_is_leaf(e->state) ||
            (tdx_pamt_find(td->m, value, &pi) && pi.head == value)) {
            return false;           /* value may lie in another's frame */
        }
        prev = e->pfn;
        tdx_pamt_clear(td->m, e->pfn);
        e->pfn = value;
        tdx_pamt_set(td->m, value, td, PT_REG, level);
        break;
    default:
        return false;
    }
done:
    if (old) {
        *old = prev;
    }
    return true;
}
