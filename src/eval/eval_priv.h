/* eval_priv.h — private to the eval module: the selected-window record, the cosine helper and
 * the optional parity dump shared by src/eval/eval.c and src/eval/eval_dump.c. */
#ifndef LVT_EVAL_PRIV_H
#define LVT_EVAL_PRIV_H

#include "lvt/eval.h"

/* One selected window: global window index, article, first context row, end of its article. */
typedef struct eval_window {
    int64_t idx, article, row0, end;
} eval_window;

/* Everything the numpy reference (tests/parity/fivecat_reference.py) needs to recompute the
 * battery: the windows, the store, and every prediction the battery made. */
typedef struct eval_dump {
    int64_t n;            /* selected windows */
    int L, D, H;
    eval_window *win;     /* [n] */
    float *pred;          /* [n, D] unmodified context */
    float *abl[5];        /* [n, D] shuffled, reversed, leave-one-out, repeat-last, last:=first */
    int32_t *perm;        /* [n, L] shuffle permutation (ctx'[j] = ctx[perm[j]]) */
    int32_t *loo_slot;    /* [n] dropped slot */
    float *roll;          /* [n, H, D] rollout predictions (zero where not rolled out) */
    int8_t *roll_mask;    /* [n] 1 if the window was rolled out */
} eval_dump;

int eval_dump_write(const char *path, const eval_dump *d, const lvt_store *s, const char *predictor,
                    uint64_t seed, const lvt_eval_metrics *m, lvt_err *e);

#endif
