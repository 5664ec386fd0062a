/* model_parity_driver.c — the lvt side of tests/parity/test_model_parity.py: builds and
 * initialises a model, runs one forward (eval, or train with a fixed dropout key) and the backward
 * of  loss = mean((raw - y)^2) + 0.5 * mean((pred - y)^2),  and writes parameters, inputs,
 * outputs and gradients as raw little-endian float32 files plus meta.json (names, shapes, offsets,
 * shape and dropout key) into --out. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parity_io.h"
#include "lvt/model.h"
#include "lvt/rng.h"

static int write_f32(const char *dir, const char *name, const float *x, size_t n) {
    char path[1200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f) return fprintf(stderr, "cannot write %s\n", path), 1;
    size_t w = fwrite(x, sizeof(float), n, f);
    fclose(f);
    return w != n;
}

static long arg_long(int argc, char **argv, const char *flag, long dflt) {
    for (int i = 1; i + 1 < argc; i++)
        if (!strcmp(argv[i], flag)) return strtol(argv[i + 1], NULL, 10);
    return dflt;
}
static double arg_double(int argc, char **argv, const char *flag, double dflt) {
    for (int i = 1; i + 1 < argc; i++)
        if (!strcmp(argv[i], flag)) return strtod(argv[i + 1], NULL);
    return dflt;
}
static const char *arg_str(int argc, char **argv, const char *flag) {
    for (int i = 1; i + 1 < argc; i++)
        if (!strcmp(argv[i], flag)) return argv[i + 1];
    return NULL;
}

int main(int argc, char **argv) {
    const char *out = arg_str(argc, argv, "--out");
    if (!out) {
        fprintf(stderr, "usage: model_parity_driver --out DIR [--dim D --d-model d --heads H "
                        "--layers N --context L --batch B --seed S --dropout P --train 0|1 "
                        "--perturb X]\n");
        return 1;
    }
    lvt_model_cfg cfg = {.dim = (int)arg_long(argc, argv, "--dim", 768),
                         .d_model = (int)arg_long(argc, argv, "--d-model", 512),
                         .n_heads = (int)arg_long(argc, argv, "--heads", 8),
                         .n_layers = (int)arg_long(argc, argv, "--layers", 4),
                         .ffn_mult = 4,
                         .context_len = (int)arg_long(argc, argv, "--context", 5),
                         .dropout = (float)arg_double(argc, argv, "--dropout", 0.1)};
    int B = (int)arg_long(argc, argv, "--batch", 4),
        train = (int)arg_long(argc, argv, "--train", 0);
    uint64_t seed = (uint64_t)arg_long(argc, argv, "--seed", 42);
    float perturb = (float)arg_double(argc, argv, "--perturb", 0.0);
    lvt_dropout_key key = {.seed = seed + 1000, .step = 17, .site = 0, .sample_base = 1000, .p = 0};

    lvt_err e = {{0}};
    lvt_backend *be = NULL;
    lvt_model m;
    if (lvt_backend_create(&be, "cpu", -1, LVT_MATH_FP32, &e) ||
        lvt_model_create(&m, &cfg, be, &e) || lvt_model_init(&m, seed, &e) ||
        lvt_model_plan(&m, B, 1, &e)) {
        fprintf(stderr, "driver: %s\n", e.msg);
        return 1;
    }
    int L = cfg.context_len, D = cfg.dim;
    size_t nc = (size_t)B * L * D, no = (size_t)B * D;
    float *host = malloc(m.n_params * sizeof(float));
    float *ctx = malloc(nc * sizeof(float)), *y = malloc(no * sizeof(float));
    float *raw = malloc(no * sizeof(float)), *pred = malloc(no * sizeof(float));
    float *draw = malloc(no * sizeof(float)), *dpred = malloc(no * sizeof(float));
    float *dctx = malloc(nc * sizeof(float));
    lvt_model_params_to_host(&m, host);
    if (perturb > 0) { /* break the layer symmetry and the LayerNorm ones/zeros */
        for (size_t i = 0; i < m.n_params; i++)
            host[i] += perturb * (2.0f * lvt_rng_unit(seed, 0, 12345, 0, i) - 1.0f);
        lvt_model_params_from_host(&m, host);
    }
    /* unit-norm context rows and targets, as the trainer feeds them */
    for (size_t r = 0; r < (size_t)B * L + (size_t)B; r++) {
        float *v = r < (size_t)B * L ? ctx + r * D : y + (r - (size_t)B * L) * D;
        double s = 0;
        for (int i = 0; i < D; i++) {
            v[i] = 2.0f * lvt_rng_unit(seed, 1, 54321, r, (uint64_t)i) - 1.0f;
            s += (double)v[i] * v[i];
        }
        for (int i = 0; i < D; i++)
            v[i] = (float)(v[i] / sqrt(s));
    }
    /* backend memory of the CPU backend is host memory; go through ops anyway */
    float *ctx_d = be->ops->alloc(be, nc * sizeof(float), &e);
    float *draw_d = be->ops->alloc(be, no * sizeof(float), &e);
    float *dpred_d = be->ops->alloc(be, no * sizeof(float), &e);
    float *dctx_d = be->ops->alloc(be, nc * sizeof(float), &e);
    float *pred_d = be->ops->alloc(be, no * sizeof(float), &e);
    if (!ctx_d || !draw_d || !dpred_d || !dctx_d || !pred_d) {
        fprintf(stderr, "driver: %s\n", e.msg);
        return 1;
    }
    be->ops->to_device(be, ctx_d, ctx, nc * sizeof(float));
    if (lvt_model_forward(&m, 0, ctx_d, B, train, &key, pred_d, &e)) {
        fprintf(stderr, "driver: %s\n", e.msg);
        return 1;
    }
    be->ops->to_host(be, pred, pred_d, no * sizeof(float));
    be->ops->to_host(be, raw, lvt_model_raw(&m, 0), no * sizeof(float));
    double loss = 0;
    for (size_t i = 0; i < no; i++) {
        loss += (double)(raw[i] - y[i]) * (raw[i] - y[i]) / no +
                0.5 * (double)(pred[i] - y[i]) * (pred[i] - y[i]) / no;
        draw[i] = 2.0f * (raw[i] - y[i]) / (float)no;
        dpred[i] = (pred[i] - y[i]) / (float)no;
    }
    be->ops->to_device(be, draw_d, draw, no * sizeof(float));
    be->ops->to_device(be, dpred_d, dpred, no * sizeof(float));
    lvt_model_zero_grad(&m);
    if (lvt_model_backward_raw_pred(&m, 0, draw_d, dpred_d, dctx_d, &e)) {
        fprintf(stderr, "driver: %s\n", e.msg);
        return 1;
    }
    be->ops->to_host(be, dctx, dctx_d, nc * sizeof(float));
    lvt_model_params_to_host(&m, host);
    float *grads = malloc(m.n_params * sizeof(float));
    be->ops->to_host(be, grads, m.grads, m.n_params * sizeof(float));

    int bad = write_f32(out, "params.f32", host, m.n_params) |
              write_f32(out, "grads.f32", grads, m.n_params) | write_f32(out, "ctx.f32", ctx, nc) |
              write_f32(out, "y.f32", y, no) | write_f32(out, "raw.f32", raw, no) |
              write_f32(out, "pred.f32", pred, no) | write_f32(out, "dctx.f32", dctx, nc);
    /* the FFN activations: their sign pattern is lvt's ReLU decision (see the Python side) */
    size_t nf = (size_t)B * L * cfg.ffn_mult * cfg.d_model;
    float *ffn = malloc(nf * sizeof(float));
    for (int l = 0; l < cfg.n_layers; l++) {
        char name[64];
        snprintf(name, sizeof name, "ffn%d.f32", l);
        size_t n = l == cfg.n_layers - 1 ? nf / L : nf; /* the last layer: position L-1 only */
        be->ops->to_host(be, ffn, lvt_model_saved(&m, 0, l, "ffn"), n * sizeof(float));
        bad |= write_f32(out, name, ffn, n);
    }
    free(ffn);
    char path[1200];
    snprintf(path, sizeof path, "%s/meta.json", out);
    FILE *f = fopen(path, "w");
    if (!f || bad) {
        fprintf(stderr, "driver: cannot write into %s\n", out);
        return 1;
    }
    fprintf(
        f,
        "{\"dim\": %d, \"d_model\": %d, \"n_heads\": %d, \"n_layers\": %d, \"ffn\": %d, "
        "\"context_len\": %d, \"batch\": %d, \"dropout\": %.9g, \"train\": %d, \"loss\": %.12g,\n",
        cfg.dim, cfg.d_model, cfg.n_heads, cfg.n_layers, cfg.ffn_mult * cfg.d_model, L, B,
        (double)cfg.dropout, train, loss);
    fprintf(
        f,
        " \"key\": {\"seed\": %llu, \"step\": %llu, \"sample_base\": %lld, \"site_base\": %d},\n",
        (unsigned long long)key.seed, (unsigned long long)key.step, (long long)key.sample_base,
        LVT_SITE_LAYER_BASE);
    parity_write_tensors(f, &m);
    fprintf(f, "}\n");
    fclose(f);

    be->ops->free(be, ctx_d), be->ops->free(be, draw_d), be->ops->free(be, dpred_d);
    be->ops->free(be, dctx_d), be->ops->free(be, pred_d);
    free(host), free(grads), free(ctx), free(y), free(raw), free(pred), free(draw), free(dpred),
        free(dctx);
    lvt_model_destroy(&m);
    lvt_backend_destroy(be);
    return 0;
}
