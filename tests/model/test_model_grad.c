/* test_model_grad.c — gradient check of the whole transformer (model module): central finite
 * differences of the scalar loss  S = sum(wr * raw) + sum(wp * pred)  against the analytic
 * gradients of lvt_model_backward_raw_pred, for a sample of entries of every parameter tensor and of the
 * context, in eval mode and in train mode (dropout with a fixed key). Small shape: D=16, d=8,
 * 2 heads, 2 layers, L=5, B=3, on the CPU backend (whose memory is host memory). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lvt/model.h"
#include "lvt/rng.h"
#include "testutil.h"

#define B 3
#define EPS_FD 1e-2 /* relative step; see fd_step */

typedef struct {
    lvt_model *m;
    float *ctx, *wr, *wp;
    int train;
    lvt_dropout_key key;
} problem;

static double loss_of(problem *P) {
    lvt_err e = {{0}};
    const lvt_model_cfg *c = &P->m->cfg;
    if (lvt_model_forward(P->m, 0, P->ctx, B, P->train, &P->key, NULL, &e)) {
        fprintf(stderr, "forward: %s\n", e.msg);
        exit(1);
    }
    const float *raw = lvt_model_raw(P->m, 0), *pred = lvt_model_pred(P->m, 0);
    double s = 0.0;
    for (int i = 0; i < B * c->dim; i++)
        s += (double)P->wr[i] * raw[i] + (double)P->wp[i] * pred[i];
    return s;
}

static float fd_step(float x) { return (float)(EPS_FD * fmax(0.1, fabs(x))); }

/* central difference of S w.r.t. *x (perturbed in place and restored) */
static double fd(problem *P, float *x) {
    float x0 = *x, h = fd_step(x0);
    *x = x0 + h;
    double lp = loss_of(P);
    *x = x0 - h;
    double lm = loss_of(P);
    *x = x0;
    return (lp - lm) / (((double)(x0 + h)) - ((double)(x0 - h)));
}

/* |fd - an| <= atol + rtol * max(|fd|, |an|) */
#define RTOL 2e-2
#define ATOL 2e-3

static int run_check(lvt_backend *be, int train) {
    lvt_err e = {{0}};
    lvt_model_cfg cfg = {.dim = 16,
                         .d_model = 8,
                         .n_heads = 2,
                         .n_layers = 2,
                         .ffn_mult = 4,
                         .context_len = 5,
                         .dropout = 0.25f};
    lvt_model m;
    CHECK(lvt_model_create(&m, &cfg, be, &e) == 0, "create: %s", e.msg);
    CHECK(lvt_model_init(&m, 1234, &e) == 0, "init: %s", e.msg);
    CHECK(lvt_model_plan(&m, B, 1, &e) == 0, "plan: %s", e.msg);
    /* break the layer symmetry of the PyTorch-style init and make biases/LN non-trivial */
    for (size_t i = 0; i < m.n_params; i++)
        m.params[i] += 0.2f * (2.0f * lvt_rng_unit(99, 0, 7, 0, i) - 1.0f);

    int L = cfg.context_len, D = cfg.dim;
    problem P = {.m = &m, .train = train};
    P.key = (lvt_dropout_key){.seed = 77, .step = 5, .site = 0, .sample_base = 40, .p = 0.0f};
    P.ctx = malloc(sizeof(float) * B * L * D);
    P.wr = malloc(sizeof(float) * B * D);
    P.wp = malloc(sizeof(float) * B * D);
    float *dctx = malloc(sizeof(float) * B * L * D);
    for (int i = 0; i < B * L * D; i++)
        P.ctx[i] = 2.0f * lvt_rng_unit(5, 0, 1, 0, i) - 1.0f;
    for (int i = 0; i < B * D; i++) {
        P.wr[i] = 2.0f * lvt_rng_unit(5, 0, 2, 0, i) - 1.0f;
        P.wp[i] = 2.0f * lvt_rng_unit(5, 0, 3, 0, i) - 1.0f;
    }

    loss_of(&P);
    lvt_model_zero_grad(&m);
    CHECK(lvt_model_backward_raw_pred(&m, 0, P.wr, P.wp, dctx, &e) == 0, "backward: %s", e.msg);
    float *an = malloc(sizeof(float) * m.n_params);
    memcpy(an, m.grads, sizeof(float) * m.n_params);

    int n_checked = 0, n_bad = 0;
    double worst = 0.0;
    for (int t = 0; t < m.n_tensors; t++) {
        const lvt_tensor_info *ti = &m.tensors[t];
        /* the largest analytic entry and 5 random ones */
        size_t idx[6];
        size_t imax = 0;
        for (size_t i = 1; i < ti->numel; i++)
            if (fabsf(an[ti->offset + i]) > fabsf(an[ti->offset + imax])) imax = i;
        idx[0] = imax;
        for (int k = 1; k < 6; k++)
            idx[k] = lvt_rng_u32(11, 0, 9, (uint64_t)t, (uint64_t)k) % ti->numel;
        double tensor_norm = 0.0;
        for (size_t i = 0; i < ti->numel; i++)
            tensor_norm = fmax(tensor_norm, fabs(an[ti->offset + i]));
        CHECK(tensor_norm > 1e-6, "%s: analytic gradient is all zero", ti->name);
        for (int k = 0; k < 6; k++) {
            size_t j = ti->offset + idx[k];
            double g_fd = fd(&P, &m.params[j]), g_an = an[j];
            double err = fabs(g_fd - g_an), tol = ATOL + RTOL * fmax(fabs(g_fd), fabs(g_an));
            n_checked++;
            if (err / tol > worst) worst = err / tol;
            if (err > tol) {
                n_bad++;
                fprintf(stderr, "%s %s[%zu]: fd %.6g analytic %.6g\n", train ? "train" : "eval",
                        ti->name, idx[k], g_fd, g_an);
            }
        }
    }
    /* the context: 12 random entries and the largest */
    size_t cmax = 0;
    for (int i = 1; i < B * L * D; i++)
        if (fabsf(dctx[i]) > fabsf(dctx[cmax])) cmax = (size_t)i;
    for (int k = 0; k < 13; k++) {
        size_t j = k == 0 ? cmax : lvt_rng_u32(12, 0, 9, 0, (uint64_t)k) % (B * L * D);
        double g_fd = fd(&P, &P.ctx[j]), g_an = dctx[j];
        double err = fabs(g_fd - g_an), tol = ATOL + RTOL * fmax(fabs(g_fd), fabs(g_an));
        n_checked++;
        if (err / tol > worst) worst = err / tol;
        if (err > tol) {
            n_bad++;
            fprintf(stderr, "%s ctx[%zu]: fd %.6g analytic %.6g\n", train ? "train" : "eval", j,
                    g_fd, g_an);
        }
    }
    /* The causal mask: the context's last position reaches the output, so its gradient is
     * non-zero; the loss does depend on every position through attention, so none is all zero. */
    for (int pos = 0; pos < L; pos++) {
        double s = 0.0;
        for (int b = 0; b < B; b++)
            for (int i = 0; i < D; i++)
                s += fabs(dctx[(b * L + pos) * D + i]);
        CHECK(s > 1e-6, "dctx at position %d is zero", pos);
    }
    printf("%s mode: %d gradient entries checked, %d outside |fd-an| <= %.0e + %.0e*max, worst "
           "err/tol %.3f\n",
           train ? "train" : "eval", n_checked, n_bad, ATOL, RTOL, worst);
    CHECK(n_bad == 0, "%d of %d gradient entries disagree with finite differences", n_bad,
          n_checked);

    /* accumulation: a second backward doubles the gradients */
    loss_of(&P);
    CHECK(lvt_model_backward_raw_pred(&m, 0, P.wr, P.wp, NULL, &e) == 0, "backward: %s", e.msg);
    double maxdev = 0.0;
    for (size_t i = 0; i < m.n_params; i++)
        maxdev = fmax(maxdev, fabs(m.grads[i] - 2.0 * an[i]));
    CHECK(maxdev < 1e-5, "second backward does not accumulate (max dev %g)", maxdev);

    free(an);
    free(dctx);
    free(P.ctx);
    free(P.wr);
    free(P.wp);
    lvt_model_destroy(&m);
    return 0;
}

int main(void) {
    lvt_err e = {{0}};
    lvt_backend *be = NULL;
    if (lvt_backend_create(&be, "cpu", -1, LVT_MATH_FP32, &e)) {
        fprintf(stderr, "backend: %s\n", e.msg);
        return 1;
    }
    run_check(be, 0);
    run_check(be, 1);
    lvt_backend_destroy(be);
    return test_finish("test_model_grad");
}
