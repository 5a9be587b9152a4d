/* tcp.c: TCP connect checks.  A non-blocking connect on a uv_tcp_t, bounded
 * by a uv_timer; RTT = time to connect completion (the SYN-ACK).  uv_tcp_t
 * rather than a uv_poll on our own socket: uv_poll_init costs an epoll
 * add+delete probe and an ioctl per check, ~5 % of a check's CPU.
 * IP_RECVERR makes the kernel queue the ICMP error that killed a SYN, so
 * admin-prohibited and host-unreachable can be told apart (both are
 * EHOSTUNREACH as errno).  SO_LINGER 0 closes with RST: no TIME_WAIT.
 * The RTT is the kernel's own SYN -> SYN-ACK sample when it has one.
 * A target with a probe_tcp_spec goes on after connect: tcp_dialog.c says
 * what to send for what was read (query_response, TLS), within the same
 * timer.  The TLS checks of one loop share one client context (the trust
 * store parsed once, tls_client_ctx_new); each check has its own SSL. */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/text.h"
#include "probe/probe_internal.h"
#include "probe/tcp_dialog.h"
#include "probe/tls_verify.h"

struct tcp_check {
    struct tcp_check *prev, *next; /* in flight, for cancellation at close */
    struct probe_engine *eng;
    uv_tcp_t tcp;
    uv_connect_t connect;
    uv_timer_t timer;
    int fd;
    bool finished; /* result delivered; a late connect callback is ignored */
    int open_handles;
    int64_t start_ns;
    uint32_t timeout_ms;
    probe_check_cb cb;
    void *arg;
    struct probe_check_result res;
    struct tcp_dialog *dialog; /* NULL: a connect check */
    bool connected;
    char rbuf[4096];
};

struct probe_tcp {
    struct tcp_check *head;
    SSL_CTX *tls_ctx; /* owned: the dialogs' client context, made at the first TLS check */
};

static void tcp_handle_closed(uv_handle_t *h)
{
    struct tcp_check *c = h->data;
    struct probe_engine *eng = c->eng;
    if (--c->open_handles == 0)
        free(c);
    probe_handle_closed(eng);
}

/* Deliver the result once, then release the socket (RST) and handles. */
static void tcp_finish(struct tcp_check *c)
{
    struct probe_tcp *tcp = c->eng->proto[CMON_PROTO_TCP];
    if (c->prev)
        c->prev->next = c->next;
    else
        tcp->head = c->next;
    if (c->next)
        c->next->prev = c->prev;
    c->finished = true;
    tcp_dialog_free(c->dialog);
    c->dialog = NULL;
    /* closes the socket (RST, SO_LINGER 0); a connect still pending gets
     * UV_ECANCELED before the close callback */
    uv_close((uv_handle_t *)&c->tcp, tcp_handle_closed);
    uv_close((uv_handle_t *)&c->timer, tcp_handle_closed);
    c->cb(c->arg, &c->res);
}

/* Time to SYN-ACK.  The kernel measured it when the SYN-ACK arrived
 * (TCP_INFO tcpi_rtt, microseconds, the first and only sample); it excludes
 * the time the completion waited for the loop.  Without a clean sample (SYN
 * retransmitted: Karn's rule) use the time until the loop saw it. */
static double syn_ack_rtt_ms(int fd, double loop_ms)
{
    struct tcp_info ti;
    socklen_t len = sizeof ti;
    memset(&ti, 0, sizeof ti);
    if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) == 0 && ti.tcpi_rtt > 0 &&
        ti.tcpi_total_retrans == 0 && ti.tcpi_rtt / 1000.0 <= loop_ms)
        return ti.tcpi_rtt / 1000.0;
    return loop_ms;
}

static void on_written(uv_write_t *req, int status)
{
    (void)status;
    free(req); /* the bytes follow the request in the same block */
}

/* Queue what the dialog wants sent; the close cancels what is left. */
static void send_out(struct tcp_check *c, struct cmon_buf *out)
{
    if (out->len == 0)
        return;
    uv_write_t *req = malloc(sizeof *req + out->len);
    if (!req)
        return;
    memcpy(req + 1, out->data, out->len);
    uv_buf_t b = uv_buf_init((char *)(req + 1), (unsigned)out->len);
    if (uv_write(req, (uv_stream_t *)&c->tcp, &b, 1, on_written) != 0)
        free(req);
    out->len = 0;
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct tcp_check *c = h->data;
    (void)suggested;
    *buf = uv_buf_init(c->rbuf, sizeof c->rbuf);
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    struct tcp_check *c = s->data;
    if (c->finished || n == 0)
        return;
    if (n < 0 && n != UV_EOF) {
        probe_result_errno(&c->res, "read", (int)-n);
        tcp_finish(c);
        return;
    }
    struct cmon_buf out;
    cmon_buf_init(&out);
    enum tcp_dialog_state st = tcp_dialog_feed(c->dialog, buf->base, n > 0 ? (size_t)n : 0,
                                               n == UV_EOF, &out, &c->res);
    send_out(c, &out);
    cmon_buf_free(&out);
    if (st == TCP_DIALOG_DONE)
        tcp_finish(c);
}

/* Connected with a dialog to run: begin it, then read until it is done. */
static void dialog_start(struct tcp_check *c)
{
    struct cmon_buf out;
    cmon_buf_init(&out);
    enum tcp_dialog_state st = tcp_dialog_begin(c->dialog, &out, &c->res);
    send_out(c, &out);
    cmon_buf_free(&out);
    if (st == TCP_DIALOG_DONE || uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) != 0) {
        if (st != TCP_DIALOG_DONE)
            probe_result_fail(&c->res, CMON_DIAG_SOCKET_ERROR, "cannot read the connection");
        tcp_finish(c);
    }
}

static void tcp_connect_cb(uv_connect_t *req, int status)
{
    struct tcp_check *c = req->data;
    if (c->finished)
        return; /* cancelled by tcp_finish (timeout or engine close) */
    double ms = (double)(cmon_mono_ns() - c->start_ns) / CMON_NS_PER_MS;
    int err = status < 0 ? -status : 0; /* libuv read SO_ERROR */
    if (err == 0 && c->dialog) {
        c->connected = true;
        c->res.rtt_ms = c->res.connect_ms = syn_ack_rtt_ms(c->fd, ms);
        dialog_start(c);
        return;
    }
    if (err == 0) {
        c->res.ok = true;
        c->res.diag = CMON_DIAG_NONE;
        c->res.rtt_ms = c->res.connect_ms = syn_ack_rtt_ms(c->fd, ms);
        c->res.detail[0] = '\0';
    } else {
        struct probe_errq e;
        if (probe_errq_read(c->fd, &e))
            probe_result_errq(&c->res, "connect", &e);
        else
            probe_result_errno(&c->res, "connect", err ? err : ECONNABORTED);
    }
    tcp_finish(c);
}

static void tcp_timer_cb(uv_timer_t *t)
{
    struct tcp_check *c = t->data;
    struct probe_errq e;
    /* A SYN may have drawn an ICMP error that the kernel keeps retrying past. */
    if (c->connected)
        tcp_dialog_timeout(c->dialog, c->timeout_ms, &c->res);
    else if (probe_errq_read(c->fd, &e))
        probe_result_errq(&c->res, "connect", &e);
    else
        probe_result_fail(&c->res, CMON_DIAG_TIMEOUT, "no SYN-ACK within %u ms", c->timeout_ms);
    tcp_finish(c);
}

/* The check's socket inside its uv_tcp_t; -1 (r filled) when none. */
static int tcp_socket(uv_loop_t *loop, uv_tcp_t *h, int family, struct probe_check_result *r)
{
    uv_os_fd_t fd;
    int uerr = uv_tcp_init_ex(loop, h, (unsigned)family);
    if (uerr != 0) {
        probe_result_errno(r, "socket", -uerr);
        return -1;
    }
    uv_fileno((uv_handle_t *)h, &fd);
    struct linger lg = {.l_onoff = 1, .l_linger = 0};
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    if (family == AF_INET6)
        setsockopt(fd, SOL_IPV6, IPV6_RECVERR, &one, sizeof one);
    else
        setsockopt(fd, SOL_IP, IP_RECVERR, &one, sizeof one);
    return fd;
}

static enum cmon_err tcp_start(struct probe_engine *eng, const struct probe_target *t,
                               const struct sockaddr *sa, socklen_t salen, probe_check_cb cb,
                               void *arg)
{
    struct probe_tcp *tcp = eng->proto[CMON_PROTO_TCP];
    if (!tcp && !(tcp = eng->proto[CMON_PROTO_TCP] = calloc(1, sizeof *tcp)))
        return CMON_ERR_NOMEM;
    struct tcp_check *c = calloc(1, sizeof *c);
    if (!c)
        return CMON_ERR_NOMEM;
    probe_result_init(&c->res);
    probe_addr_format(sa, c->res.address, sizeof c->res.address);
    c->eng = eng;
    char why[160];
    /* a CA file that does not load is retried by the next check, and fails
     * this one's TLS step as before */
    if (t->tcp && tcp_dialog_wants_tls(t->tcp) && !tcp->tls_ctx)
        tcp->tls_ctx = tls_client_ctx_new(eng->opts.ca_file);
    if (t->tcp && (t->tcp->n_steps || t->tcp->tls) &&
        !(c->dialog = tcp_dialog_new(t->tcp, t->host, tcp->tls_ctx, why, sizeof why))) {
        probe_result_fail(&c->res, CMON_DIAG_SOCKET_ERROR, "%s", why);
        probe_complete_later(eng, cb, arg, &c->res);
        free(c);
        return CMON_OK;
    }
    c->fd = tcp_socket(eng->loop, &c->tcp, sa->sa_family, &c->res);
    if (c->fd < 0) { /* EMFILE: a result, not a crash */
        probe_complete_later(eng, cb, arg, &c->res);
        tcp_dialog_free(c->dialog);
        free(c);
        return CMON_OK;
    }
    c->tcp.data = c->timer.data = c->connect.data = c;
    c->open_handles = 1;
    probe_handle_opened(eng);
    c->start_ns = cmon_mono_ns();
    (void)salen;
    int uerr = uv_tcp_connect(&c->connect, &c->tcp, sa, tcp_connect_cb);
    if (uerr != 0) { /* no route, local firewall: a result, not a crash */
        probe_result_errno(&c->res, "connect", -uerr);
        probe_complete_later(eng, cb, arg, &c->res);
        tcp_dialog_free(c->dialog);
        c->dialog = NULL;
        uv_close((uv_handle_t *)&c->tcp, tcp_handle_closed);
        return CMON_OK;
    }
    c->cb = cb;
    c->arg = arg;
    c->timeout_ms = t->timeout_ms;
    uv_timer_init(eng->loop, &c->timer);
    c->open_handles = 2;
    probe_handle_opened(eng);
    uv_timer_start(&c->timer, tcp_timer_cb, t->timeout_ms, 0);
    c->next = tcp->head;
    if (c->next)
        c->next->prev = c;
    tcp->head = c;
    return CMON_OK;
}

static void tcp_close(struct probe_engine *eng)
{
    struct probe_tcp *tcp = eng->proto[CMON_PROTO_TCP];
    if (!tcp)
        return;
    while (tcp->head) {
        struct tcp_check *c = tcp->head;
        probe_result_fail(&c->res, CMON_DIAG_TIMEOUT, "cancelled");
        tcp_finish(c);
    }
    SSL_CTX_free(tcp->tls_ctx);
    free(tcp);
    eng->proto[CMON_PROTO_TCP] = NULL;
}

const struct probe_ops probe_tcp_ops = {
    .proto = CMON_PROTO_TCP,
    .name = "tcp",
    .fds_per_check = 1,
    .start = tcp_start,
    .close = tcp_close,
};
