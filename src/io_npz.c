/*
 * io_npz.c: .npz archives (numpy.savez / savez_compressed): a ZIP file
 * whose members "key.npy" are .npy files, stored (method 0) or deflated
 * (method 8).
 *
 * The archive is found from its end, as every ZIP reader does (PKWARE
 * APPNOTE 4.3.16): the End Of Central Directory record is searched
 * backwards over the last 22 + 65535 bytes (its comment may be that long)
 * and must end exactly at the end of the file; a ZIP64 locator just before
 * it points to the ZIP64 EOCD, whose 64-bit counts replace the 16/32-bit
 * ones (numpy's zipfile writes ZIP64 for members over 2 GiB, and with
 * force_zip64).  Central directory entries give each member's sizes, CRC
 * and local header offset, widened by their ZIP64 extra field; the local
 * header only tells where the data start (its own name and extra lengths).
 * Entries are read one at a time, so an archive of any number of members
 * costs no memory per member.
 *
 * The sizes in the archive are checked, not trusted: a member's uncompressed
 * size must equal its npy header plus shape x itemsize, and a deflated
 * member is inflated with that total as the bound: inflating to more or
 * fewer bytes, a corrupt stream or a CRC mismatch is a FORMAT error, and a
 * total beyond deflate's 1032:1 limit is refused before anything is read.
 * Deflated members are inflated as a stream by the byte layer's inflater
 * (bytes.c: zlib, raw deflate, spilled to a temporary file for layouts that
 * read out of order), so memory stays at two 64 KiB buffers plus zlib's
 * window; this file only finds members and checks their sizes.
 * Rejected: inflating whole members into memory (a member may be larger
 * than RAM) and libzip/minizip (a dependency for ~300 lines).
 */
#include "io.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <unistd.h>
#include <zlib.h>

static uint16_t le16(const unsigned char *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t le32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t le64(const unsigned char *p)
{
    return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32;
}

/* ------------------------------------------------------------------- zip */

typedef struct zip_dir {
    uint64_t cd_off, cd_size, entries;
} zip_dir;

typedef struct zip_entry {
    char name[SIMREP_NAME_MAX + 8];
    size_t name_len;  /* the full length in the archive (name holds its first bytes) */
    uint64_t name_off; /* where the name is in the archive (to compare long names) */
    char tail[4];     /* its last 4 bytes (".npy" for an array) */
    uint16_t flags, method;
    uint32_t crc;
    uint64_t csize, usize, local_off;
} zip_entry;

/* The EOCD is 22 bytes plus a comment of at most 65535. */
#define EOCD_SIZE 22
#define EOCD_SEARCH (EOCD_SIZE + 65535)

static simrep_status find_dir(simrep_ctx *ctx, const simrep__reader *rd, zip_dir *d)
{
    const char *label = rd->label;
    if (rd->size == 0)
        return simrep__fail(ctx, SIMREP_E_FORMAT, "%s: empty (0 bytes); not a .npz file", label);
    if (rd->size < EOCD_SIZE)
        return simrep__fail(ctx, SIMREP_E_FORMAT, "%s: not a .npz file: %llu bytes is too short for a ZIP archive",
                            label, (unsigned long long)rd->size);
    size_t tail = rd->size < EOCD_SEARCH ? (size_t)rd->size : EOCD_SEARCH;
    uint64_t tail_off = rd->size - tail;
    unsigned char *buf = simrep__alloc(ctx, tail, "the ZIP end record search");
    if (!buf)
        return simrep__prefix(ctx, "%s", label);
    simrep_status st = simrep__reader_read(ctx, rd, tail_off, buf, tail);
    if (st) {
        simrep__free(ctx, buf);
        return st;
    }
    int64_t at = -1;
    for (int64_t i = (int64_t)tail - EOCD_SIZE; i >= 0; i--) {
        if (memcmp(buf + i, "PK\x05\x06", 4) == 0 && (uint64_t)i + EOCD_SIZE + le16(buf + i + 20) == tail) {
            at = i;
            break;
        }
    }
    if (at < 0) {
        simrep__free(ctx, buf);
        unsigned char head[6];
        int npy = simrep__reader_read(ctx, rd, 0, head, 6) == SIMREP_OK && memcmp(head, "\x93NUMPY", 6) == 0;
        return simrep__fail(ctx, SIMREP_E_FORMAT,
                            "%s: not a .npz file: no ZIP end-of-central-directory record%s", label,
                            npy ? " (it looks like a .npy file)" : " (truncated, or not a ZIP archive)");
    }
    const unsigned char *e = buf + at;
    uint64_t eocd_pos = tail_off + (uint64_t)at;
    uint16_t disk = le16(e + 4), cd_disk = le16(e + 6);
    d->entries = le16(e + 10);
    d->cd_size = le32(e + 12);
    d->cd_off = le32(e + 16);
    simrep__free(ctx, buf);
    if (disk != 0 || cd_disk != 0)
        return simrep__fail(ctx, SIMREP_E_UNSUPPORTED, "%s: multi-disk ZIP archives are not supported", label);

    uint64_t dir_end = eocd_pos;
    if (eocd_pos >= 20) {
        unsigned char loc[20];
        if ((st = simrep__reader_read(ctx, rd, eocd_pos - 20, loc, sizeof loc)))
            return st;
        if (memcmp(loc, "PK\x06\x07", 4) == 0) {
            uint64_t z64 = le64(loc + 8);
            unsigned char rec[56];
            if (z64 > eocd_pos - 20 || eocd_pos - 20 - z64 < sizeof rec)
                return simrep__fail(ctx, SIMREP_E_FORMAT,
                                    "%s: corrupt ZIP archive: the ZIP64 end record offset %llu is out of range", label,
                                    (unsigned long long)z64);
            if ((st = simrep__reader_read(ctx, rd, z64, rec, sizeof rec)))
                return st;
            if (memcmp(rec, "PK\x06\x06", 4) != 0)
                return simrep__fail(ctx, SIMREP_E_FORMAT,
                                    "%s: corrupt ZIP archive: no ZIP64 end record at offset %llu", label,
                                    (unsigned long long)z64);
            if (le32(rec + 16) != 0 || le32(rec + 20) != 0)
                return simrep__fail(ctx, SIMREP_E_UNSUPPORTED, "%s: multi-disk ZIP archives are not supported",
                                    label);
            d->entries = le64(rec + 32);
            d->cd_size = le64(rec + 40);
            d->cd_off = le64(rec + 48);
            dir_end = z64;
        }
    }
    if (d->cd_off > dir_end || d->cd_size > dir_end - d->cd_off)
        return simrep__fail(ctx, SIMREP_E_FORMAT,
                            "%s: corrupt ZIP archive: the central directory (%llu bytes at offset %llu) does not end "
                            "before the end record at %llu",
                            label, (unsigned long long)d->cd_size, (unsigned long long)d->cd_off,
                            (unsigned long long)dir_end);
    if (d->entries > d->cd_size / 46)
        return simrep__fail(ctx, SIMREP_E_FORMAT,
                            "%s: corrupt ZIP archive: %llu entries cannot fit in a central directory of %llu bytes",
                            label, (unsigned long long)d->entries, (unsigned long long)d->cd_size);
    return SIMREP_OK;
}

/* Read the central directory entry at *pos and advance *pos past it. */
static simrep_status read_entry(simrep_ctx *ctx, const simrep__reader *rd, const zip_dir *d, uint64_t *pos,
                                zip_entry *e)
{
    const char *label = rd->label;
    uint64_t end = d->cd_off + d->cd_size;
    unsigned char h[46];
    if (end - *pos < sizeof h)
        return simrep__fail(ctx, SIMREP_E_FORMAT, "%s: corrupt ZIP archive: central directory entry cut short",
                            label);
    simrep_status st = simrep__reader_read(ctx, rd, *pos, h, sizeof h);
    if (st)
        return st;
    if (memcmp(h, "PK\x01\x02", 4) != 0)
        return simrep__fail(ctx, SIMREP_E_FORMAT,
                            "%s: corrupt ZIP archive: bad central directory entry signature at offset %llu", label,
                            (unsigned long long)*pos);
    e->flags = le16(h + 8);
    e->method = le16(h + 10);
    e->crc = le32(h + 16);
    e->csize = le32(h + 20);
    e->usize = le32(h + 24);
    uint16_t nlen = le16(h + 28), xlen = le16(h + 30), clen = le16(h + 32);
    e->local_off = le32(h + 42);
    uint64_t var = (uint64_t)nlen + xlen + clen;
    if (end - *pos - sizeof h < var)
        return simrep__fail(ctx, SIMREP_E_FORMAT, "%s: corrupt ZIP archive: central directory entry cut short",
                            label);
    e->name_len = nlen;
    e->name_off = *pos + sizeof h;
    size_t keep = nlen < sizeof e->name - 1 ? nlen : sizeof e->name - 1;
    if ((st = simrep__reader_read(ctx, rd, *pos + sizeof h, e->name, keep)))
        return st;
    e->name[keep] = '\0';
    memset(e->tail, 0, sizeof e->tail);
    if (nlen >= 4 && (st = simrep__reader_read(ctx, rd, e->name_off + nlen - 4, e->tail, 4)))
        return st;

    uint64_t x = *pos + sizeof h + nlen, xend = x + xlen;
    while (xend - x >= 4) {
        unsigned char f[4 + 28];
        if ((st = simrep__reader_read(ctx, rd, x, f, 4)))
            return st;
        uint16_t id = le16(f), sz = le16(f + 2);
        if (sz > xend - x - 4)
            return simrep__fail(ctx, SIMREP_E_FORMAT, "%s: corrupt ZIP archive: bad extra field in entry '%s'", label,
                                e->name);
        if (id == 0x0001) {
            size_t k = sz < 28 ? sz : 28, used = 0;
            if ((st = simrep__reader_read(ctx, rd, x + 4, f + 4, k)))
                return st;
            uint64_t *fields[3] = {&e->usize, &e->csize, &e->local_off};
            for (int i = 0; i < 3; i++) {
                if (*fields[i] != 0xffffffffu)
                    continue;
                if (k - used < 8)
                    return simrep__fail(ctx, SIMREP_E_FORMAT,
                                        "%s: corrupt ZIP archive: ZIP64 extra field of '%s' too short", label, e->name);
                *fields[i] = le64(f + 4 + used);
                used += 8;
            }
        }
        x += 4 + (uint64_t)sz;
    }
    *pos += sizeof h + var;
    return SIMREP_OK;
}

/* If e is an .npy member, its key (name without ".npy") length; else -1. */
static long npy_key_len(const zip_entry *e)
{
    if (e->name_len < 4 || memcmp(e->tail, ".npy", 4) != 0)
        return -1;
    return (long)e->name_len - 4;
}

/* The key as simrep_array_info holds it: whole, or shortened with "..."
 * (SIMREP_NAME_SHOWN bytes of it, all in e->name). */
static void shown_key(const zip_entry *e, long klen, char *out)
{
    if (klen < SIMREP_NAME_MAX) {
        memcpy(out, e->name, (size_t)klen);
        out[klen] = '\0';
    } else {
        memcpy(out, e->name, SIMREP_NAME_SHOWN);
        memcpy(out + SIMREP_NAME_SHOWN, "...", 4);
    }
}

/* Whether member e (key of klen bytes) is the one key names: the whole key,
 * or its shown form (a long key's first bytes and "..."). */
static simrep_status key_matches(simrep_ctx *ctx, const simrep__reader *rd, const zip_entry *e, long klen,
                                 const char *key, size_t keylen, int *match)
{
    *match = 0;
    if (klen >= SIMREP_NAME_MAX && keylen == SIMREP_NAME_SHOWN + 3 && memcmp(key + SIMREP_NAME_SHOWN, "...", 3) == 0) {
        *match = memcmp(e->name, key, SIMREP_NAME_SHOWN) == 0;
        return SIMREP_OK;
    }
    if ((size_t)klen != keylen && e->name_len != keylen) /* the key, or the member's name with ".npy" */
        return SIMREP_OK;
    const size_t held = e->name_len < sizeof e->name - 1 ? e->name_len : sizeof e->name - 1;
    if (keylen <= held) {
        *match = memcmp(e->name, key, keylen) == 0;
        return SIMREP_OK;
    }
    char buf[1024]; /* a long key: compared with the archive's bytes */
    for (size_t at = 0; at < keylen; at += sizeof buf) {
        const size_t k = keylen - at < sizeof buf ? keylen - at : sizeof buf;
        simrep_status st = simrep__reader_read(ctx, rd, e->name_off + at, buf, k);
        if (st != SIMREP_OK)
            return st;
        if (memcmp(buf, key + at, k) != 0)
            return SIMREP_OK;
    }
    *match = 1;
    return SIMREP_OK;
}

/* Set up a stream over member e and parse its npy header. */
static simrep_status open_member(simrep_ctx *ctx, const simrep__reader *rd, const zip_entry *e, const char *label,
                                 simrep__stream *s, simrep_array_info *info, uint64_t *data_start)
{
    memset(s, 0, sizeof *s);
    s->rd = rd;
    s->label = label;
    if (e->flags & 1)
        return simrep__fail(ctx, SIMREP_E_UNSUPPORTED, "%s: the member is encrypted", label);
    if (e->method != 0 && e->method != 8)
        return simrep__fail(ctx, SIMREP_E_UNSUPPORTED,
                            "%s: ZIP compression method %u is not supported (simrep reads stored and deflated members)",
                            label, (unsigned)e->method);
    if (e->method == 0 && e->csize != e->usize)
        return simrep__fail(ctx, SIMREP_E_FORMAT,
                            "%s: corrupt ZIP archive: stored member has %llu bytes but claims %llu uncompressed", label,
                            (unsigned long long)e->csize, (unsigned long long)e->usize);
    unsigned char h[30];
    simrep_status st = simrep__reader_read(ctx, rd, e->local_off, h, sizeof h);
    if (st)
        return simrep__prefix(ctx, "%s: corrupt ZIP archive: local header of the member", label);
    if (memcmp(h, "PK\x03\x04", 4) != 0)
        return simrep__fail(ctx, SIMREP_E_FORMAT, "%s: corrupt ZIP archive: bad local header signature at offset %llu",
                            label, (unsigned long long)e->local_off);
    uint64_t data = e->local_off + sizeof h + le16(h + 26) + le16(h + 28);
    if (data > rd->size || e->csize > rd->size - data)
        return simrep__fail(ctx, SIMREP_E_FORMAT,
                            "%s: truncated: the member's %llu bytes at offset %llu go beyond the end of the file (%llu "
                            "bytes)",
                            label, (unsigned long long)e->csize, (unsigned long long)data,
                            (unsigned long long)rd->size);
    /* Deflate expands at most 1032:1 (a 258-byte match costs at least two
     * bits), plus a few bytes of block framing: a larger claim is a lie, and
     * is refused here rather than allocated for (the shape decides the
     * caller's buffers) and found out only when the inflated data run short. */
    if (e->method == 8 && e->csize < UINT64_MAX / 1032 - 1 && e->usize > (e->csize + 1) * 1032)
        return simrep__fail(ctx, SIMREP_E_FORMAT,
                            "%s: corrupt ZIP archive: the member claims %llu bytes uncompressed from %llu compressed; "
                            "deflate cannot expand more than 1032-fold",
                            label, (unsigned long long)e->usize, (unsigned long long)e->csize);
    if (e->method == 0) {
        s->base = data;
        s->size = e->csize;
    } else if ((st = simrep__inflater_new(ctx, rd, data, e->csize, e->crc, label, &s->inf))) {
        return st;
    }
    memset(info, 0, sizeof *info);
    st = simrep__npy_parse(ctx, s, info, data_start);
    if (st == SIMREP_OK && (info->data_size > 0 || info->dtype_supported) &&
        *data_start + info->data_size != e->usize) {
        char shape[256];
        simrep__format_shape(info, shape, sizeof shape);
        st = simrep__fail(ctx, SIMREP_E_FORMAT,
                          "%s: the archive says the member has %llu bytes, but its npy header implies %llu (%llu of "
                          "header + shape %s of %s = %llu bytes of data)",
                          label, (unsigned long long)e->usize, (unsigned long long)(*data_start + info->data_size),
                          (unsigned long long)*data_start, shape, info->dtype_text,
                          (unsigned long long)info->data_size);
    }
    if (st) {
        simrep__inflater_free(ctx, s->inf);
        s->inf = NULL;
        return st;
    }
    if (s->inf)
        simrep__inflater_set_total(s->inf, *data_start + info->data_size);
    long klen = npy_key_len(e);
    shown_key(e, klen, info->name);
    info->name_len = klen;
    info->compressed = e->method == 8;
    info->data_offset = e->method == 0 ? data + *data_start : 0;
    return SIMREP_OK;
}

simrep_status simrep__npz_list(simrep_ctx *ctx, const simrep__reader *rd, simrep_array_info *infos, int cap,
                               int *count)
{
    zip_dir d;
    *count = 0;
    simrep_status st = find_dir(ctx, rd, &d);
    if (st)
        return st;
    uint64_t pos = d.cd_off;
    for (uint64_t i = 0; i < d.entries; i++) {
        zip_entry e;
        if ((st = read_entry(ctx, rd, &d, &pos, &e)))
            return st;
        long klen = npy_key_len(&e);
        if (klen < 0)
            continue;
        if (*count < cap) {
            char label[4096 + SIMREP_NAME_MAX + 8];
            char shown[SIMREP_NAME_MAX];
            shown_key(&e, klen, shown);
            snprintf(label, sizeof label, "%s:%s", rd->label, shown);
            simrep__stream s;
            uint64_t start;
            st = open_member(ctx, rd, &e, label, &s, &infos[*count], &start);
            simrep__inflater_free(ctx, s.inf);
            if (st)
                return st;
        }
        if (*count == INT_MAX)
            return simrep__fail(ctx, SIMREP_E_UNSUPPORTED, "%s: too many members", rd->label);
        (*count)++;
    }
    return SIMREP_OK;
}

simrep_status simrep__npz_open(simrep_ctx *ctx, const simrep__reader *rd, const char *key, simrep__stream *s,
                               simrep_array_info *info, uint64_t *data_start, char *label_out, size_t label_cap)
{
    zip_dir d;
    memset(s, 0, sizeof *s);
    simrep_status st = find_dir(ctx, rd, &d);
    if (st)
        return st;
    zip_entry e, found;
    memset(&found, 0, sizeof found);
    int nfound = 0, n = 0;
    char names[512] = "";
    size_t keylen = key ? strlen(key) : 0;
    uint64_t pos = d.cd_off;
    for (uint64_t i = 0; i < d.entries; i++) {
        if ((st = read_entry(ctx, rd, &d, &pos, &e)))
            return st;
        long klen = npy_key_len(&e);
        if (klen < 0)
            continue;
        int match = !key;
        if (key && (st = key_matches(ctx, rd, &e, klen, key, keylen, &match)))
            return st;
        if (match && nfound++ == 0)
            found = e;
        char shown[SIMREP_NAME_MAX];
        shown_key(&e, klen, shown);
        simrep__name_list_add(names, sizeof names, n++, shown);
    }
    if (n == 0)
        return simrep__fail(ctx, SIMREP_E_NOTFOUND, "%s: the archive holds no .npy arrays", rd->label);
    if (key && nfound == 0)
        return simrep__fail(ctx, SIMREP_E_NOTFOUND, "%s: no array '%.300s' in the archive; it holds %s", rd->label,
                            key, names);
    if (key && nfound > 1) /* only a shortened key can name two members */
        return simrep__fail(ctx, SIMREP_E_NOTFOUND, "%s: '%.300s' names %d arrays whose long keys start alike; give "
                            "the whole key", rd->label, key, nfound);
    if (!key && n > 1)
        return simrep__fail(ctx, SIMREP_E_NOTFOUND, "%s: the archive holds %d arrays (%s); name one as %s:KEY",
                            rd->label, n, names, rd->label);
    long klen = npy_key_len(&found);
    char shown[SIMREP_NAME_MAX];
    shown_key(&found, klen, shown);
    snprintf(label_out, label_cap, "%s:%s", rd->label, shown);
    return open_member(ctx, rd, &found, label_out, s, info, data_start);
}
