// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * tdxsim: parser of TDXSIM_INJECT fault-injection specs and the seeded
 * trigger decision for KVM-side injection sites.  Pure.
 */
#include "inject.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

const char *inject_kind_name(enum inject_kind kind)
{
    switch (kind) {
    case INJ_BUSY:
        return "busy";
    case INJ_ENOMEM:
        return "enomem";
    case INJ_EINTR:
        return "eintr";
    }
    return "?";
}

static bool site_valid(enum inject_kind kind, const char *site)
{
    switch (kind) {
    case INJ_BUSY:
        return *site != '\0';   /* resolved against the leaf table later */
    case INJ_ENOMEM:
        return !strcmp(site, "map");
    case INJ_EINTR:
        return !strcmp(site, "init_mem_region") ||
               !strcmp(site, "pre_fault") || !strcmp(site, "sept_map") ||
               !strcmp(site, "sept_unmap") || !strcmp(site, "sept_teardown");
    }
    return false;
}

static bool parse_rule(const char *text, struct inject_rule *r, GError **errp)
{
    g_auto(GStrv) part = g_strsplit(text, ":", 3);
    char *end;

    memset(r, 0, sizeof(*r));
    if (g_strv_length(part) != 3) {
        g_set_error(errp, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                    "injection rule '%s': expected KIND:SITE:TRIGGER", text);
        return false;
    }
    if (!strcmp(part[0], "busy")) {
        r->kind = INJ_BUSY;
    } else if (!strcmp(part[0], "enomem")) {
        r->kind = INJ_ENOMEM;
    } else if (!strcmp(part[0], "eintr")) {
        r->kind = INJ_EINTR;
    } else {
        g_set_error(errp, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                    "injection rule '%s': unknown kind '%s'", text, part[0]);
        return false;
    }
    if (!site_valid(r->kind, part[1]) || strlen(part[1]) >= sizeof(r->site)) {
        g_set_error(errp, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                    "injection rule '%s': bad site '%s' for %s", text,
                    part[1], part[0]);
        return false;
    }
    g_strlcpy(r->site, part[1], sizeof(r->site));

    errno = 0;
    if (g_str_has_prefix(part[2], "p=")) {
        r->probability = strtod(part[2] + 2, &end);
        if (errno || *end || end == part[2] + 2 || r->probability <= 0 ||
            r->probability > 1) {
            goto bad_trigger;
        }
    } else if (g_str_has_prefix(part[2], "every=")) {
        r->every = strtoull(part[2] + 6, &end, 0);
        if (errno || *end || end == part[2] + 6 || !r->every) {
            goto bad_trigger;
        }
    } else if (g_str_has_prefix(part[2], "nth=") && r->kind != INJ_BUSY) {
        r->nth = strtoull(part[2] + 4, &end, 0);
        if (errno || *end || end == part[2] + 4 || !r->nth) {
            goto bad_trigger;
        }
    } else if (g_str_has_prefix(part[2], "after=")) {
        r->after = strtoull(part[2] + 6, &end, 0);
        if (errno || *end || end == part[2] + 6) {
            goto bad_trigger;
        }
        r->after_set = true;
    } else {
        goto bad_trigger;
    }
    return true;

bad_trigger:
    g_set_error(errp, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                "injection rule '%s': trigger must be p=(0,1], every=N>0%s",
                text, r->kind == INJ_BUSY ? " or after=N" :
                ", nth=N>0 or after=N");
    return false;
}

struct inject *inject_parse(const char *spec, uint64_t seed, GError **errp)
{
    struct inject *inj = g_new0(struct inject, 1);
    g_auto(GStrv) items = NULL;

    inj->rules = g_array_new(FALSE, TRUE, sizeof(struct inject_rule));
    inj->rng = g_rand_new_with_seed((guint32)(seed ^ (seed >> 32)));
    if (!spec) {
        return inj;
    }
    items = g_strsplit_set(spec, ",;", -1);
    for (unsigned i = 0; items[i]; i++) {
        struct inject_rule r;
        char *item = g_strstrip(items[i]);

        if (!*item) {
            continue;
        }
        if (!parse_rule(item, &r, errp)) {
            inject_free(inj);
            return NULL;
        }
        g_array_append_val(inj->rules, r);
    }
    return inj;
}

void inject_free(struct inject *inj)
{
    if (!inj) {
        return;
    }
    g_array_free(inj->rules, TRUE);
    g_rand_free(inj->rng);
    g_free(inj);
}

bool inject_hit(struct inject *inj, enum inject_kind kind, const char *site)
{
    bool fire = false;

    if (!inj) {
        return false;
    }
    for (unsigned i = 0; i < inj->rules->len; i++) {
        struct inject_rule *r = &g_array_index(inj->rules,
                                               struct inject_rule, i);
        bool f;

        if (r->kind != kind || strcmp(r->site, site)) {
            continue;
        }
        r->calls++;
        if (r->probability > 0) {
            f = g_rand_double(inj->rng) < r->probability;
        } else if (r->every) {
            f = r->calls % r->every == 0;
        } else if (r->after_set) {
            f = r->calls > r->after;
        } else {
            f = r->calls == r->nth;
        }
        if (f) {
            r->hits++;
            fire = true;
        }
    }
    return fire;
}
