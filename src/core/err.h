/* err.h: the one error enum of cmon and its message text.
 * Functions that can fail return enum cmon_err and, where the caller needs
 * detail, write a human sentence into a caller-owned buffer (struct cmon_errbuf).
 * Thread-safe: no state. */
#ifndef CMON_CORE_ERR_H
#define CMON_CORE_ERR_H

#include <stddef.h>

enum cmon_err {
    CMON_OK = 0,
    CMON_ERR_NOMEM,      /* allocation failed */
    CMON_ERR_INVALID,    /* input failed validation */
    CMON_ERR_PARSE,      /* input is not well-formed (JSON, URL, packet) */
    CMON_ERR_IO,         /* file or socket I/O failed (errno in the message) */
    CMON_ERR_NOTFOUND,   /* the named thing does not exist */
    CMON_ERR_EXISTS,     /* the named thing already exists */
    CMON_ERR_LIMIT,      /* a configured limit was reached */
    CMON_ERR_PERM,       /* not permitted (privileges, role) */
    CMON_ERR_UNSUPPORTED,/* valid, but not supported here */
    CMON_ERR_TIMEOUT,    /* the operation timed out */
    CMON_ERR_STORE,      /* the database failed */
    CMON_ERR_NET,        /* network peer failed or is unreachable */
    CMON_ERR_AUTH,       /* missing or wrong credentials */
    CMON_ERR_BUSY,       /* overloaded: a queue is full or a deadline passed; retry later */
    CMON_ERR__COUNT
};

/* Stable, short, lowercase text for an error code ("out of memory", ...). */
const char *cmon_strerror(enum cmon_err err);

/* A fixed-size message buffer the caller owns; callee fills it on error. */
struct cmon_errbuf {
    char msg[512];
};

/* printf into eb (if eb is non-NULL) and return err, so callers can write
 * `return cmon_fail(eb, CMON_ERR_IO, "open %s: %s", path, strerror(errno));` */
enum cmon_err cmon_fail(struct cmon_errbuf *eb, enum cmon_err err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
