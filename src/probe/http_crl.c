/* http_crl.c: a small most-recent-first list of CRLs by URL with an expiry
 * from each CRL's nextUpdate (capped), evicting the oldest beyond
 * HTTP_CRL_MAX_ENTRIES. */
#include "probe/http_crl.h"

#include <stdlib.h>
#include <string.h>

#include "core/clock.h"

struct crl_entry {
    struct crl_entry *next;
    char *url;
    X509_CRL *crl;
    int64_t expires_ns; /* monotonic */
};

struct http_crl_cache {
    struct crl_entry *head;
    size_t n;
};

struct http_crl_cache *http_crl_cache_new(void)
{
    return calloc(1, sizeof(struct http_crl_cache));
}

static void entry_free(struct crl_entry *e)
{
    X509_CRL_free(e->crl);
    free(e->url);
    free(e);
}

void http_crl_cache_free(struct http_crl_cache *c)
{
    if (!c)
        return;
    while (c->head) {
        struct crl_entry *e = c->head;
        c->head = e->next;
        entry_free(e);
    }
    free(c);
}

/* Unlink and free url's entry, if any. */
static void cache_drop(struct http_crl_cache *c, const char *url)
{
    for (struct crl_entry **pp = &c->head; *pp; pp = &(*pp)->next) {
        if (strcmp((*pp)->url, url) == 0) {
            struct crl_entry *e = *pp;
            *pp = e->next;
            entry_free(e);
            c->n--;
            return;
        }
    }
}

X509_CRL *http_crl_cache_get(struct http_crl_cache *c, const char *url, int64_t now_mono_ns)
{
    for (struct crl_entry *e = c->head; e; e = e->next) {
        if (strcmp(e->url, url) != 0)
            continue;
        if (now_mono_ns < e->expires_ns)
            return e->crl;
        cache_drop(c, url);
        return NULL;
    }
    return NULL;
}

/* Seconds the CRL stays usable: until nextUpdate, capped; <= 0: not at all. */
static int64_t crl_lifetime_sec(const X509_CRL *crl, time_t now_wall)
{
    const ASN1_TIME *next = X509_CRL_get0_nextUpdate(crl);
    if (!next)
        return HTTP_CRL_MAX_AGE_SEC;
    ASN1_TIME *now = ASN1_TIME_set(NULL, now_wall);
    int days = 0, secs = 0;
    int ok = now && ASN1_TIME_diff(&days, &secs, now, next);
    ASN1_TIME_free(now);
    if (!ok)
        return 0;
    int64_t left = (int64_t)days * 86400 + secs;
    return left < HTTP_CRL_MAX_AGE_SEC ? left : HTTP_CRL_MAX_AGE_SEC;
}

void http_crl_cache_put(struct http_crl_cache *c, const char *url, X509_CRL *crl,
                        int64_t now_mono_ns, time_t now_wall)
{
    int64_t life = crl_lifetime_sec(crl, now_wall);
    struct crl_entry *e = life > 0 ? calloc(1, sizeof *e) : NULL;
    if (e)
        e->url = strdup(url);
    if (!e || !e->url) {
        free(e);
        X509_CRL_free(crl);
        return;
    }
    cache_drop(c, url);
    e->crl = crl;
    e->expires_ns = now_mono_ns + life * CMON_NS_PER_SEC;
    e->next = c->head;
    c->head = e;
    if (++c->n > HTTP_CRL_MAX_ENTRIES) {
        struct crl_entry **pp = &c->head;
        while ((*pp)->next)
            pp = &(*pp)->next;
        entry_free(*pp);
        *pp = NULL;
        c->n--;
    }
}
