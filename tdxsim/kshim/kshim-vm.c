// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * tdxsim kshim: a TD as the hosted KVM code sees it (struct kvm_tdx of
 * kshim-kernel.h), built and read for a host that cannot include the
 * kernel view (it includes the TDX module model's tdxmod.h).
 */
#include <stdlib.h>

#include "kshim-kernel.h"
#include "kshim.h"
#include "kshim-vm.h"

struct kvm *kshim_vm_new(void *mod_td, bool five_level,
                         const struct kshim_host_ops *host, void *opaque)
{
    struct kvm_tdx *t = calloc(1, sizeof(*t));

    mutex_init(&t->kvm.lock);
    mutex_init(&t->kvm.slots_lock);
    pthread_rwlock_init(&t->kvm.mmu_lock.rw, NULL);
    pthread_rwlock_init(&t->kvm.srcu, NULL);
    t->kvm.gfn_direct_bits = gpa_to_gfn(BIT_ULL(five_level ? 51 : 47));
    t->kvm.host = host;
    t->kvm.opaque = opaque;
    t->kvm.memlock_limit = UINT64_MAX;
    t->hkid = 1;
    t->state = TD_STATE_UNINITIALIZED;
    t->td.mod_td = mod_td;
    return &t->kvm;
}

void kshim_vm_set_state(struct kvm *kvm, int state)
{
    WRITE_ONCE(to_kvm_tdx(kvm)->state, state);
}

void kshim_vm_set_hkid(struct kvm *kvm, int hkid)
{
    to_kvm_tdx(kvm)->hkid = hkid;
}

bool kshim_vm_wait_for_sept_zap(struct kvm *kvm)
{
    return READ_ONCE(to_kvm_tdx(kvm)->wait_for_sept_zap);
}

bool kshim_vm_side_lock_held(struct kvm *kvm)
{
    struct mutex *m = &to_kvm_tdx(kvm)->side_sept.lock;

    return m->owner != 0;
}

void kshim_vm_set_td(struct kvm *kvm, void *mod_td, bool five_level)
{
    to_kvm_tdx(kvm)->td.mod_td = mod_td;
    kvm->gfn_direct_bits = gpa_to_gfn(BIT_ULL(five_level ? 51 : 47));
}

bool *kshim_vm_wait_for_sept_zap_flag(struct kvm *kvm)
{
    return &to_kvm_tdx(kvm)->wait_for_sept_zap;
}

bool kshim_vm_side_torn_down(struct kvm *kvm)
{
    return READ_ONCE(to_kvm_tdx(kvm)->side_sept.torn_down);
}

void kshim_vm_side_stats(struct kvm *kvm, struct kvm_tdx_sept_stats *st)
{
    *st = to_kvm_tdx(kvm)->side_sept.stats;
}

void kshim_vm_side_for_each_page(struct kvm *kvm,
                                 void (*fn)(uint64_t gfn, uint64_t pfn,
                                            bool mapped, void *opaque),
                                 void *opaque)
{
    struct tdx_side_sept *ss = &to_kvm_tdx(kvm)->side_sept;
    unsigned long index;
    struct page *page;

    xa_for_each(&ss->pages, index, page) {
        fn(index, page->pfn, xa_get_mark(&ss->pages, index, XA_MARK_0),
           opaque);
    }
}

uint64_t kshim_vm_side_tables(struct kvm *kvm)
{
    struct tdx_side_sept *ss = &to_kvm_tdx(kvm)->side_sept;
    unsigned long index;
    struct page *page;
    uint64_t n = 0;

    for (int i = 0; i < TDX_SIDE_SEPT_NR_TABLE_LEVELS; i++) {
        xa_for_each(&ss->tables[i], index, page) {
            n++;
        }
    }
    return n;
}

bool kshim_vm_bugged(struct kvm *kvm)
{
    return READ_ONCE(kvm->vm_bugged);
}
