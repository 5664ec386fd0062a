/* eval_model.c — a transformer (lvt_model) as a 5CAT predictor: host batches are uploaded to the
 * model's backend, forwarded in eval mode and the unit predictions copied back; and the trainer's
 * mini-5CAT, the battery over that predictor. */
#include <string.h>

#include "lvt/eval.h"

static int predict_model(void *ctx, const float *in, int n, int L, int D, float *out, lvt_err *e) {
    lvt_model_predictor *mp = ctx;
    lvt_model *m = mp->m;
    const lvt_ops *o = m->be->ops;
    if (L != m->cfg.context_len || D != m->cfg.dim)
        return lvt_errf(e, "model expects contexts of %d x %d, got %d x %d", m->cfg.context_len,
                        m->cfg.dim, L, D);
    for (int i0 = 0; i0 < n; i0 += mp->cap) {
        int b = n - i0 < mp->cap ? n - i0 : mp->cap;
        o->to_device(m->be, mp->d_ctx, in + (size_t)i0 * L * D, (size_t)b * L * D * sizeof(float));
        if (lvt_model_forward(m, 0, mp->d_ctx, b, 0, NULL, mp->d_pred, e)) return LVT_ERROR;
        o->to_host(m->be, out + (size_t)i0 * D, mp->d_pred, (size_t)b * D * sizeof(float));
    }
    return LVT_OK;
}

int lvt_model_predictor_init(lvt_model_predictor *mp, lvt_model *m, int cap, lvt_predictor *p,
                             lvt_err *e) {
    memset(mp, 0, sizeof *mp);
    if (cap < 1) return lvt_errf(e, "model predictor: batch must be positive, got %d", cap);
    const lvt_ops *o = m->be->ops;
    mp->m = m;
    mp->cap = cap;
    if (lvt_model_plan(m, cap, 1, e)) return lvt_err_prefix(e, "model predictor");
    mp->d_ctx = o->alloc(m->be, (size_t)cap * m->cfg.context_len * m->cfg.dim * sizeof(float), e);
    mp->d_pred = mp->d_ctx ? o->alloc(m->be, (size_t)cap * m->cfg.dim * sizeof(float), e) : NULL;
    if (!mp->d_ctx || !mp->d_pred) {
        lvt_model_predictor_free(mp);
        return lvt_err_prefix(e, "model predictor");
    }
    p->name = "model";
    p->ctx = mp;
    p->predict = predict_model;
    return LVT_OK;
}

void lvt_model_predictor_free(lvt_model_predictor *mp) {
    if (mp->m) {
        const lvt_ops *o = mp->m->be->ops;
        if (mp->d_ctx) o->free(mp->m->be, mp->d_ctx);
        if (mp->d_pred) o->free(mp->m->be, mp->d_pred);
    }
    memset(mp, 0, sizeof *mp);
}

int lvt_eval_mini5cat_tests(const lvt_store *s, lvt_model *m, int64_t samples, int batch, uint64_t seed,
                            int tests, lvt_eval_metrics *out, lvt_err *e) {
    lvt_eval_opts o;
    lvt_eval_opts_default(&o);
    o.max_samples = samples;
    o.batch = batch;
    o.seed = seed;
    o.context_len = m->cfg.context_len;
    o.tests = tests;
    if (s->dim != m->cfg.dim)
        return lvt_errf(e, "mini-5CAT: model dimension %d does not match the store's D = %d", m->cfg.dim,
                        s->dim);
    lvt_model_predictor mp;
    lvt_predictor p;
    if (lvt_model_predictor_init(&mp, m, batch, &p, e)) return LVT_ERROR;
    int rc = lvt_eval_run(s, &p, &o, out, e);
    lvt_model_predictor_free(&mp);
    return rc ? lvt_err_prefix(e, "mini-5CAT") : LVT_OK;
}

int lvt_eval_mini5cat(const lvt_store *s, lvt_model *m, int64_t samples, int batch, uint64_t seed,
                      lvt_eval_metrics *out, lvt_err *e) {
    return lvt_eval_mini5cat_tests(s, m, samples, batch, seed, LVT_EVAL_A | LVT_EVAL_B | LVT_EVAL_C | LVT_EVAL_D,
                                   out, e);
}
