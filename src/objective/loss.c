/* loss.c — the P4 objective over ops (see include/lvt/loss.h for the normalisation rules): the
 * loss buffers and lvt_loss_step, a driver over its phases. Per step: ctx_0 = context-dropped
 * copy of the batch; p_h = f(ctx_{h-1}) for h = 1..H with ctx_h = ctx_{h-1} shifted left and p_h
 * appended; the batch statistics, reduced over ranks; the terms of docs/loss.md on p_1 (and the
 * rollout on p_1..p_H; loss_terms.c, loss_rollout.c); then the backward from p_H down to p_1,
 * routing the gradient that reaches a predicted context row back to the prediction it came
 * from. */
#include "loss_priv.h"

#include <stdlib.h>
#include <string.h>

int lvt_loss_create(lvt_loss *l, lvt_backend *be, int B, int L, int D, int H, lvt_err *e) {
    memset(l, 0, sizeof *l);
    if (H < 1) H = 1;
    l->be = be;
    l->B = B;
    l->L = L;
    l->D = D;
    l->H = H;
    l->skip_zero_slots = be->ops->host_memory; /* the check reads the gradient on the host */
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


/* The choice keys of the objective as the step uses them. */
static loss_modes read_modes(const lvt_objective_cfg *obj, int L) {
    loss_modes md;
    md.H = (obj->lambda_roll > 0 && obj->rollout_h > 1) ? obj->rollout_h : 1;
    md.full = obj->rollout_grad != LVT_ROLLOUT_GRAD_FIRST;
    md.truth = obj->rollout_supervise == LVT_SUPERVISE_TRUTH;
    md.adaptive = obj->adaptive_dir == LVT_ADAPTIVE_BATCH    ? LOSS_ADAPT_BATCH
                  : obj->adaptive_dir == LVT_ADAPTIVE_SAMPLE ? LOSS_ADAPT_SAMPLE
                                                             : LOSS_ADAPT_OFF;
    md.ref_row = obj->dir_ref == LVT_DIR_REF_LAST ? L - 1 : L - 2;
    md.drop_mode = obj->context_drop_mode == LVT_CTX_DROP_ZERO   ? LVT_CONTEXT_DROP_ZERO
                   : obj->context_drop_mode == LVT_CTX_DROP_MEAN ? LVT_CONTEXT_DROP_MEAN
                                                                 : LVT_CONTEXT_DROP_NOISE;
    md.w_mse = obj->base_loss != LVT_BASE_COSINE ? 1.0f : 0.0f;
    md.w_cos = obj->base_loss == LVT_BASE_COSINE ? 1.0f : obj->base_loss == LVT_BASE_MSE_COSINE ? (float)obj->cosine_weight : 0.0f;
    return md;
}

/* Context drop on the model input (train only), then the main forward and the rollout unroll:
 * slot h forwards ctx_h, and ctx_{h+1} = ctx_h shifted left with p_{h+1} appended. */
static int forward_unroll(loss_step *st, lvt_err *e) {
    const lvt_ops *o = st->o;
    const int B = st->B, L = st->L, D = st->D;
    o->copy(st->be, loss_ctx(st, 0), st->b->ctx, sizeof(float) * st->bld);
    if (st->train && st->key && st->obj->context_drop_p > 0) {
        lvt_dropout_key k = *st->key;
        k.p = (float)st->obj->context_drop_p;
        o->context_drop(st->be, loss_ctx(st, 0), B, L, D, &k, st->md.drop_mode);
    }
    /* a rank without samples in this micro-step (B = 0) runs no forward but still joins the
     * reduction; every per-sample op is then a no-op and its terms are 0 */
    for (int h = 0; h < st->H && B > 0; h++) {
        lvt_dropout_key k = st->key ? *st->key : (lvt_dropout_key){0};
        /* each rollout step draws its own dropout masks: a distinct Philox key per step */
        if (st->key) k.seed = st->key->seed + (uint64_t)h * 0x9E3779B97F4A7C15ull;
        if (lvt_model_forward(st->m, h, loss_ctx(st, h), B, st->train, &k, loss_pred(st, h), e))
            return LVT_ERROR;
        if (h + 1 < st->H) {
            o->copy_rows(st->be, loss_ctx(st, h + 1), L * D, loss_ctx(st, h) + D, L * D, B, (L - 1) * D);
            o->copy_rows(st->be, loss_ctx(st, h + 1) + (size_t)(L - 1) * D, L * D, loss_pred(st, h), D, B, D);
        }
    }
    return LVT_OK;
}

/* The batch statistics every rank needs: each term sums its own, then one reduction of all. */
static int batch_stats(loss_step *st, lvt_err *e) {
    lvt_loss *l = st->l;
    loss_dir_stats(st);
    loss_future_stats(st);
    loss_rollout_stats(st);
    if (l->reduce && l->reduce(l->reduce_ctx, st->sc + S_SUMS, S_SCRATCH(l) - S_SUMS, e))
        return lvt_err_prefix(e, "loss: cross-rank reduction");
    return LVT_OK;
}

/* Backward: slots p_H .. p_2 (full), each routing the gradient of its context rows to the
 * predictions they hold, then slot 1 with the gradients of the raw output and of p_1. By the time
 * slot h is reached every contribution to its prediction gradient is in; when that gradient is
 * exactly zero (no nonzero, no NaN: its sum of squares is 0) the slot's backward would add only
 * zeros to the parameter gradients and to the earlier slots, so it is skipped (skip_zero_slots;
 * docs/loss.md, "Zero-gradient slots"). */
static int backward(loss_step *st, lvt_err *e) {
    const int B = st->B, L = st->L, D = st->D;
    lvt_loss *l = st->l;
    if (st->md.full) {
        for (int h = st->H - 1; h >= 1; h--) {
            if (l->skip_zero_slots && st->o->sumsq(st->be, loss_dpred(st, h), st->bd) == 0.0) {
                l->slots_skipped++;
                continue;
            }
            l->slots_run++;
            if (lvt_model_backward_raw_pred(st->m, h, NULL, loss_dpred(st, h), l->dctx, e)) return LVT_ERROR;
            /* ctx_h row L-j holds p_{h-j+1} (0-based PRED(h-j)) for j = 1..min(h, L) */
            for (int j = 1; j <= h && j <= L; j++)
                st->o->scale_rows_add(st->be, NULL, 0, 1.0f, l->dctx + (size_t)(L - j) * D, L * D,
                                      loss_dpred(st, h - j), D, B, D);
        }
    }
    return lvt_model_backward_raw_pred(st->m, 0, l->draw, st->dp1, NULL, e);
}

static int run_step(lvt_loss *l, lvt_model *m, const lvt_objective_cfg *obj, const lvt_loss_batch *b,
                     const lvt_loss_norm *norm, const lvt_dropout_key *key, int train, int backward_pass,
                     lvt_err *e) {
    loss_step st = {.l = l, .be = l->be, .o = l->be->ops, .m = m, .obj = obj, .b = b, .key = key,
                    .train = train, .md = read_modes(obj, l->L), .B = b->B, .L = l->L, .D = l->D};
    st.H = st.md.H;
    if (st.B > l->B || st.H > l->H)
        return lvt_errf(e, "loss: batch %d / rollout %d exceeds the planned %d / %d", st.B, st.H, l->B, l->H);
    if (st.md.truth && st.H > 1 && b->roll_h < st.H)
        return lvt_errf(e, "loss: rollout truth has %d rows, rollout_h is %d", b->roll_h, st.H);
    st.bd = (size_t)st.B * st.D;
    st.bld = (size_t)st.B * st.L * st.D;
    st.G = (float)norm->global_batch;
    st.frac = (float)norm->world_count / st.G;
    st.wc = (float)norm->world_count;
    st.sc = l->scal;
    st.X = l->scal + S_SCRATCH(l);

    st.o->zero(st.be, st.sc, sizeof(float) * (size_t)(S_SCRATCH(l) + X_COUNT));
    if (forward_unroll(&st, e)) return LVT_ERROR;
    st.p1 = loss_pred(&st, 0);
    st.y = b->target;
    st.ctx = b->ctx;
    st.raw = lvt_model_raw(m, 0);
    if (batch_stats(&st, e)) return LVT_ERROR;

    st.o->zero(st.be, l->dpreds, sizeof(float) * st.bd * st.H);
    st.dp1 = loss_dpred(&st, 0);
    loss_term_mse(&st);
    loss_term_cos(&st);
    if (st.md.w_cos > 0) loss_term_base_cos(&st);
    if (obj->lambda_dir > 0) loss_term_dir(&st);
    if (obj->lambda_fut > 0) loss_term_future(&st);
    if (obj->lambda_ac > 0) loss_term_anticopy(&st);
    if (obj->lambda_roll > 0) loss_term_rollout(&st);
    loss_total(&st);

    if (!backward_pass || st.B == 0) return LVT_OK;
    return backward(&st, e);
}

/* The parameters do not change during the step: the backend may reuse what it derived from them
 * (ops->const_window; the CPU backend's packed bf16 weights). */
int lvt_loss_step(lvt_loss *l, lvt_model *m, const lvt_objective_cfg *obj,
                  const lvt_loss_batch *b, const lvt_loss_norm *norm, const lvt_dropout_key *key,
                  int train, int backward_pass, lvt_err *e) {
    const lvt_ops *o = l->be->ops;
    if (o->const_window) o->const_window(l->be, m->params, sizeof(float) * m->n_params);
    const int rc = run_step(l, m, obj, b, norm, key, train, backward_pass, e);
    if (o->const_window) o->const_window(l->be, NULL, 0);
    return rc;
}
