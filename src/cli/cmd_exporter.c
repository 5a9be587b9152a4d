/* cmd_exporter.c: `cmon exporter` -- the blackbox_exporter stand-in
 * (src/exporter): options in blackbox's spelling and cmon's, then serve until
 * SIGINT/SIGTERM; SIGHUP re-reads the configuration. */
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli/cli.h"
#include "exporter/exporter.h"

static int serve(const char *cmd, const struct exp_server_opts *o)
{
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, NULL); /* before any thread starts */
    signal(SIGPIPE, SIG_IGN);
    struct exp_server *srv = NULL;
    struct cmon_errbuf eb = {{0}};
    if (exp_server_start(o, &srv, &eb) != CMON_OK) {
        fprintf(stderr, "cmon %s: %s\n", cmd, eb.msg);
        return CLI_EXIT_FAILED;
    }
    cmon_info(o->log, "listening", "address=%s config=%s threads=%u", o->listen, o->config_path,
              o->threads);
    printf("cmon %s: serving http://%s/probe (config %s)\n", cmd, o->listen, o->config_path);
    fflush(stdout);
    int sig = 0;
    while (sigwait(&set, &sig) == 0 && sig == SIGHUP)
        exp_server_reload(srv, &eb); /* logs either way; a bad file keeps the old one */
    cmon_info(o->log, "stopping", "signal=%s", sig == SIGINT ? "SIGINT" : "SIGTERM");
    exp_server_stop(srv);
    return CLI_EXIT_OK;
}

static int exporter_run(const struct cli_command *self, int argc, char **argv)
{
    static const struct option longopts[] = {{"config.file", required_argument, NULL, 'c'},
                                             {"config", required_argument, NULL, 'c'},
                                             {"web.listen-address", required_argument, NULL, 'l'},
                                             {"listen", required_argument, NULL, 'l'},
                                             {"threads", required_argument, NULL, 't'},
                                             {"log-level", required_argument, NULL, 'L'},
                                             {"help", no_argument, NULL, 'h'},
                                             {0}};
    struct cmon_log log;
    cmon_log_init(&log, CMON_LOG_INFO, 2, "exporter");
    struct exp_server_opts o = {
        .config_path = "blackbox.yml", .listen = "127.0.0.1:9115", .threads = 128, .log = &log};
    int c, rc;
    enum cmon_log_level lvl;
    while ((c = cli_getopt(self, argc, argv, "hc:l:t:L:", longopts, &rc)) != -1) {
        if (c == -2)
            return rc;
        long v = c == 't' ? strtol(optarg, NULL, 10) : 0;
        if (c == 'c')
            o.config_path = optarg;
        else if (c == 'l')
            o.listen = optarg;
        else if (c == 't' && (v < 1 || v > 1024))
            return cli_usage_error(self, "--threads wants 1..1024");
        else if (c == 't')
            o.threads = (unsigned)v;
        else if (c == 'L' && cmon_log_level_parse(optarg, &lvl) != 0)
            return cli_usage_error(self, "--log-level wants debug, info, warn or error");
        else if (c == 'L')
            log.min_level = lvl;
    }
    if (optind < argc)
        return cli_usage_error(self, "unexpected argument '%s'", argv[optind]);
    return serve(self->name, &o);
}

const struct cli_command cmd_exporter = {
    .name = "exporter",
    .summary = "stands in for Prometheus' blackbox_exporter (blackbox.yml, /probe, metrics)",
    .usage =
        "usage: cmon exporter [--config.file FILE] [--web.listen-address ADDR]\n"
        "                     [--threads N] [--log-level LEVEL]\n"
        "\n"
        "Serve Prometheus' blackbox_exporter interface on cmon's probe engine: the same\n"
        "blackbox.yml, GET /probe?target=T&module=M answered with blackbox's metric names\n"
        "(probe_success, probe_duration_seconds, probe_http_status_code, ...), plus\n"
        "cmon_probe_diagnostic{code=\"...\"} 1 saying why a probe failed (connection_refused,\n"
        "timeout, http_status, tls_expired, ...).  A Prometheus job that relabels targets\n"
        "into /probe for blackbox_exporter works unchanged.  Modules may use the http, tcp,\n"
        "icmp and dns probers; an option cmon cannot honour (header regexps, oauth2,\n"
        "proxies, the grpc prober, ...) is an error at load naming FILE:LINE:COLUMN, the\n"
        "module and the option.  Regexps are POSIX extended, not Go's RE2.\n"
        "docs/exporter.md lists what is supported and what differs.\n"
        "\n"
        "Options:\n"
        "  -c, --config.file FILE   blackbox configuration (default ./blackbox.yml);\n"
        "      --config FILE        the same\n"
        "  -l, --web.listen-address ADDR\n"
        "                           where to serve: HOST:PORT, [V6]:PORT, or :PORT for every\n"
        "                           address (default 127.0.0.1:9115, loopback only, unlike\n"
        "                           blackbox's :9115); --listen ADDR is the same\n"
        "  -t, --threads N          connections served at once, a thread each, and so\n"
        "                           probes in flight (default 128; more are refused)\n"
        "  -L, --log-level LEVEL    debug (one line per probe), info (default), warn, error\n"
        "  -h, --help               show this help\n"
        "\n"
        "Endpoints:\n"
        "  GET  /probe?target=T&module=M  run one probe (module defaults to http_2xx).  Its\n"
        "                           timeout is the module's, or the scrape's\n"
        "                           X-Prometheus-Scrape-Timeout-Seconds minus 0.5 s when that\n"
        "                           is shorter (120 s without the header).\n"
        "  GET  /metrics            the exporter's own metrics: probes served by prober and\n"
        "                           result, probe seconds, configuration reload success/time\n"
        "  POST /-/reload           re-read the configuration (also on SIGHUP); a bad file\n"
        "                           keeps the current configuration and the answer says why\n"
        "  GET  /                   status page: modules and recent probes\n"
        "\n"
        "Targets: http takes a URL (http:// is added when there is no scheme), tcp\n"
        "HOST:PORT, icmp a host, dns the DNS server's address (ADDR[:PORT], port 53 by\n"
        "default).  ICMP needs ping sockets (net.ipv4.ping_group_range) or CAP_NET_RAW.\n"
        "Logs are logfmt lines on stderr.\n"
        "\n"
        "On SIGINT/SIGTERM the probes in flight are cancelled and answered (probe_success\n"
        "0), their replies sent within 10 s, before the exporter exits.\n"
        "\n"
        "Exit status: 0 after SIGINT/SIGTERM, 1 when the configuration is invalid or the\n"
        "address cannot be used, 2 on a usage error.\n",
    .run = exporter_run,
};
