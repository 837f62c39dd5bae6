/*
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * The steps of a private<->shared conversion (see kvm-convert.h).
 */
#include "qemu/osdep.h"
#include "qemu/error-report.h"
#include "kvm-convert.h"

/*
 * Convert one run: KVM's attributes and the RAM block's attributes with
 * their listeners.  Returns 0; -errno when the run is unchanged (the
 * listeners' when they refused, KVM's when it refused the attributes);
 * -EIO when the run may be half converted (a listener's -EIO, or the
 * previous state could not be restored).
 */
static int kvm_convert_run(KVMConvertRun *run, bool to_private, bool pinned,
                           const KVMConvertOps *ops, void *opaque)
{
    bool attributes_first = to_private || !pinned;
    int ret;

    if (attributes_first) {
        /* KVM_SET_MEMORY_ATTRIBUTES changes all of the range or nothing. */
        ret = ops->set_attributes(run, to_private, opaque);
        if (ret) {
            return ret;
        }
    }
    ret = ops->state_change(run, to_private, opaque);
    if (ret) {
        if (ret == -EIO ||
            (attributes_first &&
             ops->set_attributes(run, !to_private, opaque))) {
            return -EIO;
        }
        return ret;
    }
    if (!attributes_first) {
        ret = ops->set_attributes(run, to_private, opaque);
        if (ret) {
            if (ops->state_change(run, !to_private, opaque)) {
                error_report("cannot restore the listeners of [0x%"
                             HWADDR_PRIx ", 0x%" HWADDR_PRIx ") after KVM "
                             "refused to make it shared", run->gpa,
                             run->gpa + run->size);
                return -EIO;
            }
            return ret;
        }
    }
    return 0;
}

int kvm_convert_runs(KVMConvertRun *runs, unsigned int nr_runs,
                     bool to_private, bool pinned, hwaddr start, hwaddr size,
                     const KVMConvertOps *ops, void *opaque)
{
    const char *to = to_private ? "private" : "shared";
    bool discard_failed = false;
    unsigned int done;
    int ret = 0;

    for (done = 0; !ret && done < nr_runs; done++) {
        ret = kvm_convert_run(&runs[done], to_private, pinned, ops, opaque);
    }
    if (ret && ret != -EIO) {
        /*
         * runs[done - 1] failed and is unchanged: put back the runs before
         * it, last first.
         */
        unsigned int failed = done - 1;

        for (unsigned int i = failed; i-- > 0;) {
            if (kvm_convert_run(&runs[i], !to_private, pinned, ops, opaque)) {
                ret = -EIO;
                break;
            }
        }
    }
    for (unsigned int i = 0; !ret && i < nr_runs; i++) {
        discard_failed |= ops->discard(&runs[i], to_private, opaque) != 0;
    }

    if (ret == -EIO) {
        error_report("converting [0x%" HWADDR_PRIx ", 0x%" HWADDR_PRIx
                     ") to %s failed on the host and was not undone: the "
                     "guest's memory cannot be trusted to be in either state",
                     start, start + size, to);
    } else if (ret && ret != -EAGAIN) {
        /*
         * A listener failed for a reason of the host's (it reported it),
         * and the conversion was undone.  Not the guest's error.
         */
        error_report("converting [0x%" HWADDR_PRIx ", 0x%" HWADDR_PRIx
                     ") to %s failed on the host (%s); the conversion was "
                     "undone", start, start + size, to, strerror(-ret));
        ret = -EIO;
    } else if (discard_failed) {
        /* Converted, but what the other side used is still allocated. */
        error_report("converted [0x%" HWADDR_PRIx ", 0x%" HWADDR_PRIx
                     ") to %s, but the host failed to discard the memory "
                     "the %s side no longer uses", start, start + size, to,
                     to_private ? "shared" : "private");
        ret = -EIO;
    }
    return ret;
}
