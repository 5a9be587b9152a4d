/* test_server_writer.c: the one writer (src/server/writer.c) over a real
 * SQLite store, held busy by a call that keeps a write transaction open until
 * the test lets it go: a command not started by its deadline is refused
 * (CMON_ERR_BUSY) and never runs; a full queue refuses at once; heartbeats
 * queued together commit in one transaction, an unregistered agent's
 * failing alone; a read-only connection (the dashboard's) reads meanwhile. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/clock.h"
#include "server/writer.h"
#include "store/store.h"
#include "test_support.h"

struct gate {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool entered, open;
};

struct fixture {
    char dir[64], url[128];
    struct writer *w;
    struct gate g;
    pthread_t holder;
    enum cmon_err held_err;
};

static int start(void **state, size_t max_cmds)
{
    struct fixture *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/cmon-writer-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->url, sizeof f->url, "sqlite:%s/cmon.db", f->dir);
    pthread_mutex_init(&f->g.mu, NULL);
    pthread_cond_init(&f->g.cv, NULL);
    struct writer_opts o = {.store_url = f->url, .max_queued_cmds = max_cmds};
    struct cmon_errbuf eb;
    if (writer_start(&o, &f->w, &eb))
        fail_msg("writer_start: %s", eb.msg);
    *state = f;
    return 0;
}

static int setup(void **state)
{
    return start(state, 0);
}

static int setup_one_slot(void **state)
{
    return start(state, 1);
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    writer_stop(f->w);
    pthread_mutex_destroy(&f->g.mu);
    pthread_cond_destroy(&f->g.cv);
    assert_int_equal(test_rm_rf(f->dir), 0);
    free(f);
    return 0;
}

/* On the writer: open a write transaction, write, and wait for the gate. */
static enum cmon_err hold(struct store *s, void *arg, int64_t now_ns, struct cmon_errbuf *eb)
{
    struct gate *g = arg;
    enum cmon_err err = s->ops->tx_begin(s, eb);
    if (!err)
        err = s->ops->agent_seen(s, "holder", now_ns, eb);
    pthread_mutex_lock(&g->mu);
    g->entered = true;
    pthread_cond_broadcast(&g->cv);
    while (!g->open)
        pthread_cond_wait(&g->cv, &g->mu);
    pthread_mutex_unlock(&g->mu);
    if (!err)
        err = s->ops->tx_commit(s, eb);
    if (err)
        s->ops->tx_rollback(s);
    return err;
}

static void *holder_main(void *arg)
{
    struct fixture *f = arg;
    struct cmon_errbuf eb;
    f->held_err = writer_call(f->w, hold, &f->g, writer_deadline(60000), &eb);
    return NULL;
}

/* The writer is busy in hold() when this returns. */
static void hold_writer(struct fixture *f)
{
    assert_int_equal(pthread_create(&f->holder, NULL, holder_main, f), 0);
    pthread_mutex_lock(&f->g.mu);
    while (!f->g.entered)
        pthread_cond_wait(&f->g.cv, &f->g.mu);
    pthread_mutex_unlock(&f->g.mu);
}

static void release_writer(struct fixture *f)
{
    pthread_mutex_lock(&f->g.mu);
    f->g.open = true;
    pthread_cond_broadcast(&f->g.cv);
    pthread_mutex_unlock(&f->g.mu);
    pthread_join(f->holder, NULL);
    assert_int_equal(f->held_err, CMON_OK);
}

static enum cmon_err set_flag(struct store *s, void *arg, int64_t now_ns, struct cmon_errbuf *eb)
{
    (void)s, (void)now_ns, (void)eb;
    *(bool *)arg = true;
    return CMON_OK;
}

static int count_agent(void *arg, const struct store_agent *a)
{
    (*(int *)arg) += strcmp(a->name, "holder") != 0;
    return 0;
}

static void test_deadline_refuses_without_running(void **state)
{
    struct fixture *f = *state;
    hold_writer(f);
    bool ran = false;
    struct cmon_errbuf eb;
    int64_t t0 = cmon_mono_ns();
    assert_int_equal(writer_call(f->w, set_flag, &ran, writer_deadline(200), &eb), CMON_ERR_BUSY);
    assert_true(cmon_mono_ns() - t0 >= 200 * CMON_NS_PER_MS);
    assert_non_null(strstr(eb.msg, "deadline"));
    /* the dashboard's reads do not queue behind the writer */
    struct store *ro;
    assert_int_equal(store_open(f->url, STORE_READ_ONLY, &ro, &eb), CMON_OK);
    int n = -1;
    assert_int_equal(ro->ops->agent_list(ro, count_agent, &n, &eb), CMON_OK);
    store_close(ro);
    release_writer(f);
    assert_false(ran); /* refused means never run, not run late */
    struct writer_stats st;
    writer_get_stats(f->w, &st);
    assert_int_equal(st.refused_busy, 1);
    assert_int_equal(writer_call(f->w, set_flag, &ran, writer_deadline(5000), &eb), CMON_OK);
    assert_true(ran);
}

static void test_full_queue_refuses_at_once(void **state)
{
    struct fixture *f = *state;
    hold_writer(f);
    struct cmon_round_result r = {.start_ns = cmon_wall_ns(), .checks_total = 1};
    struct writer_batch b = {.agent = "x", .seq = -1, .results = &r, .n = 1};
    struct cmon_errbuf eb;
    assert_int_equal(writer_results_async(f->w, &b, &eb), CMON_OK); /* the one slot */
    bool ran = false;
    int64_t t0 = cmon_mono_ns();
    assert_int_equal(writer_call(f->w, set_flag, &ran, writer_deadline(60000), &eb),
                     CMON_ERR_BUSY);
    assert_true(cmon_mono_ns() - t0 < 30000 * CMON_NS_PER_MS); /* not the deadline */
    assert_non_null(strstr(eb.msg, "full"));
    release_writer(f);
    assert_false(ran);
}

#define N_AGENTS 8

struct beat {
    struct writer *w;
    char name[16];
    enum cmon_err err;
};

static void *beat_main(void *arg)
{
    struct beat *b = arg;
    struct writer_heartbeat hb = {b->name, "1.0", "[]", "", "{}", 10};
    struct cmon_errbuf eb;
    b->err = writer_heartbeat(b->w, &hb, writer_deadline(60000), &eb);
    return NULL;
}

static enum cmon_err do_register(struct store *s, void *arg, int64_t now_ns,
                                 struct cmon_errbuf *eb)
{
    int64_t next;
    char hash[65];
    store_token_hash(arg, hash); /* any distinct token hash */
    return s->ops->agent_register(s, arg, hash, "1.0", "[]", "", 10, now_ns, &next, eb);
}

static void test_heartbeats_share_one_transaction(void **state)
{
    struct fixture *f = *state;
    struct beat b[N_AGENTS + 1];
    pthread_t th[N_AGENTS + 1];
    struct cmon_errbuf eb;
    for (int i = 0; i <= N_AGENTS; i++) {
        b[i] = (struct beat){.w = f->w};
        snprintf(b[i].name, sizeof b[i].name, "%s%d", i < N_AGENTS ? "agent" : "stranger", i);
        if (i < N_AGENTS && /* the last one never registers */
            writer_call(f->w, do_register, b[i].name, writer_deadline(5000), &eb))
            fail_msg("register %s: %s", b[i].name, eb.msg);
    }
    hold_writer(f);
    struct writer_stats before, st;
    writer_get_stats(f->w, &before);
    for (int i = 0; i <= N_AGENTS; i++)
        assert_int_equal(pthread_create(&th[i], NULL, beat_main, &b[i]), 0);
    for (int i = 0; i < 2000; i++) { /* every heartbeat queued (a condition, not a time) */
        writer_get_stats(f->w, &st);
        if (st.queued_cmds == N_AGENTS + 1)
            break;
        usleep(5000);
    }
    assert_int_equal(st.queued_cmds, N_AGENTS + 1);
    release_writer(f);
    for (int i = 0; i <= N_AGENTS; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(b[i].err, i < N_AGENTS ? CMON_OK : CMON_ERR_NOTFOUND);
    }
    writer_get_stats(f->w, &st);
    assert_int_equal(st.heartbeats - before.heartbeats, N_AGENTS + 1);
    assert_int_equal(st.batches_committed - before.batches_committed, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_deadline_refuses_without_running, setup, teardown),
        cmocka_unit_test_setup_teardown(test_full_queue_refuses_at_once, setup_one_slot, teardown),
        cmocka_unit_test_setup_teardown(test_heartbeats_share_one_transaction, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
