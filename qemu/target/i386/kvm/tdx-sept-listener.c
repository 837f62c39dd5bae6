/*
 * TDX side-table S-EPT mode: memory listener glue
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/error-report.h"
#include "system/address-spaces.h"
#include "system/memory.h"
#include "system/kvm_int.h"
#include "system/runstate.h"
#include "tdx-sept-listener.h"
#include "tdx-sept-ranges.h"
#include "trace.h"

typedef struct TdxSeptSection {
    RamDiscardListener rdl;
    MemoryRegionSection section;
    TdxSeptListener *owner;
    /*
     * Set while registering (under KVM's conversion lock, which every
     * notification of a conversion holds too) and unregistering: the
     * replays then describe the section arriving or leaving, not
     * conversions.
     */
    bool registering;
    bool leaving;
    QLIST_ENTRY(TdxSeptSection) next;
} TdxSeptSection;

/*
 * Sections are added and removed under the BQL; vCPU threads only reach a
 * section through its RamDiscardListener, under its RamBlockAttributes'
 * lock, which unregistering waits for.
 */
struct TdxSeptListener {
    MemoryListener listener;
    TdxSeptConvertFn *convert;
    void *opaque;
    /* Registered with their RamBlockAttributes. */
    QLIST_HEAD(, TdxSeptSection) sections;
    /* Added in this transaction, registered by the commit. */
    QLIST_HEAD(, TdxSeptSection) added;
};

static void tdx_sept_section_range(MemoryRegionSection *section,
                                   uint64_t *gpa, uint64_t *size)
{
    *gpa = section->offset_within_address_space;
    *size = int128_get64(section->size);
}

/* Became shared: unmap it from the S-EPT. */
static int tdx_sept_notify_populate(RamDiscardListener *rdl,
                                    MemoryRegionSection *section)
{
    TdxSeptSection *s = container_of(rdl, TdxSeptSection, rdl);
    uint64_t gpa, size;

    if (s->registering) {
        /* A shared part of a section being added: nothing is mapped. */
        return 0;
    }
    tdx_sept_section_range(section, &gpa, &size);
    trace_tdx_sept_listener_populate(gpa, size);
    return s->owner->convert(s->owner->opaque, gpa, size, false, true);
}

/* Became private: map it; a failure makes the conversion roll back. */
static int tdx_sept_notify_discard(RamDiscardListener *rdl,
                                   MemoryRegionSection *section)
{
    TdxSeptSection *s = container_of(rdl, TdxSeptSection, rdl);
    uint64_t gpa, size;

    if (qatomic_read(&s->leaving)) {
        /* The section is being removed, not converted. */
        return 0;
    }
    tdx_sept_section_range(section, &gpa, &size);
    trace_tdx_sept_listener_discard(gpa, size);
    return s->owner->convert(s->owner->opaque, gpa, size, true, true);
}

static bool tdx_sept_section_is_ours(MemoryRegionSection *section)
{
    return memory_region_has_guest_memfd(section->mr) &&
           memory_region_has_ram_discard_manager(section->mr);
}

static void tdx_sept_region_add(MemoryListener *listener,
                                MemoryRegionSection *section)
{
    TdxSeptListener *l = container_of(listener, TdxSeptListener, listener);
    TdxSeptSection *s;

    if (!tdx_sept_section_is_ours(section)) {
        return;
    }
    trace_tdx_sept_listener_region_add(section->offset_within_address_space,
                                       int128_get64(section->size));
    s = g_new0(TdxSeptSection, 1);
    s->owner = l;
    s->section = *section;
    /* Only the range is kept, not the flat view being built. */
    s->section.fv = NULL;
    memory_region_ref(section->mr);
    QLIST_INSERT_HEAD(&l->added, s, next);
}

/* Map a private range of a section added after the build. */
static int tdx_sept_map_added(MemoryRegionSection *section, void *opaque)
{
    TdxSeptSection *s = opaque;
    uint64_t gpa, size;

    tdx_sept_section_range(section, &gpa, &size);
    return s->owner->convert(s->owner->opaque, gpa, size, true, false);
}

/*
 * A memory listener callback must not stop the VM itself (vm_stop() would
 * pause the vCPUs and drop the BQL in the middle of a memory transaction):
 * report the failure and ask the main loop to stop the VM.
 */
static void tdx_sept_listener_fail(const char *what, uint64_t gpa,
                                   uint64_t size)
{
    error_report("x-sept-mode=side-table: cannot %s the private memory of "
                 "[0x%" PRIx64 ", 0x%" PRIx64 "): stopping the VM", what,
                 gpa, gpa + size);
    qemu_system_vmstop_request_prepare();
    qemu_system_vmstop_request(RUN_STATE_INTERNAL_ERROR);
}

/*
 * After KVM's commit (our priority is higher), so the memslots of the
 * added sections exist.  Registering replays the shared ranges, which
 * have nothing to unmap in a new section; then the private ones are
 * mapped.  Both under KVM's conversion lock (taken after the BQL, as
 * conversions take it), so that no conversion runs in between: none is
 * taken for a registration replay, or mapped twice.
 */
static void tdx_sept_commit(MemoryListener *listener)
{
    TdxSeptListener *l = container_of(listener, TdxSeptListener, listener);
    TdxSeptSection *s, *tmp;

    if (QLIST_EMPTY(&l->added)) {
        return;
    }
    QEMU_LOCK_GUARD(&kvm_state->convert_lock);
    QLIST_FOREACH_SAFE(s, &l->added, next, tmp) {
        RamDiscardManager *rdm =
            memory_region_get_ram_discard_manager(s->section.mr);

        QLIST_REMOVE(s, next);
        ram_discard_listener_init(&s->rdl, tdx_sept_notify_populate,
                                  tdx_sept_notify_discard, true);
        s->registering = true;
        ram_discard_manager_register_listener(rdm, &s->rdl, &s->section);
        s->registering = false;
        QLIST_INSERT_HEAD(&l->sections, s, next);
        if (ram_discard_manager_replay_discarded(rdm, &s->section,
                                                 tdx_sept_map_added, s)) {
            /*
             * Private memory KVM has as private but not mapped: the
             * guest's accesses to it would fault for ever.
             */
            tdx_sept_listener_fail("map",
                                   s->section.offset_within_address_space,
                                   int128_get64(s->section.size));
        }
    }
}

/*
 * Before KVM deletes the memslot (region_del runs in reverse priority
 * order, KVM deletes in its commit).  Once unregistered, no conversion
 * reaches the section any more; then everything in it is unmapped.  The
 * kernel releases the pins when the memslot goes away.
 */
static void tdx_sept_region_del(MemoryListener *listener,
                                MemoryRegionSection *section)
{
    TdxSeptListener *l = container_of(listener, TdxSeptListener, listener);
    TdxSeptSection *s;
    uint64_t gpa, size;

    QLIST_FOREACH(s, &l->sections, next) {
        if (s->section.mr == section->mr &&
            s->section.offset_within_address_space ==
            section->offset_within_address_space) {
            break;
        }
    }
    if (!s) {
        return;
    }
    tdx_sept_section_range(section, &gpa, &size);
    trace_tdx_sept_listener_region_del(gpa, size);
    qatomic_set(&s->leaving, true);
    ram_discard_manager_unregister_listener(
        memory_region_get_ram_discard_manager(section->mr), &s->rdl);
    QLIST_REMOVE(s, next);
    if (s->owner->convert(s->owner->opaque, gpa, size, false, false)) {
        /* Mapped pages of a memslot about to go: the VM cannot go on. */
        tdx_sept_listener_fail("unmap", gpa, size);
    }
    memory_region_unref(s->section.mr);
    g_free(s);
}

TdxSeptListener *tdx_sept_listener_new(TdxSeptConvertFn *convert,
                                       void *opaque)
{
    TdxSeptListener *l = g_new0(TdxSeptListener, 1);

    l->convert = convert;
    l->opaque = opaque;
    l->listener = (MemoryListener) {
        .name = "tdx-sept",
        .region_add = tdx_sept_region_add,
        .region_del = tdx_sept_region_del,
        .commit = tdx_sept_commit,
        /* After KVM's memslot listener on add, before it on delete. */
        .priority = MEMORY_LISTENER_PRIORITY_ACCEL + 1,
    };
    QLIST_INIT(&l->sections);
    QLIST_INIT(&l->added);
    memory_listener_register(&l->listener, &address_space_memory);
    return l;
}

static int tdx_sept_add_private_range(MemoryRegionSection *section,
                                      void *opaque)
{
    GArray *ranges = opaque;
    TdxSeptRange r;

    tdx_sept_section_range(section, &r.gpa, &r.size);
    g_array_append_val(ranges, r);
    return 0;
}

GArray *tdx_sept_listener_private_ranges(TdxSeptListener *l)
{
    GArray *ranges = g_array_new(false, false, sizeof(TdxSeptRange));
    TdxSeptSection *s;

    QLIST_FOREACH(s, &l->sections, next) {
        ram_discard_manager_replay_discarded(
            memory_region_get_ram_discard_manager(s->section.mr),
            &s->section, tdx_sept_add_private_range, ranges);
    }
    g_array_set_size(ranges, tdx_sept_ranges_merge(
                         (TdxSeptRange *)ranges->data, ranges->len));
    return ranges;
}

uint64_t tdx_sept_listener_guest_memfd_size(TdxSeptListener *l)
{
    TdxSeptSection *s;
    uint64_t total = 0;

    QLIST_FOREACH(s, &l->sections, next) {
        total += int128_get64(s->section.size);
    }
    return total;
}
