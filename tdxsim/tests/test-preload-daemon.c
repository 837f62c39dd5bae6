// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * tdxsim unit test: libtdxsim-daemon.so (preload-daemon.c), the
 * RLIMIT_MEMLOCK raises of a root daemon played where the sandbox lacks
 * CAP_SYS_RESOURCE, and their reading by the simulator (preload-rlimit.c).
 * Each case runs util-linux's prlimit(1) and a shell under the preload,
 * as libvirtd runs QEMU: played only for root, only where Linux says
 * -EPERM, kept across fork and exec without the environment.
 */
#include <dlfcn.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static char *dir;

/* Run sh -c SCRIPT under the daemon preload (and ENV...); its stdout. */
static char *run(const char *script, int *status, const char *extra_env)
{
    g_autofree char *lib = g_build_filename(TDXSIM_BUILD, "libtdxsim-daemon.so",
                                            NULL);
    g_autofree char *cmd = g_strdup_printf(
        "env LD_PRELOAD=%s TDXSIM_RLIMIT_DIR=%s %s sh -c '%s'", lib, dir,
        extra_env ? extra_env : "", script);
    g_autoptr(GError) err = NULL;
    char *out = NULL;

    g_assert_true(g_spawn_command_line_sync(cmd, &out, NULL, status, &err));
    return out;
}

static void clear_dir(void)
{
    g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
    const char *name;

    while ((name = g_dir_read_name(d))) {
        g_autofree char *p = g_build_filename(dir, name, NULL);
        g_unlink(p);
    }
}

/* Can this process raise RLIMIT_MEMLOCK for real (CAP_SYS_RESOURCE)? */
static gboolean can_raise(void)
{
    return system("prlimit --memlock=2147483648:2147483648 true 2>/dev/null")
           == 0;
}

static void test_root_raise_played(void)
{
    g_autofree char *out = NULL;
    int status;

    if (geteuid() != 0) {
        g_test_skip("needs root");
        return;
    }
    if (can_raise()) {
        g_test_skip("this machine raises RLIMIT_MEMLOCK for real");
        return;
    }
    clear_dir();
    /* prlimit(1) raises its own limit, then execs the shell (same PID). */
    out = run("cat $TDXSIM_RLIMIT_DIR/memlock.$$ 2>/dev/null", &status, NULL);
    g_assert_cmpstr(out, ==, "");       /* nothing raised: no record */
    g_free(out);
    out = run("exec prlimit --memlock=1073741824:1073741824 sh -c "
              "\"cat \\$TDXSIM_RLIMIT_DIR/memlock.\\$\\$\"", &status, NULL);
    g_assert_true(g_spawn_check_wait_status(status, NULL));
    g_assert_cmpstr(out, ==, "1073741824 1073741824\n");
}

static void test_non_root_refused(void)
{
    g_autofree char *out = NULL;
    int status;

    if (geteuid() != 0) {
        g_test_skip("needs root (to become another user)");
        return;
    }
    if (can_raise()) {
        g_test_skip("this machine raises RLIMIT_MEMLOCK for real");
        return;
    }
    clear_dir();
    g_chmod(dir, 01777);
    /* Linux refuses a non-root raise whatever its capabilities: so does
     * the preload, and records nothing. */
    out = run("setpriv --reuid nobody --regid nogroup --clear-groups "
              "prlimit --memlock=1073741824:1073741824 true 2>&1; "
              "echo status=$?; ls $TDXSIM_RLIMIT_DIR", &status, NULL);
    g_assert_nonnull(strstr(out, "status=1"));
    g_assert_null(strstr(out, "memlock."));
}

static void test_lowering_is_real(void)
{
    g_autofree char *out = NULL;
    int status;

    clear_dir();
    out = run("exec prlimit --memlock=4096:4096 sh -c "
              "\"ulimit -l; ls \\$TDXSIM_RLIMIT_DIR\"", &status, NULL);
    g_assert_true(g_spawn_check_wait_status(status, NULL));
    g_assert_cmpstr(out, ==, "4\n");
}

/*
 * The daemon's played limit (its unit's LimitMEMLOCK=) reaches a forked
 * child that clears its environment and execs, as libvirt execs QEMU: the
 * preload, loaded here as into libvirtd, is asked to execve a shell with
 * an empty environment, which finds the record of its own PID.
 */
static void test_daemon_limit_inherited(void)
{
    g_autofree char *lib = g_build_filename(TDXSIM_BUILD, "libtdxsim-daemon.so",
                                            NULL);
    g_autofree char *script = g_strdup_printf("cat %s/memlock.$$", dir);
    int (*shim_execve)(const char *, char *const[], char *const[]);
    char *const argv[] = { (char *)"sh", (char *)"-c", script, NULL };
    char *const envp[] = { NULL };
    char out[128] = "";
    int fds[2], status;
    ssize_t n;
    void *h;
    pid_t pid;

    clear_dir();
    g_setenv("TDXSIM_RLIMIT_DIR", dir, TRUE);
    g_setenv("TDXSIM_MEMLOCK_LIMIT", "5368709120", TRUE);
    h = dlopen(lib, RTLD_NOW | RTLD_LOCAL);
    g_unsetenv("TDXSIM_MEMLOCK_LIMIT");
    g_unsetenv("TDXSIM_RLIMIT_DIR");
    g_assert_nonnull(h);
    shim_execve = (int (*)(const char *, char *const[], char *const[]))
                  dlsym(h, "execve");
    g_assert_nonnull(shim_execve);
    g_assert_cmpint(pipe(fds), ==, 0);
    pid = fork();
    if (pid == 0) {
        dup2(fds[1], 1);
        clearenv();
        shim_execve("/bin/sh", argv, envp);
        _exit(127);
    }
    close(fds[1]);
    n = read(fds[0], out, sizeof(out) - 1);
    close(fds[0]);
    g_assert_cmpint(waitpid(pid, &status, 0), ==, pid);
    g_assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    g_assert_cmpint(n, >, 0);
    g_assert_cmpstr(out, ==, "5368709120 5368709120\n");
    dlclose(h);
}

int main(int argc, char **argv)
{
    int ret;

    g_test_init(&argc, &argv, NULL);
    dir = g_dir_make_tmp("tdxsim-rlimit-XXXXXX", NULL);
    g_assert_nonnull(dir);
    g_test_add_func("/preload-daemon/root-raise-played", test_root_raise_played);
    g_test_add_func("/preload-daemon/non-root-refused", test_non_root_refused);
    g_test_add_func("/preload-daemon/lowering-is-real", test_lowering_is_real);
    g_test_add_func("/preload-daemon/daemon-limit-inherited",
                    test_daemon_limit_inherited);
    ret = g_test_run();
    clear_dir();
    g_rmdir(dir);
    return ret;
}
