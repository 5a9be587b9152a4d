/* fuzz_check.h: CHECK(cond) for fuzz targets that test properties: a broken
 * one aborts, which libFuzzer reports as a crash and the replay as a failure
 * (assert() would vanish under NDEBUG). */
#ifndef CMON_FUZZ_CHECK_H
#define CMON_FUZZ_CHECK_H

#include <stdio.h>
#include <stdlib.h>

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);               \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

#endif
