/* eval.h — 5CAT (docs/eval.md): the five-test battery that tells whether a next-vector predictor
 * really learned "+1". A battery runs over one article store (VAL or OOD) with a *predictor* (a
 * model, a baseline, or a test oracle), on a seeded sample of windows; gates compare the VAL and
 * OOD metrics with the thresholds of docs/eval.md. docs/eval.md defines every number and edge case. */
#ifndef LVT_EVAL_H
#define LVT_EVAL_H

#include <stdio.h>

#include "lvt/common.h"
#include "lvt/data.h"
#include "lvt/model.h"

/* ---- predictors ---------------------------------------------------------------------------- */

/* A predictor maps n contexts to n unit predictions. ctx_in: host [n, L, D] (unit rows);
 * out: host [n, D]. Always called on batches (up to lvt_eval_opts.batch windows at a time). */
typedef struct lvt_predictor {
    const char *name;
    void *ctx;
    int (*predict)(void *ctx, const float *ctx_in, int n, int L, int D, float *out, lvt_err *e);
} lvt_predictor;

/* Baselines: copy-last (the prediction is c4, the last context row) and mean-of-context (the
 * L2-normalised mean of the L context rows). ctx is unused (NULL). */
lvt_predictor lvt_predictor_copy_last(void);
lvt_predictor lvt_predictor_mean(void);
/* By name: "copy-last" or "mean"; anything else is an error listing the choices. */
int lvt_predictor_baseline(const char *name, lvt_predictor *p, lvt_err *e);

/* A model as a predictor: each predict call uploads the batch to the model's backend, runs
 * lvt_model_forward in eval mode (no dropout) on slot 0 and downloads the unit predictions, in
 * pieces of at most cap windows. It overwrites slot 0's activations (call it between training
 * steps). init plans the model for (cap, 1 slot): the plan only grows, so the trainer's mini-5CAT
 * should pass cap <= its planned micro batch to keep its activation memory as it is. */
typedef struct lvt_model_predictor {
    lvt_model *m;
    int cap;
    float *d_ctx;  /* backend [cap, L, D] */
    float *d_pred; /* backend [cap, D] */
} lvt_model_predictor;

int lvt_model_predictor_init(lvt_model_predictor *mp, lvt_model *m, int cap, lvt_predictor *p,
                             lvt_err *e);
void lvt_model_predictor_free(lvt_model_predictor *mp);

/* ---- the battery on one store -------------------------------------------------------------- */

enum {
    LVT_EVAL_A = 1, /* offset sweep */
    LVT_EVAL_B = 2, /* within-article retrieval */
    LVT_EVAL_C = 4, /* context ablations */
    LVT_EVAL_D = 8, /* autoregressive rollout */
    LVT_EVAL_E = 16, /* generalisation band */
    LVT_EVAL_ALL = 31
};

#define LVT_EVAL_MAX_H 16
#define LVT_EVAL_COH_LO 0.45
#define LVT_EVAL_COH_HI 0.55

typedef struct lvt_eval_opts {
    int64_t max_samples; /* windows drawn without replacement; 0 = every window */
    int horizon;         /* rollout steps H for test D (1..LVT_EVAL_MAX_H), default 5 */
    uint64_t seed;       /* window selection, shuffles, leave-one-out slots */
    int context_len;     /* L (>= 2), default 5 */
    int batch;           /* windows per predict call, default 1024 */
    int tests;           /* LVT_EVAL_* mask, default LVT_EVAL_ALL */
    const char *dump_path; /* optional HDF5 dump of windows and every prediction (tests/parity) */
} lvt_eval_opts;

void lvt_eval_opts_default(lvt_eval_opts *o);

/* Metrics of one store. n_* = windows used by that test (0 when the test was not run). */
typedef struct lvt_eval_metrics {
    int64_t n_windows;   /* windows in the store */
    int64_t n_selected;  /* windows drawn (the same sample feeds every test) */
    int tests;           /* the tests that were run */
    /* A: offset sweep over windows that have rows k = -3..+3 */
    int64_t a_n;
    double a_cos[7];     /* a_cos[k + 3] = mean cos(pred, chunk at offset k) */
    double a_cos_p1;     /* = a_cos[4] */
    double a_margin;     /* mean over windows of cos(+1) - max_{k != +1} cos(k) */
    /* B: within-article retrieval (articles with >= 6 chunks) */
    int64_t b_n;
    double b_r1, b_r5, b_mrr, b_mean_rank;
    /* C: ablations, mean over windows of cos(pred(modified), y) - cos(pred(ctx), y) */
    int64_t c_n;
    double c_base_cos;
    double c_shuffled, c_reversed, c_leave_one_out, c_repeat_last, c_last_first;
    /* D: rollout over windows with all H true chunks */
    int64_t d_n;
    int d_h;
    double d_cos;                   /* mean over h of d_cos_h[h-1] */
    double d_cos_h[LVT_EVAL_MAX_H]; /* mean cos(y_hat_h, chunk s+L+h-1) */
    /* E: windows whose context coherence is in [0.45, 0.55] */
    int64_t e_n;
    double e_cos;
    double e_coherence_mean; /* mean coherence over all selected windows (for reference) */
    double seconds;
} lvt_eval_metrics;

/* Run the selected tests on store s. A requested test that selects no window is an error naming
 * the test. This is also the trainer's mini-5CAT (small max_samples, tests as needed). */
int lvt_eval_run(const lvt_store *s, const lvt_predictor *p, const lvt_eval_opts *o,
                 lvt_eval_metrics *m, lvt_err *e);

/* The trainer's per-epoch mini-5CAT: tests A-D (E compares VAL with OOD and is left to
 * `lvt eval`) on `samples` windows of s drawn with seed, the model in eval mode, `batch` windows
 * per forward (pass the trainer's micro batch so the model's activation plan is kept). The same
 * code as lvt_eval_run; out holds the metrics (a_cos_p1, a_margin, b_r1, ..., d_cos). */
int lvt_eval_mini5cat(const lvt_store *s, lvt_model *m, int64_t samples, int batch, uint64_t seed,
                      lvt_eval_metrics *out, lvt_err *e);
/* The same with the tests of the mask `tests` (LVT_EVAL_*): the trainer's validation runs test A
 * alone (cos(+1) and margin(+1) per epoch). */
int lvt_eval_mini5cat_tests(const lvt_store *s, lvt_model *m, int64_t samples, int batch, uint64_t seed,
                            int tests, lvt_eval_metrics *out, lvt_err *e);

/* ---- gates and the report ------------------------------------------------------------------ */

typedef enum { LVT_GATE_GE = 0, LVT_GATE_LE = 1 } lvt_gate_op;

/* value >= threshold (GE) or value <= threshold (LE); exact double comparison, no rounding.
 * A NaN value fails. */
int lvt_gate_pass(double value, lvt_gate_op op, double threshold);

typedef struct lvt_eval_gate {
    char test;           /* 'A'..'E' */
    const char *key;     /* JSON key, e.g. "margin" */
    const char *label;   /* table label, e.g. "margin(+1)" */
    lvt_gate_op op;
    double thr_val, thr_ood; /* thresholds per split (E: thr_val is the |VAL-OOD| bound) */
    double v_val, v_ood;     /* values (E: the two band means) */
    int pass_val, pass_ood;  /* E: both hold the |VAL-OOD| verdict */
    int pass;
} lvt_eval_gate;

#define LVT_EVAL_N_GATES 12

typedef struct lvt_eval_report {
    char predictor[64];
    char model_path[512]; /* empty for baselines */
    char val_path[512], ood_path[512];
    lvt_eval_opts opts;
    lvt_eval_metrics val, ood;
    lvt_eval_gate gates[LVT_EVAL_N_GATES];
    int n_pass, n_fail; /* counted over split verdicts (E counts once) */
    int all_pass;
    /* the baselines on the same windows (test A): [split 0 VAL, 1 OOD][0 copy-last, 1 mean] */
    int have_baselines;
    double bl_cos_p1[2][2], bl_margin[2][2];
} lvt_eval_report;

/* Test A of copy-last and mean-of-context on s with the options o (the same seeded windows as
 * the predictor's battery): cos_p1[k], margin[k] for k = 0 copy-last, 1 mean-of-context. */
int lvt_eval_baselines(const lvt_store *s, const lvt_eval_opts *o, double cos_p1[2], double margin[2],
                       lvt_err *e);

/* Fill r->gates and the verdicts from r->val and r->ood (docs/eval.md thresholds). */
void lvt_eval_apply_gates(lvt_eval_report *r);

/* The human table (one row per gate, VAL and OOD columns) and the per-test details. */
void lvt_eval_print(FILE *f, const lvt_eval_report *r);

/* The JSON report (schema in docs/eval.md). */
int lvt_eval_write_json(const char *path, const lvt_eval_report *r, lvt_err *e);

#endif
