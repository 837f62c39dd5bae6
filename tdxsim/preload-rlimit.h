/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * tdxsim: RLIMIT_MEMLOCK raises that a sandbox refuses, played per process.
 *
 * A root process raising RLIMIT_MEMLOCK needs CAP_SYS_RESOURCE, which a
 * sandbox may lack; a real host's root libvirtd has it.  The daemon's
 * preload (preload-daemon.c) records such a raise, and the limit a child
 * inherits when it execs, in TDXSIM_RLIMIT_DIR/memlock.PID; the simulator
 * in QEMU (preload.c) reads its own file as its RLIMIT_MEMLOCK (the
 * process keeps its PID across exec).  Nothing is played without
 * TDXSIM_RLIMIT_DIR.
 */
#ifndef TDXSIM_PRELOAD_RLIMIT_H
#define TDXSIM_PRELOAD_RLIMIT_H

#include <stdbool.h>
#include <sys/resource.h>
#include <sys/types.h>

/* The played RLIMIT_MEMLOCK of PID, if any. */
bool played_memlock_get(pid_t pid, struct rlimit *rl);
/* Record the played RLIMIT_MEMLOCK of PID; false (errno set) on failure. */
bool played_memlock_set(pid_t pid, const struct rlimit *rl);

#endif
