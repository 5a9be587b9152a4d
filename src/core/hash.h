/* hash.h: the one FNV-1a (64-bit) of cmon.  Test ids are built on it and
 * stored, so its output must never change; hash tables, phases and ETags
 * use it because one hash is easier to trust than five.  Pure, thread-safe;
 * nothing allocated. */
#ifndef CMON_CORE_HASH_H
#define CMON_CORE_HASH_H

#include <stdint.h>

/* The FNV-1a 64-bit offset basis (0xcbf29ce484222325). */
#define CMON_FNV1A_BASIS 14695981039346656037ULL

/* Fold the bytes of s (up to its NUL) into h: start from CMON_FNV1A_BASIS,
 * or from a previous result to hash several strings in sequence. */
uint64_t cmon_fnv1a_add(uint64_t h, const char *s);
/* cmon_fnv1a_add, then a 0xff byte no UTF-8 text contains, so a list of
 * fields hashes apart from the same bytes split another way:
 * ("ab","c") != ("a","bc"). */
uint64_t cmon_fnv1a_field(uint64_t h, const char *s);
/* FNV-1a of one string. */
uint64_t cmon_fnv1a(const char *s);

#endif
