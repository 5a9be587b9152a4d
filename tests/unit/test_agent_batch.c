/* test_agent_batch.c: batches cut under the server's limits (bytes with a
 * margin, paths, rounds) and refused batches halved down to single items,
 * each keeping its spool id and every item exactly once. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/batch.h"

/* n rounds of about 300 bytes each (a long detail), numbered in "i". */
static json_t *rounds(size_t n)
{
    json_t *a = json_array();
    char detail[281];
    memset(detail, 'd', sizeof detail - 1);
    detail[sizeof detail - 1] = '\0';
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, json_pack("{s:I, s:s}", "i", (json_int_t)i, "detail", detail));
    return a;
}

static json_t *paths(size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, json_pack("{s:I}", "p", (json_int_t)i));
    return a;
}

/* Cut everything; check sizes and that each item comes out once, in order. */
static size_t cut_all(json_t *r, json_t *p, const struct agent_batch_limits *lim, size_t *max_len)
{
    size_t batches = 0, next_r = 0, next_p = 0;
    *max_len = 0;
    while (json_array_size(r) || json_array_size(p)) {
        uint32_t nr = 0;
        char *text = agent_batch_cut(r, p, lim, 7 + batches, "00000000000000ab", &nr);
        assert_non_null(text);
        size_t len = strlen(text);
        *max_len = len > *max_len ? len : *max_len;
        json_t *b = json_loads(text, 0, NULL);
        assert_int_equal(json_integer_value(json_object_get(b, "batch")), 7 + batches);
        assert_string_equal(json_string_value(json_object_get(b, "spoolId")), "00000000000000ab");
        json_t *br = json_object_get(b, "results"), *bp = json_object_get(b, "paths");
        assert_int_equal(json_array_size(br), nr);
        assert_true(json_array_size(bp) <= lim->max_paths);
        assert_true(nr <= lim->max_rounds);
        for (size_t i = 0; i < json_array_size(br); i++)
            assert_int_equal(json_integer_value(json_object_get(json_array_get(br, i), "i")),
                             next_r++);
        for (size_t i = 0; i < json_array_size(bp); i++)
            assert_int_equal(json_integer_value(json_object_get(json_array_get(bp, i), "p")),
                             next_p++);
        json_decref(b);
        free(text);
        batches++;
    }
    return batches;
}

static void test_cut_by_bytes(void **state)
{
    (void)state;
    struct agent_batch_limits lim = {.max_bytes = 8192, .max_paths = 1000, .max_rounds = 2000};
    json_t *r = rounds(100), *p = paths(0);
    size_t max_len;
    size_t n = cut_all(r, p, &lim, &max_len);
    assert_true(max_len <= 8192);
    assert_true(n >= 4 && n <= 6); /* ~31 KB in batches of ~7 KB */
    json_decref(r);
    json_decref(p);
}

static void test_cut_by_paths_and_rounds(void **state)
{
    (void)state;
    struct agent_batch_limits lim = {.max_bytes = 1 << 20, .max_paths = 3, .max_rounds = 4};
    json_t *r = rounds(10), *p = paths(10);
    size_t max_len;
    /* 4 rounds and 3 paths a batch: 4+3, 4+3, 2+3, 0+1 */
    assert_int_equal(cut_all(r, p, &lim, &max_len), 4);
    json_decref(r);
    json_decref(p);
}

static void test_lone_oversized_item_goes(void **state)
{
    (void)state;
    struct agent_batch_limits lim = {.max_bytes = 64, .max_paths = 10, .max_rounds = 10};
    json_t *r = rounds(2), *p = paths(0);
    size_t max_len;
    assert_int_equal(cut_all(r, p, &lim, &max_len), 2);
    assert_true(max_len > 64);
    json_decref(r);
    json_decref(p);
}

/* Halving to single items keeps every item once and the spool id. */
static void test_halve(void **state)
{
    (void)state;
    const char *text = "{\"batch\":5,\"spoolId\":\"00000000000000ab\",\"results\":[{\"i\":0},"
                       "{\"i\":1},{\"i\":2}],\"paths\":[{\"p\":0},{\"p\":1}]}";
    struct agent_batch_half h[2];
    struct cmon_errbuf eb;
    assert_int_equal(agent_batch_halve(text, strlen(text), 9, 10, h, &eb), CMON_OK);
    assert_string_equal(h[0].text, "{\"batch\":9,\"results\":[{\"i\":0},{\"i\":1}],\"paths\":[],"
                                   "\"spoolId\":\"00000000000000ab\"}");
    assert_string_equal(h[1].text, "{\"batch\":10,\"results\":[{\"i\":2}],\"paths\":[{\"p\":0},"
                                   "{\"p\":1}],\"spoolId\":\"00000000000000ab\"}");
    assert_int_equal(h[0].n_results, 2);
    assert_int_equal(h[1].n_results, 1);
    struct agent_batch_half q[2];
    assert_int_equal(agent_batch_halve(h[1].text, strlen(h[1].text), 11, 12, q, &eb), CMON_OK);
    assert_string_equal(q[0].text, "{\"batch\":11,\"results\":[{\"i\":2}],\"paths\":[],"
                                   "\"spoolId\":\"00000000000000ab\"}");
    struct agent_batch_half z[2];
    assert_int_equal(agent_batch_halve(q[0].text, strlen(q[0].text), 13, 14, z, &eb),
                     CMON_ERR_LIMIT);
    assert_null(z[0].text);
    size_t nr;
    assert_int_equal(agent_batch_items(q[1].text, strlen(q[1].text), &nr), 2);
    assert_int_equal(nr, 0);
    assert_int_equal(agent_batch_halve("[1]", 3, 1, 2, z, &eb), CMON_ERR_INVALID);
    for (int i = 0; i < 2; i++) {
        free(h[i].text);
        free(q[i].text);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cut_by_bytes),
        cmocka_unit_test(test_cut_by_paths_and_rounds),
        cmocka_unit_test(test_lone_oversized_item_goes),
        cmocka_unit_test(test_halve),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
