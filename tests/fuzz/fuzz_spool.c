/* fuzz_spool.c: libFuzzer target for the agent spool's crash recovery, the
 * code that reads segment files back after a kill -9 or a torn write.
 * The input becomes the first segment file in a fresh temporary directory (an input
 * starting "acked:" first gives the "acked" watermark file its text up to
 * the first newline).  Then the properties the agent relies on:
 *   - opening never fails on damaged content (it cuts it off) and every
 *     pending batch it indexed can be read back;
 *   - spool_next_seq() is above every pending batch, and a batch appended
 *     there is read back intact, first after any recovered one (or, when
 *     the numbers ran out at UINT64_MAX, the append is refused);
 *   - reopening finds the same batches (the cut-off was made durable). */
#include <dirent.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/spool.h"
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void write_file(const char *dir, const char *name, const uint8_t *data, size_t size)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    CHECK(f);
    CHECK(fwrite(data, 1, size, f) == size || size == 0);
    CHECK(fclose(f) == 0);
}

/* Every pending batch readable, in ascending order; returns the count. */
static size_t read_all(struct agent_spool *sp, uint64_t *last_seq)
{
    size_t n = spool_pending(sp);
    for (size_t i = 0; i < n; i++) {
        uint64_t seq;
        char *p;
        size_t len;
        struct cmon_errbuf eb;
        CHECK(spool_get(sp, i, &seq, &p, &len, &eb) == CMON_OK);
        CHECK(i == 0 || seq >= *last_seq);
        CHECK(seq < spool_next_seq(sp));
        *last_seq = seq;
        free(p);
    }
    return n;
}

static void exercise(const char *dir)
{
    struct spool_opts o = {.dir = dir};
    struct agent_spool *sp;
    struct cmon_errbuf eb;
    enum cmon_err err = spool_open(&o, &sp, &eb);
    if (err == CMON_ERR_IO && strstr(eb.msg, "watermark"))
        return; /* an unreadable "acked" file is reported, not guessed at */
    CHECK(err == CMON_OK);
    uint64_t last = 0;
    size_t before = read_all(sp, &last);
    static const char batch[] = "[{\"fuzz\":true}]";
    uint64_t seq = spool_next_seq(sp);
    CHECK(seq > 0);
    if (seq == UINT64_MAX) { /* numbers exhausted (a damaged watermark): refused, never wrapped */
        CHECK(spool_append(sp, seq, batch, sizeof batch - 1, 1, &eb) == CMON_ERR_INVALID);
        spool_close(sp);
        return;
    }
    CHECK(spool_append(sp, seq, batch, sizeof batch - 1, 1, &eb) == CMON_OK);
    CHECK(read_all(sp, &last) == before + 1 && last == seq);
    spool_close(sp);
    CHECK(spool_open(&o, &sp, &eb) == CMON_OK);
    CHECK(read_all(sp, &last) == before + 1 && last == seq);
    char *p;
    size_t len;
    CHECK(spool_get(sp, before, &seq, &p, &len, &eb) == CMON_OK);
    CHECK(len == sizeof batch - 1 && memcmp(p, batch, len) == 0);
    free(p);
    spool_close(sp);
}

/* The spool directory is flat: remove its files, then it. */
static void remove_dir(const char *dir)
{
    DIR *d = opendir(dir);
    CHECK(d);
    struct dirent *e;
    while ((e = readdir(d))) {
        char path[512];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        CHECK(e->d_name[0] == '.' || unlink(path) == 0);
    }
    closedir(d);
    CHECK(rmdir(dir) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* tmpfs when there is one: the spool fsyncs every record */
    char dir[64];
    snprintf(dir, sizeof dir, "%s/cmon-fuzz-spool-XXXXXX",
             access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
    CHECK(mkdtemp(dir));
    if (size >= 6 && memcmp(data, "acked:", 6) == 0) {
        const uint8_t *nl = memchr(data, '\n', size);
        size_t end = nl ? (size_t)(nl - data) : size;
        write_file(dir, "acked", data + 6, end - 6);
        data += nl ? end + 1 : size;
        size -= nl ? end + 1 : size;
    }
    write_file(dir, "spool-00000000000000000001.log", data, size);
    exercise(dir);
    remove_dir(dir);
    return 0;
}
