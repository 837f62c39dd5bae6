// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * tdxsim unit test: the fake KVM driven directly, without QEMU, the way
 * QEMU drives it: TD creation order and its errors, INIT_MEM_REGION,
 * FINALIZE, KVM_RUN with immediate_exit, MapGPA chunks answered by
 * "userspace", implicit conversion exits, lazy accept, shutdown and a
 * leak-free teardown (kvm*.c, guest.c).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <glib.h>

#include "kvm.h"
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

    /* No vCPU before INIT_VM. */
    g_assert_cmpint(sim_ioctl(vm_fd, KVM_CREATE_VCPU, (void *)0L), ==, -1);
    g_assert_cmpint(errno, ==, EIO);

    /* CAPABILITIES: too small a CPUID array gives E2BIG and the size. */
    caps = g_malloc0(sizeof(*caps) + 64 * sizeof(struct kvm_cpuid_entry2));
    caps->cpuid.nent = 1;
    g_assert_cmpint(tdx_op(vm_fd, KVM_TDX_CAPABILITIES, 0, caps), ==, -1);
    g_assert_cmpint(errno, ==, E2BIG);
    g_assert_cmpuint(caps->cpuid.nent, >, 1);
    g_assert_cmpint(tdx_op(vm_fd, KVM_TDX_CAPABILITIES, 0, caps), ==, 0);
    g_assert_true(caps->supported_attrs & (1ULL << 28));

    init = g_malloc0(sizeof(*init) + sizeof(struct kvm_cpuid_entry2));
    init->attributes = 1ULL << 28;
    init->xfam = 0x3;
    init->cpuid.nent = 1;
    init->cpuid.entries[0].function = 0x80000008;
    init->cpuid.entries[0].eax = (48 << 16) | 48;
    init->attributes = 1ULL << 1;       /* not supported */
    g_assert_cmpint(tdx_op(vm_fd, KVM_TDX_INIT_VM, 0, init), ==, -1);
    init->attributes = 1ULL << 28;
    g_assert_cmpint(tdx_op(vm_fd, KVM_TDX_INIT_VM, 0, init), ==, 0);
    g_assert_cmpint(tdx_op(vm_fd, KVM_TDX_INIT_VM, 0, init), ==, -1);
    g_assert_cmpint(errno, ==, EINVAL);

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
    munmap(src, 4 * 4096);
    g_assert_cmpuint(tdx_td_leaves(the_vm()->td, TDX_LEVEL_4K), ==, 4);
    g_assert_cmpuint(tdxmod_counters(sim.mod)->seamcalls[TDH_MR_EXTEND], ==,
                     64);

    g_assert_cmpint(tdx_op(vm_fd, KVM_TDX_FINALIZE_VM, 0, NULL), ==, 0);
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

    /* access private 0x200000: implicit conversion exit */
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
    run->hypercall.ret = 1;

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

int main(int argc, char **argv)
{
    g_autofree char *trace = g_strdup("/tmp/tdxsim-test-kvm-XXXXXX");
    int fd = g_mkstemp(trace);
    static const char text[] =
        "vcpu 0\n"
        "accept 0x600000 8K\n"
        "mapgpa shared 0x200000 3M expect=ok\n"
        "access private 0x200000\n"
        "mapgpa private 0x1001 0x1000 expect=align\n"
        "mapgpa private 0x600000 4K expect=invalid\n"
        "shutdown\n";
    int ret;

    g_assert_cmpint(write(fd, text, sizeof(text) - 1), ==, sizeof(text) - 1);
    close(fd);
    g_setenv("TDXSIM_TRACE", trace, TRUE);
    g_setenv("TDXSIM_CHECK_EVERY", "1", TRUE);
    g_unsetenv("TDXSIM_INJECT");
    g_unsetenv("TDXSIM_REPORT");
    sim_init();

    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/kvm/bringup", test_bringup);
    g_test_add_func("/kvm/run", test_run);
    g_test_add_func("/kvm/teardown", test_teardown);
    ret = g_test_run();
    unlink(trace);
    return ret;
}
