// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * tdxsim: accounting windows for the report's `build` and `teardown`
 * objects: the SEAMCALLs the TDX module counted between a begin and an
 * end point, the private leaves present at the reference point and the
 * kernel calls userspace made in the window.
 */
#include <string.h>

#include "kvm-vm.h"

static void diff(struct tdx_counters *out, const struct tdx_counters *now,
                 const struct tdx_counters *start)
{
    for (unsigned l = 0; l < TDX_NR_LEAVES; l++) {
        out->seamcalls[l] = now->seamcalls[l] - start->seamcalls[l];
        out->failed[l] = now->failed[l] - start->failed[l];
        out->busy[l] = now->busy[l] - start->busy[l];
    }
    out->accepts = now->accepts - start->accepts;
    out->aug_2m = now->aug_2m - start->aug_2m;
    out->accepts_2m = now->accepts_2m - start->accepts_2m;
}

void sim_phase_begin(struct sim_vm *vm, struct sim_phase *p)
{
    if (p->started) {
        return;
    }
    p->started = true;
    p->start = *tdxmod_counters(sim.mod);
    if (vm->td) {
        p->leaves[0] = tdx_td_leaves(vm->td, TDX_LEVEL_4K);
        p->leaves[1] = tdx_td_leaves(vm->td, TDX_LEVEL_2M);
    }
}

void sim_phase_end(struct sim_vm *vm, struct sim_phase *p)
{
    if (!p->started || p->ended) {
        return;
    }
    diff(&p->total, tdxmod_counters(sim.mod), &p->start);
    p->ended = true;
}

const struct tdx_counters *sim_phase_counters(struct sim_phase *p)
{
    if (p->started && !p->ended) {
        diff(&p->total, tdxmod_counters(sim.mod), &p->start);
    }
    return &p->total;
}
