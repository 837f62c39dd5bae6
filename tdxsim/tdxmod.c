/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * tdxsim: the TDX module model -- module object, PAMT (page ownership), TD
 * and vCPU life cycle, build-time leaves (PAGE.ADD, MR.EXTEND, MR.FINALIZE),
 * lock holders, teardown and reclaim.  The S-EPT itself is in tdxmod-sept.c,
 * counters / costs / injection in tdxmod-cost.c.
 *
 * Rules and status codes: shared/design/tdx-facts.md.  Where the facts file
 * names no code, the value a TDX module 1.5 returns is used (see the
 * comments at each such place).
 */
#include <string.h>

#include "tdxmod-int.h"

G_STATIC_ASSERT(sizeof(gpointer) >= sizeof(uint64_t));

/*
 * PAMT.  The module keeps one PAMT entry per 4K page, or one per 2M page for
 * a 2M private page (its first pfn, "head").  Here: a hash from pfn to
 * (owner id << 8 | type << 4 | level), never 0 since type != PT_NDA.
 */
#define PAMT_PACK(id, type, level) \
    GSIZE_TO_POINTER(((gsize)(id) << 8) | ((gsize)(type) << 4) | (gsize)(level))

static bool pamt_lookup(const struct tdxmod *m, tdx_pfn_t pfn,
                        struct pamt_info *pi)
{
    gsize v = GPOINTER_TO_SIZE(g_hash_table_lookup(m->pamt,
                                                   GSIZE_TO_POINTER(pfn)));

    if (!v) {
        return false;
    }
    pi->td = g_hash_table_lookup(m->tds, GUINT_TO_POINTER((guint)(v >> 8)));
    pi->type = (v >> 4) & 0xf;
    pi->level = v & 0xf;
    pi->head = pfn;
    return true;
}

/* The PAMT entry covering pfn: its own, or that of an enclosing 2M page. */
bool tdx_pamt_find(const struct tdxmod *m, tdx_pfn_t pfn, struct pamt_info *pi)
{
    tdx_pfn_t head = pfn & ~(PAGES_PER_2M - 1);

    if (pamt_lookup(m, pfn, pi)) {
        return true;
    }
    return head != pfn && pamt_lookup(m, head, pi) && pi->level == TDX_LEVEL_2M;
}

/* No page of the range [pfn, pfn + pages(level)) is owned by any TD. */
bool tdx_pamt_range_free(const struct tdxmod *m, tdx_pfn_t pfn, int level)
{
    struct pamt_info pi;

    if (level == TDX_LEVEL_4K) {
        return !tdx_pamt_find(m, pfn, &pi);
    }
    for (uint64_t i = 0; i < tdx_level_pages(level); i++) {
        if (pamt_lookup(m, pfn + i, &pi)) {
            return false;
        }
    }
    /* A 2M page starting below pfn cannot overlap: pfn is 2M aligned. */
    return true;
}

void tdx_pamt_set(struct tdxmod *m, tdx_pfn_t pfn, struct tdx_td *td,
                  enum tdx_page_type type, int level)
{
    uint64_t pages = tdx_level_pages(level);

    g_hash_table_insert(m->pamt, GSIZE_TO_POINTER(pfn),
                        PAMT_PACK(td->id, type, level));
    m->pages_owned += pages;
    if (type != PT_TDR) {
        td->child_pages += pages;
    }
    td->pamt_entries[type][level != TDX_LEVEL_4K]++;
}

void tdx_pamt_clear(struct tdxmod *m, tdx_pfn_t pfn)
{
    struct pamt_info pi;
    uint64_t pages;

    if (!pamt_lookup(m, pfn, &pi)) {
        return;
    }
    pages = tdx_level_pages(pi.level);
    g_hash_table_remove(m->pamt, GSIZE_TO_POINTER(pfn));
    m->pages_owned -= pages;
    if (pi.td && pi.type != PT_TDR) {
        pi.td->child_pages -= pages;
    }
    if (pi.td && pi.type <= PT_REG) {
        pi.td->pamt_entries[pi.type][pi.level != TDX_LEVEL_4K]--;
    }
}

void tdx_pamt_set_raw(struct tdxmod *m, tdx_pfn_t pfn, uint32_t owner,
                      enum tdx_page_type type, int level)
{
    if (type == PT_NDA) {
        g_hash_table_remove(m->pamt, GSIZE_TO_POINTER(pfn));
    } else {
        g_hash_table_insert(m->pamt, GSIZE_TO_POINTER(pfn),
                            PAMT_PACK(owner, type, level));
    }
}

enum tdx_page_type tdxmod_page_type(const struct tdxmod *m, tdx_pfn_t pfn)
{
    TDX_GUARD((struct tdxmod *)m);

    struct pamt_info pi;

    return tdx_pamt_find(m, pfn, &pi) ? pi.type : PT_NDA;
}

uint64_t tdxmod_pages_owned(const struct tdxmod *m)
{
    TDX_GUARD((struct tdxmod *)m);

    return m->pages_owned;
}

uint64_t tdx_td_pages_owned(const struct tdx_td *td)
{
    TDX_GUARD(td->m);

    struct pamt_info pi;

    return td->child_pages +
           (tdx_pamt_find(td->m, td->tdr_pfn, &pi) && pi.td == td);
}

/* Module. */

struct tdxmod *tdxmod_new(uint64_t seed)
{
    struct tdxmod *m = g_new0(struct tdxmod, 1);
    uint64_t z = seed + 0x9E3779B97F4A7C15ULL;
    pthread_mutexattr_t attr;

    pthread_mutexattr_init(&attr);
    pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
    pthread_mutex_init(&m->mu, &attr);
    pthread_mutexattr_destroy(&attr);

    /* splitmix64 of the seed, so that nearby seeds give unrelated streams */
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    z ^= z >> 31;
    m->rng = z ? z : 0x2545F4914F6CDD1DULL;
    tdx_cost_table_default(&m->cost);
    m->pamt = g_hash_table_new(g_direct_hash, g_direct_equal);
    m->tds = g_hash_table_new(g_direct_hash, g_direct_equal);
    m->next_td_id = 1;
    return m;
}

static void td_destroy(struct tdx_td *td)
{
    tdx_sept_tree_free(td->root);
    g_array_free(td->vcpus, true);
    g_hash_table_destroy(td->entry_locks);
    g_hash_table_destroy(td->entry_guest_locks);
    g_free(td);
}

void tdxmod_free(struct tdxmod *m)
{
    GHashTableIter it;
    gpointer td;

    if (!m) {
        return;
    }
    g_hash_table_iter_init(&it, m->tds);
    while (g_hash_table_iter_next(&it, NULL, &td)) {
        td_destroy(td);
    }
    g_hash_table_destroy(m->tds);
    g_hash_table_destroy(m->pamt);
    g_free(m);
}

/* TD creation. */

static bool pfns_free_and_distinct(const struct tdxmod *m, tdx_pfn_t tdr,
                                   const tdx_pfn_t *pfns, unsigned n)
{
    if (!tdx_pamt_range_free(m, tdr, TDX_LEVEL_4K)) {
        return false;
    }
    for (unsigned i = 0; i < n; i++) {
        if (pfns[i] == tdr || !tdx_pamt_range_free(m, pfns[i], TDX_LEVEL_4K)) {
            return false;
        }
        for (unsigned j = 0; j < i; j++) {
            if (pfns[j] == pfns[i]) {
                return false;
            }
        }
    }
    return true;
}

/*
 * Module 1.5 helpers.c check_xfam(), the combinations: x87 and SSE set
 * (TDX_XFAM_FIXED1), nothing outside TDX_XFAM_FIXED0, the three AVX-512
 * components together and only with AVX, CET_U with CET_S, the two AMX
 * components together.  (The module also refuses bits the CPU lacks;
 * KVM's setup_tdparams() refuses those first, with -EINVAL.)
 */
#define TDX_XFAM_FIXED0     0x6DBE7ULL
#define XFAM_BIT(x, b)      (((x) >> (b)) & 1)

static bool xfam_valid(uint64_t xfam)
{
    return (xfam & ~TDX_XFAM_FIXED0) == 0 &&
           (xfam & TDX_XFAM_FIXED1) == TDX_XFAM_FIXED1 &&
           !(XFAM_BIT(xfam, 5) && !XFAM_BIT(xfam, 2)) &&
           XFAM_BIT(xfam, 5) == XFAM_BIT(xfam, 6) &&
           XFAM_BIT(xfam, 5) == XFAM_BIT(xfam, 7) &&
           XFAM_BIT(xfam, 11) == XFAM_BIT(xfam, 12) &&
           XFAM_BIT(xfam, 17) == XFAM_BIT(xfam, 18);
}

/*
 * TDH.MNG.INIT's checks of TD_PARAMS, in the module's order
 * (tdh_mng_init.c read_and_set_td_configurations(): ATTRIBUTES, XFAM,
 * MAX_VCPUS, ..., TSC_FREQUENCY); each failure is OPERAND_INVALID | the
 * field's operand id.  ATTRIBUTES, CONFIG_FLAGS, EPTP_CONTROLS and the
 * CPUID values are not checked here (see kvm-tdx.c tdx_init_vm()).
 */
static tdx_status_t mng_init_check(const struct tdx_td_params *p)
{
    if (!xfam_valid(p->xfam)) {
        return TDX_OPERAND_INVALID | TDX_OPERAND_ID_XFAM;
    }
    if (p->max_vcpus == 0) {
        return TDX_OPERAND_INVALID | TDX_OPERAND_ID_MAX_VCPUS;
    }
    if (p->tsc_frequency < TDX_VIRT_TSC_FREQUENCY_MIN ||
        p->tsc_frequency > TDX_VIRT_TSC_FREQUENCY_MAX) {
        return TDX_OPERAND_INVALID | TDX_OPERAND_ID_TSC_FREQUENCY;
    }
    return TDX_SUCCESS;
}

tdx_status_t tdx_td_create_params(struct tdxmod *m, tdx_pfn_t tdr_pfn,
                                  const tdx_pfn_t *tdcs_pfns, unsigned nr_tdcs,
                                  const struct tdx_td_params *params,
                                  struct tdx_td **tdp)
{
    TDX_GUARD(m);

    unsigned gpaw = params->gpaw;
    struct tdx_td *td;
    tdx_status_t init;

    *tdp = NULL;
    if ((gpaw != 48 && gpaw != 52) || nr_tdcs == 0 || !tdcs_pfns ||
        !pfns_free_and_distinct(m, tdr_pfn, tdcs_pfns, nr_tdcs)) {
        return TDX_OPERAND_INVALID | TDX_OPERAND_ID_RCX;
    }
    td = g_new0(struct tdx_td, 1);
    td->m = m;
    td->id = m->next_td_id++;
    td->tdr_pfn = tdr_pfn;
    td->gpaw = gpaw;
    td->levels = gpaw == 52 ? 5 : 4;
    td->state = TD_STATE_BUILD;
    td->epoch = 1;
    /* The root S-EPT page is one of the TDCS pages: no SEPT.ADD for it. */
    td->root = tdx_sept_node_new(tdcs_pfns[0], td->levels - 1);
    td->vcpus = g_array_new(false, true, sizeof(struct tdx_vcpu));
    td->entry_locks = g_hash_table_new(g_direct_hash, g_direct_equal);
    td->entry_guest_locks = g_hash_table_new(g_direct_hash, g_direct_equal);
    g_hash_table_insert(m->tds, GUINT_TO_POINTER(td->id), td);

    /* TDH.MNG.CREATE, KEY.CONFIG, one MNG.ADDCX per TDCS page, MNG.INIT. */
    tdx_pamt_set(m, tdr_pfn, td, PT_TDR, TDX_LEVEL_4K);
    tdx_account(m, td, TDH_MNG_CREATE, TDX_SUCCESS);
    tdx_account(m, td, TDH_MNG_KEY_CONFIG, TDX_SUCCESS);
    for (unsigned i = 0; i < nr_tdcs; i++) {
        tdx_pamt_set(m, tdcs_pfns[i], td, PT_TDCX, TDX_LEVEL_4K);
        tdx_account(m, td, TDH_MNG_ADDCX, TDX_SUCCESS);
    }
    init = mng_init_check(params);
    tdx_account(m, td, TDH_MNG_INIT, init);
    td->op_uninit = init != TDX_SUCCESS;
    td->max_vcpus = params->max_vcpus;
    *tdp = td;
    return init;
}

struct tdx_td *tdx_td_create(struct tdxmod *m, tdx_pfn_t tdr_pfn,
                             const tdx_pfn_t *tdcs_pfns, unsigned nr_tdcs,
                             unsigned gpaw)
{
    struct tdx_td_params p = {
        .xfam = TDX_XFAM_FIXED1, .max_vcpus = 0xffff,
        .tsc_frequency = 100, .gpaw = gpaw,
    };
    struct tdx_td *td;

    return tdx_td_create_params(m, tdr_pfn, tdcs_pfns, nr_tdcs, &p, &td) ?
           NULL : td;
}

unsigned tdx_td_levels(const struct tdx_td *td)
{
    return td->levels;
}

uint64_t tdx_td_shared_bit(const struct tdx_td *td)
{
    return 1ULL << (td->gpaw - 1);
}

enum tdx_td_state tdx_td_state(const struct tdx_td *td)
{
    TDX_GUARD(td->m);

    return td->state;
}

uint64_t tdx_td_epoch(const struct tdx_td *td)
{
    TDX_GUARD(td->m);

    return td->epoch;
}

/*
 * Life-cycle gate (the module's TDR lifecycle / TDCS op_state checks):
 *  - BUILD (op_state INITIALIZED): everything but VP.ENTER.
 *  - RUNNABLE: PAGE.ADD and MR.* fail with OP_STATE_INCORRECT (the module
 *    checks op_state for them; lifecycle is still KEYS_CONFIGURED).
 *  - BLOCKED (after MNG.VPFLUSHDONE, lifecycle TD_BLOCKED): only the leaves
 *    that take memory away (BLOCK, UNBLOCK, TRACK, PAGE.REMOVE, SEPT.REMOVE)
 *    and the teardown leaves; the rest fail LIFECYCLE_STATE_INCORRECT.
 *  - TEARDOWN (after KEY.FREEID): nothing but RECLAIM / WBINVD, which do
 *    not come here.
 */
tdx_status_t tdx_td_state_check(const struct tdx_td *td, enum tdx_leaf leaf)
{
    switch (td->state) {
    case TD_STATE_BUILD:
        if (td->op_uninit) {
            /*
             * MNG.INIT failed: op_state UNINITIALIZED allows none of the
             * leaves that come here but VP.FLUSH (module 1.5
             * op_state_lookup.c seamcall_state_lookup[][0]).
             */
            return leaf == TDH_VP_FLUSH ? TDX_SUCCESS : TDX_OP_STATE_INCORRECT;
        }
        return leaf == TDH_VP_ENTER ? TDX_LIFECYCLE_STATE_INCORRECT
                                    : TDX_SUCCESS;
    case TD_STATE_RUNNABLE:
        if (leaf == TDH_MEM_PAGE_ADD || leaf == TDH_MR_EXTEND ||
            leaf == TDH_MR_FINALIZE) {
            return TDX_OP_STATE_INCORRECT;
        }
        return TDX_SUCCESS;
    case TD_STATE_BLOCKED:
        switch (leaf) {
        case TDH_MEM_RANGE_BLOCK:
        case TDH_MEM_RANGE_UNBLOCK:
        case TDH_MEM_TRACK:
        case TDH_MEM_PAGE_REMOVE:
        case TDH_MEM_SEPT_REMOVE:
        case TDH_VP_FLUSH:
        case TDH_PHYMEM_CACHE_WB:
        case TDH_MNG_KEY_FREEID:
            return TDX_SUCCESS;
        default:
            return TDX_LIFECYCLE_STATE_INCORRECT;
        }
    default:
        return TDX_LIFECYCLE_STATE_INCORRECT;
    }
}

/* vCPUs. */

static struct tdx_vcpu *vcpu_get(const struct tdx_td *td, int vcpu)
{
    if (vcpu < 0 || (unsigned)vcpu >= td->vcpus->len) {
        return NULL;
    }
    return &g_array_index(td->vcpus, struct tdx_vcpu, vcpu);
}

/*
 * TDH.VP.CREATE + VP.ADDCX per page + VP.INIT.  Only while the TD is being
 * built (KVM refuses vCPU TDX ioctls once runnable) and initialised (VP.CREATE
 * and VP.INIT need op_state INITIALIZED).  VP.INIT associates the vCPU with
 * the current LP, so it needs a VP.FLUSH before VPFLUSHDONE.  VP.INIT counts
 * the TD's vCPUs and refuses one beyond TD_PARAMS.MAX_VCPUS
 * (tdh_vp_init.c: TDX_MAX_VCPUS_EXCEEDED); here that is refused before any
 * page changes owner, only the failed VP.INIT counted.
 */
int tdx_vp_create(struct tdx_td *td, tdx_pfn_t tdvpr_pfn,
                  const tdx_pfn_t *tdcx_pfns, unsigned nr_tdcx)
{
    TDX_GUARD(td->m);

    struct tdx_vcpu v = { .tdvpr_pfn = tdvpr_pfn, .associated = true };

    if (td->state != TD_STATE_BUILD || td->op_uninit ||
        (nr_tdcx && !tdcx_pfns) ||
        !pfns_free_and_distinct(td->m, tdvpr_pfn, tdcx_pfns, nr_tdcx)) {
        return -1;
    }
    if (td->vcpus->len >= td->max_vcpus) {
        tdx_account(td->m, td, TDH_VP_INIT, TDX_MAX_VCPUS_EXCEEDED);
        return -1;
    }
    tdx_pamt_set(td->m, tdvpr_pfn, td, PT_TDCX, TDX_LEVEL_4K);
    tdx_account(td->m, td, TDH_VP_CREATE, TDX_SUCCESS);
    for (unsigned i = 0; i < nr_tdcx; i++) {
        tdx_pamt_set(td->m, tdcx_pfns[i], td, PT_TDCX, TDX_LEVEL_4K);
        tdx_account(td->m, td, TDH_VP_ADDCX, TDX_SUCCESS);
    }
    tdx_account(td->m, td, TDH_VP_INIT, TDX_SUCCESS);
    g_array_append_val(td->vcpus, v);
    return td->vcpus->len - 1;
}

static tdx_status_t do_vp_enter(struct tdx_td *td, int vcpu)
{
    struct tdx_vcpu *v = vcpu_get(td, vcpu);
    tdx_status_t s;

    if (!v) {
        return TDX_OPERAND_INVALID | TDX_OPERAND_ID_RCX;
    }
    s = tdx_td_state_check(td, TDH_VP_ENTER);
    if (s == TDX_SUCCESS && td->state != TD_STATE_RUNNABLE) {
        s = TDX_LIFECYCLE_STATE_INCORRECT;
    }
    if (s) {
        return s;
    }
    /* Already running: associated with another LP in the real module. */
    if (v->in_guest) {
        return TDX_VCPU_ASSOCIATED;
    }
    /* Sample the epoch under its lock, shared (tdxmod-lock.c). */
    if (!tdx_try_epoch_lock(td, false)) {
        return TDX_OPERAND_BUSY | TDX_OPERAND_ID_TD_EPOCH;
    }
    v->in_guest = true;
    v->associated = true;
    v->epoch = td->epoch;
    return TDX_SUCCESS;
}

tdx_status_t tdh_vp_enter(struct tdx_td *td, int vcpu)
{
    tdx_status_t s = tdx_call_begin(td->m, TDH_VP_ENTER);

    return tdx_call_end(td->m, td, TDH_VP_ENTER, s ? s : do_vp_enter(td, vcpu));
}

void tdx_vp_exit(struct tdx_td *td, int vcpu)
{
    TDX_GUARD(td->m);

    struct tdx_vcpu *v = vcpu_get(td, vcpu);

    if (v) {
        v->in_guest = false;
    }
}

bool tdx_vp_in_guest(const struct tdx_td *td, int vcpu)
{
    TDX_GUARD(td->m);

    const struct tdx_vcpu *v = vcpu_get(td, vcpu);

    return v && v->in_guest;
}

/* Build time (PAGE.ADD is with the S-EPT leaves in tdxmod-sept.c). */

/* Private (below the shared bit) and aligned. */
static bool gpa_private_ok(const struct tdx_td *td, uint64_t gpa,
                           uint64_t align)
{
    return gpa < tdx_td_shared_bit(td) && !(gpa & (align - 1));
}

static tdx_status_t do_mr_extend(struct tdx_td *td, uint64_t gpa)
{
    tdx_status_t s = tdx_td_state_check(td, TDH_MR_EXTEND);
    struct tdx_sept_leaf_info info;

    if (s) {
        return s;
    }
    if (!gpa_private_ok(td, gpa, 256)) {
        return TDX_OPERAND_INVALID | TDX_OPERAND_ID_RCX;
    }
    /* The 256-byte chunk must lie in a page mapped by a leaf ... */
    if (!tdx_td_lookup(td, gpa, &info)) {
        return TDX_EPT_WALK_FAILED | TDX_OPERAND_ID_RCX;
    }
    /* ... that PAGE.ADD put there (MAPPED, not blocked nor pending). */
    if (info.state != SEPT_MAPPED) {
        return TDX_EPT_ENTRY_STATE_INCORRECT | TDX_OPERAND_ID_RCX;
    }
    return TDX_SUCCESS;
}

tdx_status_t tdh_mr_extend(struct tdx_td *td, uint64_t gpa)
{
    tdx_status_t s = tdx_call_begin(td->m, TDH_MR_EXTEND);

    return tdx_call_end(td->m, td, TDH_MR_EXTEND,
                       s ? s : do_mr_extend(td, gpa));
}

/*
 * Module 1.5 tdh_mr_finalize.c: after the TDR/TDCS state checks, "The TD
 * must have at least one VCPU": TDCS.NUM_VCPUS, which only TDH.VP.INIT
 * increments (tdh_vp_init.c), 0 -> TDX_NO_VCPUS.
 */
static tdx_status_t do_mr_finalize(struct tdx_td *td)
{
    tdx_status_t s = tdx_td_state_check(td, TDH_MR_FINALIZE);

    if (s) {
        return s;
    }
    if (td->vcpus->len == 0) {
        return TDX_NO_VCPUS;
    }
    td->state = TD_STATE_RUNNABLE;
    return TDX_SUCCESS;
}

tdx_status_t tdh_mr_finalize(struct tdx_td *td)
{
    tdx_status_t s = tdx_call_begin(td->m, TDH_MR_FINALIZE);

    return tdx_call_end(td->m, td, TDH_MR_FINALIZE,
                       s ? s : do_mr_finalize(td));
}

/* Lock holders. */

void tdx_td_hold_tree_lock(struct tdx_td *td, bool exclusive)
{
    TDX_GUARD(td->m);

    if (exclusive) {
        td->tree_exclusive = true;
    } else {
        td->tree_shared++;
    }
}

void tdx_td_release_tree_lock(struct tdx_td *td)
{
    TDX_GUARD(td->m);

    if (td->tree_exclusive) {
        td->tree_exclusive = false;
    } else if (td->tree_shared) {
        td->tree_shared--;
    }
}

static gpointer entry_lock_key(uint64_t gpa, enum tdx_level level)
{
    return GSIZE_TO_POINTER((gpa & ~(tdx_level_size(level) - 1)) | level);
}

void tdx_td_hold_entry_lock(struct tdx_td *td, uint64_t gpa,
                            enum tdx_level level)
{
    TDX_GUARD(td->m);

    gpointer key = entry_lock_key(gpa, level);
    guint n = GPOINTER_TO_UINT(g_hash_table_lookup(td->entry_locks, key));

    g_hash_table_insert(td->entry_locks, key, GUINT_TO_POINTER(n + 1));
}

void tdx_td_release_entry_lock(struct tdx_td *td, uint64_t gpa,
                               enum tdx_level level)
{
    TDX_GUARD(td->m);

    gpointer key = entry_lock_key(gpa, level);
    guint n = GPOINTER_TO_UINT(g_hash_table_lookup(td->entry_locks, key));

    if (n > 1) {
        g_hash_table_insert(td->entry_locks, key, GUINT_TO_POINTER(n - 1));
    } else {
        g_hash_table_remove(td->entry_locks, key);
    }
}

void tdx_td_hold_epoch_lock(struct tdx_td *td)
{
    TDX_GUARD(td->m);

    td->epoch_locked = true;
}

void tdx_td_release_epoch_lock(struct tdx_td *td)
{
    TDX_GUARD(td->m);

    td->epoch_locked = false;
}

/* TLB epochs. */

/*
 * MEM.TRACK (tdx-facts.md): epoch++, but PREVIOUS_TLB_EPOCH_BUSY while a
 * vCPU is still in the guest since an epoch older than the current one.
 * The module returns that code without an operand id.
 */
static tdx_status_t do_mem_track(struct tdx_td *td)
{
    tdx_status_t s = tdx_td_state_check(td, TDH_MEM_TRACK);

    if (s) {
        return s;
    }
    if (!tdx_try_epoch_lock(td, true)) {
        return TDX_OPERAND_BUSY | TDX_OPERAND_ID_TD_EPOCH;
    }
    for (unsigned i = 0; i < td->vcpus->len; i++) {
        const struct tdx_vcpu *v = vcpu_get(td, i);

        if (v->in_guest && v->epoch < td->epoch) {
            return TDX_PREVIOUS_TLB_EPOCH_BUSY;
        }
    }
    td->epoch++;
    return TDX_SUCCESS;
}

tdx_status_t tdh_mem_track(struct tdx_td *td)
{
    tdx_status_t s = tdx_call_begin(td->m, TDH_MEM_TRACK);

    return tdx_call_end(td->m, td, TDH_MEM_TRACK, s ? s : do_mem_track(td));
}

/*
 * An entry blocked in epoch bepoch is "tracked" once a TRACK moved the TD
 * past that epoch and no vCPU still in the guest entered in it or earlier
 * (it may hold stale translations).
 */
bool tdx_td_tracked(const struct tdx_td *td, uint64_t bepoch)
{
    if (td->epoch <= bepoch) {
        return false;
    }
    for (unsigned i = 0; i < td->vcpus->len; i++) {
        const struct tdx_vcpu *v = vcpu_get(td, i);

        if (v->in_guest && v->epoch <= bepoch) {
            return false;
        }
    }
    return true;
}

/* Teardown: VP.FLUSH -> VPFLUSHDONE -> CACHE.WB -> KEY.FREEID -> RECLAIM. */

static tdx_status_t do_vp_flush(struct tdx_td *td, int vcpu)
{
    struct tdx_vcpu *v = vcpu_get(td, vcpu);
    tdx_status_t s = tdx_td_state_check(td, TDH_VP_FLUSH);

    if (s) {
        return s;
    }
    if (!v) {
        return TDX_OPERAND_INVALID | TDX_OPERAND_ID_RCX;
    }
    /* Running on some LP: cannot be flushed from here. */
    if (v->in_guest) {
        return TDX_VCPU_ASSOCIATED;
    }
    /* As the module; upstream KVM tolerates this status. */
    if (!v->associated) {
        return TDX_VCPU_NOT_ASSOCIATED;
    }
    v->associated = false;
    return TDX_SUCCESS;
}

tdx_status_t tdh_vp_flush(struct tdx_td *td, int vcpu)
{
    tdx_status_t s = tdx_call_begin(td->m, TDH_VP_FLUSH);

    return tdx_call_end(td->m, td, TDH_VP_FLUSH,
                       s ? s : do_vp_flush(td, vcpu));
}

static tdx_status_t do_vpflushdone(struct tdx_td *td)
{
    if (td->state != TD_STATE_BUILD && td->state != TD_STATE_RUNNABLE) {
        return TDX_LIFECYCLE_STATE_INCORRECT;
    }
    for (unsigned i = 0; i < td->vcpus->len; i++) {
        if (vcpu_get(td, i)->associated) {
            return TDX_FLUSHVP_NOT_DONE;
        }
    }
    td->state = TD_STATE_BLOCKED;
    return TDX_SUCCESS;
}

tdx_status_t tdh_mng_vpflushdone(struct tdx_td *td)
{
    tdx_status_t s = tdx_call_begin(td->m, TDH_MNG_VPFLUSHDONE);

    return tdx_call_end(td->m, td, TDH_MNG_VPFLUSHDONE,
                       s ? s : do_vpflushdone(td));
}

/*
 * PHYMEM.CACHE.WB is per package in the module and writes back the caches
 * of every HKID being freed; the model completes it in one call (resume is
 * accepted and ignored).  With no TD key waiting (the TD is not BLOCKED) the
 * module answers the warning NO_HKID_READY_TO_WBCACHE.
 */
static tdx_status_t do_cache_wb(struct tdx_td *td, bool resume)
{
    if (td->state != TD_STATE_BLOCKED) {
        return TDX_NO_HKID_READY_TO_WBCACHE;
    }
    td->cache_wb_done = true;
    return TDX_SUCCESS;
}

tdx_status_t tdh_phymem_cache_wb(struct tdx_td *td, bool resume)
{
    tdx_status_t s = tdx_call_begin(td->m, TDH_PHYMEM_CACHE_WB);

    return tdx_call_end(td->m, td, TDH_PHYMEM_CACHE_WB,
                       s ? s : do_cache_wb(td, resume));
}

static tdx_status_t do_key_freeid(struct tdx_td *td)
{
    if (td->state != TD_STATE_BLOCKED) {
        return TDX_LIFECYCLE_STATE_INCORRECT;
    }
    if (!td->cache_wb_done) {
        return TDX_WBCACHE_NOT_COMPLETE;
    }
    td->state = TD_STATE_TEARDOWN;
    return TDX_SUCCESS;
}

tdx_status_t tdh_mng_key_freeid(struct tdx_td *td)
{
    tdx_status_t s = tdx_call_begin(td->m, TDH_MNG_KEY_FREEID);

    return tdx_call_end(td->m, td, TDH_MNG_KEY_FREEID,
                       s ? s : do_key_freeid(td));
}

/*
 * PHYMEM.PAGE.RECLAIM, as the module does it: the page must be owned
 * (PAGE_METADATA_INCORRECT | RCX otherwise), a 2M page is reclaimed through
 * its first pfn (OPERAND_INVALID | RCX for a pfn inside it), the owner must
 * be in TEARDOWN (LIFECYCLE_STATE_INCORRECT), the TDR only once no other
 * page is left (TD_ASSOCIATED_PAGES_EXIST).  After KEY.FREEID the S-EPT is
 * dead: private and S-EPT pages are reclaimed in any order and the tree is
 * simply discarded with the TDR, which also frees the struct tdx_td.
 */
static tdx_status_t do_page_reclaim(struct tdxmod *m, tdx_pfn_t pfn,
                                    struct tdx_td **owner)
{
    struct pamt_info pi;

    if (!tdx_pamt_find(m, pfn, &pi)) {
        return TDX_PAGE_METADATA_INCORRECT | TDX_OPERAND_ID_RCX;
    }
    *owner = pi.td;
    if (pi.head != pfn) {
        return TDX_OPERAND_INVALID | TDX_OPERAND_ID_RCX;
    }
    if (pi.td->state != TD_STATE_TEARDOWN) {
        return TDX_LIFECYCLE_STATE_INCORRECT;
    }
    if (pi.type == PT_TDR && pi.td->child_pages) {
        return TDX_TD_ASSOCIATED_PAGES_EXIST;
    }
    tdx_pamt_clear(m, pfn);
    return TDX_SUCCESS;
}

tdx_status_t tdh_phymem_page_reclaim(struct tdxmod *m, tdx_pfn_t pfn)
{
    struct tdx_td *owner = NULL;
    struct pamt_info pi;
    tdx_status_t s = tdx_call_begin(m, TDH_PHYMEM_PAGE_RECLAIM);

    if (s) {
        if (tdx_pamt_find(m, pfn, &pi)) {
            owner = pi.td;
        }
        return tdx_call_end(m, owner, TDH_PHYMEM_PAGE_RECLAIM, s);
    }
    s = do_page_reclaim(m, pfn, &owner);
    tdx_account(m, owner, TDH_PHYMEM_PAGE_RECLAIM, s);
    if (s == TDX_SUCCESS && owner->tdr_pfn == pfn) {
        owner->state = TD_STATE_RECLAIMED;
        g_hash_table_remove(m->tds, GUINT_TO_POINTER(owner->id));
        td_destroy(owner);
    }
    return tdx_call_finish(m, s);
}

/*
 * PHYMEM.PAGE.WBINVD: flushes one page's cache lines (KVM does it after a
 * page leaves a TD).  Nothing to check in the model: counted, succeeds.
 */
tdx_status_t tdh_phymem_page_wbinvd(struct tdxmod *m, tdx_pfn_t pfn)
{
    tdx_status_t s = tdx_call_begin(m, TDH_PHYMEM_PAGE_WBINVD);

    return tdx_call_end(m, NULL, TDH_PHYMEM_PAGE_WBINVD, s);
}
