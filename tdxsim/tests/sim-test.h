/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * tdxsim unit tests: helpers shared by the programs that drive the fake
 * KVM directly.
 */
#ifndef TDXSIM_TESTS_SIM_TEST_H
#define TDXSIM_TESTS_SIM_TEST_H

#include "kvm.h"
#include "tdxsim.h"

/*
 * KVM_SET_CPUID2 of a TD vCPU as QEMU gives it before KVM_TDX_INIT_VCPU
 * (Linux 7.2 tdx_vcpu_init() needs x2APIC): x2APIC, MAXPHYADDR 48.
 */
static inline int set_td_cpuid(int fd)
{
    struct {
        struct kvm_cpuid2 c;
        struct kvm_cpuid_entry2 e[3];
    } cpuid = {
        .c.nent = 3,
        .e = {
            { .function = 1, .ecx = 1u << 21 },
            { .function = 0x80000000, .eax = 0x80000008 },
            { .function = 0x80000008, .eax = (48 << 8) | 48 },
        },
    };

    return sim_ioctl(fd, KVM_SET_CPUID2, &cpuid);
}

/*
 * KVM_TDX_INIT_VM as QEMU's smallest TD gives it: SEPT_VE_DISABLE, @xfam,
 * GPAW 48 (the shared bit is GPA bit 47).  0 or -errno; *@hw (if not
 * NULL) the hw_error KVM reported.
 */
static inline int sim_test_init_td(int vm_fd, uint64_t xfam, uint64_t *hw)
{
    g_autofree struct kvm_tdx_init_vm *init =
        g_malloc0(sizeof(*init) + sizeof(struct kvm_cpuid_entry2));
    struct kvm_tdx_cmd cmd = {
        .id = KVM_TDX_INIT_VM, .data = (uintptr_t)init,
    };
    int r;

    init->attributes = 1ULL << 28;
    init->xfam = xfam;
    init->cpuid.nent = 1;
    init->cpuid.entries[0].function = 0x80000008;
    init->cpuid.entries[0].eax = (48 << 16) | 48;
    r = sim_ioctl(vm_fd, KVM_MEMORY_ENCRYPT_OP, &cmd);
    if (hw) {
        *hw = cmd.hw_error;
    }
    return r < 0 ? -errno : r;
}

/*
 * The start of a program that drives the fake KVM: the structural
 * self-check after every operation, failed runs that end nothing, and none
 * of the environment's traces, faults, reports or test hooks; the
 * simulator set up.  Returns the fd of its KVM device.
 */
static inline int sim_test_start(void)
{
    static const char *const unset[] = {
        "TDXSIM_TRACE", "TDXSIM_INJECT", "TDXSIM_REPORT",
        "TDXSIM_NO_CAP_IPC_LOCK", "TDXSIM_HIDE_CAPS",
    };
    int fd;

    g_setenv("TDXSIM_CHECK_EVERY", "1", TRUE);
    g_setenv("TDXSIM_FAIL_EXIT_MS", "0", TRUE);
    for (size_t i = 0; i < G_N_ELEMENTS(unset); i++) {
        g_unsetenv(unset[i]);
    }
    tdxsim_init();
    fd = sim_open_device(0);
    g_assert_cmpint(fd, >=, 0);
    return fd;
}

#endif
