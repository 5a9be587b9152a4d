/* static.h: the dashboard's files (everything under web/), embedded into the binary at build
 * time by cmake/EmbedWeb.cmake, and the handler that serves them.
 * Ownership: the asset table is const data of the generated web_assets.c;
 * nothing is allocated per request.  Threads: any (read-only data). */
#ifndef CMON_SERVER_STATIC_H
#define CMON_SERVER_STATIC_H

#include <microhttpd.h>
#include <stdbool.h>
#include <stddef.h>

struct web_asset {
    const char *path; /* "/index.html", "/views/tests.js" (relative to web/) */
    const unsigned char *data;
    size_t len; /* data[len] is a NUL, not counted */
    const char *content_type;
    const char *etag; /* quoted strong ETag: "\"0123456789abcdef\"" */
};

extern const struct web_asset web_assets[];
extern const size_t web_assets_count;

/* The asset at path ("/" is "/index.html"), or NULL. */
const struct web_asset *web_asset_find(const char *path);

struct req;
/* The route hook of http.c's dispatch: serves "/", "/index.html" and "/ui/..."
 * (no token needed: the files hold no data) and returns true with *ret set;
 * false when the path is not the UI's. */
bool static_route(struct req *r, enum MHD_Result *ret);

#endif
