// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * tdxsim: libc interposition (LD_PRELOAD).  Routes open()s of the fake KVM
 * device and every ioctl()/close() on a fake fd to the KVM model; passes
 * everything else to the real libc.  The only file that interposes.
 *
 * Fake fds are real memfds, so mmap() of a vCPU fd (kvm_run) and
 * fallocate() on a guest_memfd go to the kernel once the model has checked
 * them.  A guest_memfd is not a readable file (Linux 7.2 kvm_gmem_fops has
 * no read/write; mmap only with GUEST_MEMFD_FLAG_MMAP, and a TD's private
 * memory faults SIGBUS): read/pread/write/pwrite/mmap on one are answered
 * here and never reach the backing memfd.
 *
 * Test hook: TDXSIM_MEMLOCK_LIMIT=BYTES plays a host whose RLIMIT_MEMLOCK
 * (soft and hard) is BYTES, for every reader in the process: QEMU's check
 * and the model's charging of pins (kvm-pin.c).  A sandbox without
 * CAP_SYS_RESOURCE cannot raise the real limit to a TD's size.  Without
 * it, a limit that the root daemon which started QEMU raised is read from
 * TDXSIM_RLIMIT_DIR (preload-rlimit.h; libvirt's <hard_limit>).
 * TDXSIM_MLOCK=BYTES: memory locked up front (mlock_hook()).
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "kvm.h"
#include "preload-rlimit.h"
#include "tdxsim.h"

typedef int (*open_fn)(const char *, int, ...);
typedef int (*openat_fn)(int, const char *, int, ...);
typedef int (*close_fn)(int);
typedef int (*ioctl_fn)(int, unsigned long, ...);
typedef int (*dup2_fn)(int, int);
typedef int (*fallocate_fn)(int, int, off_t, off_t);
typedef int (*dup3_fn)(int, int, int);
typedef void *(*mmap_fn)(void *, size_t, int, int, int, off_t);
typedef ssize_t (*read_fn)(int, void *, size_t);
typedef ssize_t (*write_fn)(int, const void *, size_t);
typedef ssize_t (*pread_fn)(int, void *, size_t, off_t);
typedef ssize_t (*pwrite_fn)(int, const void *, size_t, off_t);

static open_fn real_open, real_open64;
static openat_fn real_openat, real_openat64;
static close_fn real_close;
static ioctl_fn real_ioctl;
static dup2_fn real_dup2;
static fallocate_fn real_fallocate, real_fallocate64;
static dup3_fn real_dup3;
static mmap_fn real_mmap, real_mmap64;
static read_fn real_read;
static write_fn real_write;
static pread_fn real_pread, real_pread64;
static pwrite_fn real_pwrite, real_pwrite64;

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
        real_mmap = next_sym("mmap");
        real_mmap64 = next_sym("mmap64");
        real_read = next_sym("read");
        real_write = next_sym("write");
        real_pread = next_sym("pread");
        real_pread64 = next_sym("pread64");
        real_pwrite = next_sym("pwrite");
        real_pwrite64 = next_sym("pwrite64");
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

/*
 * mmap() of a guest_memfd: refused as kvm_gmem_mmap() refuses it; allowed
 * (GUEST_MEMFD_FLAG_MMAP, MAP_SHARED) it gives a mapping of an empty file,
 * so that every access is SIGBUS, as a TD's private guest_memfd faults.
 */
static void *gmem_mmap(void *addr, size_t len, int prot, int flags, int fd)
{
    int r = sim_gmem_mmap_check(fd, flags);
    int empty;
    void *p;

    if (r < 0) {
        errno = -r;
        return MAP_FAILED;
    }
    empty = memfd_create("tdxsim-gmem-private", MFD_CLOEXEC);
    if (empty < 0) {
        return MAP_FAILED;
    }
    p = real_mmap(addr, len, prot, flags, empty, 0);
    syscall(SYS_close, empty);
    return p;
}

void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
    resolve();
    if (sim_is_gmem_fd(fd)) {
        return gmem_mmap(addr, len, prot, flags, fd);
    }
    return real_mmap(addr, len, prot, flags, fd, off);
}

void *mmap64(void *addr, size_t len, int prot, int flags, int fd, off64_t off)
{
    resolve();
    if (sim_is_gmem_fd(fd)) {
        return gmem_mmap(addr, len, prot, flags, fd);
    }
    return real_mmap64(addr, len, prot, flags, fd, off);
}

/* No read/write file operations: vfs_read()/vfs_write() fail -EINVAL. */
ssize_t read(int fd, void *buf, size_t n)
{
    resolve();
    if (sim_is_gmem_fd(fd)) {
        errno = EINVAL;
        return -1;
    }
    return real_read(fd, buf, n);
}

ssize_t write(int fd, const void *buf, size_t n)
{
    resolve();
    if (sim_is_gmem_fd(fd)) {
        errno = EINVAL;
        return -1;
    }
    return real_write(fd, buf, n);
}

/* alloc_file_pseudo() sets no FMODE_PREAD/PWRITE: -ESPIPE. */
ssize_t pread(int fd, void *buf, size_t n, off_t off)
{
    resolve();
    if (sim_is_gmem_fd(fd)) {
        errno = ESPIPE;
        return -1;
    }
    return real_pread(fd, buf, n, off);
}

ssize_t pread64(int fd, void *buf, size_t n, off64_t off)
{
    resolve();
    if (sim_is_gmem_fd(fd)) {
        errno = ESPIPE;
        return -1;
    }
    return real_pread64(fd, buf, n, off);
}

ssize_t pwrite(int fd, const void *buf, size_t n, off_t off)
{
    resolve();
    if (sim_is_gmem_fd(fd)) {
        errno = ESPIPE;
        return -1;
    }
    return real_pwrite(fd, buf, n, off);
}

ssize_t pwrite64(int fd, const void *buf, size_t n, off64_t off)
{
    resolve();
    if (sim_is_gmem_fd(fd)) {
        errno = ESPIPE;
        return -1;
    }
    return real_pwrite64(fd, buf, n, off);
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

/*
 * Test hook: TDXSIM_MLOCK=BYTES locks that much anonymous memory for the
 * process's life, as another user of locked_vm would (VFIO type1 pins):
 * QEMU's memory lock check and the pins' charges must count it.
 */
static void mlock_hook(void)
{
    const char *v = getenv("TDXSIM_MLOCK");
    size_t n = v ? strtoull(v, NULL, 0) : 0;
    void *p;

    if (!n) {
        return;
    }
    p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
             -1, 0);
    if (p == MAP_FAILED || mlock(p, n)) {
        fprintf(stderr, "tdxsim: TDXSIM_MLOCK=%s: cannot lock memory: %m\n",
                v);
        abort();
    }
}

static void __attribute__((constructor)) preload_init(void)
{
    resolve();
    mlock_hook();
    tdxsim_init();
}

static void __attribute__((destructor)) preload_fini(void)
{
    sim_fini();
}

/* ---- RLIMIT_MEMLOCK as the simulated host sets it ---- */

static bool memlock_hook(int resource, struct rlimit *rl)
{
    const char *v = getenv("TDXSIM_MEMLOCK_LIMIT");

    if (resource != RLIMIT_MEMLOCK || !rl) {
        return false;
    }
    if (v && *v) {
        rl->rlim_cur = rl->rlim_max = strtoull(v, NULL, 0);
        return true;
    }
    /* A limit the daemon that started QEMU raised (preload-daemon.c). */
    return played_memlock_get(getpid(), rl);
}

int getrlimit(__rlimit_resource_t resource, struct rlimit *rl)
{
    if (memlock_hook(resource, rl)) {
        return 0;
    }
    return syscall(SYS_prlimit64, 0, resource, NULL, rl);
}

int getrlimit64(__rlimit_resource_t resource, struct rlimit64 *rl)
{
    return getrlimit(resource, (struct rlimit *)rl);
}
