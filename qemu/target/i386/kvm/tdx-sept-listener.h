/*
 * TDX side-table S-EPT mode: memory listener glue
 *
 * A MemoryListener on the guest's address space that registers, for every
 * guest_memfd-backed section, a RamDiscardListener with the section's
 * RamBlockAttributes (the VFIO pattern): "populate" means the range became
 * shared and is unmapped from the S-EPT, "discard" means it became private
 * and is mapped.  A failed map makes the conversion fail and roll back.
 * Sections added after the build get their private ranges mapped;
 * sections removed get everything in them unmapped first.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef I386_TDX_SEPT_LISTENER_H
#define I386_TDX_SEPT_LISTENER_H

typedef struct TdxSeptListener TdxSeptListener;

/*
 * Map (@to_private) or unmap [@gpa, @gpa + @size) in the S-EPT; @conversion
 * when the attributes changed, not the memory map.  Returns 0 or -errno; a
 * failure of a conversion makes it roll back.  Called with the BQL (memory
 * map changes) or from vCPU threads with the RamBlockAttributes' lock held
 * (conversions).
 */
typedef int TdxSeptConvertFn(void *opaque, uint64_t gpa, uint64_t size,
                             bool to_private, bool conversion);

/* Start listening to the guest's memory map, converting through @convert. */
TdxSeptListener *tdx_sept_listener_new(TdxSeptConvertFn *convert,
                                       void *opaque);

/*
 * The private ranges of all guest_memfd-backed sections now, as a GArray of
 * TdxSeptRange, sorted and merged where they touch.
 */
GArray *tdx_sept_listener_private_ranges(TdxSeptListener *listener);

/* Bytes of guest_memfd-backed memory in the guest's memory map. */
uint64_t tdx_sept_listener_guest_memfd_size(TdxSeptListener *listener);

#endif /* I386_TDX_SEPT_LISTENER_H */
