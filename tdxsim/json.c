// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * tdxsim: minimal streaming JSON writer used by the report.  Pure.
 */
#include "json.h"

#include <inttypes.h>

void json_init(struct json_writer *w)
{
    *w = (struct json_writer) { .out = g_string_new(NULL) };
}

char *json_finish(struct json_writer *w)
{
    bool ok = !w->error && w->depth == 0 && !w->after_key;
    char *s = g_string_free(w->out, !ok);

    w->out = NULL;
    return ok ? s : NULL;
}

/* Separator before a value or key at the current level. */
static void sep(struct json_writer *w)
{
    if (w->after_key) {
        w->after_key = false;
        return;
    }
    if (w->need_comma[w->depth]) {
        g_string_append_c(w->out, ',');
    }
    w->need_comma[w->depth] = true;
}

static void escape(GString *out, const char *s)
{
    g_string_append_c(out, '"');
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        switch (*p) {
        case '"':
            g_string_append(out, "\\\"");
            break;
        case '\\':
            g_string_append(out, "\\\\");
            break;
        case '\n':
            g_string_append(out, "\\n");
            break;
        case '\t':
            g_string_append(out, "\\t");
            break;
        default:
            if (*p < 0x20) {
                g_string_append_printf(out, "\\u%04x", *p);
            } else {
                g_string_append_c(out, *p);
            }
        }
    }
    g_string_append_c(out, '"');
}

void json_key(struct json_writer *w, const char *key)
{
    if (w->after_key) {
        w->error = true;
    }
    sep(w);
    escape(w->out, key);
    g_string_append_c(w->out, ':');
    w->after_key = true;
}

static void open_level(struct json_writer *w, char c)
{
    sep(w);
    g_string_append_c(w->out, c);
    if (w->depth + 1 >= JSON_MAX_DEPTH) {
        w->error = true;
        return;
    }
    w->need_comma[++w->depth] = false;
}

static void close_level(struct json_writer *w, char c)
{
    if (w->depth == 0 || w->after_key) {
        w->error = true;
        return;
    }
    w->depth--;
    g_string_append_c(w->out, c);
}

void json_begin_object(struct json_writer *w)
{
    open_level(w, '{');
}

void json_end_object(struct json_writer *w)
{
    close_level(w, '}');
}

void json_begin_array(struct json_writer *w)
{
    open_level(w, '[');
}

void json_end_array(struct json_writer *w)
{
    close_level(w, ']');
}

void json_string(struct json_writer *w, const char *s)
{
    sep(w);
    escape(w->out, s ? s : "");
}

void json_uint(struct json_writer *w, uint64_t v)
{
    sep(w);
    g_string_append_printf(w->out, "%" PRIu64, v);
}

void json_int(struct json_writer *w, int64_t v)
{
    sep(w);
    g_string_append_printf(w->out, "%" PRId64, v);
}

void json_bool(struct json_writer *w, bool v)
{
    sep(w);
    g_string_append(w->out, v ? "true" : "false");
}

void json_kv_uint(struct json_writer *w, const char *key, uint64_t v)
{
    json_key(w, key);
    json_uint(w, v);
}

void json_kv_string(struct json_writer *w, const char *key, const char *s)
{
    json_key(w, key);
    json_string(w, s);
}
