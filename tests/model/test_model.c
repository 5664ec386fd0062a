/* test_model.c — the model module's table, initialisation and plan/forward/backward contracts:
 * the reference parameter count and PyTorch names/shapes, PyTorch-default init statistics,
 * layer replication, seeding, dropout keying by global sample index, slots and error paths. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lvt/model.h"
#include "lvt/rng.h"
#include "testutil.h"

static const lvt_model_cfg REF = {.dim = 768,
                                  .d_model = 512,
                                  .n_heads = 8,
                                  .n_layers = 4,
                                  .ffn_mult = 4,
                                  .context_len = 5,
                                  .dropout = 0.1f};

/* The expected state_dict, written out independently of model.c's table code. */
static void test_table(lvt_backend *be) {
    lvt_err e = {{0}};
    CHECK(lvt_model_param_count(&REF) == 17867520u, "count %zu", lvt_model_param_count(&REF));
    lvt_model m;
    CHECK(lvt_model_create(&m, &REF, be, &e) == 0, "create: %s", e.msg);
    CHECK(m.n_params == 17867520u, "n_params %zu", m.n_params);
    CHECK(m.n_tensors == 2 + 4 * 18 + 6, "n_tensors %d", m.n_tensors);
    const char *sub[18] = {"self_attn.in_proj_weight",
                           "self_attn.in_proj_bias",
                           "self_attn.out_proj.weight",
                           "self_attn.out_proj.bias",
                           "multihead_attn.in_proj_weight",
                           "multihead_attn.in_proj_bias",
                           "multihead_attn.out_proj.weight",
                           "multihead_attn.out_proj.bias",
                           "linear1.weight",
                           "linear1.bias",
                           "linear2.weight",
                           "linear2.bias",
                           "norm1.weight",
                           "norm1.bias",
                           "norm2.weight",
                           "norm2.bias",
                           "norm3.weight",
                           "norm3.bias"};
    long shp[18][2] = {{1536, 512}, {1536, 0}, {512, 512},  {512, 0},  {1536, 512}, {1536, 0},
                       {512, 512},  {512, 0},  {2048, 512}, {2048, 0}, {512, 2048}, {512, 0},
                       {512, 0},    {512, 0},  {512, 0},    {512, 0},  {512, 0},    {512, 0}};
    char names[80][96];
    long shapes[80][2];
    int n = 0;
    snprintf(names[n], 96, "input_proj.weight"), shapes[n][0] = 512, shapes[n++][1] = 768;
    snprintf(names[n], 96, "input_proj.bias"), shapes[n][0] = 512, shapes[n++][1] = 0;
    for (int l = 0; l < 4; l++)
        for (int k = 0; k < 18; k++) {
            snprintf(names[n], 96, "transformer_decoder.layers.%d.%s", l, sub[k]);
            shapes[n][0] = shp[k][0], shapes[n++][1] = shp[k][1];
        }
    snprintf(names[n], 96, "head.0.weight"), shapes[n][0] = 512, shapes[n++][1] = 512;
    snprintf(names[n], 96, "head.0.bias"), shapes[n][0] = 512, shapes[n++][1] = 0;
    snprintf(names[n], 96, "head.2.weight"), shapes[n][0] = 512, shapes[n++][1] = 0;
    snprintf(names[n], 96, "head.2.bias"), shapes[n][0] = 512, shapes[n++][1] = 0;
    snprintf(names[n], 96, "head.3.weight"), shapes[n][0] = 768, shapes[n++][1] = 512;
    snprintf(names[n], 96, "head.3.bias"), shapes[n][0] = 768, shapes[n++][1] = 0;
    size_t off = 0;
    for (int i = 0; i < n && i < m.n_tensors; i++) {
        const lvt_tensor_info *t = &m.tensors[i];
        CHECK(!strcmp(t->name, names[i]), "tensor %d: %s, expected %s", i, t->name, names[i]);
        CHECK(t->ndim == (shapes[i][1] ? 2 : 1), "%s ndim %d", t->name, t->ndim);
        CHECK(t->shape[0] == shapes[i][0] && (t->ndim == 1 || t->shape[1] == shapes[i][1]),
              "%s shape", t->name);
        CHECK(t->offset == off, "%s offset %zu, expected %zu", t->name, t->offset, off);
        off += (size_t)shapes[i][0] * (size_t)(shapes[i][1] ? shapes[i][1] : 1);
        CHECK(t->numel == (size_t)shapes[i][0] * (size_t)(shapes[i][1] ? shapes[i][1] : 1),
              "%s numel", t->name);
    }
    CHECK(off == m.n_params, "sum of numel %zu", off);
    const lvt_tensor_info *t = lvt_model_find(&m, "transformer_decoder.layers.2.norm3.bias");
    CHECK(t && t == &m.tensors[2 + 2 * 18 + 17], "find");
    CHECK(lvt_model_find(&m, "transformer_decoder.layers.4.norm3.bias") == NULL, "find absent");

    /* init statistics: U(-b, b) has mean 0 and variance b^2/3 */
    CHECK(lvt_model_init(&m, 42, &e) == 0, "init: %s", e.msg);
    for (int i = 0; i < m.n_tensors; i++) {
        t = &m.tensors[i];
        const float *w = m.params + t->offset;
        const char *nm = t->name;
        size_t len = strlen(nm);
        int is_w = len > 7 && !strcmp(nm + len - 7, ".weight");
        double bound = -1.0; /* -1: constant */
        float cval = 0.0f;
        if (strstr(nm, "norm") || !strncmp(nm, "head.2", 6))
            cval = is_w ? 1.0f : 0.0f;
        else if (strstr(nm, "in_proj_weight"))
            bound = sqrt(6.0 / (512.0 + 1536.0));
        else if (strstr(nm, "in_proj_bias") || strstr(nm, "out_proj.bias"))
            cval = 0.0f;
        else if (is_w)
            bound = 1.0 / sqrt((double)t->shape[1]);
        else
            bound = 1.0 / sqrt((double)m.tensors[i - 1].shape[1]);
        if (bound < 0) {
            int ok = 1;
            for (size_t j = 0; j < t->numel; j++)
                ok &= w[j] == cval;
            CHECK(ok, "%s: not constant %g", nm, (double)cval);
            continue;
        }
        double s = 0, s2 = 0, mx = 0;
        for (size_t j = 0; j < t->numel; j++) {
            s += w[j];
            s2 += (double)w[j] * w[j];
            mx = fmax(mx, fabs(w[j]));
        }
        double nn = (double)t->numel, mean = s / nn, var = s2 / nn - mean * mean;
        double sd_mean = bound / sqrt(3.0 * nn);
        CHECK(mx <= bound * (1 + 1e-6), "%s: max %g > bound %g", nm, mx, bound);
        CHECK(mx >= bound * (1 - 20.0 / nn), "%s: max %g far below bound %g", nm, mx, bound);
        CHECK(fabs(mean) < 5 * sd_mean, "%s: mean %g (sd %g)", nm, mean, sd_mean);
        /* var of U^2 estimate: sd = b^2 * sqrt(4/45/n) */
        CHECK(fabs(var - bound * bound / 3) < 5 * bound * bound * sqrt(4.0 / 45.0 / nn) + 1e-12,
              "%s: var %g, expected %g", nm, var, bound * bound / 3);
    }
    /* nn.TransformerDecoder deep-copies the layer: every layer equals layer 0 */
    for (int l = 1; l < 4; l++)
        for (int k = 0; k < 18; k++) {
            const lvt_tensor_info *a = &m.tensors[2 + k], *b = &m.tensors[2 + 18 * l + k];
            CHECK(!memcmp(m.params + a->offset, m.params + b->offset, a->numel * sizeof(float)),
                  "%s differs from layer 0", b->name);
        }
    /* different matrices of one layer are not copies of each other */
    CHECK(memcmp(m.params + m.tensors[2].offset, m.params + m.tensors[6].offset, 4096) != 0,
          "self_attn and multihead_attn share their init");
    float *first = malloc(m.n_params * sizeof(float));
    lvt_model_params_to_host(&m, first);
    CHECK(lvt_model_init(&m, 42, &e) == 0, "init");
    CHECK(!memcmp(first, m.params, m.n_params * sizeof(float)), "same seed, different init");
    CHECK(lvt_model_init(&m, 43, &e) == 0, "init");
    CHECK(memcmp(first, m.params, m.n_params * sizeof(float)) != 0, "seed ignored");
    free(first);
    lvt_model_destroy(&m);
}

static double maxdiff(const float *a, const float *b, size_t n) {
    double d = 0;
    for (size_t i = 0; i < n; i++)
        d = fmax(d, fabs((double)a[i] - b[i]));
    return d;
}

/* Small-shape behaviour: slots, keying, accumulation, errors. */
static void test_behaviour(lvt_backend *be) {
    lvt_err e = {{0}};
    lvt_model_cfg cfg = {.dim = 24,
                         .d_model = 16,
                         .n_heads = 4,
                         .n_layers = 2,
                         .ffn_mult = 4,
                         .context_len = 5,
                         .dropout = 0.3f};
    lvt_model m;
    CHECK(lvt_model_create(&m, &cfg, be, &e) == 0, "create: %s", e.msg);
    CHECK(lvt_model_init(&m, 7, &e) == 0, "init: %s", e.msg);
    int B = 4, L = 5, D = 24;
    float *ctx = malloc(sizeof(float) * B * L * D), *pred = malloc(sizeof(float) * B * D);
    float *pred2 = malloc(sizeof(float) * B * D), *dctx = malloc(sizeof(float) * B * L * D);
    for (int i = 0; i < B * L * D; i++)
        ctx[i] = 2.0f * lvt_rng_unit(3, 0, 1, 0, i) - 1.0f;

    /* errors */
    CHECK(lvt_model_forward(&m, 0, ctx, B, 0, NULL, pred, &e) != 0, "forward before plan");
    CHECK_MSG(e.msg, "plan");
    CHECK(lvt_model_plan(&m, B, 2, &e) == 0, "plan: %s", e.msg);
    CHECK(lvt_model_forward(&m, 2, ctx, B, 0, NULL, pred, &e) != 0, "slot 2");
    CHECK_MSG(e.msg, "slot 2");
    CHECK(lvt_model_forward(&m, 0, ctx, B + 1, 0, NULL, pred, &e) != 0, "batch too big");
    CHECK_MSG(e.msg, "batch 5");
    CHECK(lvt_model_forward(&m, 0, ctx, B, 1, NULL, pred, &e) != 0, "train without key");
    CHECK(lvt_model_backward(&m, 1, pred, NULL, &e) != 0, "backward without forward");
    lvt_model_cfg bad = cfg;
    bad.n_heads = 3;
    lvt_model m2;
    CHECK(lvt_model_create(&m2, &bad, be, &e) != 0, "d_model not divisible by heads");
    CHECK_MSG(e.msg, "divisible");

    /* eval: unit-norm predictions equal raw / ||raw|| */
    CHECK(lvt_model_forward(&m, 0, ctx, B, 0, NULL, pred, &e) == 0, "fwd: %s", e.msg);
    const float *raw = lvt_model_raw(&m, 0);
    for (int b = 0; b < B; b++) {
        double nr = 0;
        for (int i = 0; i < D; i++)
            nr += (double)raw[b * D + i] * raw[b * D + i];
        nr = sqrt(nr);
        double dev = 0;
        for (int i = 0; i < D; i++)
            dev = fmax(dev, fabs(pred[b * D + i] - raw[b * D + i] / nr));
        CHECK(dev < 1e-6, "pred != raw/|raw| (%g)", dev);
    }
    /* eval is per-sample: sample 2 alone gives the same prediction */
    CHECK(lvt_model_forward(&m, 1, ctx + 2 * L * D, 1, 0, NULL, pred2, &e) == 0, "fwd");
    CHECK(maxdiff(pred2, pred + 2 * D, D) < 1e-5, "batching changes eval output");

    /* causal: changing only the first context vector changes the output (attention reaches it),
     * training output differs from eval output, and is keyed by the global sample index */
    lvt_dropout_key key = {.seed = 11, .step = 3, .site = 0, .sample_base = 100, .p = 0};
    CHECK(lvt_model_forward(&m, 0, ctx, B, 1, &key, pred, &e) == 0, "train fwd: %s", e.msg);
    float *ev = malloc(sizeof(float) * B * D);
    CHECK(lvt_model_forward(&m, 1, ctx, B, 0, NULL, ev, &e) == 0, "fwd");
    CHECK(maxdiff(ev, pred, (size_t)B * D) > 1e-3, "dropout has no effect in train mode");
    lvt_dropout_key key2 = key;
    key2.sample_base = 102;
    CHECK(lvt_model_forward(&m, 1, ctx + 2 * L * D, 2, 1, &key2, pred2, &e) == 0, "fwd");
    /* same masks: equal up to GEMM blocking round-off (a different mask moves it by > 1e-4) */
    CHECK(maxdiff(pred2, pred + 2 * D, 2 * (size_t)D) < 1e-5,
          "masks depend on the batch split (%g)", maxdiff(pred2, pred + 2 * D, 2 * (size_t)D));
    key2.sample_base = 100;
    CHECK(lvt_model_forward(&m, 1, ctx + 2 * L * D, 2, 1, &key2, pred2, &e) == 0, "fwd");
    CHECK(maxdiff(pred2, pred + 2 * D, 2 * (size_t)D) > 1e-4, "masks ignore the sample index");
    key2 = key;
    key2.step = 4;
    CHECK(lvt_model_forward(&m, 1, ctx, B, 1, &key2, pred2, &e) == 0, "fwd");
    CHECK(maxdiff(pred2, pred, (size_t)B * D) > 1e-4, "masks ignore the step");

    /* slots: backward of slot 0 and slot 1 accumulates the sum of the two separate gradients */
    float *dp = malloc(sizeof(float) * B * D);
    for (int i = 0; i < B * D; i++)
        dp[i] = 2.0f * lvt_rng_unit(3, 0, 2, 0, i) - 1.0f;
    float *g0 = malloc(m.n_params * sizeof(float)), *g1 = malloc(m.n_params * sizeof(float));
    float *ctx2 = malloc(sizeof(float) * B * L * D);
    for (int i = 0; i < B * L * D; i++)
        ctx2[i] = ctx[(i + 37) % (B * L * D)];
    lvt_model_zero_grad(&m);
    CHECK(lvt_model_forward(&m, 0, ctx, B, 1, &key, NULL, &e) == 0, "fwd");
    CHECK(lvt_model_backward(&m, 0, dp, NULL, &e) == 0, "bwd");
    memcpy(g0, m.grads, m.n_params * sizeof(float));
    lvt_model_zero_grad(&m);
    CHECK(lvt_model_forward(&m, 1, ctx2, B, 1, &key, NULL, &e) == 0, "fwd");
    CHECK(lvt_model_backward(&m, 1, dp, dctx, &e) == 0, "bwd");
    memcpy(g1, m.grads, m.n_params * sizeof(float));
    lvt_model_zero_grad(&m);
    CHECK(lvt_model_forward(&m, 0, ctx, B, 1, &key, NULL, &e) == 0, "fwd");
    CHECK(lvt_model_forward(&m, 1, ctx2, B, 1, &key, NULL, &e) == 0, "fwd");
    CHECK(lvt_model_backward(&m, 1, dp, NULL, &e) == 0, "bwd");
    CHECK(lvt_model_backward(&m, 0, dp, NULL, &e) == 0, "bwd");
    double dev = 0, gmax = 0;
    for (size_t i = 0; i < m.n_params; i++) {
        dev = fmax(dev, fabs((double)m.grads[i] - g0[i] - g1[i]));
        gmax = fmax(gmax, fabs(g0[i]));
    }
    CHECK(gmax > 1e-4 && dev < 1e-5 * (1 + gmax), "two slots: dev %g (gmax %g)", dev, gmax);

    /* re-planning to a larger shape keeps working */
    CHECK(lvt_model_plan(&m, 2 * B, 3, &e) == 0, "replan: %s", e.msg);
    CHECK(lvt_model_forward(&m, 2, ctx, B, 0, NULL, pred2, &e) == 0, "fwd after replan");
    CHECK(maxdiff(pred2, ev, (size_t)B * D) < 1e-6, "replan changed the output");
    printf("activation memory: %zu bytes per sample and slot (reference shape: %zu)\n",
           lvt_model_act_bytes_per_sample(&cfg), lvt_model_act_bytes_per_sample(&REF));

    free(ctx), free(ctx2), free(pred), free(pred2), free(dctx), free(ev), free(dp), free(g0),
        free(g1);
    lvt_model_destroy(&m);
}

int main(void) {
    lvt_err e = {{0}};
    lvt_backend *be = NULL;
    if (lvt_backend_create(&be, "cpu", -1, LVT_MATH_FP32, &e)) {
        fprintf(stderr, "backend: %s\n", e.msg);
        return 1;
    }
    test_table(be);
    test_behaviour(be);
    lvt_backend_destroy(be);
    return test_finish("test_model");
}
