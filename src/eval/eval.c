/* eval.c — the 5CAT battery on one store (docs/eval.md): seeded window selection, the batched passes
 * of a predictor (unmodified context, five ablations, autoregressive rollout) and the A–E
 * metrics. Baselines live in eval_baselines.c, gates and the report in eval_report.c, the parity
 * dump in eval_dump.c. Definitions and edge cases: docs/eval.md. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "eval_priv.h"
#include "lvt/rng.h"

/* Philox sites of the battery's random draws (keyed by the eval seed and the window index). */
enum { SITE_SELECT = 0x5CA70001u, SITE_SHUFFLE = 0x5CA70002u, SITE_LOO = 0x5CA70003u };

enum { ABL_SHUFFLED = 0, ABL_REVERSED, ABL_LEAVE_ONE_OUT, ABL_REPEAT_LAST, ABL_LAST_FIRST, N_ABL };

void lvt_eval_opts_default(lvt_eval_opts *o) {
    memset(o, 0, sizeof *o);
    o->max_samples = 5000;
    o->horizon = 5;
    o->seed = 42;
    o->context_len = 5;
    o->batch = 1024;
    o->tests = LVT_EVAL_ALL;
    o->dump_path = NULL;
}

/* Cosine of two rows, accumulated in double; 0 when either row is zero. */
static double cosd(const float *a, const float *b, int D) {
    double ab = 0.0, aa = 0.0, bb = 0.0;
    for (int j = 0; j < D; j++) {
        ab += (double)a[j] * b[j];
        aa += (double)a[j] * a[j];
        bb += (double)b[j] * b[j];
    }
    if (aa <= 0.0 || bb <= 0.0) return 0.0;
    return ab / (sqrt(aa) * sqrt(bb));
}

/* A uniform double in [0, 1) with 53 random bits for draw i. */
static double unit53(uint64_t seed, uint32_t site, uint64_t i) {
    uint32_t hi = lvt_rng_u32(seed, 0, site, i, 0);
    uint32_t lo = lvt_rng_u32(seed, 0, site, i, 1);
    return ((double)(hi >> 5) * 67108864.0 + (double)(lo >> 6)) * (1.0 / 9007199254740992.0);
}

/* Uniform integer in [0, m) from one 32-bit draw (multiply-shift). */
static int draw_below(uint32_t u, int m) { return (int)(((uint64_t)u * (uint64_t)m) >> 32); }

/* The shuffle of window idx: a seeded Fisher-Yates permutation, redrawn until it is not the
 * identity (L >= 2). perm[j] = source slot of slot j. */
static void shuffle_perm(uint64_t seed, int64_t idx, int L, int32_t *perm) {
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

static int loo_slot(uint64_t seed, int64_t idx, int L) {
    return draw_below(lvt_rng_u32(seed, 0, SITE_LOO, (uint64_t)idx, 0), L);
}

/* Algorithm S (Knuth): k of the n windows without replacement, in window order, each window i
 * taken with probability (k - taken) / (n - i). k = n takes every window. */
static int select_windows(const lvt_store *s, int L, int64_t max_samples, uint64_t seed,
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

/* Run the predictor on n contexts and check its output is finite. */
static int run_predict(const lvt_predictor *p, const float *ctx, int n, int L, int D, float *out,
                       lvt_err *e) {
    if (p->predict(p->ctx, ctx, n, L, D, out, e) != LVT_OK)
        return lvt_err_prefix(e, "predictor %s", p->name ? p->name : "?");
    for (size_t i = 0; i < (size_t)n * D; i++)
        if (!isfinite(out[i]))
            return lvt_errf(e, "predictor %s returned a non-finite value (row %zu)",
                            p->name ? p->name : "?", i / (size_t)D);
    return LVT_OK;
}

/* Build the ablated contexts of kind k for nb windows (see docs/eval.md). */
static void build_ablation(int kind, const float *ctx, float *out, int nb, int L, int D,
                           const int32_t *perm, const int32_t *loo) {
    size_t row = (size_t)D * sizeof(float);
    for (int i = 0; i < nb; i++) {
        const float *c = ctx + (size_t)i * L * D;
        float *o = out + (size_t)i * L * D;
        for (int j = 0; j < L; j++) {
            int src = j;
            switch (kind) {
            case ABL_SHUFFLED: src = perm[(size_t)i * L + j]; break;
            case ABL_REVERSED: src = L - 1 - j; break;
            case ABL_LEAVE_ONE_OUT:
                /* drop slot q, shift the rest left, pad with the last remaining row */
                src = j < loo[i] ? j : j + 1;
                if (src > L - 1) src = loo[i] == L - 1 ? L - 2 : L - 1;
                break;
            case ABL_REPEAT_LAST: src = L - 1; break;
            case ABL_LAST_FIRST: src = j == L - 1 ? 0 : j; break;
            default: break;
            }
            memcpy(o + (size_t)j * D, c + (size_t)src * D, row);
        }
    }
}

static const char *TEST_NAMES[5] = {"A (offset sweep)", "B (within-article retrieval)",
                                    "C (context ablations)", "D (rollout)",
                                    "E (generalisation band)"};

/* Working memory of one run. */
typedef struct eval_work {
    float *ctx, *mod, *pred, *pm, *rctx, *rprev, *rcur;
    int32_t *perm, *loo;
    int *ridx;
} eval_work;

static void work_free(eval_work *w) {
    free(w->ctx);
    free(w->mod);
    free(w->pred);
    free(w->pm);
    free(w->rctx);
    free(w->rprev);
    free(w->rcur);
    free(w->perm);
    free(w->loo);
    free(w->ridx);
}

static void dump_free(eval_dump *d) {
    free(d->pred);
    for (int k = 0; k < N_ABL; k++) free(d->abl[k]);
    free(d->perm);
    free(d->loo_slot);
    free(d->roll);
    free(d->roll_mask);
}

static int check_opts(const lvt_store *s, const lvt_predictor *p, const lvt_eval_opts *o, lvt_err *e) {
    if (!p || !p->predict) return lvt_errf(e, "5CAT: no predictor");
    if (o->context_len < 2 || o->context_len > 64)
        return lvt_errf(e, "5CAT: context length must be in [2, 64], got %d", o->context_len);
    if (o->horizon < 1 || o->horizon > LVT_EVAL_MAX_H)
        return lvt_errf(e, "5CAT: horizon must be in [1, %d], got %d", LVT_EVAL_MAX_H, o->horizon);
    if (o->batch < 1) return lvt_errf(e, "5CAT: batch must be positive, got %d", o->batch);
    if (o->tests <= 0 || (o->tests & ~LVT_EVAL_ALL))
        return lvt_errf(e, "5CAT: invalid test mask %d", o->tests);
    if (s->dim < 1 || s->n_articles < 1 || !s->vectors || !s->offsets)
        return lvt_errf(e, "5CAT: empty store");
    return LVT_OK;
}

int lvt_eval_run(const lvt_store *s, const lvt_predictor *p, const lvt_eval_opts *o,
                 lvt_eval_metrics *m, lvt_err *e) {
    double t0 = lvt_now();
    memset(m, 0, sizeof *m);
    if (check_opts(s, p, o, e)) return LVT_ERROR;
    const int L = o->context_len, D = s->dim, H = o->horizon, T = o->tests;
    m->tests = T;
    m->d_h = H;

    eval_window *win = NULL;
    int64_t nsel = 0;
    if (select_windows(s, L, o->max_samples, o->seed, &win, &nsel, &m->n_windows, e))
        return lvt_err_prefix(e, "5CAT");
    m->n_selected = nsel;

    int B = (int64_t)o->batch < nsel ? o->batch : (int)nsel;
    size_t ctx_n = (size_t)B * L * D, row_n = (size_t)B * D;
    eval_work w = {0};
    eval_dump d = {0};
    int rc = LVT_ERROR;
    w.ctx = lvt_malloc(ctx_n * sizeof(float), e);
    w.mod = lvt_malloc(ctx_n * sizeof(float), e);
    w.rctx = lvt_malloc(ctx_n * sizeof(float), e);
    w.pred = lvt_malloc(row_n * sizeof(float), e);
    w.pm = lvt_malloc(row_n * sizeof(float), e);
    w.rprev = lvt_malloc(row_n * sizeof(float), e);
    w.rcur = lvt_malloc(row_n * sizeof(float), e);
    w.perm = lvt_malloc((size_t)B * L * sizeof(int32_t), e);
    w.loo = lvt_malloc((size_t)B * sizeof(int32_t), e);
    w.ridx = lvt_malloc((size_t)B * sizeof(int), e);
    if (!w.ctx || !w.mod || !w.rctx || !w.pred || !w.pm || !w.rprev || !w.rcur || !w.perm || !w.loo ||
        !w.ridx)
        goto done;
    if (o->dump_path) {
        d.n = nsel;
        d.L = L;
        d.D = D;
        d.H = H;
        d.win = win;
        d.pred = lvt_calloc((size_t)nsel * D, sizeof(float), e);
        for (int k = 0; k < N_ABL; k++) d.abl[k] = lvt_calloc((size_t)nsel * D, sizeof(float), e);
        d.perm = lvt_calloc((size_t)nsel * L, sizeof(int32_t), e);
        d.loo_slot = lvt_calloc((size_t)nsel, sizeof(int32_t), e);
        d.roll = lvt_calloc((size_t)nsel * H * D, sizeof(float), e);
        d.roll_mask = lvt_calloc((size_t)nsel, sizeof(int8_t), e);
        if (!d.pred || !d.perm || !d.loo_slot || !d.roll || !d.roll_mask) goto done;
        for (int k = 0; k < N_ABL; k++)
            if (!d.abl[k]) goto done;
    }

    /* running sums (double) */
    double a_sum[7] = {0}, b_r1 = 0, b_r5 = 0, b_rr = 0, b_rank = 0, c_base = 0, c_sum[N_ABL] = {0};
    double d_sum[LVT_EVAL_MAX_H] = {0}, e_sum = 0, coh_sum = 0;
    int64_t a_n = 0, b_n = 0, c_n = 0, d_n = 0, e_n = 0;

    for (int64_t b0 = 0; b0 < nsel; b0 += B) {
        int nb = (int)(nsel - b0 < B ? nsel - b0 : B);
        const eval_window *bw = win + b0;
        for (int i = 0; i < nb; i++)
            memcpy(w.ctx + (size_t)i * L * D, s->vectors + (size_t)bw[i].row0 * D,
                   (size_t)L * D * sizeof(float));
        if (run_predict(p, w.ctx, nb, L, D, w.pred, e)) goto done;
        if (d.pred) memcpy(d.pred + (size_t)b0 * D, w.pred, (size_t)nb * D * sizeof(float));

        for (int i = 0; i < nb; i++) {
            const float *c = w.ctx + (size_t)i * L * D, *pr = w.pred + (size_t)i * D;
            int64_t last = bw[i].row0 + L - 1, start = s->offsets[bw[i].article];
            const float *y = s->vectors + (size_t)(last + 1) * D;
            double coh = 0.0;
            for (int j = 0; j + 1 < L; j++) coh += cosd(c + (size_t)j * D, c + (size_t)(j + 1) * D, D);
            coh /= (double)(L - 1);
            coh_sum += coh;
            double cy = cosd(pr, y, D);

            /* A: offsets -3..+3 around the last context row, all inside the article */
            if ((T & LVT_EVAL_A) && last - 3 >= start && last + 3 < bw[i].end) {
                for (int k = -3; k <= 3; k++) a_sum[k + 3] += cosd(pr, s->vectors + (size_t)(last + k) * D, D);
                a_n++;
            }
            /* B: rank of the target among all chunks of the article (ties count against it) */
            if ((T & LVT_EVAL_B) && bw[i].end - start >= 6) {
                int64_t rank = 1;
                for (int64_t r = start; r < bw[i].end; r++)
                    if (r != last + 1 && cosd(pr, s->vectors + (size_t)r * D, D) >= cy) rank++;
                b_r1 += rank == 1;
                b_r5 += rank <= 5;
                b_rr += 1.0 / (double)rank;
                b_rank += (double)rank;
                b_n++;
            }
            if (T & LVT_EVAL_C) {
                c_base += cy;
                c_n++;
            }
            if ((T & LVT_EVAL_E) && coh >= LVT_EVAL_COH_LO && coh <= LVT_EVAL_COH_HI) {
                e_sum += cy;
                e_n++;
            }
        }

        /* C: the five ablations, each one batched pass */
        if (T & LVT_EVAL_C) {
            for (int i = 0; i < nb; i++) {
                shuffle_perm(o->seed, bw[i].idx, L, w.perm + (size_t)i * L);
                w.loo[i] = loo_slot(o->seed, bw[i].idx, L);
            }
            if (d.perm) {
                memcpy(d.perm + (size_t)b0 * L, w.perm, (size_t)nb * L * sizeof(int32_t));
                memcpy(d.loo_slot + b0, w.loo, (size_t)nb * sizeof(int32_t));
            }
            for (int k = 0; k < N_ABL; k++) {
                build_ablation(k, w.ctx, w.mod, nb, L, D, w.perm, w.loo);
                if (run_predict(p, w.mod, nb, L, D, w.pm, e)) goto done;
                if (d.abl[k]) memcpy(d.abl[k] + (size_t)b0 * D, w.pm, (size_t)nb * D * sizeof(float));
                for (int i = 0; i < nb; i++) {
                    const float *y = s->vectors + (size_t)(bw[i].row0 + L) * D;
                    c_sum[k] += cosd(w.pm + (size_t)i * D, y, D) - cosd(w.pred + (size_t)i * D, y, D);
                }
            }
        }

        /* D: autoregressive rollout over the windows that have all H true chunks */
        if (T & LVT_EVAL_D) {
            int nr = 0;
            for (int i = 0; i < nb; i++)
                if (bw[i].row0 + L + H - 1 < bw[i].end) {
                    memcpy(w.rctx + (size_t)nr * L * D, w.ctx + (size_t)i * L * D,
                           (size_t)L * D * sizeof(float));
                    memcpy(w.rcur + (size_t)nr * D, w.pred + (size_t)i * D, (size_t)D * sizeof(float));
                    w.ridx[nr++] = i;
                }
            for (int h = 1; h <= H && nr > 0; h++) {
                if (h > 1) {
                    for (int r = 0; r < nr; r++) {
                        float *rc = w.rctx + (size_t)r * L * D;
                        memmove(rc, rc + D, (size_t)(L - 1) * D * sizeof(float));
                        memcpy(rc + (size_t)(L - 1) * D, w.rprev + (size_t)r * D, (size_t)D * sizeof(float));
                    }
                    if (run_predict(p, w.rctx, nr, L, D, w.rcur, e)) goto done;
                }
                for (int r = 0; r < nr; r++) {
                    const eval_window *ww = bw + w.ridx[r];
                    const float *truth = s->vectors + (size_t)(ww->row0 + L + h - 1) * D;
                    d_sum[h - 1] += cosd(w.rcur + (size_t)r * D, truth, D);
                    if (d.roll)
                        memcpy(d.roll + ((size_t)(b0 + w.ridx[r]) * H + (h - 1)) * D,
                               w.rcur + (size_t)r * D, (size_t)D * sizeof(float));
                }
                memcpy(w.rprev, w.rcur, (size_t)nr * D * sizeof(float));
            }
            if (d.roll_mask)
                for (int r = 0; r < nr; r++) d.roll_mask[b0 + w.ridx[r]] = 1;
            d_n += nr;
        }
    }

    /* a requested test that selected nothing is an error, never NaN */
    int64_t counts[5] = {a_n, b_n, c_n, d_n, e_n};
    const char *why[5] = {"needs rows -3..+3 around the last context chunk inside the article",
                          "needs articles with at least 6 chunks",
                          "needs windows with a target",
                          "needs the target and the following horizon-1 chunks inside the article",
                          "needs windows whose context coherence is in [0.45, 0.55]"};
    for (int t = 0; t < 5; t++)
        if ((T & (1 << t)) && counts[t] == 0) {
            lvt_errf(e, "5CAT test %s selected no window (%s; %lld windows drawn of %lld)",
                     TEST_NAMES[t], why[t], (long long)nsel, (long long)m->n_windows);
            goto done;
        }

    m->a_n = a_n;
    if (a_n) {
        double best_other = -INFINITY;
        for (int k = 0; k < 7; k++) {
            m->a_cos[k] = a_sum[k] / (double)a_n;
            if (k != 4 && m->a_cos[k] > best_other) best_other = m->a_cos[k];
        }
        m->a_cos_p1 = m->a_cos[4];
        m->a_margin = m->a_cos_p1 - best_other;
    }
    m->b_n = b_n;
    if (b_n) {
        m->b_r1 = b_r1 / (double)b_n;
        m->b_r5 = b_r5 / (double)b_n;
        m->b_mrr = b_rr / (double)b_n;
        m->b_mean_rank = b_rank / (double)b_n;
    }
    m->c_n = c_n;
    if (c_n) {
        m->c_base_cos = c_base / (double)c_n;
        m->c_shuffled = c_sum[ABL_SHUFFLED] / (double)c_n;
        m->c_reversed = c_sum[ABL_REVERSED] / (double)c_n;
        m->c_leave_one_out = c_sum[ABL_LEAVE_ONE_OUT] / (double)c_n;
        m->c_repeat_last = c_sum[ABL_REPEAT_LAST] / (double)c_n;
        m->c_last_first = c_sum[ABL_LAST_FIRST] / (double)c_n;
    }
    m->d_n = d_n;
    if (d_n) {
        double acc = 0.0;
        for (int h = 0; h < H; h++) {
            m->d_cos_h[h] = d_sum[h] / (double)d_n;
            acc += m->d_cos_h[h];
        }
        m->d_cos = acc / (double)H;
    }
    m->e_n = e_n;
    if (e_n) m->e_cos = e_sum / (double)e_n;
    m->e_coherence_mean = coh_sum / (double)nsel;
    m->seconds = lvt_now() - t0;

    if (o->dump_path &&
        eval_dump_write(o->dump_path, &d, s, p->name ? p->name : "?", o->seed, m, e))
        goto done;
    rc = LVT_OK;
done:
    work_free(&w);
    dump_free(&d);
    free(win);
    return rc;
}
