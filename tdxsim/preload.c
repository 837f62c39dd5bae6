// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * tdxsim: libc interposition (LD_PRELOAD).  Routes open()s of the fake KVM
 * device and every ioctl()/close() on a fake fd to the KVM model; passes
 * everything else to the real libc.  The only file that interposes.
 *
 * Fake fds are real memfds, so mmap() of a vCPU fd (kvm_run) and
 * fallocate() on a guest_memfd go to the kernel unchanged.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "kvm.h"

typedef int (*open_fn)(const char *, int, ...);
typedef int (*openat_fn)(int, const char *, int, ...);
typedef int (*close_fn)(int);
typedef int (*ioctl_fn)(int, unsigned long, ...);
typedef int (*dup2_fn)(int, int);
typedef int (*fallocate_fn)(int, int, off_t, off_t);
typedef int (*dup3_fn)(int, int, int);

static open_fn real_open, real_open64;
static openat_fn real_openat, real_openat64;
static close_fn real_close;
static ioctl_fn real_ioctl;
static dup2_fn real_dup2;
static fallocate_fn real_fallocate, real_fallocate64;
static dup3_fn real_dup3;

static void *next_sym(const char *name)
{
    void *p = dlsym(RTLD_NEXT, name);

    if (!p) {
        fprintf(stderr, "tdxsim: cannot resolve %s: %s\n", name, dlerror());
        abort();
    }
    return p;
}

static void resolve(void)
{
    if (!real_close) {
        real_open = next_sym("open");
        real_open64 = next_sym("open64");
        real_openat = next_sym("openat");
        real_openat64 = next_sym("openat64");
        real_ioctl = next_sym("ioctl");
        real_dup2 = next_sym("dup2");
        real_fallocate = next_sym("fallocate");
        real_fallocate64 = next_sym("fallocate64");
        real_dup3 = next_sym("dup3");
        real_close = next_sym("close");
    }
}

static mode_t get_mode(int flags, va_list ap)
{
    return (flags & (O_CREAT | __O_TMPFILE)) ? va_arg(ap, mode_t) : 0;
}

int open(const char *path, int flags, ...)
{
    va_list ap;
    mode_t mode;

    va_start(ap, flags);
    mode = get_mode(flags, ap);
    va_end(ap);
    resolve();
    if (sim_is_device(path)) {
        return sim_open_device(flags);
    }
    return real_open(path, flags, mode);
}

int open64(const char *path, int flags, ...)
{
    va_list ap;
    mode_t mode;

    va_start(ap, flags);
    mode = get_mode(flags, ap);
    va_end(ap);
    resolve();
    if (sim_is_device(path)) {
        return sim_open_device(flags);
    }
    return real_open64(path, flags, mode);
}

int __open_2(const char *path, int flags);
int __open_2(const char *path, int flags)
{
    return open(path, flags);
}

int __open64_2(const char *path, int flags);
int __open64_2(const char *path, int flags)
{
    return open64(path, flags);
}

int openat(int dirfd, const char *path, int flags, ...)
{
    va_list ap;
    mode_t mode;

    va_start(ap, flags);
    mode = get_mode(flags, ap);
    va_end(ap);
    resolve();
    if (sim_is_device(path)) {
        return sim_open_device(flags);
    }
    return real_openat(dirfd, path, flags, mode);
}

int openat64(int dirfd, const char *path, int flags, ...)
{
    va_list ap;
    mode_t mode;

    va_start(ap, flags);
    mode = get_mode(flags, ap);
    va_end(ap);
    resolve();
    if (sim_is_device(path)) {
        return sim_open_device(flags);
    }
    return real_openat64(dirfd, path, flags, mode);
}

int close(int fd)
{
    resolve();
    if (sim_owns_fd(fd)) {
        sim_close(fd);
    }
    return real_close(fd);
}

/*
 * fallocate() on a guest_memfd: the model zaps what KVM would, then the
 * real memfd frees the pages.
 */
int fallocate(int fd, int mode, off_t offset, off_t len)
{
    resolve();
    if (sim_is_gmem_fd(fd)) {
        int r = sim_gmem_fallocate(fd, mode, offset, len);
        if (r < 0) {
            errno = -r;
            return -1;
        }
    }
    return real_fallocate(fd, mode, offset, len);
}

int fallocate64(int fd, int mode, off64_t offset, off64_t len)
{
    resolve();
    if (sim_is_gmem_fd(fd)) {
        int r = sim_gmem_fallocate(fd, mode, offset, len);
        if (r < 0) {
            errno = -r;
            return -1;
        }
    }
    return real_fallocate64(fd, mode, offset, len);
}

/* dup2()/dup3() onto a fake fd closes it first, as the kernel does. */
int dup2(int oldfd, int newfd)
{
    resolve();
    if (oldfd != newfd && sim_owns_fd(newfd)) {
        sim_close(newfd);
    }
    return real_dup2(oldfd, newfd);
}

int dup3(int oldfd, int newfd, int flags)
{
    resolve();
    if (oldfd != newfd && sim_owns_fd(newfd)) {
        sim_close(newfd);
    }
    return real_dup3(oldfd, newfd, flags);
}

int ioctl(int fd, unsigned long req, ...)
{
    va_list ap;
    void *arg;

    va_start(ap, req);
    arg = va_arg(ap, void *);
    va_end(ap);
    resolve();
    if (sim_owns_fd(fd)) {
        return sim_ioctl(fd, req, arg);
    }
    return real_ioctl(fd, req, arg);
}

static void __attribute__((constructor)) preload_init(void)
{
    resolve();
    sim_init();
}

static void __attribute__((destructor)) preload_fini(void)
{
    sim_fini();
}
