/* eval_priv.h — private to the eval module: the selected-window record, the seeded draws
 * (eval_select.c), the five tests' running sums and per-test functions (eval_tests.c), and the
 * optional parity dump (eval_dump.c), shared with the battery driver in eval.c. */
#ifndef LVT_EVAL_PRIV_H
#define LVT_EVAL_PRIV_H

#include "lvt/eval.h"

/* One selected window: global window index, article, first context row, end of its article. */
typedef struct eval_window {
    int64_t idx, article, row0, end;
} eval_window;

/* ---- seeded draws (eval_select.c) ---------------------------------------------------------- */

/* k = max_samples of the store's windows without replacement, in window order (every window when
 * max_samples <= 0 or >= the count). *n_total = the windows in the store. */
int eval_select_windows(const lvt_store *s, int L, int64_t max_samples, uint64_t seed,
                        eval_window **out, int64_t *n_sel, int64_t *n_total, lvt_err *e);
/* Test C's draws of window idx: the shuffle permutation (never the identity; perm[j] = source
 * slot of slot j) and the leave-one-out slot. */
void eval_shuffle_perm(uint64_t seed, int64_t idx, int L, int32_t *perm);
int eval_loo_slot(uint64_t seed, int64_t idx, int L);

/* ---- the five tests (eval_tests.c) --------------------------------------------------------- */

enum { ABL_SHUFFLED = 0, ABL_REVERSED, ABL_LEAVE_ONE_OUT, ABL_REPEAT_LAST, ABL_LAST_FIRST, N_ABL };

/* Running sums of one battery (double, accumulated in window order). */
typedef struct eval_sums {
    double a[7];                 /* A: cos(pred, offset k) at a[k + 3] */
    int64_t a_n;
    double b_r1, b_r5, b_rr, b_rank; /* B: hits, reciprocal ranks, ranks */
    int64_t b_n;
    double c_base, c[N_ABL];     /* C: cos(pred, y); cos(pred(ablated), y) - cos(pred, y) */
    int64_t c_n;
    double d[LVT_EVAL_MAX_H];    /* D: cos(y_hat_h, truth_h) */
    int64_t d_n;
    double e;                    /* E: cos(pred, y) inside the coherence band */
    int64_t e_n;
    double coh;                  /* coherence of every selected window */
} eval_sums;

/* Cosine of two rows, accumulated in double; 0 when either row is zero. */
double eval_cos(const float *a, const float *b, int D);

/* What the unmodified prediction pr of window w (context c) adds to A, B, the C baseline and E. */
void eval_window_tests(eval_sums *acc, int tests, const lvt_store *s, const eval_window *w, int L,
                       const float *c, const float *pr);
/* Test C: the ablated contexts of kind k for nb windows, and what their predictions pm add. */
void eval_ablate(int kind, const float *ctx, float *out, int nb, int L, int D, const int32_t *perm,
                 const int32_t *loo);
void eval_test_c(eval_sums *acc, int kind, const lvt_store *s, const eval_window *w, int nb, int L,
                 const float *pred, const float *pm);
/* Test D: what the step-h (1-based) prediction yh of window w adds. */
void eval_test_d(eval_sums *acc, const lvt_store *s, const eval_window *w, int L, int h, const float *yh);

/* A requested test that selected no window is an error naming the test, never NaN. */
int eval_check_counts(const eval_sums *acc, int tests, int64_t n_sel, int64_t n_windows, lvt_err *e);
/* The metrics of every test from its sums. */
void eval_finish(const eval_sums *acc, int H, int64_t n_sel, lvt_eval_metrics *m);

/* ---- the parity dump (eval_dump.c) --------------------------------------------------------- */

/* Everything the numpy reference (tests/parity/fivecat_reference.py) needs to recompute the
 * battery: the windows, the store, and every prediction the battery made. */
typedef struct eval_dump {
    int64_t n;            /* selected windows */
    int L, D, H;
    eval_window *win;     /* [n] */
    float *pred;          /* [n, D] unmodified context */
    float *abl[N_ABL];    /* [n, D] shuffled, reversed, leave-one-out, repeat-last, last:=first */
    int32_t *perm;        /* [n, L] shuffle permutation (ctx'[j] = ctx[perm[j]]) */
    int32_t *loo_slot;    /* [n] dropped slot */
    float *roll;          /* [n, H, D] rollout predictions (zero where not rolled out) */
    int8_t *roll_mask;    /* [n] 1 if the window was rolled out */
} eval_dump;

/* Allocate the dump's arrays for n windows (d->win is borrowed); free them. */
int eval_dump_alloc(eval_dump *d, eval_window *win, int64_t n, int L, int D, int H, lvt_err *e);
void eval_dump_free(eval_dump *d);
int eval_dump_write(const char *path, const eval_dump *d, const lvt_store *s, const char *predictor,
                    uint64_t seed, const lvt_eval_metrics *m, lvt_err *e);

#endif
