/* test_loss_parity_driver.c — the lvt side of tests/parity/p4_objective.py: builds a model,
 * a batch (unit context rows, targets correlated with the last context row, +2/+3 rows with some
 * missing, rollout truth rows), runs lvt_loss_step with the requested objective and writes the
 * parameters, the batch, the FFN ReLU decisions of every forward slot, the logged terms and the
 * parameter gradients (raw little-endian float32 + meta.json) into --out.
 * The flat threshold is placed 0.02 below the smallest mean cos(p_{h-1}, p_h) of the rollout so
 * every flat term is active. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../parity/parity_io.h"
#include "lvt/loss.h"
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

static const char *arg_str(int argc, char **argv, const char *flag, const char *dflt) {
    for (int i = 1; i + 1 < argc; i++)
        if (!strcmp(argv[i], flag)) return argv[i + 1];
    return dflt;
}
static long arg_long(int argc, char **argv, const char *flag, long dflt) {
    const char *s = arg_str(argc, argv, flag, NULL);
    return s ? strtol(s, NULL, 10) : dflt;
}
static double arg_double(int argc, char **argv, const char *flag, double dflt) {
    const char *s = arg_str(argc, argv, flag, NULL);
    return s ? strtod(s, NULL) : dflt;
}

static void unit_row(float *v, int D, uint64_t seed, uint32_t site, uint64_t r) {
    double s = 0;
    for (int j = 0; j < D; j++) {
        v[j] = 2.0f * lvt_rng_unit(seed, 0, site, r, (uint64_t)j) - 1.0f;
        s += (double)v[j] * v[j];
    }
    for (int j = 0; j < D; j++) v[j] = (float)(v[j] / sqrt(s));
}

/* A choice knob of the objective from its JSON spelling, through the config module's parser. */
static void set_choice(lvt_objective_cfg *o, const char *key, const char *value) {
    static lvt_config c;
    char assignment[160];
    lvt_err e = {{0}};
    lvt_config_defaults(&c);
    c.objective = *o;
    snprintf(assignment, sizeof assignment, "objective.%s=%s", key, value);
    if (lvt_config_set(&c, assignment, &e)) {
        fprintf(stderr, "driver: %s\n", e.msg);
        exit(2);
    }
    *o = c.objective;
}

int main(int argc, char **argv) {
    const char *out = arg_str(argc, argv, "--out", NULL);
    if (!out) {
        fprintf(stderr, "usage: test_loss_parity_driver --out DIR [--dim D --d-model d --heads H --layers N "
                        "--batch B --seed S --perturb X --rollout-h H --rollout-grad full|first "
                        "--supervise flat|truth --adaptive batch|sample|off --dir-ref prev|last "
                        "--drop-mode none|zero|mean|noise]\n");
        return 1;
    }
    lvt_model_cfg cfg = {.dim = (int)arg_long(argc, argv, "--dim", 64),
                         .d_model = (int)arg_long(argc, argv, "--d-model", 32),
                         .n_heads = (int)arg_long(argc, argv, "--heads", 4),
                         .n_layers = (int)arg_long(argc, argv, "--layers", 2),
                         .ffn_mult = 4,
                         .context_len = 5,
                         .dropout = 0.0f};
    const int B = (int)arg_long(argc, argv, "--batch", 16), L = cfg.context_len, D = cfg.dim;
    const uint64_t seed = (uint64_t)arg_long(argc, argv, "--seed", 7);
    const float perturb = (float)arg_double(argc, argv, "--perturb", 0.0);
    const char *drop = arg_str(argc, argv, "--drop-mode", "none");

    lvt_objective_cfg o;
    memset(&o, 0, sizeof o);
    o.rollout_h = (int)arg_long(argc, argv, "--rollout-h", 3);
    o.lambda_roll = 0.1;
    set_choice(&o, "rollout_grad", arg_str(argc, argv, "--rollout-grad", "full"));
    set_choice(&o, "rollout_supervise", arg_str(argc, argv, "--supervise", "flat"));
    o.flat_threshold = 0.95, o.flat_scale = 10.0;
    o.lambda_dir = 0.05, o.margin_dir = 0.02;
    set_choice(&o, "dir_ref", arg_str(argc, argv, "--dir-ref", "prev"));
    set_choice(&o, "adaptive_dir", arg_str(argc, argv, "--adaptive", "batch"));
    o.lambda_fut = 0.04, o.margin_fut = 0.03;
    o.lambda_ac = 0.03, o.margin_ac = 0.04;
    o.context_drop_p = strcmp(drop, "none") ? 1.0 : 0.0;
    set_choice(&o, "context_drop_mode", strcmp(drop, "none") ? drop : "noise");
    set_choice(&o, "base_loss", arg_str(argc, argv, "--base-loss", "mse"));
    o.cosine_weight = arg_double(argc, argv, "--cosine-weight", 1.0);
    const int H = o.rollout_h < 1 ? 1 : o.rollout_h;

    lvt_err e = {{0}};
    lvt_backend *be = NULL;
    lvt_model m;
    lvt_loss l;
    if (lvt_backend_create(&be, "cpu", -1, LVT_MATH_FP32, &e) || lvt_model_create(&m, &cfg, be, &e) ||
        lvt_model_init(&m, seed, &e) || lvt_model_plan(&m, B, H, &e) || lvt_loss_create(&l, be, B, L, D, H, &e)) {
        fprintf(stderr, "driver: %s\n", e.msg);
        return 1;
    }
    const lvt_ops *ops = be->ops;
    float *host = malloc(sizeof(float) * m.n_params);
    lvt_model_params_to_host(&m, host);
    if (perturb > 0) { /* break the layer symmetry and the LayerNorm ones/zeros */
        for (size_t i = 0; i < m.n_params; i++)
            host[i] += perturb * (2.0f * lvt_rng_unit(seed, 0, 12345, 0, i) - 1.0f);
        lvt_model_params_from_host(&m, host);
    }

    /* the batch */
    size_t nc = (size_t)B * L * D, nd = (size_t)B * D;
    float *ctx = malloc(sizeof(float) * nc), *y = malloc(sizeof(float) * nd);
    float *fut = calloc(2 * nd, sizeof(float)), *futm = calloc((size_t)B * 2, sizeof(float));
    float *roll = calloc((size_t)H * nd, sizeof(float)), *rollm = calloc((size_t)B * H, sizeof(float));
    float *noise = malloc(sizeof(float) * (size_t)D);
    for (size_t r = 0; r < (size_t)B * L; r++) unit_row(ctx + r * D, D, seed, 1, r);
    for (int b = 0; b < B; b++) {
        const float *c4 = ctx + ((size_t)b * L + L - 1) * D;
        double a = 0.4 + 0.4 * b / (double)(B > 1 ? B - 1 : 1), s = 0; /* cos(c4, y) ≈ 0.4 .. 0.8 */
        unit_row(noise, D, seed, 2, (uint64_t)b);
        for (int j = 0; j < D; j++) {
            y[(size_t)b * D + j] = (float)(a * c4[j] + sqrt(1 - a * a) * noise[j]);
            s += (double)y[(size_t)b * D + j] * y[(size_t)b * D + j];
        }
        for (int j = 0; j < D; j++) y[(size_t)b * D + j] = (float)(y[(size_t)b * D + j] / sqrt(s));
        /* as at the end of an article: every 5th sample lacks +2 and +3, every 3rd lacks +3 */
        int n_after = b % 5 == 4 ? 0 : b % 3 == 2 ? 1 : 2;
        for (int k = 0; k < n_after; k++) {
            unit_row(fut + ((size_t)b * 2 + k) * D, D, seed, 3, (uint64_t)(b * 2 + k));
            futm[b * 2 + k] = 1.0f;
        }
        for (int h = 0; h < H; h++) {
            const float *src = h == 0 ? y + (size_t)b * D : h <= 2 ? fut + ((size_t)b * 2 + h - 1) * D : NULL;
            int exists = h == 0 || (h <= 2 && futm[b * 2 + h - 1] != 0);
            if (h > 2) { /* truth rows past +3: their own rows, missing every 4th sample */
                exists = b % 4 != 1 && n_after == 2;
                if (exists) unit_row(roll + ((size_t)b * H + h) * D, D, seed, 4, (uint64_t)(b * H + h));
            } else if (exists) {
                memcpy(roll + ((size_t)b * H + h) * D, src, sizeof(float) * (size_t)D);
            }
            rollm[b * H + h] = (float)exists;
        }
    }
    float *d_ctx = ops->alloc(be, sizeof(float) * nc, &e), *d_y = ops->alloc(be, sizeof(float) * nd, &e);
    float *d_fut = ops->alloc(be, sizeof(float) * 2 * nd, &e), *d_futm = ops->alloc(be, sizeof(float) * B * 2, &e);
    float *d_roll = ops->alloc(be, sizeof(float) * H * nd, &e), *d_rollm = ops->alloc(be, sizeof(float) * B * H, &e);
    if (!d_ctx || !d_y || !d_fut || !d_futm || !d_roll || !d_rollm) {
        fprintf(stderr, "driver: %s\n", e.msg);
        return 1;
    }
    ops->to_device(be, d_ctx, ctx, sizeof(float) * nc);
    ops->to_device(be, d_y, y, sizeof(float) * nd);
    ops->to_device(be, d_fut, fut, sizeof(float) * 2 * nd);
    ops->to_device(be, d_futm, futm, sizeof(float) * B * 2);
    ops->to_device(be, d_roll, roll, sizeof(float) * H * nd);
    ops->to_device(be, d_rollm, rollm, sizeof(float) * B * H);
    lvt_loss_batch lb = {B, d_ctx, d_y, d_fut, d_futm, d_roll, d_rollm, H};
    lvt_loss_norm norm = {B, B};
    lvt_dropout_key key = {.seed = seed + 99, .step = 11, .site = 0, .sample_base = 4242, .p = 0.0f};

    /* a first evaluation places the flat threshold below every step's mean cosine */
    if (lvt_loss_step(&l, &m, &o, &lb, &norm, &key, 1, 0, &e)) {
        fprintf(stderr, "driver: %s\n", e.msg);
        return 1;
    }
    float *preds = malloc(sizeof(float) * (size_t)H * nd);
    ops->to_host(be, preds, l.preds, sizeof(float) * (size_t)H * nd);
    double min_cos = 1.0;
    for (int h = 1; h < H; h++) {
        double mc = 0;
        for (int b = 0; b < B; b++) {
            double s = 0;
            for (int j = 0; j < D; j++)
                s += (double)preds[((size_t)(h - 1) * B + b) * D + j] * preds[((size_t)h * B + b) * D + j];
            mc += s / B;
        }
        if (mc < min_cos) min_cos = mc;
    }
    if (H > 1) o.flat_threshold = min_cos - 0.02;

    lvt_model_zero_grad(&m);
    if (lvt_loss_step(&l, &m, &o, &lb, &norm, &key, 1, 1, &e)) {
        fprintf(stderr, "driver: %s\n", e.msg);
        return 1;
    }
    float terms[LVT_TERM_COUNT];
    lvt_loss_read(&l, terms);
    float *grads = malloc(sizeof(float) * m.n_params);
    ops->to_host(be, grads, m.grads, sizeof(float) * m.n_params);
    lvt_model_params_to_host(&m, host);

    int bad = write_f32(out, "params.f32", host, m.n_params) | write_f32(out, "grads.f32", grads, m.n_params) |
              write_f32(out, "ctx.f32", ctx, nc) | write_f32(out, "y.f32", y, nd) |
              write_f32(out, "fut.f32", fut, 2 * nd) | write_f32(out, "futm.f32", futm, (size_t)B * 2) |
              write_f32(out, "roll.f32", roll, (size_t)H * nd) | write_f32(out, "rollm.f32", rollm, (size_t)B * H);
    /* the saved activations are read after a forward-only repeat of the same step (the backward
     * may reuse them as scratch); the forward is deterministic */
    if (lvt_loss_step(&l, &m, &o, &lb, &norm, &key, 1, 0, &e)) {
        fprintf(stderr, "driver: %s\n", e.msg);
        return 1;
    }
    ops->to_host(be, preds, l.preds, sizeof(float) * (size_t)H * nd);
    bad |= write_f32(out, "preds.f32", preds, (size_t)H * nd);
    /* the FFN ReLU decisions of every slot and layer (> 0 where the ReLU passed); the last layer
     * holds position L-1 only */
    size_t nf = (size_t)B * L * cfg.ffn_mult * cfg.d_model;
    float *ffn = malloc(sizeof(float) * nf);
    int n_slots = (o.lambda_roll > 0 && o.rollout_h > 1) ? o.rollout_h : 1;
    for (int s = 0; s < n_slots; s++)
        for (int ly = 0; ly < cfg.n_layers; ly++) {
            char name[64];
            snprintf(name, sizeof name, "ffn_%d_%d.f32", s, ly);
            /* the last layer computes position L-1 only: [B, F] */
            size_t n_ly = ly == cfg.n_layers - 1 ? nf / (size_t)L : nf;
            ops->to_host(be, ffn, lvt_model_saved(&m, s, ly, "ffn"), sizeof(float) * n_ly);
            bad |= write_f32(out, name, ffn, n_ly);
        }
    char path[1200];
    snprintf(path, sizeof path, "%s/meta.json", out);
    FILE *f = fopen(path, "w");
    if (!f || bad) {
        fprintf(stderr, "driver: cannot write into %s\n", out);
        return 1;
    }
    fprintf(f, "{\"dim\": %d, \"d_model\": %d, \"n_heads\": %d, \"n_layers\": %d, \"ffn\": %d, \"context_len\": %d, "
               "\"batch\": %d, \"slots\": %d,\n",
            D, cfg.d_model, cfg.n_heads, cfg.n_layers, cfg.ffn_mult * cfg.d_model, L, B, n_slots);
    fprintf(f, " \"objective\": {\"base_loss\": \"%s\", \"cosine_weight\": %.17g, \"rollout_h\": %d, \"lambda_roll\": %.17g, \"rollout_grad\": \"%s\", "
               "\"rollout_supervise\": \"%s\", \"flat_threshold\": %.17g, \"flat_scale\": %.17g, "
               "\"lambda_dir\": %.17g, \"margin_dir\": %.17g, \"dir_ref\": \"%s\", \"adaptive_dir\": \"%s\", "
               "\"lambda_fut\": %.17g, \"margin_fut\": %.17g, \"lambda_ac\": %.17g, \"margin_ac\": %.17g, "
               "\"context_drop_p\": %.17g, \"context_drop_mode\": \"%s\"},\n",
            lvt_config_choice_name(LVT_CHOICE_BASE_LOSS, o.base_loss), o.cosine_weight,
            o.rollout_h, o.lambda_roll, lvt_config_choice_name(LVT_CHOICE_ROLLOUT_GRAD, o.rollout_grad),
            lvt_config_choice_name(LVT_CHOICE_ROLLOUT_SUPERVISE, o.rollout_supervise), o.flat_threshold, o.flat_scale,
            o.lambda_dir, o.margin_dir, lvt_config_choice_name(LVT_CHOICE_DIR_REF, o.dir_ref),
            lvt_config_choice_name(LVT_CHOICE_ADAPTIVE_DIR, o.adaptive_dir), o.lambda_fut, o.margin_fut, o.lambda_ac,
            o.margin_ac, o.context_drop_p, lvt_config_choice_name(LVT_CHOICE_CONTEXT_DROP_MODE, o.context_drop_mode));
    fprintf(f, " \"terms\": {\"total\": %.9g, \"mse\": %.9g, \"rollout\": %.9g, \"dir\": %.9g, \"future\": %.9g, "
               "\"anticopy\": %.9g, \"cos\": %.9g, \"lambda_dir_eff\": %.9g},\n",
            terms[LVT_TERM_TOTAL], terms[LVT_TERM_MSE], terms[LVT_TERM_ROLL], terms[LVT_TERM_DIR],
            terms[LVT_TERM_FUT], terms[LVT_TERM_AC], terms[LVT_TERM_COS], terms[LVT_TERM_LAMBDA_EFF]);
    fprintf(f, " \"key\": {\"seed\": %llu, \"step\": %llu, \"sample_base\": %lld, \"site_noise\": %d},\n",
            (unsigned long long)key.seed, (unsigned long long)key.step, (long long)key.sample_base,
            LVT_SITE_CONTEXT_NOISE);
    parity_write_tensors(f, &m);
    fprintf(f, "}\n");
    fclose(f);

    float *dbufs[] = {d_ctx, d_y, d_fut, d_futm, d_roll, d_rollm};
    for (int i = 0; i < 6; i++) ops->free(be, dbufs[i]);
    free(host), free(grads), free(ctx), free(y), free(fut), free(futm), free(roll), free(rollm), free(noise);
    free(preds), free(ffn);
    lvt_loss_destroy(&l);
    lvt_model_destroy(&m);
    lvt_backend_destroy(be);
    return 0;
}
