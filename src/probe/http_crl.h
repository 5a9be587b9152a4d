/* http_crl.h: the HTTP probe's cache of parsed CRLs, keyed by distribution
 * point URL, so checks of many tests under one CA fetch its CRL once per
 * validity period instead of once per check.  An entry lives until the CRL's
 * nextUpdate, at most HTTP_CRL_MAX_AGE_SEC; failed fetches are not cached.
 * Ownership: the cache owns every X509_CRL put into it; get() lends one until
 * the next put() or free().  Times are arguments (pure; no clock reads).
 * Loop affinity: owned by struct probe_http, used on the loop thread only. */
#ifndef CMON_PROBE_HTTP_CRL_H
#define CMON_PROBE_HTTP_CRL_H

#include <stdint.h>
#include <time.h>

#include <openssl/x509.h>

#define HTTP_CRL_MAX_AGE_SEC 600
#define HTTP_CRL_MAX_ENTRIES 32

struct http_crl_cache;

struct http_crl_cache *http_crl_cache_new(void);
void http_crl_cache_free(struct http_crl_cache *c);

/* The cached CRL of url, or NULL when absent or expired at now_mono_ns. */
X509_CRL *http_crl_cache_get(struct http_crl_cache *c, const char *url, int64_t now_mono_ns);

/* Takes ownership of crl (freed at once when it is not cacheable: already
 * past its nextUpdate at now_wall, or no memory). */
void http_crl_cache_put(struct http_crl_cache *c, const char *url, X509_CRL *crl,
                        int64_t now_mono_ns, time_t now_wall);

#endif
