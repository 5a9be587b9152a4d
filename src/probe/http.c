/* http.c: placeholder until the http branch lands -- HTTP checks are not
 * supported in this build.  The http branch's file replaces this one. */
#include "probe/probe_internal.h"

static enum cmon_err http_start(struct probe_engine *eng, const struct probe_target *t,
                                const struct sockaddr *sa, socklen_t salen, probe_check_cb cb,
                                void *arg)
{
    return CMON_ERR_UNSUPPORTED;
}

void probe_http_close(struct probe_engine *eng) {}

const struct probe_ops probe_http_ops = {
    .proto = CMON_PROTO_HTTP,
    .name = "http",
    .start = http_start,
};
