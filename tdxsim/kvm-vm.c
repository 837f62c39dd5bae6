// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * tdxsim: the fake KVM's host object and the small helpers every KVM layer
 * uses: logging, counters by name, the control/S-EPT page allocator, the
 * report's high-water marks.
 */
#include <stdio.h>

#include "kvm-vm.h"

struct sim_host sim = {
    .lock = PTHREAD_MUTEX_INITIALIZER,
};

void sim_log(const char *fmt, ...)
{
    va_list ap;

    if (!sim.verbose) {
        return;
    }
    va_start(ap, fmt);
    fputs("tdxsim: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

void sim_count(GHashTable *h, const char *name)
{
    gpointer v = g_hash_table_lookup(h, name);

    g_hash_table_insert(h, (gpointer)name,
                        GSIZE_TO_POINTER(GPOINTER_TO_SIZE(v) + 1));
}

tdx_pfn_t sim_alloc_ctl_pfn(void)
{
    tdx_pfn_t pfn;

    pthread_mutex_lock(&sim.lock);
    if (sim.free_ctl_pfns->len) {
        pfn = g_array_index(sim.free_ctl_pfns, tdx_pfn_t,
                            sim.free_ctl_pfns->len - 1);
        g_array_set_size(sim.free_ctl_pfns, sim.free_ctl_pfns->len - 1);
    } else {
        pfn = sim.next_ctl_pfn++;
    }
    pthread_mutex_unlock(&sim.lock);
    return pfn;
}

void sim_free_ctl_pfn(tdx_pfn_t pfn)
{
    pthread_mutex_lock(&sim.lock);
    g_array_append_val(sim.free_ctl_pfns, pfn);
    pthread_mutex_unlock(&sim.lock);
}

void sim_mmu_lock_init(struct sim_vm *vm)
{
    pthread_rwlockattr_t attr;

    /* A zap must not wait for ever behind a stream of faults. */
    pthread_rwlockattr_init(&attr);
    pthread_rwlockattr_setkind_np(&attr,
                                  PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    pthread_rwlock_init(&vm->mmu_lock, &attr);
    pthread_rwlockattr_destroy(&attr);
    pthread_mutex_init(&vm->mirror_lock, NULL);
    vm->mirror_frozen = g_hash_table_new_full(g_int64_hash, g_int64_equal,
                                              g_free, NULL);
}

void sim_track_peaks(struct sim_vm *vm)
{
    pthread_mutex_lock(&vm->mirror_lock);
    for (int l = 0; l <= TDX_MAX_LEVELS; l++) {
        if (vm->mirror_pages[l] > vm->mirror_peak[l]) {
            vm->mirror_peak[l] = vm->mirror_pages[l];
        }
    }
    if (vm->mirror_total > vm->mirror_total_peak) {
        vm->mirror_total_peak = vm->mirror_total;
    }
    pthread_mutex_unlock(&vm->mirror_lock);
    if (vm->td) {
        for (int l = 0; l < 2; l++) {
            uint64_t n = tdx_td_leaves(vm->td, l);
            if (n > vm->leaves_peak[l]) {
                vm->leaves_peak[l] = n;
            }
        }
    }
}
