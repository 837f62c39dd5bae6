// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * tdxsim fuzz driver: libFuzzer inside the simulator, driving QEMU's
 * conversion path (kvm_convert_memory(), RamBlockAttributes and its
 * listeners, the side-table listener) through QEMU's own vCPU threads.
 *
 * Built into libtdxsim-fuzz.so (the simulator plus this file, compiled by
 * clang with -fsanitize=fuzzer-no-link, linked with libFuzzer's no-main
 * runtime) and preloaded into an unmodified qemu-system-x86_64 running a
 * TD whose trace is "park" on every vCPU.  When the first vCPU parks, a
 * driver thread starts libFuzzer (LLVMFuzzerRunDriver).  Each input is one
 * round: it is decoded (fuzz-input.h) into tolerant guest operations per
 * vCPU; the parked vCPUs pick them up and run them at once, inside
 * KVM_RUN, exiting to QEMU for MapGPA and implicit conversions; when every
 * vCPU is parked again (no conversion in flight) the driver checks, under
 * the VM lock:
 *   - KVM's memory attributes of every page of the model's areas against
 *     the reference model (fuzz-model.h);
 *   - the S-EPT: side-table mode, mapped exactly where private and backed
 *     (sim_check_agree()); mirror mode, nothing mapped that is shared
 *     (sim_check_range()); every 8 rounds the whole S-EPT and the TDX
 *     module's self-check (sim_check_full());
 *   - discards: a shared access writes a marker into QEMU's shared page;
 *     a page that is private now must read 0 there (QEMU discarded the
 *     shared side when it converted it), a shared page nobody saw private
 *     this round must still hold the marker;
 *   - no new invariant violation, run failure or trace expectation failure
 *     counted by the simulator.
 * A failed check, a round that does not end within TDXSIM_FUZZ_ROUND_MS
 * (a hang, or QEMU stopped the VM) is a finding: printed, then abort(), so
 * that libFuzzer saves the input (crash-*).  QEMU crashing or exiting
 * during a round is one too (libFuzzer's handlers).
 *
 * Environment:
 *   TDXSIM_FUZZ_ARGS     libFuzzer's arguments (space separated): corpus
 *                        directories, -seed=N, -artifact_prefix=...
 *   TDXSIM_FUZZ_RUNS     stop after this many executions (0: no limit)
 *   TDXSIM_FUZZ_SECONDS  stop after this many seconds (0: no limit)
 *   TDXSIM_FUZZ_REPLAY   instead of fuzzing, run each file given
 *                        (colon separated; directories: every file in them)
 *                        in name order, TDXSIM_FUZZ_REPEAT times each (a
 *                        race needs several tries): the regression tests
 *   TDXSIM_FUZZ_ROUND_MS a round's deadline (default 20000)
 *   TDXSIM_FUZZ_INJECT   kernel faults (TDXSIM_INJECT's enomem/eintr rules)
 *                        injected during the input rounds only, not during
 *                        the build or the resets; the inputs then make
 *                        MapGPAs only (FUZZ_DECODE_MAPGPA_ONLY), and a
 *                        conversion that fails must change nothing
 * At the end the guest shuts down, QEMU exits, and the simulator's own
 * teardown checks and report run as for any TD.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kvm-vm.h"
#include "guest.h"
#include "guest-trace.h"
#include "fuzz-input.h"
#include "fuzz-model.h"
#include "inject.h"

int LLVMFuzzerRunDriver(int *argc, char ***argv,
                        int (*cb)(const uint8_t *data, size_t size));
size_t LLVMFuzzerMutate(uint8_t *data, size_t size, size_t max_size);
size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size,
                               unsigned int seed);

#define MARK_OFFSET     0x800
#define MARK_BYTE       0xa5

struct driver_vcpu {
    struct sim_vcpu *vcpu;
    GArray *pending;            /* ops for the next round, or NULL */
    GArray *current;            /* the ops the vCPU runs (owned here) */
    bool busy;                  /* took ops and has not parked since */
    bool parked;                /* at its park op */
    uint64_t round;             /* of the ops it got last */
};

static struct {
    pthread_once_t once;
    struct sim_vm *vm;
    unsigned nr_vcpus;
    struct driver_vcpu vcpus[FUZZ_MAX_VCPUS];
    struct fuzz_model model;
    bool model_ready;
    bool stopping;              /* budget used up: shut the guest down */
    uint64_t runs, rounds, ops, findings_checked;
    uint64_t max_runs;
    double max_seconds, start;
    unsigned round_ms;
    uint64_t violations, run_failures, expect_failures;
    uint64_t repeat;            /* replay: runs of each input */
    struct inject *inj_off;     /* the run's own rules (build, resets) */
    struct inject *inj_on;      /* TDXSIM_FUZZ_INJECT, or NULL */
    bool *dirty;                /* per area: touched since its last reset */
} drv = { .once = PTHREAD_ONCE_INIT };

static double now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static uint64_t env_u64(const char *name, uint64_t dflt)
{
    const char *s = getenv(name);

    return s && *s ? strtoull(s, NULL, 0) : dflt;
}

/* ---- the hooks (vCPU threads, vm->lock held) ---- */

static void *driver_main(void *opaque);

static void start_driver(void)
{
    pthread_t t;

    if (pthread_create(&t, NULL, driver_main, NULL)) {
        fprintf(stderr, "tdxsim-fuzz: cannot start the driver thread\n");
        abort();
    }
    pthread_detach(t);
}

static bool fuzz_park(struct sim_vcpu *vcpu)
{
    struct driver_vcpu *d;

    if (vcpu->vcpu_id >= FUZZ_MAX_VCPUS) {
        return false;
    }
    if (!drv.vm) {
        drv.vm = vcpu->vm;
    }
    pthread_once(&drv.once, start_driver);
    d = &drv.vcpus[vcpu->vcpu_id];
    d->vcpu = vcpu;
    if (d->pending) {
        if (d->current) {
            g_array_free(d->current, true);
        }
        d->current = d->pending;
        d->pending = NULL;
        vcpu->ops = (const struct trace_op *)d->current->data;
        vcpu->nr_ops = d->current->len;
        vcpu->pc = 0;
        d->busy = true;
        d->parked = false;
        return true;
    }
    d->busy = false;
    d->parked = true;
    return false;
}

/* The shared page of gpa in QEMU's memory, or NULL (no RAM slot). */
static volatile uint8_t *shared_byte(struct sim_vm *vm, uint64_t gpa)
{
    struct sim_slot *s = sim_find_slot(vm, gpa);

    if (!s || !s->gmem || !s->uaddr) {
        return NULL;
    }
    return (volatile uint8_t *)(uintptr_t)(s->uaddr + (gpa - s->gpa) +
                                           MARK_OFFSET);
}

static void fuzz_observed(struct sim_vcpu *vcpu, uint64_t gpa, uint64_t size,
                          bool private)
{
    if (!drv.model_ready || vcpu->vcpu_id >= drv.nr_vcpus) {
        return;
    }
    fuzz_model_observe(&drv.model, vcpu->vcpu_id, gpa, size, private);
    /*
     * Only a shared access, seen the instant it happens (the attribute is
     * shared under the VM lock), may write: a MapGPA chunk is observed when
     * the vCPU re-enters, after userspace converted it, and by then another
     * vCPU may have converted the page to private and discarded it.
     */
    if (!private && vcpu->pc < vcpu->nr_ops &&
        vcpu->ops[vcpu->pc].kind == TOP_ACCESS) {
        /* The guest writes the page (like a DMA buffer). */
        volatile uint8_t *b = shared_byte(vcpu->vm, gpa);
        uint8_t *p = fuzz_model_page(&drv.model, gpa);

        if (b && p) {
            *b = MARK_BYTE;
            *p |= FM_MARKED;
        }
    }
}

static const struct guest_driver fuzz_driver = {
    .park = fuzz_park,
    .observed = fuzz_observed,
};

static void __attribute__((constructor)) fuzz_init(void)
{
    guest_driver = &fuzz_driver;
}

/* ---- the driver thread ---- */

static const char *op_name(const struct trace_op *op)
{
    switch (op->kind) {
    case TOP_MAPGPA:
        return op->private ? "mapgpa private" : "mapgpa shared";
    case TOP_ACCESS:
        return "access shared";
    case TOP_ACCEPT:
        return "accept";
    case TOP_INTERRUPT:
        return "interrupt";
    default:
        return NULL;
    }
}

/* The round's operations, as a trace (to read a finding). */
static void print_round(void)
{
    for (unsigned v = 0; v < drv.nr_vcpus; v++) {
        struct driver_vcpu *d = &drv.vcpus[v];
        GArray *a = d->round == drv.rounds ? d->pending ?: d->current : NULL;

        if (!a) {
            continue;
        }
        fprintf(stderr, "tdxsim-fuzz:   vcpu %u\n", v);
        for (unsigned i = 0; i < a->len; i++) {
            const struct trace_op *op = &g_array_index(a, struct trace_op, i);
            const char *name = op_name(op);

            if (name && op->kind == TOP_INTERRUPT) {
                fprintf(stderr, "tdxsim-fuzz:     interrupt\n");
            } else if (name) {
                fprintf(stderr, "tdxsim-fuzz:     %s 0x%" PRIx64 " 0x%" PRIx64
                        "\n", name, op->gpa, op->size);
            }
        }
    }
}

static void G_GNUC_PRINTF(1, 2) G_GNUC_NORETURN finding(const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "tdxsim-fuzz: FINDING (round %" PRIu64 "): ",
            drv.rounds);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    fprintf(stderr, "tdxsim-fuzz: the round (records of the input):\n");
    print_round();
    fflush(stderr);
    abort();            /* libFuzzer saves the input */
}

/* Wait (lock dropped) until every vCPU is parked with nothing pending. */
static bool wait_quiescent(unsigned ms)
{
    double deadline = now() + ms / 1000.0;
    struct timespec ts = { 0, 200000 };

    for (;;) {
        bool all = true;

        pthread_mutex_lock(&drv.vm->lock);
        for (unsigned v = 0; v < drv.nr_vcpus; v++) {
            struct driver_vcpu *d = &drv.vcpus[v];

            all &= d->parked && !d->busy && !d->pending;
        }
        pthread_mutex_unlock(&drv.vm->lock);
        if (all) {
            return true;
        }
        if (now() > deadline) {
            return false;
        }
        nanosleep(&ts, NULL);
    }
}

static void describe_stuck(void)
{
    pthread_mutex_lock(&drv.vm->lock);
    for (unsigned v = 0; v < drv.nr_vcpus; v++) {
        struct driver_vcpu *d = &drv.vcpus[v];
        struct sim_vcpu *c = d->vcpu;

        if (c && d->busy && c->pc < c->nr_ops) {
            const struct trace_op *op = &c->ops[c->pc];

            fprintf(stderr, "tdxsim-fuzz: vCPU %u stuck at record %u (op %u "
                    "of %u, gpa 0x%" PRIx64 " size 0x%" PRIx64 ")\n", v,
                    op->line, c->pc, c->nr_ops, op->gpa, op->size);
        }
    }
    pthread_mutex_unlock(&drv.vm->lock);
}

/* Areas: 4 MiB around each boundary of the guest_memfd memslots, 1 GiB, and
 * the IOAPIC. */
static void model_setup(void)
{
    struct sim_vm *vm = drv.vm;
    uint64_t extra[] = { 1ULL << 30, 0xfec00000ULL };

    fuzz_model_init(&drv.model, drv.nr_vcpus);
    for (unsigned i = 0; i < SIM_MAX_SLOTS; i++) {
        struct sim_slot *s = &vm->slots[i];

        if (!s->used || !s->gmem || (s->slot >> 16)) {
            continue;
        }
        for (int e = 0; e < 2; e++) {
            uint64_t b = e ? s->gpa + s->size : s->gpa;

            fuzz_model_add_area(&drv.model,
                                b > FUZZ_AREA_HALF ? b - FUZZ_AREA_HALF : 0,
                                b + FUZZ_AREA_HALF);
        }
    }
    for (unsigned i = 0; i < G_N_ELEMENTS(extra); i++) {
        fuzz_model_add_area(&drv.model, extra[i] - FUZZ_AREA_HALF,
                            extra[i] + FUZZ_AREA_HALF);
    }
    for (unsigned i = 0; i < drv.model.areas->len; i++) {
        struct fuzz_area *a = &g_array_index(drv.model.areas,
                                             struct fuzz_area, i);

        for (uint64_t g = a->start; g < a->end; g += SIM_PAGE_SIZE) {
            struct sim_slot *s = sim_find_slot(vm, g);
            uint8_t *p = &a->page[(g - a->start) / SIM_PAGE_SIZE];

            *p = (sim_gfn_private(vm, g >> 12) ? FM_PRIVATE : 0) |
                 (s && s->gmem && !(s->slot >> 16) ? FM_RAM : 0);
        }
        fprintf(stderr, "tdxsim-fuzz: area [0x%" PRIx64 ", 0x%" PRIx64 ")\n",
                a->start, a->end);
    }
    drv.dirty = g_new(bool, drv.model.areas->len);
    for (unsigned i = 0; i < drv.model.areas->len; i++) {
        drv.dirty[i] = true;
    }
    drv.violations = vm->stats.invariant_violations;
    drv.run_failures = vm->stats.run_failures;
    drv.expect_failures = vm->stats.expect_failures;
    drv.model_ready = true;
}

/* The checks at the quiescent point (vm->lock held). */
static void check_round(void)
{
    struct sim_vm *vm = drv.vm;
    g_autoptr(GString) why = g_string_new("");

    for (unsigned i = 0; i < drv.model.areas->len; i++) {
        struct fuzz_area *a = &g_array_index(drv.model.areas,
                                             struct fuzz_area, i);

        for (uint64_t g = a->start; g < a->end; g += SIM_PAGE_SIZE) {
            uint8_t *p = &a->page[(g - a->start) / SIM_PAGE_SIZE];
            bool actual = sim_gfn_private(vm, g >> 12);
            bool seen_private = fuzz_model_seen_private(&drv.model, g);
            enum fuzz_verdict v;
            volatile uint8_t *b;

            g_string_truncate(why, 0);
            v = fuzz_model_judge(&drv.model, g, actual, why);
            if (v != FUZZ_OK) {
                finding("GPA 0x%" PRIx64 " is %s in KVM's attributes, but %s",
                        g, actual ? "private" : "shared", why->str);
            }
            if (!(*p & FM_MARKED) || !(b = shared_byte(vm, g))) {
                continue;
            }
            if (actual && *b != 0) {
                finding("GPA 0x%" PRIx64 " is private, but its shared page "
                        "still holds what the guest wrote (not discarded)", g);
            }
            if (actual || seen_private) {
                /* discarded, or may have been: the marker is gone or moot */
                *p &= ~FM_MARKED;
            } else if (*b != MARK_BYTE) {
                finding("GPA 0x%" PRIx64 " stayed shared, but its shared page "
                        "lost what the guest wrote (0x%02x)", g, *b);
            }
        }
        if (vm->sept.enabled) {
            sim_check_agree(vm, a->start, a->end - a->start,
                            "fuzz round", NULL);
        } else {
            sim_check_range(vm, a->start, a->end - a->start);
        }
    }
    if (drv.rounds % 8 == 0) {
        sim_check_full(vm);
    }
    if (vm->stats.invariant_violations != drv.violations ||
        vm->stats.run_failures != drv.run_failures ||
        vm->stats.expect_failures != drv.expect_failures) {
        finding("the simulator counted %" PRIu64 " invariant violations, %"
                PRIu64 " run failures, %" PRIu64 " expectation failures "
                "(see above)", vm->stats.invariant_violations - drv.violations,
                vm->stats.run_failures - drv.run_failures,
                vm->stats.expect_failures - drv.expect_failures);
    }
    if (vm->bugged) {
        finding("the VM is dead (KVM_BUG_ON or kvm_vm_dead())");
    }
    fuzz_model_round_end(&drv.model);
}

static bool budget_used(void)
{
    return (drv.max_runs && drv.runs >= drv.max_runs) ||
           (drv.max_seconds > 0 && now() - drv.start >= drv.max_seconds);
}

/*
 * vCPU 0 converts the RAM of every area an earlier round touched to shared
 * and back to private (all pages private, none accepted, the shared side
 * discarded), so that every input starts from the same state and a finding
 * replays from its input alone.  While faults are injected, to private and
 * back to shared instead: the inputs' MapGPAs to private then map (where
 * the faults are) rather than find the pages private already.
 */
static void reset_ops(GArray *ops)
{
    for (unsigned i = 0; i < drv.model.areas->len; i++) {
        struct fuzz_area *a = &g_array_index(drv.model.areas,
                                             struct fuzz_area, i);
        uint64_t run = 0;
        bool in_run = false;

        if (!drv.dirty[i]) {
            continue;
        }
        drv.dirty[i] = false;
        for (uint64_t g = a->start; g <= a->end; g += SIM_PAGE_SIZE) {
            bool ram = g < a->end &&
                       (a->page[(g - a->start) / SIM_PAGE_SIZE] & FM_RAM);

            if (ram && !in_run) {
                run = g;
                in_run = true;
            } else if (!ram && in_run) {
                struct trace_op op = {
                    .kind = TOP_MAPGPA, .gpa = run, .size = g - run,
                    .count = 1, .tolerant = true, .private = !!drv.inj_on,
                };

                g_array_append_val(ops, op);
                op.private = !drv.inj_on;
                g_array_append_val(ops, op);
                in_run = false;
            }
        }
    }
}

/* Hand ops[v] to the parked vCPUs, wait for all to park again, check. */
static void round_run(GArray **ops)
{
    pthread_mutex_lock(&drv.vm->lock);
    drv.rounds++;
    for (unsigned v = 0; v < drv.nr_vcpus; v++) {
        struct trace_op park = { .kind = TOP_PARK };

        if (!ops[v]->len) {
            g_array_free(ops[v], true);
            continue;
        }
        g_array_append_val(ops[v], park);
        drv.vcpus[v].pending = ops[v];
        drv.vcpus[v].parked = false;
        drv.vcpus[v].round = drv.rounds;
    }
    pthread_mutex_unlock(&drv.vm->lock);

    if (!wait_quiescent(drv.round_ms)) {
        describe_stuck();
        finding("the vCPUs did not finish the round within %u ms (a hang, "
                "or QEMU stopped the VM)", drv.round_ms);
    }
    pthread_mutex_lock(&drv.vm->lock);
    check_round();
    pthread_mutex_unlock(&drv.vm->lock);
}

static void new_ops(GArray **ops)
{
    for (unsigned v = 0; v < drv.nr_vcpus; v++) {
        ops[v] = g_array_new(false, true, sizeof(struct trace_op));
    }
}

static int run_one(const uint8_t *data, size_t size)
{
    GArray *ops[FUZZ_MAX_VCPUS];
    unsigned n;

    if (drv.stopping || budget_used()) {
        drv.stopping = true;
        return 0;
    }
    drv.runs++;
    pthread_mutex_lock(&drv.vm->lock);
    new_ops(ops);
    reset_ops(ops[0]);
    pthread_mutex_unlock(&drv.vm->lock);
    round_run(ops);

    pthread_mutex_lock(&drv.vm->lock);
    if (drv.inj_on) {
        sim.inj = drv.inj_on;
    }
    new_ops(ops);
    n = fuzz_decode(data, size, &drv.model,
                    drv.inj_on ? FUZZ_DECODE_MAPGPA_ONLY : 0, ops);
    drv.ops += n;
    for (unsigned v = 0; v < drv.nr_vcpus; v++) {
        for (unsigned i = 0; i < ops[v]->len; i++) {
            const struct trace_op *op = &g_array_index(ops[v],
                                                       struct trace_op, i);
            struct fuzz_area *a = fuzz_model_area(&drv.model, op->gpa);

            if (a && op->kind != TOP_INTERRUPT) {
                drv.dirty[a - &g_array_index(drv.model.areas,
                                             struct fuzz_area, 0)] = true;
            }
        }
    }
    pthread_mutex_unlock(&drv.vm->lock);
    round_run(ops);
    if (drv.inj_on) {
        pthread_mutex_lock(&drv.vm->lock);
        sim.inj = drv.inj_off;
        pthread_mutex_unlock(&drv.vm->lock);
    }
    return 0;
}

static uint64_t injected(void)
{
    uint64_t hits = 0;

    for (unsigned i = 0; drv.inj_on && i < drv.inj_on->rules->len; i++) {
        hits += g_array_index(drv.inj_on->rules, struct inject_rule, i).hits;
    }
    return hits;
}

static void setup_inject(void)
{
    const char *spec = getenv("TDXSIM_FUZZ_INJECT");
    g_autoptr(GError) err = NULL;

    if (!spec || !*spec) {
        return;
    }
    drv.inj_on = inject_parse(spec, sim.seed, &err);
    if (!drv.inj_on) {
        fprintf(stderr, "tdxsim-fuzz: TDXSIM_FUZZ_INJECT: %s\n",
                err->message);
        /* Not exit(): the exit handlers would wait for the VM lock. */
        _exit(2);
    }
    for (unsigned i = 0; i < drv.inj_on->rules->len; i++) {
        if (g_array_index(drv.inj_on->rules, struct inject_rule,
                          i).kind == INJ_BUSY) {
            fprintf(stderr, "tdxsim-fuzz: TDXSIM_FUZZ_INJECT: busy rules "
                    "go to the TDX module at start-up: use TDXSIM_INJECT\n");
            _exit(2);
        }
    }
    drv.inj_off = sim.inj;
}

/* The guest shuts down; QEMU exits and the simulator checks the teardown. */
static void G_GNUC_NORETURN shutdown_guest(void)
{
    double secs = now() - drv.start;

    fprintf(stderr, "tdxsim-fuzz: done: %" PRIu64 " executions (%" PRIu64
            " rounds, %" PRIu64 " operations, %" PRIu64 " observations, %"
            PRIu64 " faults injected) in %.1f s, %s mode, %u vCPUs, no "
            "finding\n", drv.runs, drv.rounds, drv.ops,
            drv.model.observations, injected(), secs,
            drv.vm->sept.enabled ? "side-table" : "mirror", drv.nr_vcpus);
    pthread_mutex_lock(&drv.vm->lock);
    if (drv.inj_on) {
        sim.inj = drv.inj_on;       /* the report lists the fuzz rules */
    }
    sim_check_full(drv.vm);
    for (unsigned v = 0; v < drv.nr_vcpus; v++) {
        struct trace_op op = { .kind = TOP_SHUTDOWN };
        GArray *a = g_array_new(false, true, sizeof(op));

        g_array_append_val(a, op);
        drv.vcpus[v].pending = a;
    }
    pthread_mutex_unlock(&drv.vm->lock);
    for (;;) {
        pause();        /* QEMU's main thread exits the process */
    }
}

/* Called by libFuzzer between executions, outside the target callback. */
size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size,
                               unsigned int seed)
{
    if (drv.stopping || budget_used()) {
        shutdown_guest();
    }
    return LLVMFuzzerMutate(data, size, max_size);
}

static void replay_file(const char *path)
{
    g_autofree char *data = NULL;
    gsize len;
    g_autoptr(GError) err = NULL;

    if (!g_file_get_contents(path, &data, &len, &err)) {
        fprintf(stderr, "tdxsim-fuzz: %s\n", err->message);
        exit(2);
    }
    fprintf(stderr, "tdxsim-fuzz: replaying %s (%zu bytes, %" PRIu64
            " times)\n", path, (size_t)len, drv.repeat);
    for (uint64_t i = 0; i < drv.repeat; i++) {
        run_one((const uint8_t *)data, len);
    }
}

static gint str_cmp(gconstpointer a, gconstpointer b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void replay(const char *list)
{
    g_auto(GStrv) items = g_strsplit(list, ":", -1);

    for (char **it = items; *it; it++) {
        g_autoptr(GDir) dir = NULL;
        g_autoptr(GPtrArray) files = g_ptr_array_new_with_free_func(g_free);
        const char *name;

        if (!**it) {
            continue;
        }
        dir = g_dir_open(*it, 0, NULL);
        if (!dir) {
            replay_file(*it);
            continue;
        }
        while ((name = g_dir_read_name(dir))) {
            g_ptr_array_add(files, g_build_filename(*it, name, NULL));
        }
        g_ptr_array_sort(files, str_cmp);
        for (guint i = 0; i < files->len; i++) {
            replay_file(files->pdata[i]);
        }
    }
}

static void *driver_main(void *opaque)
{
    const char *replay_list = getenv("TDXSIM_FUZZ_REPLAY");
    const char *extra = getenv("TDXSIM_FUZZ_ARGS");
    g_autoptr(GPtrArray) args = g_ptr_array_new();
    g_auto(GStrv) words = NULL;
    char **argv;
    int argc;

    drv.max_runs = env_u64("TDXSIM_FUZZ_RUNS", 0);
    drv.max_seconds = env_u64("TDXSIM_FUZZ_SECONDS", 0);
    drv.round_ms = env_u64("TDXSIM_FUZZ_ROUND_MS", 20000);
    drv.repeat = MAX(env_u64("TDXSIM_FUZZ_REPEAT", 1), 1);

    /* Every vCPU at its park op: the TD runs, nothing is in flight. */
    pthread_mutex_lock(&drv.vm->lock);
    drv.nr_vcpus = MIN(drv.vm->nr_vcpus, FUZZ_MAX_VCPUS);
    pthread_mutex_unlock(&drv.vm->lock);
    if (!wait_quiescent(60000)) {
        fprintf(stderr, "tdxsim-fuzz: the vCPUs never all parked (is the "
                "trace 'park' on every vCPU?)\n");
        abort();
    }
    pthread_mutex_lock(&drv.vm->lock);
    model_setup();
    setup_inject();
    pthread_mutex_unlock(&drv.vm->lock);
    drv.start = now();

    if (replay_list && *replay_list) {
        replay(replay_list);
        shutdown_guest();
    }

    g_ptr_array_add(args, (char *)"libtdxsim-fuzz");
    /* QEMU kicks vCPUs with SIGUSR1; leave SIGALRM and RSS alone too. */
    g_ptr_array_add(args, (char *)"-handle_usr1=0");
    g_ptr_array_add(args, (char *)"-handle_usr2=0");
    g_ptr_array_add(args, (char *)"-timeout=0");
    g_ptr_array_add(args, (char *)"-rss_limit_mb=0");
    g_ptr_array_add(args, (char *)"-max_len=256");
    if (extra && *extra) {
        words = g_strsplit_set(extra, " \t", -1);
        for (char **w = words; *w; w++) {
            if (**w) {
                g_ptr_array_add(args, *w);
            }
        }
    }
    g_ptr_array_add(args, NULL);
    argv = (char **)args->pdata;
    argc = args->len - 1;
    LLVMFuzzerRunDriver(&argc, &argv, run_one);
    /* libFuzzer exits itself (e.g. -runs); should it return, stop here. */
    shutdown_guest();
    return NULL;
}
