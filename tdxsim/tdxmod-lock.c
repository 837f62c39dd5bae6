// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * tdxsim: the TDX module's locks, taken by each call as module 1.5 takes
 * them and held until the call ends:
 *  - the TD's S-EPT tree lock, a sharex lock (TDCS secure_ept_lock):
 *    shared for PAGE.AUG, SEPT.ADD, PAGE.REMOVE, DEMOTE, PROMOTE, exclusive
 *    for RANGE.BLOCK, SEPT.REMOVE, UNBLOCK
 *    (lock_sept_check_and_walk_private_gpa(..., TDX_LOCK_SHARED/EXCLUSIVE));
 *    failure: TDX_OPERAND_BUSY | SEPT_TREE;
 *  - the S-EPT entry's lock (sept_lock_acquire_host(), the guest's
 *    sept_lock_acquire_guest() in tdg_mem_page_accept.c): a host call
 *    meeting any holder fails OPERAND_BUSY | RCX, the guest's ACCEPT
 *    meeting a host holder OPERAND_BUSY_HOST_PRIORITY | RCX, meeting a
 *    guest holder OPERAND_BUSY | RCX;
 *  - the TD epoch lock (TDCS epoch_tracking.epoch_lock): exclusive for
 *    TDH.MEM.TRACK (tdh_mem_track.c), shared while TDH.VP.ENTER samples the
 *    epoch (helpers.h: acquire_sharex_lock_sh() before the REFCOUNT
 *    increment); failure: OPERAND_BUSY | TD_EPOCH.
 * All try-locks: a conflicting holder makes the call fail at once, as the
 * module's acquire_sharex_lock_*() and sept_lock_acquire_*() do.  Each
 * failure is counted as contention (tdx_counters.contended*), apart from
 * the BUSY of fault injection.
 */
#include <time.h>

#include "tdxmod-int.h"

/* The call this thread is in (SEAMCALLs do not nest). */
struct tdx_frame {
    bool active;
    unsigned slot;              /* leaf, or TDX_ACCEPT_SLOT */
    struct tdx_td *td;          /* the TD whose locks the call took */
    int tree;                   /* 0 none, 1 shared, 2 exclusive */
    int epoch;                  /* the same */
    bool entry;                 /* an entry lock taken: */
    gpointer entry_key;         /* (gpa | level), 0 for GPA 0 at 4K */
    bool entry_guest;
};

static __thread struct tdx_frame frame;

static void begin(struct tdxmod *m, unsigned slot)
{
    pthread_mutex_lock(&m->mu);
    g_assert(!frame.active);
    frame = (struct tdx_frame){ .active = true, .slot = slot };
    if (slot != TDX_ACCEPT_SLOT &&
        ++m->calls_in_flight > m->calls_peak) {
        m->calls_peak = m->calls_in_flight;
    }
}

tdx_status_t tdx_call_begin(struct tdxmod *m, enum tdx_leaf leaf)
{
    begin(m, leaf);
    return tdx_inject(m, leaf);
}

void tdx_call_begin_accept(struct tdxmod *m)
{
    begin(m, TDX_ACCEPT_SLOT);
}

static gpointer entry_key(uint64_t gpa, int level)
{
    return GSIZE_TO_POINTER((gpa & ~(tdx_level_size(level) - 1)) | level);
}

static guint count_of(GHashTable *h, gpointer key)
{
    return GPOINTER_TO_UINT(g_hash_table_lookup(h, key));
}

static void count_add(GHashTable *h, gpointer key, int delta)
{
    guint n = count_of(h, key) + delta;

    if (n) {
        g_hash_table_insert(h, key, GUINT_TO_POINTER(n));
    } else {
        g_hash_table_remove(h, key);
    }
}

static void contended(struct tdx_td *td, size_t lock_offset)
{
    struct tdx_counters *c[2] = { &td->m->counters, &td->counters };

    for (int i = 0; i < 2; i++) {
        c[i]->contended[frame.slot]++;
        (*(uint64_t *)((char *)c[i] + lock_offset))++;
    }
}

/* Record that the current call holds td's locks (one TD per call). */
static void bind(struct tdx_td *td)
{
    g_assert(frame.active && (!frame.td || frame.td == td));
    frame.td = td;
}

bool tdx_try_tree_lock(struct tdx_td *td, bool exclusive)
{
    bind(td);
    if (td->tree_exclusive || (exclusive && td->tree_shared)) {
        contended(td, offsetof(struct tdx_counters, contended_tree));
        return false;
    }
    if (exclusive) {
        td->tree_exclusive = true;
        frame.tree = 2;
    } else {
        td->tree_shared++;
        frame.tree = 1;
    }
    return true;
}

bool tdx_try_epoch_lock(struct tdx_td *td, bool exclusive)
{
    bind(td);
    if (td->epoch_locked || (exclusive && td->epoch_shared)) {
        contended(td, offsetof(struct tdx_counters, contended_epoch));
        return false;
    }
    if (exclusive) {
        td->epoch_locked = true;
        frame.epoch = 2;
    } else {
        td->epoch_shared++;
        frame.epoch = 1;
    }
    return true;
}

tdx_status_t tdx_try_entry_lock(struct tdx_td *td, uint64_t gpa, int level,
                                bool guest)
{
    gpointer key = entry_key(gpa, level);
    bool host_held = count_of(td->entry_locks, key) != 0;
    bool guest_held = count_of(td->entry_guest_locks, key) != 0;

    bind(td);
    g_assert(!frame.entry);     /* one entry lock per call */
    if (host_held || guest_held) {
        contended(td, offsetof(struct tdx_counters, contended_entry));
        if (guest && host_held) {
            return TDX_OPERAND_BUSY_HOST_PRIORITY | TDX_OPERAND_ID_RCX;
        }
        return TDX_OPERAND_BUSY | TDX_OPERAND_ID_RCX;
    }
    count_add(guest ? td->entry_guest_locks : td->entry_locks, key, 1);
    frame.entry = true;
    frame.entry_key = key;
    frame.entry_guest = guest;
    return TDX_SUCCESS;
}

static void release_locks(void)
{
    struct tdx_td *td = frame.td;

    if (frame.tree == 2) {
        td->tree_exclusive = false;
    } else if (frame.tree == 1) {
        td->tree_shared--;
    }
    if (frame.epoch == 2) {
        td->epoch_locked = false;
    } else if (frame.epoch == 1) {
        td->epoch_shared--;
    }
    if (frame.entry) {
        count_add(frame.entry_guest ? td->entry_guest_locks : td->entry_locks,
                  frame.entry_key, -1);
    }
}

static tdx_status_t end(struct tdxmod *m, tdx_status_t status)
{
    bool held = frame.tree || frame.epoch || frame.entry;
    uint64_t ns = m->hold_ns[frame.slot];

    if (held) {
        /*
         * The call's work is done; others may run now while it still
         * holds its modelled locks (a real call holds them longer).
         */
        pthread_mutex_unlock(&m->mu);
        if (ns) {
            struct timespec ts = { ns / 1000000000ULL, ns % 1000000000ULL };

            nanosleep(&ts, NULL);
        }
        pthread_mutex_lock(&m->mu);
        release_locks();
    }
    if (frame.slot != TDX_ACCEPT_SLOT) {
        m->calls_in_flight--;
    }
    frame.active = false;
    pthread_mutex_unlock(&m->mu);
    return status;
}

tdx_status_t tdx_call_end(struct tdxmod *m, struct tdx_td *td,
                          enum tdx_leaf leaf, tdx_status_t status)
{
    tdx_account(m, td, leaf, status);
    return end(m, status);
}

tdx_status_t tdx_call_finish(struct tdxmod *m, tdx_status_t status)
{
    return end(m, status);
}

void tdxmod_set_lock_hold(struct tdxmod *m, unsigned leaf, uint64_t ns)
{
    TDX_GUARD(m);

    if (leaf < TDX_NR_LEAVES) {
        m->hold_ns[leaf] = ns;
    }
}

unsigned tdxmod_seamcalls_peak(struct tdxmod *m, bool reset)
{
    TDX_GUARD(m);

    unsigned peak = m->calls_peak;

    if (reset) {
        m->calls_peak = m->calls_in_flight;
    }
    return peak;
}

bool tdx_td_epoch_lock_held(const struct tdx_td *td)
{
    TDX_GUARD(td->m);

    return td->epoch_locked || td->epoch_shared;
}
