/*
 * TDX side-table S-EPT: range planning
 *
 * Pure logic, no QEMU state: turns private GPA ranges into the runs of
 * S-EPT leaves that map them (naturally aligned 2M leaves where a range
 * allows, 4K leaves for the unaligned head and tail), and merges ranges so
 * that contiguous memory goes to the kernel in as few calls as possible.
 *
 * Copyright (c) 2026 The TDX side-table S-EPT authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef ACCEL_TDX_SEPT_PLAN_H
#define ACCEL_TDX_SEPT_PLAN_H

#include "qemu/units.h"

#define TDX_SEPT_PAGE_SIZE      (4 * KiB)
#define TDX_SEPT_HUGE_SIZE      (2 * MiB)

/* Leaf sizes, numbered as the TDX module numbers S-EPT levels. */
typedef enum TdxSeptLeaf {
    TDX_SEPT_LEAF_4K = 0,
    TDX_SEPT_LEAF_2M = 1,
} TdxSeptLeaf;

/* A guest-physical range, [gpa, gpa + size). */
typedef struct TdxSeptRange {
    uint64_t gpa;
    uint64_t size;
} TdxSeptRange;

/* A run of leaves of one size: [gpa, gpa + size) mapped with @leaf leaves. */
typedef struct TdxSeptPiece {
    uint64_t gpa;
    uint64_t size;
    TdxSeptLeaf leaf;
} TdxSeptPiece;

/* A range splits into at most a 4K head, a 2M middle and a 4K tail. */
#define TDX_SEPT_PLAN_MAX_PIECES 3

static inline uint64_t tdx_sept_leaf_size(TdxSeptLeaf leaf)
{
    return leaf == TDX_SEPT_LEAF_2M ? TDX_SEPT_HUGE_SIZE : TDX_SEPT_PAGE_SIZE;
}

/*
 * tdx_sept_range_check:
 * Check that [@gpa, @gpa + @size) is 4K aligned at both ends and does not
 * run past the top of the 64-bit address space.  An empty range is valid.
 */
bool tdx_sept_range_check(uint64_t gpa, uint64_t size, Error **errp);

/*
 * tdx_sept_plan_split:
 * Split [@gpa, @gpa + @size) into runs of leaves: the largest naturally
 * aligned block of 2M leaves the range contains (when @max_leaf allows
 * 2M), and 4K leaves for what is left before and after it.  Pieces are
 * written to @pieces in GPA order.
 *
 * Returns the number of pieces (0 for an empty range), or -1 with @errp set
 * if the range fails tdx_sept_range_check().
 */
int tdx_sept_plan_split(uint64_t gpa, uint64_t size, TdxSeptLeaf max_leaf,
                        TdxSeptPiece pieces[TDX_SEPT_PLAN_MAX_PIECES],
                        Error **errp);

/*
 * tdx_sept_plan_count_leaves:
 * Add the number of 4K and 2M leaves in @pieces to *@nr_4k and *@nr_2m.
 */
void tdx_sept_plan_count_leaves(const TdxSeptPiece *pieces, int nr_pieces,
                                uint64_t *nr_4k, uint64_t *nr_2m);

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

#endif /* ACCEL_TDX_SEPT_PLAN_H */
