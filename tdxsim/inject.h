/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * tdxsim: fault-injection rules (TDXSIM_INJECT) and their seeded,
 * reproducible trigger decisions.  Pure: the KVM model asks
 * inject_hit() at its injection sites and forwards BUSY rules to the
 * TDX-module model.
 *
 * Spec: RULE[{,|;}RULE...], RULE = KIND:SITE:TRIGGER
 *   KIND busy    SITE = SEAMCALL leaf name (TDH.MEM.PAGE.AUG) or number
 *        enomem  SITE = map       (page allocation while mapping S-EPT;
 *                                  side-table: the KVM_TDX_SEPT_MAP call)
 *        eintr   SITE = init_mem_region | pre_fault | sept_map |
 *                       sept_unmap | sept_teardown  (signal pending)
 *   TRIGGER p=PROB | every=N | nth=N | after=N
 *           (nth: only the Nth call; after: every call after the Nth, so a
 *           build can pass and every later call fail; nth not for busy)
 */
#ifndef TDXSIM_INJECT_H
#define TDXSIM_INJECT_H

#include <stdbool.h>
#include <stdint.h>
#include <glib.h>

enum inject_kind {
    INJ_BUSY,
    INJ_ENOMEM,
    INJ_EINTR,
};

struct inject_rule {
    enum inject_kind kind;
    char site[48];
    double probability;     /* 0 = off */
    uint64_t every;         /* 0 = off */
    uint64_t nth;           /* 0 = off */
    uint64_t after;         /* fire on every call after this many */
    bool after_set;
    uint64_t calls;         /* times the site was reached */
    uint64_t hits;          /* times the rule fired */
};

struct inject {
    GArray *rules;          /* of struct inject_rule */
    GRand *rng;
};

/* NULL or "" spec gives an empty rule set.  NULL + *errp on a bad spec. */
struct inject *inject_parse(const char *spec, uint64_t seed, GError **errp);
void inject_free(struct inject *inj);
/* Called at a site: true if the rule for (kind, site) fires this time. */
bool inject_hit(struct inject *inj, enum inject_kind kind, const char *site);
const char *inject_kind_name(enum inject_kind kind);

#endif /* TDXSIM_INJECT_H */
