// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * tdxsim: the scripted TD guest.  Each vCPU executes its trace operations
 * (guest-trace.h) as a Linux TD guest would issue them, and KVM's side of
 * each (MapGPA delivery, EPT violations on private/shared GPAs, guest
 * ACCEPT) is modelled here: either handled inside "KVM" or turned into the
 * exit to userspace that upstream KVM would produce.
 *
 * Runs with vm->lock held, entered from KVM_RUN through the ops it
 * registers (kvm-guest.h); it asks KVM only through that header.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "guest.h"
#include "guest-trace.h"
#include "kvm-guest.h"
#include "mapgpa.h"

/*
 * Re-executions of one op without progress (EPT violation resolved, access
 * retried, ...) before the model calls it a livelock: on real hardware the
 * vCPU would loop for ever (tdx_handle_ept_violation() retries locally,
 * the guest re-executes its access or TDCALL).
 */
#define MAX_REPEATS         64
/* Guest ACCEPT calls per step (the lock is dropped between steps). */
#define ACCEPTS_PER_STEP    512
/*
 * Side-table mode: halts (of HALT_POLL_NS each, lock dropped) a vCPU waits
 * for a conversion racing its access to map the page, before the model
 * calls it a livelock.
 */
#define RACE_WAITS          500

const struct guest_driver *guest_driver;

static void observed(struct sim_vcpu *vcpu, uint64_t gpa, uint64_t size,
                     bool private)
{
    if (guest_driver) {
        guest_driver->observed(vcpu, gpa, size, private);
    }
}

static void guest_vm_setup(struct sim_vm *vm)
{
    const char *path = getenv("TDXSIM_TRACE");
    GError *err = NULL;

    if (path && *path) {
        vm->trace = trace_load(path, &err);
    } else {
        vm->trace = trace_parse(TRACE_DEFAULT_TEXT, &err);
    }
    if (!vm->trace) {
        fprintf(stderr, "tdxsim: TDXSIM_TRACE: %s\n", err->message);
        exit(1);
    }
}

static void guest_vcpu_setup(struct sim_vcpu *vcpu)
{
    struct sim_vm *vm = vcpu->vm;

    vcpu->ops = trace_vcpu_ops(vm->trace, vcpu->vcpu_id, &vcpu->nr_ops);
    if (vcpu->nr_ops) {
        vm->traced_vcpus++;
    }
}

/* Trace operations for vCPUs QEMU did not create never run: say so. */
static void guest_vm_finalized(struct sim_vm *vm)
{
    for (unsigned v = 0; v < trace_nr_vcpus(vm->trace); v++) {
        unsigned nr;
        bool exists = false;

        trace_vcpu_ops(vm->trace, v, &nr);
        for (unsigned i = 0; i < vm->nr_vcpus; i++) {
            exists |= vm->vcpus[i]->vcpu_id == v;
        }
        if (nr && !exists) {
            fprintf(stderr, "tdxsim: warning: the trace has %u operations for "
                    "vCPU %u, which QEMU did not create (-smp too small)\n",
                    nr, v);
        }
    }
}

static void advance(struct sim_vcpu *vcpu)
{
    vcpu->pc++;
    vcpu->repeats = 0;
    vcpu->race_waits = 0;
    vcpu->vm->stats.trace_ops++;
}

static unsigned active_vcpus(struct sim_vm *vm)
{
    return vm->traced_vcpus - vm->finished_vcpus;
}

static void barrier_maybe_release(struct sim_vm *vm)
{
    if (vm->barrier_arrived && vm->barrier_arrived >= active_vcpus(vm)) {
        vm->barrier_gen++;
        vm->barrier_arrived = 0;
    }
}

static void mark_finished(struct sim_vcpu *vcpu)
{
    if (!vcpu->trace_done && vcpu->nr_ops) {
        vcpu->trace_done = true;
        vcpu->vm->finished_vcpus++;
        barrier_maybe_release(vcpu->vm);
    }
}

/*
 * A livelock: the op cannot make progress, and a real vCPU would spin on it
 * for ever.  A failure of the run (violation, livelock counted, the VM
 * killed so that QEMU stops), never "the guest moves on".
 */
static enum guest_result G_GNUC_PRINTF(4, 5)
livelock(struct sim_vcpu *vcpu, const struct trace_op *op, int *err,
         const char *fmt, ...)
{
    struct sim_vm *vm = vcpu->vm;
    g_autofree char *what = NULL;
    va_list ap;

    va_start(ap, fmt);
    what = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    vm->stats.livelocks++;
    sim_violation(vm, "vCPU %lu trace line %u: %s makes no progress (a "
                  "livelock on real hardware)", vcpu->vcpu_id, op->line, what);
    sim_run_failed(vm, true, "vCPU %lu trace line %u: livelock: %s",
                   vcpu->vcpu_id, op->line, what);
    *err = EIO;
    return GUEST_ERROR;
}

static bool too_many_repeats(struct sim_vcpu *vcpu)
{
    return ++vcpu->repeats > MAX_REPEATS;
}

/* ---- MapGPA ---- */

static bool expect_met(enum trace_expect e, uint64_t status)
{
    switch (e) {
    case TEXPECT_ANY:
        return true;
    case TEXPECT_OK:
        return status == GHCI_SUCCESS;
    case TEXPECT_INVALID:
        return status == GHCI_INVALID_OPERAND;
    case TEXPECT_ALIGN:
        return status == GHCI_ALIGN_ERROR;
    case TEXPECT_UNSUPPORTED:
        return status == GHCI_SUBFUNC_UNSUPPORTED;
    case TEXPECT_FAIL:
        return status != GHCI_SUCCESS;
    }
    return false;
}

/*
 * A conversion to shared the guest could not complete: Linux leaks the
 * buffer (kernel/dma/direct.c dma_direct_alloc(): dma_set_decrypted()
 * failed -> out_leak_pages), so it never converts, accepts or touches those
 * pages again.  Only for requests a Linux guest makes (expect=ok or any),
 * not for the deliberately bad ones of a hostile trace.
 */
static void leak_range(struct sim_vm *vm, const struct trace_op *op)
{
    if (!vm->leaked) {
        vm->leaked = g_hash_table_new(g_direct_hash, g_direct_equal);
    }
    for (uint64_t g = op->gpa >> 12; g < (op->gpa + op->size + 0xfff) >> 12;
         g++) {
        if (g_hash_table_add(vm->leaked, GSIZE_TO_POINTER(g))) {
            vm->stats.leaked_pages++;
        }
    }
}

static bool op_on_leaked(struct sim_vm *vm, const struct trace_op *op)
{
    uint64_t size = op->kind == TOP_ACCESS ? 1 : op->size;

    if (!vm->leaked) {
        return false;
    }
    for (uint64_t g = op->gpa >> 12; g < (op->gpa + size + 0xfff) >> 12;
         g++) {
        if (g_hash_table_contains(vm->leaked, GSIZE_TO_POINTER(g))) {
            return true;
        }
    }
    return false;
}

/* The guest's MapGPA ends with status (RETRY = gave up after retries). */
static void mapgpa_finish(struct sim_vcpu *vcpu, uint64_t status)
{
    struct sim_vm *vm = vcpu->vm;
    const struct trace_op *op = &vcpu->ops[vcpu->pc];

    if (status != GHCI_SUCCESS && !op->private && !op->tolerant &&
        (op->expect == TEXPECT_OK || op->expect == TEXPECT_ANY)) {
        leak_range(vm, op);
    }

    switch (status) {
    case GHCI_SUCCESS:
        vm->stats.mapgpa_success++;
        break;
    case GHCI_INVALID_OPERAND:
        /* counted at the source: KVM's checks or userspace's answer */
        break;
    case GHCI_ALIGN_ERROR:
        vm->stats.mapgpa_align++;
        break;
    case GHCI_SUBFUNC_UNSUPPORTED:
        vm->stats.mapgpa_unsupported++;
        break;
    case GHCI_RETRY:
        vm->stats.mapgpa_gave_up++;
        break;
    }
    if (!expect_met(op->expect, status)) {
        vm->stats.expect_failures++;
        fprintf(stderr, "tdxsim: TRACE: vCPU %lu line %u: mapgpa %s 0x%" PRIx64
                " 0x%" PRIx64 " expected %s, guest saw %s\n", vcpu->vcpu_id,
                op->line, op->private ? "private" : "shared", op->gpa,
                op->size, trace_expect_name(op->expect),
                status == GHCI_RETRY ? "RETRY (gave up)" :
                ghci_status_name(status));
    }
    vcpu->mg_active = false;
    advance(vcpu);
}

static enum guest_result mapgpa_exit(struct sim_vcpu *vcpu)
{
    struct sim_vm *vm = vcpu->vm;
    struct kvm_run *run = vcpu->run;
    struct mapgpa_chunk c = mapgpa_next_chunk(vcpu->mg_next, vcpu->mg_end,
                                              vm->shared_bit);

    run->exit_reason = KVM_EXIT_HYPERCALL;
    run->hypercall.nr = KVM_HC_MAP_GPA_RANGE_NR;
    run->hypercall.args[0] = c.gpa;
    run->hypercall.args[1] = c.npages;
    run->hypercall.args[2] = c.attrs;
    run->hypercall.args[3] = 0;
    run->hypercall.args[4] = 0;
    run->hypercall.args[5] = 0;
    run->hypercall.ret = 0;
    run->hypercall.flags = KVM_EXIT_HYPERCALL_LONG_MODE;
    vcpu->compl = SIM_COMPL_MAPGPA;
    if (vm->sept.enabled) {
        vcpu->conv_gpa = c.gpa & ~vm->shared_bit;
        vcpu->conv_size = c.npages * SIM_PAGE_SIZE;
    }
    vm->stats.mapgpa_chunks++;
    return GUEST_EXIT;
}

static enum guest_result guest_mapgpa(struct sim_vcpu *vcpu,
                                      const struct trace_op *op)
{
    struct sim_vm *vm = vcpu->vm;
    uint64_t status;

    if (!vcpu->mg_active) {
        vcpu->mg_active = true;
        vcpu->mg_start = op->gpa | (op->private ? 0 : vm->shared_bit);
        vcpu->mg_end = vcpu->mg_start + op->size;
        vcpu->mg_retry_count = 0;
    }
    /* TDG.VP.VMCALL<MapGPA>(R12 = mg_start, R13 = mg_end - mg_start) */
    vm->stats.mapgpa_calls++;
    if (!(vm->hypercall_exit_mask & (1ULL << KVM_HC_MAP_GPA_RANGE_NR))) {
        mapgpa_finish(vcpu, GHCI_SUBFUNC_UNSUPPORTED);
        return GUEST_CONTINUE;
    }
    /*
     * Linux 7.2 tdx_map_gpa(): kvm_vcpu_is_legal_gpa() on the first and
     * last byte, i.e. below this vCPU's MAXPHYADDR (its KVM_SET_CPUID2),
     * not the host's nor the TD's GPAW.
     */
    status = mapgpa_check(vcpu->mg_start, vcpu->mg_end - vcpu->mg_start,
                          vcpu->maxphyaddr, vm->shared_bit);
    if (status == GHCI_INVALID_OPERAND) {
        vm->stats.mapgpa_invalid++;
    }
    if (status) {
        mapgpa_finish(vcpu, status);
        return GUEST_CONTINUE;
    }
    vcpu->mg_next = vcpu->mg_start;
    return mapgpa_exit(vcpu);
}

/* tdx_complete_vmcall_map_gpa() and the guest's reaction. */
static enum guest_result mapgpa_complete_exit(struct sim_vcpu *vcpu,
                                              int *err)
{
    struct sim_vm *vm = vcpu->vm;
    uint64_t ret = vcpu->run->hypercall.ret;

    if (ret == 0) {
        /* Userspace converted the chunk [mg_next, +2M) of this exit. */
        observed(vcpu, vcpu->mg_next & ~vm->shared_bit,
                 MIN(vcpu->mg_end - vcpu->mg_next, MAPGPA_MAX_CHUNK),
                 vcpu->ops[vcpu->pc].private);
    }
    switch (mapgpa_complete(&vcpu->mg_next, vcpu->mg_end, ret,
                            vcpu->irq_pending > 0)) {
    case MAPGPA_STEP_DONE:
        mapgpa_finish(vcpu, GHCI_SUCCESS);
        return GUEST_CONTINUE;
    case MAPGPA_STEP_CONTINUE:
        return mapgpa_exit(vcpu);
    case MAPGPA_STEP_RETRY:
        vm->stats.mapgpa_retry++;
        if (ret == 0) {
            vcpu->irq_pending--;    /* delivered once the guest runs */
        }
        if (mapgpa_guest_retry(&vcpu->mg_start, vcpu->mg_end, vcpu->mg_next,
                               &vcpu->mg_retry_count)) {
            return GUEST_CONTINUE;  /* the guest re-issues from R11 */
        }
        mapgpa_finish(vcpu, GHCI_RETRY);
        return GUEST_CONTINUE;
    case MAPGPA_STEP_ERROR:
        vm->stats.mapgpa_user_error++;
        mapgpa_finish(vcpu, GHCI_INVALID_OPERAND);
        return GUEST_CONTINUE;
    case MAPGPA_STEP_BAD_RET:
        /* Userspace broke the ABI: KVM_RUN fails, the guest stays put. */
        sim_violation(vm, "vCPU %d: KVM_HC_MAP_GPA_RANGE hypercall.ret %"
                      PRIu64 " is not 0, EINVAL or EAGAIN: KVM_RUN fails "
                      "-EINVAL", (int)vcpu->vcpu_id, ret);
        *err = EINVAL;
        return GUEST_ERROR;
    }
    return GUEST_CONTINUE;
}

/* ---- EPT violations ---- */

/*
 * Side-table mode, EPT violation on a private GPA that is not mapped while
 * its attribute says private: a conversion racing the access is in flight
 * (userspace set the attribute and has not mapped yet).  KVM resumes the
 * guest, which retries; the model halts the vCPU for a moment (lock
 * dropped) so the converting thread can finish.  If the page never gets
 * mapped the vCPU would fault for ever: a livelock, a failure of the run.
 */
static enum guest_result racing_fault(struct sim_vcpu *vcpu, uint64_t gpa,
                                      int *err)
{
    const struct trace_op *op = &vcpu->ops[vcpu->pc];

    vcpu->repeats = 0;          /* waiting is not a failed attempt */
    if (++vcpu->race_waits <= RACE_WAITS) {
        return GUEST_BLOCK;
    }
    vcpu->race_waits = 0;
    return livelock(vcpu, op, err, "private GPA 0x%" PRIx64 " stays unmapped "
                    "although its attribute is private (side-table mode maps "
                    "everything private)", gpa);
}

/*
 * The guest's side of an EPT violation KVM resolved (kvm-guest.h):
 * GUEST_CONTINUE when the guest can retry its access.
 */
static enum guest_result after_fault(struct sim_vcpu *vcpu, uint64_t gpa,
                                     enum kvm_fault f, int *err)
{
    switch (f) {
    case KVM_FAULT_RETRY:
        return GUEST_CONTINUE;
    case KVM_FAULT_EXIT:
        return GUEST_EFAULT;
    case KVM_FAULT_RACING:
        return racing_fault(vcpu, gpa, err);
    case KVM_FAULT_ERROR:
        break;
    }
    return GUEST_ERROR;
}

/*
 * A private access to a page mapped but not accepted (PENDING): with
 * SEPT_VE_DISABLE (QEMU's default attributes, the only attribute Linux 7.2
 * supports) the TDX module gives the host a "pending" EPT violation and
 * Linux 7.2 tdx_handle_ept_violation() warns "Guest access before accepting",
 * calls kvm_vm_dead() and returns -EIO from KVM_RUN.  Without
 * SEPT_VE_DISABLE the guest would get a #VE instead (Linux panics on it:
 * "Unexpected EPT-violation on private memory"): a failed run either way.
 */
static enum guest_result access_before_accept(struct sim_vcpu *vcpu,
                                              const struct trace_op *op,
                                              uint64_t gpa, int *err)
{
    struct sim_vm *vm = vcpu->vm;

    vm->stats.access_before_accept++;
    if (vm->td_attributes & TDX_TD_ATTR_SEPT_VE_DISABLE) {
        fprintf(stderr, "tdxsim: KVM: Guest access before accepting 0x%"
                PRIx64 " on vCPU %lu (trace line %u): the VM is dead\n", gpa,
                vcpu->vcpu_id, op->line);
        sim_run_failed(vm, true, "vCPU %lu trace line %u: private access to "
                       "GPA 0x%" PRIx64 " before accepting it: KVM killed the "
                       "TD", vcpu->vcpu_id, op->line, gpa);
        *err = EIO;
        return GUEST_ERROR;
    }
    vm->stats.guest_panics++;
    sim_run_failed(vm, false, "vCPU %lu trace line %u: private access to GPA "
                   "0x%" PRIx64 " before accepting it: #VE, the guest panics",
                   vcpu->vcpu_id, op->line, gpa);
    mark_finished(vcpu);
    vcpu->pc = vcpu->nr_ops;
    return GUEST_BLOCK;
}

static enum guest_result guest_access(struct sim_vcpu *vcpu,
                                      const struct trace_op *op, int *err)
{
    struct sim_vm *vm = vcpu->vm;
    uint64_t gpa = op->gpa & ~0xfffULL;
    enum kvm_gpa_state state;

    if (too_many_repeats(vcpu)) {
        return livelock(vcpu, op, err, "%s access to GPA 0x%" PRIx64,
                        op->private ? "private" : "shared", gpa);
    }
    if (!op->private) {
        if (sim_gfn_private(vm, gpa >> 12)) {
            return kvm_guest_memory_fault_exit(vcpu, gpa, false);
        }
        vm->stats.shared_faults++;
        observed(vcpu, gpa, SIM_PAGE_SIZE, false);
        advance(vcpu);
        return GUEST_CONTINUE;
    }
    state = kvm_guest_gpa_state(vcpu, gpa, NULL);
    if (state == KVM_GPA_PENDING) {
        return access_before_accept(vcpu, op, gpa, err);
    }
    if (state == KVM_GPA_ACCEPTED) {
        advance(vcpu);      /* accepted: no EPT violation */
        return GUEST_CONTINUE;
    }
    /* Mapped now (PENDING, if by a lazy fault): the access is retried. */
    return after_fault(vcpu, gpa, kvm_guest_private_fault(vcpu, gpa, err),
                       err);
}

/* ---- TDG.MEM.PAGE.ACCEPT, as Linux's tdx_accept_memory() ---- */

static int accept_top_level(uint64_t gpa, uint64_t end)
{
    for (int l = TDX_LEVEL_1G; l > TDX_LEVEL_4K; l--) {
        uint64_t size = 4096ULL << (9 * l);
        if (!(gpa & (size - 1)) && end - gpa >= size) {
            return l;
        }
    }
    return TDX_LEVEL_4K;
}

/*
 * Linux 7.2 tdx_accept_memory() / try_accept_one()
 * (arch/x86/coco/tdx/tdx-shared.c): for each address, 1G if aligned and
 * long enough, else or on any non-zero status 2M, then 4K; a non-zero status
 * at 4K -- PAGE_ALREADY_ACCEPTED and BUSY included -- fails the accept, and
 * Linux panics ("TDX: Failed to accept memory", arch_accept_memory()) or
 * fails the conversion.  An EPT violation is not a status: the host
 * resolves it and the guest re-executes the TDCALL.
 */
static enum guest_result accept_failed(struct sim_vcpu *vcpu,
                                       const struct trace_op *op,
                                       uint64_t gpa, tdx_status_t st)
{
    struct sim_vm *vm = vcpu->vm;

    vm->stats.guest_panics++;
    vm->stats.expect_failures++;
    fprintf(stderr, "tdxsim: TRACE: vCPU %lu line %u: TDG.MEM.PAGE.ACCEPT "
            "0x%" PRIx64 " 4K failed: %s (0x%016" PRIx64 "); Linux's "
            "tdx_accept_memory() fails and the guest panics\n",
            vcpu->vcpu_id, op->line, gpa, tdx_status_name(st), st);
    sim_run_failed(vm, false, "vCPU %lu trace line %u: ACCEPT of GPA 0x%"
                   PRIx64 " failed (%s): the guest panics", vcpu->vcpu_id,
                   op->line, gpa, tdx_status_name(st));
    /* A panicked guest does nothing more. */
    vcpu->acc_active = false;
    mark_finished(vcpu);
    vcpu->pc = vcpu->nr_ops;
    return GUEST_BLOCK;
}

static enum guest_result guest_accept(struct sim_vcpu *vcpu,
                                      const struct trace_op *op, int *err)
{
    struct sim_vm *vm = vcpu->vm;
    uint64_t end = op->gpa + op->size;

    if (!vcpu->acc_active) {
        vcpu->acc_active = true;
        vcpu->acc_next = op->gpa;
        vcpu->acc_level = accept_top_level(op->gpa, end);
    }
    for (unsigned n = 0; n < ACCEPTS_PER_STEP; n++) {
        uint64_t gpa = vcpu->acc_next;
        tdx_status_t st;

        if (gpa >= end) {
            vcpu->acc_active = false;
            advance(vcpu);
            return GUEST_CONTINUE;
        }
        st = kvm_guest_accept(vcpu, gpa, vcpu->acc_level);
        vm->stats.accept_calls++;
        if (st == TDX_SUCCESS) {
            if (vcpu->acc_level == TDX_LEVEL_2M) {
                vm->stats.accept_2m++;
            } else if (vcpu->acc_level == TDX_LEVEL_4K) {
                vm->stats.accept_4k++;
            }
            observed(vcpu, gpa, 4096ULL << (9 * vcpu->acc_level), true);
            vcpu->acc_next = gpa + (4096ULL << (9 * vcpu->acc_level));
            vcpu->acc_level = accept_top_level(vcpu->acc_next, end);
            vcpu->repeats = 0;
            continue;
        }
        if (st == TDX_EPT_ENTRY_NOT_PRESENT) {
            /* EPT violation: TD exit, KVM resolves it, the guest retries. */
            if (too_many_repeats(vcpu)) {
                return livelock(vcpu, op, err, "ACCEPT of GPA 0x%" PRIx64
                                " at level %d (EPT violation never resolved)",
                                gpa, vcpu->acc_level);
            }
            /*
             * The TD exit: KVM resolves it (a 4K ACCEPT in a pending 2M
             * leaf splits it); the guest re-executes the same TDCALL.
             */
            return after_fault(vcpu, gpa,
                               kvm_guest_accept_fault(vcpu, gpa,
                                                      vcpu->acc_level, err),
                               err);
        }
        if (TDX_STATUS_CLASS(st) == TDX_OPERAND_BUSY_HOST_PRIORITY ||
            TDX_STATUS_IS_BUSY(st)) {
            vm->stats.accept_busy_retries++;
        }
        /* Any other status: try_accept_one() returns 0. */
        if (vcpu->acc_level > TDX_LEVEL_4K) {
            vcpu->acc_level--;
            continue;
        }
        if (op->tolerant) {
            if (TDX_STATUS_CLASS(st) == TDX_PAGE_ALREADY_ACCEPTED) {
                observed(vcpu, gpa, SIM_PAGE_SIZE, true);
            }
            vcpu->acc_next = gpa + SIM_PAGE_SIZE;
            vcpu->acc_level = accept_top_level(vcpu->acc_next, end);
            vcpu->repeats = 0;
            continue;
        }
        return accept_failed(vcpu, op, gpa, st);
    }
    return GUEST_CONTINUE;          /* step budget used up, more to do */
}

/* ---- the step ---- */

/*
 * KVM_RUN's complete_userspace_io: finish the exit userspace answered, before
 * KVM_RUN looks at immediate_exit (Linux 7.2 kvm_arch_vcpu_ioctl_run()).
 * GUEST_CONTINUE: go on into the guest; GUEST_EXIT: KVM_RUN returns 0 with
 * the next exit (the next MapGPA chunk); GUEST_ERROR: KVM_RUN fails.
 */
static enum guest_result guest_complete(struct sim_vcpu *vcpu, int *err)
{
    if (vcpu->compl == SIM_COMPL_MAPGPA) {
        vcpu->compl = SIM_COMPL_NONE;
        return mapgpa_complete_exit(vcpu, err);
    }
    return GUEST_CONTINUE;
}

/*
 * A test's hold on the guest: on reaching "gate N" the vCPU says so
 * ($TDXSIM_GATE_DIR/at-N) and waits, halted, until the test creates
 * $TDXSIM_GATE_DIR/N (QEMU can pause and kick it meanwhile).  Without
 * TDXSIM_GATE_DIR the trace cannot run: a failure, not a hang.
 */
static enum guest_result guest_gate(struct sim_vcpu *vcpu,
                                    const struct trace_op *op, int *err)
{
    const char *dir = getenv("TDXSIM_GATE_DIR");
    g_autofree char *at = NULL;
    g_autofree char *go = NULL;

    if (!dir) {
        fprintf(stderr, "tdxsim: TRACE: line %u: 'gate' needs "
                "TDXSIM_GATE_DIR\n", op->line);
        *err = EINVAL;
        return GUEST_ERROR;
    }
    at = g_strdup_printf("%s/at-%" PRIu64, dir, op->count);
    go = g_strdup_printf("%s/%" PRIu64, dir, op->count);
    if (!g_file_test(at, G_FILE_TEST_EXISTS)) {
        g_file_set_contents(at, "", 0, NULL);
    }
    if (!g_file_test(go, G_FILE_TEST_EXISTS)) {
        return GUEST_BLOCK;
    }
    advance(vcpu);
    return GUEST_CONTINUE;
}

static enum guest_result guest_step(struct sim_vcpu *vcpu, int *err)
{
    struct sim_vm *vm = vcpu->vm;
    const struct trace_op *op;

    if (vcpu->pc >= vcpu->nr_ops) {
        mark_finished(vcpu);
        return GUEST_BLOCK;     /* halted */
    }
    op = &vcpu->ops[vcpu->pc];
    if ((op->kind == TOP_MAPGPA || op->kind == TOP_ACCEPT ||
         op->kind == TOP_ACCESS) && !op->tolerant && !vcpu->mg_active &&
        !vcpu->acc_active &&
        !vcpu->repeats && op_on_leaked(vm, op)) {
        /* Linux never gets those pages back: it does not do this. */
        vm->stats.leaked_ops_skipped++;
        advance(vcpu);
        return GUEST_CONTINUE;
    }
    switch (op->kind) {
    case TOP_INTERRUPT:
        vcpu->irq_pending += op->count;
        advance(vcpu);
        return GUEST_CONTINUE;
    case TOP_BARRIER:
        if (!vcpu->barrier_seen) {
            vcpu->barrier_seen = vm->barrier_gen + 1;
            vm->barrier_arrived++;
            barrier_maybe_release(vm);
        }
        if (vm->barrier_gen + 1 != vcpu->barrier_seen) {
            vcpu->barrier_seen = 0;
            advance(vcpu);
            return GUEST_CONTINUE;
        }
        return GUEST_BLOCK;
    case TOP_SHUTDOWN:
        mark_finished(vcpu);
        if (vm->finished_vcpus < vm->traced_vcpus) {
            return GUEST_BLOCK;
        }
        vcpu->run->exit_reason = KVM_EXIT_SYSTEM_EVENT;
        vcpu->run->system_event.type = KVM_SYSTEM_EVENT_SHUTDOWN;
        vcpu->run->system_event.ndata = 0;
        advance(vcpu);
        vcpu->pc = vcpu->nr_ops;
        return GUEST_EXIT;
    case TOP_GATE:
        return guest_gate(vcpu, op, err);
    case TOP_PARK:
        if (!guest_driver) {
            advance(vcpu);          /* nobody feeds it: a no-op */
            return GUEST_CONTINUE;
        }
        if (guest_driver->park(vcpu)) {
            vcpu->repeats = 0;
            vcpu->race_waits = 0;
            return GUEST_CONTINUE;  /* new ops from pc 0 */
        }
        return GUEST_BLOCK;
    case TOP_MAPGPA:
        return guest_mapgpa(vcpu, op);
    case TOP_ACCESS:
        return guest_access(vcpu, op, err);
    case TOP_ACCEPT:
        return guest_accept(vcpu, op, err);
    }
    *err = EINVAL;
    return GUEST_ERROR;
}

static const struct sim_guest_ops guest_ops = {
    .vm_setup = guest_vm_setup,
    .vcpu_setup = guest_vcpu_setup,
    .vm_finalized = guest_vm_finalized,
    .complete = guest_complete,
    .step = guest_step,
};

void guest_register(void)
{
    sim_register_guest(&guest_ops);
}
