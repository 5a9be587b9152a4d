/* edge_reaper.h: a deadline for a request's headers.  MHD's connection
 * timeout is an idle timeout, so a client sending a header byte every few
 * seconds (slowloris) would hold its connection forever; the reaper cuts a
 * connection whose request line and headers are not complete within
 * EDGE_HEADER_DEADLINE_SEC of its start or of its previous request's end.
 * Ownership: the server owns one reaper (edge_reaper_start/stop); each
 * connection's tracking node is made and freed by MHD's connection
 * notifications.  Threads: the notifications and edge_reaper_headers_done
 * run on MHD's pool, the reaper on its own thread; one mutex guards the list. */
#ifndef CMON_SERVER_EDGE_REAPER_H
#define CMON_SERVER_EDGE_REAPER_H

#include <microhttpd.h>
#include <stdbool.h>

#include "core/err.h"
#include "core/log.h"

#define EDGE_HEADER_DEADLINE_SEC 15

struct edge_reaper;

enum cmon_err edge_reaper_start(const struct cmon_log *log, struct edge_reaper **out,
                                struct cmon_errbuf *eb);
/* Stop the thread (before MHD_stop_daemon, which frees the nodes left). */
void edge_reaper_stop(struct edge_reaper *r);
/* Free the reaper (after MHD_stop_daemon). */
void edge_reaper_free(struct edge_reaper *r);

/* MHD_OPTION_NOTIFY_CONNECTION with cls = the reaper. */
void edge_reaper_notify(void *cls, struct MHD_Connection *conn, void **socket_context,
                        enum MHD_ConnectionNotificationCode code);
/* The access handler's first call (headers complete) and the request's end. */
void edge_reaper_headers_done(struct edge_reaper *r, struct MHD_Connection *conn, bool done);
/* A request line arrived (MHD's URI log callback).  A connection cut after
 * answering a request with none of the next one's is an idle keep-alive
 * connection: logged at debug, not counted as a slow client. */
void edge_reaper_request_line(struct edge_reaper *r, struct MHD_Connection *conn);

#endif
