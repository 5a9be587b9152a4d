/* cmd_run.c: `cmon run` -- the all-in-one of DESIGN 1: the server on
 * 127.0.0.1:8080 with SQLite in ./cmon-data, the monitor files given
 * applied at start, and the embedded agent (named after the host, alias
 * "local") whose rounds enter the same write queue as remote batches. */
#include <arpa/inet.h>
#include <getopt.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/client.h"

#define RUN_DEFAULT_PORT 8080
#define RUN_PORT_TRIES 20

/* Whether 127.0.0.1:port can be bound now (nothing else listens there). */
static bool port_free(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int one = 1; /* as the server binds: a port in TIME_WAIT after a restart is free */
    bool ok = fd >= 0 && setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) == 0 &&
              bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0;
    if (fd >= 0)
        close(fd);
    return ok;
}

/* The default 127.0.0.1:8080, or the next free port when another program
 * holds it (said clearly: the dashboard's URL changes).  An explicit
 * --listen is never moved. */
static const char *default_listen(char *buf, size_t cap)
{
    for (int port = RUN_DEFAULT_PORT; port < RUN_DEFAULT_PORT + RUN_PORT_TRIES; port++) {
        if (!port_free(port))
            continue;
        if (port != RUN_DEFAULT_PORT)
            fprintf(stderr,
                    "cmon run: port %d is taken by another program; serving on 127.0.0.1:%d "
                    "instead (--listen chooses)\n",
                    RUN_DEFAULT_PORT, port);
        snprintf(buf, cap, "127.0.0.1:%d", port);
        return buf;
    }
    snprintf(buf, cap, "127.0.0.1:%d", RUN_DEFAULT_PORT); /* the start then says why */
    return buf;
}

static int run_run(const struct cli_command *self, int argc, char **argv)
{
    static const struct option longopts[] = {{"listen", required_argument, NULL, 'l'},
                                             {"data", required_argument, NULL, 'd'},
                                             {"retention", required_argument, NULL, 'r'},
                                             {"log-level", required_argument, NULL, 'L'},
                                             {"max-monitors", required_argument, NULL, 'M'},
                                             {"max-body", required_argument, NULL, 'B'},
                                             {"tls-cert", required_argument, NULL, 'C'},
                                             {"tls-key", required_argument, NULL, 'K'},
                                             CLI_SERVER_EDGE_OPTIONS,
                                             {"trace-interval", required_argument, NULL, 'T'},
                                             {"address", required_argument, NULL, 'A'},
                                             {"region", required_argument, NULL, 'R'},
                                             {"threads", required_argument, NULL, 'N'},
                                             {"help", no_argument, NULL, 'h'},
                                             {0}};
    struct cmon_log log;
    cmon_log_init(&log, CMON_LOG_INFO, 2, "run");
    struct cmon_server_opts o = {.log = &log};
    const char *data = "./cmon-data";
    unsigned loops = 0;
    int c, rc;
    while ((c = cli_getopt(self, argc, argv, "hl:d:r:L:M:", longopts, &rc)) != -1) {
        if (c == -2)
            return rc;
        if (c == 'd') {
            data = optarg;
            continue;
        }
        if (c == 'A' || c == 'R') {
            rc = c == 'A' ? cli_agent_address(self, optarg, &o.embedded_address)
                          : cli_agent_region(self, optarg, &o.embedded_region);
            if (rc)
                return rc;
            continue;
        }
        if (c == 'N') {
            if ((rc = cli_threads_option(self, optarg, &loops)) != 0)
                return rc;
            continue;
        }
        if (c == 'T') {
            char *end;
            long v = strtol(optarg, &end, 10);
            if (*end || v < 30 || v > 86400)
                return cli_usage_error(self, "--trace-interval wants seconds, 30..86400");
            o.trace_interval_ns = (int64_t)v * 1000000000LL;
            continue;
        }
        if ((rc = cli_server_option(self, c, optarg, &o, &log)) != 0)
            return rc < 0 ? cli_usage_error(self, "unexpected option") : rc;
    }
    char url[1100], listen[64];
    snprintf(url, sizeof url, "sqlite:%s/cmon.db", data);
    o.store_url = url;
    if (!o.listen)
        o.listen = default_listen(listen, sizeof listen);
    return cli_serve(self->name, &o, argv + optind, argc - optind, true, loops);
}

const struct cli_command cmd_run = {
    .name = "run",
    .summary = "run everything in one process: server, store, agent, monitors",
    .usage =
        "usage: cmon run [--listen ADDR] [--data DIR] [--retention DAYS]\n"
        "                [--tls-cert FILE --tls-key FILE] [--trace-interval SEC]\n"
        "                [--address ADDR] [--region REGION]\n"
        "                [--allowed-host NAME]... [--allow-exec-actions]\n"
        "                [--max-conns-per-ip N] [--http-threads N] [--write-queue N]\n"
        "                [--agent-batch-ms MS] [--max-body BYTES] [FILE...]\n"
        "\n"
        "The all-in-one: the cmon server on 127.0.0.1:8080 with the web dashboard at\n"
        "its root URL, its SQLite database in ./cmon-data/, an embedded agent, and the\n"
        "connection monitors in FILE... applied at start, each as 'cmon monitor\n"
        "apply' would (a file without a \"name\" is named after its base name; a\n"
        "file may hold a list of monitors).  A monitor changed since its file was\n"
        "(in the dashboard or through the API) is kept, and said so: the newer one\n"
        "wins; 'cmon monitor apply FILE' replaces it.  An invalid file stops the\n"
        "start with the same file:line:col messages as 'cmon validate'.\n"
        "\n"
        "Options:\n"
        "  -l, --listen ADDR      address and port (default 127.0.0.1:8080, or the next\n"
        "                         free port, said so, when another program holds it).\n"
        "                         On loopback without tokens it runs open and prints so\n"
        "                         (then only same-origin local use: a loopback Host,\n"
        "                         JSON writes);\n"
        "                         any other address needs a token first ('cmon token\n"
        "                         create').\n"
        "  -d, --data DIR         data directory (default ./cmon-data), created 0700 if\n"
        "                         needed; the database is 0600\n"
        "  -r, --retention DAYS   keep raw round results this long (default 30d)\n"
        "      --tls-cert FILE    serve HTTPS with this PEM certificate ...\n"
        "      --tls-key FILE     ... and this PEM key (both or neither)\n"
        "  -M, --max-monitors N   connection monitors accepted (default 100)\n"
        "      --max-body BYTES   request body limit (default 1048576); agents are told\n"
        "                         it and cut their result batches below it\n" CLI_SERVER_EDGE_HELP
        "      --trace-interval SEC  trace each test's path this often (default 600);\n"
        "                         a test is also traced on its first round and when its\n"
        "                         state changes, unless its configuration sets\n"
        "                         disableTraceRoute\n"
        "      --address ADDR     the embedded agent's primary address (IPv4 or IPv6):\n"
        "                         its tests' SourceAddress (default the host's first\n"
        "                         non-loopback address)\n"
        "      --region REGION    the embedded agent's region (the Region dimension)\n" CLI_THREADS_HELP
        "      --log-level LEVEL  debug, info (default), warn or error\n"
        "  -h, --help             show this help\n"
        "\n"
        "It prints the URL when ready, logs in logfmt on stderr, and stops gracefully\n"
        "on SIGINT (Ctrl-C) or SIGTERM.\n"
        "\n"
        "The embedded agent is named after the host, with the alias 'local': tests\n"
        "whose source endpoint is the agent 'local' (or the host name) are probed by\n"
        "this process and their results stored like any agent's.  ICMP needs\n"
        "unprivileged ICMP sockets (net.ipv4.ping_group_range) or CAP_NET_RAW.\n"
        "\n"
        "Example:\n"
        "  cmon run docs/examples/local.json\n"
        "  cmon tests\n"
        "\n"
        "Exit status: 0 after a clean stop, 1 when it cannot start or a FILE is\n"
        "invalid, 2 on a usage error.\n",
    .run = run_run,
};
