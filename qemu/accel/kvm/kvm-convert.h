/*
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * The steps of a private<->shared conversion, apart from KVM and the
 * memory API so that they can be tested alone: converting runs in order,
 * undoing what was done when one fails, and telling the guest's errors
 * from the host's.
 */
#ifndef KVM_CONVERT_H
#define KVM_CONVERT_H

#include "exec/hwaddr.h"

/*
 * A run of guest_memfd pages that a conversion changes: all in the other
 * state before it, in one RAM block.
 */
typedef struct KVMConvertRun {
    MemoryRegion *mr;       /* a reference is held while the run lives */
    hwaddr gpa;
    uint64_t offset;        /* within mr's RAM block */
    uint64_t size;
} KVMConvertRun;

typedef struct KVMConvertOps {
    /* KVM_SET_MEMORY_ATTRIBUTES of the run: 0 or -errno. */
    int (*set_attributes)(const KVMConvertRun *run, bool to_private,
                          void *opaque);
    /*
     * The RAM block's attributes and their listeners: 0, or -errno when a
     * listener refused and nothing changed (-EIO: it may have changed
     * something it could not undo).
     */
    int (*state_change)(const KVMConvertRun *run, bool to_private,
                        void *opaque);
    /* Give back what the other side no longer uses: 0 or -errno. */
    int (*discard)(const KVMConvertRun *run, bool to_private, void *opaque);
} KVMConvertOps;

/*
 * Convert @runs (in order) to private or shared.  With @pinned, private
 * memory is pinned and mapped by the listeners, so that a run becomes
 * shared in KVM only after the listeners were told: they can undo their
 * part only while the range is still private.  [@start, @start + @size)
 * is the range asked for, for the messages.
 *
 * Returns 0 when every run was converted; -EAGAIN when a listener was
 * busy and the conversion was undone (the guest retries); -EIO when the
 * host failed (reported with error_report(), with whether it was undone).
 */
int kvm_convert_runs(KVMConvertRun *runs, unsigned int nr_runs,
                     bool to_private, bool pinned, hwaddr start, hwaddr size,
                     const KVMConvertOps *ops, void *opaque);

#endif
