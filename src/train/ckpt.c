/* ckpt.c — HDF5 checkpoints ("lvt-checkpoint" v1): atomic write (temp file, fsync, rename),
 * validated read with the "extra" key/value area (include/lvt/kvstore.h), and lvt_ckpt_load_any
 * which opens a checkpoint or a safetensors file. Layout in docs/checkpoints.md. */
#include "lvt/ckpt.h"

#include <errno.h>
#include <fcntl.h>
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lvt/safetensors.h"

#define CKPT_FORMAT "lvt-checkpoint"
#define CKPT_VERSION 1
#define CKPT_ARCH "transformer"
#define CKPT_PATH_MAX 4096
#define CKPT_MAX_STR (16 << 20)     /* longest string (attribute, /config) read: longer is corrupt */
#define CKPT_MAX_EXTRA (1 << 24)    /* most elements of one /extra array */
#define CKPT_MAX_ELEM_BYTES 16      /* no integer or float type is wider: a wider one is corrupt */
#define CKPT_MAX_COMPRESSION 1100.0 /* deflate stores at most ~1032 bytes of data per byte */

/* 1 when dataset d stores enough bytes for the npoints elements of esize bytes it declares.
 * A dataset whose chunks were never written reads as fill values, and HDF5 builds one entry per
 * chunk a read touches: 10^7 one-element chunks in a 20 KB file made one H5Dread allocate 0.5-1.6
 * GB (fuzz_ckpt). Bounding the data by the bytes stored bounds that by the file's size
 * (docs/reliability.md, "What was found and fixed"). */
static int stored_enough(hid_t d, hssize_t npoints, size_t esize) {
    return (double)npoints * (double)esize <= (double)H5Dget_storage_size(d) * CKPT_MAX_COMPRESSION;
}

void lvt_ckpt_info_init(lvt_ckpt_info *info) { memset(info, 0, sizeof *info); }

void lvt_ckpt_info_free(lvt_ckpt_info *info) {
    free(info->config_json);
    lvt_kvset_free(&info->extra);
    memset(info, 0, sizeof *info);
}

/* ---- HDF5 helpers -------------------------------------------------------------------------------- */

/* The HDF5 library prints its error stack by default; our messages replace it. */
typedef struct { H5E_auto2_t fn; void *data; } h5_quiet;

static void h5_quiet_on(h5_quiet *q) {
    H5Eget_auto2(H5E_DEFAULT, &q->fn, &q->data);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
}

static void h5_quiet_off(const h5_quiet *q) { H5Eset_auto2(H5E_DEFAULT, q->fn, q->data); }

int lvt_file_is_hdf5(const char *path) {
    static const unsigned char sig[8] = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};
    unsigned char buf[8];
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    size_t got = fread(buf, 1, 8, f);
    fclose(f);
    return got == 8 && !memcmp(buf, sig, 8);
}

static int attr_write(hid_t obj, const char *name, hid_t type, const void *val) {
    hid_t sp = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(obj, name, type, sp, H5P_DEFAULT, H5P_DEFAULT);
    herr_t st = a < 0 ? -1 : H5Awrite(a, type, val);
    if (a >= 0) H5Aclose(a);
    H5Sclose(sp);
    return st < 0 ? LVT_ERROR : LVT_OK;
}

static int attr_i64(hid_t obj, const char *name, int64_t v) {
    return attr_write(obj, name, H5T_NATIVE_INT64, &v);
}

static int attr_f64(hid_t obj, const char *name, double v) {
    return attr_write(obj, name, H5T_NATIVE_DOUBLE, &v);
}

static hid_t str_type(size_t len) {
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, len + 1);
    H5Tset_strpad(t, H5T_STR_NULLTERM);
    return t;
}

static int attr_str(hid_t obj, const char *name, const char *v) {
    hid_t t = str_type(strlen(v));
    int rc = attr_write(obj, name, t, v);
    H5Tclose(t);
    return rc;
}

/* A scalar string dataset (config JSON, extra strings). */
static int dset_str(hid_t loc, const char *name, const char *v) {
    hid_t t = str_type(strlen(v));
    hid_t sp = H5Screate(H5S_SCALAR);
    hid_t d = H5Dcreate2(loc, name, t, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    herr_t st = d < 0 ? -1 : H5Dwrite(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, v);
    if (d >= 0) H5Dclose(d);
    H5Sclose(sp);
    H5Tclose(t);
    return st < 0 ? LVT_ERROR : LVT_OK;
}

/* A dataset of rank 0 (scalar, dims == NULL) or rank ndim. */
static int dset_write(hid_t loc, const char *name, hid_t type, int ndim, const hsize_t *dims,
                      const void *data) {
    hid_t sp = ndim == 0 ? H5Screate(H5S_SCALAR) : H5Screate_simple(ndim, dims, NULL);
    hid_t d = H5Dcreate2(loc, name, type, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    herr_t st = d < 0 ? -1 : H5Dwrite(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data);
    if (d >= 0) H5Dclose(d);
    H5Sclose(sp);
    return st < 0 ? LVT_ERROR : LVT_OK;
}

/* Write every model tensor of the flat host buffer `flat` into group g under its name. */
static int write_tensors(hid_t g, const lvt_model *m, const float *flat) {
    for (int i = 0; i < m->n_tensors; i++) {
        const lvt_tensor_info *t = &m->tensors[i];
        hsize_t dims[2] = {(hsize_t)t->shape[0], (hsize_t)t->shape[1]};
        if (dset_write(g, t->name, H5T_NATIVE_FLOAT, t->ndim, dims, flat + t->offset)) return LVT_ERROR;
    }
    return LVT_OK;
}

static int write_extra(hid_t g, const lvt_kvset *s) {
    for (int i = 0; i < s->n; i++) {
        const lvt_kv *kv = &s->items[i];
        hsize_t n = (hsize_t)kv->n;
        int rc;
        switch (kv->type) {
        case LVT_KV_I64: rc = dset_write(g, kv->name, H5T_NATIVE_INT64, 0, NULL, &kv->i); break;
        case LVT_KV_F64: rc = dset_write(g, kv->name, H5T_NATIVE_DOUBLE, 0, NULL, &kv->d); break;
        case LVT_KV_STR: rc = dset_str(g, kv->name, kv->s); break;
        case LVT_KV_I64_ARRAY: rc = dset_write(g, kv->name, H5T_NATIVE_INT64, 1, &n, kv->ia); break;
        default: rc = dset_write(g, kv->name, H5T_NATIVE_DOUBLE, 1, &n, kv->da); break;
        }
        if (rc) return LVT_ERROR;
    }
    return LVT_OK;
}

static int write_model_attrs(hid_t g, const lvt_model_cfg *c) {
    int rc = attr_i64(g, "dim", c->dim);
    rc |= attr_i64(g, "d_model", c->d_model);
    rc |= attr_i64(g, "n_heads", c->n_heads);
    rc |= attr_i64(g, "n_layers", c->n_layers);
    rc |= attr_i64(g, "ffn_mult", c->ffn_mult);
    rc |= attr_i64(g, "context_len", c->context_len);
    rc |= attr_f64(g, "dropout", (double)c->dropout);
    return rc ? LVT_ERROR : LVT_OK;
}

static int write_optim_attrs(hid_t g, const lvt_optim *o) {
    const lvt_optim_hparams *hp = &o->hp;
    int rc = attr_i64(g, "t", o->t);
    rc |= attr_f64(g, "lr", o->lr);
    rc |= attr_f64(g, "base_lr", hp->lr);
    rc |= attr_f64(g, "beta1", hp->beta1);
    rc |= attr_f64(g, "beta2", hp->beta2);
    rc |= attr_f64(g, "eps", hp->eps);
    rc |= attr_f64(g, "weight_decay", hp->weight_decay);
    rc |= attr_f64(g, "grad_clip", hp->grad_clip);
    rc |= attr_str(g, "schedule", lvt_sched_name(hp->schedule));
    rc |= attr_f64(g, "plateau_factor", hp->plateau_factor);
    rc |= attr_i64(g, "plateau_patience", hp->plateau_patience);
    rc |= attr_f64(g, "plateau_threshold", hp->plateau_threshold);
    rc |= attr_i64(g, "plateau_cooldown", hp->plateau_cooldown);
    rc |= attr_f64(g, "min_lr", hp->min_lr);
    rc |= attr_i64(g, "cosine_steps", hp->cosine_steps);
    rc |= attr_f64(g, "best", o->best);
    rc |= attr_i64(g, "num_bad_epochs", o->num_bad_epochs);
    rc |= attr_i64(g, "cooldown_counter", o->cooldown_counter);
    rc |= attr_i64(g, "last_epoch", o->last_epoch);
    rc |= attr_i64(g, "n_reductions", o->n_reductions);
    rc |= attr_i64(g, "sched_steps", o->sched_steps);
    return rc ? LVT_ERROR : LVT_OK;
}

/* The file image into tmp with write(2), every error reported (ENOSPC: the disk is full). */
static int write_image(const char *tmp, const void *buf, size_t n, lvt_err *e) {
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return lvt_errf(e, "cannot create the temporary file %s: %s", tmp, strerror(errno));
    const char *p = buf;
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            int err = w < 0 ? errno : ENOSPC;
            close(fd);
            return lvt_errf(e, "%s: %s", tmp, strerror(err));
        }
        p += w;
        n -= (size_t)w;
    }
    if (close(fd) != 0) return lvt_errf(e, "%s: %s", tmp, strerror(errno));
    return LVT_OK;
}

/* Everything except the commit; returns LVT_ERROR with a message (the caller unlinks tmp). */
static int save_to(const char *tmp, const char *path, const lvt_model *m, const lvt_optim *o,
                   const lvt_ckpt_info *info, lvt_err *e) {
    const lvt_ops *ops = m->be->ops;
    float *host = lvt_malloc(m->n_params * sizeof(float), e);
    if (!host) return LVT_ERROR;
    int rc = LVT_ERROR;
    /* built in memory (the core driver, no backing store) and written with plain write(2): a full
     * disk then fails in write_image, never inside H5Fclose (which leaves the file id half-closed
     * and crashes HDF5's shutdown at exit) */
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    if (fapl < 0 || H5Pset_fapl_core(fapl, 1 << 20, 0) < 0) {
        if (fapl >= 0) H5Pclose(fapl);
        lvt_errf(e, "%s: cannot set up the HDF5 memory driver", path);
        goto done;
    }
    hid_t f = H5Fcreate(tmp, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    H5Pclose(fapl);
    if (f < 0) {
        lvt_errf(e, "%s: cannot create the temporary file %s", path, tmp);
        goto done;
    }
    int bad = attr_str(f, "format", CKPT_FORMAT);
    bad |= attr_i64(f, "version", CKPT_VERSION);
    bad |= attr_str(f, "arch", CKPT_ARCH);
    bad |= attr_i64(f, "n_params", (int64_t)m->n_params);
    bad |= attr_i64(f, "n_tensors", m->n_tensors);
    bad |= attr_i64(f, "step", info ? info->step : 0);
    bad |= attr_i64(f, "epoch", info ? info->epoch : 0);
    bad |= attr_i64(f, "has_optim", o != NULL);

    hid_t g = H5Gcreate2(f, "model", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    bad |= g < 0 || write_model_attrs(g, &m->cfg);
    if (g >= 0) H5Gclose(g);

    ops->to_host(m->be, host, m->params, m->n_params * sizeof(float));
    g = H5Gcreate2(f, "params", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    bad |= g < 0 || write_tensors(g, m, host);
    if (g >= 0) H5Gclose(g);

    if (o && !bad) {
        g = H5Gcreate2(f, "optim", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        bad |= g < 0 || write_optim_attrs(g, o);
        if (g >= 0) {
            hid_t gm = H5Gcreate2(g, "m", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
            o->be->ops->to_host(o->be, host, o->m, o->n * sizeof(float));
            bad |= gm < 0 || write_tensors(gm, m, host);
            if (gm >= 0) H5Gclose(gm);
            hid_t gv = H5Gcreate2(g, "v", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
            o->be->ops->to_host(o->be, host, o->v, o->n * sizeof(float));
            bad |= gv < 0 || write_tensors(gv, m, host);
            if (gv >= 0) H5Gclose(gv);
            H5Gclose(g);
        }
    }
    if (info && info->config_json && !bad) bad |= dset_str(f, "config", info->config_json);
    g = H5Gcreate2(f, "extra", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    bad |= g < 0 || (info && write_extra(g, &info->extra));
    if (g >= 0) H5Gclose(g);

    void *image = NULL;
    ssize_t size = bad || H5Fflush(f, H5F_SCOPE_GLOBAL) < 0 ? -1 : H5Fget_file_image(f, NULL, 0);
    if (size > 0 && (image = malloc((size_t)size)) && H5Fget_file_image(f, image, (size_t)size) != size) size = -1;
    if (H5Fclose(f) < 0 || size <= 0 || !image) bad = 1;
    if (!bad && write_image(tmp, image, (size_t)size, e)) {
        free(image);
        lvt_err_prefix(e, "%s: writing the checkpoint failed; any existing file is unchanged", path);
        goto done;
    }
    free(image);
    if (bad) {
        lvt_errf(e, "%s: building the checkpoint failed (out of memory?); any existing file is unchanged", path);
        goto done;
    }
    rc = LVT_OK;
done:
    free(host);
    return rc;
}

int lvt_ckpt_save(const char *path, const lvt_model *m, const lvt_optim *o,
                  const lvt_ckpt_info *info, lvt_err *e) {
    if (o && o->n != m->n_params)
        return lvt_errf(e, "%s: optimiser has %zu parameters, model %zu", path, o->n, m->n_params);
    char tmp[CKPT_PATH_MAX];
    lvt_atomic_tmp_path(path, tmp, sizeof tmp);
    h5_quiet q;
    h5_quiet_on(&q);
    int rc = save_to(tmp, path, m, o, info, e);
    h5_quiet_off(&q);
    if (rc) {
        unlink(tmp);
        return LVT_ERROR;
    }
    return lvt_atomic_commit(tmp, path, e);
}

/* ---- reading ------------------------------------------------------------------------------------- */

/* 1 when attribute a holds exactly one element (H5Aread writes every element into the buffer). */
static int attr_is_scalar(hid_t a) {
    hid_t sp = H5Aget_space(a);
    int ok = sp >= 0 && H5Sget_simple_extent_npoints(sp) == 1;
    if (sp >= 0) H5Sclose(sp);
    return ok;
}

static int attr_read_i64(hid_t obj, const char *name, int64_t *v) {
    if (H5Aexists(obj, name) <= 0) return LVT_ERROR;
    hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
    if (a < 0) return LVT_ERROR;
    hid_t t = H5Aget_type(a);
    int ok = H5Tget_class(t) == H5T_INTEGER && attr_is_scalar(a) && H5Aread(a, H5T_NATIVE_INT64, v) >= 0;
    H5Tclose(t);
    H5Aclose(a);
    return ok ? LVT_OK : LVT_ERROR;
}

static int attr_read_f64(hid_t obj, const char *name, double *v) {
    if (H5Aexists(obj, name) <= 0) return LVT_ERROR;
    hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
    if (a < 0) return LVT_ERROR;
    hid_t t = H5Aget_type(a);
    H5T_class_t c = H5Tget_class(t);
    int ok = (c == H5T_FLOAT || c == H5T_INTEGER) && attr_is_scalar(a) && H5Aread(a, H5T_NATIVE_DOUBLE, v) >= 0;
    H5Tclose(t);
    H5Aclose(a);
    return ok ? LVT_OK : LVT_ERROR;
}

/* Read a string attribute (fixed or variable length) into buf. */
static int attr_read_str(hid_t obj, const char *name, char *buf, size_t cap) {
    if (H5Aexists(obj, name) <= 0) return LVT_ERROR;
    hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
    if (a < 0) return LVT_ERROR;
    hid_t t = H5Aget_type(a);
    int ok = 0;
    if (H5Tget_class(t) == H5T_STRING && attr_is_scalar(a)) {
        if (H5Tis_variable_str(t) > 0) {
            char *s = NULL;
            hid_t mt = H5Tcopy(H5T_C_S1);
            H5Tset_size(mt, H5T_VARIABLE);
            if (H5Aread(a, mt, &s) >= 0 && s) {
                snprintf(buf, cap, "%s", s);
                H5free_memory(s);
                ok = 1;
            }
            H5Tclose(mt);
        } else if (H5Tget_size(t) <= CKPT_MAX_STR) {
            size_t n = H5Tget_size(t);
            char *s = calloc(n + 1, 1);
            hid_t mt = H5Tcopy(H5T_C_S1);
            H5Tset_size(mt, n + 1);
            H5Tset_strpad(mt, H5T_STR_NULLTERM);
            if (s && H5Aread(a, mt, s) >= 0) {
                snprintf(buf, cap, "%s", s);
                ok = 1;
            }
            H5Tclose(mt);
            free(s);
        }
    }
    H5Tclose(t);
    H5Aclose(a);
    return ok ? LVT_OK : LVT_ERROR;
}

/* Read a scalar fixed-length string dataset into a malloc'd string. */
static char *dset_read_str(hid_t loc, const char *name) {
    hid_t d = H5Dopen2(loc, name, H5P_DEFAULT);
    if (d < 0) return NULL;
    hid_t t = H5Dget_type(d);
    char *out = NULL;
    if (H5Tget_class(t) == H5T_STRING && H5Tis_variable_str(t) <= 0 && H5Tget_size(t) <= CKPT_MAX_STR) {
        size_t n = H5Tget_size(t);
        out = calloc(n + 1, 1);
        hid_t mt = H5Tcopy(H5T_C_S1);
        H5Tset_size(mt, n + 1);
        H5Tset_strpad(mt, H5T_STR_NULLTERM);
        if (out && H5Dread(d, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, out) < 0) {
            free(out);
            out = NULL;
        }
        H5Tclose(mt);
    }
    H5Tclose(t);
    H5Dclose(d);
    return out;
}

typedef struct {
    lvt_kvset *set;
    lvt_err *e;
    const char *path;
    int failed;
} extra_ctx;

static herr_t read_extra_item(hid_t g, const char *name, const H5L_info_t *li, void *opdata) {
    (void)li;
    extra_ctx *x = opdata;
    hid_t d = H5Dopen2(g, name, H5P_DEFAULT);
    if (d < 0) {
        lvt_errf(x->e, "%s: /extra/%s is not a dataset", x->path, name);
        x->failed = 1;
        return -1;
    }
    hid_t t = H5Dget_type(d), sp = H5Dget_space(d);
    H5T_class_t c = H5Tget_class(t);
    int rank = H5Sget_simple_extent_ndims(sp);
    hsize_t n = 0;
    if (rank == 1) H5Sget_simple_extent_dims(sp, &n, NULL);
    int rc = LVT_ERROR;
    if (n > CKPT_MAX_EXTRA || (c != H5T_STRING && H5Tget_size(t) > CKPT_MAX_ELEM_BYTES) ||
        (rank == 1 && !stored_enough(d, (hssize_t)n, H5Tget_size(t)))) {
        /* unreadable: corrupt sizes, or an array whose data was never written */
    } else if (rank == 0 && c == H5T_INTEGER) {
        int64_t v;
        if (H5Dread(d, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, &v) >= 0)
            rc = lvt_kv_set_i64(x->set, name, v, x->e);
    } else if (rank == 0 && c == H5T_FLOAT) {
        double v;
        if (H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, &v) >= 0)
            rc = lvt_kv_set_f64(x->set, name, v, x->e);
    } else if (rank == 0 && c == H5T_STRING) {
        char *s = dset_read_str(g, name);
        if (s) rc = lvt_kv_set_str(x->set, name, s, x->e);
        free(s);
    } else if (rank == 1 && c == H5T_INTEGER) {
        int64_t *v = malloc((n ? n : 1) * sizeof *v);
        if (v && H5Dread(d, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) >= 0)
            rc = lvt_kv_set_i64_array(x->set, name, v, (int64_t)n, x->e);
        free(v);
    } else if (rank == 1 && c == H5T_FLOAT) {
        double *v = malloc((n ? n : 1) * sizeof *v);
        if (v && H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) >= 0)
            rc = lvt_kv_set_f64_array(x->set, name, v, (int64_t)n, x->e);
        free(v);
    }
    H5Sclose(sp);
    H5Tclose(t);
    H5Dclose(d);
    if (rc) {
        lvt_errf(x->e, "%s: /extra/%s is unreadable or of an unsupported type", x->path, name);
        x->failed = 1;
        return -1;
    }
    return 0;
}

static int read_cfg_int(hid_t g, const char *path, const char *name, int *out, lvt_err *e) {
    int64_t v;
    if (attr_read_i64(g, name, &v) || v <= 0 || v > (1 << 24))
        return lvt_errf(e, "%s: attribute /model.%s is missing or invalid", path, name);
    *out = (int)v;
    return LVT_OK;
}

/* Open and identify; fills info (without extra/config when full == 0). Returns the file id. */
static hid_t open_ckpt(const char *path, lvt_ckpt_info *info, int full, lvt_err *e) {
    FILE *probe = fopen(path, "rb");
    if (!probe) return lvt_errf(e, "%s: cannot open: %s", path, strerror(errno)), -1;
    fclose(probe);
    if (!lvt_file_is_hdf5(path))
        return lvt_errf(e, "%s: not an HDF5 file (no HDF5 signature); expected an lvt checkpoint", path), -1;
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0)
        return lvt_errf(e, "%s: cannot read the HDF5 file (truncated or corrupted)", path), -1;
    char fmt[64] = "";
    int64_t version = 0;
    if (attr_read_str(f, "format", fmt, sizeof fmt) || strcmp(fmt, CKPT_FORMAT)) {
        if (!strcmp(fmt, "lvt-articles"))
            lvt_errf(e, "%s: this is an article store (format \"lvt-articles\"), not a checkpoint", path);
        else
            lvt_errf(e, "%s: not an lvt checkpoint (root attribute format=\"%s\", expected \"%s\")", path, fmt, CKPT_FORMAT);
        goto fail;
    }
    if (attr_read_i64(f, "version", &version) || version != CKPT_VERSION) {
        lvt_errf(e, "%s: unsupported checkpoint version %lld (this lvt reads version %d)", path, (long long)version, CKPT_VERSION);
        goto fail;
    }
    if (attr_read_str(f, "arch", info->arch, sizeof info->arch)) {
        lvt_errf(e, "%s: root attribute 'arch' is missing", path);
        goto fail;
    }
    if (strcmp(info->arch, CKPT_ARCH)) {
        lvt_errf(e, "%s: checkpoint of architecture '%s'; this lvt supports '%s'", path, info->arch, CKPT_ARCH);
        goto fail;
    }
    if (attr_read_i64(f, "step", &info->step) || attr_read_i64(f, "epoch", &info->epoch)) {
        lvt_errf(e, "%s: root attributes step/epoch are missing", path);
        goto fail;
    }
    int64_t has_optim = 0;
    attr_read_i64(f, "has_optim", &has_optim);
    info->has_optim = has_optim != 0;
    hid_t g = H5Gopen2(f, "model", H5P_DEFAULT);
    if (g < 0) {
        lvt_errf(e, "%s: group /model is missing", path);
        goto fail;
    }
    lvt_model_cfg *c = &info->model;
    double dropout = 0;
    int bad = read_cfg_int(g, path, "dim", &c->dim, e) || read_cfg_int(g, path, "d_model", &c->d_model, e) ||
              read_cfg_int(g, path, "n_heads", &c->n_heads, e) || read_cfg_int(g, path, "n_layers", &c->n_layers, e) ||
              read_cfg_int(g, path, "ffn_mult", &c->ffn_mult, e) ||
              read_cfg_int(g, path, "context_len", &c->context_len, e);
    if (!bad && attr_read_f64(g, "dropout", &dropout)) bad = lvt_errf(e, "%s: attribute /model.dropout is missing", path);
    c->dropout = (float)dropout;
    H5Gclose(g);
    if (bad) goto fail;
    if (full) {
        if (H5Lexists(f, "config", H5P_DEFAULT) > 0) {
            info->config_json = dset_read_str(f, "config");
            if (!info->config_json) {
                lvt_errf(e, "%s: dataset /config is unreadable", path);
                goto fail;
            }
        }
        if (H5Lexists(f, "extra", H5P_DEFAULT) > 0) {
            hid_t gx = H5Gopen2(f, "extra", H5P_DEFAULT);
            extra_ctx x = {&info->extra, e, path, 0};
            hsize_t idx = 0;
            herr_t st = gx < 0 ? -1 : H5Literate(gx, H5_INDEX_NAME, H5_ITER_INC, &idx, read_extra_item, &x);
            if (gx >= 0) H5Gclose(gx);
            if (st < 0) {
                if (!x.failed) lvt_errf(e, "%s: group /extra is unreadable", path);
                goto fail;
            }
        }
    }
    return f;
fail:
    H5Fclose(f);
    return -1;
}

int lvt_ckpt_read_info(const char *path, lvt_ckpt_info *info, lvt_err *e) {
    lvt_ckpt_info_init(info);
    h5_quiet q;
    h5_quiet_on(&q);
    hid_t f = open_ckpt(path, info, 1, e);
    if (f >= 0) H5Fclose(f);
    h5_quiet_off(&q);
    if (f < 0) {
        lvt_ckpt_info_free(info);
        return LVT_ERROR;
    }
    return LVT_OK;
}

static const char *shape_str(char *buf, size_t cap, int ndim, const hsize_t *d) {
    if (ndim == 0) snprintf(buf, cap, "[] (scalar)");
    else if (ndim == 1) snprintf(buf, cap, "[%llu]", (unsigned long long)d[0]);
    else if (ndim == 2) snprintf(buf, cap, "[%llu, %llu]", (unsigned long long)d[0], (unsigned long long)d[1]);
    else snprintf(buf, cap, "rank %d", ndim);
    return buf;
}

typedef struct {
    const lvt_model *m;
    const char *extra_name; /* first name not in the model */
    char buf[128];
} names_ctx;

static herr_t find_unknown(hid_t g, const char *name, const H5L_info_t *li, void *opdata) {
    (void)g;
    (void)li;
    names_ctx *x = opdata;
    if (!lvt_model_find(x->m, name)) {
        snprintf(x->buf, sizeof x->buf, "%s", name);
        x->extra_name = x->buf;
        return 1;
    }
    return 0;
}

/* Read every model tensor from group `gname` of f into the host buffer flat. */
static int read_tensors(hid_t f, const char *gname, const char *path, const lvt_model *m,
                        float *flat, lvt_err *e) {
    hid_t g = H5Gopen2(f, gname, H5P_DEFAULT);
    if (g < 0) return lvt_errf(e, "%s: group /%s is missing", path, gname);
    int rc = LVT_OK;
    for (int i = 0; i < m->n_tensors && rc == LVT_OK; i++) {
        const lvt_tensor_info *t = &m->tensors[i];
        if (H5Lexists(g, t->name, H5P_DEFAULT) <= 0) {
            rc = lvt_errf(e, "%s: tensor /%s/%s is missing", path, gname, t->name);
            break;
        }
        hid_t d = H5Dopen2(g, t->name, H5P_DEFAULT);
        if (d < 0) {
            rc = lvt_errf(e, "%s: /%s/%s is not a dataset", path, gname, t->name);
            break;
        }
        hid_t ty = H5Dget_type(d), sp = H5Dget_space(d);
        int nd = H5Sget_simple_extent_ndims(sp);
        hsize_t dims[8] = {0};
        if (nd > 0 && nd <= 8) H5Sget_simple_extent_dims(sp, dims, NULL);
        hsize_t want[2] = {(hsize_t)t->shape[0], (hsize_t)t->shape[1]};
        int shape_ok = nd == t->ndim && dims[0] == want[0] && (t->ndim < 2 || dims[1] == want[1]);
        char got_s[64], want_s[64];
        if (H5Tget_class(ty) != H5T_FLOAT || H5Tget_size(ty) != 4)
            rc = lvt_errf(e, "%s: tensor /%s/%s is not float32", path, gname, t->name);
        else if (!shape_ok)
            rc = lvt_errf(e, "%s: tensor /%s/%s has shape %s, expected %s", path, gname, t->name,
                          shape_str(got_s, sizeof got_s, nd, dims), shape_str(want_s, sizeof want_s, t->ndim, want));
        else if (!stored_enough(d, (hssize_t)t->numel, 4))
            rc = lvt_errf(e, "%s: tensor /%s/%s stores %llu bytes for %lld floats (a corrupt or unwritten dataset)",
                          path, gname, t->name, (unsigned long long)H5Dget_storage_size(d), (long long)t->numel);
        else if (H5Dread(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, flat + t->offset) < 0)
            rc = lvt_errf(e, "%s: cannot read tensor /%s/%s (truncated or corrupted file)", path, gname, t->name);
        H5Sclose(sp);
        H5Tclose(ty);
        H5Dclose(d);
    }
    if (rc == LVT_OK) {
        names_ctx x = {m, NULL, ""};
        hsize_t idx = 0;
        H5Literate(g, H5_INDEX_NAME, H5_ITER_INC, &idx, find_unknown, &x);
        if (x.extra_name)
            rc = lvt_errf(e, "%s: unexpected tensor /%s/%s (not part of this model)", path, gname, x.extra_name);
    }
    H5Gclose(g);
    return rc;
}

static int cfg_matches(const char *path, const lvt_model_cfg *f, const lvt_model_cfg *m, lvt_err *e) {
#define CMP(field)                                                                                   \
    if (f->field != m->field)                                                                        \
        return lvt_errf(e, "%s: model." #field " is %d in the checkpoint but %d is expected", path,  \
                        f->field, m->field);
    CMP(dim) CMP(d_model) CMP(n_heads) CMP(n_layers) CMP(ffn_mult) CMP(context_len)
#undef CMP
    return LVT_OK;
}

/* The optimiser's state fields (not its hyperparameters) from /optim into st. */
static int read_optim_state(hid_t f, const char *path, lvt_optim *st, lvt_err *e) {
    hid_t g = H5Gopen2(f, "optim", H5P_DEFAULT);
    if (g < 0) return lvt_errf(e, "%s: group /optim is missing (a weights-only checkpoint cannot resume training)", path);
    int64_t t, bad_epochs, cooldown, last_epoch, nred, sched_steps;
    double lr, best;
    int bad = attr_read_i64(g, "t", &t) || attr_read_f64(g, "lr", &lr) || attr_read_f64(g, "best", &best) ||
              attr_read_i64(g, "num_bad_epochs", &bad_epochs) || attr_read_i64(g, "cooldown_counter", &cooldown) ||
              attr_read_i64(g, "last_epoch", &last_epoch) || attr_read_i64(g, "n_reductions", &nred) ||
              attr_read_i64(g, "sched_steps", &sched_steps);
    H5Gclose(g);
    if (bad || t < 0) return lvt_errf(e, "%s: optimiser state attributes in /optim are missing or invalid", path);
    st->t = (long)t;
    st->lr = lr;
    st->best = best;
    st->num_bad_epochs = (long)bad_epochs;
    st->cooldown_counter = (long)cooldown;
    st->last_epoch = (long)last_epoch;
    st->n_reductions = (long)nred;
    st->sched_steps = (long)sched_steps;
    return LVT_OK;
}

int lvt_ckpt_load(const char *path, lvt_model *m, lvt_optim *o, lvt_ckpt_info *info, lvt_err *e) {
    lvt_ckpt_info local;
    lvt_ckpt_info_init(&local);
    if (o && o->n != m->n_params)
        return lvt_errf(e, "%s: optimiser has %zu parameters, model %zu", path, o->n, m->n_params);
    /* Everything is read into host memory first: a failure leaves m and o unchanged. */
    size_t n = m->n_params;
    float *host = lvt_malloc((o ? 3 : 1) * n * sizeof(float), e);
    if (!host) return LVT_ERROR;
    lvt_optim st;
    memset(&st, 0, sizeof st);
    if (o) st = *o;
    h5_quiet q;
    h5_quiet_on(&q);
    int rc = LVT_ERROR;
    hid_t f = open_ckpt(path, &local, info != NULL, e);
    if (f < 0) goto done;
    if (cfg_matches(path, &local.model, &m->cfg, e)) goto done;
    if (read_tensors(f, "params", path, m, host, e)) goto done;
    if (o && (read_optim_state(f, path, &st, e) || read_tensors(f, "optim/m", path, m, host + n, e) ||
              read_tensors(f, "optim/v", path, m, host + 2 * n, e)))
        goto done;
    m->be->ops->to_device(m->be, m->params, host, n * sizeof(float));
    if (o) {
        float *mm = o->m, *vv = o->v;
        *o = st;
        o->m = mm;
        o->v = vv;
        o->be->ops->to_device(o->be, o->m, host + n, n * sizeof(float));
        o->be->ops->to_device(o->be, o->v, host + 2 * n, n * sizeof(float));
    }
    rc = LVT_OK;
done:
    if (f >= 0) H5Fclose(f);
    h5_quiet_off(&q);
    free(host);
    if (rc == LVT_OK && info) {
        *info = local;
    } else {
        lvt_ckpt_info_free(&local);
    }
    return rc;
}

/* Before a model is built from a checkpoint's /model attributes: its layers must have tensors
 * in /params and its float32 parameters (stored raw, as lvt writes them) must fit in the file, so
 * that a small corrupt file cannot make lvt build a huge model. */
static int ckpt_fits_file(const char *path, const lvt_model_cfg *cfg, lvt_err *e) {
    h5_quiet q;
    h5_quiet_on(&q);
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    hid_t g = f >= 0 ? H5Gopen2(f, "params", H5P_DEFAULT) : -1;
    H5G_info_t gi;
    int have = g >= 0 && H5Gget_info(g, &gi) >= 0;
    hsize_t size = 0;
    if (f >= 0) H5Fget_filesize(f, &size);
    if (g >= 0) H5Gclose(g);
    if (f >= 0) H5Fclose(f);
    h5_quiet_off(&q);
    if (!have) return lvt_errf(e, "%s: group /params is missing or unreadable", path);
    if ((hsize_t)cfg->n_layers > gi.nlinks)
        return lvt_errf(e, "%s: /model.n_layers is %d but /params holds %llu tensors", path, cfg->n_layers,
                        (unsigned long long)gi.nlinks);
    /* input_proj (d_model x dim) and the layers' linear1 (ffn_mult d_model x d_model) alone must fit
     * (in double: no overflow) before the exact count is taken */
    double cap = (double)size / sizeof(float);
    size_t n = (double)cfg->d_model * cfg->dim > cap ||
                       (double)cfg->d_model * cfg->d_model * cfg->ffn_mult * cfg->n_layers > cap
                   ? SIZE_MAX
                   : lvt_model_param_count(cfg);
    if (n > size / sizeof(float))
        return lvt_errf(e, "%s: /model describes more float32 parameters than the file's %llu bytes hold "
                        "(truncated or corrupt?)", path, (unsigned long long)size);
    return LVT_OK;
}

int lvt_ckpt_load_any(const char *path, lvt_backend *be, int context_len_default, lvt_model *m,
                      lvt_err *e) {
    memset(m, 0, sizeof *m);
    FILE *probe = fopen(path, "rb");
    if (!probe) return lvt_errf(e, "%s: cannot open: %s", path, strerror(errno));
    fclose(probe);
    lvt_model_cfg cfg;
    if (lvt_file_is_hdf5(path)) {
        lvt_ckpt_info info;
        if (lvt_ckpt_read_info(path, &info, e)) return LVT_ERROR;
        cfg = info.model;
        lvt_ckpt_info_free(&info);
        if (ckpt_fits_file(path, &cfg, e)) return LVT_ERROR;
        if (lvt_model_create(m, &cfg, be, e)) return lvt_err_prefix(e, "%s", path);
        if (lvt_ckpt_load(path, m, NULL, NULL, e)) {
            lvt_model_destroy(m);
            memset(m, 0, sizeof *m);
            return LVT_ERROR;
        }
        return LVT_OK;
    }
    if (lvt_safetensors_read_cfg(path, context_len_default, &cfg, NULL, e)) return LVT_ERROR;
    if (lvt_model_create(m, &cfg, be, e)) return lvt_err_prefix(e, "%s", path);
    if (lvt_safetensors_load(path, m, e)) {
        lvt_model_destroy(m);
        memset(m, 0, sizeof *m);
        return LVT_ERROR;
    }
    return LVT_OK;
}
