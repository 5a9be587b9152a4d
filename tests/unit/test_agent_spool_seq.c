/* test_agent_spool_seq.c: the spool's sequence numbers never wrap.  A damaged
 * "acked" watermark or record holding UINT64_MAX (found by fuzz_spool) used to
 * make spool_next_seq() 0, so the next batch counted as acknowledged and was
 * lost at the next restart.  Now the watermark is refused with an error, the
 * record is cut off like any corrupt one, and appending UINT64_MAX fails. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "agent/spool.h"
#include "test_support.h"

struct fixture {
    char dir[64];
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    strcpy(f->dir, "/tmp/cmon-spool-seq-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(test_rm_rf(f->dir), 0);
    free(f);
    return 0;
}

static void write_file(const char *dir, const char *name, const void *data, size_t len)
{
    char path[128];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(data, 1, len, fp), len);
    assert_int_equal(fclose(fp), 0);
}

/* One record as src/agent/spool.c lays it out: magic, len, seq, n_results,
 * CRC over bytes 4-19 and the payload, then the payload. */
static size_t make_record(uint8_t *out, uint64_t seq, const char *payload)
{
    uint32_t len = (uint32_t)strlen(payload);
    uint64_t fields[2] = {0x50534d43u | (uint64_t)len << 32, seq};
    memcpy(out, fields, 16); /* little-endian host, as the test machines are */
    uint32_t n_results = 1;
    memcpy(out + 16, &n_results, 4);
    uLong crc = crc32(crc32(0L, Z_NULL, 0), out + 4, 16);
    crc = crc32(crc, (const Bytef *)payload, len);
    uint32_t c32 = (uint32_t)crc;
    memcpy(out + 20, &c32, 4);
    memcpy(out + 24, payload, len);
    return 24 + len;
}

static void test_record_with_max_seq_is_cut_off(void **state)
{
    struct fixture *f = *state;
    uint8_t seg[256];
    size_t n = make_record(seg, 1, "[1]");
    n += make_record(seg + n, UINT64_MAX, "[2]");
    write_file(f->dir, "spool-00000000000000000001.log", seg, n);
    struct spool_opts o = {.dir = f->dir};
    struct agent_spool *sp;
    struct cmon_errbuf eb;
    assert_int_equal(spool_open(&o, &sp, &eb), CMON_OK);
    struct spool_stats st;
    spool_stats(sp, &st);
    assert_int_equal(st.corrupt_records, 1);
    assert_int_equal(spool_pending(sp), 1);
    assert_int_equal(spool_next_seq(sp), 2);
    assert_int_equal(spool_append(sp, 2, "[3]", 3, 1, &eb), CMON_OK);
    spool_close(sp);
    assert_int_equal(spool_open(&o, &sp, &eb), CMON_OK); /* the new batch survives */
    assert_int_equal(spool_pending(sp), 2);
    spool_close(sp);
}

static void test_watermark_out_of_range_refused(void **state)
{
    struct fixture *f = *state;
    static const char *marks[] = {"18446744073709551615", "99999999999999999999", "-1"};
    for (size_t i = 0; i < sizeof marks / sizeof marks[0]; i++) {
        write_file(f->dir, "acked", marks[i], strlen(marks[i]));
        struct spool_opts o = {.dir = f->dir};
        struct agent_spool *sp = NULL;
        struct cmon_errbuf eb;
        assert_int_equal(spool_open(&o, &sp, &eb), CMON_ERR_IO);
        assert_null(sp);
        assert_non_null(strstr(eb.msg, "out of range"));
    }
}

static void test_append_max_seq_refused(void **state)
{
    struct fixture *f = *state;
    struct spool_opts o = {.dir = f->dir};
    struct agent_spool *sp;
    struct cmon_errbuf eb;
    assert_int_equal(spool_open(&o, &sp, &eb), CMON_OK);
    assert_int_equal(spool_append(sp, UINT64_MAX, "[1]", 3, 1, &eb), CMON_ERR_INVALID);
    assert_int_equal(spool_next_seq(sp), 1);
    assert_int_equal(spool_pending(sp), 0);
    spool_close(sp);
}

/* The highest watermark: the numbers are used up, appends are refused with
 * an error (the agent logs it) instead of wrapping. */
static void test_exhausted_numbers_refuse_appends(void **state)
{
    struct fixture *f = *state;
    write_file(f->dir, "acked", "18446744073709551614", 20);
    struct spool_opts o = {.dir = f->dir};
    struct agent_spool *sp;
    struct cmon_errbuf eb;
    assert_int_equal(spool_open(&o, &sp, &eb), CMON_OK);
    assert_true(spool_next_seq(sp) == UINT64_MAX);
    assert_int_equal(spool_append(sp, spool_next_seq(sp), "[1]", 3, 1, &eb), CMON_ERR_INVALID);
    assert_non_null(strstr(eb.msg, "out of range"));
    assert_int_equal(spool_pending(sp), 0);
    spool_close(sp);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_record_with_max_seq_is_cut_off, setup, teardown),
        cmocka_unit_test_setup_teardown(test_watermark_out_of_range_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_append_max_seq_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_exhausted_numbers_refuse_appends, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
