/* http_crl.c: a small most-recent-first list of CRLs by URL with an expiry
 * from each CRL's nextUpdate (capped), evicting the oldest beyond
 * HTTP_CRL_MAX_ENTRIES; each with a ring of the leaves it found clean. */
#include "probe/http_crl.h"

#include <stdlib.h>
#include <string.h>

#include "core/clock.h"

struct crl_clean { /* a leaf found not revoked, and the anchor of its chain */
    X509 *leaf, *anchor; /* references */
};

struct crl_entry {
    struct crl_entry *next;
    char *url;
    X509_CRL *crl;
    int64_t expires_ns; /* monotonic */
    struct crl_clean clean[HTTP_CRL_CLEAN_MAX];
    size_t n_clean, next_clean; /* slots used; the one replaced next when full */
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
    for (size_t i = 0; i < e->n_clean; i++) {
        X509_free(e->clean[i].leaf);
        X509_free(e->clean[i].anchor);
    }
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

/* The CRL's own dates at now (the cache's expiry is on the monotonic clock). */
static bool crl_current(const X509_CRL *crl, time_t now)
{
    const ASN1_TIME *next = X509_CRL_get0_nextUpdate(crl);
    return X509_cmp_time(X509_CRL_get0_lastUpdate(crl), &now) < 0 &&
           (!next || X509_cmp_time(next, &now) > 0);
}

static bool known_clean(const struct crl_entry *e, X509 *leaf, X509 *anchor)
{
    for (size_t i = 0; i < e->n_clean; i++)
        if (X509_cmp(e->clean[i].leaf, leaf) == 0 && X509_cmp(e->clean[i].anchor, anchor) == 0)
            return true;
    return false;
}

static void note_clean(struct crl_entry *e, X509 *leaf, X509 *anchor)
{
    if (X509_up_ref(leaf) != 1)
        return;
    if (X509_up_ref(anchor) != 1) {
        X509_free(leaf);
        return;
    }
    struct crl_clean *slot = &e->clean[e->next_clean];
    if (e->n_clean == HTTP_CRL_CLEAN_MAX) {
        X509_free(slot->leaf);
        X509_free(slot->anchor);
    } else {
        e->n_clean++;
    }
    *slot = (struct crl_clean){.leaf = leaf, .anchor = anchor};
    e->next_clean = (e->next_clean + 1) % HTTP_CRL_CLEAN_MAX;
}

enum cmon_diag http_crl_cache_verify(struct http_crl_cache *c, const char *url, X509_CRL *crl,
                                     const struct tls_observe *o, time_t now_wall, char *detail,
                                     size_t len)
{
    struct crl_entry *e = c->head;
    while (e && (e->crl != crl || strcmp(e->url, url) != 0))
        e = e->next;
    X509 *anchor = tls_observe_anchor(o);
    bool memo = e && o->leaf && anchor && crl_current(crl, now_wall);
    if (memo && known_clean(e, o->leaf, anchor)) {
        detail[0] = '\0';
        return CMON_DIAG_NONE;
    }
    enum cmon_diag d = tls_crl_verify(o, crl, detail, len);
    if (d == CMON_DIAG_NONE && memo)
        note_clean(e, o->leaf, anchor);
    return d;
}
