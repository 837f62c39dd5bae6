/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * tdxsim unit tests: helpers shared by the programs that drive the fake
 * KVM directly.
 */
#ifndef TDXSIM_TESTS_SIM_TEST_H
#define TDXSIM_TESTS_SIM_TEST_H

#include "kvm.h"

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

#endif
