/* dns.h: name resolution for the probe engine -- c-ares on the engine's libuv
 * loop (sock_state_cb + uv_poll per DNS socket + one uv_timer), answers cached
 * per TTL.  Internal to src/probe; loop thread only.  The engine owns the
 * resolver (eng->dns); callers own nothing it returns beyond the callback. */
#ifndef CMON_PROBE_DNS_H
#define CMON_PROBE_DNS_H

#include <stdbool.h>
#include <sys/socket.h>

#include "probe/probe_internal.h"

/* status is an ARES_* code (ARES_SUCCESS with an address; ARES_ENODATA when
 * the name has no address of an acceptable family; ARES_ECANCELLED at close).
 * sa is valid only during the call. */
typedef void (*probe_dns_cb)(void *arg, int status, const struct sockaddr *sa, socklen_t salen);

enum cmon_err probe_dns_new(struct probe_engine *eng, struct cmon_errbuf *eb);
/* Cancels lookups in flight (their callbacks run with ARES_ECANCELLED),
 * closes the channel and its handles. */
void probe_dns_close(struct probe_engine *eng);

/* Cached answer for host, honouring pref (strict: that family only, else the
 * preferred family first, then the other).  false: not cached or expired. */
bool probe_dns_cached(struct probe_engine *eng, const char *host, enum cmon_ip_pref pref,
                      bool strict, struct sockaddr_storage *out, socklen_t *outlen);
/* Ask the DNS servers; cb runs exactly once, later. */
void probe_dns_resolve(struct probe_engine *eng, const char *host, enum cmon_ip_pref pref,
                       bool strict, probe_dns_cb cb, void *arg);

/* Reverse lookup (hosts file, then PTR) of a numeric address; cb runs exactly
 * once, later, with the name or NULL when there is none or it failed. */
typedef void (*probe_dns_name_cb)(void *arg, const char *name);
void probe_dns_reverse(struct probe_engine *eng, const struct sockaddr *sa, socklen_t salen,
                       probe_dns_name_cb cb, void *arg);

#endif
