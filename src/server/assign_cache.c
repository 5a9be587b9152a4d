/* assign_cache.c: parsed monitors by version for assignment polls
 * (assign_cache.h). */
#include "server/assign_cache.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/grow.h"
#include "core/text.h"
#include "model/monitor.h"

/* One version of a monitor: NULL m when its body did not parse. */
struct entry {
    char *name;
    int64_t updated_ns;
    size_t body_len;
    struct cmon_monitor *m;
    uint64_t walk; /* the newest walk that met it */
};

struct assign_cache {
    pthread_mutex_t mu;
    struct entry *v; /* sorted by name */
    size_t n, cap;
    uint64_t walks;  /* walks begun */
    uint64_t oldest; /* the oldest walk still running is >= this */
    size_t running;  /* walks begun and not ended */
};

struct assign_cache *assign_cache_new(void)
{
    struct assign_cache *c = calloc(1, sizeof *c);
    if (c)
        pthread_mutex_init(&c->mu, NULL);
    return c;
}

static void entry_clear(struct entry *e)
{
    free(e->name);
    cmon_monitor_free(e->m);
}

void assign_cache_free(struct assign_cache *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->n; i++)
        entry_clear(&c->v[i]);
    free(c->v);
    pthread_mutex_destroy(&c->mu);
    free(c);
}

uint64_t assign_cache_begin(struct assign_cache *c)
{
    pthread_mutex_lock(&c->mu);
    uint64_t walk = ++c->walks;
    if (!c->running++)
        c->oldest = walk;
    pthread_mutex_unlock(&c->mu);
    return walk;
}

/* Forget what no walk met since the oldest one that may still be running
 * began: with walks overlapping, a version another walk has not reached yet
 * stays. */
void assign_cache_end(struct assign_cache *c)
{
    pthread_mutex_lock(&c->mu);
    size_t k = 0;
    for (size_t i = 0; i < c->n; i++) {
        if (c->v[i].walk >= c->oldest)
            c->v[k++] = c->v[i];
        else
            entry_clear(&c->v[i]);
    }
    c->n = k;
    if (!--c->running)
        c->oldest = c->walks + 1;
    pthread_mutex_unlock(&c->mu);
}

static int cmp_key(const void *name, const void *e)
{
    return strcmp(name, ((const struct entry *)e)->name);
}

static struct cmon_monitor *parse(const struct store_monitor *sm, size_t len)
{
    struct cmon_monitor *m = NULL;
    struct cmon_problems probs = {0};
    if (cmon_monitor_parse(sm->body, len, sm->name, &m, &probs) != CMON_OK)
        m = NULL;
    cmon_problems_free(&probs);
    return m;
}

/* The entry for sm's version, parsed now if it is new; NULL when out of
 * memory.  Under c->mu. */
static struct entry *version_of(struct assign_cache *c, const struct store_monitor *sm,
                                bool *parsed)
{
    size_t len = strlen(sm->body);
    bool found;
    size_t at = cmon_sorted_find(c->v, c->n, sizeof *c->v, sm->name, cmp_key, &found);
    struct entry *e = found ? &c->v[at] : NULL;
    if (e && e->updated_ns == sm->updated_ns && e->body_len == len)
        return e;
    if (!e) {
        char *name = cmon_strdup(sm->name);
        if (!name || !cmon_sorted_insert(&c->v, &c->n, &c->cap, at, sizeof *c->v)) {
            free(name);
            return NULL;
        }
        e = &c->v[at];
        *e = (struct entry){.name = name};
    }
    cmon_monitor_free(e->m);
    e->m = parse(sm, len);
    e->updated_ns = sm->updated_ns;
    e->body_len = len;
    *parsed = true;
    return e;
}

static bool names_agent(const struct cmon_monitor *m, const char *agent,
                        const char *const *addresses, size_t n_addresses)
{
    for (size_t g = 0; m && g < m->n_groups; g++) {
        const struct cmon_test_group *grp = &m->groups[g];
        for (size_t i = 0; !grp->disabled && i < grp->n_sources; i++) {
            if (cmon_endpoint_has_agent(&m->endpoints[grp->sources[i]], agent, addresses,
                                        n_addresses))
                return true;
        }
    }
    return false;
}

bool assign_cache_names_agent(struct assign_cache *c, uint64_t walk, const struct store_monitor *sm,
                              const char *agent, const char *const *addresses, size_t n_addresses,
                              bool *parsed)
{
    *parsed = false;
    pthread_mutex_lock(&c->mu);
    struct entry *e = version_of(c, sm, parsed);
    bool found = false;
    if (e) {
        e->walk = walk;
        found = names_agent(e->m, agent, addresses, n_addresses);
    } else {
        /* no room to keep it: answer from a parse of its own */
        struct cmon_monitor *m = parse(sm, strlen(sm->body));
        *parsed = true;
        found = names_agent(m, agent, addresses, n_addresses);
        cmon_monitor_free(m);
    }
    pthread_mutex_unlock(&c->mu);
    return found;
}
