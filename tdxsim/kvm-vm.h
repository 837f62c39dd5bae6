/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * tdxsim: the fake KVM's objects -- host, VMs, vCPUs, memslots,
 * guest_memfds -- and the state helpers every part of KVM uses (the
 * lowest KVM layer; see "Layout" in TRACES.md).
 *
 * The fake KVM models upstream Linux KVM's TDX support (the "mirror"
 * design: lazy 4K private faults, mirror S-EPT pages, kvm-mmu.h) and, once
 * userspace enables KVM_CAP_TDX_SIDE_SEPT, the side-table UAPI
 * (kvm-sept.h), on top of the TDX module model of tdxmod.h.  kvm.h is the
 * ioctl level above both; kvm-guest.h what the scripted guest may ask.
 *
 * Locking: sim_host.lock guards the fd table and VM list; each VM's lock
 * (vm->lock) guards KVM's state of that VM.  The TDX module model is
 * thread safe and takes its own locks as the module does (tdxmod.h): a
 * vCPU thread in guest mode calls it without vm->lock (TDH.VP.ENTER, the
 * guest's TDCALLs; kvm-kick.c), so its calls overlap with those of the
 * thread holding vm->lock.  KVM_RUN never blocks with a VM lock held.
 *
 * Mirror mode's private faults run as Linux 7.2 runs them (kvm-mmu.c):
 * vm->mmu_lock (kvm->mmu_lock, an rwlock) held for read and vm->lock
 * dropped, so vCPUs fault in parallel; vm->mirror_lock guards the mirror's
 * tables (the SPTEs' cmpxchg) and is never held across a SEAMCALL; zaps
 * hold vm->lock and mmu_lock for write.  Lock order:
 *     vm->lock -> vm->mmu_lock -> vm->mirror_lock -> sim_host.lock
 *     (the TDX module's internal mutex innermost, inside each call);
 * a faulting vCPU holds mmu_lock without vm->lock and takes vm->lock only
 * after releasing mmu_lock.  Everything else of KVM, including the
 * scripted guest's steps, stays serialised under vm->lock.
 */
#ifndef TDXSIM_KVM_VM_H
#define TDXSIM_KVM_VM_H

#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include "kvm-uapi.h"     /* upstream KVM + side-sept-uapi.h */
#include <glib.h>

#include "tdxmod.h"
#include "inject.h"

#define SIM_MAX_FDS         65536
#define SIM_MAX_VCPUS       256
#define SIM_MAX_IRQ_ROUTES  4096    /* KVM_MAX_IRQ_ROUTES */
#define SIM_MAX_SLOTS       512
#define SIM_VCPU_MMAP_PAGES 2           /* kvm_run + PIO data page */
#define SIM_NR_TDCS         4           /* TDCS pages of a TD (TDX 1.5) */
#define SIM_NR_TDCX         5           /* TDVPS pages besides the TDVPR */
#define SIM_GSI_COUNT       1024        /* KVM_CAP_IRQ_ROUTING */
#define SIM_PAGE_SIZE       4096ULL
/* KVM_HC_MAP_GPA_RANGE (include/uapi/linux/kvm_para.h; not in QEMU's copy) */
#define SIM_HC_MAP_GPA_RANGE 12
/* TD attributes (TDX module ABI). */
#define TDX_TD_ATTR_SEPT_VE_DISABLE (1ULL << 28)

enum sim_obj_kind {
    SIM_OBJ_SYSTEM,
    SIM_OBJ_VM,
    SIM_OBJ_VCPU,
    SIM_OBJ_GMEM,
};

struct sim_vm;
struct sim_vcpu;
struct sim_gmem;
/* The scripted guest's (guest-trace.h): KVM only stores the pointers. */
struct trace;
struct trace_op;

struct sim_obj {
    enum sim_obj_kind kind;
    int fd;
    struct sim_vm *vm;
    struct sim_vcpu *vcpu;
    struct sim_gmem *gmem;
};

struct sim_gmem {
    struct sim_vm *vm;
    int fd;
    uint64_t size;
    uint64_t flags;
    tdx_pfn_t pfn_base;         /* host pfns [base, base + 512 * blocks) */
    unsigned index;             /* creation order in the VM (fragmentation) */
    uint8_t *block_seen;        /* 2 MiB blocks used (report "backing") */
    bool closed;
    bool released;              /* kvm_gmem_release() done (mirror zap) */
};

struct sim_slot {
    bool used;
    uint32_t slot;              /* as_id << 16 | id, as given */
    uint32_t flags;
    uint64_t gpa;
    uint64_t size;
    uint64_t uaddr;
    uint64_t gmem_offset;
    struct sim_gmem *gmem;      /* NULL: no private backing */
};

/* What KVM must finish when userspace re-enters (complete_userspace_io). */
enum sim_completion {
    SIM_COMPL_NONE,
    SIM_COMPL_MAPGPA,
};

struct sim_vcpu {
    struct sim_vm *vm;
    int fd;
    unsigned long vcpu_id;
    int vp;                     /* TDX module vCPU index, -1 before INIT */
    struct kvm_run *run;
    size_t run_size;
    bool tdx_initialized;
    tdx_pfn_t tdvpr_pfn;
    tdx_pfn_t tdcx_pfns[SIM_NR_TDCX];
    uint64_t init_rcx;          /* KVM_TDX_INIT_VCPU data (TD HOB GPA) */
    /*
     * What KVM_SET_CPUID2 gave the vCPU (Linux 7.2 cpuid.c
     * kvm_vcpu_after_set_cpuid()): MAXPHYADDR (cpuid_query_maxphyaddr():
     * CPUID 0x80000008 EAX[7:0], 36 without it, also before any
     * SET_CPUID2), the legal GPA width of kvm_vcpu_is_legal_gpa(); x2APIC
     * (CPUID 1 ECX[21], guest_cpu_cap_has(X86_FEATURE_X2APIC)).
     */
    unsigned maxphyaddr;
    bool cpuid_x2apic;
    uint32_t tsc_khz;           /* virtual_tsc_khz (KVM_GET_TSC_KHZ) */

    /*
     * Scripted guest (guest.c's state; KVM never reads it): the vCPU's
     * trace operations and where it is in them.
     */
    const struct trace_op *ops;
    unsigned nr_ops;
    unsigned pc;
    bool trace_done;            /* all ops executed (it halts afterwards) */
    enum sim_completion compl;
    bool mg_active;             /* a MapGPA of op pc is in flight */
    uint64_t mg_start;          /* guest's current request start */
    uint64_t mg_next, mg_end;   /* KVM's map_gpa_next/end */
    int mg_retry_count;
    bool acc_active;            /* accept of op pc in progress */
    uint64_t acc_next;
    int acc_level;              /* level being tried at acc_next */
    unsigned repeats;           /* times op pc re-executed without progress */
    unsigned race_waits;        /* side-table: waits for a racing conversion */
    /* side-table: range converted by the last exit, checked at re-entry */
    uint64_t conv_gpa, conv_size;
    uint64_t irq_pending;
    unsigned barrier_seen;
    /*
     * Guest mode (kvm-kick.c): between TDH.VP.ENTER and the TD exit the
     * vCPU thread runs without vm->lock while it is in a TDCALL or waits
     * for the lock; kick (atomic) is KVM_REQ_OUTSIDE_GUEST_MODE's IPI.
     */
    int kick;
    int outside;                /* (atomic) the thread is without vm->lock
                                   in guest mode; set and cleared by it */
    bool kicked_out;            /* the last sim_vcpu_lock_in_guest() exited */
};

/* A leaf SPTE of KVM's mirror (kvm-mmu.c). */
struct sim_mirror_leaf {
    tdx_pfn_t pfn;
    int level;
};

struct sim_stats {
    GHashTable *ioctls;         /* name -> count (uint64 in pointer) */
    GHashTable *exits;          /* name -> count */
    uint64_t mapgpa_calls;      /* guest MapGPA TDVMCALLs (retries included) */
    uint64_t mapgpa_success;
    uint64_t mapgpa_retry;      /* RETRY returned to the guest */
    uint64_t mapgpa_invalid;    /* INVALID_OPERAND from KVM's checks */
    uint64_t mapgpa_align;
    uint64_t mapgpa_unsupported;
    uint64_t mapgpa_user_error; /* userspace failed a chunk */
    uint64_t mapgpa_gave_up;    /* guest gave up after RETRYs */
    uint64_t mapgpa_chunks;
    uint64_t expect_failures;   /* trace expectations not met */
    uint64_t run_failures;      /* sim_run_failed(): the run cannot pass */
    uint64_t livelocks;         /* operations that never made progress */
    uint64_t guest_panics;      /* the Linux guest would panic (accept) */
    uint64_t access_before_accept; /* KVM killed the TD (SEPT_VE_DISABLE) */
    uint64_t leaked_pages;      /* guest pages leaked after a failed
                                   conversion to shared */
    uint64_t leaked_ops_skipped; /* trace ops on them the guest never does */
    uint64_t trace_ops;
    uint64_t to_private, to_private_pages;
    uint64_t to_shared, to_shared_pages;
    uint64_t private_faults;    /* EPT violations on private GPAs */
    uint64_t lazy_maps;         /* 4K leaves AUGed by faults */
    uint64_t prefault_pages;
    uint64_t shared_faults;
    uint64_t zapped_leaves;
    uint64_t removal_leaks;     /* private pages KVM leaked on purpose: the
                                   mirror SPTE cleared, then BLOCK, REMOVE
                                   or WBINVD failed (7.2: KVM_BUG_ON) */
    uint64_t accept_calls, accept_4k, accept_2m, accept_busy_retries;
    uint64_t busy_retries;      /* SEAMCALLs retried by KVM after BUSY */
    uint64_t fault_busy_retries; /* of which private faults: RET_PF_RETRY */
    uint64_t fault_lost_races;  /* faults that met a frozen SPTE or a zap
                                   (stale): RET_PF_RETRY */
    uint64_t vcpu_kicks;        /* kvm_make_all_cpus_request(OUTSIDE_GUEST_MODE) */
    uint64_t vcpus_kicked;      /* vCPUs it found in the guest and waited for */
    uint64_t no_vcpus_retries;  /* tdh_do_no_vcpus(): BUSY, kick, retry */
    uint64_t vp_enter_busy;     /* TDH.VP.ENTER BUSY (epoch lock): re-entered */
    uint64_t kick_timeouts;     /* a kicked vCPU never left the guest */
    uint64_t enomem;            /* allocation failures (injected) */
    uint64_t eintr;             /* -EINTR returned with partial progress */
    uint64_t init_mem_pages, init_mem_measured;
    uint64_t invariant_violations;
    uint64_t agree_checks;      /* side-table S-EPT == attributes checks */
    uint64_t gmem_punched_pages;
    uint64_t unknown_ioctls;
};

/*
 * One accounting window (kvm-phase.c): SEAMCALLs issued by the whole TDX
 * module between begin and end, the kernel calls userspace made for it and
 * the private leaves present at its reference point.
 */
struct sim_phase {
    bool started, ended;
    struct tdx_counters start;  /* module counters at begin */
    struct tdx_counters total;  /* end - start (or now - start) */
    uint64_t kernel_calls;
    uint64_t leaves[2];         /* 4K, 2M */
};

struct kvm;

/* Side-table mode (KVM_CAP_TDX_SIDE_SEPT): the hosted KVM code (kvm-sept.c). */
struct sim_side_table {
    bool enabled;
    uint64_t leaves;            /* KVM_TDX_SEPT_LEAF_* enabled */
    struct kvm *hk;             /* the hosted code's struct kvm (kshim) */
    bool *hk_wait_for_sept_zap; /* its kvm_tdx->wait_for_sept_zap */
    GHashTable *kslots;         /* struct sim_slot -> kvm_memory_slot */
    GHashTable *kfiles;         /* struct sim_gmem -> its struct file */
    const char *op;             /* injection site of the running command */
    bool enomem_armed;          /* "enomem:map" hit: the next pin fails */
    bool teardown_started;
    bool torn_down;
    bool has_cap_ipc_lock;      /* read once per MAP call */
    uint64_t locked_vm_bytes;   /* the process's VmLck, once per call */
    /* Counters of the simulator (the kernel's: KVM_TDX_SEPT_STATS). */
    uint64_t teardown_calls, stats_calls, kicks;
    uint64_t racing_faults, enomem, eintr, eagain;
    uint64_t pinned_pages, pinned_peak, pins, unpins;
    uint64_t charged_pages;     /* of pinned_pages, on RLIMIT_MEMLOCK */
    uint64_t prefault_refused, punch_refused;
};

enum sim_tdx_state {
    SIM_TDX_UNINIT,             /* before KVM_TDX_INIT_VM */
    SIM_TDX_INITIALIZED,        /* HKID assigned, building */
    SIM_TDX_RUNNABLE,           /* after KVM_TDX_FINALIZE_VM */
};

/* guest_memfd folios the run used, per 2 MiB block (report "backing"). */
struct sim_backing {
    uint64_t blocks_4k;         /* 2 MiB blocks used, on 4 KiB folios */
};

struct sim_vm {
    pthread_mutex_t lock;
    pthread_cond_t cond;        /* guest barriers / shutdown */
    int fd;
    unsigned long type;
    int refs;                   /* vm fd + vcpu fds + guest_memfds */
    bool destroyed;
    bool bugged;                /* KVM_BUG_ON or kvm_vm_dead(): every ioctl
                                   fails -EIO */
    bool hkid_released;         /* TDH.MNG.KEY.FREEID done */
    /* kvm-kick.c (atomics): tdh_do_no_vcpus()'s wait_for_sept_zap; no
     * entry at all any more (teardown); vCPU threads without vm->lock. */
    int wait_for_sept_zap;
    int no_entry;

    uint64_t hypercall_exit_mask;   /* KVM_CAP_EXIT_HYPERCALL */
    bool split_irqchip;         /* KVM_CAP_SPLIT_IRQCHIP */
    bool kernel_irqchip;        /* KVM_CREATE_IRQCHIP (default VMs only) */
    uint32_t default_tsc_khz;   /* KVM_SET_TSC_KHZ (VM): TD_PARAMS' TSC */

    enum sim_tdx_state tdx_state;
    struct tdx_td *td;
    tdx_pfn_t tdr_pfn;
    tdx_pfn_t tdcs_pfns[SIM_NR_TDCS];
    unsigned gpaw;              /* 48 or 52 */
    uint64_t shared_bit;
    uint64_t td_attributes, xfam;
    struct kvm_cpuid2 *td_cpuid;    /* as given to INIT_VM */

    struct sim_vcpu *vcpus[SIM_MAX_VCPUS];
    unsigned nr_vcpus;
    struct sim_slot slots[SIM_MAX_SLOTS];
    GPtrArray *gmems;           /* every guest_memfd of the VM */
    GHashTable *attrs;          /* gfn >> 15 -> 4 KiB bitmap (1 = private) */

    /* KVM's mirror of the S-EPT: (level, first gfn) -> S-EPT page pfn. */
    GHashTable *mirror;
    /*
     * Its leaf SPTEs: gfn -> struct sim_mirror_leaf.  KVM zaps what its
     * mirror holds: a leaf whose removal failed was dropped from here
     * first and is never visited again (Linux 7.2 leaks the page).
     */
    GHashTable *mirror_leaves;
    /*
     * Parallel faults (kvm-mmu.c; order above): mmu_lock; mirror_lock
     * guards mirror, mirror_leaves, mirror_frozen (SPTEs frozen by a fault
     * in flight: FROZEN_SPTE) and the mirror_* counters; (atomics)
     * mmu_invalidate_seq, bumped by every zap; faulting, vCPU threads in
     * a fault without vm->lock; fault calls in flight and their peak.
     */
    pthread_rwlock_t mmu_lock;
    pthread_mutex_t mirror_lock;
    GHashTable *mirror_frozen;
    uint64_t mmu_invalidate_seq;
    int faulting;
    int fault_calls_in_flight, fault_calls_peak;
    uint64_t mirror_pages[TDX_MAX_LEVELS + 1];
    uint64_t mirror_peak[TDX_MAX_LEVELS + 1];
    uint64_t mirror_total, mirror_total_peak;
    uint64_t leaves_peak[2];
    uint64_t sept_pages_final[TDX_MAX_LEVELS], sept_pages_peak[TDX_MAX_LEVELS];
    uint64_t leaves_final[2];
    uint64_t leaves_walked[2];  /* the same, counted by walking the S-EPT */
    uint64_t mirror_final[TDX_MAX_LEVELS + 1];
    uint64_t teardown_reclaimed;

    /* Scripted guest (guest.c's state; KVM never reads it). */
    struct trace *trace;
    unsigned traced_vcpus;      /* vCPUs with operations */
    unsigned finished_vcpus;    /* of which reached the end or shutdown */
    unsigned barrier_arrived;
    unsigned barrier_gen;
    GHashTable *leaked;         /* gfns the guest leaked (failed to shared) */

    struct sim_side_table sept;
    struct sim_phase build;     /* first INIT_MEM_REGION .. FINALIZE_VM */
    struct sim_phase teardown;  /* teardown start .. TDR reclaimed */
    bool final_taken;           /* *_final snapshot taken */

    struct sim_stats stats;
    struct sim_backing backing;
    uint64_t leaks;             /* this TD's pages still owned by the
                                   module after teardown (its TDR and
                                   children: tdx_td_pages_owned()) */
    bool torn_down;
    uint64_t check_ops;         /* operations checked so far */
    uint64_t full_checks;       /* structural self-checks run */
};

struct sim_host {
    pthread_mutex_t lock;
    struct tdxmod *mod;
    struct inject *inj;
    uint64_t seed;
    char *device;               /* path answered as the KVM device */
    struct sim_obj *fds[SIM_MAX_FDS];
    GPtrArray *vms;             /* every VM ever created */
    GHashTable *sys_ioctls;     /* system-fd ioctl name -> count */
    tdx_pfn_t next_ctl_pfn;     /* control/S-EPT page allocator */
    GArray *free_ctl_pfns;
    tdx_pfn_t next_gmem_pfn;
    bool verbose;
    unsigned check_every;       /* structural self-check every N ops */
    GArray *hidden_caps;        /* TDXSIM_HIDE_CAPS: caps answered as 0 */
    uint64_t memlock_pages;     /* pages charged to RLIMIT_MEMLOCK */
        /*
     * TDXSIM_TEARDOWN_ORDER=key-release-first: mirror-mode VM destruction
     * releases the key first, as the unmerged KVM_TDX_TERMINATE_VM does;
     * default (linux-7.2-release): as Linux 7.2 releases guest_memfd and
     * the VM (kvm-tdx.c).
     */
    bool teardown_key_first;
    /* TDXSIM_BREAK=no-kick: KVM does not kick vCPUs after TDH.MEM.TRACK
     * (a broken KVM, to show that the checks catch it). */
    bool break_no_kick;
};

extern struct sim_host sim;

/* kvm-vm.c: the host's helpers. */
void sim_log(const char *fmt, ...) G_GNUC_PRINTF(1, 2);
void sim_count(GHashTable *h, const char *name);
tdx_pfn_t sim_alloc_ctl_pfn(void);
void sim_free_ctl_pfn(tdx_pfn_t pfn);
/* The report's high-water marks (mirror pages, private leaves). */
void sim_track_peaks(struct sim_vm *vm);
/* At VM creation: mmu_lock (writer-preferring), mirror_lock, frozen set. */
void sim_mmu_lock_init(struct sim_vm *vm);

/* kvm-memslot.c: memslot, attribute and guest_memfd lookups. */
bool sim_gfn_private(struct sim_vm *vm, uint64_t gfn);
bool sim_range_private(struct sim_vm *vm, uint64_t gpa, uint64_t size);
struct sim_slot *sim_find_slot(struct sim_vm *vm, uint64_t gpa);
/*
 * Host pfn backing private gpa (needs a gmem slot); false if none.  The
 * inode's page, whether or not the guest_memfd file was released (the
 * checks' view); KVM's own way to it is sim_gmem_get_pfn().
 */
bool sim_private_pfn(struct sim_vm *vm, uint64_t gpa, tdx_pfn_t *pfn,
                     struct sim_slot **slotp);
/*
 * kvm_gmem_get_pfn() for a fault, pre-fault, INIT_MEM_REGION or pin: 0, or
 * -EFAULT without a guest_memfd slot or once its file was released.
 */
int sim_gmem_get_pfn(struct sim_vm *vm, uint64_t gpa, tdx_pfn_t *pfn);
/* Set the private attribute of one gfn (KVM_SET_MEMORY_ATTRIBUTES). */
void sim_set_gfn_private(struct sim_vm *vm, uint64_t gfn, bool private);

/*
 * kvm-pin.c: account_locked_vm() for the hosted side-table code: n pages
 * pinned (inc) or unpinned, charged to RLIMIT_MEMLOCK unless the process
 * has CAP_IPC_LOCK; 0 or -ENOMEM.
 */
int sim_pin_account(struct sim_vm *vm, uint64_t n, bool inc);
/* Read CAP_IPC_LOCK for the charges of one command. */
void sim_pin_begin_call(struct sim_vm *vm);

/* kvm-phase.c: build and teardown accounting windows. */
void sim_phase_begin(struct sim_vm *vm, struct sim_phase *p);
void sim_phase_end(struct sim_vm *vm, struct sim_phase *p);
/* Totals so far (the window's diff, ended or not). */
const struct tdx_counters *sim_phase_counters(struct sim_phase *p);

/* kvm-td.c: the end of a TD, in either design. */
/* The report's *_final figures, once, just before the teardown starts. */
void sim_tdx_snapshot_final(struct sim_vm *vm);
/*
 * tdx_mmu_release_hkid(): VP.FLUSH, VPFLUSHDONE, CACHE.WB, KEY.FREEID;
 * adds the SEAMCALLs to *seamcalls; 0 or -EIO (KVM_BUG_ON).
 */
int sim_tdx_release_hkid(struct sim_vm *vm, uint64_t *seamcalls);

/*
 * kvm-kick.c: vCPUs in guest mode, and KVM forcing them out.  A vCPU is in
 * the guest from TDH.VP.ENTER to its TD exit; its thread drops vm->lock
 * there only to make a TDCALL (kvm-guest.c) or right after VP.ENTER
 * (kvm-run.c), and re-takes it with sim_vcpu_lock_in_guest().
 */
/*
 * kvm_make_all_cpus_request(KVM_REQ_OUTSIDE_GUEST_MODE), vm->lock held:
 * kick every vCPU in the guest and wait until it has left (a TD exit).
 * Not done under TDXSIM_BREAK=no-kick when after_track.
 */
void sim_kick_vcpus(struct sim_vm *vm, bool after_track);
/*
 * A quiescent point (vm->lock held): no vCPU in guest mode, so no call of
 * the TDX module runs (structural self-checks).  The vCPUs wait on
 * vm->lock and enter again afterwards; not counted as KVM kicks.
 */
void sim_quiesce(struct sim_vm *vm);
/* tdh_do_no_vcpus() around the retry of a SEAMCALL that met BUSY. */
void sim_no_vcpus_begin(struct sim_vm *vm);
void sim_no_vcpus_end(struct sim_vm *vm);
/*
 * The vCPU thread, in the guest, leaves vm->lock (false: the VM allows no
 * entry any more, the lock is kept), and takes it back; a kick (or
 * wait_for_sept_zap, no_entry) meanwhile is a TD exit: vcpu->kicked_out.
 */
bool sim_vcpu_unlock_in_guest(struct sim_vcpu *vcpu);
void sim_vcpu_lock_in_guest(struct sim_vcpu *vcpu);
/* Back into the guest after a kick or a TD exit KVM handled (vm->lock
 * held): 0, or -EIO when the TD cannot run any more. */
int sim_vcpu_reenter(struct sim_vcpu *vcpu);
/* VM destruction: no vCPU enters from now on; wait (vm->lock not held)
 * until no vCPU thread is in guest mode without vm->lock, nor in a private
 * fault without it (vm->faulting; a fault starts only while entry is
 * allowed).  sim_quiesce() waits for those faults too. */
void sim_block_entry(struct sim_vm *vm);

/* kvm-fail.c: how KVM and the model report what went wrong. */
/* An invariant broken: counted (trace.invariant_violations) and printed. */
void sim_violation(struct sim_vm *vm, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
/*
 * The run has failed in a way that, on real hardware, leaves a TD that
 * never finishes (a livelock, a panicked guest, a dead VM): counted in
 * trace.run_failures, printed as "tdxsim: RUN FAILED:", the report written
 * now, and the process made to exit with status SIM_EXIT_RUN_FAILED after
 * TDXSIM_FAIL_EXIT_MS (default 2000; 0 = never, QEMU stays as it is), so
 * that no test waits for a TD that cannot end.  kill: also kill the VM
 * (kvm_vm_dead(): every later VM/vCPU ioctl fails -EIO).
 */
#define SIM_EXIT_RUN_FAILED 3
void sim_run_failed(struct sim_vm *vm, bool kill, const char *fmt, ...)
    G_GNUC_PRINTF(3, 4);
/* True if the run must not count as passed (exit status at process exit). */
bool sim_run_bad(const struct sim_vm *vm);
/* A SEAMCALL failed where KVM has a KVM_BUG_ON: the VM is dead. */
void sim_seamcall_failed(struct sim_vm *vm, const char *what, uint64_t gpa,
                         tdx_status_t err);

/*
 * kvm-observe.c: the checks (check.c) and the report (report.c) sit beside
 * the layers: they read every layer and nothing includes them.  They
 * register here (tdxsim.c wires them); KVM calls these entry points, which
 * fail loudly if nothing registered.
 */
struct sim_check_ops {
    void (*range)(struct sim_vm *vm, uint64_t gpa, uint64_t size);
    void (*full)(struct sim_vm *vm);
    void (*agree)(struct sim_vm *vm, uint64_t gpa, uint64_t size,
                  const char *what, const struct sim_vcpu *self);
    void (*agree_all)(struct sim_vm *vm, const char *what);
};
struct sim_report_ops {
    void (*write)(struct sim_vm *vm);           /* vm->lock not held */
    void (*write_locked)(struct sim_vm *vm);    /* vm->lock held */
};
void sim_register_checks(const struct sim_check_ops *ops);
void sim_register_report(const struct sim_report_ops *ops);
bool sim_observers_registered(void);
/* Invariants after every S-EPT or attribute change (check.c). */
void sim_check_range(struct sim_vm *vm, uint64_t gpa, uint64_t size);
void sim_check_full(struct sim_vm *vm);
/*
 * Side-table mode: the S-EPT agrees with the attributes over the range
 * (private with a guest_memfd page <=> mapped); what names the moment.
 * With @self (a vCPU re-entering after its conversion exit), a page that
 * is private but unmapped is tolerated while another vCPU's conversion
 * exit covering it is still in userspace: a conversion to shared unmaps
 * before the attributes change and one to private sets the attributes
 * before it maps (the UAPI's order), so that page is mid-conversion.
 */
void sim_check_agree(struct sim_vm *vm, uint64_t gpa, uint64_t size,
                     const char *what, const struct sim_vcpu *self);
/* Every private guest_memfd page mapped, nothing else (FINALIZE, teardown). */
void sim_check_agree_all(struct sim_vm *vm, const char *what);
/* The JSON report (TDXSIM_REPORT, report.c). */
void sim_report_write(struct sim_vm *vm);
/* Same, vm->lock held (a snapshot when KVM_BUG_ON kills the VM). */
void sim_report_write_locked(struct sim_vm *vm);

#endif /* TDXSIM_KVM_VM_H */
