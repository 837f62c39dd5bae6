/*
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * The steps of a private<->shared conversion (accel/kvm/kvm-convert.c):
 * order of KVM's attributes and the listeners, undo of the runs done when
 * one fails, and which failures are the guest's, the host's, or retried.
 * KVM and the listeners are played by a model of pages that fails on
 * request.
 */
#include "qemu/osdep.h"
#include "../../accel/kvm/kvm-convert.h"

#define PAGES 16
#define PAGE 4096

typedef struct Model {
    bool kvm_private[PAGES];
    bool listener_private[PAGES];
    GString *log;               /* "A+g" attributes, "L-g" listeners ... */
    unsigned attr_calls, state_calls;
    unsigned fail_attr_call;    /* the nth set_attributes fails (1-based) */
    unsigned fail_state_call;   /* the nth state_change fails ... */
    int fail_state_ret;         /* ... with this */
    int discard_ret;
} Model;

static void note(Model *m, char what, const KVMConvertRun *run,
                 bool to_private)
{
    g_string_append_printf(m->log, "%s%c%c%" PRIu64, m->log->len ? " " : "",
                           what, to_private ? '+' : '-', run->gpa / PAGE);
}

static int set_attributes(const KVMConvertRun *run, bool to_private,
                          void *opaque)
{
    Model *m = opaque;

    note(m, 'A', run, to_private);
    if (++m->attr_calls == m->fail_attr_call) {
        return -EFAULT;
    }
    for (uint64_t g = run->gpa; g < run->gpa + run->size; g += PAGE) {
        m->kvm_private[g / PAGE] = to_private;
    }
    return 0;
}

static int state_change(const KVMConvertRun *run, bool to_private,
                        void *opaque)
{
    Model *m = opaque;

    note(m, 'L', run, to_private);
    if (++m->state_calls == m->fail_state_call) {
        return m->fail_state_ret;
    }
    for (uint64_t g = run->gpa; g < run->gpa + run->size; g += PAGE) {
        m->listener_private[g / PAGE] = to_private;
    }
    return 0;
}

static int discard(const KVMConvertRun *run, bool to_private, void *opaque)
{
    Model *m = opaque;

    note(m, 'D', run, to_private);
    return m->discard_ret;
}

static const KVMConvertOps ops = {
    .set_attributes = set_attributes,
    .state_change = state_change,
    .discard = discard,
};

/* Runs at pages 1-2, 5 and 8-11, each in the state opposite to_private. */
static KVMConvertRun runs[] = {
    { .gpa = 1 * PAGE, .size = 2 * PAGE },
    { .gpa = 5 * PAGE, .size = 1 * PAGE },
    { .gpa = 8 * PAGE, .size = 4 * PAGE },
};

static Model *model_new(bool to_private)
{
    Model *m = g_new0(Model, 1);

    for (int i = 0; i < PAGES; i++) {
        m->kvm_private[i] = m->listener_private[i] = !to_private;
    }
    m->log = g_string_new("");
    return m;
}

static void model_free(Model *m)
{
    g_string_free(m->log, true);
    g_free(m);
}

static int convert(Model *m, bool to_private, bool pinned)
{
    return kvm_convert_runs(runs, G_N_ELEMENTS(runs), to_private, pinned,
                            0, PAGES * PAGE, &ops, m);
}

/* runs[0..n) converted, the rest as before; KVM and the listeners agree. */
static void assert_converted(Model *m, unsigned n, bool to_private)
{
    bool want[PAGES];

    for (int i = 0; i < PAGES; i++) {
        want[i] = !to_private;
    }
    for (unsigned r = 0; r < n; r++) {
        for (uint64_t g = runs[r].gpa; g < runs[r].gpa + runs[r].size;
             g += PAGE) {
            want[g / PAGE] = to_private;
        }
    }
    for (int i = 0; i < PAGES; i++) {
        g_assert_cmpint(m->kvm_private[i], ==, want[i]);
        g_assert_cmpint(m->listener_private[i], ==, want[i]);
    }
}

static void test_to_private(void)
{
    Model *m = model_new(true);

    g_assert_cmpint(convert(m, true, false), ==, 0);
    g_assert_cmpstr(m->log->str, ==,
                    "A+1 L+1 A+5 L+5 A+8 L+8 D+1 D+5 D+8");
    assert_converted(m, 3, true);
    model_free(m);
}

/* Without pinning, KVM first in both directions. */
static void test_to_shared(void)
{
    Model *m = model_new(false);

    g_assert_cmpint(convert(m, false, false), ==, 0);
    g_assert_cmpstr(m->log->str, ==,
                    "A-1 L-1 A-5 L-5 A-8 L-8 D-1 D-5 D-8");
    assert_converted(m, 3, false);
    model_free(m);
}

/* Pinned: a run turns shared in KVM only after its listeners unmapped it. */
static void test_pinned_to_shared(void)
{
    Model *m = model_new(false);

    g_assert_cmpint(convert(m, false, true), ==, 0);
    g_assert_cmpstr(m->log->str, ==,
                    "L-1 A-1 L-5 A-5 L-8 A-8 D-1 D-5 D-8");
    assert_converted(m, 3, false);
    model_free(m);
}

static void test_pinned_to_private(void)
{
    Model *m = model_new(true);

    g_assert_cmpint(convert(m, true, true), ==, 0);
    g_assert_cmpstr(m->log->str, ==,
                    "A+1 L+1 A+5 L+5 A+8 L+8 D+1 D+5 D+8");
    assert_converted(m, 3, true);
    model_free(m);
}

/* A busy listener on the last run: the two before are undone, last first. */
static void test_busy_undone(void)
{
    Model *m = model_new(true);

    m->fail_state_call = 3;
    m->fail_state_ret = -EAGAIN;
    g_assert_cmpint(convert(m, true, false), ==, -EAGAIN);
    g_assert_cmpstr(m->log->str, ==,
                    "A+1 L+1 A+5 L+5 A+8 L+8 A-8 A-5 L-5 A-1 L-1");
    assert_converted(m, 0, true);
    model_free(m);
}

/* The same, pinned, to shared: the undo maps again before KVM. */
static void test_pinned_busy_undone(void)
{
    Model *m = model_new(false);

    m->fail_state_call = 2;
    m->fail_state_ret = -EAGAIN;
    g_assert_cmpint(convert(m, false, true), ==, -EAGAIN);
    g_assert_cmpstr(m->log->str, ==, "L-1 A-1 L-5 A+1 L+1");
    assert_converted(m, 0, false);
    model_free(m);
}

/* A host failure of a listener (ENOMEM): undone, but the host's error. */
static void test_host_refusal_undone(void)
{
    Model *m = model_new(true);

    m->fail_state_call = 2;
    m->fail_state_ret = -ENOMEM;
    g_assert_cmpint(convert(m, true, false), ==, -EIO);
    g_assert_cmpstr(m->log->str, ==, "A+1 L+1 A+5 L+5 A-5 A-1 L-1");
    assert_converted(m, 0, true);
    model_free(m);
}

/* A listener's -EIO may have left a change behind: nothing is undone. */
static void test_listener_eio_not_undone(void)
{
    Model *m = model_new(true);

    m->fail_state_call = 2;
    m->fail_state_ret = -EIO;
    g_assert_cmpint(convert(m, true, false), ==, -EIO);
    g_assert_cmpstr(m->log->str, ==, "A+1 L+1 A+5 L+5");
    model_free(m);
}

/* KVM refusing its attributes is the host's failure: nothing undone. */
static void test_kvm_refuses(void)
{
    Model *m = model_new(true);

    m->fail_attr_call = 2;
    g_assert_cmpint(convert(m, true, false), ==, -EIO);
    g_assert_cmpstr(m->log->str, ==, "A+1 L+1 A+5");
    assert_converted(m, 1, true);
    model_free(m);
}

/* Pinned, KVM refuses shared: the run's listeners map it again. */
static void test_pinned_kvm_refuses_shared(void)
{
    Model *m = model_new(false);

    m->fail_attr_call = 1;
    g_assert_cmpint(convert(m, false, true), ==, -EIO);
    g_assert_cmpstr(m->log->str, ==, "L-1 A-1 L+1");
    assert_converted(m, 0, false);
    model_free(m);
}

/* The undo fails: the host's error, not a retry. */
static void test_undo_fails(void)
{
    Model *m = model_new(true);

    m->fail_state_call = 2;
    m->fail_state_ret = -EAGAIN;
    m->fail_attr_call = 3;      /* A-5 after L+5 refused */
    g_assert_cmpint(convert(m, true, false), ==, -EIO);
    g_assert_cmpstr(m->log->str, ==, "A+1 L+1 A+5 L+5 A-5");
    model_free(m);
}

/* Converted, but the other side's memory is not given back: the host's. */
static void test_discard_fails(void)
{
    Model *m = model_new(true);

    m->discard_ret = -EINVAL;
    g_assert_cmpint(convert(m, true, false), ==, -EIO);
    assert_converted(m, 3, true);
    model_free(m);
}

static void test_no_runs(void)
{
    Model *m = model_new(true);

    g_assert_cmpint(kvm_convert_runs(NULL, 0, true, false, 0, PAGE, &ops, m),
                    ==, 0);
    g_assert_cmpstr(m->log->str, ==, "");
    model_free(m);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/kvm-convert/to-private", test_to_private);
    g_test_add_func("/kvm-convert/to-shared", test_to_shared);
    g_test_add_func("/kvm-convert/pinned-to-shared", test_pinned_to_shared);
    g_test_add_func("/kvm-convert/pinned-to-private", test_pinned_to_private);
    g_test_add_func("/kvm-convert/busy-undone", test_busy_undone);
    g_test_add_func("/kvm-convert/pinned-busy-undone",
                    test_pinned_busy_undone);
    g_test_add_func("/kvm-convert/host-refusal-undone",
                    test_host_refusal_undone);
    g_test_add_func("/kvm-convert/listener-eio-not-undone",
                    test_listener_eio_not_undone);
    g_test_add_func("/kvm-convert/kvm-refuses", test_kvm_refuses);
    g_test_add_func("/kvm-convert/pinned-kvm-refuses-shared",
                    test_pinned_kvm_refuses_shared);
    g_test_add_func("/kvm-convert/undo-fails", test_undo_fails);
    g_test_add_func("/kvm-convert/discard-fails", test_discard_fails);
    g_test_add_func("/kvm-convert/no-runs", test_no_runs);
    return g_test_run();
}
