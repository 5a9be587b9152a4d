/* client.c: the API client the CLI subcommands share (libcurl, blocking) and
 * the server runner of `cmon server` / `cmon run` (signals, banner, monitor
 * files applied at start, graceful stop). */
#include "cli/client.h"

#include <curl/curl.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/text.h"

static const char *env_or_null(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

void cli_client_init(struct cli_client *c, const char *cmd)
{
    c->cmd = cmd;
    c->server = env_or_null("CMON_SERVER");
    if (!c->server)
        c->server = CLI_DEFAULT_SERVER;
    c->token = env_or_null("CMON_TOKEN");
    c->ca = env_or_null("CMON_CA");
    c->json = false;
}

bool cli_client_option(struct cli_client *c, int opt, const char *arg)
{
    switch (opt) {
    case 'S':
        c->server = arg;
        return true;
    case 't':
        c->token = *arg ? arg : NULL;
        return true;
    case 'C':
        c->ca = arg;
        return true;
    case 'j':
        c->json = true;
        return true;
    default:
        return false;
    }
}

static size_t collect(char *p, size_t size, size_t n, void *arg)
{
    cmon_buf_append(arg, p, size * n);
    return size * n;
}

static void print_api_error(const struct cli_client *c, long status, const json_t *j)
{
    json_t *e = json_object_get(j, "error");
    const char *msg = json_string_value(json_object_get(e, "message"));
    json_t *probs = json_object_get(e, "problems");
    if (json_array_size(probs) > 0) {
        size_t i;
        json_t *p;
        json_array_foreach(probs, i, p)
        {
            fprintf(stderr, "cmon %s: %d:%d: %s: %s\n", c->cmd,
                    (int)json_integer_value(json_object_get(p, "line")),
                    (int)json_integer_value(json_object_get(p, "col")),
                    json_string_value(json_object_get(p, "path")),
                    json_string_value(json_object_get(p, "message")));
        }
        return;
    }
    fprintf(stderr, "cmon %s: server answered %ld: %s\n", c->cmd, status,
            msg ? msg : "(no message)");
}

static int classify(const struct cli_client *c, long status, json_t *j)
{
    if (status >= 200 && status < 300)
        return CLI_EXIT_OK;
    print_api_error(c, status, j);
    if (status == 401 || status == 403) {
        if (!c->token)
            fprintf(stderr,
                    "cmon %s: pass a token with --token or CMON_TOKEN (on the server's machine, "
                    "cmon uses DATA_DIR/admin.token by itself: set CMON_DATA to the data "
                    "directory)\n",
                    c->cmd);
        return CLI_EXIT_SERVER;
    }
    return CLI_EXIT_FAILED;
}

static CURL *make_handle(const struct cli_client *c, const char *method, const char *url,
                         const char *body, size_t len, struct curl_slist **hdrs,
                         struct cmon_buf *resp)
{
    CURL *h = curl_easy_init();
    if (!h)
        return NULL;
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, resp);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, 60L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 5L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    if (c->ca)
        curl_easy_setopt(h, CURLOPT_CAINFO, c->ca);
    *hdrs = curl_slist_append(*hdrs, "Accept: application/json");
    if (body) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    }
    /* every change says JSON, with a body or without (start, stop, delete):
     * the server refuses other content types on writes (DESIGN 9) */
    if (body || strcmp(method, "GET") != 0)
        *hdrs = curl_slist_append(*hdrs, "Content-Type: application/json");
    char local[128];
    const char *token = c->token ? c->token : cli_local_token(c->server, local, sizeof local);
    if (token) {
        char auth[600];
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", token);
        *hdrs = curl_slist_append(*hdrs, auth);
    }
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, *hdrs);
    return h;
}

int cli_request(const struct cli_client *c, const char *method, const char *path, const char *body,
                size_t len, json_t **out, long *status)
{
    char url[2048];
    snprintf(url, sizeof url, "%s%s", c->server, path);
    struct cmon_buf resp;
    cmon_buf_init(&resp);
    struct curl_slist *hdrs = NULL;
    CURL *h = make_handle(c, method, url, body, len, &hdrs, &resp);
    CURLcode rc = h ? curl_easy_perform(h) : CURLE_OUT_OF_MEMORY;
    *status = 0;
    if (h)
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, status);
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(h);
    if (rc != CURLE_OK) {
        bool tls = rc == CURLE_PEER_FAILED_VERIFICATION || rc == CURLE_SSL_CACERT_BADFILE;
        fprintf(stderr, "cmon %s: cannot reach the server at %s: %s%s\n", c->cmd, c->server,
                curl_easy_strerror(rc),
                tls ? " (pass the CA that signed the server's certificate with --ca FILE or"
                      " CMON_CA)"
                    : "");
        cmon_buf_free(&resp);
        return CLI_EXIT_SERVER;
    }
    json_t *j = resp.len ? json_loadb(resp.data, resp.len, 0, NULL) : json_null();
    cmon_buf_free(&resp);
    if (!j) {
        fprintf(stderr, "cmon %s: the server at %s answered %ld with a body that is not JSON\n",
                c->cmd, c->server, *status);
        return *status == 401 || *status == 403 ? CLI_EXIT_SERVER : CLI_EXIT_FAILED;
    }
    int code = classify(c, *status, j);
    if (code != CLI_EXIT_OK) {
        json_decref(j);
        return code;
    }
    *out = j;
    return CLI_EXIT_OK;
}

char *cli_escape(const char *s)
{
    char *e = curl_easy_escape(NULL, s, 0);
    char *copy = e ? strdup(e) : NULL;
    curl_free(e);
    return copy;
}

void cli_print_json(const json_t *j)
{
    char *text = json_dumps(j, JSON_INDENT(2) | JSON_ENCODE_ANY);
    if (text)
        printf("%s\n", text);
    free(text);
}

char *cli_read_file(const char *path, size_t *len, char *err, size_t errlen)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "%s: cannot open: %m", path);
        return NULL;
    }
    struct cmon_buf b;
    cmon_buf_init(&b);
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0 && b.len <= CLI_MAX_FILE)
        cmon_buf_append(&b, chunk, n);
    bool bad = ferror(f) || b.oom || b.len > CLI_MAX_FILE;
    if (f != stdin)
        fclose(f);
    if (bad) {
        snprintf(err, errlen, "%s: cannot read (or larger than %d MiB)", path, CLI_MAX_FILE >> 20);
        cmon_buf_free(&b);
        return NULL;
    }
    *len = b.len;
    char *s = cmon_buf_take(&b);
    return s ? s : strdup("");
}

char *cli_default_name(const char *path)
{
    if (strcmp(path, "-") == 0)
        return NULL;
    char *copy = strdup(path);
    char *base = copy ? strdup(basename(copy)) : NULL;
    free(copy);
    size_t len = base ? strlen(base) : 0;
    if (len > 5 && strcmp(base + len - 5, ".json") == 0)
        base[len - 5] = '\0';
    return base;
}
