// SPDX-License-Identifier: GPL-2.0
/*
 * TDX side-table S-EPT (KVM_CAP_TDX_SIDE_SEPT).
 *
 * In this mode KVM does not mirror a TD's Secure-EPT in the TDP MMU.
 * Userspace pins and maps the TD's private memory explicitly
 * (KVM_TDX_SEPT_MAP, the whole of it before the TD runs), unmaps what the
 * guest converts to shared (KVM_TDX_SEPT_UNMAP) and tears everything down
 * at the end (KVM_TDX_SEPT_TEARDOWN, or VM destruction).  KVM keeps a side
 * table of what it pinned and mapped and of the S-EPT pages it added, and
 * never faults private memory in: an EPT violation on a private GPA either
 * exits to userspace (the attributes say shared: an implicit conversion)
 * or resumes the guest, which retries while a conversion maps the page.
 * Only 4K leaves: 7.2's guest_memfd allocates order-0 folios.
 *
 * Locking
 *
 * Lock: side_sept.lock (a mutex, one per TD) serialises MAP, UNMAP,
 *   TEARDOWN, INIT_MEM_REGION's PAGE.ADD, memslot flushes and the
 *   hole-punch check, and guards the side table.
 * Lock: the statistics are written under side_sept.lock and read without
 *   any lock, so KVM_TDX_SEPT_STATS never waits behind a MAP.
 * Lock: vCPUs take no side-table lock: a private fault reads the memory
 *   attributes and the memslots (kvm->srcu, held by KVM_RUN) and takes a
 *   reference to the guest_memfd file for a moment, as kvm_gmem_get_pfn()
 *   does.
 * Lock order: kvm->srcu (read) -> guest_memfd invalidate lock (read) ->
 *   side_sept.lock, for MAP: the invalidate lock keeps a hole punch from
 *   passing its check while MAP pins a page of its range.
 * Lock order: guest_memfd invalidate lock (write) -> side_sept.lock, for
 *   the hole-punch check and for INIT_MEM_REGION (kvm_gmem_populate()).
 * Lock order: kvm->slots_lock -> side_sept.lock, for memslot deletion and
 *   TEARDOWN (which also holds kvm->lock and every vcpu->mutex, as every
 *   TDX VM-state command does).
 * Lock order: side_sept.lock -> kvm->mmu_lock (write), held around the
 *   S-EPT SEAMCALLs: a BUSY one is retried once with every vCPU kept out
 *   of the guest (wait_for_sept_zap), as tdh_do_no_vcpus() does.
 * Lock: MAP and UNMAP take neither kvm->lock nor any vcpu->mutex, so a
 *   vCPU thread converting memory never waits for the other vCPUs to
 *   leave KVM_RUN.
 */
#include <linux/kvm_host.h>
#include <linux/mm.h>
#include <linux/pagemap.h>
#include <asm/tdx.h>

#include "mmu.h"
#include "x86_ops.h"
#include "tdx.h"

/* xarray mark of ss->pages: the page is mapped in the S-EPT. */
#define TDX_SIDE_SEPT_MAPPED		XA_MARK_0

/* Leaves removed per BLOCK..TRACK..REMOVE round under mmu_lock. */
#define TDX_SIDE_SEPT_UNMAP_BATCH	64

/* Pages reclaimed between checks for a pending signal. */
#define TDX_SIDE_SEPT_RECLAIM_CHUNK	256

static void side_sept_count(u64 *counter, s64 n)
{
	WRITE_ONCE(*counter, *counter + n);
}

/* A SEAMCALL failed where only a bug of KVM or the TDX module explains it. */
static bool side_sept_failed(struct kvm *kvm, const char *fn, u64 err,
			     u64 rcx, u64 rdx)
{
	if (!KVM_BUG_ON(err, kvm))
		return false;

	pr_err_ratelimited("SEAMCALL %s failed: 0x%llx, rcx 0x%llx, rdx 0x%llx\n",
			   fn, err, rcx, rdx);
	return true;
}

static struct tdx_side_sept *to_side_sept(struct kvm *kvm)
{
	return &to_kvm_tdx(kvm)->side_sept;
}

/*
 * After a SEAMCALL on the S-EPT, with mmu_lock held for write: true if it
 * met BUSY for the first time.  Every vCPU is then kept out of the guest,
 * where it could hold what the call needs, and the caller issues the call
 * once more, as tdh_do_no_vcpus() does.
 */
static bool side_sept_retry(struct kvm *kvm, u64 err, bool *kept_out)
{
	struct kvm_tdx *kvm_tdx = to_kvm_tdx(kvm);
	struct tdx_side_sept *ss = &kvm_tdx->side_sept;

	lockdep_assert_held_write(&kvm->mmu_lock);

	side_sept_count(&ss->stats.seamcalls, 1);
	if (*kept_out) {
		WRITE_ONCE(kvm_tdx->wait_for_sept_zap, false);
		return false;
	}
	if (likely(!tdx_operand_busy(err)))
		return false;

	side_sept_count(&ss->stats.busy_retries, 1);
	WRITE_ONCE(kvm_tdx->wait_for_sept_zap, true);
	kvm_make_all_cpus_request(kvm, KVM_REQ_OUTSIDE_GUEST_MODE);
	*kept_out = true;
	return true;
}

static int side_sept_top_level(struct kvm *kvm)
{
	return kvm_gfn_direct_bits(kvm) == gpa_to_gfn(BIT_ULL(51)) ?
	       PG_LEVEL_256T : PG_LEVEL_512G;
}

static unsigned long side_sept_table_index(gfn_t gfn, int level)
{
	return gfn >> (9 * (level - 1));
}

static struct xarray *side_sept_tables(struct tdx_side_sept *ss, int level)
{
	return &ss->tables[level - PG_LEVEL_2M];
}

/* Pin the guest_memfd page of @gfn and charge it to RLIMIT_MEMLOCK. */
static int side_sept_pin(struct kvm *kvm, struct tdx_side_sept *ss,
			 struct kvm_memory_slot *slot, gfn_t gfn,
			 struct page **pagep)
{
	struct page *page;
	kvm_pfn_t pfn;
	int r;

	r = account_locked_vm(kvm->mm, 1, true);
	if (r)
		return r;

	r = kvm_gmem_get_pfn(kvm, slot, gfn, &pfn, &page, NULL);
	if (r)
		goto uncharge;

	r = xa_err(xa_store(&ss->pages, gfn, page, GFP_KERNEL_ACCOUNT));
	if (r) {
		put_page(page);
		goto uncharge;
	}

	side_sept_count(&ss->stats.pinned_pages, 1);
	*pagep = page;
	return 0;

uncharge:
	account_locked_vm(kvm->mm, 1, false);
	return r;
}

static void side_sept_unpin(struct kvm *kvm, struct tdx_side_sept *ss,
			    gfn_t gfn, struct page *page)
{
	xa_erase(&ss->pages, gfn);
	put_page(page);
	account_locked_vm(kvm->mm, 1, false);
	side_sept_count(&ss->stats.pinned_pages, -1);
}

/* Add the S-EPT pages missing above the 4K leaf of @gfn. */
static int side_sept_link(struct kvm *kvm, struct tdx_side_sept *ss,
			  gfn_t gfn)
{
	struct kvm_tdx *kvm_tdx = to_kvm_tdx(kvm);
	u64 err, entry, level_state;
	struct page *table;
	bool kept_out;
	int level, r;

	for (level = side_sept_top_level(kvm); level >= PG_LEVEL_2M; level--) {
		unsigned long index = side_sept_table_index(gfn, level);
		gpa_t gpa = gfn_to_gpa(index << (9 * (level - 1)));
		struct xarray *tables = side_sept_tables(ss, level);

		if (xa_load(tables, index))
			continue;

		table = alloc_page(GFP_KERNEL_ACCOUNT);
		if (!table)
			return -ENOMEM;

		r = xa_err(xa_store(tables, index, table, GFP_KERNEL_ACCOUNT));
		if (r) {
			__free_page(table);
			return r;
		}

		kept_out = false;
		write_lock(&kvm->mmu_lock);
		do {
			err = tdh_mem_sept_add(&kvm_tdx->td, gpa, level, table,
					       &entry, &level_state);
		} while (side_sept_retry(kvm, err, &kept_out));
		write_unlock(&kvm->mmu_lock);
		if (err) {
			xa_erase(tables, index);
			__free_page(table);
			if (tdx_operand_busy(err))
				return -EAGAIN;
			side_sept_failed(kvm, "TDH.MEM.SEPT.ADD", err, entry,
					 level_state);
			return -EIO;
		}
		side_sept_count(&ss->stats.sept_pages, 1);
	}
	return 0;
}

/* Map the pinned @page at @gfn: PAGE.AUG (PENDING until the guest accepts). */
static int side_sept_aug(struct kvm *kvm, struct tdx_side_sept *ss,
			 gfn_t gfn, struct page *page)
{
	struct kvm_tdx *kvm_tdx = to_kvm_tdx(kvm);
	u64 err, entry, level_state;
	bool kept_out = false;

	write_lock(&kvm->mmu_lock);
	do {
		err = tdh_mem_page_aug(&kvm_tdx->td, gfn_to_gpa(gfn),
				       PG_LEVEL_4K, page_to_pfn(page), &entry,
				       &level_state);
	} while (side_sept_retry(kvm, err, &kept_out));
	write_unlock(&kvm->mmu_lock);
	if (tdx_operand_busy(err))
		return -EAGAIN;
	if (side_sept_failed(kvm, "TDH.MEM.PAGE.AUG", err, entry, level_state))
		return -EIO;

	xa_set_mark(&ss->pages, gfn, TDX_SIDE_SEPT_MAPPED);
	side_sept_count(&ss->stats.leaves_4k, 1);
	return 0;
}

/* Map [@gfn, @end) of one memslot; *@next: the first gfn not done. */
static int side_sept_map_slot(struct kvm *kvm, struct tdx_side_sept *ss,
			      struct kvm_memory_slot *slot, gfn_t gfn,
			      gfn_t end, gfn_t *next)
{
	struct page *page;
	int r = 0;

	for (; gfn < end; gfn++) {
		if (signal_pending(current)) {
			r = -EINTR;
			break;
		}

		page = xa_load(&ss->pages, gfn);
		if (page && xa_get_mark(&ss->pages, gfn, TDX_SIDE_SEPT_MAPPED))
			continue;

		/* Only private memory is mapped; what is done stays done. */
		if (!kvm_mem_is_private(kvm, gfn)) {
			r = -EPERM;
			break;
		}

		if (!page) {
			r = side_sept_pin(kvm, ss, slot, gfn, &page);
			if (r)
				break;
		}

		r = side_sept_link(kvm, ss, gfn);
		if (!r)
			r = side_sept_aug(kvm, ss, gfn, page);
		if (r)
			break;

		cond_resched();
	}
	*next = gfn;
	return r;
}

static int side_sept_map(struct kvm *kvm, struct tdx_side_sept *ss,
			 gfn_t gfn, gfn_t end, gfn_t *next)
{
	struct kvm_memory_slot *slot;
	struct file *file;
	gfn_t slot_end;
	int idx, r;

	idx = srcu_read_lock(&kvm->srcu);
	r = 0;
	while (!r && gfn < end) {
		slot = gfn_to_memslot(kvm, gfn);
		if (!slot || !kvm_slot_has_gmem(slot) ||
		    (slot->flags & KVM_MEMSLOT_INVALID)) {
			r = -ENOENT;
			break;
		}
		slot_end = min(end, slot->base_gfn + slot->npages);

		file = get_file_active(&slot->gmem.file);
		if (!file) {
			r = -ENOENT;
			break;
		}

		filemap_invalidate_lock_shared(file->f_mapping);
		mutex_lock(&ss->lock);
		if (ss->torn_down)
			r = -EINVAL;
		else
			r = side_sept_map_slot(kvm, ss, slot, gfn, slot_end,
					       &gfn);
		mutex_unlock(&ss->lock);
		filemap_invalidate_unlock_shared(file->f_mapping);
		fput(file);
	}
	srcu_read_unlock(&kvm->srcu, idx);
	*next = gfn;
	return r;
}

/*
 * Remove the leaves of @gfns: BLOCK each, one TRACK and a kick of every
 * vCPU, then REMOVE each (its page stays pinned).  A failure is a bug of
 * KVM or of the TDX module and kills the VM, as for the TDP MMU's mirror.
 */
static int side_sept_remove_batch(struct kvm *kvm, struct tdx_side_sept *ss,
				  gfn_t *gfns, int nr)
{
	struct kvm_tdx *kvm_tdx = to_kvm_tdx(kvm);
	u64 err, entry, level_state;
	struct page *page;
	bool kept_out;
	int i, r = 0;

	if (KVM_BUG_ON(!is_hkid_assigned(kvm_tdx), kvm))
		return -EIO;

	write_lock(&kvm->mmu_lock);
	for (i = 0; i < nr; i++) {
		kept_out = false;
		do {
			err = tdh_mem_range_block(&kvm_tdx->td,
						  gfn_to_gpa(gfns[i]),
						  PG_LEVEL_4K, &entry,
						  &level_state);
		} while (side_sept_retry(kvm, err, &kept_out));
		if (side_sept_failed(kvm, "TDH.MEM.RANGE.BLOCK", err, entry,
				     level_state)) {
			r = -EIO;
			goto out;
		}
	}

	/* Before the TD runs no vCPU can hold a stale translation. */
	if (kvm_tdx->state == TD_STATE_RUNNABLE) {
		kept_out = false;
		do {
			err = tdh_mem_track(&kvm_tdx->td);
		} while (side_sept_retry(kvm, err, &kept_out));
		if (side_sept_failed(kvm, "TDH.MEM.TRACK", err, 0, 0)) {
			r = -EIO;
			goto out;
		}
		kvm_make_all_cpus_request(kvm, KVM_REQ_OUTSIDE_GUEST_MODE);
	}

	for (i = 0; i < nr; i++) {
		page = xa_load(&ss->pages, gfns[i]);
		kept_out = false;
		do {
			err = tdh_mem_page_remove(&kvm_tdx->td,
						  gfn_to_gpa(gfns[i]),
						  PG_LEVEL_4K, &entry,
						  &level_state);
		} while (side_sept_retry(kvm, err, &kept_out));
		if (side_sept_failed(kvm, "TDH.MEM.PAGE.REMOVE", err, entry,
				     level_state)) {
			r = -EIO;
			goto out;
		}

		side_sept_count(&ss->stats.seamcalls, 1);
		err = tdh_phymem_page_wbinvd_hkid((u16)kvm_tdx->hkid,
						  page_to_pfn(page));
		if (side_sept_failed(kvm, "TDH.PHYMEM.PAGE.WBINVD", err, 0, 0)) {
			r = -EIO;
			goto out;
		}
		tdx_quirk_reset_paddr(page_to_phys(page), PAGE_SIZE);

		xa_clear_mark(&ss->pages, gfns[i], TDX_SIDE_SEPT_MAPPED);
		side_sept_count(&ss->stats.leaves_4k, -1);
	}
out:
	write_unlock(&kvm->mmu_lock);
	return r;
}

/*
 * Unmap [@gfn, @end) with ss->lock held; *@next: the first gfn not done.
 * @interruptible: stop with -EINTR between batches if a signal is pending.
 */
static int side_sept_unmap_locked(struct kvm *kvm, struct tdx_side_sept *ss,
				  gfn_t gfn, gfn_t end, gfn_t *next,
				  bool interruptible)
{
	gfn_t batch[TDX_SIDE_SEPT_UNMAP_BATCH];
	unsigned long index = gfn;
	int nr, r = 0;

	lockdep_assert_held(&ss->lock);

	while (!r && gfn < end) {
		nr = 0;
		index = gfn;
		while (nr < TDX_SIDE_SEPT_UNMAP_BATCH &&
		       xa_find(&ss->pages, &index, end - 1,
			       TDX_SIDE_SEPT_MAPPED)) {
			batch[nr++] = index;
			if (index == end - 1)
				break;
			index++;
		}
		if (!nr) {
			gfn = end;
			break;
		}

		r = side_sept_remove_batch(kvm, ss, batch, nr);
		if (r)
			break;
		gfn = batch[nr - 1] + 1;

		if (gfn < end && interruptible && signal_pending(current))
			r = -EINTR;
		cond_resched();
	}
	*next = gfn;
	return r;
}

static int side_sept_range_cmd(struct kvm *kvm, struct tdx_side_sept *ss,
			       struct kvm_tdx_cmd *cmd)
{
	struct kvm_tdx_sept_range __user *user_range = u64_to_user_ptr(cmd->data);
	bool map = cmd->id == KVM_TDX_SEPT_MAP;
	struct kvm_tdx_sept_range range;
	gfn_t gfn, end, next;
	int r;

	if (copy_from_user(&range, user_range, sizeof(range)))
		return -EFAULT;

	/* 4K leaves only: KVM_TDX_SEPT_MAP_ALLOW_2M is accepted and unused. */
	if (!PAGE_ALIGNED(range.gpa) || !range.nr_pages ||
	    range.done > range.nr_pages ||
	    (range.flags & ~(map ? KVM_TDX_SEPT_MAP_ALLOW_2M : 0)) ||
	    range.nr_pages > gpa_to_gfn(U64_MAX) ||
	    range.gpa + (range.nr_pages << PAGE_SHIFT) <= range.gpa ||
	    !vt_is_tdx_private_gpa(kvm, range.gpa) ||
	    !vt_is_tdx_private_gpa(kvm, range.gpa +
				   (range.nr_pages << PAGE_SHIFT) - 1))
		return -EINVAL;

	gfn = gpa_to_gfn(range.gpa) + range.done;
	end = gpa_to_gfn(range.gpa) + range.nr_pages;
	next = gfn;

	if (map) {
		side_sept_count(&ss->stats.map_calls, 1);
		r = side_sept_map(kvm, ss, gfn, end, &next);
	} else {
		side_sept_count(&ss->stats.unmap_calls, 1);
		mutex_lock(&ss->lock);
		if (ss->torn_down)
			r = -EINVAL;
		else
			r = side_sept_unmap_locked(kvm, ss, gfn, end, &next,
						   true);
		mutex_unlock(&ss->lock);
	}

	range.done = next - gpa_to_gfn(range.gpa);
	if (put_user(range.done, &user_range->done))
		return -EFAULT;
	return r;
}

static int side_sept_stats(struct tdx_side_sept *ss, struct kvm_tdx_cmd *cmd)
{
	struct kvm_tdx_sept_stats stats = {
		.leaves_4k = READ_ONCE(ss->stats.leaves_4k),
		.sept_pages = READ_ONCE(ss->stats.sept_pages),
		.pinned_pages = READ_ONCE(ss->stats.pinned_pages),
		.map_calls = READ_ONCE(ss->stats.map_calls),
		.unmap_calls = READ_ONCE(ss->stats.unmap_calls),
		.seamcalls = READ_ONCE(ss->stats.seamcalls),
		.busy_retries = READ_ONCE(ss->stats.busy_retries),
	};

	if (copy_to_user(u64_to_user_ptr(cmd->data), &stats, sizeof(stats)))
		return -EFAULT;
	return 0;
}

/*
 * KVM_TDX_SEPT_MAP, _UNMAP and _STATS, called by tdx_vm_ioctl() before it
 * takes the VM-state locks.  -ENOTTY: not one of them.
 */
int tdx_side_sept_ioctl(struct kvm *kvm, struct kvm_tdx_cmd *cmd)
{
	struct tdx_side_sept *ss = to_side_sept(kvm);

	if (cmd->id != KVM_TDX_SEPT_MAP && cmd->id != KVM_TDX_SEPT_UNMAP &&
	    cmd->id != KVM_TDX_SEPT_STATS)
		return -ENOTTY;

	if (!tdx_side_sept_enabled(ss) || cmd->flags ||
	    READ_ONCE(to_kvm_tdx(kvm)->state) == TD_STATE_UNINITIALIZED)
		return -EINVAL;

	if (cmd->id == KVM_TDX_SEPT_STATS)
		return side_sept_stats(ss, cmd);

	/* Checked again under the lock; first, so that nothing else is. */
	if (READ_ONCE(ss->torn_down))
		return -EINVAL;

	return side_sept_range_cmd(kvm, ss, cmd);
}

int tdx_side_sept_enable(struct kvm *kvm, struct kvm_enable_cap *cap)
{
	struct tdx_side_sept *ss = to_side_sept(kvm);
	u64 leaves = cap->args[0];
	int i;

	if (cap->cap != KVM_CAP_TDX_SIDE_SEPT)
		return -EINVAL;

	if (cap->args[1] || cap->args[2] || cap->args[3] ||
	    !(leaves & KVM_TDX_SEPT_LEAF_4K) ||
	    leaves & ~(u64)KVM_TDX_SEPT_LEAF_4K)
		return -EINVAL;

	guard(mutex)(&kvm->lock);
	if (to_kvm_tdx(kvm)->state != TD_STATE_UNINITIALIZED ||
	    kvm->created_vcpus || tdx_side_sept_enabled(ss))
		return -EBUSY;

	mutex_init(&ss->lock);
	xa_init(&ss->pages);
	for (i = 0; i < TDX_SIDE_SEPT_NR_TABLE_LEVELS; i++)
		xa_init(&ss->tables[i]);
	WRITE_ONCE(ss->leaves, leaves);
	return 0;
}

/* KVM_TDX_INIT_MEM_REGION in side-table mode: PAGE.ADD, pinned. */
int tdx_side_sept_add_page(struct kvm *kvm, gfn_t gfn, kvm_pfn_t pfn,
			   struct page *source)
{
	struct tdx_side_sept *ss = to_side_sept(kvm);
	struct kvm_tdx *kvm_tdx = to_kvm_tdx(kvm);
	struct page *page = pfn_to_page(pfn);
	u64 err, entry, level_state;
	bool kept_out = false;
	int r;

	guard(mutex)(&ss->lock);

	/* As the TDP MMU: a page added twice is -EIO, the VM lives on. */
	if (xa_get_mark(&ss->pages, gfn, TDX_SIDE_SEPT_MAPPED))
		return -EIO;

	if (!xa_load(&ss->pages, gfn)) {
		r = account_locked_vm(kvm->mm, 1, true);
		if (r)
			return r;
		get_page(page);
		r = xa_err(xa_store(&ss->pages, gfn, page, GFP_KERNEL_ACCOUNT));
		if (r) {
			put_page(page);
			account_locked_vm(kvm->mm, 1, false);
			return r;
		}
		side_sept_count(&ss->stats.pinned_pages, 1);
	}

	r = side_sept_link(kvm, ss, gfn);
	if (r)
		return r;

	write_lock(&kvm->mmu_lock);
	do {
		err = tdh_mem_page_add(&kvm_tdx->td, gfn_to_gpa(gfn), pfn,
				       source, &entry, &level_state);
	} while (side_sept_retry(kvm, err, &kept_out));
	write_unlock(&kvm->mmu_lock);
	if (tdx_operand_busy(err))
		return -EBUSY;
	if (side_sept_failed(kvm, "TDH.MEM.PAGE.ADD", err, entry, level_state))
		return -EIO;

	xa_set_mark(&ss->pages, gfn, TDX_SIDE_SEPT_MAPPED);
	side_sept_count(&ss->stats.leaves_4k, 1);
	return 0;
}

/*
 * An EPT violation on a private GPA.  KVM never maps private memory here:
 * if the attributes say shared, userspace converts (KVM_EXIT_MEMORY_FAULT);
 * if they say private, a conversion is mapping the page right now and the
 * guest retries.  Not once the guest_memfd is closed: no MAP can succeed
 * there any more, so the fault fails as kvm_gmem_get_pfn() would.
 */
int tdx_side_sept_handle_private_fault(struct kvm_vcpu *vcpu, gpa_t gpa)
{
	gfn_t gfn = gpa_to_gfn(gpa);
	struct kvm_memory_slot *slot = kvm_vcpu_gfn_to_memslot(vcpu, gfn);
	struct file *file;

	if (kvm_slot_has_gmem(slot) && kvm_mem_is_private(vcpu->kvm, gfn)) {
		file = get_file_active(&slot->gmem.file);
		if (file) {
			fput(file);
			return 1;
		}
	}

	kvm_prepare_memory_fault_exit(vcpu, gfn_to_gpa(gfn), PAGE_SIZE, true,
				      false, true);
	return -EFAULT;
}

/*
 * A memslot is deleted or moved: remove the leaves mapped through it and
 * unpin its pages, so that no private mapping outlives its memslot.  Runs
 * after the slot was made invalid and kvm->srcu synchronised, so no MAP is
 * still working on it.
 */
void tdx_side_sept_flush_memslot(struct kvm *kvm, struct kvm_memory_slot *slot)
{
	struct tdx_side_sept *ss = to_side_sept(kvm);
	gfn_t end = slot->base_gfn + slot->npages;
	unsigned long index = slot->base_gfn;
	struct page *page;
	gfn_t next;

	if (!tdx_side_sept_enabled(ss) || !slot->npages)
		return;

	guard(mutex)(&ss->lock);
	if (ss->torn_down)
		return;

	/* A memslot deletion cannot fail: not interruptible. */
	if (side_sept_unmap_locked(kvm, ss, slot->base_gfn, end, &next, false))
		return;	/* The VM is dead: its pages are reclaimed at the end. */

	xa_for_each_range(&ss->pages, index, page, slot->base_gfn, end - 1) {
		side_sept_unpin(kvm, ss, index, page);
		cond_resched();
	}
}

/* A hole punched in guest_memfd: -EBUSY over a pinned page. */
int tdx_side_sept_gmem_punch_hole(struct kvm *kvm, struct kvm_gfn_range *range)
{
	struct tdx_side_sept *ss = to_side_sept(kvm);
	unsigned long index = range->start;

	if (!tdx_side_sept_enabled(ss) || range->end <= range->start)
		return 0;

	guard(mutex)(&ss->lock);
	if (!ss->torn_down &&
	    xa_find(&ss->pages, &index, range->end - 1, XA_PRESENT))
		return -EBUSY;
	return 0;
}

/*
 * Reclaim every private and S-EPT page, the key released.  Resumable:
 * what is reclaimed leaves the side table.  A page the TDX module does not
 * give back is leaked, as tdx_reclaim_page()'s callers do.
 */
static int side_sept_reclaim_all(struct kvm *kvm, struct tdx_side_sept *ss,
				 bool interruptible)
{
	unsigned long index, done = 0;
	struct page *page;
	int i;

	xa_for_each(&ss->pages, index, page) {
		if (interruptible && ++done % TDX_SIDE_SEPT_RECLAIM_CHUNK == 0 &&
		    signal_pending(current))
			return -EINTR;

		side_sept_count(&ss->stats.seamcalls, 1);
		if (xa_get_mark(&ss->pages, index, TDX_SIDE_SEPT_MAPPED)) {
			side_sept_count(&ss->stats.leaves_4k, -1);
			if (tdx_reclaim_page(page)) {
				/* Leaked: the kernel cannot use it any more. */
				xa_erase(&ss->pages, index);
				account_locked_vm(kvm->mm, 1, false);
				side_sept_count(&ss->stats.pinned_pages, -1);
				continue;
			}
		}
		side_sept_unpin(kvm, ss, index, page);
		cond_resched();
	}

	for (i = 0; i < TDX_SIDE_SEPT_NR_TABLE_LEVELS; i++) {
		xa_for_each(&ss->tables[i], index, page) {
			side_sept_count(&ss->stats.seamcalls, 1);
			xa_erase(&ss->tables[i], index);
			side_sept_count(&ss->stats.sept_pages, -1);
			if (!tdx_reclaim_page(page))
				__free_page(page);
		}
	}

	WRITE_ONCE(ss->torn_down, true);
	return 0;
}

/*
 * KVM_TDX_SEPT_TEARDOWN, with the VM-state locks held: no vCPU is in
 * KVM_RUN.  The key goes first (TDH.VP.FLUSH .. TDH.MNG.KEY.FREEID), then
 * one TDH.PHYMEM.PAGE.RECLAIM per page, with no BLOCK, TRACK or REMOVE.
 */
int tdx_side_sept_teardown(struct kvm *kvm)
{
	struct tdx_side_sept *ss = to_side_sept(kvm);
	struct kvm_tdx *kvm_tdx = to_kvm_tdx(kvm);

	if (!tdx_side_sept_enabled(ss) ||
	    kvm_tdx->state == TD_STATE_UNINITIALIZED)
		return -EINVAL;

	guard(mutex)(&ss->lock);
	if (ss->torn_down)
		return -EINVAL;

	tdx_mmu_release_hkid(kvm);
	if (is_hkid_assigned(kvm_tdx))
		return -EIO;

	return side_sept_reclaim_all(kvm, ss, true);
}

/* VM destruction (tdx_vm_destroy()): the key is released by now. */
void tdx_side_sept_destroy(struct kvm *kvm)
{
	struct tdx_side_sept *ss = to_side_sept(kvm);
	int i;

	if (!tdx_side_sept_enabled(ss))
		return;

	mutex_lock(&ss->lock);
	/* tdx_mmu_release_hkid() failed: the pages cannot be used again. */
	if (!ss->torn_down && !is_hkid_assigned(to_kvm_tdx(kvm)))
		side_sept_reclaim_all(kvm, ss, false);
	mutex_unlock(&ss->lock);

	xa_destroy(&ss->pages);
	for (i = 0; i < TDX_SIDE_SEPT_NR_TABLE_LEVELS; i++)
		xa_destroy(&ss->tables[i]);
	mutex_destroy(&ss->lock);
}
