/* page.c: what the exporter says about itself -- /metrics (blackbox's own
 * metric names where it has them, cmon_exporter_* for the rest), the status
 * page / (modules and recent probes, as blackbox's). */
#include <sys/resource.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "exporter/exporter_internal.h"
#include "model/diag.h"

static void metric(struct cmon_buf *out, const char *name, const char *type, const char *help)
{
    cmon_buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* The standard process_* metrics Prometheus' client libraries export, so
 * the exporter's own cost is one query away (blackbox exports them too). */
static void process_metrics(struct cmon_buf *out)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) == 0) {
        metric(out, "process_cpu_seconds_total", "counter",
               "Total user and system CPU time spent in seconds.");
        cmon_buf_printf(out, "process_cpu_seconds_total %.3f\n",
                        (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
                            (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6);
    }
    FILE *f = fopen("/proc/self/statm", "r");
    unsigned long size, resident;
    if (f && fscanf(f, "%lu %lu", &size, &resident) == 2) {
        metric(out, "process_resident_memory_bytes", "gauge", "Resident memory size in bytes.");
        cmon_buf_printf(out, "process_resident_memory_bytes %lu\n",
                        resident * (unsigned long)sysconf(_SC_PAGESIZE));
    }
    if (f)
        fclose(f);
}

void exp_render_own_metrics(const struct exp_server *s, struct cmon_buf *out)
{
    metric(out, "blackbox_exporter_config_last_reload_successful", "gauge",
           "Blackbox exporter config loaded successfully.");
    cmon_buf_printf(out, "blackbox_exporter_config_last_reload_successful %d\n", s->reload_ok);
    metric(out, "blackbox_exporter_config_last_reload_success_timestamp_seconds", "gauge",
           "Timestamp of the last successful configuration reload.");
    cmon_buf_printf(out, "blackbox_exporter_config_last_reload_success_timestamp_seconds %.3f\n",
                    (double)s->reload_wall_ns / 1e9);
    metric(out, "blackbox_module_unknown_total", "counter",
           "Count of unknown modules requested by probes");
    cmon_buf_printf(out, "blackbox_module_unknown_total %llu\n",
                    (unsigned long long)s->unknown_module);
    metric(out, "cmon_exporter_probes_total", "counter", "Probes answered, by prober and result.");
    for (int p = 0; p < EXP_N_PROBERS; p++)
        for (int ok = 0; ok < 2; ok++)
            cmon_buf_printf(out, "cmon_exporter_probes_total{prober=\"%s\",result=\"%s\"} %llu\n",
                            exp_prober_name((enum exp_prober)p), ok ? "success" : "failure",
                            (unsigned long long)s->stats[p].probes[ok]);
    metric(out, "cmon_exporter_probe_duration_seconds_total", "counter",
           "Seconds spent in probes, by prober.");
    for (int p = 0; p < EXP_N_PROBERS; p++)
        cmon_buf_printf(out, "cmon_exporter_probe_duration_seconds_total{prober=\"%s\"} %.6f\n",
                        exp_prober_name((enum exp_prober)p), s->stats[p].seconds);
    metric(out, "cmon_exporter_probes_in_flight", "gauge", "Probes running now.");
    cmon_buf_printf(out, "cmon_exporter_probes_in_flight %u\n", exp_runner_in_flight(s->runner));
    process_metrics(out);
    metric(out, "process_start_time_seconds", "gauge",
           "Start time of the process since unix epoch in seconds.");
    cmon_buf_printf(out, "process_start_time_seconds %.3f\n", (double)s->start_wall_ns / 1e9);
}

static void html_escaped(struct cmon_buf *out, const char *s)
{
    static const char special[] = "<>&\"'";
    static const char *const entity[] = {"&lt;", "&gt;", "&amp;", "&quot;", "&#39;"};
    for (; *s; s++) {
        const char *hit = strchr(special, *s);
        if (hit)
            cmon_buf_puts(out, entity[hit - special]);
        else
            cmon_buf_append(out, s, 1);
    }
}

static void status_modules(const struct exp_config *cfg, struct cmon_buf *out)
{
    cmon_buf_puts(out, "<h2>Modules</h2>\n<table><tr><th>Module</th><th>Prober</th>"
                       "<th>Timeout</th></tr>\n");
    for (size_t i = 0; i < cfg->n_modules; i++) {
        const struct exp_module *m = &cfg->modules[i];
        cmon_buf_puts(out, "<tr><td>");
        html_escaped(out, m->name);
        if (m->timeout_ms)
            cmon_buf_printf(out, "</td><td>%s</td><td>%.3g s</td></tr>\n",
                            exp_prober_name(m->prober), m->timeout_ms / 1000.0);
        else
            cmon_buf_printf(out, "</td><td>%s</td><td>scrape timeout</td></tr>\n",
                            exp_prober_name(m->prober));
    }
    cmon_buf_puts(out, "</table>\n");
}

static void status_recent(const struct exp_server *s, struct cmon_buf *out)
{
    cmon_buf_puts(out, "<h2>Recent probes</h2>\n<table><tr><th>Time (UTC)</th><th>Module</th>"
                       "<th>Target</th><th>Result</th><th>Duration</th><th>Diagnostic</th>"
                       "</tr>\n");
    for (size_t k = 0; k < s->n_recent; k++) { /* newest first */
        const struct exp_recent *r = &s->recent[(s->recent_next + EXP_RECENT - 1 - k) % EXP_RECENT];
        char when[40];
        cmon_rfc3339(r->wall_ns, when, sizeof when);
        cmon_buf_printf(out, "<tr><td>%s</td><td>", when);
        html_escaped(out, r->module);
        cmon_buf_puts(out, "</td><td>");
        html_escaped(out, r->target);
        cmon_buf_printf(out, "</td><td>%s</td><td>%.3f s</td><td>", r->ok ? "Success" : "Failure",
                        r->duration_s);
        html_escaped(out, r->diag);
        if (r->detail[0]) {
            cmon_buf_puts(out, " (");
            html_escaped(out, r->detail);
            cmon_buf_puts(out, ")");
        }
        cmon_buf_puts(out, "</td></tr>\n");
    }
    cmon_buf_puts(out, "</table>\n");
}

void exp_render_status(const struct exp_server *s, const struct exp_config *cfg,
                       struct cmon_buf *out)
{
    cmon_buf_puts(out, "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
                       "<title>cmon exporter</title></head><body>\n"
                       "<h1>cmon exporter</h1>\n<p>A drop-in for blackbox_exporter: "
                       "<a href=\"probe?target=prometheus.io&amp;module=http_2xx\">"
                       "probe prometheus.io for http_2xx</a> &middot; "
                       "<a href=\"metrics\">metrics</a></p>\n<p>Configuration ");
    html_escaped(out, s->opts.config_path);
    if (s->reload_error[0]) {
        cmon_buf_puts(out, ": the last reload failed, the previous configuration is in use: ");
        html_escaped(out, s->reload_error);
    }
    cmon_buf_puts(out, "</p>\n");
    status_modules(cfg, out);
    status_recent(s, out);
    cmon_buf_puts(out, "</body></html>\n");
}
