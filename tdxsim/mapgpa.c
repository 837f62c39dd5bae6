// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * tdxsim: MapGPA checks and 2 MiB chunking exactly as upstream KVM's
 * tdx_map_gpa(), __tdx_map_gpa() and tdx_complete_vmcall_map_gpa() do,
 * plus the Linux guest's retry rule.  Pure functions.
 */
#include <errno.h>
#include "mapgpa.h"

uint64_t mapgpa_check(uint64_t gpa, uint64_t size, unsigned maxphyaddr,
                      uint64_t shared_bit)
{
    uint64_t limit = maxphyaddr >= 64 ? ~0ULL : (1ULL << maxphyaddr);

    if (gpa + size <= gpa || gpa >= limit || gpa + size - 1 >= limit ||
        ((gpa & shared_bit) != ((gpa + size - 1) & shared_bit))) {
        return GHCI_INVALID_OPERAND;
    }
    if ((gpa & 0xfff) || (size & 0xfff)) {
        return GHCI_ALIGN_ERROR;
    }
    return GHCI_SUCCESS;
}

struct mapgpa_chunk mapgpa_next_chunk(uint64_t next, uint64_t end,
                                      uint64_t shared_bit)
{
    uint64_t size = end - next;
    struct mapgpa_chunk c;

    if (size > MAPGPA_MAX_CHUNK) {
        size = MAPGPA_MAX_CHUNK;
    }
    c.gpa = next & ~shared_bit;
    c.npages = size >> 12;
    c.attrs = (next & shared_bit) ? 0 : MAP_GPA_RANGE_ENCRYPTED;
    return c;
}

enum mapgpa_step mapgpa_complete(uint64_t *next, uint64_t end,
                                 uint64_t user_ret, bool irq_pending)
{
    /* Linux 7.2 arch/x86/kvm/vmx/tdx.c: tdx_complete_vmcall_map_gpa() */
    switch (user_ret) {
    case 0:
        break;
    case EAGAIN:
        return MAPGPA_STEP_RETRY;
    case EINVAL:
        return MAPGPA_STEP_ERROR;
    default:
        return MAPGPA_STEP_BAD_RET;
    }
    *next += MAPGPA_MAX_CHUNK;
    if (*next >= end) {
        return MAPGPA_STEP_DONE;
    }
    return irq_pending ? MAPGPA_STEP_RETRY : MAPGPA_STEP_CONTINUE;
}

bool mapgpa_guest_retry(uint64_t *start, uint64_t end, uint64_t r11,
                        int *retry_count)
{
    if (r11 < *start || r11 >= end) {
        return false;
    }
    if (r11 == *start) {
        return ++*retry_count < MAPGPA_GUEST_MAX_RETRIES;
    }
    *start = r11;
    *retry_count = 0;
    return true;
}

const char *ghci_status_name(uint64_t status)
{
    switch (status) {
    case GHCI_SUCCESS:
        return "SUCCESS";
    case GHCI_RETRY:
        return "RETRY";
    case GHCI_INVALID_OPERAND:
        return "INVALID_OPERAND";
    case GHCI_ALIGN_ERROR:
        return "ALIGN_ERROR";
    case GHCI_SUBFUNC_UNSUPPORTED:
        return "SUBFUNC_UNSUPPORTED";
    default:
        return "UNKNOWN";
    }
}
