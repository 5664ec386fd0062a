/* loss.h — the P4 objective (docs/loss.md): MSE, rollout (full / first; flat / truth), directional
 * guard with adaptive λ, future ranking, anti-copy and context drop, each with its gradient.
 * The objective drives the model: one call runs the main forward, the rollout unroll, computes
 * every term and back-propagates into the model's gradient buffer. All math is composed from
 * ops primitives and stays in backend memory (no host round trip inside a step).
 *
 * Normalisation (so that data parallelism is exact): per-sample terms are sums divided by the
 * global batch size G of the optimiser step; batch-level statistics (the flat-penalty mean
 * cosine, the adaptive-λ batch mean, the valid counts of masked terms) are taken over the
 * samples of the current micro-step on all ranks, through the `reduce` hook. Gradients of all
 * ranks and micro-steps are then summed (not averaged). With grad_accum = 1 every term equals
 * the single-process value on the global batch. */
#ifndef LVT_LOSS_H
#define LVT_LOSS_H

#include "lvt/common.h"
#include "lvt/config.h"
#include "lvt/model.h"
#include "lvt/ops.h"

/* Term values (backend scalars; host copies via lvt_loss_read). All but LAMBDA_EFF are
 * additive across ranks and micro-steps. */
enum {
    LVT_TERM_TOTAL = 0,
    LVT_TERM_MSE,
    LVT_TERM_ROLL,       /* L_roll (mean of the H terms) */
    LVT_TERM_DIR,        /* L_dir (unweighted) */
    LVT_TERM_FUT,
    LVT_TERM_AC,
    LVT_TERM_COS,        /* mean cos(p, y): the train cosine */
    LVT_TERM_LAMBDA_EFF, /* effective λ_dir (same value on every rank) */
    LVT_TERM_COUNT
};

/* Device-side batch for one micro-step (pointers into backend memory). */
typedef struct lvt_loss_batch {
    int B;                 /* samples on this rank in this micro-step */
    const float *ctx;      /* [B, L, D] */
    const float *target;   /* [B, D] */
    const float *fut;      /* [B, 2, D] */
    const float *fut_mask; /* [B, 2] */
    const float *roll;     /* [B, Hr, D] rollout truth, Hr = roll_h */
    const float *roll_mask;/* [B, Hr] */
    int roll_h;            /* Hr (>= the objective's rollout_h when supervise = truth) */
} lvt_loss_batch;

/* Cross-rank reduction of n backend floats in place (sum). NULL: single process. */
typedef int (*lvt_loss_reduce_fn)(void *ctx, float *buf, int n, lvt_err *e);

typedef struct lvt_loss {
    lvt_backend *be;
    int B, L, D, H;        /* capacities */
    float *ctxs;           /* [H, B, L, D] inputs of the H forward slots */
    float *preds;          /* [H, B, D] */
    float *dpreds;         /* [H, B, D] */
    float *draw;           /* [B, D] */
    float *dctx;           /* [B, L, D] */
    float *diff;           /* [B, D] */
    float *vec;            /* per-sample vectors (private layout, a few rows of B floats) */
    float *scal;           /* scalars: terms, reduced sums, scratch */
    lvt_loss_reduce_fn reduce;
    void *reduce_ctx;
    /* Skip the backward of a rollout slot whose prediction gradient is exactly zero (its every
     * contribution would be zero: a flat penalty below its threshold, docs/loss.md "Zero-gradient
     * slots"). Needs one host read per slot, so lvt_loss_create sets it where backend memory is
     * host memory (ops->host_memory: the CPU; on a GPU the read would synchronise, and a captured
     * CUDA graph cannot branch on data); clear it to force the full backward. */
    int skip_zero_slots;
    long slots_run, slots_skipped; /* rollout slot backwards (h >= 2) since creation */
} lvt_loss;

/* Normalisation of one micro-step. */
typedef struct lvt_loss_norm {
    int64_t global_batch;   /* G: samples in the whole optimiser step (all ranks, all micro-steps) */
    int64_t world_count;    /* samples in this micro-step over all ranks */
} lvt_loss_norm;

int lvt_loss_create(lvt_loss *l, lvt_backend *be, int B, int L, int D, int H, lvt_err *e);
void lvt_loss_destroy(lvt_loss *l);

/* Run the objective on one micro-batch: context drop (train only), main forward, rollout,
 * every active term, and (when backward != 0) the backward pass accumulating into m->grads.
 * key: dropout/context-drop key of this step (sample_base = global position of sample 0);
 * train = 0 evaluates without dropout or context drop. b->B may be 0 (a rank without samples in
 * this micro-step): no forward or backward runs, the terms are 0, but the reduce hook is still
 * called, so every rank must call this once per micro-step. The model must be planned for
 * max(B) samples and rollout_h slots (lvt_model_plan). */
int lvt_loss_step(lvt_loss *l, lvt_model *m, const lvt_objective_cfg *obj,
                  const lvt_loss_batch *b, const lvt_loss_norm *norm, const lvt_dropout_key *key,
                  int train, int backward, lvt_err *e);

/* The main-forward predictions p_1 of the last step ([B, D], backend memory). */
const float *lvt_loss_pred(const lvt_loss *l);

/* Copy the term values of the last step to the host (synchronises). */
void lvt_loss_read(lvt_loss *l, float terms[LVT_TERM_COUNT]);

/* ---- validation on the host (docs/training.md, "Validation, per epoch") ---- */

/* Sums over validation windows: Σ ||r - y||² / D (val_loss, on the raw output), Σ p·y (val_cos),
 * Σ (p·y - p·c_{L-1}) (margin(+1 vs last)) and the window count. Additive across batches and
 * ranks (one all-reduce of LVT_VAL_COUNT doubles); each metric is its sum / sums[LVT_VAL_WINDOWS]. */
enum { LVT_VAL_MSE = 0, LVT_VAL_COS, LVT_VAL_MARGIN, LVT_VAL_WINDOWS, LVT_VAL_COUNT };

/* Add n windows to sums: raw and pred are the model's raw and unit outputs [n, D], ctx the
 * contexts [n, L, D] and target [n, D], all host memory; per window in double, window order. */
void lvt_loss_val_sums(double sums[LVT_VAL_COUNT], const float *raw, const float *pred,
                       const float *ctx, const float *target, int n, int L, int D);

#endif
