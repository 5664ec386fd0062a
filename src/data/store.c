/* store.c — the HDF5 article store (docs/formats.md): atomic write (PATH.tmp, then
 * rename), whole and article-range reads that validate every dataset and attribute, the header
 * probe, the in-memory consistency check, L2 normalisation on load, and the row files of
 * `lvt predict` (a float32 matrix streamed into HDF5). Every error names the file
 * and the dataset or attribute it concerns; HDF5's own error printing is silenced. */
#include "lvt/data.h"

#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STORE_FORMAT "lvt-articles"
#define STORE_VERSION 1
#define CHUNK_TARGET_BYTES (1 << 20) /* automatic chunking: about 1 MiB of rows per chunk */
#define MAX_ELEM_BYTES 16             /* no integer or float type is wider: a wider one is corrupt */
#define MAX_COMPRESSION 1100.0        /* deflate stores at most ~1032 bytes of data per byte */
#define MAX_ATTR_STR (1 << 20)        /* longest fixed-length string attribute read */

/* HDF5 prints its error stack on stderr by default; lvt reports its own single message. */
static void h5_quiet(void) { H5Eset_auto2(H5E_DEFAULT, NULL, NULL); }

static int h5_is_hdf5(const char *path) {
#if H5_VERSION_GE(1, 12, 0)
    return H5Fis_accessible(path, H5P_DEFAULT) > 0;
#else
    return H5Fis_hdf5(path) > 0;
#endif
}

/* File access: close every object with the file; use file locks where the file system has
 * them (many parallel file systems do not: best effort, as HDF5_USE_FILE_LOCKING=BEST_EFFORT). */
static hid_t h5_fapl(void) {
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    H5Pset_fclose_degree(fapl, H5F_CLOSE_STRONG);
#if H5_VERSION_GE(1, 10, 7)
    H5Pset_file_locking(fapl, 1, 1);
#endif
    return fapl;
}

static void h5_vlen_free(hid_t type, hid_t space, void *buf) {
#if H5_VERSION_GE(1, 12, 0)
    H5Treclaim(type, space, H5P_DEFAULT, buf);
#else
    H5Dvlen_reclaim(type, space, H5P_DEFAULT, buf);
#endif
}

static void h5_close_any(hid_t id) {
    if (id < 0) return;
    switch (H5Iget_type(id)) {
    case H5I_FILE: H5Fclose(id); break;
    case H5I_DATASET: H5Dclose(id); break;
    case H5I_DATASPACE: H5Sclose(id); break;
    case H5I_DATATYPE: H5Tclose(id); break;
    case H5I_ATTR: H5Aclose(id); break;
    case H5I_GENPROP_LST: H5Pclose(id); break;
    default: break;
    }
}

/* ---- in-memory check ------------------------------------------------------------------------ */

int lvt_store_check(const lvt_store *s, const char *name, lvt_err *e) {
    if (!name) name = "store";
    if (s->dim < 1) return lvt_errf(e, "%s: dim is %d, must be >= 1", name, s->dim);
    if (s->n < 0) return lvt_errf(e, "%s: /vectors: row count %lld is negative", name, (long long)s->n);
    if (s->n_articles < 0)
        return lvt_errf(e, "%s: /article_offsets: article count %lld is negative", name,
                        (long long)s->n_articles);
    if (s->n > 0 && !s->vectors) return lvt_errf(e, "%s: /vectors: no data", name);
    if (!s->offsets) return lvt_errf(e, "%s: /article_offsets: no data", name);
    if (s->n_articles > 0 && !s->article_ids) return lvt_errf(e, "%s: /article_ids: no data", name);
    if (s->offsets[0] != 0)
        return lvt_errf(e, "%s: /article_offsets: first offset is %lld, must be 0", name,
                        (long long)s->offsets[0]);
    for (int64_t a = 0; a < s->n_articles; a++) {
        if (s->offsets[a + 1] < s->offsets[a])
            return lvt_errf(e, "%s: /article_offsets: not monotone at article %lld (%lld then %lld)",
                            name, (long long)a, (long long)s->offsets[a],
                            (long long)s->offsets[a + 1]);
        if (s->offsets[a + 1] > s->n)
            return lvt_errf(e, "%s: /article_offsets: offset %lld of article %lld is past N = %lld",
                            name, (long long)s->offsets[a + 1], (long long)a, (long long)s->n);
    }
    if (s->offsets[s->n_articles] != s->n)
        return lvt_errf(e, "%s: /article_offsets: last offset is %lld, must equal N = %lld rows of /vectors",
                        name, (long long)s->offsets[s->n_articles], (long long)s->n);
    const size_t D = (size_t)s->dim;
    for (int64_t r = 0; r < s->n; r++) {
        const float *v = s->vectors + (size_t)r * D;
        double ss = 0.0;
        for (size_t j = 0; j < D; j++) {
            if (!isfinite(v[j]))
                return lvt_errf(e, "%s: /vectors: row %lld holds a non-finite value (%s) in column %zu",
                                name, (long long)r, isnan(v[j]) ? "NaN" : "Inf", j);
            ss += (double)v[j] * (double)v[j];
        }
        if (sqrt(ss) < LVT_MIN_ROW_NORM) /* every reader would refuse it */
            return lvt_errf(e, "%s: /vectors: row %lld has norm %.3g, below %g (a zero or degenerate vector)", name,
                            (long long)r, sqrt(ss), LVT_MIN_ROW_NORM);
    }
    return LVT_OK;
}

void lvt_store_free(lvt_store *s) {
    if (!s) return;
    free(s->vectors);
    free(s->offsets);
    free(s->article_ids);
    free(s->chunk_ids);
    memset(s, 0, sizeof *s);
}

/* ---- write ---------------------------------------------------------------------------------- */

static int write_attr_int(hid_t file, const char *name, int64_t v) {
    hid_t sp = H5Screate(H5S_SCALAR);
    hid_t at = H5Acreate2(file, name, H5T_STD_I64LE, sp, H5P_DEFAULT, H5P_DEFAULT);
    int rc = (at >= 0 && H5Awrite(at, H5T_NATIVE_INT64, &v) >= 0) ? 0 : -1;
    h5_close_any(at);
    h5_close_any(sp);
    return rc;
}

static int write_attr_str(hid_t file, const char *name, const char *v) {
    hid_t sp = H5Screate(H5S_SCALAR);
    hid_t ty = H5Tcopy(H5T_C_S1);
    size_t len = strlen(v);
    H5Tset_size(ty, len ? len : 1);
    H5Tset_strpad(ty, H5T_STR_NULLPAD);
    H5Tset_cset(ty, H5T_CSET_UTF8);
    hid_t at = H5Acreate2(file, name, ty, sp, H5P_DEFAULT, H5P_DEFAULT);
    char pad[1] = {0};
    int rc = (at >= 0 && H5Awrite(at, ty, len ? v : pad) >= 0) ? 0 : -1;
    h5_close_any(at);
    h5_close_any(ty);
    h5_close_any(sp);
    return rc;
}

/* A 1-D int64 dataset of length n (contiguous; zero-length allowed). */
static int write_i64(hid_t file, const char *name, const int64_t *data, int64_t n) {
    hsize_t dims[1] = {(hsize_t)n};
    hid_t sp = H5Screate_simple(1, dims, NULL);
    hid_t ds = H5Dcreate2(file, name, H5T_STD_I64LE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    int rc = ds >= 0 ? 0 : -1;
    if (rc == 0 && n > 0 && H5Dwrite(ds, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0)
        rc = -1;
    h5_close_any(ds);
    h5_close_any(sp);
    return rc;
}

static int write_vectors(hid_t file, const lvt_store *s, const lvt_store_write_opts *o) {
    int64_t rows = o ? o->chunk_rows : 0;
    if (rows <= 0) rows = CHUNK_TARGET_BYTES / ((int64_t)s->dim * 4);
    if (rows > s->n) rows = s->n;
    if (rows < 1) rows = 1;
    const int64_t max_rows = (int64_t)(0xFFFFFFFFu / 4u) / s->dim; /* HDF5 chunks are < 4 GiB */
    if (rows > max_rows) rows = max_rows;
    hsize_t dims[2] = {(hsize_t)s->n, (hsize_t)s->dim};
    hsize_t chunk[2] = {(hsize_t)rows, (hsize_t)s->dim};
    hid_t sp = H5Screate_simple(2, dims, NULL);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    int rc = (sp >= 0 && dcpl >= 0 && H5Pset_chunk(dcpl, 2, chunk) >= 0) ? 0 : -1;
    if (rc == 0 && o && o->compress > 0) {
        if (H5Pset_shuffle(dcpl) < 0 || H5Pset_deflate(dcpl, (unsigned)(o->compress > 9 ? 9 : o->compress)) < 0)
            rc = -1;
    }
    hid_t ds = -1;
    if (rc == 0) ds = H5Dcreate2(file, "vectors", H5T_IEEE_F32LE, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    if (ds < 0) rc = -1;
    if (rc == 0 && s->n > 0 &&
        H5Dwrite(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, s->vectors) < 0)
        rc = -1;
    h5_close_any(ds);
    h5_close_any(dcpl);
    h5_close_any(sp);
    return rc;
}

int lvt_store_write(const char *path, const lvt_store *s, const lvt_store_write_opts *opts, lvt_err *e) {
    h5_quiet();
    if (lvt_store_check(s, path, e)) return LVT_ERROR;
    if (opts && (opts->compress < 0 || opts->compress > 9))
        return lvt_errf(e, "%s: compression level %d out of range 0..9", path, opts->compress);
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp)
        return lvt_errf(e, "%s: path too long", path);

    hid_t fapl = h5_fapl();
    hid_t file = H5Fcreate(tmp, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    h5_close_any(fapl);
    if (file < 0) return lvt_errf(e, "%s: cannot create file (directory missing or not writable?)", tmp);

    const char *what = NULL;
    if (write_vectors(file, s, opts)) what = "/vectors";
    else if (write_i64(file, "article_offsets", s->offsets, s->n_articles + 1)) what = "/article_offsets";
    else if (write_i64(file, "article_ids", s->article_ids, s->n_articles)) what = "/article_ids";
    else if (s->chunk_ids && write_i64(file, "chunk_ids", s->chunk_ids, s->n)) what = "/chunk_ids";
    else if (write_attr_str(file, "format", STORE_FORMAT)) what = "attribute format";
    else if (write_attr_int(file, "version", STORE_VERSION)) what = "attribute version";
    else if (write_attr_int(file, "dim", s->dim)) what = "attribute dim";
    else if (write_attr_int(file, "normalized", s->normalized ? 1 : 0)) what = "attribute normalized";
    else if (write_attr_str(file, "source", s->source)) what = "attribute source";
    if (H5Fclose(file) < 0 && !what) what = "file close (disk full?)";
    if (what) {
        remove(tmp);
        return lvt_errf(e, "%s: cannot write %s (disk full or not writable?)", path, what);
    }
    if (rename(tmp, path) != 0) {
        remove(tmp);
        return lvt_errf(e, "%s: cannot rename %s into place", path, tmp);
    }
    return LVT_OK;
}

/* ---- row files (`lvt predict`) ----------------------------------------------------------------- */

_Static_assert(sizeof(hid_t) == sizeof(int64_t), "lvt_rows_h5 keeps HDF5 ids as int64_t");

int lvt_rows_h5_create(lvt_rows_h5 *w, const char *path, const char *dataset, int64_t rows, int cols, lvt_err *e) {
    memset(w, 0, sizeof *w);
    w->file = w->dset = -1;
    h5_quiet();
    if (strlen(path) >= sizeof w->path) return lvt_errf(e, "%s: path too long", path);
    snprintf(w->path, sizeof w->path, "%s", path);
    w->rows = rows;
    w->cols = cols;
    lvt_atomic_tmp_path(path, w->tmp, sizeof w->tmp);
    hid_t fapl = h5_fapl();
    w->file = H5Fcreate(w->tmp, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    h5_close_any(fapl);
    if (w->file < 0) return lvt_errf(e, "%s: cannot create the temporary output %s", path, w->tmp);
    hsize_t dims[2] = {(hsize_t)rows, (hsize_t)cols};
    hid_t sp = H5Screate_simple(2, dims, NULL);
    w->dset = H5Dcreate2(w->file, dataset, H5T_IEEE_F32LE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    h5_close_any(sp);
    if (w->dset < 0) return lvt_errf(e, "%s: cannot create /%s", path, dataset);
    return LVT_OK;
}

int lvt_rows_h5_write(lvt_rows_h5 *w, int64_t row0, const float *x, int64_t count, lvt_err *e) {
    if (row0 < 0 || count < 0 || row0 + count > w->rows)
        return lvt_errf(e, "%s: rows %lld..%lld outside [0, %lld)", w->path, (long long)row0,
                        (long long)(row0 + count), (long long)w->rows);
    hsize_t start[2] = {(hsize_t)row0, 0}, cnt[2] = {(hsize_t)count, (hsize_t)w->cols};
    hid_t fs = H5Dget_space(w->dset);
    hid_t ms = H5Screate_simple(2, cnt, NULL);
    herr_t st = H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, cnt, NULL);
    if (st >= 0) st = H5Dwrite(w->dset, H5T_NATIVE_FLOAT, ms, fs, H5P_DEFAULT, x);
    h5_close_any(ms);
    h5_close_any(fs);
    return st < 0 ? lvt_errf(e, "%s: writing the rows failed", w->path) : LVT_OK;
}

int lvt_rows_h5_write_i64(lvt_rows_h5 *w, const char *dataset, const int64_t *v, lvt_err *e) {
    if (write_i64(w->file, dataset, v, w->rows)) return lvt_errf(e, "%s: writing /%s failed", w->path, dataset);
    return LVT_OK;
}

int lvt_rows_h5_finish(lvt_rows_h5 *w, int ok, lvt_err *e) {
    int bad = !ok;
    if (w->dset >= 0 && H5Dclose(w->dset) < 0) bad = 1;
    if (w->file >= 0 && H5Fclose(w->file) < 0) bad = 1;
    int opened = w->file >= 0;
    w->file = w->dset = -1;
    if (bad) {
        if (opened) remove(w->tmp);
        return ok ? lvt_errf(e, "%s: writing the file failed (disk full?)", w->path) : LVT_ERROR;
    }
    return lvt_atomic_commit(w->tmp, w->path, e);
}

/* ---- read ----------------------------------------------------------------------------------- */

/* Open the file read-only after checking that it exists and is HDF5. */
static hid_t open_store_file(const char *path, lvt_err *e) {
    h5_quiet();
    FILE *f = fopen(path, "rb");
    if (!f) {
        lvt_errf(e, "%s: cannot open file (missing or not readable)", path);
        return -1;
    }
    fclose(f);
    if (!h5_is_hdf5(path)) {
        lvt_errf(e, "%s: not an HDF5 file (expected an lvt-articles store)", path);
        return -1;
    }
    hid_t fapl = h5_fapl();
    hid_t file = H5Fopen(path, H5F_ACC_RDONLY, fapl);
    h5_close_any(fapl);
    if (file < 0) lvt_errf(e, "%s: cannot open HDF5 file (truncated or locked?)", path);
    return file;
}

/* The attribute handles of one root attribute read. */
typedef struct root_attr {
    hid_t at, ty, sp;
} root_attr;

static void root_attr_close(root_attr *a) {
    h5_close_any(a->sp);
    h5_close_any(a->ty);
    h5_close_any(a->at);
}

/* Open root attribute `name` and check it is a scalar of class cls (what = "an integer" or "a
 * string", for messages). Returns LVT_OK with a opened, 1 when absent and not required, or an
 * error; on anything but LVT_OK nothing is left open. */
static int root_attr_open(hid_t file, const char *path, const char *name, int required, H5T_class_t cls,
                          const char *what, root_attr *a, lvt_err *e) {
    a->at = a->ty = a->sp = -1;
    if (H5Aexists(file, name) <= 0) {
        if (!required) return 1;
        return lvt_errf(e, "%s: root attribute %s is missing (not an lvt-articles store?)", path, name);
    }
    a->at = H5Aopen(file, name, H5P_DEFAULT);
    a->ty = a->at >= 0 ? H5Aget_type(a->at) : -1;
    a->sp = a->at >= 0 ? H5Aget_space(a->at) : -1;
    int rc = LVT_OK;
    if (a->at < 0 || a->ty < 0 || a->sp < 0) rc = lvt_errf(e, "%s: root attribute %s cannot be opened", path, name);
    else if (H5Tget_class(a->ty) != cls) rc = lvt_errf(e, "%s: root attribute %s must be %s", path, name, what);
    else if (H5Sget_simple_extent_npoints(a->sp) != 1)
        rc = lvt_errf(e, "%s: root attribute %s must be a scalar%s", path, name, cls == H5T_STRING ? " string" : "");
    if (rc) root_attr_close(a);
    return rc;
}

/* Read a root attribute that must be an integer scalar. Returns 1 if absent (and not required). */
static int read_attr_int(hid_t file, const char *path, const char *name, int required, int64_t *out,
                         lvt_err *e) {
    root_attr a;
    int rc = root_attr_open(file, path, name, required, H5T_INTEGER, "an integer", &a, e);
    if (rc) return rc;
    if (H5Aread(a.at, H5T_NATIVE_INT64, out) < 0) rc = lvt_errf(e, "%s: root attribute %s cannot be read", path, name);
    root_attr_close(&a);
    return rc;
}

/* Read a root string attribute (fixed or variable length) into out[cap]. 1 if absent. */
static int read_attr_str(hid_t file, const char *path, const char *name, int required, char *out,
                         size_t cap, lvt_err *e) {
    out[0] = 0;
    root_attr a;
    int rc = root_attr_open(file, path, name, required, H5T_STRING, "a string", &a, e);
    if (rc) return rc;
    hid_t at = a.at, ty = a.ty, sp = a.sp;
    if (H5Tis_variable_str(ty) > 0) {
        hid_t mt = H5Tcopy(H5T_C_S1);
        H5Tset_size(mt, H5T_VARIABLE);
        H5Tset_cset(mt, H5Tget_cset(ty));
        char *v = NULL;
        if (H5Aread(at, mt, &v) < 0) rc = lvt_errf(e, "%s: root attribute %s cannot be read", path, name);
        else if (v) {
            snprintf(out, cap, "%s", v);
            h5_vlen_free(mt, sp, &v);
        }
        h5_close_any(mt);
    } else {
        size_t sz = H5Tget_size(ty);
        char *buf = sz <= MAX_ATTR_STR ? calloc(sz + 1, 1) : NULL;
        hid_t mt = H5Tcopy(ty);
        if (sz > MAX_ATTR_STR) rc = lvt_errf(e, "%s: root attribute %s is a %zu-byte string (corrupt?)", path, name, sz);
        else if (!buf) rc = lvt_errf(e, "%s: out of memory reading attribute %s", path, name);
        else if (H5Aread(at, mt, buf) < 0)
            rc = lvt_errf(e, "%s: root attribute %s cannot be read", path, name);
        else {
            for (size_t k = sz; k > 0 && (buf[k - 1] == ' ' || buf[k - 1] == 0); k--) buf[k - 1] = 0;
            snprintf(out, cap, "%s", buf); /* space-padded (Fortran-style) strings trimmed */
        }
        free(buf);
        h5_close_any(mt);
    }
    root_attr_close(&a);
    return rc;
}

/* Open dataset /name and check that it exists, has the given rank and type class. dims[rank]. */
static hid_t open_dataset(hid_t file, const char *path, const char *name, int rank, H5T_class_t cls,
                          hsize_t *dims, lvt_err *e) {
    if (H5Lexists(file, name, H5P_DEFAULT) <= 0) {
        lvt_errf(e, "%s: /%s: dataset missing (not an lvt-articles store?)", path, name);
        return -1;
    }
    hid_t ds = H5Oopen(file, name, H5P_DEFAULT);
    if (ds < 0 || H5Iget_type(ds) != H5I_DATASET) {
        if (ds >= 0) H5Oclose(ds);
        lvt_errf(e, "%s: /%s: is not a dataset (or cannot be opened)", path, name);
        return -1;
    }
    hid_t ty = H5Dget_type(ds), sp = H5Dget_space(ds);
    int r = sp >= 0 ? H5Sget_simple_extent_ndims(sp) : -1;
    H5T_class_t c = ty >= 0 ? H5Tget_class(ty) : H5T_NO_CLASS;
    const char *want = cls == H5T_FLOAT ? "floating point" : "integer";
    int ok = 0;
    if (r != rank)
        lvt_errf(e, "%s: /%s: has rank %d, expected %d", path, name, r, rank);
    else if (c != cls)
        lvt_errf(e, "%s: /%s: has a non-%s type, expected %s", path, name, want,
                 cls == H5T_FLOAT ? "float32" : "int64");
    else if (H5Tget_size(ty) == 0 || H5Tget_size(ty) > MAX_ELEM_BYTES)
        lvt_errf(e, "%s: /%s: has %zu-byte elements (a corrupt datatype)", path, name, H5Tget_size(ty));
    else if ((double)H5Sget_simple_extent_npoints(sp) * (double)H5Tget_size(ty) >
             (double)H5Dget_storage_size(ds) * MAX_COMPRESSION)
        lvt_errf(e, "%s: /%s: has %lld elements but %llu bytes stored (a corrupt or unwritten dataset)", path,
                 name, (long long)H5Sget_simple_extent_npoints(sp), (unsigned long long)H5Dget_storage_size(ds));
    else {
        H5Sget_simple_extent_dims(sp, dims, NULL);
        ok = 1;
    }
    h5_close_any(ty);
    h5_close_any(sp);
    if (!ok) {
        H5Dclose(ds);
        return -1;
    }
    return ds;
}

/* Read elements [lo, lo+count) of a 1-D dataset, or rows [lo, lo+count) of a 2-D [*, cols] one. */
static int read_rows(hid_t ds, hid_t memtype, int rank, hsize_t lo, hsize_t count, hsize_t cols,
                     void *out) {
    if (count == 0) return 0;
    hsize_t start[2] = {lo, 0}, cnt[2] = {count, cols};
    hid_t fs = H5Dget_space(ds);
    hid_t ms = H5Screate_simple(rank, cnt, NULL);
    int rc = -1;
    if (fs >= 0 && ms >= 0 && H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, cnt, NULL) >= 0 &&
        H5Dread(ds, memtype, ms, fs, H5P_DEFAULT, out) >= 0)
        rc = 0;
    h5_close_any(ms);
    h5_close_any(fs);
    return rc;
}

/* Header: format, version, dim attributes; /vectors and /article_offsets shapes. Leaves the two
 * datasets open in *vec, *off on success. */
static int read_header(hid_t file, const char *path, lvt_store *s, hid_t *vec, hid_t *off, hsize_t vdims[2],
                       hsize_t *n_off, lvt_err *e) {
    char fmt[64];
    int64_t version = 0, dim = 0, normalized = 0;
    *vec = *off = -1;
    if (read_attr_str(file, path, "format", 1, fmt, sizeof fmt, e)) return LVT_ERROR;
    if (strcmp(fmt, STORE_FORMAT) != 0)
        return lvt_errf(e, "%s: root attribute format is \"%s\", expected \"%s\"", path, fmt, STORE_FORMAT);
    if (read_attr_int(file, path, "version", 1, &version, e)) return LVT_ERROR;
    if (version != STORE_VERSION)
        return lvt_errf(e, "%s: root attribute version is %lld, this lvt reads version %d", path,
                        (long long)version, STORE_VERSION);
    if (read_attr_int(file, path, "dim", 1, &dim, e)) return LVT_ERROR;
    if (read_attr_int(file, path, "normalized", 0, &normalized, e) < 0) return LVT_ERROR;
    if (read_attr_str(file, path, "source", 0, s->source, sizeof s->source, e) < 0) return LVT_ERROR;
    *vec = open_dataset(file, path, "vectors", 2, H5T_FLOAT, vdims, e);
    if (*vec < 0) return LVT_ERROR;
    if (dim < 1 || dim > 1000000 || (hsize_t)dim != vdims[1])
        return lvt_errf(e, "%s: /vectors: has %llu columns but root attribute dim = %lld", path,
                        (unsigned long long)vdims[1], (long long)dim);
    *off = open_dataset(file, path, "article_offsets", 1, H5T_INTEGER, n_off, e);
    if (*off < 0) return LVT_ERROR;
    if (*n_off < 1) return lvt_errf(e, "%s: /article_offsets: is empty, needs A+1 >= 1 entries", path);
    s->dim = (int)dim;
    s->normalized = normalized ? 1 : 0;
    return LVT_OK;
}

int lvt_store_probe(const char *path, int64_t *n, int *dim, int64_t *n_articles, lvt_err *e) {
    lvt_store s;
    memset(&s, 0, sizeof s);
    hid_t file = open_store_file(path, e);
    if (file < 0) return LVT_ERROR;
    hid_t vec = -1, off = -1;
    hsize_t vdims[2] = {0, 0}, n_off = 0;
    int rc = read_header(file, path, &s, &vec, &off, vdims, &n_off, e);
    if (rc == LVT_OK) {
        if (n) *n = (int64_t)vdims[0];
        if (dim) *dim = s.dim;
        if (n_articles) *n_articles = (int64_t)n_off - 1;
    }
    h5_close_any(off);
    h5_close_any(vec);
    H5Fclose(file);
    return rc;
}

/* Validate offsets against N (the whole file's rows). */
static int check_offsets(const char *path, const int64_t *off, int64_t A, int64_t N, lvt_err *e) {
    if (off[0] != 0)
        return lvt_errf(e, "%s: /article_offsets: first offset is %lld, must be 0", path, (long long)off[0]);
    for (int64_t a = 0; a < A; a++) {
        if (off[a + 1] < off[a])
            return lvt_errf(e, "%s: /article_offsets: not monotone at article %lld (%lld then %lld)", path,
                            (long long)a, (long long)off[a], (long long)off[a + 1]);
        if (off[a + 1] > N)
            return lvt_errf(e, "%s: /article_offsets: offset %lld of article %lld is past N = %lld rows of /vectors",
                            path, (long long)off[a + 1], (long long)a, (long long)N);
    }
    if (off[A] != N)
        return lvt_errf(e, "%s: /article_offsets: last offset is %lld, must equal N = %lld rows of /vectors",
                        path, (long long)off[A], (long long)N);
    return LVT_OK;
}

int lvt_store_read_offsets(const char *path, int64_t **offsets, int64_t *n_articles, lvt_err *e) {
    lvt_store s;
    memset(&s, 0, sizeof s);
    *offsets = NULL;
    *n_articles = 0;
    hid_t file = open_store_file(path, e);
    if (file < 0) return LVT_ERROR;
    hid_t vec = -1, off = -1;
    hsize_t vdims[2] = {0, 0}, n_off = 0;
    int64_t *o = NULL;
    int rc = read_header(file, path, &s, &vec, &off, vdims, &n_off, e);
    if (rc == LVT_OK) {
        o = lvt_malloc((size_t)n_off * sizeof(int64_t), e);
        if (!o) rc = lvt_err_prefix(e, "%s: /article_offsets", path);
        else if (read_rows(off, H5T_NATIVE_INT64, 1, 0, n_off, 0, o))
            rc = lvt_errf(e, "%s: /article_offsets: cannot be read (truncated file?)", path);
        else rc = check_offsets(path, o, (int64_t)n_off - 1, (int64_t)vdims[0], e);
    }
    h5_close_any(off);
    h5_close_any(vec);
    H5Fclose(file);
    if (rc != LVT_OK) {
        free(o);
        return rc;
    }
    *offsets = o;
    *n_articles = (int64_t)n_off - 1;
    return LVT_OK;
}

static int row_degenerate(const float *v, size_t D) {
    double ss = 0.0;
    for (size_t j = 0; j < D; j++) ss += (double)v[j] * (double)v[j];
    return !(sqrt(ss) >= LVT_MIN_ROW_NORM);
}

int64_t lvt_store_drop_degenerate(lvt_store *s) {
    const size_t D = (size_t)s->dim;
    int64_t w = 0, aw = 0;
    for (int64_t a = 0; a < s->n_articles; a++) {
        const int64_t r0 = s->offsets[a], r1 = s->offsets[a + 1], w0 = w;
        for (int64_t r = r0; r < r1; r++) {
            if (row_degenerate(s->vectors + (size_t)r * D, D)) continue;
            if (w != r) memmove(s->vectors + (size_t)w * D, s->vectors + (size_t)r * D, D * sizeof(float));
            if (s->chunk_ids) s->chunk_ids[w] = s->chunk_ids[r];
            w++;
        }
        if (w == w0) continue; /* the article is empty now */
        s->article_ids[aw] = s->article_ids[a];
        s->offsets[aw] = w0;
        aw++;
    }
    s->offsets[aw] = w;
    int64_t dropped = s->n - w;
    s->n = w;
    s->n_articles = aw;
    return dropped;
}

/* NaN/Inf and degenerate-row check and optional L2 normalisation of rows [0, n); row numbers
 * reported as in the file. */
static int finish_vectors(const char *path, lvt_store *s, int64_t file_row0, int flags, lvt_err *e) {
    const size_t D = (size_t)s->dim;
    int64_t n_bad = 0;
    for (int64_t r = 0; r < s->n; r++) {
        float *v = s->vectors + (size_t)r * D;
        double ss = 0.0;
        for (size_t j = 0; j < D; j++) {
            if (!isfinite(v[j]))
                return lvt_errf(e, "%s: /vectors: row %lld holds a non-finite value (%s) in column %zu", path,
                                (long long)(file_row0 + r), isnan(v[j]) ? "NaN" : "Inf", j);
            ss += (double)v[j] * (double)v[j];
        }
        if (sqrt(ss) < LVT_MIN_ROW_NORM) {
            if (!(flags & LVT_STORE_DROP_DEGENERATE))
                return lvt_errf(e, "%s: /vectors: row %lld has norm %.3g, below %g (a zero or degenerate vector; "
                                   "drop such rows with `lvt convert --drop-degenerate`, or on load with data.drop_degenerate)",
                                path, (long long)(file_row0 + r), sqrt(ss), LVT_MIN_ROW_NORM);
            n_bad++;
            continue;
        }
        if (!(flags & LVT_STORE_NORMALIZE)) continue;
        float inv = (float)(1.0 / sqrt(ss));
        for (size_t j = 0; j < D; j++) v[j] *= inv;
    }
    if (n_bad) s->dropped = lvt_store_drop_degenerate(s);
    if (flags & LVT_STORE_NORMALIZE) s->normalized = 1;
    return LVT_OK;
}

static int read_store(const char *path, int ranged, int64_t a_lo, int64_t a_hi, int normalize, lvt_store *s,
                      lvt_err *e) {
    memset(s, 0, sizeof *s);
    hid_t file = open_store_file(path, e);
    if (file < 0) return LVT_ERROR;
    hid_t vec = -1, off = -1, ids = -1, cids = -1;
    hsize_t vdims[2] = {0, 0}, n_off = 0, n_ids = 0, n_cids = 0;
    int64_t *all_off = NULL;
    int rc = read_header(file, path, s, &vec, &off, vdims, &n_off, e);
    const int64_t N = (int64_t)vdims[0], A = (int64_t)n_off - 1;
    if (rc == LVT_OK) {
        all_off = lvt_malloc((size_t)n_off * sizeof(int64_t), e);
        if (!all_off) rc = lvt_err_prefix(e, "%s: /article_offsets", path);
        else if (read_rows(off, H5T_NATIVE_INT64, 1, 0, n_off, 0, all_off))
            rc = lvt_errf(e, "%s: /article_offsets: cannot be read (truncated file?)", path);
        else rc = check_offsets(path, all_off, A, N, e);
    }
    if (rc == LVT_OK) {
        ids = open_dataset(file, path, "article_ids", 1, H5T_INTEGER, &n_ids, e);
        if (ids < 0) rc = LVT_ERROR;
        else if ((int64_t)n_ids != A)
            rc = lvt_errf(e, "%s: /article_ids: has %llu entries, expected %lld (one per article of /article_offsets)",
                          path, (unsigned long long)n_ids, (long long)A);
    }
    if (rc == LVT_OK && H5Lexists(file, "chunk_ids", H5P_DEFAULT) > 0) {
        cids = open_dataset(file, path, "chunk_ids", 1, H5T_INTEGER, &n_cids, e);
        if (cids < 0) rc = LVT_ERROR;
        else if ((int64_t)n_cids != N)
            rc = lvt_errf(e, "%s: /chunk_ids: has %llu entries, expected N = %lld (one per row of /vectors)", path,
                          (unsigned long long)n_cids, (long long)N);
    }
    if (rc == LVT_OK && !ranged) {
        a_lo = 0;
        a_hi = A;
    }
    if (rc == LVT_OK && (a_lo < 0 || a_hi < a_lo || a_hi > A))
        rc = lvt_errf(e, "%s: article range [%lld, %lld) is outside the store's %lld articles", path,
                      (long long)a_lo, (long long)a_hi, (long long)A);
    int64_t r0 = 0, r1 = 0;
    if (rc == LVT_OK) {
        r0 = all_off[a_lo];
        r1 = all_off[a_hi];
        s->n = r1 - r0;
        s->n_articles = a_hi - a_lo;
        size_t vbytes = (size_t)s->n * (size_t)s->dim * sizeof(float);
        s->vectors = lvt_malloc(vbytes, e);
        s->offsets = s->vectors ? lvt_malloc((size_t)(s->n_articles + 1) * sizeof(int64_t), e) : NULL;
        s->article_ids = s->offsets ? lvt_malloc((size_t)s->n_articles * sizeof(int64_t), e) : NULL;
        if (s->article_ids && cids >= 0) s->chunk_ids = lvt_malloc((size_t)s->n * sizeof(int64_t), e);
        if (!s->article_ids || (cids >= 0 && !s->chunk_ids)) rc = lvt_err_prefix(e, "%s", path);
    }
    if (rc == LVT_OK) {
        for (int64_t a = 0; a <= s->n_articles; a++) s->offsets[a] = all_off[a_lo + a] - r0;
        if (read_rows(vec, H5T_NATIVE_FLOAT, 2, (hsize_t)r0, (hsize_t)s->n, (hsize_t)s->dim, s->vectors))
            rc = lvt_errf(e, "%s: /vectors: cannot be read (truncated file or unsupported float type?)", path);
        else if (read_rows(ids, H5T_NATIVE_INT64, 1, (hsize_t)a_lo, (hsize_t)s->n_articles, 0, s->article_ids))
            rc = lvt_errf(e, "%s: /article_ids: cannot be read (truncated file?)", path);
        else if (cids >= 0 && read_rows(cids, H5T_NATIVE_INT64, 1, (hsize_t)r0, (hsize_t)s->n, 0, s->chunk_ids))
            rc = lvt_errf(e, "%s: /chunk_ids: cannot be read (truncated file?)", path);
    }
    if (rc == LVT_OK) rc = finish_vectors(path, s, r0, normalize, e);
    free(all_off);
    h5_close_any(cids);
    h5_close_any(ids);
    h5_close_any(off);
    h5_close_any(vec);
    H5Fclose(file);
    if (rc != LVT_OK) lvt_store_free(s);
    return rc;
}

int lvt_store_read(const char *path, int normalize, lvt_store *s, lvt_err *e) {
    return read_store(path, 0, 0, 0, normalize, s, e);
}

int lvt_store_read_range(const char *path, int64_t a_lo, int64_t a_hi, int normalize, lvt_store *s,
                         lvt_err *e) {
    return read_store(path, 1, a_lo, a_hi, normalize, s, e);
}
