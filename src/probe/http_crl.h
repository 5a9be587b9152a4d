/* http_crl.h: the HTTP probe's cache of parsed CRLs, keyed by distribution
 * point URL, so checks of many tests under one CA fetch its CRL once per
 * validity period instead of once per check.  An entry lives until the CRL's
 * nextUpdate, at most HTTP_CRL_MAX_AGE_SEC; failed fetches are not cached.
 * Each entry also remembers up to HTTP_CRL_CLEAN_MAX leaves (with the anchor
 * their chain was verified to) that its CRL found not revoked, so a check of
 * the same certificate is not verified a second time (after the handshake's
 * own verification) against the same CRL: that second X509_verify_cert was a
 * sixth of an HTTPS check's CPU.
 * Ownership: the cache owns every X509_CRL put into it, and a reference on
 * each remembered certificate; get() lends a CRL until the next put() or
 * free().  Times are arguments (no clock reads here).
 * Loop affinity: owned by struct probe_http, used on the loop thread only. */
#ifndef CMON_PROBE_HTTP_CRL_H
#define CMON_PROBE_HTTP_CRL_H

#include <stdint.h>
#include <time.h>

#include <openssl/x509.h>

#include "probe/tls_verify.h"

#define HTTP_CRL_MAX_AGE_SEC 600
#define HTTP_CRL_MAX_ENTRIES 32
#define HTTP_CRL_CLEAN_MAX 16 /* leaves remembered per CRL; beyond, the oldest goes */

struct http_crl_cache;

struct http_crl_cache *http_crl_cache_new(void);
void http_crl_cache_free(struct http_crl_cache *c);

/* The cached CRL of url, or NULL when absent or expired at now_mono_ns. */
X509_CRL *http_crl_cache_get(struct http_crl_cache *c, const char *url, int64_t now_mono_ns);

/* Takes ownership of crl (freed at once when it is not cacheable: already
 * past its nextUpdate at now_wall, or no memory). */
void http_crl_cache_put(struct http_crl_cache *c, const char *url, X509_CRL *crl,
                        int64_t now_mono_ns, time_t now_wall);

/* tls_crl_verify(o, crl) for crl just returned by get(c, url): a leaf this
 * CRL found not revoked before, verified up to the same anchor, passes
 * without a second verification while the CRL is within its own dates at
 * now_wall; every other verdict (revoked, a CRL problem) is worked out again
 * each time and never remembered. */
enum cmon_diag http_crl_cache_verify(struct http_crl_cache *c, const char *url, X509_CRL *crl,
                                     const struct tls_observe *o, time_t now_wall, char *detail,
                                     size_t len);

#endif
