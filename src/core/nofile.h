/* nofile.h: the descriptor budget.  The server's connections, the agent's
 * checks and the scheduler's skip-early limit all come from RLIMIT_NOFILE,
 * less room for what else the process opens (store, logs, alert senders).
 * Threads: raising the limit is process-wide; call it before threads that
 * count on it start.  No state. */
#ifndef CMON_CORE_NOFILE_H
#define CMON_CORE_NOFILE_H

#include <stdint.h>

/* The soft RLIMIT_NOFILE (1024 when it cannot be read). */
uint64_t cmon_nofile_soft(void);
/* Raise the soft limit to the hard one where allowed (the soft one is often
 * 1024); returns the soft limit now. */
uint64_t cmon_nofile_raise(void);
/* What n descriptors leave for one use after headroom for the rest: n less
 * headroom, or half of n when n is not above twice the headroom. */
uint64_t cmon_fd_budget(uint64_t n, uint64_t headroom);

#endif
