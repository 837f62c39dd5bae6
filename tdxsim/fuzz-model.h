/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * tdxsim: the conversion fuzzer's reference model of the private set
 * (tdxsim/fuzz/).  Pure: no KVM, no TDX module.
 *
 * The model covers a few areas of guest-physical space (4 MiB around each
 * boundary of the memory map).  A fuzz round runs several vCPUs at once;
 * each reports what its guest saw (struct guest_driver's observed()):
 * after a completed MapGPA chunk, an accept or a shared access the page
 * was in that state.  Every state change of a page is one of those
 * observations (or a rolled-back failure, which changes nothing), so at
 * the quiescent point after the round the page is in the state of the
 * globally last one, which is the last one of some vCPU: the actual state
 * must be one of the vCPUs' last observations of the page, or, when no
 * vCPU observed it, the state before the round.  The model then takes the
 * actual state.
 */
#ifndef TDXSIM_FUZZ_MODEL_H
#define TDXSIM_FUZZ_MODEL_H

#include <stdbool.h>
#include <stdint.h>
#include <glib.h>

#define FUZZ_MAX_VCPUS      8
#define FUZZ_AREA_HALF      (2ULL << 20)   /* area = boundary +- 2 MiB */

/* Page flags of the model. */
#define FM_PRIVATE      0x01    /* private at the last check */
#define FM_RAM          0x02    /* backed by guest_memfd (accept allowed) */
#define FM_MARKED       0x04    /* shared contents written, not yet discarded */

struct fuzz_area {
    uint64_t start, end;        /* 4 KiB aligned, [start, end) */
    uint8_t *page;              /* FM_* per 4 KiB page */
};

struct fuzz_model {
    GArray *areas;              /* of struct fuzz_area, sorted, disjoint */
    unsigned nr_vcpus;
    /* This round: gfn -> 1 + private, each vCPU's last observation. */
    GHashTable *last[FUZZ_MAX_VCPUS];
    /* This round: gfn -> 1, some vCPU saw it private at some point. */
    GHashTable *ever_private;
    uint64_t observations;      /* all rounds */
};

/* Verdict on one page after a round. */
enum fuzz_verdict {
    FUZZ_OK,
    FUZZ_UNCHANGED_EXPECTED,    /* nobody observed it, yet it changed */
    FUZZ_NOT_OBSERVED,          /* no vCPU's last observation says so */
};

void fuzz_model_init(struct fuzz_model *m, unsigned nr_vcpus);
void fuzz_model_free(struct fuzz_model *m);
/* Cover [start, end) (rounded out to pages; merged with neighbours). */
void fuzz_model_add_area(struct fuzz_model *m, uint64_t start, uint64_t end);
/* The area holding gpa, or NULL. */
struct fuzz_area *fuzz_model_area(struct fuzz_model *m, uint64_t gpa);
/* Flags of the page at gpa (0 outside every area). */
uint8_t *fuzz_model_page(struct fuzz_model *m, uint64_t gpa);
/* vCPU saw [gpa, gpa + size) private or shared (clipped to the areas). */
void fuzz_model_observe(struct fuzz_model *m, unsigned vcpu, uint64_t gpa,
                        uint64_t size, bool private);
/* Some vCPU saw the page private at some point of this round. */
bool fuzz_model_seen_private(struct fuzz_model *m, uint64_t gpa);
/* Was gpa observed by any vCPU this round? */
bool fuzz_model_seen(struct fuzz_model *m, uint64_t gpa);
/*
 * Judge the page's actual state after the round, then take it (FM_PRIVATE
 * follows actual).  The candidates are written to *why (may be NULL).
 */
enum fuzz_verdict fuzz_model_judge(struct fuzz_model *m, uint64_t gpa,
                                   bool actual_private, GString *why);
/* Forget this round's observations. */
void fuzz_model_round_end(struct fuzz_model *m);

#endif /* TDXSIM_FUZZ_MODEL_H */
