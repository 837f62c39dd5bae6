// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * tdxsim unit test: memslots and guest_memfd bindings as Linux 7.2 refuses
 * and accepts them (kvm-mem.c, kvm-memslot.c, kvm-caps.c), both ways: each
 * case fails if the model accepts what 7.2 refuses or refuses what it
 * accepts, or answers with another errno.
 *
 * Sources (linux-source-7.2): virt/kvm/kvm_main.c
 * kvm_vm_ioctl_set_memory_region(), kvm_set_memory_region(),
 * check_memory_region_flags(), kvm_vm_ioctl_check_extension_generic();
 * virt/kvm/guest_memfd.c kvm_gmem_bind(), kvm_gmem_release(),
 * kvm_gmem_get_pfn(), kvm_gmem_populate(); include/linux/kvm_host.h
 * kvm_gmem_get_supported_flags(); arch/x86/kvm/x86.c
 * kvm_arch_prepare_memory_region(), kvm_arch_supports_gmem_init_shared();
 * arch/x86/kvm/mmu.h kvm_mmu_max_gfn(), kvm_is_gfn_alias();
 * arch/x86/kvm/mmu/mmu.c kvm_mmu_faultin_pfn_gmem().
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <glib.h>

#include "kvm.h"
#include "tests/sim-test.h"
#include "tdxsim.h"

#define MB (1ULL << 20)
#define GB (1ULL << 30)
#define SHARED_BIT (1ULL << 47)     /* a 4-level TD (GPAW 48) */

static int sys_fd;

static struct sim_vm *the_vm(void)
{
    return sim.vms->pdata[sim.vms->len - 1];
}

static int tdx_op(int fd, uint32_t id, uint32_t flags, void *data)
{
    struct kvm_tdx_cmd cmd = { .id = id, .flags = flags,
                               .data = (uintptr_t)data };
    int r = sim_ioctl(fd, KVM_MEMORY_ENCRYPT_OP, &cmd);

    return r < 0 ? -errno : r;
}

static int create_vm(unsigned long type)
{
    int fd = sim_ioctl(sys_fd, KVM_CREATE_VM, (void *)type);

    g_assert_cmpint(fd, >=, 0);
    return fd;
}

/* KVM_TDX_INIT_VM with GPAW 48: the shared bit is GPA bit 47. */
static void init_td(int vm_fd)
{
    g_assert_cmpint(sim_test_init_td(vm_fd, 0x3, NULL), ==, 0);
}

static int gmem_new(int vm_fd, uint64_t size)
{
    struct kvm_create_guest_memfd gm = { .size = size };
    int fd = sim_ioctl(vm_fd, KVM_CREATE_GUEST_MEMFD, &gm);

    g_assert_cmpint(fd, >=, 0);
    return fd;
}

/* KVM_SET_USER_MEMORY_REGION2; 0 or -errno. */
static int region(int vm_fd, uint32_t slot, uint32_t flags, uint64_t gpa,
                  uint64_t size, uint64_t uaddr, int gmem, uint64_t offset)
{
    struct kvm_userspace_memory_region2 r = {
        .slot = slot, .flags = flags, .guest_phys_addr = gpa,
        .memory_size = size, .userspace_addr = uaddr,
        .guest_memfd = (uint32_t)gmem, .guest_memfd_offset = offset,
    };

    return sim_ioctl(vm_fd, KVM_SET_USER_MEMORY_REGION2, &r) < 0 ? -errno : 0;
}

static int gmem_slot(int vm_fd, uint32_t slot, uint64_t gpa, uint64_t size,
                     int gmem, uint64_t offset)
{
    return region(vm_fd, slot, KVM_MEM_GUEST_MEMFD, gpa, size, 0, gmem,
                  offset);
}

static int shared_slot(int vm_fd, uint32_t slot, uint32_t flags, uint64_t gpa,
                       uint64_t size)
{
    return region(vm_fd, slot, flags, gpa, size, 0x10000000, 0, 0);
}

static int delete_slot(int vm_fd, uint32_t slot)
{
    return region(vm_fd, slot, 0, 0, 0, 0, 0, 0);
}

/* The memslot (its id) the model finds at gpa; -1 for none. */
static int slot_at(struct sim_vm *vm, uint64_t gpa)
{
    struct sim_slot *s = sim_find_slot(vm, gpa);

    return s ? (int)s->slot : -1;
}

/*
 * kvm_gmem_bind(): -EEXIST when any part of the range of the file is bound
 * to a memslot already (the file's bindings xarray); deleting the memslot
 * unbinds its range (kvm_gmem_unbind()).  Its other refusals: no open file
 * at the fd -EBADF (fget()), not a guest_memfd or another VM's -EINVAL,
 * offset + size beyond the file -EINVAL.
 */
static void test_gmem_bind(void)
{
    int vm_fd = create_vm(KVM_X86_TDX_VM);
    struct sim_vm *vm = the_vm();
    int other_vm = create_vm(KVM_X86_TDX_VM);
    int g = gmem_new(vm_fd, 16 * MB);
    int other_g = gmem_new(other_vm, 16 * MB);
    int gone = gmem_new(vm_fd, 16 * MB);

    g_assert_cmpint(gmem_slot(vm_fd, 0, 0, 8 * MB, g, 0), ==, 0);
    /* Any part of [0, 8M) of the file, wherever the GPA. */
    g_assert_cmpint(gmem_slot(vm_fd, 1, 32 * MB, 8 * MB, g, 4 * MB), ==,
                    -EEXIST);
    g_assert_cmpint(gmem_slot(vm_fd, 1, 32 * MB, 4096, g, 8 * MB - 4096), ==,
                    -EEXIST);
    g_assert_cmpint(gmem_slot(vm_fd, 1, 32 * MB, 16 * MB, g, 0), ==, -EEXIST);
    /* The rest of the file is free. */
    g_assert_cmpint(gmem_slot(vm_fd, 1, 32 * MB, 8 * MB, g, 8 * MB), ==, 0);
    g_assert_cmpint(gmem_slot(vm_fd, 2, 64 * MB, 4096, g, 12 * MB), ==,
                    -EEXIST);
    /* Deleting a memslot unbinds its range. */
    g_assert_cmpint(delete_slot(vm_fd, 0), ==, 0);
    g_assert_cmpint(gmem_slot(vm_fd, 2, 64 * MB, 8 * MB, g, 0), ==, 0);
    g_assert_cmpint(slot_at(vm, 64 * MB), ==, 2);
    g_assert_cmpint(slot_at(vm, 0), ==, -1);

    /* The other refusals of kvm_gmem_bind(). */
    g_assert_cmpint(gmem_slot(vm_fd, 3, 96 * MB, 4096, other_g, 0), ==,
                    -EINVAL);
    g_assert_cmpint(gmem_slot(vm_fd, 3, 96 * MB, 4096, vm_fd, 0), ==,
                    -EINVAL);
    g_assert_cmpint(gmem_slot(vm_fd, 3, 96 * MB, 8192, gone,
                              16 * MB - 4096), ==, -EINVAL);
    /* A closed fd (the test is not preloaded: close the memfd too). */
    sim_close(gone);
    close(gone);
    g_assert_cmpint(gmem_slot(vm_fd, 3, 96 * MB, 4096, gone, 0), ==, -EBADF);
    g_assert_cmpint(gmem_slot(vm_fd, 3, 96 * MB, 4096, -1, 0), ==, -EBADF);
    /* Nothing was created by the refusals. */
    g_assert_cmpint(slot_at(vm, 96 * MB), ==, -1);

    sim_close(g);
    sim_close(vm_fd);
    sim_close(other_g);
    sim_close(other_vm);
}

/*
 * kvm_arch_prepare_memory_region() for a created or moved memslot: its last
 * gfn beyond kvm_mmu_max_gfn() (host MAXPHYADDR) or aliasing
 * (kvm_is_gfn_alias(): a bit of kvm_gfn_direct_bits(), the TD's shared
 * bit, set by KVM_TDX_INIT_VM) is -EINVAL.  Only the last gfn is looked at.
 */
static void test_gpa_limits(void)
{
    unsigned phys = sim_host_phys_bits();
    uint64_t end = 1ULL << phys;        /* the first GPA beyond max gfn */
    int vm_fd, g;

    g_assert_cmpuint(phys, >=, 36);
    /* Any VM: the host's MAXPHYADDR. */
    vm_fd = create_vm(KVM_X86_DEFAULT_VM);
    g_assert_cmpint(shared_slot(vm_fd, 1, 0, end - 4096, 8192), ==,
                    -EINVAL);
    g_assert_cmpint(shared_slot(vm_fd, 1, 0, end, 4096), ==, -EINVAL);
    g_assert_cmpint(shared_slot(vm_fd, 0, 0, end - 4096, 4096), ==, 0);
    g_assert_cmpint(shared_slot(vm_fd, 1, 0, 0, 4096), ==, 0);
    /* A move is checked too, and the slot stays where it was. */
    g_assert_cmpint(shared_slot(vm_fd, 1, 0, end, 4096), ==, -EINVAL);
    g_assert_cmpint(slot_at(the_vm(), 0), ==, 1);
    sim_close(vm_fd);

    if (phys < 48) {
        g_test_message("host MAXPHYADDR %u: no shared-bit cases", phys);
        return;
    }
    /* A TD before INIT_VM: no shared bit yet (gfn_direct_bits 0). */
    vm_fd = create_vm(KVM_X86_TDX_VM);
    g_assert_cmpint(shared_slot(vm_fd, 0, 0, SHARED_BIT - 4096, 8192), ==, 0);
    g_assert_cmpint(delete_slot(vm_fd, 0), ==, 0);
    init_td(vm_fd);
    g = gmem_new(vm_fd, 16 * MB);
    /* Crossing the shared bit, or beyond it. */
    g_assert_cmpint(shared_slot(vm_fd, 2, 0, SHARED_BIT - 4096, 8192), ==,
                    -EINVAL);
    g_assert_cmpint(shared_slot(vm_fd, 2, 0, SHARED_BIT, 4096), ==, -EINVAL);
    g_assert_cmpint(gmem_slot(vm_fd, 2, SHARED_BIT - 1 * MB, 2 * MB, g,
                              2 * MB), ==, -EINVAL);
    g_assert_cmpint(gmem_slot(vm_fd, 2, SHARED_BIT, 4096, g, 2 * MB), ==,
                    -EINVAL);
    /* The refused binds left nothing bound: the same range binds now. */
    g_assert_cmpint(gmem_slot(vm_fd, 2, 1 * GB, 2 * MB, g, 2 * MB), ==, 0);
    /* Up to the shared bit: fine. */
    g_assert_cmpint(shared_slot(vm_fd, 0, 0, SHARED_BIT - 8192, 8192), ==, 0);
    g_assert_cmpint(gmem_slot(vm_fd, 1, SHARED_BIT - 2 * MB, 1 * MB, g, 0),
                    ==, 0);
    /* kvm_gmem_bind() (-EEXIST) comes before the arch check (-EINVAL). */
    g_assert_cmpint(gmem_slot(vm_fd, 3, SHARED_BIT, 4096, g, 0), ==,
                    -EEXIST);
    /* A move into the shared half: -EINVAL, the slot stays. */
    g_assert_cmpint(shared_slot(vm_fd, 0, 0, SHARED_BIT, 8192), ==, -EINVAL);
    g_assert_cmpint(slot_at(the_vm(), SHARED_BIT - 8192), ==, 0);
    if (phys > 48) {
        /* Above the shared bit's range again: the last gfn has no bit 47. */
        g_assert_cmpint(shared_slot(vm_fd, 4, 0, 1ULL << 48, 4096), ==, 0);
    }
    sim_close(vm_fd);
    sim_close(g);
}

/*
 * A mirror-mode (or side-table) TD of 16 MiB at GPA 0, all private,
 * playing text; finalized if asked.
 */
struct mini_td {
    int vm_fd, vcpu_fd, gmem;
    struct kvm_run *run;
    struct sim_vm *vm;
};

static void mini_td(struct mini_td *t, const char *text, bool side_table,
                    bool finalize)
{
    g_autofree char *path = g_strdup("/tmp/tdxsim-test-memslot-XXXXXX");
    int fd = g_mkstemp(path);
    struct kvm_enable_cap hc = { .cap = KVM_CAP_EXIT_HYPERCALL,
                                 .args[0] = 1ULL << 12 };
    struct kvm_enable_cap split = { .cap = KVM_CAP_SPLIT_IRQCHIP,
                                    .args[0] = 24 };
    struct kvm_enable_cap sept = { .cap = KVM_CAP_TDX_SIDE_SEPT,
                                   .args[0] = KVM_TDX_SEPT_LEAF_4K };
    struct kvm_memory_attributes a = {
        .size = 16 * MB, .attributes = KVM_MEMORY_ATTRIBUTE_PRIVATE,
    };

    g_assert_cmpint(write(fd, text, strlen(text)), ==, strlen(text));
    close(fd);
    g_setenv("TDXSIM_TRACE", path, TRUE);
    t->vm_fd = create_vm(KVM_X86_TDX_VM);
    t->vm = the_vm();
    g_unsetenv("TDXSIM_TRACE");
    unlink(path);
    g_assert_cmpint(sim_ioctl(t->vm_fd, KVM_ENABLE_CAP, &hc), ==, 0);
    g_assert_cmpint(sim_ioctl(t->vm_fd, KVM_ENABLE_CAP, &split), ==, 0);
    if (side_table) {
        g_assert_cmpint(sim_ioctl(t->vm_fd, KVM_ENABLE_CAP, &sept), ==, 0);
    }
    init_td(t->vm_fd);
    t->gmem = gmem_new(t->vm_fd, 16 * MB);
    g_assert_cmpint(gmem_slot(t->vm_fd, 0, 0, 16 * MB, t->gmem, 0), ==, 0);
    g_assert_cmpint(sim_ioctl(t->vm_fd, KVM_SET_MEMORY_ATTRIBUTES, &a), ==, 0);
    t->vcpu_fd = sim_ioctl(t->vm_fd, KVM_CREATE_VCPU, (void *)0L);
    g_assert_cmpint(t->vcpu_fd, >=, 0);
    t->run = mmap(NULL, 2 * 4096, PROT_READ | PROT_WRITE, MAP_SHARED,
                  t->vcpu_fd, 0);
    g_assert_true(t->run != MAP_FAILED);
    g_assert_cmpint(set_td_cpuid(t->vcpu_fd), ==, 0);
    g_assert_cmpint(tdx_op(t->vcpu_fd, KVM_TDX_INIT_VCPU, 0, (void *)1L), ==,
                    0);
    if (finalize) {
        g_assert_cmpint(tdx_op(t->vm_fd, KVM_TDX_FINALIZE_VM, 0, NULL), ==,
                        0);
    }
}

/* The guest_memfd was closed already: the vCPU and the VM fd remain. */
static void mini_td_close(struct mini_td *t)
{
    munmap(t->run, 2 * 4096);
    sim_close(t->vcpu_fd);
    sim_close(t->vm_fd);
    g_assert_true(t->vm->destroyed);
    g_assert_cmpuint(t->vm->leaks, ==, 0);
    g_assert_cmpuint(tdxmod_pages_owned(sim.mod), ==, 0);
}

static uint64_t page_adds(void)
{
    return tdxmod_counters(sim.mod)->seamcalls[TDH_MEM_PAGE_ADD];
}

/*
 * A guest_memfd closed (released: kvm_gmem_release() cleared the file of
 * every memslot bound to it) while its memslot lives on.  A private fault
 * there gets kvm_gmem_get_pfn()'s -EFAULT: KVM_RUN fails -EFAULT with a
 * memory-fault exit (kvm_mmu_faultin_pfn_gmem() ->
 * kvm_mmu_prepare_memory_fault_exit(): the page, PRIVATE); a pre-fault
 * fails -EFAULT; nothing is mapped again.
 */
static void test_released_gmem_fault(void)
{
    struct kvm_pre_fault_memory pf = { .gpa = 0x200000, .size = 4096 };
    uint64_t augs;
    struct mini_td t;

    mini_td(&t, "vcpu 0\naccept 0x100000 4K\nshutdown\n", false, true);
    g_assert_cmpint(sim_ioctl(t.vcpu_fd, KVM_PRE_FAULT_MEMORY, &pf), ==, 0);
    g_assert_cmpuint(tdx_td_leaves(t.vm->td, TDX_LEVEL_4K), ==, 1);
    /* The release zaps what the file backed; the memslot stays. */
    sim_close(t.gmem);
    g_assert_false(t.vm->destroyed);
    g_assert_cmpuint(tdx_td_leaves(t.vm->td, TDX_LEVEL_4K), ==, 0);
    g_assert_cmpint(slot_at(t.vm, 0x100000), ==, 0);
    augs = tdxmod_counters(sim.mod)->seamcalls[TDH_MEM_PAGE_AUG];

    pf = (struct kvm_pre_fault_memory) { .gpa = 0x200000, .size = 4096 };
    g_assert_cmpint(sim_ioctl(t.vcpu_fd, KVM_PRE_FAULT_MEMORY, &pf), ==, -1);
    g_assert_cmpint(errno, ==, EFAULT);
    g_assert_cmpuint(pf.size, ==, 4096);

    /* The guest's ACCEPT of 0x100000 faults: a memory-fault exit. */
    g_assert_cmpint(sim_ioctl(t.vcpu_fd, KVM_RUN, NULL), ==, -1);
    g_assert_cmpint(errno, ==, EFAULT);
    g_assert_cmpuint(t.run->exit_reason, ==, KVM_EXIT_MEMORY_FAULT);
    g_assert_cmphex(t.run->memory_fault.gpa, ==, 0x100000);
    g_assert_cmphex(t.run->memory_fault.size, ==, 4096);
    g_assert_cmphex(t.run->memory_fault.flags, ==,
                    KVM_MEMORY_EXIT_FLAG_PRIVATE);
    g_assert_cmpuint(tdx_td_leaves(t.vm->td, TDX_LEVEL_4K), ==, 0);
    g_assert_cmpuint(tdxmod_counters(sim.mod)->seamcalls[TDH_MEM_PAGE_AUG],
                     ==, augs);
    g_assert_cmpuint(t.vm->stats.invariant_violations, ==, 0);
    mini_td_close(&t);
}

/*
 * The same in side-table mode: a private fault on a memslot whose
 * guest_memfd was released is no conversion in flight (nothing can map
 * there any more), so tdx_side_sept_handle_private_fault() answers as
 * kvm_gmem_get_pfn() would, -EFAULT with a memory-fault exit, rather
 * than sending the vCPU back to retry for ever.  The memslot keeps
 * KVM_MEM_GUEST_MEMFD (7.2's kvm_slot_has_gmem() reads the flag).
 */
static void test_released_gmem_fault_side_table(void)
{
    struct kvm_memory_attributes a = { .address = 0x100000, .size = 4096 };
    struct kvm_tdx_sept_range r = { .gpa = 0, .nr_pages = 0x100 };
    struct kvm_tdx_sept_range r2 = {
        .gpa = 0x101000, .nr_pages = 16 * MB / 4096 - 0x101,
    };
    struct mini_td t;

    mini_td(&t, "vcpu 0\naccept 0x100000 4K\nshutdown\n", true, false);
    /* Everything private is mapped but 0x100000, shared at finalize. */
    g_assert_cmpint(sim_ioctl(t.vm_fd, KVM_SET_MEMORY_ATTRIBUTES, &a), ==, 0);
    while (r.done < r.nr_pages) {
        g_assert_cmpint(tdx_op(t.vm_fd, KVM_TDX_SEPT_MAP, 0, &r), ==, 0);
    }
    while (r2.done < r2.nr_pages) {
        g_assert_cmpint(tdx_op(t.vm_fd, KVM_TDX_SEPT_MAP, 0, &r2), ==, 0);
    }
    g_assert_cmpint(tdx_op(t.vm_fd, KVM_TDX_FINALIZE_VM, 0, NULL), ==, 0);
    /* The first step of a conversion to private: attribute, then MAP... */
    a.attributes = KVM_MEMORY_ATTRIBUTE_PRIVATE;
    g_assert_cmpint(sim_ioctl(t.vm_fd, KVM_SET_MEMORY_ATTRIBUTES, &a), ==, 0);
    /* ...which can never come: mapped pages stay mapped and pinned. */
    sim_close(t.gmem);
    g_assert_cmpuint(t.vm->sept.pinned_pages, ==, 16 * MB / 4096 - 1);
    g_assert_false(t.vm->destroyed);
    g_assert_cmpint(sim_ioctl(t.vcpu_fd, KVM_RUN, NULL), ==, -1);
    g_assert_cmpint(errno, ==, EFAULT);
    g_assert_cmpuint(t.run->exit_reason, ==, KVM_EXIT_MEMORY_FAULT);
    g_assert_cmphex(t.run->memory_fault.gpa, ==, 0x100000);
    g_assert_cmphex(t.run->memory_fault.flags, ==,
                    KVM_MEMORY_EXIT_FLAG_PRIVATE);
    g_assert_cmpuint(t.vm->stats.invariant_violations, ==, 0);
    /* Userspace undoes the conversion it could not finish. */
    a.attributes = 0;
    g_assert_cmpint(sim_ioctl(t.vm_fd, KVM_SET_MEMORY_ATTRIBUTES, &a), ==, 0);
    mini_td_close(&t);
}

/*
 * KVM_TDX_INIT_MEM_REGION into a released guest_memfd: kvm_gmem_populate()
 * finds no file (kvm_gmem_get_file()) and returns -EFAULT before any page;
 * in side-table mode also, and KVM_TDX_SEPT_MAP finds no file behind the
 * memslot (the series' tdx_side_sept_map(): get_file_active() -> -ENOENT).
 */
static void released_gmem_build(bool side_table)
{
    void *src = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    struct kvm_tdx_init_mem_region region = {
        .source_addr = (uintptr_t)src, .gpa = 0x800000, .nr_pages = 1,
    };
    uint64_t adds = page_adds();
    uint8_t back[4096];
    struct mini_td t;

    g_assert_true(src != MAP_FAILED);
    memset(src, 0xab, 4096);
    mini_td(&t, "vcpu 0\nshutdown\n", side_table, false);
    sim_close(t.gmem);
    g_assert_cmpint(tdx_op(t.vcpu_fd, KVM_TDX_INIT_MEM_REGION, 0, &region),
                    ==, -EFAULT);
    g_assert_cmpuint(region.nr_pages, ==, 1);
    g_assert_cmpuint(page_adds(), ==, adds);
    /*
     * Nothing was copied (the test is not preloaded: the backing memfd is
     * still open here; in QEMU its number may be another file's by now).
     */
    g_assert_cmpint(pread(t.gmem, back, sizeof(back), 0x800000), ==,
                    sizeof(back));
    for (unsigned i = 0; i < sizeof(back); i++) {
        g_assert_cmpuint(back[i], ==, 0);
    }
    close(t.gmem);
    if (side_table) {
        struct kvm_tdx_sept_range r = { .gpa = 0, .nr_pages = 1 };

        g_assert_cmpint(tdx_op(t.vm_fd, KVM_TDX_SEPT_MAP, 0, &r), ==,
                        -ENOENT);
        g_assert_cmpuint(r.done, ==, 0);
        g_assert_cmpuint(t.vm->sept.pinned_pages, ==, 0);
    }
    g_assert_cmpuint(tdx_td_leaves(t.vm->td, TDX_LEVEL_4K), ==, 0);
    munmap(src, 4096);
    mini_td_close(&t);
}

static void test_released_gmem_build(void)
{
    released_gmem_build(false);
    released_gmem_build(true);
}

/*
 * KVM_CAP_GUEST_MEMFD_FLAGS: kvm_gmem_get_supported_flags() of the VM, or
 * of none for the system fd: MMAP always, INIT_SHARED unless the VM has
 * private memory (a TD).  KVM_CREATE_GUEST_MEMFD takes exactly those.
 */
static void test_gmem_flags_cap(void)
{
    const uint64_t both = GUEST_MEMFD_FLAG_MMAP | GUEST_MEMFD_FLAG_INIT_SHARED;
    int vm_fd = create_vm(KVM_X86_DEFAULT_VM);
    int td_fd = create_vm(KVM_X86_TDX_VM);
    struct kvm_create_guest_memfd gm = { .size = 2 * MB, .flags = both };
    int g;

    g_assert_cmpint(sim_ioctl(sys_fd, KVM_CHECK_EXTENSION,
                              (void *)(long)KVM_CAP_GUEST_MEMFD_FLAGS), ==,
                    both);
    g_assert_cmpint(sim_ioctl(vm_fd, KVM_CHECK_EXTENSION,
                              (void *)(long)KVM_CAP_GUEST_MEMFD_FLAGS), ==,
                    both);
    g_assert_cmpint(sim_ioctl(td_fd, KVM_CHECK_EXTENSION,
                              (void *)(long)KVM_CAP_GUEST_MEMFD_FLAGS), ==,
                    GUEST_MEMFD_FLAG_MMAP);

    g = sim_ioctl(vm_fd, KVM_CREATE_GUEST_MEMFD, &gm);
    g_assert_cmpint(g, >=, 0);
    sim_close(g);
    g_assert_cmpint(sim_ioctl(td_fd, KVM_CREATE_GUEST_MEMFD, &gm), ==, -1);
    g_assert_cmpint(errno, ==, EINVAL);
    gm.flags = GUEST_MEMFD_FLAG_MMAP;
    g = sim_ioctl(td_fd, KVM_CREATE_GUEST_MEMFD, &gm);
    g_assert_cmpint(g, >=, 0);
    sim_close(g);
    sim_close(vm_fd);
    sim_close(td_fd);
}

/*
 * check_memory_region_flags(): dirty logging is refused on a guest_memfd
 * memslot only, READONLY on a TD (no kvm_arch_has_readonly_mem()) and with
 * GUEST_MEMFD.  kvm_set_memory_region(): a memslot that is not guest_memfd
 * may be moved (KVM_MR_MOVE) with the same size and userspace address, on
 * a TD too; it must not overlap another (-EEXIST).
 */
static void test_td_shared_slot(void)
{
    int vm_fd = create_vm(KVM_X86_TDX_VM);
    int g, g2, dflt;
    struct sim_vm *vm = the_vm();

    init_td(vm_fd);
    g = gmem_new(vm_fd, 16 * MB);
    g2 = gmem_new(vm_fd, 2 * MB);
    g_assert_cmpint(gmem_slot(vm_fd, 0, 0, 16 * MB, g, 0), ==, 0);
    g_assert_cmpint(region(vm_fd, 5, KVM_MEM_GUEST_MEMFD |
                           KVM_MEM_LOG_DIRTY_PAGES, 64 * MB, 4096, 0, g2,
                           0), ==, -EINVAL);
    g_assert_cmpint(shared_slot(vm_fd, 5, KVM_MEM_READONLY, 64 * MB, 4096),
                    ==, -EINVAL);
    /* Dirty logging of shared memory: create, clear, set (FLAGS_ONLY). */
    g_assert_cmpint(shared_slot(vm_fd, 1, KVM_MEM_LOG_DIRTY_PAGES, 1 * GB,
                                2 * MB), ==, 0);
    g_assert_cmpint(shared_slot(vm_fd, 1, 0, 1 * GB, 2 * MB), ==, 0);
    g_assert_cmpint(shared_slot(vm_fd, 1, KVM_MEM_LOG_DIRTY_PAGES, 1 * GB,
                                2 * MB), ==, 0);
    g_assert_cmpint(shared_slot(vm_fd, 1, KVM_MEM_READONLY, 1 * GB, 2 * MB),
                    ==, -EINVAL);
    /* Move it. */
    g_assert_cmpint(shared_slot(vm_fd, 1, KVM_MEM_LOG_DIRTY_PAGES, 2 * GB,
                                2 * MB), ==, 0);
    g_assert_cmpint(slot_at(vm, 2 * GB), ==, 1);
    g_assert_cmpint(slot_at(vm, 1 * GB), ==, -1);
    /* Over its own old range: no overlap with itself. */
    g_assert_cmpint(shared_slot(vm_fd, 1, KVM_MEM_LOG_DIRTY_PAGES,
                                2 * GB + 1 * MB, 2 * MB), ==, 0);
    g_assert_cmpint(slot_at(vm, 2 * GB), ==, -1);
    g_assert_cmpint(slot_at(vm, 2 * GB + 3 * MB - 4096), ==, 1);
    /* Onto another memslot; with another size or userspace address. */
    g_assert_cmpint(shared_slot(vm_fd, 1, 0, 14 * MB, 2 * MB), ==, -EEXIST);
    g_assert_cmpint(shared_slot(vm_fd, 1, 0, 3 * GB, 4 * MB), ==, -EINVAL);
    g_assert_cmpint(region(vm_fd, 1, 0, 3 * GB, 2 * MB, 0x20000000, 0, 0), ==,
                    -EINVAL);
    g_assert_cmpint(slot_at(vm, 2 * GB + 1 * MB), ==, 1);
    /* A guest_memfd memslot never moves, with the flag or without. */
    g_assert_cmpint(gmem_slot(vm_fd, 0, 32 * MB, 16 * MB, g, 0), ==, -EINVAL);
    g_assert_cmpint(region(vm_fd, 0, 0, 32 * MB, 16 * MB, 0, 0, 0), ==,
                    -EINVAL);
    g_assert_cmpint(slot_at(vm, 0), ==, 0);
    sim_close(vm_fd);
    sim_close(g);
    sim_close(g2);

    /* A default VM: READONLY, but neither it nor dirty logging with gmem. */
    dflt = create_vm(KVM_X86_DEFAULT_VM);
    g = gmem_new(dflt, 2 * MB);
    g_assert_cmpint(shared_slot(dflt, 0, KVM_MEM_READONLY |
                                KVM_MEM_LOG_DIRTY_PAGES, 0, 2 * MB), ==, 0);
    g_assert_cmpint(region(dflt, 1, KVM_MEM_GUEST_MEMFD | KVM_MEM_READONLY,
                           4 * MB, 2 * MB, 0, g, 0), ==, -EINVAL);
    g_assert_cmpint(region(dflt, 1, KVM_MEM_GUEST_MEMFD |
                           KVM_MEM_LOG_DIRTY_PAGES, 4 * MB, 2 * MB, 0, g, 0),
                    ==, -EINVAL);
    g_assert_cmpint(gmem_slot(dflt, 1, 4 * MB, 2 * MB, g, 0), ==, 0);
    sim_close(dflt);
    sim_close(g);
}

/*
 * kvm_vm_ioctl_set_memory_region() / kvm_set_memory_region()'s other
 * checks: slot ids below KVM_USER_MEM_SLOTS (32764), address spaces
 * (kvm_arch_nr_memslot_as_ids(): 2 without private memory, 1 for a TD;
 * overlaps only within one), page-aligned userspace address kept by a
 * modification, at most KVM_MEM_MAX_NR_PAGES pages.
 */
static void test_region_checks(void)
{
    int vm_fd = create_vm(KVM_X86_DEFAULT_VM);
    struct sim_vm *vm = the_vm();
    int td_fd = create_vm(KVM_X86_TDX_VM);

    g_assert_cmpint(shared_slot(vm_fd, 1000, 0, 0, 2 * MB), ==, 0);
    g_assert_cmpint(shared_slot(vm_fd, 32763, 0, 4 * MB, 2 * MB), ==, 0);
    g_assert_cmpint(shared_slot(vm_fd, 32764, 0, 8 * MB, 2 * MB), ==,
                    -EINVAL);
    /* SMM's address space: the same GPA is no overlap there. */
    g_assert_cmpint(shared_slot(vm_fd, 1 << 16 | 3, 0, 0, 2 * MB), ==, 0);
    g_assert_cmpint(shared_slot(vm_fd, 1 << 16 | 4, 0, 1 * MB, 2 * MB), ==,
                    -EEXIST);
    g_assert_cmpint(shared_slot(vm_fd, 2 << 16 | 4, 0, 8 * MB, 2 * MB), ==,
                    -EINVAL);
    g_assert_cmpint(shared_slot(td_fd, 1 << 16 | 4, 0, 8 * MB, 2 * MB), ==,
                    -EINVAL);
    /* The model's lookups are address space 0's. */
    g_assert_cmpint(slot_at(vm, 0), ==, 1000);
    g_assert_cmpint(delete_slot(vm_fd, 1000), ==, 0);
    g_assert_cmpint(slot_at(vm, 0), ==, -1);
    g_assert_cmpint(shared_slot(vm_fd, 1000, 0, 0, 2 * MB), ==, 0);
    /* The userspace address: page aligned, and kept. */
    g_assert_cmpint(region(vm_fd, 5, 0, 16 * MB, 2 * MB, 0x10000800, 0, 0),
                    ==, -EINVAL);
    g_assert_cmpint(region(vm_fd, 1000, KVM_MEM_LOG_DIRTY_PAGES, 0, 2 * MB,
                           0x20000000, 0, 0), ==, -EINVAL);
    g_assert_cmpint(shared_slot(vm_fd, 1000, KVM_MEM_LOG_DIRTY_PAGES, 0,
                                2 * MB), ==, 0);
    /* KVM_MEM_MAX_NR_PAGES = 2^31 - 1 pages. */
    g_assert_cmpint(shared_slot(vm_fd, 6, 0, 1ULL << 44, 1ULL << 43), ==,
                    -EINVAL);
    if (sim_host_phys_bits() > 45) {
        g_assert_cmpint(shared_slot(vm_fd, 6, 0, 1ULL << 44,
                                    (1ULL << 43) - 4096), ==, 0);
    }
    sim_close(vm_fd);
    sim_close(td_fd);
}

int main(int argc, char **argv)
{
    sys_fd = sim_test_start();

    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/kvm-memslot/gmem-bind-exists", test_gmem_bind);
    g_test_add_func("/kvm-memslot/gpa-limits", test_gpa_limits);
    g_test_add_func("/kvm-memslot/released-gmem-fault",
                    test_released_gmem_fault);
    g_test_add_func("/kvm-memslot/released-gmem-fault-side-table",
                    test_released_gmem_fault_side_table);
    g_test_add_func("/kvm-memslot/released-gmem-build",
                    test_released_gmem_build);
    g_test_add_func("/kvm-memslot/guest-memfd-flags-cap", test_gmem_flags_cap);
    g_test_add_func("/kvm-memslot/td-shared-slot-dirty-log-move",
                    test_td_shared_slot);
    g_test_add_func("/kvm-memslot/region-checks", test_region_checks);
    return g_test_run();
}
