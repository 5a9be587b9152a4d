/* test_core_hash.c: the one FNV-1a against the published 64-bit test
 * vectors, and the field separator test ids rely on. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/hash.h"

static void test_fnv1a_vectors(void **state)
{
    (void)state;
    assert_true(CMON_FNV1A_BASIS == 0xcbf29ce484222325ULL);
    assert_true(cmon_fnv1a("") == 0xcbf29ce484222325ULL);
    assert_true(cmon_fnv1a("a") == 0xaf63dc4c8601ec8cULL);
    assert_true(cmon_fnv1a("foobar") == 0x85944171f73967e8ULL);
    /* strings hashed in sequence are one string */
    assert_true(cmon_fnv1a_add(cmon_fnv1a("foo"), "bar") == cmon_fnv1a("foobar"));
}

static void test_fnv1a_fields(void **state)
{
    (void)state;
    /* a field is its bytes and then 0xff */
    assert_true(cmon_fnv1a_field(CMON_FNV1A_BASIS, "a") == cmon_fnv1a("a\xff"));
    uint64_t ab_c = cmon_fnv1a_field(cmon_fnv1a_field(CMON_FNV1A_BASIS, "ab"), "c");
    uint64_t a_bc = cmon_fnv1a_field(cmon_fnv1a_field(CMON_FNV1A_BASIS, "a"), "bc");
    assert_true(ab_c != a_bc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fnv1a_vectors),
        cmocka_unit_test(test_fnv1a_fields),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
