/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * tdxsim: names of leaves / statuses / states, SEAMCALL counters, the cost
 * model that turns counts into an estimated time, and seeded BUSY injection.
 *
 * tdx-facts.md: "No public per-SEAMCALL latency exists: make the simulator's
 * cost model a parameter table."  The defaults below are ASSUMPTIONS, sized
 * from what each leaf does (PAMT and S-EPT updates, page copies or zeroing
 * with MOVDIR64B, cache flushes), not measurements.  Override them with
 * tdxmod_set_cost_table() or tdxmod_parse_cost_overrides().
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "tdxmod-int.h"

static const char *const leaf_names[TDX_NR_LEAVES] = {
    [TDH_VP_ENTER] = "TDH.VP.ENTER",
    [TDH_MNG_ADDCX] = "TDH.MNG.ADDCX",
    [TDH_MEM_PAGE_ADD] = "TDH.MEM.PAGE.ADD",
    [TDH_MEM_SEPT_ADD] = "TDH.MEM.SEPT.ADD",
    [TDH_VP_ADDCX] = "TDH.VP.ADDCX",
    [TDH_MEM_PAGE_AUG] = "TDH.MEM.PAGE.AUG",
    [TDH_MEM_RANGE_BLOCK] = "TDH.MEM.RANGE.BLOCK",
    [TDH_MNG_KEY_CONFIG] = "TDH.MNG.KEY.CONFIG",
    [TDH_MNG_CREATE] = "TDH.MNG.CREATE",
    [TDH_VP_CREATE] = "TDH.VP.CREATE",
    [TDH_MEM_PAGE_DEMOTE] = "TDH.MEM.PAGE.DEMOTE",
    [TDH_MR_EXTEND] = "TDH.MR.EXTEND",
    [TDH_MR_FINALIZE] = "TDH.MR.FINALIZE",
    [TDH_VP_FLUSH] = "TDH.VP.FLUSH",
    [TDH_MNG_VPFLUSHDONE] = "TDH.MNG.VPFLUSHDONE",
    [TDH_MNG_KEY_FREEID] = "TDH.MNG.KEY.FREEID",
    [TDH_MNG_INIT] = "TDH.MNG.INIT",
    [TDH_VP_INIT] = "TDH.VP.INIT",
    [TDH_MEM_PAGE_PROMOTE] = "TDH.MEM.PAGE.PROMOTE",
    [TDH_PHYMEM_PAGE_RECLAIM] = "TDH.PHYMEM.PAGE.RECLAIM",
    [TDH_MEM_PAGE_REMOVE] = "TDH.MEM.PAGE.REMOVE",
    [TDH_MEM_SEPT_REMOVE] = "TDH.MEM.SEPT.REMOVE",
    [TDH_MEM_TRACK] = "TDH.MEM.TRACK",
    [TDH_MEM_RANGE_UNBLOCK] = "TDH.MEM.RANGE.UNBLOCK",
    [TDH_PHYMEM_CACHE_WB] = "TDH.PHYMEM.CACHE.WB",
    [TDH_PHYMEM_PAGE_WBINVD] = "TDH.PHYMEM.PAGE.WBINVD",
};

const char *tdx_leaf_name(enum tdx_leaf leaf)
{
    if ((unsigned)leaf >= TDX_NR_LEAVES) {
        return NULL;
    }
    return leaf_names[leaf];
}

static const struct {
    tdx_status_t status;
    const char *name;
} status_names[] = {
#define S(x) { x, #x }
    S(TDX_SUCCESS),
    S(TDX_OPERAND_INVALID),
    S(TDX_OPERAND_BUSY),
    S(TDX_PREVIOUS_TLB_EPOCH_BUSY),
    S(TDX_OPERAND_BUSY_HOST_PRIORITY),
    S(TDX_PAGE_METADATA_INCORRECT),
    S(TDX_TD_ASSOCIATED_PAGES_EXIST),
    S(TDX_LIFECYCLE_STATE_INCORRECT),
    S(TDX_OP_STATE_INCORRECT),
    S(TDX_VCPU_ASSOCIATED),
    S(TDX_VCPU_NOT_ASSOCIATED),
    S(TDX_WBCACHE_NOT_COMPLETE),
    S(TDX_NO_HKID_READY_TO_WBCACHE),
    S(TDX_FLUSHVP_NOT_DONE),
    S(TDX_NO_VCPUS),
    S(TDX_MAX_VCPUS_EXCEEDED),
    S(TDX_INTERRUPTED_RESTARTABLE),
    S(TDX_EPT_WALK_FAILED),
    S(TDX_EPT_ENTRY_FREE),
    S(TDX_EPT_ENTRY_NOT_FREE),
    S(TDX_EPT_ENTRY_NOT_PRESENT),
    S(TDX_EPT_ENTRY_NOT_LEAF),
    S(TDX_EPT_ENTRY_LEAF),
    S(TDX_GPA_RANGE_NOT_BLOCKED),
    S(TDX_GPA_RANGE_ALREADY_BLOCKED),
    S(TDX_TLB_TRACKING_NOT_DONE),
    S(TDX_EPT_INVALID_PROMOTE_CONDITIONS),
    S(TDX_PAGE_ALREADY_ACCEPTED),
    S(TDX_PAGE_SIZE_MISMATCH),
    S(TDX_EPT_ENTRY_STATE_INCORRECT),
    S(TDX_EPT_PAGE_NOT_FREE),
#undef S
};

const char *tdx_status_name(tdx_status_t status)
{
    tdx_status_t class = TDX_STATUS_CLASS(status);

    for (size_t i = 0; i < G_N_ELEMENTS(status_names); i++) {
        if (status_names[i].status == class) {
            return status_names[i].name;
        }
    }
    return "UNKNOWN";
}

const char *tdx_sept_state_name(enum tdx_sept_state state)
{
    static const char *const names[] = {
        [SEPT_FREE] = "FREE",
        [SEPT_NL_MAPPED] = "NL_MAPPED",
        [SEPT_NL_BLOCKED] = "NL_BLOCKED",
        [SEPT_MAPPED] = "MAPPED",
        [SEPT_BLOCKED] = "BLOCKED",
        [SEPT_PENDING] = "PENDING",
        [SEPT_PENDING_BLOCKED] = "PENDING_BLOCKED",
    };

    if ((unsigned)state >= G_N_ELEMENTS(names)) {
        return "UNKNOWN";
    }
    return names[state];
}

/*
 * Default cost table, in CPU cycles at cpu_mhz = 2000.  Every figure is an
 * ASSUMPTION, marked so on its line: no per-SEAMCALL latency is published
 * (tdx-facts.md), so none can be cited.  scripts/bench reads this table,
 * recomputes each comparison with every figure halved and doubled in turn,
 * and checks the table against the published end-to-end shapes (a ~8 us
 * 4K private fault, a 72 s -> 24 s teardown of 18 GB); docs/benchmarks.md
 * has the result.  The reasoning per leaf:
 *  - VP.ENTER: TD entry + exit round trip without guest time, ~3 us.
 *  - PAGE.ADD: copies a 4K source page into the TD (encrypting) and updates
 *    S-EPT + PAMT: ~15k.  MR.EXTEND hashes 256 bytes (SHA-384): ~3k.
 *  - PAGE.AUG 4K: S-EPT + PAMT update, no data touched: ~10k.  AUG 2M also
 *    touches no data but updates 2M PAMT metadata: ~14k.
 *  - SEPT.ADD initialises a 4K S-EPT page with MOVDIR64B: ~8k.
 *  - RANGE.BLOCK / UNBLOCK: one entry under the exclusive tree lock: ~6k.
 *  - MEM.TRACK: bumps the epoch: ~3k.  PAGE.REMOVE: ~8k.
 *  - SEPT.REMOVE scans 512 entries: ~10k.  DEMOTE writes a new S-EPT page
 *    and 512 PAMT entries: ~40k; PROMOTE scans and merges them: ~60k.
 *  - PHYMEM.CACHE.WB writes back the whole cache of a package: ~2M cycles.
 *  - RECLAIM: PAMT update, ~4k; PAGE.WBINVD: one page flush, ~3k.
 *  - Guest ACCEPT zeroes the page: 4K ~8k including the TDCALL, 2M ~400k.
 */
void tdx_cost_table_default(struct tdx_cost_table *t)
{
    memset(t, 0, sizeof(*t));
    t->cpu_mhz = 2000; /* ASSUMPTION: scales every time, no ratio */
    t->cycles[TDH_VP_ENTER] = 6000; /* ASSUMPTION */
    t->cycles[TDH_MNG_ADDCX] = 5000; /* ASSUMPTION */
    t->cycles[TDH_MEM_PAGE_ADD] = 15000; /* ASSUMPTION */
    t->cycles[TDH_MEM_SEPT_ADD] = 8000; /* ASSUMPTION */
    t->cycles[TDH_VP_ADDCX] = 5000; /* ASSUMPTION */
    t->cycles[TDH_MEM_PAGE_AUG] = 10000; /* ASSUMPTION */
    t->aug_2m_cycles = 14000; /* ASSUMPTION */
    t->cycles[TDH_MEM_RANGE_BLOCK] = 6000; /* ASSUMPTION */
    t->cycles[TDH_MNG_KEY_CONFIG] = 20000; /* ASSUMPTION */
    t->cycles[TDH_MNG_CREATE] = 8000; /* ASSUMPTION */
    t->cycles[TDH_VP_CREATE] = 8000; /* ASSUMPTION */
    t->cycles[TDH_MEM_PAGE_DEMOTE] = 40000; /* ASSUMPTION */
    t->cycles[TDH_MR_EXTEND] = 3000; /* ASSUMPTION */
    t->cycles[TDH_MR_FINALIZE] = 10000; /* ASSUMPTION */
    t->cycles[TDH_VP_FLUSH] = 10000; /* ASSUMPTION */
    t->cycles[TDH_MNG_VPFLUSHDONE] = 3000; /* ASSUMPTION */
    t->cycles[TDH_MNG_KEY_FREEID] = 3000; /* ASSUMPTION */
    t->cycles[TDH_MNG_INIT] = 50000; /* ASSUMPTION */
    t->cycles[TDH_VP_INIT] = 20000; /* ASSUMPTION */
    t->cycles[TDH_MEM_PAGE_PROMOTE] = 60000; /* ASSUMPTION */
    t->cycles[TDH_PHYMEM_PAGE_RECLAIM] = 4000; /* ASSUMPTION */
    t->cycles[TDH_MEM_PAGE_REMOVE] = 8000; /* ASSUMPTION */
    t->cycles[TDH_MEM_SEPT_REMOVE] = 10000; /* ASSUMPTION */
    t->cycles[TDH_MEM_TRACK] = 3000; /* ASSUMPTION */
    t->cycles[TDH_MEM_RANGE_UNBLOCK] = 6000; /* ASSUMPTION */
    t->cycles[TDH_PHYMEM_CACHE_WB] = 2000000; /* ASSUMPTION */
    t->cycles[TDH_PHYMEM_PAGE_WBINVD] = 3000; /* ASSUMPTION */
    t->accept_cycles[0] = 8000; /* ASSUMPTION */
    t->accept_cycles[1] = 400000; /* ASSUMPTION */
}

void tdxmod_set_cost_table(struct tdxmod *m, const struct tdx_cost_table *t)
{
    TDX_GUARD(m);

    m->cost = *t;
    if (!m->cost.cpu_mhz) {
        m->cost.cpu_mhz = 2000;
    }
}

const struct tdx_cost_table *tdxmod_cost_table(const struct tdxmod *m)
{
    return &m->cost;
}

static bool parse_u64(const char *s, uint64_t *out)
{
    char *end;
    unsigned long long v;

    if (!*s || *s == '-' || *s == '+') {
        return false;
    }
    errno = 0;
    v = strtoull(s, &end, 0);
    if (errno || *end) {
        return false;
    }
    *out = v;
    return true;
}

/*
 * Resolve KEY of "KEY=CYCLES" to the slot it sets: a leaf name or number,
 * "TDH.MEM.PAGE.AUG.2M", "TDG.MEM.PAGE.ACCEPT" (4K), "TDG.MEM.PAGE.ACCEPT.2M"
 * or "CPU_MHZ" (names are case-insensitive).
 */
static uint64_t *cost_slot(struct tdx_cost_table *t, const char *key)
{
    uint64_t n;

    if (!g_ascii_strcasecmp(key, "CPU_MHZ")) {
        return &t->cpu_mhz;
    }
    if (!g_ascii_strcasecmp(key, "TDH.MEM.PAGE.AUG.2M")) {
        return &t->aug_2m_cycles;
    }
    if (!g_ascii_strcasecmp(key, "TDG.MEM.PAGE.ACCEPT") ||
        !g_ascii_strcasecmp(key, "TDG.MEM.PAGE.ACCEPT.4K")) {
        return &t->accept_cycles[0];
    }
    if (!g_ascii_strcasecmp(key, "TDG.MEM.PAGE.ACCEPT.2M")) {
        return &t->accept_cycles[1];
    }
    if (parse_u64(key, &n)) {
        return n < TDX_NR_LEAVES ? &t->cycles[n] : NULL;
    }
    for (unsigned i = 0; i < TDX_NR_LEAVES; i++) {
        if (leaf_names[i] && !g_ascii_strcasecmp(key, leaf_names[i])) {
            return &t->cycles[i];
        }
    }
    return NULL;
}

bool tdxmod_parse_cost_overrides(struct tdxmod *m, const char *spec)
{
    struct tdx_cost_table t = m->cost;
    gchar **items;
    bool ok = true;

    if (!spec) {
        return false;
    }
    items = g_strsplit(spec, ",", -1);
    for (gchar **it = items; *it && ok; it++) {
        gchar *item = g_strstrip(*it);
        gchar *eq = strchr(item, '=');
        uint64_t *slot;
        uint64_t v;

        if (!*item && !it[1] && it != items) {
            break;                      /* tolerate one trailing comma */
        }
        if (!eq) {
            ok = false;
            break;
        }
        *eq = '\0';
        slot = cost_slot(&t, g_strstrip(item));
        if (!slot || !parse_u64(g_strstrip(eq + 1), &v)) {
            ok = false;
            break;
        }
        if (slot == &t.cpu_mhz && v == 0) {
            ok = false;
            break;
        }
        *slot = v;
    }
    g_strfreev(items);
    if (ok) {
        m->cost = t;                    /* all or nothing */
    }
    return ok;
}

uint64_t tdx_counters_estimated_ns(const struct tdx_counters *c,
                                   const struct tdx_cost_table *t)
{
    unsigned __int128 cycles = 0;
    uint64_t aug_4k, acc_4k;

    for (unsigned i = 0; i < TDX_NR_LEAVES; i++) {
        if (i != TDH_MEM_PAGE_AUG) {
            cycles += (unsigned __int128)c->seamcalls[i] * t->cycles[i];
        }
    }
    aug_4k = c->seamcalls[TDH_MEM_PAGE_AUG] - c->aug_2m;
    cycles += (unsigned __int128)aug_4k * t->cycles[TDH_MEM_PAGE_AUG];
    cycles += (unsigned __int128)c->aug_2m * t->aug_2m_cycles;
    acc_4k = c->accepts - c->accepts_2m;
    cycles += (unsigned __int128)acc_4k * t->accept_cycles[0];
    cycles += (unsigned __int128)c->accepts_2m * t->accept_cycles[1];
    return (uint64_t)(cycles * 1000 / (t->cpu_mhz ? t->cpu_mhz : 2000));
}

uint64_t tdxmod_estimated_ns(const struct tdxmod *m)
{
    TDX_GUARD((struct tdxmod *)m);

    return tdx_counters_estimated_ns(&m->counters, &m->cost);
}

const struct tdx_counters *tdxmod_counters(const struct tdxmod *m)
{
    return &m->counters;
}

const struct tdx_counters *tdx_td_counters(const struct tdx_td *td)
{
    return &td->counters;
}

/*
 * Count one SEAMCALL of leaf with its final status, in the TD's counters (if
 * any) and the module's.  Every call is counted, failing ones too.
 */
tdx_status_t tdx_account(struct tdxmod *m, struct tdx_td *td,
                         enum tdx_leaf leaf, tdx_status_t status)
{
    struct tdx_counters *c[2] = { &m->counters, td ? &td->counters : NULL };

    for (int i = 0; i < 2 && c[i]; i++) {
        c[i]->seamcalls[leaf]++;
        if (TDX_STATUS_IS_ERROR(status)) {
            c[i]->failed[leaf]++;
        }
        if (TDX_STATUS_IS_BUSY(status)) {
            c[i]->busy[leaf]++;
        }
    }
    return status;
}

/* Bump the uint64_t counter at offset in both counter sets. */
void tdx_account_count(struct tdxmod *m, struct tdx_td *td, size_t offset)
{
    (*(uint64_t *)((char *)&m->counters + offset))++;
    if (td) {
        (*(uint64_t *)((char *)&td->counters + offset))++;
    }
}

/* xorshift64*: small, seeded, reproducible. */
static uint64_t rng_next(struct tdxmod *m)
{
    uint64_t x = m->rng;

    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    m->rng = x;
    return x * 0x2545F4914F6CDD1DULL;
}

/* Uniform in [0, 1). */
static double rng_double(struct tdxmod *m)
{
    return (rng_next(m) >> 11) * (1.0 / 9007199254740992.0);
}

void tdxmod_inject_busy(struct tdxmod *m, enum tdx_leaf leaf,
                        const struct tdx_inject_busy *inj)
{
    TDX_GUARD(m);

    g_return_if_fail((unsigned)leaf < TDX_NR_LEAVES);
    if (inj) {
        m->inject[leaf] = *inj;
    } else {
        memset(&m->inject[leaf], 0, sizeof(m->inject[leaf]));
    }
    m->inject_calls[leaf] = 0;
}

/*
 * The operand id of the lock a leaf takes, reported with an injected BUSY
 * (tdx-facts.md, "Locks and zero-step"): the S-EPT tree lock for the S-EPT
 * leaves, the epoch lock for TRACK, the TDR for PAGE.ADD / MR.* and the
 * TD-wide management leaves, the TDVPS for vCPU leaves, the page's PAMT
 * entry (reported as RCX by the module) for the PHYMEM leaves.
 */
static uint64_t leaf_lock_operand(enum tdx_leaf leaf)
{
    switch (leaf) {
    case TDH_MEM_SEPT_ADD:
    case TDH_MEM_PAGE_AUG:
    case TDH_MEM_RANGE_BLOCK:
    case TDH_MEM_PAGE_DEMOTE:
    case TDH_MEM_PAGE_PROMOTE:
    case TDH_MEM_PAGE_REMOVE:
    case TDH_MEM_SEPT_REMOVE:
    case TDH_MEM_RANGE_UNBLOCK:
        return TDX_OPERAND_ID_SEPT_TREE;
    case TDH_MEM_TRACK:
        return TDX_OPERAND_ID_TD_EPOCH;
    case TDH_VP_ENTER:
    case TDH_VP_ADDCX:
    case TDH_VP_CREATE:
    case TDH_VP_INIT:
    case TDH_VP_FLUSH:
        return TDX_OPERAND_ID_TDVPR;
    case TDH_PHYMEM_PAGE_RECLAIM:
    case TDH_PHYMEM_PAGE_WBINVD:
    case TDH_PHYMEM_CACHE_WB:
        return TDX_OPERAND_ID_RCX;
    default:
        return TDX_OPERAND_ID_TDR;
    }
}

/*
 * Fault injection, checked first by every SEAMCALL, before any state change:
 * returns TDX_OPERAND_BUSY | operand id if this call must fail, else 0.
 * The PRNG is only drawn for leaves with a probability set, so a run is
 * reproducible from the seed and the sequence of calls.
 */
tdx_status_t tdx_inject(struct tdxmod *m, enum tdx_leaf leaf)
{
    const struct tdx_inject_busy *inj = &m->inject[leaf];
    bool hit = false;

    if (inj->probability <= 0 && !inj->every_nth && !inj->after_set) {
        return TDX_SUCCESS;
    }
    m->inject_calls[leaf]++;
    if (inj->every_nth && m->inject_calls[leaf] % inj->every_nth == 0) {
        hit = true;
    }
    if (inj->after_set && m->inject_calls[leaf] > inj->after) {
        hit = true;
    }
    if (inj->probability > 0 && rng_double(m) < inj->probability) {
        hit = true;
    }
    return hit ? TDX_OPERAND_BUSY | leaf_lock_operand(leaf) : TDX_SUCCESS;
}
