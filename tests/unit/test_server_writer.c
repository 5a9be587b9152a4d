/* test_server_writer.c: the one writer (src/server/writer.c) over a real
 * SQLite store, held busy by a call that keeps a write transaction open until
 * the test lets it go: a command not started by its deadline is refused
 * (CMON_ERR_BUSY) and never runs; a full queue refuses at once; heartbeats
 * queued together commit in one transaction, an unregistered agent's
 * failing alone; a read-only connection (the dashboard's) reads meanwhile.
 * Submitted commands (writer_*_submit, nobody waits): done() comes once,
 * after the commit, or at the deadline from the deadline thread while the
 * writer is still busy (the command never runs); writer_close returns only
 * after every done(). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <jansson.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/clock.h"
#include "model/path.h"
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

/* The embedded agent's rounds, one submit each, while the writer is busy:
 * they join one queued command, so a one-command queue takes them all, and
 * each is stored once. */
static void test_async_rounds_join_one_command(void **state)
{
    struct fixture *f = *state;
    hold_writer(f);
    struct cmon_errbuf eb;
    int64_t t0 = cmon_wall_ns();
    enum { N = 2500 };
    int refused = 0;
    for (int i = 0; i < N; i++) {
        struct cmon_round_result r = {.start_ns = t0 - i, .checks_total = 1};
        snprintf(r.test_id, sizeof r.test_id, "0123456789abcdef");
        struct writer_batch b = {.agent = "local", .seq = -1, .results = &r, .n = 1};
        refused += writer_results_async(f->w, &b, &eb) != CMON_OK;
    }
    struct cmon_path_report p = {.test_id = "0123456789abcdef", .time_ns = t0};
    struct writer_batch pb = {.agent = "local", .seq = -1, .paths = &p, .n_paths = 1};
    refused += writer_results_async(f->w, &pb, &eb) != CMON_OK; /* a path joins too */
    struct writer_stats held;
    writer_get_stats(f->w, &held);
    /* another agent's batch is a command of its own: the queue is full */
    struct cmon_round_result r = {.start_ns = t0, .checks_total = 1};
    struct writer_batch other = {.agent = "other", .seq = -1, .results = &r, .n = 1};
    enum cmon_err other_err = writer_results_async(f->w, &other, &eb);
    release_writer(f); /* before asserting: a failed assertion must not leave it held */
    assert_int_equal(refused, 0);
    assert_int_equal(held.queued_cmds, 1);
    assert_int_equal(held.queued_results, N);
    assert_int_equal(other_err, CMON_ERR_BUSY);
    /* the writer takes the rounds' command after the held one: until then
     * the one-command queue is still full and would refuse the tick */
    int64_t until = cmon_mono_ns() + 60 * CMON_NS_PER_SEC;
    struct writer_stats q;
    do
        writer_get_stats(f->w, &q);
    while (q.queued_cmds && cmon_mono_ns() < until && sched_yield() == 0);
    assert_int_equal(q.queued_cmds, 0);
    assert_int_equal(writer_tick(f->w, writer_deadline(60000), &eb), CMON_OK);
    struct writer_stats st;
    writer_get_stats(f->w, &st);
    assert_int_equal(st.results_stored, N);
    assert_int_equal(st.results_dropped, 0);
    struct store *ro;
    assert_int_equal(store_open(f->url, STORE_READ_ONLY, &ro, &eb), CMON_OK);
    json_t *out = NULL;
    assert_int_equal(ro->ops->sql_query(ro, "SELECT count(*), count(DISTINCT start_ns) FROM results",
                                        1, 5000, &out, &eb),
                     CMON_OK);
    json_t *row = json_array_get(json_object_get(out, "rows"), 0);
    assert_int_equal(json_integer_value(json_array_get(row, 0)), N);
    assert_int_equal(json_integer_value(json_array_get(row, 1)), N);
    json_decref(out);
    store_close(ro);
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

/* A submitter that does not wait: done() flips a flag under a lock. */
struct sub {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int done;
    struct writer_ticket *t;
};

static void sub_done(void *arg)
{
    struct sub *s = arg;
    pthread_mutex_lock(&s->mu);
    s->done++;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

static void sub_init(struct sub *s)
{
    *s = (struct sub){0};
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
}

static void sub_wait(struct sub *s)
{
    pthread_mutex_lock(&s->mu);
    while (!s->done)
        pthread_cond_wait(&s->cv, &s->mu);
    pthread_mutex_unlock(&s->mu);
}

static bool sub_is_done(struct sub *s)
{
    pthread_mutex_lock(&s->mu);
    bool d = s->done != 0;
    pthread_mutex_unlock(&s->mu);
    return d;
}

static void sub_fini(struct sub *s)
{
    assert_int_equal(s->done, 1); /* exactly once */
    writer_ticket_free(s->t);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
}

/* Submit set_flag(ran) with a deadline ms from now, not waiting. */
static void submit_flag(struct fixture *f, struct sub *s, bool *ran, int ms)
{
    sub_init(s);
    struct cmon_errbuf eb;
    struct writer_async a = {writer_deadline(ms), sub_done, s};
    assert_int_equal(writer_call_submit(f->w, set_flag, ran, &a, &s->t, &eb), CMON_OK);
}

static void test_submit_answers_after_commit(void **state)
{
    struct fixture *f = *state;
    struct cmon_round_result r = {.start_ns = cmon_wall_ns(), .checks_total = 1};
    snprintf(r.test_id, sizeof r.test_id, "0123456789abcdef");
    struct writer_batch b = {.agent = "x", .spool_id = "00000000000000c3", .seq = 7,
                             .results = &r, .n = 1};
    struct cmon_errbuf eb;
    for (int round = 0; round < 2; round++) { /* the second time: a duplicate */
        struct sub s;
        sub_init(&s);
        struct writer_async a = {writer_deadline(60000), sub_done, &s};
        assert_int_equal(writer_results_submit(f->w, &b, &a, &s.t, &eb), CMON_OK);
        assert_non_null(s.t);
        sub_wait(&s);
        bool dup = !round;
        assert_int_equal(writer_ticket_result(s.t, &dup, &eb), CMON_OK);
        assert_int_equal(dup, round == 1);
        sub_fini(&s);
    }
    struct writer_stats st;
    writer_get_stats(f->w, &st);
    assert_int_equal(st.results_stored, 1);
    assert_int_equal(st.batches_duplicate, 1);
}

static void test_submit_deadline_while_busy(void **state)
{
    struct fixture *f = *state;
    hold_writer(f);
    bool ran = false;
    struct sub s;
    struct cmon_errbuf eb;
    submit_flag(f, &s, &ran, 200);
    sub_wait(&s); /* answered while the writer is still held */
    assert_int_equal(writer_ticket_result(s.t, NULL, &eb), CMON_ERR_BUSY);
    assert_non_null(strstr(eb.msg, "deadline"));
    release_writer(f);
    assert_false(ran);
    sub_fini(&s);
    struct writer_stats st;
    writer_get_stats(f->w, &st);
    assert_int_equal(st.refused_busy, 1);
}

struct closer {
    struct writer *w;
    struct sub *s;
    bool done_seen;
};

static void *close_main(void *arg)
{
    struct closer *c = arg;
    writer_close(c->w);
    c->done_seen = sub_is_done(c->s);
    return NULL;
}

static void test_close_waits_for_submitted(void **state)
{
    struct fixture *f = *state;
    hold_writer(f);
    bool ran = false;
    struct sub s;
    struct cmon_errbuf eb;
    submit_flag(f, &s, &ran, 60000);
    struct writer_async a = {writer_deadline(60000), sub_done, &s};
    struct closer c = {f->w, &s, false};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, close_main, &c), 0);
    /* closing: new commands are refused at once */
    struct writer_ticket *t = NULL;
    for (int i = 0; i < 2000; i++) {
        bool other = false;
        enum cmon_err err = writer_call(f->w, set_flag, &other, writer_deadline(0), &eb);
        if (err == CMON_ERR_BUSY && strstr(eb.msg, "stopping"))
            break;
        usleep(5000);
    }
    assert_non_null(strstr(eb.msg, "stopping"));
    assert_int_equal(writer_call_submit(f->w, set_flag, &ran, &a, &t, &eb), CMON_ERR_BUSY);
    assert_null(t);
    release_writer(f);
    pthread_join(th, NULL);
    assert_true(c.done_seen); /* close returned after done() */
    assert_true(ran);         /* the queued command ran */
    assert_int_equal(writer_ticket_result(s.t, NULL, &eb), CMON_OK);
    sub_fini(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_deadline_refuses_without_running, setup, teardown),
        cmocka_unit_test_setup_teardown(test_full_queue_refuses_at_once, setup_one_slot, teardown),
        cmocka_unit_test_setup_teardown(test_async_rounds_join_one_command, setup_one_slot,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_heartbeats_share_one_transaction, setup, teardown),
        cmocka_unit_test_setup_teardown(test_submit_answers_after_commit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_submit_deadline_while_busy, setup, teardown),
        cmocka_unit_test_setup_teardown(test_close_waits_for_submitted, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
