/* loss.c — the P4 objective over ops (see include/lvt/loss.h for the normalisation rules).
 * Per step: ctx_0 = context-dropped copy of the batch; p_h = f(ctx_{h-1}) for h = 1..H with
 * ctx_h = ctx_{h-1} shifted left and p_h appended; the terms of docs/loss.md on p_1 (and the
 * rollout on p_1..p_H); then the backward from p_H down to p_1, routing the gradient that
 * reaches a predicted context row back to the prediction it came from. */
#include "lvt/loss.h"

#include <stdlib.h>
#include <string.h>

/* per-sample vectors inside l->vec */
enum { V_CY, V_CREF, V_CY2, V_CY3, V_M2, V_M3, V_SIG, V_GATE, V_COEF, V_COEF2, V_HW, V_TMP, V_NVEC };
/* scalars inside l->scal: the terms, then the reduced sums, then scratch */
enum { S_SUMS = LVT_TERM_COUNT, S_SIG = S_SUMS, S_CNT2, S_CNT3, S_FIXED_END };
/* S_FLAT(h) and S_TCNT(h) follow the fixed sums; scratch after them */
#define S_FLAT(l, h) (S_FIXED_END + (h))
#define S_TCNT(l, h) (S_FIXED_END + (l)->H + (h))
#define S_SCRATCH(l) (S_FIXED_END + 2 * (l)->H)
enum { X_SIGMEAN, X_DIRW, X_FUT3, X_FLAT, X_TMP, X_COUNT };

int lvt_loss_create(lvt_loss *l, lvt_backend *be, int B, int L, int D, int H, lvt_err *e) {
    memset(l, 0, sizeof *l);
    if (H < 1) H = 1;
    l->be = be;
    l->B = B;
    l->L = L;
    l->D = D;
    l->H = H;
    const lvt_ops *o = be->ops;
    size_t bd = (size_t)B * D, bld = (size_t)B * L * D;
    if (!(l->ctxs = o->alloc(be, sizeof(float) * bld * H, e))) goto fail;
    if (!(l->preds = o->alloc(be, sizeof(float) * bd * H, e))) goto fail;
    if (!(l->dpreds = o->alloc(be, sizeof(float) * bd * H, e))) goto fail;
    if (!(l->draw = o->alloc(be, sizeof(float) * bd, e))) goto fail;
    if (!(l->dctx = o->alloc(be, sizeof(float) * bld, e))) goto fail;
    if (!(l->diff = o->alloc(be, sizeof(float) * bd, e))) goto fail;
    if (!(l->vec = o->alloc(be, sizeof(float) * (size_t)B * V_NVEC, e))) goto fail;
    if (!(l->scal = o->alloc(be, sizeof(float) * (size_t)(S_FIXED_END + 2 * H + X_COUNT), e))) goto fail;
    return LVT_OK;
fail:
    lvt_err_prefix(e, "loss buffers (B=%d, L=%d, D=%d, H=%d)", B, L, D, H);
    lvt_loss_destroy(l);
    return LVT_ERROR;
}

void lvt_loss_destroy(lvt_loss *l) {
    if (!l->be) return;
    const lvt_ops *o = l->be->ops;
    float *bufs[] = {l->ctxs, l->preds, l->dpreds, l->draw, l->dctx, l->diff, l->vec, l->scal};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
        if (bufs[i]) o->free(l->be, bufs[i]);
    memset(l, 0, sizeof *l);
}

const float *lvt_loss_pred(const lvt_loss *l) { return l->preds; }

void lvt_loss_read(lvt_loss *l, float terms[LVT_TERM_COUNT]) {
    l->be->ops->to_host(l->be, terms, l->scal, sizeof(float) * LVT_TERM_COUNT);
}

/* How many forward slots the objective needs. */
static int rollout_steps(const lvt_objective_cfg *obj) {
    return (obj->lambda_roll > 0 && obj->rollout_h > 1) ? obj->rollout_h : 1;
}

/* dp += coef ⊙ (b - a) row-wise: the gradient of sum_i coef_i (cos(p,b_i) - cos(p,a_i))·(-1)...
 * used as: d/dp of hinge(m - (cos(p,y) - cos(p,r))) = gate · (r - y). */
static void add_pair_grad(const lvt_ops *o, lvt_backend *be, const float *coef, const float *y,
                          int ldy, const float *r, int ldr, float *dp, int B, int D) {
    o->scale_rows_add(be, coef, 1, -1.0f, y, ldy, dp, D, B, D);
    o->scale_rows_add(be, coef, 1, 1.0f, r, ldr, dp, D, B, D);
}

int lvt_loss_step(lvt_loss *l, lvt_model *m, const lvt_objective_cfg *obj,
                  const lvt_loss_batch *b, const lvt_loss_norm *norm, const lvt_dropout_key *key,
                  int train, int backward, lvt_err *e) {
    lvt_backend *be = l->be;
    const lvt_ops *o = be->ops;
    const int B = b->B, L = l->L, D = l->D;
    const int H = rollout_steps(obj);
    const int full = strcmp(obj->rollout_grad, "first") != 0;
    const int truth = strcmp(obj->rollout_supervise, "truth") == 0;
    if (B > l->B || H > l->H)
        return lvt_errf(e, "loss: batch %d / rollout %d exceeds the planned %d / %d", B, H, l->B, l->H);
    if (truth && H > 1 && b->roll_h < H)
        return lvt_errf(e, "loss: rollout truth has %d rows, rollout_h is %d", b->roll_h, H);
    const size_t bd = (size_t)B * D, bld = (size_t)B * L * D;
    const float G = (float)norm->global_batch;
    const float frac = (float)norm->world_count / G; /* this micro-step's share of the step */
    const float wc = (float)norm->world_count;
    float *vec = l->vec, *sc = l->scal;
    float *X = sc + S_SCRATCH(l);
#define VEC(i) (vec + (size_t)(i) * B)
#define CTX(h) (l->ctxs + (size_t)(h) * bld)
#define PRED(h) (l->preds + (size_t)(h) * bd)
#define DPRED(h) (l->dpreds + (size_t)(h) * bd)

    o->zero(be, sc, sizeof(float) * (size_t)(S_SCRATCH(l) + X_COUNT));

    /* ---- forward: context drop, main forward, rollout unroll ---- */
    o->copy(be, CTX(0), b->ctx, sizeof(float) * bld);
    if (train && key && obj->context_drop_p > 0) {
        lvt_dropout_key k = *key;
        k.p = (float)obj->context_drop_p;
        lvt_context_drop_mode mode = !strcmp(obj->context_drop_mode, "zero")   ? LVT_CONTEXT_DROP_ZERO
                                     : !strcmp(obj->context_drop_mode, "mean") ? LVT_CONTEXT_DROP_MEAN
                                                                               : LVT_CONTEXT_DROP_NOISE;
        o->context_drop(be, CTX(0), B, L, D, &k, mode);
    }
    /* a rank without samples in this micro-step (B = 0) runs no forward but still joins the
     * reduction below; every per-sample op is then a no-op and its terms are 0 */
    for (int h = 0; h < H && B > 0; h++) {
        lvt_dropout_key k = key ? *key : (lvt_dropout_key){0};
        /* each rollout step draws its own dropout masks: a distinct Philox key per step */
        if (key) k.seed = key->seed + (uint64_t)h * 0x9E3779B97F4A7C15ull;
        if (lvt_model_forward(m, h, CTX(h), B, train, &k, PRED(h), e)) return LVT_ERROR;
        if (h + 1 < H) { /* ctx_{h+1} = ctx_h shifted left, p_{h+1} appended */
            o->copy_rows(be, CTX(h + 1), L * D, CTX(h) + D, L * D, B, (L - 1) * D);
            o->copy_rows(be, CTX(h + 1) + (size_t)(L - 1) * D, L * D, PRED(h), D, B, D);
        }
    }
    const float *p1 = PRED(0), *y = b->target, *ctx = b->ctx;
    const float *raw = lvt_model_raw(m, 0);

    /* ---- batch statistics that need every rank: sums, then one reduction ---- */
    int need_sig = obj->lambda_dir > 0 && strcmp(obj->adaptive_dir, "off") != 0;
    if (need_sig) {
        o->dot_rows(be, ctx + (size_t)(L - 1) * D, L * D, y, D, VEC(V_TMP), B, D); /* cos(c4, y) */
        o->vmap(be, LVT_VMAP_SIGMOID, VEC(V_TMP), NULL, 1, NULL, 0.60f, 0.05f, VEC(V_SIG), B);
        o->reduce_sum(be, VEC(V_SIG), B, 1.0f, sc + S_SIG);
    }
    if (obj->lambda_fut > 0) {
        o->copy_rows(be, VEC(V_M2), 1, b->fut_mask, 2, B, 1);
        o->copy_rows(be, VEC(V_M3), 1, b->fut_mask + 1, 2, B, 1);
        o->reduce_sum(be, VEC(V_M2), B, 1.0f, sc + S_CNT2);
        o->reduce_sum(be, VEC(V_M3), B, 1.0f, sc + S_CNT3);
    }
    if (obj->lambda_roll > 0) {
        for (int h = 1; h < H; h++) {
            if (truth) {
                o->copy_rows(be, VEC(V_TMP), 1, b->roll_mask + h, b->roll_h, B, 1);
                o->reduce_sum(be, VEC(V_TMP), B, 1.0f, sc + S_TCNT(l, h));
            } else {
                o->dot_rows(be, PRED(h - 1), D, PRED(h), D, VEC(V_TMP), B, D);
                o->reduce_sum(be, VEC(V_TMP), B, 1.0f, sc + S_FLAT(l, h));
            }
        }
    }
    if (l->reduce && l->reduce(l->reduce_ctx, sc + S_SUMS, S_SCRATCH(l) - S_SUMS, e))
        return lvt_err_prefix(e, "loss: cross-rank reduction");

    o->zero(be, l->dpreds, sizeof(float) * bd * H);
    float *dp1 = DPRED(0);

    /* ---- MSE on the raw output: mean over G×D of (r - y)^2 ---- */
    o->copy(be, l->diff, raw, sizeof(float) * bd);
    o->axpy(be, -1.0f, y, l->diff, bd);
    o->dot_rows(be, l->diff, D, l->diff, D, VEC(V_TMP), B, D);
    o->reduce_sum(be, VEC(V_TMP), B, 1.0f / (G * D), sc + LVT_TERM_MSE);
    o->copy(be, l->draw, l->diff, sizeof(float) * bd);
    o->scale(be, l->draw, 2.0f / (G * D), bd);

    /* ---- train cosine ---- */
    o->dot_rows(be, p1, D, y, D, VEC(V_CY), B, D);
    o->reduce_sum(be, VEC(V_CY), B, 1.0f / G, sc + LVT_TERM_COS);

    /* ---- directional guard with adaptive λ ---- */
    if (obj->lambda_dir > 0) {
        int ref_row = !strcmp(obj->dir_ref, "last") ? L - 1 : L - 2;
        const float *ref = ctx + (size_t)ref_row * D;
        const float ld = (float)obj->lambda_dir, md = (float)obj->margin_dir;
        o->dot_rows(be, p1, D, ref, L * D, VEC(V_CREF), B, D);
        o->vmap(be, LVT_VMAP_HINGE, VEC(V_CY), VEC(V_CREF), 1, NULL, md, 0, VEC(V_HW), B);
        o->reduce_sum(be, VEC(V_HW), B, 1.0f / G, sc + LVT_TERM_DIR);
        o->vmap(be, LVT_VMAP_HINGE_GATE, VEC(V_CY), VEC(V_CREF), 1, NULL, md, 0, VEC(V_GATE), B);
        /* weights w_b = 1 + s_b: s = the world-batch mean sigmoid (batch), the sample's own
         * sigmoid (sample), or 0 (off) */
        const float *wb = NULL;
        int wstride = 1;
        if (!strcmp(obj->adaptive_dir, "batch")) {
            o->vmap(be, LVT_VMAP_AFFINE, sc + S_SIG, NULL, 0, NULL, 1.0f / wc, 0.0f, X + X_SIGMEAN, 1);
            wb = X + X_SIGMEAN;
            wstride = 0;
        } else if (!strcmp(obj->adaptive_dir, "sample")) {
            wb = VEC(V_SIG);
        }
        /* λ_eff for the log: λ_dir (1 + mean sigmoid) over the world batch (λ_dir when off) */
        if (need_sig)
            o->vmap(be, LVT_VMAP_AFFINE, sc + S_SIG, NULL, 0, NULL, ld / wc, ld, sc + LVT_TERM_LAMBDA_EFF, 1);
        else
            o->vmap(be, LVT_VMAP_AFFINE, sc + S_SIG, NULL, 0, NULL, 0.0f, ld, sc + LVT_TERM_LAMBDA_EFF, 1);
        /* weighted contribution to the total: λ_dir Σ_b w_b hinge_b / G */
        o->vmap(be, LVT_VMAP_MUL_AFFINE, VEC(V_HW), wb, wstride, NULL, ld, 1.0f, VEC(V_TMP), B);
        o->reduce_sum(be, VEC(V_TMP), B, 1.0f / G, X + X_DIRW);
        /* gradient: coef_b = λ_dir w_b gate_b / G; dp += coef (ref - y) */
        o->vmap(be, LVT_VMAP_MUL_AFFINE, VEC(V_GATE), wb, wstride, NULL, ld / G, 1.0f, VEC(V_COEF), B);
        add_pair_grad(o, be, VEC(V_COEF), y, D, ref, L * D, dp1, B, D);
    }

    /* ---- future ranking: +1 must beat +2 and +3 where they exist ---- */
    if (obj->lambda_fut > 0) {
        const float lf = (float)obj->lambda_fut, mf = (float)obj->margin_fut;
        for (int j = 0; j < 2; j++) {
            const float *yj = b->fut + (size_t)j * D;
            float *cyj = VEC(j == 0 ? V_CY2 : V_CY3);
            float *mj = VEC(j == 0 ? V_M2 : V_M3);
            const float *cnt = sc + (j == 0 ? S_CNT2 : S_CNT3);
            o->dot_rows(be, p1, D, yj, 2 * D, cyj, B, D);
            o->vmap(be, LVT_VMAP_HINGE, VEC(V_CY), cyj, 1, mj, mf, 0, VEC(V_HW), B);
            o->vmap(be, LVT_VMAP_DIV_COUNT, VEC(V_HW), cnt, 0, NULL, frac, 0, VEC(V_TMP), B);
            o->reduce_sum(be, VEC(V_TMP), B, 1.0f, X + X_FUT3);
            o->add(be, sc + LVT_TERM_FUT, X + X_FUT3, sc + LVT_TERM_FUT, 1);
            o->vmap(be, LVT_VMAP_HINGE_GATE, VEC(V_CY), cyj, 1, mj, mf, 0, VEC(V_GATE), B);
            o->vmap(be, LVT_VMAP_DIV_COUNT, VEC(V_GATE), cnt, 0, NULL, lf * frac, 0, VEC(V_COEF), B);
            add_pair_grad(o, be, VEC(V_COEF), y, D, yj, 2 * D, dp1, B, D);
        }
    }

    /* ---- anti-copy: +1 must beat every context chunk ---- */
    if (obj->lambda_ac > 0) {
        const float la = (float)obj->lambda_ac, ma = (float)obj->margin_ac;
        for (int i = 0; i < L; i++) {
            const float *ci = ctx + (size_t)i * D;
            o->dot_rows(be, p1, D, ci, L * D, VEC(V_CREF), B, D);
            o->vmap(be, LVT_VMAP_HINGE, VEC(V_CY), VEC(V_CREF), 1, NULL, ma, 0, VEC(V_HW), B);
            o->reduce_sum(be, VEC(V_HW), B, 1.0f / (G * L), X + X_TMP);
            o->add(be, sc + LVT_TERM_AC, X + X_TMP, sc + LVT_TERM_AC, 1);
            o->vmap(be, LVT_VMAP_HINGE_GATE, VEC(V_CY), VEC(V_CREF), 1, NULL, ma, 0, VEC(V_GATE), B);
            o->vmap(be, LVT_VMAP_MUL_AFFINE, VEC(V_GATE), NULL, 1, NULL, la / (G * L), 1.0f, VEC(V_COEF), B);
            add_pair_grad(o, be, VEC(V_COEF), y, D, ci, L * D, dp1, B, D);
        }
    }

    /* ---- rollout: L_roll = mean over h of term_h ---- */
    if (obj->lambda_roll > 0) {
        const float lr_h = (float)obj->lambda_roll / (float)H;
        /* term_1 = mean((p_1 - y)^2) over G×D */
        o->copy(be, l->diff, p1, sizeof(float) * bd);
        o->axpy(be, -1.0f, y, l->diff, bd);
        o->dot_rows(be, l->diff, D, l->diff, D, VEC(V_TMP), B, D);
        o->reduce_sum(be, VEC(V_TMP), B, 1.0f / (G * D * H), X + X_TMP);
        o->add(be, sc + LVT_TERM_ROLL, X + X_TMP, sc + LVT_TERM_ROLL, 1);
        o->axpy(be, 2.0f * lr_h / (G * D), l->diff, dp1, bd);
        for (int h = 1; h < H; h++) {
            float *ph = PRED(h), *pprev = PRED(h - 1);
            int grad_h = full;             /* gradient into p_h (h >= 2 in 1-based terms) */
            int grad_prev = full || h == 1; /* gradient into p_{h-1} */
            if (truth) {
                /* term = Σ_b m_b ||p_h - t_h||^2 / (cnt_h D) · frac */
                const float *t = b->roll + (size_t)h * D;
                const float *cnt = sc + S_TCNT(l, h);
                o->copy_rows(be, l->diff, D, t, b->roll_h * D, B, D);
                o->scale(be, l->diff, -1.0f, bd);
                o->axpy(be, 1.0f, ph, l->diff, bd);
                o->copy_rows(be, VEC(V_M2), 1, b->roll_mask + h, b->roll_h, B, 1);
                o->dot_rows(be, l->diff, D, l->diff, D, VEC(V_TMP), B, D);
                o->vmap(be, LVT_VMAP_DIV_COUNT, VEC(V_TMP), cnt, 0, VEC(V_M2), frac / ((float)D * H), 0,
                        VEC(V_HW), B);
                o->reduce_sum(be, VEC(V_HW), B, 1.0f, X + X_TMP);
                o->add(be, sc + LVT_TERM_ROLL, X + X_TMP, sc + LVT_TERM_ROLL, 1);
                if (grad_h) {
                    o->vmap(be, LVT_VMAP_DIV_COUNT, VEC(V_M2), cnt, 0, NULL, 2.0f * lr_h * frac / (float)D, 0,
                            VEC(V_COEF), B);
                    o->scale_rows_add(be, VEC(V_COEF), 1, 1.0f, l->diff, D, DPRED(h), D, B, D);
                }
            } else {
                /* term = scale · relu(mean_b cos(p_{h-1}, p_h) - thr) · frac; every rank holds
                 * the same world-batch mean, so each logs its share B / world_count of the
                 * term (the logged terms are summed over ranks) */
                const float th = (float)obj->flat_threshold, fs = (float)obj->flat_scale;
                o->vmap(be, LVT_VMAP_AFFINE, sc + S_FLAT(l, h), NULL, 0, NULL, 1.0f / wc, 0.0f, X + X_TMP, 1);
                o->vmap(be, LVT_VMAP_RELU_SHIFT, X + X_TMP, NULL, 0, NULL, th, fs * frac / (float)H * ((float)B / wc),
                        X + X_FLAT, 1);
                o->add(be, sc + LVT_TERM_ROLL, X + X_FLAT, sc + LVT_TERM_ROLL, 1);
                /* d/dp: coef = λ_roll/H · scale · step(mean - thr) · frac / world_count */
                o->vmap(be, LVT_VMAP_STEP_SHIFT, X + X_TMP, NULL, 0, NULL, th, lr_h * fs * frac / wc, VEC(V_COEF), 1);
                if (grad_prev) o->scale_rows_add(be, VEC(V_COEF), 0, 1.0f, ph, D, DPRED(h - 1), D, B, D);
                if (grad_h) o->scale_rows_add(be, VEC(V_COEF), 0, 1.0f, pprev, D, DPRED(h), D, B, D);
            }
        }
    }

    /* ---- total ---- */
    o->copy(be, sc + LVT_TERM_TOTAL, sc + LVT_TERM_MSE, sizeof(float));
    if (obj->lambda_roll > 0) o->axpy(be, (float)obj->lambda_roll, sc + LVT_TERM_ROLL, sc + LVT_TERM_TOTAL, 1);
    if (obj->lambda_dir > 0) o->axpy(be, 1.0f, X + X_DIRW, sc + LVT_TERM_TOTAL, 1);
    if (obj->lambda_fut > 0) o->axpy(be, (float)obj->lambda_fut, sc + LVT_TERM_FUT, sc + LVT_TERM_TOTAL, 1);
    if (obj->lambda_ac > 0) o->axpy(be, (float)obj->lambda_ac, sc + LVT_TERM_AC, sc + LVT_TERM_TOTAL, 1);

    if (!backward || B == 0) return LVT_OK;

    /* ---- backward: p_H .. p_2 (full), routing dctx rows to the predictions they hold ---- */
    if (full) {
        for (int h = H - 1; h >= 1; h--) {
            if (lvt_model_backward2(m, h, NULL, DPRED(h), l->dctx, e)) return LVT_ERROR;
            /* ctx_h row L-j holds p_{h-j+1} (0-based PRED(h-j)) for j = 1..min(h, L) */
            for (int j = 1; j <= h && j <= L; j++)
                o->scale_rows_add(be, NULL, 0, 1.0f, l->dctx + (size_t)(L - j) * D, L * D, DPRED(h - j), D, B, D);
        }
    }
    return lvt_model_backward2(m, 0, l->draw, dp1, NULL, e);
#undef VEC
#undef CTX
#undef PRED
#undef DPRED
}
