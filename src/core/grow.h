/* grow.h: the one growable array of cmon: room for one more element,
 * doubling, the way cmon_buf grows text.  Pure; the caller owns the array
 * and frees it with free(). */
#ifndef CMON_CORE_GROW_H
#define CMON_CORE_GROW_H

#include <stdbool.h>
#include <stddef.h>

/* Make *items (an array of elem-byte elements, capacity *cap) hold at least
 * need elements: doubling from 16, so n pushes cost O(n).  items is the
 * address of the array pointer (any element type).  On allocation failure
 * returns false and leaves the array and *cap as they were. */
bool cmon_grow(void *items, size_t *cap, size_t need, size_t elem);

/* Binary search of a sorted array of n elem-byte elements: the index of the
 * element cmp(key, element) calls equal (*found), or where key would be
 * inserted to keep the order. */
size_t cmon_sorted_find(const void *items, size_t n, size_t elem, const void *key,
                        int (*cmp)(const void *key, const void *element), bool *found);
/* Make room at index at of a sorted array (as cmon_grow, then the tail
 * moved up one) and count it in *n; the caller fills items[at].  False,
 * nothing changed, when out of memory. */
bool cmon_sorted_insert(void *items, size_t *n, size_t *cap, size_t at, size_t elem);

#endif
