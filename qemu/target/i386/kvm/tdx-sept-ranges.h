/*
 * TDX side-table S-EPT: guest-physical range arithmetic
 *
 * Pure logic, no QEMU state: checks, merges and subtracts the private GPA
 * ranges the build maps, so that contiguous memory goes to the kernel in
 * as few calls as possible and nothing is mapped twice.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef I386_TDX_SEPT_RANGES_H
#define I386_TDX_SEPT_RANGES_H

#include "qemu/units.h"

#define TDX_SEPT_PAGE_SIZE      (4 * KiB)

/* A guest-physical range, [gpa, gpa + size). */
typedef struct TdxSeptRange {
    uint64_t gpa;
    uint64_t size;
} TdxSeptRange;

/*
 * tdx_sept_range_check:
 * Check that [@gpa, @gpa + @size) is 4K aligned at both ends and does not
 * run past the top of the 64-bit address space.  An empty range is valid.
 */
bool tdx_sept_range_check(uint64_t gpa, uint64_t size, Error **errp);

/*
 * tdx_sept_ranges_merge:
 * Sort @ranges by GPA and merge the ones that touch or overlap, dropping
 * empty ones, in place.  The ranges must pass tdx_sept_range_check().
 *
 * Returns the number of ranges left.
 */
size_t tdx_sept_ranges_merge(TdxSeptRange *ranges, size_t nr_ranges);

/*
 * tdx_sept_ranges_subtract:
 * Append to @out (a GArray of TdxSeptRange) the parts of @ranges not
 * covered by any of @holes, in GPA order.  @ranges must be sorted and
 * disjoint (as tdx_sept_ranges_merge() leaves them); @holes may be in any
 * order and may overlap.  All must pass tdx_sept_range_check().
 */
void tdx_sept_ranges_subtract(const TdxSeptRange *ranges, size_t nr_ranges,
                              const TdxSeptRange *holes, size_t nr_holes,
                              GArray *out);

#endif /* I386_TDX_SEPT_RANGES_H */
