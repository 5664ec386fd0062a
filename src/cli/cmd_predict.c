/* cmd_predict.c — `lvt predict --model M --data S.h5|CTX.npy --out P.h5|P.npy [--batch N]`:
 * batched eval-mode forward over every window of an article store, or over an (N, L, D) .npy
 * array of contexts; predictions (unit vectors) streamed to a .npy (lvt_npy_writer) or an HDF5
 * row file (lvt_rows_h5: /predictions, and for stores /window_article, /window_row). The output
 * is written atomically. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

static int ends_with(const char *s, const char *suf) {
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && !strcmp(s + a - b, suf);
}

/* One prediction run: the model, the input (a store's windows or an .npy stream), the output. */
typedef struct predict_job {
    const char *data_p, *out_p;
    lvt_backend *be;
    lvt_model m;
    int is_store;
    lvt_store s;
    lvt_windows w;
    lvt_npy_stream ns;
    int64_t n;          /* contexts */
    int out_h5;         /* the output is HDF5 (else .npy) */
    int out_open;
    lvt_npy_writer npy;
    lvt_rows_h5 h5;
    int64_t *w_article, *w_row; /* stores into HDF5: the window index */
} predict_job;

/* The input: every window of a store, or the contexts of an (N, L, D) array. */
static int open_input(predict_job *j, int normalize, lvt_err *e) {
    const int L = j->m.cfg.context_len, D = j->m.cfg.dim;
    j->is_store = lvt_file_is_hdf5(j->data_p);
    if (j->is_store) {
        if (lvt_store_read(j->data_p, normalize, &j->s, e)) return LVT_ERROR;
        if (j->s.dim != D) return lvt_errf(e, "%s: vectors have dim %d, the model expects %d", j->data_p, j->s.dim, D);
        if (lvt_windows_build(&j->w, &j->s, L, e)) return LVT_ERROR;
        j->n = j->w.n_windows;
        if (j->n == 0)
            return lvt_errf(e, "%s: no article has more than %d chunks, so there is no window to predict", j->data_p, L);
        return LVT_OK;
    }
    if (lvt_npy_open(j->data_p, &j->ns, e)) return LVT_ERROR;
    if (j->ns.h.ndim != 3 || j->ns.h.shape[1] != L || j->ns.h.shape[2] != D)
        return lvt_errf(e, "%s: expected an array of shape (N, %d, %d) (N contexts of L=%d vectors of dim D=%d)",
                        j->data_p, L, D, L, D);
    j->n = j->ns.h.shape[0];
    if (j->n == 0) return lvt_errf(e, "%s: the array holds no context", j->data_p);
    return LVT_OK;
}

static int open_output(predict_job *j, lvt_err *e) {
    const int D = j->m.cfg.dim;
    j->out_h5 = !ends_with(j->out_p, ".npy");
    j->out_open = 1;
    if (!j->out_h5) return lvt_npy_create_f32(&j->npy, j->out_p, j->n, D, e);
    if (lvt_rows_h5_create(&j->h5, j->out_p, "predictions", j->n, D, e)) return LVT_ERROR;
    if (!j->is_store) return LVT_OK;
    j->w_article = lvt_malloc((size_t)j->n * sizeof(int64_t), e);
    j->w_row = j->w_article ? lvt_malloc((size_t)j->n * sizeof(int64_t), e) : NULL;
    return j->w_row ? LVT_OK : LVT_ERROR;
}

/* Contexts [b0, b0 + B) into hctx. */
static int gather(predict_job *j, int64_t b0, int B, float *hctx, lvt_err *e) {
    const int L = j->m.cfg.context_len, D = j->m.cfg.dim;
    if (!j->is_store) return lvt_npy_read_f32(&j->ns, hctx, (int64_t)B * L * D, e);
    for (int b = 0; b < B; b++) {
        int64_t a, row0;
        lvt_window_locate(&j->w, b0 + b, &a, &row0);
        memcpy(hctx + (size_t)b * L * D, j->s.vectors + (size_t)row0 * D, (size_t)L * D * sizeof(float));
        if (j->w_article) {
            j->w_article[b0 + b] = a;
            j->w_row[b0 + b] = row0;
        }
    }
    return LVT_OK;
}

/* Every context through the model in batches, each batch's predictions appended to the output. */
static int predict_all(predict_job *j, int batch, double *secs, lvt_err *e) {
    const int L = j->m.cfg.context_len, D = j->m.cfg.dim;
    const lvt_ops *o = j->be->ops;
    float *hctx = lvt_malloc((size_t)batch * L * D * sizeof(float), e);
    float *hpred = hctx ? lvt_malloc((size_t)batch * D * sizeof(float), e) : NULL;
    float *dctx = hpred ? o->alloc(j->be, (size_t)batch * L * D * sizeof(float), e) : NULL;
    int rc = dctx ? lvt_model_plan(&j->m, batch, 1, e) : LVT_ERROR;
    double t0 = lvt_now();
    for (int64_t b0 = 0; rc == LVT_OK && b0 < j->n; b0 += batch) {
        int B = (int)(j->n - b0 < batch ? j->n - b0 : batch);
        if ((rc = gather(j, b0, B, hctx, e))) break;
        o->to_device(j->be, dctx, hctx, (size_t)B * L * D * sizeof(float));
        if ((rc = lvt_model_forward(&j->m, 0, dctx, B, 0, NULL, NULL, e))) break;
        o->to_host(j->be, hpred, lvt_model_pred(&j->m, 0), (size_t)B * D * sizeof(float));
        rc = j->out_h5 ? lvt_rows_h5_write(&j->h5, b0, hpred, B, e) : lvt_npy_write_rows(&j->npy, hpred, B, e);
    }
    *secs = lvt_now() - t0;
    free(hctx);
    free(hpred);
    if (dctx) o->free(j->be, dctx);
    return rc;
}

/* Write the window index (stores into HDF5) and commit the output. */
static int finish_output(predict_job *j, lvt_err *e) {
    j->out_open = 0;
    if (!j->out_h5) return lvt_npy_finish(&j->npy, 1, e);
    if (j->w_article && (lvt_rows_h5_write_i64(&j->h5, "window_article", j->w_article, e) ||
                         lvt_rows_h5_write_i64(&j->h5, "window_row", j->w_row, e))) {
        lvt_rows_h5_finish(&j->h5, 0, e);
        return LVT_ERROR;
    }
    return lvt_rows_h5_finish(&j->h5, 1, e);
}

static void job_free(predict_job *j) {
    if (j->out_open) {
        if (j->out_h5) lvt_rows_h5_finish(&j->h5, 0, NULL);
        else lvt_npy_finish(&j->npy, 0, NULL);
    }
    free(j->w_article);
    free(j->w_row);
    if (j->ns.f || j->ns.zf) lvt_npy_close(&j->ns);
    lvt_windows_free(&j->w);
    if (j->is_store) lvt_store_free(&j->s);
    if (j->m.tensors) lvt_model_destroy(&j->m);
    if (j->be) lvt_backend_destroy(j->be);
}

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
    predict_job j;
    memset(&j, 0, sizeof j);
    j.data_p = data_p;
    j.out_p = out_p;
    double secs = 0;
    int rc = lvt_backend_create(&j.be, backend, 0, LVT_MATH_FP32, &e);
    if (!rc) rc = lvt_ckpt_load_any(model_p, j.be, 5, &j.m, &e);
    if (!rc) rc = open_input(&j, normalize, &e);
    if (!rc && batch > j.n) batch = j.n;
    if (!rc) rc = open_output(&j, &e);
    if (!rc) rc = predict_all(&j, (int)batch, &secs, &e);
    if (!rc) rc = finish_output(&j, &e);
    if (!rc)
        printf("wrote %s: %lld predictions of dim %d (%.1f samples/s)\n", out_p, (long long)j.n, j.m.cfg.dim,
               secs > 0 ? (double)j.n / secs : 0.0);
    else
        cli_fail("predict", "%s", e.msg);
    job_free(&j);
    return rc ? 1 : 0;
}
