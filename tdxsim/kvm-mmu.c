// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * tdxsim: upstream KVM's mirror TDP MMU for TD private memory, reduced to
 * the SEAMCALLs it issues: lazy 4K fault-in (SEPT.ADD for missing levels,
 * PAGE.AUG, or PAGE.ADD for KVM_TDX_INIT_MEM_REGION), zap of private
 * leaves (BLOCK, TRACK, REMOVE, WBINVD, with KVM's BUSY handling),
 * KVM_PRE_FAULT_MEMORY, and the mirror page accounting (one KVM mirror
 * page per S-EPT page, plus the mirror root).
 *
 * All functions run with vm->lock held.
 */
#include <errno.h>
#include <inttypes.h>

#include "kvm-mmu.h"

/* A vCPU re-faults after RET_PF_RETRY; bound it so a stuck BUSY shows up. */
#define FAULT_BUSY_RETRIES  1000

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

static int link_table(struct sim_vm *vm, int t, uint64_t gpa)
{
    int64_t key = mirror_key(t, gpa);
    uint64_t entry_gpa = gpa & ~(level_size(t + 1) - 1);
    tdx_pfn_t pfn;
    tdx_status_t err;
    int tries = 0;

    if (g_hash_table_contains(vm->mirror, &key)) {
        return 0;
    }
    if (inject_hit(sim.inj, INJ_ENOMEM, "map")) {
        vm->stats.enomem++;
        return -ENOMEM;
    }
    pfn = sim_alloc_ctl_pfn();
    for (;;) {
        err = tdh_mem_sept_add(vm->td, entry_gpa, t + 1, pfn);
        if (!TDX_STATUS_IS_BUSY(err) || ++tries > FAULT_BUSY_RETRIES) {
            break;
        }
        vm->stats.busy_retries++;
    }
    if (err) {
        sim_free_ctl_pfn(pfn);
        if (TDX_STATUS_IS_BUSY(err)) {
            return -EAGAIN;
        }
        sim_seamcall_failed(vm, "TDH.MEM.SEPT.ADD", entry_gpa, err);
        return -EIO;
    }
    g_hash_table_insert(vm->mirror, g_memdup2(&key, sizeof(key)),
                        g_memdup2(&pfn, sizeof(pfn)));
    vm->mirror_pages[t]++;
    vm->mirror_total++;
    return 0;
}

/* The mirror's leaf SPTE for gpa, set once the module mapped it. */
static void leaf_insert(struct sim_vm *vm, uint64_t gpa, tdx_pfn_t pfn,
                        int level)
{
    struct sim_mirror_leaf l = { .pfn = pfn, .level = level };
    int64_t gfn = gpa >> 12;

    g_hash_table_insert(vm->mirror_leaves, g_memdup2(&gfn, sizeof(gfn)),
                        g_memdup2(&l, sizeof(l)));
}

int sim_mmu_map_private(struct sim_vm *vm, uint64_t gpa, bool add_page)
{
    tdx_pfn_t pfn;
    tdx_status_t err;
    int levels = tdx_td_levels(vm->td);
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
    if (g_hash_table_contains(vm->mirror_leaves, &(int64_t){ gpa >> 12 })) {
        return 0;       /* spurious: a racing fault mapped it already */
    }
    for (int t = levels - 2; t >= 0; t--) {
        r = link_table(vm, t, gpa);
        if (r) {
            sim_track_peaks(vm);
            return r;
        }
    }
    for (;;) {
        err = add_page ? tdh_mem_page_add(vm->td, gpa, pfn)
                       : tdh_mem_page_aug(vm->td, gpa, TDX_LEVEL_4K, pfn);
        if (!TDX_STATUS_IS_BUSY(err) || ++tries > FAULT_BUSY_RETRIES) {
            break;
        }
        vm->stats.busy_retries++;
    }
    sim_track_peaks(vm);
    if (err) {
        if (TDX_STATUS_IS_BUSY(err)) {
            return -EAGAIN;
        }
        sim_seamcall_failed(vm, add_page ? "TDH.MEM.PAGE.ADD" :
                            "TDH.MEM.PAGE.AUG", gpa, err);
        return -EIO;
    }
    leaf_insert(vm, gpa, pfn, TDX_LEVEL_4K);
    if (!add_page) {
        vm->stats.lazy_maps++;
    }
    return 0;
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
    end = MIN(end, tdx_td_shared_bit(vm->td));
    while (g < end) {
        struct tdx_sept_leaf_info info;
        int64_t key;

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
        if (g_hash_table_remove(vm->mirror_leaves, &key)) {
            remove_leaf(vm, info.gpa, info.level);
        }
        g = info.gpa + level_size(info.level);
    }
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
