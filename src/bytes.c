/*
 * bytes.c: the byte-stream layer under the format parsers (io.h).  It
 * knows bytes, not formats: the parsers (io_npy.c, io_npz.c,
 * io_safetensors.c) read through it, and source.c opens files through it
 * and hands the streams to the parsers, so the calls go one way, source.c
 * -> parsers -> bytes.c, and nothing here calls back up
 * (tests/python/test_layers.py checks the objects' symbols).
 *
 *   - a reader: random access to the bytes of a file (pread on a
 *     descriptor, never mmap: a file that shrinks under us is a clean
 *     "truncated" error instead of a SIGBUS) or of a caller's memory
 *     buffer, with one bounds check and one "truncated" message for both;
 *     a failed read records the file and the bytes (simrep_ctx_error);
 *   - a stream: one array's container inside a reader, a plain byte range
 *     or a deflated ZIP member inflated on demand;
 *   - the inflater behind a deflated stream (zlib, raw deflate): reading
 *     forward continues it, reading backward restarts it, and layouts that
 *     need the member out of order spill it once to an unlinked temporary
 *     file in $TMPDIR (/tmp if unset; its free space checked first, a full
 *     disk reported with the directory and the size needed) and pread from
 *     there, so memory stays at two 64 KiB buffers plus zlib's window.  The
 *     member must inflate to exactly the size its header implies, with the
 *     CRC the archive gives (io_npz.c's design comment);
 *   - the message helpers the parsers and source.c share (shapes, lists of
 *     names).
 */
#include "io.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>
#include <zlib.h>

/* ---------------------------------------------------------------- reader */

simrep_status simrep__reader_failed(simrep_ctx *ctx, const simrep__reader *r, simrep_status st, uint64_t off, size_t n)
{
    if (ctx) {
        simrep__error_file(ctx, r->label, off, off + n);
        const size_t len = strlen(r->label) + 2;
        ctx->err_detail = len < strlen(ctx->message) ? len : 0;
    }
    return st;
}

simrep_status simrep__reader_read(simrep_ctx *ctx, const simrep__reader *r, uint64_t off, void *dst, size_t n)
{
    if (n == 0)
        return SIMREP_OK;
    if ((uint64_t)n > r->size || off > r->size - n)
        return simrep__reader_failed(ctx, r,
                        simrep__fail(ctx, SIMREP_E_FORMAT, "%s: truncated: expected %zu bytes at offset %llu, file has "
                                     "%llu", r->label, n, (unsigned long long)off, (unsigned long long)r->size),
                        off, n);
    if (r->fd < 0) {
        memcpy(dst, r->mem + off, n);
        return SIMREP_OK;
    }
    unsigned char *d = dst;
    size_t done = 0;
    while (done < n) {
        size_t chunk = n - done;
        if (chunk > ((size_t)1 << 30))
            chunk = (size_t)1 << 30;
        ssize_t k = pread(r->fd, d + done, chunk, (off_t)(off + done));
        if (k < 0) {
            if (errno == EINTR)
                continue;
            return simrep__reader_failed(ctx, r,
                            simrep__fail(ctx, SIMREP_E_IO, "%s: read failed at offset %llu: %s", r->label,
                                         (unsigned long long)(off + done), strerror(errno)),
                            off, n);
        }
        if (k == 0) {
            struct stat sb;
            unsigned long long now = fstat(r->fd, &sb) == 0 ? (unsigned long long)sb.st_size : 0;
            return simrep__reader_failed(ctx, r,
                            simrep__fail(ctx, SIMREP_E_FORMAT, "%s: truncated: expected %zu bytes at offset %llu, "
                                         "file has %llu (it shrank while open)",
                                         r->label, n, (unsigned long long)off, now),
                            off, n);
        }
        done += (size_t)k;
    }
    return SIMREP_OK;
}

/* A pipe, device or socket: refused at once (opened with O_NONBLOCK, so a
 * FIFO without a writer does not wait for one). */
static simrep_status not_regular(simrep_ctx *ctx, const char *label, const struct stat *sb)
{
    const mode_t m = sb->st_mode;
    return simrep__fail(ctx, SIMREP_E_IO,
                        "%s: is %s, not a regular file: simrep reads arrays by offset (pread) and in several passes, "
                        "so it reads regular files only; save the array to a file first",
                        label, S_ISFIFO(m)   ? "a pipe (FIFO)"
                               : S_ISCHR(m)  ? "a character device"
                               : S_ISBLK(m)  ? "a block device"
                               : S_ISSOCK(m) ? "a socket"
                                             : "a special file");
}

simrep_status simrep__reader_open_file(simrep_ctx *ctx, const char *path, const char *label, simrep__reader *r)
{
    memset(r, 0, sizeof *r);
    r->fd = -1;
    r->label = label;
    /* O_NONBLOCK: opening a FIFO with no writer would otherwise wait for
     * one forever (the check below refuses it); it means nothing for a
     * regular file, and is cleared before reading anyway. */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
        int e = errno;
        struct stat sb;
        if (e == EISDIR)
            return simrep__fail(ctx, SIMREP_E_IO, "%s: is a directory, not an array file", label);
        if (e == ENXIO && stat(path, &sb) == 0 && !S_ISREG(sb.st_mode)) /* a socket cannot be opened */
            return not_regular(ctx, label, &sb);
        return simrep__fail(ctx, SIMREP_E_IO, "%s: cannot open: %s", label, strerror(e));
    }
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        int e = errno;
        close(fd);
        return simrep__fail(ctx, SIMREP_E_IO, "%s: cannot stat: %s", label, strerror(e));
    }
    if (S_ISDIR(sb.st_mode)) {
        close(fd);
        return simrep__fail(ctx, SIMREP_E_IO, "%s: is a directory, not an array file", label);
    }
    if (!S_ISREG(sb.st_mode)) {
        close(fd);
        return not_regular(ctx, label, &sb);
    }
    int flags = fcntl(fd, F_GETFL);
    if (flags >= 0)
        fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
    r->fd = fd;
    r->size = (uint64_t)sb.st_size;
    r->dev = (uint64_t)sb.st_dev;
    r->ino = (uint64_t)sb.st_ino;
    r->mtime_sec = (int64_t)sb.st_mtim.tv_sec;
    r->mtime_nsec = (int64_t)sb.st_mtim.tv_nsec;
    return SIMREP_OK;
}

void simrep__reader_close(simrep__reader *r)
{
    if (r->fd >= 0)
        close(r->fd);
    r->fd = -1;
}

/* ---------------------------------------------------------------- stream */

simrep_status simrep__stream_read_upto(simrep_ctx *ctx, simrep__stream *s, uint64_t off, void *dst, size_t n,
                                       size_t *got)
{
    if (s->inf)
        return simrep__inflater_read_upto(ctx, s->inf, off, dst, n, got);
    *got = 0;
    if (off >= s->size)
        return SIMREP_OK;
    uint64_t avail = s->size - off;
    size_t k = (uint64_t)n < avail ? n : (size_t)avail;
    simrep_status st = simrep__reader_read(ctx, s->rd, s->base + off, dst, k);
    if (st == SIMREP_OK)
        *got = k;
    return st;
}

simrep_status simrep__stream_read(simrep_ctx *ctx, simrep__stream *s, uint64_t off, void *dst, size_t n)
{
    size_t got;
    simrep_status st = simrep__stream_read_upto(ctx, s, off, dst, n, &got);
    if (st == SIMREP_OK && got < n)
        st = simrep__fail(ctx, SIMREP_E_FORMAT, "%s: truncated: expected %zu bytes at offset %llu, the data end after %llu",
                          s->label, n, (unsigned long long)off, (unsigned long long)(off + got));
    return st;
}

/* Compressed input is read, and skipped/spilled output produced, in chunks
 * of this size: large enough that syscalls do not dominate, small enough to
 * be irrelevant next to a block of samples. */
#define CHUNK ((size_t)1 << 16)

#define NO_TOTAL UINT64_MAX

struct simrep__inflater {
    simrep_allocator alloc; /* zlib allocates through the context's allocator */
    const simrep__reader *rd;
    const char *label;
    uint64_t comp_off, comp_size, in_used;
    uint64_t pos, total;
    uint32_t crc, want_crc;
    int ended, live;
    z_stream z;
    unsigned char *inbuf, *scratch;
    int tmpfd;              /* the spill (-1: none) */
    simrep__reader tmprd;
    int spilled;
};

/* -------------------------------------------------------------- inflater */

static voidpf z_alloc(voidpf opaque, uInt items, uInt size)
{
    simrep_allocator *a = opaque;
    size_t n;
    if (!simrep__mul_size(items, size, &n))
        return Z_NULL;
    return a->malloc_fn(a->user, n ? n : 1);
}

static void z_free(voidpf opaque, voidpf ptr)
{
    simrep_allocator *a = opaque;
    if (ptr)
        a->free_fn(a->user, ptr);
}

void simrep__inflater_free(simrep_ctx *ctx, simrep__inflater *inf)
{
    if (!inf)
        return;
    if (inf->live)
        inflateEnd(&inf->z);
    if (inf->tmpfd >= 0)
        close(inf->tmpfd);
    simrep__free(ctx, inf->inbuf);
    simrep__free(ctx, inf->scratch);
    simrep__free(ctx, inf);
}

simrep_status simrep__inflater_new(simrep_ctx *ctx, const simrep__reader *rd, uint64_t comp_off, uint64_t comp_size,
                                   uint32_t crc, const char *label, simrep__inflater **out)
{
    simrep__inflater *inf = simrep__alloc(ctx, sizeof *inf, "a deflate stream");
    if (!inf)
        return SIMREP_E_NOMEM;
    memset(inf, 0, sizeof *inf);
    inf->tmpfd = -1;
    inf->alloc = ctx->allocator;
    inf->rd = rd;
    inf->label = label;
    inf->comp_off = comp_off;
    inf->comp_size = comp_size;
    inf->want_crc = crc;
    inf->total = NO_TOTAL;
    inf->crc = (uint32_t)crc32(0L, Z_NULL, 0);
    inf->inbuf = rd->fd >= 0 ? simrep__alloc(ctx, CHUNK, "the deflate input buffer") : NULL;
    inf->scratch = simrep__alloc(ctx, CHUNK, "the deflate scratch buffer");
    if ((rd->fd >= 0 && !inf->inbuf) || !inf->scratch) {
        simrep__inflater_free(ctx, inf);
        return SIMREP_E_NOMEM;
    }
    inf->z.zalloc = z_alloc;
    inf->z.zfree = z_free;
    inf->z.opaque = &inf->alloc;
    int zr = inflateInit2(&inf->z, -MAX_WBITS);
    if (zr != Z_OK) {
        simrep__inflater_free(ctx, inf);
        return simrep__fail(ctx, zr == Z_MEM_ERROR ? SIMREP_E_NOMEM : SIMREP_E_FORMAT,
                            "%s: cannot start inflating (zlib error %d)", label, zr);
    }
    inf->live = 1;
    *out = inf;
    return SIMREP_OK;
}

static simrep_status restart(simrep_ctx *ctx, simrep__inflater *inf)
{
    if (inflateReset(&inf->z) != Z_OK)
        return simrep__fail(ctx, SIMREP_E_FORMAT, "%s: cannot restart the deflate stream", inf->label);
    inf->z.avail_in = 0;
    inf->pos = inf->in_used = 0;
    inf->ended = 0;
    inf->crc = (uint32_t)crc32(0L, Z_NULL, 0);
    return SIMREP_OK;
}

/* Produce up to n bytes of output; fewer only if the stream ended. */
static simrep_status inflate_some(simrep_ctx *ctx, simrep__inflater *inf, unsigned char *dst, size_t n, size_t *got)
{
    *got = 0;
    while (*got < n && !inf->ended) {
        if (inf->z.avail_in == 0) {
            uint64_t left = inf->comp_size - inf->in_used;
            if (left == 0)
                return simrep__fail(ctx, SIMREP_E_FORMAT,
                                    "%s: truncated: the deflate stream ends before its end marker (after %llu "
                                    "compressed bytes, %llu inflated)",
                                    inf->label, (unsigned long long)inf->comp_size, (unsigned long long)inf->pos);
            size_t k;
            if (inf->rd->fd < 0) {
                k = left < UINT_MAX ? (size_t)left : UINT_MAX;
                inf->z.next_in = (Bytef *)(inf->rd->mem + inf->comp_off + inf->in_used);
            } else {
                k = left < CHUNK ? (size_t)left : CHUNK;
                simrep_status st = simrep__reader_read(ctx, inf->rd, inf->comp_off + inf->in_used, inf->inbuf, k);
                if (st)
                    return st;
                inf->z.next_in = inf->inbuf;
            }
            inf->z.avail_in = (uInt)k;
            inf->in_used += k;
        }
        size_t want = n - *got;
        if (want > (size_t)1 << 30)
            want = (size_t)1 << 30;
        inf->z.next_out = dst + *got;
        inf->z.avail_out = (uInt)want;
        int zr = inflate(&inf->z, Z_NO_FLUSH);
        size_t produced = want - inf->z.avail_out;
        inf->crc = (uint32_t)crc32(inf->crc, dst + *got, (uInt)produced);
        *got += produced;
        inf->pos += produced;
        if (zr == Z_STREAM_END) {
            inf->ended = 1;
            /* Short data say more than the CRC they also break. */
            if (inf->total != NO_TOTAL && inf->pos < inf->total)
                return simrep__fail(ctx, SIMREP_E_FORMAT,
                                    "%s: truncated: the member inflates to %llu bytes but its npy header implies %llu",
                                    inf->label, (unsigned long long)inf->pos, (unsigned long long)inf->total);
            if (inf->crc != inf->want_crc)
                return simrep__fail(ctx, SIMREP_E_FORMAT,
                                    "%s: corrupt member: CRC-32 %08x of the inflated data, the archive says %08x",
                                    inf->label, (unsigned)inf->crc, (unsigned)inf->want_crc);
        } else if (zr == Z_MEM_ERROR) {
            return simrep__fail(ctx, SIMREP_E_NOMEM, "%s: out of memory while inflating", inf->label);
        } else if (zr == Z_BUF_ERROR) {
            if (inf->z.avail_in != 0)
                return simrep__fail(ctx, SIMREP_E_FORMAT, "%s: corrupt deflate stream (no progress)", inf->label);
        } else if (zr != Z_OK) {
            return simrep__fail(ctx, SIMREP_E_FORMAT, "%s: corrupt deflate stream (%s)", inf->label,
                                inf->z.msg ? inf->z.msg : "zlib error");
        }
    }
    return SIMREP_OK;
}

void simrep__inflater_set_total(simrep__inflater *inf, uint64_t total)
{
    inf->total = total;
}

static simrep_status too_long(simrep_ctx *ctx, simrep__inflater *inf)
{
    return simrep__fail(ctx, SIMREP_E_FORMAT,
                        "%s: the member inflates to more than the %llu bytes its npy header and the archive declare",
                        inf->label, (unsigned long long)inf->total);
}

simrep_status simrep__inflater_read_upto(simrep_ctx *ctx, simrep__inflater *inf, uint64_t off, void *dst, size_t n,
                                         size_t *got)
{
    *got = 0;
    if (inf->spilled) {
        if (off >= inf->total)
            return SIMREP_OK;
        size_t k = (uint64_t)n < inf->total - off ? n : (size_t)(inf->total - off);
        simrep_status st = simrep__reader_read(ctx, &inf->tmprd, off, dst, k);
        if (st == SIMREP_OK)
            *got = k;
        return st;
    }
    simrep_status st;
    if (off < inf->pos && (st = restart(ctx, inf)))
        return st;
    for (unsigned chunks = 1; inf->pos < off; chunks++) {
        size_t skip = off - inf->pos < CHUNK ? (size_t)(off - inf->pos) : CHUNK, g;
        if (chunks % 64 == 0 && simrep__cancel_requested(ctx)) /* every 4 MiB inflated */
            return simrep__cancelled(ctx);
        if ((st = inflate_some(ctx, inf, inf->scratch, skip, &g)))
            return st;
        if (g == 0)
            return SIMREP_OK;
    }
    if (inf->total != NO_TOTAL && n > inf->total - off)
        n = off < inf->total ? (size_t)(inf->total - off) : 0;
    if ((st = inflate_some(ctx, inf, dst, n, got)))
        return st;
    if (inf->total != NO_TOTAL && inf->pos == inf->total && !inf->ended) {
        size_t g;
        if ((st = inflate_some(ctx, inf, inf->scratch, 1, &g)))
            return st;
        if (g)
            return too_long(ctx, inf);
    }
    return SIMREP_OK;
}

simrep_status simrep__inflater_spill(simrep_ctx *ctx, simrep__inflater *inf)
{
    if (inf->spilled)
        return SIMREP_OK;
    simrep_status st;
    if (inf->pos != 0 && (st = restart(ctx, inf)))
        return st;
    if (inf->tmpfd >= 0) /* left by a spill that failed part way */
        close(inf->tmpfd);
    inf->tmpfd = -1;
    const char *dir = getenv("TMPDIR");
    dir = dir && *dir ? dir : "/tmp";
    const double need = (double)inf->total;
    struct statvfs fs;
    if (statvfs(dir, &fs) == 0 && (double)fs.f_bavail * (double)fs.f_frsize < need)
        return simrep__fail(ctx, SIMREP_E_IO,
                            "%s: reading this deflated member out of order inflates it to a temporary file in %s, "
                            "which needs %.1f MiB but has %.1f MiB free; set TMPDIR to a directory with room (or "
                            "store the member uncompressed: np.savez)",
                            inf->label, dir, need / 1048576.0, (double)fs.f_bavail * (double)fs.f_frsize / 1048576.0);
    char path[4096];
    if (snprintf(path, sizeof path, "%s/simrep-npz-XXXXXX", dir) >= (int)sizeof path)
        return simrep__fail(ctx, SIMREP_E_IO, "%s: the temporary directory name is too long: %s", inf->label, dir);
    int fd = mkstemp(path);
    if (fd < 0)
        return simrep__fail(ctx, SIMREP_E_IO, "%s: cannot create a temporary file in %s (TMPDIR) to inflate the "
                            "member into: %s", inf->label, dir, strerror(errno));
    unlink(path); /* lives until closed: nothing is left behind, even after a crash */
    inf->tmpfd = fd;
    for (unsigned chunks = 1;; chunks++) {
        size_t g;
        if (chunks % 64 == 0 && simrep__cancel_requested(ctx)) /* every 4 MiB inflated */
            return simrep__cancelled(ctx);
        if ((st = inflate_some(ctx, inf, inf->scratch, CHUNK, &g)))
            return st;
        if (g == 0)
            break;
        if (inf->pos > inf->total)
            return too_long(ctx, inf);
        size_t done = 0;
        while (done < g) {
            ssize_t w = write(fd, inf->scratch + done, g - done);
            if (w < 0 && errno == EINTR)
                continue;
            if (w <= 0)
                return simrep__fail(ctx, SIMREP_E_IO,
                                    "%s: writing the inflated member to a temporary file in %s failed after %.1f of "
                                    "%.1f MiB: %s; set TMPDIR to a directory with room",
                                    inf->label, dir, (double)(inf->pos - g + done) / 1048576.0, need / 1048576.0,
                                    w < 0 ? strerror(errno) : "no progress");
            done += (size_t)w;
        }
    }
    if (inf->pos != inf->total)
        return simrep__fail(ctx, SIMREP_E_FORMAT,
                            "%s: truncated: the member inflates to %llu bytes but its npy header implies %llu",
                            inf->label, (unsigned long long)inf->pos, (unsigned long long)inf->total);
    inf->tmprd = (simrep__reader){.fd = fd, .mem = NULL, .size = inf->total, .label = inf->label};
    inf->spilled = 1;
    inflateEnd(&inf->z);
    inf->live = 0;
    return SIMREP_OK;
}

/* ---------------------------------------------------------------- shared */

void simrep__format_shape(const simrep_array_info *info, char *buf, size_t cap)
{
    size_t used = 0;
    int k = snprintf(buf, cap, "(");
    used = k > 0 ? (size_t)k : 0;
    for (int i = 0; i < info->ndim && used < cap; i++) {
        k = snprintf(buf + used, cap - used, "%s%lld", i ? ", " : "", (long long)info->shape[i]);
        used += k > 0 ? (size_t)k : 0;
    }
    if (used < cap)
        snprintf(buf + used, cap - used, info->ndim == 1 ? ",)" : ")");
}

/* Names listed in "not found" messages before "...": enough to spot a typo
 * without flooding the terminal for an archive of hundreds of arrays. */
#define NAME_LIST_MAX 8

void simrep__name_list_add(char *buf, size_t cap, int index, const char *name)
{
    size_t used = strlen(buf);
    if (used >= cap - 1 || index > NAME_LIST_MAX)
        return;
    if (index == NAME_LIST_MAX)
        snprintf(buf + used, cap - used, ", ...");
    else
        snprintf(buf + used, cap - used, "%s'%s'", index ? ", " : "", name);
}
