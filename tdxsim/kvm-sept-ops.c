// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * tdxsim: side-table mode's SEAMCALL sequences on the S-EPT, as the KVM of
 * the side-table UAPI issues them: SEPT.ADD of missing levels, PAGE.AUG at
 * 4K or 2M, BLOCK + TRACK + REMOVE batches, BLOCK + TRACK + DEMOTE of a 2M
 * leaf, BLOCK + TRACK + PROMOTE of 512 4K leaves, and SEPT.REMOVE of S-EPT
 * pages left empty.  KVM keeps its own record of the S-EPT pages ("the
 * side table": pfn and number of present entries per page) instead of a
 * mirror.  BUSY is retried a bounded number of times, kicking the vCPUs
 * between tries, then the caller gets -EAGAIN; any other failure is a
 * KVM_BUG_ON (-EIO, status in *hw).
 *
 * All functions run with vm->lock held (the per-TD lock of the spec).
 */
#include <errno.h>
#include <inttypes.h>

#include "kvm-sept.h"

#define SEPT_BUSY_RETRIES   16
#define BLOCK_PAGES         512ULL
#define SIZE_2M             (2ULL << 20)

/* Count one SEAMCALL issued for side-table work. */
#define SC(vm, call) ((vm)->sept.seamcalls++, (call))

static uint64_t level_size(int level)
{
    return 4096ULL << (9 * level);
}

/* Key of the S-EPT page holding entries at table level tl covering gpa. */
static int64_t table_key(int tl, uint64_t gpa)
{
    return ((int64_t)tl << 56) | (int64_t)(gpa >> (12 + 9 * (tl + 1)));
}

void sim_sept_table_init(struct sim_vm *vm)
{
    vm->sept.pages = g_hash_table_new_full(g_int64_hash, g_int64_equal,
                                           g_free, g_free);
    vm->sept.touched = g_hash_table_new_full(g_int64_hash, g_int64_equal,
                                             g_free, g_free);
    vm->sept.candidates = g_hash_table_new(g_direct_hash, g_direct_equal);
    vm->sept.candidate_order = g_queue_new();
}

static struct sim_sept_page *table_get(struct sim_vm *vm, int tl,
                                       uint64_t gpa)
{
    int64_t key = table_key(tl, gpa);

    return g_hash_table_lookup(vm->sept.pages, &key);
}

static void table_put(struct sim_vm *vm, int tl, uint64_t gpa, tdx_pfn_t pfn,
                      unsigned present)
{
    int64_t key = table_key(tl, gpa);
    struct sim_sept_page *p = g_new0(struct sim_sept_page, 1);

    p->pfn = pfn;
    p->nr_present = present;
    g_hash_table_insert(vm->sept.pages, g_memdup2(&key, sizeof(key)), p);
}

static void table_del(struct sim_vm *vm, int tl, uint64_t gpa)
{
    int64_t key = table_key(tl, gpa);

    g_hash_table_remove(vm->sept.pages, &key);
    g_hash_table_remove(vm->sept.touched, &key);
}

uint64_t sim_sept_table_pages(struct sim_vm *vm)
{
    return g_hash_table_size(vm->sept.pages);
}

/*
 * An entry at entry_level covering gpa became present (+1) or FREE (-1):
 * adjust the count of the S-EPT page holding it (the root is in the TDCS
 * and has no record).
 */
static void entry_changed(struct sim_vm *vm, int entry_level, uint64_t gpa,
                          int delta)
{
    struct sim_sept_page *p;

    if (entry_level >= (int)tdx_td_levels(vm->td) - 1) {
        return;
    }
    p = table_get(vm, entry_level, gpa);
    if (!p) {
        sim_violation(vm, "side table: no S-EPT page record for level %d "
                      "at 0x%" PRIx64, entry_level, gpa);
        return;
    }
    p->nr_present += delta;
    if (delta < 0) {
        sim_sept_note_touched(vm, (gpa & ~(level_size(entry_level + 1) - 1))
                              | (uint64_t)entry_level);
    }
}

/* gpa_tl: table GPA (aligned) | its level in the low bits. */
void sim_sept_note_touched(struct sim_vm *vm, uint64_t gpa_tl)
{
    int tl = gpa_tl & 0xfff;
    uint64_t gpa = gpa_tl & ~0xfffULL;
    int64_t key = table_key(tl, gpa);

    if (!g_hash_table_contains(vm->sept.touched, &key)) {
        g_hash_table_insert(vm->sept.touched, g_memdup2(&key, sizeof(key)),
                            g_memdup2(&gpa_tl, sizeof(gpa_tl)));
    }
}

static bool finalized(struct sim_vm *vm)
{
    return vm->tdx_state == SIM_TDX_RUNNABLE;
}

/* After a BUSY: true if the caller should try again (vCPUs kicked). */
static bool busy_again_upto(struct sim_vm *vm, tdx_status_t err, int *tries,
                            int max_tries)
{
    if (!(TDX_STATUS_IS_BUSY(err) || err == TDX_PREVIOUS_TLB_EPOCH_BUSY) ||
        ++*tries > max_tries) {
        return false;
    }
    vm->sept.busy_retries++;
    vm->stats.busy_retries++;
    vm->sept.kicks++;
    /* As tdh_do_no_vcpus(): the vCPUs holding what the call needs leave. */
    sim_no_vcpus_begin(vm);
    sim_no_vcpus_end(vm);
    return true;
}

static bool busy_again(struct sim_vm *vm, tdx_status_t err, int *tries)
{
    return busy_again_upto(vm, err, tries, SEPT_BUSY_RETRIES);
}

/* The end of a SEAMCALL that did not succeed: -EAGAIN or KVM_BUG_ON. */
static int failed(struct sim_vm *vm, const char *what, uint64_t gpa,
                  tdx_status_t err, tdx_status_t *hw)
{
    if (TDX_STATUS_IS_BUSY(err) || err == TDX_PREVIOUS_TLB_EPOCH_BUSY) {
        vm->sept.eagain++;
        return -EAGAIN;
    }
    if (hw) {
        *hw = err;
    }
    vm->sept.bad_call = true;
    sim_seamcall_failed(vm, what, gpa, err);
    return -EIO;
}

int sim_sept_link(struct sim_vm *vm, uint64_t gpa, int leaf_level,
                  tdx_status_t *hw)
{
    int levels = tdx_td_levels(vm->td);

    for (int t = levels - 2; t >= leaf_level; t--) {
        uint64_t entry_gpa = gpa & ~(level_size(t + 1) - 1);
        tdx_status_t err;
        tdx_pfn_t pfn;
        int tries = 0;

        if (table_get(vm, t, gpa)) {
            continue;
        }
        pfn = sim_alloc_ctl_pfn();
        do {
            err = SC(vm, tdh_mem_sept_add(vm->td, entry_gpa, t + 1, pfn));
        } while (err && busy_again(vm, err, &tries));
        if (err) {
            sim_free_ctl_pfn(pfn);
            return failed(vm, "TDH.MEM.SEPT.ADD", entry_gpa, err, hw);
        }
        table_put(vm, t, gpa, pfn, 0);
        entry_changed(vm, t + 1, gpa, +1);
    }
    return 0;
}

int sim_sept_aug(struct sim_vm *vm, uint64_t gpa, int level, tdx_pfn_t pfn,
                 tdx_status_t *hw)
{
    tdx_status_t err;
    int tries = 0;

    do {
        err = SC(vm, tdh_mem_page_aug(vm->td, gpa, level, pfn));
    } while (err && busy_again(vm, err, &tries));
    if (err) {
        return failed(vm, "TDH.MEM.PAGE.AUG", gpa, err, hw);
    }
    entry_changed(vm, level, gpa, +1);
    return 0;
}

int sim_sept_add_page(struct sim_vm *vm, uint64_t gpa)
{
    struct tdx_sept_leaf_info info;
    struct sim_slot *slot;
    tdx_status_t err;
    tdx_pfn_t pfn;
    int tries = 0;
    int r;

    gpa &= ~0xfffULL;
    if (!sim_private_pfn(vm, gpa, &pfn, &slot)) {
        return -EFAULT;
    }
    if (tdx_td_lookup(vm->td, gpa, &info)) {
        return 0;
    }
    sim_pin_begin_call(vm);
    r = sim_pin_range(vm, slot, gpa, 1);
    if (r) {
        return r;
    }
    r = sim_sept_link(vm, gpa, TDX_LEVEL_4K, NULL);
    if (r) {
        return r;
    }
    do {
        err = SC(vm, tdh_mem_page_add(vm->td, gpa, pfn));
    } while (err && busy_again(vm, err, &tries));
    if (err) {
        return failed(vm, "TDH.MEM.PAGE.ADD", gpa, err, NULL);
    }
    entry_changed(vm, TDX_LEVEL_4K, gpa, +1);
    sim_track_peaks(vm);
    return 0;
}

/*
 * TRACK only contends for the epoch lock: as upstream's tdx_track(), KVM
 * keeps vCPUs out of the guest and tries again until it goes through, so
 * that a batch it blocked is never left blocked (bounded only as a guard).
 */
#define SEPT_TRACK_RETRIES  4096

int sim_sept_track(struct sim_vm *vm, tdx_status_t *hw)
{
    tdx_status_t err;
    int tries = 0;

    do {
        err = SC(vm, tdh_mem_track(vm->td));
    } while (err && busy_again_upto(vm, err, &tries, SEPT_TRACK_RETRIES));
    if (err) {
        return failed(vm, "TDH.MEM.TRACK", 0, err, hw);
    }
    /* kvm_make_all_cpus_request(KVM_REQ_OUTSIDE_GUEST_MODE), as upstream */
    vm->sept.kicks++;
    sim_kick_vcpus(vm, true);
    return 0;
}

/* RANGE.BLOCK; an entry blocked by an earlier, interrupted call is fine. */
static int block(struct sim_vm *vm, uint64_t gpa, int level, tdx_status_t *hw)
{
    tdx_status_t err;
    int tries = 0;

    do {
        err = SC(vm, tdh_mem_range_block(vm->td, gpa, level));
    } while (TDX_STATUS_IS_ERROR(err) && busy_again(vm, err, &tries));
    if (TDX_STATUS_IS_ERROR(err)) {
        return failed(vm, "TDH.MEM.RANGE.BLOCK", gpa, err, hw);
    }
    return 0;
}

/*
 * A page left the TD: TDH.PHYMEM.PAGE.WBINVD flushes one 4 KiB page (module
 * 1.5 tdh_phymem_page_wbinvd() takes a 4K HPA; Linux 7.2
 * tdx_sept_remove_leaf_spte() issues one per removed 4K page), so a 2M leaf
 * takes 512 of them.
 */
static void page_left_td(struct sim_vm *vm, tdx_pfn_t pfn, int level)
{
    uint64_t n = level == TDX_LEVEL_2M ? BLOCK_PAGES : 1;

    for (uint64_t i = 0; i < n; i++) {
        tdx_status_t err = SC(vm, tdh_phymem_page_wbinvd(sim.mod, pfn + i));

        if (err) {
            sim_seamcall_failed(vm, "TDH.PHYMEM.PAGE.WBINVD", 0, err);
            return;
        }
    }
}

/*
 * Undo a BLOCK whose epoch is tracked, when the command gives up (-EAGAIN):
 * the entry is usable again, nothing is left half done.  Best effort: if
 * UNBLOCK stays busy too the entry stays blocked, and the next call's
 * BLOCK finds it so (GPA_RANGE_ALREADY_BLOCKED) and goes on.
 */
static void unblock(struct sim_vm *vm, uint64_t gpa, int level)
{
    tdx_status_t err;
    int tries = 0;

    do {
        err = SC(vm, tdh_mem_range_unblock(vm->td, gpa, level));
    } while (err && busy_again(vm, err, &tries));
    if (err && !TDX_STATUS_IS_BUSY(err)) {
        sim_seamcall_failed(vm, "TDH.MEM.RANGE.UNBLOCK", gpa, err);
    }
}

/* Undo the BLOCKs of leaves[from, to) (TRACK first if not tracked). */
static void unblock_leaves(struct sim_vm *vm, const uint64_t *leaves,
                           unsigned from, unsigned to, bool tracked)
{
    if (from >= to || !finalized(vm) ||
        (!tracked && sim_sept_track(vm, NULL))) {
        return;
    }
    for (unsigned i = from; i < to; i++) {
        unblock(vm, leaves[i] & ~1ULL, leaves[i] & 1);
    }
}

int sim_sept_demote(struct sim_vm *vm, uint64_t gpa2m, tdx_status_t *hw)
{
    tdx_status_t err;
    tdx_pfn_t pfn;
    int tries = 0;
    int r;

    if (finalized(vm)) {
        r = block(vm, gpa2m, TDX_LEVEL_2M, hw);
        if (!r) {
            r = sim_sept_track(vm, hw);
        }
        if (r) {
            return r;
        }
    }
    pfn = sim_alloc_ctl_pfn();
    do {
        err = SC(vm, tdh_mem_page_demote(vm->td, gpa2m, TDX_LEVEL_2M, pfn));
    } while (err && busy_again(vm, err, &tries));
    if (err) {
        sim_free_ctl_pfn(pfn);
        if (TDX_STATUS_IS_BUSY(err) && finalized(vm)) {
            unblock(vm, gpa2m, TDX_LEVEL_2M);
        }
        return failed(vm, "TDH.MEM.PAGE.DEMOTE", gpa2m, err, hw);
    }
    table_put(vm, TDX_LEVEL_4K, gpa2m, pfn, BLOCK_PAGES);
    vm->sept.demotions++;
    return 0;
}

int sim_sept_remove_batch(struct sim_vm *vm, const uint64_t *leaves,
                          unsigned n, unsigned *removed, tdx_status_t *hw)
{
    int r;

    *removed = 0;
    if (!n) {
        return 0;
    }
    if (finalized(vm)) {
        for (unsigned i = 0; i < n; i++) {
            r = block(vm, leaves[i] & ~1ULL, leaves[i] & 1, hw);
            if (r) {
                if (r == -EAGAIN) {
                    unblock_leaves(vm, leaves, 0, i, false);
                }
                return r;
            }
        }
        r = sim_sept_track(vm, hw);
        if (r) {
            return r;
        }
    }
    for (unsigned i = 0; i < n; i++) {
        uint64_t gpa = leaves[i] & ~1ULL;
        int level = leaves[i] & 1;
        tdx_status_t err;
        tdx_pfn_t pfn = 0;
        int tries = 0;

        do {
            err = SC(vm, tdh_mem_page_remove(vm->td, gpa, level, &pfn));
        } while (err && busy_again(vm, err, &tries));
        if (err) {
            if (TDX_STATUS_IS_BUSY(err)) {
                unblock_leaves(vm, leaves, i, n, true);
            }
            return failed(vm, "TDH.MEM.PAGE.REMOVE", gpa, err, hw);
        }
        page_left_td(vm, pfn, level);
        entry_changed(vm, level, gpa, -1);
        vm->stats.zapped_leaves++;
        *removed = i + 1;
    }
    return 0;
}

struct empty_table {
    int tl;
    uint64_t gpa;
};

int sim_sept_prune(struct sim_vm *vm, tdx_status_t *hw)
{
    int levels = tdx_td_levels(vm->td);

    for (;;) {
        g_autoptr(GArray) empty = g_array_new(FALSE, FALSE,
                                              sizeof(struct empty_table));
        GHashTableIter it;
        gpointer k, v;
        int r;

        g_hash_table_iter_init(&it, vm->sept.touched);
        while (g_hash_table_iter_next(&it, &k, &v)) {
            uint64_t gpa_tl = *(uint64_t *)v;
            struct empty_table e = { gpa_tl & 0xfff, gpa_tl & ~0xfffULL };
            struct sim_sept_page *p = table_get(vm, e.tl, e.gpa);

            if (p && !p->nr_present && e.tl < levels - 1) {
                g_array_append_val(empty, e);
            }
            g_hash_table_iter_remove(&it);
        }
        if (!empty->len) {
            return 0;
        }
        if (finalized(vm)) {
            for (unsigned i = 0; i < empty->len; i++) {
                struct empty_table *e = &g_array_index(empty,
                                                       struct empty_table, i);
                r = block(vm, e->gpa, e->tl + 1, hw);
                if (r == -EAGAIN && (!i || !sim_sept_track(vm, NULL))) {
                    for (unsigned j = 0; j < empty->len; j++) {
                        struct empty_table *f = &g_array_index(
                            empty, struct empty_table, j);

                        if (j < i) {
                            unblock(vm, f->gpa, f->tl + 1);
                        }
                        sim_sept_note_touched(vm, f->gpa | f->tl);
                    }
                }
                if (r) {
                    return r;
                }
            }
            r = sim_sept_track(vm, hw);
            if (r) {
                for (unsigned j = 0; j < empty->len; j++) {
                    struct empty_table *f = &g_array_index(
                        empty, struct empty_table, j);

                    sim_sept_note_touched(vm, f->gpa | f->tl);
                }
                return r;
            }
        }
        for (unsigned i = 0; i < empty->len; i++) {
            struct empty_table *e = &g_array_index(empty, struct empty_table,
                                                   i);
            tdx_status_t err;
            tdx_pfn_t pfn = 0;
            int tries = 0;

            do {
                err = SC(vm, tdh_mem_sept_remove(vm->td, e->gpa, e->tl + 1,
                                                 &pfn));
            } while (err && busy_again(vm, err, &tries));
            if (err) {
                /* Unblocked again; retried by the next prune. */
                for (unsigned j = i; j < empty->len; j++) {
                    struct empty_table *f = &g_array_index(
                        empty, struct empty_table, j);

                    if (TDX_STATUS_IS_BUSY(err) && finalized(vm)) {
                        unblock(vm, f->gpa, f->tl + 1);
                    }
                    sim_sept_note_touched(vm, f->gpa | f->tl);
                }
                return failed(vm, "TDH.MEM.SEPT.REMOVE", e->gpa, err, hw);
            }
            page_left_td(vm, pfn, TDX_LEVEL_4K);
            sim_free_ctl_pfn(pfn);
            table_del(vm, e->tl, e->gpa);
            vm->sept.sept_removed++;
            entry_changed(vm, e->tl + 1, e->gpa, -1);
        }
    }
}

unsigned sim_sept_block_present(struct sim_vm *vm, uint64_t gpa2m)
{
    struct tdx_sept_leaf_info info;
    struct sim_sept_page *p;

    if (tdx_td_lookup(vm->td, gpa2m, &info) && info.level == TDX_LEVEL_2M) {
        return BLOCK_PAGES;
    }
    p = table_get(vm, TDX_LEVEL_4K, gpa2m);
    return p ? p->nr_present : 0;
}

enum promote_check {
    PROMOTE_OK,
    PROMOTE_NOT_YET,        /* states differ: the guest has not accepted */
    PROMOTE_NEVER,          /* holes, a 2M leaf already, or backing */
};

/*
 * The conditions of TDH.MEM.PAGE.PROMOTE, read from the S-EPT (a real KVM
 * would read the entries with TDH.MEM.SEPT.RD or just try the PROMOTE).
 */
static enum promote_check promote_check(struct sim_vm *vm, uint64_t gpa2m)
{
    struct tdx_sept_leaf_info first, info;
    struct sim_sept_page *p = table_get(vm, TDX_LEVEL_4K, gpa2m);

    if (!p || p->nr_present != BLOCK_PAGES) {
        return PROMOTE_NEVER;
    }
    /* A 2M leaf needs a 2 MiB folio behind it (kvm-mem.c). */
    if (!sim_block_huge_backed(vm, gpa2m)) {
        return PROMOTE_NEVER;
    }
    if (!tdx_td_lookup(vm->td, gpa2m, &first) ||
        first.level != TDX_LEVEL_4K || (first.pfn & (BLOCK_PAGES - 1))) {
        return PROMOTE_NEVER;
    }
    if (first.state != SEPT_MAPPED && first.state != SEPT_PENDING) {
        return PROMOTE_NOT_YET;
    }
    for (uint64_t i = 1; i < BLOCK_PAGES; i++) {
        if (!tdx_td_lookup(vm->td, gpa2m + i * 4096, &info) ||
            info.pfn != first.pfn + i) {
            return PROMOTE_NEVER;
        }
        if (info.state != first.state) {
            return PROMOTE_NOT_YET;
        }
    }
    return PROMOTE_OK;
}

static void candidate_add(struct sim_vm *vm, uint64_t gpa2m)
{
    gpointer key = GSIZE_TO_POINTER(gpa2m);

    if (!g_hash_table_contains(vm->sept.candidates, key)) {
        g_hash_table_add(vm->sept.candidates, key);
        g_queue_push_tail(vm->sept.candidate_order, key);
        vm->sept.candidates_peak = MAX(vm->sept.candidates_peak,
                                       g_hash_table_size(vm->sept.candidates));
    }
}

static void candidate_drop(struct sim_vm *vm, uint64_t gpa2m)
{
    gpointer key = GSIZE_TO_POINTER(gpa2m);

    if (g_hash_table_remove(vm->sept.candidates, key)) {
        g_queue_remove(vm->sept.candidate_order, key);
    }
}

int sim_sept_try_promote(struct sim_vm *vm, uint64_t gpa2m, tdx_status_t *hw)
{
    tdx_status_t err;
    tdx_pfn_t pfn = 0;
    int tries = 0;
    int r;

    if (!(vm->sept.leaves & KVM_TDX_SEPT_LEAF_2M)) {
        return 0;
    }
    switch (promote_check(vm, gpa2m)) {
    case PROMOTE_NEVER:
        candidate_drop(vm, gpa2m);
        return 0;
    case PROMOTE_NOT_YET:
        candidate_add(vm, gpa2m);
        return 0;
    case PROMOTE_OK:
        break;
    }
    if (finalized(vm)) {
        r = block(vm, gpa2m, TDX_LEVEL_2M, hw);
        if (!r) {
            r = sim_sept_track(vm, hw);
        }
        if (r == -EAGAIN) {
            /* Stays a candidate; a later call blocks (again) and goes on. */
            vm->sept.promote_failed++;
            candidate_add(vm, gpa2m);
            return 0;
        }
        if (r) {
            return r;
        }
    }
    do {
        err = SC(vm, tdh_mem_page_promote(vm->td, gpa2m, TDX_LEVEL_2M, &pfn));
    } while (err && busy_again(vm, err, &tries));
    if (err == TDX_SUCCESS) {
        page_left_td(vm, pfn, TDX_LEVEL_4K);
        sim_free_ctl_pfn(pfn);
        table_del(vm, TDX_LEVEL_4K, gpa2m);
        candidate_drop(vm, gpa2m);
        vm->sept.promotions++;
        return 1;
    }
    if (TDX_STATUS_IS_BUSY(err)) {
        vm->sept.promote_failed++;
        if (finalized(vm)) {
            unblock(vm, gpa2m, TDX_LEVEL_2M);
        }
        candidate_add(vm, gpa2m);
        return 0;
    }
    return failed(vm, "TDH.MEM.PAGE.PROMOTE", gpa2m, err, hw);
}

void sim_sept_retry_candidates(struct sim_vm *vm, unsigned budget)
{
    unsigned n = MIN(budget, g_queue_get_length(vm->sept.candidate_order));

    for (unsigned i = 0; i < n && !vm->bugged; i++) {
        gpointer key = g_queue_pop_head(vm->sept.candidate_order);

        /* re-queued at the tail by candidate_add() if it stays */
        g_hash_table_remove(vm->sept.candidates, key);
        sim_sept_try_promote(vm, GPOINTER_TO_SIZE(key), NULL);
    }
}

int sim_sept_accept_split(struct sim_vm *vm, uint64_t gpa)
{
    struct tdx_sept_leaf_info info;
    uint64_t gpa2m = gpa & ~(SIZE_2M - 1);
    int r;

    if (!tdx_td_lookup(vm->td, gpa, &info) || info.level != TDX_LEVEL_2M) {
        return 0;       /* split meanwhile */
    }
    r = sim_sept_demote(vm, gpa2m, NULL);
    if (r) {
        return r;
    }
    vm->sept.accept_splits++;
    candidate_add(vm, gpa2m);
    sim_check_range(vm, gpa2m, SIZE_2M);
    return 0;
}
