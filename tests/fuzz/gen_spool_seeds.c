/* gen_spool_seeds.c: write spool segments with the real spool code, for the
 * fuzz_spool seed corpus (tests/fuzz/gen-corpus.sh calls it).
 * Usage: gen_spool_seeds DIR BATCHES ACK_UP_TO  -- appends BATCHES result
 * batches (seq 1..BATCHES) to a spool in DIR, then acknowledges ACK_UP_TO. */
#include <stdio.h>
#include <stdlib.h>

#include "agent/spool.h"

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: %s DIR BATCHES ACK_UP_TO\n", argv[0]);
        return 2;
    }
    struct spool_opts o = {.dir = argv[1]};
    struct agent_spool *sp;
    struct cmon_errbuf eb;
    if (spool_open(&o, &sp, &eb) != CMON_OK) {
        fprintf(stderr, "%s\n", eb.msg);
        return 1;
    }
    int batches = atoi(argv[2]), ack = atoi(argv[3]);
    for (int i = 1; i <= batches; i++) {
        char body[160];
        int n = snprintf(body, sizeof body,
                         "[{\"testId\":\"0123456789abcdef\",\"startNs\":%d000000000,"
                         "\"checksTotal\":%d,\"checksFailed\":0}]",
                         1767323045 + i, i);
        if (spool_append(sp, (uint64_t)i, body, (size_t)n, 1, &eb) != CMON_OK) {
            fprintf(stderr, "%s\n", eb.msg);
            return 1;
        }
    }
    if (ack > 0 && spool_ack(sp, (uint64_t)ack, &eb) != CMON_OK) {
        fprintf(stderr, "%s\n", eb.msg);
        return 1;
    }
    spool_close(sp);
    return 0;
}
