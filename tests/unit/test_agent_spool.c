/* test_agent_spool.c: the agent spool keeps every unacknowledged batch across
 * reopen, forgets acknowledged ones, cuts off torn/corrupt tails, refuses
 * when full or when the disk is full, and stays usable after each. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/spool.h"

struct fixture {
    char dir[256];
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    strcpy(f->dir, "/tmp/cmon-spool-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

static struct agent_spool *open_spool(const char *dir, uint64_t max, uint64_t seg)
{
    struct spool_opts o = {.dir = dir, .max_bytes = max, .segment_bytes = seg};
    struct agent_spool *sp;
    struct cmon_errbuf eb;
    assert_int_equal(spool_open(&o, &sp, &eb), CMON_OK);
    return sp;
}

static void append(struct agent_spool *sp, const char *payload, uint32_t n)
{
    struct cmon_errbuf eb;
    uint64_t seq = spool_next_seq(sp);
    assert_int_equal(spool_append(sp, seq, payload, strlen(payload), n, &eb), CMON_OK);
}

static void expect_pending(struct agent_spool *sp, size_t i, uint64_t want_seq, const char *want)
{
    uint64_t seq;
    char *data;
    size_t len;
    struct cmon_errbuf eb;
    assert_int_equal(spool_get(sp, i, &seq, &data, &len, &eb), CMON_OK);
    assert_int_equal(seq, want_seq);
    assert_int_equal(len, strlen(want));
    assert_string_equal(data, want);
    free(data);
}

static int count_segments(const char *dir)
{
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        n += strncmp(e->d_name, "spool-", 6) == 0;
    closedir(d);
    return n;
}

/* The one segment file of dir, for damaging it on purpose. */
static void first_segment(const char *dir, char *out, size_t len)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    out[0] = '\0';
    while ((e = readdir(d))) {
        if (strncmp(e->d_name, "spool-", 6) == 0)
            snprintf(out, len, "%s/%s", dir, e->d_name);
    }
    closedir(d);
    assert_true(out[0] != '\0');
}

static void test_survives_reopen_and_ack(void **state)
{
    struct fixture *f = *state;
    struct agent_spool *sp = open_spool(f->dir, 0, 0);
    assert_int_equal(spool_next_seq(sp), 1);
    append(sp, "{\"batch\":1}", 3);
    append(sp, "{\"batch\":2}", 4);
    append(sp, "{\"batch\":3}", 5);
    assert_int_equal(spool_pending(sp), 3);
    spool_close(sp); /* as after kill -9: everything was fsync'd on append */

    sp = open_spool(f->dir, 0, 0);
    assert_int_equal(spool_pending(sp), 3);
    expect_pending(sp, 0, 1, "{\"batch\":1}");
    expect_pending(sp, 2, 3, "{\"batch\":3}");
    assert_int_equal(spool_next_seq(sp), 4);
    struct cmon_errbuf eb;
    assert_int_equal(spool_ack(sp, 2, &eb), CMON_OK);
    assert_int_equal(spool_pending(sp), 1);
    expect_pending(sp, 0, 3, "{\"batch\":3}");
    spool_close(sp);

    sp = open_spool(f->dir, 0, 0);
    assert_int_equal(spool_pending(sp), 1);
    expect_pending(sp, 0, 3, "{\"batch\":3}");
    assert_int_equal(spool_ack(sp, 3, &eb), CMON_OK);
    assert_int_equal(spool_pending(sp), 0);
    assert_int_equal(count_segments(f->dir), 0); /* nothing left to keep */
    struct spool_stats st;
    spool_stats(sp, &st);
    assert_int_equal(st.acked_seq, 3);
    assert_int_equal(st.pending_bytes, 0);
    spool_close(sp);

    /* sequence numbers never repeat, even with the spool empty */
    sp = open_spool(f->dir, 0, 0);
    assert_int_equal(spool_next_seq(sp), 4);
    assert_int_equal(spool_append(sp, 2, "x", 1, 1, &eb), CMON_ERR_INVALID);
    spool_close(sp);
}

static void test_torn_tail_cut_off(void **state)
{
    struct fixture *f = *state;
    struct agent_spool *sp = open_spool(f->dir, 0, 0);
    append(sp, "first batch", 1);
    append(sp, "second batch", 1);
    spool_close(sp);
    char path[512];
    first_segment(f->dir, path, sizeof path);
    struct stat stb;
    assert_int_equal(stat(path, &stb), 0);
    assert_int_equal(truncate(path, stb.st_size - 5), 0); /* power cut mid-write */

    sp = open_spool(f->dir, 0, 0);
    struct spool_stats st;
    spool_stats(sp, &st);
    assert_int_equal(st.corrupt_records, 1);
    assert_int_equal(spool_pending(sp), 1);
    expect_pending(sp, 0, 1, "first batch");
    append(sp, "third batch", 1); /* appends go on after the cut */
    spool_close(sp);
    sp = open_spool(f->dir, 0, 0);
    spool_stats(sp, &st);
    assert_int_equal(st.corrupt_records, 0);
    assert_int_equal(spool_pending(sp), 2);
    expect_pending(sp, 1, 2, "third batch");
    spool_close(sp);
}

static void test_corrupt_record_detected(void **state)
{
    struct fixture *f = *state;
    struct agent_spool *sp = open_spool(f->dir, 0, 0);
    append(sp, "aaaaaaaa", 1);
    append(sp, "bbbbbbbb", 1);
    append(sp, "cccccccc", 1);
    spool_close(sp);
    char path[512];
    first_segment(f->dir, path, sizeof path);
    int fd = open(path, O_RDWR);
    /* flip a payload byte of the second record: 24-byte header + 8 payload each */
    assert_int_equal(pwrite(fd, "X", 1, 32 + 24 + 3), 1);
    close(fd);
    sp = open_spool(f->dir, 0, 0);
    struct spool_stats st;
    spool_stats(sp, &st);
    assert_int_equal(st.corrupt_records, 1);
    assert_int_equal(spool_pending(sp), 1);
    expect_pending(sp, 0, 1, "aaaaaaaa");
    spool_close(sp);
}

static void test_full_spool_drops_and_counts(void **state)
{
    struct fixture *f = *state;
    /* room for two 24+40-byte records */
    struct agent_spool *sp = open_spool(f->dir, 130, 0);
    char payload[41];
    memset(payload, 'p', 40);
    payload[40] = '\0';
    append(sp, payload, 10);
    append(sp, payload, 10);
    struct cmon_errbuf eb;
    assert_int_equal(spool_append(sp, spool_next_seq(sp), payload, 40, 7, &eb), CMON_ERR_LIMIT);
    assert_non_null(strstr(eb.msg, "spool full"));
    struct spool_stats st;
    spool_stats(sp, &st);
    assert_int_equal(st.dropped_batches, 1);
    assert_int_equal(st.dropped_results, 7);
    assert_int_equal(spool_pending(sp), 2);
    assert_int_equal(spool_ack(sp, 1, &eb), CMON_OK);
    append(sp, payload, 10); /* room again */
    assert_int_equal(spool_pending(sp), 2);
    spool_close(sp);
}

static void test_segments_roll_and_go(void **state)
{
    struct fixture *f = *state;
    struct agent_spool *sp = open_spool(f->dir, 0, 100); /* ~1 record per segment */
    for (int i = 0; i < 5; i++)
        append(sp, "0123456789012345678901234567890123456789012345678901234567890123456789012345", 1);
    assert_int_equal(count_segments(f->dir), 5);
    struct cmon_errbuf eb;
    assert_int_equal(spool_ack(sp, 3, &eb), CMON_OK);
    assert_int_equal(count_segments(f->dir), 2);
    spool_close(sp);
    sp = open_spool(f->dir, 0, 100);
    assert_int_equal(spool_pending(sp), 2);
    uint64_t seq;
    char *data;
    size_t len;
    assert_int_equal(spool_get(sp, 0, &seq, &data, &len, &eb), CMON_OK);
    assert_int_equal(seq, 4);
    free(data);
    spool_close(sp);
}

/* A real full disk: a 64 KiB tmpfs. */
static void test_disk_full(void **state)
{
    struct fixture *f = *state;
    if (geteuid() != 0)
        skip(); /* mounting a tmpfs needs root */
    if (mount("tmpfs", f->dir, "tmpfs", 0, "size=64k,mode=0700") != 0) {
        fprintf(stderr, "cannot mount tmpfs: %s; skipping\n", strerror(errno));
        skip();
    }
    struct agent_spool *sp = open_spool(f->dir, 1 << 30, 1 << 30);
    static char big[20000];
    memset(big, 'z', sizeof big - 1);
    struct cmon_errbuf eb;
    int ok = 0, failed = 0;
    for (int i = 0; i < 10; i++) {
        enum cmon_err err = spool_append(sp, spool_next_seq(sp), big, sizeof big - 1, 1, &eb);
        if (err == CMON_OK)
            ok++;
        else {
            assert_int_equal(err, CMON_ERR_IO);
            failed++;
        }
    }
    assert_true(ok >= 1 && failed >= 1);
    struct spool_stats st;
    spool_stats(sp, &st);
    assert_int_equal(st.dropped_batches, (uint64_t)failed);
    assert_int_equal(spool_pending(sp), (size_t)ok);
    spool_close(sp);
    /* what was kept is intact: nothing partial left behind */
    sp = open_spool(f->dir, 1 << 30, 1 << 30);
    spool_stats(sp, &st);
    assert_int_equal(st.corrupt_records, 0);
    assert_int_equal(spool_pending(sp), (size_t)ok);
    assert_int_equal(spool_ack(sp, spool_next_seq(sp) - 1, &eb), CMON_OK);
    assert_int_equal(spool_append(sp, spool_next_seq(sp), big, sizeof big - 1, 1, &eb), CMON_OK);
    spool_close(sp);
    assert_int_equal(umount(f->dir), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_survives_reopen_and_ack, setup, teardown),
        cmocka_unit_test_setup_teardown(test_torn_tail_cut_off, setup, teardown),
        cmocka_unit_test_setup_teardown(test_corrupt_record_detected, setup, teardown),
        cmocka_unit_test_setup_teardown(test_full_spool_drops_and_counts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_segments_roll_and_go, setup, teardown),
        cmocka_unit_test_setup_teardown(test_disk_full, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
