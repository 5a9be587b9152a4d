/* cmd_agent.c: `cmon agent` -- run a remote agent (DESIGN 1 and 7) until
 * SIGINT/SIGTERM: register with the workspace key, pull assignments, probe,
 * and push results through the on-disk spool (src/agent/agent.h). */
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/agent.h"
#include "core/addr.h"
#include "cli/cli.h"
#include "cli/client.h"
#include "model/agent_body.h"

struct agent_args {
    struct agent_opts o;
    char *server_copies[AGENT_MAX_SERVERS];
    char host[64];
};

/* --server may be repeated and may hold a comma-separated list. */
static int add_servers(const struct cli_command *self, struct agent_args *aa, const char *arg)
{
    char *copy = strdup(arg), *save = NULL;
    if (!copy)
        return CLI_EXIT_FAILED;
    int rc = 0;
    for (char *tok = strtok_r(copy, ",", &save); tok && !rc; tok = strtok_r(NULL, ",", &save)) {
        if (strncmp(tok, "http://", 7) != 0 && strncmp(tok, "https://", 8) != 0)
            rc = cli_usage_error(self, "--server '%s' must start with http:// or https://", tok);
        else if (aa->o.n_servers == AGENT_MAX_SERVERS)
            rc = cli_usage_error(self, "at most %d servers", AGENT_MAX_SERVERS);
        else {
            size_t i = aa->o.n_servers++;
            aa->o.servers[i] = aa->server_copies[i] = strdup(tok);
        }
    }
    free(copy);
    return rc;
}

/* Is an http:// URL's host loopback (127.0.0.0/8, ::1, localhost)? */
static bool url_is_loopback(const char *url)
{
    const char *h = url + 7; /* after "http://" */
    return strncmp(h, "127.", 4) == 0 || strncmp(h, "[::1]", 5) == 0 ||
           strncmp(h, "localhost", 9) == 0;
}

/* Plain http:// to another host sends the workspace key and the agent's
 * token in clear: said once at start (and in --help), not refused, since a
 * private network or a TLS-terminating tunnel may make it acceptable. */
static void warn_cleartext(const struct agent_args *aa, const struct cmon_log *log)
{
    for (size_t i = 0; i < aa->o.n_servers; i++) {
        const char *u = aa->o.servers[i];
        if (strncmp(u, "http://", 7) == 0 && !url_is_loopback(u))
            cmon_warn(log, "the key and token go to this server in clear text: use https://",
                      "server=%s", u);
    }
}

static int parse_size(const char *s, uint64_t *out)
{
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    uint64_t mul = 1;
    if (*end == 'k' || *end == 'K')
        mul = 1024, end++;
    else if (*end == 'm' || *end == 'M')
        mul = 1024 * 1024, end++;
    else if (*end == 'g' || *end == 'G')
        mul = 1024ULL * 1024 * 1024, end++;
    if (*end || !v || *s == '-')
        return -1;
    *out = v * mul;
    return 0;
}

static int parse_int(const char *s, int lo, int hi, int *out)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (*end || !*s || v < lo || v > hi)
        return -1;
    *out = (int)v;
    return 0;
}

int cli_agent_address(const struct cli_command *self, const char *arg, const char **out)
{
    enum cmon_addr_kind k = cmon_addr_classify(arg);
    if ((k != CMON_ADDR_IPV4 && k != CMON_ADDR_IPV6) || strlen(arg) > 63 || strchr(arg, '['))
        return cli_usage_error(self, "--address wants an IPv4 or IPv6 address, not '%s'", arg);
    *out = arg;
    return 0;
}

int cli_agent_region(const struct cli_command *self, const char *arg, const char **out)
{
    if (!*arg || !cmon_agent_text_valid(arg, 63))
        return cli_usage_error(self, "--region wants 1-63 printable characters");
    *out = arg;
    return 0;
}

static int agent_option(const struct cli_command *self, int c, struct agent_args *aa,
                        struct cmon_log *log)
{
    enum cmon_log_level lvl;
    switch (c) {
    case 's':
        return add_servers(self, aa, optarg);
    case 'k':
        aa->o.key = optarg;
        return 0;
    case 'n':
        aa->o.name = optarg;
        return 0;
    case 'd':
        aa->o.state_dir = optarg;
        return 0;
    case 'A':
        return cli_agent_address(self, optarg, &aa->o.address);
    case 'R':
        return cli_agent_region(self, optarg, &aa->o.region);
    case 'c':
        aa->o.ca_file = optarg;
        return 0;
    case 'H':
        return parse_int(optarg, 1, 300, &aa->o.heartbeat_sec)
                   ? cli_usage_error(self, "--heartbeat wants 1..300 seconds")
                   : 0;
    case 'B':
        return parse_int(optarg, 100, 60000, &aa->o.batch_ms)
                   ? cli_usage_error(self, "--batch-ms wants 100..60000 milliseconds")
                   : 0;
    case 'M':
        return parse_size(optarg, &aa->o.spool_max_bytes)
                   ? cli_usage_error(self, "--spool-max wants a size like 256M")
                   : 0;
    case 'N':
        return cli_threads_option(self, optarg, &aa->o.loops);
    case 'L':
        if (cmon_log_level_parse(optarg, &lvl) != 0)
            return cli_usage_error(self, "--log-level wants debug, info, warn or error");
        log->min_level = lvl;
        return 0;
    }
    return 0;
}

static int check_args(const struct cli_command *self, struct agent_args *aa, int argc, char **argv)
{
    if (optind < argc)
        return cli_usage_error(self, "unexpected argument '%s'", argv[optind]);
    if (!aa->o.n_servers && getenv("CMON_SERVER") && *getenv("CMON_SERVER")) {
        int rc = add_servers(self, aa, getenv("CMON_SERVER"));
        if (rc)
            return rc;
    }
    if (!aa->o.n_servers)
        return cli_usage_error(self, "--server URL (or $CMON_SERVER) is required");
    if (!aa->o.key)
        aa->o.key = getenv("CMON_AGENT_KEY");
    if (!aa->o.name) {
        if (gethostname(aa->host, sizeof aa->host - 1) != 0)
            return cli_usage_error(self, "no --name and no host name");
        aa->o.name = aa->host;
    }
    if (!aa->o.state_dir)
        aa->o.state_dir = getenv("STATE_DIRECTORY") ? getenv("STATE_DIRECTORY") : "./cmon-agent";
    if (!cmon_agent_name_valid(aa->o.name))
        return cli_usage_error(self,
                               "--name '%s' must be 1-%d characters of [A-Za-z0-9._-], not "
                               "starting with '.' or '-'",
                               aa->o.name, CMON_AGENT_NAME_MAX);
    return 0;
}

static int run_until_signal(struct agent_args *aa)
{
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    signal(SIGPIPE, SIG_IGN);
    struct agent *a = NULL;
    struct cmon_errbuf eb;
    enum cmon_err err = agent_start(&aa->o, &a, &eb);
    if (err) {
        fprintf(stderr, "cmon agent: %s\n", eb.msg);
        return err == CMON_ERR_AUTH ? CLI_EXIT_SERVER : CLI_EXIT_FAILED;
    }
    int sig = 0;
    sigwait(&stop, &sig);
    cmon_info(aa->o.log, "stopping", "signal=%s", sig == SIGINT ? "SIGINT" : "SIGTERM");
    agent_stop(a);
    return CLI_EXIT_OK;
}

static int agent_run(const struct cli_command *self, int argc, char **argv)
{
    static const struct option longopts[] = {{"server", required_argument, NULL, 's'},
                                             {"key", required_argument, NULL, 'k'},
                                             {"name", required_argument, NULL, 'n'},
                                             {"state-dir", required_argument, NULL, 'd'},
                                             {"address", required_argument, NULL, 'A'},
                                             {"region", required_argument, NULL, 'R'},
                                             {"ca", required_argument, NULL, 'c'},
                                             {"heartbeat", required_argument, NULL, 'H'},
                                             {"spool-max", required_argument, NULL, 'M'},
                                             {"batch-ms", required_argument, NULL, 'B'},
                                             {"threads", required_argument, NULL, 'N'},
                                             {"log-level", required_argument, NULL, 'L'},
                                             {"help", no_argument, NULL, 'h'},
                                             {0}};
    struct cmon_log log;
    cmon_log_init(&log, CMON_LOG_INFO, 2, "agent");
    struct agent_args aa = {.o = {.log = &log}};
    int c, rc = 0;
    bool done = false;
    while (!rc && !done && (c = cli_getopt(self, argc, argv, "hs:k:n:d:c:", longopts, &rc)) != -1) {
        if (c == -2)
            done = true; /* --help printed (rc 0) or a usage error (rc 2) */
        else
            rc = agent_option(self, c, &aa, &log);
    }
    if (!rc && !done)
        rc = check_args(self, &aa, argc, argv);
    if (!rc && !done) {
        warn_cleartext(&aa, &log);
        rc = run_until_signal(&aa);
    }
    for (size_t i = 0; i < AGENT_MAX_SERVERS; i++)
        free(aa.server_copies[i]);
    return rc;
}

const struct cli_command cmd_agent = {
    .name = "agent",
    .summary = "run an agent that probes for a remote server",
    .usage = "usage: cmon agent --server URL [--server URL...] [--key KEY] [--name NAME]\n"
             "                  [--address ADDR] [--region REGION]\n"
             "                  [--state-dir DIR] [--ca FILE] [--heartbeat SEC]\n"
             "                  [--spool-max SIZE] [--batch-ms MS] [--threads N]\n"
             "                  [--log-level LEVEL]\n"
             "\n"
             "Run an agent: register with the server using the workspace key, keep the\n"
             "per-agent token it gets in the state directory, pull the tests whose source\n"
             "endpoint names this agent, run them, and push each round's result.  Every\n"
             "batch is written to an on-disk spool (fsync) before it is sent and removed\n"
             "only when the server acknowledged it: server outages and restarts lose\n"
             "nothing.  Runs until SIGINT or SIGTERM.\n"
             "\n"
             "Options:\n"
             "  -s, --server URL     the server (http:// or https://); repeat it or give a\n"
             "                       comma-separated list to fail over between replicas\n"
             "                       (default $CMON_SERVER).  Over http:// to another host\n"
             "                       the key and token travel in clear text (warned at\n"
             "                       start): use https:// with --ca\n"
             "  -k, --key KEY        the workspace key (an agent token created without a\n"
             "                       name: 'cmon token create --role agent'); default\n"
             "                       $CMON_AGENT_KEY; not needed once a token is saved\n"
             "  -n, --name NAME      the agent's name, as monitor files name it (default the\n"
             "                       host name): 1-63 of [A-Za-z0-9._-], unique among the\n"
             "                       server's agents.  Next to 'cmon run' (whose embedded\n"
             "                       agent is the host name, alias 'local') pick another\n"
             "      --address ADDR   the agent's primary address (IPv4 or IPv6), reported\n"
             "                       first: its tests' SourceAddress, what a search by\n"
             "                       address finds and what compound sources' scopes match\n"
             "                       (default the host's first non-loopback address)\n"
             "      --region REGION  the agent's region, its tests' Region dimension\n"
             "  -d, --state-dir DIR  token and spool (default $STATE_DIRECTORY, else\n"
             "                       ./cmon-agent)\n"
             "  -c, --ca FILE        PEM trust anchors for an https server (default the\n"
             "                       system store); a certificate that does not verify is\n"
             "                       refused\n"
             "      --heartbeat SEC  heartbeat period (default 10); the server marks the\n"
             "                       agent stopped after 3 missed heartbeats\n"
             "      --spool-max SIZE spool limit, e.g. 64M (default 256M); when full, new\n"
             "                       batches are dropped, logged and counted\n"
             "      --batch-ms MS    how long finished rounds wait to be sent together\n"
             "                       (default 1000; longer when the server asks, its\n"
             "                       --agent-batch-ms); batches also stay under the\n"
             "                       server's body limit, which it tells the agent\n"
             "      --threads N      probe loops, each a thread with its own sockets, DNS\n"
             "                       cache and share of the tests (sharded by test id);\n"
             "                       default one per core, at most 16.  The spool and the\n"
             "                       pushes stay on one thread (exactly once unchanged)\n"
             "      --log-level L    debug, info (default), warn or error\n"
             "  -h, --help           show this help\n"
             "\n"
             "Exit status: 0 stopped by a signal, 1 cannot start (state directory, spool),\n"
             "2 usage error, 3 no saved token and no --key.\n",
    .run = agent_run,
};
