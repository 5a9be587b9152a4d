/* fleet.h: the fleet simulator's shared types (bench/fleet.c drives the
 * agents and the reader on one curl-multi loop; bench/fleet_gen.c invents
 * rounds and paths, keeps latency samples and reads the server's /proc).
 * Ownership: struct fleet (main's) owns the agents, their tests, batches and
 * easy handles, and every latency array.  One thread. */
#ifndef CMON_BENCH_FLEET_H
#define CMON_BENCH_FLEET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <curl/curl.h>
#include <jansson.h>

#include "model/monitor.h"

/* growable list of latency samples, ms */
struct lat {
    double *v;
    size_t n, cap;
};
void lat_add(struct lat *l, double ms);
double lat_pct(struct lat *l, double pct); /* sorts; 0 when empty */
void lat_free(struct lat *l);

struct sim_test {
    char id[CMON_TEST_ID_LEN + 1];
    enum cmon_protocol proto;
    int64_t period_ns, next_ns; /* wall clock, the scheduler's phase */
    bool traced;
};

/* xorshift64*: each agent draws its own sequence */
uint64_t rng_next(uint64_t *s);

/* A round of test t started at start_ns: ~5 % failing (connection_refused
 * or timeout), some with one lost check, HTTP with status and phases.
 * Returns a new reference. */
json_t *fleet_round_json(uint64_t *rng, const struct sim_test *t, int64_t start_ns);
/* A small traceroute path report (3-7 hops, reached).  New reference. */
json_t *fleet_path_json(uint64_t *rng, const struct sim_test *t, int64_t start_ns);

/* The server process as /proc shows it. */
struct proc_sample {
    long rss_kb;
    double cpu_s; /* utime + stime */
    bool ok;
};
struct proc_sample proc_read(int pid);

#endif
