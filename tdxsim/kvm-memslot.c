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

/*
 * Folios of a guest_memfd: Linux 7.2 allocates order-0 folios only
 * (kvm_gmem_get_folio()), in either mode; the KVM series keeps it so (its
 * side table maps 4K leaves).  Counted once per 2 MiB block of the file,
 * at its first use (report "backing").
 */
static void gmem_block_used(struct sim_gmem *g, uint64_t off)
{
    uint64_t b = off >> 21;
    uint8_t bit = 1u << (b % 8);

    if (!(g->block_seen[b / 8] & bit)) {
        g->block_seen[b / 8] |= bit;
        g->vm->backing.blocks_4k++;
    }
}

/*
 * The host page behind a guest_memfd offset: 4 KiB folios, the block's
 * pages scattered over its range (page i at (7i + 1) mod 512: never
 * aligned at 0, never contiguous), so the TDX module model itself refuses
 * a 2M AUG or a PROMOTE on them.
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
    gmem_block_used(s->gmem, off);
    *pfn = s->gmem->pfn_base + (page & ~511ULL) + ((7 * page + 1) & 511);
    return true;
}

/*
 * The page KVM gets for a private fault, a pre-fault, INIT_MEM_REGION's
 * PAGE.ADD or a side-table pin: Linux 7.2 kvm_gmem_get_pfn()
 * (virt/kvm/guest_memfd.c) takes the memslot's file with
 * kvm_gmem_get_file(), which is NULL once kvm_gmem_release() ran (the last
 * reference to the guest_memfd gone: it cleared slot->gmem.file of every
 * binding), and returns -EFAULT then; the memslot stays.  A private fault
 * turns that into a memory-fault exit (arch/x86/kvm/mmu/mmu.c
 * kvm_mmu_faultin_pfn_gmem(): kvm_mmu_prepare_memory_fault_exit(),
 * -EFAULT), as it does for no memslot (kvm_handle_noslot_fault()) or one
 * without a guest_memfd (!kvm_slot_has_gmem()).
 */
int sim_gmem_get_pfn(struct sim_vm *vm, uint64_t gpa, tdx_pfn_t *pfn)
{
    struct sim_slot *s = sim_find_slot(vm, gpa);

    if (!s || !s->gmem || s->gmem->released) {
        return -EFAULT;
    }
    return sim_private_pfn(vm, gpa, pfn, NULL) ? 0 : -EFAULT;
}
