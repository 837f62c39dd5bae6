/*
 * TDX side-table S-EPT mode: memory listener glue
 *
 * Copyright (c) 2026 The TDX side-table S-EPT authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "system/address-spaces.h"
#include "system/memory.h"
#include "accel/tdx/sept.h"
#include "accel/tdx/sept-listener.h"
#include "accel/tdx/sept-plan.h"
#include "trace.h"

typedef struct TdxSeptSection {
    RamDiscardListener rdl;
    /* Set while unregistering: the section goes away, nothing converts. */
    bool leaving;
    QLIST_ENTRY(TdxSeptSection) next;
} TdxSeptSection;

struct TdxSeptListener {
    MemoryListener listener;
    QLIST_HEAD(, TdxSeptSection) sections;
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
    uint64_t gpa, size;

    tdx_sept_section_range(section, &gpa, &size);
    trace_tdx_sept_listener_populate(gpa, size);
    return tdx_sept_side_table_convert(gpa, size, false);
}

/* Became private: map it; a failure makes the conversion roll back. */
static int tdx_sept_notify_discard(RamDiscardListener *rdl,
                                   MemoryRegionSection *section)
{
    TdxSeptSection *s = container_of(rdl, TdxSeptSection, rdl);
    uint64_t gpa, size;

    if (s->leaving) {
        /* The section is being removed, not converted. */
        return 0;
    }
    tdx_sept_section_range(section, &gpa, &size);
    trace_tdx_sept_listener_discard(gpa, size);
    return tdx_sept_side_table_convert(gpa, size, true);
}

static void tdx_sept_region_add(MemoryListener *listener,
                                MemoryRegionSection *section)
{
    TdxSeptListener *l = container_of(listener, TdxSeptListener, listener);
    TdxSeptSection *s;

    if (!memory_region_has_guest_memfd(section->mr) ||
        !memory_region_has_ram_discard_manager(section->mr)) {
        return;
    }
    trace_tdx_sept_listener_region_add(section->offset_within_address_space,
                                       int128_get64(section->size));
    s = g_new0(TdxSeptSection, 1);
    ram_discard_listener_init(&s->rdl, tdx_sept_notify_populate,
                              tdx_sept_notify_discard, true);
    ram_discard_manager_register_listener(
        memory_region_get_ram_discard_manager(section->mr), &s->rdl, section);
    QLIST_INSERT_HEAD(&l->sections, s, next);
}

static void tdx_sept_region_del(MemoryListener *listener,
                                MemoryRegionSection *section)
{
    TdxSeptListener *l = container_of(listener, TdxSeptListener, listener);
    TdxSeptSection *s;

    QLIST_FOREACH(s, &l->sections, next) {
        if (s->rdl.section->mr == section->mr &&
            s->rdl.section->offset_within_address_space ==
            section->offset_within_address_space) {
            break;
        }
    }
    if (!s) {
        return;
    }
    trace_tdx_sept_listener_region_del(section->offset_within_address_space,
                                       int128_get64(section->size));
    s->leaving = true;
    ram_discard_manager_unregister_listener(
        memory_region_get_ram_discard_manager(section->mr), &s->rdl);
    QLIST_REMOVE(s, next);
    g_free(s);
}

TdxSeptListener *tdx_sept_listener_new(void)
{
    TdxSeptListener *l = g_new0(TdxSeptListener, 1);

    l->listener = (MemoryListener) {
        .name = "tdx-sept",
        .region_add = tdx_sept_region_add,
        .region_del = tdx_sept_region_del,
        .priority = MEMORY_LISTENER_PRIORITY_DEV_BACKEND,
    };
    QLIST_INIT(&l->sections);
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
            memory_region_get_ram_discard_manager(s->rdl.section->mr),
            s->rdl.section, tdx_sept_add_private_range, ranges);
    }
    g_array_set_size(ranges, tdx_sept_ranges_merge(
                         (TdxSeptRange *)ranges->data, ranges->len));
    return ranges;
}
