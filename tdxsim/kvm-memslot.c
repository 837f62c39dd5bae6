// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * tdxsim: KVM's lookups on guest memory -- memory attributes (private or
 * shared per gfn), memslots, the guest_memfd page (host pfn) behind a
 * private GPA and its folio -- used by every KVM layer above.  The ioctls
 * that change them are kvm-mem.c's.
 */
#include <errno.h>
#include <string.h>

#include "kvm-vm.h"

#define ATTR_CHUNK_SHIFT 15         /* 32768 pages per bitmap chunk */
#define ATTR_CHUNK_BYTES ((1u << ATTR_CHUNK_SHIFT) / 8)

static uint8_t *attr_chunk(struct sim_vm *vm, uint64_t gfn, bool create)
{
    int64_t key = gfn >> ATTR_CHUNK_SHIFT;
    uint8_t *bm = g_hash_table_lookup(vm->attrs, &key);

    if (!bm && create) {
        bm = g_malloc0(ATTR_CHUNK_BYTES);
        g_hash_table_insert(vm->attrs, g_memdup2(&key, sizeof(key)), bm);
    }
    return bm;
}

bool sim_gfn_private(struct sim_vm *vm, uint64_t gfn)
{
    uint8_t *bm = attr_chunk(vm, gfn, false);
    uint64_t bit = gfn & ((1u << ATTR_CHUNK_SHIFT) - 1);

    return bm && (bm[bit / 8] >> (bit % 8)) & 1;
}

void sim_set_gfn_private(struct sim_vm *vm, uint64_t gfn, bool private)
{
    uint8_t *bm = attr_chunk(vm, gfn, private);
    uint64_t bit = gfn & ((1u << ATTR_CHUNK_SHIFT) - 1);

    if (!bm) {
        return;
    }
    if (private) {
        bm[bit / 8] |= 1u << (bit % 8);
    } else {
        bm[bit / 8] &= ~(1u << (bit % 8));
    }
}

bool sim_range_private(struct sim_vm *vm, uint64_t gpa, uint64_t size)
{
    for (uint64_t gfn = gpa >> 12; gfn < (gpa + size) >> 12; gfn++) {
        if (!sim_gfn_private(vm, gfn)) {
            return false;
        }
    }
    return true;
}

struct sim_slot *sim_find_slot(struct sim_vm *vm, uint64_t gpa)
{
    for (unsigned i = 0; i < SIM_MAX_SLOTS; i++) {
        struct sim_slot *s = &vm->slots[i];
        if (s->used && (s->slot >> 16) == 0 && gpa >= s->gpa &&
            gpa - s->gpa < s->size) {
            return s;
        }
    }
    return NULL;
}

/* splitmix64: the fragmentation draw of one block, from the seed alone. */
static uint64_t mix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

/*
 * guest_memfd folios.  Linux 7.2's guest_memfd allocates order-0 folios
 * only (virt/kvm/guest_memfd.c kvm_gmem_get_folio(): "TODO: Support huge
 * pages", WARN_ON_ONCE(folio_order(folio))) and
 * KVM maps TDX private memory at 4K only (arch/x86/kvm/vmx/tdx.c
 * tdx_gmem_max_mapping_level() returns PG_LEVEL_4K).  So a stock
 * guest_memfd -- mirror mode, and side-table mode with LEAF_4K only -- is
 * 4 KiB folios, physically scattered.  Only side-table mode with LEAF_2M
 * asks for huge folios: the kernel pins with 2 MiB folios wherever its
 * allocator has one (qemu/docs/devel/tdx-side-table-uapi.rst, "Backing").
 * The decision is made once per block, at its first use (INIT_MEM_REGION,
 * a fault, a MAP); the mode is fixed before INIT_VM, before any use.
 */
bool sim_gmem_block_huge(struct sim_gmem *g, uint64_t off)
{
    struct sim_vm *vm = g->vm;
    uint64_t b = off >> 21;
    uint8_t bit = 1u << (b % 8);
    bool huge;

    if (g->block_seen[b / 8] & bit) {
        return g->block_huge[b / 8] & bit;
    }
    g->block_seen[b / 8] |= bit;
    if (!vm->sept.enabled || !(vm->sept.leaves & KVM_TDX_SEPT_LEAF_2M)) {
        vm->backing.blocks_4k++;
        return false;
    }
    huge = (b + 1) << 21 <= g->size;
    if (huge && sim.huge_fragmented_pct > 0) {
        uint64_t draw = mix64(sim.seed ^ ((uint64_t)g->index << 40) ^ b);

        huge = draw % 100 >= sim.huge_fragmented_pct;
    }
    if (huge) {
        g->block_huge[b / 8] |= bit;
        vm->backing.blocks_huge++;
    } else {
        vm->backing.blocks_fallback++;
    }
    return huge;
}

bool sim_block_huge_backed(struct sim_vm *vm, uint64_t gpa2m)
{
    struct sim_slot *s = sim_find_slot(vm, gpa2m);
    uint64_t off;

    if (!s || !s->gmem || gpa2m + (2ULL << 20) > s->gpa + s->size) {
        return false;
    }
    off = s->gmem_offset + gpa2m - s->gpa;
    return !(off & ((2ULL << 20) - 1)) && sim_gmem_block_huge(s->gmem, off);
}

/*
 * The host page behind a guest_memfd offset: in a 2 MiB folio, page i of
 * the block is pfn block + i (contiguous, aligned); in 4 KiB folios the
 * block's pages are scattered over its range (page i at (7i + 1) mod 512:
 * never aligned at 0, never contiguous), so the TDX module model itself
 * refuses a 2M AUG or a PROMOTE on them.
 */
bool sim_private_pfn(struct sim_vm *vm, uint64_t gpa, tdx_pfn_t *pfn,
                     struct sim_slot **slotp)
{
    struct sim_slot *s = sim_find_slot(vm, gpa);
    uint64_t off, page;

    if (slotp) {
        *slotp = s;
    }
    if (!s || !s->gmem) {
        return false;
    }
    off = s->gmem_offset + gpa - s->gpa;
    page = off >> 12;
    if (sim_gmem_block_huge(s->gmem, off)) {
        *pfn = s->gmem->pfn_base + page;
    } else {
        *pfn = s->gmem->pfn_base + (page & ~511ULL) + ((7 * page + 1) & 511);
    }
    return true;
}

