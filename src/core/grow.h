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

#endif
