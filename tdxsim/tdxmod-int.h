/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * tdxsim: internal data structures of the TDX module model, shared by
 * tdxmod.c (module, PAMT, TD and vCPU life cycle, reclaim),
 * tdxmod-sept.c (S-EPT tree, S-EPT SEAMCALLs, guest ACCEPT, self-check) and
 * tdxmod-cost.c (names, counters, cost model, fault injection).
 * Not part of the API: only tdxmod*.c include it.
 */
#ifndef TDXSIM_TDXMOD_INT_H
#define TDXSIM_TDXMOD_INT_H

#include <pthread.h>
#include <glib.h>
#include "tdxmod.h"

#define SEPT_ENTRIES        512
#define PAGES_PER_2M        512ULL

/* Bytes covered by one entry at level (4K << 9 * level). */
static inline uint64_t tdx_level_size(int level)
{
    return 4096ULL << (9 * level);
}

/* 4K pages covered by one entry at level. */
static inline uint64_t tdx_level_pages(int level)
{
    return 1ULL << (9 * level);
}

struct sept_node;

/*
 * One S-EPT entry.  A non-leaf entry (NL_*) points to the child node (whose
 * own pfn is the S-EPT page); a leaf entry holds the pfn of the private page
 * (512-aligned for a 2M leaf).  bepoch is the TD epoch stamped by RANGE.BLOCK
 * (the module keeps it in the PAMT entry of the blocked page; same thing).
 */
struct sept_entry {
    union {
        tdx_pfn_t pfn;
        struct sept_node *child;
    };
    uint64_t bepoch;
    uint8_t state;              /* enum tdx_sept_state */
};

/* One S-EPT page: 512 entries at `level`, allocated on demand. */
struct sept_node {
    tdx_pfn_t pfn;              /* host page (0 for the root: part of TDCS) */
    uint16_t nr_present;        /* entries not FREE */
    uint8_t level;              /* TDX level of the entries */
    struct sept_entry e[SEPT_ENTRIES];
};

struct tdx_vcpu {
    tdx_pfn_t tdvpr_pfn;
    uint64_t epoch;             /* TD epoch at the last VP.ENTER */
    bool in_guest;              /* between tdh_vp_enter and tdx_vp_exit */
    bool associated;            /* with an LP: VP.INIT/VP.ENTER until VP.FLUSH */
};

struct tdx_td {
    struct tdxmod *m;
    uint32_t id;                /* PAMT owner id */
    tdx_pfn_t tdr_pfn;
    unsigned gpaw;
    unsigned levels;            /* 4 or 5 */
    enum tdx_td_state state;
    /* TDH.MNG.INIT failed: TDCS op_state still UNINITIALIZED (state BUILD). */
    bool op_uninit;
    uint16_t max_vcpus;         /* TD_PARAMS.MAX_VCPUS */
    bool cache_wb_done;
    uint64_t epoch;             /* TDCS.TD_EPOCH */
    struct sept_node *root;     /* entries at level levels - 1 */
    GArray *vcpus;              /* struct tdx_vcpu */
    /* 4K pages owned besides the TDR (the module's TDR.CHLDCNT). */
    uint64_t child_pages;
    uint64_t leaves[2];
    uint64_t sept_pages[TDX_MAX_LEVELS];
    uint64_t sept_pages_peak[TDX_MAX_LEVELS];
    /*
     * The same totals kept a second way, where they change, so that
     * tdx_td_check_range() compares them in O(1) (tdx_td_check() recounts
     * them): tree_* by the entry primitives of tdxmod-sept.c (what a walk
     * of the tree would count; leaves[] and sept_pages[] are kept by the
     * SEAMCALLs), pamt_entries by tdx_pamt_set()/tdx_pamt_clear() (PAMT
     * entries owned by this TD, by type and level 4K/2M).
     */
    uint64_t tree_leaves[2];
    uint64_t tree_sept_pages[TDX_MAX_LEVELS];
    uint64_t pamt_entries[PT_REG + 1][2];
    /* Nodes and entries tdx_td_check_range() visited (its cost). */
    uint64_t check_visits;
    /*
     * The module's locks (tdxmod-lock.c): holders are calls in progress
     * and tdx_td_hold_*().  Guarded by the module's mu.
     */
    unsigned tree_shared;
    bool tree_exclusive;
    unsigned epoch_shared;      /* TDH.VP.ENTER sampling the epoch */
    bool epoch_locked;          /* exclusive: TDH.MEM.TRACK */
    GHashTable *entry_locks;    /* (gpa | level) -> host-side hold count */
    GHashTable *entry_guest_locks;  /* (gpa | level) -> guest-side holds */
    struct tdx_counters counters;
};

struct tdxmod {
    /*
     * The model's internal mutex (recursive): every entry point holds it
     * while it reads or changes the model; a SEAMCALL drops it between its
     * work and the release of its modelled locks (tdxmod-lock.c).
     */
    pthread_mutex_t mu;
    uint64_t hold_ns[TDX_NR_LEAVES];    /* tdxmod_set_lock_hold() */
    /* SEAMCALLs (not ACCEPT) in flight, from entry to their locks' release
     * (tdxmod-lock.c), and the peak: calls of several threads overlapping. */
    unsigned calls_in_flight, calls_peak;
    uint64_t rng;               /* xorshift64* state */
    struct tdx_cost_table cost;
    struct tdx_inject_busy inject[TDX_NR_LEAVES];
    uint64_t inject_calls[TDX_NR_LEAVES];
    struct tdx_counters counters;
    /* PAMT: pfn -> packed (owner id, type, level); see tdxmod.c. */
    GHashTable *pamt;
    GHashTable *tds;            /* owner id -> struct tdx_td * */
    uint32_t next_td_id;
    uint64_t pages_owned;       /* in 4K pages */
};

/* PAMT (tdxmod.c). */
struct pamt_info {
    struct tdx_td *td;
    enum tdx_page_type type;
    enum tdx_level level;
    tdx_pfn_t head;             /* first pfn of the (2M) PAMT entry */
};
bool tdx_pamt_find(const struct tdxmod *m, tdx_pfn_t pfn, struct pamt_info *pi);
bool tdx_pamt_range_free(const struct tdxmod *m, tdx_pfn_t pfn, int level);
void tdx_pamt_set(struct tdxmod *m, tdx_pfn_t pfn, struct tdx_td *td,
                  enum tdx_page_type type, int level);
void tdx_pamt_clear(struct tdxmod *m, tdx_pfn_t pfn);
/*
 * tdx_td_test_corrupt() only: write pfn's PAMT entry (owner id, type,
 * level; type PT_NDA removes it) without any bookkeeping, as a bug would.
 */
void tdx_pamt_set_raw(struct tdxmod *m, tdx_pfn_t pfn, uint32_t owner,
                      enum tdx_page_type type, int level);

/* Accounting and fault injection (tdxmod-cost.c). */
void tdx_cost_table_default(struct tdx_cost_table *t);
tdx_status_t tdx_inject(struct tdxmod *m, enum tdx_leaf leaf);
tdx_status_t tdx_account(struct tdxmod *m, struct tdx_td *td,
                         enum tdx_leaf leaf, tdx_status_t status);
void tdx_account_count(struct tdxmod *m, struct tdx_td *td, size_t offset);

/* Life-cycle gate shared by all TD-scoped SEAMCALLs (tdxmod.c). */
tdx_status_t tdx_td_state_check(const struct tdx_td *td, enum tdx_leaf leaf);
/*
 * tdxmod-lock.c: one SEAMCALL (or TDCALL) from begin to end, on this
 * thread.  begin takes mu and returns the injected status for leaf (0 if
 * none); the try-locks record what the call holds; end accounts the status,
 * drops mu for the window (tdxmod_set_lock_hold()), releases the call's
 * locks and returns status.
 */
tdx_status_t tdx_call_begin(struct tdxmod *m, enum tdx_leaf leaf);
void tdx_call_begin_accept(struct tdxmod *m);
tdx_status_t tdx_call_end(struct tdxmod *m, struct tdx_td *td,
                          enum tdx_leaf leaf, tdx_status_t status);
/* end without accounting (the caller accounted already). */
tdx_status_t tdx_call_finish(struct tdxmod *m, tdx_status_t status);
/* Try-locks for the current call: false on a conflicting holder. */
bool tdx_try_tree_lock(struct tdx_td *td, bool exclusive);
bool tdx_try_epoch_lock(struct tdx_td *td, bool exclusive);
/* The entry's lock, host or guest side: 0, or the status to fail with. */
tdx_status_t tdx_try_entry_lock(struct tdx_td *td, uint64_t gpa, int level,
                                bool guest);
/* Internal mutex for the other entry points (released at scope end). */
static inline struct tdxmod *tdx_guard_take(struct tdxmod *m)
{
    pthread_mutex_lock(&m->mu);
    return m;
}
static inline void tdx_guard_drop(struct tdxmod **m)
{
    pthread_mutex_unlock(&(*m)->mu);
}
#define TDX_GUARD(mod) \
    struct tdxmod *tdx_guard_ __attribute__((cleanup(tdx_guard_drop), \
                                              unused)) = tdx_guard_take(mod)
bool tdx_td_tracked(const struct tdx_td *td, uint64_t bepoch);
/* "Runnable TD" in the block/track rules: finalized and not torn down. */
static inline bool tdx_td_finalized(const struct tdx_td *td)
{
    return td->state == TD_STATE_RUNNABLE || td->state == TD_STATE_BLOCKED;
}

/* S-EPT tree (tdxmod-sept.c). */
struct sept_node *tdx_sept_node_new(tdx_pfn_t pfn, int level);
void tdx_sept_tree_free(struct sept_node *n);

#endif /* TDXSIM_TDXMOD_INT_H */
