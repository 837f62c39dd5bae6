// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The KVM series' side-table code (linux/arch/x86/kvm/vmx/tdx_side_sept.c),
 * compiled unchanged against tdxsim/kshim, run on the TDX module model:
 * MAP, UNMAP, STATS, TEARDOWN, INIT_MEM_REGION's PAGE.ADD, the private
 * fault, memslot deletion while mapped, a hole punched on a pinned page,
 * a teardown after a failed build, BUSY retried with vCPUs kept out, and
 * the lock rules of its "Locking" comment with threads that race.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <glib.h>

#include "tdxmod.h"
#include "kshim/kshim-api.h"
#include "kshim/kshim.h"
#include "kshim/kshim-vm.h"

#define GUEST_PFN_BASE  0x100000ULL
#define SLOT_PAGES      1024            /* 4 MiB */

struct host {
    struct tdxmod *m;
    struct tdx_td *td;
    struct kvm *kvm;
    struct kvm_memory_slot slot;
    struct file file;
    struct address_space mapping;
    GHashTable *shared;                 /* gfns whose attribute is shared */
    unsigned kicks;
    bool kick_saw_zap;                  /* wait_for_sept_zap set at a kick */
    int signal_after;                   /* signal_pending() true after N */
    /* gmem_get_pfn blocks once, at block_gfn, until released */
    bool block_armed;
    uint64_t block_gfn;
    pthread_mutex_t block_lock;
    pthread_cond_t block_cond;
    bool blocked, released;
};

static uint64_t next_ctl = 0x10;

static uint64_t alloc_pfn(void)
{
    return __atomic_fetch_add(&next_ctl, 1, __ATOMIC_RELAXED);
}

static void free_pfn(uint64_t pfn)
{
}

static int host_gmem_get_pfn(struct kvm *kvm, struct kvm_memory_slot *slot,
                             gfn_t gfn, struct page **page)
{
    struct host *h = kvm->opaque;

    pthread_mutex_lock(&h->block_lock);
    if (h->block_armed && gfn == h->block_gfn) {
        h->block_armed = false;
        h->blocked = true;
        pthread_cond_broadcast(&h->block_cond);
        while (!h->released) {
            pthread_cond_wait(&h->block_cond, &h->block_lock);
        }
    }
    pthread_mutex_unlock(&h->block_lock);
    *page = kshim_page_get(GUEST_PFN_BASE + gfn);
    return 0;
}

static bool host_is_private(struct kvm *kvm, gfn_t gfn)
{
    struct host *h = kvm->opaque;

    return !g_hash_table_contains(h->shared, GSIZE_TO_POINTER(gfn));
}

static void host_kick(struct kvm *kvm)
{
    struct host *h = kvm->opaque;

    h->kicks++;
    h->kick_saw_zap |= kshim_vm_wait_for_sept_zap(kvm);
}

static void host_release_hkid(struct kvm *kvm)
{
    struct host *h = kvm->opaque;

    g_assert_cmphex(tdh_mng_vpflushdone(h->td), ==, TDX_SUCCESS);
    g_assert_cmphex(tdh_phymem_cache_wb(h->td, false), ==, TDX_SUCCESS);
    g_assert_cmphex(tdh_mng_key_freeid(h->td), ==, TDX_SUCCESS);
    kshim_vm_set_hkid(kvm, -1);
}

static bool host_signal(struct kvm *kvm)
{
    struct host *h = kvm->opaque;

    return h->signal_after > 0 && --h->signal_after == 0;
}

static const struct kshim_host_ops host_ops = {
    .gmem_get_pfn = host_gmem_get_pfn,
    .mem_is_private = host_is_private,
    .kick_all = host_kick,
    .release_hkid = host_release_hkid,
    .signal_pending = host_signal,
};

static struct host *host_new(void)
{
    struct host *h = g_new0(struct host, 1);
    tdx_pfn_t tdcs[4];
    struct kvm_enable_cap cap = {
        .cap = KVM_CAP_TDX_SIDE_SEPT, .args = { KVM_TDX_SEPT_LEAF_4K },
    };

    h->m = tdxmod_new(1);
    kshim_init(h->m, alloc_pfn, free_pfn);
    for (int i = 0; i < 4; i++) {
        tdcs[i] = alloc_pfn();
    }
    h->td = tdx_td_create(h->m, alloc_pfn(), tdcs, 4, 48);
    g_assert_nonnull(h->td);
    h->kvm = kshim_vm_new(h->td, false, &host_ops, h);
    h->shared = g_hash_table_new(g_direct_hash, g_direct_equal);
    pthread_mutex_init(&h->block_lock, NULL);
    pthread_cond_init(&h->block_cond, NULL);
    pthread_rwlock_init(&h->mapping.invalidate_lock, NULL);
    h->file.f_mapping = &h->mapping;
    h->slot.base_gfn = 0;
    h->slot.npages = SLOT_PAGES;
    h->slot.flags = KVM_MEM_GUEST_MEMFD;
    h->slot.gmem.file = &h->file;
    h->kvm->slots[0] = &h->slot;
    kshim_current_kvm = h->kvm;

    g_assert_cmpint(tdx_side_sept_enable(h->kvm, &cap), ==, 0);
    /* Once is all: a second enable, or one after INIT_VM, is too late. */
    g_assert_cmpint(tdx_side_sept_enable(h->kvm, &cap), ==, -EBUSY);
    kshim_vm_set_state(h->kvm, 1);          /* KVM_TDX_INIT_VM done */
    return h;
}

static int range_cmd(struct host *h, unsigned id, uint64_t gpa,
                     uint64_t pages, uint64_t *done)
{
    struct kvm_tdx_sept_range r = { .gpa = gpa, .nr_pages = pages };
    struct kvm_tdx_cmd cmd = { .id = id, .data = (uintptr_t)&r };
    int ret = tdx_side_sept_ioctl(h->kvm, &cmd);

    if (done) {
        *done = r.done;
    }
    return ret;
}

static struct kvm_tdx_sept_stats stats(struct host *h)
{
    struct kvm_tdx_sept_stats st;
    struct kvm_tdx_cmd cmd = { .id = KVM_TDX_SEPT_STATS,
                               .data = (uintptr_t)&st };

    g_assert_cmpint(tdx_side_sept_ioctl(h->kvm, &cmd), ==, 0);
    return st;
}

/* The teardown leaves no page pinned, owned by the TD, or referenced. */
static void teardown_clean(struct host *h)
{
    struct kvm_tdx_sept_stats st;

    g_assert_cmpint(tdx_side_sept_teardown(h->kvm), ==, 0);
    st = stats(h);
    g_assert_cmpuint(st.leaves_4k, ==, 0);
    g_assert_cmpuint(st.sept_pages, ==, 0);
    g_assert_cmpuint(st.pinned_pages, ==, 0);
    g_assert_cmpuint(h->kvm->locked_vm, ==, 0);
    g_assert_cmpuint(kshim_pages_referenced(), ==, 0);
    /* Only the TDR and the TDCS pages are left to the VM's destruction. */
    g_assert_cmpuint(tdxmod_pages_owned(h->m), ==, 5);
    g_assert_cmpint(range_cmd(h, KVM_TDX_SEPT_MAP, 0, 1, NULL), ==, -EINVAL);
    g_assert_cmpint(tdx_side_sept_teardown(h->kvm), ==, -EINVAL);
    tdx_side_sept_destroy(h->kvm);
    g_assert_cmpuint(kshim_error_count(), ==, 0);
}

static void test_map_unmap(void)
{
    struct host *h = host_new();
    struct kvm_tdx_sept_stats st;
    uint64_t done;

    g_assert_cmpint(range_cmd(h, KVM_TDX_SEPT_MAP, 0, SLOT_PAGES, &done),
                    ==, 0);
    g_assert_cmpuint(done, ==, SLOT_PAGES);
    st = stats(h);
    g_assert_cmpuint(st.leaves_4k, ==, SLOT_PAGES);
    g_assert_cmpuint(st.pinned_pages, ==, SLOT_PAGES);
    /* PDPT + PD + two PTs under the TDCS's PML4 */
    g_assert_cmpuint(st.sept_pages, ==, 4);
    g_assert_cmpuint(tdx_td_leaves(h->td, TDX_LEVEL_4K), ==, SLOT_PAGES);
    g_assert_cmpuint(h->kvm->locked_vm, ==, SLOT_PAGES);
    g_assert_cmpuint(st.map_calls, ==, 1);

    /* Idempotent: nothing more is issued. */
    g_assert_cmpint(range_cmd(h, KVM_TDX_SEPT_MAP, 0, SLOT_PAGES, NULL), ==, 0);
    g_assert_cmpuint(stats(h).seamcalls, ==, st.seamcalls);

    kshim_vm_set_state(h->kvm, 2);          /* finalized */
    g_assert_cmpint(range_cmd(h, KVM_TDX_SEPT_UNMAP, 0x100000, 300, &done),
                    ==, 0);
    g_assert_cmpuint(done, ==, 300);
    st = stats(h);
    g_assert_cmpuint(st.leaves_4k, ==, SLOT_PAGES - 300);
    g_assert_cmpuint(st.pinned_pages, ==, SLOT_PAGES);    /* stay pinned */
    g_assert_cmpuint(tdx_td_leaves(h->td, TDX_LEVEL_4K), ==, SLOT_PAGES - 300);
    g_assert_true(h->kicks > 0);            /* after each TRACK */
    g_assert_cmpuint(kshim_page_refs(GUEST_PFN_BASE + 0x100), ==, 1);

    /* Converted back: mapped again with the same pinned pages. */
    g_assert_cmpint(range_cmd(h, KVM_TDX_SEPT_MAP, 0x100000, 300, NULL), ==, 0);
    g_assert_cmpuint(stats(h).leaves_4k, ==, SLOT_PAGES);
    g_assert_cmpuint(kshim_page_refs(GUEST_PFN_BASE + 0x100), ==, 1);
    teardown_clean(h);
}

static void test_refusals(void)
{
    struct host *h = host_new();
    uint64_t done;

    g_assert_cmpint(range_cmd(h, KVM_TDX_SEPT_MAP, 0x800, 1, NULL), ==, -EINVAL);
    g_assert_cmpint(range_cmd(h, KVM_TDX_SEPT_MAP, 0, 0, NULL), ==, -EINVAL);
    g_assert_cmpint(range_cmd(h, KVM_TDX_SEPT_MAP, 1ULL << 47, 1, NULL), ==,
                    -EINVAL);
    g_assert_cmpint(range_cmd(h, KVM_TDX_SEPT_MAP, (1ULL << 47) - 4096, 2,
                              NULL), ==, -EINVAL);
    /* Past the memslot: no guest_memfd behind it. */
    g_assert_cmpint(range_cmd(h, KVM_TDX_SEPT_MAP, SLOT_PAGES * 4096ULL, 1,
                              &done), ==, -ENOENT);
    g_assert_cmpuint(done, ==, 0);
    /* A shared page in the range: what is before it is mapped. */
    g_hash_table_add(h->shared, GSIZE_TO_POINTER(5));
    g_assert_cmpint(range_cmd(h, KVM_TDX_SEPT_MAP, 0, 8, &done), ==, -EPERM);
    g_assert_cmpuint(done, ==, 5);
    g_assert_cmpuint(stats(h).leaves_4k, ==, 5);
    g_hash_table_remove(h->shared, GSIZE_TO_POINTER(5));

    /* RLIMIT_MEMLOCK: partial progress, then -ENOMEM. */
    h->kvm->memlock_limit = 100;
    g_assert_cmpint(range_cmd(h, KVM_TDX_SEPT_MAP, 0, 200, &done), ==, -ENOMEM);
    g_assert_cmpuint(done, ==, 100);
    g_assert_cmpuint(stats(h).leaves_4k, ==, 100);
    h->kvm->memlock_limit = UINT64_MAX;

    /* A signal: -EINTR with progress; resumed from done. */
    h->signal_after = 50;
    g_assert_cmpint(range_cmd(h, KVM_TDX_SEPT_MAP, 0, 400, &done), ==, -EINTR);
    g_assert_cmpuint(done, ==, 49);     /* the 50th page looked at */
    g_assert_cmpint(range_cmd(h, KVM_TDX_SEPT_MAP, 0, 400, NULL), ==, 0);
    g_assert_cmpuint(stats(h).leaves_4k, ==, 400);
    teardown_clean(h);
}

/* The guest_memfd's fallocate(PUNCH_HOLE): the hook under its lock. */
static int punch(struct host *h, gfn_t start, gfn_t end)
{
    struct kvm_gfn_range r = { .slot = &h->slot, .start = start, .end = end };
    int ret;

    pthread_rwlock_wrlock(&h->mapping.invalidate_lock);
    ret = tdx_side_sept_gmem_punch_hole(h->kvm, &r);
    pthread_rwlock_unlock(&h->mapping.invalidate_lock);
    return ret;
}

static void test_punch_and_memslot(void)
{
    struct host *h = host_new();

    g_assert_cmpint(range_cmd(h, KVM_TDX_SEPT_MAP, 0, 16, NULL), ==, 0);
    kshim_vm_set_state(h->kvm, 2);
    g_assert_cmpint(punch(h, 15, 20), ==, -EBUSY);
    g_assert_cmpint(punch(h, 16, 20), ==, 0);
    /* Unmapped is still pinned: still refused. */
    g_assert_cmpint(range_cmd(h, KVM_TDX_SEPT_UNMAP, 0, 16, NULL), ==, 0);
    g_assert_cmpint(punch(h, 0, 1), ==, -EBUSY);
    g_assert_cmpint(range_cmd(h, KVM_TDX_SEPT_MAP, 0, 200, NULL), ==, 0);

    /*
     * Memslot deleted while mapped: leaves and pins go with it, all of
     * them (more than one batch) even with a signal pending: the deletion
     * cannot fail, so it never stops half way.
     */
    mutex_lock(&h->kvm->slots_lock);
    h->slot.flags |= KVM_MEMSLOT_INVALID;
    h->signal_after = 1;
    tdx_side_sept_flush_memslot(h->kvm, &h->slot);
    h->signal_after = 0;
    mutex_unlock(&h->kvm->slots_lock);
    g_assert_cmpuint(stats(h).leaves_4k, ==, 0);
    g_assert_cmpuint(stats(h).pinned_pages, ==, 0);
    g_assert_cmpuint(tdx_td_leaves(h->td, TDX_LEVEL_4K), ==, 0);
    g_assert_cmpuint(kshim_pages_referenced(), ==, stats(h).sept_pages);
    g_assert_cmpint(range_cmd(h, KVM_TDX_SEPT_MAP, 0, 1, NULL), ==, -ENOENT);
    g_assert_cmpint(punch(h, 0, 16), ==, 0);
    teardown_clean(h);
}

static void test_fault(void)
{
    struct host *h = host_new();
    struct kvm_run run = { 0 };
    struct kvm_vcpu vcpu = { .kvm = h->kvm, .run = &run };

    kshim_vm_set_state(h->kvm, 2);
    /* Private, guest_memfd behind it: the guest retries. */
    g_assert_cmpint(tdx_side_sept_handle_private_fault(&vcpu, 0x3000), ==, 1);
    g_assert_cmpuint(run.exit_reason, ==, 0);
    /* Shared: an implicit conversion, userspace's to make. */
    g_hash_table_add(h->shared, GSIZE_TO_POINTER(3));
    g_assert_cmpint(tdx_side_sept_handle_private_fault(&vcpu, 0x3123), ==,
                    -EFAULT);
    g_assert_cmpuint(run.exit_reason, ==, KVM_EXIT_MEMORY_FAULT);
    g_assert_cmphex(run.memory_fault.gpa, ==, 0x3000);
    g_assert_cmphex(run.memory_fault.flags, ==, KVM_MEMORY_EXIT_FLAG_PRIVATE);
    /* No memslot: userspace's too, never a retry for ever. */
    memset(&run, 0, sizeof(run));
    g_assert_cmpint(tdx_side_sept_handle_private_fault(&vcpu, 1ULL << 30),
                    ==, -EFAULT);
    g_assert_cmpuint(run.exit_reason, ==, KVM_EXIT_MEMORY_FAULT);
    /*
     * Private, but the guest_memfd was closed (kvm_gmem_release() cleared
     * the file; the memslot keeps KVM_MEM_GUEST_MEMFD): no MAP can come,
     * so no retry either.
     */
    memset(&run, 0, sizeof(run));
    h->slot.gmem.file = NULL;
    g_assert_cmpint(tdx_side_sept_handle_private_fault(&vcpu, 0x4000), ==,
                    -EFAULT);
    g_assert_cmpuint(run.exit_reason, ==, KVM_EXIT_MEMORY_FAULT);
    g_assert_cmphex(run.memory_fault.gpa, ==, 0x4000);
    h->slot.gmem.file = &h->file;
    /* Nothing was mapped by a fault. */
    g_assert_cmpuint(stats(h).leaves_4k, ==, 0);
    teardown_clean(h);
}

static void test_init_mem_region_and_failed_build(void)
{
    struct host *h = host_new();
    struct page *src = kshim_page_get(0x50);
    struct page *p = kshim_page_get(GUEST_PFN_BASE + 7);

    g_assert_cmpint(tdx_side_sept_add_page(h->kvm, 7, p->pfn, src), ==, 0);
    put_page(p);                /* kvm_gmem_populate()'s reference */
    g_assert_cmpuint(kshim_page_refs(GUEST_PFN_BASE + 7), ==, 1);
    p = kshim_page_get(GUEST_PFN_BASE + 7);
    g_assert_cmpint(tdx_side_sept_add_page(h->kvm, 7, p->pfn, src), ==, -EIO);
    put_page(p);
    put_page(src);
    /* MAP skips what PAGE.ADD mapped. */
    g_assert_cmpint(range_cmd(h, KVM_TDX_SEPT_MAP, 0, 8, NULL), ==, 0);
    g_assert_cmpuint(stats(h).leaves_4k, ==, 8);

    /* The build fails half way (RLIMIT_MEMLOCK); QEMU exits: teardown. */
    h->kvm->memlock_limit = 300;
    g_assert_cmpint(range_cmd(h, KVM_TDX_SEPT_MAP, 0, SLOT_PAGES, NULL), ==,
                    -ENOMEM);
    teardown_clean(h);
}

static void test_busy_kept_out(void)
{
    struct host *h = host_new();
    struct tdx_inject_busy once = { .every_nth = 3 };

    kshim_vm_set_state(h->kvm, 2);
    tdxmod_inject_busy(h->m, TDH_MEM_PAGE_AUG, &once);
    g_assert_cmpint(range_cmd(h, KVM_TDX_SEPT_MAP, 0, 16, NULL), ==, 0);
    g_assert_cmpuint(stats(h).leaves_4k, ==, 16);
    g_assert_cmpuint(stats(h).busy_retries, >, 0);
    g_assert_true(h->kick_saw_zap);
    g_assert_false(kshim_vm_wait_for_sept_zap(h->kvm));
    tdxmod_inject_busy(h->m, TDH_MEM_PAGE_AUG,
                       &(struct tdx_inject_busy){ 0 });
    teardown_clean(h);
}

struct map_arg {
    struct host *h;
    uint64_t gpa, pages;
    int ret;
};

static void *map_thread(void *opaque)
{
    struct map_arg *a = opaque;

    kshim_current_kvm = a->h->kvm;
    a->ret = range_cmd(a->h, KVM_TDX_SEPT_MAP, a->gpa, a->pages, NULL);
    return NULL;
}

/* Lock: STATS reads without side_sept.lock, never behind a MAP. */
static void test_stats_not_behind_map(void)
{
    struct host *h = host_new();
    struct map_arg a = { .h = h, .gpa = 0, .pages = 64 };
    pthread_t t;

    h->block_armed = true;
    h->block_gfn = 10;
    pthread_create(&t, NULL, map_thread, &a);
    pthread_mutex_lock(&h->block_lock);
    while (!h->blocked) {
        pthread_cond_wait(&h->block_cond, &h->block_lock);
    }
    pthread_mutex_unlock(&h->block_lock);
    /* The MAP holds the side-table lock in the middle of its range. */
    g_assert_true(kshim_vm_side_lock_held(h->kvm));
    g_assert_cmpuint(stats(h).leaves_4k, ==, 10);
    pthread_mutex_lock(&h->block_lock);
    h->released = true;
    pthread_cond_broadcast(&h->block_cond);
    pthread_mutex_unlock(&h->block_lock);
    pthread_join(t, NULL);
    g_assert_cmpint(a.ret, ==, 0);
    g_assert_cmpuint(stats(h).leaves_4k, ==, 64);
    teardown_clean(h);
}

struct race {
    struct host *h;
    volatile bool stop;
    unsigned rounds;
};

static void *race_map_unmap(void *opaque)
{
    struct race *r = opaque;

    kshim_current_kvm = r->h->kvm;
    while (!r->stop) {
        int m = range_cmd(r->h, KVM_TDX_SEPT_MAP, 0, 64, NULL);
        int u = range_cmd(r->h, KVM_TDX_SEPT_UNMAP, 0, 32, NULL);

        g_assert_true(m == 0 || m == -ENOENT);
        g_assert_true(u == 0);
        r->rounds++;
    }
    return NULL;
}

static void *race_punch_flush(void *opaque)
{
    struct race *r = opaque;

    kshim_current_kvm = r->h->kvm;
    while (!r->stop) {
        int p = punch(r->h, 0, 64);

        g_assert_true(p == 0 || p == -EBUSY);
        /* A memslot update: slots_lock, then the flush. */
        mutex_lock(&r->h->kvm->slots_lock);
        pthread_rwlock_wrlock(&r->h->kvm->srcu);  /* synchronize_srcu() */
        r->h->slot.flags |= KVM_MEMSLOT_INVALID;
        pthread_rwlock_unlock(&r->h->kvm->srcu);
        tdx_side_sept_flush_memslot(r->h->kvm, &r->h->slot);
        r->h->slot.flags &= ~KVM_MEMSLOT_INVALID;    /* re-added */
        mutex_unlock(&r->h->kvm->slots_lock);
        /* TEARDOWN's lock, as tdx_vm_ioctl() takes it, and STATS. */
        mutex_lock(&r->h->kvm->lock);
        mutex_lock(&r->h->kvm->slots_lock);
        stats(r->h);
        mutex_unlock(&r->h->kvm->slots_lock);
        mutex_unlock(&r->h->kvm->lock);
    }
    return NULL;
}

static void deadlock(int sig)
{
    static const char msg[] = "test-side-sept-kernel: deadlock (no progress "
                              "in 60 s)\n";
    ssize_t unused = write(2, msg, sizeof(msg) - 1);

    (void)unused;
    abort();
}

/*
 * Lock order: MAP (srcu -> invalidate lock -> side_sept.lock -> mmu_lock)
 * against a hole punch (invalidate lock -> side_sept.lock) and a memslot
 * deletion (slots_lock -> srcu sync -> side_sept.lock) on two threads;
 * a cycle would hang (the alarm ends the test).
 */
static void test_lock_order(void)
{
    struct host *h = host_new();
    struct race r = { .h = h };
    pthread_t a, b;
    struct timespec ts = { .tv_nsec = 300 * 1000 * 1000 };

    kshim_vm_set_state(h->kvm, 2);
    signal(SIGALRM, deadlock);
    alarm(60);
    pthread_create(&a, NULL, race_map_unmap, &r);
    pthread_create(&b, NULL, race_punch_flush, &r);
    nanosleep(&ts, NULL);
    r.stop = true;
    pthread_join(a, NULL);
    pthread_join(b, NULL);
    alarm(0);
    g_assert_cmpuint(r.rounds, >, 0);
    g_assert_cmpuint(tdx_td_leaves(h->td, TDX_LEVEL_4K), ==,
                     stats(h).leaves_4k);
    teardown_clean(h);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/side-sept-kernel/map-unmap", test_map_unmap);
    g_test_add_func("/side-sept-kernel/refusals", test_refusals);
    g_test_add_func("/side-sept-kernel/punch-and-memslot",
                    test_punch_and_memslot);
    g_test_add_func("/side-sept-kernel/fault", test_fault);
    g_test_add_func("/side-sept-kernel/init-mem-region-failed-build",
                    test_init_mem_region_and_failed_build);
    g_test_add_func("/side-sept-kernel/busy-kept-out", test_busy_kept_out);
    g_test_add_func("/side-sept-kernel/stats-not-behind-map",
                    test_stats_not_behind_map);
    g_test_add_func("/side-sept-kernel/lock-order", test_lock_order);
    return g_test_run();
}
