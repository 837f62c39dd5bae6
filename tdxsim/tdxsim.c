// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * tdxsim: wires the layers together (see "Layout" in TRACES.md): the
 * scripted guest, the checks and the report register with the fake KVM,
 * which knows none of them by name.
 */
#include "tdxsim.h"
#include "check.h"
#include "guest.h"
#include "kvm.h"
#include "report.h"

void tdxsim_init(void)
{
    guest_register();
    check_register();
    report_register();
    sim_init();
}
