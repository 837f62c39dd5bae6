// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * tdxsim unit test: the side-table S-EPT UAPI of the fake KVM, which is the
 * KVM series' tdx_side_sept.c hosted through kshim/ (kvm-sept.c wires it),
 * driven through the fake KVM's ioctls the way QEMU's x-sept-mode=side-table
 * drives it: enabling and its ordering errors, the build (4K leaves),
 * range errors, UNMAP and re-MAP, RLIMIT_MEMLOCK, injected BUSY / EINTR /
 * ENOMEM, the guest's view (racing conversions, implicit conversions), and
 * a teardown that leaves no page behind.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>
#include <linux/falloc.h>
#include <glib.h>

#include "kvm.h"
#include "tests/sim-test.h"
#include "tdxsim.h"

#define MB (1ULL << 20)
#define GB (1ULL << 30)
#define SZ_2M (2 * MB)

/* One TD: VM fd, one vCPU, one guest_memfd memslot at GPA 0. */
typedef struct {
    int vm_fd, vcpu_fd, gmem_fd;
    uint64_t size;
    struct sim_vm *vm;
} Td;

static int sys_fd = -1;

static int tdx_op(int fd, uint32_t id, uint32_t flags, void *data,
                  uint64_t *hw)
{
    struct kvm_tdx_cmd cmd = { .id = id, .flags = flags,
                               .data = (uintptr_t)data };
    int r = sim_ioctl(fd, KVM_MEMORY_ENCRYPT_OP, &cmd);

    if (hw) {
        *hw = cmd.hw_error;
    }
    return r < 0 ? -errno : r;
}

static int enable(int vm_fd, uint64_t mask)
{
    struct kvm_enable_cap cap = { .cap = KVM_CAP_TDX_SIDE_SEPT,
                                  .args[0] = mask };
    int r = sim_ioctl(vm_fd, KVM_ENABLE_CAP, &cap);

    return r < 0 ? -errno : r;
}

static int set_attrs(Td *t, uint64_t gpa, uint64_t size, bool private)
{
    struct kvm_memory_attributes a = {
        .address = gpa, .size = size,
        .attributes = private ? KVM_MEMORY_ATTRIBUTE_PRIVATE : 0,
    };
    int r = sim_ioctl(t->vm_fd, KVM_SET_MEMORY_ATTRIBUTES, &a);

    return r < 0 ? -errno : r;
}

/* One call, no resume: returns -errno; *done as written back. */
static int range_once(Td *t, uint32_t id, uint64_t gpa, uint64_t size,
                      uint64_t flags, uint64_t *done)
{
    struct kvm_tdx_sept_range r = {
        .gpa = gpa, .nr_pages = size >> 12, .flags = flags,
        .done = done ? *done : 0,
    };
    int ret = tdx_op(t->vm_fd, id, 0, &r, NULL);

    if (done) {
        *done = r.done;
    }
    return ret;
}

/* As QEMU's tdx_sept_kvm_range(): resume on -EINTR / -EAGAIN. */
static int range_call(Td *t, uint32_t id, uint64_t gpa, uint64_t size,
                      uint64_t flags, unsigned *resumes)
{
    uint64_t done = 0;
    unsigned n = 0;
    int r;

    do {
        r = range_once(t, id, gpa, size, flags, &done);
    } while ((r == -EINTR || r == -EAGAIN) && ++n < 100000);
    if (resumes) {
        *resumes = n;
    }
    return r;
}

static int map(Td *t, uint64_t gpa, uint64_t size)
{
    return range_call(t, KVM_TDX_SEPT_MAP, gpa, size,
                      KVM_TDX_SEPT_MAP_ALLOW_2M, NULL);
}

static int unmap(Td *t, uint64_t gpa, uint64_t size)
{
    return range_call(t, KVM_TDX_SEPT_UNMAP, gpa, size, 0, NULL);
}

static struct kvm_tdx_sept_stats stats(Td *t)
{
    struct kvm_tdx_sept_stats s;

    g_assert_cmpint(tdx_op(t->vm_fd, KVM_TDX_SEPT_STATS, 0, &s, NULL), ==, 0);
    return s;
}

static int create_vm(void)
{
    int fd = sim_ioctl(sys_fd, KVM_CREATE_VM, (void *)(long)KVM_X86_TDX_VM);

    g_assert_cmpint(fd, >=, 0);
    return fd;
}

static void init_vm(int vm_fd)
{
    g_assert_cmpint(sim_test_init_td(vm_fd, 0x3, NULL), ==, 0);
}

/* A side-table TD (leaves 0: mirror) with a guest_memfd slot, all private. */
static void td_new(Td *t, uint64_t size, uint64_t leaves)
{
    struct kvm_create_guest_memfd gm = { .size = size };
    struct kvm_userspace_memory_region2 slot = {
        .slot = 0, .flags = KVM_MEM_GUEST_MEMFD, .memory_size = size,
    };

    memset(t, 0, sizeof(*t));
    t->size = size;
    t->vm_fd = create_vm();
    t->vm = sim.vms->pdata[sim.vms->len - 1];
    if (leaves) {           /* 0: mirror mode */
        g_assert_cmpint(enable(t->vm_fd, leaves), ==, 0);
    }
    init_vm(t->vm_fd);
    t->gmem_fd = sim_ioctl(t->vm_fd, KVM_CREATE_GUEST_MEMFD, &gm);
    g_assert_cmpint(t->gmem_fd, >=, 0);
    slot.guest_memfd = t->gmem_fd;
    g_assert_cmpint(sim_ioctl(t->vm_fd, KVM_SET_USER_MEMORY_REGION2, &slot),
                    ==, 0);
    {
        /* tdx_vcpu_create(): a TD vCPU needs a split irqchip. */
        struct kvm_enable_cap split = { .cap = KVM_CAP_SPLIT_IRQCHIP,
                                        .args[0] = 24 };

        g_assert_cmpint(sim_ioctl(t->vm_fd, KVM_ENABLE_CAP, &split), ==, 0);
    }
    t->vcpu_fd = sim_ioctl(t->vm_fd, KVM_CREATE_VCPU, (void *)0L);
    g_assert_cmpint(t->vcpu_fd, >=, 0);
    g_assert_cmpint(set_td_cpuid(t->vcpu_fd), ==, 0);
    g_assert_cmpint(tdx_op(t->vcpu_fd, KVM_TDX_INIT_VCPU, 0, (void *)1L,
                           NULL), ==, 0);
    g_assert_cmpint(set_attrs(t, 0, size, true), ==, 0);
}

/* The VM goes away: every fd closed. */
static void td_close(Td *t)
{
    sim_close(t->vcpu_fd);
    sim_close(t->vm_fd);
    sim_close(t->gmem_fd);
    g_assert_true(t->vm->destroyed);
    g_assert_true(t->vm->torn_down);
}

static void assert_clean(Td *t)
{
    g_assert_cmpuint(t->vm->leaks, ==, 0);
    g_assert_cmpuint(tdxmod_pages_owned(sim.mod), ==, 0);
    g_assert_cmpuint(t->vm->stats.invariant_violations, ==, 0);
    g_assert_cmpuint(t->vm->sept.pinned_pages, ==, 0);
    g_assert_cmpuint(t->vm->sept.pins, ==, t->vm->sept.unpins);
    g_assert_cmpuint(sim.memlock_pages, ==, 0);
}

static void set_inject(const char *spec)
{
    GError *err = NULL;

    inject_free(sim.inj);
    sim.inj = inject_parse(spec, 1, &err);
    g_assert_no_error(err);
}

static void busy(enum tdx_leaf leaf, uint64_t every)
{
    struct tdx_inject_busy b = { .every_nth = every };

    tdxmod_inject_busy(sim.mod, leaf, every ? &b : NULL);
}

static const struct tdx_counters *mod_counters(void)
{
    return tdxmod_counters(sim.mod);
}

/* ---- tests ---- */

static void test_enable(void)
{
    struct kvm_enable_cap cap = { .cap = KVM_CAP_TDX_SIDE_SEPT, .args[0] = 1 };
    int vm_fd, legacy_fd;
    Td t;

    g_assert_cmpint(sim_ioctl(sys_fd, KVM_CHECK_EXTENSION,
                              (void *)(long)KVM_CAP_TDX_SIDE_SEPT), ==, 0);
    legacy_fd = sim_ioctl(sys_fd, KVM_CREATE_VM, (void *)0L);
    g_assert_cmpint(sim_ioctl(legacy_fd, KVM_CHECK_EXTENSION,
                              (void *)(long)KVM_CAP_TDX_SIDE_SEPT), ==, 0);
    g_assert_cmpint(enable(legacy_fd, 1), ==, -EINVAL);
    sim_close(legacy_fd);

    vm_fd = create_vm();
    /* 4K leaves only: 7.2's guest_memfd has order-0 folios. */
    g_assert_cmpint(sim_ioctl(vm_fd, KVM_CHECK_EXTENSION,
                              (void *)(long)KVM_CAP_TDX_SIDE_SEPT), ==,
                    KVM_TDX_SEPT_LEAF_4K);
    g_assert_cmpint(enable(vm_fd, 0), ==, -EINVAL);
    g_assert_cmpint(enable(vm_fd, KVM_TDX_SEPT_LEAF_2M), ==, -EINVAL);
    g_assert_cmpint(enable(vm_fd, 3), ==, -EINVAL);
    g_assert_cmpint(enable(vm_fd, 1ULL << 2 | 1), ==, -EINVAL);
    cap.args[1] = 1;
    g_assert_cmpint(sim_ioctl(vm_fd, KVM_ENABLE_CAP, &cap), ==, -1);
    g_assert_cmpint(errno, ==, EINVAL);
    cap.args[1] = 0;
    cap.flags = 1;
    g_assert_cmpint(sim_ioctl(vm_fd, KVM_ENABLE_CAP, &cap), ==, -1);
    g_assert_cmpint(errno, ==, EINVAL);
    /* Not enabled yet: the commands are refused. */
    init_vm(vm_fd);
    g_assert_cmpint(tdx_op(vm_fd, KVM_TDX_SEPT_TEARDOWN, 0, NULL, NULL), ==,
                    -EINVAL);
    /* Too late after INIT_VM (and so with vCPUs). */
    g_assert_cmpint(enable(vm_fd, 1), ==, -EBUSY);
    sim_close(vm_fd);

    /* Before INIT_VM: fine; once only. */
    td_new(&t, 16 * MB, KVM_TDX_SEPT_LEAF_4K);
    g_assert_true(t.vm->sept.enabled);
    g_assert_cmpint(enable(t.vm_fd, 1), ==, -EBUSY);
    g_assert_cmpint(map(&t, 0, 16 * MB), ==, 0);
    g_assert_cmpuint(stats(&t).leaves_2m, ==, 0);
    g_assert_cmpuint(stats(&t).leaves_4k, ==, 4096);
    g_assert_cmpint(tdx_op(t.vm_fd, KVM_TDX_FINALIZE_VM, 0, NULL, NULL), ==,
                    0);
    td_close(&t);
    assert_clean(&t);
}

static Td big;
#define BIG (64 * MB)

/* Build of a 64 MiB slot, 4K leaves; TDVF-like pages PAGE.ADDed first. */
static void test_build(void)
{
    Td *t = &big;
    struct kvm_tdx_init_mem_region region;
    struct kvm_tdx_sept_stats s;
    struct kvm_pre_fault_memory pf = { .gpa = 0x400000, .size = 4096 };
    uint64_t done = 0;
    void *src;

    td_new(t, BIG, KVM_TDX_SEPT_LEAF_4K);
    /* TDVF: 4 pages PAGE.ADDed (measured) at 8 MiB. */
    src = mmap(NULL, 4 * 4096, PROT_READ | PROT_WRITE,
               MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    region = (struct kvm_tdx_init_mem_region) {
        .source_addr = (uintptr_t)src, .gpa = 8 * MB, .nr_pages = 4 };
    g_assert_cmpint(tdx_op(t->vcpu_fd, KVM_TDX_INIT_MEM_REGION,
                           KVM_TDX_MEASURE_MEMORY_REGION, &region, NULL), ==,
                    0);
    munmap(src, 4 * 4096);
    g_assert_cmpuint(t->vm->sept.pinned_pages, ==, 4);
    g_assert_cmpuint(stats(t).leaves_4k, ==, 4);

    /* Range errors. */
    g_assert_cmpint(range_once(t, KVM_TDX_SEPT_MAP, 0x800, 4096, 0, NULL),
                    ==, -EINVAL);
    g_assert_cmpint(range_once(t, KVM_TDX_SEPT_MAP, 0, 0, 0, NULL), ==,
                    -EINVAL);
    g_assert_cmpint(range_once(t, KVM_TDX_SEPT_MAP, 0, 4096, 1ULL << 1,
                               NULL), ==, -EINVAL);
    g_assert_cmpint(range_once(t, KVM_TDX_SEPT_UNMAP, 0, 4096,
                               KVM_TDX_SEPT_MAP_ALLOW_2M, NULL), ==, -EINVAL);
    done = 2;
    g_assert_cmpint(range_once(t, KVM_TDX_SEPT_MAP, 0, 4096, 0, &done), ==,
                    -EINVAL);
    g_assert_cmpint(range_once(t, KVM_TDX_SEPT_MAP, (1ULL << 47) - 4096,
                               8192, 0, NULL), ==, -EINVAL);
    g_assert_cmpint(range_once(t, KVM_TDX_SEPT_MAP, 1ULL << 47, 4096, 0,
                               NULL), ==, -EINVAL);
    /* What is before the refused page is mapped, and reported. */
    done = 0;
    g_assert_cmpint(range_once(t, KVM_TDX_SEPT_MAP, BIG - 4096, 8192, 0,
                               &done), ==, -ENOENT);
    g_assert_cmpuint(done, ==, 1);
    done = 0;
    g_assert_cmpint(set_attrs(t, 32 * MB, 4096, false), ==, 0);
    g_assert_cmpint(range_once(t, KVM_TDX_SEPT_MAP, 0, BIG, 0, &done), ==,
                    -EPERM);
    g_assert_cmpuint(done, ==, 32 * MB >> 12);
    g_assert_cmpuint(stats(t).leaves_4k, ==, (32 * MB >> 12) + 1);
    g_assert_cmpint(set_attrs(t, 32 * MB, 4096, true), ==, 0);

    /* The build, with a signal at every other page looked at. */
    set_inject("eintr:sept_map:every=2");
    {
        unsigned resumes;
        g_assert_cmpint(range_call(t, KVM_TDX_SEPT_MAP, 0, BIG,
                                   KVM_TDX_SEPT_MAP_ALLOW_2M, &resumes), ==,
                        0);
        g_assert_cmpuint(resumes, >, 1000);
    }
    set_inject(NULL);
    s = stats(t);
    g_assert_cmpuint(s.leaves_2m, ==, 0);
    g_assert_cmpuint(s.leaves_4k, ==, BIG >> 12);
    g_assert_cmpuint(s.pinned_pages, ==, BIG >> 12);
    g_assert_cmpuint(s.sept_pages, ==, 1 + 1 + 32);  /* PDPT, PD, 32 PTs */
    g_assert_cmpuint(mod_counters()->aug_2m, ==, 0);
    /* Idempotent: everything is mapped already. */
    g_assert_cmpint(map(t, 0, BIG), ==, 0);
    g_assert_cmpuint(stats(t).leaves_4k, ==, BIG >> 12);

    /* Pinned: no hole punch, no pre-fault. */
    g_assert_cmpint(sim_gmem_fallocate(t->gmem_fd, FALLOC_FL_PUNCH_HOLE |
                                       FALLOC_FL_KEEP_SIZE, 0, 4096), ==,
                    -EBUSY);
    g_assert_cmpuint(t->vm->sept.punch_refused, ==, 1);
    g_assert_cmpint(tdx_op(t->vm_fd, KVM_TDX_FINALIZE_VM, 0, NULL, NULL), ==,
                    0);
    g_assert_cmpint(sim_ioctl(t->vcpu_fd, KVM_PRE_FAULT_MEMORY, &pf), ==, -1);
    g_assert_cmpint(errno, ==, EOPNOTSUPP);
    /*
     * Shared memory neither: the KVM series leaves pre_fault_allowed false
     * in the mode (tdx_td_finalize()), so KVM_PRE_FAULT_MEMORY never maps
     * through the TDP MMU behind the side table.
     */
    g_assert_cmpint(unmap(t, 0, 4096), ==, 0);
    g_assert_cmpint(set_attrs(t, 0, 4096, false), ==, 0);
    pf = (struct kvm_pre_fault_memory) { .gpa = 0, .size = 4096 };
    g_assert_cmpint(sim_ioctl(t->vcpu_fd, KVM_PRE_FAULT_MEMORY, &pf), ==, -1);
    g_assert_cmpint(errno, ==, EOPNOTSUPP);
    g_assert_cmpuint(pf.size, ==, 4096);
    g_assert_cmpuint(t->vm->sept.prefault_refused, ==, 2);
    g_assert_cmpuint(t->vm->stats.invariant_violations, ==, 0);
    g_assert_cmpuint(t->vm->build.kernel_calls, >, 1000);
    g_assert_cmpuint(t->vm->build.leaves[0], ==, BIG >> 12);
}

/* UNMAP removes leaves, keeps pins and S-EPT pages; MAP puts them back. */
static void test_unmap(void)
{
    Td *t = &big;
    uint64_t wbinvd0 = mod_counters()->seamcalls[TDH_PHYMEM_PAGE_WBINVD];
    struct kvm_tdx_sept_stats s0 = stats(t), s;

    g_assert_cmpint(set_attrs(t, 8 * MB, SZ_2M, false), ==, 0);
    g_assert_cmpint(unmap(t, 8 * MB, SZ_2M), ==, 0);
    s = stats(t);
    g_assert_cmpuint(s.leaves_4k, ==, s0.leaves_4k - 512);
    g_assert_cmpuint(s.sept_pages, ==, s0.sept_pages);
    g_assert_cmpuint(s.pinned_pages, ==, s0.pinned_pages);
    /* One TDH.PHYMEM.PAGE.WBINVD per 4 KiB page removed. */
    g_assert_cmpuint(mod_counters()->seamcalls[TDH_PHYMEM_PAGE_WBINVD] -
                     wbinvd0, ==, 512);
    g_assert_cmpuint(mod_counters()->seamcalls[TDH_MEM_SEPT_REMOVE], ==, 0);
    /* MAP needs the attribute private. */
    g_assert_cmpint(map(t, 8 * MB, SZ_2M), ==, -EPERM);
    g_assert_cmpint(set_attrs(t, 8 * MB, SZ_2M, true), ==, 0);
    g_assert_cmpint(map(t, 8 * MB, SZ_2M), ==, 0);
    g_assert_cmpuint(stats(t).leaves_4k, ==, s0.leaves_4k);
    g_assert_cmpuint(stats(t).pinned_pages, ==, s0.pinned_pages);
    sim_check_agree_all(t->vm, "test");
    g_assert_cmpuint(t->vm->stats.invariant_violations, ==, 0);
}

/*
 * BUSY: retried once with every vCPU kept out (tdh_do_no_vcpus()); a MAP
 * the module keeps busy is -EAGAIN with progress; -EINTR in UNMAP after a
 * batch of 64 leaves.
 */
static void test_busy(void)
{
    Td *t = &big;
    uint64_t done = 0;
    struct kvm_tdx_sept_stats s0 = stats(t), s;

    busy(TDH_MEM_RANGE_BLOCK, 2);
    busy(TDH_MEM_PAGE_REMOVE, 3);
    busy(TDH_MEM_TRACK, 2);
    g_assert_cmpint(set_attrs(t, 32 * MB, 64 * 4096, false), ==, 0);
    g_assert_cmpint(unmap(t, 32 * MB, 64 * 4096), ==, 0);
    busy(TDH_MEM_RANGE_BLOCK, 0);
    busy(TDH_MEM_PAGE_REMOVE, 0);
    busy(TDH_MEM_TRACK, 0);
    s = stats(t);
    g_assert_cmpuint(s.busy_retries, >, s0.busy_retries + 30);
    g_assert_false(t->vm->bugged);

    /* AUG always busy: -EAGAIN, nothing half done, then resumed. */
    g_assert_cmpint(set_attrs(t, 32 * MB, 64 * 4096, true), ==, 0);
    busy(TDH_MEM_PAGE_AUG, 1);
    g_assert_cmpint(range_once(t, KVM_TDX_SEPT_MAP, 32 * MB, 64 * 4096,
                               KVM_TDX_SEPT_MAP_ALLOW_2M, &done), ==, -EAGAIN);
    g_assert_cmpuint(done, ==, 0);
    busy(TDH_MEM_PAGE_AUG, 0);
    g_assert_cmpint(range_once(t, KVM_TDX_SEPT_MAP, 32 * MB, 64 * 4096,
                               KVM_TDX_SEPT_MAP_ALLOW_2M, &done), ==, 0);
    g_assert_cmpuint(done, ==, 64);
    g_assert_cmphex(tdg_mem_page_accept(t->vm->td, t->vm->vcpus[0]->vp,
                                        32 * MB, TDX_LEVEL_4K), ==,
                    TDX_SUCCESS);
    sim_check_agree_all(t->vm, "test");
    g_assert_cmpuint(t->vm->stats.invariant_violations, ==, 0);

    /* -EINTR in UNMAP, after each batch. */
    set_inject("eintr:sept_unmap:every=1");
    g_assert_cmpint(set_attrs(t, 40 * MB, 8 * SZ_2M, false), ==, 0);
    done = 0;
    g_assert_cmpint(range_once(t, KVM_TDX_SEPT_UNMAP, 40 * MB, 8 * SZ_2M, 0,
                               &done), ==, -EINTR);
    g_assert_cmpuint(done, ==, 64);
    g_assert_cmpint(unmap(t, 40 * MB, 8 * SZ_2M), ==, 0);
    set_inject(NULL);
    g_assert_cmpint(set_attrs(t, 40 * MB, 8 * SZ_2M, true), ==, 0);
    g_assert_cmpint(map(t, 40 * MB, 8 * SZ_2M), ==, 0);
    sim_check_agree_all(t->vm, "test");
    g_assert_cmpuint(t->vm->stats.invariant_violations, ==, 0);
}

/* TEARDOWN (interrupted and resumed), then VM destruction: no leaks. */
static void test_teardown(void)
{
    Td *t = &big;
    uint64_t reclaim0 = mod_counters()->seamcalls[TDH_PHYMEM_PAGE_RECLAIM];
    struct kvm_tdx_sept_stats s = stats(t);
    unsigned resumes = 0;
    int r;

    set_inject("eintr:sept_teardown:every=1");
    while ((r = tdx_op(t->vm_fd, KVM_TDX_SEPT_TEARDOWN, 0, NULL, NULL)) ==
           -EINTR) {
        resumes++;
    }
    set_inject(NULL);
    g_assert_cmpint(r, ==, 0);
    g_assert_cmpuint(resumes, >=, 8);
    /* The key first: one RECLAIM per mapped page and S-EPT page. */
    g_assert_cmpuint(mod_counters()->seamcalls[TDH_PHYMEM_PAGE_RECLAIM] -
                     reclaim0, ==, s.leaves_4k + s.sept_pages);
    g_assert_cmpuint(t->vm->sept.pinned_pages, ==, 0);
    g_assert_cmpuint(sim.memlock_pages, ==, 0);
    g_assert_cmpuint(stats(t).pinned_pages, ==, 0);
    /* The TD is gone for the guest and for the commands. */
    g_assert_cmpint(sim_ioctl(t->vcpu_fd, KVM_RUN, NULL), ==, -1);
    g_assert_cmpint(errno, ==, EIO);
    g_assert_cmpint(map(t, 0, 4096), ==, -EINVAL);
    g_assert_cmpint(tdx_op(t->vm_fd, KVM_TDX_SEPT_TEARDOWN, 0, NULL, NULL),
                    ==, -EINVAL);
    /* Unpinned: hole punch works again. */
    g_assert_cmpint(sim_gmem_fallocate(t->gmem_fd, FALLOC_FL_PUNCH_HOLE |
                                       FALLOC_FL_KEEP_SIZE, 0, 4096), ==, 0);
    td_close(t);
    assert_clean(t);
    g_assert_cmpuint(t->vm->teardown.kernel_calls, ==, resumes + 1);
}

/* Destruction without TEARDOWN does the same work; a failed pin. */
static void test_destroy_only(void)
{
    uint64_t done = 0;
    Td t;

    td_new(&t, 8 * MB, 1);
    /* enomem:map:nth=1: this MAP fails at its first pin, nothing done. */
    set_inject("enomem:map:nth=1");
    g_assert_cmpint(range_once(&t, KVM_TDX_SEPT_MAP, 0, 8 * MB, 0, &done),
                    ==, -ENOMEM);
    g_assert_cmpuint(done, ==, 0);
    g_assert_cmpint(map(&t, 0, 8 * MB), ==, 0);
    set_inject(NULL);
    g_assert_cmpuint(t.vm->sept.enomem, ==, 1);
    g_assert_cmpint(tdx_op(t.vm_fd, KVM_TDX_FINALIZE_VM, 0, NULL, NULL), ==,
                    0);
    td_close(&t);
    assert_clean(&t);
    g_assert_true(t.vm->sept.torn_down);
}

/* RLIMIT_MEMLOCK without CAP_IPC_LOCK: -ENOMEM with partial progress. */
static void test_memlock(void)
{
    struct rlimit old, lim;
    uint64_t done = 0;
    Td t;

    g_assert_cmpint(getrlimit(RLIMIT_MEMLOCK, &old), ==, 0);
    if (old.rlim_max != RLIM_INFINITY && old.rlim_max < 8 * MB) {
        g_test_skip("RLIMIT_MEMLOCK hard limit below 8 MiB");
        return;
    }
    g_setenv("TDXSIM_NO_CAP_IPC_LOCK", "1", TRUE);
    lim = (struct rlimit) { .rlim_cur = 4 * MB, .rlim_max = old.rlim_max };
    g_assert_cmpint(setrlimit(RLIMIT_MEMLOCK, &lim), ==, 0);

    td_new(&t, 8 * MB, 1);
    g_assert_cmpint(range_once(&t, KVM_TDX_SEPT_MAP, 0, 8 * MB,
                               KVM_TDX_SEPT_MAP_ALLOW_2M, &done), ==, -ENOMEM);
    g_assert_cmpuint(done, ==, 4 * MB >> 12);
    g_assert_cmpuint(t.vm->sept.pinned_pages, ==, 4 * MB >> 12);
    g_assert_cmpuint(sim.memlock_pages, ==, 4 * MB >> 12);
    /* With the limit raised the same call resumes. */
    lim.rlim_cur = 8 * MB;
    g_assert_cmpint(setrlimit(RLIMIT_MEMLOCK, &lim), ==, 0);
    g_assert_cmpint(range_once(&t, KVM_TDX_SEPT_MAP, 0, 8 * MB,
                               KVM_TDX_SEPT_MAP_ALLOW_2M, &done), ==, 0);
    g_assert_cmpuint(stats(&t).leaves_4k, ==, 2048);
    g_assert_cmpint(setrlimit(RLIMIT_MEMLOCK, &old), ==, 0);
    g_unsetenv("TDXSIM_NO_CAP_IPC_LOCK");
    td_close(&t);
    assert_clean(&t);
}

struct late_map {
    Td *t;
    uint64_t gpa;
};

/* Userspace finishing a conversion to private while the vCPU runs. */
static gpointer late_map_thread(gpointer opaque)
{
    struct late_map *lm = opaque;

    g_usleep(30000);
    g_assert_cmpint(map(lm->t, lm->gpa, 4096), ==, 0);
    return NULL;
}

/*
 * The guest's view: an ACCEPT racing a conversion waits for the mapping; an
 * ACCEPT of a shared page exits (implicit conversion); the S-EPT agrees
 * with the attributes at re-entry; accepted pages are then accessed.
 */
static void test_guest(void)
{
    static const char text[] =
        "vcpu 0\n"
        "accept 0x100000 0x1000\n"
        "accept 0x300000 0x1000\n"
        "accept 0x500000 0x1000\n"
        "access private 0x100000\n"
        "access private 0x300000\n"
        "access private 0x500000\n"
        "shutdown\n";
    g_autofree char *path = g_strdup("/tmp/tdxsim-test-sept-XXXXXX");
    int fd = g_mkstemp(path);
    struct late_map lm;
    struct kvm_run *run;
    GThread *th;
    Td t;

    g_assert_cmpint(write(fd, text, sizeof(text) - 1), ==, sizeof(text) - 1);
    close(fd);
    g_setenv("TDXSIM_TRACE", path, TRUE);
    td_new(&t, 8 * MB, 1);
    g_unsetenv("TDXSIM_TRACE");
    unlink(path);
    run = mmap(NULL, 2 * 4096, PROT_READ | PROT_WRITE, MAP_SHARED, t.vcpu_fd,
               0);
    g_assert_true(run != MAP_FAILED);
    g_assert_cmpint(map(&t, 0, 8 * MB), ==, 0);
    g_assert_cmpint(tdx_op(t.vm_fd, KVM_TDX_FINALIZE_VM, 0, NULL, NULL), ==,
                    0);
    /* 0x100000 is mid-conversion to private: attribute set, not mapped. */
    g_assert_cmpint(set_attrs(&t, 0x100000, 4096, false), ==, 0);
    g_assert_cmpint(unmap(&t, 0x100000, 4096), ==, 0);
    g_assert_cmpint(set_attrs(&t, 0x100000, 4096, true), ==, 0);
    /* 0x500000 is shared: the private access exits. */
    g_assert_cmpint(set_attrs(&t, 0x500000, 4096, false), ==, 0);
    g_assert_cmpint(unmap(&t, 0x500000, 4096), ==, 0);

    lm = (struct late_map) { &t, 0x100000 };
    th = g_thread_new("late-map", late_map_thread, &lm);
    g_assert_cmpint(sim_ioctl(t.vcpu_fd, KVM_RUN, NULL), ==, -1);
    g_assert_cmpint(errno, ==, EFAULT);
    g_thread_join(th);
    g_assert_cmpuint(run->exit_reason, ==, KVM_EXIT_MEMORY_FAULT);
    g_assert_cmphex(run->memory_fault.gpa, ==, 0x500000);
    g_assert_cmphex(run->memory_fault.flags, ==, KVM_MEMORY_EXIT_FLAG_PRIVATE);
    g_assert_cmpuint(t.vm->sept.racing_faults, >, 0);
    /* QEMU's implicit conversion, then re-entry (checked) and shutdown. */
    g_assert_cmpint(set_attrs(&t, 0x500000, 4096, true), ==, 0);
    g_assert_cmpint(map(&t, 0x500000, 4096), ==, 0);
    g_assert_cmpint(sim_ioctl(t.vcpu_fd, KVM_RUN, NULL), ==, 0);
    g_assert_cmpuint(run->exit_reason, ==, KVM_EXIT_SYSTEM_EVENT);
    g_assert_cmpuint(t.vm->stats.agree_checks, >, 0);
    g_assert_cmpuint(t.vm->stats.expect_failures, ==, 0);
    g_assert_cmpuint(t.vm->stats.invariant_violations, ==, 0);
    munmap(run, 2 * 4096);
    g_assert_cmpint(tdx_op(t.vm_fd, KVM_TDX_SEPT_TEARDOWN, 0, NULL, NULL), ==,
                    0);
    td_close(&t);
    assert_clean(&t);
}

/*
 * A private page whose attribute says private but which userspace never
 * maps: the vCPU's ACCEPT faults for ever (KVM resumes it each time).  After
 * the model's wait (RACE_WAITS halts) it is a livelock: a violation and a
 * failed run (KVM_RUN -EIO), never "the guest moves on".
 */
static void test_race_livelock(void)
{
    static const char text[] = "vcpu 0\naccept 0x100000 0x1000\nshutdown\n";
    g_autofree char *path = g_strdup("/tmp/tdxsim-test-sept-XXXXXX");
    int fd = g_mkstemp(path);
    Td t;

    g_assert_cmpint(write(fd, text, sizeof(text) - 1), ==, sizeof(text) - 1);
    close(fd);
    g_setenv("TDXSIM_TRACE", path, TRUE);
    td_new(&t, 4 * MB, 1);
    g_unsetenv("TDXSIM_TRACE");
    unlink(path);
    g_assert_cmpint(map(&t, 0, 4 * MB), ==, 0);
    g_assert_cmpint(tdx_op(t.vm_fd, KVM_TDX_FINALIZE_VM, 0, NULL, NULL), ==,
                    0);
    g_assert_cmpint(set_attrs(&t, 0x100000, 4096, false), ==, 0);
    g_assert_cmpint(unmap(&t, 0x100000, 4096), ==, 0);
    g_assert_cmpint(set_attrs(&t, 0x100000, 4096, true), ==, 0);
    g_assert_cmpint(sim_ioctl(t.vcpu_fd, KVM_RUN, NULL), ==, -1);
    g_assert_cmpint(errno, ==, EIO);
    g_assert_cmpuint(t.vm->stats.livelocks, ==, 1);
    g_assert_cmpuint(t.vm->stats.run_failures, ==, 1);
    g_assert_cmpuint(t.vm->stats.trace_ops, ==, 0);
    g_assert_cmpuint(t.vm->sept.racing_faults, >, 100);
    sim_close(t.vcpu_fd);
    sim_close(t.vm_fd);
    sim_close(t.gmem_fd);
}

/* Deleting a memslot while mapped: its leaves and pins go with it. */
static void test_memslot_delete(void)
{
    struct kvm_userspace_memory_region2 del = { .slot = 0 };
    Td t;

    td_new(&t, 8 * MB, 1);
    g_assert_cmpint(map(&t, 0, 8 * MB), ==, 0);
    g_assert_cmpint(tdx_op(t.vm_fd, KVM_TDX_FINALIZE_VM, 0, NULL, NULL), ==,
                    0);
    g_assert_cmpint(sim_ioctl(t.vm_fd, KVM_SET_USER_MEMORY_REGION2, &del), ==,
                    0);
    g_assert_cmpuint(stats(&t).leaves_4k, ==, 0);
    g_assert_cmpuint(stats(&t).pinned_pages, ==, 0);
    g_assert_cmpuint(t.vm->sept.pinned_pages, ==, 0);
    g_assert_cmpuint(tdx_td_leaves(t.vm->td, TDX_LEVEL_4K), ==, 0);
    g_assert_cmpint(map(&t, 0, 4096), ==, -ENOENT);
    g_assert_cmpint(sim_gmem_fallocate(t.gmem_fd, FALLOC_FL_PUNCH_HOLE |
                                       FALLOC_FL_KEEP_SIZE, 0, 4096), ==, 0);
    g_assert_cmpuint(t.vm->stats.invariant_violations, ==, 0);
    td_close(&t);
    assert_clean(&t);
}

/* ---- backing: guest_memfd folios ---- */

static uint64_t pfn_at(Td *t, uint64_t gpa)
{
    tdx_pfn_t pfn;

    g_assert_true(sim_private_pfn(t->vm, gpa, &pfn, NULL));
    return pfn;
}

/* The block at gpa2m is 4 KiB folios: pfns neither aligned nor contiguous. */
static void assert_scattered(Td *t, uint64_t gpa2m)
{
    g_assert_cmpuint(pfn_at(t, gpa2m) & 511, !=, 0);
    g_assert_cmpuint(pfn_at(t, gpa2m + 4096), !=, pfn_at(t, gpa2m) + 1);
}

/*
 * guest_memfd is 4 KiB folios in both modes (Linux 7.2
 * kvm_gmem_get_folio()); MAP with ALLOW_2M maps 4K leaves.
 */
static void test_backing_4k(void)
{
    struct kvm_pre_fault_memory pf = { .gpa = 0, .size = 4 * MB };
    Td t;

    td_new(&t, 8 * MB, KVM_TDX_SEPT_LEAF_4K);
    g_assert_cmpint(range_once(&t, KVM_TDX_SEPT_MAP, 0, 8 * MB,
                               KVM_TDX_SEPT_MAP_ALLOW_2M, NULL), ==, 0);
    g_assert_cmpuint(stats(&t).leaves_2m, ==, 0);
    g_assert_cmpuint(stats(&t).leaves_4k, ==, 2048);
    g_assert_cmpuint(mod_counters()->aug_2m, ==, 0);
    g_assert_cmpuint(t.vm->backing.blocks_4k, ==, 4);
    for (uint64_t b = 0; b < 8 * MB; b += SZ_2M) {
        assert_scattered(&t, b);
    }
    g_assert_cmpint(tdx_op(t.vm_fd, KVM_TDX_FINALIZE_VM, 0, NULL, NULL), ==,
                    0);
    td_close(&t);
    assert_clean(&t);

    /* Mirror mode (the side-table mode never enabled). */
    td_new(&t, 8 * MB, 0);
    g_assert_cmpint(tdx_op(t.vm_fd, KVM_TDX_FINALIZE_VM, 0, NULL, NULL), ==,
                    0);
    g_assert_cmpint(sim_ioctl(t.vcpu_fd, KVM_PRE_FAULT_MEMORY, &pf), ==, 0);
    g_assert_cmpuint(tdx_td_leaves(t.vm->td, TDX_LEVEL_4K), ==, 1024);
    g_assert_cmpuint(t.vm->backing.blocks_4k, ==, 2);
    assert_scattered(&t, 0);
    assert_scattered(&t, SZ_2M);
    td_close(&t);
    assert_clean(&t);
}

int main(int argc, char **argv)
{
    sys_fd = sim_test_start();

    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/kvm-sept/enable", test_enable);
    g_test_add_func("/kvm-sept/build", test_build);
    g_test_add_func("/kvm-sept/unmap", test_unmap);
    g_test_add_func("/kvm-sept/busy-eintr", test_busy);
    g_test_add_func("/kvm-sept/teardown", test_teardown);
    g_test_add_func("/kvm-sept/destroy-only-enomem", test_destroy_only);
    g_test_add_func("/kvm-sept/memlock", test_memlock);
    g_test_add_func("/kvm-sept/guest", test_guest);
    g_test_add_func("/kvm-sept/race-livelock", test_race_livelock);
    g_test_add_func("/kvm-sept/memslot-delete", test_memslot_delete);
    g_test_add_func("/kvm-sept/backing-4k", test_backing_4k);
    return g_test_run();
}
