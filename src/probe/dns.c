/* dns.c: c-ares on the engine's libuv loop.  c-ares tells us which sockets to
 * watch (sock_state_cb -> one uv_poll each) and when to wake (ares_timeout ->
 * one uv_timer).  Answers are cached per host for the smallest TTL of the
 * answer; failures are not cached, so a fixed name is seen at the next check.
 * Each lookup asks A and AAAA at once, and concurrent lookups of one name
 * share it; the family choice happens here. */
#include "probe/dns.h"

#include <ares.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/clock.h"

#define DNS_CACHE_BUCKETS 1024
#define DNS_CACHE_MAX 65536
#define DNS_DEFAULT_TIMEOUT_MS 2000

struct dns_cache_entry {
    struct dns_cache_entry *next;
    int64_t expires_ns;
    bool has_v4, has_v6;
    struct sockaddr_in v4;
    struct sockaddr_in6 v6;
    char host[];
};

struct dns_poll {
    struct dns_poll *next;
    struct probe_dns *dns;
    struct probe_engine *eng; /* the close callback may run after dns is freed */
    uv_poll_t poll;
    ares_socket_t fd;
    int events;
};

struct probe_dns {
    struct probe_engine *eng;
    ares_channel ch;
    uv_timer_t timer;
    struct dns_poll *polls;
    struct dns_cache_entry *cache[DNS_CACHE_BUCKETS];
    size_t cache_n;
    struct dns_lookup *inflight[DNS_CACHE_BUCKETS];
    bool closing;
};

/* Checks waiting for one name: concurrent lookups of a name share one query. */
struct dns_waiter {
    struct dns_waiter *next;
    probe_dns_cb cb;
    void *arg;
    enum cmon_ip_pref pref;
    bool strict;
};

struct dns_lookup {
    struct dns_lookup *next; /* in flight, same bucket */
    struct probe_dns *dns;
    struct dns_waiter *waiters, **tail;
    char host[];
};

static uint32_t host_hash(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (uint8_t)(*s | 0x20)) * 16777619u; /* DNS names are case-insensitive */
    return h % DNS_CACHE_BUCKETS;
}

static void dns_timer_cb(uv_timer_t *t);

static void dns_timer_update(struct probe_dns *dns)
{
    struct timeval tv, *tvp = ares_timeout(dns->ch, NULL, &tv);
    if (!tvp) {
        uv_timer_stop(&dns->timer);
        return;
    }
    uint64_t ms = (uint64_t)tvp->tv_sec * 1000 + (uint64_t)(tvp->tv_usec + 999) / 1000;
    uv_timer_start(&dns->timer, dns_timer_cb, ms, 0);
}

static void dns_timer_cb(uv_timer_t *t)
{
    struct probe_dns *dns = t->data;
    ares_process_fd(dns->ch, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
    dns_timer_update(dns);
}

static struct dns_poll *poll_find(struct probe_dns *dns, ares_socket_t fd, struct dns_poll ***link)
{
    struct dns_poll **pp = &dns->polls;
    for (; *pp; pp = &(*pp)->next) {
        if ((*pp)->fd == fd) {
            if (link)
                *link = pp;
            return *pp;
        }
    }
    return NULL;
}

static void poll_closed(uv_handle_t *h)
{
    struct dns_poll *p = h->data;
    struct probe_engine *eng = p->eng;
    free(p);
    probe_handle_closed(eng);
}

static void poll_cb(uv_poll_t *h, int status, int events)
{
    struct dns_poll *p = h->data;
    struct probe_dns *dns = p->dns;
    ares_socket_t fd = p->fd;
    if (status < 0) /* POLLERR: let c-ares read the error and decide */
        ares_process_fd(dns->ch, fd, ARES_SOCKET_BAD);
    else
        ares_process_fd(dns->ch, (events & UV_READABLE) ? fd : ARES_SOCKET_BAD,
                        (events & UV_WRITABLE) ? fd : ARES_SOCKET_BAD);
    /* libuv stops a poll handle on POLLERR; c-ares may keep the socket. */
    p = poll_find(dns, fd, NULL);
    if (p && !uv_is_active((uv_handle_t *)&p->poll))
        uv_poll_start(&p->poll, p->events, poll_cb);
    dns_timer_update(dns);
}

static void sock_state_cb(void *data, ares_socket_t fd, int readable, int writable)
{
    struct probe_dns *dns = data;
    struct dns_poll **link = NULL, *p = poll_find(dns, fd, &link);
    if (!readable && !writable) {
        if (p) {
            *link = p->next;
            uv_close((uv_handle_t *)&p->poll, poll_closed);
        }
        return;
    }
    if (!p) {
        p = calloc(1, sizeof *p);
        if (!p)
            return; /* the query times out; nothing better to do without memory */
        p->dns = dns;
        p->eng = dns->eng;
        p->fd = fd;
        if (uv_poll_init_socket(dns->eng->loop, &p->poll, fd) != 0) {
            free(p);
            return;
        }
        p->poll.data = p;
        probe_handle_opened(dns->eng);
        p->next = dns->polls;
        dns->polls = p;
    }
    p->events = (readable ? UV_READABLE : 0) | (writable ? UV_WRITABLE : 0);
    uv_poll_start(&p->poll, p->events, poll_cb);
}

static int server_count(ares_channel ch)
{
    struct ares_addr_node *servers = NULL;
    int n = 0;
    if (ares_get_servers(ch, &servers) != ARES_SUCCESS)
        return -1;
    for (const struct ares_addr_node *s = servers; s; s = s->next)
        n++;
    ares_free_data(servers);
    return n;
}

/* c-ares 1.18 skips a server that answers SERVFAIL, REFUSED or NOTIMP and,
 * when none is left, ends the lookup with ARES_ECONNREFUSED, so the reason
 * could not say what the server answered.  With one server there is nothing
 * to fail over to: the channel is reopened with ARES_FLAG_NOCHECKRESP and
 * the answer's code comes back (ARES_ESERVFAIL, ARES_EREFUSED).  With
 * several, failing over is worth more than the exact code. */
static int channel_open(ares_channel *ch, struct ares_options *o, int mask)
{
    int rc = ares_init_options(ch, o, mask);
    if (rc != ARES_SUCCESS || server_count(*ch) != 1)
        return rc;
    ares_destroy(*ch);
    o->flags |= ARES_FLAG_NOCHECKRESP;
    return ares_init_options(ch, o, mask | ARES_OPT_FLAGS);
}

enum cmon_err probe_dns_new(struct probe_engine *eng, struct cmon_errbuf *eb)
{
    struct probe_dns *dns = calloc(1, sizeof *dns);
    if (!dns)
        return cmon_fail(eb, CMON_ERR_NOMEM, "dns: out of memory");
    dns->eng = eng;
    int timeout = eng->opts.dns_timeout_ms > 0 ? eng->opts.dns_timeout_ms : DNS_DEFAULT_TIMEOUT_MS;
    /* Two tries per server; c-ares doubles the second one, so the pair fits
     * in about the configured timeout. */
    struct ares_options o = {0};
    int mask = ARES_OPT_SOCK_STATE_CB | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES;
    o.sock_state_cb = sock_state_cb;
    o.sock_state_cb_data = dns;
    o.timeout = timeout / 3 > 0 ? timeout / 3 : 1;
    o.tries = 2;
    if (eng->opts.resolv_conf) {
        mask |= ARES_OPT_RESOLVCONF;
        o.resolvconf_path = (char *)eng->opts.resolv_conf;
    }
    ares_library_init(ARES_LIB_INIT_ALL);
    int rc = channel_open(&dns->ch, &o, mask);
    if (rc != ARES_SUCCESS) {
        ares_library_cleanup();
        free(dns);
        return cmon_fail(eb, CMON_ERR_IO, "dns: cannot initialise c-ares (%s): %s",
                         eng->opts.resolv_conf ? eng->opts.resolv_conf : "/etc/resolv.conf",
                         ares_strerror(rc));
    }
    uv_timer_init(eng->loop, &dns->timer);
    dns->timer.data = dns;
    probe_handle_opened(eng);
    eng->dns = dns;
    return CMON_OK;
}

static void cache_clear(struct probe_dns *dns)
{
    for (size_t i = 0; i < DNS_CACHE_BUCKETS; i++) {
        struct dns_cache_entry *e = dns->cache[i], *next;
        for (; e; e = next) {
            next = e->next;
            free(e);
        }
        dns->cache[i] = NULL;
    }
    dns->cache_n = 0;
}

static void dns_timer_closed(uv_handle_t *h)
{
    struct probe_dns *dns = h->data;
    struct probe_engine *eng = dns->eng;
    free(dns);
    probe_handle_closed(eng);
}

void probe_dns_close(struct probe_engine *eng)
{
    struct probe_dns *dns = eng->dns;
    if (!dns)
        return;
    dns->closing = true;
    ares_cancel(dns->ch);
    ares_destroy(dns->ch); /* closes its sockets through sock_state_cb */
    ares_library_cleanup();
    while (dns->polls) {
        struct dns_poll *p = dns->polls;
        dns->polls = p->next;
        uv_close((uv_handle_t *)&p->poll, poll_closed);
    }
    cache_clear(dns);
    eng->dns = NULL;
    uv_close((uv_handle_t *)&dns->timer, dns_timer_closed);
}

static bool entry_pick(const struct dns_cache_entry *e, enum cmon_ip_pref pref, bool strict,
                       struct sockaddr_storage *out, socklen_t *outlen)
{
    bool want6 = pref == CMON_IP_V6;
    bool ok6 = e->has_v6 && (pref != CMON_IP_V4 || !strict);
    bool ok4 = e->has_v4 && (pref != CMON_IP_V6 || !strict);
    if (ok6 && (want6 || !ok4)) {
        memcpy(out, &e->v6, sizeof e->v6);
        *outlen = sizeof e->v6;
        return true;
    }
    if (ok4) {
        memcpy(out, &e->v4, sizeof e->v4);
        *outlen = sizeof e->v4;
        return true;
    }
    return false;
}

static struct dns_cache_entry *cache_find(struct probe_dns *dns, const char *host)
{
    struct dns_cache_entry **pp = &dns->cache[host_hash(host)];
    int64_t now = cmon_mono_ns();
    while (*pp) {
        struct dns_cache_entry *e = *pp;
        if (e->expires_ns <= now) { /* drop expired entries on the way */
            *pp = e->next;
            free(e);
            dns->cache_n--;
            continue;
        }
        if (strcasecmp(e->host, host) == 0)
            return e;
        pp = &e->next;
    }
    return NULL;
}

bool probe_dns_cached(struct probe_engine *eng, const char *host, enum cmon_ip_pref pref,
                      bool strict, struct sockaddr_storage *out, socklen_t *outlen)
{
    if (!eng->dns)
        return false;
    struct dns_cache_entry *e = cache_find(eng->dns, host);
    return e && entry_pick(e, pref, strict, out, outlen);
}

/* Build an entry (first address of each family, smallest TTL) from an answer. */
static struct dns_cache_entry *entry_from(const char *host, const struct ares_addrinfo *ai,
                                          int *min_ttl)
{
    size_t hl = strlen(host);
    struct dns_cache_entry *e = calloc(1, sizeof *e + hl + 1);
    if (!e)
        return NULL;
    memcpy(e->host, host, hl + 1);
    *min_ttl = -1;
    for (const struct ares_addrinfo_node *n = ai ? ai->nodes : NULL; n; n = n->ai_next) {
        if (n->ai_family == AF_INET && !e->has_v4 && n->ai_addrlen >= sizeof e->v4) {
            memcpy(&e->v4, n->ai_addr, sizeof e->v4);
            e->has_v4 = true;
        } else if (n->ai_family == AF_INET6 && !e->has_v6 && n->ai_addrlen >= sizeof e->v6) {
            memcpy(&e->v6, n->ai_addr, sizeof e->v6);
            e->has_v6 = true;
        } else {
            continue;
        }
        if (*min_ttl < 0 || n->ai_ttl < *min_ttl)
            *min_ttl = n->ai_ttl;
    }
    return e;
}

static void cache_insert(struct probe_dns *dns, struct dns_cache_entry *e, int ttl)
{
    if (ttl <= 0 || dns->closing) {
        free(e);
        return;
    }
    if (dns->cache_n >= DNS_CACHE_MAX)
        cache_clear(dns); /* crude but bounded; a full cache refills within one TTL */
    struct dns_cache_entry *old = cache_find(dns, e->host);
    if (old) /* keep one entry per host: expire the old one now */
        old->expires_ns = 0;
    e->expires_ns = cmon_mono_ns() + (int64_t)ttl * CMON_NS_PER_SEC;
    uint32_t b = host_hash(e->host);
    e->next = dns->cache[b];
    dns->cache[b] = e;
    dns->cache_n++;
}

static void inflight_unlink(struct probe_dns *dns, struct dns_lookup *l)
{
    struct dns_lookup **pp = &dns->inflight[host_hash(l->host)];
    while (*pp && *pp != l)
        pp = &(*pp)->next;
    if (*pp)
        *pp = l->next;
}

static void answer_waiters(struct dns_lookup *l, int status, const struct dns_cache_entry *e)
{
    struct dns_waiter *w = l->waiters, *next;
    for (; w; w = next) {
        next = w->next;
        struct sockaddr_storage ss;
        socklen_t sl = 0;
        int st = status;
        if (st == ARES_SUCCESS && !entry_pick(e, w->pref, w->strict, &ss, &sl))
            st = ARES_ENODATA;
        w->cb(w->arg, st, st == ARES_SUCCESS ? (struct sockaddr *)&ss : NULL, sl);
        free(w);
    }
}

static void gai_cb(void *arg, int status, int timeouts, struct ares_addrinfo *res)
{
    struct dns_lookup *l = arg;
    struct probe_dns *dns = l->dns;
    struct dns_cache_entry *e = NULL;
    int ttl = 0;
    inflight_unlink(dns, l); /* new lookups of this name from the callbacks start afresh */
    if (status == ARES_EDESTRUCTION)
        status = ARES_ECANCELLED;
    if (status == ARES_SUCCESS && !(e = entry_from(l->host, res, &ttl)))
        status = ARES_ENOMEM;
    if (res)
        ares_freeaddrinfo(res);
    answer_waiters(l, status, e);
    if (e)
        cache_insert(dns, e, ttl);
    free(l);
}

static struct dns_lookup *inflight_find(struct probe_dns *dns, const char *host)
{
    for (struct dns_lookup *l = dns->inflight[host_hash(host)]; l; l = l->next) {
        if (strcasecmp(l->host, host) == 0)
            return l;
    }
    return NULL;
}

void probe_dns_resolve(struct probe_engine *eng, const char *host, enum cmon_ip_pref pref,
                       bool strict, probe_dns_cb cb, void *arg)
{
    struct probe_dns *dns = eng->dns;
    struct dns_waiter *w = calloc(1, sizeof *w);
    struct dns_lookup *l = inflight_find(dns, host);
    bool fresh = !l;
    size_t hl = strlen(host);
    if (fresh && w && (l = calloc(1, sizeof *l + hl + 1))) {
        l->dns = dns;
        l->tail = &l->waiters;
        memcpy(l->host, host, hl + 1);
    }
    if (!w || !l) {
        free(w);
        cb(arg, ARES_ENOMEM, NULL, 0);
        return;
    }
    *w = (struct dns_waiter){.cb = cb, .arg = arg, .pref = pref, .strict = strict};
    *l->tail = w;
    l->tail = &w->next;
    if (!fresh)
        return; /* the query in flight answers this one too */
    uint32_t b = host_hash(host);
    l->next = dns->inflight[b];
    dns->inflight[b] = l;
    struct ares_addrinfo_hints hints = {.ai_family = AF_UNSPEC, .ai_flags = ARES_AI_NOSORT};
    ares_getaddrinfo(dns->ch, host, NULL, &hints, gai_cb, l);
    dns_timer_update(dns);
}

struct dns_reverse {
    probe_dns_name_cb cb;
    void *arg;
};

static void nameinfo_cb(void *arg, int status, int timeouts, char *node, char *service)
{
    (void)timeouts;
    (void)service;
    struct dns_reverse *r = arg;
    r->cb(r->arg, status == ARES_SUCCESS && node && *node ? node : NULL);
    free(r);
}

void probe_dns_reverse(struct probe_engine *eng, const struct sockaddr *sa, socklen_t salen,
                       probe_dns_name_cb cb, void *arg)
{
    struct dns_reverse *r = calloc(1, sizeof *r);
    if (!r) {
        cb(arg, NULL);
        return;
    }
    r->cb = cb;
    r->arg = arg;
    ares_getnameinfo(eng->dns->ch, sa, (ares_socklen_t)salen, ARES_NI_LOOKUPHOST | ARES_NI_NAMEREQD,
                     nameinfo_cb, r);
    dns_timer_update(eng->dns);
}
