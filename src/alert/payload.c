/* payload.c: what the senders send -- the webhook body and its HMAC-SHA256
 * signature, the Alertmanager v2 alert list, the exec environment -- and the
 * retry backoff.  Pure functions of the alert, so tests check exact bytes. */
#include <ctype.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alert/notify.h"
#include "core/clock.h"
#include "core/text.h"

int64_t cmon_notify_backoff_ns(int64_t base_ns, int tries)
{
    int64_t d = base_ns;
    for (int i = 1; i < tries && d < INT64_MAX / 2; i++)
        d *= 2;
    return d;
}

void cmon_notify_signature(const char *secret, const char *body, size_t len, char *out,
                           size_t outlen)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;
    if (!HMAC(EVP_sha256(), secret, (int)strlen(secret), (const unsigned char *)body, len, md,
              &md_len))
        md_len = 0;
    size_t off = (size_t)snprintf(out, outlen, "sha256=");
    for (unsigned int i = 0; i < md_len && off + 3 <= outlen; i++)
        off += (size_t)snprintf(out + off, outlen - off, "%02x", md[i]);
}

const char *cmon_notify_severity_name(int severity)
{
    static const char *const names[] = {"critical", "error", "warning", "informational",
                                        "verbose"};
    return severity >= 0 && severity <= 4 ? names[severity] : "warning";
}

static const char *event_name(const struct cmon_alert_instance *a)
{
    return a->state == CMON_ALERT_RESOLVED ? "resolved" : "firing";
}

char *cmon_notify_webhook_body(const struct cmon_alert_instance *a, const char *group)
{
    json_t *o = json_pack("{s:s, s:s, s:o}", "event", event_name(a), "actionGroup", group,
                          "alert", cmon_alert_instance_to_json(a));
    char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    return s;
}

char *cmon_notify_am_body(const struct cmon_alert_instance *a, const char *generator_url)
{
    char buf[40], val[40];
    json_t *labels = json_object(), *ann = json_object();
    for (size_t i = 0; labels && i < a->n_labels; i++)
        json_object_set_new(labels, a->labels[i].name, json_string(a->labels[i].value));
    json_object_set_new(labels, "severity", json_string(cmon_notify_severity_name(a->severity)));
    snprintf(val, sizeof val, "%g", a->state == CMON_ALERT_RESOLVED ? a->value : a->fired_value);
    json_object_set_new(ann, "summary", json_string(a->summary ? a->summary : a->rule));
    json_object_set_new(ann, "value", json_string(val));
    json_t *alert = json_pack("{s:o, s:o, s:s}", "labels", labels, "annotations", ann,
                              "startsAt",
                              cmon_rfc3339(a->fired_ns ? a->fired_ns : a->pending_ns, buf,
                                           sizeof buf));
    if (alert && a->state == CMON_ALERT_RESOLVED)
        json_object_set_new(alert, "endsAt",
                            json_string(cmon_rfc3339(a->resolved_ns, buf, sizeof buf)));
    if (alert && generator_url)
        json_object_set_new(alert, "generatorURL", json_string(generator_url));
    json_t *list = json_array();
    json_array_append_new(list, alert);
    char *s = list && alert ? json_dumps(list, JSON_COMPACT) : NULL;
    json_decref(list);
    return s;
}

/* "testGroup" -> "TEST_GROUP"; anything but letters and digits -> '_'. */
static void env_name(const char *label, char *out, size_t outlen)
{
    size_t n = (size_t)snprintf(out, outlen, "CMON_ALERT_LABEL_");
    for (const char *c = label; *c && n + 3 < outlen; c++) {
        if (isupper((unsigned char)*c) && c != label)
            out[n++] = '_';
        out[n++] = isalnum((unsigned char)*c) ? (char)toupper((unsigned char)*c) : '_';
    }
    out[n] = '\0';
}

static bool env_push(char **env, size_t *n, const char *name, const char *value)
{
    struct cmon_buf b;
    cmon_buf_init(&b);
    cmon_buf_printf(&b, "%s=%s", name, value ? value : "");
    if (b.oom) {
        cmon_buf_free(&b);
        return false;
    }
    env[(*n)++] = cmon_buf_take(&b);
    return true;
}

char **cmon_notify_exec_env(const struct cmon_alert_instance *a, const char *group)
{
    char **env = calloc(a->n_labels + 16, sizeof *env);
    if (!env)
        return NULL;
    char sev[16], val[40], fired[40], starts[40], ends[40] = "", name[128];
    snprintf(sev, sizeof sev, "%d", a->severity);
    snprintf(val, sizeof val, "%g", a->value);
    snprintf(fired, sizeof fired, "%g", a->fired_value);
    cmon_rfc3339(a->fired_ns ? a->fired_ns : a->pending_ns, starts, sizeof starts);
    if (a->resolved_ns)
        cmon_rfc3339(a->resolved_ns, ends, sizeof ends);
    size_t n = 0;
    bool ok = env_push(env, &n, "CMON_ALERT_EVENT", event_name(a)) &&
              env_push(env, &n, "CMON_ALERT_RULE", a->rule) &&
              env_push(env, &n, "CMON_ALERT_KEY", a->key) &&
              env_push(env, &n, "CMON_ALERT_GROUP", group) &&
              env_push(env, &n, "CMON_ALERT_SEVERITY", sev) &&
              env_push(env, &n, "CMON_ALERT_VALUE", val) &&
              env_push(env, &n, "CMON_ALERT_FIRED_VALUE", fired) &&
              env_push(env, &n, "CMON_ALERT_SUMMARY", a->summary) &&
              env_push(env, &n, "CMON_ALERT_STARTS_AT", starts) &&
              env_push(env, &n, "CMON_ALERT_ENDS_AT", ends);
    for (size_t i = 0; ok && i < a->n_labels; i++) {
        env_name(a->labels[i].name, name, sizeof name);
        ok = env_push(env, &n, name, a->labels[i].value);
    }
    if (!ok) {
        cmon_notify_env_free(env);
        return NULL;
    }
    return env;
}

void cmon_notify_env_free(char **env)
{
    for (size_t i = 0; env && env[i]; i++)
        free(env[i]);
    free(env);
}
