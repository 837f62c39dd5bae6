// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * tdxsim: KVM_RUN for a TD vCPU.  Completes the exit userspace answered
 * (MapGPA), then honours immediate_exit (QEMU's kick),
 * enters the TD (TDH.VP.ENTER) for each guest step, turns the scripted
 * guest's steps into exits (HYPERCALL, MEMORY_FAULT, SYSTEM_EVENT) and
 * blocks interruptibly while the guest has nothing to do (HLT).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "kvm.h"

static const struct sim_guest_ops *guest_ops;

void sim_register_guest(const struct sim_guest_ops *ops)
{
    guest_ops = ops;
}

const struct sim_guest_ops *sim_guest(void)
{
    if (!guest_ops) {
        fprintf(stderr, "tdxsim: no guest registered (tdxsim_init() wires "
                "it)\n");
        abort();
    }
    return guest_ops;
}

/* How long a halted vCPU sleeps between checks for a kick. */
#define HALT_POLL_NS    2000000

static int exit_intr(struct sim_vcpu *vcpu)
{
    vcpu->run->exit_reason = KVM_EXIT_INTR;
    sim_count(vcpu->vm->stats.exits, "intr");
    return -EINTR;
}

static const char *exit_name(uint32_t reason)
{
    switch (reason) {
    case KVM_EXIT_HYPERCALL:
        return "hypercall";
    case KVM_EXIT_MEMORY_FAULT:
        return "memory_fault";
    case KVM_EXIT_SYSTEM_EVENT:
        return "system_event";
    default:
        return "other";
    }
}

int sim_vcpu_run(struct sim_vcpu *vcpu)
{
    struct sim_vm *vm = vcpu->vm;
    struct kvm_run *run = vcpu->run;
    bool first = true;
    int steps = 0;

    if (vm->type != KVM_X86_TDX_VM) {
        fprintf(stderr, "tdxsim: KVM_RUN on a non-TDX VM is not modelled\n");
        return -EINVAL;
    }
    pthread_mutex_lock(&vm->lock);
    for (;;) {
        enum guest_result res;
        tdx_status_t st;
        bool entered;
        int err = 0;

        if (vm->bugged) {
            /* kvm_vm_dead() while we ran: KVM_REQ_VM_DEAD, -EIO. */
            pthread_mutex_unlock(&vm->lock);
            return -EIO;
        }
        if (vm->destroyed || vm->sept.torn_down) {
            /* KVM_TDX_SEPT_TEARDOWN: the TD cannot run any more. */
            pthread_mutex_unlock(&vm->lock);
            return -EIO;
        }
        if (first) {
            /*
             * kvm_arch_vcpu_ioctl_run(): complete_userspace_io first (the
             * MapGPA hypercall.ret), then immediate_exit, then
             * tdx_vcpu_pre_run().
             */
            first = false;
            switch (sim_guest()->complete(vcpu, &err)) {
            case GUEST_EXIT:
                sim_count(vm->stats.exits, exit_name(run->exit_reason));
                pthread_mutex_unlock(&vm->lock);
                return 0;
            case GUEST_ERROR:
                pthread_mutex_unlock(&vm->lock);
                return -err;
            default:
                break;
            }
        }
        if (__atomic_load_n(&run->immediate_exit, __ATOMIC_ACQUIRE)) {
            int r = exit_intr(vcpu);
            pthread_mutex_unlock(&vm->lock);
            return r;
        }
        if (vm->tdx_state != SIM_TDX_RUNNABLE || !vcpu->tdx_initialized) {
            pthread_mutex_unlock(&vm->lock);
            return -EINVAL;     /* tdx_vcpu_pre_run() */
        }
        if (vcpu->conv_size) {
            /* Re-entry after a conversion exit: S-EPT == attributes. */
            sim_check_agree(vm, vcpu->conv_gpa, vcpu->conv_size,
                            "re-entry after a conversion exit", vcpu);
            vcpu->conv_size = 0;
        }
        /*
         * Guest mode without vm->lock, as a vCPU runs on hardware: other
         * threads' SEAMCALLs overlap with TDH.VP.ENTER (the epoch lock)
         * and the guest's TDCALLs (kvm-kick.c).
         */
        if (!sim_vcpu_unlock_in_guest(vcpu)) {
            pthread_mutex_unlock(&vm->lock);
            return -EIO;        /* the VM is being destroyed */
        }
        entered = false;
        st = TDX_SUCCESS;
        /* tdx_vcpu_run(): no entry while a zap is retried */
        if (!__atomic_load_n(&vm->wait_for_sept_zap, __ATOMIC_SEQ_CST)) {
            st = tdh_vp_enter(vm->td, vcpu->vp);
            entered = st == TDX_SUCCESS;
        }
        sim_vcpu_lock_in_guest(vcpu);
        if (TDX_STATUS_IS_BUSY(st)) {
            /* Epoch lock (TDH.MEM.TRACK) or injected: enter again
             * (tdx_exit_handlers_fastpath(): EXIT_FASTPATH_EXIT_HANDLED). */
            vm->stats.busy_retries++;
            vm->stats.vp_enter_busy++;
            continue;
        }
        if (st) {
            if (!vm->destroyed && !vm->sept.torn_down && !vm->bugged) {
                sim_seamcall_failed(vm, "TDH.VP.ENTER", 0, st);
            }
            pthread_mutex_unlock(&vm->lock);
            return -EIO;
        }
        if (!entered || vcpu->kicked_out) {
            continue;           /* a kick's TD exit: enter again */
        }
        res = sim_guest()->step(vcpu, &err);
        if (vm->td) {
            /* (a private fault left the guest already, and dropped
             * vm->lock: the TD may be gone, the loop then returns -EIO) */
            tdx_vp_exit(vm->td, vcpu->vp);
        }

        switch (res) {
        case GUEST_EXIT:
            sim_count(vm->stats.exits, exit_name(run->exit_reason));
            pthread_mutex_unlock(&vm->lock);
            return 0;
        case GUEST_EFAULT:
            sim_count(vm->stats.exits, exit_name(run->exit_reason));
            pthread_mutex_unlock(&vm->lock);
            return -EFAULT;
        case GUEST_ERROR:
            pthread_mutex_unlock(&vm->lock);
            return -err;
        case GUEST_CONTINUE:
            /* Let other vCPUs and QEMU threads at the model now and then. */
            if (++steps % 16 == 0) {
                pthread_mutex_unlock(&vm->lock);
                pthread_mutex_lock(&vm->lock);
            }
            continue;
        case GUEST_BLOCK: {
            struct timespec ts = { 0, HALT_POLL_NS };

            pthread_mutex_unlock(&vm->lock);
            /* A kick (SIG_IPI) sets immediate_exit and interrupts the sleep. */
            nanosleep(&ts, NULL);
            pthread_mutex_lock(&vm->lock);
            continue;
        }
        }
    }
}
