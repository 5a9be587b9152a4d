/* log.c: logfmt writer. */
#include "core/log.h"

#include <stdarg.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "core/clock.h"

static const char *const level_name[] = {"debug", "info", "warn", "error"};

void cmon_log_init(struct cmon_log *log, enum cmon_log_level min_level, int fd,
                   const char *component)
{
    log->min_level = min_level;
    log->fd = fd;
    log->component = component;
}

int cmon_log_level_parse(const char *s, enum cmon_log_level *out)
{
    for (size_t i = 0; i < sizeof level_name / sizeof level_name[0]; i++) {
        if (strcasecmp(s, level_name[i]) == 0) {
            *out = (enum cmon_log_level)i;
            return 0;
        }
    }
    return -1;
}

/* Append s quoted with logfmt escaping; returns new length (clamped). */
static size_t put_quoted(char *buf, size_t len, size_t cap, const char *s)
{
    if (len < cap)
        buf[len++] = '"';
    for (; *s && len + 2 < cap; s++) {
        if (*s == '"' || *s == '\\') {
            buf[len++] = '\\';
            buf[len++] = *s;
        } else if (*s == '\n') {
            buf[len++] = '\\';
            buf[len++] = 'n';
        } else {
            buf[len++] = *s;
        }
    }
    if (len < cap)
        buf[len++] = '"';
    return len;
}

void cmon_log_write(const struct cmon_log *log, enum cmon_log_level level, const char *msg,
                    const char *fmt, ...)
{
    if (!log || level < log->min_level)
        return;
    char line[2048], ts[40];
    size_t cap = sizeof line - 1, len;
    len = (size_t)snprintf(line, cap, "ts=%s level=%s", cmon_rfc3339(cmon_wall_ns(), ts, sizeof ts),
                           level_name[level]);
    if (log->component && len < cap)
        len += (size_t)snprintf(line + len, cap - len, " component=%s", log->component);
    if (len < cap)
        len += (size_t)snprintf(line + len, cap - len, " msg=");
    if (len > cap)
        len = cap;
    len = put_quoted(line, len, cap, msg);
    if (fmt && *fmt && len + 1 < cap) {
        line[len++] = ' ';
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(line + len, cap - len, fmt, ap);
        va_end(ap);
        if (n > 0)
            len += (size_t)n < cap - len ? (size_t)n : cap - len - 1;
    }
    line[len++] = '\n';
    ssize_t w = write(log->fd, line, len);
    (void)w;
}
