/* ingest.c: benchmark of the real ingest path -- round results submitted to
 * the writer's queue (as the embedded agent and the agent-results endpoint do),
 * committed in batched transactions with roll-ups and state evaluation.
 * DIR is a directory (SQLite) or a postgres:// URL; REPLICA (0, 1, ...) gives
 * each concurrently running process its own monitor and tests, as replicas
 * behind a load balancer see different agents.  Prints results/s; asserts nothing.
 * usage: ingest DIR|URL [RESULTS] [TESTS] [BATCH] [REPLICA] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "core/clock.h"
#include "server/writer.h"
#include "store/store.h"

static void make_tests(struct store *s, size_t n, char (*ids)[17], size_t replica)
{
    struct store_test *t = calloc(n, sizeof *t);
    for (size_t i = 0; i < n; i++) {
        snprintf(ids[i], 17, "%016zx", replica * n + i + 1);
        t[i] = (struct store_test){.id = ids[i],
                                   .number = (int)i + 1,
                                   .group = "g",
                                   .source = "agent",
                                   .destination = "dst",
                                   .config = "tcp",
                                   .protocol = CMON_PROTO_TCP,
                                   .target = "127.0.0.1",
                                   .port = 80,
                                   /* 30 s rounds of the last hour stay fresh
                                    * (not Indeterminate) for a 1800 s test */
                                   .frequency_sec = 1800};
    }
    struct cmon_errbuf eb;
    char name[32];
    snprintf(name, sizeof name, "bench%zu", replica);
    if (s->ops->monitor_put(s, name, "{}", t, n, NULL, 0, cmon_wall_ns(), NULL, &eb)) {
        fprintf(stderr, "monitor_put: %s\n", eb.msg);
        exit(1);
    }
    free(t);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: ingest DIR [RESULTS] [TESTS] [BATCH]\n");
        return 2;
    }
    size_t total = argc > 2 ? strtoul(argv[2], NULL, 10) : 500000;
    size_t n_tests = argc > 3 ? strtoul(argv[3], NULL, 10) : 10000;
    size_t batch = argc > 4 ? strtoul(argv[4], NULL, 10) : 1000;
    size_t replica = argc > 5 ? strtoul(argv[5], NULL, 10) : 0;
    char url[600];
    if (strncmp(argv[1], "postgres", 8) == 0)
        snprintf(url, sizeof url, "%s", argv[1]);
    else
        snprintf(url, sizeof url, "sqlite:%s/cmon.db", argv[1]);
    struct cmon_errbuf eb;
    struct store *s;
    if (store_open(url, STORE_READ_WRITE, &s, &eb)) {
        fprintf(stderr, "%s\n", eb.msg);
        return 1;
    }
    char(*ids)[17] = calloc(n_tests, sizeof *ids);
    make_tests(s, n_tests, ids, replica);
    store_close(s);

    struct writer *ing;
    struct writer_opts o = {.store_url = url,
                            .max_queued_results = total + batch,
                            .max_queued_cmds = total / (batch ? batch : 1) + 2};
    if (writer_start(&o, &ing, &eb)) {
        fprintf(stderr, "%s\n", eb.msg);
        return 1;
    }
    struct cmon_round_result *rs = calloc(batch, sizeof *rs);
    /* rounds 30 s apart ending now: with results an hour old every test
     * would be Indeterminate with a reason ("no result for N s") that changes
     * each second, i.e. a state write per test per commit */
    int64_t rounds = (int64_t)((total + n_tests - 1) / (n_tests ? n_tests : 1));
    int64_t base = cmon_wall_ns() - (rounds + 1) * 30 * CMON_NS_PER_SEC;
    /* each replica its own agent, as behind a load balancer: one agent name
     * for both made every transaction wait for the other's (the agent's
     * last-seen row), which measured the bench, not the product */
    char agent[32];
    snprintf(agent, sizeof agent, "bench%zu", replica);
    int64_t t0 = cmon_mono_ns();
    for (size_t done = 0; done < total; done += batch) {
        size_t n = total - done < batch ? total - done : batch;
        for (size_t i = 0; i < n; i++) {
            size_t k = done + i;
            struct cmon_round_result *r = &rs[i];
            memset(r, 0, sizeof *r);
            memcpy(r->test_id, ids[k % n_tests], 17);
            r->start_ns = base + (int64_t)(k / n_tests) * 30 * CMON_NS_PER_SEC;
            r->checks_total = 10;
            /* every 7th test keeps failing 30% of its checks (Warning): states
             * settle after the first rounds, as in a real fleet */
            r->checks_failed = (k % n_tests) % 7 == 0 ? 3 : 0;
            r->has_rtt = true;
            r->rtt_min_ms = 0.1, r->rtt_avg_ms = 0.2, r->rtt_max_ms = 0.3;
            r->dns_ms = r->connect_ms = r->tls_ms = r->first_byte_ms = -1;
        }
        /* the last one waits: the queue is first in, first out */
        struct writer_batch b = {.agent = agent, .seq = -1, .results = rs, .n = n};
        bool dup, last = done + n >= total;
        if (last ? writer_results(ing, &b, writer_deadline(3600 * 1000), &dup, &eb)
                 : writer_results_async(ing, &b, &eb)) {
            fprintf(stderr, "submit: %s\n", eb.msg);
            return 1;
        }
    }
    int64_t t1 = cmon_mono_ns();
    struct writer_stats st;
    writer_get_stats(ing, &st);
    double sec = (double)(t1 - t0) / CMON_NS_PER_SEC;
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru); /* includes the setup: an upper bound */
    double cpu = (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
                 (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
    printf("ingest[%s]: %zu results over %zu tests in %.2f s = %.0f results/s "
           "(stored %llu, dropped %llu, %llu transactions)\n",
           strncmp(url, "postgres", 8) == 0 ? "postgres" : "sqlite", total, n_tests, sec, (double)total / sec, (unsigned long long)st.results_stored,
           (unsigned long long)st.results_dropped, (unsigned long long)st.batches_committed);
    printf("ingest: %.2f CPU seconds in all = %.0f results per CPU second (what one idle core "
           "would reach)\n",
           cpu, (double)total / cpu);
    writer_stop(ing);
    free(rs);
    free(ids);
    return 0;
}
