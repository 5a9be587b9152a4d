/* http_parse.c: pure request parsing for the HTTP edge (see http_parse.h).
 * Every function takes its input as strings and writes only to buffers the
 * caller passes, so a fuzzer can feed them arbitrary bytes. */
#include "server/http_parse.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

bool http_split_path(const char *rest, char *buf, size_t cap, const char **seg, size_t max,
                     size_t *n)
{
    size_t len = strlen(rest);
    *n = 0;
    if (len && rest[len - 1] == '/')
        len--;
    if (!len || len >= cap)
        return false;
    memcpy(buf, rest, len);
    buf[len] = '\0';
    for (char *p = buf;;) {
        char *slash = strchr(p, '/');
        if (slash)
            *slash = '\0';
        if (!*p || *n == max) /* "a//b" or too deep */
            return false;
        seg[(*n)++] = p;
        if (!slash)
            return true;
        p = slash + 1;
    }
}

bool http_pattern_match(const char *const *seg, size_t n, const char *pattern)
{
    size_t i = 0;
    for (const char *p = pattern; *p; i++) {
        size_t len = strcspn(p, "/");
        if (i >= n)
            return false;
        bool star = len == 1 && p[0] == '*';
        if (!star && (strlen(seg[i]) != len || strncmp(seg[i], p, len) != 0))
            return false;
        p += len;
        if (*p == '/')
            p++;
    }
    return i == n;
}

bool http_parse_size(const char *s, size_t *out)
{
    if (!s || !isdigit((unsigned char)*s))
        return false;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (*end || errno == ERANGE || v > (unsigned long long)SIZE_MAX)
        return false;
    *out = (size_t)v;
    return true;
}

enum http_page_err http_parse_page(const char *limit, const char *cursor, size_t *lim, size_t *off)
{
    *lim = HTTP_PAGE_DEFAULT;
    *off = 0;
    if (limit && (!http_parse_size(limit, lim) || *lim < 1 || *lim > HTTP_PAGE_MAX))
        return HTTP_PAGE_BAD_LIMIT;
    if (cursor && !http_parse_size(cursor, off))
        return HTTP_PAGE_BAD_CURSOR;
    return HTTP_PAGE_OK;
}

bool http_uri_has_nul(const char *raw_uri)
{
    for (const char *p = raw_uri; p && (p = strchr(p, '%')) != NULL; p++) {
        if (p[1] == '0' && p[2] == '0')
            return true;
    }
    return false;
}

static bool parse_port(const char *s, unsigned *port)
{
    size_t v;
    if (!http_parse_size(s, &v) || v < 1 || v > 65535 || strlen(s) > 5)
        return false;
    *port = (unsigned)v;
    return true;
}

bool http_host_split(const char *host, char *name, size_t cap, unsigned *port)
{
    const char *end, *colon;
    *port = 0;
    if (!host || !*host)
        return false;
    if (host[0] == '[') {
        end = strchr(host, ']');
        if (!end || (end[1] && end[1] != ':'))
            return false;
        colon = end[1] ? end + 1 : NULL;
        host++;
    } else {
        colon = strchr(host, ':');
        if (colon && strchr(colon + 1, ':')) /* a bare IPv6 address is not a Host */
            return false;
        end = colon ? colon : host + strlen(host);
    }
    if (colon && !parse_port(colon + 1, port))
        return false;
    size_t len = (size_t)(end - host);
    if (len && host[len - 1] == '.')
        len--;
    if (!len || len >= cap)
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)host[i];
        if (!isalnum(c) && c != '.' && c != '-' && c != ':' && c != '_')
            return false;
        name[i] = (char)tolower(c);
    }
    name[len] = '\0';
    return true;
}

bool http_host_is_loopback(const char *name)
{
    size_t len = strlen(name);
    if (strcmp(name, "localhost") == 0 || (len > 10 && strcmp(name + len - 10, ".localhost") == 0))
        return true;
    struct in_addr a4;
    struct in6_addr a6;
    if (inet_pton(AF_INET, name, &a4) == 1)
        return (ntohl(a4.s_addr) >> 24) == 127;
    return inet_pton(AF_INET6, name, &a6) == 1 && IN6_IS_ADDR_LOOPBACK(&a6);
}

bool http_host_allowed(const char *host_hdr, bool loopback_ok, const char *const *allowed,
                       size_t n_allowed)
{
    char name[256];
    unsigned port;
    if (!http_host_split(host_hdr, name, sizeof name, &port))
        return false;
    if (loopback_ok && http_host_is_loopback(name))
        return true;
    for (size_t i = 0; i < n_allowed; i++) {
        if (strcasecmp(name, allowed[i]) == 0)
            return true;
    }
    return false;
}

bool http_origin_matches(const char *origin, const char *host_hdr)
{
    unsigned defport;
    if (!origin || !host_hdr)
        return false;
    if (strncasecmp(origin, "http://", 7) == 0) {
        defport = 80;
        origin += 7;
    } else if (strncasecmp(origin, "https://", 8) == 0) {
        defport = 443;
        origin += 8;
    } else {
        return false; /* "null" (sandboxed pages, file:), other schemes */
    }
    char on[256], hn[256];
    unsigned op, hp;
    if (!http_host_split(origin, on, sizeof on, &op) ||
        !http_host_split(host_hdr, hn, sizeof hn, &hp))
        return false;
    return strcmp(on, hn) == 0 && (op ? op : defport) == (hp ? hp : defport);
}

bool http_content_type_is_json(const char *ct)
{
    static const char json[] = "application/json";
    if (!ct)
        return false;
    while (*ct == ' ' || *ct == '\t')
        ct++;
    if (strncasecmp(ct, json, sizeof json - 1) != 0)
        return false;
    ct += sizeof json - 1;
    while (*ct == ' ' || *ct == '\t')
        ct++;
    return !*ct || *ct == ';';
}
