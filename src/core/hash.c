/* hash.c: FNV-1a 64 (see hash.h). */
#include "core/hash.h"

#define FNV1A_PRIME 1099511628211ULL

static uint64_t fnv1a_byte(uint64_t h, unsigned char b)
{
    return (h ^ b) * FNV1A_PRIME;
}

uint64_t cmon_fnv1a_add(uint64_t h, const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        h = fnv1a_byte(h, *p);
    return h;
}

uint64_t cmon_fnv1a_field(uint64_t h, const char *s)
{
    return fnv1a_byte(cmon_fnv1a_add(h, s), 0xff);
}

uint64_t cmon_fnv1a(const char *s)
{
    return cmon_fnv1a_add(CMON_FNV1A_BASIS, s);
}
