/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * tdxsim: the JSON report (report.c, TDXSIM_REPORT).  Beside the layers:
 * only the wiring (tdxsim.c) includes this; KVM writes the report through
 * kvm-vm.h's sim_report_write*().
 */
#ifndef TDXSIM_REPORT_H
#define TDXSIM_REPORT_H

void report_register(void);

#endif /* TDXSIM_REPORT_H */
