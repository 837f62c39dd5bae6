/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * tdxsim: TDG.VP.VMCALL<MapGPA> as upstream KVM delivers it (pure logic).
 *
 * KVM checks the guest's request (overflow, illegal GPA, shared-bit
 * crossing => INVALID_OPERAND; alignment => ALIGN_ERROR), then hands it to
 * userspace in 2 MiB chunks, one KVM_EXIT_HYPERCALL each.  This file holds
 * those rules and nothing else, so they can be unit tested.
 */
#ifndef TDXSIM_MAPGPA_H
#define TDXSIM_MAPGPA_H

#include <stdbool.h>
#include <stdint.h>

/* GHCI TDG.VP.VMCALL status codes (R10). */
#define GHCI_SUCCESS                0x0000000000000000ULL
#define GHCI_RETRY                  0x0000000000000001ULL
#define GHCI_INVALID_OPERAND        0x8000000000000000ULL
#define GHCI_ALIGN_ERROR            0x8000000000000002ULL
#define GHCI_SUBFUNC_UNSUPPORTED    0x8000000000000003ULL

#define TDVMCALL_MAP_GPA            0x10001ULL
#define MAPGPA_MAX_CHUNK            (2ULL << 20)   /* TDX_MAP_GPA_MAX_LEN */
#define KVM_HC_MAP_GPA_RANGE_NR     12
#define MAP_GPA_RANGE_ENCRYPTED     (1ULL << 4)

/*
 * KVM's tdx_map_gpa() checks, in its order.  maxphyaddr is the guest's
 * physical address width (legal GPAs are below 1 << maxphyaddr).
 * Returns GHCI_SUCCESS when the request may proceed to userspace.
 */
uint64_t mapgpa_check(uint64_t gpa, uint64_t size, unsigned maxphyaddr,
                      uint64_t shared_bit);

/* One KVM_EXIT_HYPERCALL as __tdx_map_gpa() fills it. */
struct mapgpa_chunk {
    uint64_t gpa;           /* args[0]: without the shared bit */
    uint64_t npages;        /* args[1] */
    uint64_t attrs;         /* args[2]: MAP_GPA_RANGE_ENCRYPTED or 0 */
};

/* The chunk starting at next (with shared bit as the guest gave it). */
struct mapgpa_chunk mapgpa_next_chunk(uint64_t next, uint64_t end,
                                      uint64_t shared_bit);

/*
 * Userspace answered a chunk (tdx_complete_vmcall_map_gpa()).
 * *next advances by one chunk on success.  Returns:
 *   MAPGPA_STEP_DONE      whole range done, guest sees SUCCESS
 *   MAPGPA_STEP_CONTINUE  issue the next chunk
 *   MAPGPA_STEP_RETRY     interrupt pending: guest sees RETRY, R11 = *next
 *   MAPGPA_STEP_ERROR     userspace wrote EINVAL: INVALID_OPERAND, R11 = *next
 *   MAPGPA_STEP_BAD_RET   userspace wrote anything but 0, EINVAL or EAGAIN:
 *                         KVM_RUN fails -EINVAL (Linux 7.2 x86.h
 *                         kvm_is_valid_map_gpa_range_ret())
 * (EAGAIN gives the guest RETRY, R11 = *next, like a pending interrupt.)
 */
enum mapgpa_step {
    MAPGPA_STEP_DONE,
    MAPGPA_STEP_CONTINUE,
    MAPGPA_STEP_RETRY,
    MAPGPA_STEP_ERROR,
    MAPGPA_STEP_BAD_RET,
};
enum mapgpa_step mapgpa_complete(uint64_t *next, uint64_t end,
                                 uint64_t user_ret, bool irq_pending);

/*
 * The Linux guest's retry loop around MapGPA (arch/x86/coco/tdx/tdx.c
 * tdx_map_gpa()): after a RETRY with R11 = r11 it resumes from r11, giving
 * up after 3 retries without forward progress or on an R11 outside
 * [start, end).  Returns true to retry (with *start updated).
 */
#define MAPGPA_GUEST_MAX_RETRIES 3
bool mapgpa_guest_retry(uint64_t *start, uint64_t end, uint64_t r11,
                        int *retry_count);

const char *ghci_status_name(uint64_t status);

#endif /* TDXSIM_MAPGPA_H */
