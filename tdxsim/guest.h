/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * tdxsim: the scripted TD guest (guest.c), the top of the layers: it asks
 * KVM through kvm-guest.h and registers the ops KVM_RUN enters it by.
 */
#ifndef TDXSIM_GUEST_H
#define TDXSIM_GUEST_H

#include <stdbool.h>
#include <stdint.h>

struct sim_vcpu;

void guest_register(void);

/*
 * A driver feeding the guest at run time (tdxsim/fuzz/), NULL unless one
 * installed itself.  Both hooks run on the vCPU's thread with vm->lock held.
 */
struct guest_driver {
    /*
     * The vCPU is at a park op: true if the driver gave it new ops
     * (vcpu->ops, nr_ops, pc = 0), false to halt until the next try.
     */
    bool (*park)(struct sim_vcpu *vcpu);
    /*
     * What the guest saw: [gpa, gpa + size) was private (or shared) at
     * that moment: a MapGPA chunk userspace completed, an ACCEPT that
     * succeeded (or found the page accepted), a shared access that did
     * not fault.
     */
    void (*observed)(struct sim_vcpu *vcpu, uint64_t gpa, uint64_t size,
                     bool private);
};
extern const struct guest_driver *guest_driver;

#endif /* TDXSIM_GUEST_H */
