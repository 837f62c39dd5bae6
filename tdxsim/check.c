// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * tdxsim: invariant checks run after every operation that changes the
 * S-EPT or the memory attributes: no S-EPT leaf for a GPA that QEMU
 * declared shared, every leaf backed by the guest_memfd page KVM would use,
 * and the TDX module's structural self-check (each host page mapped once,
 * tree vs PAMT vs counters).  Violations are counted and printed.
 */
#include <inttypes.h>
#include <stdio.h>

#include "kvm.h"

void sim_violation(struct sim_vm *vm, const char *fmt, ...)
{
    va_list ap;

    vm->stats.invariant_violations++;
    va_start(ap, fmt);
    fputs("tdxsim: VIOLATION: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

static void check_leaf(struct sim_vm *vm, const struct tdx_sept_leaf_info *l)
{
    uint64_t size = 4096ULL << (9 * l->level);

    for (uint64_t g = l->gpa; g < l->gpa + size; g += SIM_PAGE_SIZE) {
        tdx_pfn_t pfn;

        if (!sim_gfn_private(vm, g >> 12)) {
            sim_violation(vm, "S-EPT leaf (%s) maps GPA 0x%" PRIx64
                          " whose attribute is shared",
                          tdx_sept_state_name(l->state), g);
            return;
        }
        if (!sim_private_pfn(vm, g, &pfn, NULL) ||
            pfn != l->pfn + ((g - l->gpa) >> 12)) {
            sim_violation(vm, "S-EPT leaf at GPA 0x%" PRIx64 " maps pfn 0x%"
                          PRIx64 ", not its guest_memfd page", g, l->pfn);
            return;
        }
    }
}

/*
 * Range check: every leaf overlapping [gpa, gpa + size).  In the mirror
 * design private pages may be unmapped (lazy), so only mapped leaves are
 * checked against the attributes.
 */
static void check_range(struct sim_vm *vm, uint64_t gpa, uint64_t size)
{
    uint64_t end = gpa + size;
    uint64_t g = gpa & ~0xfffULL;

    end = MIN(end, tdx_td_shared_bit(vm->td));
    while (g < end) {
        struct tdx_sept_leaf_info info;

        if (tdx_td_lookup(vm->td, g, &info)) {
            check_leaf(vm, &info);
        }
        g = info.gpa + (4096ULL << (9 * info.level));
    }
}

static void report_td(const char *msg, void *opaque)
{
    sim_violation(opaque, "TDX module self-check: %s", msg);
}

void sim_check_range(struct sim_vm *vm, uint64_t gpa, uint64_t size)
{
    if (!vm->td || !size) {
        return;
    }
    check_range(vm, gpa, size);
    if (sim.check_every && ++vm->check_ops % sim.check_every == 0) {
        vm->full_checks++;
        tdx_td_check(vm->td, report_td, vm);
    }
}

static bool full_leaf(const struct tdx_sept_leaf_info *info, void *opaque)
{
    check_leaf(opaque, info);
    return true;
}

void sim_check_full(struct sim_vm *vm)
{
    if (!vm->td) {
        return;
    }
    tdx_td_for_each_leaf(vm->td, full_leaf, vm);
    vm->full_checks++;
    tdx_td_check(vm->td, report_td, vm);
}
