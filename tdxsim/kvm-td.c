// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * tdxsim: steps of a TD's end shared by both designs (the mirror
 * teardown in kvm-tdx.c, the side table's TEARDOWN in kvm-sept.c): the
 * report's *_final snapshot and the release of the HKID.
 */
#include <errno.h>

#include "kvm-vm.h"

static bool count_leaf(const struct tdx_sept_leaf_info *info, void *opaque)
{
    uint64_t *n = opaque;

    if (info->level <= TDX_LEVEL_2M) {
        n[info->level]++;
    }
    return true;
}

void sim_tdx_snapshot_final(struct sim_vm *vm)
{
    struct tdx_td *td = vm->td;

    if (vm->final_taken || !td) {
        return;
    }
    vm->final_taken = true;
    sim_track_peaks(vm);
    for (int l = 0; l < TDX_MAX_LEVELS; l++) {
        vm->sept_pages_final[l] = tdx_td_sept_pages(td, l);
        vm->sept_pages_peak[l] = tdx_td_sept_pages_peak(td, l);
    }
    for (int l = 0; l <= TDX_MAX_LEVELS; l++) {
        vm->mirror_final[l] = vm->mirror_pages[l];
    }
    vm->leaves_final[0] = tdx_td_leaves(td, TDX_LEVEL_4K);
    vm->leaves_final[1] = tdx_td_leaves(td, TDX_LEVEL_2M);
    tdx_td_for_each_leaf(td, count_leaf, vm->leaves_walked);
    vm->teardown.leaves[0] = vm->leaves_final[0];
    vm->teardown.leaves[1] = vm->leaves_final[1];
}

/*
 * Upstream's tdx_mmu_release_hkid(): VP.FLUSH every vCPU, MNG.VPFLUSHDONE,
 * PHYMEM.CACHE.WB (resumable), MNG.KEY.FREEID.  After it only RECLAIM is
 * left, in either design.  Adds the SEAMCALLs issued to *seamcalls.
 * Returns 0, or -EIO after a failure KVM would treat as a bug.
 */
int sim_tdx_release_hkid(struct sim_vm *vm, uint64_t *seamcalls)
{
    struct tdx_td *td = vm->td;
    tdx_status_t err;
    int tries = 0;

    /* No vCPU may be in the guest for VP.FLUSH, nor enter after it. */
    __atomic_store_n(&vm->no_entry, 1, __ATOMIC_SEQ_CST);
    sim_kick_vcpus(vm, false);
    for (unsigned i = 0; i < vm->nr_vcpus; i++) {
        if (vm->vcpus[i]->vp < 0) {
            continue;
        }
        (*seamcalls)++;
        err = tdh_vp_flush(td, vm->vcpus[i]->vp);
        /* A vCPU never associated (never ran) is fine, as upstream. */
        if (err && err != TDX_VCPU_NOT_ASSOCIATED) {
            sim_seamcall_failed(vm, "TDH.VP.FLUSH", 0, err);
            return -EIO;
        }
    }
    (*seamcalls)++;
    err = tdh_mng_vpflushdone(td);
    if (err) {
        sim_seamcall_failed(vm, "TDH.MNG.VPFLUSHDONE", 0, err);
        return -EIO;
    }
    (*seamcalls)++;
    err = tdh_phymem_cache_wb(td, false);
    while (err == TDX_INTERRUPTED_RESTARTABLE && ++tries < 1000) {
        (*seamcalls)++;
        err = tdh_phymem_cache_wb(td, true);
    }
    if (err) {
        sim_seamcall_failed(vm, "TDH.PHYMEM.CACHE.WB", 0, err);
        return -EIO;
    }
    (*seamcalls)++;
    err = tdh_mng_key_freeid(td);
    if (err) {
        sim_seamcall_failed(vm, "TDH.MNG.KEY.FREEID", 0, err);
        return -EIO;
    }
    vm->hkid_released = true;
    return 0;
}
