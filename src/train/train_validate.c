/* train_validate.c — the per-epoch validation (docs/training.md, "Validation, per epoch"): val_loss
 * (MSE of the raw head output), val_cos and margin(+1 vs last) over every val window, split across
 * the ranks and reduced; then the mini-5CAT (tests A and C of the eval module's battery: cos(+1),
 * margin(+1) and the shuffled-context delta, the context sensitivity) on rank 0. */
#include <math.h>
#include <stdlib.h>

#include "lvt/eval.h"
#include "train_priv.h"

/* Add windows [i0, i0 + b) of the val store to sums (mse, cos, margin, count): one eval-mode
 * forward, then the objective's validation sums (src/objective/loss_val.c: lvt_loss_val_sums).
 * raw, pred: host scratch [b, D]. */
static int val_batch(trainer *t, int64_t i0, int b, float *raw, float *pred, double sums[4], lvt_err *e) {
    const lvt_ops *o = t->be->ops;
    const int L = t->hb.L, D = t->hb.D;
    for (int j = 0; j < b; j++) t->idx[j] = i0 + j;
    lvt_batch_gather(&t->hb, &t->val, &t->wval, t->idx, b);
    o->to_device(t->be, t->d_ctx, t->hb.ctx, sizeof(float) * (size_t)b * L * D);
    if (lvt_model_forward(&t->model, 0, t->d_ctx, b, 0, NULL, NULL, e)) return LVT_ERROR;
    o->to_host(t->be, raw, lvt_model_raw(&t->model, 0), sizeof(float) * (size_t)b * D);
    o->to_host(t->be, pred, lvt_model_pred(&t->model, 0), sizeof(float) * (size_t)b * D);
    lvt_loss_val_sums(sums, raw, pred, t->hb.ctx, t->hb.target, b, L, D);
    return LVT_OK;
}

/* val_loss, val_cos and margin over every val window: rank r takes the r-th contiguous share. */
static int val_metrics(trainer *t, epoch_rec *r, lvt_err *e) {
    const int D = t->hb.D;
    const int64_t n = t->wval.n_windows;
    const int W = t->comm->world, rk = t->comm->rank;
    int64_t lo = n * rk / W, hi = n * (rk + 1) / W;
    double sums[LVT_VAL_COUNT] = {0}; /* mse, cos, margin, count (lvt_loss_val_sums) */
    float *raw = lvt_malloc(sizeof(float) * (size_t)t->micro * D, e);
    float *pred = raw ? lvt_malloc(sizeof(float) * (size_t)t->micro * D, e) : NULL;
    int rc = pred ? LVT_OK : LVT_ERROR;
    for (int64_t i = lo; i < hi && rc == LVT_OK; i += t->micro)
        rc = val_batch(t, i, (int)(hi - i < t->micro ? hi - i : t->micro), raw, pred, sums, e);
    free(raw);
    free(pred);
    if (rc) return rc;
    if (lvt_comm_allreduce_f64(t->comm, sums, LVT_VAL_COUNT, LVT_COMM_SUM, e)) return LVT_ERROR;
    if (sums[LVT_VAL_WINDOWS] < 1) return lvt_errf(e, "validation store has no windows of context length %d", t->hb.L);
    r->val_loss = sums[LVT_VAL_MSE] / sums[LVT_VAL_WINDOWS];
    r->val_cos = sums[LVT_VAL_COS] / sums[LVT_VAL_WINDOWS];
    r->margin = sums[LVT_VAL_MARGIN] / sums[LVT_VAL_WINDOWS];
    return LVT_OK;
}

/* The mini-5CAT: tests A (offset sweep) and C (ablations) of the eval module's battery on
 * eval.mini5cat_samples val windows (lvt_eval_mini5cat_tests), with the trainer's micro batch (so
 * the activation plan is kept). A battery that cannot run (e.g. no window has rows -3..+3) is
 * logged and leaves NaN. */
static int mini5cat(trainer *t, epoch_rec *r, lvt_err *e) {
    lvt_eval_metrics em;
    lvt_err ee;
    if (lvt_eval_mini5cat_tests(&t->val, &t->model, t->cfg->eval.mini5cat_samples, t->micro, t->cfg->train.seed,
                                LVT_EVAL_A | LVT_EVAL_C, &em, &ee) == LVT_OK) {
        r->mini_cos_p1 = em.a_cos_p1;
        r->mini_margin = em.a_margin;
        r->ctx_shuffled = em.c_shuffled;
    } else {
        lvt_log_info(&t->log, "  %s (skipped)", ee.msg);
    }
    (void)e;
    return LVT_OK;
}

int train_validate(trainer *t, epoch_rec *r, lvt_err *e) {
    if (val_metrics(t, r, e)) return LVT_ERROR;
    r->mini_cos_p1 = r->mini_margin = r->ctx_shuffled = NAN;
    if (t->comm->rank == 0 && t->cfg->eval.mini5cat_samples > 0 && mini5cat(t, r, e)) return LVT_ERROR;
    double mm[3] = {r->mini_cos_p1, r->mini_margin, r->ctx_shuffled};
    if (lvt_comm_bcast(t->comm, mm, sizeof mm, 0, e)) return LVT_ERROR;
    r->mini_cos_p1 = mm[0];
    r->mini_margin = mm[1];
    r->ctx_shuffled = mm[2];
    return LVT_OK;
}
