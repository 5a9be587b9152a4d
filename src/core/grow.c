/* grow.c: doubling arrays (see grow.h). */
#include "core/grow.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define GROW_FIRST_CAP 16

bool cmon_grow(void *items, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return true;
    size_t n = *cap ? *cap : GROW_FIRST_CAP;
    while (n < need) {
        if (n > SIZE_MAX / 2)
            return false;
        n *= 2;
    }
    if (elem && n > SIZE_MAX / elem)
        return false;
    /* through memcpy: items may point at any object pointer type */
    void *old;
    memcpy(&old, items, sizeof old);
    void *p = realloc(old, n * elem);
    if (!p)
        return false;
    memcpy(items, &p, sizeof p);
    *cap = n;
    return true;
}
