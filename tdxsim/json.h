/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * tdxsim: a minimal streaming JSON writer (objects, arrays, strings,
 * integers, booleans) into a GString, with commas and escaping handled.
 * Pure.
 */
#ifndef TDXSIM_JSON_H
#define TDXSIM_JSON_H

#include <stdbool.h>
#include <stdint.h>
#include <glib.h>

#define JSON_MAX_DEPTH 32

struct json_writer {
    GString *out;
    unsigned depth;
    bool need_comma[JSON_MAX_DEPTH];
    bool after_key;
    bool error;             /* misuse (depth overflow/underflow) */
};

void json_init(struct json_writer *w);
/* Returns the text (caller frees) or NULL if the writer was misused. */
char *json_finish(struct json_writer *w);

void json_key(struct json_writer *w, const char *key);
void json_begin_object(struct json_writer *w);
void json_end_object(struct json_writer *w);
void json_begin_array(struct json_writer *w);
void json_end_array(struct json_writer *w);
void json_string(struct json_writer *w, const char *s);
void json_uint(struct json_writer *w, uint64_t v);
void json_int(struct json_writer *w, int64_t v);
void json_bool(struct json_writer *w, bool v);

/* Shorthands: key + value. */
void json_kv_uint(struct json_writer *w, const char *key, uint64_t v);
void json_kv_string(struct json_writer *w, const char *key, const char *s);

#endif /* TDXSIM_JSON_H */
