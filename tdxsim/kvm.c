// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * tdxsim: the fake KVM's host state, fd table and ioctl dispatch.
 *
 * Every fake fd (system, VM, vCPU, guest_memfd) is a real memfd registered
 * here; ioctls are routed by the kind of fd to the files that model them.
 * Unknown ioctls are logged and fail with ENOTTY, never silently succeed.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "kvm.h"
#include "kvm-mmu.h"
#include "kvm-sept.h"

#define DEFAULT_DEVICE "/dev/tdxsim-kvm"
/* The host's tsc_khz: kvm_arch_init_vm()'s default_tsc_khz of every VM. */
#define HOST_TSC_KHZ 2500000u           /* 2.5 GHz: a multiple of 25 MHz */

static void apply_busy_rules(void)
{
    for (unsigned i = 0; i < sim.inj->rules->len; i++) {
        struct inject_rule *r = &g_array_index(sim.inj->rules,
                                               struct inject_rule, i);
        struct tdx_inject_busy b = {
            .probability = r->probability, .every_nth = r->every,
            .after_set = r->after_set, .after = r->after,
        };
        char *end;
        long leaf = -1;

        if (r->kind != INJ_BUSY) {
            continue;
        }
        leaf = strtol(r->site, &end, 0);
        if (*end || end == r->site) {
            leaf = -1;
            for (int l = 0; l < TDX_NR_LEAVES; l++) {
                const char *n = tdx_leaf_name(l);
                if (n && !strcmp(n, r->site)) {
                    leaf = l;
                    break;
                }
            }
        }
        if (leaf < 0 || leaf >= TDX_NR_LEAVES || !tdx_leaf_name(leaf)) {
            fprintf(stderr, "tdxsim: TDXSIM_INJECT: unknown SEAMCALL '%s'\n",
                    r->site);
            exit(1);
        }
        tdxmod_inject_busy(sim.mod, leaf, &b);
    }
}

/*
 * TDXSIM_LOCK_HOLD=LEAF=US[,LEAF=US...]: calls of LEAF (a SEAMCALL name or
 * TDG.MEM.PAGE.ACCEPT) keep the module locks they took US microseconds
 * longer (tdxmod_set_lock_hold()), so that real overlap is frequent.
 */
static void apply_lock_holds(const char *spec)
{
    g_auto(GStrv) items = g_strsplit(spec, ",", -1);

    for (char **i = items; *i && **i; i++) {
        char *eq = strchr(*i, '=');
        int leaf = -1;

        if (eq) {
            *eq = 0;
            if (!strcmp(*i, "TDG.MEM.PAGE.ACCEPT")) {
                leaf = TDX_ACCEPT_SLOT;
            }
            for (int l = 0; l < TDX_NR_LEAVES && leaf < 0; l++) {
                const char *n = tdx_leaf_name(l);

                if (n && !strcmp(n, *i)) {
                    leaf = l;
                }
            }
        }
        if (leaf < 0) {
            fprintf(stderr, "tdxsim: TDXSIM_LOCK_HOLD: bad item '%s'\n", *i);
            exit(1);
        }
        tdxmod_set_lock_hold(sim.mod, leaf,
                             g_ascii_strtoull(eq + 1, NULL, 10) * 1000);
    }
}

void sim_init(void)
{
    const char *s;
    GError *err = NULL;

    if (sim.mod) {
        return;
    }
    s = getenv("TDXSIM_DEVICE");
    sim.device = g_strdup(s && *s ? s : DEFAULT_DEVICE);
    s = getenv("TDXSIM_SEED");
    sim.seed = s ? g_ascii_strtoull(s, NULL, 0) : 1;
    sim.verbose = getenv("TDXSIM_VERBOSE") != NULL;
    /*
     * After every operation: the range checks and the TDX module's
     * incremental structural self-check of the range (tdx_td_check_range,
     * a cost independent of the TD's size).  The whole-S-EPT walk
     * (tdx_td_check, proportional to the TD) runs at finalize and
     * teardown, and also every TDXSIM_CHECK_EVERY operations if that is
     * set (default 0 = incremental only; 1 = the whole walk after every
     * operation, slow for a large TD).
     */
    s = getenv("TDXSIM_CHECK_EVERY");
    sim.check_every = s ? (unsigned)g_ascii_strtoull(s, NULL, 0) : 0;
    sim.mod = tdxmod_new(sim.seed);
    s = getenv("TDXSIM_COST");
    if (s && !tdxmod_parse_cost_overrides(sim.mod, s)) {
        fprintf(stderr, "tdxsim: bad TDXSIM_COST '%s'\n", s);
        exit(1);
    }
    sim.inj = inject_parse(getenv("TDXSIM_INJECT"), sim.seed, &err);
    if (!sim.inj) {
        fprintf(stderr, "tdxsim: TDXSIM_INJECT: %s\n", err->message);
        exit(1);
    }
    apply_busy_rules();
    s = getenv("TDXSIM_LOCK_HOLD");
    if (s) {
        apply_lock_holds(s);
    }
    /* TDXSIM_BREAK=no-kick: a KVM that forgets to kick after TRACK. */
    s = getenv("TDXSIM_BREAK");
    sim.break_no_kick = s && !strcmp(s, "no-kick");
    /*
     * TDXSIM_HIDE_CAPS=N[,N...]: play a kernel without these capabilities
     * (e.g. 250, KVM_CAP_TDX_SIDE_SEPT) to test how QEMU refuses.
     */
    sim.hidden_caps = g_array_new(false, false, sizeof(long));
    s = getenv("TDXSIM_HIDE_CAPS");
    if (s) {
        g_auto(GStrv) caps = g_strsplit(s, ",", -1);

        for (char **c = caps; *c; c++) {
            long cap = strtol(*c, NULL, 0);

            g_array_append_val(sim.hidden_caps, cap);
        }
    }
    s = getenv("TDXSIM_TEARDOWN_ORDER");
    if (s && *s && strcmp(s, "linux-7.2-release") &&
        strcmp(s, "key-release-first")) {
        fprintf(stderr, "tdxsim: TDXSIM_TEARDOWN_ORDER must be "
                "linux-7.2-release or key-release-first, not '%s'\n", s);
        exit(1);
    }
    sim.teardown_key_first = s && !strcmp(s, "key-release-first");
    sim.vms = g_ptr_array_new();
    sim.sys_ioctls = g_hash_table_new(g_str_hash, g_str_equal);
    sim.free_ctl_pfns = g_array_new(FALSE, FALSE, sizeof(tdx_pfn_t));
    sim.next_ctl_pfn = 0x100000;            /* 4 GiB: control pages */
    sim.next_gmem_pfn = 0x10000000;         /* 1 TiB: guest_memfd pages */
}

bool sim_is_device(const char *path)
{
    return sim.device && path && !strcmp(path, sim.device);
}

bool sim_owns_fd(int fd)
{
    return fd >= 0 && fd < SIM_MAX_FDS &&
           __atomic_load_n(&sim.fds[fd], __ATOMIC_ACQUIRE) != NULL;
}

static struct sim_obj *lookup(int fd)
{
    if (fd < 0 || fd >= SIM_MAX_FDS) {
        return NULL;
    }
    return __atomic_load_n(&sim.fds[fd], __ATOMIC_ACQUIRE);
}

struct sim_obj *sim_new_obj(enum sim_obj_kind kind, const char *name,
                            uint64_t size)
{
    struct sim_obj *o;
    int fd = memfd_create(name, MFD_CLOEXEC);

    if (fd < 0) {
        return NULL;
    }
    if (size && ftruncate(fd, size) < 0) {
        int e = errno;
        syscall(SYS_close, fd);
        errno = e;
        return NULL;
    }
    if (fd >= SIM_MAX_FDS) {
        syscall(SYS_close, fd);
        errno = EMFILE;
        return NULL;
    }
    o = g_new0(struct sim_obj, 1);
    o->kind = kind;
    o->fd = fd;
    __atomic_store_n(&sim.fds[fd], o, __ATOMIC_RELEASE);
    return o;
}

int sim_open_device(int flags)
{
    struct sim_obj *o = sim_new_obj(SIM_OBJ_SYSTEM, "tdxsim-kvm", 0);

    if (!o) {
        return -1;
    }
    sim_log("opened %s as fd %d", sim.device, o->fd);
    return o->fd;
}

/* ---- objects ---- */

static int create_vm(unsigned long type)
{
    struct sim_obj *o;
    struct sim_vm *vm;

    if (type != KVM_X86_DEFAULT_VM && type != KVM_X86_TDX_VM) {
        errno = EINVAL;
        return -1;
    }
    o = sim_new_obj(SIM_OBJ_VM, "tdxsim-vm", 0);
    if (!o) {
        return -1;
    }
    vm = g_new0(struct sim_vm, 1);
    pthread_mutex_init(&vm->lock, NULL);
    pthread_cond_init(&vm->cond, NULL);
    vm->fd = o->fd;
    vm->type = type;
    vm->refs = 1;
    vm->default_tsc_khz = HOST_TSC_KHZ;
    vm->attrs = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free,
                                      g_free);
    vm->mirror = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free,
                                       g_free);
    vm->mirror_leaves = g_hash_table_new_full(g_int64_hash, g_int64_equal,
                                              g_free, g_free);
    sim_mmu_lock_init(vm);
    vm->gmems = g_ptr_array_new();
    vm->stats.ioctls = g_hash_table_new(g_str_hash, g_str_equal);
    vm->stats.exits = g_hash_table_new(g_str_hash, g_str_equal);
    o->vm = vm;
    pthread_mutex_lock(&sim.lock);
    g_ptr_array_add(sim.vms, vm);
    pthread_mutex_unlock(&sim.lock);
    sim_guest()->vm_setup(vm);
    sim_log("created VM type %lu fd %d", type, vm->fd);
    return o->fd;
}

static int create_vcpu(struct sim_vm *vm, unsigned long id)
{
    struct sim_obj *o;
    struct sim_vcpu *vcpu;
    size_t size = SIM_VCPU_MMAP_PAGES * SIM_PAGE_SIZE;
    void *run;

    pthread_mutex_lock(&vm->lock);
    if (vm->nr_vcpus >= SIM_MAX_VCPUS || id >= SIM_MAX_VCPUS) {
        pthread_mutex_unlock(&vm->lock);
        errno = EINVAL;
        return -1;
    }
    for (unsigned i = 0; i < vm->nr_vcpus; i++) {
        if (vm->vcpus[i]->vcpu_id == id) {
            pthread_mutex_unlock(&vm->lock);
            errno = EEXIST;
            return -1;
        }
    }
    if (vm->type == KVM_X86_TDX_VM && sim_tdx_create_vcpu(vm) < 0) {
        pthread_mutex_unlock(&vm->lock);
        return -1;
    }
    o = sim_new_obj(SIM_OBJ_VCPU, "tdxsim-vcpu", size);
    if (!o) {
        pthread_mutex_unlock(&vm->lock);
        return -1;
    }
    run = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, o->fd, 0);
    if (run == MAP_FAILED) {
        pthread_mutex_unlock(&vm->lock);
        return -1;
    }
    vcpu = g_new0(struct sim_vcpu, 1);
    vcpu->vm = vm;
    vcpu->fd = o->fd;
    vcpu->vcpu_id = id;
    vcpu->vp = -1;
    /* kvm_arch_vcpu_create(): kvm_vcpu_after_set_cpuid() on no CPUID. */
    vcpu->maxphyaddr = 36;
    vcpu->tsc_khz = vm->default_tsc_khz;
    vcpu->run = run;
    vcpu->run_size = size;
    vcpu->run->io.data_offset = SIM_PAGE_SIZE;
    o->vm = vm;
    o->vcpu = vcpu;
    vm->vcpus[vm->nr_vcpus++] = vcpu;
    vm->refs++;
    sim_guest()->vcpu_setup(vcpu);
    pthread_mutex_unlock(&vm->lock);
    sim_log("created vCPU %lu fd %d", id, o->fd);
    return o->fd;
}

void sim_vm_put(struct sim_vm *vm)
{
    bool last;

    pthread_mutex_lock(&vm->lock);
    last = --vm->refs == 0;
    pthread_mutex_unlock(&vm->lock);
    if (last) {
        sim_tdx_destroy(vm);
        sim_report_write(vm);
    }
}

void sim_close(int fd)
{
    struct sim_obj *o = lookup(fd);

    if (!o) {
        return;
    }
    __atomic_store_n(&sim.fds[fd], NULL, __ATOMIC_RELEASE);
    switch (o->kind) {
    case SIM_OBJ_SYSTEM:
        break;
    case SIM_OBJ_VM:
    case SIM_OBJ_VCPU:
        sim_vm_put(o->vm);
        break;
    case SIM_OBJ_GMEM:
        /* kvm_gmem_release(): zap, then drop the VM reference. */
        pthread_mutex_lock(&o->vm->lock);
        o->gmem->closed = true;
        sim_gmem_release(o->vm, o->gmem);
        pthread_mutex_unlock(&o->vm->lock);
        sim_vm_put(o->vm);
        break;
    }
    g_free(o);
}

void sim_fini(void)
{
    if (!sim.vms) {
        return;
    }
    /* The kernel drops every reference when the process exits. */
    for (unsigned i = 0; i < sim.vms->len; i++) {
        struct sim_vm *vm = sim.vms->pdata[i];
        if (!vm->destroyed) {
            sim_tdx_destroy(vm);
            sim_report_write(vm);
        }
    }
    /*
     * A run that failed (run failure, trace expectation not met, invariant
     * violation, leak) does not exit 0, whatever QEMU's own status.
     */
    for (unsigned i = 0; i < sim.vms->len; i++) {
        struct sim_vm *vm = sim.vms->pdata[i];

        if (vm->type == KVM_X86_TDX_VM && sim_run_bad(vm)) {
            fprintf(stderr, "tdxsim: the run failed (%" PRIu64 " run failures, "
                    "%" PRIu64 " trace expectations not met, %" PRIu64
                    " invariant violations, %" PRIu64 " leaked pages); exit "
                    "status %d\n", vm->stats.run_failures,
                    vm->stats.expect_failures,
                    vm->stats.invariant_violations, vm->leaks,
                    SIM_EXIT_RUN_FAILED);
            _exit(SIM_EXIT_RUN_FAILED);
        }
    }
}

/*
 * Linux 7.2 cpuid.c kvm_find_cpuid_entry2(): the first entry of function
 * whose index matches or is not significant; index -1
 * (KVM_CPUID_INDEX_NOT_SIGNIFICANT, kvm_find_cpuid_entry()): the first
 * entry of function.
 */
static const struct kvm_cpuid_entry2 *cpuid_find(const struct kvm_cpuid2 *c,
                                                 uint32_t function,
                                                 int64_t index)
{
    for (unsigned i = 0; i < c->nent; i++) {
        const struct kvm_cpuid_entry2 *e = &c->entries[i];

        if (e->function == function &&
            (index < 0 || !(e->flags & KVM_CPUID_FLAG_SIGNIFCANT_INDEX) ||
             e->index == index)) {
            return e;
        }
    }
    return NULL;
}

/*
 * KVM_SET_CPUID2 as Linux 7.2 kvm_vcpu_ioctl_set_cpuid2() -> kvm_set_cpuid():
 * -E2BIG beyond KVM_MAX_CPUID_ENTRIES; kvm_check_cpuid(): CPUID
 * 0x80000008 EAX[15:8] (linear address bits) 48, 57 or 0, else -EINVAL;
 * then kvm_vcpu_after_set_cpuid() derives what the model uses:
 * MAXPHYADDR (cpuid_query_maxphyaddr(): 0x80000008 EAX[7:0] when
 * 0x80000000 EAX reaches it, else 36) and x2APIC (guest_cpu_cap_has():
 * CPUID 1 ECX[21] as given, X2APIC being EMULATED_F).  Not modelled: the
 * "same CPUID only" rule after KVM_RUN (kvm_cpuid_check_equal()).
 */
static int set_cpuid2(struct sim_vcpu *vcpu, const struct kvm_cpuid2 *c)
{
    const struct kvm_cpuid_entry2 *e;
    unsigned maxphyaddr = 36;

    if (c->nent > 256) {
        return -E2BIG;
    }
    e = cpuid_find(c, 0x80000008, -1);
    if (e) {
        unsigned vaddr_bits = (e->eax & 0xff00) >> 8;

        if (vaddr_bits != 48 && vaddr_bits != 57 && vaddr_bits != 0) {
            return -EINVAL;
        }
    }
    e = cpuid_find(c, 0x80000000, -1);
    if (e && e->eax >= 0x80000008) {
        e = cpuid_find(c, 0x80000008, -1);
        if (e) {
            maxphyaddr = e->eax & 0xff;
        }
    }
    e = cpuid_find(c, 1, 0);
    pthread_mutex_lock(&vcpu->vm->lock);
    vcpu->maxphyaddr = maxphyaddr;
    vcpu->cpuid_x2apic = e && (e->ecx & (1u << 21));
    pthread_mutex_unlock(&vcpu->vm->lock);
    return 0;
}

/*
 * KVM_SET_TSC_KHZ on the VM fd, Linux 7.2 kvm_arch_vm_ioctl(): -EINVAL at
 * or above kvm_caps.max_guest_tsc_khz (VMX: min(0x7fffffff, the largest
 * scaled host TSC) = 0x7fffffff) and once a vCPU exists; 0 means the
 * host's tsc_khz.  It becomes TD_PARAMS.TSC_FREQUENCY at INIT_VM
 * (setup_tdparams()), where the TDX module checks its range.
 */
static int set_vm_tsc_khz(struct sim_vm *vm, uint32_t khz)
{
    int r = -EINVAL;

    if (khz >= 0x7fffffffu) {
        return -EINVAL;
    }
    if (khz == 0) {
        khz = HOST_TSC_KHZ;
    }
    pthread_mutex_lock(&vm->lock);
    if (!vm->nr_vcpus) {
        vm->default_tsc_khz = khz;
        r = 0;
    }
    pthread_mutex_unlock(&vm->lock);
    return r;
}

/* ---- dispatch ---- */

struct ioctl_name {
    unsigned long req;
    const char *name;
};

#define N(x) { x, #x }
static const struct ioctl_name ioctl_names[] = {
    N(KVM_GET_API_VERSION), N(KVM_CHECK_EXTENSION), N(KVM_CREATE_VM),
    N(KVM_GET_VCPU_MMAP_SIZE), N(KVM_GET_SUPPORTED_CPUID),
    N(KVM_GET_MSR_INDEX_LIST), N(KVM_GET_MSR_FEATURE_INDEX_LIST),
    N(KVM_GET_MSRS), N(KVM_SET_MSRS), N(KVM_GET_DEVICE_ATTR),
    N(KVM_HAS_DEVICE_ATTR), N(KVM_X86_GET_MCE_CAP_SUPPORTED),
    N(KVM_MEMORY_ENCRYPT_OP), N(KVM_ENABLE_CAP), N(KVM_SET_IDENTITY_MAP_ADDR),
    N(KVM_SET_TSS_ADDR), N(KVM_SET_GSI_ROUTING), N(KVM_CREATE_GUEST_MEMFD),
    N(KVM_SET_TSC_KHZ), N(KVM_GET_TSC_KHZ), N(KVM_CREATE_VCPU),
    N(KVM_X86_SETUP_MCE), N(KVM_SET_CPUID2), N(KVM_GET_STATS_FD),
    N(KVM_GET_CLOCK), N(KVM_SET_CLOCK), N(KVM_SET_USER_MEMORY_REGION),
    N(KVM_SET_USER_MEMORY_REGION2), N(KVM_SET_MEMORY_ATTRIBUTES),
    N(KVM_IRQ_LINE_STATUS), N(KVM_IRQ_LINE), N(KVM_SIGNAL_MSI), N(KVM_IRQFD),
    N(KVM_IOEVENTFD), N(KVM_TPR_ACCESS_REPORTING), N(KVM_SET_VAPIC_ADDR),
    N(KVM_KVMCLOCK_CTRL), N(KVM_RUN), N(KVM_PRE_FAULT_MEMORY), N(KVM_NMI),
    N(KVM_INTERRUPT), N(KVM_GET_MP_STATE), N(KVM_SET_MP_STATE),
    N(KVM_GET_REGS), N(KVM_SET_REGS), N(KVM_GET_SREGS), N(KVM_SET_SREGS),
    N(KVM_GET_SREGS2), N(KVM_SET_SREGS2), N(KVM_GET_FPU), N(KVM_SET_FPU),
    N(KVM_GET_XSAVE), N(KVM_GET_XSAVE2), N(KVM_SET_XSAVE), N(KVM_GET_XCRS),
    N(KVM_SET_XCRS), N(KVM_GET_LAPIC), N(KVM_SET_LAPIC),
    N(KVM_GET_VCPU_EVENTS), N(KVM_SET_VCPU_EVENTS), N(KVM_GET_DEBUGREGS),
    N(KVM_SET_DEBUGREGS), N(KVM_SET_GUEST_DEBUG), N(KVM_SET_SIGNAL_MASK),
    N(KVM_GET_NESTED_STATE), N(KVM_SET_NESTED_STATE), N(KVM_SMI),
    N(KVM_SET_BOOT_CPU_ID), N(KVM_GET_EMULATED_CPUID), N(KVM_CREATE_IRQCHIP),
    N(KVM_REGISTER_COALESCED_MMIO), N(KVM_UNREGISTER_COALESCED_MMIO),
};
#undef N

static const char *ioctl_name(unsigned long req)
{
    for (unsigned i = 0; i < G_N_ELEMENTS(ioctl_names); i++) {
        if (ioctl_names[i].req == req) {
            return ioctl_names[i].name;
        }
    }
    return NULL;
}

static int unknown(struct sim_obj *o, unsigned long req)
{
    static const char *const kinds[] = {
        "system", "vm", "vcpu", "guest_memfd",
    };
    const char *name = ioctl_name(req);

    fprintf(stderr, "tdxsim: unhandled %s ioctl 0x%lx (%s: dir %lu type 0x%lx "
            "nr 0x%lx size %lu) -> ENOTTY\n", kinds[o->kind], req,
            name ? name : "unknown", (req >> 30) & 3, (req >> 8) & 0xff,
            req & 0xff, (req >> 16) & 0x3fff);
    if (o->vm) {
        pthread_mutex_lock(&o->vm->lock);
        o->vm->stats.unknown_ioctls++;
        pthread_mutex_unlock(&o->vm->lock);
    }
    errno = ENOTTY;
    return -1;
}

/* Turn a negative errno return into the libc convention. */
static int ret_errno(int r)
{
    if (r < 0) {
        errno = -r;
        return -1;
    }
    return r;
}

static int system_ioctl(struct sim_obj *o, unsigned long req, void *arg)
{
    switch (req) {
    case KVM_GET_API_VERSION:
        return KVM_API_VERSION;
    case KVM_CHECK_EXTENSION:
        return sim_check_extension(NULL, (long)arg);
    case KVM_CREATE_VM:
        return create_vm((unsigned long)arg & 0xff);
    case KVM_GET_VCPU_MMAP_SIZE:
        return SIM_VCPU_MMAP_PAGES * SIM_PAGE_SIZE;
    case KVM_GET_SUPPORTED_CPUID:
        return ret_errno(sim_get_supported_cpuid(arg));
    case KVM_GET_MSR_INDEX_LIST:
        return ret_errno(sim_get_msr_index_list(arg, false));
    case KVM_GET_MSR_FEATURE_INDEX_LIST:
        return ret_errno(sim_get_msr_index_list(arg, true));
    case KVM_GET_MSRS:
        return ret_errno(sim_get_feature_msrs(arg));
    case KVM_GET_DEVICE_ATTR:
        return ret_errno(sim_get_device_attr(arg));
    case KVM_HAS_DEVICE_ATTR: {
        struct kvm_device_attr a = *(struct kvm_device_attr *)arg;
        uint64_t v;
        a.addr = (uintptr_t)&v;
        return ret_errno(sim_get_device_attr(&a) < 0 ? -ENXIO : 0);
    }
    case KVM_X86_GET_MCE_CAP_SUPPORTED:
        /* 32 banks, MCG_CTL_P, MCG_CMCI_P, MCG_SER_P, MCG_LMCE_P */
        *(uint64_t *)arg = 32 | (1ULL << 8) | (1ULL << 10) | (1ULL << 24) |
                           (1ULL << 27);
        return 0;
    default:
        return unknown(o, req);
    }
}

static int vm_ioctl(struct sim_obj *o, unsigned long req, void *arg)
{
    struct sim_vm *vm = o->vm;

    switch (req) {
    case KVM_CHECK_EXTENSION:
        return sim_check_extension(vm, (long)arg);
    case KVM_ENABLE_CAP:
        return ret_errno(sim_enable_cap(vm, arg));
    case KVM_MEMORY_ENCRYPT_OP:
        return ret_errno(sim_tdx_vm_op(vm, arg));
    case KVM_SET_IDENTITY_MAP_ADDR:
    case KVM_SET_TSS_ADDR:
        return 0;       /* TDX: accepted and ignored, as vt_set_tss_addr() */
    case KVM_CREATE_IRQCHIP:
        return ret_errno(sim_create_irqchip(vm));
    case KVM_SET_GSI_ROUTING: {
        struct kvm_irq_routing *r = arg;
        return ret_errno(r->nr > SIM_GSI_COUNT || r->flags ? -EINVAL : 0);
    }
    case KVM_CREATE_GUEST_MEMFD:
        return ret_errno(sim_create_guest_memfd(vm, arg));
    case KVM_SET_TSC_KHZ:
        return ret_errno(set_vm_tsc_khz(vm, (uint32_t)(unsigned long)arg));
    case KVM_CREATE_VCPU:
        return create_vcpu(vm, (unsigned long)arg);
    case KVM_GET_CLOCK: {
        struct kvm_clock_data *c = arg;
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        memset(c, 0, sizeof(*c));
        c->clock = ts.tv_sec * 1000000000ULL + ts.tv_nsec;
        return 0;
    }
    case KVM_SET_CLOCK: {
        struct kvm_clock_data *c = arg;
        return ret_errno(c->flags & ~(KVM_CLOCK_REALTIME) ? -EINVAL : 0);
    }
    case KVM_SET_USER_MEMORY_REGION2:
        return ret_errno(sim_set_memory_region2(vm, arg));
    case KVM_SET_USER_MEMORY_REGION: {
        struct kvm_userspace_memory_region *r1 = arg;
        struct kvm_userspace_memory_region2 r2 = {
            .slot = r1->slot, .flags = r1->flags,
            .guest_phys_addr = r1->guest_phys_addr,
            .memory_size = r1->memory_size,
            .userspace_addr = r1->userspace_addr,
        };
        if (r1->flags & KVM_MEM_GUEST_MEMFD) {
            return ret_errno(-EINVAL);
        }
        return ret_errno(sim_set_memory_region2(vm, &r2));
    }
    case KVM_SET_MEMORY_ATTRIBUTES:
        return ret_errno(sim_set_memory_attributes(vm, arg));
    case KVM_IRQ_LINE_STATUS: {
        struct kvm_irq_level *l = arg;
        l->status = 1;
        return 0;
    }
    case KVM_IRQ_LINE:
        return 0;
    case KVM_SIGNAL_MSI:
        return 1;       /* delivered */
    case KVM_IRQFD: {
        struct kvm_irqfd *f = arg;
        return ret_errno(f->flags & ~(KVM_IRQFD_FLAG_DEASSIGN |
                                      KVM_IRQFD_FLAG_RESAMPLE) ? -EINVAL : 0);
    }
    case KVM_IOEVENTFD: {
        struct kvm_ioeventfd *e = arg;
        return ret_errno(e->flags & ~((1 << kvm_ioeventfd_flag_nr_max) - 1) ?
                         -EINVAL : 0);
    }
    case KVM_GET_STATS_FD:
        errno = ENOTTY;     /* binary stats are not modelled; QEMU copes */
        return -1;
    default:
        return unknown(o, req);
    }
}

static int vcpu_ioctl(struct sim_obj *o, unsigned long req, void *arg)
{
    struct sim_vcpu *vcpu = o->vcpu;

    switch (req) {
    case KVM_RUN:
        return ret_errno(sim_vcpu_run(vcpu));
    case KVM_MEMORY_ENCRYPT_OP:
        return ret_errno(sim_tdx_vcpu_op(vcpu, arg));
    case KVM_PRE_FAULT_MEMORY:
        return ret_errno(sim_pre_fault_memory(vcpu, arg));
    case KVM_GET_TSC_KHZ:
        return vcpu->tsc_khz;
    case KVM_X86_SETUP_MCE:
        return 0;
    case KVM_SET_CPUID2:
        return ret_errno(set_cpuid2(vcpu, arg));
    case KVM_SET_MSRS:
        return ((struct kvm_msrs *)arg)->nmsrs;
    case KVM_GET_MSRS: {
        struct kvm_msrs *m = arg;
        for (unsigned i = 0; i < m->nmsrs; i++) {
            m->entries[i].data = 0;
        }
        return m->nmsrs;
    }
    case KVM_GET_STATS_FD:
        errno = ENOTTY;
        return -1;
    case KVM_TPR_ACCESS_REPORTING:
    case KVM_SET_VAPIC_ADDR:
    case KVM_KVMCLOCK_CTRL:
    case KVM_NMI:
        return 0;
    default:
        return unknown(o, req);
    }
}

int sim_ioctl(int fd, unsigned long req, void *arg)
{
    struct sim_obj *o = lookup(fd);
    const char *name;

    if (!o) {
        errno = EBADF;
        return -1;
    }
    name = ioctl_name(req);
    if (o->vm && name) {
        pthread_mutex_lock(&o->vm->lock);
        sim_count(o->vm->stats.ioctls, name);
        pthread_mutex_unlock(&o->vm->lock);
    } else if (name) {
        pthread_mutex_lock(&sim.lock);
        sim_count(sim.sys_ioctls, name);
        pthread_mutex_unlock(&sim.lock);
    }
    if (o->vm && o->kind != SIM_OBJ_SYSTEM &&
        __atomic_load_n(&o->vm->bugged, __ATOMIC_ACQUIRE)) {
        errno = EIO;        /* kvm_vm_ioctl()/kvm_vcpu_ioctl() on a bugged VM */
        return -1;
    }
    switch (o->kind) {
    case SIM_OBJ_SYSTEM:
        return system_ioctl(o, req, arg);
    case SIM_OBJ_VM:
        return vm_ioctl(o, req, arg);
    case SIM_OBJ_VCPU:
        return vcpu_ioctl(o, req, arg);
    case SIM_OBJ_GMEM:
        return unknown(o, req);
    }
    errno = ENOTTY;
    return -1;
}
