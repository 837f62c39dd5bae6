// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * tdxsim: invariant checks run after every operation that changes the
 * S-EPT or the memory attributes: no S-EPT leaf for a GPA that QEMU
 * declared shared, every leaf backed by the guest_memfd page KVM would use,
 * and the TDX module's structural self-check (tree vs PAMT vs counters):
 * after every operation the incremental one over the range it touched
 * (tdx_td_check_range(), a cost independent of the TD's size), the whole
 * walk (tdx_td_check(), each host page mapped once) at quiescent points --
 * finalize, teardown, every TDXSIM_CHECK_EVERY operations if set.
 * Violations are counted and printed.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "kvm-vm.h"
#include "kvm-sept.h"

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
static void check_range_leaves(struct sim_vm *vm, uint64_t gpa, uint64_t size)
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

static void check_range(struct sim_vm *vm, uint64_t gpa, uint64_t size)
{
    uint64_t ops;

    if (!vm->td || !size) {
        return;
    }
    check_range_leaves(vm, gpa, size);
    ops = __atomic_add_fetch(&vm->check_ops, 1, __ATOMIC_RELAXED);
    tdx_td_check_range(vm->td, gpa, size, report_td, vm);
    if (sim.check_every && ops % sim.check_every == 0) {
        vm->full_checks++;
        sim_quiesce(vm);    /* a quiescent point: no vCPU in the guest */
        tdx_td_check(vm->td, report_td, vm);
    }
}

static bool full_leaf(const struct tdx_sept_leaf_info *info, void *opaque)
{
    check_leaf(opaque, info);
    return true;
}

/*
 * Side-table mode: the hosted KVM code's side table against the S-EPT.
 * A page it marks mapped is a 4K leaf of the same host page, a page it
 * only pins is not mapped; its S-EPT pages are the module's.
 */
struct side_check {
    struct sim_vm *vm;
    uint64_t mapped;
};

static void check_side_page(uint64_t gfn, uint64_t pfn, bool mapped,
                            void *opaque)
{
    struct side_check *c = opaque;
    struct tdx_sept_leaf_info info;
    bool leaf = tdx_td_lookup(c->vm->td, gfn << 12, &info);

    c->mapped += mapped;
    if (mapped != leaf || (leaf && (info.pfn != pfn ||
                                    info.level != TDX_LEVEL_4K))) {
        sim_violation(c->vm, "side table: GPA 0x%" PRIx64 " (pfn 0x%" PRIx64
                      ") is %s in KVM's side table, %s in the S-EPT",
                      gfn << 12, pfn, mapped ? "mapped" : "only pinned",
                      leaf ? "a leaf" : "not mapped");
    }
}

static void check_side_table(struct sim_vm *vm)
{
    struct side_check c = { .vm = vm };
    uint64_t pages = 0;

    sim_sept_for_each_page(vm, check_side_page, &c);
    if (c.mapped != tdx_td_leaves(vm->td, TDX_LEVEL_4K) +
                    512 * tdx_td_leaves(vm->td, TDX_LEVEL_2M)) {
        sim_violation(vm, "side table: KVM maps %" PRIu64 " pages, the "
                      "S-EPT has %" PRIu64 " 4K leaves", c.mapped,
                      tdx_td_leaves(vm->td, TDX_LEVEL_4K));
    }
    for (int l = 0; l < TDX_MAX_LEVELS; l++) {
        pages += tdx_td_sept_pages(vm->td, l);
    }
    if (pages != sim_sept_table_pages(vm)) {
        sim_violation(vm, "side table: KVM holds %" PRIu64 " S-EPT pages, "
                      "the module has %" PRIu64, sim_sept_table_pages(vm),
                      pages);
    }
}

static void check_full(struct sim_vm *vm)
{
    if (!vm->td) {
        return;
    }
    if (vm->sept.enabled && !vm->sept.torn_down) {
        check_side_table(vm);
    }
    tdx_td_for_each_leaf(vm->td, full_leaf, vm);
    vm->full_checks++;
    tdx_td_check(vm->td, report_td, vm);
}

/*
 * Side-table invariant: over [gpa, gpa + size), a page is mapped in the
 * S-EPT if and only if its attribute is private and a guest_memfd memslot
 * backs it.  The first mismatches are printed, all are counted.
 */
/* Is another vCPU's conversion exit covering @gpa still in userspace? */
static bool other_vcpu_converting(struct sim_vm *vm,
                                  const struct sim_vcpu *self, uint64_t gpa)
{
    for (unsigned i = 0; self && i < vm->nr_vcpus; i++) {
        const struct sim_vcpu *v = vm->vcpus[i];

        if (v && v != self && v->conv_size && gpa >= v->conv_gpa &&
            gpa - v->conv_gpa < v->conv_size) {
            return true;
        }
    }
    return false;
}

static void check_agree(struct sim_vm *vm, uint64_t gpa, uint64_t size,
                     const char *what, const struct sim_vcpu *self)
{
    uint64_t end, g = gpa & ~0xfffULL;
    struct sim_slot *slot = NULL;
    unsigned printed = 0;
    uint64_t bad = 0;

    if (!vm->td || !vm->sept.enabled || !size) {
        return;
    }
    vm->stats.agree_checks++;
    end = MIN(gpa + size, tdx_td_shared_bit(vm->td));
    while (g < end) {
        struct tdx_sept_leaf_info info;
        bool mapped = tdx_td_lookup(vm->td, g, &info);
        uint64_t next = mapped ? info.gpa + (4096ULL << (9 * info.level))
                               : g + SIM_PAGE_SIZE;
        bool want;

        if (!mapped && info.level > TDX_LEVEL_4K) {
            /* Nothing mapped below the FREE entry: check its pages. */
            next = info.gpa + (4096ULL << (9 * info.level));
        }
        next = MIN(next, end);
        for (; g < next; g += SIM_PAGE_SIZE) {
            if (!slot || g < slot->gpa || g - slot->gpa >= slot->size) {
                slot = sim_find_slot(vm, g);
            }
            want = slot && slot->gmem && sim_gfn_private(vm, g >> 12);
            if (want == mapped ||
                (want && other_vcpu_converting(vm, self, g))) {
                continue;
            }
            bad++;
            if (printed++ < 4) {
                fprintf(stderr, "tdxsim: VIOLATION: %s: GPA 0x%" PRIx64
                        " is %s but %s in the S-EPT\n", what, g,
                        want ? "private" : "shared or unbacked",
                        mapped ? "mapped" : "not mapped");
            }
        }
    }
    if (bad) {
        vm->stats.invariant_violations++;
        fprintf(stderr, "tdxsim: VIOLATION: %s: %" PRIu64 " pages of [0x%"
                PRIx64 ", 0x%" PRIx64 ") disagree with their attributes\n",
                what, bad, gpa, end);
    }
}

static void check_agree_all(struct sim_vm *vm, const char *what)
{
    if (!vm->td || !vm->sept.enabled) {
        return;
    }
    for (unsigned i = 0; i < SIM_MAX_SLOTS; i++) {
        struct sim_slot *s = &vm->slots[i];

        if (s->used && s->gmem && (s->slot >> 16) == 0) {
            check_agree(vm, s->gpa, s->size, what, NULL);
        }
    }
    /* Leaves outside the memslots or over shared pages. */
    check_full(vm);
}

static const struct sim_check_ops check_ops = {
    .range = check_range,
    .full = check_full,
    .agree = check_agree,
    .agree_all = check_agree_all,
};

void check_register(void)
{
    sim_register_checks(&check_ops);
}
