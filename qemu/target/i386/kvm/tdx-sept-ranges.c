/*
 * TDX side-table S-EPT: guest-physical range arithmetic
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qapi/error.h"
#include "tdx-sept-ranges.h"

bool tdx_sept_range_check(uint64_t gpa, uint64_t size, Error **errp)
{
    if (!QEMU_IS_ALIGNED(gpa, TDX_SEPT_PAGE_SIZE) ||
        !QEMU_IS_ALIGNED(size, TDX_SEPT_PAGE_SIZE)) {
        error_setg(errp, "TDX S-EPT range 0x%" PRIx64 "+0x%" PRIx64
                   " is not 4 KiB aligned", gpa, size);
        return false;
    }
    /* The last byte, gpa + size - 1, must not wrap past 2^64 - 1. */
    if (size && gpa > UINT64_MAX - (size - 1)) {
        error_setg(errp, "TDX S-EPT range 0x%" PRIx64 "+0x%" PRIx64
                   " runs past the top of the address space", gpa, size);
        return false;
    }
    return true;
}

static int tdx_sept_range_compare(const void *a, const void *b)
{
    const TdxSeptRange *ra = a, *rb = b;

    return ra->gpa < rb->gpa ? -1 : ra->gpa > rb->gpa;
}

size_t tdx_sept_ranges_merge(TdxSeptRange *ranges, size_t nr_ranges)
{
    size_t out = 0;

    qsort(ranges, nr_ranges, sizeof(*ranges), tdx_sept_range_compare);
    for (size_t i = 0; i < nr_ranges; i++) {
        TdxSeptRange *prev = out ? &ranges[out - 1] : NULL;
        uint64_t last;

        if (!ranges[i].size) {
            continue;
        }
        last = ranges[i].gpa + (ranges[i].size - 1);
        /* Touching: prev's last byte + 1 == gpa, written without wrapping. */
        if (prev && ranges[i].gpa - prev->gpa <= prev->size) {
            uint64_t prev_last = prev->gpa + (prev->size - 1);

            if (last <= prev_last) {
                continue;
            }
            if (last - prev->gpa < UINT64_MAX) {
                prev->size += last - prev_last;
                continue;
            }
            /*
             * The union would cover all 2^64 bytes, which a size cannot
             * express: keep the part beyond prev as a range of its own.
             */
            ranges[out++] = (TdxSeptRange) {
                .gpa = prev_last + 1, .size = last - prev_last,
            };
            continue;
        }
        ranges[out++] = ranges[i];
    }
    return out;
}

void tdx_sept_ranges_subtract(const TdxSeptRange *ranges, size_t nr_ranges,
                              const TdxSeptRange *holes, size_t nr_holes,
                              GArray *out)
{
    g_autofree TdxSeptRange *sorted = g_memdup2(holes,
                                                nr_holes * sizeof(*holes));
    size_t nr_sorted = tdx_sept_ranges_merge(sorted, nr_holes);
    size_t h = 0;

    for (size_t i = 0; i < nr_ranges; i++) {
        /* Work on [pos, last], inclusive, so the top page needs no care. */
        uint64_t pos = ranges[i].gpa;
        uint64_t last = ranges[i].gpa + (ranges[i].size - 1);
        bool done = !ranges[i].size;

        /* Holes entirely below this range cannot matter any more. */
        while (h < nr_sorted &&
               sorted[h].gpa + (sorted[h].size - 1) < pos) {
            h++;
        }
        for (size_t j = h; !done && j < nr_sorted && sorted[j].gpa <= last;
             j++) {
            uint64_t hole_last = sorted[j].gpa + (sorted[j].size - 1);

            if (sorted[j].gpa > pos) {
                TdxSeptRange r = { pos, sorted[j].gpa - pos };

                g_array_append_val(out, r);
            }
            if (hole_last >= last) {
                done = true;
            } else {
                pos = MAX(pos, hole_last + 1);
            }
        }
        if (!done) {
            TdxSeptRange r = { pos, last - pos + 1 };

            g_array_append_val(out, r);
        }
    }
}
