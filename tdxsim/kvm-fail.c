// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * tdxsim: how KVM and the model report what went wrong -- an invariant
 * violation, a failed run (the exit watchdog), a SEAMCALL failure KVM
 * answers with KVM_BUG_ON.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "kvm-vm.h"

/* One line on stderr: "tdxsim: WHAT: message". */
static void say(const char *what, const char *fmt, va_list ap)
{
    fprintf(stderr, "tdxsim: %s: ", what);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
}

void sim_violation(struct sim_vm *vm, const char *fmt, ...)
{
    va_list ap;

    vm->stats.invariant_violations++;
    va_start(ap, fmt);
    say("VIOLATION", fmt, ap);
    va_end(ap);
}

static void *exit_watchdog(void *opaque)
{
    long ms = (long)(intptr_t)opaque;
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

    nanosleep(&ts, NULL);
    fprintf(stderr, "tdxsim: the run failed (see RUN FAILED above); "
            "exiting with status %d\n", SIM_EXIT_RUN_FAILED);
    _exit(SIM_EXIT_RUN_FAILED);
    return NULL;
}

static void arm_exit_watchdog(void)
{
    static bool armed;
    const char *env = getenv("TDXSIM_FAIL_EXIT_MS");
    long ms = env && *env ? strtol(env, NULL, 0) : 2000;
    pthread_t t;

    if (armed || ms <= 0) {
        return;
    }
    armed = true;
    if (pthread_create(&t, NULL, exit_watchdog, (void *)(intptr_t)ms) == 0) {
        pthread_detach(t);
    }
}

void sim_run_failed(struct sim_vm *vm, bool kill, const char *fmt, ...)
{
    va_list ap;

    vm->stats.run_failures++;
    va_start(ap, fmt);
    say("RUN FAILED", fmt, ap);
    va_end(ap);
    if (kill) {
        vm->bugged = true;
    }
    sim_report_write_locked(vm);
    arm_exit_watchdog();
}

bool sim_run_bad(const struct sim_vm *vm)
{
    return vm->stats.run_failures || vm->stats.expect_failures ||
           vm->stats.invariant_violations || vm->leaks;
}

void sim_seamcall_failed(struct sim_vm *vm, const char *what, uint64_t gpa,
                         tdx_status_t err)
{
    sim_violation(vm, "%s at GPA 0x%" PRIx64 " failed: %s (0x%016" PRIx64
                  "), KVM_BUG_ON: the VM is dead", what, gpa,
                  tdx_status_name(err), err);
    if (!vm->bugged) {
        vm->bugged = true;
        /* QEMU may abort() on a dead VM: leave a report behind now. */
        sim_report_write_locked(vm);
    }
}
