/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * tdxsim: the invariant checks (check.c), run after every operation that
 * changes the S-EPT or the memory attributes and, in full, at quiescent
 * points.  Beside the layers: only the wiring (tdxsim.c) includes this;
 * KVM calls the checks through kvm-vm.h's sim_check_*().
 */
#ifndef TDXSIM_CHECK_H
#define TDXSIM_CHECK_H

void check_register(void);

#endif /* TDXSIM_CHECK_H */
