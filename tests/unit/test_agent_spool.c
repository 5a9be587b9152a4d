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
        append(sp, "0123456789012345678901234567890123456789012345678901234567890123456789012345",
               1);
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

static void split_first(struct agent_spool *sp, uint64_t parent)
{
    struct cmon_errbuf eb;
    uint64_t a = spool_next_seq(sp);
    struct spool_part parts[2] = {{a, "half-a", 6, 1}, {a + 1, "half-b", 6, 1}};
    assert_int_equal(spool_split(sp, parent, parts, 2, &eb), CMON_OK);
}

static void read_file(const char *path, char *buf, size_t cap)
{
    FILE *fp = fopen(path, "r");
    assert_non_null(fp);
    buf[fread(buf, 1, cap - 1, fp)] = '\0';
    fclose(fp);
}

static void write_file(const char *path, const char *buf)
{
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs(buf, fp);
    fclose(fp);
}

/* A refused batch replaced by its halves: the halves stay pending under new
 * numbers after reopen, the parent is gone; the id is kept. */
static void test_split_replaces_parent(void **state)
{
    struct fixture *f = *state;
    struct agent_spool *sp = open_spool(f->dir, 0, 0);
    uint64_t id = spool_id(sp);
    assert_true(id != 0);
    append(sp, "whole-1", 2);
    append(sp, "next-2", 1);
    split_first(sp, 1);
    assert_int_equal(spool_pending(sp), 3);
    expect_pending(sp, 0, 2, "next-2");
    expect_pending(sp, 1, 3, "half-a");
    expect_pending(sp, 2, 4, "half-b");
    spool_close(sp);
    sp = open_spool(f->dir, 0, 0);
    assert_true(spool_id(sp) == id);
    assert_int_equal(spool_pending(sp), 3);
    expect_pending(sp, 0, 2, "next-2");
    expect_pending(sp, 2, 4, "half-b");
    assert_int_equal(spool_next_seq(sp), 5);
    struct cmon_errbuf eb;
    struct spool_part bad[1] = {{1, "x", 1, 1}};
    assert_int_equal(spool_split(sp, 3, bad, 1, &eb), CMON_ERR_INVALID); /* not the oldest */
    spool_close(sp);
}

/* A crash between writing the halves and acknowledging the parent (the
 * watermark as it was before): the halves replace it at open.  A crash
 * that tore the last half: the split never happened, the parent stays. */
static void test_split_crash(void **state)
{
    struct fixture *f = *state;
    char acked[300], seg[300], before[64];
    snprintf(acked, sizeof acked, "%s/acked", f->dir);
    snprintf(seg, sizeof seg, "%s/spool-%020d.log", f->dir, 1);
    struct agent_spool *sp = open_spool(f->dir, 0, 0);
    append(sp, "whole-1", 2);
    read_file(acked, before, sizeof before);
    split_first(sp, 1);
    spool_close(sp);
    write_file(acked, before); /* the ack never reached the disk */
    sp = open_spool(f->dir, 0, 0);
    assert_int_equal(spool_pending(sp), 2);
    expect_pending(sp, 0, 2, "half-a");
    expect_pending(sp, 1, 3, "half-b");
    spool_close(sp);
    struct stat st;
    assert_int_equal(stat(seg, &st), 0);
    assert_int_equal(truncate(seg, st.st_size - 3), 0); /* tear the last half */
    sp = open_spool(f->dir, 0, 0);
    assert_int_equal(spool_pending(sp), 1);
    expect_pending(sp, 0, 1, "whole-1");
    assert_true(spool_next_seq(sp) >= 3); /* the torn numbers are not reused */
    split_first(sp, 1);
    expect_pending(sp, 0, 3, "half-a");
    spool_close(sp);
    /* the torn split's first half (seq 2) stays forgotten beside the new one */
    write_file(acked, before);
    sp = open_spool(f->dir, 0, 0);
    assert_int_equal(spool_pending(sp), 2);
    expect_pending(sp, 0, 3, "half-a");
    expect_pending(sp, 1, 4, "half-b");
    spool_close(sp);
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
        cmocka_unit_test_setup_teardown(test_split_replaces_parent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_split_crash, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
