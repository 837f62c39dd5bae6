// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * tdxsim: guest memory as KVM sees it: memslots
 * (KVM_SET_USER_MEMORY_REGION2), guest_memfd (KVM_CREATE_GUEST_MEMFD,
 * backed by a real memfd) and private/shared memory attributes
 * (KVM_SET_MEMORY_ATTRIBUTES), including the zap of private S-EPT leaves
 * that upstream KVM does when a range turns shared.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <linux/falloc.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "kvm.h"
#include "kvm-mmu.h"
#include "kvm-sept.h"

void sim_zap_private(struct sim_vm *vm, uint64_t gpa, uint64_t size)
{
    uint64_t start = gpa & ~0xfffULL;
    uint64_t end = gpa + size;

    if (!vm->td || vm->tdx_state == SIM_TDX_UNINIT) {
        return;
    }
    if (vm->sept.enabled) {
        end = MIN(end, tdx_td_shared_bit(vm->td));
        if (end > start) {
            sim_sept_unmap_internal(vm, start, end - start);
        }
        return;
    }
    sim_mmu_zap_private(vm, gpa, size);
}

/* Linux 7.2 include/linux/kvm_host.h, arch/x86/include/asm/kvm_host.h */
#define KVM_USER_MEM_SLOTS      (0x7fff - 3)    /* SHRT_MAX - INTERNAL (3) */
#define KVM_MEM_MAX_NR_PAGES    ((1ULL << 31) - 1)

/*
 * Linux 7.2 virt/kvm/kvm_main.c check_memory_region_flags(): LOG_DIRTY_PAGES
 * and GUEST_MEMFD, but no dirty logging of a guest_memfd memslot; READONLY
 * only where kvm_arch_has_readonly_mem() (x86: !has_protected_state, so
 * never for a TD) and not with GUEST_MEMFD.  A TD's shared memslots may log
 * dirty pages.
 */
static int check_memory_region_flags(struct sim_vm *vm, uint32_t flags)
{
    uint32_t valid = KVM_MEM_LOG_DIRTY_PAGES | KVM_MEM_GUEST_MEMFD;

    if (flags & KVM_MEM_GUEST_MEMFD) {
        valid &= ~KVM_MEM_LOG_DIRTY_PAGES;
    }
    if (vm->type != KVM_X86_TDX_VM && !(flags & KVM_MEM_GUEST_MEMFD)) {
        valid |= KVM_MEM_READONLY;
    }
    return flags & ~valid ? -EINVAL : 0;
}

/*
 * Linux 7.2 virt/kvm/guest_memfd.c kvm_gmem_bind(), vm->lock held: the fd
 * must be open (fget(): -EBADF), a guest_memfd of this VM (-EINVAL), the
 * range within the file (-EINVAL), and no part of it bound to another
 * memslot already (-EEXIST: the file's bindings, of any address space).
 * A binding goes with its memslot (kvm_gmem_unbind()) or with the file.
 */
static int gmem_bind(struct sim_vm *vm,
                     const struct kvm_userspace_memory_region2 *r,
                     struct sim_gmem **gp)
{
    int fd = (int)r->guest_memfd;       /* unsigned int fd: > INT_MAX bad */
    struct sim_obj *o = fd >= 0 && fd < SIM_MAX_FDS ?
                        __atomic_load_n(&sim.fds[fd], __ATOMIC_ACQUIRE) : NULL;
    uint64_t start = r->guest_memfd_offset, end = start + r->memory_size;
    struct sim_gmem *g;

    if (!o) {
        /* Not one of ours: a file of another kind, or no file at all. */
        return fd >= 0 && syscall(SYS_fcntl, fd, F_GETFD) >= 0 ? -EINVAL
                                                               : -EBADF;
    }
    if (o->kind != SIM_OBJ_GMEM || o->vm != vm) {
        return -EINVAL;
    }
    g = o->gmem;
    if (end > g->size) {
        return -EINVAL;
    }
    for (unsigned i = 0; i < SIM_MAX_SLOTS; i++) {
        struct sim_slot *s = &vm->slots[i];

        if (s->used && s->gmem == g && start < s->gmem_offset + s->size &&
            s->gmem_offset < end) {
            return -EEXIST;
        }
    }
    *gp = g;
    return 0;
}

/*
 * KVM_SET_USER_MEMORY_REGION2 as Linux 7.2 virt/kvm/kvm_main.c
 * kvm_vm_ioctl_set_memory_region() and kvm_set_memory_region(), in their
 * order: slot id, flags, alignment (size, GPA, userspace address, guest_memfd
 * offset), address space (one for a VM with private memory, two otherwise:
 * kvm_arch_nr_memslot_as_ids()), wrap-around, KVM_MEM_MAX_NR_PAGES; delete;
 * a modification keeps userspace address, size, READONLY and GUEST_MEMFD
 * (a guest_memfd memslot cannot be modified at all) and may change the
 * other flags or move the slot; a created or moved slot must not overlap
 * another of its address space (-EEXIST); kvm_gmem_bind(); then
 * arch/x86/kvm/x86.c kvm_arch_prepare_memory_region() for a created or
 * moved slot: its last gfn beyond kvm_mmu_max_gfn() (the host's
 * MAXPHYADDR) or with a bit of kvm_gfn_direct_bits() (a TD's shared bit,
 * set at KVM_TDX_INIT_VM: kvm_is_gfn_alias()) is -EINVAL.  Nothing refuses
 * moving a TD's shared memslot, nor dirty logging on one.
 *
 * The model keeps at most SIM_MAX_SLOTS memslots (KVM_CAP_NR_MEMSLOTS): one
 * more is -ENOMEM, where 7.2 allocates the new memslot.
 */
int sim_set_memory_region2(struct sim_vm *vm,
                           const struct kvm_userspace_memory_region2 *r)
{
    unsigned as_id = r->slot >> 16, id = (uint16_t)r->slot;
    unsigned nr_as_ids = vm->type == KVM_X86_TDX_VM ? 1 : 2;
    struct sim_slot *slot = NULL, *free_slot = NULL;
    struct sim_gmem *gmem = NULL;
    bool move = false;
    uint64_t last_gfn;
    int ret;

    if (id >= KVM_USER_MEM_SLOTS) {
        return -EINVAL;
    }
    ret = check_memory_region_flags(vm, r->flags);
    if (ret) {
        return ret;
    }
    if ((r->memory_size | r->guest_phys_addr | r->userspace_addr) & 0xfff) {
        return -EINVAL;
    }
    if ((r->flags & KVM_MEM_GUEST_MEMFD) &&
        ((r->guest_memfd_offset & 0xfff) ||
         r->guest_memfd_offset + r->memory_size < r->guest_memfd_offset)) {
        return -EINVAL;
    }
    if (as_id >= nr_as_ids) {
        return -EINVAL;
    }
    if (r->guest_phys_addr + r->memory_size < r->guest_phys_addr ||
        (r->memory_size >> 12) > KVM_MEM_MAX_NR_PAGES) {
        return -EINVAL;
    }

    pthread_mutex_lock(&vm->lock);
    for (unsigned i = 0; i < SIM_MAX_SLOTS; i++) {
        if (vm->slots[i].used && vm->slots[i].slot == r->slot) {
            slot = &vm->slots[i];
        } else if (!vm->slots[i].used && !free_slot) {
            free_slot = &vm->slots[i];
        }
    }
    if (!r->memory_size) {
        if (!slot) {
            ret = -EINVAL;
        } else {
            /* Deleting a slot zaps everything mapped through it. */
            if (slot->gmem && vm->td) {
                sim_zap_private(vm, slot->gpa, slot->size);
            }
            slot->used = false;
        }
        goto out;
    }
    if (slot) {
        /* Private memslots are immutable, they can only be deleted. */
        if ((r->flags & KVM_MEM_GUEST_MEMFD) ||
            r->userspace_addr != slot->uaddr || r->memory_size != slot->size ||
            ((r->flags ^ slot->flags) & (KVM_MEM_READONLY |
                                         KVM_MEM_GUEST_MEMFD))) {
            ret = -EINVAL;
            goto out;
        }
        if (r->guest_phys_addr == slot->gpa) {
            /* KVM_MR_FLAGS_ONLY, or nothing to change. */
            slot->flags = r->flags;
            goto out;
        }
        move = true;            /* KVM_MR_MOVE */
    }
    /* kvm_check_memslot_overlap(): the same address space, other ids. */
    for (unsigned i = 0; i < SIM_MAX_SLOTS; i++) {
        struct sim_slot *s = &vm->slots[i];

        if (s->used && s != slot && (s->slot >> 16) == as_id &&
            r->guest_phys_addr < s->gpa + s->size &&
            s->gpa < r->guest_phys_addr + r->memory_size) {
            ret = -EEXIST;
            goto out;
        }
    }
    if (!move && !free_slot) {
        ret = -ENOMEM;
        goto out;
    }
    if (r->flags & KVM_MEM_GUEST_MEMFD) {
        ret = gmem_bind(vm, r, &gmem);
        if (ret) {
            goto out;
        }
    }
    /* kvm_arch_prepare_memory_region(), KVM_MR_CREATE and KVM_MR_MOVE */
    last_gfn = (r->guest_phys_addr + r->memory_size - 1) >> 12;
    if (last_gfn > (1ULL << (sim_host_phys_bits() - 12)) - 1 ||
        ((last_gfn << 12) & vm->shared_bit)) {
        ret = -EINVAL;
        goto out;
    }
    if (move) {
        sim_log("memslot %u: moved from gpa 0x%llx to 0x%llx", r->slot,
                (unsigned long long)slot->gpa,
                (unsigned long long)r->guest_phys_addr);
        slot->gpa = r->guest_phys_addr;
        slot->flags = r->flags;
        goto out;
    }
    *free_slot = (struct sim_slot) {
        .used = true, .slot = r->slot, .flags = r->flags,
        .gpa = r->guest_phys_addr, .size = r->memory_size,
        .uaddr = r->userspace_addr, .gmem_offset = r->guest_memfd_offset,
        .gmem = gmem,
    };
    sim_log("memslot %u: gpa 0x%llx size 0x%llx%s", r->slot,
            (unsigned long long)r->guest_phys_addr,
            (unsigned long long)r->memory_size, gmem ? " guest_memfd" : "");
out:
    pthread_mutex_unlock(&vm->lock);
    return ret;
}

/*
 * Linux 7.2 include/linux/kvm_host.h kvm_gmem_get_supported_flags():
 * GUEST_MEMFD_FLAG_MMAP always, INIT_SHARED without a VM (the system fd)
 * or where kvm_arch_supports_gmem_init_shared() (arch/x86/kvm/x86.c: a VM
 * without private memory, so never a TD).  KVM_CAP_GUEST_MEMFD_FLAGS
 * answers the same (kvm_vm_ioctl_check_extension_generic()).
 */
uint64_t sim_gmem_supported_flags(struct sim_vm *vm)
{
    uint64_t flags = GUEST_MEMFD_FLAG_MMAP;

    if (!vm || vm->type != KVM_X86_TDX_VM) {
        flags |= GUEST_MEMFD_FLAG_INIT_SHARED;
    }
    return flags;
}

/*
 * Linux 7.2 kvm_gmem_create(): flags within kvm_gmem_get_supported_flags()
 * (GUEST_MEMFD_FLAG_MMAP always; INIT_SHARED only for VMs without private
 * memory, so never for a TD), size > 0 and page aligned; the reserved words
 * are not checked.
 */
int sim_create_guest_memfd(struct sim_vm *vm, struct kvm_create_guest_memfd *a)
{
    uint64_t supported = sim_gmem_supported_flags(vm);
    struct sim_obj *o;
    struct sim_gmem *g;
    uint64_t pages;

    if (a->flags & ~supported) {
        return -EINVAL;
    }
    if ((int64_t)a->size <= 0 || (a->size & 0xfff)) {
        return -EINVAL;
    }
    o = sim_new_obj(SIM_OBJ_GMEM, "tdxsim-guest-memfd", a->size);
    if (!o) {
        return -errno;
    }
    g = g_new0(struct sim_gmem, 1);
    g->vm = vm;
    g->fd = o->fd;
    g->size = a->size;
    g->flags = a->flags;
    pages = a->size >> 12;
    g->block_seen = g_malloc0((pages + 511) / 512 / 8 + 1);
    pthread_mutex_lock(&sim.lock);
    g->pfn_base = sim.next_gmem_pfn;
    sim.next_gmem_pfn += ((pages + 511) & ~511ULL) + 512;
    pthread_mutex_unlock(&sim.lock);
    o->vm = vm;
    o->gmem = g;
    pthread_mutex_lock(&vm->lock);
    vm->refs++;
    g->index = vm->gmems->len;
    g_ptr_array_add(vm->gmems, g);
    pthread_mutex_unlock(&vm->lock);
    return o->fd;
}

int sim_set_memory_attributes(struct sim_vm *vm,
                              const struct kvm_memory_attributes *a)
{
    bool private = a->attributes & KVM_MEMORY_ATTRIBUTE_PRIVATE;
    uint64_t changed = 0;

    if (vm->type != KVM_X86_TDX_VM) {
        return -ENOTTY;
    }
    if (a->flags || (a->attributes & ~KVM_MEMORY_ATTRIBUTE_PRIVATE) ||
        !a->size || (a->address | a->size) & 0xfff ||
        a->address + a->size < a->address) {
        return -EINVAL;
    }
    pthread_mutex_lock(&vm->lock);
    if (!private && vm->td && !vm->sept.enabled) {
        /*
         * kvm_arch_pre_set_memory_attributes(): the old (private) mappings
         * go first: BLOCK, TRACK, REMOVE every private leaf of the range.
         */
        sim_zap_private(vm, a->address, a->size);
        if (vm->bugged) {
            pthread_mutex_unlock(&vm->lock);
            return -EIO;
        }
    }
    for (uint64_t gfn = a->address >> 12; gfn < (a->address + a->size) >> 12;
         gfn++) {
        if (sim_gfn_private(vm, gfn) != private) {
            sim_set_gfn_private(vm, gfn, private);
            changed++;
        }
    }
    if (private) {
        vm->stats.to_private++;
        vm->stats.to_private_pages += changed;
    } else {
        vm->stats.to_shared++;
        vm->stats.to_shared_pages += changed;
    }
    if (!vm->sept.enabled) {
        /*
         * Side-table mode: the S-EPT follows when userspace maps or
         * unmaps; it is checked when the vCPU re-enters the guest.
         */
        sim_check_range(vm, a->address, a->size);
    }
    pthread_mutex_unlock(&vm->lock);
    return 0;
}

/*
 * kvm_gmem_release() (virt/kvm/guest_memfd.c), vm->lock held: the last
 * reference to the file is gone; every SPTE pointed at by the file is
 * zapped (__kvm_gmem_invalidate_start() over its bindings, private
 * filter: the mirror root) before the file's reference on the VM is
 * dropped, so with the HKID still assigned: per private 4K leaf BLOCK,
 * TRACK, REMOVE, WBINVD (tdx.c tdx_sept_remove_leaf_spte()).  The backing
 * stays with the inode.  Side-table mode keeps its pinned mappings until
 * KVM_TDX_SEPT_TEARDOWN or VM destruction (key first).  With
 * TDXSIM_TEARDOWN_ORDER=key-release-first the release that drops the
 * VM's last reference is part of the VM going away (userspace issued
 * KVM_TDX_TERMINATE_VM before): the destruction reclaims those leaves.
 */
void sim_gmem_release(struct sim_vm *vm, struct sim_gmem *g)
{
    if (g->released) {
        return;
    }
    g->released = true;
    if (!vm->td || vm->sept.enabled || vm->tdx_state == SIM_TDX_UNINIT ||
        vm->hkid_released || (sim.teardown_key_first && vm->refs == 1)) {
        return;
    }
    for (unsigned i = 0; i < SIM_MAX_SLOTS; i++) {
        struct sim_slot *s = &vm->slots[i];

        if (s->used && s->gmem == g) {
            sim_zap_private(vm, s->gpa, s->size);
        }
    }
}

bool sim_is_gmem_fd(int fd)
{
    struct sim_obj *o = fd >= 0 && fd < SIM_MAX_FDS ?
                        __atomic_load_n(&sim.fds[fd], __ATOMIC_ACQUIRE) : NULL;

    return o && o->kind == SIM_OBJ_GMEM;
}

/*
 * Linux 7.2 kvm_gmem_fallocate(): KEEP_SIZE is required and nothing but
 * KEEP_SIZE | PUNCH_HOLE is allowed (-EOPNOTSUPP), offset and length page
 * aligned (-EINVAL); an allocation must stay within the file
 * (kvm_gmem_allocate(): -EINVAL), a hole punch need not.  (vfs_fallocate()
 * refuses a negative offset or a length <= 0 first, -EINVAL.)
 */
int sim_gmem_fallocate(int fd, int mode, uint64_t offset, uint64_t len)
{
    struct sim_obj *o = sim.fds[fd];
    struct sim_gmem *g = o->gmem;
    struct sim_vm *vm = g->vm;

    if ((int64_t)offset < 0 || (int64_t)len <= 0) {
        return -EINVAL;
    }
    if (!(mode & FALLOC_FL_KEEP_SIZE)) {
        return -EOPNOTSUPP;
    }
    if (mode & ~(FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE)) {
        return -EOPNOTSUPP;
    }
    if ((offset | len) & 0xfff) {
        return -EINVAL;
    }
    if (!(mode & FALLOC_FL_PUNCH_HOLE)) {
        return offset + len > g->size || offset + len < offset ? -EINVAL : 0;
    }
    if (offset >= g->size) {
        return 0;
    }
    len = MIN(len, g->size - offset);
    pthread_mutex_lock(&vm->lock);
    /* kvm_arch_gmem_punch_hole(): pinned pages go only with the teardown. */
    if (sim_sept_punch_hole(vm, g, offset, len)) {
        pthread_mutex_unlock(&vm->lock);
        return -EBUSY;
    }
    for (unsigned i = 0; i < SIM_MAX_SLOTS; i++) {
        struct sim_slot *s = &vm->slots[i];
        uint64_t lo, hi;

        if (!s->used || s->gmem != g) {
            continue;
        }
        lo = MAX(offset, s->gmem_offset);
        hi = MIN(offset + len, s->gmem_offset + s->size);
        if (lo < hi && vm->td) {
            sim_zap_private(vm, s->gpa + lo - s->gmem_offset, hi - lo);
            sim_check_range(vm, s->gpa + lo - s->gmem_offset, hi - lo);
        }
    }
    vm->stats.gmem_punched_pages += len >> 12;
    pthread_mutex_unlock(&vm->lock);
    return 0;
}

int sim_gmem_mmap_check(int fd, int flags)
{
    struct sim_obj *o = sim.fds[fd];

    /* Linux 7.2 kvm_gmem_mmap() */
    if (!(o->gmem->flags & GUEST_MEMFD_FLAG_MMAP)) {
        return -ENODEV;
    }
    if ((flags & MAP_TYPE) != MAP_SHARED &&
        (flags & MAP_TYPE) != MAP_SHARED_VALIDATE) {
        return -EINVAL;
    }
    return 0;
}

ssize_t sim_gmem_pwrite(struct sim_gmem *g, const void *buf, size_t len,
                        uint64_t off)
{
    /*
     * kvm_gmem_populate() (Linux 7.2 virt/kvm/guest_memfd.c): no file any
     * more (kvm_gmem_release() ran), -EFAULT before any page is copied;
     * the caller turns the short write into -EFAULT.  (Its fd may be
     * another file's by now.)
     */
    if (g->released) {
        errno = EBADF;
        return -1;
    }
    /* The model's own copy: straight to the backing memfd. */
    return syscall(SYS_pwrite64, g->fd, buf, len, (off_t)off);
}
