// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * tdxsim unit test: refusals of Linux 7.2's KVM and of the TDX module 1.5
 * around a TD's creation, each in both directions (what they refuse is
 * refused with their errno / status, what they accept is accepted):
 * TDH.MR.FINALIZE without an initialised vCPU, KVM_TDX_INIT_VCPU without
 * x2APIC, KVM_PRE_FAULT_MEMORY before FINALIZE, MapGPA's legal GPAs (the
 * vCPU's MAXPHYADDR), TDH.MNG.INIT's checks of TD_PARAMS (TSC frequency,
 * XFAM, MAX_VCPUS) and KVM_SET_TSC_KHZ.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <glib.h>

#include "kvm.h"
#include "mapgpa.h"
#include "tests/sim-test.h"
#include "tdxsim.h"

#define MB (1ULL << 20)
#define X2APIC (1u << 21)           /* CPUID 1 ECX */
#define XFAM_AVX512 0xe0ULL         /* opmask, ZMM_Hi256, Hi16_ZMM */

static int sys_fd;

/* A TD under construction: VM fd, at most one vCPU, a 16 MiB slot. */
struct td {
    int vm_fd, vcpu_fd, gmem;
    struct kvm_run *run;
    struct sim_vm *vm;
};

/* KVM_MEMORY_ENCRYPT_OP: -errno or 0; *hw the hw_error written back. */
static int tdx_op(int fd, uint32_t id, void *data, uint64_t *hw)
{
    struct kvm_tdx_cmd cmd = { .id = id, .data = (uintptr_t)data };
    int r = sim_ioctl(fd, KVM_MEMORY_ENCRYPT_OP, &cmd);

    if (hw) {
        *hw = cmd.hw_error;
    }
    return r < 0 ? -errno : r;
}

static int ioctl_err(int fd, unsigned long req, void *arg)
{
    int r = sim_ioctl(fd, req, arg);

    return r < 0 ? -errno : r;
}

/* A TD VM (trace: the guest's, NULL for none) with a split irqchip. */
static void td_create(struct td *t, const char *trace)
{
    g_autofree char *path = g_strdup("/tmp/tdxsim-test-rules-XXXXXX");
    struct kvm_enable_cap hc = { .cap = KVM_CAP_EXIT_HYPERCALL,
                                 .args[0] = 1ULL << 12 };
    struct kvm_enable_cap split = { .cap = KVM_CAP_SPLIT_IRQCHIP,
                                    .args[0] = 24 };

    memset(t, 0, sizeof(*t));
    t->vcpu_fd = t->gmem = -1;
    if (trace) {
        int fd = g_mkstemp(path);

        g_assert_cmpint(write(fd, trace, strlen(trace)), ==, strlen(trace));
        close(fd);
        g_setenv("TDXSIM_TRACE", path, TRUE);
    }
    t->vm_fd = sim_ioctl(sys_fd, KVM_CREATE_VM, (void *)5L);
    g_assert_cmpint(t->vm_fd, >=, 0);
    t->vm = sim.vms->pdata[sim.vms->len - 1];
    if (trace) {
        g_unsetenv("TDXSIM_TRACE");
        unlink(path);
    }
    g_assert_cmpint(sim_ioctl(t->vm_fd, KVM_ENABLE_CAP, &hc), ==, 0);
    g_assert_cmpint(sim_ioctl(t->vm_fd, KVM_ENABLE_CAP, &split), ==, 0);
}

/* KVM_TDX_INIT_VM with GPAW 48 and xfam: -errno or 0, *hw hw_error. */
static int td_init_vm(struct td *t, uint64_t xfam, uint64_t *hw)
{
    return sim_test_init_td(t->vm_fd, xfam, hw);
}

/* 16 MiB of guest_memfd at GPA 0, all private. */
static void td_memory(struct td *t)
{
    struct kvm_create_guest_memfd gm = { .size = 16 * MB };
    struct kvm_userspace_memory_region2 slot = {
        .slot = 0, .flags = KVM_MEM_GUEST_MEMFD, .memory_size = 16 * MB,
    };
    struct kvm_memory_attributes a = {
        .size = 16 * MB, .attributes = KVM_MEMORY_ATTRIBUTE_PRIVATE,
    };

    t->gmem = sim_ioctl(t->vm_fd, KVM_CREATE_GUEST_MEMFD, &gm);
    g_assert_cmpint(t->gmem, >=, 0);
    slot.guest_memfd = t->gmem;
    g_assert_cmpint(sim_ioctl(t->vm_fd, KVM_SET_USER_MEMORY_REGION2, &slot),
                    ==, 0);
    g_assert_cmpint(sim_ioctl(t->vm_fd, KVM_SET_MEMORY_ATTRIBUTES, &a), ==,
                    0);
}

/*
 * KVM_SET_CPUID2 with CPUID 1 ECX = ecx and, when maxphyaddr is not 0,
 * 0x80000000 (max 0x80000008) and 0x80000008 EAX = vaddr << 8 |
 * maxphyaddr.  -errno or 0.
 */
static int set_cpuid(int vcpu_fd, uint32_t ecx, unsigned maxphyaddr,
                     unsigned vaddr)
{
    struct {
        struct kvm_cpuid2 c;
        struct kvm_cpuid_entry2 e[3];
    } cpuid = {
        .c.nent = maxphyaddr ? 3 : 1,
        .e = {
            { .function = 1, .ecx = ecx },
            { .function = 0x80000000, .eax = 0x80000008 },
            { .function = 0x80000008, .eax = (vaddr << 8) | maxphyaddr },
        },
    };

    return ioctl_err(vcpu_fd, KVM_SET_CPUID2, &cpuid);
}

/* A vCPU (id 0) and its kvm_run page. */
static void td_vcpu(struct td *t)
{
    t->vcpu_fd = sim_ioctl(t->vm_fd, KVM_CREATE_VCPU, (void *)0L);
    g_assert_cmpint(t->vcpu_fd, >=, 0);
    t->run = mmap(NULL, 2 * 4096, PROT_READ | PROT_WRITE, MAP_SHARED,
                  t->vcpu_fd, 0);
    g_assert_true(t->run != MAP_FAILED);
}

static void td_close(struct td *t)
{
    if (t->run) {
        munmap(t->run, 2 * 4096);
    }
    if (t->vcpu_fd >= 0) {
        sim_close(t->vcpu_fd);
    }
    sim_close(t->vm_fd);
    if (t->gmem >= 0) {
        sim_close(t->gmem);
    }
    g_assert_true(t->vm->destroyed);
    g_assert_cmpuint(t->vm->leaks, ==, 0);
    g_assert_cmpuint(tdxmod_pages_owned(sim.mod), ==, 0);
}

/*
 * TDH.MR.FINALIZE needs a vCPU the module initialised (module 1.5
 * tdh_mr_finalize.c: TDCS.NUM_VCPUS == 0 -> TDX_NO_VCPUS, counted by
 * TDH.VP.INIT only).  Linux 7.2 tdx_td_finalize() has no check of its own:
 * hw_error = the status, TDX_BUG_ON -> -EIO and the VM is dead.  Without
 * any vCPU, with one created but never KVM_TDX_INIT_VCPU'd; with one
 * initialised FINALIZE succeeds.
 */
/*
 * Linux 7.2 tdx_sept_remove_leaf_spte() blocks every leaf it removes, also
 * before FINALIZE (a page added by INIT_MEM_REGION and made shared again);
 * only tdx_track() is skipped then ("it's before any vcpu running").
 */
static void test_zap_blocks_before_finalize(void)
{
    const struct tdx_counters *c = tdxmod_counters(sim.mod);
    struct kvm_tdx_init_mem_region region = { .gpa = 0x800000,
                                              .nr_pages = 1 };
    struct kvm_memory_attributes shared = { .address = 0x800000,
                                            .size = 4096 };
    struct tdx_counters c0;
    struct td t;
    void *src;

    td_create(&t, NULL);
    g_assert_cmpint(td_init_vm(&t, 0x3, NULL), ==, 0);
    td_memory(&t);
    td_vcpu(&t);
    g_assert_cmpint(set_cpuid(t.vcpu_fd, X2APIC, 48, 48), ==, 0);
    g_assert_cmpint(tdx_op(t.vcpu_fd, KVM_TDX_INIT_VCPU, (void *)1L, NULL),
                    ==, 0);
    src = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
               MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    g_assert_true(src != MAP_FAILED);
    region.source_addr = (uintptr_t)src;
    g_assert_cmpint(tdx_op(t.vcpu_fd, KVM_TDX_INIT_MEM_REGION, &region, NULL),
                    ==, 0);
    g_assert_cmpuint(tdx_td_leaves(t.vm->td, TDX_LEVEL_4K), ==, 1);
    c0 = *c;
    g_assert_cmpint(ioctl_err(t.vm_fd, KVM_SET_MEMORY_ATTRIBUTES, &shared),
                    ==, 0);
    g_assert_cmpuint(c->seamcalls[TDH_MEM_RANGE_BLOCK] -
                     c0.seamcalls[TDH_MEM_RANGE_BLOCK], ==, 1);
    g_assert_cmpuint(c->seamcalls[TDH_MEM_TRACK] -
                     c0.seamcalls[TDH_MEM_TRACK], ==, 0);
    g_assert_cmpuint(c->seamcalls[TDH_MEM_PAGE_REMOVE] -
                     c0.seamcalls[TDH_MEM_PAGE_REMOVE], ==, 1);
    g_assert_cmpuint(tdx_td_leaves(t.vm->td, TDX_LEVEL_4K), ==, 0);
    g_assert_false(t.vm->bugged);
    g_assert_cmpuint(t.vm->stats.invariant_violations, ==, 0);
    g_assert_cmpuint(t.vm->stats.removal_leaks, ==, 0);
    munmap(src, 4096);
    td_close(&t);
}

static void test_finalize_no_vcpu(void)
{
    for (int variant = 0; variant < 3; variant++) {
        struct td t;
        uint64_t hw = 0xdead;

        td_create(&t, NULL);
        g_assert_cmpint(td_init_vm(&t, 0x3, NULL), ==, 0);
        td_memory(&t);
        if (variant >= 1) {
            td_vcpu(&t);
            g_assert_cmpint(set_cpuid(t.vcpu_fd, X2APIC, 48, 48), ==, 0);
        }
        if (variant == 2) {
            g_assert_cmpint(tdx_op(t.vcpu_fd, KVM_TDX_INIT_VCPU, (void *)1L,
                                   NULL), ==, 0);
            g_assert_cmpint(tdx_op(t.vm_fd, KVM_TDX_FINALIZE_VM, NULL, &hw),
                            ==, 0);
            g_assert_cmphex(hw, ==, 0);
            g_assert_false(t.vm->bugged);
            g_assert_cmpuint(t.vm->stats.invariant_violations, ==, 0);
        } else {
            g_assert_cmpint(tdx_op(t.vm_fd, KVM_TDX_FINALIZE_VM, NULL, &hw),
                            ==, -EIO);
            g_assert_cmphex(hw, ==, TDX_NO_VCPUS);
            g_assert_true(t.vm->bugged);
            /* TDX_BUG_ON: a WARN on the host, counted as a violation */
            g_assert_cmpuint(t.vm->stats.invariant_violations, ==, 1);
            /* kvm_vm_bugged(): every later VM ioctl -EIO */
            g_assert_cmpint(tdx_op(t.vm_fd, KVM_TDX_FINALIZE_VM, NULL, NULL),
                            ==, -EIO);
            g_assert_cmpint(tdx_td_state(t.vm->td), ==, TD_STATE_BUILD);
        }
        td_close(&t);
    }
}

/*
 * Linux 7.2 tdx_vcpu_init(): the x2APIC base goes through
 * kvm_apic_set_base(), which refuses X2APIC_ENABLE when the vCPU's CPUID
 * (KVM_SET_CPUID2) lacks x2APIC, and a base above its MAXPHYADDR: -EINVAL
 * before any SEAMCALL.  With x2APIC (with or without 0x80000008, whose
 * absence means MAXPHYADDR 36) the vCPU is initialised.
 */
static void test_init_vcpu_x2apic(void)
{
    const struct tdx_counters *c = tdxmod_counters(sim.mod);
    struct td t;
    uint64_t creates;

    td_create(&t, NULL);
    g_assert_cmpint(td_init_vm(&t, 0x3, NULL), ==, 0);
    td_vcpu(&t);
    creates = c->seamcalls[TDH_VP_CREATE];
    /* no KVM_SET_CPUID2 at all */
    g_assert_cmpint(tdx_op(t.vcpu_fd, KVM_TDX_INIT_VCPU, (void *)1L, NULL),
                    ==, -EINVAL);
    /* a CPUID without x2APIC */
    g_assert_cmpint(set_cpuid(t.vcpu_fd, 0, 48, 48), ==, 0);
    g_assert_cmpint(tdx_op(t.vcpu_fd, KVM_TDX_INIT_VCPU, (void *)1L, NULL),
                    ==, -EINVAL);
    /* x2APIC, but 0xfee00000 is beyond a 31-bit MAXPHYADDR */
    g_assert_cmpint(set_cpuid(t.vcpu_fd, X2APIC, 31, 48), ==, 0);
    g_assert_cmpint(tdx_op(t.vcpu_fd, KVM_TDX_INIT_VCPU, (void *)1L, NULL),
                    ==, -EINVAL);
    g_assert_cmpuint(c->seamcalls[TDH_VP_CREATE], ==, creates);
    g_assert_false(t.vm->vcpus[0]->tdx_initialized);
    /* kvm_check_cpuid(): linear address bits 48, 57 or 0 */
    g_assert_cmpint(set_cpuid(t.vcpu_fd, X2APIC, 48, 40), ==, -EINVAL);
    g_assert_cmpint(set_cpuid(t.vcpu_fd, X2APIC, 48, 57), ==, 0);
    g_assert_cmpint(set_cpuid(t.vcpu_fd, X2APIC, 48, 0), ==, 0);
    /* x2APIC without leaf 0x80000008: MAXPHYADDR 36, accepted */
    g_assert_cmpint(set_cpuid(t.vcpu_fd, X2APIC, 0, 0), ==, 0);
    g_assert_cmpuint(t.vm->vcpus[0]->maxphyaddr, ==, 36);
    g_assert_cmpint(tdx_op(t.vcpu_fd, KVM_TDX_INIT_VCPU, (void *)1L, NULL),
                    ==, 0);
    g_assert_cmpuint(c->seamcalls[TDH_VP_CREATE], ==, creates + 1);
    g_assert_cmpint(tdx_op(t.vcpu_fd, KVM_TDX_INIT_VCPU, (void *)1L, NULL),
                    ==, -EINVAL);
    td_close(&t);
}

/*
 * Linux 7.2 mmu.c kvm_arch_vcpu_pre_fault_memory(): -EOPNOTSUPP while
 * kvm->arch.pre_fault_allowed is false, i.e. for a TD until
 * tdx_td_finalize(); the generic checks of kvm_vcpu_pre_fault_memory()
 * (flags, alignment: -EINVAL) come first.  After FINALIZE it maps.
 */
static void test_pre_fault_before_finalize(void)
{
    struct kvm_pre_fault_memory pf = { .gpa = 0x400000, .size = 4096 };
    struct kvm_pre_fault_memory bad = { .gpa = 0x400000, .size = 4096,
                                        .flags = 1 };
    struct td t;

    td_create(&t, NULL);
    g_assert_cmpint(td_init_vm(&t, 0x3, NULL), ==, 0);
    td_memory(&t);
    td_vcpu(&t);
    g_assert_cmpint(set_cpuid(t.vcpu_fd, X2APIC, 48, 48), ==, 0);
    g_assert_cmpint(tdx_op(t.vcpu_fd, KVM_TDX_INIT_VCPU, (void *)1L, NULL),
                    ==, 0);
    g_assert_cmpint(ioctl_err(t.vcpu_fd, KVM_PRE_FAULT_MEMORY, &bad), ==,
                    -EINVAL);
    g_assert_cmpint(ioctl_err(t.vcpu_fd, KVM_PRE_FAULT_MEMORY, &pf), ==,
                    -EOPNOTSUPP);
    g_assert_cmpuint(pf.size, ==, 4096);
    g_assert_cmpuint(tdx_td_leaves(t.vm->td, TDX_LEVEL_4K), ==, 0);
    g_assert_cmpint(tdx_op(t.vm_fd, KVM_TDX_FINALIZE_VM, NULL, NULL), ==, 0);
    g_assert_cmpint(ioctl_err(t.vcpu_fd, KVM_PRE_FAULT_MEMORY, &pf), ==, 0);
    g_assert_cmpuint(pf.size, ==, 0);
    g_assert_cmpuint(tdx_td_leaves(t.vm->td, TDX_LEVEL_4K), ==, 1);
    td_close(&t);
}

/*
 * A finalized TD (GPAW 48, shared bit 47) whose vCPU's CPUID says
 * MAXPHYADDR maxphyaddr, playing trace; KVM_RUN until shutdown, each
 * MapGPA exit answered with userspace_ret.  Returns the exits' first
 * GPAs, ";"-separated.
 */
static char *mapgpa_run(struct td *t, unsigned maxphyaddr, const char *trace,
                        uint64_t userspace_ret)
{
    GString *exits = g_string_new("");
    int n = 0;

    td_create(t, trace);
    g_assert_cmpint(td_init_vm(t, 0x3, NULL), ==, 0);
    td_memory(t);
    td_vcpu(t);
    g_assert_cmpint(set_cpuid(t->vcpu_fd, X2APIC, maxphyaddr, 48), ==, 0);
    g_assert_cmpint(tdx_op(t->vcpu_fd, KVM_TDX_INIT_VCPU, (void *)1L, NULL),
                    ==, 0);
    g_assert_cmpint(tdx_op(t->vm_fd, KVM_TDX_FINALIZE_VM, NULL, NULL), ==, 0);
    for (;;) {
        g_assert_cmpint(sim_ioctl(t->vcpu_fd, KVM_RUN, NULL), ==, 0);
        g_assert_cmpint(++n, <, 100);
        if (t->run->exit_reason == KVM_EXIT_SYSTEM_EVENT) {
            break;
        }
        g_assert_cmpuint(t->run->exit_reason, ==, KVM_EXIT_HYPERCALL);
        g_string_append_printf(exits, "0x%" PRIx64 ";",
                               (uint64_t)t->run->hypercall.args[0]);
        t->run->hypercall.ret = userspace_ret;
    }
    return g_string_free(exits, FALSE);
}

/*
 * Linux 7.2 tdx_map_gpa(): kvm_vcpu_is_legal_gpa() on the first and last
 * byte, i.e. below the vCPU's MAXPHYADDR (cpuid.c
 * cpuid_query_maxphyaddr(): CPUID 0x80000008 EAX[7:0] of its
 * KVM_SET_CPUID2), not the host's address width nor the TD's GPAW.
 * MAXPHYADDR 52: a private GPA at 2^48 goes to userspace; MAXPHYADDR 40:
 * any shared GPA (bit 47) is INVALID_OPERAND from KVM, without an exit,
 * while a private one below 2^40 still exits.
 */
static void test_mapgpa_maxphyaddr(void)
{
    struct td t;
    g_autofree char *exits52 = NULL, *exits40 = NULL;

    exits52 = mapgpa_run(&t, 52, "vcpu 0\n"
                         "mapgpa private 0x1000000000000 4K expect=invalid\n"
                         "shutdown\n", EINVAL);
    g_assert_cmpstr(exits52, ==, "0x1000000000000;");
    g_assert_cmpuint(t.vm->stats.mapgpa_invalid, ==, 0);
    g_assert_cmpuint(t.vm->stats.mapgpa_user_error, ==, 1);
    g_assert_cmpuint(t.vm->stats.expect_failures, ==, 0);
    td_close(&t);

    exits40 = mapgpa_run(&t, 40, "vcpu 0\n"
                         "mapgpa shared 0x200000 4K expect=invalid\n"
                         "mapgpa private 0x200000 4K expect=ok\n"
                         "shutdown\n", 0);
    g_assert_cmpstr(exits40, ==, "0x200000;");
    g_assert_cmpuint(t.vm->stats.mapgpa_invalid, ==, 1);
    g_assert_cmpuint(t.vm->stats.expect_failures, ==, 0);
    td_close(&t);
}

/*
 * Linux 7.2 tdx_complete_vmcall_map_gpa(): userspace answers a MapGPA exit
 * with hypercall.ret 0, EINVAL or EAGAIN; anything else is "return
 * -EINVAL" (with a WARN if it is another valid KVM_HC_MAP_GPA_RANGE
 * return), and x86.c kvm_arch_vcpu_ioctl_run() returns it from KVM_RUN
 * before entering the guest: no TDVMCALL status reaches the guest, nothing
 * is answered INVALID_OPERAND.  The simulator counts it as a violation (a
 * VMM bug).  The integration path: KVM_RUN, the exit, the bad answer, the
 * next KVM_RUN.
 */
static void test_mapgpa_bad_ret(void)
{
    static const uint64_t bad[] = { ENOMEM, 1, (uint64_t)-EINVAL };

    for (unsigned i = 0; i < G_N_ELEMENTS(bad); i++) {
        struct td t;

        td_create(&t, "vcpu 0\n"
                  "mapgpa shared 0x200000 4K expect=ok\n"
                  "shutdown\n");
        g_assert_cmpint(td_init_vm(&t, 0x3, NULL), ==, 0);
        td_memory(&t);
        td_vcpu(&t);
        g_assert_cmpint(set_cpuid(t.vcpu_fd, X2APIC, 48, 48), ==, 0);
        g_assert_cmpint(tdx_op(t.vcpu_fd, KVM_TDX_INIT_VCPU, (void *)1L,
                               NULL), ==, 0);
        g_assert_cmpint(tdx_op(t.vm_fd, KVM_TDX_FINALIZE_VM, NULL, NULL), ==,
                        0);
        g_assert_cmpint(sim_ioctl(t.vcpu_fd, KVM_RUN, NULL), ==, 0);
        g_assert_cmpuint(t.run->exit_reason, ==, KVM_EXIT_HYPERCALL);
        g_assert_cmpuint(t.run->hypercall.nr, ==, KVM_HC_MAP_GPA_RANGE_NR);
        g_assert_cmphex(t.run->hypercall.args[0], ==, 0x200000);
        t.run->hypercall.ret = bad[i];
        g_assert_cmpint(ioctl_err(t.vcpu_fd, KVM_RUN, NULL), ==, -EINVAL);
        g_assert_cmpuint(t.vm->stats.mapgpa_user_error, ==, 0);
        g_assert_cmpuint(t.vm->stats.mapgpa_retry, ==, 0);
        g_assert_cmpuint(t.vm->stats.invariant_violations, ==, 1);
        td_close(&t);
    }
}

/*
 * TD_PARAMS.TSC_FREQUENCY = default_tsc_khz / 25000 (Linux 7.2
 * setup_tdparams()); the module wants 4..400 (module 1.5 tdh_mng_init.c,
 * VIRT_TSC_FREQUENCY_MIN/_MAX: 100 MHz .. 10 GHz), else OPERAND_INVALID |
 * TSC_FREQUENCY (70), which __tdx_td_init() returns as -EINVAL with the
 * status in hw_error; the TD is torn down, nothing leaks, the VM lives and
 * INIT_VM may be retried.  KVM_SET_TSC_KHZ itself (kvm_arch_vm_ioctl())
 * takes anything below 0x7fffffff kHz (max_guest_tsc_khz on VMX), and
 * nothing once a vCPU exists.
 */
static void test_init_vm_tsc(void)
{
    static const struct {
        uint32_t khz;
        bool ok;
    } cases[] = {
        { 99999, false }, { 100000, true }, { 10024999, true },
        { 10025000, false }, { 0, true },     /* 0: the host's 2.5 GHz */
    };
    const struct tdx_counters *c = tdxmod_counters(sim.mod);

    for (unsigned i = 0; i < G_N_ELEMENTS(cases); i++) {
        uint64_t failed = c->failed[TDH_MNG_INIT], owned;
        uint64_t hw = 0xdead;
        struct td t;

        td_create(&t, NULL);
        owned = tdxmod_pages_owned(sim.mod);
        g_assert_cmpint(ioctl_err(t.vm_fd, KVM_SET_TSC_KHZ,
                                  (void *)(uintptr_t)cases[i].khz), ==, 0);
        if (cases[i].ok) {
            g_assert_cmpint(td_init_vm(&t, 0x3, &hw), ==, 0);
            g_assert_cmphex(hw, ==, 0);
            g_assert_nonnull(t.vm->td);
            g_assert_cmpuint(c->failed[TDH_MNG_INIT], ==, failed);
        } else {
            g_assert_cmpint(td_init_vm(&t, 0x3, &hw), ==, -EINVAL);
            g_assert_cmphex(hw, ==, TDX_OPERAND_INVALID |
                                    TDX_OPERAND_ID_TSC_FREQUENCY);
            g_assert_cmpuint(c->failed[TDH_MNG_INIT], ==, failed + 1);
            g_assert_null(t.vm->td);
            g_assert_false(t.vm->bugged);
            g_assert_cmpuint(tdxmod_pages_owned(sim.mod), ==, owned);
            g_assert_cmpuint(t.vm->stats.invariant_violations, ==, 0);
            /* tdx_td_init() again, the TD still TD_STATE_UNINITIALIZED */
            g_assert_cmpint(ioctl_err(t.vm_fd, KVM_SET_TSC_KHZ,
                                      (void *)(uintptr_t)2000000), ==, 0);
            g_assert_cmpint(td_init_vm(&t, 0x3, &hw), ==, 0);
            g_assert_cmphex(hw, ==, 0);
        }
        /* no vCPU without INIT_VM; once one exists the TSC is fixed */
        td_vcpu(&t);
        g_assert_cmpint(ioctl_err(t.vm_fd, KVM_SET_TSC_KHZ,
                                  (void *)(uintptr_t)2000000), ==, -EINVAL);
        g_assert_cmpint(sim_ioctl(t.vcpu_fd, KVM_GET_TSC_KHZ, NULL), ==,
                        cases[i].ok ? (cases[i].khz ? cases[i].khz : 2500000)
                                    : 2000000);
        td_close(&t);
    }
    {
        struct td t;

        td_create(&t, NULL);
        g_assert_cmpint(ioctl_err(t.vm_fd, KVM_SET_TSC_KHZ,
                                  (void *)(uintptr_t)0x7fffffff), ==, -EINVAL);
        g_assert_cmpint(ioctl_err(t.vm_fd, KVM_SET_TSC_KHZ,
                                  (void *)(uintptr_t)0x7ffffffe), ==, 0);
        td_close(&t);
    }
}

/*
 * XFAM: KVM refuses bits outside KVM_TDX_CAPABILITIES' supported_xfam
 * itself (setup_tdparams(): -EINVAL, hw_error 0); the module refuses the
 * combinations check_xfam() forbids (module 1.5 helpers.c: the AVX-512
 * components together and with AVX, CET_U with CET_S, AMX's two
 * together): OPERAND_INVALID | XFAM (65), -EINVAL with hw_error.  Played
 * with whatever the host supports of AVX-512, CET and AMX.
 */
static void test_init_vm_xfam(void)
{
    static const struct {
        uint64_t need;          /* supported_xfam must have these */
        uint64_t xfam;
        bool ok;
    } cases[] = {
        { 0x4 | XFAM_AVX512, 0x7 | XFAM_AVX512, true },
        { 0x4 | XFAM_AVX512, 0x7 | 0x20, false },       /* opmask only */
        { 0x4 | XFAM_AVX512, 0x7 | 0x60, false },
        { XFAM_AVX512, 0x3 | XFAM_AVX512, false },      /* without AVX */
        { 0x1800, 0x3 | 0x1800, true },                 /* CET_U + CET_S */
        { 0x1800, 0x3 | 0x800, false },
        { 0x60000, 0x7 | 0x60000, true },               /* AMX */
        { 0x60000, 0x7 | 0x20000, false },
        { 0, 0x3, true },
        { 0, 0x1, true },       /* x87|SSE are xfam_fixed1: OR'ed in */
    };
    g_autofree struct kvm_tdx_capabilities *caps =
        g_malloc0(sizeof(*caps) + 64 * sizeof(struct kvm_cpuid_entry2));
    unsigned played = 0;
    uint64_t hw;
    struct td t;

    td_create(&t, NULL);
    caps->cpuid.nent = 64;
    g_assert_cmpint(tdx_op(t.vm_fd, KVM_TDX_CAPABILITIES, caps, NULL), ==, 0);
    /* Beyond supported_xfam: KVM's own -EINVAL, no SEAMCALL, hw_error 0. */
    g_assert_cmpint(td_init_vm(&t, 0x3 | (1ULL << 9) |
                               ~caps->supported_xfam, &hw), ==, -EINVAL);
    g_assert_cmphex(hw, ==, 0);
    g_assert_null(t.vm->td);
    td_close(&t);
    for (unsigned i = 0; i < G_N_ELEMENTS(cases); i++) {
        if ((cases[i].need & caps->supported_xfam) != cases[i].need) {
            continue;
        }
        played++;
        td_create(&t, NULL);
        hw = 0xdead;
        if (cases[i].ok) {
            g_assert_cmpint(td_init_vm(&t, cases[i].xfam, &hw), ==, 0);
            g_assert_cmphex(hw, ==, 0);
            g_assert_cmphex(t.vm->xfam, ==, cases[i].xfam | 0x3);
        } else {
            g_assert_cmpint(td_init_vm(&t, cases[i].xfam, &hw), ==, -EINVAL);
            g_assert_cmphex(hw, ==, TDX_OPERAND_INVALID | TDX_OPERAND_ID_XFAM);
            g_assert_null(t.vm->td);
        }
        td_close(&t);
    }
    g_test_message("%u of %zu XFAM cases playable on this host", played,
                   G_N_ELEMENTS(cases));
    g_assert_cmpuint(played, >=, 2);
}

/*
 * The module itself (tdxmod.h): TDH.MNG.INIT refuses MAX_VCPUS 0
 * (OPERAND_INVALID | MAX_VCPUS, 68) and a TSC frequency outside 4..400;
 * the TD is left uninitialised (no vCPU, no FINALIZE: OP_STATE_INCORRECT)
 * and tears down to nothing.  TDH.VP.INIT refuses a vCPU beyond
 * MAX_VCPUS (MAX_VCPUS_EXCEEDED).  Through Linux 7.2 MAX_VCPUS is
 * kvm->max_vcpus, never 0, and KVM_CREATE_VCPU stops at it first, so
 * these are the module's rules only.
 */
static void test_module_td_params(void)
{
    static const struct {
        uint16_t max_vcpus, tsc;
        uint64_t xfam;
        tdx_status_t status;
    } cases[] = {
        { 0, 100, 0x3, TDX_OPERAND_INVALID | TDX_OPERAND_ID_MAX_VCPUS },
        { 1, 3, 0x3, TDX_OPERAND_INVALID | TDX_OPERAND_ID_TSC_FREQUENCY },
        { 1, 401, 0x3, TDX_OPERAND_INVALID | TDX_OPERAND_ID_TSC_FREQUENCY },
        { 1, 4, 0x2, TDX_OPERAND_INVALID | TDX_OPERAND_ID_XFAM },
        { 0, 0, 0x7 | 0x20, TDX_OPERAND_INVALID | TDX_OPERAND_ID_XFAM },
        { 1, 4, 0x3, TDX_SUCCESS },
        { 1, 400, 0x7 | XFAM_AVX512, TDX_SUCCESS },
    };
    struct tdxmod *m = tdxmod_new(1);

    for (unsigned i = 0; i < G_N_ELEMENTS(cases); i++) {
        tdx_pfn_t tdr = 0x1000, tdcs[2] = { 0x1001, 0x1002 };
        tdx_pfn_t tdvpr[2] = { 0x2000, 0x2001 };
        struct tdx_td_params p = {
            .xfam = cases[i].xfam, .max_vcpus = cases[i].max_vcpus,
            .tsc_frequency = cases[i].tsc, .gpaw = 48,
        };
        struct tdx_td *td;

        g_assert_cmphex(tdx_td_create_params(m, tdr, tdcs, 2, &p, &td), ==,
                        cases[i].status);
        g_assert_nonnull(td);
        if (cases[i].status) {
            g_assert_cmpint(tdx_vp_create(td, tdvpr[0], NULL, 0), ==, -1);
            g_assert_cmphex(tdh_mr_finalize(td), ==, TDX_OP_STATE_INCORRECT);
        } else {
            g_assert_cmpint(tdx_vp_create(td, tdvpr[0], NULL, 0), ==, 0);
            /* MAX_VCPUS 1: the second VP.INIT is refused */
            g_assert_cmpint(tdx_vp_create(td, tdvpr[1], NULL, 0), ==, -1);
            g_assert_cmpuint(tdx_td_counters(td)->failed[TDH_VP_INIT], ==, 1);
            g_assert_cmpuint(tdxmod_page_type(m, tdvpr[1]), ==, PT_NDA);
            g_assert_cmphex(tdh_mr_finalize(td), ==, TDX_SUCCESS);
            g_assert_cmphex(tdh_vp_flush(td, 0), ==, TDX_SUCCESS);
        }
        /* tdx_mmu_release_hkid(), tdx_reclaim_td_control_pages() */
        g_assert_cmphex(tdh_mng_vpflushdone(td), ==, TDX_SUCCESS);
        g_assert_cmphex(tdh_phymem_cache_wb(td, false), ==, TDX_SUCCESS);
        g_assert_cmphex(tdh_mng_key_freeid(td), ==, TDX_SUCCESS);
        if (!cases[i].status) {
            g_assert_cmphex(tdh_phymem_page_reclaim(m, tdvpr[0]), ==, 0);
        }
        g_assert_cmphex(tdh_phymem_page_reclaim(m, tdcs[0]), ==, 0);
        g_assert_cmphex(tdh_phymem_page_reclaim(m, tdcs[1]), ==, 0);
        g_assert_cmphex(tdh_phymem_page_reclaim(m, tdr), ==, 0);
        g_assert_cmpuint(tdxmod_pages_owned(m), ==, 0);
    }
    tdxmod_free(m);
}

/* TDH.MR.FINALIZE in the module: NO_VCPUS until a VP.INIT. */
static void test_module_finalize_no_vcpus(void)
{
    struct tdxmod *m = tdxmod_new(1);
    tdx_pfn_t tdcs[1] = { 0x1001 };
    struct tdx_td *td = tdx_td_create(m, 0x1000, tdcs, 1, 48);

    g_assert_nonnull(td);
    g_assert_cmphex(tdh_mr_finalize(td), ==, TDX_NO_VCPUS);
    g_assert_cmpint(tdx_td_state(td), ==, TD_STATE_BUILD);
    g_assert_cmpint(tdx_vp_create(td, 0x2000, NULL, 0), ==, 0);
    g_assert_cmphex(tdh_mr_finalize(td), ==, TDX_SUCCESS);
    g_assert_cmpint(tdx_td_state(td), ==, TD_STATE_RUNNABLE);
    tdxmod_free(m);
}

int main(int argc, char **argv)
{
    sys_fd = sim_test_start();

    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/kvm-tdx-rules/finalize-no-vcpu", test_finalize_no_vcpu);
    g_test_add_func("/kvm-tdx-rules/zap-blocks-before-finalize",
                    test_zap_blocks_before_finalize);
    g_test_add_func("/kvm-tdx-rules/module-finalize-no-vcpus",
                    test_module_finalize_no_vcpus);
    g_test_add_func("/kvm-tdx-rules/init-vcpu-x2apic", test_init_vcpu_x2apic);
    g_test_add_func("/kvm-tdx-rules/pre-fault-before-finalize",
                    test_pre_fault_before_finalize);
    g_test_add_func("/kvm-tdx-rules/mapgpa-maxphyaddr",
                    test_mapgpa_maxphyaddr);
    g_test_add_func("/kvm-tdx-rules/mapgpa-bad-ret", test_mapgpa_bad_ret);
    g_test_add_func("/kvm-tdx-rules/init-vm-tsc", test_init_vm_tsc);
    g_test_add_func("/kvm-tdx-rules/init-vm-xfam", test_init_vm_xfam);
    g_test_add_func("/kvm-tdx-rules/module-td-params", test_module_td_params);
    return g_test_run();
}
