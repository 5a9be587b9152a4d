/* result.c: a round result and its JSON form (agent protocol, API). */
#include "model/result.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/clock.h"

double cmon_round_failed_pct(const struct cmon_round_result *r)
{
    if (r->checks_total == 0)
        return 100.0;
    return 100.0 * (double)r->checks_failed / (double)r->checks_total;
}

double cmon_rtt_mean(double sum, uint32_t n, double min, double max)
{
    double avg = sum / n;
    return avg < min ? min : avg > max ? max : avg;
}

bool cmon_rtt_ordered(double min, double *avg, double max)
{
    if (!(min <= max))
        return false;
    double slack = 1e-9 * fmax(fabs(min), fabs(max));
    if (*avg < min && *avg >= min - slack)
        *avg = min;
    else if (*avg > max && *avg <= max + slack)
        *avg = max;
    return min <= *avg && *avg <= max;
}

bool cmon_round_in_window(int64_t start_ns, int64_t now_ns, int64_t max_age_ns)
{
    /* differences in uint64: exact for any two int64s, never overflowing */
    if (start_ns > now_ns)
        return (uint64_t)start_ns - (uint64_t)now_ns <= (uint64_t)CMON_ROUND_MAX_AHEAD_NS;
    return max_age_ns >= 0 && (uint64_t)now_ns - (uint64_t)start_ns <= (uint64_t)max_age_ns;
}

static void set_ms(json_t *o, const char *key, double v)
{
    if (v >= 0 && isfinite(v))
        json_object_set_new(o, key, json_real(v));
}

json_t *cmon_round_to_json(const struct cmon_round_result *r)
{
    char ts[40];
    json_t *o = json_object();
    if (!o)
        return NULL;
    json_object_set_new(o, "testId", json_string(r->test_id));
    json_object_set_new(o, "startTime", json_string(cmon_rfc3339(r->start_ns, ts, sizeof ts)));
    json_object_set_new(o, "startNs", json_integer(r->start_ns));
    json_object_set_new(o, "checksTotal", json_integer(r->checks_total));
    json_object_set_new(o, "checksFailed", json_integer(r->checks_failed));
    if (r->has_rtt) {
        json_t *rtt = json_object();
        json_object_set_new(rtt, "min", json_real(r->rtt_min_ms));
        json_object_set_new(rtt, "avg", json_real(r->rtt_avg_ms));
        json_object_set_new(rtt, "max", json_real(r->rtt_max_ms));
        json_object_set_new(rtt, "jitter", json_real(r->rtt_jitter_ms));
        json_object_set_new(o, "rtt", rtt);
    }
    json_object_set_new(o, "diagnostic", json_string(cmon_diag_code(r->diagnostic)));
    json_object_set_new(o, "detail", json_string(r->detail));
    if (r->http_status)
        json_object_set_new(o, "httpStatus", json_integer(r->http_status));
    json_t *ph = json_object();
    set_ms(ph, "dnsMs", r->dns_ms);
    set_ms(ph, "connectMs", r->connect_ms);
    set_ms(ph, "tlsMs", r->tls_ms);
    set_ms(ph, "firstByteMs", r->first_byte_ms);
    if (json_object_size(ph))
        json_object_set_new(o, "phases", ph);
    else
        json_decref(ph);
    return o;
}

static enum cmon_err get_ms(const json_t *o, const char *key, double *out, bool required,
                            struct cmon_errbuf *eb, const char *where)
{
    const json_t *v = json_object_get(o, key);
    if (!v) {
        *out = -1;
        return required ? cmon_fail(eb, CMON_ERR_INVALID, "%s%s: missing", where, key) : CMON_OK;
    }
    if (!json_is_number(v) || !isfinite(json_number_value(v)) || json_number_value(v) < 0 ||
        json_number_value(v) > 3600000.0)
        return cmon_fail(eb, CMON_ERR_INVALID, "%s%s: must be a number of ms, 0-3600000", where,
                         key);
    *out = json_number_value(v);
    return CMON_OK;
}

static enum cmon_err check_keys(const json_t *o, const char *const *known, const char *where,
                                struct cmon_errbuf *eb)
{
    const char *key;
    json_t *val;
    json_object_foreach((json_t *)o, key, val)
    {
        size_t i = 0;
        while (known[i] && strcmp(known[i], key) != 0)
            i++;
        if (!known[i])
            return cmon_fail(eb, CMON_ERR_INVALID, "%s%s: unknown field", where, key);
    }
    return CMON_OK;
}

static enum cmon_err decode_rtt(const json_t *rtt, struct cmon_round_result *r,
                                struct cmon_errbuf *eb)
{
    static const char *const rtt_keys[] = {"min", "avg", "max", "jitter", NULL};
    if (!json_is_object(rtt))
        return cmon_fail(eb, CMON_ERR_INVALID, "rtt: must be an object");
    enum cmon_err err = check_keys(rtt, rtt_keys, "rtt.", eb);
    if (!err)
        err = get_ms(rtt, "min", &r->rtt_min_ms, true, eb, "rtt.");
    if (!err)
        err = get_ms(rtt, "avg", &r->rtt_avg_ms, true, eb, "rtt.");
    if (!err)
        err = get_ms(rtt, "max", &r->rtt_max_ms, true, eb, "rtt.");
    if (!err)
        err = get_ms(rtt, "jitter", &r->rtt_jitter_ms, true, eb, "rtt.");
    if (!err && !cmon_rtt_ordered(r->rtt_min_ms, &r->rtt_avg_ms, r->rtt_max_ms))
        err = cmon_fail(eb, CMON_ERR_INVALID, "rtt: min <= avg <= max does not hold");
    r->has_rtt = err == CMON_OK;
    return err;
}

static enum cmon_err decode_phases(const json_t *ph, struct cmon_round_result *r,
                                   struct cmon_errbuf *eb)
{
    static const char *const ph_keys[] = {"dnsMs", "connectMs", "tlsMs", "firstByteMs", NULL};
    if (!ph)
        return CMON_OK;
    if (!json_is_object(ph))
        return cmon_fail(eb, CMON_ERR_INVALID, "phases: must be an object");
    enum cmon_err err = check_keys(ph, ph_keys, "phases.", eb);
    if (!err)
        err = get_ms(ph, "dnsMs", &r->dns_ms, false, eb, "phases.");
    if (!err)
        err = get_ms(ph, "connectMs", &r->connect_ms, false, eb, "phases.");
    if (!err)
        err = get_ms(ph, "tlsMs", &r->tls_ms, false, eb, "phases.");
    if (!err)
        err = get_ms(ph, "firstByteMs", &r->first_byte_ms, false, eb, "phases.");
    return err;
}

static enum cmon_err decode_counts(const json_t *j, struct cmon_round_result *r,
                                   struct cmon_errbuf *eb)
{
    const json_t *tot = json_object_get(j, "checksTotal");
    const json_t *fail = json_object_get(j, "checksFailed");
    if (!json_is_integer(tot) || json_integer_value(tot) < 1 || json_integer_value(tot) > 1000)
        return cmon_fail(eb, CMON_ERR_INVALID, "checksTotal: must be an integer 1-1000");
    if (!json_is_integer(fail) || json_integer_value(fail) < 0 ||
        json_integer_value(fail) > json_integer_value(tot))
        return cmon_fail(eb, CMON_ERR_INVALID, "checksFailed: must be an integer 0-checksTotal");
    r->checks_total = (uint32_t)json_integer_value(tot);
    r->checks_failed = (uint32_t)json_integer_value(fail);
    return CMON_OK;
}

static enum cmon_err decode_ident(const json_t *j, struct cmon_round_result *r,
                                  struct cmon_errbuf *eb)
{
    const json_t *id = json_object_get(j, "testId");
    const char *s = json_string_value(id);
    if (!s || strlen(s) != CMON_TEST_ID_LEN || strspn(s, "0123456789abcdef") != CMON_TEST_ID_LEN)
        return cmon_fail(eb, CMON_ERR_INVALID, "testId: must be 16 lowercase hex characters");
    memcpy(r->test_id, s, CMON_TEST_ID_LEN + 1);
    const json_t *ns = json_object_get(j, "startNs");
    const char *ts = json_string_value(json_object_get(j, "startTime"));
    if (json_is_integer(ns) && json_integer_value(ns) > 0)
        r->start_ns = json_integer_value(ns);
    else if (ts && cmon_parse_rfc3339(ts, &r->start_ns) == 0)
        ;
    else if (ts && strspn(ts, "0123456789") == 4 && ts[4] == '-' && strncmp(ts, "2262", 4) >= 0)
        r->start_ns = INT64_MAX; /* past int64 ns: the clock window refuses it by name */
    else
        return cmon_fail(eb, CMON_ERR_INVALID, "startTime: must be an RFC 3339 time");
    return CMON_OK;
}

enum cmon_err cmon_round_from_json(const json_t *j, struct cmon_round_result *r,
                                   struct cmon_errbuf *eb)
{
    static const char *const keys[] = {"testId",       "startTime", "startNs",    "checksTotal",
                                       "checksFailed", "rtt",       "diagnostic", "detail",
                                       "httpStatus",   "phases",    NULL};
    memset(r, 0, sizeof *r);
    r->dns_ms = r->connect_ms = r->tls_ms = r->first_byte_ms = -1;
    if (!json_is_object(j))
        return cmon_fail(eb, CMON_ERR_INVALID, "a result must be an object");
    enum cmon_err err = check_keys(j, keys, "", eb);
    if (!err)
        err = decode_ident(j, r, eb);
    if (!err)
        err = decode_counts(j, r, eb);
    const json_t *rtt = json_object_get(j, "rtt");
    if (!err && rtt && !json_is_null(rtt))
        err = decode_rtt(rtt, r, eb);
    if (err)
        return err;
    const json_t *d = json_object_get(j, "diagnostic");
    if (d && (!json_is_string(d) || !cmon_diag_from_code(json_string_value(d), &r->diagnostic)))
        return cmon_fail(eb, CMON_ERR_INVALID, "diagnostic: not a code of the catalogue");
    const json_t *det = json_object_get(j, "detail");
    if (det && !json_is_string(det))
        return cmon_fail(eb, CMON_ERR_INVALID, "detail: must be a string");
    if (det)
        snprintf(r->detail, sizeof r->detail, "%s", json_string_value(det));
    const json_t *hs = json_object_get(j, "httpStatus");
    if (hs &&
        (!json_is_integer(hs) || json_integer_value(hs) < 100 || json_integer_value(hs) > 599))
        return cmon_fail(eb, CMON_ERR_INVALID, "httpStatus: must be an integer 100-599");
    r->http_status = hs ? (int)json_integer_value(hs) : 0;
    if (r->checks_failed < r->checks_total && !r->has_rtt)
        return cmon_fail(eb, CMON_ERR_INVALID, "rtt: required when a check succeeded");
    return decode_phases(json_object_get(j, "phases"), r, eb);
}
