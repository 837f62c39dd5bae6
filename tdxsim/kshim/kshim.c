// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * tdxsim kshim: the kernel API of kshim-kernel.h in user space, for the
 * hosted KVM code.  SEAMCALL wrappers go to the TDX module model; guest
 * memory, attributes, kicks, the key release and signals to the host's
 * callbacks (struct kshim_host_ops); locks are real pthread locks.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <glib.h>

#include "../tdxmod.h"
#include "kshim-api.h"
#include "kshim.h"

__thread struct kvm *kshim_current_kvm;

static struct tdxmod *kshim_mod;
static uint64_t (*kshim_alloc_pfn)(void);
static void (*kshim_free_pfn)(uint64_t pfn);
static pthread_mutex_t pages_lock = PTHREAD_MUTEX_INITIALIZER;
static GHashTable *pages;       /* pfn -> struct page, while referenced */
static uint64_t kshim_errors;

void kshim_init(struct tdxmod *mod, uint64_t (*alloc_pfn)(void),
                void (*free_pfn)(uint64_t pfn))
{
    kshim_mod = mod;
    kshim_alloc_pfn = alloc_pfn;
    kshim_free_pfn = free_pfn;
}

uint64_t kshim_error_count(void)
{
    return __atomic_load_n(&kshim_errors, __ATOMIC_RELAXED);
}

void kshim_pr_err(const char *fmt, ...)
{
    va_list ap;

    __atomic_add_fetch(&kshim_errors, 1, __ATOMIC_RELAXED);
    va_start(ap, fmt);
    fprintf(stderr, "kshim: ");
    vfprintf(stderr, fmt, ap);
    va_end(ap);
}

bool kshim_vm_bug(struct kvm *kvm, bool cond, const char *what)
{
    if (cond && !kvm->vm_bugged) {
        fprintf(stderr, "kshim: KVM_BUG_ON(%s)\n", what);
        kvm->vm_bugged = true;
    }
    return cond;
}

/* Locks: a failed assertion is a bug of the hosted code. */
static void lock_bug(const char *what)
{
    fprintf(stderr, "kshim: lock assertion failed: %s\n", what);
    abort();
}

void mutex_init(struct mutex *m)
{
    pthread_mutex_init(&m->m, NULL);
    m->owner = 0;
}

void mutex_destroy(struct mutex *m)
{
    pthread_mutex_destroy(&m->m);
}

void mutex_lock(struct mutex *m)
{
    pthread_mutex_lock(&m->m);
    m->owner = pthread_self();
}

void mutex_unlock(struct mutex *m)
{
    if (!pthread_equal(m->owner, pthread_self())) {
        lock_bug("mutex_unlock() by a thread that does not hold it");
    }
    m->owner = 0;
    pthread_mutex_unlock(&m->m);
}

void kshim_assert_held(struct mutex *m)
{
    if (!pthread_equal(m->owner, pthread_self())) {
        lock_bug("lockdep_assert_held()");
    }
}

void write_lock(rwlock_t *l)
{
    pthread_rwlock_wrlock(&l->rw);
    l->writer = pthread_self();
}

void write_unlock(rwlock_t *l)
{
    l->writer = 0;
    pthread_rwlock_unlock(&l->rw);
}

void kshim_assert_held_write(rwlock_t *l)
{
    if (!pthread_equal(l->writer, pthread_self())) {
        lock_bug("lockdep_assert_held_write()");
    }
}

int srcu_read_lock(pthread_rwlock_t *srcu)
{
    pthread_rwlock_rdlock(srcu);
    return 0;
}

void srcu_read_unlock(pthread_rwlock_t *srcu, int idx)
{
    pthread_rwlock_unlock(srcu);
}

/* xarray: GTree index -> struct xa_node (entry + marks). */
struct xa_node {
    void *entry;
    unsigned marks;
};

static gint cmp_index(gconstpointer a, gconstpointer b, gpointer unused)
{
    unsigned long x = (unsigned long)(uintptr_t)a;
    unsigned long y = (unsigned long)(uintptr_t)b;

    return x < y ? -1 : x > y;
}

void xa_init(struct xarray *xa)
{
    xa->tree = g_tree_new_full(cmp_index, NULL, NULL, g_free);
}

void xa_destroy(struct xarray *xa)
{
    if (xa->tree) {
        g_tree_destroy(xa->tree);
        xa->tree = NULL;
    }
}

static struct xa_node *xa_node(struct xarray *xa, unsigned long index)
{
    return g_tree_lookup(xa->tree, (gpointer)(uintptr_t)index);
}

void *xa_load(struct xarray *xa, unsigned long index)
{
    struct xa_node *n = xa_node(xa, index);

    return n ? n->entry : NULL;
}

void *xa_store(struct xarray *xa, unsigned long index, void *entry, int gfp)
{
    struct xa_node *n = xa_node(xa, index);
    void *old = n ? n->entry : NULL;

    if (!entry) {
        return xa_erase(xa, index);
    }
    if (!n) {
        n = g_new0(struct xa_node, 1);
        g_tree_insert(xa->tree, (gpointer)(uintptr_t)index, n);
    }
    n->entry = entry;
    return old;
}

void *xa_erase(struct xarray *xa, unsigned long index)
{
    void *old = xa_load(xa, index);

    g_tree_remove(xa->tree, (gpointer)(uintptr_t)index);
    return old;
}

bool xa_get_mark(struct xarray *xa, unsigned long index, xa_mark_t mark)
{
    struct xa_node *n = xa_node(xa, index);

    return n && (n->marks & (1u << mark));
}

void xa_set_mark(struct xarray *xa, unsigned long index, xa_mark_t mark)
{
    struct xa_node *n = xa_node(xa, index);

    if (n) {
        n->marks |= 1u << mark;
    }
}

void xa_clear_mark(struct xarray *xa, unsigned long index, xa_mark_t mark)
{
    struct xa_node *n = xa_node(xa, index);

    if (n) {
        n->marks &= ~(1u << mark);
    }
}

struct xa_find_arg {
    unsigned long max;
    xa_mark_t filter;
    unsigned long index;
    void *entry;
};

static gboolean xa_find_one(gpointer key, gpointer value, gpointer opaque)
{
    struct xa_find_arg *a = opaque;
    struct xa_node *n = value;
    unsigned long index = (unsigned long)(uintptr_t)key;

    if (index > a->max) {
        return TRUE;
    }
    if (a->filter == XA_PRESENT || (n->marks & (1u << a->filter))) {
        a->index = index;
        a->entry = n->entry;
        return TRUE;
    }
    return FALSE;
}

void *xa_find(struct xarray *xa, unsigned long *indexp, unsigned long max,
              xa_mark_t filter)
{
    struct xa_find_arg a = { .max = max, .filter = filter };
    GTreeNode *node;

    if (*indexp > max) {
        return NULL;
    }
    node = g_tree_lower_bound(xa->tree, (gpointer)(uintptr_t)*indexp);
    for (; node; node = g_tree_node_next(node)) {
        if (xa_find_one(g_tree_node_key(node), g_tree_node_value(node), &a)) {
            break;
        }
    }
    if (a.entry) {
        *indexp = a.index;
    }
    return a.entry;
}

/* Pages: the host's pfns with a reference count. */
static struct page *page_ref(uint64_t pfn, bool sept)
{
    struct page *p;

    pthread_mutex_lock(&pages_lock);
    if (!pages) {
        pages = g_hash_table_new_full(g_int64_hash, g_int64_equal, NULL,
                                      g_free);
    }
    p = g_hash_table_lookup(pages, &pfn);
    if (!p) {
        p = g_new0(struct page, 1);
        p->pfn = pfn;
        p->sept = sept;
        g_hash_table_insert(pages, &p->pfn, p);
    }
    p->refcount++;
    pthread_mutex_unlock(&pages_lock);
    return p;
}

struct page *kshim_page_get(uint64_t pfn)
{
    return page_ref(pfn, false);
}

unsigned kshim_page_refs(uint64_t pfn)
{
    struct page *p;
    unsigned n;

    pthread_mutex_lock(&pages_lock);
    p = pages ? g_hash_table_lookup(pages, &pfn) : NULL;
    n = p ? p->refcount : 0;
    pthread_mutex_unlock(&pages_lock);
    return n;
}

uint64_t kshim_pages_referenced(void)
{
    uint64_t n;

    pthread_mutex_lock(&pages_lock);
    n = pages ? g_hash_table_size(pages) : 0;
    pthread_mutex_unlock(&pages_lock);
    return n;
}

struct page *pfn_to_page(kvm_pfn_t pfn)
{
    struct page *p;

    pthread_mutex_lock(&pages_lock);
    p = pages ? g_hash_table_lookup(pages, &pfn) : NULL;
    pthread_mutex_unlock(&pages_lock);
    if (!p) {
        lock_bug("pfn_to_page() of a page nobody holds");
    }
    return p;
}

void get_page(struct page *page)
{
    pthread_mutex_lock(&pages_lock);
    page->refcount++;
    pthread_mutex_unlock(&pages_lock);
}

void put_page(struct page *page)
{
    bool last;

    pthread_mutex_lock(&pages_lock);
    if (page->refcount <= 0) {
        lock_bug("put_page() of a free page");
    }
    last = --page->refcount == 0;
    if (last) {
        g_hash_table_remove(pages, &page->pfn);
    }
    pthread_mutex_unlock(&pages_lock);
}

struct page *alloc_page(int gfp)
{
    return page_ref(kshim_alloc_pfn(), true);
}

void __free_page(struct page *page)
{
    uint64_t pfn = page->pfn;

    put_page(page);
    kshim_free_pfn(pfn);
}

int account_locked_vm(struct mm_struct *mm, unsigned long n, bool inc)
{
    struct kvm *kvm = kshim_current_kvm;

    if (!kvm) {
        lock_bug("account_locked_vm() outside a kshim call");
    }
    if (kvm->host->account_locked) {
        return kvm->host->account_locked(kvm, n, inc);
    }
    if (!inc) {
        kvm->locked_vm -= n;
        return 0;
    }
    if (kvm->memlock_limit != UINT64_MAX &&
        kvm->locked_vm + n > kvm->memlock_limit) {
        return -ENOMEM;
    }
    kvm->locked_vm += n;
    return 0;
}

bool signal_pending(struct task_struct *t)
{
    struct kvm *kvm = kshim_current_kvm;

    return kvm && kvm->host->signal_pending &&
           kvm->host->signal_pending(kvm);
}

/* guest_memfd's file: the invalidate lock. */
struct file *get_file_active(struct file **f)
{
    return *f;
}

void fput(struct file *file)
{
}

void filemap_invalidate_lock_shared(struct address_space *mapping)
{
    pthread_rwlock_rdlock(&mapping->invalidate_lock);
}

void filemap_invalidate_unlock_shared(struct address_space *mapping)
{
    pthread_rwlock_unlock(&mapping->invalidate_lock);
}

/* KVM */
struct kvm_memory_slot *gfn_to_memslot(struct kvm *kvm, gfn_t gfn)
{
    if (kvm->host->gfn_to_memslot) {
        return kvm->host->gfn_to_memslot(kvm, gfn);
    }
    for (unsigned i = 0; i < KSHIM_MAX_SLOTS; i++) {
        struct kvm_memory_slot *s = kvm->slots[i];

        if (s && gfn >= s->base_gfn && gfn - s->base_gfn < s->npages) {
            return s;
        }
    }
    return NULL;
}

struct kvm_memory_slot *kvm_vcpu_gfn_to_memslot(struct kvm_vcpu *vcpu,
                                                gfn_t gfn)
{
    return gfn_to_memslot(vcpu->kvm, gfn);
}

bool kvm_mem_is_private(struct kvm *kvm, gfn_t gfn)
{
    return kvm->host->mem_is_private(kvm, gfn);
}

int kvm_gmem_get_pfn(struct kvm *kvm, struct kvm_memory_slot *slot, gfn_t gfn,
                     kvm_pfn_t *pfn, struct page **page, int *max_order)
{
    int r = kvm->host->gmem_get_pfn(kvm, slot, gfn, page);

    if (!r) {
        *pfn = (*page)->pfn;
        if (max_order) {
            *max_order = 0;
        }
    }
    return r;
}

bool kvm_make_all_cpus_request(struct kvm *kvm, unsigned int req)
{
    kvm->host->kick_all(kvm);
    return true;
}

void kvm_prepare_memory_fault_exit(struct kvm_vcpu *vcpu, gpa_t gpa,
                                   gpa_t size, bool is_write, bool is_exec,
                                   bool is_private)
{
    vcpu->run->exit_reason = KVM_EXIT_MEMORY_FAULT;
    vcpu->run->memory_fault.gpa = gpa;
    vcpu->run->memory_fault.size = size;
    vcpu->run->memory_fault.flags =
        is_private ? KVM_MEMORY_EXIT_FLAG_PRIVATE : 0;
}

void tdx_mmu_release_hkid(struct kvm *kvm)
{
    kvm->host->release_hkid(kvm);
}

/* SEAMCALL wrappers: PG_LEVEL_* - 1 is the TDX level (arch/x86/virt). */
static struct tdx_td *mod_td(struct kshim_tdx_td *td)
{
    return td->mod_td;
}

u64 kshim_tdh_mem_sept_add(struct kshim_tdx_td *td, u64 gpa,
                           enum pg_level level, struct page *page,
                           u64 *ext_err1, u64 *ext_err2)
{
    *ext_err1 = gpa | (level - 1);
    *ext_err2 = 0;
    return tdh_mem_sept_add(mod_td(td), gpa, level - 1, page->pfn);
}

u64 kshim_tdh_mem_page_aug(struct kshim_tdx_td *td, u64 gpa,
                           enum pg_level level, kvm_pfn_t pfn,
                           u64 *ext_err1, u64 *ext_err2)
{
    *ext_err1 = gpa | (level - 1);
    *ext_err2 = 0;
    return tdh_mem_page_aug(mod_td(td), gpa, level - 1, pfn);
}

u64 kshim_tdh_mem_page_add(struct kshim_tdx_td *td, u64 gpa, kvm_pfn_t pfn,
                           struct page *source, u64 *ext_err1, u64 *ext_err2)
{
    *ext_err1 = gpa;
    *ext_err2 = 0;
    return tdh_mem_page_add(mod_td(td), gpa, pfn);
}

u64 kshim_tdh_mem_range_block(struct kshim_tdx_td *td, u64 gpa,
                              enum pg_level level, u64 *ext_err1,
                              u64 *ext_err2)
{
    *ext_err1 = gpa | (level - 1);
    *ext_err2 = 0;
    return tdh_mem_range_block(mod_td(td), gpa, level - 1);
}

u64 kshim_tdh_mem_track(struct kshim_tdx_td *td)
{
    return tdh_mem_track(mod_td(td));
}

u64 kshim_tdh_mem_page_remove(struct kshim_tdx_td *td, u64 gpa,
                              enum pg_level level, u64 *ext_err1,
                              u64 *ext_err2)
{
    tdx_pfn_t pfn;

    *ext_err1 = gpa | (level - 1);
    *ext_err2 = 0;
    return tdh_mem_page_remove(mod_td(td), gpa, level - 1, &pfn);
}

u64 kshim_tdh_phymem_page_wbinvd_hkid(u64 hkid, kvm_pfn_t pfn)
{
    return tdh_phymem_page_wbinvd(kshim_mod, pfn);
}

int tdx_reclaim_page(struct page *page)
{
    u64 err = tdh_phymem_page_reclaim(kshim_mod, page->pfn);

    if (err) {
        kshim_pr_err("SEAMCALL TDH_PHYMEM_PAGE_RECLAIM failed: 0x%llx\n",
                     (unsigned long long)err);
        return -EIO;
    }
    return 0;
}

void tdx_quirk_reset_paddr(unsigned long base, unsigned long size)
{
}
