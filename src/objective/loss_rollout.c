/* loss_rollout.c — the rollout term of the P4 objective (docs/loss.md): L_roll = (1/H) Σ_h term_h
 * over the H forward slots, term_1 the MSE of the normalised p_1, and for h >= 2 either the flat
 * penalty on the world-batch mean cos(p_{h-1}, p_h) or the MSE against the rollout truth, with
 * their gradients into l->dpreds ("full": into every slot; "first": only what reaches p_1). */
#include "loss_priv.h"

/* Per slot h >= 2: the truth-mask count (truth) or the sum of cos(p_{h-1}, p_h) (flat). */
void loss_rollout_stats(loss_step *st) {
    if (!(st->obj->lambda_roll > 0)) return;
    const lvt_ops *o = st->o;
    lvt_loss *l = st->l;
    const int B = st->B, D = st->D;
    for (int h = 1; h < st->H; h++) {
        if (st->md.truth) {
            o->copy_rows(st->be, loss_vec(st, V_TMP), 1, st->b->roll_mask + h, st->b->roll_h, B, 1);
            o->reduce_sum(st->be, loss_vec(st, V_TMP), B, 1.0f, st->sc + S_TCNT(l, h));
        } else {
            o->dot_rows(st->be, loss_pred(st, h - 1), D, loss_pred(st, h), D, loss_vec(st, V_TMP), B, D);
            o->reduce_sum(st->be, loss_vec(st, V_TMP), B, 1.0f, st->sc + S_FLAT(l, h));
        }
    }
}

/* The base loss on unit rows p, t: w_mse ||p - t||^2 / D + w_cos (1 - p·t) = bw ||p - t||^2 / D
 * with bw = w_mse + w_cos D / 2, since ||p - t||^2 = 2 (1 - p·t). (The two gradients differ by a
 * multiple of p, which the normalisation's backward removes.) */
static float base_weight(const loss_step *st) { return st->md.w_mse + st->md.w_cos * (float)st->D * 0.5f; }

/* term_1 = bw mean((p_1 - y)^2) over G×D, logged /H; dp_1 += 2 bw λ_roll/H (p_1 - y) / (G·D). */
static void rollout_first(loss_step *st, float lr_h) {
    const lvt_ops *o = st->o;
    lvt_backend *be = st->be;
    lvt_loss *l = st->l;
    const int B = st->B, D = st->D, H = st->H;
    const float G = st->G, bw = base_weight(st);
    o->copy(be, l->diff, st->p1, sizeof(float) * st->bd);
    o->axpy(be, -1.0f, st->y, l->diff, st->bd);
    o->dot_rows(be, l->diff, D, l->diff, D, loss_vec(st, V_TMP), B, D);
    o->reduce_sum(be, loss_vec(st, V_TMP), B, bw / (G * D * H), st->X + X_TMP);
    o->add(be, st->sc + LVT_TERM_ROLL, st->X + X_TMP, st->sc + LVT_TERM_ROLL, 1);
    o->axpy(be, 2.0f * bw * lr_h / (G * D), l->diff, st->dp1, st->bd);
}

/* Truth supervision of slot h: term = bw Σ_b m_b ||p_h - t_h||^2 / (cnt_h D) · frac (logged /H);
 * the gradient flows into p_h only ("full"). */
static void rollout_truth(loss_step *st, int h, float lr_h) {
    const lvt_ops *o = st->o;
    lvt_backend *be = st->be;
    lvt_loss *l = st->l;
    const int B = st->B, D = st->D, H = st->H;
    const float frac = st->frac, bw = base_weight(st);
    const float *t = st->b->roll + (size_t)h * D;
    const float *cnt = st->sc + S_TCNT(l, h);
    o->copy_rows(be, l->diff, D, t, st->b->roll_h * D, B, D);
    o->scale(be, l->diff, -1.0f, st->bd);
    o->axpy(be, 1.0f, loss_pred(st, h), l->diff, st->bd);
    o->copy_rows(be, loss_vec(st, V_M2), 1, st->b->roll_mask + h, st->b->roll_h, B, 1);
    o->dot_rows(be, l->diff, D, l->diff, D, loss_vec(st, V_TMP), B, D);
    o->vmap(be, LVT_VMAP_DIV_COUNT, loss_vec(st, V_TMP), cnt, 0, loss_vec(st, V_M2), bw * frac / ((float)D * H), 0,
            loss_vec(st, V_HW), B);
    o->reduce_sum(be, loss_vec(st, V_HW), B, 1.0f, st->X + X_TMP);
    o->add(be, st->sc + LVT_TERM_ROLL, st->X + X_TMP, st->sc + LVT_TERM_ROLL, 1);
    if (st->md.full) {
        o->vmap(be, LVT_VMAP_DIV_COUNT, loss_vec(st, V_M2), cnt, 0, NULL, 2.0f * bw * lr_h * frac / (float)D, 0,
                loss_vec(st, V_COEF), B);
        o->scale_rows_add(be, loss_vec(st, V_COEF), 1, 1.0f, l->diff, D, loss_dpred(st, h), D, B, D);
    }
}

/* Flat penalty of slot h: term = scale · relu(mean_b cos(p_{h-1}, p_h) - thr) · frac; every rank
 * holds the same world-batch mean, so each logs its share B / world_count of the term (the
 * logged terms are summed over ranks). Gradient coef = λ_roll/H · scale · step(mean - thr) ·
 * frac / world_count into p_{h-1} ("full", or h = 2 with "first") and into p_h ("full"). */
static void rollout_flat(loss_step *st, int h, float lr_h) {
    const lvt_ops *o = st->o;
    lvt_backend *be = st->be;
    const int B = st->B, D = st->D, H = st->H;
    const float frac = st->frac, wc = st->wc;
    const float th = (float)st->obj->flat_threshold, fs = (float)st->obj->flat_scale;
    float *X = st->X;
    o->vmap(be, LVT_VMAP_AFFINE, st->sc + S_FLAT(st->l, h), NULL, 0, NULL, 1.0f / wc, 0.0f, X + X_TMP, 1);
    o->vmap(be, LVT_VMAP_RELU_SHIFT, X + X_TMP, NULL, 0, NULL, th, fs * frac / (float)H * ((float)B / wc),
            X + X_FLAT, 1);
    o->add(be, st->sc + LVT_TERM_ROLL, X + X_FLAT, st->sc + LVT_TERM_ROLL, 1);
    o->vmap(be, LVT_VMAP_STEP_SHIFT, X + X_TMP, NULL, 0, NULL, th, lr_h * fs * frac / wc, loss_vec(st, V_COEF), 1);
    if (st->md.full || h == 1)
        o->scale_rows_add(be, loss_vec(st, V_COEF), 0, 1.0f, loss_pred(st, h), D, loss_dpred(st, h - 1), D, B, D);
    if (st->md.full)
        o->scale_rows_add(be, loss_vec(st, V_COEF), 0, 1.0f, loss_pred(st, h - 1), D, loss_dpred(st, h), D, B, D);
}

/* L_roll = mean over h of term_h; slots h >= 2 (0-based h >= 1) by the supervision mode. */
void loss_term_rollout(loss_step *st) {
    const float lr_h = (float)st->obj->lambda_roll / (float)st->H;
    rollout_first(st, lr_h);
    for (int h = 1; h < st->H; h++) {
        if (st->md.truth) rollout_truth(st, h, lr_h);
        else rollout_flat(st, h, lr_h);
    }
}
