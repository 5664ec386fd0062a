/* eval_tests.c — the five tests of 5CAT (docs/eval.md), one function per test for what a
 * window adds to its sums and one for its metrics: A offset sweep, B within-article retrieval,
 * C context ablations (and the ablated contexts), D autoregressive rollout, E generalisation
 * band; and the check that every requested test selected a window. The batched passes that
 * feed them are in eval.c. */
#include <math.h>
#include <string.h>

#include "eval_priv.h"

double eval_cos(const float *a, const float *b, int D) {
    double ab = 0.0, aa = 0.0, bb = 0.0;
    for (int j = 0; j < D; j++) {
        ab += (double)a[j] * b[j];
        aa += (double)a[j] * a[j];
        bb += (double)b[j] * b[j];
    }
    if (aa <= 0.0 || bb <= 0.0) return 0.0;
    return ab / (sqrt(aa) * sqrt(bb));
}

/* Mean cosine of the L-1 adjacent context pairs. */
static double coherence(const float *c, int L, int D) {
    double coh = 0.0;
    for (int j = 0; j + 1 < L; j++) coh += eval_cos(c + (size_t)j * D, c + (size_t)(j + 1) * D, D);
    return coh / (double)(L - 1);
}

/* A: offsets -3..+3 around the last context row, all inside the article. */
static void test_a(eval_sums *acc, const lvt_store *s, const eval_window *w, int64_t last,
                   int64_t start, const float *pr) {
    if (!(last - 3 >= start && last + 3 < w->end)) return;
    for (int k = -3; k <= 3; k++) acc->a[k + 3] += eval_cos(pr, s->vectors + (size_t)(last + k) * s->dim, s->dim);
    acc->a_n++;
}

/* B: rank of the target among all chunks of the article (ties count against it). */
static void test_b(eval_sums *acc, const lvt_store *s, const eval_window *w, int64_t last,
                   int64_t start, const float *pr, double cy) {
    if (!(w->end - start >= 6)) return;
    int64_t rank = 1;
    for (int64_t r = start; r < w->end; r++)
        if (r != last + 1 && eval_cos(pr, s->vectors + (size_t)r * s->dim, s->dim) >= cy) rank++;
    acc->b_r1 += rank == 1;
    acc->b_r5 += rank <= 5;
    acc->b_rr += 1.0 / (double)rank;
    acc->b_rank += (double)rank;
    acc->b_n++;
}

/* E: windows whose context coherence is in [LVT_EVAL_COH_LO, LVT_EVAL_COH_HI]. */
static void test_e(eval_sums *acc, double coh, double cy) {
    if (!(coh >= LVT_EVAL_COH_LO && coh <= LVT_EVAL_COH_HI)) return;
    acc->e += cy;
    acc->e_n++;
}

void eval_window_tests(eval_sums *acc, int tests, const lvt_store *s, const eval_window *w, int L,
                       const float *c, const float *pr) {
    const int D = s->dim;
    int64_t last = w->row0 + L - 1, start = s->offsets[w->article];
    const float *y = s->vectors + (size_t)(last + 1) * D;
    double coh = coherence(c, L, D);
    acc->coh += coh;
    double cy = eval_cos(pr, y, D);
    if (tests & LVT_EVAL_A) test_a(acc, s, w, last, start, pr);
    if (tests & LVT_EVAL_B) test_b(acc, s, w, last, start, pr, cy);
    if (tests & LVT_EVAL_C) { /* the baseline of the ablation deltas */
        acc->c_base += cy;
        acc->c_n++;
    }
    if (tests & LVT_EVAL_E) test_e(acc, coh, cy);
}

/* C: context row j of the ablated window takes row src(j) of the original (docs/eval.md). */
static int ablation_source(int kind, int j, int L, const int32_t *perm, int loo) {
    switch (kind) {
    case ABL_SHUFFLED: return perm[j];
    case ABL_REVERSED: return L - 1 - j;
    case ABL_LEAVE_ONE_OUT: {
        /* drop slot q, shift the rest left, pad with the last remaining row */
        int src = j < loo ? j : j + 1;
        if (src > L - 1) src = loo == L - 1 ? L - 2 : L - 1;
        return src;
    }
    case ABL_REPEAT_LAST: return L - 1;
    case ABL_LAST_FIRST: return j == L - 1 ? 0 : j;
    default: return j;
    }
}

void eval_ablate(int kind, const float *ctx, float *out, int nb, int L, int D, const int32_t *perm,
                 const int32_t *loo) {
    size_t row = (size_t)D * sizeof(float);
    for (int i = 0; i < nb; i++) {
        const float *c = ctx + (size_t)i * L * D;
        float *o = out + (size_t)i * L * D;
        for (int j = 0; j < L; j++)
            memcpy(o + (size_t)j * D, c + (size_t)ablation_source(kind, j, L, perm + (size_t)i * L, loo[i]) * D, row);
    }
}

void eval_test_c(eval_sums *acc, int kind, const lvt_store *s, const eval_window *w, int nb, int L,
                 const float *pred, const float *pm) {
    const int D = s->dim;
    for (int i = 0; i < nb; i++) {
        const float *y = s->vectors + (size_t)(w[i].row0 + L) * D;
        acc->c[kind] += eval_cos(pm + (size_t)i * D, y, D) - eval_cos(pred + (size_t)i * D, y, D);
    }
}

void eval_test_d(eval_sums *acc, const lvt_store *s, const eval_window *w, int L, int h, const float *yh) {
    const float *truth = s->vectors + (size_t)(w->row0 + L + h - 1) * s->dim;
    acc->d[h - 1] += eval_cos(yh, truth, s->dim);
}

static const char *TEST_NAMES[5] = {"A (offset sweep)", "B (within-article retrieval)",
                                    "C (context ablations)", "D (rollout)",
                                    "E (generalisation band)"};

int eval_check_counts(const eval_sums *acc, int tests, int64_t n_sel, int64_t n_windows, lvt_err *e) {
    int64_t counts[5] = {acc->a_n, acc->b_n, acc->c_n, acc->d_n, acc->e_n};
    const char *why[5] = {"needs rows -3..+3 around the last context chunk inside the article",
                          "needs articles with at least 6 chunks",
                          "needs windows with a target",
                          "needs the target and the following horizon-1 chunks inside the article",
                          "needs windows whose context coherence is in [0.45, 0.55]"};
    for (int t = 0; t < 5; t++)
        if ((tests & (1 << t)) && counts[t] == 0)
            return lvt_errf(e, "5CAT test %s selected no window (%s; %lld windows drawn of %lld)",
                            TEST_NAMES[t], why[t], (long long)n_sel, (long long)n_windows);
    return LVT_OK;
}

static void finish_a(const eval_sums *acc, lvt_eval_metrics *m) {
    m->a_n = acc->a_n;
    if (!acc->a_n) return;
    double best_other = -INFINITY;
    for (int k = 0; k < 7; k++) {
        m->a_cos[k] = acc->a[k] / (double)acc->a_n;
        if (k != 4 && m->a_cos[k] > best_other) best_other = m->a_cos[k];
    }
    m->a_cos_p1 = m->a_cos[4];
    m->a_margin = m->a_cos_p1 - best_other;
}

static void finish_b(const eval_sums *acc, lvt_eval_metrics *m) {
    m->b_n = acc->b_n;
    if (!acc->b_n) return;
    m->b_r1 = acc->b_r1 / (double)acc->b_n;
    m->b_r5 = acc->b_r5 / (double)acc->b_n;
    m->b_mrr = acc->b_rr / (double)acc->b_n;
    m->b_mean_rank = acc->b_rank / (double)acc->b_n;
}

static void finish_c(const eval_sums *acc, lvt_eval_metrics *m) {
    m->c_n = acc->c_n;
    if (!acc->c_n) return;
    m->c_base_cos = acc->c_base / (double)acc->c_n;
    m->c_shuffled = acc->c[ABL_SHUFFLED] / (double)acc->c_n;
    m->c_reversed = acc->c[ABL_REVERSED] / (double)acc->c_n;
    m->c_leave_one_out = acc->c[ABL_LEAVE_ONE_OUT] / (double)acc->c_n;
    m->c_repeat_last = acc->c[ABL_REPEAT_LAST] / (double)acc->c_n;
    m->c_last_first = acc->c[ABL_LAST_FIRST] / (double)acc->c_n;
}

static void finish_d(const eval_sums *acc, int H, lvt_eval_metrics *m) {
    m->d_n = acc->d_n;
    if (!acc->d_n) return;
    double sum = 0.0;
    for (int h = 0; h < H; h++) {
        m->d_cos_h[h] = acc->d[h] / (double)acc->d_n;
        sum += m->d_cos_h[h];
    }
    m->d_cos = sum / (double)H;
}

static void finish_e(const eval_sums *acc, int64_t n_sel, lvt_eval_metrics *m) {
    m->e_n = acc->e_n;
    if (acc->e_n) m->e_cos = acc->e / (double)acc->e_n;
    m->e_coherence_mean = acc->coh / (double)n_sel;
}

void eval_finish(const eval_sums *acc, int H, int64_t n_sel, lvt_eval_metrics *m) {
    finish_a(acc, m);
    finish_b(acc, m);
    finish_c(acc, m);
    finish_d(acc, H, m);
    finish_e(acc, n_sel, m);
}
