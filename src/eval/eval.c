/* eval.c — the 5CAT battery on one store (docs/eval.md): options, the working memory, and the
 * batched passes of a predictor over the drawn windows (the unmodified context, test C's five
 * ablations, test D's autoregressive rollout), which feed the tests of eval_tests.c. Window
 * selection and test C's draws are in eval_select.c, baselines in eval_baselines.c, the model
 * predictor in eval_model.c, gates and the report in eval_report.c, the parity dump in
 * eval_dump.c. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "eval_priv.h"

void lvt_eval_opts_default(lvt_eval_opts *o) {
    memset(o, 0, sizeof *o);
    o->max_samples = 5000;
    o->horizon = 5;
    o->seed = 42;
    o->context_len = 5;
    o->batch = 1024;
    o->tests = LVT_EVAL_ALL;
    o->dump_path = NULL;
}

static int check_opts(const lvt_store *s, const lvt_predictor *p, const lvt_eval_opts *o, lvt_err *e) {
    if (!p || !p->predict) return lvt_errf(e, "5CAT: no predictor");
    if (o->context_len < 2 || o->context_len > 64)
        return lvt_errf(e, "5CAT: context length must be in [2, 64], got %d", o->context_len);
    if (o->horizon < 1 || o->horizon > LVT_EVAL_MAX_H)
        return lvt_errf(e, "5CAT: horizon must be in [1, %d], got %d", LVT_EVAL_MAX_H, o->horizon);
    if (o->batch < 1) return lvt_errf(e, "5CAT: batch must be positive, got %d", o->batch);
    if (o->tests <= 0 || (o->tests & ~LVT_EVAL_ALL))
        return lvt_errf(e, "5CAT: invalid test mask %d", o->tests);
    if (s->dim < 1 || s->n_articles < 1 || !s->vectors || !s->offsets)
        return lvt_errf(e, "5CAT: empty store");
    return LVT_OK;
}

/* One battery run: the inputs, the drawn windows, host buffers for one batch of B windows, the
 * optional dump and the running sums. */
typedef struct eval_run {
    const lvt_store *s;
    const lvt_predictor *p;
    const lvt_eval_opts *o;
    int L, D, H, T, B;
    eval_window *win;
    int64_t nsel;
    float *ctx, *mod, *pred, *pm, *rctx, *rprev, *rcur; /* [B, L, D] and [B, D] */
    int32_t *perm, *loo;
    int *ridx;
    eval_dump d;
    eval_sums acc;
} eval_run;

static int run_alloc(eval_run *r, lvt_err *e) {
    size_t ctx_n = (size_t)r->B * r->L * r->D, row_n = (size_t)r->B * r->D;
    r->ctx = lvt_malloc(ctx_n * sizeof(float), e);
    r->mod = lvt_malloc(ctx_n * sizeof(float), e);
    r->rctx = lvt_malloc(ctx_n * sizeof(float), e);
    r->pred = lvt_malloc(row_n * sizeof(float), e);
    r->pm = lvt_malloc(row_n * sizeof(float), e);
    r->rprev = lvt_malloc(row_n * sizeof(float), e);
    r->rcur = lvt_malloc(row_n * sizeof(float), e);
    r->perm = lvt_malloc((size_t)r->B * r->L * sizeof(int32_t), e);
    r->loo = lvt_malloc((size_t)r->B * sizeof(int32_t), e);
    r->ridx = lvt_malloc((size_t)r->B * sizeof(int), e);
    if (!r->ctx || !r->mod || !r->rctx || !r->pred || !r->pm || !r->rprev || !r->rcur || !r->perm ||
        !r->loo || !r->ridx)
        return LVT_ERROR;
    if (r->o->dump_path) return eval_dump_alloc(&r->d, r->win, r->nsel, r->L, r->D, r->H, e);
    return LVT_OK;
}

static void run_free(eval_run *r) {
    free(r->ctx);
    free(r->mod);
    free(r->pred);
    free(r->pm);
    free(r->rctx);
    free(r->rprev);
    free(r->rcur);
    free(r->perm);
    free(r->loo);
    free(r->ridx);
    eval_dump_free(&r->d);
    free(r->win);
}

/* Run the predictor on n contexts and check its output is finite. */
static int run_predict(const lvt_predictor *p, const float *ctx, int n, int L, int D, float *out,
                       lvt_err *e) {
    if (p->predict(p->ctx, ctx, n, L, D, out, e) != LVT_OK)
        return lvt_err_prefix(e, "predictor %s", p->name ? p->name : "?");
    for (size_t i = 0; i < (size_t)n * D; i++)
        if (!isfinite(out[i]))
            return lvt_errf(e, "predictor %s returned a non-finite value (row %zu)",
                            p->name ? p->name : "?", i / (size_t)D);
    return LVT_OK;
}

/* The unmodified contexts of windows b0..b0+nb, their predictions, and tests A, B, C's baseline
 * and E on them. */
static int pass_main(eval_run *r, int64_t b0, int nb, lvt_err *e) {
    const int L = r->L, D = r->D;
    const eval_window *bw = r->win + b0;
    for (int i = 0; i < nb; i++)
        memcpy(r->ctx + (size_t)i * L * D, r->s->vectors + (size_t)bw[i].row0 * D, (size_t)L * D * sizeof(float));
    if (run_predict(r->p, r->ctx, nb, L, D, r->pred, e)) return LVT_ERROR;
    if (r->d.pred) memcpy(r->d.pred + (size_t)b0 * D, r->pred, (size_t)nb * D * sizeof(float));
    for (int i = 0; i < nb; i++)
        eval_window_tests(&r->acc, r->T, r->s, bw + i, L, r->ctx + (size_t)i * L * D, r->pred + (size_t)i * D);
    return LVT_OK;
}

/* Test C: the five ablations of the batch, each one batched pass. */
static int pass_ablations(eval_run *r, int64_t b0, int nb, lvt_err *e) {
    const int L = r->L, D = r->D;
    const eval_window *bw = r->win + b0;
    for (int i = 0; i < nb; i++) {
        eval_shuffle_perm(r->o->seed, bw[i].idx, L, r->perm + (size_t)i * L);
        r->loo[i] = eval_loo_slot(r->o->seed, bw[i].idx, L);
    }
    if (r->d.perm) {
        memcpy(r->d.perm + (size_t)b0 * L, r->perm, (size_t)nb * L * sizeof(int32_t));
        memcpy(r->d.loo_slot + b0, r->loo, (size_t)nb * sizeof(int32_t));
    }
    for (int k = 0; k < N_ABL; k++) {
        eval_ablate(k, r->ctx, r->mod, nb, L, D, r->perm, r->loo);
        if (run_predict(r->p, r->mod, nb, L, D, r->pm, e)) return LVT_ERROR;
        if (r->d.abl[k]) memcpy(r->d.abl[k] + (size_t)b0 * D, r->pm, (size_t)nb * D * sizeof(float));
        eval_test_c(&r->acc, k, r->s, bw, nb, L, r->pred, r->pm);
    }
    return LVT_OK;
}

/* Test D: the autoregressive rollout of the batch's windows that have all H true chunks; step 1
 * is the main pass's prediction, step h feeds the context shifted left with y_hat_{h-1}. */
static int pass_rollout(eval_run *r, int64_t b0, int nb, lvt_err *e) {
    const int L = r->L, D = r->D, H = r->H;
    const eval_window *bw = r->win + b0;
    const size_t row = (size_t)D * sizeof(float);
    int nr = 0;
    for (int i = 0; i < nb; i++)
        if (bw[i].row0 + L + H - 1 < bw[i].end) {
            memcpy(r->rctx + (size_t)nr * L * D, r->ctx + (size_t)i * L * D, (size_t)L * row);
            memcpy(r->rcur + (size_t)nr * D, r->pred + (size_t)i * D, row);
            r->ridx[nr++] = i;
        }
    for (int h = 1; h <= H && nr > 0; h++) {
        if (h > 1) {
            for (int j = 0; j < nr; j++) {
                float *rc = r->rctx + (size_t)j * L * D;
                memmove(rc, rc + D, (size_t)(L - 1) * row);
                memcpy(rc + (size_t)(L - 1) * D, r->rprev + (size_t)j * D, row);
            }
            if (run_predict(r->p, r->rctx, nr, L, D, r->rcur, e)) return LVT_ERROR;
        }
        for (int j = 0; j < nr; j++) {
            eval_test_d(&r->acc, r->s, bw + r->ridx[j], L, h, r->rcur + (size_t)j * D);
            if (r->d.roll)
                memcpy(r->d.roll + ((size_t)(b0 + r->ridx[j]) * H + (h - 1)) * D, r->rcur + (size_t)j * D, row);
        }
        memcpy(r->rprev, r->rcur, (size_t)nr * row);
    }
    if (r->d.roll_mask)
        for (int j = 0; j < nr; j++) r->d.roll_mask[b0 + r->ridx[j]] = 1;
    r->acc.d_n += nr;
    return LVT_OK;
}

int lvt_eval_run(const lvt_store *s, const lvt_predictor *p, const lvt_eval_opts *o,
                 lvt_eval_metrics *m, lvt_err *e) {
    double t0 = lvt_now();
    memset(m, 0, sizeof *m);
    if (check_opts(s, p, o, e)) return LVT_ERROR;
    eval_run r = {.s = s, .p = p, .o = o, .L = o->context_len, .D = s->dim, .H = o->horizon, .T = o->tests};
    m->tests = r.T;
    m->d_h = r.H;
    if (eval_select_windows(s, r.L, o->max_samples, o->seed, &r.win, &r.nsel, &m->n_windows, e))
        return lvt_err_prefix(e, "5CAT");
    m->n_selected = r.nsel;
    r.B = (int64_t)o->batch < r.nsel ? o->batch : (int)r.nsel;

    int rc = LVT_ERROR;
    if (run_alloc(&r, e)) goto done;
    for (int64_t b0 = 0; b0 < r.nsel; b0 += r.B) {
        int nb = (int)(r.nsel - b0 < r.B ? r.nsel - b0 : r.B);
        if (pass_main(&r, b0, nb, e)) goto done;
        if ((r.T & LVT_EVAL_C) && pass_ablations(&r, b0, nb, e)) goto done;
        if ((r.T & LVT_EVAL_D) && pass_rollout(&r, b0, nb, e)) goto done;
    }
    if (eval_check_counts(&r.acc, r.T, r.nsel, m->n_windows, e)) goto done;
    eval_finish(&r.acc, r.H, r.nsel, m);
    m->seconds = lvt_now() - t0;
    if (o->dump_path && eval_dump_write(o->dump_path, &r.d, s, p->name ? p->name : "?", o->seed, m, e))
        goto done;
    rc = LVT_OK;
done:
    run_free(&r);
    return rc;
}
