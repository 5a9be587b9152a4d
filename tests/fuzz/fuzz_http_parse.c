/* fuzz_http_parse.c: libFuzzer target for what the server parses from a
 * request before any handler runs (server/http_parse.h): the input is split
 * at NUL bytes into a path, a Host, an Origin, a Content-Type and paging
 * parameters, as a client controls them all. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "server/http_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The i-th NUL-separated field of a NUL-terminated copy, or NULL. */
static const char *field(const char *buf, size_t size, int i)
{
    const char *p = buf;
    for (; i > 0; i--) {
        p += strlen(p) + 1;
        if (p >= buf + size)
            return NULL;
    }
    return p;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf = malloc(size + 1);
    if (!buf)
        return 0;
    memcpy(buf, data, size);
    buf[size] = '\0';
    const char *path = field(buf, size + 1, 0), *host = field(buf, size + 1, 1);
    const char *origin = field(buf, size + 1, 2), *ct = field(buf, size + 1, 3);
    const char *limit = field(buf, size + 1, 4), *cursor = field(buf, size + 1, 5);
    char segbuf[512];
    const char *seg[8];
    size_t n, lim, off;
    if (http_split_path(path, segbuf, sizeof segbuf, seg, 8, &n)) {
        http_pattern_match(seg, n, "connectionMonitors/*/start");
        http_pattern_match(seg, n, "tests");
    }
    http_uri_has_nul(path);
    const char *allowed[] = {"cmon.example"};
    http_host_allowed(host, true, allowed, 1);
    http_origin_matches(origin, host);
    http_content_type_is_json(ct);
    http_parse_page(limit, cursor, &lim, &off);
    int64_t t;
    cmon_parse_rfc3339(path, &t); /* the from/to time parameters */
    free(buf);
    return 0;
}
