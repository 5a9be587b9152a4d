/* target.h: turn what a user or a monitor file names as a destination into
 * the host, port and protocol of a probe_target: "https://h/p" (Http, host
 * from the URL via libcurl's parser), "h:5432" / "[v6]:443" (Tcp), "h" /
 * "198.18.1.2" / "fd00::2" (Icmp).  Pure: no DNS, no I/O.  Results go into a
 * caller-owned fixed buffer. */
#ifndef CMON_PROBE_TARGET_H
#define CMON_PROBE_TARGET_H

#include <stdbool.h>
#include <stdint.h>

#include "core/err.h"
#include "model/monitor.h"

struct probe_target_buf {
    enum cmon_protocol proto;
    char host[256]; /* IPv6 literals without brackets */
    char url[2048]; /* Http only */
    uint16_t port;  /* 0: none given (Icmp) */
};

/* proto < 0: infer from the form of arg.  port > 0 sets the port (not for URLs).
 * An Http target given as a bare host becomes "http://host[:port]/".
 * CMON_ERR_INVALID with a message when the combination makes no sense
 * (Tcp without a port, Icmp with one, a malformed URL). */
enum cmon_err probe_target_parse(const char *arg, int proto, int port, struct probe_target_buf *out,
                                 struct cmon_errbuf *eb);

/* Host and port (scheme default when absent) of an http(s) URL. */
enum cmon_err probe_url_host(const char *url, char *host, size_t hostlen, uint16_t *port,
                             struct cmon_errbuf *eb);

/* "icmp"/"tcp"/"http", any case (names: cmon_protocol_name); false when
 * unknown. */
bool probe_protocol_parse(const char *s, enum cmon_protocol *out);

#endif
