// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * tdxsim: the entry points through which KVM runs the invariant checks and
 * writes the report.  check.c and report.c sit beside the layers (they
 * read all of them, nothing includes them): they register their ops here.
 * A model without them would pass every test unchecked, so calling an
 * entry point with nothing registered aborts.
 */
#include <stdio.h>
#include <stdlib.h>

#include "kvm-vm.h"

static const struct sim_check_ops *checks;
static const struct sim_report_ops *report;

void sim_register_checks(const struct sim_check_ops *ops)
{
    checks = ops;
}

void sim_register_report(const struct sim_report_ops *ops)
{
    report = ops;
}

bool sim_observers_registered(void)
{
    return checks && report;
}

static void need(const void *ops, const char *what)
{
    if (!ops) {
        fprintf(stderr, "tdxsim: no %s registered (tdxsim_init() wires "
                "them)\n", what);
        abort();
    }
}

void sim_check_range(struct sim_vm *vm, uint64_t gpa, uint64_t size)
{
    need(checks, "checks");
    checks->range(vm, gpa, size);
}

/* At a quiescent point: nothing else runs in the model meanwhile. */
void sim_check_full(struct sim_vm *vm)
{
    need(checks, "checks");
    sim_quiesce(vm);
    checks->full(vm);
}

void sim_check_agree(struct sim_vm *vm, uint64_t gpa, uint64_t size,
                     const char *what, const struct sim_vcpu *self)
{
    need(checks, "checks");
    checks->agree(vm, gpa, size, what, self);
}

void sim_check_agree_all(struct sim_vm *vm, const char *what)
{
    need(checks, "checks");
    checks->agree_all(vm, what);
}

void sim_report_write(struct sim_vm *vm)
{
    need(report, "report");
    report->write(vm);
}

void sim_report_write_locked(struct sim_vm *vm)
{
    need(report, "report");
    report->write_locked(vm);
}
