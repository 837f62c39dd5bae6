// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * tdxsim: account_locked_vm() for side-table mode's pins (the hosted KVM
 * code pins a guest_memfd page when it first maps it, KVM_TDX_SEPT_MAP or
 * INIT_MEM_REGION, keeps it across UNMAP and releases it at the
 * teardown).  Each pin is charged to the process's RLIMIT_MEMLOCK unless it
 * has CAP_IPC_LOCK in the initial user namespace (CapEff bit 14 of
 * /proc/self/status, and an identity uid_map), as account_locked_vm()'s
 * capable() check does, on top of what the process has locked already
 * (mm->locked_vm: its VmLck).  Test hook: TDXSIM_NO_CAP_IPC_LOCK=1 makes
 * the process count as lacking CAP_IPC_LOCK.
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

/*
 * Bytes already charged to the process's locked_vm by the real kernel
 * (VmLck: mlock(), VFIO type1 pins ...): account_locked_vm() adds the
 * pins to mm->locked_vm, which holds those too.  The simulated pins are
 * not real mlocks, so they are counted apart (sim.memlock_pages).
 */
static uint64_t locked_vm_bytes(void)
{
    g_autofree char *status = NULL;
    const char *line;

    if (!g_file_get_contents("/proc/self/status", &status, NULL, NULL)) {
        return 0;
    }
    line = strstr(status, "\nVmLck:");
    return line ? g_ascii_strtoull(line + strlen("\nVmLck:"), NULL, 10) * 1024
                : 0;
}

void sim_pin_begin_call(struct sim_vm *vm)
{
    vm->sept.has_cap_ipc_lock = has_cap_ipc_lock();
    vm->sept.locked_vm_bytes = locked_vm_bytes();
}

int sim_pin_account(struct sim_vm *vm, uint64_t n, bool inc)
{
    struct rlimit rl;
    int r = 0;

    if (!inc) {
        uint64_t charged = MIN(n, vm->sept.charged_pages);

        pthread_mutex_lock(&sim.lock);
        sim.memlock_pages -= MIN(charged, sim.memlock_pages);
        pthread_mutex_unlock(&sim.lock);
        vm->sept.charged_pages -= charged;
        vm->sept.unpins += n;
        vm->sept.pinned_pages -= MIN(n, vm->sept.pinned_pages);
        return 0;
    }
    if (!vm->sept.has_cap_ipc_lock) {
        pthread_mutex_lock(&sim.lock);
        if (getrlimit(RLIMIT_MEMLOCK, &rl) == 0 &&
            rl.rlim_cur != RLIM_INFINITY &&
            (sim.memlock_pages + n) * SIM_PAGE_SIZE + vm->sept.locked_vm_bytes >
            rl.rlim_cur) {
            r = -ENOMEM;
        } else {
            sim.memlock_pages += n;
            vm->sept.charged_pages += n;
        }
        pthread_mutex_unlock(&sim.lock);
    }
    if (!r) {
        vm->sept.pins += n;
        vm->sept.pinned_pages += n;
        vm->sept.pinned_peak = MAX(vm->sept.pinned_peak,
                                   vm->sept.pinned_pages);
    }
    return r;
}
