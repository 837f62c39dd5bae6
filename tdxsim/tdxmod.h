/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * tdxsim: executable model of the TDX module's Secure-EPT handling.
 *
 * This is the bottom layer of the TDX host simulator.  It knows nothing about
 * KVM or QEMU: the KVM model (kvm*.c) calls one function here per SEAMCALL it
 * would issue, exactly as arch/x86/kvm/vmx/tdx.c and arch/x86/virt/vmx/tdx/
 * do, and the guest-side TDCALLs the scripted guest makes (through
 * kvm-guest.c).
 *
 * Every rule, status code and operand id comes from
 * shared/design/tdx-facts.md; any deviation is a bug of the model.
 *
 * Threading: every function may be called from any thread at any time, as
 * SEAMCALLs and TDCALLs are issued from many logical processors at once.
 * Each SEAMCALL takes the module's locks as module 1.5 does -- the TD's
 * S-EPT tree lock (shared or exclusive), the host-side lock of the S-EPT
 * entry it works on, the TD epoch lock -- as try-locks held for the whole
 * call; a call meeting a conflicting holder fails with TDX_OPERAND_BUSY |
 * the lock's operand id (tdxmod-lock.c).  The model's own data structures
 * are guarded by one internal mutex held only while a call does its work,
 * so calls overlap in time exactly as far as their modelled locks let them.
 * tdx_td_hold_*() adds holders from outside (tests, zero-step mode).
 */
#ifndef TDXSIM_TDXMOD_H
#define TDXSIM_TDXMOD_H

#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>

typedef uint64_t tdx_status_t;

/* Status codes (RAX): bits 63:32 class, 31:0 operand id. */
#define TDX_SUCCESS                         0x0000000000000000ULL
#define TDX_OPERAND_INVALID                 0xC000010000000000ULL
#define TDX_OPERAND_BUSY                    0x8000020000000000ULL
#define TDX_PREVIOUS_TLB_EPOCH_BUSY         0x8000020100000000ULL
#define TDX_OPERAND_BUSY_HOST_PRIORITY      0x8000020400000000ULL
#define TDX_TD_ASSOCIATED_PAGES_EXIST       0xC000040000000000ULL
#define TDX_LIFECYCLE_STATE_INCORRECT       0xC000060700000000ULL
#define TDX_OP_STATE_INCORRECT              0xC000060800000000ULL
#define TDX_INTERRUPTED_RESTARTABLE         0x8000000400000000ULL
#define TDX_EPT_WALK_FAILED                 0xC0000B0000000000ULL
#define TDX_EPT_ENTRY_FREE                  0xC0000B0100000000ULL
#define TDX_EPT_ENTRY_NOT_FREE              0xC0000B0200000000ULL
#define TDX_EPT_ENTRY_NOT_PRESENT           0xC0000B0300000000ULL
#define TDX_EPT_ENTRY_NOT_LEAF              0xC0000B0400000000ULL
#define TDX_EPT_ENTRY_LEAF                  0xC0000B0500000000ULL
#define TDX_GPA_RANGE_NOT_BLOCKED           0xC0000B0600000000ULL
#define TDX_GPA_RANGE_ALREADY_BLOCKED       0x00000B0700000000ULL /* warning */
#define TDX_TLB_TRACKING_NOT_DONE           0xC0000B0800000000ULL
#define TDX_EPT_INVALID_PROMOTE_CONDITIONS  0xC0000B0900000000ULL
#define TDX_PAGE_ALREADY_ACCEPTED           0x00000B0A00000000ULL /* warning */
#define TDX_PAGE_SIZE_MISMATCH              0xC0000B0B00000000ULL
#define TDX_EPT_ENTRY_STATE_INCORRECT       0xC0000B0D00000000ULL
#define TDX_EPT_PAGE_NOT_FREE               0xC0000B0E00000000ULL

/*
 * Further status codes the model returns where tdx-facts.md names no code
 * (values from the TDX module 1.5 sources, error_codes.h).
 */
#define TDX_PAGE_METADATA_INCORRECT         0xC000030000000000ULL
#define TDX_VCPU_ASSOCIATED                 0x8000070100000000ULL
#define TDX_VCPU_NOT_ASSOCIATED             0x8000070200000000ULL
#define TDX_WBCACHE_NOT_COMPLETE            0x8000081700000000ULL
#define TDX_NO_HKID_READY_TO_WBCACHE        0x0000082100000000ULL /* warning */
#define TDX_FLUSHVP_NOT_DONE                0x8000082400000000ULL
/*
 * TD build (module 1.5 include/auto_gen/tdx_error_codes_defs.h):
 * TDH.MR.FINALIZE without any TDH.VP.INIT done (tdh_mr_finalize.c), and
 * TDH.VP.INIT beyond TD_PARAMS.MAX_VCPUS (tdh_vp_init.c).
 */
#define TDX_NO_VCPUS                        0xC000060900000000ULL
#define TDX_MAX_VCPUS_EXCEEDED              0xC000070500000000ULL

/* Operand ids (low 32 bits of a status). */
#define TDX_OPERAND_ID_RCX          0x01ULL
#define TDX_OPERAND_ID_RDX          0x02ULL
#define TDX_OPERAND_ID_R8           0x08ULL
#define TDX_OPERAND_ID_TDR          0x80ULL
#define TDX_OPERAND_ID_TDVPR        0x82ULL
#define TDX_OPERAND_ID_SEPT_TREE    0x92ULL
#define TDX_OPERAND_ID_SEPT_ENTRY   0x93ULL
#define TDX_OPERAND_ID_TD_EPOCH     0xa9ULL
/* TD_PARAMS fields TDH.MNG.INIT names in an OPERAND_INVALID status. */
#define TDX_OPERAND_ID_XFAM         65ULL
#define TDX_OPERAND_ID_MAX_VCPUS    68ULL
#define TDX_OPERAND_ID_TSC_FREQUENCY 70ULL

#define TDX_STATUS_CLASS(s)     ((s) & 0xFFFFFFFF00000000ULL)
#define TDX_STATUS_IS_BUSY(s)   (TDX_STATUS_CLASS(s) == TDX_OPERAND_BUSY)
/* Errors have bit 63 set; warnings (e.g. ALREADY_BLOCKED) do not. */
#define TDX_STATUS_IS_ERROR(s)  (((s) >> 63) & 1)

/* SEAMCALL leaf numbers (host side). */
enum tdx_leaf {
    TDH_VP_ENTER = 0,
    TDH_MNG_ADDCX = 1,
    TDH_MEM_PAGE_ADD = 2,
    TDH_MEM_SEPT_ADD = 3,
    TDH_VP_ADDCX = 4,
    TDH_MEM_PAGE_AUG = 6,
    TDH_MEM_RANGE_BLOCK = 7,
    TDH_MNG_KEY_CONFIG = 8,
    TDH_MNG_CREATE = 9,
    TDH_VP_CREATE = 10,
    TDH_MEM_PAGE_DEMOTE = 15,
    TDH_MR_EXTEND = 16,
    TDH_MR_FINALIZE = 17,
    TDH_VP_FLUSH = 18,
    TDH_MNG_VPFLUSHDONE = 19,
    TDH_MNG_KEY_FREEID = 20,
    TDH_MNG_INIT = 21,
    TDH_VP_INIT = 22,
    TDH_MEM_PAGE_PROMOTE = 23,
    TDH_PHYMEM_PAGE_RECLAIM = 28,
    TDH_MEM_PAGE_REMOVE = 29,
    TDH_MEM_SEPT_REMOVE = 30,
    TDH_MEM_TRACK = 38,
    TDH_MEM_RANGE_UNBLOCK = 39,
    TDH_PHYMEM_CACHE_WB = 40,
    TDH_PHYMEM_PAGE_WBINVD = 41,
    TDX_NR_LEAVES = 64,
};

/* Guest-side TDCALL leaf modelled. */
#define TDG_MEM_PAGE_ACCEPT 6
/* Index of TDG.MEM.PAGE.ACCEPT in per-leaf tables (no TDH leaf uses it). */
#define TDX_ACCEPT_SLOT     (TDX_NR_LEAVES - 1)

/* "TDH.MEM.PAGE.AUG" etc., or NULL for a leaf the model does not know. */
const char *tdx_leaf_name(enum tdx_leaf leaf);
/* "TDX_EPT_WALK_FAILED" etc. (operand id ignored), or "UNKNOWN". */
const char *tdx_status_name(tdx_status_t status);

/* S-EPT levels (TDX numbering). */
enum tdx_level {
    TDX_LEVEL_4K = 0,
    TDX_LEVEL_2M = 1,
    TDX_LEVEL_1G = 2,
    TDX_LEVEL_PML4 = 3,
    TDX_LEVEL_PML5 = 4,
    TDX_MAX_LEVELS = 5,
};

/* S-EPT entry states. */
enum tdx_sept_state {
    SEPT_FREE = 0,
    SEPT_NL_MAPPED,
    SEPT_NL_BLOCKED,
    SEPT_MAPPED,
    SEPT_BLOCKED,
    SEPT_PENDING,
    SEPT_PENDING_BLOCKED,
};
const char *tdx_sept_state_name(enum tdx_sept_state state);

/* TD life cycle as the module sees it. */
enum tdx_td_state {
    TD_STATE_BUILD,         /* MNG.CREATE .. before MR.FINALIZE */
    TD_STATE_RUNNABLE,      /* after MR.FINALIZE */
    TD_STATE_BLOCKED,       /* after MNG.VPFLUSHDONE: no VP.ENTER any more */
    TD_STATE_TEARDOWN,      /* after MNG.KEY.FREEID: only RECLAIM */
    TD_STATE_RECLAIMED,     /* TDR reclaimed: the TD is gone */
};

/*
 * Host physical pages are opaque page frame numbers chosen by the caller
 * (the kernel model); the module tracks who owns each one (its PAMT).
 */
typedef uint64_t tdx_pfn_t;

enum tdx_page_type {
    PT_NDA = 0,     /* not assigned to any TD */
    PT_TDR,
    PT_TDCX,        /* TDCS and TDVPR/TDCX pages */
    PT_SEPT,
    PT_REG,         /* private guest page */
};

/* Cost model: cycles per SEAMCALL leaf, an assumption table (see .c). */
struct tdx_cost_table {
    uint64_t cycles[TDX_NR_LEAVES];
    uint64_t accept_cycles[2];  /* guest ACCEPT at 4K / 2M */
    uint64_t cpu_mhz;
    /* PAGE.AUG at 2M; cycles[TDH_MEM_PAGE_AUG] is then the 4K cost. */
    uint64_t aug_2m_cycles;
};

struct tdx_counters {
    uint64_t seamcalls[TDX_NR_LEAVES];      /* every call, whatever its status */
    uint64_t failed[TDX_NR_LEAVES];         /* calls returning an error status */
    uint64_t busy[TDX_NR_LEAVES];           /* of which TDX_OPERAND_BUSY class */
    uint64_t accepts;                       /* guest TDG.MEM.PAGE.ACCEPT calls */
    uint64_t aug_2m;                        /* of seamcalls[AUG]: at level 2M */
    uint64_t accepts_2m;                    /* of accepts: at level 2M */
    /*
     * Real lock contention (not injection): try-locks that failed because
     * another call or holder had the lock, per leaf (TDX_ACCEPT_SLOT for
     * TDG.MEM.PAGE.ACCEPT) and per lock.
     */
    uint64_t contended[TDX_NR_LEAVES];
    uint64_t contended_tree, contended_entry, contended_epoch;
};

/* Fault injection: make leaf return BUSY with a probability or every Nth call. */
struct tdx_inject_busy {
    double probability;      /* 0..1, 0 = off */
    uint64_t every_nth;      /* 0 = off */
    bool after_set;          /* every call after the first @after */
    uint64_t after;
};

struct tdxmod;   /* the module on one host */
struct tdx_td;   /* one TD */

struct tdxmod *tdxmod_new(uint64_t seed);
void tdxmod_free(struct tdxmod *m);
void tdxmod_set_cost_table(struct tdxmod *m, const struct tdx_cost_table *t);
const struct tdx_cost_table *tdxmod_cost_table(const struct tdxmod *m);
/*
 * Override entries from a string "LEAF=CYCLES,..." where LEAF is a leaf name
 * ("TDH.MEM.PAGE.AUG") or number.  Returns false on a parse error.
 */
bool tdxmod_parse_cost_overrides(struct tdxmod *m, const char *spec);
void tdxmod_inject_busy(struct tdxmod *m, enum tdx_leaf leaf,
                        const struct tdx_inject_busy *inj);
/*
 * Widen a window: a call of leaf (or TDX_ACCEPT_SLOT) that took any of the
 * modelled locks keeps them ns nanoseconds longer, the internal mutex
 * released, so that a second thread really meets them (TDXSIM_LOCK_HOLD).
 * Not an injected status: the other thread's try-lock fails on a holder.
 */
void tdxmod_set_lock_hold(struct tdxmod *m, unsigned leaf, uint64_t ns);
/*
 * Most SEAMCALLs (TDCALLs aside) in flight at once, from entry to the
 * release of their locks, since the last reset (reset: start again).
 */
unsigned tdxmod_seamcalls_peak(struct tdxmod *m, bool reset);
/* Whether the TD's epoch lock is held right now (tests). */
bool tdx_td_epoch_lock_held(const struct tdx_td *td);
/* Counters summed over all TDs of this module (including destroyed ones). */
const struct tdx_counters *tdxmod_counters(const struct tdxmod *m);
/* Estimated time of everything counted so far, from the cost table. */
uint64_t tdxmod_estimated_ns(const struct tdxmod *m);
uint64_t tdx_counters_estimated_ns(const struct tdx_counters *c,
                                   const struct tdx_cost_table *t);
/* PAMT: owner type of a host page (PT_NDA if the module does not own it). */
enum tdx_page_type tdxmod_page_type(const struct tdxmod *m, tdx_pfn_t pfn);
/* Host pages still owned by some TD (after all TDs are reclaimed: leaks). */
uint64_t tdxmod_pages_owned(const struct tdxmod *m);
/*
 * Host pages one TD still owns: its TDR (until reclaimed) and every child
 * page (TDCS, TDVPR/TDCX, S-EPT, private).  A TD whose TDR was reclaimed
 * is gone: ask before the TDR's RECLAIM, or only when it failed.
 */
uint64_t tdx_td_pages_owned(const struct tdx_td *td);

/*
 * The TD_PARAMS fields TDH.MNG.INIT checks (module 1.5 tdh_mng_init.c
 * read_and_set_td_configurations()): XFAM (check_xfam()), MAX_VCPUS (not
 * 0; TDH.VP.INIT refuses a vCPU beyond it), TSC_FREQUENCY in units of
 * 25 MHz, VIRT_TSC_FREQUENCY_MIN (4, 100 MHz) .. _MAX (400, 10 GHz).
 * gpaw is 48 (4-level S-EPT, shared bit 47) or 52 (5-level, bit 51).
 */
struct tdx_td_params {
    uint64_t xfam;
    uint16_t max_vcpus;
    uint16_t tsc_frequency;
    unsigned gpaw;
};
#define TDX_VIRT_TSC_FREQUENCY_MIN  4
#define TDX_VIRT_TSC_FREQUENCY_MAX  400
#define TDX_XFAM_FIXED1             0x3ULL      /* x87, SSE */

/*
 * TD creation: TDH.MNG.CREATE + KEY.CONFIG + one MNG.ADDCX per TDCS page +
 * TDH.MNG.INIT, counted as such.  tdcs_pfns: nr_tdcs host pages for the
 * TDCS.  Returns TDH.MNG.INIT's status, *tdp the TD; on a failed MNG.INIT
 * the TD exists all the same, uninitialised (TDCS op_state UNINITIALIZED:
 * every SEAMCALL but the teardown ones fails OP_STATE_INCORRECT), and must
 * be torn down like any other (VPFLUSHDONE .. RECLAIM of the TDR).  Bad
 * arguments (pages owned or repeated, gpaw): TDX_OPERAND_INVALID | RCX,
 * *tdp NULL, nothing created.
 */
tdx_status_t tdx_td_create_params(struct tdxmod *m, tdx_pfn_t tdr_pfn,
                                  const tdx_pfn_t *tdcs_pfns, unsigned nr_tdcs,
                                  const struct tdx_td_params *params,
                                  struct tdx_td **tdp);
/*
 * The same with valid TD_PARAMS (XFAM x87|SSE, MAX_VCPUS 0xffff, 2.5 GHz);
 * NULL on bad arguments.
 */
struct tdx_td *tdx_td_create(struct tdxmod *m, tdx_pfn_t tdr_pfn,
                             const tdx_pfn_t *tdcs_pfns, unsigned nr_tdcs,
                             unsigned gpaw);
unsigned tdx_td_levels(const struct tdx_td *td);      /* 4 or 5 */
uint64_t tdx_td_shared_bit(const struct tdx_td *td);  /* 1ULL << 47 or 51 */
enum tdx_td_state tdx_td_state(const struct tdx_td *td);
/* Counters of this TD only. */
const struct tdx_counters *tdx_td_counters(const struct tdx_td *td);

/*
 * vCPUs: TDH.VP.CREATE + VP.ADDCX + VP.INIT.  Returns the vCPU index or -1
 * (bad arguments, not building, MNG.INIT failed, or VP.INIT's
 * MAX_VCPUS_EXCEEDED: TD_PARAMS.MAX_VCPUS vCPUs initialised already).
 */
int tdx_vp_create(struct tdx_td *td, tdx_pfn_t tdvpr_pfn,
                  const tdx_pfn_t *tdcx_pfns, unsigned nr_tdcx);
/*
 * TDH.VP.ENTER / exit: the vCPU runs in the TD's current TLB epoch until it
 * exits.  VP.ENTER fails with LIFECYCLE_STATE_INCORRECT unless runnable, and
 * with OPERAND_BUSY|SEPT_TREE... never (it takes the tree lock itself in
 * zero-step mode, see tdx_td_hold_tree_lock()).
 */
tdx_status_t tdh_vp_enter(struct tdx_td *td, int vcpu);
void tdx_vp_exit(struct tdx_td *td, int vcpu);
bool tdx_vp_in_guest(const struct tdx_td *td, int vcpu);

/* Build time. PAGE.ADD: FREE -> MAPPED, 4K only, TD must not be runnable. */
tdx_status_t tdh_mem_page_add(struct tdx_td *td, uint64_t gpa, tdx_pfn_t pfn);
tdx_status_t tdh_mr_extend(struct tdx_td *td, uint64_t gpa);  /* 256 bytes */
tdx_status_t tdh_mr_finalize(struct tdx_td *td);

/* S-EPT. level is the TDX level of the entry (see comments in the .c). */
tdx_status_t tdh_mem_sept_add(struct tdx_td *td, uint64_t gpa,
                              enum tdx_level level, tdx_pfn_t sept_pfn);
tdx_status_t tdh_mem_page_aug(struct tdx_td *td, uint64_t gpa,
                              enum tdx_level level, tdx_pfn_t pfn);
tdx_status_t tdh_mem_range_block(struct tdx_td *td, uint64_t gpa,
                                 enum tdx_level level);
tdx_status_t tdh_mem_range_unblock(struct tdx_td *td, uint64_t gpa,
                                   enum tdx_level level);
tdx_status_t tdh_mem_track(struct tdx_td *td);
/* On success *pfn is the host page that was mapped (now owned, not mapped). */
tdx_status_t tdh_mem_page_remove(struct tdx_td *td, uint64_t gpa,
                                 enum tdx_level level, tdx_pfn_t *pfn);
/* On success *sept_pfn is the S-EPT page that was removed. */
tdx_status_t tdh_mem_sept_remove(struct tdx_td *td, uint64_t gpa,
                                 enum tdx_level level, tdx_pfn_t *sept_pfn);
/* 2M leaf -> 512 4K leaves held by the new S-EPT page sept_pfn. */
tdx_status_t tdh_mem_page_demote(struct tdx_td *td, uint64_t gpa,
                                 enum tdx_level level, tdx_pfn_t sept_pfn);
/* 512 4K leaves -> one 2M leaf; *sept_pfn is the S-EPT page freed. */
tdx_status_t tdh_mem_page_promote(struct tdx_td *td, uint64_t gpa,
                                  enum tdx_level level, tdx_pfn_t *sept_pfn);

/* Teardown. */
tdx_status_t tdh_vp_flush(struct tdx_td *td, int vcpu);
tdx_status_t tdh_mng_vpflushdone(struct tdx_td *td);
tdx_status_t tdh_phymem_cache_wb(struct tdx_td *td, bool resume);
tdx_status_t tdh_mng_key_freeid(struct tdx_td *td);
/*
 * RECLAIM of any page the TD owns (private, S-EPT, TDCX, TDVPR) and the TDR
 * last.  Only in TD_STATE_TEARDOWN.  Reclaiming the TDR frees td: the caller
 * must not use it afterwards.
 */
tdx_status_t tdh_phymem_page_reclaim(struct tdxmod *m, tdx_pfn_t pfn);
tdx_status_t tdh_phymem_page_wbinvd(struct tdxmod *m, tdx_pfn_t pfn);

/*
 * Guest: TDG.MEM.PAGE.ACCEPT at gpa (without shared bit) and level.
 * Returns TDX_SUCCESS (PENDING -> MAPPED), TDX_PAGE_ALREADY_ACCEPTED | level
 * (a MAPPED leaf at or above level), TDX_PAGE_SIZE_MISMATCH | level (smaller
 * pages mapped), TDX_OPERAND_BUSY_HOST_PRIORITY | RCX (entry locked by the
 * host), or TDX_EPT_ENTRY_NOT_PRESENT meaning "EPT violation: the host gets
 * an exit" (entry FREE or blocked, walk incomplete, or a PENDING leaf larger
 * than level).  Compare with TDX_STATUS_CLASS().
 */
tdx_status_t tdg_mem_page_accept(struct tdx_td *td, int vcpu, uint64_t gpa,
                                 enum tdx_level level);

/*
 * Lock contention.  A holder (a vCPU in zero-step mode, a guest ACCEPT in
 * progress, or a test) takes the TD's S-EPT tree lock (shared or exclusive),
 * an entry's host lock or the epoch lock; SEAMCALLs needing a conflicting
 * lock then fail with TDX_OPERAND_BUSY | operand id, as the real try-locks do.
 */
void tdx_td_hold_tree_lock(struct tdx_td *td, bool exclusive);
void tdx_td_release_tree_lock(struct tdx_td *td);
void tdx_td_hold_entry_lock(struct tdx_td *td, uint64_t gpa, enum tdx_level level);
void tdx_td_release_entry_lock(struct tdx_td *td, uint64_t gpa, enum tdx_level level);
void tdx_td_hold_epoch_lock(struct tdx_td *td);
void tdx_td_release_epoch_lock(struct tdx_td *td);

/* Read-only inspection for invariant checks, reports and tests. */
struct tdx_sept_leaf_info {
    uint64_t gpa;
    enum tdx_level level;
    enum tdx_sept_state state;
    tdx_pfn_t pfn;
};
/*
 * Look up the entry mapping gpa.  Returns false if no leaf maps it; *info is
 * then filled with the deepest present entry's level and state (FREE if the
 * walk stopped), pfn 0.
 */
bool tdx_td_lookup(const struct tdx_td *td, uint64_t gpa,
                   struct tdx_sept_leaf_info *info);
/* Visit every leaf in GPA order; stop early if fn returns false. */
void tdx_td_for_each_leaf(const struct tdx_td *td,
                          bool (*fn)(const struct tdx_sept_leaf_info *, void *),
                          void *opaque);
/*
 * S-EPT pages currently present whose entries are at level (0..levels-1).
 * Only pages added by SEPT.ADD / DEMOTE count: the root belongs to the TDCS.
 */
uint64_t tdx_td_sept_pages(const struct tdx_td *td, enum tdx_level level);
uint64_t tdx_td_sept_pages_peak(const struct tdx_td *td, enum tdx_level level);
/* Leaves currently present at level 0 (4K) or 1 (2M). */
uint64_t tdx_td_leaves(const struct tdx_td *td, enum tdx_level level);
uint64_t tdx_td_epoch(const struct tdx_td *td);
/*
 * Structural self-check (tree vs PAMT vs counters, each host page mapped
 * once).  Returns the number of violations found; describes the first ones
 * through report(msg, opaque) if non-NULL.
 */
unsigned tdx_td_check(const struct tdx_td *td,
                      void (*report)(const char *msg, void *opaque),
                      void *opaque);
/*
 * Incremental self-check after an operation on [gpa, gpa + size), at a
 * cost independent of the TD's size: the S-EPT pages on the walk from the
 * root to the range and the entries in the range (each page's present
 * count; each entry's state, block epoch, child level; each leaf's and
 * S-EPT page's PAMT entry: this TD, type, level; no 4K page in a 2M
 * page's frame, asked of the PAMT), then in O(1) the totals the full check
 * recounts (leaves and S-EPT pages per level, PAMT entries per type) as
 * kept where they change.  Returns the number of violations, reported as
 * by tdx_td_check().  Not a substitute for tdx_td_check() at quiescent
 * points: a page mapped twice at GPAs outside the range, or a count kept
 * wrongly on both sides, only the full walk finds.
 */
unsigned tdx_td_check_range(struct tdx_td *td, uint64_t gpa, uint64_t size,
                            void (*report)(const char *msg, void *opaque),
                            void *opaque);
/* S-EPT pages and entries tdx_td_check_range() has visited (its cost). */
uint64_t tdx_td_check_visits(const struct tdx_td *td);

/*
 * TESTS ONLY: corrupt the model as a bug would, bypassing its bookkeeping,
 * so that a test can see the self-checks find it; the simulator never
 * calls this.  The entry kinds work on the entry at (gpa, level) (false if
 * the walk does not reach it or the kind does not apply); *old (may be
 * NULL) gets the value replaced.
 */
enum tdx_test_corruption {
    TDX_CORRUPT_NR_PRESENT,     /* its S-EPT page's nr_present := value */
    TDX_CORRUPT_STATE,          /* its state := value */
    TDX_CORRUPT_PFN,            /* its pfn := value (a FREE entry's too) */
    TDX_CORRUPT_BEPOCH,         /* its block epoch := value */
    TDX_CORRUPT_CHILD_LEVEL,    /* a non-leaf's child page: level := value */
    TDX_CORRUPT_PAMT_OWNER,     /* the PAMT entry of its page (the leaf's */
    TDX_CORRUPT_PAMT_TYPE,      /* page, or the non-leaf's S-EPT page): */
    TDX_CORRUPT_PAMT_LEVEL,     /* owner id / type / level := value */
    TDX_CORRUPT_PAMT_DROP,      /* its page leaves the PAMT (counted) */
    TDX_CORRUPT_LEAF_MOVE,      /* a leaf's page := value, PAMT moved too */
    /* Totals (gpa ignored): */
    TDX_CORRUPT_LEAVES,         /* the TD's cached leaves[level] := value */
    TDX_CORRUPT_SEPT_PAGES,     /* cached sept_pages[level] := value */
    TDX_CORRUPT_CHILD_PAGES,    /* the TDR's child count := value */
    TDX_CORRUPT_PAMT_STRAY,     /* host page value: the TD's in the PAMT */
};
bool tdx_td_test_corrupt(struct tdx_td *td, enum tdx_test_corruption what,
                         uint64_t gpa, enum tdx_level level, uint64_t value,
                         uint64_t *old);

#endif /* TDXSIM_TDXMOD_H */
