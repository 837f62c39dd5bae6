/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * tdxsim kshim: the kernel objects the hosted KVM code
 * (linux/arch/x86/kvm/vmx/tdx_side_sept.c) works on, as plain C that both
 * the hosted code (through kshim-kernel.h) and the simulator see.  Names
 * that the TDX module model also uses (struct tdx_td, tdh_*()) carry a
 * kshim_ prefix here; kshim-kernel.h maps the kernel's names onto them.
 */
#ifndef TDXSIM_KSHIM_TYPES_H
#define TDXSIM_KSHIM_TYPES_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include "../kvm-uapi.h"     /* upstream KVM + side-sept-uapi.h */

typedef uint64_t gfn_t;
typedef uint64_t gpa_t;
typedef uint64_t kvm_pfn_t;

struct mutex {
    pthread_mutex_t m;
    pthread_t owner;            /* lockdep_assert_held() */
};

typedef struct {
    pthread_rwlock_t rw;
    pthread_t writer;           /* lockdep_assert_held_write() */
} rwlock_t;

/* A host page: a pfn of the TDX module model, and a reference count. */
struct page {
    uint64_t pfn;
    int refcount;
    bool sept;                  /* an S-EPT page from alloc_page() */
};

/* xarray: a sorted map index -> entry with three marks (kshim.c). */
struct xarray {
    void *tree;                 /* GTree */
};

struct address_space {
    pthread_rwlock_t invalidate_lock;
};

struct file {
    struct address_space *f_mapping;
};

struct kvm_memory_slot {
    gfn_t base_gfn;
    unsigned long npages;
    uint32_t flags;
    struct {
        struct file *file;
        unsigned long pgoff;
    } gmem;
};

struct kvm_gfn_range {
    struct kvm_memory_slot *slot;
    gfn_t start;
    gfn_t end;
    bool may_block;
};

struct kvm;

/* What the host (a test, or the simulator's KVM) provides. */
struct kshim_host_ops {
    /* guest_memfd page of gfn (in slot), with a reference: 0 or -errno. */
    int (*gmem_get_pfn)(struct kvm *kvm, struct kvm_memory_slot *slot,
                        gfn_t gfn, struct page **page);
    bool (*mem_is_private)(struct kvm *kvm, gfn_t gfn);
    /* kvm_make_all_cpus_request(KVM_REQ_OUTSIDE_GUEST_MODE) */
    void (*kick_all)(struct kvm *kvm);
    /* tdx_mmu_release_hkid(): VP.FLUSH .. KEY.FREEID; sets kvm_tdx->hkid */
    void (*release_hkid)(struct kvm *kvm);
    /* signal_pending(current) */
    bool (*signal_pending)(struct kvm *kvm);
    /*
     * Optional.  account_locked_vm(): 0 or -ENOMEM (default: against
     * kvm->memlock_limit); gfn_to_memslot() (default: kvm->slots[]).
     */
    int (*account_locked)(struct kvm *kvm, unsigned long pages, bool inc);
    struct kvm_memory_slot *(*gfn_to_memslot)(struct kvm *kvm, gfn_t gfn);
};

#define KSHIM_MAX_SLOTS 32

struct kvm {
    struct mutex lock;
    struct mutex slots_lock;
    rwlock_t mmu_lock;
    pthread_rwlock_t srcu;      /* readers: srcu_read_lock() */
    struct mm_struct *mm;
    int created_vcpus;
    bool vm_bugged;
    gfn_t gfn_direct_bits;
    struct kvm_memory_slot *slots[KSHIM_MAX_SLOTS];
    const struct kshim_host_ops *host;
    void *opaque;
    uint64_t locked_vm;         /* pages charged by account_locked_vm() */
    uint64_t memlock_limit;     /* pages; UINT64_MAX = unlimited */
};

struct kvm_run;

struct kvm_vcpu {
    struct kvm *kvm;
    struct kvm_run *run;
};

struct kshim_tdx_td {
    void *mod_td;               /* the TDX module model's struct tdx_td */
};

#endif /* TDXSIM_KSHIM_TYPES_H */
