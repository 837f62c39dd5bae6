/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * tdxsim: the wiring of the layers (tdxsim.c).  Registers the scripted
 * guest, the checks and the report with the fake KVM, then initialises
 * it.  preload.c and the unit tests start the simulator with this.
 */
#ifndef TDXSIM_TDXSIM_H
#define TDXSIM_TDXSIM_H

void tdxsim_init(void);

#endif /* TDXSIM_TDXSIM_H */
