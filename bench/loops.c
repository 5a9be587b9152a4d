/* bench/loops.c: the agent runtime (src/agent/runtime.h) under load -- the
 * code `cmon agent` and `cmon run` run, with N probe loops and a counting
 * sink instead of the push thread.  Loads TESTS tests (monitors of up to
 * 1980 tests: 99 destinations x 20 configurations, every destination the
 * same TARGET under its own name, so every test id differs), then counts for
 * SECONDS: checks/s, failed checks, CPU per check (getrusage), rounds'
 * lateness (a round's result arrives after its planned start + its last
 * check's offset + that check's RTT: the excess is how late the loop
 * launched it), RSS (VmRSS/VmHWM) after the load and at the end, and the
 * assignment load time (agent_runtime_assign until every loop applied it),
 * the rounds the loops skipped (overloaded: agent_runtime_stats), and what
 * the machine's cores did meanwhile (/proc/stat: busy and softirq, in
 * cores) and how much of it the peer processes named in CMON_BENCH_PEER_PIDS
 * (space-separated: nginx's master and workers) took.
 *
 *   loops PROTO TARGET TESTS LOOPS SECONDS CHECKS FREQ [CA_FILE]
 *     PROTO  icmp | tcp | http      TARGET  198.18.1.2 | 198.18.1.2:80 | https://h:p/
 *     CHECKS per round (1..100)     FREQ    seconds between rounds (30..1800)
 * Prints one line of key=value figures.  Nothing asserted. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "agent/runtime.h"
#include "core/clock.h"
#include "probe/scheduler.h"

#define DESTS 99
#define CONFIGS 20
#define LATE_BUCKETS 60001 /* 1 ms each; the last one: 60 s or more */

struct counts {
    atomic_ullong rounds, checks, failed;
    atomic_ullong late[LATE_BUCKETS];
    int checks_per_round;
    atomic_bool counting;
    atomic_flag said; /* one failure's detail, to say what fails */
    char detail[160];
};

static void on_round(void *arg, const struct cmon_round_result *r)
{
    struct counts *c = arg;
    if (!atomic_load(&c->counting))
        return;
    atomic_fetch_add(&c->rounds, 1);
    atomic_fetch_add(&c->checks, r->checks_total);
    atomic_fetch_add(&c->failed, r->checks_failed);
    if (r->checks_failed && !atomic_flag_test_and_set(&c->said))
        snprintf(c->detail, sizeof c->detail, "%s", r->detail);
    if (!r->has_rtt || r->checks_failed)
        return; /* a timed-out check says nothing about the loop */
    int64_t last = probe_sched_check_offset_ns((uint32_t)c->checks_per_round - 1,
                                               (uint32_t)c->checks_per_round, 2000);
    double late_ms = (double)(cmon_wall_ns() - r->start_ns - last) / 1e6 - r->rtt_max_ms;
    long b = late_ms < 0 ? 0 : (long)late_ms;
    atomic_fetch_add(&c->late[b < LATE_BUCKETS ? b : LATE_BUCKETS - 1], 1);
}

static void on_path(void *arg, const char *id, int64_t t, const struct cmon_path *p)
{
    (void)arg, (void)id, (void)t, (void)p;
}

static long vm_kib(const char *key)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long v = -1;
    size_t n = strlen(key);
    while (f && fgets(line, sizeof line, f)) {
        if (strncmp(line, key, n) == 0)
            v = atol(line + n + 1);
    }
    if (f)
        fclose(f);
    return v;
}

static double cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
           ru.ru_stime.tv_usec / 1e6;
}

/* The machine's CPU ticks since boot: busy (all but idle and iowait) and softirq. */
struct machine_cpu {
    unsigned long long busy, softirq, peers;
};

static unsigned long long peer_ticks(void)
{
    const char *pids = getenv("CMON_BENCH_PEER_PIDS");
    unsigned long long sum = 0;
    char path[64], line[1024];
    for (const char *p = pids; p && *p;) {
        long pid = strtol(p, (char **)&p, 10);
        if (pid <= 0)
            break;
        snprintf(path, sizeof path, "/proc/%ld/stat", pid);
        FILE *f = fopen(path, "r");
        if (f && fgets(line, sizeof line, f)) {
            const char *q = strrchr(line, ')'); /* fields after comm: state is field 3 */
            unsigned long long ut = 0, st = 0;
            if (q && sscanf(q + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut,
                            &st) == 2)
                sum += ut + st;
        }
        if (f)
            fclose(f);
    }
    return sum;
}

static struct machine_cpu machine_cpu(void)
{
    struct machine_cpu m = {0};
    unsigned long long v[8] = {0};
    FILE *f = fopen("/proc/stat", "r");
    if (f && fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3],
                    &v[4], &v[5], &v[6], &v[7]) == 8) {
        m.busy = v[0] + v[1] + v[2] + v[5] + v[6] + v[7];
        m.softirq = v[6];
    }
    if (f)
        fclose(f);
    m.peers = peer_ticks();
    return m;
}

/* One monitor of n tests (n <= DESTS * CONFIGS) from agent "bench". */
static char *monitor_text(const char *proto, const char *target, int port, int n, int checks,
                          int freq)
{
    int dests = n < DESTS ? n : DESTS, configs = (n + dests - 1) / dests;
    size_t cap = 4096 + (size_t)dests * 200 + (size_t)configs * 300;
    char *b = malloc(cap);
    size_t o = (size_t)snprintf(
        b, cap, "{\"endpoints\": [{\"name\": \"me\", \"type\": \"Agent\", \"address\": \"bench\"}");
    for (int i = 0; i < dests; i++)
        o += (size_t)snprintf(b + o, cap - o, ", {\"name\": \"d%d\", \"address\": \"%s\"}", i,
                              target);
    o += (size_t)snprintf(b + o, cap - o, "], \"testConfigurations\": [");
    const char *P = strcmp(proto, "icmp") == 0  ? "Icmp"
                    : strcmp(proto, "tcp") == 0 ? "Tcp"
                                                : "Http";
    for (int i = 0; i < configs; i++) {
        char extra[160] = "";
        if (strcmp(proto, "tcp") == 0)
            snprintf(extra, sizeof extra,
                     ", \"tcpConfiguration\": {\"port\": %d, \"disableTraceRoute\": true}", port);
        else if (strcmp(proto, "icmp") == 0)
            snprintf(extra, sizeof extra, ", \"icmpConfiguration\": {\"disableTraceRoute\": true}");
        else
            snprintf(extra, sizeof extra, ", \"httpConfiguration\": {\"method\": \"Get\"}");
        o +=
            (size_t)snprintf(b + o, cap - o,
                             "%s{\"name\": \"c%d\", \"protocol\": \"%s\", \"testFrequencySec\": %d,"
                             " \"checksPerRound\": %d, \"timeoutMs\": 2000%s}",
                             i ? ", " : "", i, P, freq, checks, extra);
    }
    o += (size_t)snprintf(b + o, cap - o,
                          "], \"testGroups\": [{\"name\": \"g\", \"sources\": "
                          "[\"me\"], \"destinations\": [");
    for (int i = 0; i < dests; i++)
        o += (size_t)snprintf(b + o, cap - o, "%s\"d%d\"", i ? ", " : "", i);
    o += (size_t)snprintf(b + o, cap - o, "], \"testConfigurations\": [");
    for (int i = 0; i < configs; i++)
        o += (size_t)snprintf(b + o, cap - o, "%s\"c%d\"", i ? ", " : "", i);
    snprintf(b + o, cap - o, "]}]}");
    return b;
}

static double late_pct(struct counts *c, double pct)
{
    unsigned long long total = 0, seen = 0;
    for (int i = 0; i < LATE_BUCKETS; i++)
        total += atomic_load(&c->late[i]);
    for (int i = 0; i < LATE_BUCKETS; i++) {
        seen += atomic_load(&c->late[i]);
        if (total && (double)seen >= pct / 100.0 * (double)total)
            return i + 1; /* upper edge of the bucket */
    }
    return -1;
}

int main(int argc, char **argv)
{
    if (argc < 8) {
        fprintf(stderr, "usage: loops PROTO TARGET TESTS LOOPS SECONDS CHECKS FREQ [CA]\n");
        return 2;
    }
    const char *proto = argv[1], *target = argv[2];
    long tests = atol(argv[3]);
    unsigned loops = (unsigned)atoi(argv[4]);
    int secs = atoi(argv[5]), checks = atoi(argv[6]), freq = atoi(argv[7]);
    static struct counts c;
    c.checks_per_round = checks;
    /* the TCP port goes in the configuration, not the address */
    char host[256];
    snprintf(host, sizeof host, "%s", target);
    int port = 0;
    if (strcmp(proto, "tcp") == 0 && strrchr(host, ':')) {
        port = atoi(strrchr(host, ':') + 1);
        *strrchr(host, ':') = '\0';
    }
    struct agent_runtime_opts o = {.loops = loops,
                                   .name = "bench",
                                   .probe_ca_file = argc > 8 ? argv[8] : NULL,
                                   .sink = {.round = on_round, .path = on_path, .arg = &c}};
    struct agent_runtime *rt;
    struct cmon_errbuf eb;
    if (agent_runtime_start(&o, &rt, &eb) != CMON_OK) {
        fprintf(stderr, "loops: %s\n", eb.msg);
        return 1;
    }
    long rss0 = vm_kib("VmRSS:");
    int64_t t0 = cmon_mono_ns();
    struct agent_assignment *set = agent_assignment_new();
    size_t monitors = 0;
    for (long done = 0; done < tests; monitors++) {
        int n = tests - done > DESTS * CONFIGS ? DESTS * CONFIGS : (int)(tests - done);
        char *text = monitor_text(proto, host, port, n, checks, freq);
        char name[32];
        snprintf(name, sizeof name, "m%zu", monitors);
        agent_assignment_add(set, name, text);
        free(text);
        done += n;
    }
    int64_t t_built = cmon_mono_ns();
    agent_runtime_assign(rt, set);
    while (agent_runtime_applied(rt) == 0)
        nanosleep(&(struct timespec){.tv_nsec = 10000000}, NULL);
    int64_t t1 = cmon_mono_ns();
    long rss_loaded = vm_kib("VmRSS:");
    /* rounds start at their phases: count once the loops run steadily */
    nanosleep(&(struct timespec){.tv_sec = 3}, NULL);
    struct agent_runtime_stats sk0, sk1;
    agent_runtime_stats(rt, &sk0);
    struct machine_cpu mc0 = machine_cpu();
    double cpu0 = cpu_s();
    int64_t m0 = cmon_mono_ns();
    atomic_store(&c.counting, true);
    nanosleep(&(struct timespec){.tv_sec = secs}, NULL);
    atomic_store(&c.counting, false);
    double el = (double)(cmon_mono_ns() - m0) / 1e9, cpu = cpu_s() - cpu0;
    struct machine_cpu mc1 = machine_cpu();
    agent_runtime_stats(rt, &sk1);
    double hz = (double)sysconf(_SC_CLK_TCK);
    unsigned long long ch = atomic_load(&c.checks), fl = atomic_load(&c.failed);
    printf("proto=%s loops=%u tests=%ld monitors=%zu checks_per_s=%.0f failed=%llu "
           "cpu_us_per_check=%.2f cpu_s=%.2f elapsed_s=%.1f load_s=%.2f build_s=%.2f "
           "late_p50_ms=%.0f late_p99_ms=%.0f late_max_ms=%.0f rss_start_mib=%.1f "
           "rss_loaded_mib=%.1f rss_end_mib=%.1f hwm_mib=%.1f offered_per_s=%.0f ok_per_s=%.0f "
           "failed_pct=%.2f skipped_late_per_s=%.1f skipped_busy_per_s=%.1f agent_cores=%.2f "
           "peer_cores=%.2f softirq_cores=%.2f busy_cores=%.2f failure=\"%s\"\n",
           proto, agent_runtime_loops(rt), tests, monitors, (double)ch / el, fl,
           ch ? cpu * 1e6 / (double)ch : 0, cpu, el, (double)(t1 - t_built) / 1e9,
           (double)(t_built - t0) / 1e9, late_pct(&c, 50), late_pct(&c, 99), late_pct(&c, 100),
           rss0 / 1024.0, rss_loaded / 1024.0, vm_kib("VmRSS:") / 1024.0, vm_kib("VmHWM:") / 1024.0,
           (double)tests * checks / freq, (double)(ch - fl) / el, ch ? 100.0 * fl / ch : 0,
           (double)(sk1.skipped_late - sk0.skipped_late) / el,
           (double)(sk1.skipped_busy - sk0.skipped_busy) / el, cpu / el,
           (double)(mc1.peers - mc0.peers) / hz / el, (double)(mc1.softirq - mc0.softirq) / hz / el,
           (double)(mc1.busy - mc0.busy) / hz / el, c.detail);
    fflush(stdout);
    agent_runtime_stop(rt);
    return 0;
}
