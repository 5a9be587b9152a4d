/* log.h: logfmt lines on stderr ("ts=... level=info msg=\"...\" key=value").
 * A struct cmon_log is owned by main() and passed down; no global logger.
 * Thread-safe: each line is written with one write(2). */
#ifndef CMON_CORE_LOG_H
#define CMON_CORE_LOG_H

#include <stdio.h>

enum cmon_log_level { CMON_LOG_DEBUG, CMON_LOG_INFO, CMON_LOG_WARN, CMON_LOG_ERROR };

struct cmon_log {
    enum cmon_log_level min_level;
    int fd;                /* usually 2 */
    const char *component; /* "server", "agent", ... or NULL */
};

void cmon_log_init(struct cmon_log *log, enum cmon_log_level min_level, int fd,
                   const char *component);
/* Parse "debug|info|warn|error"; returns -1 when unknown. */
int cmon_log_level_parse(const char *s, enum cmon_log_level *out);

/* msg is quoted; fmt/... append extra logfmt pairs, e.g.
 * cmon_log_write(log, CMON_LOG_INFO, "started", "listen=%s", addr).  Every
 * %s value is escaped (quotes, backslashes, control bytes as \n, \xNN) and
 * a bare one (key=%s) is quoted when it needs it, so one call is one line.
 * Write values bare (err=%s, not err=\"%s\"): the logger decides the quotes,
 * and the compiler checks the arguments against the format.
 * A NULL log writes nothing. */
void cmon_log_write(const struct cmon_log *log, enum cmon_log_level level, const char *msg,
                    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

#define cmon_info(log, msg, ...) cmon_log_write(log, CMON_LOG_INFO, msg, __VA_ARGS__)
#define cmon_warn(log, msg, ...) cmon_log_write(log, CMON_LOG_WARN, msg, __VA_ARGS__)
#define cmon_error(log, msg, ...) cmon_log_write(log, CMON_LOG_ERROR, msg, __VA_ARGS__)
#define cmon_debug(log, msg, ...) cmon_log_write(log, CMON_LOG_DEBUG, msg, __VA_ARGS__)

#endif
