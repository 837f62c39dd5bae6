/*
 * Unit tests for RamBlockAttributes: state changes and their listeners
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/atomic.h"
#include "qemu/bitmap.h"
#include "qemu/module.h"
#include "qemu/thread.h"
#include "qom/object.h"
#include "system/memory.h"
#include "system/ramblock.h"

/*
 * system/ram-block-attributes.c is linked in alone.  These replace the few
 * parts of system/memory.c that it uses.  The MemoryRegion is a plain
 * struct, not a realized QOM object, so a section copy takes no reference.
 */
uint64_t memory_region_size(MemoryRegion *mr)
{
    return int128_get64(mr->size);
}

int memory_region_set_ram_discard_manager(MemoryRegion *mr,
                                          RamDiscardManager *rdm)
{
    if (mr->rdm && rdm) {
        return -EBUSY;
    }
    mr->rdm = rdm;
    return 0;
}

MemoryRegionSection *memory_region_section_new_copy(MemoryRegionSection *s)
{
    return g_memdup2(s, sizeof(*s));
}

void memory_region_section_free_copy(MemoryRegionSection *s)
{
    g_free(s);
}

/* As registered by system/memory.c. */
static const TypeInfo ram_discard_manager_info = {
    .parent = TYPE_INTERFACE,
    .name = TYPE_RAM_DISCARD_MANAGER,
    .class_size = sizeof(RamDiscardManagerClass),
};

/* Three bitmap words on a 64-bit host, so that runs can cross words. */
#define NR_BLOCKS 192
#define MAX_EVENTS 64
#define NR_LISTENERS 3

typedef struct TestListener {
    RamDiscardListener rdl;
    /* The registered section, in blocks. */
    uint64_t first;
    uint64_t nr;
    /* What the listener was told: true for a populated (shared) block. */
    bool populated[NR_BLOCKS];
    /*
     * Notifications of each kind that still succeed before the listener
     * objects with @populate_err / @discard_err; -1: never objects.
     */
    int populate_ok;
    int populate_err;
    int discard_ok;
    int discard_err;
    unsigned calls;
    /* Told to populate a populated block, or to discard a discarded one. */
    unsigned violations;
    /* Notified without the RamBlockAttributes' lock held. */
    unsigned unlocked;
} TestListener;

typedef struct Event {
    TestListener *tl;
    bool populate;
    uint64_t first;
    uint64_t nr;
    int ret;
} Event;

typedef struct Expect {
    int who;                /* index in notification order */
    bool populate;
    uint64_t first;
    uint64_t nr;
    int ret;
} Expect;

#define POP true
#define DISC false

static size_t bs;
static MemoryRegion test_mr;
static RAMBlock test_rb;
static RamBlockAttributes *test_attr;
static Event events[MAX_EVENTS];
static unsigned nr_events;

static MemoryRegionSection section_of(uint64_t first, uint64_t nr)
{
    return (MemoryRegionSection) {
        .mr = &test_mr,
        .offset_within_region = first * bs,
        .offset_within_address_space = first * bs,
        .size = int128_make64(nr * bs),
    };
}

static RamDiscardManager *rdm(void)
{
    return RAM_DISCARD_MANAGER(test_attr);
}

static RamDiscardManagerClass *rdmc(void)
{
    return RAM_DISCARD_MANAGER_GET_CLASS(test_attr);
}

static int notify(RamDiscardListener *rdl, MemoryRegionSection *section,
                  bool populate)
{
    TestListener *tl = container_of(rdl, TestListener, rdl);
    const uint64_t first = section->offset_within_region / bs;
    const uint64_t nr = int128_get64(section->size) / bs;
    int *ok = populate ? &tl->populate_ok : &tl->discard_ok;
    unsigned i;
    int ret = 0;

    g_assert(section->mr == &test_mr);
    g_assert_cmpuint(section->offset_within_region % bs, ==, 0);
    g_assert_cmpuint(int128_get64(section->size) % bs, ==, 0);
    g_assert_cmpuint(nr, >, 0);
    g_assert_cmpuint(first, >=, tl->first);
    g_assert_cmpuint(first + nr, <=, tl->first + tl->nr);

    if (qemu_mutex_trylock(&test_attr->lock) == 0) {
        qemu_mutex_unlock(&test_attr->lock);
        qatomic_inc(&tl->unlocked);
    }

    if (*ok == 0) {
        ret = populate ? tl->populate_err : tl->discard_err;
    } else if (*ok > 0) {
        (*ok)--;
    }
    qatomic_inc(&tl->calls);
    i = qatomic_fetch_inc(&nr_events);
    if (i < MAX_EVENTS) {
        events[i] = (Event) { tl, populate, first, nr, ret };
    }
    if (ret) {
        return ret;
    }
    for (i = first; i < first + nr; i++) {
        if (tl->populated[i] == populate) {
            qatomic_inc(&tl->violations);
        }
        tl->populated[i] = populate;
    }
    return 0;
}

static int notify_populate(RamDiscardListener *rdl,
                           MemoryRegionSection *section)
{
    return notify(rdl, section, true);
}

static void notify_discard(RamDiscardListener *rdl,
                           MemoryRegionSection *section)
{
    notify(rdl, section, false);
}

static void setup(void)
{
    memset(&test_mr, 0, sizeof(test_mr));
    memset(&test_rb, 0, sizeof(test_rb));
    test_mr.size = int128_make64(NR_BLOCKS * bs);
    test_rb.mr = &test_mr;
    test_attr = ram_block_attributes_create(&test_rb);
    g_assert_nonnull(test_attr);
    g_assert(test_mr.rdm == rdm());
    nr_events = 0;
}

static void teardown(TestListener *tls, int n)
{
    for (int i = 0; i < n; i++) {
        tls[i].populate_ok = tls[i].discard_ok = -1;
        rdmc()->unregister_listener(rdm(), &tls[i].rdl);
    }
    g_assert(QLIST_EMPTY(&test_attr->rdl_list));
    ram_block_attributes_destroy(test_attr);
    test_attr = NULL;
    g_assert_null(test_mr.rdm);
}

static int change(uint64_t first, uint64_t nr, bool to_discard)
{
    return ram_block_attributes_state_change(test_attr, first * bs, nr * bs,
                                             to_discard);
}

static void set_expect(bool *expect, uint64_t first, uint64_t nr, bool val)
{
    for (uint64_t b = first; b < first + nr; b++) {
        expect[b] = val;
    }
}

/* Make blocks shared before any listener is registered. */
static void make_shared(bool *expect, uint64_t first, uint64_t nr)
{
    g_assert(QLIST_EMPTY(&test_attr->rdl_list));
    g_assert_cmpint(change(first, nr, false), ==, 0);
    set_expect(expect, first, nr, true);
}

/*
 * Register @n listeners with sections [first[i], first[i] + nr[i]), or the
 * whole region for a NULL @first; fill @order with them in the order in
 * which the RamBlockAttributes notifies them.
 */
static void add_listeners(TestListener *tls, int n, const uint64_t *first,
                          const uint64_t *nr, TestListener **order)
{
    RamDiscardListener *rdl;
    int i = 0;

    memset(tls, 0, n * sizeof(*tls));
    for (i = 0; i < n; i++) {
        MemoryRegionSection s;

        tls[i].first = first ? first[i] : 0;
        tls[i].nr = first ? nr[i] : NR_BLOCKS;
        tls[i].populate_ok = tls[i].discard_ok = -1;
        ram_discard_listener_init(&tls[i].rdl, notify_populate,
                                  notify_discard, false);
        s = section_of(tls[i].first, tls[i].nr);
        rdmc()->register_listener(rdm(), &tls[i].rdl, &s);
    }
    i = 0;
    QLIST_FOREACH(rdl, &test_attr->rdl_list, next) {
        g_assert_cmpint(i, <, n);
        order[i++] = container_of(rdl, TestListener, rdl);
    }
    g_assert_cmpint(i, ==, n);
    nr_events = 0;
}

static void dump_events(void)
{
    for (unsigned i = 0; i < MIN(nr_events, MAX_EVENTS); i++) {
        g_test_message("event %u: listener %p %s [%" PRIu64 ", +%" PRIu64
                       ") ret %d", i, events[i].tl,
                       events[i].populate ? "populate" : "discard",
                       events[i].first, events[i].nr, events[i].ret);
    }
}

static bool event_is(const Event *e, const Expect *exp)
{
    return e->populate == exp->populate && e->first == exp->first &&
           e->nr == exp->nr && e->ret == exp->ret;
}

/* The events of @tl alone are @exp (Expect.who is ignored). */
static void check_events_of(TestListener *tl, const Expect *exp, unsigned n)
{
    bool ok = nr_events <= MAX_EVENTS;
    unsigned j = 0;

    for (unsigned i = 0; ok && i < nr_events; i++) {
        if (events[i].tl == tl) {
            ok = j < n && event_is(&events[i], &exp[j]);
            j++;
        }
    }
    if (!ok || j != n) {
        dump_events();
    }
    g_assert_true(ok);
    g_assert_cmpuint(j, ==, n);
}

static void check_blocks(const char *what, const bool *got,
                         const bool *want)
{
    for (unsigned b = 0; b < NR_BLOCKS; b++) {
        if (got[b] != want[b]) {
            g_test_message("%s: block %u is %s", what, b,
                           got[b] ? "shared" : "private");
        }
        g_assert_cmpint(got[b], ==, want[b]);
    }
}

static void check_bitmap(const bool *expect)
{
    bool bits[NR_BLOCKS];

    for (unsigned b = 0; b < NR_BLOCKS; b++) {
        bits[b] = test_bit(b, test_attr->bitmap);
    }
    check_blocks("bitmap", bits, expect);
}

typedef struct ReplayData {
    MemoryRegionSection *within;
    bool *seen;
} ReplayData;

static int replay_record(MemoryRegionSection *section, void *opaque)
{
    ReplayData *data = opaque;
    const uint64_t first = section->offset_within_region / bs;
    const uint64_t nr = int128_get64(section->size) / bs;
    const uint64_t start = data->within->offset_within_region / bs;

    g_assert(section->mr == &test_mr);
    g_assert_cmpuint(nr, >, 0);
    g_assert_cmpuint(first, >=, start);
    g_assert_cmpuint(first + nr, <=,
                     start + int128_get64(data->within->size) / bs);
    for (uint64_t b = first; b < first + nr; b++) {
        g_assert_false(data->seen[b]);
        data->seen[b] = true;
    }
    return 0;
}

/* replay_populated and replay_discarded over [first, first + nr). */
static void check_replay(const bool *expect, uint64_t first, uint64_t nr)
{
    MemoryRegionSection s = section_of(first, nr);
    bool populated[NR_BLOCKS] = { false }, discarded[NR_BLOCKS] = { false };
    bool want_populated[NR_BLOCKS] = { false };
    bool want_discarded[NR_BLOCKS] = { false };
    ReplayData data = { .within = &s };

    for (uint64_t b = first; b < first + nr; b++) {
        want_populated[b] = expect[b];
        want_discarded[b] = !expect[b];
    }
    data.seen = populated;
    g_assert_cmpint(rdmc()->replay_populated(rdm(), &s, replay_record,
                                             &data), ==, 0);
    check_blocks("replay_populated", populated, want_populated);
    data.seen = discarded;
    g_assert_cmpint(rdmc()->replay_discarded(rdm(), &s, replay_record,
                                             &data), ==, 0);
    check_blocks("replay_discarded", discarded, want_discarded);
}

/*
 * (5) The bitmap, is_populated, replay_populated, replay_discarded and what
 * every listener was told all agree with @expect.  Checked after every
 * change but the two -EIO ones that leave a listener behind.
 */
static void check_state(const bool *expect, TestListener *tls, int n)
{
    bool all = true;
    MemoryRegionSection s;

    check_bitmap(expect);
    for (unsigned b = 0; b < NR_BLOCKS; b++) {
        s = section_of(b, 1);
        g_assert_cmpint(rdmc()->is_populated(rdm(), &s), ==, expect[b]);
        if (b + 1 < NR_BLOCKS) {
            s = section_of(b, 2);
            g_assert_cmpint(rdmc()->is_populated(rdm(), &s), ==,
                            expect[b] && expect[b + 1]);
        }
        all = all && expect[b];
    }
    s = section_of(0, NR_BLOCKS);
    g_assert_cmpint(rdmc()->is_populated(rdm(), &s), ==, all);
    check_replay(expect, 0, NR_BLOCKS);

    for (int i = 0; i < n; i++) {
        TestListener *tl = &tls[i];
        bool want[NR_BLOCKS] = { false };

        for (uint64_t b = tl->first; b < tl->first + tl->nr; b++) {
            want[b] = expect[b];
        }
        check_blocks("listener", tl->populated, want);
        g_assert_cmpuint(tl->violations, ==, 0);
        g_assert_cmpuint(tl->unlocked, ==, 0);
        check_replay(expect, tl->first, tl->nr);
    }
}

/*
 * (1) A change of a range mixing shared and private blocks notifies each
 * listener once per run of blocks that changes, clipped to its section,
 * and nothing about blocks already in the requested state.
 */
static void test_runs(void)
{
    static const uint64_t first[] = { 0, 24 }, nr[] = { NR_BLOCKS, 104 };
    static const Expect a_populate[] = {
        { 0, POP, 8, 2 }, { 0, POP, 13, 7 }, { 0, POP, 21, 9 },
        { 0, POP, 34, 28 }, { 0, POP, 66, 4 },
    };
    static const Expect b_populate[] = {
        { 0, POP, 24, 6 }, { 0, POP, 34, 28 }, { 0, POP, 66, 4 },
    };
    static const Expect a_discard[] = {
        { 0, DISC, 8, 62 }, { 0, DISC, 100, 1 }, { 0, DISC, 150, 1 },
        { 0, DISC, 152, 1 },
    };
    static const Expect b_discard[] = {
        { 0, DISC, 24, 46 }, { 0, DISC, 100, 1 },
    };
    TestListener tls[2], *order[2];
    bool expect[NR_BLOCKS] = { false };

    setup();
    make_shared(expect, 10, 3);
    make_shared(expect, 20, 1);
    make_shared(expect, 30, 4);
    make_shared(expect, 62, 4);         /* across a bitmap word */
    make_shared(expect, 100, 1);
    make_shared(expect, 150, 1);        /* one private block between */
    make_shared(expect, 152, 1);
    /* A sees the whole region, B only [24, 128). */
    add_listeners(tls, 2, first, nr, order);
    check_state(expect, tls, 2);

    g_assert_cmpint(change(8, 62, false), ==, 0);
    set_expect(expect, 8, 62, true);
    check_events_of(&tls[0], a_populate, G_N_ELEMENTS(a_populate));
    check_events_of(&tls[1], b_populate, G_N_ELEMENTS(b_populate));
    check_state(expect, tls, 2);

    /* Already in the requested state. */
    nr_events = 0;
    g_assert_cmpint(change(8, 62, false), ==, 0);
    g_assert_cmpint(change(10, 3, false), ==, 0);
    g_assert_cmpint(change(0, 8, true), ==, 0);
    g_assert_cmpint(change(101, 49, true), ==, 0);
    g_assert_cmpint(change(151, 1, true), ==, 0);
    g_assert_cmpuint(nr_events, ==, 0);
    check_state(expect, tls, 2);

    g_assert_cmpint(change(0, NR_BLOCKS, true), ==, 0);
    set_expect(expect, 0, NR_BLOCKS, false);
    check_events_of(&tls[0], a_discard, G_N_ELEMENTS(a_discard));
    check_events_of(&tls[1], b_discard, G_N_ELEMENTS(b_discard));
    check_state(expect, tls, 2);

    teardown(tls, 2);
}

/*
 * (6) Threads convert interleaved blocks of one bitmap word, each its own
 * blocks, back and forth.  Every change must be seen by the listeners
 * exactly once, and in the end the bitmap and the listeners agree.
 */
#define NR_THREADS 4
#define CONCURRENT_BLOCKS 64
#define FLIPS 10000

typedef struct ConvertThread {
    QemuThread thread;
    unsigned index;
    unsigned flips;
    int ret;
} ConvertThread;

static unsigned threads_ready;

static void *convert_thread(void *opaque)
{
    ConvertThread *t = opaque;

    /* Start together, so that the threads convert at the same time. */
    qatomic_inc(&threads_ready);
    while (qatomic_read(&threads_ready) < NR_THREADS) {
        g_thread_yield();
    }
    for (unsigned i = 0; i < t->flips; i++) {
        for (unsigned b = t->index; b < CONCURRENT_BLOCKS; b += NR_THREADS) {
            int ret = change(b, 1, i & 1);

            if (ret && !t->ret) {
                t->ret = ret;
            }
        }
    }
    return NULL;
}

static void test_concurrent(void)
{
    TestListener tls[2], *order[2];
    ConvertThread threads[NR_THREADS];
    bool expect[NR_BLOCKS] = { false };
    unsigned changes = 0;

    setup();
    add_listeners(tls, 2, NULL, NULL, order);

    threads_ready = 0;
    for (unsigned i = 0; i < NR_THREADS; i++) {
        /* Odd threads end up with their blocks shared. */
        threads[i] = (ConvertThread) {
            .index = i, .flips = FLIPS + (i & 1),
        };
        changes += threads[i].flips * (CONCURRENT_BLOCKS / NR_THREADS);
        if (i & 1) {
            for (unsigned b = i; b < CONCURRENT_BLOCKS; b += NR_THREADS) {
                expect[b] = true;
            }
        }
        qemu_thread_create(&threads[i].thread, "convert", convert_thread,
                           &threads[i], QEMU_THREAD_JOINABLE);
    }
    for (unsigned i = 0; i < NR_THREADS; i++) {
        qemu_thread_join(&threads[i].thread);
        g_assert_cmpint(threads[i].ret, ==, 0);
    }

    for (int i = 0; i < 2; i++) {
        g_assert_cmpuint(tls[i].calls, ==, changes);
    }
    check_state(expect, tls, 2);

    teardown(tls, 2);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    type_register_static(&ram_discard_manager_info);
    module_call_init(MODULE_INIT_QOM);
    bs = qemu_real_host_page_size();

    g_test_add_func("/ram-block-attributes/runs", test_runs);
    g_test_add_func("/ram-block-attributes/concurrent", test_concurrent);
    return g_test_run();
}
