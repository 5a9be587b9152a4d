/* edge_reaper.c: cuts connections whose headers do not arrive in time (see
 * edge_reaper.h).  It never closes a descriptor itself: shutdown(2) makes
 * MHD see the end of the stream and close the connection its own way, and
 * the node leaves the list (under the mutex) before MHD closes the fd, so a
 * reused descriptor is never touched. */
#include "server/edge_reaper.h"

#include <pthread.h>
#include <stdlib.h>
#include <sys/socket.h>

#include "core/clock.h"
#include "core/cond.h"

struct conn_node {
    struct conn_node *prev, *next;
    int fd;
    int64_t since_ns; /* waiting for headers since */
    bool in_request;  /* headers complete, handler or body under way */
    bool served;      /* a request on it was answered */
    bool line;        /* the request line of the next request arrived */
    bool cut;
};

struct edge_reaper {
    const struct cmon_log *log;
    pthread_mutex_t mu;
    pthread_cond_t cond;
    struct conn_node head; /* circular list sentinel */
    bool stopping, started;
    pthread_t thread;
    unsigned long cut_total;
};

/* Shut down the late ones (lock held); *idle: how many of them were kept
 * alive after a request and sent nothing of a next one (an HTTP client's
 * pool, not a slow client).  Returns how many others. */
static unsigned long reap(struct edge_reaper *r, int64_t now, unsigned long *idle)
{
    unsigned long n = 0;
    int64_t deadline = (int64_t)EDGE_HEADER_DEADLINE_SEC * CMON_NS_PER_SEC;
    for (struct conn_node *c = r->head.next; c != &r->head; c = c->next) {
        if (c->in_request || c->cut || now - c->since_ns < deadline)
            continue;
        c->cut = true;
        shutdown(c->fd, SHUT_RDWR);
        if (c->served && !c->line)
            (*idle)++;
        else
            n++;
    }
    return n;
}

static void *reaper_main(void *arg)
{
    struct edge_reaper *r = arg;
    int64_t last_log = 0;
    unsigned long unlogged = 0;
    pthread_mutex_lock(&r->mu);
    while (!r->stopping) {
        cmon_cond_wait_ns(&r->cond, &r->mu, CMON_NS_PER_SEC);
        unsigned long idle = 0, n = reap(r, cmon_mono_ns(), &idle);
        r->cut_total += n;
        unlogged += n;
        int64_t now = cmon_mono_ns();
        if (idle)
            cmon_debug(r->log, "idle keep-alive connections closed", "connections=%lu idle_s=%d",
                       idle, EDGE_HEADER_DEADLINE_SEC);
        if (unlogged && now - last_log >= 10 * CMON_NS_PER_SEC) { /* one line per 10 s */
            cmon_warn(r->log, "slow clients cut", "connections=%lu total=%lu deadline_s=%d",
                      unlogged, r->cut_total, EDGE_HEADER_DEADLINE_SEC);
            unlogged = 0;
            last_log = now;
        }
    }
    pthread_mutex_unlock(&r->mu);
    return NULL;
}

enum cmon_err edge_reaper_start(const struct cmon_log *log, struct edge_reaper **out,
                                struct cmon_errbuf *eb)
{
    struct edge_reaper *r = calloc(1, sizeof *r);
    if (!r)
        return cmon_fail(eb, CMON_ERR_NOMEM, "out of memory");
    r->log = log;
    r->head.next = r->head.prev = &r->head;
    pthread_mutex_init(&r->mu, NULL);
    cmon_cond_init(&r->cond);
    if (pthread_create(&r->thread, NULL, reaper_main, r) != 0) {
        edge_reaper_free(r);
        return cmon_fail(eb, CMON_ERR_IO, "cannot start the connection reaper thread");
    }
    r->started = true;
    *out = r;
    return CMON_OK;
}

void edge_reaper_stop(struct edge_reaper *r)
{
    if (!r || !r->started)
        return;
    pthread_mutex_lock(&r->mu);
    r->stopping = true;
    pthread_cond_signal(&r->cond);
    pthread_mutex_unlock(&r->mu);
    pthread_join(r->thread, NULL);
    r->started = false;
}

void edge_reaper_free(struct edge_reaper *r)
{
    if (!r)
        return;
    edge_reaper_stop(r);
    while (r->head.next != &r->head) { /* MHD normally closed them all */
        struct conn_node *c = r->head.next;
        r->head.next = c->next;
        free(c);
    }
    pthread_cond_destroy(&r->cond);
    pthread_mutex_destroy(&r->mu);
    free(r);
}

void edge_reaper_notify(void *cls, struct MHD_Connection *conn, void **socket_context,
                        enum MHD_ConnectionNotificationCode code)
{
    struct edge_reaper *r = cls;
    struct conn_node *c = *socket_context;
    pthread_mutex_lock(&r->mu);
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        c = ci ? calloc(1, sizeof *c) : NULL;
        if (c) { /* untracked on OOM: only MHD's idle timeout then */
            c->fd = ci->connect_fd;
            c->since_ns = cmon_mono_ns();
            c->next = r->head.next;
            c->prev = &r->head;
            r->head.next->prev = c;
            r->head.next = c;
        }
        *socket_context = c;
    } else if (c) { /* CLOSED: unlink before MHD closes the fd */
        c->prev->next = c->next;
        c->next->prev = c->prev;
        free(c);
        *socket_context = NULL;
    }
    pthread_mutex_unlock(&r->mu);
}

/* The connection's node (made at MHD_CONNECTION_NOTIFY_STARTED), with the
 * list locked; NULL (unlocked) when untracked. */
static struct conn_node *node_locked(struct edge_reaper *r, struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    struct conn_node *c = ci ? ci->socket_context : NULL;
    if (!r || !c)
        return NULL;
    pthread_mutex_lock(&r->mu);
    return c;
}

void edge_reaper_headers_done(struct edge_reaper *r, struct MHD_Connection *conn, bool done)
{
    struct conn_node *c = node_locked(r, conn);
    if (!c)
        return;
    c->in_request = done;
    c->since_ns = cmon_mono_ns();
    if (!done) { /* answered: what comes next is a new request */
        c->served = true;
        c->line = false;
    }
    pthread_mutex_unlock(&r->mu);
}

void edge_reaper_request_line(struct edge_reaper *r, struct MHD_Connection *conn)
{
    struct conn_node *c = node_locked(r, conn);
    if (!c)
        return;
    c->line = true;
    pthread_mutex_unlock(&r->mu);
}
