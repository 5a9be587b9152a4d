/* cmd_trace.c: `cmon trace HOST` -- hop-by-hop path with loss and latency per
 * hop, like mtr --report, using the probe engine's Paris-style traceroute. */
#include <getopt.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli/cli.h"
#include "model/path.h"
#include "probe/trace.h"

struct trace_cli {
    uv_loop_t loop;
    struct probe_engine *eng;
    struct probe_trace_result res;
    bool done;
};

static void engine_closed(void *arg)
{
    (void)arg;
}

static void trace_done(void *arg, const struct probe_trace_result *res)
{
    struct trace_cli *c = arg;
    c->res = *res;
    c->done = true;
    probe_engine_close(c->eng, engine_closed, c);
}

static const char *const proto_names[] = {"udp", "icmp", "tcp"};

static void print_report(const struct probe_trace_opts *o, const struct probe_trace_result *r,
                         const struct cmon_hop_issue *is, size_t n_is)
{
    printf("cmon trace %s (%s), %s", o->host, r->address, proto_names[o->proto]);
    if (o->proto != PROBE_TRACE_ICMP)
        printf(" port %u", o->port ? o->port : 33434);
    printf(", %d probes per hop\n", o->probes_per_hop);
    printf("%-4s %-40s %6s %5s %8s %8s %8s %8s\n", "HOP", "ADDRESS", "LOSS%", "SENT", "MIN",
           "AVG", "MAX", "JITTER");
    for (size_t i = 0; i < r->path.n_hops; i++) {
        const struct cmon_hop *h = &r->path.hops[i];
        if (h->received == 0) {
            printf("%-4d %-40s %6.1f %5u %8s %8s %8s %8s\n", h->ttl,
                   h->address[0] ? h->address : "???", cmon_hop_loss_pct(h), h->sent, "-", "-",
                   "-", "-");
            continue;
        }
        char shown[200];
        if (h->name[0])
            snprintf(shown, sizeof shown, "%s (%s)", h->name, h->address);
        else
            snprintf(shown, sizeof shown, "%s", h->address);
        printf("%-4d %-40s %6.1f %5u %8.3f %8.3f %8.3f %8.3f\n", h->ttl, shown,
               cmon_hop_loss_pct(h), h->sent, h->rtt_min_ms, h->rtt_avg_ms, h->rtt_max_ms,
               h->rtt_jitter_ms);
    }
    printf("%s\n", r->path.reached ? "destination reached"
                                   : "destination not reached within the maximum TTL");
    for (size_t i = 0; i < n_is; i++) {
        const struct cmon_hop *h = &r->path.hops[is[i].hop];
        if (is[i].kind == CMON_DIAG_HOP_LOSS)
            printf("hop_loss: loss starts at hop %d (%s): %.1f%% >= %.1f%%\n", h->ttl,
                   h->address[0] ? h->address : "???", is[i].value, is[i].threshold);
        else
            printf("hop_latency: latency rises at hop %d (%s): +%.3f ms >= %.3f ms\n", h->ttl,
                   h->address, is[i].value, is[i].threshold);
    }
}

static void print_json(const struct probe_trace_opts *o, const struct probe_trace_result *r,
                       const struct cmon_hop_issue *is, size_t n_is)
{
    json_t *doc = cmon_path_to_json(&r->path);
    json_object_set_new(doc, "target", json_string(o->host));
    json_object_set_new(doc, "address", json_string(r->address));
    json_object_set_new(doc, "protocol", json_string(proto_names[o->proto]));
    json_object_set_new(doc, "port", json_integer(o->proto == PROBE_TRACE_ICMP ? 0
                                                  : o->port ? o->port : 33434));
    json_t *arr = json_array();
    for (size_t i = 0; i < n_is; i++)
        json_array_append_new(arr, json_pack("{s:s, s:i, s:f, s:f}", "diagnostic",
                                             cmon_diag_code(is[i].kind), "ttl",
                                             r->path.hops[is[i].hop].ttl, "value", is[i].value,
                                             "threshold", is[i].threshold));
    json_object_set_new(doc, "issues", arr);
    json_dumpf(doc, stdout, JSON_INDENT(2));
    printf("\n");
    json_decref(doc);
}

static int parse_int(const struct cli_command *self, const char *opt, const char *s, int lo,
                     int hi, int *out)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (*s == '\0' || *end != '\0' || v < lo || v > hi)
        return cli_usage_error(self, "%s must be a number from %d to %d, not '%s'", opt, lo, hi, s);
    *out = (int)v;
    return 0;
}

static int trace_run(const struct cli_command *self, int argc, char **argv)
{
    enum { OPT_JSON = 1000, OPT_MAXTTL, OPT_LOSS, OPT_LAT, OPT_INTERVAL };
    static const struct option longopts[] = {
        {"protocol", required_argument, NULL, 'P'}, {"port", required_argument, NULL, 'p'},
        {"count", required_argument, NULL, 'c'},    {"max-ttl", required_argument, NULL, OPT_MAXTTL},
        {"timeout", required_argument, NULL, 'W'},  {"interval", required_argument, NULL, OPT_INTERVAL},
        {"loss-threshold", required_argument, NULL, OPT_LOSS},
        {"latency-threshold", required_argument, NULL, OPT_LAT},
        {"json", no_argument, NULL, OPT_JSON},      {"help", no_argument, NULL, 'h'},
        {"ipv4", no_argument, NULL, '4'},           {"ipv6", no_argument, NULL, '6'},
        {"no-dns", no_argument, NULL, 'n'},
        {0}};
    struct probe_trace_opts o = {.proto = PROBE_TRACE_ICMP, .probes_per_hop = 10, .max_ttl = 30};
    bool json = false;
    int c, rc, port = 0, loss = 10, lat = 50;
    while ((c = cli_getopt(self, argc, argv, "hP:p:c:W:46n", longopts, &rc)) != -1) {
        int err = 0;
        switch (c) {
        case -2: return rc;
        case 'P': {
            size_t i = 0;
            while (i < 3 && strcasecmp(optarg, proto_names[i]) != 0)
                i++;
            if (i == 3)
                return cli_usage_error(self, "unknown protocol '%s' (use udp, icmp or tcp)", optarg);
            o.proto = (enum probe_trace_proto)i;
            break;
        }
        case 'p': err = parse_int(self, "--port", optarg, 1, 65535, &port); break;
        case 'c': err = parse_int(self, "--count", optarg, 1, 1000, &o.probes_per_hop); break;
        case 'W': err = parse_int(self, "--timeout", optarg, 10, 60000, &o.timeout_ms); break;
        case OPT_INTERVAL: err = parse_int(self, "--interval", optarg, 1, 60000, &o.interval_ms); break;
        case OPT_MAXTTL: err = parse_int(self, "--max-ttl", optarg, 1, 64, &o.max_ttl); break;
        case OPT_LOSS: err = parse_int(self, "--loss-threshold", optarg, 1, 100, &loss); break;
        case OPT_LAT: err = parse_int(self, "--latency-threshold", optarg, 1, 60000, &lat); break;
        case OPT_JSON: json = true; break;
        case '4': o.ip_pref = CMON_IP_V4; break;
        case '6': o.ip_pref = CMON_IP_V6; break;
        case 'n': o.numeric = true; break;
        default: break;
        }
        if (err)
            return err;
    }
    if (optind >= argc)
        return cli_usage_error(self, "no host given");
    if (optind + 1 < argc)
        return cli_usage_error(self, "unexpected argument '%s'", argv[optind + 1]);
    if (o.proto == PROBE_TRACE_TCP && !port)
        return cli_usage_error(self, "--protocol tcp needs --port");
    if (o.proto == PROBE_TRACE_ICMP && port)
        return cli_usage_error(self, "--port does not go with --protocol icmp");
    o.port = (uint16_t)port;
    o.host = argv[optind];

    struct trace_cli tc = {0};
    struct cmon_errbuf eb;
    uv_loop_init(&tc.loop);
    struct probe_engine_opts eo = {0};
    int exit_code = CLI_EXIT_FAILED;
    if (probe_engine_new(&tc.loop, &eo, &tc.eng, &eb) != CMON_OK ||
        probe_trace_start(tc.eng, &o, trace_done, &tc, NULL, &eb) != CMON_OK) {
        fprintf(stderr, "cmon trace: %s\n", eb.msg);
        if (tc.eng)
            probe_engine_close(tc.eng, engine_closed, &tc);
        uv_run(&tc.loop, UV_RUN_DEFAULT);
        uv_loop_close(&tc.loop);
        return CLI_EXIT_FAILED;
    }
    uv_run(&tc.loop, UV_RUN_DEFAULT);
    uv_loop_close(&tc.loop);
    if (tc.res.diag != CMON_DIAG_NONE) {
        fprintf(stderr, "cmon trace: %s: %s (%s)\n", o.host, cmon_diag_code(tc.res.diag),
                tc.res.detail);
        return CLI_EXIT_FAILED;
    }
    struct cmon_hop_issue is[2];
    size_t n_is = cmon_path_issues(&tc.res.path, loss, lat, is);
    if (json)
        print_json(&o, &tc.res, is, n_is);
    else
        print_report(&o, &tc.res, is, n_is);
    exit_code = tc.res.path.reached ? CLI_EXIT_OK : CLI_EXIT_FAILED;
    return exit_code;
}

const struct cli_command cmd_trace = {
    .name = "trace",
    .summary = "hop-by-hop path with loss and latency per hop (like mtr --report)",
    .usage =
        "usage: cmon trace [OPTIONS] HOST\n"
        "\n"
        "Trace the path to HOST (a name or an IPv4/IPv6 address) and report every hop's\n"
        "address, loss %, probes sent and min/avg/max/jitter round-trip time, like\n"
        "'mtr --report'.  Probes are Paris-style: all probes of a trace share one flow\n"
        "(addresses, ports, ICMP id and checksum), so per-flow load balancing keeps them\n"
        "on one path.  UDP and ICMP need no privileges (datagram sockets with IP_RECVERR;\n"
        "ICMP needs sysctl net.ipv4.ping_group_range to include your group); TCP sends SYNs\n"
        "to --port from one source port.  A hop that never answers is shown as ???: silent,\n"
        "not lossy.  Loss or latency that starts at a hop and persists to the destination\n"
        "is reported as hop_loss / hop_latency at that hop.  Routers and hosts often\n"
        "rate-limit the ICMP errors traceroute relies on (Linux: a burst of 6, then 1/s\n"
        "per peer, sysctl net.ipv4.icmp_ratelimit): faster probing shows that as loss.\n"
        "\n"
        "Options:\n"
        "  -P, --protocol icmp|udp|tcp  probe type (default icmp)\n"
        "  -p, --port N                 UDP (default 33434) or TCP (required) port\n"
        "  -c, --count N                probes per hop, 1-1000 (default 10)\n"
        "      --max-ttl N              farthest hop, 1-64 (default 30)\n"
        "  -W, --timeout MS             wait for each answer (default 1000)\n"
        "      --interval MS            between rounds of probes (default 100)\n"
        "      --loss-threshold PCT     hop_loss from this loss % on (default 10)\n"
        "      --latency-threshold MS   hop_latency from this added RTT on (default 50)\n"
        "  -4, --ipv4 / -6, --ipv6      resolve HOST to this IP version only\n"
        "  -n, --no-dns                 do not look up the hops' names (hosts file, PTR)\n"
        "      --json                   {target, address, protocol, port, reached, hops:\n"
        "                               [{ttl, address, name, sent, received, lossPercent,\n"
        "                               rtt: {min, avg, max, jitter}}], issues: [...]}\n"
        "  -h, --help                   show this help\n"
        "\n"
        "Exit status: 0 the destination answered, 1 it did not (or the trace could not\n"
        "run), 2 usage error.\n",
    .run = trace_run,
};
