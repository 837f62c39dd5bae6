/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * tdxsim: the scripted TD guest (guest.c), the top of the layers: it asks
 * KVM through kvm-guest.h and registers the ops KVM_RUN enters it by.
 */
#ifndef TDXSIM_GUEST_H
#define TDXSIM_GUEST_H

void guest_register(void);

#endif /* TDXSIM_GUEST_H */
