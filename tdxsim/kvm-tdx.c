// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * tdxsim: upstream KVM's TDX commands (KVM_MEMORY_ENCRYPT_OP:
 * CAPABILITIES, INIT_VM, INIT_VCPU, INIT_MEM_REGION, FINALIZE_VM,
 * GET_CPUID) with KVM's ordering rules and errors, and the TD teardown
 * when the VM goes away (mirror mode: as Linux 7.2 releases guest_memfd
 * and the VM, or key first; side-table mode: key first; TDR last).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kvm.h"
#include "kvm-mmu.h"
#include "kvm-sept.h"

#define KVM_MAX_CPUID_ENTRIES_SIM 256

static int tdx_caps(struct kvm_tdx_cmd *cmd)
{
    struct kvm_tdx_capabilities *caps = (void *)(uintptr_t)cmd->data;

    if (cmd->flags) {
        return -EINVAL;
    }
    if (!caps) {
        return -EFAULT;
    }
    return sim_tdx_fill_caps(caps);
}

/* kvm_find_cpuid_entry2(): the index matters only with SIGNIFCANT_INDEX. */
static const struct kvm_cpuid_entry2 *find_entry2(const struct kvm_cpuid2 *c,
                                                  uint32_t function,
                                                  uint32_t index)
{
    for (unsigned i = 0; i < c->nent; i++) {
        const struct kvm_cpuid_entry2 *e = &c->entries[i];

        if (e->function == function &&
            (!(e->flags & KVM_CPUID_FLAG_SIGNIFCANT_INDEX) ||
             e->index == index)) {
            return e;
        }
    }
    return NULL;
}

/*
 * setup_tdparams_cpuids(): every entry must be one of the module's
 * configurable leaves (no slot in TD_PARAMS otherwise) and must not ask for
 * TSX or WAITPKG (tdx_unsupported_cpuid()).
 */
static int check_td_cpuid(const struct kvm_cpuid2 *c)
{
    unsigned n = sim_tdx_nr_cpuid_config(), copied = 0;
    struct kvm_tdx_capabilities *conf =
        g_malloc0(sizeof(*conf) + n * sizeof(struct kvm_cpuid_entry2));
    int r = 0;

    conf->cpuid.nent = n;
    sim_tdx_fill_caps(conf);
    for (unsigned i = 0; i < n; i++) {
        const struct kvm_cpuid_entry2 *e =
            find_entry2(c, conf->cpuid.entries[i].function,
                        conf->cpuid.entries[i].index);

        if (!e) {
            continue;
        }
        if (e->function == 7 && e->index == 0 &&
            ((e->ebx & ((1u << 4) | (1u << 11))) || (e->ecx & (1u << 5)))) {
            r = -EINVAL;        /* TSX or WAITPKG */
            break;
        }
        copied++;
    }
    g_free(conf);
    if (!r && copied != c->nent) {
        r = -EINVAL;
    }
    return r;
}

/*
 * __tdx_td_init()'s "teardown" after a failed TDH.MNG.INIT: the TD exists
 * in the TDX module (TDR, TDCS pages, HKID); tdx_mmu_release_hkid()
 * (no vCPU yet: MNG.VPFLUSHDONE, PHYMEM.CACHE.WB, MNG.KEY.FREEID) and
 * tdx_reclaim_td_control_pages() (RECLAIM of the TDCS pages, the TDR,
 * PHYMEM.PAGE.WBINVD of the TDR) give every page back.  KVM's state stays
 * TD_STATE_UNINITIALIZED: userspace may try INIT_VM again.
 */
static void td_init_undo(struct sim_vm *vm)
{
    uint64_t seamcalls = 0;
    tdx_status_t err;

    if (!sim_tdx_release_hkid(vm, &seamcalls)) {
        for (unsigned i = 0; i < SIM_NR_TDCS; i++) {
            err = tdh_phymem_page_reclaim(sim.mod, vm->tdcs_pfns[i]);
            if (err) {
                sim_seamcall_failed(vm, "TDH.PHYMEM.PAGE.RECLAIM", 0, err);
            }
            sim_free_ctl_pfn(vm->tdcs_pfns[i]);
        }
        err = tdh_phymem_page_reclaim(sim.mod, vm->tdr_pfn);
        if (!err) {
            err = tdh_phymem_page_wbinvd(sim.mod, vm->tdr_pfn);
        }
        if (err) {
            sim_seamcall_failed(vm, "TDX teardown of the TDR", 0, err);
        }
        sim_free_ctl_pfn(vm->tdr_pfn);
    }
    vm->td = NULL;
    vm->hkid_released = false;
    __atomic_store_n(&vm->no_entry, 0, __ATOMIC_SEQ_CST);
}

/*
 * KVM_TDX_INIT_VM as Linux 7.2 tdx_td_init(), setup_tdparams(),
 * setup_tdparams_eptp_controls() and setup_tdparams_cpuids(), in their
 * order, then __tdx_td_init(): TDH.MNG.INIT failing OPERAND_INVALID (a
 * TD_PARAMS field the module refuses: XFAM combination, TSC frequency)
 * is -EINVAL with the status in hw_error ("Because a user gives
 * operands, don't warn"), any other failure TDX_BUG_ON_1 (-EIO, the VM
 * is dead, hw_error 0); either way the TD is torn down (td_init_undo()).
 * TD_PARAMS as setup_tdparams() fills it: MAX_VCPUS = kvm->max_vcpus
 * (tdx_vm_init(): min(KVM_MAX_VCPUS, num_present_cpus()), never 0, not
 * settable by userspace on x86: here SIM_MAX_VCPUS, what
 * KVM_CAP_MAX_VCPUS answers), XFAM = xfam | xfam_fixed1, TSC_FREQUENCY =
 * TDX_TSC_KHZ_TO_25MHZ(default_tsc_khz) (a u16 field).
 */
static int tdx_init_vm(struct sim_vm *vm, struct kvm_tdx_cmd *cmd)
{
    struct kvm_tdx_init_vm *init = (void *)(uintptr_t)cmd->data;
    struct kvm_tdx_capabilities caps;
    const struct kvm_cpuid_entry2 *e;
    struct tdx_td_params params;
    tdx_status_t err;
    unsigned guest_pa;
    size_t csize;
    int r;

    if (vm->tdx_state != SIM_TDX_UNINIT) {
        return -EINVAL;
    }
    if (cmd->flags) {
        return -EINVAL;
    }
    if (!init) {
        return -EFAULT;
    }
    if (init->cpuid.nent > KVM_MAX_CPUID_ENTRIES_SIM) {
        return -E2BIG;
    }
    for (unsigned i = 0; i < G_N_ELEMENTS(init->reserved); i++) {
        if (init->reserved[i]) {
            return -EINVAL;
        }
    }
    if (init->cpuid.padding) {
        return -EINVAL;
    }
    /* setup_tdparams() */
    if (vm->nr_vcpus) {
        return -EBUSY;
    }
    {
        unsigned n = sim_tdx_nr_cpuid_config();
        struct kvm_tdx_capabilities *full =
            g_malloc0(sizeof(*full) + n * sizeof(struct kvm_cpuid_entry2));

        full->cpuid.nent = n;
        sim_tdx_fill_caps(full);
        caps = *full;
        g_free(full);
    }
    if ((init->attributes & ~caps.supported_attrs) ||
        (init->xfam & ~caps.supported_xfam)) {
        return -EINVAL;
    }
    /* setup_tdparams_eptp_controls(): GPAW from CPUID 0x80000008 EAX[23:16] */
    e = find_entry2(&init->cpuid, 0x80000008, 0);
    if (!e) {
        return -EINVAL;
    }
    guest_pa = (e->eax >> 16) & 0xff;
    if (guest_pa != 48 && guest_pa != 52) {
        return -EINVAL;
    }
    if (guest_pa == 52 && sim_host_phys_bits() <= 48) {
        return -EINVAL;     /* no 5-level EPT on this host */
    }
    r = check_td_cpuid(&init->cpuid);
    if (r) {
        return r;
    }

    params.max_vcpus = SIM_MAX_VCPUS;
    params.xfam = init->xfam | TDX_XFAM_FIXED1;
    params.tsc_frequency = (uint16_t)(vm->default_tsc_khz / (25 * 1000));
    params.gpaw = guest_pa;

    vm->tdr_pfn = sim_alloc_ctl_pfn();
    for (unsigned i = 0; i < SIM_NR_TDCS; i++) {
        vm->tdcs_pfns[i] = sim_alloc_ctl_pfn();
    }
    err = tdx_td_create_params(sim.mod, vm->tdr_pfn, vm->tdcs_pfns,
                               SIM_NR_TDCS, &params, &vm->td);
    if (!vm->td) {
        return -EIO;
    }
    if (err) {
        if (TDX_STATUS_CLASS(err) == TDX_OPERAND_INVALID) {
            cmd->hw_error = err;
            r = -EINVAL;
        } else {
            sim_seamcall_failed(vm, "TDH.MNG.INIT", 0, err);
            r = -EIO;
        }
        sim_log("INIT_VM: TDH.MNG.INIT failed: %s (0x%016" PRIx64 ")",
                tdx_status_name(err), err);
        td_init_undo(vm);
        return r;
    }
    vm->gpaw = guest_pa;
    vm->shared_bit = tdx_td_shared_bit(vm->td);
    vm->td_attributes = init->attributes;
    vm->xfam = params.xfam;
    csize = sizeof(struct kvm_cpuid2) +
            init->cpuid.nent * sizeof(struct kvm_cpuid_entry2);
    vm->td_cpuid = g_malloc(csize);
    memcpy(vm->td_cpuid, &init->cpuid, csize);
    /*
     * KVM's mirror root page (the S-EPT root itself lives in the TDCS);
     * side-table mode keeps no mirror.
     */
    if (!vm->sept.enabled) {
        vm->mirror_pages[tdx_td_levels(vm->td) - 1] = 1;
        vm->mirror_total = 1;
    }
    sim_track_peaks(vm);
    vm->tdx_state = SIM_TDX_INITIALIZED;
    sim_sept_td_created(vm);
    sim_log("TD initialised: GPAW %u, attributes 0x%llx, XFAM 0x%llx", guest_pa,
            (unsigned long long)init->attributes,
            (unsigned long long)init->xfam);
    return 0;
}

/*
 * Linux 7.2 tdx_td_finalize(): no check of flags or data; hw_error is the
 * TDH.MR.FINALIZE status, written back on every path past the state check
 * (0 on success); BUSY -> -EBUSY; any other error is TDX_BUG_ON (-EIO, the
 * VM is dead).  That includes a TD without any initialised vCPU: 7.2
 * checks no vCPU count first (tdx_vm_ioctl() only wants created_vcpus ==
 * online_vcpus, -EBUSY), the module answers TDX_NO_VCPUS (tdxmod.c).
 */
static int tdx_finalize(struct sim_vm *vm, struct kvm_tdx_cmd *cmd)
{
    tdx_status_t err;

    if (vm->tdx_state != SIM_TDX_INITIALIZED) {
        return -EINVAL;
    }
    err = tdh_mr_finalize(vm->td);
    cmd->hw_error = err;
    if (TDX_STATUS_IS_BUSY(err)) {
        return -EBUSY;
    }
    if (err) {
        sim_seamcall_failed(vm, "TDH.MR.FINALIZE", 0, err);
        return -EIO;
    }
    vm->tdx_state = SIM_TDX_RUNNABLE;
    sim_sept_finalized(vm);
    vm->build.leaves[0] = tdx_td_leaves(vm->td, TDX_LEVEL_4K);
    vm->build.leaves[1] = tdx_td_leaves(vm->td, TDX_LEVEL_2M);
    sim_phase_end(vm, &vm->build);
    if (vm->sept.enabled) {
        /* The build must have mapped every private page. */
        sim_check_agree_all(vm, "finalize");
    }
    sim_guest()->vm_finalized(vm);
    sim_check_full(vm);
    sim_log("TD finalized");
    return 0;
}

int sim_tdx_vm_op(struct sim_vm *vm, struct kvm_tdx_cmd *cmd)
{
    int r;

    if (vm->type != KVM_X86_TDX_VM) {
        return -ENOTTY;
    }
    if (cmd->hw_error) {
        return -EINVAL;
    }
    /* Linux: KVM_TDX_SEPT_STATS takes no lock, never waits behind a MAP. */
    if (cmd->id == KVM_TDX_SEPT_STATS) {
        return sim_sept_stats(vm, cmd);
    }
    pthread_mutex_lock(&vm->lock);
    switch (cmd->id) {
    case KVM_TDX_CAPABILITIES:
        r = tdx_caps(cmd);
        break;
    case KVM_TDX_INIT_VM:
        r = tdx_init_vm(vm, cmd);
        break;
    case KVM_TDX_FINALIZE_VM:
        r = tdx_finalize(vm, cmd);
        break;
    default:
        r = sim_sept_vm_op(vm, cmd);
        if (r == -ENOTTY) {
            r = -EINVAL;
        }
        break;
    }
    pthread_mutex_unlock(&vm->lock);
    return r;
}

/*
 * KVM_CREATE_VCPU on a TD, Linux 7.2 tdx_vcpu_create(): only between
 * INIT_VM and FINALIZE_VM (-EIO), and only with a split irqchip (-EINVAL:
 * the TDX module mandates APICv, an in-kernel I/O APIC is refused).
 */
int sim_tdx_create_vcpu(struct sim_vm *vm)
{
    if (vm->tdx_state != SIM_TDX_INITIALIZED) {
        errno = EIO;
        return -1;
    }
    if (!vm->split_irqchip) {
        errno = EINVAL;
        return -1;
    }
    return 0;
}

/*
 * KVM_TDX_INIT_VCPU, Linux 7.2 tdx_vcpu_init(): flags or a vCPU
 * initialised already -EINVAL; then "TDX requires X2APIC, userspace is
 * responsible for configuring guest CPUID accordingly": the APIC base
 * 0xfee00000 | x2APIC mode (| BSP for vCPU 0) goes through
 * lapic.c kvm_apic_set_base(), which refuses (-EINVAL here) a base with
 * X2APIC_ENABLE when the vCPU's CPUID (KVM_SET_CPUID2, none: no x2APIC)
 * lacks x2APIC, or with bits at or above its MAXPHYADDR.  Only then
 * tdx_td_vcpu_init(): TDH.VP.CREATE, VP.ADDCX, VP.INIT.
 */
#define APIC_BASE_X2APIC_BSP    (0xfee00000ULL | (1ULL << 11) | (1ULL << 10) | \
                                 (1ULL << 8))

static int tdx_init_vcpu(struct sim_vcpu *vcpu, struct kvm_tdx_cmd *cmd)
{
    struct sim_vm *vm = vcpu->vm;

    if (cmd->flags || vcpu->tdx_initialized) {
        return -EINVAL;
    }
    if (!vcpu->cpuid_x2apic ||
        (vcpu->maxphyaddr < 64 && (APIC_BASE_X2APIC_BSP >> vcpu->maxphyaddr))) {
        return -EINVAL;
    }
    vcpu->tdvpr_pfn = sim_alloc_ctl_pfn();
    for (unsigned i = 0; i < SIM_NR_TDCX; i++) {
        vcpu->tdcx_pfns[i] = sim_alloc_ctl_pfn();
    }
    vcpu->vp = tdx_vp_create(vm->td, vcpu->tdvpr_pfn, vcpu->tdcx_pfns,
                             SIM_NR_TDCX);
    if (vcpu->vp < 0) {
        return -EIO;
    }
    vcpu->init_rcx = cmd->data;
    vcpu->tdx_initialized = true;
    return 0;
}

static int tdx_get_cpuid(struct sim_vcpu *vcpu, struct kvm_tdx_cmd *cmd)
{
    struct kvm_cpuid2 *user = (void *)(uintptr_t)cmd->data;
    struct kvm_cpuid2 *c;
    int r = 0;

    if (cmd->flags || !user) {
        return -EINVAL;
    }
    c = g_malloc0(sizeof(*c) + KVM_MAX_CPUID_ENTRIES_SIM *
                  sizeof(struct kvm_cpuid_entry2));
    sim_tdx_vcpu_cpuid(vcpu->vm, c, KVM_MAX_CPUID_ENTRIES_SIM);
    if (user->nent < c->nent) {
        user->nent = c->nent;
        r = -E2BIG;
    } else {
        user->nent = c->nent;
        memcpy(user->entries, c->entries,
               c->nent * sizeof(struct kvm_cpuid_entry2));
    }
    g_free(c);
    return r;
}

/*
 * KVM_TDX_INIT_MEM_REGION as Linux 7.2 tdx_vcpu_init_mem_region(), one
 * kvm_gmem_populate() per page: -EINVAL for a page without a guest_memfd
 * memslot or whose attribute is not private (checked page by page, earlier
 * pages stay added); a GPA already mapped is RET_PF_SPURIOUS in
 * kvm_tdp_mmu_map_private_pfn(), i.e. -EIO without PAGE.ADD and without
 * killing the VM; BUSY from SEPT.ADD/PAGE.ADD makes the TDP MMU retry
 * (RET_PF_RETRY) inside the call, userspace never sees it; MR.EXTEND
 * failures are KVM_BUG_ON (-EIO).  hw_error is never written (the command
 * is not copied back).  Progress is written back on every return.
 */
#define INIT_MEM_BUSY_LOOPS 100000

static int tdx_init_mem_region(struct sim_vcpu *vcpu, struct kvm_tdx_cmd *cmd)
{
    struct sim_vm *vm = vcpu->vm;
    struct kvm_tdx_init_mem_region *u = (void *)(uintptr_t)cmd->data;
    struct kvm_tdx_init_mem_region region;
    bool measure = cmd->flags & KVM_TDX_MEASURE_MEMORY_REGION;
    int r = 0;

    if (!vcpu->tdx_initialized || (cmd->flags & ~KVM_TDX_MEASURE_MEMORY_REGION)) {
        return -EINVAL;
    }
    if (!u) {
        return -EFAULT;
    }
    region = *u;
    if ((region.source_addr & 0xfff) || (region.gpa & 0xfff) ||
        !region.nr_pages ||
        region.gpa + (region.nr_pages << 12) <= region.gpa ||
        (region.gpa & vm->shared_bit) ||
        ((region.gpa + (region.nr_pages << 12) - 1) & vm->shared_bit)) {
        return -EINVAL;
    }
    /*
     * The build, in both modes: first INIT_MEM_REGION .. FINALIZE_VM (in
     * side-table mode the KVM_TDX_SEPT_MAP calls fall in between).
     */
    sim_phase_begin(vm, &vm->build);
    vm->build.kernel_calls++;
    while (region.nr_pages) {
        struct tdx_sept_leaf_info info;
        struct sim_slot *slot;
        tdx_pfn_t pfn;
        uint64_t off;
        unsigned loops = 0;

        if (inject_hit(sim.inj, INJ_EINTR, "init_mem_region")) {
            vm->stats.eintr++;
            r = -EINTR;
            break;
        }
        if (!sim_private_pfn(vm, region.gpa, &pfn, &slot)) {
            r = -EINVAL;        /* !kvm_slot_has_gmem() */
            break;
        }
        if (!sim_gfn_private(vm, region.gpa >> 12)) {
            r = -EINVAL;        /* __kvm_gmem_populate(): not private */
            break;
        }
        if (tdx_td_lookup(vm->td, region.gpa, &info)) {
            r = -EIO;           /* RET_PF_SPURIOUS != RET_PF_FIXED */
            break;
        }
        /* kvm_gmem_populate(): copy the source now, it is gone after. */
        off = slot->gmem_offset + region.gpa - slot->gpa;
        if (sim_gmem_pwrite(slot->gmem, (void *)(uintptr_t)region.source_addr,
                            SIM_PAGE_SIZE, off) != (ssize_t)SIM_PAGE_SIZE) {
            r = -EFAULT;
            break;
        }
        do {
            r = vm->sept.enabled ? sim_sept_add_page(vm, region.gpa) :
                sim_mmu_map_private(vm, region.gpa, true);
        } while (r == -EAGAIN && ++loops < INIT_MEM_BUSY_LOOPS);
        if (r == -EAGAIN) {
            sim_violation(vm, "KVM_TDX_INIT_MEM_REGION at GPA 0x%" PRIx64
                          ": the TDX module stayed busy for %u retries "
                          "(a livelock on real hardware)", (uint64_t)region.gpa,
                          loops);
            r = -EIO;
        }
        if (r) {
            break;
        }
        vm->stats.init_mem_pages++;
        if (measure) {
            for (unsigned i = 0; i < 16; i++) {
                tdx_status_t err = tdh_mr_extend(vm->td, region.gpa + i * 256);
                if (err) {
                    sim_seamcall_failed(vm, "TDH.MR.EXTEND", region.gpa, err);
                    r = -EIO;
                    break;
                }
            }
            if (r) {
                break;
            }
            vm->stats.init_mem_measured++;
        }
        region.source_addr += SIM_PAGE_SIZE;
        region.gpa += SIM_PAGE_SIZE;
        region.nr_pages--;
    }
    *u = region;
    sim_check_full(vm);
    return r;
}

int sim_tdx_vcpu_op(struct sim_vcpu *vcpu, struct kvm_tdx_cmd *cmd)
{
    struct sim_vm *vm = vcpu->vm;
    int r;

    if (vm->type != KVM_X86_TDX_VM) {
        return -ENOTTY;
    }
    if (cmd->hw_error) {
        return -EINVAL;
    }
    pthread_mutex_lock(&vm->lock);
    if (vm->tdx_state != SIM_TDX_INITIALIZED) {
        /* No HKID yet, or the TD is runnable: vCPU TDX ioctls refused. */
        pthread_mutex_unlock(&vm->lock);
        return -EINVAL;
    }
    switch (cmd->id) {
    case KVM_TDX_INIT_VCPU:
        r = tdx_init_vcpu(vcpu, cmd);
        break;
    case KVM_TDX_GET_CPUID:
        r = tdx_get_cpuid(vcpu, cmd);
        break;
    case KVM_TDX_INIT_MEM_REGION:
        r = tdx_init_mem_region(vcpu, cmd);
        break;
    default:
        r = -EINVAL;
        break;
    }
    pthread_mutex_unlock(&vm->lock);
    return r;
}

/* ---- teardown ---- */

static bool reclaim(struct sim_vm *vm, tdx_pfn_t pfn, const char *what)
{
    tdx_status_t err = tdh_phymem_page_reclaim(sim.mod, pfn);

    if (err) {
        sim_violation(vm, "TDH.PHYMEM.PAGE.RECLAIM of %s page 0x%" PRIx64
                      " failed: %s", what, pfn, tdx_status_name(err));
        return false;
    }
    vm->teardown_reclaimed++;
    return true;
}


static bool lock_for_teardown(struct sim_vm *vm)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += 5;
    return pthread_mutex_timedlock(&vm->lock, &ts) == 0;
}

static void reclaim_vcpu_pages(struct sim_vm *vm)
{
    for (unsigned i = 0; i < vm->nr_vcpus; i++) {
        struct sim_vcpu *v = vm->vcpus[i];

        if (v->vp < 0) {
            continue;
        }
        for (unsigned j = 0; j < SIM_NR_TDCX; j++) {
            reclaim(vm, v->tdcx_pfns[j], "TDCX");
        }
        reclaim(vm, v->tdvpr_pfn, "TDVPR");
    }
}

/* KVM's mirror S-EPT pages (the mirror root's page tables). */
static void reclaim_mirror_pages(struct sim_vm *vm)
{
    GHashTableIter it;
    gpointer key, value;

    g_hash_table_iter_init(&it, vm->mirror);
    while (g_hash_table_iter_next(&it, &key, &value)) {
        reclaim(vm, *(tdx_pfn_t *)value, "S-EPT");
    }
    g_hash_table_remove_all(vm->mirror);
    memset(vm->mirror_pages, 0, sizeof(vm->mirror_pages));
    vm->mirror_total = 0;
}

/*
 * Mirror mode, VM destruction as Linux 7.2 does it when QEMU 10.2.2 exits
 * (7.2 has no KVM_TDX_TERMINATE_VM; QEMU closes none of these fds, the
 * process exit releases them).  Every guest_memfd file holds a reference
 * on the VM (virt/kvm/guest_memfd.c __kvm_gmem_create(): kvm_get_kvm()),
 * as do the VM fd (kvm_main.c kvm_vm_release()) and each vCPU fd
 * (kvm_vcpu_release()); kvm_destroy_vm() runs at the last kvm_put_kvm(),
 * so in whatever order the files are released:
 *
 *  1. each guest_memfd's release, with the HKID still assigned
 *     (guest_memfd.c kvm_gmem_release() -> __kvm_gmem_invalidate_start()
 *     -> kvm_mmu_unmap_gfn_range() -> tdp_mmu.c
 *     kvm_tdp_mmu_unmap_gfn_range() on the mirror root ->
 *     tdx.c tdx_sept_remove_leaf_spte()): per private 4K leaf
 *     TDH.MEM.RANGE.BLOCK, TDH.MEM.TRACK (tdx_track(), + kick),
 *     TDH.MEM.PAGE.REMOVE, TDH.PHYMEM.PAGE.WBINVD (sim_gmem_release());
 *     the S-EPT page tables stay (only leaves are zapped).  The mm's
 *     release before it (kvm_mmu_notifier_release() -> mmu.c
 *     kvm_mmu_zap_all() -> kvm_tdp_mmu_zap_all()) skips mirror roots;
 *  2. kvm_destroy_vm() -> x86.c kvm_arch_pre_destroy_vm() ->
 *     vt_vm_pre_destroy() -> tdx.c tdx_mmu_release_hkid(): TDH.VP.FLUSH
 *     per vCPU, TDH.MNG.VPFLUSHDONE, TDH.PHYMEM.CACHE.WB, TDH.MNG.KEY.FREEID;
 *  3. x86.c kvm_arch_destroy_vm() -> kvm_destroy_vcpus() ->
 *     kvm_arch_vcpu_destroy() -> tdx.c tdx_vcpu_free(): RECLAIM of each
 *     vCPU's TDCX pages, then its TDVPR;
 *  4. kvm_mmu_uninit_vm() -> tdp_mmu.c kvm_mmu_uninit_tdp_mmu() zaps the
 *     mirror root -> tdx.c tdx_sept_free_private_spt(): RECLAIM of each
 *     S-EPT page;
 *  5. kvm_x86_call(vm_destroy) -> tdx.c tdx_vm_destroy() ->
 *     tdx_reclaim_td_control_pages(): RECLAIM of the TDCS pages, the TDR,
 *     then TDH.PHYMEM.PAGE.WBINVD of the TDR (done by the caller).
 *
 * A private leaf left at step 4 would be a KVM_BUG_ON in 7.2
 * (tdx_sept_remove_leaf_spte(): "HKID is released after all private pages
 * have been removed"): a violation here.
 */
static void mirror_teardown_linux72(struct sim_vm *vm)
{
    uint64_t seamcalls = 0;

    sim_check_full(vm);
    sim_tdx_snapshot_final(vm);
    for (unsigned i = 0; i < vm->gmems->len; i++) {
        sim_gmem_release(vm, vm->gmems->pdata[i]);
    }
    if (g_hash_table_size(vm->mirror_leaves)) {
        sim_violation(vm, "private leaves left in the mirror after every "
                      "guest_memfd was released: tdx_sept_remove_leaf_spte() "
                      "would KVM_BUG_ON with the HKID released");
    }
    /* A failure is counted as a violation; reclaim what can be. */
    sim_tdx_release_hkid(vm, &seamcalls);
    reclaim_vcpu_pages(vm);
    reclaim_mirror_pages(vm);
}

/*
 * Mirror mode, the key released first, as the unmerged KVM_TDX_TERMINATE_VM
 * patch does (tdx_mmu_release_hkid() at TERMINATE_VM, then each private
 * page RECLAIMed by tdx_sept_remove_leaf_spte()'s !is_hkid_assigned()
 * path): VP.FLUSH .. KEY.FREEID, RECLAIM every private leaf, the vCPU
 * pages, the S-EPT pages.  TDXSIM_TEARDOWN_ORDER=key-release-first.
 */
static void mirror_teardown_key_first(struct sim_vm *vm)
{
    uint64_t seamcalls = 0;
    GHashTableIter it;
    gpointer key, value;

    sim_check_full(vm);
    sim_tdx_snapshot_final(vm);
    sim_tdx_release_hkid(vm, &seamcalls);
    /* The leaves KVM's mirror holds (a leaked one is not KVM's any more). */
    g_hash_table_iter_init(&it, vm->mirror_leaves);
    while (g_hash_table_iter_next(&it, &key, &value)) {
        reclaim(vm, ((struct sim_mirror_leaf *)value)->pfn, "private");
    }
    g_hash_table_remove_all(vm->mirror_leaves);
    for (unsigned i = 0; i < vm->gmems->len; i++) {
        ((struct sim_gmem *)vm->gmems->pdata[i])->released = true;
    }
    reclaim_vcpu_pages(vm);
    reclaim_mirror_pages(vm);
}

const char *sim_teardown_order_name(struct sim_vm *vm)
{
    /*
     * Side-table mode: KVM_TDX_SEPT_TEARDOWN, or VM destruction doing the
     * same (tdx-side-table-uapi.rst): the key first, then RECLAIM.
     */
    if (vm->sept.enabled || sim.teardown_key_first) {
        return "key-release-first";
    }
    return "linux-7.2-release";
}

/*
 * kvm_destroy_vm() for a TD.  Mirror mode: mirror_teardown_linux72() (the
 * default) or mirror_teardown_key_first(); side-table mode: what
 * KVM_TDX_SEPT_TEARDOWN did, or does now (key first), then the vCPU
 * pages.  Then the TDCS pages, the TDR last and PHYMEM.PAGE.WBINVD of it.
 */
void sim_tdx_destroy(struct sim_vm *vm)
{
    tdx_status_t err;

    /* No vCPU thread may still use the TD when its pages go. */
    sim_block_entry(vm);
    if (!lock_for_teardown(vm)) {
        fprintf(stderr, "tdxsim: VM lock held at exit; teardown skipped\n");
        return;
    }
    if (vm->destroyed) {
        pthread_mutex_unlock(&vm->lock);
        return;
    }
    vm->destroyed = true;
    pthread_cond_broadcast(&vm->cond);
    if (!vm->td) {
        pthread_mutex_unlock(&vm->lock);
        return;
    }
    sim_phase_begin(vm, &vm->teardown);
    if (vm->sept.enabled) {
        sim_sept_destroy(vm);
        reclaim_vcpu_pages(vm);
    } else if (sim.teardown_key_first) {
        mirror_teardown_key_first(vm);
    } else {
        mirror_teardown_linux72(vm);
    }
    for (unsigned i = 0; i < SIM_NR_TDCS; i++) {
        reclaim(vm, vm->tdcs_pfns[i], "TDCS");
    }
    /*
     * This TD's leaks, not the module's (unit tests share one module): a
     * TDR reclaimed means no child page was left (TD_ASSOCIATED_PAGES_EXIST
     * otherwise); a TDR left (7.2 tdx_reclaim_td_control_pages() leaks it)
     * keeps the TD, whose pages are then counted.
     */
    if (reclaim(vm, vm->tdr_pfn, "TDR")) {
        vm->leaks = 0;
        err = tdh_phymem_page_wbinvd(sim.mod, vm->tdr_pfn);
        if (err) {
            sim_seamcall_failed(vm, "TDH.PHYMEM.PAGE.WBINVD", 0, err);
        }
    } else {
        vm->leaks = tdx_td_pages_owned(vm->td);
    }
    vm->td = NULL;
    sim_phase_end(vm, &vm->teardown);
    if (vm->leaks) {
        fprintf(stderr, "tdxsim: LEAK: %" PRIu64 " host pages of this TD "
                "still owned by the TDX module after teardown\n", vm->leaks);
    }
    if (vm->sept.enabled &&
        (vm->sept.pinned_pages || vm->sept.charged_pages ||
         vm->sept.pins != vm->sept.unpins)) {
        sim_violation(vm, "pins do not balance after teardown: %" PRIu64
                      " pinned, %" PRIu64 " pins, %" PRIu64 " unpins",
                      vm->sept.pinned_pages, vm->sept.pins, vm->sept.unpins);
    }
    vm->torn_down = true;
    pthread_mutex_unlock(&vm->lock);
}
