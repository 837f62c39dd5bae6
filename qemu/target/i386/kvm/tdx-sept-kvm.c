/*
 * TDX side-table S-EPT: the kernel interface
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "system/kvm.h"
#include "tdx-sept-kvm.h"
#include "tdx-sept-ranges.h"
#include "trace.h"

/*
 * -EAGAIN means the TDX module stayed busy through KVM's own retries (a
 * guest ACCEPT or zero-step mitigation holds its locks), -EINTR that a
 * signal is pending.  Resume as long as the kernel makes progress, and a
 * bounded number of times in a row without: then give up with -EAGAIN,
 * which the caller turns into a retry later.  A busy module is waited for
 * with a back-off (1 us doubling to 1 ms: a guest's ACCEPT holds its locks
 * for microseconds), so that giving up takes about 55 ms, not 64 calls in
 * a row, while the conversion's locks are held.
 */
#define TDX_SEPT_MAX_IDLE_RESUMES 64
#define TDX_SEPT_MAX_BACKOFF_US 1000

static const char *const tdx_sept_cmd_names[] = {
    [KVM_TDX_SEPT_MAP] = "KVM_TDX_SEPT_MAP",
    [KVM_TDX_SEPT_UNMAP] = "KVM_TDX_SEPT_UNMAP",
    [KVM_TDX_SEPT_TEARDOWN] = "KVM_TDX_SEPT_TEARDOWN",
    [KVM_TDX_SEPT_STATS] = "KVM_TDX_SEPT_STATS",
};

static int tdx_sept_kvm_cmd(uint32_t id, void *data, uint64_t *hw_error)
{
    struct kvm_tdx_cmd cmd = {
        .id = id,
        .data = (uintptr_t)data,
    };
    int ret = kvm_vm_ioctl(kvm_state, KVM_MEMORY_ENCRYPT_OP, &cmd);

    *hw_error = cmd.hw_error;
    return ret;
}

/* Run a range command to completion, resuming where the kernel stopped. */
static int tdx_sept_kvm_range(uint32_t id, uint64_t gpa, uint64_t size,
                              uint64_t flags, TdxSeptKvmCall *call)
{
    struct kvm_tdx_sept_range range = {
        .gpa = gpa,
        .nr_pages = size / TDX_SEPT_PAGE_SIZE,
        .flags = flags,
    };
    unsigned idle = 0;
    uint64_t before;
    int ret;

    *call = (TdxSeptKvmCall) { 0 };
    for (;;) {
        trace_tdx_sept_kvm_range(tdx_sept_cmd_names[id], gpa, range.nr_pages,
                                 flags, range.done);
        before = range.done;
        ret = tdx_sept_kvm_cmd(id, &range, &call->hw_error);
        trace_tdx_sept_kvm_range_done(tdx_sept_cmd_names[id], gpa, ret,
                                      range.done, call->hw_error);
        call->done = MIN(range.done, range.nr_pages) * TDX_SEPT_PAGE_SIZE;
        if (ret != -EINTR && ret != -EAGAIN) {
            return ret;
        }
        idle = range.done > before ? 0 : idle + 1;
        if (idle > TDX_SEPT_MAX_IDLE_RESUMES) {
            return -EAGAIN;
        }
        if (ret == -EAGAIN && idle) {
            g_usleep(MIN(1UL << (idle - 1), TDX_SEPT_MAX_BACKOFF_US));
        }
        call->resumes++;
    }
}

uint64_t tdx_sept_kvm_supported_leaves(void)
{
    int ret = kvm_vm_check_extension(kvm_state, KVM_CAP_TDX_SIDE_SEPT);

    trace_tdx_sept_kvm_supported_leaves(ret);
    return ret > 0 ? ret : 0;
}

int tdx_sept_kvm_enable(uint64_t leaves)
{
    int ret = kvm_vm_enable_cap(kvm_state, KVM_CAP_TDX_SIDE_SEPT, 0, leaves);

    trace_tdx_sept_kvm_enable(leaves, ret);
    return ret;
}

int tdx_sept_kvm_map(uint64_t gpa, uint64_t size, TdxSeptKvmCall *call)
{
    return tdx_sept_kvm_range(KVM_TDX_SEPT_MAP, gpa, size, 0, call);
}

int tdx_sept_kvm_unmap(uint64_t gpa, uint64_t size, TdxSeptKvmCall *call)
{
    return tdx_sept_kvm_range(KVM_TDX_SEPT_UNMAP, gpa, size, 0, call);
}

int tdx_sept_kvm_teardown(TdxSeptKvmCall *call)
{
    unsigned idle = 0;
    int ret;

    /* The kernel resumes where it stopped, unless signals keep coming. */
    *call = (TdxSeptKvmCall) { 0 };
    do {
        ret = tdx_sept_kvm_cmd(KVM_TDX_SEPT_TEARDOWN, NULL, &call->hw_error);
        trace_tdx_sept_kvm_teardown(ret, call->hw_error);
        call->resumes += ret == -EINTR;
    } while (ret == -EINTR && ++idle <= TDX_SEPT_MAX_IDLE_RESUMES);
    return ret;
}

int tdx_sept_kvm_stats(struct kvm_tdx_sept_stats *stats)
{
    uint64_t hw_error;
    int ret;

    memset(stats, 0, sizeof(*stats));
    ret = tdx_sept_kvm_cmd(KVM_TDX_SEPT_STATS, stats, &hw_error);
    trace_tdx_sept_kvm_stats(ret);
    return ret;
}
