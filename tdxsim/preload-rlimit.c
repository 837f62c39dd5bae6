// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * tdxsim: the store of played RLIMIT_MEMLOCK values (preload-rlimit.h).
 * One file per process, "CUR MAX\n" in bytes, written by rename so that a
 * reader never sees half of one.  Plain libc calls only: this runs inside
 * libvirtd and before QEMU's main().
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "preload-rlimit.h"

/*
 * TDXSIM_RLIMIT_DIR as the process started with: a daemon's child may
 * clear its environment before it execs (libvirt does).
 */
static char *played_dir;

static void __attribute__((constructor)) preload_rlimit_init(void)
{
    const char *dir = getenv("TDXSIM_RLIMIT_DIR");

    if (dir && *dir) {
        played_dir = strdup(dir);
    }
}

static bool played_path(pid_t pid, const char *suffix, char *buf, size_t len)
{
    int n;

    if (!played_dir) {
        return false;
    }
    n = snprintf(buf, len, "%s/memlock.%d%s", played_dir, (int)pid, suffix);
    return n > 0 && (size_t)n < len;
}

bool played_memlock_get(pid_t pid, struct rlimit *rl)
{
    char path[4096];
    unsigned long long cur, max;
    FILE *f;
    bool ok;

    if (!played_path(pid, "", path, sizeof(path))) {
        return false;
    }
    f = fopen(path, "re");
    if (!f) {
        return false;
    }
    ok = fscanf(f, "%llu %llu", &cur, &max) == 2;
    fclose(f);
    if (ok) {
        rl->rlim_cur = cur;
        rl->rlim_max = max;
    }
    return ok;
}

bool played_memlock_set(pid_t pid, const struct rlimit *rl)
{
    char path[4096], tmp[4096 + 16];
    FILE *f;

    if (!played_path(pid, "", path, sizeof(path)) ||
        !played_path(pid, ".tmp", tmp, sizeof(tmp))) {
        errno = EINVAL;
        return false;
    }
    f = fopen(tmp, "we");
    if (!f) {
        return false;
    }
    fprintf(f, "%llu %llu\n", (unsigned long long)rl->rlim_cur,
            (unsigned long long)rl->rlim_max);
    if (fclose(f) != 0) {
        unlink(tmp);
        return false;
    }
    if (rename(tmp, path) != 0) {
        unlink(tmp);
        return false;
    }
    return true;
}
