/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * tdxsim: the conversion fuzzer's input format (tdxsim/fuzz/).  Pure.
 *
 * An input is a list of 4-byte records, one guest operation each, for the
 * vCPUs of one round (at most FUZZ_MAX_OPS; a trailing partial record is
 * ignored):
 *   byte 0  bits 0-1 vCPU (modulo the vCPU count)
 *           bits 2-3 0 MapGPA private, 1 MapGPA shared,
 *                    2 shared access (implicit conversion to shared),
 *                    3 ACCEPT (implicit conversion to private)
 *           bit 4    MapGPA: an interrupt pending first (RETRY mid-way)
 *           bits 5-7 size: 1, 2, 7, 64, 511, 512, 513 or 1024 pages
 *                    (512 starts on a 2 MiB boundary)
 *   byte 1  area of the model (modulo the area count)
 *   byte 2-3 first page within the area (little endian, modulo its pages)
 * Ranges are clipped to the area; an ACCEPT only to its guest_memfd pages
 * (accepting anything else would stop the VM on a refused implicit
 * conversion, a guest bug, not QEMU's); a shared access touches one page.
 * Every operation is tolerant (guest-trace.h).
 */
#ifndef TDXSIM_FUZZ_INPUT_H
#define TDXSIM_FUZZ_INPUT_H

#include <stddef.h>
#include <stdint.h>
#include <glib.h>

#include "fuzz-model.h"
#include "guest-trace.h"

#define FUZZ_RECORD     4
#define FUZZ_MAX_OPS    64

/*
 * With FUZZ_DECODE_MAPGPA_ONLY a shared access becomes a MapGPA to shared
 * and an ACCEPT a MapGPA to private of its range: used while kernel faults
 * are injected, since a failed implicit conversion stops the VM (QEMU has
 * no error to return for an access), a failed MapGPA does not.
 */
#define FUZZ_DECODE_MAPGPA_ONLY     1

/*
 * Append the input's operations to ops[v] (GArray of struct trace_op) for
 * each vCPU v < m->nr_vcpus; returns the number of records decoded.
 */
unsigned fuzz_decode(const uint8_t *data, size_t size, struct fuzz_model *m,
                     unsigned flags, GArray **ops);

#endif /* TDXSIM_FUZZ_INPUT_H */
