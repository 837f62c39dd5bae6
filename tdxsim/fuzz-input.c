// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * tdxsim: decoding of the conversion fuzzer's inputs into per-vCPU guest
 * operations (format in fuzz-input.h).  Pure.
 */
#include "fuzz-input.h"

#define PAGE    4096ULL

static const unsigned size_pages[8] = { 1, 2, 7, 64, 511, 512, 513, 1024 };

static void push(GArray *ops, enum trace_op_kind kind, bool private,
                 uint64_t gpa, uint64_t size, unsigned line)
{
    struct trace_op op = {
        .kind = kind, .private = private, .gpa = gpa, .size = size,
        .count = 1, .expect = TEXPECT_ANY, .tolerant = true, .line = line,
    };

    g_array_append_val(ops, op);
}

/* ACCEPT of the guest_memfd runs of [gpa, end). */
static void push_accepts(GArray *ops, struct fuzz_model *m, uint64_t gpa,
                         uint64_t end, unsigned line)
{
    uint64_t run = 0;
    bool in_run = false;

    for (uint64_t g = gpa; g <= end; g += PAGE) {
        uint8_t *p = g < end ? fuzz_model_page(m, g) : NULL;
        bool ram = p && (*p & FM_RAM);

        if (ram && !in_run) {
            run = g;
            in_run = true;
        } else if (!ram && in_run) {
            push(ops, TOP_ACCEPT, true, run, g - run, line);
            in_run = false;
        }
    }
}

unsigned fuzz_decode(const uint8_t *data, size_t size, struct fuzz_model *m,
                     unsigned flags, GArray **ops)
{
    unsigned n = 0;

    if (!m->areas->len) {
        return 0;
    }
    for (size_t off = 0; off + FUZZ_RECORD <= size && n < FUZZ_MAX_OPS;
         off += FUZZ_RECORD, n++) {
        const uint8_t *r = data + off;
        unsigned vcpu = (r[0] & 3) % m->nr_vcpus;
        unsigned kind = (r[0] >> 2) & 3;
        bool irq = r[0] & 0x10;
        uint64_t pages = size_pages[r[0] >> 5];
        const struct fuzz_area *a = &g_array_index(m->areas, struct fuzz_area,
                                                   r[1] % m->areas->len);
        uint64_t area_pages = (a->end - a->start) / PAGE;
        uint64_t gpa = a->start + ((r[2] | r[3] << 8) % area_pages) * PAGE;
        uint64_t end;
        unsigned line = n + 1;

        if (pages == 512) {
            gpa = MAX(gpa & ~((2ULL << 20) - 1), a->start);
        }
        end = MIN(gpa + pages * PAGE, a->end);
        if (flags & FUZZ_DECODE_MAPGPA_ONLY && kind >= 2) {
            kind = kind == 2 ? 1 : 0;
        }
        switch (kind) {
        case 0:
        case 1:
            if (irq) {
                push(ops[vcpu], TOP_INTERRUPT, false, 0, 0, line);
            }
            push(ops[vcpu], TOP_MAPGPA, kind == 0, gpa, end - gpa, line);
            break;
        case 2:
            push(ops[vcpu], TOP_ACCESS, false, gpa, PAGE, line);
            break;
        case 3:
            push_accepts(ops[vcpu], m, gpa, end, line);
            break;
        }
    }
    return n;
}
