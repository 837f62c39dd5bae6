// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * tdxsim unit test: the JSON writer used by the report (json.c).
 */
#include <glib.h>
#include "json.h"

static void test_document(void)
{
    struct json_writer w;
    g_autofree char *s = NULL;

    json_init(&w);
    json_begin_object(&w);
    json_kv_string(&w, "mode", "mirror");
    json_key(&w, "seamcalls");
    json_begin_object(&w);
    json_kv_uint(&w, "TDH.MEM.PAGE.AUG", 18446744073709551615ULL);
    json_kv_uint(&w, "TDH.MEM.SEPT.ADD", 0);
    json_end_object(&w);
    json_key(&w, "list");
    json_begin_array(&w);
    json_int(&w, -5);
    json_bool(&w, true);
    json_string(&w, "a\"b\\c\n\x01");
    json_begin_object(&w);
    json_end_object(&w);
    json_end_array(&w);
    json_end_object(&w);
    s = json_finish(&w);
    g_assert_cmpstr(s, ==,
        "{\"mode\":\"mirror\",\"seamcalls\":{\"TDH.MEM.PAGE.AUG\":"
        "18446744073709551615,\"TDH.MEM.SEPT.ADD\":0},\"list\":[-5,true,"
        "\"a\\\"b\\\\c\\n\\u0001\",{}]}");
}

static void test_misuse(void)
{
    struct json_writer w;

    json_init(&w);
    json_begin_object(&w);
    g_assert_null(json_finish(&w));         /* unclosed */

    json_init(&w);
    json_begin_object(&w);
    json_key(&w, "k");
    json_end_object(&w);                    /* key without value */
    g_assert_null(json_finish(&w));

    json_init(&w);
    json_end_array(&w);                     /* underflow */
    g_assert_null(json_finish(&w));
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/json/document", test_document);
    g_test_add_func("/json/misuse", test_misuse);
    return g_test_run();
}
