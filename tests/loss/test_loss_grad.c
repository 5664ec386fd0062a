/* test_loss_grad.c — the P4 objective (loss module) through the model, on the CPU backend:
 *  1. every logged term of lvt_loss_step equals a host double-precision evaluation of docs/loss.md
 *     (written here from the spec) on the predictions the step produced;
 *  2. finite differences of each term separately (the term's contribution to the total,
 *     evaluated on the host) against the analytic gradient of that term, i.e. the gradient with
 *     the term on minus the gradient with its λ set to 0, for the largest and three random
 *     entries of every parameter tensor; and of the whole objective with every term on.
 * Covers MSE, rollout H = 1, 2, 3 "full" (gradient through predicted context rows) and "first"
 * (checked against finite differences with steps >= 2 held fixed), "truth" supervision with
 * masks, dir_ref prev/last, adaptive batch/sample/off, future with missing +2/+3 rows,
 * anti-copy, and context drop p = 1 in the three modes. Hinge margins are placed in the widest
 * gap between the samples' hinge arguments so no sample sits near a kink.
 * Model: D=12, d=8, 2 heads, 2 layers, L=5, dropout 0; B=6. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lvt/loss.h"
#include "lvt/model.h"
#include "lvt/rng.h"
#include "testutil.h"

#define B 6
#define L 5
#define D 12
#define HMAX 3
#define FD_REL 1e-3 /* finite-difference steps, relative to max(|x|, 0.1) */
#define FD_REL2 4e-3
#define RTOL 1e-2   /* |fd - an| <= ATOL_REL * max|an| + RTOL * max(|fd|, |an|) */
#define ATOL_REL 2e-3

enum { C_MSE, C_ROLL, C_DIR, C_FUT, C_AC, C_TOTAL, C_N };
static const char *cname[] = {"base", "rollout", "dir", "future", "anticopy", "total"};

typedef struct {
    lvt_backend *be;
    lvt_model m;
    lvt_loss l;
    float ctx[B * L * D], y[B * D], fut[B * 2 * D], futm[B * 2], roll[B * HMAX * D], rollm[B * HMAX];
    lvt_loss_batch batch;
    lvt_loss_norm norm;
    lvt_dropout_key key;
    float base_preds[HMAX * B * D]; /* "first": the steps >= 2 held fixed */
} problem;

typedef struct {
    double c[C_N];               /* contributions to the total (λ applied) */
    double t[LVT_TERM_COUNT];    /* the logged terms */
    double x_dir[B], x_fut[B * 2], x_ac[B * L], flat_cos[HMAX];
} host_obj;

static double dotd(const float *a, const float *b) {
    double s = 0;
    for (int j = 0; j < D; j++) s += (double)a[j] * b[j];
    return s;
}
static double cosd(const float *a, const float *b) { return dotd(a, b) / sqrt(dotd(a, a) * dotd(b, b)); }
static double relu(double x) { return x > 0 ? x : 0; }

static int n_steps(const lvt_objective_cfg *o) { return (o->lambda_roll > 0 && o->rollout_h > 1) ? o->rollout_h : 1; }

/* docs/loss.md on the host, in double, from the step's raw output and predictions p_1..p_H. */
static void host_eval(const problem *P, const lvt_objective_cfg *o, const float *raw, const float *preds,
                      host_obj *r) {
    memset(r, 0, sizeof *r);
    const int H = n_steps(o);
    const float *p = preds;
    double mse = 0, cs = 0;
    for (int i = 0; i < B * D; i++) mse += ((double)raw[i] - P->y[i]) * ((double)raw[i] - P->y[i]);
    mse /= B * D;
    for (int b = 0; b < B; b++) cs += cosd(p + b * D, P->y + b * D);
    r->t[LVT_TERM_MSE] = mse;
    r->t[LVT_TERM_COS] = cs / B;
    /* objective.base_loss: w_mse MSE + w_cos mean(1 - cos), on raw (main) and on p_h (rollout) */
    const double w_mse = o->base_loss != LVT_BASE_COSINE ? 1.0 : 0.0;
    const double w_cos = o->base_loss == LVT_BASE_COSINE ? 1.0 : o->base_loss == LVT_BASE_MSE_COSINE ? o->cosine_weight : 0.0;
    double cosraw = 0;
    for (int b = 0; b < B; b++) cosraw += (1.0 - cosd(raw + b * D, P->y + b * D)) / B;
    const double base = w_mse * mse + w_cos * cosraw;
    /* rollout */
    double term[HMAX] = {0}, c1 = 0;
    for (int i = 0; i < B * D; i++) term[0] += ((double)p[i] - P->y[i]) * ((double)p[i] - P->y[i]);
    for (int b = 0; b < B; b++) c1 += (1.0 - cosd(p + b * D, P->y + b * D)) / B;
    term[0] = w_mse * term[0] / (B * D) + w_cos * c1;
    for (int h = 1; h < H; h++) {
        const float *ph = preds + (size_t)h * B * D, *pp = preds + (size_t)(h - 1) * B * D;
        if (o->rollout_supervise == LVT_SUPERVISE_TRUTH) {
            double s = 0, sc = 0, cnt = 0;
            for (int b = 0; b < B; b++) {
                if (P->rollm[b * HMAX + h] == 0) continue;
                cnt++;
                for (int j = 0; j < D; j++) {
                    double d = (double)ph[b * D + j] - P->roll[(b * HMAX + h) * D + j];
                    s += d * d;
                }
                sc += 1.0 - cosd(ph + b * D, P->roll + (b * HMAX + h) * D);
            }
            term[h] = cnt > 0 ? w_mse * s / (cnt * D) + w_cos * sc / cnt : 0;
        } else {
            double mc = 0;
            for (int b = 0; b < B; b++) mc += cosd(pp + b * D, ph + b * D);
            mc /= B;
            r->flat_cos[h] = mc;
            term[h] = o->flat_scale * relu(mc - o->flat_threshold);
        }
    }
    double lroll = 0;
    for (int h = 0; h < H; h++) lroll += term[h] / H;
    /* directional guard and adaptive λ */
    double ldir = 0, ldir_w = 0, sig_mean = 0;
    const int ref_row = o->dir_ref == LVT_DIR_REF_LAST ? L - 1 : L - 2;
    for (int b = 0; b < B; b++) {
        const float *pb = p + b * D, *c = P->ctx + (size_t)b * L * D;
        double sig = 1.0 / (1.0 + exp(-(cosd(c + (L - 1) * D, P->y + b * D) - 0.60) / 0.05));
        double x = cosd(pb, P->y + b * D) - cosd(pb, c + ref_row * D);
        double hg = relu(o->margin_dir - x);
        r->x_dir[b] = x;
        sig_mean += sig / B;
        ldir += hg / B;
        ldir_w += (1 + sig) * hg / B;
    }
    double lam_eff = o->lambda_dir, cdir = o->lambda_dir * ldir;
    if (o->adaptive_dir == LVT_ADAPTIVE_BATCH) lam_eff = o->lambda_dir * (1 + sig_mean), cdir = lam_eff * ldir;
    if (o->adaptive_dir == LVT_ADAPTIVE_SAMPLE) lam_eff = o->lambda_dir * (1 + sig_mean), cdir = o->lambda_dir * ldir_w;
    /* future ranking over the samples where +2/+3 exist */
    double lfut = 0;
    for (int k = 0; k < 2; k++) {
        double s = 0, cnt = 0;
        for (int b = 0; b < B; b++) {
            double x = cosd(p + b * D, P->y + b * D) - cosd(p + b * D, P->fut + (b * 2 + k) * D);
            r->x_fut[b * 2 + k] = P->futm[b * 2 + k] != 0 ? x : NAN;
            if (P->futm[b * 2 + k] == 0) continue;
            cnt++;
            s += relu(o->margin_fut - x);
        }
        lfut += cnt > 0 ? s / cnt : 0;
    }
    /* anti-copy over every context chunk */
    double lac = 0;
    for (int b = 0; b < B; b++)
        for (int i = 0; i < L; i++) {
            double x = cosd(p + b * D, P->y + b * D) - cosd(p + b * D, P->ctx + ((size_t)b * L + i) * D);
            r->x_ac[b * L + i] = x;
            lac += relu(o->margin_ac - x) / (B * L);
        }
    r->t[LVT_TERM_ROLL] = o->lambda_roll > 0 ? lroll : 0;
    r->t[LVT_TERM_DIR] = o->lambda_dir > 0 ? ldir : 0;
    r->t[LVT_TERM_FUT] = o->lambda_fut > 0 ? lfut : 0;
    r->t[LVT_TERM_AC] = o->lambda_ac > 0 ? lac : 0;
    r->t[LVT_TERM_LAMBDA_EFF] = o->lambda_dir > 0 ? lam_eff : 0;
    r->c[C_MSE] = base;
    r->c[C_ROLL] = o->lambda_roll * r->t[LVT_TERM_ROLL];
    r->c[C_DIR] = o->lambda_dir > 0 ? cdir : 0;
    r->c[C_FUT] = o->lambda_fut * r->t[LVT_TERM_FUT];
    r->c[C_AC] = o->lambda_ac * r->t[LVT_TERM_AC];
    r->c[C_TOTAL] = r->c[C_MSE] + r->c[C_ROLL] + r->c[C_DIR] + r->c[C_FUT] + r->c[C_AC];
    r->t[LVT_TERM_TOTAL] = r->c[C_TOTAL];
}

static int step(problem *P, const lvt_objective_cfg *o, int backward) {
    lvt_err e = {{0}};
    if (lvt_loss_step(&P->l, &P->m, o, &P->batch, &P->norm, &P->key, 1, backward, &e)) {
        fprintf(stderr, "loss step: %s\n", e.msg);
        exit(1);
    }
    return 0;
}

/* the host objective at the current parameters; detached: steps >= 2 from base_preds */
static void eval_at(problem *P, const lvt_objective_cfg *o, int detached, host_obj *r) {
    step(P, o, 0);
    static float preds[HMAX * B * D];
    memcpy(preds, P->l.preds, sizeof preds);
    if (detached) memcpy(preds + B * D, P->base_preds + B * D, sizeof(float) * (HMAX - 1) * B * D);
    host_eval(P, o, lvt_model_raw(&P->m, 0), preds, r);
}

static void grad_of(problem *P, const lvt_objective_cfg *o, float *g) {
    lvt_model_zero_grad(&P->m);
    step(P, o, 1);
    memcpy(g, P->m.grads, sizeof(float) * P->m.n_params);
}

/* the widest gap between sorted values (NaN skipped), inside their central range */
static double kink_free_margin(const double *x, int n) {
    double v[B * L];
    int k = 0;
    for (int i = 0; i < n; i++)
        if (!isnan(x[i])) v[k++] = x[i];
    for (int i = 1; i < k; i++)
        for (int j = i; j > 0 && v[j - 1] > v[j]; j--) {
            double t = v[j];
            v[j] = v[j - 1], v[j - 1] = t;
        }
    int lo = k / 4, hi = k - 1 - k / 4, best = lo;
    if (hi <= lo) return v[0] + 0.05;
    for (int i = lo; i < hi; i++)
        if (v[i + 1] - v[i] > v[best + 1] - v[best]) best = i;
    return 0.5 * (v[best] + v[best + 1]);
}

static double min_kink_dist(const double *x, int n, double m) {
    double d = INFINITY;
    for (int i = 0; i < n; i++)
        if (!isnan(x[i])) d = fmin(d, fabs(x[i] - m));
    return d;
}

typedef struct {
    const char *name;
    int sel;        /* which contribution is checked */
    int detached;   /* "first": finite differences with the steps >= 2 held fixed */
    lvt_objective_cfg o;
} gcase;

static void zero_lambda(lvt_objective_cfg *o, int sel) {
    if (sel == C_ROLL) o->lambda_roll = 0;
    if (sel == C_DIR) o->lambda_dir = 0;
    if (sel == C_FUT) o->lambda_fut = 0;
    if (sel == C_AC) o->lambda_ac = 0;
}

static double worst_all = 0;

static void run_case(problem *P, gcase *gc) {
    lvt_objective_cfg *o = &gc->o;
    const int H = n_steps(o);
    size_t np = P->m.n_params;
    host_obj r;
    /* place the margins away from every sample's kink (on the unperturbed predictions) */
    eval_at(P, o, 0, &r);
    o->margin_dir = kink_free_margin(r.x_dir, B);
    o->margin_fut = kink_free_margin(r.x_fut, B * 2);
    o->margin_ac = kink_free_margin(r.x_ac, B * L);
    if (o->rollout_supervise == LVT_SUPERVISE_FLAT && H > 1) {
        double mn = 1;
        for (int h = 1; h < H; h++) mn = fmin(mn, r.flat_cos[h]);
        o->flat_threshold = mn - 0.05; /* every flat term active */
    }
    /* values: lvt's logged terms against the host evaluation */
    eval_at(P, o, 0, &r);
    memcpy(P->base_preds, P->l.preds, sizeof P->base_preds);
    float tv[LVT_TERM_COUNT];
    lvt_loss_read(&P->l, tv);
    double vdev = 0;
    for (int k = 0; k < LVT_TERM_COUNT; k++) {
        double d = fabs(tv[k] - r.t[k]) / fmax(1e-3, fabs(r.t[k]));
        vdev = fmax(vdev, d);
        CHECK(d <= 2e-5, "%s: term %d lvt %.8g host %.8g", gc->name, k, tv[k], r.t[k]);
    }
    double kd = fmin(min_kink_dist(r.x_dir, B, o->margin_dir),
                     fmin(min_kink_dist(r.x_fut, 2 * B, o->margin_fut), min_kink_dist(r.x_ac, B * L, o->margin_ac)));

    /* analytic gradient of the selected contribution */
    float *g1 = malloc(sizeof(float) * np), *g0 = malloc(sizeof(float) * np);
    grad_of(P, o, g1);
    if (gc->sel != C_TOTAL) {
        lvt_objective_cfg o0 = *o;
        zero_lambda(&o0, gc->sel);
        if (gc->sel == C_MSE) memset(g0, 0, sizeof(float) * np);
        else grad_of(P, &o0, g0);
        for (size_t i = 0; i < np; i++) g1[i] -= g0[i];
    }
    double gmax = 0;
    for (size_t i = 0; i < np; i++) gmax = fmax(gmax, fabs(g1[i]));
    CHECK(gmax > 1e-5, "%s: the term has no gradient (max %g)", gc->name, gmax);

    int n_checked = 0, n_bad = 0;
    double worst = 0;
    for (int t = 0; t < P->m.n_tensors; t++) {
        const lvt_tensor_info *ti = &P->m.tensors[t];
        size_t idx[4], imax = 0;
        for (size_t i = 1; i < ti->numel; i++)
            if (fabsf(g1[ti->offset + i]) > fabsf(g1[ti->offset + imax])) imax = i;
        idx[0] = imax;
        for (int k = 1; k < 4; k++) idx[k] = lvt_rng_u32(17, 0, 3, (uint64_t)t, (uint64_t)k) % ti->numel;
        for (int k = 0; k < 4; k++) {
            float *x = &P->m.params[ti->offset + idx[k]];
            /* two steps: the smaller one can be swamped by float noise of the forward (the flat
             * terms are 10·(cos - thr) with cos ≈ 1), the larger one can cross a ReLU kink of
             * the model; an entry passes when either agrees */
            double an = g1[ti->offset + idx[k]], fd = 0, err = INFINITY;
            const float x0 = *x;
            for (int s = 0; s < 2; s++) {
                float hstep = (float)((s ? FD_REL2 : FD_REL) * fmax(0.1, fabs(x0)));
                host_obj rp, rm;
                *x = x0 + hstep;
                double xp = *x;
                eval_at(P, o, gc->detached, &rp);
                *x = x0 - hstep;
                double xm = *x;
                eval_at(P, o, gc->detached, &rm);
                *x = x0;
                double f = (rp.c[gc->sel] - rm.c[gc->sel]) / (xp - xm);
                if (fabs(f - an) < err) err = fabs(f - an), fd = f;
            }
            double tol = ATOL_REL * gmax + RTOL * fmax(fabs(fd), fabs(an));
            n_checked++;
            worst = fmax(worst, err / tol);
            if (err > tol) {
                n_bad++;
                fprintf(stderr, "%s: %s[%zu]: fd %.6g analytic %.6g\n", gc->name, ti->name, idx[k], fd, an);
            }
        }
    }
    worst_all = fmax(worst_all, worst);
    printf("%-28s H=%d %-8s: values max rel dev %.1e; %3d grads, max|g| %.2e, worst err/tol %.3f; "
           "min kink distance %.3f\n", gc->name, H, cname[gc->sel], vdev, n_checked, gmax, worst, kd);
    CHECK(n_bad == 0, "%s: %d of %d gradient entries disagree with finite differences", gc->name, n_bad, n_checked);
    free(g1), free(g0);
}

static lvt_objective_cfg base_cfg(void) {
    lvt_objective_cfg o;
    memset(&o, 0, sizeof o);
    o.base_loss = LVT_BASE_MSE;
    o.cosine_weight = 1.0;
    o.rollout_grad = LVT_ROLLOUT_GRAD_FULL;
    o.rollout_supervise = LVT_SUPERVISE_FLAT;
    o.dir_ref = LVT_DIR_REF_PREV;
    o.adaptive_dir = LVT_ADAPTIVE_BATCH;
    o.context_drop_mode = LVT_CTX_DROP_NOISE;
    o.flat_threshold = 0.95, o.flat_scale = 10.0;
    o.margin_dir = 0.01, o.margin_fut = 0.008, o.margin_ac = 0.02;
    return o;
}

static void unit_row(float *v, uint32_t site, uint64_t r) {
    double s = 0;
    for (int j = 0; j < D; j++) {
        v[j] = 2.0f * lvt_rng_unit(7, 0, site, r, (uint64_t)j) - 1.0f;
        s += (double)v[j] * v[j];
    }
    for (int j = 0; j < D; j++) v[j] = (float)(v[j] / sqrt(s));
}

/* y correlated with c4 (cos(c4, y) spread around 0.6, so the adaptive sigmoid varies);
 * sample 1 lacks +3, sample 4 lacks +2 and +3; the rollout truth rows are y, +2, +3. */
static void make_batch(problem *P) {
    for (int r = 0; r < B * L; r++) unit_row(P->ctx + r * D, 1, (uint64_t)r);
    for (int b = 0; b < B; b++) {
        float n[D];
        unit_row(n, 2, (uint64_t)b);
        const float *c4 = P->ctx + ((size_t)b * L + L - 1) * D;
        double a = 0.45 + 0.07 * b, s = 0;
        for (int j = 0; j < D; j++) {
            P->y[b * D + j] = (float)(a * c4[j] + sqrt(1 - a * a) * n[j]);
            s += (double)P->y[b * D + j] * P->y[b * D + j];
        }
        for (int j = 0; j < D; j++) P->y[b * D + j] = (float)(P->y[b * D + j] / sqrt(s));
        for (int k = 0; k < 2; k++) {
            int exists = !(b == 4 || (b == 1 && k == 1));
            P->futm[b * 2 + k] = (float)exists;
            if (exists) unit_row(P->fut + (b * 2 + k) * D, 3, (uint64_t)(b * 2 + k));
            else memset(P->fut + (b * 2 + k) * D, 0, sizeof(float) * D);
        }
        memcpy(P->roll + (b * HMAX) * D, P->y + b * D, sizeof(float) * D);
        P->rollm[b * HMAX] = 1;
        for (int h = 1; h < HMAX; h++) {
            memcpy(P->roll + (b * HMAX + h) * D, P->fut + (b * 2 + h - 1) * D, sizeof(float) * D);
            P->rollm[b * HMAX + h] = P->futm[b * 2 + h - 1];
        }
    }
    P->batch = (lvt_loss_batch){B, P->ctx, P->y, P->fut, P->futm, P->roll, P->rollm, HMAX};
    P->norm = (lvt_loss_norm){B, B};
    P->key = (lvt_dropout_key){.seed = 5, .step = 3, .site = 0, .sample_base = 100, .p = 0.0f};
}

/* context drop p = 1: the model-input terms equal an eval step on the batch whose last context
 * row was replaced by hand; the guard terms still use the original context (host values) */
static void check_drop_values(problem *P, const char *mode) {
    lvt_objective_cfg o = base_cfg();
    o.lambda_roll = 0.5, o.rollout_h = 3, o.lambda_fut = 0.5, o.context_drop_p = 1.0;
    o.context_drop_mode = !strcmp(mode, "zero") ? LVT_CTX_DROP_ZERO : LVT_CTX_DROP_MEAN;
    float with[LVT_TERM_COUNT], manual[LVT_TERM_COUNT], plain[LVT_TERM_COUNT];
    step(P, &o, 0);
    lvt_loss_read(&P->l, with);
    float saved[B * L * D];
    memcpy(saved, P->ctx, sizeof saved);
    for (int b = 0; b < B; b++)
        for (int j = 0; j < D; j++) {
            double m = 0;
            for (int i = 0; i < L - 1; i++) m += saved[(b * L + i) * D + j];
            P->ctx[(b * L + L - 1) * D + j] = !strcmp(mode, "zero") ? 0.0f : (float)(m / (L - 1));
        }
    o.context_drop_p = 0;
    step(P, &o, 0);
    lvt_loss_read(&P->l, manual);
    memcpy(P->ctx, saved, sizeof saved);
    step(P, &o, 0);
    lvt_loss_read(&P->l, plain);
    int k[] = {LVT_TERM_MSE, LVT_TERM_ROLL, LVT_TERM_FUT, LVT_TERM_COS};
    for (int i = 0; i < 4; i++)
        CHECK(fabsf(with[k[i]] - manual[k[i]]) <= 1e-6f * fmaxf(1, fabsf(manual[k[i]])),
              "drop %s: term %d %.8g, by hand %.8g", mode, k[i], with[k[i]], manual[k[i]]);
    CHECK(fabsf(with[LVT_TERM_MSE] - plain[LVT_TERM_MSE]) > 1e-4f, "drop %s did not change the loss (%.8g vs %.8g)",
          mode, with[LVT_TERM_MSE], plain[LVT_TERM_MSE]);
    printf("context drop %-5s p=1: mse %.6f (no drop %.6f, by hand %.6f)\n", mode, with[LVT_TERM_MSE],
           plain[LVT_TERM_MSE], manual[LVT_TERM_MSE]);
}

int main(void) {
    lvt_err e = {{0}};
    static problem P;
    if (lvt_backend_create(&P.be, "cpu", -1, LVT_MATH_FP32, &e)) {
        fprintf(stderr, "backend: %s\n", e.msg);
        return 1;
    }
    lvt_model_cfg mc = {.dim = D, .d_model = 8, .n_heads = 2, .n_layers = 2, .ffn_mult = 4, .context_len = L,
                        .dropout = 0.0f};
    if (lvt_model_create(&P.m, &mc, P.be, &e) || lvt_model_init(&P.m, 321, &e) || lvt_model_plan(&P.m, B, HMAX, &e) ||
        lvt_loss_create(&P.l, P.be, B, L, D, HMAX, &e)) {
        fprintf(stderr, "setup: %s\n", e.msg);
        return 1;
    }
    /* break the layer symmetry of the PyTorch-style init (cpu backend memory is host memory) */
    for (size_t i = 0; i < P.m.n_params; i++) P.m.params[i] += 0.2f * (2.0f * lvt_rng_unit(99, 0, 7, 0, i) - 1.0f);
    make_batch(&P);

    gcase cases[32];
    int nc = 0;
#define ADD(nm, s, det, ...)                                                                              \
    do {                                                                                                  \
        gcase g = {nm, s, det, base_cfg()};                                                               \
        lvt_objective_cfg *o = &g.o;                                                                      \
        __VA_ARGS__;                                                                                      \
        cases[nc++] = g;                                                                                  \
    } while (0)
    ADD("mse", C_MSE, 0, (void)o);
    ADD("base cosine", C_MSE, 0, o->base_loss = LVT_BASE_COSINE);
    ADD("base mse+cosine w=0.7", C_MSE, 0, o->base_loss = LVT_BASE_MSE_COSINE, o->cosine_weight = 0.7);
    ADD("rollout H=1", C_ROLL, 0, o->lambda_roll = 1, o->rollout_h = 1);
    ADD("rollout H=2 full flat", C_ROLL, 0, o->lambda_roll = 1, o->rollout_h = 2);
    ADD("rollout H=3 full flat", C_ROLL, 0, o->lambda_roll = 1, o->rollout_h = 3);
    ADD("rollout H=2 first flat", C_ROLL, 1, o->lambda_roll = 1, o->rollout_h = 2, o->rollout_grad = LVT_ROLLOUT_GRAD_FIRST);
    ADD("rollout H=3 first flat", C_ROLL, 1, o->lambda_roll = 1, o->rollout_h = 3, o->rollout_grad = LVT_ROLLOUT_GRAD_FIRST);
    ADD("rollout H=3 full truth", C_ROLL, 0, o->lambda_roll = 1, o->rollout_h = 3,
        o->rollout_supervise = LVT_SUPERVISE_TRUTH);
    ADD("rollout H=3 first truth", C_ROLL, 1, o->lambda_roll = 1, o->rollout_h = 3,
        o->rollout_supervise = LVT_SUPERVISE_TRUTH, o->rollout_grad = LVT_ROLLOUT_GRAD_FIRST);
    ADD("rollout H=3 full truth cos", C_ROLL, 0, o->lambda_roll = 1, o->rollout_h = 3,
        o->rollout_supervise = LVT_SUPERVISE_TRUTH, o->base_loss = LVT_BASE_COSINE);
    ADD("rollout H=3 first truth m+c", C_ROLL, 1, o->lambda_roll = 1, o->rollout_h = 3,
        o->rollout_supervise = LVT_SUPERVISE_TRUTH, o->rollout_grad = LVT_ROLLOUT_GRAD_FIRST,
        o->base_loss = LVT_BASE_MSE_COSINE, o->cosine_weight = 0.5);
    ADD("dir prev batch", C_DIR, 0, o->lambda_dir = 1);
    ADD("dir last batch", C_DIR, 0, o->lambda_dir = 1, o->dir_ref = LVT_DIR_REF_LAST);
    ADD("dir prev sample", C_DIR, 0, o->lambda_dir = 1, o->adaptive_dir = LVT_ADAPTIVE_SAMPLE);
    ADD("dir last off", C_DIR, 0, o->lambda_dir = 1, o->dir_ref = LVT_DIR_REF_LAST, o->adaptive_dir = LVT_ADAPTIVE_OFF);
    ADD("future", C_FUT, 0, o->lambda_fut = 1);
    ADD("anti-copy", C_AC, 0, o->lambda_ac = 1);
    ADD("all, H=3 full flat", C_TOTAL, 0, o->lambda_roll = 0.5, o->rollout_h = 3, o->lambda_dir = 0.5,
        o->lambda_fut = 0.5, o->lambda_ac = 0.5);
    ADD("all, H=3 full truth sample", C_TOTAL, 0, o->lambda_roll = 0.5, o->rollout_h = 3, o->lambda_dir = 0.5,
        o->adaptive_dir = LVT_ADAPTIVE_SAMPLE, o->rollout_supervise = LVT_SUPERVISE_TRUTH, o->lambda_fut = 0.5,
        o->lambda_ac = 0.5);
    ADD("all, H=3 truth, cosine", C_TOTAL, 0, o->lambda_roll = 0.5, o->rollout_h = 3, o->lambda_dir = 0.5,
        o->rollout_supervise = LVT_SUPERVISE_TRUTH, o->lambda_fut = 0.5, o->lambda_ac = 0.5, o->base_loss = LVT_BASE_COSINE);
    ADD("all + drop zero p=1", C_TOTAL, 0, o->lambda_roll = 0.5, o->rollout_h = 3, o->lambda_dir = 0.5,
        o->lambda_fut = 0.5, o->lambda_ac = 0.5, o->context_drop_p = 1, o->context_drop_mode = LVT_CTX_DROP_ZERO);
    ADD("all + drop mean p=1", C_TOTAL, 0, o->lambda_roll = 0.5, o->rollout_h = 2, o->lambda_dir = 0.5,
        o->lambda_fut = 0.5, o->lambda_ac = 0.5, o->context_drop_p = 1, o->context_drop_mode = LVT_CTX_DROP_MEAN);
    ADD("all + drop noise p=1", C_TOTAL, 0, o->lambda_roll = 0.5, o->rollout_h = 3, o->lambda_dir = 0.5,
        o->lambda_fut = 0.5, o->lambda_ac = 0.5, o->context_drop_p = 1);
#undef ADD
    for (int i = 0; i < nc; i++) run_case(&P, &cases[i]);

    /* "full" reaches the parameters through the predicted context rows: its rollout gradient
     * differs from "first" (which the detached finite differences above pin down) */
    {
        lvt_objective_cfg of = cases[5].o, o1 = cases[7].o; /* H=3 full flat, H=3 first flat */
        size_t np = P.m.n_params;
        float *gf = malloc(sizeof(float) * np), *g1 = malloc(sizeof(float) * np);
        grad_of(&P, &of, gf);
        grad_of(&P, &o1, g1);
        double dmax = 0, fmaxg = 0;
        for (size_t i = 0; i < np; i++) dmax = fmax(dmax, fabs(gf[i] - g1[i])), fmaxg = fmax(fmaxg, fabs(gf[i]));
        CHECK(dmax > 1e-3 * fmaxg, "full and first rollout gradients agree (%g of %g)", dmax, fmaxg);
        free(gf), free(g1);
    }
    check_drop_values(&P, "zero");
    check_drop_values(&P, "mean");
    printf("worst err/tol over all cases: %.3f (tolerance %.0e*max|g| + %.0e*max(|fd|,|an|), steps %.0e, %.0e)\n",
           worst_all, ATOL_REL, RTOL, FD_REL, FD_REL2);

    lvt_loss_destroy(&P.l);
    lvt_model_destroy(&P.m);
    lvt_backend_destroy(P.be);
    return test_finish("test_loss_grad");
}
