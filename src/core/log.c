/* log.c: logfmt writer.  Values are escaped here, once, for every caller:
 * a value from the network (an agent's version, a URL) can hold a newline or
 * a quote, and must never end its line or forge a key. */
#include "core/log.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
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

struct line {
    char *buf;
    size_t len, cap; /* cap leaves room for the newline */
};

static void put_char(struct line *l, char c)
{
    if (l->len < l->cap)
        l->buf[l->len++] = c;
}

/* One byte of a value, escaped so one event is always one line and a value
 * cannot close its quotes and forge a key ("\n", "\"", "\\", "\x01"). */
static void put_escaped(struct line *l, unsigned char c)
{
    static const char hex[] = "0123456789abcdef";
    const char *esc = c == '"'    ? "\\\""
                      : c == '\\' ? "\\\\"
                      : c == '\n' ? "\\n"
                      : c == '\r' ? "\\r"
                      : c == '\t' ? "\\t"
                                  : NULL;
    if (esc) {
        put_char(l, esc[0]);
        put_char(l, esc[1]);
    } else if (c < 0x20 || c == 0x7f) {
        put_char(l, '\\');
        put_char(l, 'x');
        put_char(l, hex[c >> 4]);
        put_char(l, hex[c & 15]);
    } else {
        put_char(l, (char)c);
    }
}

/* A %s value: escaped inside quotes the format gave; quoted by us when it
 * stands bare and holds a space, '=', a quote or a control byte. */
static void put_value(struct line *l, const char *s, size_t max, bool quoted)
{
    if (!s)
        s = "(null)";
    size_t n = strnlen(s, max);
    bool wrap = !quoted && (n == 0 || strcspn(s, " =\"\\\x7f") < n);
    for (size_t i = 0; !wrap && !quoted && i < n; i++)
        wrap = (unsigned char)s[i] < 0x20;
    if (wrap)
        put_char(l, '"');
    for (size_t i = 0; i < n; i++)
        put_escaped(l, (unsigned char)s[i]);
    if (wrap)
        put_char(l, '"');
}

/* One conversion spec ("%-08.3lld") at *fmt: length in *n, whether '*'s
 * take ints, and its final letter. */
static char scan_spec(const char *fmt, size_t *n, int *stars)
{
    size_t i = 1;
    *stars = 0;
    while (fmt[i] && strchr("-+ #0", fmt[i]))
        i++;
    for (; fmt[i] && (strchr("0123456789.*", fmt[i])); i++)
        *stars += fmt[i] == '*';
    while (fmt[i] && strchr("hlLqjzt", fmt[i]))
        i++;
    *n = fmt[i] ? i + 1 : i;
    return fmt[i];
}

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
/* One non-string conversion with its argument of the type spec names. */
static void format_one(char *out, size_t cap, const char *spec, char conv, int stars, int a1,
                       int a2, va_list *ap)
{
#define FMT1(v)                                                                                    \
    (stars == 2   ? snprintf(out, cap, spec, a1, a2, v)                                            \
     : stars == 1 ? snprintf(out, cap, spec, a1, v)                                                \
                  : snprintf(out, cap, spec, v))
    bool ll = strstr(spec, "ll") || strchr(spec, 'j') || strchr(spec, 'q');
    bool lo = !ll && strchr(spec, 'l'), z = strchr(spec, 'z') || strchr(spec, 't');
    out[0] = '\0';
    if (strchr("di", conv)) {
        if (ll)
            FMT1(va_arg(*ap, long long));
        else if (lo || z)
            FMT1(va_arg(*ap, long));
        else
            FMT1(va_arg(*ap, int));
    } else if (strchr("uxXo", conv)) {
        if (ll)
            FMT1(va_arg(*ap, unsigned long long));
        else if (lo || z)
            FMT1(va_arg(*ap, unsigned long));
        else
            FMT1(va_arg(*ap, unsigned));
    } else if (strchr("feEgGaAF", conv)) {
        if (strchr(spec, 'L'))
            FMT1(va_arg(*ap, long double));
        else
            FMT1(va_arg(*ap, double));
    } else if (conv == 'c') {
        FMT1(va_arg(*ap, int));
    } else if (conv == 'p') {
        FMT1(va_arg(*ap, void *));
    }
#undef FMT1
}
#pragma GCC diagnostic pop

/* printf with every %s value escaped (put_value); other conversions as
 * printf would write them. */
static void put_pairs(struct line *l, const char *fmt0, va_list *ap)
{
    for (const char *fmt = fmt0; *fmt;) {
        if (*fmt != '%') {
            put_char(l, *fmt++);
            continue;
        }
        size_t n;
        int stars;
        char conv = scan_spec(fmt, &n, &stars), spec[32], tmp[128];
        const char *prec = memchr(fmt, '.', n);
        if (conv == '%' || !conv || n >= sizeof spec) {
            put_char(l, '%');
            fmt += conv == '%' ? 2 : 1;
            continue;
        }
        memcpy(spec, fmt, n);
        spec[n] = '\0';
        int a1 = stars > 0 ? va_arg(*ap, int) : 0, a2 = stars > 1 ? va_arg(*ap, int) : 0;
        if (conv == 's') {
            size_t max = prec && prec[1] != '*' ? strtoul(prec + 1, NULL, 10) : SIZE_MAX;
            if (prec && prec[1] == '*')
                max = (size_t)(stars > 1 ? a2 : a1);
            put_value(l, va_arg(*ap, const char *), max, fmt > fmt0 && fmt[-1] == '"');
        } else {
            format_one(tmp, sizeof tmp, spec, conv, stars, a1, a2, ap);
            for (const char *t = tmp; *t; t++)
                put_char(l, *t);
        }
        fmt += n;
    }
}

void cmon_log_write(const struct cmon_log *log, enum cmon_log_level level, const char *msg,
                    const char *fmt, ...)
{
    if (!log || level < log->min_level)
        return;
    char buf[2048], ts[40];
    struct line l = {buf, 0, sizeof buf - 1};
    l.len = (size_t)snprintf(buf, l.cap, "ts=%s level=%s",
                             cmon_rfc3339(cmon_wall_ns(), ts, sizeof ts), level_name[level]);
    if (log->component && l.len < l.cap)
        l.len += (size_t)snprintf(buf + l.len, l.cap - l.len, " component=%s", log->component);
    if (l.len > l.cap)
        l.len = l.cap;
    for (const char *p = " msg=\""; *p; p++)
        put_char(&l, *p);
    put_value(&l, msg, SIZE_MAX, true);
    put_char(&l, '"');
    if (fmt && *fmt) {
        put_char(&l, ' ');
        va_list ap;
        va_start(ap, fmt);
        put_pairs(&l, fmt, &ap);
        va_end(ap);
    }
    buf[l.len++] = '\n';
    ssize_t w = write(log->fd, buf, l.len);
    (void)w;
}
