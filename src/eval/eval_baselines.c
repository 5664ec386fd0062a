/* eval_baselines.c — the 5CAT baseline predictors: copy-last (predict c4) and mean-of-context
 * (the normalised mean of the context rows). They bound what "learning +1" has to beat;
 * lvt_eval_baselines runs their test A beside a predictor's battery (lvt eval's baseline lines). */
#include <math.h>
#include <string.h>

#include "lvt/eval.h"

static int predict_copy_last(void *ctx, const float *in, int n, int L, int D, float *out, lvt_err *e) {
    (void)ctx;
    (void)e;
    for (int i = 0; i < n; i++)
        memcpy(out + (size_t)i * D, in + ((size_t)i * L + (L - 1)) * D, (size_t)D * sizeof(float));
    return LVT_OK;
}

static int predict_mean(void *ctx, const float *in, int n, int L, int D, float *out, lvt_err *e) {
    (void)ctx;
    (void)e;
    for (int i = 0; i < n; i++) {
        float *o = out + (size_t)i * D;
        double ss = 0.0;
        for (int j = 0; j < D; j++) {
            double acc = 0.0;
            for (int t = 0; t < L; t++) acc += in[((size_t)i * L + t) * D + j];
            o[j] = (float)(acc / L);
            ss += (double)o[j] * o[j];
        }
        /* the mean of unit rows is rescaled to a unit row; an all-zero mean stays zero */
        float inv = ss > 0.0 ? (float)(1.0 / sqrt(ss)) : 0.0f;
        for (int j = 0; j < D; j++) o[j] *= inv;
    }
    return LVT_OK;
}

lvt_predictor lvt_predictor_copy_last(void) {
    lvt_predictor p = {"copy-last", NULL, predict_copy_last};
    return p;
}

lvt_predictor lvt_predictor_mean(void) {
    lvt_predictor p = {"mean", NULL, predict_mean};
    return p;
}

int lvt_predictor_baseline(const char *name, lvt_predictor *p, lvt_err *e) {
    if (name && !strcmp(name, "copy-last")) {
        *p = lvt_predictor_copy_last();
        return LVT_OK;
    }
    if (name && !strcmp(name, "mean")) {
        *p = lvt_predictor_mean();
        return LVT_OK;
    }
    return lvt_errf(e, "unknown baseline '%s' (choose copy-last or mean)", name ? name : "");
}

int lvt_eval_baselines(const lvt_store *s, const lvt_eval_opts *o, double cos_p1[2], double margin[2],
                       lvt_err *e) {
    const lvt_predictor preds[2] = {lvt_predictor_copy_last(), lvt_predictor_mean()};
    lvt_eval_opts a = *o;
    a.tests = LVT_EVAL_A;
    a.dump_path = NULL;
    for (int k = 0; k < 2; k++) {
        lvt_eval_metrics m;
        if (lvt_eval_run(s, &preds[k], &a, &m, e)) return lvt_err_prefix(e, "%s", preds[k].name);
        cos_p1[k] = m.a_cos_p1;
        margin[k] = m.a_margin;
    }
    return LVT_OK;
}
