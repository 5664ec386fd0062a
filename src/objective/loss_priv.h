/* loss_priv.h — private to the objective module: the layout of the loss scratch buffers, the
 * objective's choice keys as the step uses them, and the state of one lvt_loss_step call. Shared
 * by loss.c (buffers and the step: forward, batch statistics, backward), loss_terms.c (MSE, train
 * cosine, directional guard, future ranking, anti-copy, total) and loss_rollout.c (the rollout
 * term). The terms are documented in docs/loss.md. */
#ifndef LVT_LOSS_PRIV_H
#define LVT_LOSS_PRIV_H

#include "lvt/loss.h"

/* per-sample vectors inside l->vec (rows of B floats, B = the micro-step's batch) */
enum { V_CY, V_CREF, V_CY2, V_CY3, V_M2, V_M3, V_SIG, V_GATE, V_COEF, V_COEF2, V_HW, V_TMP, V_NVEC };
/* scalars inside l->scal: the terms, then the reduced sums, then scratch */
enum { S_SUMS = LVT_TERM_COUNT, S_SIG = S_SUMS, S_CNT2, S_CNT3, S_FIXED_END };
/* S_FLAT(h) and S_TCNT(h) follow the fixed sums (H = the capacity l->H); scratch after them */
#define S_FLAT(l, h) (S_FIXED_END + (h))
#define S_TCNT(l, h) (S_FIXED_END + (l)->H + (h))
#define S_SCRATCH(l) (S_FIXED_END + 2 * (l)->H)
enum { X_SIGMEAN, X_DIRW, X_FUT3, X_FLAT, X_TMP, X_BASECOS, X_COUNT };

/* Weights of the directional guard (docs/loss.md, "adaptive λ"). */
typedef enum { LOSS_ADAPT_OFF = 0, LOSS_ADAPT_BATCH, LOSS_ADAPT_SAMPLE } loss_adaptive;

/* The objective's choice keys, read once per step from the config. */
typedef struct loss_modes {
    int H;                 /* forward slots: rollout_h when the rollout term is on, else 1 */
    int full;              /* rollout_grad "full" (else "first") */
    int truth;             /* rollout_supervise "truth" (else "flat") */
    loss_adaptive adaptive;
    int ref_row;           /* context row of the directional reference: L-1 ("last") or L-2 */
    lvt_context_drop_mode drop_mode;
    float w_mse, w_cos;    /* base_loss: mse (1, 0), cosine (0, 1), mse+cosine (1, cosine_weight) */
} loss_modes;

/* One lvt_loss_step call. */
typedef struct loss_step {
    lvt_loss *l;
    lvt_backend *be;
    const lvt_ops *o;
    lvt_model *m;
    const lvt_objective_cfg *obj;
    const lvt_loss_batch *b;
    const lvt_dropout_key *key;
    int train;
    loss_modes md;
    int B, L, D, H;        /* this micro-step's samples, context, dim, forward slots */
    size_t bd, bld;        /* B*D, B*L*D */
    float G;               /* samples of the optimiser step */
    float frac;            /* this micro-step's share of the step: world_count / G */
    float wc;              /* samples of this micro-step over all ranks */
    float *sc, *X;         /* scalars, and the scratch scalars after them */
    const float *p1, *y, *ctx, *raw; /* main prediction, target, original context, raw output */
    float *dp1;            /* gradient into p_1 */
} loss_step;

static inline float *loss_vec(const loss_step *st, int i) { return st->l->vec + (size_t)i * st->B; }
static inline float *loss_ctx(const loss_step *st, int h) { return st->l->ctxs + (size_t)h * st->bld; }
static inline float *loss_pred(const loss_step *st, int h) { return st->l->preds + (size_t)h * st->bd; }
static inline float *loss_dpred(const loss_step *st, int h) { return st->l->dpreds + (size_t)h * st->bd; }

/* Batch statistics summed on this rank before the cross-rank reduction (loss.c reduces them). */
int loss_dir_adaptive(const loss_step *st); /* the guard needs the per-sample sigmoid */
void loss_dir_stats(loss_step *st);
void loss_future_stats(loss_step *st);
void loss_rollout_stats(loss_step *st);

/* The terms: each writes its logged value into st->sc and adds its gradient into l->draw or
 * l->dpreds. Called in this order (the gradients of p_1 accumulate in it). */
void loss_term_mse(loss_step *st);
void loss_term_cos(loss_step *st);
void loss_term_base_cos(loss_step *st);
void loss_term_dir(loss_step *st);
void loss_term_future(loss_step *st);
void loss_term_anticopy(loss_step *st);
void loss_term_rollout(loss_step *st);
void loss_total(loss_step *st);

#endif
