/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * tdxsim: guest trace files (format in TRACES.md) parsed into per-vCPU
 * operation lists.  Pure: no KVM, no TDX module.
 */
#ifndef TDXSIM_GUEST_TRACE_H
#define TDXSIM_GUEST_TRACE_H

#include <stdbool.h>
#include <stdint.h>
#include <glib.h>

enum trace_op_kind {
    TOP_MAPGPA,         /* TDG.VP.VMCALL<MapGPA> */
    TOP_ACCESS,         /* a guest memory access (EPT violation if unmapped) */
    TOP_ACCEPT,         /* TDG.MEM.PAGE.ACCEPT over a range, like Linux */
    TOP_INTERRUPT,      /* make interrupts pending */
    TOP_BARRIER,        /* wait for every vCPU with a trace */
    TOP_SHUTDOWN,       /* wait for every vCPU to finish, then shut down */
    TOP_PARK,           /* wait for a driver's next ops (tdxsim/fuzz/) */
    TOP_GATE,           /* wait for the test's go ($TDXSIM_GATE_DIR/N) */
};

/* What the trace expects the guest to observe (mapgpa only). */
enum trace_expect {
    TEXPECT_ANY = 0,
    TEXPECT_OK,             /* SUCCESS */
    TEXPECT_INVALID,        /* INVALID_OPERAND */
    TEXPECT_ALIGN,          /* ALIGN_ERROR */
    TEXPECT_UNSUPPORTED,    /* SUBFUNC_UNSUPPORTED */
    TEXPECT_FAIL,           /* any failure, giving up after RETRYs included */
};

struct trace_op {
    enum trace_op_kind kind;
    bool private;           /* mapgpa/access: private (true) or shared */
    uint64_t gpa;           /* without shared bit; the guest adds it */
    uint64_t size;
    uint64_t count;         /* interrupt: how many; gate: its number */
    enum trace_expect expect;
    /*
     * Set by a driver only (never parsed): the guest records outcomes
     * instead of judging them.  A failed MapGPA leaks nothing and a 4K
     * ACCEPT answered PAGE_ALREADY_ACCEPTED (another vCPU accepted the page
     * first) or BUSY is no failure.
     */
    bool tolerant;
    unsigned line;
};

struct trace {
    GPtrArray *vcpus;       /* index = vCPU, element = GArray of trace_op */
};

struct trace *trace_parse(const char *text, GError **errp);
struct trace *trace_load(const char *path, GError **errp);
void trace_free(struct trace *t);
/* Ops of vCPU i (NULL if it has none) and their number. */
const struct trace_op *trace_vcpu_ops(const struct trace *t, unsigned vcpu,
                                      unsigned *nr);
unsigned trace_nr_vcpus(const struct trace *t);
/* "1G", "0x1000", "4096", "2M" -> bytes.  Returns false on junk. */
bool trace_parse_number(const char *s, uint64_t *out);
const char *trace_expect_name(enum trace_expect e);

/* Fallback when TDXSIM_TRACE is unset: vCPU 0 shuts down at once. */
#define TRACE_DEFAULT_TEXT "vcpu 0\nshutdown\n"

#endif /* TDXSIM_GUEST_TRACE_H */
