/* dns_probe.c: one DNS query to one server (see dns_probe.h).  A connected
 * UDP socket, so an ICMP port-unreachable comes back as ECONNREFUSED on the
 * socket (connection_refused) instead of a silent timeout; replies from
 * elsewhere or with another id are dropped.  Only the 12-byte header is read:
 * blackbox's metrics need the rcode and the section counts. */
#include <arpa/nameser.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <ares.h>

#include "core/clock.h"
#include "exporter/dns_probe.h"
#include "probe/diagnostics.h"

struct exp_dns_probe {
    uv_udp_t udp;
    uv_timer_t timer;
    uv_udp_send_t send_req;
    int open_handles;
    unsigned char *query;
    int qlen;
    uint16_t id;
    int64_t sent_ns;
    bool finished;
    exp_dns_cb cb;
    void *arg;
    struct probe_check_result res;
    struct exp_dns_answer ans;
    char reply[512];
    struct exp_dns_probe **list, *next, **pprev;
};

static void handle_closed(uv_handle_t *h)
{
    struct exp_dns_probe *p = h->data;
    if (--p->open_handles == 0) {
        ares_free_string(p->query);
        free(p);
    }
}

static void finish(struct exp_dns_probe *p)
{
    if (p->finished)
        return;
    p->finished = true;
    uv_timer_stop(&p->timer);
    uv_udp_recv_stop(&p->udp);
    if (p->next)
        p->next->pprev = p->pprev;
    *p->pprev = p->next;
    p->cb(p->arg, &p->res, &p->ans);
    uv_close((uv_handle_t *)&p->udp, handle_closed);
    uv_close((uv_handle_t *)&p->timer, handle_closed);
}

static void fail(struct exp_dns_probe *p, enum cmon_diag d, const char *detail)
{
    p->res.ok = false;
    p->res.diag = d;
    snprintf(p->res.detail, sizeof p->res.detail, "%s", detail);
    finish(p);
}

static void on_timeout(uv_timer_t *t)
{
    fail(t->data, CMON_DIAG_DNS_TIMEOUT, "no answer from the DNS server");
}

/* Only the header is read; a longer reply is truncated, which is fine. */
static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct exp_dns_probe *p = h->data;
    *buf = uv_buf_init(p->reply, sizeof p->reply);
}

static int u16(const char *b)
{
    return ((unsigned char)b[0] << 8) | (unsigned char)b[1];
}

static void on_recv(uv_udp_t *h, ssize_t n, const uv_buf_t *buf, const struct sockaddr *from,
                    unsigned flags)
{
    struct exp_dns_probe *p = h->data;
    if (n < 0) {
        char why[64];
        snprintf(why, sizeof why, "errno %d (%s)", (int)-n, uv_strerror((int)n));
        fail(p, probe_diag_map(PROBE_DIAG_ERRNO, (int)-n), why);
        return;
    }
    /* too short, not ours, or not a response: keep waiting */
    if (n < 12 || u16(buf->base) != p->id || !((unsigned char)buf->base[2] & 0x80))
        return;
    p->res.rtt_ms = (double)(cmon_mono_ns() - p->sent_ns) / CMON_NS_PER_MS;
    p->res.first_byte_ms = p->res.rtt_ms;
    p->ans = (struct exp_dns_answer){.got = true,
                                     .rcode = buf->base[3] & 0x0f,
                                     .answers = u16(buf->base + 6),
                                     .authority = u16(buf->base + 8),
                                     .additional = u16(buf->base + 10)};
    p->res.ok = true;
    finish(p);
}

static void on_sent(uv_udp_send_t *req, int status)
{
    struct exp_dns_probe *p = req->data;
    if (status < 0 && status != UV_ECANCELED) {
        char why[64];
        snprintf(why, sizeof why, "send: %s", uv_strerror(status));
        fail(p, probe_diag_map(PROBE_DIAG_ERRNO, -status), why);
    }
}

static enum cmon_err open_socket(uv_loop_t *loop, struct exp_dns_probe *p,
                                 const struct sockaddr *server, struct cmon_errbuf *eb)
{
    uv_udp_init(loop, &p->udp);
    uv_timer_init(loop, &p->timer);
    p->udp.data = p->timer.data = p->send_req.data = p;
    p->open_handles = 2;
    int rc = uv_udp_connect(&p->udp, server);
    if (rc == 0)
        rc = uv_udp_recv_start(&p->udp, on_alloc, on_recv);
    if (rc != 0)
        return cmon_fail(eb, CMON_ERR_IO, "DNS probe socket: %s", uv_strerror(rc));
    return CMON_OK;
}

enum cmon_err exp_dns_probe_start(uv_loop_t *loop, struct exp_dns_probe **list,
                                  const struct sockaddr *server, const char *name, int qtype,
                                  bool rd, uint32_t timeout_ms, exp_dns_cb cb, void *arg,
                                  struct cmon_errbuf *eb)
{
    struct exp_dns_probe *p = calloc(1, sizeof *p);
    if (!p)
        return cmon_fail(eb, CMON_ERR_NOMEM, "out of memory");
    p->id = (uint16_t)(cmon_mono_ns() ^ (uintptr_t)p);
    if (ares_create_query(name, ns_c_in, qtype, p->id, rd, &p->query, &p->qlen, 0) !=
        ARES_SUCCESS) {
        free(p);
        return cmon_fail(eb, CMON_ERR_INVALID, "cannot build a DNS query for '%s'", name);
    }
    p->cb = cb;
    p->arg = arg;
    p->res.dns_ms = p->res.connect_ms = p->res.tls_ms = p->res.first_byte_ms = -1;
    p->list = list;
    p->next = *list;
    if (p->next)
        p->next->pprev = &p->next;
    p->pprev = list;
    *list = p;
    enum cmon_err e = open_socket(loop, p, server, eb);
    uv_buf_t b = uv_buf_init((char *)p->query, (unsigned)p->qlen);
    p->sent_ns = cmon_mono_ns();
    int rc = e ? 0 : uv_udp_send(&p->send_req, &p->udp, &b, 1, NULL, on_sent);
    if (!e && rc != 0)
        e = cmon_fail(eb, CMON_ERR_IO, "DNS probe send: %s", uv_strerror(rc));
    if (e) { /* no callback: unlink and close quietly */
        p->finished = true;
        *p->pprev = p->next;
        if (p->next)
            p->next->pprev = p->pprev;
        uv_close((uv_handle_t *)&p->udp, handle_closed);
        uv_close((uv_handle_t *)&p->timer, handle_closed);
        return e;
    }
    uv_timer_start(&p->timer, on_timeout, timeout_ms, 0);
    return CMON_OK;
}

void exp_dns_probe_cancel_all(struct exp_dns_probe **list)
{
    while (*list)
        fail(*list, CMON_DIAG_TIMEOUT, "cancelled");
}

struct named {
    const char *name;
    int value;
};

static int lookup(const struct named *t, size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++)
        if (strcasecmp(t[i].name, s) == 0)
            return t[i].value;
    return -1;
}

int exp_dns_type_parse(const char *s)
{
    static const struct named types[] = {{"A", 1},    {"NS", 2},  {"CNAME", 5},   {"SOA", 6},
                                         {"PTR", 12}, {"MX", 15}, {"TXT", 16},    {"AAAA", 28},
                                         {"SRV", 33}, {"DS", 43}, {"DNSKEY", 48}, {"ANY", 255},
                                         {"CAA", 257}};
    return lookup(types, sizeof types / sizeof *types, s);
}

int exp_dns_rcode_parse(const char *s)
{
    static const struct named rcodes[] = {{"NOERROR", 0},  {"FORMERR", 1}, {"SERVFAIL", 2},
                                          {"NXDOMAIN", 3}, {"NOTIMP", 4},  {"REFUSED", 5},
                                          {"YXDOMAIN", 6}, {"YXRRSET", 7}, {"NXRRSET", 8},
                                          {"NOTAUTH", 9},  {"NOTZONE", 10}};
    return lookup(rcodes, sizeof rcodes / sizeof *rcodes, s);
}
