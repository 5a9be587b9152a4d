/* tcp_dialog.h: what a TCP check does after connect when its target asks
 * (struct probe_tcp_spec: cmon exporter's query_response and tls) -- a state
 * machine fed with the bytes the wire brought, answering with the bytes to
 * send.  TLS runs through OpenSSL memory BIOs, so the socket stays tcp.c's
 * uv_tcp_t and nothing here does I/O.
 * Ownership: a dialog owns copies of the spec's strings, its compiled
 * regexps, its TLS state and a reference on the shared TLS context;
 * tcp_dialog_free.  Loop affinity: the engine's
 * loop thread (it is called from tcp.c's callbacks only). */
#ifndef CMON_PROBE_TCP_DIALOG_H
#define CMON_PROBE_TCP_DIALOG_H

#include <stdbool.h>
#include <stddef.h>

#include <openssl/ssl.h>

#include "core/text.h"
#include "probe/probe.h"

struct tcp_dialog;

enum tcp_dialog_state { TCP_DIALOG_MORE, TCP_DIALOG_DONE };

/* NULL with err filled when a regexp does not compile or memory runs out.
 * host: the name verified and sent as SNI unless spec->server_name says
 * otherwise; tls_ctx: the loop's client context with the trust anchors
 * (tls_verify.h's tls_client_ctx_new; the dialog takes a reference), NULL
 * when it could not be made: a TLS step then fails as tls_error. */
struct tcp_dialog *tcp_dialog_new(const struct probe_tcp_spec *spec, const char *host,
                                  SSL_CTX *tls_ctx, char *err, size_t errlen);
/* Whether spec runs TLS at some point (tls, or a STARTTLS step). */
bool tcp_dialog_wants_tls(const struct probe_tcp_spec *spec);
/* After connect: the first bytes to send (TLS ClientHello, a first send). */
enum tcp_dialog_state tcp_dialog_begin(struct tcp_dialog *d, struct cmon_buf *out,
                                       struct probe_check_result *res);
/* Bytes read (n may be 0), eof when the peer closed.  Appends what to send
 * to out.  DONE: res says how it ended (ok, or the failure). */
enum tcp_dialog_state tcp_dialog_feed(struct tcp_dialog *d, const char *in, size_t n, bool eof,
                                      struct cmon_buf *out, struct probe_check_result *res);
/* The check's time ran out: res says where the dialog stood. */
void tcp_dialog_timeout(struct tcp_dialog *d, uint32_t timeout_ms,
                        struct probe_check_result *res);
void tcp_dialog_free(struct tcp_dialog *d);

#endif
