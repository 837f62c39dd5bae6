// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * tdxsim: the side-table UAPI as the simulator defines it
 * (side-sept-uapi.h), as a table of names and values for
 * tests/test-uapi.c to compare with QEMU's linux-headers.
 */
#include "kvm-uapi.h"
#include "side-sept-uapi-list.h"

const struct side_sept_uapi_item sim_side_sept_uapi[] = SIDE_SEPT_UAPI_TABLE;
const unsigned sim_side_sept_uapi_len = sizeof(sim_side_sept_uapi) / sizeof(sim_side_sept_uapi[0]);
