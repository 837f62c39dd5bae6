// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * tdxsim: the side-table S-EPT UAPI (qemu/docs/devel/tdx-side-table-uapi.rst)
 * as the fake KVM answers it: KVM_CAP_TDX_SIDE_SEPT (enable), and the
 * KVM_MEMORY_ENCRYPT_OP commands KVM_TDX_SEPT_MAP, _UNMAP, _TEARDOWN and
 * _STATS with their argument checks, errors, partial progress and
 * resumption.  The SEAMCALL sequences are in kvm-sept-ops.c, pinning in
 * kvm-pin.c.
 *
 * Runs with vm->lock held (the per-TD lock of the spec).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "kvm-sept.h"

#define SIZE_2M             (2ULL << 20)
#define PAGES_2M            512ULL
#define UNMAP_BATCH         512     /* leaves per BLOCK..TRACK..REMOVE */
#define RECLAIM_CHUNK       256     /* RECLAIMs between signal checks */
#define CANDIDATE_BUDGET    8       /* promote candidates retried per call */

int sim_sept_enable(struct sim_vm *vm, const struct kvm_enable_cap *cap)
{
    uint64_t mask = cap->args[0];

    if (vm->type != KVM_X86_TDX_VM || cap->args[1] || cap->args[2] ||
        cap->args[3]) {
        return -EINVAL;
    }
    if (!mask || (mask & ~SIM_SEPT_LEAVES) ||
        !(mask & KVM_TDX_SEPT_LEAF_4K)) {
        return -EINVAL;
    }
    if (vm->tdx_state != SIM_TDX_UNINIT || vm->nr_vcpus) {
        return -EBUSY;
    }
    vm->sept.enabled = true;
    vm->sept.leaves = mask;
    sim_log("side-table S-EPT enabled, leaves 0x%" PRIx64, mask);
    return 0;
}

/* The range checks shared by MAP and UNMAP (-EINVAL). */
static bool range_ok(struct sim_vm *vm, const struct kvm_tdx_sept_range *r,
                     uint64_t valid_flags)
{
    uint64_t end;

    if ((r->gpa & 0xfff) || !r->nr_pages || (r->flags & ~valid_flags) ||
        r->done > r->nr_pages || r->nr_pages > (vm->shared_bit >> 12)) {
        return false;
    }
    end = r->gpa + (r->nr_pages << 12);
    return end > r->gpa && !(r->gpa & vm->shared_bit) &&
           end <= vm->shared_bit;
}

/* Every page of [gpa, end): guest_memfd memslot, attribute private. */
static int map_precheck(struct sim_vm *vm, uint64_t gpa, uint64_t end)
{
    struct sim_slot *slot = NULL;
    bool not_private = false;

    for (uint64_t g = gpa; g < end; g += SIM_PAGE_SIZE) {
        if (!slot || g < slot->gpa || g - slot->gpa >= slot->size) {
            slot = sim_find_slot(vm, g);
            if (!slot || !slot->gmem) {
                return -ENOENT;
            }
        }
        not_private |= !sim_gfn_private(vm, g >> 12);
    }
    return not_private ? -EPERM : 0;
}

/*
 * A 2M AUG of the block at g is possible: the whole block in one
 * guest_memfd memslot, at a 2M-aligned guest_memfd offset, backed by one
 * 2 MiB folio (sim_block_huge_backed(): never for a stock 4 KiB-folio
 * guest_memfd, nor for a block the allocator had no huge folio for: MAP
 * falls back to 4K there), and no S-EPT page below its level-1 entry yet.
 */
static bool can_map_2m(struct sim_vm *vm, uint64_t g, tdx_pfn_t *pfn,
                       struct sim_slot **slotp)
{
    struct tdx_sept_leaf_info info;
    struct sim_slot *slot;

    if (!sim_block_huge_backed(vm, g) ||
        !sim_private_pfn(vm, g, pfn, &slot) ||
        g + SIZE_2M > slot->gpa + slot->size || (*pfn & (PAGES_2M - 1))) {
        return false;
    }
    *slotp = slot;
    return !tdx_td_lookup(vm->td, g, &info) && info.level >= TDX_LEVEL_2M;
}

/* One 4K page: pin, SEPT.ADD what is missing, AUG.  1 if already mapped. */
static int map_4k(struct sim_vm *vm, uint64_t g, tdx_status_t *hw)
{
    struct tdx_sept_leaf_info info;
    struct sim_slot *slot;
    tdx_pfn_t pfn;
    int r;

    if (tdx_td_lookup(vm->td, g, &info)) {
        return 1;
    }
    if (!sim_private_pfn(vm, g, &pfn, &slot)) {
        return -ENOENT;
    }
    r = sim_pin_range(vm, slot, g, 1);
    if (!r) {
        r = sim_sept_link(vm, g, TDX_LEVEL_4K, hw);
    }
    if (!r) {
        r = sim_sept_aug(vm, g, TDX_LEVEL_4K, pfn, hw);
    }
    return r;
}

static int sept_map(struct sim_vm *vm, struct kvm_tdx_sept_range *rg,
                    tdx_status_t *hw)
{
    bool allow_2m = (rg->flags & KVM_TDX_SEPT_MAP_ALLOW_2M) &&
                    (vm->sept.leaves & KVM_TDX_SEPT_LEAF_2M);
    uint64_t end = rg->gpa + (rg->nr_pages << 12);
    uint64_t first = rg->gpa + (rg->done << 12);
    uint64_t g = first;
    bool enomem;
    int r;

    vm->sept.map_calls++;
    if (vm->tdx_state == SIM_TDX_INITIALIZED) {
        sim_phase_begin(vm, &vm->build);
        vm->build.kernel_calls++;
    }
    r = map_precheck(vm, g, end);
    if (r) {
        return r;
    }
    sim_pin_begin_call(vm);
    /* enomem:map:nth=N: this call fails at the first page it would map. */
    enomem = inject_hit(sim.inj, INJ_ENOMEM, "map");
    while (g < end && !r) {
        uint64_t blk = g & ~(SIZE_2M - 1);
        uint64_t bend = MIN(blk + SIZE_2M, end);
        struct sim_slot *slot;
        tdx_pfn_t pfn;
        bool mapped_4k = false;

        if (allow_2m && g == blk && bend == blk + SIZE_2M &&
            can_map_2m(vm, g, &pfn, &slot)) {
            if (enomem) {
                r = -ENOMEM;
                break;
            }
            r = sim_pin_range(vm, slot, g, PAGES_2M);
            if (!r) {
                r = sim_sept_link(vm, g, TDX_LEVEL_2M, hw);
            }
            if (!r) {
                r = sim_sept_aug(vm, g, TDX_LEVEL_2M, pfn, hw);
            }
            if (r) {
                break;
            }
            g = bend;
        } else {
            for (; g < bend; g += SIM_PAGE_SIZE) {
                if (enomem) {
                    struct tdx_sept_leaf_info info;
                    if (!tdx_td_lookup(vm->td, g, &info)) {
                        r = -ENOMEM;
                        break;
                    }
                }
                r = map_4k(vm, g, hw);
                if (r < 0) {
                    break;
                }
                mapped_4k |= r == 0;
                r = 0;
            }
            if (r) {
                break;
            }
            if (allow_2m && mapped_4k &&
                sim_sept_block_present(vm, blk) == PAGES_2M) {
                r = sim_sept_try_promote(vm, blk, hw);
                r = r > 0 ? 0 : r;
                if (r) {
                    break;
                }
            }
        }
        rg->done = (g - rg->gpa) >> 12;
        if (g < end && inject_hit(sim.inj, INJ_EINTR, "sept_map")) {
            vm->sept.eintr++;
            vm->stats.eintr++;
            r = -EINTR;
        }
    }
    if (r == -ENOMEM) {
        vm->sept.enomem++;
        vm->stats.enomem++;
    }
    rg->done = (g - rg->gpa) >> 12;
    if (!r) {
        sim_sept_retry_candidates(vm, CANDIDATE_BUDGET);
    }
    sim_track_peaks(vm);
    sim_check_range(vm, first, g - first);
    return r;
}

static int sept_unmap(struct sim_vm *vm, struct kvm_tdx_sept_range *rg,
                      tdx_status_t *hw)
{
    uint64_t start = rg->gpa;
    uint64_t end = rg->gpa + (rg->nr_pages << 12);
    uint64_t first = rg->gpa + (rg->done << 12);
    uint64_t g = first;
    uint64_t batch[UNMAP_BATCH];
    int r = 0;

    vm->sept.unmap_calls++;
    while (g < end && !r) {
        uint64_t bstart = g;
        unsigned n = 0, removed;
        bool signal = false;

        while (g < end && n < UNMAP_BATCH && !signal) {
            struct tdx_sept_leaf_info info;
            uint64_t from = g;

            if (!tdx_td_lookup(vm->td, g, &info)) {
                g = info.gpa + (4096ULL << (9 * info.level));
            } else if (info.level == TDX_LEVEL_4K) {
                batch[n++] = g;
                g += SIM_PAGE_SIZE;
            } else if (info.gpa >= start && info.gpa + SIZE_2M <= end) {
                batch[n++] = info.gpa | TDX_LEVEL_2M;
                g = info.gpa + SIZE_2M;
            } else {
                /* Part of a 2M leaf goes: split it first. */
                r = sim_sept_demote(vm, info.gpa, hw);
                if (r) {
                    break;
                }
                continue;
            }
            /* A signal is looked at each 2M of progress. */
            if (g < end && (g & ~(SIZE_2M - 1)) != (from & ~(SIZE_2M - 1)) &&
                inject_hit(sim.inj, INJ_EINTR, "sept_unmap")) {
                signal = true;
            }
        }
        g = MIN(g, end);
        if (!r) {
            r = sim_sept_remove_batch(vm, batch, n, &removed, hw);
            if (r && removed < n) {
                g = batch[removed] & ~1ULL;
            }
        } else {
            g = bstart;
        }
        if (!r) {
            r = sim_sept_prune(vm, hw);
        }
        if (r) {
            break;
        }
        rg->done = (g - rg->gpa) >> 12;
        if (signal && g < end) {
            vm->sept.eintr++;
            vm->stats.eintr++;
            r = -EINTR;
        }
    }
    g = MAX(g, first);
    rg->done = (g - rg->gpa) >> 12;
    if (!r) {
        sim_sept_retry_candidates(vm, CANDIDATE_BUDGET);
    }
    sim_track_peaks(vm);
    /* What is done: a resumed call does the rest. */
    sim_check_range(vm, first, g - first);
    return r;
}

void sim_sept_unmap_internal(struct sim_vm *vm, uint64_t gpa, uint64_t size)
{
    struct kvm_tdx_sept_range rg = {
        .gpa = gpa, .nr_pages = size >> 12,
    };
    int r;

    if (!vm->td || vm->sept.torn_down || !size) {
        return;
    }
    do {
        r = sept_unmap(vm, &rg, NULL);
    } while (r == -EINTR || r == -EAGAIN);
}

static bool collect_leaf(const struct tdx_sept_leaf_info *info, void *opaque)
{
    struct sim_vm *vm = opaque;
    uint64_t level = info->level;

    g_array_append_val(vm->sept.reclaim, info->pfn);
    g_array_append_val(vm->sept.reclaim_levels, level);
    return true;
}

/* TDH.VP.FLUSH .. TDH.MNG.KEY.FREEID, then the list of pages to reclaim. */
static int teardown_start(struct sim_vm *vm)
{
    struct tdx_td *td = vm->td;
    GHashTableIter it;
    gpointer k, v;

    sim_tdx_snapshot_final(vm);
    /* A TD whose build failed (QEMU exits) never had to agree. */
    if (vm->tdx_state == SIM_TDX_RUNNABLE) {
        sim_check_agree_all(vm, "teardown start");
    }
    if (sim_tdx_release_hkid(vm, &vm->sept.seamcalls)) {
        return -EIO;
    }
    vm->sept.reclaim = g_array_new(FALSE, FALSE, sizeof(tdx_pfn_t));
    vm->sept.reclaim_levels = g_array_new(FALSE, FALSE, sizeof(uint64_t));
    tdx_td_for_each_leaf(td, collect_leaf, vm);
    g_hash_table_iter_init(&it, vm->sept.pages);
    while (g_hash_table_iter_next(&it, &k, &v)) {
        struct sim_sept_page *p = v;
        uint64_t level = UINT64_MAX;     /* an S-EPT page */

        g_array_append_val(vm->sept.reclaim, p->pfn);
        g_array_append_val(vm->sept.reclaim_levels, level);
    }
    vm->sept.reclaim_next = 0;
    vm->sept.teardown_stage = 1;
    return 0;
}

int sim_sept_teardown(struct sim_vm *vm, bool interruptible)
{
    unsigned done_now = 0;
    int r;

    if (vm->sept.torn_down || !vm->td) {
        return vm->sept.torn_down ? -EINVAL : 0;
    }
    sim_phase_begin(vm, &vm->teardown);
    if (vm->sept.teardown_stage == 0) {
        r = teardown_start(vm);
        if (r) {
            return r;
        }
    }
    while (vm->sept.reclaim_next < vm->sept.reclaim->len) {
        unsigned i = vm->sept.reclaim_next;
        tdx_pfn_t pfn = g_array_index(vm->sept.reclaim, tdx_pfn_t, i);
        uint64_t level = g_array_index(vm->sept.reclaim_levels, uint64_t, i);
        tdx_status_t err;

        if (interruptible && done_now && done_now % RECLAIM_CHUNK == 0 &&
            inject_hit(sim.inj, INJ_EINTR, "sept_teardown")) {
            vm->sept.eintr++;
            vm->stats.eintr++;
            return -EINTR;
        }
        vm->sept.seamcalls++;
        err = tdh_phymem_page_reclaim(sim.mod, pfn);
        if (err) {
            sim_violation(vm, "TDH.PHYMEM.PAGE.RECLAIM of %s page 0x%" PRIx64
                          " failed: %s", level == UINT64_MAX ? "S-EPT" :
                          "private", pfn, tdx_status_name(err));
        } else {
            vm->teardown_reclaimed++;
        }
        if (level == UINT64_MAX) {
            sim_free_ctl_pfn(pfn);
        }
        vm->sept.reclaim_next++;
        done_now++;
    }
    g_array_free(vm->sept.reclaim, TRUE);
    g_array_free(vm->sept.reclaim_levels, TRUE);
    vm->sept.reclaim = vm->sept.reclaim_levels = NULL;
    g_hash_table_remove_all(vm->sept.pages);
    g_hash_table_remove_all(vm->sept.touched);
    g_hash_table_remove_all(vm->sept.candidates);
    g_queue_clear(vm->sept.candidate_order);
    sim_unpin_all(vm);
    vm->sept.teardown_stage = 2;
    vm->sept.torn_down = true;
    sim_log("side-table teardown done");
    return 0;
}

static void fill_stats(struct sim_vm *vm, struct kvm_tdx_sept_stats *st)
{
    memset(st, 0, sizeof(*st));
    st->leaves_4k = tdx_td_leaves(vm->td, TDX_LEVEL_4K);
    st->leaves_2m = tdx_td_leaves(vm->td, TDX_LEVEL_2M);
    for (int l = 0; l < TDX_MAX_LEVELS; l++) {
        st->sept_pages += tdx_td_sept_pages(vm->td, l);
    }
    st->pinned_pages = vm->sept.pinned_pages;
    st->map_calls = vm->sept.map_calls;
    st->unmap_calls = vm->sept.unmap_calls;
    st->seamcalls = vm->sept.seamcalls;
    st->busy_retries = vm->sept.busy_retries;
    st->demotions = vm->sept.demotions;
    st->promotions = vm->sept.promotions;
}

static int range_cmd(struct sim_vm *vm, struct kvm_tdx_cmd *cmd)
{
    struct kvm_tdx_sept_range *u = (void *)(uintptr_t)cmd->data;
    struct kvm_tdx_sept_range rg;
    tdx_status_t hw = 0;
    bool map = cmd->id == KVM_TDX_SEPT_MAP;
    int r;

    if (!u) {
        return -EINVAL;
    }
    rg = *u;
    if (!range_ok(vm, &rg, map ? KVM_TDX_SEPT_MAP_ALLOW_2M : 0)) {
        return -EINVAL;
    }
    r = map ? sept_map(vm, &rg, &hw) : sept_unmap(vm, &rg, &hw);
    sim_log("%s gpa 0x%llx pages %llu flags 0x%llx done %llu -> %d",
            map ? "KVM_TDX_SEPT_MAP" : "KVM_TDX_SEPT_UNMAP",
            (unsigned long long)rg.gpa, (unsigned long long)rg.nr_pages,
            (unsigned long long)rg.flags, (unsigned long long)rg.done, r);
    u->done = rg.done;
    if (r == -EIO) {
        cmd->hw_error = hw ? hw : TDX_OPERAND_INVALID;
    }
    return r;
}

int sim_sept_vm_op(struct sim_vm *vm, struct kvm_tdx_cmd *cmd)
{
    int r;

    switch (cmd->id) {
    case KVM_TDX_SEPT_MAP:
    case KVM_TDX_SEPT_UNMAP:
    case KVM_TDX_SEPT_TEARDOWN:
    case KVM_TDX_SEPT_STATS:
        break;
    default:
        return -ENOTTY;
    }
    if (!vm->sept.enabled || vm->tdx_state == SIM_TDX_UNINIT ||
        vm->sept.torn_down || cmd->flags) {
        return -EINVAL;
    }
    switch (cmd->id) {
    case KVM_TDX_SEPT_MAP:
    case KVM_TDX_SEPT_UNMAP:
        return range_cmd(vm, cmd);
    case KVM_TDX_SEPT_TEARDOWN:
        if (cmd->data) {
            return -EINVAL;
        }
        vm->sept.teardown_calls++;
        sim_phase_begin(vm, &vm->teardown);
        vm->teardown.kernel_calls++;
        r = sim_sept_teardown(vm, true);
        if (r == -EIO) {
            cmd->hw_error = TDX_OPERAND_INVALID;
        }
        return r;
    case KVM_TDX_SEPT_STATS:
        if (!cmd->data) {
            return -EINVAL;
        }
        vm->sept.stats_calls++;
        fill_stats(vm, (void *)(uintptr_t)cmd->data);
        return 0;
    }
    return -EINVAL;
}
