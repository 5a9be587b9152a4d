/* http_parse.h: the pure parsing the server does on a request before any
 * handler runs -- path segments and route patterns, the list paging
 * parameters, the open-mode Host/Origin/Content-Type rules (DESIGN 9) and
 * the raw-URI NUL check.  No I/O, no allocation, no state: the caller owns
 * every buffer, so these functions are unit-tested and fuzzed directly.
 * Threads: all reentrant. */
#ifndef CMON_SERVER_HTTP_PARSE_H
#define CMON_SERVER_HTTP_PARSE_H

#include <stdbool.h>
#include <stddef.h>

/* Split "a/b/c" (one trailing '/' allowed) into seg[] pointing into buf (a
 * copy); false when empty, deeper than max, too long or with an empty
 * segment ("a//b"). */
bool http_split_path(const char *rest, char *buf, size_t cap, const char **seg, size_t max,
                     size_t *n);
/* Whether the segments match a pattern like "tests/x/paths" with '*' for
 * exactly one segment. */
bool http_pattern_match(const char *const *seg, size_t n, const char *pattern);

/* A decimal size without sign or junk; false otherwise (or on overflow). */
bool http_parse_size(const char *s, size_t *out);

enum http_page_err { HTTP_PAGE_OK, HTTP_PAGE_BAD_LIMIT, HTTP_PAGE_BAD_CURSOR };
#define HTTP_PAGE_DEFAULT 100
#define HTTP_PAGE_MAX 1000
/* ?limit= (1..1000, default 100) and ?cursor= (an offset); either may be NULL. */
enum http_page_err http_parse_page(const char *limit, const char *cursor, size_t *lim, size_t *off);

/* True when the raw (still escaped) URI holds "%00": MHD unescapes into a
 * C string, so a NUL would silently cut the path ("/ui/app.js%00.html"). */
bool http_uri_has_nul(const char *raw_uri);

/* "name", "name:port", "[v6]:port" -> the name (lower-cased, brackets and
 * one trailing dot dropped) and the port (0 when absent); false when
 * malformed. */
bool http_host_split(const char *host, char *name, size_t cap, unsigned *port);
/* localhost, *.localhost, 127.0.0.0/8 as a dotted quad, or ::1. */
bool http_host_is_loopback(const char *name);
/* The Host header's name is loopback or one of allowed[] (case-insensitive). */
bool http_host_allowed(const char *host_hdr, bool loopback_ok, const char *const *allowed,
                       size_t n_allowed);
/* An Origin header ("http"/"https") names the host and port of the Host
 * header; missing ports are the Origin scheme's default.  Either scheme: a
 * TLS proxy in front (docs/deploy) turns https://name into Host: name. */
bool http_origin_matches(const char *origin, const char *host_hdr);
/* "application/json", any case, parameters allowed ("; charset=utf-8"). */
bool http_content_type_is_json(const char *ct);

#endif
