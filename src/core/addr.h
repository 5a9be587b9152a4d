/* addr.h: classify destination addresses (IPv4, IPv6, host name, URL) and
 * split http(s) URLs.  Pure: no DNS, no I/O. */
#ifndef CMON_CORE_ADDR_H
#define CMON_CORE_ADDR_H

#include <stdbool.h>

#include "core/err.h"

enum cmon_addr_kind {
    CMON_ADDR_INVALID = -1,
    CMON_ADDR_IPV4,
    CMON_ADDR_IPV6,
    CMON_ADDR_HOSTNAME,
    CMON_ADDR_URL,
};

struct cmon_url {
    char scheme[8];     /* "http" or "https" */
    char host[256];     /* without brackets for IPv6 literals */
    int port;           /* 0 when not given */
    char path[2048];    /* path + query, "" when not given */
};

/* RFC 1123 host name: dot-separated labels of [A-Za-z0-9_-], 1-63 chars each,
 * not starting or ending with '-', 253 chars at most, optional final dot. */
bool cmon_hostname_valid(const char *s);
/* What s is; an IPv6 literal may be written with brackets. */
enum cmon_addr_kind cmon_addr_classify(const char *s);
/* Split an http:// or https:// URL.  Errors say what is wrong. */
enum cmon_err cmon_url_parse(const char *s, struct cmon_url *u, struct cmon_errbuf *eb);
/* Host part of any address: the URL's host, or the address without brackets.
 * Writes at most outlen bytes; false when s is not a valid address. */
bool cmon_addr_host(const char *s, char *out, size_t outlen);

#endif
