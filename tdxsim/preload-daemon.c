// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * tdxsim: libtdxsim-daemon.so, LD_PRELOAD into a root daemon that starts
 * QEMU (libvirtd), where the sandbox lacks CAP_SYS_RESOURCE.
 *
 * A real host's root libvirtd may raise RLIMIT_MEMLOCK above its hard
 * limit: <memtune><hard_limit> makes it set the limit of the QEMU it
 * forks (virProcessSetMaxMemLock()), and a LimitMEMLOCK= of its unit
 * raises its own, which QEMU inherits.  Linux refuses both without
 * CAP_SYS_RESOURCE (do_prlimit(): -EPERM), so here such a raise by root
 * is played instead of failing: it is recorded per process
 * (preload-rlimit.h) and the simulator in QEMU reads it as its
 * RLIMIT_MEMLOCK.  TDXSIM_MEMLOCK_LIMIT=BYTES plays the daemon's own
 * limit (its unit's LimitMEMLOCK=), inherited by its children.  Everything else (other resources,
 * lowering a limit, any other error, a non-root caller) goes to the
 * kernel unchanged.  Not linked into libtdxsim.so.
 */
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "preload-rlimit.h"

typedef int (*execve_fn)(const char *, char *const[], char *const[]);
typedef int (*execv_fn)(const char *, char *const[]);

/*
 * The played limit this process inherited: TDXSIM_MEMLOCK_LIMIT (the
 * daemon's unit's LimitMEMLOCK=), or the record of this PID left by the
 * image before exec.  Kept in memory, as the kernel keeps rlimits: a
 * forked child has it even when it clears its environment before exec
 * (libvirt does).
 */
static struct rlimit inherited;
static bool inherited_played;

static void __attribute__((constructor)) preload_daemon_init(void)
{
    const char *v = getenv("TDXSIM_MEMLOCK_LIMIT");

    if (v && *v) {
        inherited.rlim_cur = inherited.rlim_max = strtoull(v, NULL, 0);
        inherited_played = true;
    } else {
        inherited_played = played_memlock_get(getpid(), &inherited);
    }
}

static bool daemon_memlock(struct rlimit *rl)
{
    if (inherited_played) {
        *rl = inherited;
    }
    return inherited_played;
}

/* The played limit of PID: its own record, or (for this process, or a
 * child forked without one) the daemon's. */
static bool played(pid_t pid, struct rlimit *rl)
{
    return played_memlock_get(pid, rl) ||
           (pid == getpid() && daemon_memlock(rl));
}

static int sys_prlimit(pid_t pid, int resource, const struct rlimit *new,
                       struct rlimit *old)
{
    return syscall(SYS_prlimit64, pid, resource, new, old);
}

static int play_prlimit(pid_t pid, int resource, const struct rlimit *new,
                        struct rlimit *old)
{
    pid_t target = pid ? pid : getpid();
    struct rlimit was;
    bool had;
    int r, err;

    if (resource != RLIMIT_MEMLOCK) {
        return sys_prlimit(pid, resource, new, old);
    }
    had = played(target, &was);
    if (!new) {
        r = sys_prlimit(pid, resource, NULL, old);
        if (r == 0 && had && old) {
            *old = was;
        }
        return r;
    }
    if (!had && sys_prlimit(pid, resource, NULL, &was) != 0) {
        return -1;
    }
    r = sys_prlimit(pid, resource, new, NULL);
    err = errno;
    if (r != 0 && !(err == EPERM && geteuid() == 0)) {
        errno = err;
        return -1;
    }
    /* Refused for want of CAP_SYS_RESOURCE, or done while a played limit
     * stands: record what a root with the capability would have. */
    if ((r != 0 || had) && !played_memlock_set(target, new)) {
        fprintf(stderr, "tdxsim: cannot play RLIMIT_MEMLOCK of %d: %m "
                "(TDXSIM_RLIMIT_DIR)\n", (int)target);
        errno = err;
        return -1;
    }
    if ((r != 0 || had) && target == getpid()) {
        inherited = *new;           /* what a fork inherits from now on */
        inherited_played = true;
    }
    if (old) {
        *old = was;
    }
    return 0;
}

int prlimit(pid_t pid, __rlimit_resource_t resource,
            const struct rlimit *new, struct rlimit *old)
{
    return play_prlimit(pid, resource, new, old);
}

int prlimit64(pid_t pid, __rlimit_resource_t resource,
              const struct rlimit64 *new, struct rlimit64 *old)
{
    return play_prlimit(pid, resource, (const struct rlimit *)new,
                        (struct rlimit *)old);
}

int setrlimit(__rlimit_resource_t resource, const struct rlimit *rl)
{
    return play_prlimit(0, resource, rl, NULL);
}

int setrlimit64(__rlimit_resource_t resource, const struct rlimit64 *rl)
{
    return play_prlimit(0, resource, (const struct rlimit *)rl, NULL);
}

int getrlimit(__rlimit_resource_t resource, struct rlimit *rl)
{
    return play_prlimit(0, resource, NULL, rl);
}

int getrlimit64(__rlimit_resource_t resource, struct rlimit64 *rl)
{
    return play_prlimit(0, resource, NULL, (struct rlimit *)rl);
}

/* exec keeps the PID and the limit: a child that inherited the daemon's
 * played limit takes a record of its own, which QEMU reads. */
static void inherit_played(void)
{
    struct rlimit rl;

    if (!played_memlock_get(getpid(), &rl) && daemon_memlock(&rl) &&
        !played_memlock_set(getpid(), &rl)) {
        fprintf(stderr, "tdxsim: cannot play the RLIMIT_MEMLOCK %d inherits: "
                "%m (TDXSIM_RLIMIT_DIR)\n", (int)getpid());
    }
}

int execve(const char *path, char *const argv[], char *const envp[])
{
    static execve_fn real_execve;

    if (!real_execve) {
        real_execve = (execve_fn)dlsym(RTLD_NEXT, "execve");
    }
    inherit_played();
    return real_execve(path, argv, envp);
}

int execv(const char *path, char *const argv[])
{
    static execv_fn real_execv;

    if (!real_execv) {
        real_execv = (execv_fn)dlsym(RTLD_NEXT, "execv");
    }
    inherit_played();
    return real_execv(path, argv);
}
