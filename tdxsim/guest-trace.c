// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * tdxsim: parser of guest trace files into per-vCPU operation lists
 * (format documented in TRACES.md).  Pure: no KVM, no TDX module.
 */
#include "guest-trace.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define TRACE_MAX_VCPUS 1024
#define TRACE_MAX_OPS   (16u << 20)

bool trace_parse_number(const char *s, uint64_t *out)
{
    char *end;
    unsigned long long v;
    unsigned shift = 0;

    if (!s || !*s || *s == '-') {
        return false;
    }
    errno = 0;
    v = strtoull(s, &end, 0);
    if (errno || end == s) {
        return false;
    }
    switch (*end) {
    case '\0':
        break;
    case 'k': case 'K':
        shift = 10;
        break;
    case 'm': case 'M':
        shift = 20;
        break;
    case 'g': case 'G':
        shift = 30;
        break;
    case 't': case 'T':
        shift = 40;
        break;
    default:
        return false;
    }
    if (shift) {
        if (end[1] != '\0' || (v >> (64 - shift))) {
            return false;
        }
        v <<= shift;
    }
    *out = v;
    return true;
}

const char *trace_expect_name(enum trace_expect e)
{
    static const char *const names[] = {
        [TEXPECT_ANY] = "any", [TEXPECT_OK] = "ok",
        [TEXPECT_INVALID] = "invalid", [TEXPECT_ALIGN] = "align",
        [TEXPECT_UNSUPPORTED] = "unsupported", [TEXPECT_FAIL] = "fail",
    };
    return e <= TEXPECT_FAIL ? names[e] : "?";
}

static bool parse_expect(const char *s, enum trace_expect *e)
{
    for (int i = TEXPECT_ANY; i <= TEXPECT_FAIL; i++) {
        if (!strcmp(s, trace_expect_name(i))) {
            *e = i;
            return true;
        }
    }
    return false;
}

static bool parse_kind(const char *s, bool *private)
{
    if (!strcmp(s, "private")) {
        *private = true;
        return true;
    }
    if (!strcmp(s, "shared")) {
        *private = false;
        return true;
    }
    return false;
}

static GArray *vcpu_ops(struct trace *t, unsigned vcpu)
{
    while (t->vcpus->len <= vcpu) {
        g_ptr_array_add(t->vcpus, NULL);
    }
    if (!t->vcpus->pdata[vcpu]) {
        t->vcpus->pdata[vcpu] = g_array_new(FALSE, TRUE,
                                            sizeof(struct trace_op));
    }
    return t->vcpus->pdata[vcpu];
}

struct parse_state {
    struct trace *t;
    int cur_vcpu;               /* -1 before any "vcpu" line */
    bool in_repeat;
    uint64_t repeat_count, repeat_stride;
    GArray *repeat_ops;         /* ops collected inside repeat..end */
    uint64_t total_ops;
};

#define FAIL(...) do { \
        g_set_error(errp, G_FILE_ERROR, G_FILE_ERROR_INVAL, __VA_ARGS__); \
        return false; \
    } while (0)

static bool emit(struct parse_state *ps, const struct trace_op *op,
                 GError **errp)
{
    if (ps->cur_vcpu < 0) {
        FAIL("line %u: operation before any 'vcpu N' line", op->line);
    }
    if (++ps->total_ops > TRACE_MAX_OPS) {
        FAIL("line %u: trace too long (more than %u operations)", op->line,
             TRACE_MAX_OPS);
    }
    g_array_append_val(vcpu_ops(ps->t, ps->cur_vcpu), *op);
    return true;
}

static bool parse_line(struct parse_state *ps, char **tok, unsigned n,
                       unsigned line, GError **errp)
{
    struct trace_op op = { .line = line, .count = 1 };
    const char *cmd = tok[0];
    unsigned nargs = n;

    if (!strcmp(cmd, "vcpu")) {
        uint64_t v;
        if (ps->in_repeat) {
            FAIL("line %u: 'vcpu' inside repeat", line);
        }
        if (n != 2 || !trace_parse_number(tok[1], &v) || v >= TRACE_MAX_VCPUS) {
            FAIL("line %u: expected 'vcpu N' (N < %u)", line, TRACE_MAX_VCPUS);
        }
        ps->cur_vcpu = v;
        vcpu_ops(ps->t, v);
        return true;
    }
    if (!strcmp(cmd, "repeat")) {
        if (ps->in_repeat) {
            FAIL("line %u: nested repeat", line);
        }
        if (n != 3 || !trace_parse_number(tok[1], &ps->repeat_count) ||
            !trace_parse_number(tok[2], &ps->repeat_stride)) {
            FAIL("line %u: expected 'repeat COUNT STRIDE'", line);
        }
        ps->in_repeat = true;
        g_array_set_size(ps->repeat_ops, 0);
        return true;
    }
    if (!strcmp(cmd, "end")) {
        if (!ps->in_repeat || n != 1) {
            FAIL("line %u: 'end' without 'repeat'", line);
        }
        ps->in_repeat = false;
        for (uint64_t i = 0; i < ps->repeat_count; i++) {
            for (unsigned j = 0; j < ps->repeat_ops->len; j++) {
                struct trace_op o = g_array_index(ps->repeat_ops,
                                                  struct trace_op, j);
                o.gpa += i * ps->repeat_stride;
                if (!emit(ps, &o, errp)) {
                    return false;
                }
            }
        }
        return true;
    }

    /* Optional trailing expect=... */
    if (n > 1 && g_str_has_prefix(tok[n - 1], "expect=")) {
        if (strcmp(cmd, "mapgpa")) {
            FAIL("line %u: expect= only applies to mapgpa", line);
        }
        if (!parse_expect(tok[n - 1] + 7, &op.expect)) {
            FAIL("line %u: unknown expectation '%s'", line, tok[n - 1] + 7);
        }
        nargs--;
    }

    if (!strcmp(cmd, "mapgpa")) {
        op.kind = TOP_MAPGPA;
        if (nargs != 4 || !parse_kind(tok[1], &op.private) ||
            !trace_parse_number(tok[2], &op.gpa) ||
            !trace_parse_number(tok[3], &op.size)) {
            FAIL("line %u: expected 'mapgpa private|shared GPA SIZE "
                 "[expect=...]'", line);
        }
    } else if (!strcmp(cmd, "access")) {
        op.kind = TOP_ACCESS;
        if (nargs != 3 || !parse_kind(tok[1], &op.private) ||
            !trace_parse_number(tok[2], &op.gpa)) {
            FAIL("line %u: expected 'access private|shared GPA'", line);
        }
        op.size = 4096;
    } else if (!strcmp(cmd, "accept")) {
        op.kind = TOP_ACCEPT;
        op.private = true;
        if (nargs != 3 || !trace_parse_number(tok[1], &op.gpa) ||
            !trace_parse_number(tok[2], &op.size)) {
            FAIL("line %u: expected 'accept GPA SIZE'", line);
        }
        if ((op.gpa | op.size) & 0xfff || !op.size) {
            FAIL("line %u: accept range must be 4K aligned and non-empty",
                 line);
        }
    } else if (!strcmp(cmd, "interrupt")) {
        op.kind = TOP_INTERRUPT;
        if (nargs > 2 ||
            (nargs == 2 && !trace_parse_number(tok[1], &op.count))) {
            FAIL("line %u: expected 'interrupt [N]'", line);
        }
    } else if (!strcmp(cmd, "barrier")) {
        op.kind = TOP_BARRIER;
        if (nargs != 1) {
            FAIL("line %u: 'barrier' takes no argument", line);
        }
    } else if (!strcmp(cmd, "shutdown")) {
        op.kind = TOP_SHUTDOWN;
        if (nargs != 1 || ps->in_repeat) {
            FAIL("line %u: 'shutdown' takes no argument and cannot repeat",
                 line);
        }
    } else if (!strcmp(cmd, "gate")) {
        op.kind = TOP_GATE;
        if (nargs != 2 || !trace_parse_number(tok[1], &op.count) ||
            ps->in_repeat) {
            FAIL("line %u: expected 'gate N' (not inside repeat)", line);
        }
    } else if (!strcmp(cmd, "park")) {
        op.kind = TOP_PARK;
        if (nargs != 1 || ps->in_repeat) {
            FAIL("line %u: 'park' takes no argument and cannot repeat",
                 line);
        }
    } else {
        FAIL("line %u: unknown command '%s'", line, cmd);
    }

    if (ps->in_repeat) {
        if (op.kind == TOP_BARRIER) {
            FAIL("line %u: 'barrier' inside repeat", line);
        }
        g_array_append_val(ps->repeat_ops, op);
        return true;
    }
    return emit(ps, &op, errp);
}

struct trace *trace_parse(const char *text, GError **errp)
{
    struct parse_state ps = { .cur_vcpu = -1 };
    g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
    bool ok = true;

    ps.t = g_new0(struct trace, 1);
    ps.t->vcpus = g_ptr_array_new();
    ps.repeat_ops = g_array_new(FALSE, TRUE, sizeof(struct trace_op));

    for (unsigned i = 0; ok && lines[i]; i++) {
        char *hash = strchr(lines[i], '#');
        g_auto(GStrv) tok = NULL;
        char *toks[16];
        unsigned n = 0;

        if (hash) {
            *hash = '\0';
        }
        tok = g_strsplit_set(g_strstrip(lines[i]), " \t", -1);
        for (unsigned j = 0; tok[j]; j++) {
            if (!*tok[j]) {
                continue;
            }
            if (n == G_N_ELEMENTS(toks)) {
                g_set_error(errp, G_FILE_ERROR, G_FILE_ERROR_INVAL,
                            "line %u: too many words", i + 1);
                ok = false;
                break;
            }
            toks[n++] = tok[j];
        }
        if (ok && n) {
            ok = parse_line(&ps, toks, n, i + 1, errp);
        }
    }
    if (ok && ps.in_repeat) {
        g_set_error(errp, G_FILE_ERROR, G_FILE_ERROR_INVAL,
                    "'repeat' without 'end'");
        ok = false;
    }
    g_array_free(ps.repeat_ops, TRUE);
    if (!ok) {
        trace_free(ps.t);
        return NULL;
    }
    return ps.t;
}

struct trace *trace_load(const char *path, GError **errp)
{
    g_autofree char *text = NULL;
    struct trace *t;

    if (!g_file_get_contents(path, &text, NULL, errp)) {
        return NULL;
    }
    t = trace_parse(text, errp);
    if (!t) {
        g_prefix_error(errp, "%s: ", path);
    }
    return t;
}

void trace_free(struct trace *t)
{
    if (!t) {
        return;
    }
    for (unsigned i = 0; i < t->vcpus->len; i++) {
        if (t->vcpus->pdata[i]) {
            g_array_free(t->vcpus->pdata[i], TRUE);
        }
    }
    g_ptr_array_free(t->vcpus, TRUE);
    g_free(t);
}

const struct trace_op *trace_vcpu_ops(const struct trace *t, unsigned vcpu,
                                      unsigned *nr)
{
    GArray *a;

    if (vcpu >= t->vcpus->len || !(a = t->vcpus->pdata[vcpu])) {
        *nr = 0;
        return NULL;
    }
    *nr = a->len;
    return (const struct trace_op *)a->data;
}

unsigned trace_nr_vcpus(const struct trace *t)
{
    return t->vcpus->len;
}
