/*
 * io.h: what the input files share (source.c, io_npy.c, io_npz.c,
 * io_safetensors.c, bytes.c) and the public header does not show.
 *
 * The calls go one way: source.c (specs, formats, blocks of samples) ->
 * the parsers (io_npy.c, io_npz.c, io_safetensors.c) -> bytes.c, the byte
 * layer, which calls nothing above it (tests/python/test_layers.py).
 * The byte layer has two parts under every parser:
 *   - a reader: random access to the bytes of a file (pread on a
 *     descriptor) or of a caller's memory buffer, with one bounds check and
 *     one "truncated" message for both;
 *   - a stream: the bytes of one array's container inside the reader, either
 *     a plain byte range (.npy file, stored .npz member, safetensors file)
 *     or a deflated .npz member inflated on demand (simrep__inflater).
 * and the message helpers they share (simrep__format_shape,
 * simrep__name_list_add).
 * The npy header parser reads through a stream, so one parser serves .npy
 * files and both kinds of .npz member.  Every message starts with the label
 * ("path", "path:key" or "<buffer>") of what is being read.
 */
#ifndef SIMREP_IO_H
#define SIMREP_IO_H

#include "internal.h"

#include <stdint.h>
#include <stddef.h>

/* Labels in messages for sources over memory. */
#define SIMREP__BUFFER_LABEL "<buffer>"

typedef struct simrep__reader {
    int fd;                   /* -1 for a memory reader */
    const unsigned char *mem; /* memory reader: the caller's buffer */
    uint64_t size;            /* bytes in the file (fstat at open) or buffer */
    const char *label;        /* for messages; not owned */
    uint64_t dev, ino;        /* the file's identity at open (fstat), with size and mtime */
    int64_t mtime_sec, mtime_nsec;
} simrep__reader;

/* Read exactly n bytes at off; a short file is SIMREP_E_FORMAT
 * ("truncated: expected N bytes at offset O, file has M"), a failing read
 * SIMREP_E_IO.  Messages start with r->label. */
simrep_status simrep__reader_read(simrep_ctx *ctx, const simrep__reader *r, uint64_t off, void *dst, size_t n);

/* The failure just recorded (status st) concerns bytes [off, off + n) of
 * r: the file and the bytes go to the error info, and its detail is what
 * follows "<label>: " (simrep_ctx_error).  Returns st. */
simrep_status simrep__reader_failed(simrep_ctx *ctx, const simrep__reader *r, simrep_status st, uint64_t off, size_t n);

/* Open path read-only: SIMREP_E_IO for a missing file, a directory or
 * anything but a regular file.  r->label is set to label. */
simrep_status simrep__reader_open_file(simrep_ctx *ctx, const char *path, const char *label, simrep__reader *r);
void simrep__reader_close(simrep__reader *r);

typedef struct simrep__inflater simrep__inflater;

typedef struct simrep__stream {
    const simrep__reader *rd;
    uint64_t base, size;   /* plain stream: bytes [base, base + size) of rd */
    simrep__inflater *inf; /* non-NULL: a deflated member (base/size unused) */
    const char *label;
} simrep__stream;

/* Up to n bytes at off of the stream; *got receives how many there were
 * (fewer only at the end of the stream). */
simrep_status simrep__stream_read_upto(simrep_ctx *ctx, simrep__stream *s, uint64_t off, void *dst, size_t n,
                                       size_t *got);
/* Exactly n bytes at off; fewer is a SIMREP_E_FORMAT "truncated" error. */
simrep_status simrep__stream_read(simrep_ctx *ctx, simrep__stream *s, uint64_t off, void *dst, size_t n);

/* ---------------------------------------------------------------- npy */

/*
 * Parse the npy preamble and header at the start of s: fills info's ndim,
 * shape, dtype fields, fortran_order, big_endian and data_size (0 when the
 * dtype's item size is unknown), and *data_start (offset of the data in s).
 * Does not check that the data fit: callers know their container's size.
 */
simrep_status simrep__npy_parse(simrep_ctx *ctx, simrep__stream *s, simrep_array_info *info, uint64_t *data_start);
/* "int64", "complex128", ... for an npy descr, or NULL if unknown. */
const char *simrep__npy_kind_name(const char *descr, char *buf, size_t cap);

/* ---------------------------------------------------------------- npz */

/* List the .npy members of the archive in rd (infos may be NULL if cap is 0). */
simrep_status simrep__npz_list(simrep_ctx *ctx, const simrep__reader *rd, simrep_array_info *infos, int cap,
                               int *count);
/*
 * Find member key (NULL: the only one) and set up *s to read it (s->inf is
 * allocated for a deflated member; free it with simrep__inflater_free).
 * label_out receives "label:key" for messages.
 */
simrep_status simrep__npz_open(simrep_ctx *ctx, const simrep__reader *rd, const char *key, simrep__stream *s,
                               simrep_array_info *info, uint64_t *data_start, char *label_out, size_t label_cap);

/* A deflated member: comp_size bytes at comp_off of rd, whose inflated
 * bytes must have CRC-32 crc (checked at the end); label for messages. */
simrep_status simrep__inflater_new(simrep_ctx *ctx, const simrep__reader *rd, uint64_t comp_off, uint64_t comp_size,
                                   uint32_t crc, const char *label, simrep__inflater **out);
void simrep__inflater_free(simrep_ctx *ctx, simrep__inflater *inf);
simrep_status simrep__inflater_read_upto(simrep_ctx *ctx, simrep__inflater *inf, uint64_t off, void *dst, size_t n,
                                         size_t *got);
/* The member must inflate to exactly total bytes: reads reaching total also
 * check that the stream ends there. */
void simrep__inflater_set_total(simrep__inflater *inf, uint64_t total);
/* Inflate the whole member once into an anonymous temporary file; later
 * reads are preads from it (for layouts that read the member out of order). */
simrep_status simrep__inflater_spill(simrep_ctx *ctx, simrep__inflater *inf);

/* --------------------------------------------------------- safetensors */

simrep_status simrep__st_list(simrep_ctx *ctx, const simrep__reader *rd, simrep_array_info *infos, int cap,
                              int *count);
/* Find tensor name (NULL: the only one); fills info (data_offset absolute). */
simrep_status simrep__st_open(simrep_ctx *ctx, const simrep__reader *rd, const char *name, simrep_array_info *info);

/* -------------------------------------------------------------- shared */

/* The length of the path part of a spec ("x.npz:key" -> 5); *key is set to
 * the key (after the last ':', possibly "") when the part before that ':'
 * ends in .npz or .safetensors, else to NULL.  Exposed for the fuzz target. */
size_t simrep__split_spec(const char *spec, const char **key);
/* The source's "path" or "path:key" for messages (simrep_input). */
const char *simrep__source_label(const simrep_source *src);
/* Open spec as simrep_source_open does, but keep arrays of any dtype with
 * a known item size (bool, integers: token masks); such a source is read
 * with simrep__source_read_bytes only. */
simrep_status simrep__source_open_raw(simrep_ctx *ctx, const char *spec, simrep_source **out);
/* Bytes [off, off + n) of the array's data, in the file's memory order and
 * byte order (info->big_endian). */
simrep_status simrep__source_read_bytes(simrep_ctx *ctx, simrep_source *src, uint64_t off, void *dst, size_t n);
/* "(1000, 64)", "(5,)", "()" into buf. */
void simrep__format_shape(const simrep_array_info *info, char *buf, size_t cap);
/* Append name to a "a, b, c" list in buf (at most a few, then "..."). */
void simrep__name_list_add(char *buf, size_t cap, int index, const char *name);

#endif
