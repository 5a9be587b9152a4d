/* notify_internal.h: one queued delivery (a job) and the two ways to send it,
 * shared by notify.c (queue, thread, retries) and send.c (libcurl, exec).
 * Internal to src/alert; send functions run on the sender thread only. */
#ifndef CMON_ALERT_NOTIFY_INTERNAL_H
#define CMON_ALERT_NOTIFY_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "core/log.h"

enum notify_kind { NOTIFY_WEBHOOK, NOTIFY_ALERTMANAGER, NOTIFY_EXEC };

struct notify_job {
    enum notify_kind kind;
    char *target;       /* URL (Alertmanager: base + /api/v2/alerts), or the program */
    char *secret;       /* webhook HMAC key, or NULL */
    char *body;         /* request body / exec stdin */
    char **argv;        /* exec: NULL-terminated */
    char **env;         /* exec: CMON_ALERT_* additions, NULL-terminated */
    int timeout_sec;    /* exec */
    char *alert_key;    /* for logs (core/log.c escapes values) */
    int tries;          /* failed tries so far */
    int64_t due_ns;
};

/* One try.  true when delivered (HTTP 2xx, exit status 0); else why in err. */
bool notify_send_http(const struct notify_job *job, long timeout_ms, char *err, size_t errlen);
bool notify_send_exec(const struct notify_job *job, char *err, size_t errlen);
void notify_job_free(struct notify_job *job);

#endif
