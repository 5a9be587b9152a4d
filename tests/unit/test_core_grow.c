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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_grow_doubles),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
