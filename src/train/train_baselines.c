/* train_baselines.c — the trivial predictors kept in view during training (docs/training.md,
 * "Baselines"): at start, the val cos and margin(+1 vs last) of copy-last and mean-of-context over
 * every val window (the eval module's predictors, src/eval/eval_baselines.c); the header line, the
 * training_history.json "baselines" object, the epoch line's flags and the tripwire thresholds
 * baseline_copy_last / baseline_mean_of_context. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lvt/eval.h"
#include "train_priv.h"

/* Add windows [i0, i0 + b) to sums (cos copy-last, margin copy-last, cos mean, margin mean, count). */
static int baseline_batch(trainer *t, int64_t i0, int b, float *out, double sums[5], lvt_err *e) {
    const int L = t->hb.L, D = t->hb.D;
    const lvt_predictor preds[2] = {lvt_predictor_copy_last(), lvt_predictor_mean()};
    for (int j = 0; j < b; j++) t->idx[j] = i0 + j;
    lvt_batch_gather(&t->hb, &t->val, &t->wval, t->idx, b);
    for (int k = 0; k < 2; k++) {
        if (preds[k].predict(preds[k].ctx, t->hb.ctx, b, L, D, out, e)) return LVT_ERROR;
        for (int j = 0; j < b; j++) {
            const float *y = t->hb.target + (size_t)j * D, *last = t->hb.ctx + ((size_t)j * L + L - 1) * D;
            const float *p = out + (size_t)j * D;
            double cy = 0, cl = 0;
            for (int d = 0; d < D; d++) {
                cy += (double)p[d] * y[d];
                cl += (double)p[d] * last[d];
            }
            sums[2 * k] += cy;
            sums[2 * k + 1] += cy - cl;
        }
    }
    sums[4] += b;
    return LVT_OK;
}

int train_baselines(trainer *t, lvt_err *e) {
    const int64_t n = t->wval.n_windows;
    const int W = t->comm->world, rk = t->comm->rank;
    int64_t lo = n * rk / W, hi = n * (rk + 1) / W;
    double sums[5] = {0, 0, 0, 0, 0};
    float *out = lvt_malloc(sizeof(float) * (size_t)t->micro * t->hb.D, e);
    int rc = out ? LVT_OK : LVT_ERROR;
    for (int64_t i = lo; i < hi && rc == LVT_OK; i += t->micro)
        rc = baseline_batch(t, i, (int)(hi - i < t->micro ? hi - i : t->micro), out, sums, e);
    free(out);
    if (rc || lvt_comm_allreduce_f64(t->comm, sums, 5, LVT_COMM_SUM, e)) return LVT_ERROR;
    const double c = sums[4] > 0 ? sums[4] : NAN;
    t->bl.copy_cos = sums[0] / c;
    t->bl.copy_margin = sums[1] / c;
    t->bl.mean_cos = sums[2] / c;
    t->bl.mean_margin = sums[3] / c;
    lvt_log_info(&t->log, "baselines on the val store (%lld windows): copy-last val_cos %.4f margin %.4f | "
                 "mean-of-context val_cos %.4f margin %.4f", (long long)n, t->bl.copy_cos, t->bl.copy_margin,
                 t->bl.mean_cos, t->bl.mean_margin);
    return LVT_OK;
}

double train_tripwire_threshold(const trainer *t, const lvt_tripwire *tw) {
    switch (tw->ref) {
    case LVT_TRIPWIRE_VS_COPY_LAST: return t->bl.copy_cos;
    case LVT_TRIPWIRE_VS_MEAN_OF_CONTEXT: return t->bl.mean_cos;
    case LVT_TRIPWIRE_VS_VALUE: break;
    }
    return tw->value;
}

void train_baselines_json(const trainer *t, cJSON *root) {
    cJSON *b = cJSON_AddObjectToObject(root, "baselines");
    cJSON *cl = cJSON_AddObjectToObject(b, "copy_last");
    cJSON_AddNumberToObject(cl, "cos", t->bl.copy_cos);
    cJSON_AddNumberToObject(cl, "margin", t->bl.copy_margin);
    cJSON *mc = cJSON_AddObjectToObject(b, "mean_context");
    cJSON_AddNumberToObject(mc, "cos", t->bl.mean_cos);
    cJSON_AddNumberToObject(mc, "margin", t->bl.mean_margin);
}

void train_baselines_flags(const trainer *t, const epoch_rec *r, char *buf, size_t n) {
    const int mean_best = t->bl.mean_cos > t->bl.copy_cos;
    const int below_cl = r->val_cos < t->bl.copy_cos, below_mc = r->val_cos < t->bl.mean_cos;
    snprintf(buf, n, " (best baseline %s %.4f%s%s%s%s)", mean_best ? "mean-of-context" : "copy-last",
             mean_best ? t->bl.mean_cos : t->bl.copy_cos, below_cl || below_mc ? ":" : "",
             below_cl ? " below copy-last" : "", below_cl && below_mc ? "," : "",
             below_mc ? " below mean-of-context" : "");
}

void train_context_flags(const epoch_rec *r, char *buf, size_t n) {
    if (!isfinite(r->ctx_shuffled)) {
        buf[0] = 0;
        return;
    }
    snprintf(buf, n, "   context sensitivity dcos(shuffled) %+.4f%s", r->ctx_shuffled,
             fabs(r->ctx_shuffled) < TRAIN_CTX_SENS_MIN ? " (ignores its context)" : "");
}
