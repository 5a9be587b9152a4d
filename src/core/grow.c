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

size_t cmon_sorted_find(const void *items, size_t n, size_t elem, const void *key,
                        int (*cmp)(const void *key, const void *element), bool *found)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = cmp(key, (const char *)items + mid * elem);
        if (c == 0) {
            *found = true;
            return mid;
        }
        if (c > 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = false;
    return lo;
}

bool cmon_sorted_insert(void *items, size_t *n, size_t *cap, size_t at, size_t elem)
{
    if (!cmon_grow(items, cap, *n + 1, elem))
        return false;
    char *base = *(char **)items;
    memmove(base + (at + 1) * elem, base + at * elem, (*n - at) * elem);
    (*n)++;
    return true;
}
