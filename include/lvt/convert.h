/* convert.h — `lvt convert` (docs/convert.md): reading NumPy .npy arrays and .npz archives (our own
 * .npy header parser, libzip for the zip container), writing float32 .npy matrices, and turning
 * the three input layouts (articles NPZ, sequences NPZ, raw .npy) into HDF5 article stores,
 * optionally split by article-id ranges. The layouts and every rule are in docs/convert.md. */
#ifndef LVT_CONVERT_H
#define LVT_CONVERT_H

#include <stdio.h>

#include "lvt/common.h"

/* ---- .npy arrays -------------------------------------------------------------------------- */

#define LVT_NPY_MAX_DIM 8

/* The element types we read: little-endian float32/float16/float64 and int64/int32. */
typedef enum { LVT_NPY_F4, LVT_NPY_F2, LVT_NPY_F8, LVT_NPY_I8, LVT_NPY_I4 } lvt_npy_dtype;

typedef struct lvt_npy_header {
    int major, minor;              /* format version: 1.0, 2.0 or 3.0 */
    lvt_npy_dtype dtype;
    int itemsize;                  /* bytes per element */
    char descr[32];                /* the dtype string as written, e.g. "<f4" */
    int ndim;
    int64_t shape[LVT_NPY_MAX_DIM];
    int64_t count;                 /* product of shape (1 for a 0-d array) */
    size_t data_offset;            /* bytes before the first element */
} lvt_npy_header;

/* Parse a .npy header from the first len bytes of an array (magic, version, header dict).
 * label names the array in messages ("x.npy" or "x.npz: member 'vectors'"). Unsupported dtypes
 * (big-endian, pickled objects '|O', structured, anything unknown), fortran_order True and a
 * header cut short are errors. */
int lvt_npy_parse_header(const unsigned char *buf, size_t len, const char *label, lvt_npy_header *h,
                         lvt_err *e);

/* IEEE half -> float, exact for every value (subnormals, infinities, NaN payloads). */
float lvt_f16_to_f32(uint16_t h);

/* A sequential reader over one array: a plain .npy file or one member of an .npz. */
typedef struct lvt_npy_stream {
    FILE *f;                       /* plain file, or */
    void *zf;                      /* zip_file_t * of an npz member */
    char label[320];
    lvt_npy_header h;
    int64_t done;                  /* elements read so far */
    unsigned char *buf;            /* conversion scratch */
    size_t cap;
} lvt_npy_stream;

/* Open a .npy file and read its header; checks that the file holds all the data. */
int lvt_npy_open(const char *path, lvt_npy_stream *s, lvt_err *e);

/* Read the next n elements, converted to float32 (f4/f2/f8 arrays only). */
int lvt_npy_read_f32(lvt_npy_stream *s, float *dst, int64_t n, lvt_err *e);

/* Read the next n elements as int64 (i8/i4 arrays only). */
int lvt_npy_read_i64(lvt_npy_stream *s, int64_t *dst, int64_t n, lvt_err *e);

/* Read and parse the header from a stream whose f or zf is set (used by the npz reader). */
int lvt_npy_stream_header(lvt_npy_stream *s, lvt_err *e);

void lvt_npy_close(lvt_npy_stream *s);

/* A sequential writer of a float32 .npy array of shape (rows, cols) (format 1.0). It writes a
 * temporary file beside path; lvt_npy_finish(ok = 1) checks that every row was written and
 * renames it into place atomically, lvt_npy_finish(ok = 0) discards it. */
typedef struct lvt_npy_writer {
    FILE *f;
    char path[1024];
    char tmp[1100];
    int64_t rows, done;
    int cols;
} lvt_npy_writer;

int lvt_npy_create_f32(lvt_npy_writer *w, const char *path, int64_t rows, int cols, lvt_err *e);
/* Append count rows of cols floats. */
int lvt_npy_write_rows(lvt_npy_writer *w, const float *x, int64_t count, lvt_err *e);
int lvt_npy_finish(lvt_npy_writer *w, int ok, lvt_err *e);

/* ---- .npz archives ------------------------------------------------------------------------ */

typedef struct lvt_npz {
    void *za;                      /* zip_t * */
    char path[1024];
    const char *base;              /* file name part of path, for messages */
} lvt_npz;

/* Open a zip archive. Not a zip and a truncated/damaged zip are distinct, clear errors. */
int lvt_npz_open(const char *path, lvt_npz *z, lvt_err *e);

/* 1 if the archive has member NAME.npy (name given without ".npy"). */
int lvt_npz_has(const lvt_npz *z, const char *name);

/* Comma-separated member names (without .npy) into buf, for messages. */
void lvt_npz_members(const lvt_npz *z, char *buf, size_t cap);

/* Open member NAME.npy and read its header; checks its stored size covers all the data. */
int lvt_npz_member(lvt_npz *z, const char *name, lvt_npy_stream *s, lvt_err *e);

void lvt_npz_close(lvt_npz *z);

/* ---- conversion --------------------------------------------------------------------------- */

#define LVT_CONVERT_MAX_SPLITS 16

/* --split NAME=LO-HI: articles with LO <= article id <= HI go to OUT-NAME.h5. */
typedef struct lvt_convert_split {
    char name[64];
    int64_t lo, hi;
} lvt_convert_split;

typedef struct lvt_convert_opts {
    const char *in;                /* .npz or .npy (recognised by content, not by name) */
    const char *out;               /* OUT.h5 */
    lvt_convert_split splits[LVT_CONVERT_MAX_SPLITS];
    int n_splits;
    int64_t article_len;           /* raw (N, D) .npy: rows per article; 0 = one article */
    double tolerance;              /* sequences: max |difference| between two copies of a chunk */
    int drop_degenerate;           /* drop rows with norm below LVT_MIN_ROW_NORM (else an error) */
    int compress;                  /* deflate level of /vectors in the output stores, 0 = none */
    FILE *log;                     /* notes and one summary line per store; NULL = quiet */
} lvt_convert_opts;

void lvt_convert_opts_default(lvt_convert_opts *o);

/* Parse "NAME=LO-HI" (NAME: letters, digits, '_' and '-', not "train"; 0 <= LO <= HI). */
int lvt_convert_parse_split(const char *arg, lvt_convert_split *sp, lvt_err *e);

/* The path of split NAME beside out: "data/all.h5" + "val" -> "data/all-val.h5". */
int lvt_convert_split_path(const char *out, const char *name, char *buf, size_t cap, lvt_err *e);

/* Run a conversion. Nothing is written unless every output store could be built; stores are
 * written to a temporary name and renamed into place at the end. */
int lvt_convert(const lvt_convert_opts *o, lvt_err *e);

#endif
