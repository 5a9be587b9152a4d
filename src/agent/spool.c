/* spool.c: append-only segment files of CRC-checked batch records, an
 * "acked" watermark, and recovery that cuts off torn or corrupt tails. */
#include "agent/spool.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>
#include <zlib.h>

#define SPOOL_MAGIC 0x50534d43u /* "CMSP" little-endian */
#define SPOOL_HDR 24
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
    size_t seg;       /* index into segs */
    uint64_t off;     /* of the payload */
    uint32_t len;
    uint32_t n_results;
};

struct agent_spool {
    char *dir;
    uint64_t max_bytes, segment_bytes;
    const struct cmon_log *log;
    struct spool_seg *segs;
    size_t n_segs, cap_segs;
    struct spool_rec *recs; /* pending, ascending seq */
    size_t n_recs, cap_recs;
    bool active;            /* the last segment takes appends */
    uint64_t next_seq;
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

/* CRC over len, seq, n_results and the payload. */
static uint32_t record_crc(const uint8_t *hdr, const void *payload, size_t len)
{
    uLong crc = crc32(0L, Z_NULL, 0);
    crc = crc32(crc, hdr + 4, 16);
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

static bool grow(void **arr, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return true;
    size_t c = *cap ? *cap * 2 : 16;
    while (c < need)
        c *= 2;
    void *p = realloc(*arr, c * elem);
    if (!p)
        return false;
    *arr = p;
    *cap = c;
    return true;
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
static enum cmon_err write_acked_in_place(struct agent_spool *sp, const char *path,
                                          const char *buf, int len, struct cmon_errbuf *eb)
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

/* Index one segment's records; cut it off at the first torn or corrupt one. */
static enum cmon_err scan_segment(struct agent_spool *sp, size_t si, const char *path)
{
    struct spool_seg *seg = &sp->segs[si];
    uint64_t off = 0;
    uint8_t hdr[SPOOL_HDR];
    char *payload = NULL;
    const char *why = NULL;
    for (;;) {
        ssize_t n = pread(seg->fd, hdr, SPOOL_HDR, (off_t)off);
        if (n == 0)
            break;
        if (n != SPOOL_HDR) {
            why = "torn record header";
            break;
        }
        uint32_t len = get32(hdr + 4);
        uint64_t seq = get64(hdr + 8);
        if (get32(hdr) != SPOOL_MAGIC || len > SPOOL_MAX_RECORD || seq == SPOOL_SEQ_LIMIT) {
            why = "bad record header";
            break;
        }
        char *p = realloc(payload, len ? len : 1);
        if (!p) {
            free(payload);
            return CMON_ERR_NOMEM;
        }
        payload = p;
        if (pread(seg->fd, payload, len, (off_t)(off + SPOOL_HDR)) != (ssize_t)len) {
            why = "torn record payload";
            break;
        }
        if (record_crc(hdr, payload, len) != get32(hdr + 20)) {
            why = "CRC mismatch";
            break;
        }
        if (seq >= sp->next_seq)
            sp->next_seq = seq + 1;
        if (seq > sp->st.acked_seq) {
            if (!grow((void **)&sp->recs, &sp->cap_recs, sp->n_recs + 1, sizeof *sp->recs)) {
                free(payload);
                return CMON_ERR_NOMEM;
            }
            sp->recs[sp->n_recs++] = (struct spool_rec){seq, si, off + SPOOL_HDR, len,
                                                        get32(hdr + 16)};
            sp->st.pending_batches++;
            sp->st.pending_bytes += SPOOL_HDR + len;
        }
        off += SPOOL_HDR + (uint64_t)len;
    }
    free(payload);
    if (why) {
        sp->st.corrupt_records++;
        cmon_warn(sp->log, "spool: cutting off a damaged record", "file=%s offset=%" PRIu64
                  " reason=\"%s\"", path, off, why);
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
            if (!grow((void **)&firsts, &cap, n + 1, sizeof *firsts)) {
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
        if (fd < 0 || !grow((void **)&sp->segs, &sp->cap_segs, sp->n_segs + 1, sizeof *sp->segs)) {
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
        err = load_segments(sp, eb);
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

static enum cmon_err new_segment(struct agent_spool *sp, uint64_t first, struct cmon_errbuf *eb)
{
    char path[4096];
    seg_path(sp, first, path, sizeof path);
    if (!grow((void **)&sp->segs, &sp->cap_segs, sp->n_segs + 1, sizeof *sp->segs))
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
    cmon_error(sp->log, "spool: batch dropped", "seq=%" PRIu64 " results=%u reason=\"%s\" "
               "dropped_batches=%" PRIu64, seq, n_results, eb ? eb->msg : "", sp->st.dropped_batches);
    return err;
}

enum cmon_err spool_append(struct agent_spool *sp, uint64_t seq, const void *data, size_t len,
                           uint32_t n_results, struct cmon_errbuf *eb)
{
    if (seq < sp->next_seq)
        return cmon_fail(eb, CMON_ERR_INVALID, "batch %" PRIu64 " reuses a sequence number "
                         "(next is %" PRIu64 ")", seq, sp->next_seq);
    if (seq == SPOOL_SEQ_LIMIT)
        return cmon_fail(eb, CMON_ERR_INVALID, "batch sequence number %" PRIu64 " out of range",
                         seq);
    if (len > SPOOL_MAX_RECORD)
        return drop(sp, cmon_fail(eb, CMON_ERR_LIMIT, "batch of %zu bytes exceeds %u", len,
                                  SPOOL_MAX_RECORD), seq, n_results, eb);
    if (sp->st.pending_bytes + SPOOL_HDR + len > sp->max_bytes)
        return drop(sp, cmon_fail(eb, CMON_ERR_LIMIT, "spool full (%" PRIu64 " of %" PRIu64
                                  " bytes unacknowledged)", sp->st.pending_bytes, sp->max_bytes),
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
    put32(hdr + 20, record_crc(hdr, data, len));
    struct iovec iov[2] = {{hdr, SPOOL_HDR}, {(void *)data, len}};
    ssize_t want = (ssize_t)(SPOOL_HDR + len);
    ssize_t n = pwritev(seg->fd, iov, 2, (off_t)seg->size);
    if (n != want || fdatasync(seg->fd) != 0) {
        int saved = n < 0 ? errno : n != want ? ENOSPC : errno;
        /* leave no partial record behind */
        if (ftruncate(seg->fd, (off_t)seg->size) != 0)
            cmon_error(sp->log, "spool: cannot cut a partial record", "error=\"%s\"",
                       strerror(errno));
        return drop(sp, cmon_fail(eb, CMON_ERR_IO, "spool write: %s", strerror(saved)), seq,
                    n_results, eb);
    }
    if (!grow((void **)&sp->recs, &sp->cap_recs, sp->n_recs + 1, sizeof *sp->recs))
        return cmon_fail(eb, CMON_ERR_NOMEM, "out of memory");
    sp->recs[sp->n_recs++] = (struct spool_rec){seq, sp->n_segs - 1, seg->size + SPOOL_HDR,
                                                (uint32_t)len, n_results};
    seg->size += (uint64_t)want;
    sp->st.pending_batches++;
    sp->st.pending_bytes += (uint64_t)want;
    sp->next_seq = seq + 1;
    return CMON_OK;
}

size_t spool_pending(const struct agent_spool *sp)
{
    return sp->n_recs;
}

enum cmon_err spool_get(struct agent_spool *sp, size_t i, uint64_t *seq, char **data,
                        size_t *len, struct cmon_errbuf *eb)
{
    if (i >= sp->n_recs)
        return cmon_fail(eb, CMON_ERR_NOTFOUND, "no pending batch %zu", i);
    const struct spool_rec *r = &sp->recs[i];
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
            sp->st.pending_bytes -= SPOOL_HDR + sp->recs[i].len;
        } else {
            sp->recs[keep++] = sp->recs[i];
        }
    }
    sp->n_recs = keep;
    if (seq >= sp->next_seq)
        sp->next_seq = seq + 1;
    drop_acked_segments(sp);
    return CMON_OK;
}

void spool_stats(const struct agent_spool *sp, struct spool_stats *st)
{
    *st = sp->st;
}
