/* agent_http.c: the agent's blocking HTTP client (libcurl easy, on the push
 * thread) with failover over the --server list: a request goes to the server
 * that answered last and moves on to the next while servers cannot be
 * reached.  TLS: peers are verified against --ca (or the system store); a
 * certificate that does not verify is reported as such, never accepted. */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/agent_internal.h"
#include "core/clock.h"
#include "core/grow.h"

#define HTTP_CONNECT_TIMEOUT_S 5L
#define HTTP_TIMEOUT_S 30L
#define HTTP_MAX_REPLY (8u << 20)

struct reply_buf {
    struct agent_reply *rep;
    size_t cap;
    bool too_big;
};

static size_t on_body(char *data, size_t sz, size_t n, void *arg)
{
    struct reply_buf *rb = arg;
    struct agent_reply *rep = rb->rep;
    size_t add = sz * n;
    if (rep->len + add + 1 > HTTP_MAX_REPLY) {
        rb->too_big = true;
        return 0;
    }
    if (!cmon_grow(&rep->body, &rb->cap, rep->len + add + 1, 1))
        return 0;
    memcpy(rep->body + rep->len, data, add);
    rep->len += add;
    rep->body[rep->len] = '\0';
    return add;
}

static size_t on_header(char *data, size_t sz, size_t n, void *arg)
{
    struct agent_reply *rep = arg;
    size_t len = sz * n;
    if (len > 5 && strncasecmp(data, "ETag:", 5) == 0) {
        const char *v = data + 5;
        while (*v == ' ')
            v++;
        size_t vl = len - (size_t)(v - data);
        while (vl && (v[vl - 1] == '\r' || v[vl - 1] == '\n' || v[vl - 1] == ' '))
            vl--;
        if (vl < sizeof rep->etag) {
            memcpy(rep->etag, v, vl);
            rep->etag[vl] = '\0';
        }
    }
    return len;
}

static int on_progress(void *arg, curl_off_t a, curl_off_t b, curl_off_t c, curl_off_t d)
{
    struct agent_http *h = arg;
    int64_t now = cmon_mono_ns();
    if (h->on_wait && now - h->last_wait_ns >= 200 * CMON_NS_PER_MS) {
        h->last_wait_ns = now;
        h->on_wait(h->wait_arg);
    }
    return atomic_load(h->stop) ? 1 : 0;
}

enum cmon_err agent_http_init(struct agent_http *h, const struct agent_opts *o,
                              const atomic_bool *stop, struct cmon_errbuf *eb)
{
    memset(h, 0, sizeof *h);
    for (size_t i = 0; i < o->n_servers; i++) {
        size_t l = strlen(o->servers[i]);
        while (l && o->servers[i][l - 1] == '/')
            l--;
        h->servers[i] = strndup(o->servers[i], l);
        if (!h->servers[i])
            return cmon_fail(eb, CMON_ERR_NOMEM, "out of memory");
        h->n_servers++;
    }
    h->ca_file = o->ca_file;
    h->stop = stop;
    h->log = o->log;
    h->curl = curl_easy_init();
    return h->curl ? CMON_OK : cmon_fail(eb, CMON_ERR_NOMEM, "cannot create a curl handle");
}

void agent_http_free(struct agent_http *h)
{
    for (size_t i = 0; i < h->n_servers; i++)
        free(h->servers[i]);
    if (h->curl)
        curl_easy_cleanup(h->curl);
    memset(h, 0, sizeof *h);
}

static bool tls_verify_error(CURLcode rc)
{
    return rc == CURLE_PEER_FAILED_VERIFICATION || rc == CURLE_SSL_CACERT_BADFILE ||
           rc == CURLE_SSL_ISSUER_ERROR || rc == CURLE_SSL_PINNEDPUBKEYNOTMATCH;
}

/* One attempt against server i; CMON_OK when it answered. */
static enum cmon_err try_server(struct agent_http *h, size_t i, const char *method,
                                const char *path, struct curl_slist *hdrs, const char *body,
                                size_t len, struct agent_reply *rep, struct cmon_errbuf *eb)
{
    CURL *c = h->curl;
    char url[2048], err[CURL_ERROR_SIZE] = "";
    snprintf(url, sizeof url, "%s%s", h->servers[i], path);
    struct reply_buf rb = {.rep = rep};
    rep->len = 0;
    rep->etag[0] = '\0';
    curl_easy_reset(c);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &rb);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, rep);
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, h);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, err);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, HTTP_CONNECT_TIMEOUT_S);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, HTTP_TIMEOUT_S);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
    if (h->ca_file)
        curl_easy_setopt(c, CURLOPT_CAINFO, h->ca_file);
    if (body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    }
    CURLcode rc = curl_easy_perform(c);
    if (rc == CURLE_OK) {
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &rep->status);
        return CMON_OK;
    }
    if (tls_verify_error(rc))
        return cmon_fail(eb, CMON_ERR_AUTH,
                         "%s: the server's TLS certificate was refused (%s); check --ca", url,
                         err[0] ? err : curl_easy_strerror(rc));
    return cmon_fail(eb, CMON_ERR_NET, "%s: %s", url,
                     rb.too_big ? "reply too large"
                     : err[0]   ? err
                                : curl_easy_strerror(rc));
}

enum cmon_err agent_http_request(struct agent_http *h, const char *method, const char *path,
                                 const char *token, const char *body, size_t len,
                                 const char *if_none_match, struct agent_reply *rep,
                                 struct cmon_errbuf *eb)
{
    memset(rep, 0, sizeof *rep);
    struct curl_slist *hdrs = curl_slist_append(NULL, "Content-Type: application/json");
    char line[200];
    if (token) {
        snprintf(line, sizeof line, "Authorization: Bearer %s", token);
        hdrs = curl_slist_append(hdrs, line);
    }
    if (if_none_match && *if_none_match) {
        snprintf(line, sizeof line, "If-None-Match: %s", if_none_match);
        hdrs = curl_slist_append(hdrs, line);
    }
    enum cmon_err err = CMON_ERR_NET;
    for (size_t k = 0; k < h->n_servers && !atomic_load(h->stop); k++) {
        size_t i = (h->current + k) % h->n_servers;
        err = try_server(h, i, method, path, hdrs, body, len, rep, eb);
        if (err == CMON_OK) {
            if (i != h->current)
                cmon_info(h->log, "switched server", "server=%s", h->servers[i]);
            h->current = i;
            break;
        }
        cmon_debug(h->log, "server unreachable", "err=%s", eb->msg);
    }
    curl_slist_free_all(hdrs);
    if (!rep->body)
        rep->body = strdup("");
    if (err == CMON_ERR_AUTH)
        err = CMON_ERR_NET; /* for the caller: no server answered; eb says why */
    return err;
}

const char *agent_reply_message(const struct agent_reply *rep, char *buf, size_t cap)
{
    json_t *j = json_loadb(rep->body, rep->len, 0, NULL);
    const char *m = json_string_value(json_object_get(json_object_get(j, "error"), "message"));
    snprintf(buf, cap, "%s", m ? m : "");
    json_decref(j);
    return buf;
}
