/* monitor.h: the connection-monitor model of DESIGN section 3 -- parse a
 * monitor file (ARM envelope or bare properties), validate it with
 * file:line:col errors, and expand test groups into tests.
 * Pure: no I/O, no clock.  A struct cmon_monitor owns every string and array
 * it points to; free it with cmon_monitor_free(). */
#ifndef CMON_MODEL_MONITOR_H
#define CMON_MODEL_MONITOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/addr.h"
#include "core/err.h"

#define CMON_MAX_TEST_GROUPS 20
#define CMON_MAX_ENDPOINTS 100 /* sources + destinations */
#define CMON_MAX_TEST_CONFIGS 20
#define CMON_MIN_FREQUENCY_SEC 30
#define CMON_MAX_FREQUENCY_SEC 1800
#define CMON_DEFAULT_FREQUENCY_SEC 60
#define CMON_TEST_ID_LEN 16 /* hex characters */
#define CMON_MAX_MONITOR_ALERT_RULES 20

enum cmon_protocol { CMON_PROTO_ICMP, CMON_PROTO_TCP, CMON_PROTO_HTTP };
#define CMON_N_PROTOCOLS 3 /* tables indexed by enum cmon_protocol */
enum cmon_ip_pref { CMON_IP_ANY, CMON_IP_V4, CMON_IP_V6 };

enum cmon_endpoint_type {
    CMON_EP_AGENT,    /* one or more agents (sources or destinations) */
    CMON_EP_EXTERNAL, /* IPv4, IPv6, host name or URL */
};

struct cmon_endpoint {
    char *name;
    enum cmon_endpoint_type type;
    char *address; /* agent name, or the external address as written */
    char *resource_id; /* the cloud resourceId as written; NULL when none */
    /* Agents this endpoint stands for (CMON_EP_AGENT).  all_agents: a
     * workspace endpoint without a filter, i.e. every registered agent. */
    char **agents;
    size_t n_agents;
    bool all_agents;
    /* A compound source (DESIGN 3): an endpoint standing for several agents
     * -- a workspace, AzureSubnet, AzureVNet, AzureArcNetwork or AgentGroup.
     * kind is its type as the cloud names it ("Agent" for one agent).  With
     * a scope, its members are the registered agents with an address inside
     * include and not inside exclude. */
    bool compound;
    const char *kind; /* static string */
    struct cmon_cidr *include, *exclude;
    size_t n_include, n_exclude;
};

/* Whether the agent called name, reporting these addresses, is one the
 * endpoint stands for (by name, by its scope, or every agent). */
bool cmon_endpoint_has_agent(const struct cmon_endpoint *ep, const char *name,
                             const char *const *addresses, size_t n_addresses);

struct cmon_status_range {
    int lo, hi; /* inclusive, 100..599 */
};

struct cmon_http_header {
    char *name, *value;
};

struct cmon_test_config {
    char *name;
    enum cmon_protocol protocol;
    int frequency_sec;
    enum cmon_ip_pref ip_pref;
    int port;        /* 0: protocol default (HTTP 80/443) */
    bool traceroute; /* !disableTraceRoute */
    /* HTTP only */
    char *method; /* "GET", "POST", ... upper case */
    char *path;   /* NULL: the URL's path or "/" */
    bool prefer_https;
    struct cmon_http_header *headers;
    size_t n_headers;
    struct cmon_status_range *valid_status; /* n == 0: CMON_HTTP_VALID_DEFAULT_* */
    size_t n_valid_status;
    /* successThreshold; has_* false means "not given" (automatic applies) */
    bool has_failed_pct_threshold;
    double failed_pct_threshold;
    bool has_rtt_threshold;
    double rtt_threshold_ms;
    /* cmon extensions */
    int checks_per_round;
    int timeout_ms;
};

struct cmon_test_group {
    char *name;
    bool disabled;
    size_t *sources, n_sources; /* indexes into monitor->endpoints */
    size_t *destinations, n_destinations;
    size_t *configs, n_configs; /* indexes into monitor->configs */
};

struct cmon_alert_rule; /* model/alert_rule.h */

struct cmon_monitor {
    char *name;
    char *notes;
    /* alertRules: rules the file holds, managed by this monitor (each one's
     * monitor is the monitor's name; its monitor dimension defaults to it) */
    struct cmon_alert_rule **alert_rules;
    size_t n_alert_rules;
    struct cmon_endpoint *endpoints;
    size_t n_endpoints;
    struct cmon_test_config *configs;
    size_t n_configs;
    struct cmon_test_group *groups;
    size_t n_groups;
};

/* One validation problem.  line/col are 1-based (0 when unknown); path is the
 * JSON path inside properties, e.g. "testGroups[0].destinations[1]". */
struct cmon_problem {
    int line, col;
    char *path;
    char *message;
};

/* All problems of one parse, in file order.  Owned by the caller:
 * cmon_problems_free() releases the entries. */
struct cmon_problems {
    struct cmon_problem *items;
    size_t n, cap;
};

void cmon_problems_free(struct cmon_problems *p);
/* In file order (line, then column); problems at one position keep their order. */
void cmon_problems_sort(struct cmon_problems *p);
/* "file:line:col: path: message" (file may be NULL: "line:col: ..."). */
void cmon_problem_format(const struct cmon_problem *p, const char *file, char *out, size_t outlen);

/* Parse and validate a monitor from JSON text.  file names the source in
 * messages only; default_name names the monitor when the JSON has no "name"
 * (the file's base name without .json), and may be NULL.  On CMON_OK *out is a
 * new monitor; on CMON_ERR_INVALID/CMON_ERR_PARSE every problem found is in
 * probs and *out is NULL.  Never prints. */
enum cmon_err cmon_monitor_parse(const char *text, size_t len, const char *default_name,
                                 struct cmon_monitor **out, struct cmon_problems *probs);
void cmon_monitor_free(struct cmon_monitor *m);
/* For each action group an alert rule of m names that group_known(arg,
 * name) does not know, a problem at its line:col in text (the text m was
 * parsed from) saying to create it first.  CMON_ERR_INVALID when there is
 * one, CMON_ERR_NOMEM, else CMON_OK. */
enum cmon_err cmon_monitor_check_action_groups(const char *text, size_t len,
                                               const struct cmon_monitor *m,
                                               bool (*group_known)(void *arg, const char *name),
                                               void *arg, struct cmon_problems *probs);
/* Give the monitor another name (the API's URL wins over the file's), its
 * alert rules following it; CMON_ERR_NOMEM leaves m as it was. */
enum cmon_err cmon_monitor_rename(struct cmon_monitor *m, const char *name);

/* Every monitor a document holds: one monitor (as cmon_monitor_parse), or a
 * list -- the service's list responses {"value": [...]}, or a JSON array as
 * the cloud CLI prints.  A list's monitors are named by their own "name".
 * A document that is not a monitor (a REST API example, a deployment
 * template, a query result) gets one problem saying what it is and where a
 * monitor would be inside it.  On CMON_OK *out is a new array of *n (>= 1)
 * monitors (cmon_monitors_free); otherwise problems are in probs, as above. */
enum cmon_err cmon_monitors_parse(const char *text, size_t len, const char *default_name,
                                  struct cmon_monitor ***out, size_t *n,
                                  struct cmon_problems *probs);
void cmon_monitors_free(struct cmon_monitor **ms, size_t n);

/* The ARM resource type of a connection monitor. */
#define CMON_ARM_MONITOR_TYPE "Microsoft.Network/networkWatchers/connectionMonitors"

/* Monitor name rules (also for API URLs): 1-80 chars of [A-Za-z0-9._-],
 * not starting with '.' or '-'. */
bool cmon_monitor_name_valid(const char *name);

/* One expanded test: group x source x destination x configuration. */
struct cmon_test {
    char id[CMON_TEST_ID_LEN + 1];             /* stable hash, lowercase hex */
    int number;                                /* 1-based, in expansion order */
    size_t group, source, destination, config; /* indexes into the monitor */
    enum cmon_protocol protocol;
    char *target; /* HTTP: full URL; TCP/ICMP: host name or IP literal */
    int port;     /* 0 for ICMP */
    int frequency_sec;
};

/* Expand every group (disabled ones too: their tests exist, Not Running) in
 * the order source-major, then destination, then configuration.  *tests is a
 * new array the caller frees with cmon_tests_free(). */
enum cmon_err cmon_monitor_expand(const struct cmon_monitor *m, struct cmon_test **tests,
                                  size_t *n_tests);
void cmon_tests_free(struct cmon_test *tests, size_t n);

/* Test id = first 64 bits of FNV-1a over the five names, as 16 hex chars. */
void cmon_test_id(const char *monitor, const char *group, const char *source,
                  const char *destination, const char *config, char out[CMON_TEST_ID_LEN + 1]);

/* The expanded test as JSON: {number, id, testGroup, source, destination,
 * testConfiguration, protocol, target, port, frequencySec, disabled}.
 * Returns a new reference (NULL on allocation failure). */
struct json_t;
struct json_t *cmon_test_to_json(const struct cmon_monitor *m, const struct cmon_test *t);
/* [{line, col, path, message}, ...]; a new reference. */
struct json_t *cmon_problems_to_json(const struct cmon_problems *p);

/* "Icmp", "Tcp", "Http" (the monitor file's spelling), in enum order,
 * NULL-terminated. */
extern const char *const cmon_protocol_names[];
const char *cmon_protocol_name(enum cmon_protocol p); /* "?" when unknown */

/* What a test configuration gets when it leaves out the cmon extensions
 * checksPerRound and timeoutMs: ICMP/TCP 10 checks of 2000 ms, HTTP 3 of
 * 10000 ms.  Never NULL. */
struct cmon_protocol_defaults {
    int checks_per_round;
    int timeout_ms;
};
const struct cmon_protocol_defaults *cmon_protocol_defaults(enum cmon_protocol p);

/* The valid HTTP statuses where no range is given (DESIGN 3). */
#define CMON_HTTP_VALID_DEFAULT_LO 200
#define CMON_HTTP_VALID_DEFAULT_HI 399
/* status inside one of the n ranges; n == 0: inside the default. */
bool cmon_status_in_ranges(const struct cmon_status_range *r, size_t n, int status);
bool cmon_status_valid(const struct cmon_test_config *c, int status);

#endif
