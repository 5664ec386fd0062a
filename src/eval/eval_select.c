/* eval_select.c — the seeded draws of the 5CAT battery (docs/eval.md): which windows are drawn
 * (Algorithm S over the store's windows), and test C's shuffle permutation and leave-one-out
 * slot of each window. Every draw is keyed by the eval seed and the window index, so the results
 * do not depend on the batch size. */
#include <stdlib.h>

#include "eval_priv.h"
#include "lvt/rng.h"

/* Philox sites of the battery's random draws (keyed by the eval seed and the window index). */
enum { SITE_SELECT = 0x5CA70001u, SITE_SHUFFLE = 0x5CA70002u, SITE_LOO = 0x5CA70003u };

/* A uniform double in [0, 1) with 53 random bits for draw i. */
static double unit53(uint64_t seed, uint32_t site, uint64_t i) {
    uint32_t hi = lvt_rng_u32(seed, 0, site, i, 0);
    uint32_t lo = lvt_rng_u32(seed, 0, site, i, 1);
    return ((double)(hi >> 5) * 67108864.0 + (double)(lo >> 6)) * (1.0 / 9007199254740992.0);
}

/* Uniform integer in [0, m) from one 32-bit draw (multiply-shift). */
static int draw_below(uint32_t u, int m) { return (int)(((uint64_t)u * (uint64_t)m) >> 32); }

/* A seeded Fisher-Yates permutation, redrawn until it is not the identity (L >= 2). */
void eval_shuffle_perm(uint64_t seed, int64_t idx, int L, int32_t *perm) {
    for (uint64_t attempt = 0;; attempt++) {
        for (int j = 0; j < L; j++) perm[j] = j;
        for (int j = L - 1; j > 0; j--) {
            int r = draw_below(lvt_rng_u32(seed, attempt, SITE_SHUFFLE, (uint64_t)idx, (uint64_t)j), j + 1);
            int32_t t = perm[j];
            perm[j] = perm[r];
            perm[r] = t;
        }
        for (int j = 0; j < L; j++)
            if (perm[j] != j) return;
    }
}

int eval_loo_slot(uint64_t seed, int64_t idx, int L) {
    return draw_below(lvt_rng_u32(seed, 0, SITE_LOO, (uint64_t)idx, 0), L);
}

/* Algorithm S (Knuth): k of the n windows without replacement, in window order, each window i
 * taken with probability (k - taken) / (n - i). k = n takes every window. */
int eval_select_windows(const lvt_store *s, int L, int64_t max_samples, uint64_t seed,
                        eval_window **out, int64_t *n_sel, int64_t *n_total, lvt_err *e) {
    int64_t n = 0;
    for (int64_t a = 0; a < s->n_articles; a++) {
        int64_t len = s->offsets[a + 1] - s->offsets[a];
        if (len > L) n += len - L;
    }
    *n_total = n;
    if (n == 0)
        return lvt_errf(e, "the store has no window (no article has %d chunks or more)", L + 1);
    int64_t k = (max_samples <= 0 || max_samples >= n) ? n : max_samples;
    eval_window *w = lvt_malloc((size_t)k * sizeof *w, e);
    if (!w) return LVT_ERROR;
    int64_t i = 0, m = 0;
    for (int64_t a = 0; a < s->n_articles && m < k; a++) {
        int64_t lo = s->offsets[a], hi = s->offsets[a + 1];
        for (int64_t r = lo; r + L < hi && m < k; r++, i++) {
            if (k < n && (double)(n - i) * unit53(seed, SITE_SELECT, (uint64_t)i) >= (double)(k - m))
                continue;
            w[m].idx = i;
            w[m].article = a;
            w[m].row0 = r;
            w[m].end = hi;
            m++;
        }
    }
    *out = w;
    *n_sel = m;
    return LVT_OK;
}
