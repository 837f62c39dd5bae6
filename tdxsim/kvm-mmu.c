// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * tdxsim: upstream KVM's mirror TDP MMU for TD private memory, reduced to
 * the SEAMCALLs it issues: lazy 4K fault-in (SEPT.ADD for missing levels,
 * PAGE.AUG, or PAGE.ADD for KVM_TDX_INIT_MEM_REGION), zap of private
 * leaves (BLOCK, TRACK, REMOVE, WBINVD, with KVM's BUSY handling),
 * KVM_PRE_FAULT_MEMORY, and the mirror page accounting (one KVM mirror
 * page per S-EPT page, plus the mirror root).
 *
 * Locking as Linux 7.2 (lock order in kvm-vm.h): a vCPU's private fault
 * runs under mmu_lock held for read and without vm->lock
 * (sim_mmu_fault_private()), so several vCPUs' faults and their SEAMCALLs
 * overlap; each SPTE it changes is frozen meanwhile (FROZEN_SPTE; the
 * mirror_lock stands for the cmpxchg), a frozen SPTE or a BUSY module is
 * RET_PF_RETRY: the vCPU re-enters and faults again.  Zaps hold vm->lock
 * and mmu_lock for write.  PRE_FAULT and INIT_MEM_REGION hold vm->lock and
 * mmu_lock for read.
 *
 * KVM walks its own mirror; the zap asks the module's S-EPT where leaves
 * are (cheap over large ranges) and removes only those the mirror holds.
 */
#include <errno.h>
#include <inttypes.h>
#include <time.h>

#include "kvm-mmu.h"

/* A vCPU re-faults after RET_PF_RETRY; bound it so a stuck BUSY shows up. */
#define FAULT_BUSY_RETRIES  1000
/* A vCPU's fault retried locally pauses this long first (cond_resched()). */
#define RETRY_PAUSE_NS      20000

static uint64_t level_size(int level)
{
    return 4096ULL << (9 * level);
}

/* Key of the S-EPT page holding entries at table_level that covers gpa. */
static int64_t mirror_key(int table_level, uint64_t gpa)
{
    return ((int64_t)table_level << 56) |
           (int64_t)(gpa >> (12 + 9 * (table_level + 1)));
}

/*
 * What one fault did without vm->lock, folded into vm->stats by its
 * caller once it holds vm->lock again; the failed SEAMCALL, if any, for
 * sim_seamcall_failed() then.
 */
struct fault_ctx {
    uint64_t busy;              /* BUSY from the module: RET_PF_RETRY */
    uint64_t lost;              /* a frozen SPTE met: RET_PF_RETRY */
    uint64_t lazy_maps;
    const char *what;
    uint64_t gpa;
    tdx_status_t err;
};

/* Leaf SPTEs share the frozen set with tables: their own key space. */
static int64_t leaf_key(uint64_t gpa)
{
    return ((int64_t)0x7f << 56) | (int64_t)(gpa >> 12);
}

/*
 * The fault's SEAMCALLs, counted while in flight: the peak shows whether
 * two vCPU threads' calls overlapped (report contention.fault_calls_peak).
 */
static void call_begin(struct sim_vm *vm)
{
    int n = __atomic_add_fetch(&vm->fault_calls_in_flight, 1,
                               __ATOMIC_SEQ_CST);
    int peak = __atomic_load_n(&vm->fault_calls_peak, __ATOMIC_RELAXED);

    while (n > peak &&
           !__atomic_compare_exchange_n(&vm->fault_calls_peak, &peak, n, true,
                                        __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
    }
}

static void call_end(struct sim_vm *vm)
{
    __atomic_sub_fetch(&vm->fault_calls_in_flight, 1, __ATOMIC_SEQ_CST);
}

/* mirror_lock held: the mirror's high-water marks. */
static void mirror_peaks(struct sim_vm *vm)
{
    for (int l = 0; l <= TDX_MAX_LEVELS; l++) {
        if (vm->mirror_pages[l] > vm->mirror_peak[l]) {
            vm->mirror_peak[l] = vm->mirror_pages[l];
        }
    }
    if (vm->mirror_total > vm->mirror_total_peak) {
        vm->mirror_total_peak = vm->mirror_total;
    }
}

enum spte_state { SPTE_ABSENT, SPTE_PRESENT, SPTE_FROZEN };

/*
 * tdp_mmu_set_spte_atomic()'s first half (mirror_lock stands for the
 * cmpxchg): a present SPTE is left alone, a frozen one is a lost race; an
 * absent one is frozen by us (FROZEN_SPTE) before the SEAMCALL.
 */
static enum spte_state spte_freeze(struct sim_vm *vm, GHashTable *table,
                                   int64_t key, int64_t fkey)
{
    enum spte_state st = SPTE_ABSENT;

    pthread_mutex_lock(&vm->mirror_lock);
    if (g_hash_table_contains(table, &key)) {
        st = SPTE_PRESENT;
    } else if (g_hash_table_contains(vm->mirror_frozen, &fkey)) {
        st = SPTE_FROZEN;
    } else {
        g_hash_table_add(vm->mirror_frozen, g_memdup2(&fkey, sizeof(fkey)));
    }
    pthread_mutex_unlock(&vm->mirror_lock);
    return st;
}

/*
 * Its second half: the SPTE unfrozen, set to the new value if the
 * external S-EPT call succeeded (value != NULL), else restored.
 */
static void spte_unfreeze(struct sim_vm *vm, GHashTable *table, int64_t key,
                          int64_t fkey, gpointer value, int table_level)
{
    pthread_mutex_lock(&vm->mirror_lock);
    g_hash_table_remove(vm->mirror_frozen, &fkey);
    if (value) {
        g_hash_table_insert(table, g_memdup2(&key, sizeof(key)), value);
        if (table_level >= 0) {
            vm->mirror_pages[table_level]++;
            vm->mirror_total++;
            mirror_peaks(vm);
        }
    }
    pthread_mutex_unlock(&vm->mirror_lock);
}

/*
 * tdp_mmu_link_sp() of the S-EPT page at table level t over gpa:
 * set_external_spte_present() -> tdx_sept_link_private_spt() ->
 * TDH.MEM.SEPT.ADD, the parent SPTE frozen meanwhile.  0, -EAGAIN
 * (RET_PF_RETRY: lost race or BUSY), -EIO (ctx->err).
 */
static int link_table(struct sim_vm *vm, int t, uint64_t gpa,
                      struct fault_ctx *ctx)
{
    int64_t key = mirror_key(t, gpa);
    uint64_t entry_gpa = gpa & ~(level_size(t + 1) - 1);
    tdx_pfn_t pfn;
    tdx_status_t err;

    switch (spte_freeze(vm, vm->mirror, key, key)) {
    case SPTE_PRESENT:
        return 0;
    case SPTE_FROZEN:
        ctx->lost++;
        return -EAGAIN;
    case SPTE_ABSENT:
        break;
    }
    pfn = sim_alloc_ctl_pfn();
    call_begin(vm);
    err = tdh_mem_sept_add(vm->td, entry_gpa, t + 1, pfn);
    call_end(vm);
    spte_unfreeze(vm, vm->mirror, key, key,
                  err ? NULL : g_memdup2(&pfn, sizeof(pfn)), t);
    if (!err) {
        return 0;
    }
    sim_free_ctl_pfn(pfn);
    if (TDX_STATUS_IS_BUSY(err)) {
        ctx->busy++;
        return -EAGAIN;
    }
    ctx->what = "TDH.MEM.SEPT.ADD";
    ctx->gpa = entry_gpa;
    ctx->err = err;
    return -EIO;
}

/*
 * kvm_tdp_mmu_map() on the mirror root, mmu_lock held for read: link the
 * missing S-EPT pages, then the 4K leaf (tdx_sept_map_leaf_spte(): AUG, or
 * PAGE.ADD before FINALIZE), each SPTE frozen while its SEAMCALL runs.
 * 0 (mapped, or RET_PF_SPURIOUS), -EAGAIN (RET_PF_RETRY), -EIO (ctx).
 */
static int tdp_map(struct sim_vm *vm, uint64_t gpa, tdx_pfn_t pfn,
                   bool add_page, struct fault_ctx *ctx)
{
    int64_t gfn = gpa >> 12;
    struct sim_mirror_leaf l = { .pfn = pfn, .level = TDX_LEVEL_4K };
    tdx_status_t err;
    int r;

    for (int t = tdx_td_levels(vm->td) - 2; t >= 0; t--) {
        r = link_table(vm, t, gpa, ctx);
        if (r) {
            return r;
        }
    }
    switch (spte_freeze(vm, vm->mirror_leaves, gfn, leaf_key(gpa))) {
    case SPTE_PRESENT:
        return 0;       /* spurious: a racing fault mapped it already */
    case SPTE_FROZEN:
        ctx->lost++;
        return -EAGAIN;
    case SPTE_ABSENT:
        break;
    }
    call_begin(vm);
    err = add_page ? tdh_mem_page_add(vm->td, gpa, pfn)
                   : tdh_mem_page_aug(vm->td, gpa, TDX_LEVEL_4K, pfn);
    call_end(vm);
    spte_unfreeze(vm, vm->mirror_leaves, gfn, leaf_key(gpa),
                  err ? NULL : g_memdup2(&l, sizeof(l)), -1);
    if (!err) {
        ctx->lazy_maps += !add_page;
        return 0;
    }
    if (TDX_STATUS_IS_BUSY(err)) {
        ctx->busy++;
        return -EAGAIN;
    }
    ctx->what = add_page ? "TDH.MEM.PAGE.ADD" : "TDH.MEM.PAGE.AUG";
    ctx->gpa = gpa;
    ctx->err = err;
    return -EIO;
}

/*
 * mmu_topup_memory_caches() before mmu_lock: the S-EPT pages the fault
 * will link are allocated first; the injected "map" failure is asked per
 * page, as before faults ran in parallel: -ENOMEM.  vm->lock held (inject
 * is not thread safe).
 */
static int topup(struct sim_vm *vm, uint64_t gpa)
{
    unsigned need = 0;

    pthread_mutex_lock(&vm->mirror_lock);
    for (int t = tdx_td_levels(vm->td) - 2; t >= 0; t--) {
        need += !g_hash_table_contains(vm->mirror,
                                       &(int64_t){ mirror_key(t, gpa) });
    }
    pthread_mutex_unlock(&vm->mirror_lock);
    while (need--) {
        if (inject_hit(sim.inj, INJ_ENOMEM, "map")) {
            vm->stats.enomem++;
            return -ENOMEM;
        }
    }
    return 0;
}

/* vm->lock held again: the fault's counters, and its KVM_BUG_ON. */
static int fault_done(struct sim_vm *vm, struct fault_ctx *ctx, int r)
{
    vm->stats.busy_retries += ctx->busy;
    vm->stats.fault_busy_retries += ctx->busy;
    vm->stats.fault_lost_races += ctx->lost;
    vm->stats.lazy_maps += ctx->lazy_maps;
    if (r == -EIO) {
        sim_seamcall_failed(vm, ctx->what, ctx->gpa, ctx->err);
    }
    *ctx = (struct fault_ctx){ 0 };
    return r;
}

/*
 * KVM_TDX_INIT_MEM_REGION (add_page) and KVM_PRE_FAULT_MEMORY, vm->lock
 * held: kvm_tdp_mmu_map_private_pfn() / kvm_tdp_map_page() loop on
 * RET_PF_RETRY under mmu_lock held for read (bounded here, so that a
 * stuck BUSY shows up as -EAGAIN).
 */
int sim_mmu_map_private(struct sim_vm *vm, uint64_t gpa, bool add_page)
{
    struct fault_ctx ctx = { 0 };
    tdx_pfn_t pfn;
    int tries = 0;
    int r;

    if (vm->sept.enabled) {
        /* Side-table mode never faults private memory in. */
        return -EOPNOTSUPP;
    }
    gpa &= ~0xfffULL;
    /*
     * No guest_memfd behind it, or its file released: -EFAULT
     * (kvm_mmu_faultin_pfn_gmem() -> kvm_gmem_get_pfn(); a fault makes it
     * a memory-fault exit, kvm_gmem_populate() returns it as it is).
     */
    r = sim_gmem_get_pfn(vm, gpa, &pfn);
    if (r) {
        return r;
    }
    r = topup(vm, gpa);
    if (r) {
        return r;
    }
    pthread_rwlock_rdlock(&vm->mmu_lock);
    for (;;) {
        struct timespec ts = { 0, RETRY_PAUSE_NS };

        r = tdp_map(vm, gpa, pfn, add_page, &ctx);
        if (r != -EAGAIN || ++tries > FAULT_BUSY_RETRIES) {
            break;
        }
        nanosleep(&ts, NULL);   /* a vCPU's fault holds the SPTE frozen */
    }
    pthread_rwlock_unlock(&vm->mmu_lock);
    return fault_done(vm, &ctx, r);
}

/*
 * A vCPU's private fault (kvm_mmu_page_fault() -> kvm_tdp_mmu_map()), as
 * 7.2 runs it: the EPT violation is a TD exit; the fault runs under
 * mmu_lock held for read WITHOUT vm->lock, so the SEAMCALLs of several
 * vCPUs' faults overlap; the mmu_invalidate_seq read under vm->lock
 * (with the attributes and the pfn) makes a zap in between a retry
 * (is_page_fault_stale()).  vm->lock held on entry and on return.
 */
int sim_mmu_fault_private(struct sim_vcpu *vcpu, uint64_t gpa)
{
    struct sim_vm *vm = vcpu->vm;
    struct fault_ctx ctx = { 0 };
    uint64_t seq;
    tdx_pfn_t pfn;
    int r;

    gpa &= ~0xfffULL;
    r = sim_gmem_get_pfn(vm, gpa, &pfn);
    if (r) {
        return r;
    }
    r = topup(vm, gpa);
    if (r) {
        return r;
    }
    seq = __atomic_load_n(&vm->mmu_invalidate_seq, __ATOMIC_ACQUIRE);
    /*
     * No fault once VM destruction has begun (it waits for faulting == 0
     * after setting no_entry: one of the two sees the other).
     */
    __atomic_add_fetch(&vm->faulting, 1, __ATOMIC_SEQ_CST);
    if (__atomic_load_n(&vm->no_entry, __ATOMIC_SEQ_CST)) {
        __atomic_sub_fetch(&vm->faulting, 1, __ATOMIC_SEQ_CST);
        return -EIO;                        /* the TD is going away */
    }
    tdx_vp_exit(vm->td, vcpu->vp);          /* the EPT violation's TD exit */
    pthread_mutex_unlock(&vm->lock);
    pthread_rwlock_rdlock(&vm->mmu_lock);
    if (__atomic_load_n(&vm->mmu_invalidate_seq, __ATOMIC_ACQUIRE) != seq) {
        ctx.lost++;                         /* a zap ran: stale fault */
        r = -EAGAIN;
    } else {
        r = tdp_map(vm, gpa, pfn, false, &ctx);
    }
    pthread_rwlock_unlock(&vm->mmu_lock);
    if (r == -EAGAIN) {
        /* cond_resched() before the local retry: let the holder finish */
        struct timespec ts = { 0, RETRY_PAUSE_NS };

        nanosleep(&ts, NULL);
    }
    __atomic_sub_fetch(&vm->faulting, 1, __ATOMIC_SEQ_CST);
    pthread_mutex_lock(&vm->lock);
    r = fault_done(vm, &ctx, r);
    if (vm->bugged || vm->destroyed || !vm->td) {
        return -EIO;
    }
    return r;
}

/*
 * BLOCK, TRACK and REMOVE on BUSY (Linux 7.2 tdx.c tdh_do_no_vcpus()): a
 * vCPU in the guest holds a lock the call needs (a TDCALL's entry lock,
 * VP.ENTER's epoch lock); KVM keeps vCPUs from entering
 * (wait_for_sept_zap), kicks them out and retries once; a second failure
 * is KVM_BUG_ON ("the retry is guaranteed to succeed").
 */
static tdx_status_t retry_once(struct sim_vm *vm, tdx_status_t err,
                               tdx_status_t (*again)(struct sim_vm *, uint64_t,
                                                     int, tdx_pfn_t *),
                               uint64_t gpa, int level, tdx_pfn_t *pfn)
{
    if (TDX_STATUS_IS_BUSY(err)) {
        vm->stats.busy_retries++;
        sim_no_vcpus_begin(vm);
        err = again(vm, gpa, level, pfn);
        sim_no_vcpus_end(vm);
    }
    return err;
}

static tdx_status_t do_block(struct sim_vm *vm, uint64_t gpa, int level,
                             tdx_pfn_t *pfn)
{
    return tdh_mem_range_block(vm->td, gpa, level);
}

static tdx_status_t do_remove(struct sim_vm *vm, uint64_t gpa, int level,
                              tdx_pfn_t *pfn)
{
    return tdh_mem_page_remove(vm->td, gpa, level, pfn);
}

static tdx_status_t do_track_once(struct sim_vm *vm, uint64_t gpa, int level,
                                  tdx_pfn_t *pfn)
{
    return tdh_mem_track(vm->td);
}

/*
 * Linux 7.2 tdx_track(): nothing before FINALIZE ("it's before any vcpu
 * running"); TRACK through tdh_do_no_vcpus(), TDX_BUG_ON on failure (the
 * VM is dead, the caller goes on), then every vCPU out of the guest so
 * that none still runs in the old epoch
 * (kvm_make_all_cpus_request(KVM_REQ_OUTSIDE_GUEST_MODE)).
 */
static void do_track(struct sim_vm *vm)
{
    tdx_status_t err;

    if (vm->tdx_state != SIM_TDX_RUNNABLE) {
        return;
    }
    err = do_track_once(vm, 0, 0, NULL);
    err = retry_once(vm, err, do_track_once, 0, 0, NULL);
    if (err) {
        sim_seamcall_failed(vm, "TDH.MEM.TRACK", 0, err);
    }
    sim_kick_vcpus(vm, true);
}

/*
 * Linux 7.2 tdx_sept_remove_leaf_spte(), reached from tdp_mmu_set_spte()
 * -> handle_changed_spte() -> set_external_spte() once the mirror SPTE
 * was already cleared (the caller did): RANGE.BLOCK always, also before
 * FINALIZE, and any non-zero status of it -- warnings such as
 * GPA_RANGE_ALREADY_BLOCKED included -- is TDX_BUG_ON_2 (-EIO); then
 * tdx_track(), PAGE.REMOVE (TDX_BUG_ON_2), PHYMEM.PAGE.WBINVD (TDX_BUG_ON).
 * handle_changed_spte() only KVM_BUG_ONs the error: KVM never revisits the
 * leaf, so a page whose BLOCK or REMOVE failed stays with the module,
 * leaked on purpose (as tdx_reclaim_page()'s callers leak a page the
 * kernel cannot use safely any more): counted in removal_leaks.
 */
static bool remove_leaf(struct sim_vm *vm, uint64_t gpa, int level)
{
    tdx_pfn_t pfn = 0;
    tdx_status_t err;

    err = do_block(vm, gpa, level, NULL);
    err = retry_once(vm, err, do_block, gpa, level, NULL);
    if (err) {
        sim_seamcall_failed(vm, "TDH.MEM.RANGE.BLOCK", gpa, err);
        vm->stats.removal_leaks++;
        return false;
    }
    do_track(vm);
    err = do_remove(vm, gpa, level, &pfn);
    err = retry_once(vm, err, do_remove, gpa, level, &pfn);
    if (err) {
        sim_seamcall_failed(vm, "TDH.MEM.PAGE.REMOVE", gpa, err);
        vm->stats.removal_leaks++;
        return false;
    }
    err = tdh_phymem_page_wbinvd(sim.mod, pfn);
    if (err) {
        sim_seamcall_failed(vm, "TDH.PHYMEM.PAGE.WBINVD", gpa, err);
        return false;
    }
    vm->stats.zapped_leaves++;
    return true;
}

void sim_mmu_zap_private(struct sim_vm *vm, uint64_t gpa, uint64_t size)
{
    uint64_t end = gpa + size;
    uint64_t g = gpa & ~0xfffULL;

    if (!vm->td || vm->tdx_state == SIM_TDX_UNINIT) {
        return;
    }
    g_assert(!vm->sept.enabled);    /* sim_zap_private() chose */
    /*
     * kvm_mmu_unmap_gfn_range() and its callers: mmu_lock held for write
     * (no fault in flight, none starts), the invalidation sequence bumped
     * so that a fault which read the attributes before is stale.
     */
    pthread_rwlock_wrlock(&vm->mmu_lock);
    __atomic_add_fetch(&vm->mmu_invalidate_seq, 1, __ATOMIC_RELEASE);
    end = MIN(end, tdx_td_shared_bit(vm->td));
    while (g < end) {
        struct tdx_sept_leaf_info info;
        int64_t key;
        bool found;

        if (!tdx_td_lookup(vm->td, g, &info)) {
            /* Nothing mapped under the FREE entry the walk stopped at. */
            g = info.gpa + level_size(info.level);
            continue;
        }
        if (info.level > TDX_LEVEL_4K &&
            (info.gpa < gpa || info.gpa + level_size(info.level) > end)) {
            /* Upstream TDX maps 4K only; a partial huge leaf is a bug here. */
            sim_violation(vm, "zap of part of a %s leaf at 0x%" PRIx64
                          " is not modelled", info.level == 1 ? "2M" : "1G",
                          info.gpa);
            g = info.gpa + level_size(info.level);
            continue;
        }
        /*
         * KVM walks its mirror: a leaf the module still maps but the
         * mirror dropped (its removal failed) is not KVM's any more.
         */
        key = info.gpa >> 12;
        pthread_mutex_lock(&vm->mirror_lock);
        found = g_hash_table_remove(vm->mirror_leaves, &key);
        pthread_mutex_unlock(&vm->mirror_lock);
        if (found) {
            remove_leaf(vm, info.gpa, info.level);
        }
        g = info.gpa + level_size(info.level);
    }
    pthread_rwlock_unlock(&vm->mmu_lock);
    sim_track_peaks(vm);
}

/*
 * KVM_PRE_FAULT_MEMORY: map the range as the attributes say (private ->
 * S-EPT, shared -> the shared EPT, not modelled beyond a count).  Returns 0
 * with range->gpa/size advanced, -EINTR/-ENOMEM/-ENOENT/-EIO with partial
 * progress as kvm_vcpu_pre_fault_memory() does.
 */
int sim_pre_fault_memory(struct sim_vcpu *vcpu, struct kvm_pre_fault_memory *r)
{
    struct sim_vm *vm = vcpu->vm;
    uint64_t full = r->size;
    int ret = 0;

    if (r->flags || (r->gpa | r->size) & 0xfff || !r->size ||
        r->gpa + r->size < r->gpa) {
        return -EINVAL;
    }
    pthread_mutex_lock(&vm->lock);
    if (vm->type == KVM_X86_TDX_VM &&
        (vm->tdx_state != SIM_TDX_RUNNABLE || vm->sept.enabled)) {
        /*
         * Linux 7.2 mmu.c kvm_arch_vcpu_pre_fault_memory():
         * !kvm->arch.pre_fault_allowed -> -EOPNOTSUPP; false for a TD
         * (x86.c kvm_arch_init_vm()) until tdx.c tdx_td_finalize() sets it,
         * which the KVM series leaves false in side-table mode (a pre-fault
         * would map private memory through the TDP MMU behind the table).
         */
        if (vm->sept.enabled) {
            vm->sept.prefault_refused++;
        }
        pthread_mutex_unlock(&vm->lock);
        return -EOPNOTSUPP;
    }
    while (r->size) {
        struct sim_slot *slot = sim_find_slot(vm, r->gpa);

        if (inject_hit(sim.inj, INJ_EINTR, "pre_fault")) {
            vm->stats.eintr++;
            ret = -EINTR;
            break;
        }
        if (!slot) {
            ret = -ENOENT;
            break;
        }
        if (sim_gfn_private(vm, r->gpa >> 12)) {
            ret = sim_mmu_map_private(vm, r->gpa, false);
            if (ret) {
                break;
            }
            vm->stats.prefault_pages++;
        }
        r->gpa += SIM_PAGE_SIZE;
        r->size -= SIM_PAGE_SIZE;
    }
    sim_check_range(vm, r->gpa - (full - r->size), full - r->size);
    pthread_mutex_unlock(&vm->lock);
    return full == r->size ? ret : 0;
}
