/* test_core_grow.c: the doubling array helper: capacity steps, contents
 * kept across growth, and a request too large to allocate leaving the
 * array as it was. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>

#include "core/grow.h"

static void test_grow_doubles(void **state)
{
    (void)state;
    int64_t *a = NULL;
    size_t cap = 0;
    assert_true(cmon_grow(&a, &cap, 1, sizeof *a));
    assert_int_equal(cap, 16);
    for (size_t i = 0; i < 1000; i++) {
        assert_true(cmon_grow(&a, &cap, i + 1, sizeof *a));
        a[i] = (int64_t)i * 3;
    }
    assert_int_equal(cap, 1024);
    for (size_t i = 0; i < 1000; i++)
        assert_int_equal(a[i], (int64_t)i * 3);
    assert_true(cmon_grow(&a, &cap, 5, sizeof *a)); /* enough room: nothing moves */
    assert_int_equal(cap, 1024);
    int64_t *before = a;
    assert_false(cmon_grow(&a, &cap, SIZE_MAX / 2, sizeof *a)); /* overflow */
    assert_ptr_equal(a, before);
    assert_int_equal(cap, 1024);
    free(a);
}

static int cmp_int(const void *key, const void *e)
{
    int k = *(const int *)key, v = *(const int *)e;
    return (k > v) - (k < v);
}

/* Inserting 0..99 in a scrambled order through find + insert keeps the
 * array sorted; each is found afterwards, absent keys are not. */
static void test_sorted_find_insert(void **state)
{
    (void)state;
    int *v = NULL;
    size_t n = 0, cap = 0;
    bool found;
    for (int i = 0; i < 100; i++) {
        int k = (i * 37) % 100;
        size_t at = cmon_sorted_find(v, n, sizeof *v, &k, cmp_int, &found);
        assert_false(found);
        assert_true(cmon_sorted_insert(&v, &n, &cap, at, sizeof *v));
        v[at] = k;
    }
    assert_int_equal(n, 100);
    for (int k = 0; k < 100; k++) {
        assert_int_equal(v[k], k);
        assert_int_equal(cmon_sorted_find(v, n, sizeof *v, &k, cmp_int, &found), (size_t)k);
        assert_true(found);
    }
    int absent = 1000;
    assert_int_equal(cmon_sorted_find(v, n, sizeof *v, &absent, cmp_int, &found), 100);
    assert_false(found);
    absent = -1;
    assert_int_equal(cmon_sorted_find(v, n, sizeof *v, &absent, cmp_int, &found), 0);
    assert_false(found);
    free(v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_grow_doubles),
        cmocka_unit_test(test_sorted_find_insert),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
