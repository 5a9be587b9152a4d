/* expand.c: test groups -> tests (source-major, then destination, then
 * configuration), stable test ids, and each test's target and port. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/addr.h"
#include "core/hash.h"
#include "model/monitor.h"

void cmon_test_id(const char *monitor, const char *group, const char *source,
                  const char *destination, const char *config, char out[CMON_TEST_ID_LEN + 1])
{
    /* fields, not a plain concatenation: ("ab","c") != ("a","bc") */
    const char *parts[] = {monitor, group, source, destination, config};
    uint64_t h = CMON_FNV1A_BASIS;
    for (size_t i = 0; i < 5; i++)
        h = cmon_fnv1a_field(h, parts[i]);
    snprintf(out, CMON_TEST_ID_LEN + 1, "%016llx", (unsigned long long)h);
}

/* Per protocol, in enum cmon_protocol order: its spelling in monitor files
 * and the defaults of the cmon extensions (DESIGN 3).  Probes, the scheduler
 * and the validator read these; a name or default changes here only. */
const char *const cmon_protocol_names[] = {
    [CMON_PROTO_ICMP] = "Icmp", [CMON_PROTO_TCP] = "Tcp", [CMON_PROTO_HTTP] = "Http", NULL};

static const struct cmon_protocol_defaults protocol_defaults[] = {
    [CMON_PROTO_ICMP] = {.checks_per_round = 10, .timeout_ms = 2000},
    [CMON_PROTO_TCP] = {.checks_per_round = 10, .timeout_ms = 2000},
    [CMON_PROTO_HTTP] = {.checks_per_round = 3, .timeout_ms = 10000},
};

#define N_PROTOCOLS (sizeof protocol_defaults / sizeof protocol_defaults[0])

const char *cmon_protocol_name(enum cmon_protocol p)
{
    return (unsigned)p < N_PROTOCOLS ? cmon_protocol_names[p] : "?";
}

const struct cmon_protocol_defaults *cmon_protocol_defaults(enum cmon_protocol p)
{
    /* an unknown protocol gets ICMP's, what a parse failure left before */
    return &protocol_defaults[(unsigned)p < N_PROTOCOLS ? p : CMON_PROTO_ICMP];
}

bool cmon_status_in_ranges(const struct cmon_status_range *r, size_t n, int status)
{
    if (n == 0)
        return status >= CMON_HTTP_VALID_DEFAULT_LO && status <= CMON_HTTP_VALID_DEFAULT_HI;
    for (size_t i = 0; i < n; i++) {
        if (status >= r[i].lo && status <= r[i].hi)
            return true;
    }
    return false;
}

bool cmon_status_valid(const struct cmon_test_config *c, int status)
{
    return cmon_status_in_ranges(c->valid_status, c->n_valid_status, status);
}

/* HTTP: the URL's scheme wins; without one, https when preferHTTPS or port 443.
 * Port: configuration, else the URL's, else the scheme's.  Path: configuration,
 * else the URL's, else "/". */
/* An agent destination is named by its agent; the server puts in the address
 * the agent registered with. */
static const char *dest_address(const struct cmon_endpoint *dst)
{
    return dst->type == CMON_EP_AGENT && dst->n_agents ? dst->agents[0] : dst->address;
}

static char *http_target(const struct cmon_endpoint *dst, const struct cmon_test_config *c,
                         int *port)
{
    const char *addr = dest_address(dst);
    struct cmon_url u = {0};
    bool is_url = cmon_addr_classify(addr) == CMON_ADDR_URL;
    if (is_url) {
        cmon_url_parse(addr, &u, NULL);
    } else if (!cmon_addr_host(addr, u.host, sizeof u.host)) {
        snprintf(u.host, sizeof u.host, "%s", addr); /* an agent's name */
    }
    const char *scheme = is_url ? u.scheme : (c->prefer_https || c->port == 443) ? "https" : "http";
    int def = strcmp(scheme, "https") == 0 ? 443 : 80;
    *port = c->port ? c->port : u.port ? u.port : def;
    const char *path = c->path ? c->path : u.path[0] ? u.path : "/";
    bool v6 = strchr(u.host, ':') != NULL;
    char portbuf[16] = "";
    if (*port != def)
        snprintf(portbuf, sizeof portbuf, ":%d", *port);
    size_t n = strlen(scheme) + strlen(u.host) + strlen(path) + 32;
    char *s = malloc(n);
    if (s)
        snprintf(s, n, "%s://%s%s%s%s%s", scheme, v6 ? "[" : "", u.host, v6 ? "]" : "", portbuf,
                 path);
    return s;
}

static char *plain_target(const struct cmon_endpoint *dst)
{
    char host[256];
    const char *addr = dest_address(dst);
    if (!cmon_addr_host(addr, host, sizeof host))
        return strdup(addr); /* an agent's name */
    return strdup(host);
}

static enum cmon_err fill_test(const struct cmon_monitor *m, size_t g, size_t s, size_t d, size_t c,
                               struct cmon_test *t)
{
    const struct cmon_test_group *grp = &m->groups[g];
    const struct cmon_endpoint *src = &m->endpoints[s], *dst = &m->endpoints[d];
    const struct cmon_test_config *cfg = &m->configs[c];
    t->group = g;
    t->source = s;
    t->destination = d;
    t->config = c;
    t->protocol = cfg->protocol;
    t->frequency_sec = cfg->frequency_sec;
    cmon_test_id(m->name, grp->name, src->name, dst->name, cfg->name, t->id);
    if (cfg->protocol == CMON_PROTO_HTTP) {
        t->target = http_target(dst, cfg, &t->port);
    } else {
        t->target = plain_target(dst);
        t->port = cfg->protocol == CMON_PROTO_TCP ? cfg->port : 0;
    }
    return t->target ? CMON_OK : CMON_ERR_NOMEM;
}

enum cmon_err cmon_monitor_expand(const struct cmon_monitor *m, struct cmon_test **tests,
                                  size_t *n_tests)
{
    size_t total = 0;
    for (size_t g = 0; g < m->n_groups; g++) {
        const struct cmon_test_group *grp = &m->groups[g];
        total += grp->n_sources * grp->n_destinations * grp->n_configs;
    }
    *tests = NULL;
    *n_tests = 0;
    struct cmon_test *out = calloc(total + 1, sizeof *out);
    if (!out)
        return CMON_ERR_NOMEM;
    size_t n = 0;
    for (size_t g = 0; g < m->n_groups; g++) {
        const struct cmon_test_group *grp = &m->groups[g];
        for (size_t s = 0; s < grp->n_sources; s++) {
            for (size_t d = 0; d < grp->n_destinations; d++) {
                for (size_t c = 0; c < grp->n_configs; c++) {
                    struct cmon_test *t = &out[n];
                    t->number = (int)n + 1;
                    enum cmon_err err =
                        fill_test(m, g, grp->sources[s], grp->destinations[d], grp->configs[c], t);
                    n++;
                    if (err) {
                        cmon_tests_free(out, n);
                        return err;
                    }
                }
            }
        }
    }
    *tests = out;
    *n_tests = n;
    return CMON_OK;
}

void cmon_tests_free(struct cmon_test *tests, size_t n)
{
    if (!tests)
        return;
    for (size_t i = 0; i < n; i++)
        free(tests[i].target);
    free(tests);
}
