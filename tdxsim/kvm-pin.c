// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * tdxsim: side-table mode's pinning of guest_memfd pages.  A page is
 * pinned once, when KVM first maps it (KVM_TDX_SEPT_MAP or
 * INIT_MEM_REGION), stays pinned across UNMAP and is released by the
 * teardown.  Each pin is charged to the process's RLIMIT_MEMLOCK unless it
 * has CAP_IPC_LOCK in the initial user namespace (CapEff bit 14 of
 * /proc/self/status, and an identity uid_map), as account_locked_vm()'s
 * capable() check does.  Test hook: TDXSIM_NO_CAP_IPC_LOCK=1 makes the
 * process count as lacking CAP_IPC_LOCK.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "kvm-vm.h"

#define CAP_IPC_LOCK_BIT 14

/* capable() checks the initial user namespace: its uid_map is identity. */
static bool in_initial_user_ns(void)
{
    g_autofree char *map = NULL;
    unsigned long first, lower, count;

    return g_file_get_contents("/proc/self/uid_map", &map, NULL, NULL) &&
           sscanf(map, "%lu %lu %lu", &first, &lower, &count) == 3 &&
           first == 0 && lower == 0 && count == 4294967295UL;
}

static bool has_cap_ipc_lock(void)
{
    const char *hook = getenv("TDXSIM_NO_CAP_IPC_LOCK");
    g_autofree char *status = NULL;
    const char *line;
    uint64_t caps;

    if (hook && *hook && strcmp(hook, "0")) {
        return false;
    }
    if (!g_file_get_contents("/proc/self/status", &status, NULL, NULL)) {
        return false;
    }
    line = strstr(status, "\nCapEff:");
    if (!line || sscanf(line + strlen("\nCapEff:"), "%" SCNx64, &caps) != 1 ||
        !(caps & (1ULL << CAP_IPC_LOCK_BIT))) {
        return false;
    }
    return in_initial_user_ns();
}

void sim_pin_begin_call(struct sim_vm *vm)
{
    vm->sept.has_cap_ipc_lock = has_cap_ipc_lock();
}

/* Charge n more pages to RLIMIT_MEMLOCK: 0 or -ENOMEM. */
static int charge(struct sim_vm *vm, uint64_t n)
{
    struct rlimit rl;
    int r = 0;

    if (vm->sept.has_cap_ipc_lock) {
        return 0;
    }
    pthread_mutex_lock(&sim.lock);
    if (getrlimit(RLIMIT_MEMLOCK, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
        (sim.memlock_pages + n) * SIM_PAGE_SIZE > rl.rlim_cur) {
        r = -ENOMEM;
    } else {
        sim.memlock_pages += n;
        vm->sept.charged_pages += n;
    }
    pthread_mutex_unlock(&sim.lock);
    return r;
}

static uint64_t page_index(struct sim_slot *slot, uint64_t gpa)
{
    return (slot->gmem_offset + gpa - slot->gpa) >> 12;
}

static bool bit_test(const uint8_t *bm, uint64_t i)
{
    return bm && (bm[i / 8] >> (i % 8)) & 1;
}

bool sim_pin_test(struct sim_slot *slot, uint64_t gpa)
{
    return bit_test(slot->gmem->pinned, page_index(slot, gpa));
}

int sim_pin_range(struct sim_vm *vm, struct sim_slot *slot, uint64_t gpa,
                  uint64_t n)
{
    struct sim_gmem *g = slot->gmem;
    uint64_t first = page_index(slot, gpa);
    uint64_t need = 0;
    int r;

    if (!g->pinned) {
        g->pinned = g_malloc0((g->size / SIM_PAGE_SIZE + 7) / 8);
    }
    for (uint64_t i = first; i < first + n; i++) {
        need += !bit_test(g->pinned, i);
    }
    if (!need) {
        return 0;
    }
    r = charge(vm, need);
    if (r) {
        return r;
    }
    for (uint64_t i = first; i < first + n; i++) {
        g->pinned[i / 8] |= 1u << (i % 8);
    }
    g->nr_pinned += need;
    vm->sept.pinned_pages += need;
    vm->sept.pins += need;
    vm->sept.pinned_peak = MAX(vm->sept.pinned_peak, vm->sept.pinned_pages);
    return 0;
}

uint64_t sim_pin_count(struct sim_gmem *g, uint64_t offset, uint64_t len)
{
    uint64_t n = 0;

    if (!g->pinned) {
        return 0;
    }
    for (uint64_t i = offset >> 12; i < (offset + len) >> 12; i++) {
        n += bit_test(g->pinned, i);
    }
    return n;
}

void sim_unpin_all(struct sim_vm *vm)
{
    uint64_t n = 0;

    for (unsigned i = 0; i < vm->gmems->len; i++) {
        struct sim_gmem *g = vm->gmems->pdata[i];

        n += g->nr_pinned;
        g->nr_pinned = 0;
        g_clear_pointer(&g->pinned, g_free);
    }
    vm->sept.unpins += n;
    vm->sept.pinned_pages -= MIN(n, vm->sept.pinned_pages);
    pthread_mutex_lock(&sim.lock);
    sim.memlock_pages -= MIN(vm->sept.charged_pages, sim.memlock_pages);
    vm->sept.charged_pages = 0;
    pthread_mutex_unlock(&sim.lock);
}
