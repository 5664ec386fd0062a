/* loss_terms.c — the per-sample terms of the P4 objective on p_1 (docs/loss.md, "Terms as
 * implemented"), each with its forward value and its gradient: MSE on the raw output, the train
 * cosine, the directional guard with adaptive λ, future ranking and anti-copy; and the total.
 * The rollout term is in loss_rollout.c; the step that calls these in order is in loss.c. */
#include "loss_priv.h"

/* dp += coef ⊙ (r - y) row-wise: d/dp of Σ_b coef_b-weighted hinge(m - (cos(p,y) - cos(p,r)))
 * with coef = λ · gate / normaliser. */
static void add_pair_grad(const lvt_ops *o, lvt_backend *be, const float *coef, const float *y,
                          int ldy, const float *r, int ldr, float *dp, int B, int D) {
    o->scale_rows_add(be, coef, 1, -1.0f, y, ldy, dp, D, B, D);
    o->scale_rows_add(be, coef, 1, 1.0f, r, ldr, dp, D, B, D);
}

/* ---- MSE on the raw output: mean over G×D of (r - y)^2; gradient into l->draw ---- */
void loss_term_mse(loss_step *st) {
    const lvt_ops *o = st->o;
    lvt_backend *be = st->be;
    lvt_loss *l = st->l;
    o->copy(be, l->diff, st->raw, sizeof(float) * st->bd);
    o->axpy(be, -1.0f, st->y, l->diff, st->bd);
    o->dot_rows(be, l->diff, st->D, l->diff, st->D, loss_vec(st, V_TMP), st->B, st->D);
    o->reduce_sum(be, loss_vec(st, V_TMP), st->B, 1.0f / (st->G * st->D), st->sc + LVT_TERM_MSE);
    o->copy(be, l->draw, l->diff, sizeof(float) * st->bd);
    o->scale(be, l->draw, st->md.w_mse * 2.0f / (st->G * st->D), st->bd);
}

/* ---- train cosine Σ_b p·y / G (logged only); keeps cos(p, y) per sample in V_CY ---- */
void loss_term_cos(loss_step *st) {
    st->o->dot_rows(st->be, st->p1, st->D, st->y, st->D, loss_vec(st, V_CY), st->B, st->D);
    st->o->reduce_sum(st->be, loss_vec(st, V_CY), st->B, 1.0f / st->G, st->sc + LVT_TERM_COS);
}

/* ---- the cosine part of the base loss: Σ_b (1 - cos(raw_b, y_b)) / G into X_BASECOS ----
 * cos(raw, y) = p_1·y: p_1 is raw normalised and the store's rows are unit (lvt_store_read
 * L2-normalises them). Gradient dp_1 += -w_cos y / G; the model's backward through the
 * normalisation turns it into d/draw. Needs V_CY (loss_term_cos). */
void loss_term_base_cos(loss_step *st) {
    const lvt_ops *o = st->o;
    o->vmap(st->be, LVT_VMAP_AFFINE, st->sc + LVT_TERM_COS, NULL, 0, NULL, -1.0f, (float)st->B / st->G,
            st->X + X_BASECOS, 1);
    o->axpy(st->be, -st->md.w_cos / st->G, st->y, st->dp1, st->bd);
}

/* ---- directional guard with adaptive λ ---- */

int loss_dir_adaptive(const loss_step *st) {
    return st->obj->lambda_dir > 0 && st->md.adaptive != LOSS_ADAPT_OFF;
}

/* σ_b = sigmoid((c_{L-1}·y - 0.60) / 0.05) per sample (V_SIG), summed into S_SIG. */
void loss_dir_stats(loss_step *st) {
    if (!loss_dir_adaptive(st)) return;
    const lvt_ops *o = st->o;
    const int L = st->L, D = st->D;
    o->dot_rows(st->be, st->ctx + (size_t)(L - 1) * D, L * D, st->y, D, loss_vec(st, V_TMP), st->B, D);
    o->vmap(st->be, LVT_VMAP_SIGMOID, loss_vec(st, V_TMP), NULL, 1, NULL, 0.60f, 0.05f, loss_vec(st, V_SIG), st->B);
    o->reduce_sum(st->be, loss_vec(st, V_SIG), st->B, 1.0f, st->sc + S_SIG);
}

/* L_dir = Σ_b hinge(margin_dir - (p·y - p·ref)) / G; the total gets λ_dir Σ_b w_b hinge_b / G
 * with w_b = 1 + s_b: s = the world-batch mean sigmoid (batch), the sample's own sigmoid
 * (sample), or 0 (off). Gradient: dp += λ_dir w_b gate_b / G · (ref - y). */
void loss_term_dir(loss_step *st) {
    const lvt_ops *o = st->o;
    lvt_backend *be = st->be;
    const int B = st->B, L = st->L, D = st->D;
    const float *ref = st->ctx + (size_t)st->md.ref_row * D;
    const float ld = (float)st->obj->lambda_dir, md = (float)st->obj->margin_dir;
    const float G = st->G, wc = st->wc;
    float *sc = st->sc, *X = st->X;
    o->dot_rows(be, st->p1, D, ref, L * D, loss_vec(st, V_CREF), B, D);
    o->vmap(be, LVT_VMAP_HINGE, loss_vec(st, V_CY), loss_vec(st, V_CREF), 1, NULL, md, 0, loss_vec(st, V_HW), B);
    o->reduce_sum(be, loss_vec(st, V_HW), B, 1.0f / G, sc + LVT_TERM_DIR);
    o->vmap(be, LVT_VMAP_HINGE_GATE, loss_vec(st, V_CY), loss_vec(st, V_CREF), 1, NULL, md, 0,
            loss_vec(st, V_GATE), B);
    const float *wb = NULL;
    int wstride = 1;
    if (st->md.adaptive == LOSS_ADAPT_BATCH) {
        o->vmap(be, LVT_VMAP_AFFINE, sc + S_SIG, NULL, 0, NULL, 1.0f / wc, 0.0f, X + X_SIGMEAN, 1);
        wb = X + X_SIGMEAN;
        wstride = 0;
    } else if (st->md.adaptive == LOSS_ADAPT_SAMPLE) {
        wb = loss_vec(st, V_SIG);
    }
    /* λ_eff for the log: λ_dir (1 + mean sigmoid) over the world batch (λ_dir when off) */
    if (loss_dir_adaptive(st))
        o->vmap(be, LVT_VMAP_AFFINE, sc + S_SIG, NULL, 0, NULL, ld / wc, ld, sc + LVT_TERM_LAMBDA_EFF, 1);
    else
        o->vmap(be, LVT_VMAP_AFFINE, sc + S_SIG, NULL, 0, NULL, 0.0f, ld, sc + LVT_TERM_LAMBDA_EFF, 1);
    /* weighted contribution to the total: λ_dir Σ_b w_b hinge_b / G */
    o->vmap(be, LVT_VMAP_MUL_AFFINE, loss_vec(st, V_HW), wb, wstride, NULL, ld, 1.0f, loss_vec(st, V_TMP), B);
    o->reduce_sum(be, loss_vec(st, V_TMP), B, 1.0f / G, X + X_DIRW);
    o->vmap(be, LVT_VMAP_MUL_AFFINE, loss_vec(st, V_GATE), wb, wstride, NULL, ld / G, 1.0f, loss_vec(st, V_COEF), B);
    add_pair_grad(o, be, loss_vec(st, V_COEF), st->y, D, ref, L * D, st->dp1, B, D);
}

/* ---- future ranking: +1 must beat +2 and +3 where they exist ---- */

/* The +2 / +3 masks per sample (V_M2, V_M3), counted into S_CNT2, S_CNT3. */
void loss_future_stats(loss_step *st) {
    if (!(st->obj->lambda_fut > 0)) return;
    const lvt_ops *o = st->o;
    const int B = st->B;
    o->copy_rows(st->be, loss_vec(st, V_M2), 1, st->b->fut_mask, 2, B, 1);
    o->copy_rows(st->be, loss_vec(st, V_M3), 1, st->b->fut_mask + 1, 2, B, 1);
    o->reduce_sum(st->be, loss_vec(st, V_M2), B, 1.0f, st->sc + S_CNT2);
    o->reduce_sum(st->be, loss_vec(st, V_M3), B, 1.0f, st->sc + S_CNT3);
}

/* L_fut = Σ_{k=2,3} Σ_b m_{b,k} hinge(margin_fut - (p·y - p·y_k)) / n_k · (W/G). */
void loss_term_future(loss_step *st) {
    const lvt_ops *o = st->o;
    lvt_backend *be = st->be;
    const int B = st->B, D = st->D;
    const float lf = (float)st->obj->lambda_fut, mf = (float)st->obj->margin_fut, frac = st->frac;
    float *sc = st->sc, *X = st->X;
    for (int j = 0; j < 2; j++) {
        const float *yj = st->b->fut + (size_t)j * D;
        float *cyj = loss_vec(st, j == 0 ? V_CY2 : V_CY3);
        float *mj = loss_vec(st, j == 0 ? V_M2 : V_M3);
        const float *cnt = sc + (j == 0 ? S_CNT2 : S_CNT3);
        o->dot_rows(be, st->p1, D, yj, 2 * D, cyj, B, D);
        o->vmap(be, LVT_VMAP_HINGE, loss_vec(st, V_CY), cyj, 1, mj, mf, 0, loss_vec(st, V_HW), B);
        o->vmap(be, LVT_VMAP_DIV_COUNT, loss_vec(st, V_HW), cnt, 0, NULL, frac, 0, loss_vec(st, V_TMP), B);
        o->reduce_sum(be, loss_vec(st, V_TMP), B, 1.0f, X + X_FUT3);
        o->add(be, sc + LVT_TERM_FUT, X + X_FUT3, sc + LVT_TERM_FUT, 1);
        o->vmap(be, LVT_VMAP_HINGE_GATE, loss_vec(st, V_CY), cyj, 1, mj, mf, 0, loss_vec(st, V_GATE), B);
        o->vmap(be, LVT_VMAP_DIV_COUNT, loss_vec(st, V_GATE), cnt, 0, NULL, lf * frac, 0, loss_vec(st, V_COEF), B);
        add_pair_grad(o, be, loss_vec(st, V_COEF), st->y, D, yj, 2 * D, st->dp1, B, D);
    }
}

/* ---- anti-copy: +1 must beat every context chunk; L_ac = Σ_b Σ_i hinge_i / (G·L) ---- */
void loss_term_anticopy(loss_step *st) {
    const lvt_ops *o = st->o;
    lvt_backend *be = st->be;
    const int B = st->B, L = st->L, D = st->D;
    const float la = (float)st->obj->lambda_ac, ma = (float)st->obj->margin_ac, G = st->G;
    float *sc = st->sc, *X = st->X;
    for (int i = 0; i < L; i++) {
        const float *ci = st->ctx + (size_t)i * D;
        o->dot_rows(be, st->p1, D, ci, L * D, loss_vec(st, V_CREF), B, D);
        o->vmap(be, LVT_VMAP_HINGE, loss_vec(st, V_CY), loss_vec(st, V_CREF), 1, NULL, ma, 0, loss_vec(st, V_HW), B);
        o->reduce_sum(be, loss_vec(st, V_HW), B, 1.0f / (G * L), X + X_TMP);
        o->add(be, sc + LVT_TERM_AC, X + X_TMP, sc + LVT_TERM_AC, 1);
        o->vmap(be, LVT_VMAP_HINGE_GATE, loss_vec(st, V_CY), loss_vec(st, V_CREF), 1, NULL, ma, 0,
                loss_vec(st, V_GATE), B);
        o->vmap(be, LVT_VMAP_MUL_AFFINE, loss_vec(st, V_GATE), NULL, 1, NULL, la / (G * L), 1.0f,
                loss_vec(st, V_COEF), B);
        add_pair_grad(o, be, loss_vec(st, V_COEF), st->y, D, ci, L * D, st->dp1, B, D);
    }
}

/* ---- total = base + λ_roll L_roll + (weighted dir) + λ_fut L_fut + λ_ac L_ac, with
 * base = w_mse MSE + w_cos Σ_b (1 - cos) / G (objective.base_loss) ---- */
void loss_total(loss_step *st) {
    const lvt_ops *o = st->o;
    const lvt_objective_cfg *obj = st->obj;
    float *sc = st->sc;
    o->zero(st->be, sc + LVT_TERM_TOTAL, sizeof(float));
    if (st->md.w_mse > 0) o->axpy(st->be, st->md.w_mse, sc + LVT_TERM_MSE, sc + LVT_TERM_TOTAL, 1);
    if (st->md.w_cos > 0) o->axpy(st->be, st->md.w_cos, st->X + X_BASECOS, sc + LVT_TERM_TOTAL, 1);
    if (obj->lambda_roll > 0) o->axpy(st->be, (float)obj->lambda_roll, sc + LVT_TERM_ROLL, sc + LVT_TERM_TOTAL, 1);
    if (obj->lambda_dir > 0) o->axpy(st->be, 1.0f, st->X + X_DIRW, sc + LVT_TERM_TOTAL, 1);
    if (obj->lambda_fut > 0) o->axpy(st->be, (float)obj->lambda_fut, sc + LVT_TERM_FUT, sc + LVT_TERM_TOTAL, 1);
    if (obj->lambda_ac > 0) o->axpy(st->be, (float)obj->lambda_ac, sc + LVT_TERM_AC, sc + LVT_TERM_TOTAL, 1);
}
