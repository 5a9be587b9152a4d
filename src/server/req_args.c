/* req_args.c: a query string is checked against the parameters an endpoint
 * knows, so a typo (`SourceNmae=x`) or a dimension cmon does not record is a
 * 400 that names it, never a silently unfiltered answer (DESIGN 6). */
#include <string.h>

#include "core/text.h"
#include "server/server_internal.h"

struct arg_check {
    const char *const *known;
    size_t n_known;
    char unknown[128];
};

static enum MHD_Result check_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                                 const char *value)
{
    struct arg_check *c = cls;
    for (size_t i = 0; i < c->n_known; i++) {
        if (strcmp(key, c->known[i]) == 0)
            return MHD_YES;
    }
    snprintf(c->unknown, sizeof c->unknown, "%s", key);
    return MHD_NO; /* stop at the first */
}

bool req_known_args(struct req *r, const char *const *known, size_t n_known)
{
    struct arg_check c = {.known = known, .n_known = n_known};
    MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, check_arg, &c);
    if (!c.unknown[0])
        return true;
    const char *guess = cmon_suggest(c.unknown, known, n_known);
    if (guess)
        reply_error(r, 400, "invalid_parameter", c.unknown,
                    "unknown parameter '%s' (did you mean '%s'?)", c.unknown, guess);
    else
        reply_error(r, 400, "invalid_parameter", c.unknown, "unknown parameter '%s'", c.unknown);
    return false;
}
