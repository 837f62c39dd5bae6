// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * tdxsim unit test: the fake KVM driven directly, without QEMU, the way
 * QEMU drives it: TD creation order and its errors, INIT_MEM_REGION,
 * FINALIZE, KVM_RUN with immediate_exit, MapGPA chunks answered by
 * "userspace", implicit conversion exits, lazy accept, shutdown and a
 * leak-free teardown (kvm*.c, guest.c).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <linux/falloc.h>
#include <unistd.h>
#include <glib.h>

#include "guest.h"
#include "guest-trace.h"
#include "kvm.h"
#include "tests/sim-test.h"
#include "tdxsim.h"
#include "mapgpa.h"

#define MB (1ULL << 20)

static int sys_fd, vm_fd, vcpu_fd;
static struct kvm_run *run;

static int tdx_op(int fd, uint32_t id, uint32_t flags, void *data)
{
    struct kvm_tdx_cmd cmd = { .id = id, .flags = flags,
                               .data = (uintptr_t)data };
    return sim_ioctl(fd, KVM_MEMORY_ENCRYPT_OP, &cmd);
}

static int set_attrs(uint64_t gpa, uint64_t size, bool private)
{
    struct kvm_memory_attributes a = {
        .address = gpa, .size = size,
        .attributes = private ? KVM_MEMORY_ATTRIBUTE_PRIVATE : 0,
    };
    return sim_ioctl(vm_fd, KVM_SET_MEMORY_ATTRIBUTES, &a);
}

static struct sim_vm *the_vm(void)
{
    return sim.vms->pdata[sim.vms->len - 1];
}

static void test_bringup(void)
{
    struct kvm_enable_cap cap = { .cap = KVM_CAP_EXIT_HYPERCALL,
                                  .args[0] = 1ULL << 12 };
    g_autofree struct kvm_tdx_capabilities *caps = NULL;
    g_autofree struct kvm_tdx_init_vm *init = NULL;
    struct kvm_create_guest_memfd gm = { .size = 16 * MB };
    struct kvm_userspace_memory_region2 slot = {
        .slot = 0, .flags = KVM_MEM_GUEST_MEMFD, .memory_size = 16 * MB,
    };
    struct kvm_tdx_init_mem_region region;
    void *src;
    int gmem;

    sys_fd = sim_open_device(0);
    g_assert_cmpint(sys_fd, >=, 0);
    g_assert_cmpint(sim_ioctl(sys_fd, KVM_GET_API_VERSION, NULL), ==, 12);
    g_assert_cmpint(sim_ioctl(sys_fd, KVM_CHECK_EXTENSION,
                              (void *)(long)KVM_CAP_VM_TYPES) & (1 << 5),
                    !=, 0);
    g_assert_cmpint(sim_ioctl(sys_fd, KVM_CHECK_EXTENSION,
                              (void *)(long)KVM_CAP_IRQ_ROUTING), >=, 24);
    vm_fd = sim_ioctl(sys_fd, KVM_CREATE_VM, (void *)5L);
    g_assert_cmpint(vm_fd, >=, 0);
    g_assert_cmpint(sim_ioctl(vm_fd, KVM_ENABLE_CAP, &cap), ==, 0);
    cap.args[0] = 1;
    g_assert_cmpint(sim_ioctl(vm_fd, KVM_ENABLE_CAP, &cap), ==, -1);
    g_assert_cmpint(errno, ==, EINVAL);

    /* No vCPU before INIT_VM (tdx_vcpu_create(): -EIO). */
    g_assert_cmpint(sim_ioctl(vm_fd, KVM_CREATE_VCPU, (void *)0L), ==, -1);
    g_assert_cmpint(errno, ==, EIO);

    /*
     * CAPABILITIES (tdx_get_capabilities()): too small a CPUID array is
     * -E2BIG and nent is not written back; SEPT_VE_DISABLE is the only
     * attribute (no PERFMON, no PKS); the TDVMCALL info KVM sets.
     */
    caps = g_malloc0(sizeof(*caps) + 64 * sizeof(struct kvm_cpuid_entry2));
    caps->cpuid.nent = 1;
    g_assert_cmpint(tdx_op(vm_fd, KVM_TDX_CAPABILITIES, 0, caps), ==, -1);
    g_assert_cmpint(errno, ==, E2BIG);
    g_assert_cmpuint(caps->cpuid.nent, ==, 1);
    caps->cpuid.nent = 64;
    g_assert_cmpint(tdx_op(vm_fd, KVM_TDX_CAPABILITIES, 1, caps), ==, -1);
    g_assert_cmpint(errno, ==, EINVAL);
    g_assert_cmpint(tdx_op(vm_fd, KVM_TDX_CAPABILITIES, 0, caps), ==, 0);
    g_assert_cmphex(caps->supported_attrs, ==, 1ULL << 28);
    g_assert_cmphex(caps->user_tdvmcallinfo_1_r11, ==, 1ULL << 1);
    g_assert_cmphex(caps->kernel_tdvmcallinfo_1_r11, ==, 0);
    g_assert_cmphex(caps->user_tdvmcallinfo_1_r12, ==, 0);
    g_assert_cmphex(caps->kernel_tdvmcallinfo_1_r12, ==, 0);
    for (unsigned i = 0; i < caps->cpuid.nent; i++) {
        struct kvm_cpuid_entry2 *e = &caps->cpuid.entries[i];

        if (e->function == 7 && e->index == 0) {
            /* HLE, RTM, WAITPKG are never configurable */
            g_assert_cmphex(e->ebx & ((1u << 4) | (1u << 11)), ==, 0);
            g_assert_cmphex(e->ecx & (1u << 5), ==, 0);
        }
    }

    /* INIT_VM (tdx_td_init(), setup_tdparams*()): each refusal. */
    init = g_malloc0(sizeof(*init) + 2 * sizeof(struct kvm_cpuid_entry2));
    init->xfam = 0x3;
    init->cpuid.nent = 1;
    init->cpuid.entries[0].function = 0x80000008;
    init->cpuid.entries[0].eax = (48 << 16) | 48;
    init->attributes = 1ULL << 30;      /* PKS: not supported by 7.2 */
    g_assert_cmpint(tdx_op(vm_fd, KVM_TDX_INIT_VM, 0, init), ==, -1);
    g_assert_cmpint(errno, ==, EINVAL);
    init->attributes = 1ULL << 63;      /* PERFMON: neither */
    g_assert_cmpint(tdx_op(vm_fd, KVM_TDX_INIT_VM, 0, init), ==, -1);
    g_assert_cmpint(errno, ==, EINVAL);
    init->attributes = 1ULL << 28;
    init->cpuid.entries[0].eax = 48;    /* GPAW only in EAX[23:16] */
    g_assert_cmpint(tdx_op(vm_fd, KVM_TDX_INIT_VM, 0, init), ==, -1);
    g_assert_cmpint(errno, ==, EINVAL);
    init->cpuid.entries[0].eax = (48 << 16) | 48;
    init->cpuid.nent = 2;               /* not a configurable leaf */
    init->cpuid.entries[1].function = 0x40000000;
    g_assert_cmpint(tdx_op(vm_fd, KVM_TDX_INIT_VM, 0, init), ==, -1);
    g_assert_cmpint(errno, ==, EINVAL);
    init->cpuid.entries[1].function = 7;    /* TSX asked for */
    init->cpuid.entries[1].flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX;
    init->cpuid.entries[1].ebx = 1u << 11;
    g_assert_cmpint(tdx_op(vm_fd, KVM_TDX_INIT_VM, 0, init), ==, -1);
    g_assert_cmpint(errno, ==, EINVAL);
    init->cpuid.nent = 1;
    init->cpuid.entries[0].function = 0x1;  /* no 0x80000008 at all */
    g_assert_cmpint(tdx_op(vm_fd, KVM_TDX_INIT_VM, 0, init), ==, -1);
    g_assert_cmpint(errno, ==, EINVAL);
    init->cpuid.entries[0].function = 0x80000008;
    init->cpuid.padding = 1;
    g_assert_cmpint(tdx_op(vm_fd, KVM_TDX_INIT_VM, 0, init), ==, -1);
    g_assert_cmpint(errno, ==, EINVAL);
    init->cpuid.padding = 0;
    init->cpuid.nent = 257;
    g_assert_cmpint(tdx_op(vm_fd, KVM_TDX_INIT_VM, 0, init), ==, -1);
    g_assert_cmpint(errno, ==, E2BIG);
    init->cpuid.nent = 1;
    g_assert_cmpint(tdx_op(vm_fd, KVM_TDX_INIT_VM, 0, init), ==, 0);
    g_assert_cmpint(tdx_op(vm_fd, KVM_TDX_INIT_VM, 0, init), ==, -1);
    g_assert_cmpint(errno, ==, EINVAL);

    /* A TD vCPU needs a split irqchip (tdx_vcpu_create(): -EINVAL). */
    g_assert_cmpint(sim_ioctl(vm_fd, KVM_CREATE_VCPU, (void *)0L), ==, -1);
    g_assert_cmpint(errno, ==, EINVAL);
    {
        struct kvm_enable_cap split = { .cap = KVM_CAP_SPLIT_IRQCHIP,
                                        .args[0] = 24 };

        g_assert_cmpint(sim_ioctl(vm_fd, KVM_ENABLE_CAP, &split), ==, 0);
    }

    gmem = sim_ioctl(vm_fd, KVM_CREATE_GUEST_MEMFD, &gm);
    g_assert_cmpint(gmem, >=, 0);
    slot.guest_memfd = gmem;
    g_assert_cmpint(sim_ioctl(vm_fd, KVM_SET_USER_MEMORY_REGION2, &slot),
                    ==, 0);
    /* private memslots are immutable */
    g_assert_cmpint(sim_ioctl(vm_fd, KVM_SET_USER_MEMORY_REGION2, &slot),
                    ==, -1);

    vcpu_fd = sim_ioctl(vm_fd, KVM_CREATE_VCPU, (void *)0L);
    g_assert_cmpint(vcpu_fd, >=, 0);
    run = mmap(NULL, 2 * 4096, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu_fd, 0);
    g_assert_true(run != MAP_FAILED);
    g_assert_cmpint(set_td_cpuid(vcpu_fd), ==, 0);
    g_assert_cmpint(tdx_op(vcpu_fd, KVM_TDX_INIT_VCPU, 0, (void *)0x800000L),
                    ==, 0);

    /* INIT_MEM_REGION: range must be private first. */
    src = g_malloc0(4 * 4096);
    memset(src, 0xab, 4 * 4096);
    region = (struct kvm_tdx_init_mem_region) {
        .source_addr = (uintptr_t)src, .gpa = 0x800000, .nr_pages = 4 };
    g_assert_cmpint(tdx_op(vcpu_fd, KVM_TDX_INIT_MEM_REGION,
                           KVM_TDX_MEASURE_MEMORY_REGION, &region), ==, -1);
    g_assert_cmpint(errno, ==, EINVAL);
    g_assert_cmpint(set_attrs(0, 16 * MB, true), ==, 0);
    /* source pages must be 4K aligned: g_malloc is not, use an mmap */
    g_free(src);
    src = mmap(NULL, 4 * 4096, PROT_READ | PROT_WRITE,
               MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    memset(src, 0xab, 4 * 4096);
    region.source_addr = (uintptr_t)src;
    g_assert_cmpint(tdx_op(vcpu_fd, KVM_TDX_INIT_MEM_REGION,
                           KVM_TDX_MEASURE_MEMORY_REGION, &region), ==, 0);
    g_assert_cmpuint(region.nr_pages, ==, 0);
    g_assert_cmphex(region.gpa, ==, 0x804000);
    /*
     * A GPA already added: RET_PF_SPURIOUS in kvm_tdp_mmu_map_private_pfn(),
     * -EIO, no PAGE.ADD, hw_error untouched, the VM lives on.
     */
    region = (struct kvm_tdx_init_mem_region) {
        .source_addr = (uintptr_t)src, .gpa = 0x803000, .nr_pages = 2 };
    {
        struct kvm_tdx_cmd cmd = { .id = KVM_TDX_INIT_MEM_REGION,
                                   .data = (uintptr_t)&region };
        uint64_t adds = tdxmod_counters(sim.mod)->seamcalls[TDH_MEM_PAGE_ADD];

        g_assert_cmpint(sim_ioctl(vcpu_fd, KVM_MEMORY_ENCRYPT_OP, &cmd), ==,
                        -1);
        g_assert_cmpint(errno, ==, EIO);
        g_assert_cmphex(cmd.hw_error, ==, 0);
        g_assert_cmpuint(region.nr_pages, ==, 2);
        g_assert_cmpuint(tdxmod_counters(sim.mod)->seamcalls[TDH_MEM_PAGE_ADD],
                         ==, adds);
        g_assert_false(the_vm()->bugged);
    }
    munmap(src, 4 * 4096);
    g_assert_cmpuint(tdx_td_leaves(the_vm()->td, TDX_LEVEL_4K), ==, 4);
    g_assert_cmpuint(tdxmod_counters(sim.mod)->seamcalls[TDH_MR_EXTEND], ==,
                     64);

    /* FINALIZE: BUSY is -EBUSY with hw_error; success writes hw_error 0. */
    {
        struct tdx_inject_busy b = { .every_nth = 1 };
        struct kvm_tdx_cmd cmd = { .id = KVM_TDX_FINALIZE_VM };

        tdxmod_inject_busy(sim.mod, TDH_MR_FINALIZE, &b);
        g_assert_cmpint(sim_ioctl(vm_fd, KVM_MEMORY_ENCRYPT_OP, &cmd), ==, -1);
        g_assert_cmpint(errno, ==, EBUSY);
        g_assert_cmphex(TDX_STATUS_CLASS(cmd.hw_error), ==, TDX_OPERAND_BUSY);
        tdxmod_inject_busy(sim.mod, TDH_MR_FINALIZE, NULL);
        cmd.hw_error = 0;
        cmd.data = 0x1234;              /* not looked at by 7.2 */
        g_assert_cmpint(sim_ioctl(vm_fd, KVM_MEMORY_ENCRYPT_OP, &cmd), ==, 0);
        g_assert_cmphex(cmd.hw_error, ==, 0);
    }
    g_assert_cmpint(tdx_op(vm_fd, KVM_TDX_FINALIZE_VM, 0, NULL), ==, -1);
    g_assert_cmpint(tdx_op(vcpu_fd, KVM_TDX_INIT_VCPU, 0, NULL), ==, -1);
    g_assert_cmpint(errno, ==, EINVAL);
}

/* QEMU's kvm_convert_memory() for one exit. */
static void userspace_convert(uint64_t gpa, uint64_t size, bool private)
{
    g_assert_cmpint(set_attrs(gpa, size, private), ==, 0);
}

static void test_run(void)
{
    struct sim_vm *vm = the_vm();
    int r;

    /* First KVM_RUN comes with immediate_exit = 1. */
    run->immediate_exit = 1;
    g_assert_cmpint(sim_ioctl(vcpu_fd, KVM_RUN, NULL), ==, -1);
    g_assert_cmpint(errno, ==, EINTR);
    g_assert_cmpuint(run->exit_reason, ==, KVM_EXIT_INTR);
    run->immediate_exit = 0;

    /* accept 0x600000 8K: lazily faulted and accepted, no exit */
    /* mapgpa shared 0x200000 3M: two chunks */
    g_assert_cmpint(sim_ioctl(vcpu_fd, KVM_RUN, NULL), ==, 0);
    g_assert_cmpuint(run->exit_reason, ==, KVM_EXIT_HYPERCALL);
    g_assert_cmpuint(run->hypercall.nr, ==, 12);
    g_assert_cmphex(run->hypercall.args[0], ==, 0x200000);
    g_assert_cmpuint(run->hypercall.args[1], ==, 512);
    g_assert_cmphex(run->hypercall.args[2], ==, 0);
    g_assert_cmpuint(tdx_td_leaves(vm->td, TDX_LEVEL_4K), ==, 4 + 2);
    userspace_convert(0x200000, 2 * MB, false);
    g_assert_cmpint(sim_ioctl(vcpu_fd, KVM_RUN, NULL), ==, 0);
    g_assert_cmphex(run->hypercall.args[0], ==, 0x400000);
    g_assert_cmpuint(run->hypercall.args[1], ==, 256);
    userspace_convert(0x400000, 1 * MB, false);

    /* accept 0x200000 4K: the page is shared, implicit conversion exit */
    r = sim_ioctl(vcpu_fd, KVM_RUN, NULL);
    g_assert_cmpint(r, ==, -1);
    g_assert_cmpint(errno, ==, EFAULT);
    g_assert_cmpuint(run->exit_reason, ==, KVM_EXIT_MEMORY_FAULT);
    g_assert_cmphex(run->memory_fault.gpa, ==, 0x200000);
    g_assert_cmphex(run->memory_fault.flags, ==, KVM_MEMORY_EXIT_FLAG_PRIVATE);
    userspace_convert(0x200000, 4096, true);

    /* mapgpa private 0x1001 0x1000 => ALIGN_ERROR without exit;
     * mapgpa private 0x600000 4K: userspace fails it => INVALID_OPERAND */
    g_assert_cmpint(sim_ioctl(vcpu_fd, KVM_RUN, NULL), ==, 0);
    g_assert_cmpuint(run->exit_reason, ==, KVM_EXIT_HYPERCALL);
    g_assert_cmphex(run->hypercall.args[0], ==, 0x600000);
    g_assert_cmphex(run->hypercall.args[2], ==, MAP_GPA_RANGE_ENCRYPTED);
    run->hypercall.ret = EINVAL;
    /*
     * KVM_RUN completes the exit before it looks at immediate_exit
     * (kvm_arch_vcpu_ioctl_run()): the guest gets INVALID_OPERAND now.
     */
    run->immediate_exit = 1;
    g_assert_cmpint(sim_ioctl(vcpu_fd, KVM_RUN, NULL), ==, -1);
    g_assert_cmpint(errno, ==, EINTR);
    g_assert_cmpuint(vm->stats.mapgpa_user_error, ==, 1);
    run->immediate_exit = 0;

    /* accepted private page goes shared: zapped (BLOCK, TRACK, REMOVE) */
    g_assert_cmpint(set_attrs(0x600000, 4096, false), ==, 0);
    g_assert_cmpuint(tdx_td_leaves(vm->td, TDX_LEVEL_4K), ==, 4 + 2 + 1 - 1);
    g_assert_cmpint(set_attrs(0x600000, 4096, true), ==, 0);

    /* shutdown */
    g_assert_cmpint(sim_ioctl(vcpu_fd, KVM_RUN, NULL), ==, 0);
    g_assert_cmpuint(run->exit_reason, ==, KVM_EXIT_SYSTEM_EVENT);
    g_assert_cmpuint(run->system_event.type, ==, KVM_SYSTEM_EVENT_SHUTDOWN);

    g_assert_cmpuint(vm->stats.mapgpa_align, ==, 1);
    g_assert_cmpuint(vm->stats.mapgpa_user_error, ==, 1);
    g_assert_cmpuint(vm->stats.expect_failures, ==, 0);
    g_assert_cmpuint(vm->stats.invariant_violations, ==, 0);
    g_assert_cmpuint(tdxmod_counters(sim.mod)->seamcalls[TDH_MEM_TRACK], ==, 1);
}

static void test_teardown(void)
{
    struct sim_vm *vm = the_vm();

    munmap(run, 2 * 4096);
    sim_close(vcpu_fd);
    g_assert_false(vm->destroyed);
    sim_close(vm_fd);
    /* the guest_memfd still holds a reference */
    g_assert_false(vm->destroyed);
    for (int fd = 0; fd < SIM_MAX_FDS; fd++) {
        if (sim.fds[fd] && sim.fds[fd]->kind == SIM_OBJ_GMEM) {
            sim_close(fd);
        }
    }
    g_assert_true(vm->destroyed);
    g_assert_true(vm->torn_down);
    g_assert_cmpuint(vm->leaks, ==, 0);
    g_assert_cmpuint(tdxmod_pages_owned(sim.mod), ==, 0);
    g_assert_cmpuint(vm->stats.invariant_violations, ==, 0);
    g_assert_cmpuint(tdxmod_counters(sim.mod)->seamcalls[TDH_MNG_KEY_FREEID],
                     ==, 1);
}

/*
 * The irqchip modes, as 7.2 kvm_arch_vm_ioctl() and
 * kvm_vm_ioctl_enable_cap() set them: a default VM takes a full in-kernel
 * irqchip (libvirt's probe, -machine none), a TD only the split one.
 */
static int enable_split(int vm_fd, uint64_t routes)
{
    struct kvm_enable_cap split = { .cap = KVM_CAP_SPLIT_IRQCHIP,
                                    .args[0] = routes };

    return sim_ioctl(vm_fd, KVM_ENABLE_CAP, &split);
}

static void test_irqchip(void)
{
    int vm_fd, vcpu_fd;

    vm_fd = sim_ioctl(sys_fd, KVM_CREATE_VM, (void *)0L);
    g_assert_cmpint(vm_fd, >=, 0);
    g_assert_cmpint(sim_ioctl(vm_fd, KVM_CREATE_IRQCHIP, NULL), ==, 0);
    g_assert_cmpint(sim_ioctl(vm_fd, KVM_CREATE_IRQCHIP, NULL), ==, -1);
    g_assert_cmpint(errno, ==, EEXIST);
    g_assert_cmpint(enable_split(vm_fd, 24), ==, -1);
    g_assert_cmpint(errno, ==, EEXIST);
    sim_close(vm_fd);

    vm_fd = sim_ioctl(sys_fd, KVM_CREATE_VM, (void *)0L);
    g_assert_cmpint(vm_fd, >=, 0);
    g_assert_cmpint(enable_split(vm_fd, 4097), ==, -1);
    g_assert_cmpint(errno, ==, EINVAL);
    g_assert_cmpint(enable_split(vm_fd, 4096), ==, 0);
    g_assert_cmpint(enable_split(vm_fd, 24), ==, -1);
    g_assert_cmpint(errno, ==, EEXIST);
    g_assert_cmpint(sim_ioctl(vm_fd, KVM_CREATE_IRQCHIP, NULL), ==, -1);
    g_assert_cmpint(errno, ==, EEXIST);
    sim_close(vm_fd);

    /* After the first vCPU: no irqchip of either kind. */
    vm_fd = sim_ioctl(sys_fd, KVM_CREATE_VM, (void *)0L);
    g_assert_cmpint(vm_fd, >=, 0);
    vcpu_fd = sim_ioctl(vm_fd, KVM_CREATE_VCPU, (void *)0L);
    g_assert_cmpint(vcpu_fd, >=, 0);
    g_assert_cmpint(sim_ioctl(vm_fd, KVM_CREATE_IRQCHIP, NULL), ==, -1);
    g_assert_cmpint(errno, ==, EINVAL);
    g_assert_cmpint(enable_split(vm_fd, 24), ==, -1);
    g_assert_cmpint(errno, ==, EEXIST);
    sim_close(vcpu_fd);
    sim_close(vm_fd);

    /* A TD has protected EOIs: -ENOTTY, and the split irqchip works. */
    vm_fd = sim_ioctl(sys_fd, KVM_CREATE_VM, (void *)5L);
    g_assert_cmpint(vm_fd, >=, 0);
    g_assert_cmpint(sim_ioctl(vm_fd, KVM_CREATE_IRQCHIP, NULL), ==, -1);
    g_assert_cmpint(errno, ==, ENOTTY);
    g_assert_cmpint(enable_split(vm_fd, 24), ==, 0);
    sim_close(vm_fd);
}

/* A finalized mirror-mode TD of 16 MiB, all private, playing text. */
struct mini_td {
    int vm_fd, vcpu_fd, gmem;
    struct kvm_run *run;
    struct sim_vm *vm;
};

static void mini_td(struct mini_td *t, const char *text)
{
    g_autofree char *path = g_strdup("/tmp/tdxsim-test-kvm-XXXXXX");
    int fd = g_mkstemp(path);
    g_autofree struct kvm_tdx_init_vm *init =
        g_malloc0(sizeof(*init) + sizeof(struct kvm_cpuid_entry2));
    struct kvm_enable_cap hc = { .cap = KVM_CAP_EXIT_HYPERCALL,
                                 .args[0] = 1ULL << 12 };
    struct kvm_enable_cap split = { .cap = KVM_CAP_SPLIT_IRQCHIP,
                                    .args[0] = 24 };
    struct kvm_create_guest_memfd gm = { .size = 16 * MB };
    struct kvm_userspace_memory_region2 slot = {
        .slot = 0, .flags = KVM_MEM_GUEST_MEMFD, .memory_size = 16 * MB,
    };
    struct kvm_memory_attributes a = {
        .size = 16 * MB, .attributes = KVM_MEMORY_ATTRIBUTE_PRIVATE,
    };

    g_assert_cmpint(write(fd, text, strlen(text)), ==, strlen(text));
    close(fd);
    g_setenv("TDXSIM_TRACE", path, TRUE);
    t->vm_fd = sim_ioctl(sys_fd, KVM_CREATE_VM, (void *)5L);
    g_assert_cmpint(t->vm_fd, >=, 0);
    t->vm = the_vm();
    g_unsetenv("TDXSIM_TRACE");
    unlink(path);
    g_assert_cmpint(sim_ioctl(t->vm_fd, KVM_ENABLE_CAP, &hc), ==, 0);
    g_assert_cmpint(sim_ioctl(t->vm_fd, KVM_ENABLE_CAP, &split), ==, 0);
    init->attributes = 1ULL << 28;
    init->xfam = 0x3;
    init->cpuid.nent = 1;
    init->cpuid.entries[0].function = 0x80000008;
    init->cpuid.entries[0].eax = (48 << 16) | 48;
    g_assert_cmpint(tdx_op(t->vm_fd, KVM_TDX_INIT_VM, 0, init), ==, 0);
    t->gmem = sim_ioctl(t->vm_fd, KVM_CREATE_GUEST_MEMFD, &gm);
    g_assert_cmpint(t->gmem, >=, 0);
    slot.guest_memfd = t->gmem;
    g_assert_cmpint(sim_ioctl(t->vm_fd, KVM_SET_USER_MEMORY_REGION2, &slot),
                    ==, 0);
    g_assert_cmpint(sim_ioctl(t->vm_fd, KVM_SET_MEMORY_ATTRIBUTES, &a), ==, 0);
    t->vcpu_fd = sim_ioctl(t->vm_fd, KVM_CREATE_VCPU, (void *)0L);
    g_assert_cmpint(t->vcpu_fd, >=, 0);
    t->run = mmap(NULL, 2 * 4096, PROT_READ | PROT_WRITE, MAP_SHARED,
                  t->vcpu_fd, 0);
    g_assert_true(t->run != MAP_FAILED);
    g_assert_cmpint(set_td_cpuid(t->vcpu_fd), ==, 0);
    g_assert_cmpint(tdx_op(t->vcpu_fd, KVM_TDX_INIT_VCPU, 0, (void *)1L), ==,
                    0);
    g_assert_cmpint(tdx_op(t->vm_fd, KVM_TDX_FINALIZE_VM, 0, NULL), ==, 0);
}

/*
 * Kick the vCPU out of KVM_RUN once its guest has panicked (and so halts
 * for ever), however long that takes (valgrind, a loaded machine): the
 * test does not depend on timing.
 */
static gpointer kick_after_panic(gpointer opaque)
{
    struct mini_td *t = opaque;
    gint64 deadline = g_get_monotonic_time() + 60 * G_USEC_PER_SEC;

    for (;;) {
        bool panicked;

        /* The model counts under the VM lock. */
        pthread_mutex_lock(&t->vm->lock);
        panicked = t->vm->stats.guest_panics != 0;
        pthread_mutex_unlock(&t->vm->lock);
        if (panicked || g_get_monotonic_time() >= deadline) {
            break;
        }
        g_usleep(10 * 1000);
    }
    __atomic_store_n(&t->run->immediate_exit, 1, __ATOMIC_RELEASE);
    return NULL;
}

/* KVM_RUN until the guest shuts down or halts for good (then kicked). */
static int run_to_block(struct mini_td *t)
{
    GThread *kick;
    int r;

    t->run->immediate_exit = 0;     /* before the kicking thread exists */
    kick = g_thread_new("kick", kick_after_panic, t);
    do {
        r = sim_ioctl(t->vcpu_fd, KVM_RUN, NULL);
    } while (r == 0 && t->run->exit_reason != KVM_EXIT_SYSTEM_EVENT);
    g_thread_join(kick);
    t->run->immediate_exit = 0;
    return r;
}

static void mini_td_close(struct mini_td *t)
{
    munmap(t->run, 2 * 4096);
    sim_close(t->vcpu_fd);
    sim_close(t->vm_fd);
    sim_close(t->gmem);
    g_assert_true(t->vm->destroyed);
}

/*
 * With SEPT_VE_DISABLE a private access to a page that is mapped but not
 * accepted kills the TD: Linux 7.2 tdx_handle_ept_violation() ("Guest access
 * before accepting") -> kvm_vm_dead(), KVM_RUN -EIO, every later ioctl -EIO.
 */
static void test_access_before_accept(void)
{
    struct mini_td t;

    mini_td(&t, "vcpu 0\naccept 0x100000 4K\naccess private 0x100000\n"
                "access private 0x200000\nshutdown\n");
    g_assert_cmpint(sim_ioctl(t.vcpu_fd, KVM_RUN, NULL), ==, -1);
    g_assert_cmpint(errno, ==, EIO);
    g_assert_cmpuint(t.vm->stats.access_before_accept, ==, 1);
    g_assert_true(t.vm->bugged);
    g_assert_cmpuint(t.vm->stats.run_failures, ==, 1);
    g_assert_cmpint(sim_ioctl(t.vcpu_fd, KVM_RUN, NULL), ==, -1);
    g_assert_cmpint(errno, ==, EIO);
    g_assert_cmpint(sim_ioctl(t.vm_fd, KVM_CHECK_EXTENSION,
                              (void *)(long)KVM_CAP_VM_TYPES), ==, -1);
    g_assert_cmpint(errno, ==, EIO);
    mini_td_close(&t);
}

/*
 * Linux's accept loop (tdx_accept_memory(), try_accept_one()): the 2M try
 * fails, the 4K try answers PAGE_ALREADY_ACCEPTED, the accept fails and
 * Linux panics: a failure of the run, not "the guest moves on".
 */
static void test_accept_twice(void)
{
    struct mini_td t;

    mini_td(&t, "vcpu 0\naccept 0x200000 2M\naccept 0x201000 4K\n"
                "shutdown\n");
    /* the panicked vCPU halts for ever: only a kick ends KVM_RUN */
    g_assert_cmpint(run_to_block(&t), ==, -1);
    g_assert_cmpint(errno, ==, EINTR);
    g_assert_cmpuint(t.vm->stats.guest_panics, ==, 1);
    g_assert_cmpuint(t.vm->stats.expect_failures, ==, 1);
    g_assert_cmpuint(t.vm->stats.run_failures, ==, 1);
    g_assert_true(sim_run_bad(t.vm));
    mini_td_close(&t);
}

/*
 * An implicit conversion userspace never performs: the access faults for
 * ever on real hardware.  A livelock: violation, run failure, the VM is
 * stopped (KVM_RUN -EIO), never skipped.
 */
static void test_livelock(void)
{
    struct mini_td t;
    int r, exits = 0;

    mini_td(&t, "vcpu 0\naccess shared 0x300000\nshutdown\n");
    do {
        r = sim_ioctl(t.vcpu_fd, KVM_RUN, NULL);
        exits += r == -1 && errno == EFAULT;
    } while (r == -1 && errno == EFAULT && exits < 1000);
    g_assert_cmpint(r, ==, -1);
    g_assert_cmpint(errno, ==, EIO);
    g_assert_cmpuint(t.vm->stats.livelocks, ==, 1);
    g_assert_cmpuint(t.vm->stats.invariant_violations, ==, 1);
    g_assert_cmpuint(t.vm->stats.run_failures, ==, 1);
    g_assert_cmpuint(t.vm->stats.trace_ops, ==, 0);     /* never skipped */
    mini_td_close(&t);
}

/*
 * The kick after TDH.MEM.TRACK (Linux 7.2 tdx_track():
 * kvm_make_all_cpus_request(KVM_REQ_OUTSIDE_GUEST_MODE)).  vCPU 0 runs in
 * its own thread and sits in the guest, in an ACCEPT whose entry lock the
 * module holds for a while (TDXSIM_LOCK_HOLD); meanwhile this thread makes
 * another, mapped page shared: BLOCK, TRACK, REMOVE.  KVM must force the
 * vCPU out before the REMOVE, or the module refuses it
 * (TLB_TRACKING_NOT_DONE: the vCPU entered in the blocked epoch and may
 * still hold the translation).  Deterministic: the zap starts only once
 * the vCPU is in the guest without the VM lock.
 */
static gpointer run_thread(gpointer opaque)
{
    struct mini_td *t = opaque;
    int r;

    do {
        r = sim_ioctl(t->vcpu_fd, KVM_RUN, NULL);
    } while (r == 0 && t->run->exit_reason != KVM_EXIT_SYSTEM_EVENT);
    return GINT_TO_POINTER(r);
}

static void zap_while_in_guest(bool kick, uint64_t *violations,
                               uint64_t *kicked)
{
    struct mini_td t;
    struct kvm_pre_fault_memory pf = { .gpa = 0x800000, .size = 4096 };
    struct kvm_memory_attributes shared = { .address = 0x800000,
                                            .size = 4096 };
    gint64 until;
    struct sim_vcpu *v;
    GThread *th;

    mini_td(&t, "vcpu 0\naccept 0x100000 4K\naccept 0x101000 4K\n"
                "shutdown\n");
    v = t.vm->vcpus[0];
    g_assert_cmpint(sim_ioctl(t.vcpu_fd, KVM_PRE_FAULT_MEMORY, &pf), ==, 0);
    tdxmod_set_lock_hold(sim.mod, TDX_ACCEPT_SLOT, 300 * 1000 * 1000ULL);
    sim.break_no_kick = !kick;
    th = g_thread_new("vcpu0", run_thread, &t);
    until = g_get_monotonic_time() + 30 * G_USEC_PER_SEC;
    while (!(__atomic_load_n(&v->outside, __ATOMIC_SEQ_CST) &&
             tdx_vp_in_guest(t.vm->td, v->vp))) {
        g_assert_cmpint(g_get_monotonic_time(), <, until);
        g_usleep(1000);
    }
    g_assert_cmpint(sim_ioctl(t.vm_fd, KVM_SET_MEMORY_ATTRIBUTES, &shared),
                    ==, kick ? 0 : -1);
    g_thread_join(th);
    tdxmod_set_lock_hold(sim.mod, TDX_ACCEPT_SLOT, 0);
    sim.break_no_kick = false;
    *violations = t.vm->stats.invariant_violations;
    *kicked = t.vm->stats.vcpus_kicked;
    if (kick) {
        g_assert_cmpint(t.run->exit_reason, ==, KVM_EXIT_SYSTEM_EVENT);
        g_assert_false(t.vm->bugged);
    } else {
        g_assert_true(t.vm->bugged);
    }
    mini_td_close(&t);
    if (!kick) {
        /* 7.2: the REMOVE failed after the mirror SPTE was cleared: the
         * page stays with the module, and so does the TDR. */
        g_assert_cmpuint(t.vm->stats.removal_leaks, ==, 1);
        g_assert_cmpuint(t.vm->leaks, ==, 2);
    }
}

static void test_kick_after_track(void)
{
    uint64_t violations, kicked;

    zap_while_in_guest(true, &violations, &kicked);
    g_assert_cmpuint(violations, ==, 0);
    g_assert_cmpuint(kicked, >=, 1);
    /* A KVM that does not kick: the REMOVE fails, KVM_BUG_ON. */
    zap_while_in_guest(false, &violations, &kicked);
    g_assert_cmpuint(violations, >=, 1);
    g_assert_cmpuint(kicked, ==, 0);
}

/*
 * Mirror faults in parallel, as Linux 7.2 runs them (kvm_tdp_mmu_map()
 * under mmu_lock held for read): two vCPU threads accept interleaved 4K
 * pages of the same fresh 2M regions, so that their faults meet on the
 * same new S-EPT pages (a frozen SPTE: RET_PF_RETRY, retried locally) and
 * their PAGE.AUGs overlap in the module (each holds its locks a while:
 * TDXSIM_LOCK_HOLD).  Meanwhile the test holds the S-EPT tree lock
 * exclusively now and then, as a vCPU in zero-step mitigation does
 * (TDH.VP.ENTER): the faults' AUG / SEPT.ADD answer BUSY and are retried.
 * Every page ends mapped and accepted, no violation, nothing leaks.
 */
#define PAR_PAGES 96

struct par_vcpu {
    int fd;
    struct kvm_run *run;
    int r;
    int done;
};

static gpointer par_run(gpointer opaque)
{
    struct par_vcpu *v = opaque;

    do {
        v->r = sim_ioctl(v->fd, KVM_RUN, NULL);
    } while (v->r == 0 && v->run->exit_reason != KVM_EXIT_SYSTEM_EVENT);
    __atomic_store_n(&v->done, 1, __ATOMIC_SEQ_CST);
    return NULL;
}

static void test_parallel_faults(void)
{
    g_autofree char *path = g_strdup("/tmp/tdxsim-test-kvm-XXXXXX");
    g_autofree struct kvm_tdx_init_vm *init =
        g_malloc0(sizeof(*init) + sizeof(struct kvm_cpuid_entry2));
    struct kvm_enable_cap hc = { .cap = KVM_CAP_EXIT_HYPERCALL,
                                 .args[0] = 1ULL << 12 };
    struct kvm_enable_cap split = { .cap = KVM_CAP_SPLIT_IRQCHIP,
                                    .args[0] = 24 };
    struct kvm_create_guest_memfd gm = { .size = 16 * MB };
    struct kvm_userspace_memory_region2 slot = {
        .slot = 0, .flags = KVM_MEM_GUEST_MEMFD, .memory_size = 16 * MB,
    };
    struct kvm_memory_attributes a = {
        .size = 16 * MB, .attributes = KVM_MEMORY_ATTRIBUTE_PRIVATE,
    };
    uint64_t owned = tdxmod_pages_owned(sim.mod);
    const struct tdx_counters *c = tdxmod_counters(sim.mod);
    uint64_t contended0 = c->contended_tree;
    GString *text = g_string_new("");
    struct par_vcpu v[2];
    GThread *th[2];
    struct sim_vm *vm;
    int vm_fd, gmem, fd, round = 0;
    unsigned peak;

    /* vCPU i accepts pages i, i + 2, ... of 2M regions at 4, 6, 8 MiB. */
    for (int i = 0; i < 2; i++) {
        g_string_append_printf(text, "vcpu %d\n", i);
        for (int p = i; p < PAR_PAGES; p += 2) {
            g_string_append_printf(text, "accept 0x%x 4K\n",
                                   0x400000 + (p % 3) * 0x200000 +
                                   (p / 3) * 0x1000);
        }
        g_string_append(text, "shutdown\n");
    }
    fd = g_mkstemp(path);
    g_assert_cmpint(write(fd, text->str, text->len), ==, text->len);
    close(fd);
    g_string_free(text, TRUE);
    g_setenv("TDXSIM_TRACE", path, TRUE);
    vm_fd = sim_ioctl(sys_fd, KVM_CREATE_VM, (void *)5L);
    g_assert_cmpint(vm_fd, >=, 0);
    vm = the_vm();
    g_unsetenv("TDXSIM_TRACE");
    unlink(path);
    g_assert_cmpint(sim_ioctl(vm_fd, KVM_ENABLE_CAP, &hc), ==, 0);
    g_assert_cmpint(sim_ioctl(vm_fd, KVM_ENABLE_CAP, &split), ==, 0);
    init->attributes = 1ULL << 28;
    init->xfam = 0x3;
    init->cpuid.nent = 1;
    init->cpuid.entries[0].function = 0x80000008;
    init->cpuid.entries[0].eax = (48 << 16) | 48;
    g_assert_cmpint(tdx_op(vm_fd, KVM_TDX_INIT_VM, 0, init), ==, 0);
    gmem = sim_ioctl(vm_fd, KVM_CREATE_GUEST_MEMFD, &gm);
    g_assert_cmpint(gmem, >=, 0);
    slot.guest_memfd = gmem;
    g_assert_cmpint(sim_ioctl(vm_fd, KVM_SET_USER_MEMORY_REGION2, &slot), ==,
                    0);
    g_assert_cmpint(sim_ioctl(vm_fd, KVM_SET_MEMORY_ATTRIBUTES, &a), ==, 0);
    for (int i = 0; i < 2; i++) {
        v[i].done = 0;
        v[i].fd = sim_ioctl(vm_fd, KVM_CREATE_VCPU, (void *)(long)i);
        g_assert_cmpint(v[i].fd, >=, 0);
        v[i].run = mmap(NULL, 2 * 4096, PROT_READ | PROT_WRITE, MAP_SHARED,
                        v[i].fd, 0);
        g_assert_true(v[i].run != MAP_FAILED);
        g_assert_cmpint(set_td_cpuid(v[i].fd), ==, 0);
        g_assert_cmpint(tdx_op(v[i].fd, KVM_TDX_INIT_VCPU, 0, (void *)1L),
                        ==, 0);
    }
    g_assert_cmpint(tdx_op(vm_fd, KVM_TDX_FINALIZE_VM, 0, NULL), ==, 0);

    tdxmod_set_lock_hold(sim.mod, TDH_MEM_PAGE_AUG, 300 * 1000);
    tdxmod_set_lock_hold(sim.mod, TDH_MEM_SEPT_ADD, 2 * 1000 * 1000);
    tdxmod_seamcalls_peak(sim.mod, true);
    for (int i = 0; i < 2; i++) {
        th[i] = g_thread_new("vcpu", par_run, &v[i]);
    }
    /* Zero-step mitigation on and off until both vCPUs are done. */
    while (!(__atomic_load_n(&v[0].done, __ATOMIC_SEQ_CST) &&
             __atomic_load_n(&v[1].done, __ATOMIC_SEQ_CST)) && round < 20000) {
        if (round++ % 4 == 0) {
            tdx_td_hold_tree_lock(vm->td, true);
            g_usleep(1000);
            tdx_td_release_tree_lock(vm->td);
        }
        g_usleep(500);
    }
    for (int i = 0; i < 2; i++) {
        g_thread_join(th[i]);
        g_assert_cmpint(v[i].r, ==, 0);
        g_assert_cmpint(v[i].run->exit_reason, ==, KVM_EXIT_SYSTEM_EVENT);
    }
    tdxmod_set_lock_hold(sim.mod, TDH_MEM_PAGE_AUG, 0);
    tdxmod_set_lock_hold(sim.mod, TDH_MEM_SEPT_ADD, 0);
    peak = tdxmod_seamcalls_peak(sim.mod, true);
    g_test_message("parallel faults: %" PRIu64 " lazy maps, %" PRIu64
                   " BUSY retried, %" PRIu64 " lost races, fault calls "
                   "peak %d, module peak %u", vm->stats.lazy_maps,
                   vm->stats.fault_busy_retries, vm->stats.fault_lost_races,
                   vm->fault_calls_peak, peak);
    g_assert_false(vm->bugged);
    g_assert_cmpuint(vm->stats.invariant_violations, ==, 0);
    g_assert_cmpuint(vm->stats.run_failures, ==, 0);
    g_assert_cmpuint(vm->stats.accept_4k, ==, PAR_PAGES);
    g_assert_cmpuint(vm->stats.lazy_maps, ==, PAR_PAGES);
    g_assert_cmpuint(tdx_td_leaves(vm->td, TDX_LEVEL_4K), ==, PAR_PAGES);
    g_assert_cmpuint(g_hash_table_size(vm->mirror_leaves), ==, PAR_PAGES);
    /* PDPT, PD, and one PT per 2M region: each S-EPT page linked once */
    g_assert_cmpuint(g_hash_table_size(vm->mirror), ==, 2 + 3);
    g_assert_cmpuint(g_hash_table_size(vm->mirror_frozen), ==, 0);
    /* Two vCPUs' fault SEAMCALLs in flight at once, and BUSY retried. */
    g_assert_cmpint(vm->fault_calls_peak, >=, 2);
    g_assert_cmpuint(peak, >=, 2);
    g_assert_cmpuint(vm->stats.fault_busy_retries, >=, 1);
    g_assert_cmpuint(c->contended_tree, >, contended0);
    for (int i = 0; i < 2; i++) {
        munmap(v[i].run, 2 * 4096);
        sim_close(v[i].fd);
    }
    sim_close(vm_fd);
    sim_close(gmem);
    g_assert_true(vm->destroyed);
    g_assert_cmpuint(vm->stats.invariant_violations, ==, 0);
    g_assert_cmpuint(vm->leaks, ==, 0);
    g_assert_cmpuint(tdxmod_pages_owned(sim.mod), ==, owned);
}

/* A driver of the guest (struct guest_driver), as tdxsim/fuzz/ is. */
static struct trace_op driver_ops[5];
static unsigned driver_parks;
static GString *driver_seen;

static bool test_driver_park(struct sim_vcpu *vcpu)
{
    if (driver_parks++) {
        return false;               /* nothing more: halt */
    }
    vcpu->ops = driver_ops;
    vcpu->nr_ops = G_N_ELEMENTS(driver_ops);
    vcpu->pc = 0;
    return true;
}

static void test_driver_observed(struct sim_vcpu *vcpu, uint64_t gpa,
                                 uint64_t size, bool private)
{
    g_string_append_printf(driver_seen, "%s 0x%" PRIx64 " 0x%" PRIx64 ";",
                           private ? "private" : "shared", gpa, size);
}

static const struct guest_driver test_driver = {
    .park = test_driver_park,
    .observed = test_driver_observed,
};

static int mini_convert(struct mini_td *t, uint64_t gpa, uint64_t size,
                        bool private)
{
    struct kvm_memory_attributes a = {
        .address = gpa, .size = size,
        .attributes = private ? KVM_MEMORY_ATTRIBUTE_PRIVATE : 0,
    };
    return sim_ioctl(t->vm_fd, KVM_SET_MEMORY_ATTRIBUTES, &a);
}

/*
 * Linux 7.2 tdx_sept_remove_leaf_spte(): TDX_BUG_ON_2 on ANY non-zero
 * status of RANGE.BLOCK, warnings too.  A leaf already blocked (the test
 * blocks it behind KVM's back) answers GPA_RANGE_ALREADY_BLOCKED: the VM is
 * dead, no REMOVE, and the page -- dropped from the mirror before the call
 * -- is never visited again: leaked with the module, and with it the TDR
 * (TD_ASSOCIATED_PAGES_EXIST), counted for this VM only.
 */
static void test_zap_block_warning_bug(void)
{
    struct kvm_pre_fault_memory pf = { .gpa = 0x800000, .size = 4096 };
    const struct tdx_counters *c = tdxmod_counters(sim.mod);
    struct tdx_counters c0;
    struct mini_td t;
    uint64_t owned = tdxmod_pages_owned(sim.mod);

    mini_td(&t, "vcpu 0\nshutdown\n");
    g_assert_cmpint(sim_ioctl(t.vcpu_fd, KVM_PRE_FAULT_MEMORY, &pf), ==, 0);
    g_assert_cmphex(tdh_mem_range_block(t.vm->td, 0x800000, TDX_LEVEL_4K),
                    ==, TDX_SUCCESS);
    c0 = *c;
    g_assert_cmpint(mini_convert(&t, 0x800000, 4096, false), ==, -1);
    g_assert_cmpint(errno, ==, EIO);
    g_assert_true(t.vm->bugged);
    g_assert_cmpuint(c->seamcalls[TDH_MEM_RANGE_BLOCK] -
                     c0.seamcalls[TDH_MEM_RANGE_BLOCK], ==, 1);
    g_assert_cmpuint(c->seamcalls[TDH_MEM_PAGE_REMOVE] -
                     c0.seamcalls[TDH_MEM_PAGE_REMOVE], ==, 0);
    g_assert_cmpuint(t.vm->stats.removal_leaks, ==, 1);
    g_assert_cmpuint(t.vm->stats.invariant_violations, >=, 1);
    mini_td_close(&t);
    /* No second BLOCK at teardown: the mirror no longer holds the leaf. */
    g_assert_cmpuint(c->seamcalls[TDH_MEM_RANGE_BLOCK] -
                     c0.seamcalls[TDH_MEM_RANGE_BLOCK], ==, 1);
    g_assert_cmpuint(t.vm->leaks, ==, 2);           /* the page, the TDR */
    g_assert_cmpuint(tdxmod_pages_owned(sim.mod), ==, owned + 2);
}

/*
 * Linux 7.2 tdx_sept_remove_leaf_spte() and tdx_track() run BLOCK, TRACK
 * and REMOVE through tdh_do_no_vcpus(): on BUSY, keep the vCPUs out
 * (wait_for_sept_zap), kick them and retry once -- "the retry is
 * guaranteed to succeed" -- and a second BUSY is TDX_BUG_ON: the VM is
 * dead, KVM never tries a third time.  A module BUSY on every call of one
 * leaf: exactly two calls of it, one retry with the vCPUs kept out, the VM
 * dead; BLOCK or REMOVE failing leaks the page (removal_leaks).
 */
static void test_zap_busy_retried_once(void)
{
    static const enum tdx_leaf leaves[] = {
        TDH_MEM_RANGE_BLOCK, TDH_MEM_TRACK, TDH_MEM_PAGE_REMOVE,
    };
    const struct tdx_counters *c = tdxmod_counters(sim.mod);

    for (unsigned i = 0; i < G_N_ELEMENTS(leaves); i++) {
        struct kvm_pre_fault_memory pf = { .gpa = 0x800000, .size = 4096 };
        struct tdx_inject_busy busy = { .every_nth = 1 };
        struct tdx_counters c0;
        struct mini_td t;
        uint64_t no_vcpus0;

        mini_td(&t, "vcpu 0\nshutdown\n");
        g_assert_cmpint(sim_ioctl(t.vcpu_fd, KVM_PRE_FAULT_MEMORY, &pf), ==,
                        0);
        c0 = *c;
        no_vcpus0 = t.vm->stats.no_vcpus_retries;
        tdxmod_inject_busy(sim.mod, leaves[i], &busy);
        mini_convert(&t, 0x800000, 4096, false);
        tdxmod_inject_busy(sim.mod, leaves[i], NULL);
        g_assert_cmpuint(c->seamcalls[leaves[i]] - c0.seamcalls[leaves[i]],
                         ==, 2);
        g_assert_cmpuint(t.vm->stats.no_vcpus_retries - no_vcpus0, ==, 1);
        g_assert_true(t.vm->bugged);
        g_assert_cmpuint(t.vm->stats.invariant_violations, >=, 1);
        if (leaves[i] != TDH_MEM_TRACK) {
            g_assert_cmpuint(t.vm->stats.removal_leaks, ==, 1);
        }
        mini_td_close(&t);
    }
}

/*
 * park hands the vCPU to a driver: it gets new ops from pc 0, and the
 * guest reports what it saw (completed MapGPA chunks, accepts, shared
 * accesses).  A tolerant ACCEPT of a page already accepted is no panic, a
 * tolerant failed MapGPA to shared leaks nothing.
 */
static void test_driver_park_observed(void)
{
    struct trace_op ops[] = {
        { .kind = TOP_MAPGPA, .gpa = 0x200000, .size = 0x2000,
          .tolerant = true },
        { .kind = TOP_ACCESS, .gpa = 0x201000, .size = 4096 },
        { .kind = TOP_ACCEPT, .gpa = 0x200000, .size = 0x2000,
          .private = true, .tolerant = true },
        { .kind = TOP_ACCEPT, .gpa = 0x200000, .size = 0x1000,
          .private = true, .tolerant = true },
        { .kind = TOP_PARK },
    };
    struct mini_td t;

    memcpy(driver_ops, ops, sizeof(ops));
    driver_parks = 0;
    driver_seen = g_string_new("");
    guest_driver = &test_driver;
    mini_td(&t, "vcpu 0\npark\n");
    g_assert_cmpint(sim_ioctl(t.vcpu_fd, KVM_RUN, NULL), ==, 0);
    g_assert_cmpuint(t.run->exit_reason, ==, KVM_EXIT_HYPERCALL);
    g_assert_cmphex(t.run->hypercall.args[0], ==, 0x200000);
    g_assert_cmpint(mini_convert(&t, 0x200000, 0x2000, false), ==, 0);
    /* the access does not fault; both pages are shared: implicit
     * conversions to private for the accept */
    for (int i = 0; i < 2; i++) {
        g_assert_cmpint(sim_ioctl(t.vcpu_fd, KVM_RUN, NULL), ==, -1);
        g_assert_cmpint(errno, ==, EFAULT);
        g_assert_cmphex(t.run->memory_fault.gpa, ==, 0x200000 + i * 0x1000);
        g_assert_cmpint(mini_convert(&t, t.run->memory_fault.gpa, 4096,
                                     true), ==, 0);
    }
    /* the second accept finds the page accepted; then parked for good */
    g_assert_cmpint(run_to_block(&t), ==, -1);
    g_assert_cmpint(errno, ==, EINTR);
    g_assert_cmpstr(driver_seen->str, ==,
                    "shared 0x200000 0x2000;shared 0x201000 0x1000;"
                    "private 0x200000 0x1000;private 0x201000 0x1000;"
                    "private 0x200000 0x1000;");
    g_assert_cmpuint(driver_parks, >=, 2);     /* asked again while halted */
    g_assert_cmpuint(t.vm->stats.guest_panics, ==, 0);
    g_assert_false(sim_run_bad(t.vm));
    guest_driver = NULL;
    g_string_free(driver_seen, TRUE);
    mini_td_close(&t);
}

/*
 * guest_memfd as a file (Linux 7.2 virt/kvm/guest_memfd.c): only
 * KEEP_SIZE[|PUNCH_HOLE] fallocate; mmap only with GUEST_MEMFD_FLAG_MMAP
 * and MAP_SHARED (then SIGBUS for a TD: no INIT_SHARED); creation flags.
 */
static void test_gmem_file(void)
{
    struct mini_td t;
    struct kvm_create_guest_memfd gm = { .size = 2 * MB };
    int mm;

    mini_td(&t, "vcpu 0\nshutdown\n");
    g_assert_cmpint(sim_gmem_fallocate(t.gmem, 0, 0, 4096), ==, -EOPNOTSUPP);
    g_assert_cmpint(sim_gmem_fallocate(t.gmem, FALLOC_FL_PUNCH_HOLE, 0, 4096),
                    ==, -EOPNOTSUPP);
    g_assert_cmpint(sim_gmem_fallocate(t.gmem, FALLOC_FL_KEEP_SIZE |
                                       FALLOC_FL_ZERO_RANGE, 0, 4096), ==,
                    -EOPNOTSUPP);
    g_assert_cmpint(sim_gmem_fallocate(t.gmem, FALLOC_FL_KEEP_SIZE, 0x800,
                                       4096), ==, -EINVAL);
    g_assert_cmpint(sim_gmem_fallocate(t.gmem, FALLOC_FL_KEEP_SIZE, 16 * MB,
                                       4096), ==, -EINVAL);
    g_assert_cmpint(sim_gmem_fallocate(t.gmem, FALLOC_FL_KEEP_SIZE, 0, 4096),
                    ==, 0);
    g_assert_cmpint(sim_gmem_fallocate(t.gmem, FALLOC_FL_KEEP_SIZE |
                                       FALLOC_FL_PUNCH_HOLE, 0, 4096), ==, 0);
    g_assert_cmpint(sim_gmem_mmap_check(t.gmem, MAP_SHARED), ==, -ENODEV);
    gm.flags = GUEST_MEMFD_FLAG_INIT_SHARED;
    g_assert_cmpint(sim_ioctl(t.vm_fd, KVM_CREATE_GUEST_MEMFD, &gm), ==, -1);
    g_assert_cmpint(errno, ==, EINVAL);
    gm.flags = GUEST_MEMFD_FLAG_MMAP;
    mm = sim_ioctl(t.vm_fd, KVM_CREATE_GUEST_MEMFD, &gm);
    g_assert_cmpint(mm, >=, 0);
    g_assert_cmpint(sim_gmem_mmap_check(mm, MAP_PRIVATE), ==, -EINVAL);
    g_assert_cmpint(sim_gmem_mmap_check(mm, MAP_SHARED), ==, 0);
    sim_close(mm);
    mini_td_close(&t);
}

/*
 * VM destruction in mirror mode.  linux-7.2-release (default): each
 * guest_memfd's release zaps its private leaves with the HKID still
 * assigned (BLOCK, TRACK, REMOVE, WBINVD per 4K page), then
 * tdx_mmu_release_hkid() (VP.FLUSH .. KEY.FREEID), then RECLAIM of the
 * vCPU, S-EPT and control pages.  key-release-first (TERMINATE_VM's
 * order): FREEID first, then a RECLAIM per private page, no BLOCK, TRACK,
 * REMOVE or per-page WBINVD.  The TDX module model refuses REMOVE after
 * FREEID and RECLAIM before it, so each order is checked by the module too.
 */
static void teardown_order(int variant)
{
    enum { LINUX72, LINUX72_GMEM_FIRST, KEY_FIRST };
    struct kvm_pre_fault_memory pf = { .gpa = 0x400000, .size = 64 * 4096 };
    const struct tdx_counters *c = tdxmod_counters(sim.mod);
    struct tdx_counters c0;
    struct mini_td t;
    uint64_t sept_pages;
    uint64_t owned = tdxmod_pages_owned(sim.mod);

#define D(leaf) (c->seamcalls[leaf] - c0.seamcalls[leaf])
    sim.teardown_key_first = variant == KEY_FIRST;
    mini_td(&t, "vcpu 0\nshutdown\n");
    g_assert_cmpint(sim_ioctl(t.vcpu_fd, KVM_PRE_FAULT_MEMORY, &pf), ==, 0);
    g_assert_cmpuint(tdx_td_leaves(t.vm->td, TDX_LEVEL_4K), ==, 64);
    sept_pages = g_hash_table_size(t.vm->mirror);
    g_assert_cmpuint(sept_pages, ==, 3);        /* PDPT, PD, PT (4-level) */
    c0 = *c;
    g_assert_cmpstr(sim_teardown_order_name(t.vm), ==,
                    variant == KEY_FIRST ? "key-release-first"
                                         : "linux-7.2-release");
    munmap(t.run, 2 * 4096);
    if (variant != LINUX72_GMEM_FIRST) {
        /*
         * QEMU's exit: it closes none of the fds, the process exit
         * releases them all (sim_fini() does the same).
         */
        sim_tdx_destroy(t.vm);
    } else {
        /* kvm_gmem_release() while the VM lives: the leaves go now. */
        sim_close(t.gmem);
        g_assert_false(t.vm->destroyed);
        g_assert_cmpuint(tdx_td_leaves(t.vm->td, TDX_LEVEL_4K), ==, 0);
        g_assert_cmpuint(D(TDH_MEM_PAGE_REMOVE), ==, 64);
        g_assert_cmpuint(D(TDH_MNG_KEY_FREEID), ==, 0);
        /* The VM fd and the vCPU fd hold it; the last close destroys. */
        sim_close(t.vcpu_fd);
        g_assert_false(t.vm->destroyed);
        sim_close(t.vm_fd);
    }
    g_assert_true(t.vm->destroyed);
    g_assert_true(t.vm->torn_down);
    g_assert_cmpuint(t.vm->stats.invariant_violations, ==, 0);
    g_assert_cmpuint(t.vm->leaks, ==, 0);
    /* Earlier tests leak on purpose (KVM_BUG_ON): none of it is ours. */
    g_assert_cmpuint(tdxmod_pages_owned(sim.mod), ==, owned);
    g_assert_cmpuint(D(TDH_VP_FLUSH), ==, 1);
    g_assert_cmpuint(D(TDH_MNG_VPFLUSHDONE), ==, 1);
    g_assert_cmpuint(D(TDH_PHYMEM_CACHE_WB), ==, 1);
    g_assert_cmpuint(D(TDH_MNG_KEY_FREEID), ==, 1);
    if (variant == KEY_FIRST) {
        g_assert_cmpuint(D(TDH_MEM_RANGE_BLOCK), ==, 0);
        g_assert_cmpuint(D(TDH_MEM_TRACK), ==, 0);
        g_assert_cmpuint(D(TDH_MEM_PAGE_REMOVE), ==, 0);
        g_assert_cmpuint(D(TDH_PHYMEM_PAGE_WBINVD), ==, 1);     /* TDR */
        /* 64 private, 3 S-EPT, 5 TDCX + TDVPR, 4 TDCS, TDR */
        g_assert_cmpuint(D(TDH_PHYMEM_PAGE_RECLAIM), ==,
                         64 + sept_pages + 6 + 4 + 1);
    } else {
        g_assert_cmpuint(D(TDH_MEM_RANGE_BLOCK), ==, 64);
        g_assert_cmpuint(D(TDH_MEM_TRACK), ==, 64);
        g_assert_cmpuint(D(TDH_MEM_PAGE_REMOVE), ==, 64);
        g_assert_cmpuint(D(TDH_PHYMEM_PAGE_WBINVD), ==, 64 + 1);
        g_assert_cmpuint(D(TDH_PHYMEM_PAGE_RECLAIM), ==,
                         sept_pages + 6 + 4 + 1);
    }
    g_assert_cmpuint(c->failed[TDH_PHYMEM_PAGE_RECLAIM], ==,
                     c0.failed[TDH_PHYMEM_PAGE_RECLAIM]);
    g_assert_cmpuint(c->failed[TDH_MEM_PAGE_REMOVE], ==,
                     c0.failed[TDH_MEM_PAGE_REMOVE]);
#undef D
    if (variant != LINUX72_GMEM_FIRST) {
        sim_close(t.vcpu_fd);
        sim_close(t.vm_fd);
        sim_close(t.gmem);
    }
    sim.teardown_key_first = false;
}

static void test_teardown_linux72(void)
{
    teardown_order(0);
    teardown_order(1);
}

static void test_teardown_key_first(void)
{
    teardown_order(2);
}

int main(int argc, char **argv)
{
    g_autofree char *trace = g_strdup("/tmp/tdxsim-test-kvm-XXXXXX");
    int fd = g_mkstemp(trace);
    static const char text[] =
        "vcpu 0\n"
        "accept 0x600000 8K\n"
        "mapgpa shared 0x200000 3M expect=ok\n"
        "accept 0x200000 4K\n"
        "access private 0x200000\n"
        "mapgpa private 0x1001 0x1000 expect=align\n"
        "mapgpa private 0x600000 4K expect=invalid\n"
        "shutdown\n";
    int ret;

    g_assert_cmpint(write(fd, text, sizeof(text) - 1), ==, sizeof(text) - 1);
    close(fd);
    g_setenv("TDXSIM_TRACE", trace, TRUE);
    g_setenv("TDXSIM_CHECK_EVERY", "1", TRUE);
    g_setenv("TDXSIM_FAIL_EXIT_MS", "0", TRUE);
    g_unsetenv("TDXSIM_INJECT");
    g_unsetenv("TDXSIM_REPORT");
    tdxsim_init();

    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/kvm/bringup", test_bringup);
    g_test_add_func("/kvm/run", test_run);
    g_test_add_func("/kvm/teardown", test_teardown);
    g_test_add_func("/kvm/access-before-accept", test_access_before_accept);
    g_test_add_func("/kvm/accept-twice-panics", test_accept_twice);
    g_test_add_func("/kvm/livelock-fails-run", test_livelock);
    g_test_add_func("/kvm/kick-after-track", test_kick_after_track);
    g_test_add_func("/kvm/zap-block-warning-bug", test_zap_block_warning_bug);
    g_test_add_func("/kvm/zap-busy-retried-once", test_zap_busy_retried_once);
    g_test_add_func("/kvm/parallel-faults", test_parallel_faults);
    g_test_add_func("/kvm/driver-park-observed", test_driver_park_observed);
    g_test_add_func("/kvm/guest-memfd-file", test_gmem_file);
    g_test_add_func("/kvm/teardown-linux-7.2-release", test_teardown_linux72);
    g_test_add_func("/kvm/teardown-key-release-first",
                    test_teardown_key_first);
    g_test_add_func("/kvm/irqchip", test_irqchip);
    ret = g_test_run();
    unlink(trace);
    return ret;
}
