// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * tdxsim: vCPUs in guest mode and KVM forcing them out (kvm-vm.h).
 *
 * On hardware a vCPU in the guest holds no KVM lock: host threads change
 * the S-EPT while vCPUs run, and TDH.MEM.TRACK only makes stale TLB
 * entries harmless once every vCPU that entered in the old epoch has left
 * the guest -- which KVM forces with kvm_make_all_cpus_request(kvm,
 * KVM_REQ_OUTSIDE_GUEST_MODE) (Linux 7.2 arch/x86/kvm/vmx/tdx.c
 * tdx_track(); tdh_do_no_vcpus() also sets wait_for_sept_zap so that no
 * vCPU enters while a BUSY SEAMCALL is retried, checked by
 * tdx_vcpu_run()).  Here a vCPU thread is in guest mode without vm->lock
 * from just before TDH.VP.ENTER and during its TDCALLs, until it takes
 * vm->lock again; a kick makes it leave (tdx_vp_exit(), the TD exit of
 * the IPI) before it blocks on the lock.  The kicker holds vm->lock and
 * waits for every kicked vCPU to be out.  vcpu->outside is set with
 * vm->lock held, so the kicker sees exactly the vCPUs in guest mode; VM
 * destruction, which cannot hold the lock while it waits, pairs no_entry
 * with outside (sequentially consistent atomics).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <time.h>

#include "kvm-vm.h"

/* A kicked vCPU that has not left after this long: a KVM or model bug. */
#define KICK_TIMEOUT_NS     (5ULL * 1000000000ULL)
#define POLL_NS             20000

static void pause_ns(long ns)
{
    struct timespec ts = { 0, ns };

    nanosleep(&ts, NULL);
}

static uint64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

/* Every vCPU in guest mode out; returns how many had to leave. */
static unsigned kick_all(struct sim_vm *vm)
{
    bool kicked[SIM_MAX_VCPUS] = { false };
    unsigned n = 0;
    uint64_t start;

    /*
     * outside is only set with vm->lock held, which we hold: the vCPUs
     * seen here are all the vCPUs in guest mode (the caller's own thread
     * excepted, which holds the lock).
     */
    for (unsigned i = 0; i < vm->nr_vcpus; i++) {
        struct sim_vcpu *v = vm->vcpus[i];

        if (__atomic_load_n(&v->outside, __ATOMIC_SEQ_CST)) {
            __atomic_store_n(&v->kick, 1, __ATOMIC_SEQ_CST);
            kicked[i] = true;
            n++;
        }
    }
    start = now_ns();
    for (unsigned i = 0; i < vm->nr_vcpus; i++) {
        struct sim_vcpu *v = vm->vcpus[i];

        while (kicked[i] && __atomic_load_n(&v->outside, __ATOMIC_SEQ_CST)) {
            if (now_ns() - start > KICK_TIMEOUT_NS) {
                vm->stats.kick_timeouts++;
                sim_violation(vm, "vCPU %lu did not leave the guest after a "
                              "kick", v->vcpu_id);
                break;
            }
            pause_ns(POLL_NS);
        }
        __atomic_store_n(&v->kick, 0, __ATOMIC_SEQ_CST);
    }
    return n;
}

void sim_kick_vcpus(struct sim_vm *vm, bool after_track)
{
    if (after_track && sim.break_no_kick) {
        return;
    }
    vm->stats.vcpu_kicks++;
    vm->stats.vcpus_kicked += kick_all(vm);
}

/* vCPU threads in a private fault without vm->lock (kvm-mmu.c). */
static bool any_faulting(struct sim_vm *vm)
{
    return __atomic_load_n(&vm->faulting, __ATOMIC_SEQ_CST) != 0;
}

void sim_quiesce(struct sim_vm *vm)
{
    kick_all(vm);
    /*
     * A fault in flight finishes its SEAMCALLs without vm->lock (no new
     * one starts: that needs vm->lock), then waits for vm->lock.
     */
    while (any_faulting(vm)) {
        pause_ns(POLL_NS);
    }
}

void sim_no_vcpus_begin(struct sim_vm *vm)
{
    vm->stats.no_vcpus_retries++;
    __atomic_store_n(&vm->wait_for_sept_zap, 1, __ATOMIC_SEQ_CST);
    sim_kick_vcpus(vm, false);
}

void sim_no_vcpus_end(struct sim_vm *vm)
{
    __atomic_store_n(&vm->wait_for_sept_zap, 0, __ATOMIC_SEQ_CST);
}

static bool must_leave(struct sim_vcpu *vcpu)
{
    struct sim_vm *vm = vcpu->vm;

    return __atomic_load_n(&vcpu->kick, __ATOMIC_SEQ_CST) ||
           __atomic_load_n(&vm->wait_for_sept_zap, __ATOMIC_SEQ_CST) ||
           (vm->sept.hk_wait_for_sept_zap &&
            __atomic_load_n(vm->sept.hk_wait_for_sept_zap, __ATOMIC_SEQ_CST)) ||
           __atomic_load_n(&vm->no_entry, __ATOMIC_SEQ_CST);
}

bool sim_vcpu_unlock_in_guest(struct sim_vcpu *vcpu)
{
    struct sim_vm *vm = vcpu->vm;

    __atomic_store_n(&vcpu->outside, 1, __ATOMIC_SEQ_CST);
    if (__atomic_load_n(&vm->no_entry, __ATOMIC_SEQ_CST)) {
        __atomic_store_n(&vcpu->outside, 0, __ATOMIC_SEQ_CST);
        return false;
    }
    pthread_mutex_unlock(&vm->lock);
    return true;
}

void sim_vcpu_lock_in_guest(struct sim_vcpu *vcpu)
{
    struct sim_vm *vm = vcpu->vm;

    vcpu->kicked_out = false;
    for (;;) {
        if (must_leave(vcpu)) {
            /* The IPI's TD exit: out of the guest before blocking. */
            tdx_vp_exit(vm->td, vcpu->vp);
            vcpu->kicked_out = true;
            __atomic_store_n(&vcpu->outside, 0, __ATOMIC_SEQ_CST);
            pthread_mutex_lock(&vm->lock);
            return;
        }
        if (pthread_mutex_trylock(&vm->lock) == 0) {
            __atomic_store_n(&vcpu->outside, 0, __ATOMIC_SEQ_CST);
            return;
        }
        pause_ns(POLL_NS);
    }
}

int sim_vcpu_reenter(struct sim_vcpu *vcpu)
{
    struct sim_vm *vm = vcpu->vm;
    tdx_status_t st;
    int tries = 0;

    vcpu->kicked_out = false;
    if (vm->bugged || vm->destroyed || vm->sept.torn_down ||
        __atomic_load_n(&vm->no_entry, __ATOMIC_SEQ_CST)) {
        return -EIO;
    }
    do {
        st = tdh_vp_enter(vm->td, vcpu->vp);
        if (TDX_STATUS_IS_BUSY(st)) {
            vm->stats.busy_retries++;
            vm->stats.vp_enter_busy++;
        }
    } while (TDX_STATUS_IS_BUSY(st) && ++tries < 1000);
    if (st) {
        sim_seamcall_failed(vm, "TDH.VP.ENTER", 0, st);
        return -EIO;
    }
    return 0;
}

/* vm->nr_vcpus only grows, under vm->lock; vcpus[] entries stay. */
static bool any_outside(struct sim_vm *vm)
{
    unsigned n = __atomic_load_n(&vm->nr_vcpus, __ATOMIC_SEQ_CST);

    for (unsigned i = 0; i < n; i++) {
        if (__atomic_load_n(&vm->vcpus[i]->outside, __ATOMIC_SEQ_CST)) {
            return true;
        }
    }
    return false;
}

void sim_block_entry(struct sim_vm *vm)
{
    uint64_t start = now_ns();

    __atomic_store_n(&vm->no_entry, 1, __ATOMIC_SEQ_CST);
    while (any_outside(vm) || any_faulting(vm)) {
        if (now_ns() - start > KICK_TIMEOUT_NS) {
            fprintf(stderr, "tdxsim: vCPU threads still outside vm->lock at "
                    "VM destruction\n");
            return;
        }
        pause_ns(POLL_NS);
    }
}
