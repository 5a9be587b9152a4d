/* store.c: backend selection by URL and the backend-neutral helpers (roles,
 * token generation and hashing, each test's newest staged round).  Tokens are random, shown once, and only
 * their SHA-256 is stored (DESIGN 9). */
#include "store/store.h"

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/leader.h"
#include "store/pg_internal.h"
#include "store/sqlite_internal.h"

static enum cmon_err store_open_backend(const char *url, enum store_mode mode, struct store **out,
                                        struct cmon_errbuf *eb)
{
    if (strncmp(url, "sqlite:", 7) == 0) {
        const char *path = url + 7;
        if (strncmp(path, "//", 2) == 0)
            path += 2; /* sqlite:///abs/path */
        if (!*path)
            return cmon_fail(eb, CMON_ERR_INVALID, "store URL '%s' has no path", url);
        return store_sqlite_open(path, mode, out, eb);
    }
    if (strncmp(url, "postgres://", 11) == 0 || strncmp(url, "postgresql://", 13) == 0)
        return store_pg_open(url, mode, out, eb);
    return cmon_fail(eb, CMON_ERR_INVALID, "store URL '%s' is not sqlite:PATH or postgres://...",
                     url);
}

enum cmon_err store_open(const char *url, enum store_mode mode, struct store **out,
                         struct cmon_errbuf *eb)
{
    *out = NULL;
    return store_open_backend(url, mode, out, eb);
}

enum cmon_err store_leader_try(struct store *s, bool *leader, struct cmon_errbuf *eb)
{
    return s->ops->leader_try(s, leader, eb);
}

static const char *const role_names[] = {
    [STORE_ROLE_READER] = "reader",
    [STORE_ROLE_ADMIN] = "admin",
    [STORE_ROLE_AGENT] = "agent",
};

const char *store_role_name(enum store_role r)
{
    return (unsigned)r < 3 ? role_names[r] : "unknown";
}

bool store_role_parse(const char *s, enum store_role *out)
{
    for (int i = 0; i < 3; i++) {
        if (strcmp(s, role_names[i]) == 0) {
            *out = (enum store_role)i;
            return true;
        }
    }
    return false;
}

/* By (test, start, arrival): by[] is in arrival order and points into one
 * array, so the address is the arrival. */
static int cmp_newest(const void *a, const void *b)
{
    const struct cmon_round_result *x = *(const struct cmon_round_result *const *)a;
    const struct cmon_round_result *y = *(const struct cmon_round_result *const *)b;
    int c = strcmp(x->test_id, y->test_id);
    if (c)
        return c;
    if (x->start_ns != y->start_ns)
        return x->start_ns < y->start_ns ? -1 : 1;
    return x < y ? -1 : x > y;
}

size_t store_newest_per_test(const struct cmon_round_result **by, size_t n)
{
    qsort(by, n, sizeof *by, cmp_newest);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (i + 1 < n && strcmp(by[i]->test_id, by[i + 1]->test_id) == 0)
            continue;
        by[k++] = by[i];
    }
    return k;
}

static void hex(const unsigned char *in, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * n] = '\0';
}

void store_token_hash(const char *token, char out[65])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_Digest(token, strlen(token), md, &len, EVP_sha256(), NULL);
    hex(md, 32, out);
}

enum cmon_err store_token_new(char out[64], struct cmon_errbuf *eb)
{
    unsigned char raw[20];
    if (RAND_bytes(raw, sizeof raw) != 1)
        return cmon_fail(eb, CMON_ERR_IO, "no randomness for a token");
    memcpy(out, "cmon_", 5);
    hex(raw, sizeof raw, out + 5);
    return CMON_OK;
}

/* The JSON array text of n strings, name(items, i) each; NULL when out of
 * memory, never a shorter list: a missing name would let the callers'
 * "DELETE ... NOT IN (list)" remove a row that is still wanted. */
static char *names_json(const void *items, size_t n, const char *(*name)(const void *, size_t))
{
    json_t *arr = json_array();
    bool ok = arr != NULL;
    for (size_t i = 0; ok && i < n; i++)
        ok = json_array_append_new(arr, json_string(name(items, i))) == 0;
    char *text = ok ? json_dumps(arr, JSON_COMPACT) : NULL;
    json_decref(arr);
    return text;
}

static const char *test_id_at(const void *items, size_t i)
{
    return ((const struct store_test *)items)[i].id;
}

char *store_test_ids_json(const struct store_test *tests, size_t n)
{
    return names_json(tests, n, test_id_at);
}

static const char *id_at(const void *items, size_t i)
{
    return ((const char *const *)items)[i];
}

char *store_ids_json(const char *const *ids, size_t n)
{
    return names_json(ids, n, id_at);
}

struct id_walk {
    store_test_cb cb;
    void *arg;
    bool stop;
};

static int walk_one(void *arg, const struct store_test *t)
{
    struct id_walk *w = arg;
    w->stop = w->cb(w->arg, t) != 0;
    return w->stop;
}

enum cmon_err store_test_query_ids(struct store *s, const char *const *ids, size_t n,
                                   store_test_cb cb, void *arg, struct cmon_errbuf *eb)
{
    return s->ops->test_query_ids(s, ids, n, cb, arg, eb);
}

enum cmon_err store_test_query_each(struct store *s, const char *const *ids, size_t n,
                                    store_test_cb cb, void *arg, struct cmon_errbuf *eb)
{
    struct id_walk w = {.cb = cb, .arg = arg};
    enum cmon_err err = CMON_OK;
    for (size_t i = 0; !err && !w.stop && i < n; i++) {
        struct store_test_filter f = {.test_id = ids[i]};
        err = s->ops->test_query(s, &f, walk_one, &w, eb);
    }
    return err;
}

static const char *rule_name_at(const void *items, size_t i)
{
    return ((const struct cmon_alert_rule *const *)items)[i]->name;
}

char *store_rule_names_json(const struct cmon_alert_rule *const *rules, size_t n)
{
    return names_json(rules, n, rule_name_at);
}

enum cmon_err store_rule_owner_check(const char *name, bool exists, const char *stored,
                                     const char *want, struct cmon_errbuf *eb)
{
    if (!exists || (!stored && !want) || (stored && want && strcmp(stored, want) == 0))
        return CMON_OK;
    if (stored && !want)
        return cmon_fail(eb, CMON_ERR_EXISTS,
                         "alert rule '%s' is managed by monitor '%s': change it in that "
                         "monitor's alertRules (PUT /api/v1/connectionMonitors/%s)",
                         name, stored, stored);
    if (stored)
        return cmon_fail(eb, CMON_ERR_EXISTS,
                         "alert rule '%s' is managed by monitor '%s'; monitor '%s' cannot take "
                         "it: give the rule another name",
                         name, stored, want);
    return cmon_fail(eb, CMON_ERR_EXISTS,
                     "alert rule '%s' already exists as an alerts API rule; monitor '%s' cannot "
                     "take it: give the rule another name, or delete the API rule first",
                     name, want);
}

enum cmon_err store_rule_row(struct cmon_alert_rule_list *out, const char *name, const char *body,
                             const char *monitor, struct cmon_errbuf *eb)
{
    struct cmon_alert_rule *r = cmon_alert_rule_loads(body);
    if (r && monitor && !(r->monitor = strdup(monitor))) {
        cmon_alert_rule_free(r);
        return cmon_fail(eb, CMON_ERR_NOMEM, "out of memory");
    }
    return cmon_alert_rule_list_add(out, r, name) ? CMON_OK
                                                  : cmon_fail(eb, CMON_ERR_NOMEM, "out of memory");
}

enum cmon_err store_group_row(struct cmon_action_group_list *out, const char *name,
                              const char *body, struct cmon_errbuf *eb)
{
    return cmon_action_group_list_add(out, cmon_action_group_loads(body), name)
               ? CMON_OK
               : cmon_fail(eb, CMON_ERR_NOMEM, "out of memory");
}
