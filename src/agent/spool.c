/* spool.c: append-only segment files of CRC-checked batch records, an
 * "acked" watermark, and recovery that cuts off torn or corrupt tails. */
#include "agent/spool.h"

#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>
#include <zlib.h>

#include "core/grow.h"

#define SPOOL_MAGIC 0x50534d43u /* "CMSP" little-endian */
#define SPOOL_HDR 24
/* A part of a split batch: the plain header plus the parent's sequence and
 * a flag on the last part, so recovery knows whether a split completed. */
#define SPOOL_MAGIC_PART 0x50534d44u /* "DMSP" */
#define SPOOL_HDR_PART 36
#define SPOOL_PART_LAST 1u
#define SPOOL_MAX_RECORD (64u << 20)
/* UINT64_MAX is no sequence number: next_seq (one past the highest) would
 * wrap to 0 and new batches would count as acknowledged.  Only a damaged
 * file can hold it (2^64 batches are never written). */
#define SPOOL_SEQ_LIMIT UINT64_MAX

struct spool_seg {
    uint64_t first_seq;
    int fd;
    uint64_t size;
};

struct spool_rec {
    uint64_t seq;
    size_t seg;   /* index into segs */
    uint64_t off; /* of the payload */
    uint32_t len;
    uint32_t n_results;
    uint32_t hdr;    /* header bytes: SPOOL_HDR or SPOOL_HDR_PART */
    uint64_t parent; /* parts of a split: the batch they replace (else 0) */
    bool last;       /* the last part of its split */
    uint32_t index;  /* of the part in its split (numbered consecutively) */
};

struct agent_spool {
    char *dir;
    uint64_t max_bytes, segment_bytes;
    const struct cmon_log *log;
    struct spool_seg *segs;
    size_t n_segs, cap_segs;
    struct spool_rec *recs; /* pending, ascending seq */
    size_t n_recs, cap_recs;
    bool active; /* the last segment takes appends */
    uint64_t next_seq;
    uint64_t id; /* random, made with the spool (file "id") */
    struct spool_stats st;
};

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get64(const uint8_t *p)
{
    return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

/* CRC over the header after the magic (up to the CRC, the last field) and
 * the payload. */
static uint32_t record_crc(const uint8_t *hdr, size_t hdr_len, const void *payload, size_t len)
{
    uLong crc = crc32(0L, Z_NULL, 0);
    crc = crc32(crc, hdr + 4, (uInt)(hdr_len - 8));
    crc = crc32(crc, payload, (uInt)len);
    return (uint32_t)crc;
}

static void seg_path(const struct agent_spool *sp, uint64_t first, char *out, size_t len)
{
    snprintf(out, len, "%s/spool-%020" PRIu64 ".log", sp->dir, first);
}

static int fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

static enum cmon_err read_acked(struct agent_spool *sp, struct cmon_errbuf *eb)
{
    char path[4096], buf[32] = {0};
    snprintf(path, sizeof path, "%s/acked", sp->dir);
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return errno == ENOENT ? CMON_OK
                               : cmon_fail(eb, CMON_ERR_IO, "%s: %s", path, strerror(errno));
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    char *end;
    errno = 0;
    unsigned long long v = n > 0 ? strtoull(buf, &end, 10) : 0;
    if (n <= 0 || end == buf)
        return cmon_fail(eb, CMON_ERR_IO, "%s: unreadable acknowledgement watermark", path);
    if (errno == ERANGE || v >= SPOOL_SEQ_LIMIT || buf[strspn(buf, " ")] == '-')
        return cmon_fail(eb, CMON_ERR_IO, "%s: acknowledgement watermark %.21s out of range",
                         path, buf);
    sp->st.acked_seq = v;
    return CMON_OK;
}

/* The disk is full (no block for a temporary file): overwrite the watermark in
 * place.  It is fixed-width (21 bytes, one sector), so the write replaces it
 * whole and needs no new block -- which is what lets a full spool drain: acked
 * segments are deleted only after the watermark is on disk. */
static enum cmon_err write_acked_in_place(struct agent_spool *sp, const char *path, const char *buf,
                                          int len, struct cmon_errbuf *eb)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return cmon_fail(eb, CMON_ERR_IO, "%s: %s", path, strerror(errno));
    bool ok = pwrite(fd, buf, (size_t)len, 0) == len && fsync(fd) == 0;
    int saved = errno;
    close(fd);
    if (!ok)
        return cmon_fail(eb, CMON_ERR_IO, "%s: %s", path, strerror(saved));
    cmon_warn(sp->log, "spool: disk full, acknowledgement written in place", "file=%s", path);
    return CMON_OK;
}

static enum cmon_err write_acked(struct agent_spool *sp, uint64_t seq, struct cmon_errbuf *eb)
{
    char path[4096], tmp[4200], buf[32];
    snprintf(path, sizeof path, "%s/acked", sp->dir);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    int len = snprintf(buf, sizeof buf, "%020" PRIu64 "\n", seq);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    bool ok = fd >= 0 && write(fd, buf, (size_t)len) == len && fsync(fd) == 0;
    int saved = errno;
    if (fd >= 0)
        close(fd);
    if (ok && rename(tmp, path) == 0 && fsync_dir(sp->dir) == 0)
        return CMON_OK;
    if (ok)
        saved = errno;
    unlink(tmp);
    if (saved == ENOSPC || saved == EDQUOT)
        return write_acked_in_place(sp, path, buf, len, eb);
    return cmon_fail(eb, CMON_ERR_IO, "%s: %s", path, strerror(saved));
}

/* Read the record header at off: plain or part.  0 at the end of the
 * segment, -1 torn or bad, else the header's length. */
static int read_header(int fd, uint64_t off, uint8_t hdr[SPOOL_HDR_PART], const char **why)
{
    ssize_t n = pread(fd, hdr, SPOOL_HDR_PART, (off_t)off);
    if (n == 0)
        return 0;
    uint32_t magic = n >= 4 ? get32(hdr) : 0;
    int want = magic == SPOOL_MAGIC_PART ? SPOOL_HDR_PART : SPOOL_HDR;
    if (n < want) {
        *why = "torn record header";
        return -1;
    }
    if ((magic != SPOOL_MAGIC && magic != SPOOL_MAGIC_PART) || get32(hdr + 4) > SPOOL_MAX_RECORD ||
        get64(hdr + 8) == SPOOL_SEQ_LIMIT) {
        *why = "bad record header";
        return -1;
    }
    return want;
}

static bool index_record(struct agent_spool *sp, size_t si, uint64_t off, const uint8_t *hdr,
                         int hdr_len)
{
    uint64_t seq = get64(hdr + 8);
    uint32_t len = get32(hdr + 4);
    if (seq >= sp->next_seq)
        sp->next_seq = seq + 1;
    if (seq <= sp->st.acked_seq)
        return true;
    if (!cmon_grow(&sp->recs, &sp->cap_recs, sp->n_recs + 1, sizeof *sp->recs))
        return false;
    bool part = hdr_len == SPOOL_HDR_PART;
    sp->recs[sp->n_recs++] = (struct spool_rec){.seq = seq,
                                                .seg = si,
                                                .off = off + (uint64_t)hdr_len,
                                                .len = len,
                                                .n_results = get32(hdr + 16),
                                                .hdr = (uint32_t)hdr_len,
                                                .parent = part ? get64(hdr + 20) : 0,
                                                .last = part && (get32(hdr + 28) & SPOOL_PART_LAST),
                                                .index = part ? get32(hdr + 28) >> 8 : 0};
    sp->st.pending_batches++;
    sp->st.pending_bytes += (uint64_t)hdr_len + len;
    return true;
}

/* Index one segment's records; cut it off at the first torn or corrupt one. */
static enum cmon_err scan_segment(struct agent_spool *sp, size_t si, const char *path)
{
    struct spool_seg *seg = &sp->segs[si];
    uint64_t off = 0;
    uint8_t hdr[SPOOL_HDR_PART];
    char *payload = NULL;
    const char *why = NULL;
    for (;;) {
        int hdr_len = read_header(seg->fd, off, hdr, &why);
        if (hdr_len <= 0)
            break;
        uint32_t len = get32(hdr + 4);
        char *p = realloc(payload, len ? len : 1);
        if (!p) {
            free(payload);
            return CMON_ERR_NOMEM;
        }
        payload = p;
        if (pread(seg->fd, payload, len, (off_t)(off + (uint64_t)hdr_len)) != (ssize_t)len) {
            why = "torn record payload";
            break;
        }
        if (record_crc(hdr, (size_t)hdr_len, payload, len) != get32(hdr + hdr_len - 4)) {
            why = "CRC mismatch";
            break;
        }
        if (!index_record(sp, si, off, hdr, hdr_len)) {
            free(payload);
            return CMON_ERR_NOMEM;
        }
        off += (uint64_t)hdr_len + len;
    }
    free(payload);
    if (why) {
        sp->st.corrupt_records++;
        cmon_warn(sp->log, "spool: cutting off a damaged record",
                  "file=%s offset=%" PRIu64 " reason=%s", path, off, why);
        if (ftruncate(seg->fd, (off_t)off) != 0 || fsync(seg->fd) != 0)
            return CMON_ERR_IO;
    }
    seg->size = off;
    return CMON_OK;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static int cmp_rec(const void *a, const void *b)
{
    return cmp_u64(&((const struct spool_rec *)a)->seq, &((const struct spool_rec *)b)->seq);
}

static enum cmon_err load_segments(struct agent_spool *sp, struct cmon_errbuf *eb)
{
    DIR *d = opendir(sp->dir);
    if (!d)
        return cmon_fail(eb, CMON_ERR_IO, "%s: %s", sp->dir, strerror(errno));
    uint64_t *firsts = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        uint64_t first;
        char tail[8];
        if (sscanf(e->d_name, "spool-%20" SCNu64 ".%7s", &first, tail) == 2 &&
            strcmp(tail, "log") == 0) {
            if (!cmon_grow(&firsts, &cap, n + 1, sizeof *firsts)) {
                closedir(d);
                free(firsts);
                return CMON_ERR_NOMEM;
            }
            firsts[n++] = first;
        }
    }
    closedir(d);
    if (n)
        qsort(firsts, n, sizeof *firsts, cmp_u64);
    enum cmon_err err = CMON_OK;
    for (size_t i = 0; i < n && !err; i++) {
        char path[4096];
        seg_path(sp, firsts[i], path, sizeof path);
        int fd = open(path, O_RDWR | O_CLOEXEC);
        if (fd < 0 || !cmon_grow(&sp->segs, &sp->cap_segs, sp->n_segs + 1, sizeof *sp->segs)) {
            err = cmon_fail(eb, CMON_ERR_IO, "%s: %s", path, strerror(errno));
            if (fd >= 0)
                close(fd);
            break;
        }
        sp->segs[sp->n_segs++] = (struct spool_seg){firsts[i], fd, 0};
        err = scan_segment(sp, sp->n_segs - 1, path);
        if (err)
            cmon_fail(eb, err, "%s: cannot recover: %s", path, strerror(errno));
    }
    free(firsts);
    if (sp->n_recs)
        qsort(sp->recs, sp->n_recs, sizeof *sp->recs, cmp_rec);
    return err;
}

static void forget_rec(struct agent_spool *sp, size_t i)
{
    sp->st.pending_batches--;
    sp->st.pending_bytes -= sp->recs[i].hdr + (uint64_t)sp->recs[i].len;
    memmove(&sp->recs[i], &sp->recs[i + 1], (sp->n_recs - i - 1) * sizeof *sp->recs);
    sp->n_recs--;
}

/* A completed split: its parent and the seqs [first, last] of its parts. */
struct split_done {
    uint64_t parent, first, last;
};

static int cmp_split(const void *a, const void *b)
{
    return cmp_u64(&((const struct split_done *)a)->parent,
                   &((const struct split_done *)b)->parent);
}

/* Does a completed split of parent hold seq? (a parent split twice: the
 * first split was cut short, so only one completed split per parent) */
static bool split_holds(const struct split_done *d, size_t n, uint64_t parent, uint64_t seq)
{
    struct split_done key = {.parent = parent};
    const struct split_done *x = n ? bsearch(&key, d, n, sizeof *d, cmp_split) : NULL;
    return x && seq >= x->first && seq <= x->last;
}

/* After a crash: a split whose last part is on disk replaced its parent, so
 * the parent is forgotten; parts of a split cut short (no last part) never
 * happened, so they are forgotten and the parent is split again under new
 * numbers.  Parts are written in one append with consecutive numbers, so a
 * last part on disk means all of its split are. */
static enum cmon_err settle_splits(struct agent_spool *sp)
{
    struct split_done *done = malloc((sp->n_recs ? sp->n_recs : 1) * sizeof *done);
    size_t n_done = 0;
    if (!done)
        return CMON_ERR_NOMEM;
    for (size_t i = 0; i < sp->n_recs; i++) {
        const struct spool_rec *r = &sp->recs[i];
        if (r->last)
            done[n_done++] = (struct split_done){r->parent, r->seq - r->index, r->seq};
    }
    if (n_done)
        qsort(done, n_done, sizeof *done, cmp_split);
    for (size_t i = sp->n_recs; i-- > 0;) {
        const struct spool_rec *r = &sp->recs[i];
        struct split_done key = {.parent = r->seq};
        bool replaced = n_done && bsearch(&key, done, n_done, sizeof *done, cmp_split);
        bool orphan = r->parent && !split_holds(done, n_done, r->parent, r->seq);
        if (replaced || orphan)
            forget_rec(sp, i);
    }
    free(done);
    return CMON_OK;
}

/* The spool's random id, made once with the spool: a new spool (lost
 * state) starts a new exactly-once sequence on the server. */
static enum cmon_err load_id(struct agent_spool *sp, struct cmon_errbuf *eb)
{
    char path[4096], tmp[4200], buf[24] = {0};
    snprintf(path, sizeof path, "%s/id", sp->dir);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        ssize_t n = read(fd, buf, 16);
        close(fd);
        char *end;
        sp->id = n == 16 ? strtoull(buf, &end, 16) : 0;
        if (n == 16 && end == buf + 16 && sp->id)
            return CMON_OK;
    }
    while (!sp->id) {
        if (getrandom(&sp->id, sizeof sp->id, 0) != sizeof sp->id)
            return cmon_fail(eb, CMON_ERR_IO, "getrandom: %s", strerror(errno));
    }
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    int len = snprintf(buf, sizeof buf, "%016" PRIx64 "\n", sp->id);
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    bool ok = fd >= 0 && write(fd, buf, (size_t)len) == len && fsync(fd) == 0;
    if (fd >= 0)
        close(fd);
    if (ok && rename(tmp, path) == 0 && fsync_dir(sp->dir) == 0)
        return CMON_OK;
    unlink(tmp);
    return cmon_fail(eb, CMON_ERR_IO, "%s: %s", path, strerror(errno));
}

/* Delete segments whose records are all acknowledged (the last one too: the
 * next append starts a fresh segment). */
static void drop_acked_segments(struct agent_spool *sp)
{
    size_t keep = 0;
    for (size_t i = 0; i < sp->n_segs; i++) {
        bool live = false;
        for (size_t r = 0; r < sp->n_recs && !live; r++)
            live = sp->recs[r].seg == i;
        if (!live) {
            char path[4096];
            seg_path(sp, sp->segs[i].first_seq, path, sizeof path);
            close(sp->segs[i].fd);
            unlink(path);
            if (i == sp->n_segs - 1)
                sp->active = false;
            continue;
        }
        for (size_t r = 0; r < sp->n_recs; r++) {
            if (sp->recs[r].seg == i)
                sp->recs[r].seg = keep;
        }
        sp->segs[keep++] = sp->segs[i];
    }
    if (keep != sp->n_segs)
        fsync_dir(sp->dir);
    sp->n_segs = keep;
}

enum cmon_err spool_open(const struct spool_opts *opts, struct agent_spool **out,
                         struct cmon_errbuf *eb)
{
    *out = NULL;
    if (mkdir(opts->dir, 0700) != 0 && errno != EEXIST)
        return cmon_fail(eb, CMON_ERR_IO, "spool directory %s: %s", opts->dir, strerror(errno));
    struct agent_spool *sp = calloc(1, sizeof *sp);
    if (!sp || !(sp->dir = strdup(opts->dir))) {
        free(sp);
        return cmon_fail(eb, CMON_ERR_NOMEM, "out of memory");
    }
    sp->max_bytes = opts->max_bytes ? opts->max_bytes : 256ull << 20;
    sp->segment_bytes = opts->segment_bytes ? opts->segment_bytes : 4ull << 20;
    sp->log = opts->log;
    enum cmon_err err = read_acked(sp, eb);
    sp->next_seq = sp->st.acked_seq + 1;
    if (!err)
        err = load_id(sp, eb);
    /* a watermark file from the start, so a disk that fills before the
     * first ack can still take one (written in place) */
    char acked[4200];
    snprintf(acked, sizeof acked, "%s/acked", sp->dir);
    if (!err && access(acked, F_OK) != 0)
        err = write_acked(sp, sp->st.acked_seq, eb);
    if (!err)
        err = load_segments(sp, eb);
    if (!err && settle_splits(sp) != CMON_OK)
        err = cmon_fail(eb, CMON_ERR_NOMEM, "out of memory");
    if (err) {
        spool_close(sp);
        return err;
    }
    drop_acked_segments(sp);
    sp->active = sp->n_segs > 0 && sp->segs[sp->n_segs - 1].size < sp->segment_bytes;
    *out = sp;
    return CMON_OK;
}

void spool_close(struct agent_spool *sp)
{
    if (!sp)
        return;
    for (size_t i = 0; i < sp->n_segs; i++)
        close(sp->segs[i].fd);
    free(sp->segs);
    free(sp->recs);
    free(sp->dir);
    free(sp);
}

uint64_t spool_next_seq(const struct agent_spool *sp)
{
    return sp->next_seq;
}

uint64_t spool_id(const struct agent_spool *sp)
{
    return sp->id;
}

static enum cmon_err new_segment(struct agent_spool *sp, uint64_t first, struct cmon_errbuf *eb)
{
    char path[4096];
    seg_path(sp, first, path, sizeof path);
    if (!cmon_grow(&sp->segs, &sp->cap_segs, sp->n_segs + 1, sizeof *sp->segs))
        return cmon_fail(eb, CMON_ERR_NOMEM, "out of memory");
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return cmon_fail(eb, CMON_ERR_IO, "%s: %s", path, strerror(errno));
    if (fsync_dir(sp->dir) != 0) {
        int saved = errno;
        close(fd);
        unlink(path);
        return cmon_fail(eb, CMON_ERR_IO, "%s: %s", sp->dir, strerror(saved));
    }
    sp->segs[sp->n_segs++] = (struct spool_seg){first, fd, 0};
    sp->active = true;
    return CMON_OK;
}

static enum cmon_err drop(struct agent_spool *sp, enum cmon_err err, uint64_t seq,
                          uint32_t n_results, struct cmon_errbuf *eb)
{
    sp->st.dropped_batches++;
    sp->st.dropped_results += n_results;
    cmon_error(sp->log, "spool: batch dropped",
               "seq=%" PRIu64 " results=%u reason=%s "
               "dropped_batches=%" PRIu64,
               seq, n_results, eb ? eb->msg : "", sp->st.dropped_batches);
    return err;
}

/* Append records at the end of seg and fsync; on failure nothing of them
 * stays (a partial write is cut off). */
static enum cmon_err write_records(struct agent_spool *sp, struct spool_seg *seg,
                                   const struct iovec *iov, int n_iov, ssize_t want,
                                   struct cmon_errbuf *eb)
{
    ssize_t n = pwritev(seg->fd, iov, n_iov, (off_t)seg->size);
    if (n == want && fdatasync(seg->fd) == 0)
        return CMON_OK;
    int saved = n < 0 ? errno : n != want ? ENOSPC : errno;
    if (ftruncate(seg->fd, (off_t)seg->size) != 0)
        cmon_error(sp->log, "spool: cannot cut a partial record", "error=%s", strerror(errno));
    return cmon_fail(eb, CMON_ERR_IO, "spool write: %s", strerror(saved));
}

enum cmon_err spool_append(struct agent_spool *sp, uint64_t seq, const void *data, size_t len,
                           uint32_t n_results, struct cmon_errbuf *eb)
{
    /* a caller's bug, but its rounds are gone all the same: count and log */
    if (seq < sp->next_seq)
        return drop(sp,
                    cmon_fail(eb, CMON_ERR_INVALID,
                              "batch %" PRIu64 " reuses a sequence number (next is %" PRIu64 ")",
                              seq, sp->next_seq),
                    seq, n_results, eb);
    if (seq == SPOOL_SEQ_LIMIT)
        return drop(sp,
                    cmon_fail(eb, CMON_ERR_INVALID,
                              "batch sequence number %" PRIu64 " out of range", seq),
                    seq, n_results, eb);
    if (len > SPOOL_MAX_RECORD)
        return drop(
            sp,
            cmon_fail(eb, CMON_ERR_LIMIT, "batch of %zu bytes exceeds %u", len, SPOOL_MAX_RECORD),
            seq, n_results, eb);
    if (sp->st.pending_bytes + SPOOL_HDR + len > sp->max_bytes)
        return drop(sp,
                    cmon_fail(eb, CMON_ERR_LIMIT,
                              "spool full (%" PRIu64 " of %" PRIu64 " bytes unacknowledged)",
                              sp->st.pending_bytes, sp->max_bytes),
                    seq, n_results, eb);
    if (!sp->active || sp->segs[sp->n_segs - 1].size >= sp->segment_bytes) {
        enum cmon_err err = new_segment(sp, seq, eb);
        if (err)
            return drop(sp, err, seq, n_results, eb);
    }
    struct spool_seg *seg = &sp->segs[sp->n_segs - 1];
    uint8_t hdr[SPOOL_HDR];
    put32(hdr, SPOOL_MAGIC);
    put32(hdr + 4, (uint32_t)len);
    put64(hdr + 8, seq);
    put32(hdr + 16, n_results);
    put32(hdr + 20, record_crc(hdr, SPOOL_HDR, data, len));
    struct iovec iov[2] = {{hdr, SPOOL_HDR}, {(void *)data, len}};
    ssize_t want = (ssize_t)(SPOOL_HDR + len);
    enum cmon_err err = write_records(sp, seg, iov, 2, want, eb);
    if (err)
        return drop(sp, err, seq, n_results, eb);
    if (!cmon_grow(&sp->recs, &sp->cap_recs, sp->n_recs + 1, sizeof *sp->recs))
        return cmon_fail(eb, CMON_ERR_NOMEM, "out of memory");
    /* pending batches stay in sending order: the oldest is recs[0] */
    assert(sp->n_recs == 0 || sp->recs[sp->n_recs - 1].seq < seq);
    sp->recs[sp->n_recs++] = (struct spool_rec){.seq = seq,
                                                .seg = sp->n_segs - 1,
                                                .off = seg->size + SPOOL_HDR,
                                                .len = (uint32_t)len,
                                                .n_results = n_results,
                                                .hdr = SPOOL_HDR};
    seg->size += (uint64_t)want;
    sp->st.pending_batches++;
    sp->st.pending_bytes += (uint64_t)want;
    sp->next_seq = seq + 1;
    return CMON_OK;
}

static void part_header(uint8_t *hdr, const struct spool_part *p, uint64_t parent, uint32_t index,
                        bool last)
{
    put32(hdr, SPOOL_MAGIC_PART);
    put32(hdr + 4, (uint32_t)p->len);
    put64(hdr + 8, p->seq);
    put32(hdr + 16, p->n_results);
    put64(hdr + 20, parent);
    put32(hdr + 28, (last ? SPOOL_PART_LAST : 0) | index << 8);
    put32(hdr + 32, record_crc(hdr, SPOOL_HDR_PART, p->data, p->len));
}

static enum cmon_err check_parts(const struct agent_spool *sp, const struct spool_part *parts,
                                 size_t n, uint64_t *bytes, struct cmon_errbuf *eb)
{
    uint64_t next = sp->next_seq;
    *bytes = 0;
    for (size_t i = 0; i < n; i++) {
        if (parts[i].seq < next || (i && parts[i].seq != next) || parts[i].len > SPOOL_MAX_RECORD)
            return cmon_fail(eb, CMON_ERR_INVALID, "split part %zu: bad sequence or size", i);
        next = parts[i].seq + 1;
        *bytes += SPOOL_HDR_PART + (uint64_t)parts[i].len;
    }
    return CMON_OK;
}

enum cmon_err spool_split(struct agent_spool *sp, uint64_t parent, const struct spool_part *parts,
                          size_t n, struct cmon_errbuf *eb)
{
    uint64_t bytes;
    if (n < 1 || n > SPOOL_MAX_PARTS || !sp->n_recs || sp->recs[0].seq != parent)
        return cmon_fail(eb, CMON_ERR_INVALID, "split: %" PRIu64 " is not the oldest batch",
                         parent);
    enum cmon_err err = check_parts(sp, parts, n, &bytes, eb);
    if (err)
        return err;
    if (!sp->active || sp->segs[sp->n_segs - 1].size >= sp->segment_bytes)
        err = new_segment(sp, parts[0].seq, eb);
    if (err || !cmon_grow(&sp->recs, &sp->cap_recs, sp->n_recs + n, sizeof *sp->recs))
        return err ? err : cmon_fail(eb, CMON_ERR_NOMEM, "out of memory");
    struct spool_seg *seg = &sp->segs[sp->n_segs - 1];
    uint8_t hdrs[SPOOL_MAX_PARTS][SPOOL_HDR_PART];
    struct iovec iov[2 * SPOOL_MAX_PARTS];
    for (size_t i = 0; i < n; i++) {
        part_header(hdrs[i], &parts[i], parent, (uint32_t)i, i == n - 1);
        iov[2 * i] = (struct iovec){hdrs[i], SPOOL_HDR_PART};
        iov[2 * i + 1] = (struct iovec){(void *)parts[i].data, parts[i].len};
    }
    /* one append: a crash leaves all parts (parent replaced) or a prefix
     * without the last one (ignored at open, parent still pending) */
    if ((err = write_records(sp, seg, iov, (int)(2 * n), (ssize_t)bytes, eb)))
        return err;
    for (size_t i = 0; i < n; i++) {
        sp->recs[sp->n_recs++] = (struct spool_rec){.seq = parts[i].seq,
                                                    .seg = sp->n_segs - 1,
                                                    .off = seg->size + SPOOL_HDR_PART,
                                                    .len = (uint32_t)parts[i].len,
                                                    .n_results = parts[i].n_results,
                                                    .hdr = SPOOL_HDR_PART,
                                                    .parent = parent,
                                                    .last = i == n - 1,
                                                    .index = (uint32_t)i};
        seg->size += SPOOL_HDR_PART + (uint64_t)parts[i].len;
        sp->st.pending_batches++;
        sp->st.pending_bytes += SPOOL_HDR_PART + (uint64_t)parts[i].len;
    }
    sp->next_seq = parts[n - 1].seq + 1;
    /* the parent is the oldest pending batch: acknowledging it forgets it.
     * If the watermark cannot be written, the parts on disk still replace
     * it (at open too): never send it again. */
    if (spool_ack(sp, parent, eb) != CMON_OK && sp->n_recs && sp->recs[0].seq == parent) {
        cmon_warn(sp->log, "spool: split recorded, acknowledgement not",
                  "seq=%" PRIu64 " err=%s", parent, eb->msg);
        forget_rec(sp, 0);
    }
    return CMON_OK;
}

size_t spool_pending(const struct agent_spool *sp)
{
    return sp->n_recs;
}

enum cmon_err spool_get(struct agent_spool *sp, size_t i, uint64_t *seq, char **data, size_t *len,
                        struct cmon_errbuf *eb)
{
    if (i >= sp->n_recs)
        return cmon_fail(eb, CMON_ERR_NOTFOUND, "no pending batch %zu", i);
    const struct spool_rec *r = &sp->recs[i];
    assert(r->seg < sp->n_segs && r->seq > sp->st.acked_seq);
    char *buf = malloc(r->len + 1);
    if (!buf)
        return cmon_fail(eb, CMON_ERR_NOMEM, "out of memory");
    if (pread(sp->segs[r->seg].fd, buf, r->len, (off_t)r->off) != (ssize_t)r->len) {
        free(buf);
        return cmon_fail(eb, CMON_ERR_IO, "spool read of batch %" PRIu64 ": %s", r->seq,
                         strerror(errno));
    }
    buf[r->len] = '\0';
    *seq = r->seq;
    *data = buf;
    *len = r->len;
    return CMON_OK;
}

enum cmon_err spool_ack(struct agent_spool *sp, uint64_t seq, struct cmon_errbuf *eb)
{
    if (seq <= sp->st.acked_seq)
        return CMON_OK;
    enum cmon_err err = write_acked(sp, seq, eb);
    if (err)
        return err;
    sp->st.acked_seq = seq;
    size_t keep = 0;
    for (size_t i = 0; i < sp->n_recs; i++) {
        if (sp->recs[i].seq <= seq) {
            sp->st.pending_batches--;
            sp->st.pending_bytes -= sp->recs[i].hdr + (uint64_t)sp->recs[i].len;
        } else {
            sp->recs[keep++] = sp->recs[i];
        }
    }
    sp->n_recs = keep;
    assert(sp->st.pending_batches == sp->n_recs);
    if (seq >= sp->next_seq)
        sp->next_seq = seq + 1;
    drop_acked_segments(sp);
    return CMON_OK;
}

void spool_stats(const struct agent_spool *sp, struct spool_stats *st)
{
    *st = sp->st;
}
