/* addr.h: classify destination addresses (IPv4, IPv6, host name, URL),
 * split http(s) URLs, and parse the listen address of the server and the
 * exporter.  Pure (no DNS, no I/O) except cmon_listen_parse, which resolves
 * the listen host with getaddrinfo. */
#ifndef CMON_CORE_ADDR_H
#define CMON_CORE_ADDR_H

#include <stdbool.h>
#include <sys/socket.h>

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

/* A listen address: "127.0.0.1:8080", "[::1]:8080", "localhost:8080", or
 * ":8080" (every address: any is set, sa holds 0.0.0.0 for those that
 * bind IPv4 only). */
struct cmon_listen {
    struct sockaddr_storage sa;
    socklen_t len;
    bool any;      /* ":PORT" */
    bool loopback; /* sa is 127.0.0.0/8 or ::1 */
    char host[128]; /* without brackets, "" for ":PORT" */
    int port;
};
/* Parse and resolve a listen address; errors name it and what is wrong. */
enum cmon_err cmon_listen_parse(const char *s, struct cmon_listen *la, struct cmon_errbuf *eb);

/* An address range: "10.1.0.0/16", "2001:db8::/32", or one address (a
 * full-length prefix). */
struct cmon_cidr {
    int family; /* AF_INET or AF_INET6 */
    unsigned char addr[16];
    int prefix;
};
bool cmon_cidr_parse(const char *s, struct cmon_cidr *out);
/* Whether the IP literal addr lies inside c (false for anything else). */
bool cmon_cidr_has(const struct cmon_cidr *c, const char *addr);

#endif
