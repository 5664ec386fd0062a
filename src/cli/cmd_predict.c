/* cmd_predict.c — `lvt predict --model M --data S.h5|CTX.npy --out P.h5|P.npy [--batch N]`:
 * batched eval-mode forward over every window of an article store, or over an (N, L, D) .npy
 * array of contexts; predictions (unit vectors) streamed to a .npy or an HDF5 file
 * (/predictions, and for stores /window_article, /window_row). Output written atomically. */
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "lvt/ckpt.h"
#include "lvt/convert.h"
#include "lvt/data.h"
#include "lvt/model.h"

static void usage(void) {
    printf("usage: lvt predict --model M --data S.h5|CTX.npy --out P.h5|P.npy [--batch N]\n"
           "                   [--backend auto|cpu|cuda] [--no-normalize]\n\n"
           "Runs the model (an lvt checkpoint .h5 or a .safetensors file) in eval mode over\n"
           "  * every window of an article store S.h5 (context rows s..s+L-1 of one article), or\n"
           "  * every context of a float32/float16 .npy array of shape (N, L, D),\n"
           "and writes the predictions (unit vectors, float32 [N, D]) to P.npy or to P.h5 with\n"
           "/predictions and, for stores, /window_article (article index in the store) and\n"
           "/window_row (first context row; the target is row + L). --batch defaults to 256.\n"
           "Store vectors are L2-normalised on load unless --no-normalize.\n");
}

/* ---- output writers ------------------------------------------------------------------------------ */

typedef struct pred_out {
    int is_h5;
    char tmp[4096];
    FILE *f;       /* npy */
    hid_t h5, dset;
    int64_t n;
    int dim;
} pred_out;

static int ends_with(const char *s, const char *suf) {
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && !strcmp(s + a - b, suf);
}

static int out_open(pred_out *o, const char *path, int64_t n, int dim, lvt_err *e) {
    memset(o, 0, sizeof *o);
    o->n = n;
    o->dim = dim;
    o->h5 = o->dset = -1;
    lvt_atomic_tmp_path(path, o->tmp, sizeof o->tmp);
    if (ends_with(path, ".npy")) {
        o->f = fopen(o->tmp, "wb");
        if (!o->f) return lvt_errf(e, "%s: cannot create the temporary output %s", path, o->tmp);
        /* .npy v1.0: magic, version, header length, dict padded with spaces to a multiple of 64. */
        char dict[256];
        int len = snprintf(dict, sizeof dict, "{'descr': '<f4', 'fortran_order': False, 'shape': (%lld, %d), }",
                           (long long)n, dim);
        int total = 10 + len + 1;
        int pad = (64 - total % 64) % 64;
        unsigned char pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, 0, 0};
        int hlen = len + pad + 1;
        pre[8] = (unsigned char)(hlen & 0xff);
        pre[9] = (unsigned char)(hlen >> 8);
        fwrite(pre, 1, 10, o->f);
        fwrite(dict, 1, (size_t)len, o->f);
        for (int i = 0; i < pad; i++) fputc(' ', o->f);
        fputc('\n', o->f);
        return LVT_OK;
    }
    if (ends_with(path, ".h5") || ends_with(path, ".hdf5")) {
        o->is_h5 = 1;
        o->h5 = H5Fcreate(o->tmp, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
        if (o->h5 < 0) return lvt_errf(e, "%s: cannot create the temporary output %s", path, o->tmp);
        hsize_t dims[2] = {(hsize_t)n, (hsize_t)dim};
        hid_t sp = H5Screate_simple(2, dims, NULL);
        o->dset = H5Dcreate2(o->h5, "predictions", H5T_NATIVE_FLOAT, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        H5Sclose(sp);
        if (o->dset < 0) return lvt_errf(e, "%s: cannot create /predictions", path);
        return LVT_OK;
    }
    return lvt_errf(e, "%s: the output must end in .npy, .h5 or .hdf5", path);
}

static int out_rows(pred_out *o, int64_t row0, const float *rows, int64_t count) {
    if (!o->is_h5) return fwrite(rows, sizeof(float), (size_t)(count * o->dim), o->f) == (size_t)(count * o->dim) ? 0 : -1;
    hsize_t start[2] = {(hsize_t)row0, 0}, cnt[2] = {(hsize_t)count, (hsize_t)o->dim};
    hid_t fs = H5Dget_space(o->dset);
    H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, cnt, NULL);
    hid_t ms = H5Screate_simple(2, cnt, NULL);
    herr_t st = H5Dwrite(o->dset, H5T_NATIVE_FLOAT, ms, fs, H5P_DEFAULT, rows);
    H5Sclose(ms);
    H5Sclose(fs);
    return st < 0 ? -1 : 0;
}

static int out_i64(pred_out *o, const char *name, const int64_t *v) {
    hsize_t n = (hsize_t)o->n;
    hid_t sp = H5Screate_simple(1, &n, NULL);
    hid_t d = H5Dcreate2(o->h5, name, H5T_NATIVE_INT64, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    herr_t st = d < 0 ? -1 : H5Dwrite(d, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, v);
    if (d >= 0) H5Dclose(d);
    H5Sclose(sp);
    return st < 0 ? -1 : 0;
}

/* Close; on success commit the temporary file to path, else remove it. */
static int out_close(pred_out *o, const char *path, int ok, lvt_err *e) {
    int bad = !ok;
    if (o->f && fclose(o->f) != 0) bad = 1;
    if (o->dset >= 0) H5Dclose(o->dset);
    if (o->h5 >= 0 && H5Fclose(o->h5) < 0) bad = 1;
    o->f = NULL;
    o->h5 = o->dset = -1;
    if (bad) {
        unlink(o->tmp);
        if (ok) lvt_errf(e, "%s: writing the predictions failed", path);
        return LVT_ERROR;
    }
    return lvt_atomic_commit(o->tmp, path, e);
}

/* ---- the command ------------------------------------------------------------------------------------ */

int cmd_predict(int argc, char **argv) {
    if (cli_wants_help(argc, argv)) {
        usage();
        return 0;
    }
    const char *model_p = NULL, *data_p = NULL, *out_p = NULL, *batch_s = NULL, *backend = "auto";
    int normalize = 1;
    for (int i = 1; i < argc; i++) {
        int r;
        if ((r = cli_flag_value("predict", argc, argv, &i, "--model", &model_p)) ||
            (r = cli_flag_value("predict", argc, argv, &i, "--data", &data_p)) ||
            (r = cli_flag_value("predict", argc, argv, &i, "--out", &out_p)) ||
            (r = cli_flag_value("predict", argc, argv, &i, "--batch", &batch_s)) ||
            (r = cli_flag_value("predict", argc, argv, &i, "--backend", &backend))) {
            if (r < 0) return 1;
        } else if (!strcmp(argv[i], "--no-normalize")) {
            normalize = 0;
        } else {
            return cli_fail("predict", "unknown argument '%s' (see lvt predict --help)", argv[i]);
        }
    }
    if (!model_p) return cli_fail("predict", "missing --model M");
    if (!data_p) return cli_fail("predict", "missing --data S.h5|CTX.npy");
    if (!out_p) return cli_fail("predict", "missing --out P.h5|P.npy");
    if (!ends_with(out_p, ".npy") && !ends_with(out_p, ".h5") && !ends_with(out_p, ".hdf5"))
        return cli_fail("predict", "--out must end in .npy, .h5 or .hdf5, got '%s'", out_p);
    long long batch = 256;
    if (batch_s && cli_parse_long("predict", "--batch", batch_s, 1, 1 << 20, &batch)) return 1;

    lvt_err e = {{0}};
    lvt_backend *be = NULL;
    lvt_model m;
    memset(&m, 0, sizeof m);
    lvt_store s;
    memset(&s, 0, sizeof s);
    lvt_windows w;
    memset(&w, 0, sizeof w);
    lvt_npy_stream ns;
    memset(&ns, 0, sizeof ns);
    pred_out out;
    memset(&out, 0, sizeof out);
    out.h5 = out.dset = -1;
    float *hctx = NULL, *hpred = NULL, *dctx = NULL;
    int64_t *w_article = NULL, *w_row = NULL;
    int rc = 1, is_store = 0, out_opened = 0;

    if (lvt_backend_create(&be, backend, 0, LVT_MATH_FP32, &e)) goto fail;
    if (lvt_ckpt_load_any(model_p, be, 5, &m, &e)) goto fail;
    const int L = m.cfg.context_len, D = m.cfg.dim;
    int64_t n = 0;
    is_store = lvt_file_is_hdf5(data_p);
    if (is_store) {
        if (lvt_store_read(data_p, normalize, &s, &e)) goto fail;
        if (s.dim != D) {
            lvt_errf(&e, "%s: vectors have dim %d, the model expects %d", data_p, s.dim, D);
            goto fail;
        }
        if (lvt_windows_build(&w, &s, L, &e)) goto fail;
        n = w.n_windows;
        if (n == 0) {
            lvt_errf(&e, "%s: no article has more than %d chunks, so there is no window to predict", data_p, L);
            goto fail;
        }
    } else {
        if (lvt_npy_open(data_p, &ns, &e)) goto fail;
        if (ns.h.ndim != 3 || ns.h.shape[1] != L || ns.h.shape[2] != D) {
            lvt_errf(&e, "%s: expected an array of shape (N, %d, %d) (N contexts of L=%d vectors of dim D=%d)", data_p,
                     L, D, L, D);
            goto fail;
        }
        n = ns.h.shape[0];
        if (n == 0) {
            lvt_errf(&e, "%s: the array holds no context", data_p);
            goto fail;
        }
    }
    if (batch > n) batch = n;
    hctx = lvt_malloc((size_t)batch * L * D * sizeof(float), &e);
    hpred = hctx ? lvt_malloc((size_t)batch * D * sizeof(float), &e) : NULL;
    dctx = hpred ? be->ops->alloc(be, (size_t)batch * L * D * sizeof(float), &e) : NULL;
    if (!dctx) goto fail;
    if (lvt_model_plan(&m, (int)batch, 1, &e)) goto fail;
    if (out_open(&out, out_p, n, D, &e)) goto fail;
    out_opened = 1;
    if (is_store && out.is_h5) {
        w_article = lvt_malloc((size_t)n * sizeof(int64_t), &e);
        w_row = w_article ? lvt_malloc((size_t)n * sizeof(int64_t), &e) : NULL;
        if (!w_row) goto fail;
    }
    double t0 = lvt_now();
    for (int64_t b0 = 0; b0 < n; b0 += batch) {
        int B = (int)(n - b0 < batch ? n - b0 : batch);
        if (is_store) {
            for (int b = 0; b < B; b++) {
                int64_t a, row0;
                lvt_window_locate(&w, b0 + b, &a, &row0);
                memcpy(hctx + (size_t)b * L * D, s.vectors + (size_t)row0 * D, (size_t)L * D * sizeof(float));
                if (w_article) {
                    w_article[b0 + b] = a;
                    w_row[b0 + b] = row0;
                }
            }
        } else if (lvt_npy_read_f32(&ns, hctx, (int64_t)B * L * D, &e)) {
            goto fail;
        }
        be->ops->to_device(be, dctx, hctx, (size_t)B * L * D * sizeof(float));
        if (lvt_model_forward(&m, 0, dctx, B, 0, NULL, NULL, &e)) goto fail;
        be->ops->to_host(be, hpred, lvt_model_pred(&m, 0), (size_t)B * D * sizeof(float));
        if (out_rows(&out, b0, hpred, B)) {
            lvt_errf(&e, "%s: writing the predictions failed", out_p);
            goto fail;
        }
    }
    double secs = lvt_now() - t0;
    if (w_article && (out_i64(&out, "window_article", w_article) || out_i64(&out, "window_row", w_row))) {
        lvt_errf(&e, "%s: writing the window index failed", out_p);
        goto fail;
    }
    out_opened = 0;
    if (out_close(&out, out_p, 1, &e)) goto fail;
    printf("wrote %s: %lld predictions of dim %d (%.1f samples/s)\n", out_p, (long long)n, D,
           secs > 0 ? (double)n / secs : 0.0);
    rc = 0;
    goto done;
fail:
    if (out_opened) out_close(&out, out_p, 0, &e);
    cli_fail("predict", "%s", e.msg);
done:
    free(hctx);
    free(hpred);
    free(w_article);
    free(w_row);
    if (dctx) be->ops->free(be, dctx);
    if (ns.f || ns.zf) lvt_npy_close(&ns);
    lvt_windows_free(&w);
    if (is_store) lvt_store_free(&s);
    if (m.tensors) lvt_model_destroy(&m);
    if (be) lvt_backend_destroy(be);
    return rc;
}
