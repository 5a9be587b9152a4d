/* nofile.c: the descriptor budget (see nofile.h). */
#include "core/nofile.h"

#include <sys/resource.h>

uint64_t cmon_nofile_soft(void)
{
    struct rlimit rl;
    return getrlimit(RLIMIT_NOFILE, &rl) == 0 ? (uint64_t)rl.rlim_cur : 1024;
}

uint64_t cmon_nofile_raise(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return 1024;
    if (rl.rlim_cur < rl.rlim_max) {
        rlim_t soft = rl.rlim_cur;
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
            rl.rlim_cur = soft;
    }
    return (uint64_t)rl.rlim_cur;
}

uint64_t cmon_fd_budget(uint64_t n, uint64_t headroom)
{
    return n > 2 * headroom ? n - headroom : n / 2;
}
