/* static.c: serves the dashboard (everything under web/, embedded at build time) at / and
 * /ui/...: GET and HEAD only, exact Content-Type, a strong ETag with
 * If-None-Match -> 304, "Cache-Control: no-cache" (revalidate: the names are
 * not content-hashed), and a strict Content-Security-Policy (scripts and
 * styles only from this origin, no inline script, no framing). */
#include <string.h>

#include "server/server_internal.h"
#include "server/static.h"

#define UI_PREFIX "/ui/"

static const char csp[] = "default-src 'none'; script-src 'self'; style-src 'self'; "
                          "img-src 'self' data:; connect-src 'self'; font-src 'self'; "
                          "base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

const struct web_asset *web_asset_find(const char *path)
{
    if (strcmp(path, "/") == 0)
        path = "/index.html";
    for (size_t i = 0; i < web_assets_count; i++) {
        if (strcmp(web_assets[i].path, path) == 0)
            return &web_assets[i];
    }
    return NULL;
}

/* If-None-Match: "*" or a comma-separated list of (possibly weak) tags. */
static bool etag_matches(const char *inm, const char *etag)
{
    if (!inm)
        return false;
    if (strcmp(inm, "*") == 0)
        return true;
    size_t n = strlen(etag);
    for (const char *p = strstr(inm, etag); p; p = strstr(p + 1, etag)) {
        char after = p[n];
        if (after == '\0' || after == ',' || after == ' ')
            return true;
    }
    return false;
}

static enum MHD_Result static_reply(struct req *r, const struct web_asset *a)
{
    const char *inm = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "If-None-Match");
    bool fresh = etag_matches(inm, a->etag);
    struct MHD_Response *resp = MHD_create_response_from_buffer(
        fresh ? 0 : a->len, fresh ? NULL : (void *)a->data, MHD_RESPMEM_PERSISTENT);
    if (!resp)
        return MHD_NO;
    if (!fresh)
        MHD_add_response_header(resp, "Content-Type", a->content_type);
    MHD_add_response_header(resp, "ETag", a->etag);
    MHD_add_response_header(resp, "Cache-Control", "no-cache");
    MHD_add_response_header(resp, "Content-Security-Policy", csp);
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
    enum MHD_Result ret =
        MHD_queue_response(r->conn, fresh ? MHD_HTTP_NOT_MODIFIED : MHD_HTTP_OK, resp);
    MHD_destroy_response(resp);
    r->replied = true;
    return ret;
}

/* "/" and "/index.html" are the app; "/ui/X" is web/X.  The files hold no
 * data, so they are served without a token (the API calls are what need one).
 * Returns false when the path is not the UI's, leaving the request alone. */
bool static_route(struct req *r, enum MHD_Result *ret)
{
    const char *p = r->path;
    const struct web_asset *a = NULL;
    if (strcmp(p, "/") == 0 || strcmp(p, "/index.html") == 0)
        a = web_asset_find("/index.html");
    else if (strncmp(p, UI_PREFIX, strlen(UI_PREFIX)) == 0)
        a = web_asset_find(p + strlen(UI_PREFIX) - 1);
    else if (strcmp(p, "/ui") != 0)
        return false;
    if (strcmp(r->method, "GET") != 0 && strcmp(r->method, "HEAD") != 0) {
        *ret = reply_error(r, 405, "method_not_allowed", NULL, "use GET");
        return true;
    }
    if (!a && (strcmp(p, "/ui") == 0 || strcmp(p, UI_PREFIX) == 0))
        a = web_asset_find("/index.html");
    *ret = a ? static_reply(r, a) : reply_error(r, 404, "not_found", NULL, "no such file: %s", p);
    return true;
}
