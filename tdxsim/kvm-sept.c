// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * tdxsim: side-table mode (KVM_CAP_TDX_SIDE_SEPT) is the KVM series' own
 * code, linux/arch/x86/kvm/vmx/tdx_side_sept.c, compiled unchanged against
 * kshim/.  This file only wires it to the fake KVM: the hosted code's
 * struct kvm for each VM, and its host callbacks (guest_memfd pages,
 * memory attributes, memslots, kicks, the key release, RLIMIT_MEMLOCK,
 * signals) onto the simulator's objects.  What the simulator adds is
 * accounting for the report and fault injection (-ENOMEM at a pin, -EINTR
 * as a pending signal), both at the points where the kernel has them.
 *
 * Runs with vm->lock held, except sim_sept_stats(): KVM_TDX_SEPT_STATS
 * takes no lock in the kernel either.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "kvm-sept.h"
#include "kshim/kshim-api.h"
#include "kshim/kshim.h"
#include "kshim/kshim-vm.h"

static struct sim_vm *host_vm(struct kvm *kvm)
{
    return kvm->opaque;
}

/* The hosted code's view of a memslot and of its guest_memfd's file. */
struct sept_file {
    struct file file;
    struct address_space mapping;
};

static struct file *gmem_file(struct sim_vm *vm, struct sim_gmem *g)
{
    struct sept_file *f = g_hash_table_lookup(vm->sept.kfiles, g);

    if (!f) {
        f = g_new0(struct sept_file, 1);
        pthread_rwlock_init(&f->mapping.invalidate_lock, NULL);
        f->file.f_mapping = &f->mapping;
        g_hash_table_insert(vm->sept.kfiles, g, f);
    }
    return &f->file;
}

static struct kvm_memory_slot *kslot(struct sim_vm *vm, struct sim_slot *s)
{
    struct kvm_memory_slot *k = g_hash_table_lookup(vm->sept.kslots, s);

    if (!k) {
        k = g_new0(struct kvm_memory_slot, 1);
        g_hash_table_insert(vm->sept.kslots, s, k);
    }
    k->base_gfn = s->gpa >> 12;
    k->npages = s->size >> 12;
    k->flags = s->flags;
    k->gmem.pgoff = s->gmem_offset >> 12;
    /*
     * Linux 7.2 kvm_gmem_release() clears slot->gmem.file of every binding
     * when the guest_memfd's last reference goes; the memslot stays.
     */
    k->gmem.file = s->gmem && !s->gmem->released ? gmem_file(vm, s->gmem)
                                                 : NULL;
    return k;
}

static struct kvm_memory_slot *host_gfn_to_memslot(struct kvm *kvm, gfn_t gfn)
{
    struct sim_vm *vm = host_vm(kvm);
    struct sim_slot *s = sim_find_slot(vm, gfn << 12);

    return s ? kslot(vm, s) : NULL;
}

static int host_gmem_get_pfn(struct kvm *kvm, struct kvm_memory_slot *slot,
                             gfn_t gfn, struct page **page)
{
    tdx_pfn_t pfn;
    int r = sim_gmem_get_pfn(host_vm(kvm), gfn << 12, &pfn);

    /* kvm_gmem_get_pfn(): -EFAULT once the file is released. */
    if (r) {
        return r;
    }
    *page = kshim_page_get(pfn);
    return 0;
}

static bool host_is_private(struct kvm *kvm, gfn_t gfn)
{
    return sim_gfn_private(host_vm(kvm), gfn);
}

/*
 * kvm_make_all_cpus_request(KVM_REQ_OUTSIDE_GUEST_MODE): after a TRACK,
 * or with wait_for_sept_zap set for a BUSY's retry (the vCPUs read that
 * flag through vm->sept.hk_wait_for_sept_zap, kvm-kick.c).
 */
static void host_kick_all(struct kvm *kvm)
{
    struct sim_vm *vm = host_vm(kvm);
    bool no_vcpus = __atomic_load_n(vm->sept.hk_wait_for_sept_zap,
                                    __ATOMIC_SEQ_CST);

    if (no_vcpus) {
        vm->stats.no_vcpus_retries++;
        vm->stats.busy_retries++;
    }
    vm->sept.kicks++;
    sim_kick_vcpus(vm, !no_vcpus);
}

static void host_release_hkid(struct kvm *kvm)
{
    struct sim_vm *vm = host_vm(kvm);
    uint64_t seamcalls = 0;

    if (!vm->hkid_released && sim_tdx_release_hkid(vm, &seamcalls)) {
        return;
    }
    kshim_vm_set_hkid(kvm, -1);
}

static bool host_signal_pending(struct kvm *kvm)
{
    struct sim_vm *vm = host_vm(kvm);

    if (!vm->sept.op || !inject_hit(sim.inj, INJ_EINTR, vm->sept.op)) {
        return false;
    }
    vm->sept.eintr++;
    vm->stats.eintr++;
    return true;
}

/* RLIMIT_MEMLOCK, CAP_IPC_LOCK (kvm-pin.c); "enomem:map" fails a pin. */
static int host_account_locked(struct kvm *kvm, unsigned long n, bool inc)
{
    struct sim_vm *vm = host_vm(kvm);

    if (inc && vm->sept.op && !strcmp(vm->sept.op, "sept_map") &&
        vm->sept.enomem_armed) {
        vm->sept.enomem_armed = false;
        vm->sept.enomem++;
        vm->stats.enomem++;
        return -ENOMEM;
    }
    return sim_pin_account(vm, n, inc);
}

static const struct kshim_host_ops host_ops = {
    .gmem_get_pfn = host_gmem_get_pfn,
    .mem_is_private = host_is_private,
    .kick_all = host_kick_all,
    .release_hkid = host_release_hkid,
    .signal_pending = host_signal_pending,
    .account_locked = host_account_locked,
    .gfn_to_memslot = host_gfn_to_memslot,
};

/* Calls into the hosted code: the thread works for this VM. */
static void enter(struct sim_vm *vm, const char *op)
{
    kshim_current_kvm = vm->sept.hk;
    vm->sept.op = op;
}

static void leave(struct sim_vm *vm)
{
    vm->sept.op = NULL;
    kshim_current_kvm = NULL;
    vm->sept.torn_down = kshim_vm_side_torn_down(vm->sept.hk);
    /* A KVM_BUG_ON() of the hosted code: every later ioctl fails -EIO. */
    if (kshim_vm_bugged(vm->sept.hk) && !vm->bugged) {
        sim_seamcall_failed(vm, "the side-table code (KVM_BUG_ON)", 0,
                            TDX_OPERAND_INVALID);
    }
}

int sim_sept_enable(struct sim_vm *vm, const struct kvm_enable_cap *cap)
{
    struct kvm_enable_cap c = *cap;
    struct kvm *hk;
    int r;

    if (vm->type != KVM_X86_TDX_VM) {
        return -EINVAL;
    }
    if (!vm->sept.hk) {
        kshim_init(sim.mod, sim_alloc_ctl_pfn, sim_free_ctl_pfn);
        hk = kshim_vm_new(NULL, false, &host_ops, vm);
        hk->created_vcpus = vm->nr_vcpus;
        vm->sept.kslots = g_hash_table_new_full(g_direct_hash,
                                                g_direct_equal, NULL, g_free);
        vm->sept.kfiles = g_hash_table_new_full(g_direct_hash,
                                                g_direct_equal, NULL, g_free);
        vm->sept.hk_wait_for_sept_zap = kshim_vm_wait_for_sept_zap_flag(hk);
        vm->sept.hk = hk;
    }
    vm->sept.hk->created_vcpus = vm->nr_vcpus;
    kshim_vm_set_state(vm->sept.hk, vm->tdx_state);
    enter(vm, NULL);
    r = tdx_side_sept_enable(vm->sept.hk, &c);
    leave(vm);
    if (!r) {
        vm->sept.enabled = true;
        vm->sept.leaves = cap->args[0];
        sim_log("side-table S-EPT enabled, leaves 0x%" PRIx64,
                (uint64_t)cap->args[0]);
    }
    return r;
}

void sim_sept_td_created(struct sim_vm *vm)
{
    if (vm->sept.enabled) {
        kshim_vm_set_td(vm->sept.hk, vm->td, vm->gpaw == 52);
        kshim_vm_set_state(vm->sept.hk, 1);
    }
}

void sim_sept_finalized(struct sim_vm *vm)
{
    if (vm->sept.enabled) {
        kshim_vm_set_state(vm->sept.hk, 2);
    }
}

int sim_sept_add_page(struct sim_vm *vm, uint64_t gpa)
{
    struct page *page;
    tdx_pfn_t pfn;
    int r;

    /* kvm_gmem_populate(): -EFAULT once the file is released. */
    r = sim_gmem_get_pfn(vm, gpa, &pfn);
    if (r) {
        return r;
    }
    /* kvm_gmem_populate() holds the folio and the invalidate lock. */
    page = kshim_page_get(pfn);
    sim_pin_begin_call(vm);
    enter(vm, NULL);
    r = tdx_side_sept_add_page(vm->sept.hk, gpa >> 12, pfn, page);
    leave(vm);
    put_page(page);
    return r;
}

static int range_cmd(struct sim_vm *vm, struct kvm_tdx_cmd *cmd)
{
    struct kvm_tdx_sept_range *u = (void *)(uintptr_t)cmd->data;
    bool map = cmd->id == KVM_TDX_SEPT_MAP;
    uint64_t first;
    int r;

    if (!u) {
        return -EFAULT;
    }
    first = u->gpa + (u->done << 12);
    if (map && vm->tdx_state == SIM_TDX_INITIALIZED) {
        sim_phase_begin(vm, &vm->build);
        vm->build.kernel_calls++;
    }
    if (map) {
        /* enomem:map:nth=N: this call fails at its first pin. */
        vm->sept.enomem_armed = inject_hit(sim.inj, INJ_ENOMEM, "map");
        sim_pin_begin_call(vm);
    }
    enter(vm, map ? "sept_map" : "sept_unmap");
    r = tdx_side_sept_ioctl(vm->sept.hk, cmd);
    leave(vm);
    vm->sept.enomem_armed = false;
    if (r == -EAGAIN) {
        vm->sept.eagain++;
    }
    sim_log("%s gpa 0x%llx pages %llu flags 0x%llx done %llu -> %d",
            map ? "KVM_TDX_SEPT_MAP" : "KVM_TDX_SEPT_UNMAP",
            (unsigned long long)u->gpa, (unsigned long long)u->nr_pages,
            (unsigned long long)u->flags, (unsigned long long)u->done, r);
    if (r == -EIO) {
        sim_seamcall_failed(vm, map ? "KVM_TDX_SEPT_MAP" : "KVM_TDX_SEPT_UNMAP",
                            first, TDX_OPERAND_INVALID);
    }
    sim_track_peaks(vm);
    if (u->gpa + (u->done << 12) > first) {
        sim_check_range(vm, first, u->gpa + (u->done << 12) - first);
    }
    return r;
}

static int teardown(struct sim_vm *vm, bool command)
{
    int r;

    sim_phase_begin(vm, &vm->teardown);
    if (!vm->sept.teardown_started) {
        vm->sept.teardown_started = true;
        sim_tdx_snapshot_final(vm);
        /* A TD whose build failed (QEMU exits) never had to agree. */
        if (vm->tdx_state == SIM_TDX_RUNNABLE) {
            sim_check_agree_all(vm, "teardown start");
        }
    }
    enter(vm, command ? "sept_teardown" : NULL);
    if (command) {
        r = tdx_side_sept_teardown(vm->sept.hk);
    } else {
        host_release_hkid(vm->sept.hk);
        tdx_side_sept_destroy(vm->sept.hk);
        r = 0;
    }
    leave(vm);
    if (!command) {
        vm->sept.torn_down = true;
    }
    return r;
}

int sim_sept_vm_op(struct sim_vm *vm, struct kvm_tdx_cmd *cmd)
{
    int r;

    switch (cmd->id) {
    case KVM_TDX_SEPT_MAP:
    case KVM_TDX_SEPT_UNMAP:
        if (!vm->sept.enabled) {
            return -EINVAL;
        }
        return range_cmd(vm, cmd);
    case KVM_TDX_SEPT_TEARDOWN:
        if (!vm->sept.enabled) {
            return -EINVAL;
        }
        if (cmd->data || vm->sept.torn_down ||
            vm->tdx_state == SIM_TDX_UNINIT) {
            return -EINVAL;
        }
        vm->sept.teardown_calls++;
        vm->teardown.kernel_calls++;
        r = teardown(vm, true);
        if (r == -EIO) {
            cmd->hw_error = TDX_OPERAND_INVALID;
        }
        return r;
    case KVM_TDX_SEPT_STATS:
        return sim_sept_stats(vm, cmd);
    default:
        return -ENOTTY;
    }
}

int sim_sept_stats(struct sim_vm *vm, struct kvm_tdx_cmd *cmd)
{
    struct kvm *hk = __atomic_load_n(&vm->sept.hk, __ATOMIC_ACQUIRE);

    if (!hk) {
        return -EINVAL;
    }
    __atomic_add_fetch(&vm->sept.stats_calls, 1, __ATOMIC_RELAXED);
    return tdx_side_sept_ioctl(hk, cmd);
}

void sim_sept_destroy(struct sim_vm *vm)
{
    if (!vm->sept.enabled) {
        return;
    }
    if (!vm->sept.torn_down) {
        teardown(vm, false);
    } else {
        enter(vm, NULL);
        tdx_side_sept_destroy(vm->sept.hk);
        leave(vm);
    }
}

void sim_sept_unmap_internal(struct sim_vm *vm, uint64_t gpa, uint64_t size)
{
    struct kvm_memory_slot slot = {
        .base_gfn = gpa >> 12, .npages = size >> 12,
    };

    if (!vm->sept.enabled || vm->sept.torn_down || !size) {
        return;
    }
    /* kvm_arch_flush_shadow_memslot(): the slot is invalid by now. */
    enter(vm, NULL);
    tdx_side_sept_flush_memslot(vm->sept.hk, &slot);
    leave(vm);
}

int sim_sept_punch_hole(struct sim_vm *vm, struct sim_gmem *g,
                        uint64_t offset, uint64_t len)
{
    struct file *file;
    int r = 0;

    if (!vm->sept.enabled) {
        return 0;
    }
    /* kvm_gmem_punch_hole(): every binding asked, invalidate lock held. */
    file = gmem_file(vm, g);
    pthread_rwlock_wrlock(&file->f_mapping->invalidate_lock);
    enter(vm, NULL);
    for (unsigned i = 0; i < SIM_MAX_SLOTS && !r; i++) {
        struct sim_slot *s = &vm->slots[i];
        uint64_t lo, hi;
        struct kvm_gfn_range range;

        if (!s->used || s->gmem != g) {
            continue;
        }
        lo = MAX(offset, s->gmem_offset);
        hi = MIN(offset + len, s->gmem_offset + s->size);
        if (lo >= hi) {
            continue;
        }
        range = (struct kvm_gfn_range) {
            .slot = kslot(vm, s),
            .start = (s->gpa + lo - s->gmem_offset) >> 12,
            .end = (s->gpa + hi - s->gmem_offset) >> 12,
            .may_block = true,
        };
        r = tdx_side_sept_gmem_punch_hole(vm->sept.hk, &range);
    }
    leave(vm);
    pthread_rwlock_unlock(&file->f_mapping->invalidate_lock);
    if (r) {
        vm->sept.punch_refused++;
    }
    return r;
}

int sim_sept_private_fault(struct sim_vcpu *vcpu, uint64_t gpa)
{
    struct sim_vm *vm = vcpu->vm;
    struct kvm_vcpu kv = { .kvm = vm->sept.hk, .run = vcpu->run };
    int r;

    enter(vm, NULL);
    r = tdx_side_sept_handle_private_fault(&kv, gpa);
    leave(vm);
    if (r > 0) {
        vm->sept.racing_faults++;
    }
    return r;
}

void sim_sept_stats_read(struct sim_vm *vm, struct kvm_tdx_sept_stats *st)
{
    memset(st, 0, sizeof(*st));
    if (vm->sept.hk) {
        kshim_vm_side_stats(vm->sept.hk, st);
    }
}

void sim_sept_for_each_page(struct sim_vm *vm,
                            void (*fn)(uint64_t gfn, uint64_t pfn,
                                       bool mapped, void *opaque),
                            void *opaque)
{
    if (vm->sept.hk) {
        kshim_vm_side_for_each_page(vm->sept.hk, fn, opaque);
    }
}

uint64_t sim_sept_table_pages(struct sim_vm *vm)
{
    return vm->sept.hk ? kshim_vm_side_tables(vm->sept.hk) : 0;
}
