/* addr.c: address classification, URL splitting and listen addresses. */
#include "core/addr.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

bool cmon_hostname_valid(const char *s)
{
    size_t len = strlen(s);
    if (len == 0 || len > 253)
        return false;
    if (s[len - 1] == '.')
        len--;
    size_t label = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '.') {
            if (label == 0 || s[i - 1] == '-')
                return false;
            label = 0;
            continue;
        }
        if (!isalnum(c) && c != '-' && c != '_')
            return false;
        if (label == 0 && c == '-')
            return false;
        if (++label > 63)
            return false;
    }
    return label > 0 && s[len - 1] != '-';
}

static bool is_ipv4(const char *s)
{
    struct in_addr a;
    return inet_pton(AF_INET, s, &a) == 1;
}

static bool is_ipv6(const char *s)
{
    struct in6_addr a;
    char tmp[64];
    size_t len = strlen(s);
    if (len >= 2 && s[0] == '[' && s[len - 1] == ']') {
        if (len - 2 >= sizeof tmp)
            return false;
        memcpy(tmp, s + 1, len - 2);
        tmp[len - 2] = '\0';
        s = tmp;
    }
    return inet_pton(AF_INET6, s, &a) == 1;
}

enum cmon_addr_kind cmon_addr_classify(const char *s)
{
    if (strstr(s, "://")) {
        struct cmon_url u;
        return cmon_url_parse(s, &u, NULL) == CMON_OK ? CMON_ADDR_URL : CMON_ADDR_INVALID;
    }
    if (is_ipv4(s))
        return CMON_ADDR_IPV4;
    if (is_ipv6(s))
        return CMON_ADDR_IPV6;
    /* all-numeric dotted strings that are not IPv4 ("1.2.3", "300.1.1.1") are typos */
    bool digits_dots = true;
    for (const char *p = s; *p; p++)
        digits_dots &= isdigit((unsigned char)*p) || *p == '.';
    if (!digits_dots && cmon_hostname_valid(s))
        return CMON_ADDR_HOSTNAME;
    return CMON_ADDR_INVALID;
}

enum cmon_err cmon_url_parse(const char *s, struct cmon_url *u, struct cmon_errbuf *eb)
{
    memset(u, 0, sizeof *u);
    const char *sep = strstr(s, "://");
    if (!sep)
        return cmon_fail(eb, CMON_ERR_PARSE, "not a URL (no scheme://)");
    size_t slen = (size_t)(sep - s);
    if (slen == 4 && strncasecmp(s, "http", 4) == 0)
        strcpy(u->scheme, "http");
    else if (slen == 5 && strncasecmp(s, "https", 5) == 0)
        strcpy(u->scheme, "https");
    else
        return cmon_fail(eb, CMON_ERR_PARSE, "scheme must be http or https");
    const char *h = sep + 3;
    const char *end = h + strcspn(h, "/?#");
    if (end - h == 0)
        return cmon_fail(eb, CMON_ERR_PARSE, "URL has no host");
    if (memchr(h, '@', (size_t)(end - h)))
        return cmon_fail(eb, CMON_ERR_PARSE, "URL must not carry user credentials");
    const char *port = NULL, *hend = end;
    if (*h == '[') {
        const char *rb = memchr(h, ']', (size_t)(end - h));
        if (!rb)
            return cmon_fail(eb, CMON_ERR_PARSE, "unclosed '[' in URL host");
        if (rb + 1 < end) {
            if (rb[1] != ':')
                return cmon_fail(eb, CMON_ERR_PARSE, "junk after ']' in URL host");
            port = rb + 2;
        }
        h++;
        hend = rb;
    } else {
        const char *colon = memchr(h, ':', (size_t)(end - h));
        if (colon) {
            port = colon + 1;
            hend = colon;
        }
    }
    size_t hlen = (size_t)(hend - h);
    if (hlen == 0 || hlen >= sizeof u->host)
        return cmon_fail(eb, CMON_ERR_PARSE, "URL host is empty or too long");
    memcpy(u->host, h, hlen);
    u->host[hlen] = '\0';
    if (port) {
        if (port == end)
            return cmon_fail(eb, CMON_ERR_PARSE, "URL port is empty");
        long v = 0;
        for (const char *p = port; p < end; p++) {
            if (!isdigit((unsigned char)*p))
                return cmon_fail(eb, CMON_ERR_PARSE, "URL port is not a number");
            v = v * 10 + (*p - '0');
            if (v > 65535)
                break;
        }
        if (v < 1 || v > 65535)
            return cmon_fail(eb, CMON_ERR_PARSE, "URL port must be 1-65535");
        u->port = (int)v;
    }
    bool bracketed = *(sep + 3) == '[';
    if (bracketed ? !is_ipv6(u->host) : !(is_ipv4(u->host) || cmon_hostname_valid(u->host)))
        return cmon_fail(eb, CMON_ERR_PARSE, "URL host \"%s\" is not a valid host name or address",
                         u->host);
    const char *frag = strchr(end, '#');
    size_t plen = frag ? (size_t)(frag - end) : strlen(end);
    if (plen >= sizeof u->path)
        return cmon_fail(eb, CMON_ERR_PARSE, "URL path is too long");
    for (size_t i = 0; i < plen; i++) {
        if ((unsigned char)end[i] <= ' ')
            return cmon_fail(eb, CMON_ERR_PARSE, "URL contains a space or control character");
    }
    memcpy(u->path, end, plen);
    u->path[plen] = '\0';
    return CMON_OK;
}

bool cmon_addr_host(const char *s, char *out, size_t outlen)
{
    const char *h = s;
    size_t len = strlen(s);
    struct cmon_url u;
    switch (cmon_addr_classify(s)) {
    case CMON_ADDR_URL:
        cmon_url_parse(s, &u, NULL);
        h = u.host;
        len = strlen(h);
        break;
    case CMON_ADDR_IPV6:
        if (s[0] == '[') {
            h = s + 1;
            len -= 2;
        }
        break;
    case CMON_ADDR_IPV4:
    case CMON_ADDR_HOSTNAME:
        break;
    default:
        return false;
    }
    if (len >= outlen)
        return false;
    memcpy(out, h, len);
    out[len] = '\0';
    return true;
}

/* Port and host of "HOST:PORT", "[V6]:PORT" or ":PORT" into la. */
static enum cmon_err split_listen(const char *s, struct cmon_listen *la, struct cmon_errbuf *eb)
{
    const char *colon = strrchr(s, ':');
    char *end = NULL;
    long port = colon ? strtol(colon + 1, &end, 10) : 0;
    if (!colon || !colon[1] || *end || port < 1 || port > 65535)
        return cmon_fail(eb, CMON_ERR_INVALID, "listen address '%s' is not HOST:PORT or :PORT", s);
    la->port = (int)port;
    size_t hl = (size_t)(colon - s);
    const char *h = s;
    if (hl >= 2 && h[0] == '[' && h[hl - 1] == ']') {
        h++;
        hl -= 2;
    }
    if (hl >= sizeof la->host)
        return cmon_fail(eb, CMON_ERR_INVALID, "listen address '%s' is too long", s);
    memcpy(la->host, h, hl);
    la->host[hl] = '\0';
    la->any = hl == 0;
    return CMON_OK;
}

enum cmon_err cmon_listen_parse(const char *s, struct cmon_listen *la, struct cmon_errbuf *eb)
{
    memset(la, 0, sizeof *la);
    enum cmon_err err = split_listen(s, la, eb);
    if (err)
        return err;
    char port[8];
    snprintf(port, sizeof port, "%d", la->port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE},
                    *ai;
    int rc = getaddrinfo(la->any ? "0.0.0.0" : la->host, port, &hints, &ai);
    if (rc != 0)
        return cmon_fail(eb, CMON_ERR_INVALID, "listen address '%s': %s", la->host,
                         gai_strerror(rc));
    memcpy(&la->sa, ai->ai_addr, ai->ai_addrlen);
    la->len = ai->ai_addrlen;
    freeaddrinfo(ai);
    if (la->sa.ss_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)&la->sa;
        la->loopback = (ntohl(in->sin_addr.s_addr) >> 24) == 127;
    } else {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&la->sa;
        la->loopback = IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr);
    }
    return CMON_OK;
}

bool cmon_cidr_parse(const char *s, struct cmon_cidr *out)
{
    char buf[64];
    const char *slash = strchr(s, '/');
    size_t n = slash ? (size_t)(slash - s) : strlen(s);
    if (n == 0 || n >= sizeof buf)
        return false;
    memcpy(buf, s, n);
    buf[n] = '\0';
    memset(out, 0, sizeof *out);
    out->family = strchr(buf, ':') ? AF_INET6 : AF_INET;
    if (inet_pton(out->family, buf, out->addr) != 1)
        return false;
    int max = out->family == AF_INET ? 32 : 128;
    out->prefix = max;
    if (slash) {
        char *end;
        long p = strtol(slash + 1, &end, 10);
        if (!slash[1] || *end || p < 0 || p > max)
            return false;
        out->prefix = (int)p;
    }
    return true;
}

bool cmon_cidr_has(const struct cmon_cidr *c, const char *addr)
{
    unsigned char a[16];
    if (!addr || inet_pton(c->family, addr, a) != 1)
        return false;
    int full = c->prefix / 8, rest = c->prefix % 8;
    if (memcmp(a, c->addr, (size_t)full) != 0)
        return false;
    unsigned char mask = (unsigned char)(0xff << (8 - rest));
    return rest == 0 || (a[full] & mask) == (c->addr[full] & mask);
}
