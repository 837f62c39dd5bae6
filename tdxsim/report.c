// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * tdxsim: the machine-readable JSON report written to $TDXSIM_REPORT when
 * the VM is destroyed (QEMU closed it, or the process exits).  Top-level
 * keys are stable: mode, seamcalls, sept_pages, mirror_pages, leaves,
 * exits, ioctls, mapgpa, conversions, invariant_violations, leaks,
 * estimated_ns, build, teardown, side_table (plus details: faults, accept,
 * trace, inject, td).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report.h"
#include "kvm.h"
#include "kvm-sept.h"
#include "json.h"

static void counts_object(struct json_writer *w, const char *key,
                          GHashTable *h1, GHashTable *h2)
{
    g_autoptr(GHashTable) merged = g_hash_table_new(g_str_hash, g_str_equal);
    g_autoptr(GList) keys = NULL;
    GHashTable *src[2] = { h1, h2 };

    for (int i = 0; i < 2; i++) {
        GHashTableIter it;
        gpointer k, v;

        if (!src[i]) {
            continue;
        }
        g_hash_table_iter_init(&it, src[i]);
        while (g_hash_table_iter_next(&it, &k, &v)) {
            gpointer old = g_hash_table_lookup(merged, k);
            g_hash_table_insert(merged, k, GSIZE_TO_POINTER(
                GPOINTER_TO_SIZE(old) + GPOINTER_TO_SIZE(v)));
        }
    }
    keys = g_list_sort(g_hash_table_get_keys(merged), (GCompareFunc)strcmp);
    json_key(w, key);
    json_begin_object(w);
    for (GList *l = keys; l; l = l->next) {
        json_kv_uint(w, l->data,
                     GPOINTER_TO_SIZE(g_hash_table_lookup(merged, l->data)));
    }
    json_end_object(w);
}

static void levels_object(struct json_writer *w, const char *key,
                          const uint64_t *v, int n)
{
    uint64_t total = 0;

    json_key(w, key);
    json_begin_object(w);
    for (int l = 0; l < n; l++) {
        char name[8];
        snprintf(name, sizeof(name), "%d", l);
        json_kv_uint(w, name, v[l]);
        total += v[l];
    }
    json_kv_uint(w, "total", total);
    json_end_object(w);
}

static void write_seamcalls(struct json_writer *w)
{
    const struct tdx_counters *c = tdxmod_counters(sim.mod);
    const char *keys[] = { "seamcalls", "seamcalls_failed", "seamcalls_busy" };
    const uint64_t *arrays[] = { c->seamcalls, c->failed, c->busy };

    for (int k = 0; k < 3; k++) {
        json_key(w, keys[k]);
        json_begin_object(w);
        for (int l = 0; l < TDX_NR_LEAVES; l++) {
            const char *name = tdx_leaf_name(l);
            if (name && (arrays[k][l] || k == 0)) {
                json_kv_uint(w, name, arrays[k][l]);
            }
        }
        if (k == 0) {
            /* The 2M part of TDH.MEM.PAGE.AUG (not a leaf of its own). */
            if (c->aug_2m) {
                json_kv_uint(w, "TDH.MEM.PAGE.AUG.2M", c->aug_2m);
            }
            json_kv_uint(w, "TDG.MEM.PAGE.ACCEPT", c->accepts);
        }
        json_end_object(w);
    }
}

/* build / teardown: one accounting window (kvm-phase.c). */
static void phase_object(struct json_writer *w, const char *key,
                         struct sim_phase *p, const char *order)
{
    const struct tdx_counters *c = sim_phase_counters(p);

    json_key(w, key);
    json_begin_object(w);
    json_key(w, "leaves");
    json_begin_object(w);
    json_kv_uint(w, "4K", p->leaves[0]);
    json_kv_uint(w, "2M", p->leaves[1]);
    json_end_object(w);
    json_key(w, "seamcalls");
    json_begin_object(w);
    for (int l = 0; l < TDX_NR_LEAVES; l++) {
        const char *name = tdx_leaf_name(l);
        if (name && c->seamcalls[l]) {
            json_kv_uint(w, name, c->seamcalls[l]);
        }
    }
    if (c->aug_2m) {
        json_kv_uint(w, "TDH.MEM.PAGE.AUG.2M", c->aug_2m);
    }
    if (c->accepts) {
        json_kv_uint(w, "TDG.MEM.PAGE.ACCEPT", c->accepts);
    }
    json_end_object(w);
    json_kv_uint(w, "kernel_calls", p->kernel_calls);
    if (order) {
        json_kv_string(w, "order", order);
    }
    json_kv_uint(w, "estimated_ns",
                 tdx_counters_estimated_ns(c, tdxmod_cost_table(sim.mod)));
    json_end_object(w);
}

static void side_table_object(struct json_writer *w, struct sim_vm *vm)
{
    struct sim_side_table *t = &vm->sept;
    struct kvm_tdx_sept_stats k;

    /* The kernel's counters (the hosted code's), then the simulator's. */
    sim_sept_stats_read(vm, &k);
    json_key(w, "side_table");
    json_begin_object(w);
    json_key(w, "enabled");
    json_bool(w, t->enabled);
    json_kv_uint(w, "leaf_sizes", t->leaves);
    json_kv_uint(w, "map_calls", k.map_calls);
    json_kv_uint(w, "unmap_calls", k.unmap_calls);
    json_kv_uint(w, "teardown_calls", t->teardown_calls);
    json_kv_uint(w, "stats_calls", t->stats_calls);
    json_kv_uint(w, "seamcalls", k.seamcalls);
    json_kv_uint(w, "leaves_4k", k.leaves_4k);
    json_kv_uint(w, "sept_pages", k.sept_pages);
    json_kv_uint(w, "busy_retries", k.busy_retries);
    json_kv_uint(w, "vcpu_kicks", t->kicks);
    json_kv_uint(w, "eagain", t->eagain);
    json_kv_uint(w, "eintr", t->eintr);
    json_kv_uint(w, "enomem", t->enomem);
    json_kv_uint(w, "racing_faults", t->racing_faults);
    json_kv_uint(w, "prefault_refused", t->prefault_refused);
    json_kv_uint(w, "punch_hole_refused", t->punch_refused);
    json_kv_uint(w, "pinned_pages", t->pinned_pages);
    json_kv_uint(w, "pinned_pages_peak", t->pinned_peak);
    json_kv_uint(w, "pins", t->pins);
    json_kv_uint(w, "unpins", t->unpins);
    json_key(w, "torn_down");
    json_bool(w, t->torn_down);
    json_end_object(w);
}

/*
 * Real lock contention inside the TDX module (tdxmod-lock.c; injected BUSY
 * is not counted here) and what KVM did about it (kvm-kick.c).
 */
static void contention_object(struct json_writer *w, struct sim_vm *vm,
                              const struct sim_stats *s)
{
    struct tdx_counters c = *tdxmod_counters(sim.mod);
    uint64_t total = c.contended_tree + c.contended_entry + c.contended_epoch;

    json_key(w, "contention");
    json_begin_object(w);
    json_kv_uint(w, "busy", total);
    json_key(w, "busy_by_lock");
    json_begin_object(w);
    json_kv_uint(w, "sept_tree", c.contended_tree);
    json_kv_uint(w, "sept_entry", c.contended_entry);
    json_kv_uint(w, "td_epoch", c.contended_epoch);
    json_end_object(w);
    json_key(w, "busy_by_leaf");
    json_begin_object(w);
    for (int l = 0; l < TDX_NR_LEAVES; l++) {
        const char *name = l == TDX_ACCEPT_SLOT ? "TDG.MEM.PAGE.ACCEPT" :
                           tdx_leaf_name(l);

        if (name && c.contended[l]) {
            json_kv_uint(w, name, c.contended[l]);
        }
    }
    json_end_object(w);
    json_kv_uint(w, "kvm_busy_retries", s->busy_retries);
    /* Mirror faults in parallel (kvm-mmu.c): RET_PF_RETRY on BUSY, on a
     * frozen SPTE or a stale fault; SEAMCALLs of faults, and of anyone
     * (the module's count, process-wide), in flight at once. */
    json_kv_uint(w, "fault_busy_retries", s->fault_busy_retries);
    json_kv_uint(w, "fault_lost_races", s->fault_lost_races);
    json_kv_uint(w, "fault_calls_peak",
                 __atomic_load_n(&vm->fault_calls_peak, __ATOMIC_RELAXED));
    json_kv_uint(w, "seamcalls_peak", tdxmod_seamcalls_peak(sim.mod, false));
    json_kv_uint(w, "no_vcpus_retries", s->no_vcpus_retries);
    json_kv_uint(w, "vp_enter_busy", s->vp_enter_busy);
    json_kv_uint(w, "kicks", s->vcpu_kicks);
    json_kv_uint(w, "vcpus_kicked", s->vcpus_kicked);
    json_kv_uint(w, "kick_timeouts", s->kick_timeouts);
    json_end_object(w);
}

static char *render(struct sim_vm *vm)
{
    struct sim_stats *s = &vm->stats;
    struct json_writer w;
    const char *trace = getenv("TDXSIM_TRACE");

    json_init(&w);
    json_begin_object(&w);
    json_kv_string(&w, "mode", vm->sept.enabled ? "side-table" : "mirror");
    write_seamcalls(&w);

    json_key(&w, "sept_pages");
    json_begin_object(&w);
    levels_object(&w, "final", vm->sept_pages_final, TDX_MAX_LEVELS);
    levels_object(&w, "peak", vm->sept_pages_peak, TDX_MAX_LEVELS);
    json_end_object(&w);

    json_key(&w, "mirror_pages");
    json_begin_object(&w);
    levels_object(&w, "final", vm->mirror_final, TDX_MAX_LEVELS);
    levels_object(&w, "peak", vm->mirror_peak, TDX_MAX_LEVELS);
    json_end_object(&w);

    json_key(&w, "leaves");
    json_begin_object(&w);
    json_kv_uint(&w, "4K", vm->leaves_final[0]);
    json_kv_uint(&w, "2M", vm->leaves_final[1]);
    json_kv_uint(&w, "4K_peak", vm->leaves_peak[0]);
    json_kv_uint(&w, "2M_peak", vm->leaves_peak[1]);
    /* Counted by walking the S-EPT at the same moment (not a counter). */
    json_kv_uint(&w, "4K_walked", vm->leaves_walked[0]);
    json_kv_uint(&w, "2M_walked", vm->leaves_walked[1]);
    json_end_object(&w);

    counts_object(&w, "exits", s->exits, NULL);
    counts_object(&w, "ioctls", s->ioctls, sim.sys_ioctls);

    json_key(&w, "mapgpa");
    json_begin_object(&w);
    json_kv_uint(&w, "calls", s->mapgpa_calls);
    json_kv_uint(&w, "success", s->mapgpa_success);
    json_kv_uint(&w, "retry", s->mapgpa_retry);
    json_kv_uint(&w, "error", s->mapgpa_invalid + s->mapgpa_align +
                 s->mapgpa_unsupported + s->mapgpa_user_error +
                 s->mapgpa_gave_up);
    json_kv_uint(&w, "invalid_operand", s->mapgpa_invalid);
    json_kv_uint(&w, "align_error", s->mapgpa_align);
    json_kv_uint(&w, "subfunc_unsupported", s->mapgpa_unsupported);
    json_kv_uint(&w, "userspace_error", s->mapgpa_user_error);
    json_kv_uint(&w, "gave_up", s->mapgpa_gave_up);
    json_kv_uint(&w, "chunks", s->mapgpa_chunks);
    json_end_object(&w);

    json_key(&w, "conversions");
    json_begin_object(&w);
    json_kv_uint(&w, "to_private", s->to_private);
    json_kv_uint(&w, "to_private_pages", s->to_private_pages);
    json_kv_uint(&w, "to_shared", s->to_shared);
    json_kv_uint(&w, "to_shared_pages", s->to_shared_pages);
    json_end_object(&w);

    json_key(&w, "faults");
    json_begin_object(&w);
    json_kv_uint(&w, "private", s->private_faults);
    json_kv_uint(&w, "lazy_maps", s->lazy_maps);
    json_kv_uint(&w, "prefault_pages", s->prefault_pages);
    json_kv_uint(&w, "shared", s->shared_faults);
    json_kv_uint(&w, "zapped_leaves", s->zapped_leaves);
    json_kv_uint(&w, "removal_leaks", s->removal_leaks);
    json_kv_uint(&w, "gmem_punched_pages", s->gmem_punched_pages);
    json_kv_uint(&w, "busy_retries", s->busy_retries);
    json_kv_uint(&w, "vcpu_kicks", s->vcpu_kicks);
    json_kv_uint(&w, "enomem", s->enomem);
    json_kv_uint(&w, "eintr", s->eintr);
    json_kv_uint(&w, "init_mem_pages", s->init_mem_pages);
    json_kv_uint(&w, "init_mem_measured_pages", s->init_mem_measured);
    json_end_object(&w);

    contention_object(&w, vm, s);

    json_key(&w, "accept");
    json_begin_object(&w);
    json_kv_uint(&w, "calls", s->accept_calls);
    json_kv_uint(&w, "accepted_4k", s->accept_4k);
    json_kv_uint(&w, "accepted_2m", s->accept_2m);
    json_kv_uint(&w, "busy_host_priority_retries", s->accept_busy_retries);
    json_end_object(&w);

    json_key(&w, "trace");
    json_begin_object(&w);
    json_kv_string(&w, "path", trace ? trace : "(built-in)");
    json_kv_uint(&w, "ops_executed", s->trace_ops);
    json_kv_uint(&w, "expect_failures", s->expect_failures);
    json_kv_uint(&w, "run_failures", s->run_failures);
    json_kv_uint(&w, "livelocks", s->livelocks);
    json_kv_uint(&w, "guest_panics", s->guest_panics);
    json_kv_uint(&w, "access_before_accept", s->access_before_accept);
    json_kv_uint(&w, "leaked_pages", s->leaked_pages);
    json_kv_uint(&w, "leaked_ops_skipped", s->leaked_ops_skipped);
    json_end_object(&w);

    json_key(&w, "inject");
    json_begin_array(&w);
    for (unsigned i = 0; sim.inj && i < sim.inj->rules->len; i++) {
        struct inject_rule *r = &g_array_index(sim.inj->rules,
                                               struct inject_rule, i);
        json_begin_object(&w);
        json_kv_string(&w, "kind", inject_kind_name(r->kind));
        json_kv_string(&w, "site", r->site);
        if (r->kind != INJ_BUSY) {
            json_kv_uint(&w, "calls", r->calls);
            json_kv_uint(&w, "hits", r->hits);
        }
        json_end_object(&w);
    }
    json_end_array(&w);

    json_key(&w, "td");
    json_begin_object(&w);
    json_kv_uint(&w, "gpaw", vm->gpaw);
    json_kv_uint(&w, "vcpus", vm->nr_vcpus);
    json_kv_uint(&w, "reclaimed_pages", vm->teardown_reclaimed);
    json_key(&w, "torn_down");
    json_bool(&w, vm->torn_down);
    json_kv_uint(&w, "unknown_ioctls", s->unknown_ioctls);
    json_kv_uint(&w, "seed", sim.seed);
    json_kv_uint(&w, "checked_operations", vm->check_ops);
    json_kv_uint(&w, "structural_checks", vm->full_checks);
    json_kv_uint(&w, "agreement_checks", s->agree_checks);
    json_end_object(&w);

    /* guest_memfd folios per 2 MiB block (kvm-memslot.c) */
    json_key(&w, "backing");
    json_begin_object(&w);
    json_kv_string(&w, "folios", "4K");
    json_kv_uint(&w, "blocks_4k_folios", vm->backing.blocks_4k);
    json_end_object(&w);

    phase_object(&w, "build", &vm->build, NULL);
    phase_object(&w, "teardown", &vm->teardown, sim_teardown_order_name(vm));
    side_table_object(&w, vm);

    json_kv_uint(&w, "invariant_violations", s->invariant_violations);
    json_key(&w, "vm_dead");
    json_bool(&w, vm->bugged);
    /* false in a snapshot (KVM_BUG_ON, run failure): the TD never ended */
    json_key(&w, "complete");
    json_bool(&w, vm->torn_down);
    json_kv_uint(&w, "leaks", vm->leaks);
    json_kv_uint(&w, "estimated_ns", tdxmod_estimated_ns(sim.mod));
    json_end_object(&w);
    return json_finish(&w);
}

static void report_write_locked(struct sim_vm *vm)
{
    const char *path = getenv("TDXSIM_REPORT");
    g_autofree char *text = NULL;
    g_autofree char *tmp = NULL;
    GError *err = NULL;

    if (!path || !*path || vm->type != KVM_X86_TDX_VM) {
        return;
    }
    text = render(vm);
    if (!text) {
        fprintf(stderr, "tdxsim: internal error rendering the report\n");
        return;
    }
    tmp = g_strdup_printf("%s.tmp", path);
    if (!g_file_set_contents(tmp, text, -1, &err) || rename(tmp, path) < 0) {
        fprintf(stderr, "tdxsim: cannot write %s: %s\n", path,
                err ? err->message : g_strerror(errno));
        g_clear_error(&err);
    }
}

static void report_write(struct sim_vm *vm)
{
    pthread_mutex_lock(&vm->lock);
    report_write_locked(vm);
    pthread_mutex_unlock(&vm->lock);
}

static const struct sim_report_ops report_ops = {
    .write = report_write,
    .write_locked = report_write_locked,
};

void report_register(void)
{
    sim_register_report(&report_ops);
}
