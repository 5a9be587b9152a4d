/* leader.h: which server replica runs the background jobs (state
 * evaluation, alerts, retention, roll-ups).  With PostgreSQL the leader is
 * the replica whose connection holds a session advisory lock; PostgreSQL
 * releases it when that connection or process dies, and the next replica to
 * try takes it.  With SQLite the one server is always the leader.
 * Threads: call it on the thread that owns s (the writer thread). */
#ifndef CMON_STORE_LEADER_H
#define CMON_STORE_LEADER_H

#include <stdbool.h>

#include "store/store.h"

/* Take the lock if free, or confirm that s still holds it (*leader).  Call
 * it every evaluation period; a lost connection is re-opened and loses the
 * lock until the next successful try. */
enum cmon_err store_leader_try(struct store *s, bool *leader, struct cmon_errbuf *eb);

#endif
