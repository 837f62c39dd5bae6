// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * tdxsim: what the fake KVM advertises: capabilities (KVM_CHECK_EXTENSION,
 * KVM_ENABLE_CAP), the supported CPUID of a plausible TDX host built from
 * the real CPU (QEMU cross-checks it against the CPUID instruction), MSR
 * lists, and the TDX module's configurable CPUID/attributes/XFAM.
 */
#include <cpuid.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kvm.h"
#include "kvm-sept.h"

#define MAX_SUPPORTED_CPUID 256

/* Linux 7.2 arch/x86/kvm/vmx/tdx.c */
#define TDVMCALLINFO_SETUP_EVENT_NOTIFY_INTERRUPT (1ULL << 1)
#define CPUID_7_0_EBX_TSX           ((1u << 4) | (1u << 11))   /* HLE, RTM */
#define CPUID_7_0_ECX_WAITPKG       (1u << 5)
/* XFAM bits a TD may use: x87/SSE/AVX, AVX-512, PT, PKRU, CET, ULI, LBR,
 * AMX. */
#define TDX_XFAM_ALLOWED            0x6DBE7ULL

static void cpuid_raw(uint32_t leaf, uint32_t sub, uint32_t r[4])
{
    __cpuid_count(leaf, sub, r[0], r[1], r[2], r[3]);
}

/*
 * The host's MAXPHYADDR as the kernel sees it: KVM uses
 * boot_cpu_data.x86_phys_bits (kvm_host.maxphyaddr), which /proc/cpuinfo
 * prints as "address sizes : N bits physical".  Read there first, so that
 * the model does not depend on what a CPUID instruction in this process
 * says (valgrind's synthetic CPU reports 39 bits); CPUID if it is absent.
 */
static unsigned kernel_phys_bits(void)
{
    g_autofree char *text = NULL;
    const char *p;
    unsigned bits;

    if (!g_file_get_contents("/proc/cpuinfo", &text, NULL, NULL)) {
        return 0;
    }
    p = strstr(text, "address sizes");
    if (!p || !(p = strchr(p, ':')) || sscanf(p + 1, "%u bits physical",
                                              &bits) != 1) {
        return 0;
    }
    return bits;
}

unsigned sim_host_phys_bits(void)
{
    static unsigned cached;
    uint32_t r[4];

    if (!cached) {
        cached = kernel_phys_bits();
    }
    if (cached) {
        return cached;
    }
    cpuid_raw(0x80000000, 0, r);
    if (r[0] < 0x80000008) {
        return 36;
    }
    cpuid_raw(0x80000008, 0, r);
    return r[0] & 0xff;
}

static bool indexed_leaf(uint32_t f)
{
    switch (f) {
    case 4: case 7: case 0xb: case 0xd: case 0xf: case 0x10: case 0x12:
    case 0x14: case 0x17: case 0x18: case 0x1d: case 0x1e: case 0x1f:
    case 0x20: case 0x23: case 0x24: case 0x8000001d:
        return true;
    }
    return false;
}

/* Number of subleaves KVM reports for an indexed leaf. */
static uint32_t nr_subleaves(uint32_t f)
{
    uint32_t r[4];

    switch (f) {
    case 4: case 0x8000001d:
        for (uint32_t i = 0; i < 64; i++) {
            cpuid_raw(f, i, r);
            if ((r[0] & 0x1f) == 0) {
                return i + 1;
            }
        }
        return 64;
    case 7: case 0x14: case 0x17: case 0x18: case 0x1d: case 0x20:
    case 0x23:
        cpuid_raw(f, 0, r);
        return MIN(r[0], 15u) + 1;
    case 0xb: case 0x1f:
        for (uint32_t i = 0; i < 8; i++) {
            cpuid_raw(f, i, r);
            if (((r[2] >> 8) & 0xff) == 0) {
                return i + 1;
            }
        }
        return 8;
    case 0xd:
        return 64;
    case 0x12:
        return 3;
    case 0xf: case 0x10:
        return 4;
    default:
        return 1;
    }
}

static void kvm_adjust(struct kvm_cpuid_entry2 *e)
{
    switch (e->function) {
    case 1:
        /* No MONITOR, DS-CPL, VMX, SMX, EST, TM2; hypervisor and
         * TSC-deadline (emulated by KVM) on; APIC id set per vCPU. */
        e->ecx &= ~((1u << 3) | (1u << 4) | (1u << 5) | (1u << 6) |
                    (1u << 7) | (1u << 8));
        e->ecx |= (1u << 31) | (1u << 24);
        e->ebx &= 0x00ffffff;
        break;
    case 0x7:
        if (e->index == 0) {
            /* KVM emulates IA32_ARCH_CAPABILITIES for every guest. */
            e->edx |= 1u << 29;
        }
        break;
    case 0x80000008:
        /* GuestPhysAddrSize: 4-level TDP (48) unless the host has 52. */
        e->eax = (e->eax & ~0x00ff0000u) |
                 ((sim_host_phys_bits() > 48 ? 52u : 48u) << 16);
        break;
    }
}

/* Fill up to max entries of the supported CPUID; returns the count. */
static unsigned build_supported(struct kvm_cpuid_entry2 *out, unsigned max)
{
    uint32_t r[4], base_max, ext_max;
    unsigned n = 0;

    cpuid_raw(0, 0, r);
    base_max = MIN(r[0], 0x24u);
    cpuid_raw(0x80000000, 0, r);
    ext_max = MIN(r[0], 0x80000021u);

    for (int pass = 0; pass < 2; pass++) {
        uint32_t first = pass ? 0x80000000 : 0;
        uint32_t last = pass ? ext_max : base_max;

        for (uint32_t f = first; f <= last; f++) {
            bool idx = indexed_leaf(f);
            uint32_t subs = idx ? nr_subleaves(f) : 1;

            for (uint32_t s = 0; s < subs; s++) {
                struct kvm_cpuid_entry2 e = { .function = f, .index = s };

                if (n >= max) {
                    return n;
                }
                cpuid_raw(f, s, r);
                if (f == 0xd && s > 1 && !(r[0] | r[1] | r[2] | r[3])) {
                    continue;
                }
                e.flags = idx ? KVM_CPUID_FLAG_SIGNIFCANT_INDEX : 0;
                e.eax = r[0];
                e.ebx = r[1];
                e.ecx = r[2];
                e.edx = r[3];
                kvm_adjust(&e);
                out[n++] = e;
            }
        }
        if (!pass) {
            /* KVM's paravirt leaves. */
            struct kvm_cpuid_entry2 sig = {
                .function = 0x40000000, .eax = 0x40000001,
                .ebx = 0x4b4d564b, .ecx = 0x564b4d56, .edx = 0x4d,
            };
            struct kvm_cpuid_entry2 feat = {
                .function = 0x40000001,
                /* CLOCKSOURCE2, ASYNC_PF_INT off: NOP_IO_DELAY, PV_EOI... */
                .eax = (1u << 1) | (1u << 3) | (1u << 6) | (1u << 24),
            };
            if (n + 2 > max) {
                return n;
            }
            out[n++] = sig;
            out[n++] = feat;
        }
    }
    return n;
}

static unsigned supported_count(void)
{
    static unsigned count;
    struct kvm_cpuid_entry2 *tmp;

    if (!count) {
        tmp = g_new0(struct kvm_cpuid_entry2, MAX_SUPPORTED_CPUID);
        count = build_supported(tmp, MAX_SUPPORTED_CPUID);
        g_free(tmp);
    }
    return count;
}

int sim_get_supported_cpuid(struct kvm_cpuid2 *c)
{
    unsigned need = supported_count();

    if (c->nent < need) {
        c->nent = need;
        return -E2BIG;
    }
    c->nent = build_supported(c->entries, need);
    return 0;
}

static bool find_supported(uint32_t f, uint32_t s, struct kvm_cpuid_entry2 *e)
{
    struct kvm_cpuid_entry2 *tmp = g_new0(struct kvm_cpuid_entry2,
                                          MAX_SUPPORTED_CPUID);
    unsigned n = build_supported(tmp, MAX_SUPPORTED_CPUID);
    bool found = false;

    for (unsigned i = 0; i < n; i++) {
        if (tmp[i].function == f && tmp[i].index == s) {
            *e = tmp[i];
            found = true;
            break;
        }
    }
    g_free(tmp);
    return found;
}

static uint64_t xcr0_supported(void)
{
    uint32_t r[4];

    cpuid_raw(0xd, 0, r);
    return r[0] | ((uint64_t)r[3] << 32);
}

static uint64_t xss_supported(void)
{
    uint32_t r[4];

    cpuid_raw(0xd, 1, r);
    return r[2] | ((uint64_t)r[3] << 32);
}

/*
 * The TDX module's directly configurable CPUID bits (td_conf.cpuid_config)
 * as KVM reports them in KVM_TDX_CAPABILITIES.  An approximation of TDX
 * module 1.5: the listed leaves are configurable in the bits the real CPU
 * has (so a TD can be given them or not); everything else is fixed or
 * virtualised by the module.  0x80000008 EAX[23:16] (GPAW) is configurable
 * and reported as all-ones, like KVM does.
 */
static const struct { uint32_t f, s; } tdx_config_leaves[] = {
    { 0x1, 0 }, { 0x7, 0 }, { 0x7, 1 }, { 0xd, 0 }, { 0xd, 1 },
    { 0x14, 0 }, { 0x19, 0 }, { 0x1c, 0 }, { 0x1d, 0 }, { 0x1d, 1 },
    { 0x1e, 0 }, { 0x24, 0 }, { 0x80000001, 0 }, { 0x80000007, 0 },
    { 0x80000008, 0 },
};

static unsigned tdx_config(struct kvm_cpuid_entry2 *out, unsigned max)
{
    unsigned n = 0;

    for (unsigned i = 0; i < G_N_ELEMENTS(tdx_config_leaves); i++) {
        struct kvm_cpuid_entry2 e;

        if (!find_supported(tdx_config_leaves[i].f, tdx_config_leaves[i].s,
                            &e)) {
            continue;
        }
        if (e.function == 0x7 && e.index == 0) {
            /*
             * Linux 7.2 tdx_clear_unsupported_cpuid(): KVM reports HLE,
             * RTM and WAITPKG as not configurable.
             */
            e.ebx &= ~CPUID_7_0_EBX_TSX;
            e.ecx &= ~CPUID_7_0_ECX_WAITPKG;
        }
        if (e.function == 0x80000008) {
            e.eax = 0x00ff0000;
            e.ebx = e.ecx = e.edx = 0;
        } else if (e.function == 0x1) {
            e.eax = 0x0fff3fff;     /* family/model/stepping */
            e.ebx = 0;
            e.ecx &= ~(1u << 31);   /* hypervisor bit is fixed on */
        } else if (e.function == 0xd && e.index == 0) {
            e.eax &= TDX_XFAM_ALLOWED;
            e.ebx = e.ecx = 0;
        }
        if (!(e.eax | e.ebx | e.ecx | e.edx)) {
            continue;
        }
        if (n < max) {
            out[n] = e;
        }
        n++;
    }
    return n;
}

unsigned sim_tdx_nr_cpuid_config(void)
{
    struct kvm_cpuid_entry2 tmp[64];

    return tdx_config(tmp, G_N_ELEMENTS(tmp));
}

bool sim_tdx_cpuid_config(uint32_t function, uint32_t index,
                          struct kvm_cpuid_entry2 *out)
{
    struct kvm_cpuid_entry2 tmp[64];
    unsigned n = tdx_config(tmp, G_N_ELEMENTS(tmp));

    for (unsigned i = 0; i < n; i++) {
        if (tmp[i].function == function && tmp[i].index == index) {
            *out = tmp[i];
            return true;
        }
    }
    return false;
}

/*
 * KVM_TDX_CAPABILITIES as Linux 7.2 tdx_get_capabilities() and
 * init_kvm_tdx_caps(): -E2BIG (nent not written back) when the user's
 * cpuid.nent is below the module's number of configurable leaves;
 * supported_attrs = KVM_SUPPORTED_TDX_TD_ATTRS (SEPT_VE_DISABLE only) within
 * the module's fixed0/fixed1; supported_xfam = KVM's XCR0 | XSS within the
 * module's fixed bits; user_tdvmcallinfo_1_r11 =
 * TDVMCALLINFO_SETUP_EVENT_NOTIFY_INTERRUPT (bit 1), the other TDVMCALL info
 * words 0.
 */
int sim_tdx_fill_caps(struct kvm_tdx_capabilities *caps)
{
    struct kvm_cpuid_entry2 tmp[64];
    unsigned need = tdx_config(tmp, G_N_ELEMENTS(tmp));

    if (caps->cpuid.nent < need) {
        return -E2BIG;
    }
    memset(caps, 0, sizeof(*caps));
    caps->supported_attrs = TDX_TD_ATTR_SEPT_VE_DISABLE;
    caps->supported_xfam = (xcr0_supported() | xss_supported()) &
                           TDX_XFAM_ALLOWED;
    caps->user_tdvmcallinfo_1_r11 = TDVMCALLINFO_SETUP_EVENT_NOTIFY_INTERRUPT;
    caps->cpuid.nent = need;
    memcpy(caps->cpuid.entries, tmp, need * sizeof(tmp[0]));
    return 0;
}

/*
 * CPUID bits the TDX module always reports as 1 to a TD (fixed1 in the
 * TDX module ABI; QEMU's target/i386/kvm/tdx.c keeps the same list and
 * treats them as requested).
 */
static const struct kvm_cpuid_entry2 tdx_fixed1[] = {
    { .function = 0x1,
      .ecx = 0xc6faa217,        /* SSE3 PCLMULQDQ DTES64 DSCPL SSSE3 CX16
                                   PDCM PCID SSE4.1/4.2 X2APIC MOVBE POPCNT
                                   AES XSAVE RDRAND HYPERVISOR */
      .edx = 0x07a9fbff },      /* FPU..SSE2 incl. DTS, without PSN/SS/HTT */
    { .function = 0x6, .eax = 1u << 2 },                        /* ARAT */
    { .function = 0x7, .index = 0,
      .ebx = 0x219424c1,        /* FSGSBASE FDP_EXCPTN_ONLY SMEP INVPCID
                                   ZERO_FCS_FDS RDSEED SMAP CLFLUSHOPT CLWB
                                   SHA_NI */
      .ecx = (1u << 24) | (1u << 27) | (1u << 28),
      .edx = (1u << 10) | (0x3fu << 26) },  /* MD_CLEAR, SPEC_CTRL..SSBD */
    { .function = 0x7, .index = 2, .edx = 0x17 },  /* PSFD IPRED RRSBA BHI */
    { .function = 0xd, .index = 0, .eax = 0x3 },   /* x87, SSE */
    { .function = 0xd, .index = 1, .eax = 0xf },   /* XSAVEOPT XSAVEC
                                                      XGETBV1 XSAVES */
    { .function = 0x80000001, .ecx = 0x121,        /* LAHF ABM PREFETCHW */
      .edx = (1u << 11) | (1u << 20) | (1u << 26) | (1u << 27) | (1u << 29) },
    { .function = 0x80000007, .edx = 1u << 8 },    /* invariant TSC */
};

static bool leaf_indexed(uint32_t f)
{
    return indexed_leaf(f);
}

/*
 * KVM_TDX_GET_CPUID: the CPUID the TD sees.  The module reports leaves up
 * to 0x80000008; configurable bits come from INIT_VM, fixed1 bits are
 * always set, everything else is what the module passes through from the
 * CPU (and 0x80000008 EBX is fixed0 but for WBNOINVD).
 */
void sim_tdx_vcpu_cpuid(struct sim_vm *vm, struct kvm_cpuid2 *out,
                        uint32_t max)
{
    struct kvm_cpuid_entry2 *sup = g_new0(struct kvm_cpuid_entry2,
                                          MAX_SUPPORTED_CPUID);
    struct kvm_cpuid_entry2 conf[64];
    unsigned nsup = build_supported(sup, MAX_SUPPORTED_CPUID);
    unsigned nconf = tdx_config(conf, G_N_ELEMENTS(conf));
    unsigned n = 0;
    bool have_fixed[G_N_ELEMENTS(tdx_fixed1)] = { false };

    for (unsigned i = 0; i < nsup && n < max; i++) {
        struct kvm_cpuid_entry2 e = sup[i];

        if ((e.function >= 0x40000000 && e.function < 0x80000000) ||
            e.function > 0x80000008) {
            continue;
        }
        for (unsigned j = 0; j < nconf; j++) {
            if (conf[j].function != e.function || conf[j].index != e.index) {
                continue;
            }
            for (unsigned k = 0; vm->td_cpuid && k < vm->td_cpuid->nent; k++) {
                struct kvm_cpuid_entry2 *t = &vm->td_cpuid->entries[k];
                if (t->function == e.function && t->index == e.index) {
                    e.eax = (e.eax & ~conf[j].eax) | (t->eax & conf[j].eax);
                    e.ebx = (e.ebx & ~conf[j].ebx) | (t->ebx & conf[j].ebx);
                    e.ecx = (e.ecx & ~conf[j].ecx) | (t->ecx & conf[j].ecx);
                    e.edx = (e.edx & ~conf[j].edx) | (t->edx & conf[j].edx);
                }
            }
        }
        for (unsigned j = 0; j < G_N_ELEMENTS(tdx_fixed1); j++) {
            if (tdx_fixed1[j].function == e.function &&
                tdx_fixed1[j].index == e.index) {
                e.eax |= tdx_fixed1[j].eax;
                e.ebx |= tdx_fixed1[j].ebx;
                e.ecx |= tdx_fixed1[j].ecx;
                e.edx |= tdx_fixed1[j].edx;
                have_fixed[j] = true;
            }
        }
        if (e.function == 0x80000008) {
            e.eax = (e.eax & ~0x00ff0000u) | (vm->gpaw << 16);
            e.ebx &= 1u << 9;
        }
        out->entries[n++] = e;
    }
    for (unsigned j = 0; j < G_N_ELEMENTS(tdx_fixed1) && n < max; j++) {
        if (!have_fixed[j]) {
            out->entries[n] = tdx_fixed1[j];
            out->entries[n].flags = leaf_indexed(tdx_fixed1[j].function) ?
                                    KVM_CPUID_FLAG_SIGNIFCANT_INDEX : 0;
            n++;
        }
    }
    out->nent = n;
    g_free(sup);
}

/* ---- capabilities ---- */

static bool sim_cap_hidden(long cap)
{
    for (guint i = 0; sim.hidden_caps && i < sim.hidden_caps->len; i++) {
        if (g_array_index(sim.hidden_caps, long, i) == cap) {
            return true;
        }
    }
    return false;
}

int sim_check_extension(struct sim_vm *vm, long cap)
{
    bool tdx = vm && vm->type == KVM_X86_TDX_VM;

    if (sim_cap_hidden(cap)) {
        return 0;
    }
    switch (cap) {
    case KVM_CAP_USER_MEMORY:
    case KVM_CAP_DESTROY_MEMORY_REGION_WORKS:
    case KVM_CAP_JOIN_MEMORY_REGIONS_WORKS:
    case KVM_CAP_INTERNAL_ERROR_DATA:
    case KVM_CAP_IOEVENTFD:
    case KVM_CAP_IOEVENTFD_ANY_LENGTH:
    case KVM_CAP_IOEVENTFD_NO_LENGTH:
    case KVM_CAP_SET_TSS_ADDR:
    case KVM_CAP_EXT_CPUID:
    case KVM_CAP_MP_STATE:
    case KVM_CAP_SIGNAL_MSI:
    case KVM_CAP_DEBUGREGS:
    case KVM_CAP_XSAVE:
    case KVM_CAP_XCRS:
    case KVM_CAP_VCPU_EVENTS:
    case KVM_CAP_X86_ROBUST_SINGLESTEP:
    case KVM_CAP_SET_IDENTITY_MAP_ADDR:
    case KVM_CAP_IMMEDIATE_EXIT:
    case KVM_CAP_IRQCHIP:
    case KVM_CAP_IRQFD:
    case KVM_CAP_IRQFD_RESAMPLE:
    case KVM_CAP_IRQ_INJECT_STATUS:
    case KVM_CAP_SPLIT_IRQCHIP:
    case KVM_CAP_SYNC_MMU:
    case KVM_CAP_NOP_IO_DELAY:
    case KVM_CAP_CHECK_EXTENSION_VM:
    case KVM_CAP_ENABLE_CAP_VM:
    case KVM_CAP_GET_TSC_KHZ:
    case KVM_CAP_TSC_CONTROL:
    case KVM_CAP_VM_TSC_CONTROL:
    case KVM_CAP_KVMCLOCK_CTRL:
    case KVM_CAP_TSC_DEADLINE_TIMER:
    case KVM_CAP_GET_MSR_FEATURES:
    case KVM_CAP_SYS_ATTRIBUTES:
    case KVM_CAP_EXCEPTION_PAYLOAD:
    case KVM_CAP_X86_APIC_BUS_CYCLES_NS:
    case KVM_CAP_GUEST_MEMFD:
    case KVM_CAP_USER_MEMORY2:
    case KVM_CAP_MEMORY_FAULT_INFO:
    case KVM_CAP_PRE_FAULT_MEMORY:
        return 1;
    case KVM_CAP_READONLY_MEM:
        return tdx ? 0 : 1;
    case KVM_CAP_IRQ_ROUTING:
        return SIM_GSI_COUNT;
    case KVM_CAP_MCE:
        return 32;
    case KVM_CAP_ADJUST_CLOCK:
        return KVM_CLOCK_TSC_STABLE | KVM_CLOCK_REALTIME;
    case KVM_CAP_NR_VCPUS:
    case KVM_CAP_MAX_VCPUS:
    case KVM_CAP_MAX_VCPU_ID:
        return SIM_MAX_VCPUS;
    case KVM_CAP_NR_MEMSLOTS:
        return SIM_MAX_SLOTS;
    case KVM_CAP_MULTI_ADDRESS_SPACE:
        return tdx ? 1 : 2;
    case KVM_CAP_X2APIC_API:
        return KVM_X2APIC_API_USE_32BIT_IDS |
               KVM_X2APIC_API_DISABLE_BROADCAST_QUIRK;
    case KVM_CAP_VM_TYPES:
        return (1 << KVM_X86_DEFAULT_VM) | (1 << KVM_X86_TDX_VM);
    case KVM_CAP_EXIT_HYPERCALL:
        return 1 << SIM_HC_MAP_GPA_RANGE;
    case KVM_CAP_GUEST_MEMFD_FLAGS:
        /* kvm_vm_ioctl_check_extension_generic() */
        return sim_gmem_supported_flags(vm);
    case KVM_CAP_MEMORY_ATTRIBUTES:
        return (!vm || tdx) ? KVM_MEMORY_ATTRIBUTE_PRIVATE : 0;
    case KVM_CAP_TDX_SIDE_SEPT:
        return tdx ? SIM_SEPT_LEAVES : 0;
    case KVM_CAP_XSAVE2: {
        uint32_t r[4];
        cpuid_raw(0xd, 0, r);
        return r[2];
    }
    default:
        return 0;
    }
}

/*
 * KVM_CREATE_IRQCHIP, as 7.2 kvm_arch_vm_ioctl(): one in-kernel PIC and
 * IOAPIC per VM, before any vCPU; never for a TD (tdx_vm_init() sets
 * has_protected_eoi: -ENOTTY), which needs the split irqchip.  libvirt's
 * capability probe (-machine none,accel=kvm) creates one in a default VM.
 */
int sim_create_irqchip(struct sim_vm *vm)
{
    int r = 0;

    pthread_mutex_lock(&vm->lock);
    if (vm->split_irqchip || vm->kernel_irqchip) {
        r = -EEXIST;
    } else if (vm->type == KVM_X86_TDX_VM) {
        r = -ENOTTY;
    } else if (vm->nr_vcpus) {
        r = -EINVAL;
    } else {
        vm->kernel_irqchip = true;
    }
    pthread_mutex_unlock(&vm->lock);
    return r;
}

int sim_enable_cap(struct sim_vm *vm, struct kvm_enable_cap *cap)
{
    int r = 0;

    if (cap->flags || sim_cap_hidden(cap->cap)) {
        return -EINVAL;
    }
    pthread_mutex_lock(&vm->lock);
    switch (cap->cap) {
    case KVM_CAP_EXIT_HYPERCALL:
        if (cap->args[0] & ~(1ULL << SIM_HC_MAP_GPA_RANGE)) {
            r = -EINVAL;
        } else {
            vm->hypercall_exit_mask = cap->args[0];
        }
        break;
    case KVM_CAP_SPLIT_IRQCHIP:
        /* 7.2 kvm_vm_ioctl_enable_cap(): too many routes, then EEXIST. */
        if (cap->args[0] > SIM_MAX_IRQ_ROUTES) {
            r = -EINVAL;
        } else if (vm->split_irqchip || vm->kernel_irqchip || vm->nr_vcpus) {
            r = -EEXIST;
        } else {
            vm->split_irqchip = true;
        }
        break;
    case KVM_CAP_MAX_VCPU_ID:
        r = cap->args[0] > SIM_MAX_VCPUS ? -EINVAL : 0;
        break;
    case KVM_CAP_X86_APIC_BUS_CYCLES_NS:
        r = (!cap->args[0] || vm->nr_vcpus) ? -EINVAL : 0;
        break;
    case KVM_CAP_X2APIC_API:
        r = cap->args[0] & ~3ULL ? -EINVAL : 0;
        break;
    case KVM_CAP_EXCEPTION_PAYLOAD:
        r = 0;
        break;
    case KVM_CAP_TDX_SIDE_SEPT:
        r = sim_sept_enable(vm, cap);
        break;
    default:
        r = -EINVAL;
        break;
    }
    pthread_mutex_unlock(&vm->lock);
    return r;
}

/* ---- MSRs ---- */

static const uint32_t msr_list[] = {
    0x10, 0x1b, 0x3a, 0x3b, 0x48, 0x8b, 0x9e, 0x10a, 0xc1, 0xc2, 0xe7, 0xe8,
    0xfe,
    0x174, 0x175, 0x176, 0x179, 0x17a, 0x1a0, 0x1d9, 0x1db, 0x1dc, 0x1dd,
    0x1de, 0x200, 0x201, 0x277, 0x2ff, 0x38d, 0x38f, 0x6e0, 0x6a0, 0x6a2,
    0x6a4, 0x6a6, 0x6a7, 0x6a8, 0xd90, 0xda0, 0xc0000080, 0xc0000081,
    0xc0000082, 0xc0000083, 0xc0000084, 0xc0000100, 0xc0000101, 0xc0000102,
    0xc0000103, 0x4b564d00, 0x4b564d01, 0x4b564d02, 0x4b564d03, 0x4b564d04,
};
static const uint32_t feature_msr_list[] = { 0x10a, 0xcf, 0x345 };

int sim_get_msr_index_list(struct kvm_msr_list *l, bool features)
{
    const uint32_t *list = features ? feature_msr_list : msr_list;
    unsigned n = features ? G_N_ELEMENTS(feature_msr_list) :
                            G_N_ELEMENTS(msr_list);
    unsigned room = l->nmsrs;

    l->nmsrs = n;
    if (room < n) {
        return -E2BIG;
    }
    memcpy(l->indices, list, n * sizeof(uint32_t));
    return 0;
}

/* System-scope KVM_GET_MSRS: feature MSRs; returns the number read. */
int sim_get_feature_msrs(struct kvm_msrs *m)
{
    for (unsigned i = 0; i < m->nmsrs; i++) {
        bool known = false;

        for (unsigned j = 0; j < G_N_ELEMENTS(feature_msr_list); j++) {
            known |= m->entries[i].index == feature_msr_list[j];
        }
        if (!known) {
            return i;
        }
        /* ARCH_CAPABILITIES: RDCL_NO, IBRS_ALL, SKIP_L1DFL, MDS_NO,
         * PSCHANGE_MC_NO, TAA_NO; no core/perf capabilities. */
        m->entries[i].data = m->entries[i].index == 0x10a ? 0x16b : 0;
    }
    return m->nmsrs;
}

int sim_get_device_attr(struct kvm_device_attr *a)
{
    if (a->group == KVM_X86_GRP_SYSTEM && a->attr == KVM_X86_XCOMP_GUEST_SUPP) {
        uint64_t v = xcr0_supported();
        memcpy((void *)(uintptr_t)a->addr, &v, sizeof(v));
        return 0;
    }
    return -ENXIO;
}
