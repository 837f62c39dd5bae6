/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * tdxsim kshim: the kernel API of kshim-kernel.h that does not clash with
 * the TDX module model's names, so that kshim.c, which implements it next
 * to tdxmod.h, sees the same declarations as the hosted code.
 */
#ifndef TDXSIM_KSHIM_API_H
#define TDXSIM_KSHIM_API_H

#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <string.h>

#include "kshim-types.h"

typedef unsigned long long u64;
typedef long long s64;
typedef uint32_t u32;
typedef uint16_t u16;
typedef uint8_t u8;

#define __user
#define likely(x)               __builtin_expect(!!(x), 1)
#define unlikely(x)             __builtin_expect(!!(x), 0)
#define READ_ONCE(x)            __atomic_load_n(&(x), __ATOMIC_RELAXED)
#define WRITE_ONCE(x, v)        __atomic_store_n(&(x), (v), __ATOMIC_RELAXED)
#define BIT_ULL(n)              (1ULL << (n))
#define U64_MAX                 UINT64_MAX
#define min(a, b)               ((a) < (b) ? (a) : (b))
#define PAGE_SHIFT              12
#define PAGE_SIZE               (1UL << PAGE_SHIFT)
#define PAGE_ALIGNED(x)         (((x) & (PAGE_SIZE - 1)) == 0)
#define GFP_KERNEL_ACCOUNT      0
#define container_of(p, t, m)   ((t *)((char *)(p) - offsetof(t, m)))

enum pg_level {
    PG_LEVEL_NONE, PG_LEVEL_4K, PG_LEVEL_2M, PG_LEVEL_1G, PG_LEVEL_512G,
    PG_LEVEL_256T,
};

/* printk and the bug helpers */
void kshim_pr_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
#define pr_err_ratelimited(fmt, ...)    kshim_pr_err(fmt, ##__VA_ARGS__)
bool kshim_vm_bug(struct kvm *kvm, bool cond, const char *what);
#define KVM_BUG_ON(cond, kvm)   kshim_vm_bug(kvm, !!(cond), #cond)

/* locks */
void mutex_init(struct mutex *m);
void mutex_destroy(struct mutex *m);
void mutex_lock(struct mutex *m);
void mutex_unlock(struct mutex *m);
void kshim_assert_held(struct mutex *m);
#define lockdep_assert_held(m)  kshim_assert_held(m)
void write_lock(rwlock_t *l);
void write_unlock(rwlock_t *l);
void kshim_assert_held_write(rwlock_t *l);
#define lockdep_assert_held_write(l) kshim_assert_held_write(l)
int srcu_read_lock(pthread_rwlock_t *srcu);
void srcu_read_unlock(pthread_rwlock_t *srcu, int idx);
static inline void kshim_mutex_unlockp(struct mutex **m)
{
    if (*m) {
        mutex_unlock(*m);
    }
}
#define KSHIM_CAT2(a, b) a##b
#define KSHIM_CAT(a, b) KSHIM_CAT2(a, b)
#define guard(type)     kshim_guard_##type
#define kshim_guard_mutex(m) \
    struct mutex *KSHIM_CAT(kshim_guard_, __LINE__) \
        __attribute__((cleanup(kshim_mutex_unlockp))) = (mutex_lock(m), (m))

/* xarray */
typedef unsigned int xa_mark_t;
#define XA_MARK_0       0U
#define XA_PRESENT      8U
void xa_init(struct xarray *xa);
void xa_destroy(struct xarray *xa);
void *xa_load(struct xarray *xa, unsigned long index);
void *xa_store(struct xarray *xa, unsigned long index, void *entry, int gfp);
void *xa_erase(struct xarray *xa, unsigned long index);
static inline int xa_err(void *entry)
{
    return 0;
}
bool xa_get_mark(struct xarray *xa, unsigned long index, xa_mark_t mark);
void xa_set_mark(struct xarray *xa, unsigned long index, xa_mark_t mark);
void xa_clear_mark(struct xarray *xa, unsigned long index, xa_mark_t mark);
void *xa_find(struct xarray *xa, unsigned long *indexp, unsigned long max,
              xa_mark_t filter);
#define xa_for_each_range(xa, index, entry, start, last)                  \
    for (index = (start), entry = xa_find(xa, &index, last, XA_PRESENT); \
         entry; entry = (index < (last) ? (index++,                        \
                 xa_find(xa, &index, last, XA_PRESENT)) : NULL))
#define xa_for_each(xa, index, entry) \
    xa_for_each_range(xa, index, entry, 0, ULONG_MAX)

/* pages */
struct page *alloc_page(int gfp);
void __free_page(struct page *page);
void get_page(struct page *page);
void put_page(struct page *page);
struct page *pfn_to_page(kvm_pfn_t pfn);
static inline kvm_pfn_t page_to_pfn(struct page *page)
{
    return page->pfn;
}
#define page_to_phys(page)      ((page)->pfn << PAGE_SHIFT)
struct mm_struct;
int account_locked_vm(struct mm_struct *mm, unsigned long pages, bool inc);

/* tasks */
struct task_struct;
extern __thread struct kvm *kshim_current_kvm;
bool signal_pending(struct task_struct *t);
#define current                 ((struct task_struct *)NULL)
static inline void cond_resched(void)
{
}

/* user memory: the host passes its own pointers */
#define u64_to_user_ptr(x)      ((void *)(uintptr_t)(x))
#define copy_from_user(to, from, n)     (memcpy(to, from, n), 0UL)
#define copy_to_user(to, from, n)       (memcpy(to, from, n), 0UL)
#define put_user(x, ptr)                (*(ptr) = (x), 0)

/* files: guest_memfd's invalidate lock */
struct file *get_file_active(struct file **f);
void fput(struct file *file);
void filemap_invalidate_lock_shared(struct address_space *mapping);
void filemap_invalidate_unlock_shared(struct address_space *mapping);

/* KVM */
#define KVM_MEMSLOT_INVALID     (1UL << 16)
#define KVM_REQ_OUTSIDE_GUEST_MODE 4
static inline gfn_t gpa_to_gfn(gpa_t gpa)
{
    return gpa >> PAGE_SHIFT;
}
static inline gpa_t gfn_to_gpa(gfn_t gfn)
{
    return gfn << PAGE_SHIFT;
}
static inline gfn_t kvm_gfn_direct_bits(const struct kvm *kvm)
{
    return kvm->gfn_direct_bits;
}
/* As Linux 7.2: the memslot's flag, not whether its file is still live. */
static inline bool kvm_slot_has_gmem(const struct kvm_memory_slot *slot)
{
    return slot && (slot->flags & KVM_MEM_GUEST_MEMFD);
}
struct kvm_memory_slot *gfn_to_memslot(struct kvm *kvm, gfn_t gfn);
struct kvm_memory_slot *kvm_vcpu_gfn_to_memslot(struct kvm_vcpu *vcpu,
                                                gfn_t gfn);
bool kvm_mem_is_private(struct kvm *kvm, gfn_t gfn);
int kvm_gmem_get_pfn(struct kvm *kvm, struct kvm_memory_slot *slot, gfn_t gfn,
                     kvm_pfn_t *pfn, struct page **page, int *max_order);
bool kvm_make_all_cpus_request(struct kvm *kvm, unsigned int req);
void kvm_prepare_memory_fault_exit(struct kvm_vcpu *vcpu, gpa_t gpa,
                                   gpa_t size, bool is_write, bool is_exec,
                                   bool is_private);

/* SEAMCALL wrappers (arch/x86/virt/vmx/tdx/tdx.c), kernel types. */
u64 kshim_tdh_mem_sept_add(struct kshim_tdx_td *td, u64 gpa, enum pg_level level,
                     struct page *page, u64 *ext_err1, u64 *ext_err2);
u64 kshim_tdh_mem_page_aug(struct kshim_tdx_td *td, u64 gpa, enum pg_level level,
                     kvm_pfn_t pfn, u64 *ext_err1, u64 *ext_err2);
u64 kshim_tdh_mem_page_add(struct kshim_tdx_td *td, u64 gpa, kvm_pfn_t pfn,
                     struct page *source, u64 *ext_err1, u64 *ext_err2);
u64 kshim_tdh_mem_range_block(struct kshim_tdx_td *td, u64 gpa, enum pg_level level,
                        u64 *ext_err1, u64 *ext_err2);
u64 kshim_tdh_mem_track(struct kshim_tdx_td *td);
u64 kshim_tdh_mem_page_remove(struct kshim_tdx_td *td, u64 gpa, enum pg_level level,
                        u64 *ext_err1, u64 *ext_err2);
u64 kshim_tdh_phymem_page_wbinvd_hkid(u64 hkid, kvm_pfn_t pfn);

/* tdx.c's, faked ("tdx.h", "x86_ops.h", <asm/tdx.h>). */
int tdx_reclaim_page(struct page *page);
void tdx_quirk_reset_paddr(unsigned long base, unsigned long size);
void tdx_mmu_release_hkid(struct kvm *kvm);

#endif /* TDXSIM_KSHIM_API_H */
