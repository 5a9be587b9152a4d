/* http_driver.c: benchmark driver for src/probe/http.c (linked with libcmon by
 * bench/http.sh).  Runs TOTAL HTTP checks against URL pinned to ADDR:PORT, with
 * CONCURRENCY in flight on one libuv loop (a new connection each), and prints
 * one logfmt line: checks, ok, failed, seconds, rate, CPU ms per check.  With TOTAL 1 it prints
 * the single result too (diagnostic, detail, status, phases).
 *
 *   http_driver URL ADDR PORT TOTAL CONCURRENCY [CA_FILE] */
#include <stdio.h>
#include <sys/resource.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "probe/probe_internal.h"

struct run {
    uv_loop_t *loop;
    struct probe_engine *eng;
    struct probe_target target;
    struct sockaddr_storage addr;
    socklen_t addrlen;
    long total, started, done, ok;
    struct probe_check_result last;
};

static void start_one(struct run *r);

static void on_result(void *arg, const struct probe_check_result *res)
{
    struct run *r = arg;
    r->done++;
    r->ok += res->ok;
    r->last = *res;
    if (r->started < r->total)
        start_one(r);
}

static void start_one(struct run *r)
{
    r->started++;
    enum cmon_err err = probe_http_ops.start(r->eng, &r->target, (struct sockaddr *)&r->addr,
                                             r->addrlen, on_result, r);
    if (err != CMON_OK) {
        fprintf(stderr, "http_driver: start: %s\n", cmon_strerror(err));
        r->done++;
    }
}

static int parse_addr(const char *addr, int port, struct run *r)
{
    struct sockaddr_in *sin = (struct sockaddr_in *)&r->addr;
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&r->addr;
    if (uv_ip4_addr(addr, port, sin) == 0) {
        r->addrlen = sizeof *sin;
        return 0;
    }
    if (uv_ip6_addr(addr, port, sin6) == 0) {
        r->addrlen = sizeof *sin6;
        return 0;
    }
    return -1;
}

int main(int argc, char **argv)
{
    if (argc < 6) {
        fprintf(stderr, "usage: %s URL ADDR PORT TOTAL CONCURRENCY [CA_FILE]\n", argv[0]);
        return 2;
    }
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct probe_engine_opts eo = {.ca_file = argc > 6 ? argv[6] : NULL};
    struct probe_engine *eng;
    struct cmon_errbuf eb;
    if (probe_engine_new(&loop, &eo, &eng, &eb) != CMON_OK) {
        fprintf(stderr, "http_driver: %s\n", eb.msg);
        return 1;
    }
    struct run r = {.loop = &loop, .eng = eng, .total = atol(argv[4])};
    long conc = atol(argv[5]);
    r.target = (struct probe_target){.proto = CMON_PROTO_HTTP,
                                     .host = argv[2],
                                     .url = argv[1],
                                     .port = (uint16_t)atoi(argv[3]),
                                     .timeout_ms = 10000};
    if (parse_addr(argv[2], atoi(argv[3]), &r) != 0 || r.total < 1 || conc < 1) {
        fprintf(stderr, "http_driver: bad address, total or concurrency\n");
        return 2;
    }
    int64_t t0 = cmon_mono_ns();
    for (long i = 0; i < conc && r.started < r.total; i++)
        start_one(&r);
    while (r.done < r.total)
        uv_run(&loop, UV_RUN_ONCE);
    double secs = (double)(cmon_mono_ns() - t0) / 1e9;
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double cpu_ms = (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 +
                    (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3;
    probe_engine_close(eng, NULL, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    printf("checks=%ld ok=%ld failed=%ld seconds=%.3f rate=%.1f cpu_ms_per_check=%.3f\n", r.done,
           r.ok, r.done - r.ok, secs, (double)r.done / secs, cpu_ms / (double)r.done);
    if (r.total == 1)
        printf("diagnostic=%s detail=\"%s\" status=%d rtt_ms=%.3f connect_ms=%.3f tls_ms=%.3f "
               "first_byte_ms=%.3f address=%s\n",
               r.last.ok ? "none" : cmon_diag_code(r.last.diag), r.last.detail, r.last.http_status,
               r.last.rtt_ms, r.last.connect_ms, r.last.tls_ms, r.last.first_byte_ms,
               r.last.address);
    return r.ok == r.done ? 0 : 1;
}
