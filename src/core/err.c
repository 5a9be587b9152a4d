/* err.c: message text for enum cmon_err and the errbuf helper. */
#include "core/err.h"

#include <stdarg.h>
#include <stdio.h>

static const char *const err_text[CMON_ERR__COUNT] = {
    [CMON_OK] = "success",
    [CMON_ERR_NOMEM] = "out of memory",
    [CMON_ERR_INVALID] = "invalid input",
    [CMON_ERR_PARSE] = "malformed input",
    [CMON_ERR_IO] = "input/output error",
    [CMON_ERR_NOTFOUND] = "not found",
    [CMON_ERR_EXISTS] = "already exists",
    [CMON_ERR_LIMIT] = "limit reached",
    [CMON_ERR_PERM] = "permission denied",
    [CMON_ERR_UNSUPPORTED] = "not supported",
    [CMON_ERR_TIMEOUT] = "timed out",
    [CMON_ERR_STORE] = "storage error",
    [CMON_ERR_NET] = "network error",
    [CMON_ERR_AUTH] = "authentication failed",
    [CMON_ERR_BUSY] = "overloaded",
};

const char *cmon_strerror(enum cmon_err err)
{
    if ((unsigned)err >= CMON_ERR__COUNT)
        return "unknown error";
    return err_text[err];
}

enum cmon_err cmon_fail(struct cmon_errbuf *eb, enum cmon_err err, const char *fmt, ...)
{
    if (eb) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(eb->msg, sizeof eb->msg, fmt, ap);
        va_end(ap);
    }
    return err;
}
