/* probe.h: the probe engine -- one libuv loop runs every check (ICMP, TCP,
 * HTTP), DNS through c-ares, and libcurl through multi_socket on that loop.
 * Thread/loop affinity: every function here must be called on the loop's
 * thread, and every callback runs there.  No check blocks the loop.
 * Ownership: the engine owns its sockets, timers and DNS cache; a caller owns
 * the probe_target it passes (copied by probe_check_start before it returns). */
#ifndef CMON_PROBE_PROBE_H
#define CMON_PROBE_PROBE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include <uv.h>

#include "core/err.h"
#include "core/log.h"
#include "model/diag.h"
#include "model/monitor.h"

struct probe_engine;

struct probe_engine_opts {
    const char *ca_file;        /* HTTPS trust anchors; NULL: system store */
    const char *resolv_conf;    /* NULL: /etc/resolv.conf (c-ares default) */
    int dns_timeout_ms;         /* per DNS try; 0: 2000 */
    const struct cmon_log *log; /* may be NULL */
};

/* What an HTTP check can report beyond struct probe_check_result, for
 * callers that ask (cmon exporter): the engine writes it on the loop thread
 * before the check's callback runs.  Ownership: the caller's; it must stay
 * alive until that callback (body is appended to, never freed, by the engine). */
#define PROBE_HTTP_BODY_KEEP (1024 * 1024) /* bytes of the body kept in body */

/* A TLS server's leaf certificate as blackbox's probe_ssl_last_chain_info
 * labels it: SHA-256 of the DER (hex), subject and issuer (RFC 2253), DNS
 * names (comma-separated); all "" when there was none. */
struct probe_tls_leaf {
    char sha256[65], subject[256], issuer[256], dns_names[256];
};

struct probe_http_detail {
    struct cmon_buf *body;      /* non-NULL: the body's first PROBE_HTTP_BODY_KEEP bytes */
    int64_t body_bytes;         /* bytes of the final response's body read */
    int64_t content_length;     /* Content-Length of the final response; -1: none */
    int64_t last_modified_unix; /* Last-Modified; -1: none */
    int redirects;              /* redirects followed */
    bool final_https;           /* the final request went over TLS */
    struct probe_tls_leaf leaf; /* of the final connection */
};

struct probe_http_spec {
    const char *method;         /* "GET", "HEAD", "POST", ...; NULL: GET */
    const char *const *headers; /* "Name: value" lines */
    size_t n_headers;
    const struct cmon_status_range *valid; /* n_valid == 0: the model's default */
    size_t n_valid;
    /* Optional (zero: the agent's behaviour -- no body, the first answer
     * judged, full verification against the URL's host). */
    const char *body;        /* request body (POST unless method says otherwise); NULL:
                              * none, and the method is only the request's name */
    size_t body_len;
    bool follow_redirects;   /* up to 10, each judged only at the end */
    bool insecure;           /* TLS without certificate or name verification */
    const char *server_name; /* TLS SNI and the name verified; NULL: the URL's host */
    struct probe_http_detail *detail; /* NULL: not wanted (the body is discarded) */
};

/* A TCP check beyond connect (cmon exporter's query_response and tls): each
 * step waits for a line matching expect (POSIX ERE), then sends send plus
 * "\n", then upgrades to TLS when starttls.  The engine copies it. */
struct probe_tcp_step {
    const char *expect; /* NULL: none */
    const char *send;   /* NULL: none */
    bool starttls;
};

struct probe_tcp_detail { /* written before the callback; the caller's */
    bool failed_due_to_regex;   /* an expect saw no matching line */
    struct probe_tls_leaf leaf; /* when TLS was up */
};

struct probe_tcp_spec {
    const struct probe_tcp_step *steps;
    size_t n_steps;
    bool tls;                /* TLS from the start (trust: the engine's ca_file) */
    bool insecure;           /* no certificate or name verification */
    const char *server_name; /* SNI and the name verified; NULL: the target's host */
    struct probe_tcp_detail *detail; /* may be NULL */
};

/* An ICMP echo beyond the default (cmon exporter's ttl and payload_size). */
#define PROBE_ICMP_PAYLOAD_MAX 9000
struct probe_icmp_spec {
    int ttl;             /* IPv4 TTL / IPv6 hop limit; 0: the system's */
    size_t payload_size; /* bytes after the ICMP header (at least cmon's own 8, at
                          * most PROBE_ICMP_PAYLOAD_MAX; zeros pad); 0: cmon's 8 */
};

struct probe_target {
    enum cmon_protocol proto;
    const char *host;                   /* DNS name or IP literal (for HTTP: the URL's host) */
    const char *url;                    /* HTTP only: the full URL */
    uint16_t port;                      /* TCP/HTTP port; 0 for ICMP */
    enum cmon_ip_pref ip_pref;          /* preferred family; falls back to the other */
    bool ip_strict;                     /* ip_pref V4/V6 only, no fallback (cmon check -4/-6) */
    uint32_t timeout_ms;                /* whole check, DNS included */
    const struct probe_http_spec *http; /* HTTP only */
    const struct probe_tcp_spec *tcp;   /* TCP only; NULL: a connect check */
    const struct probe_icmp_spec *icmp; /* ICMP only; NULL: the default echo */
};

struct probe_check_result {
    bool ok;
    double rtt_ms;       /* valid when ok */
    enum cmon_diag diag; /* CMON_DIAG_NONE when ok */
    char detail[160];    /* e.g. "errno 111", "notAfter 2026-01-02T00:00:00Z" */
    char address[64];    /* the address checked, "" when DNS failed */
    int http_status;     /* 0 when none */
    double dns_ms, connect_ms, tls_ms, first_byte_ms; /* < 0: not measured */
    /* HTTP: the protocol version answered (10, 11, 20, 30; 0: none) and, over
     * TLS, the version negotiated ("TLS 1.3") and the verified chain's
     * earliest notAfter (Unix seconds, 0: none) */
    int http_version;
    char tls_version[12];
    int64_t cert_expiry_unix;
};

typedef void (*probe_check_cb)(void *arg, const struct probe_check_result *res);

/* One protocol's implementation, its whole life on an engine (curl's
 * Curl_handler is the model).  The engine keeps a const table of these
 * indexed by protocol, and each protocol's loop state in eng->proto[proto]
 * (made by its start, freed by its close): the engine never names a
 * protocol.  Checks per round and timeouts left out of a configuration are
 * the model's cmon_protocol_defaults (one table for the model and probes). */
struct probe_ops {
    enum cmon_protocol proto;
    const char *name;
    /* true: the target is a URL (host and port come from it) */
    bool url_target;
    /* Descriptors one check holds while in flight (0: it shares the
     * protocol's sockets), and how many checks the protocol can track at
     * once (0: no bound but descriptors).  The scheduler admits rounds
     * within both, so an overloaded agent skips rounds instead of failing
     * checks with EMFILE or an exhausted sequence space. */
    uint8_t fds_per_check;
    uint32_t max_inflight;
    /* Start one check against an address the engine has already resolved.
     * Must call cb exactly once, later (never from inside start). */
    enum cmon_err (*start)(struct probe_engine *eng, const struct probe_target *t,
                           const struct sockaddr *sa, socklen_t salen, probe_check_cb cb,
                           void *arg);
    /* Cancel the checks in flight (their callbacks run now: diag timeout,
     * detail "cancelled") and uv_close the protocol's handles, counted with
     * probe_handle_*; their close callbacks must not touch eng (freed one
     * loop turn later).  Sets eng->proto[proto] to NULL. */
    void (*close)(struct probe_engine *eng);
};

/* The protocol's ops; NULL when unknown. */
const struct probe_ops *probe_ops_of(enum cmon_protocol proto);

/* A deep copy of src into *dst: host, url and the HTTP spec with its method,
 * header lines and status ranges.  CMON_ERR_NOMEM frees what was copied. */
enum cmon_err probe_target_dup(struct probe_target *dst, const struct probe_target *src);
/* Free what probe_target_dup (or a builder with the same layout: every
 * string and the spec malloc'd) put in t; not t itself. */
void probe_target_free(struct probe_target *t);

enum cmon_err probe_engine_new(uv_loop_t *loop, const struct probe_engine_opts *opts,
                               struct probe_engine **out, struct cmon_errbuf *eb);
/* Cancels checks in flight (their callbacks run with diag timeout and detail
 * "cancelled"), closes every handle; the loop must run until done() is called. */
void probe_engine_close(struct probe_engine *eng, void (*done)(void *arg), void *arg);

/* Resolve t->host (cached per TTL), then run one check of t->proto. */
enum cmon_err probe_check_start(struct probe_engine *eng, const struct probe_target *t,
                                probe_check_cb cb, void *arg);

#endif
