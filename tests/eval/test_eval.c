/* test_eval.c — 5CAT against independent references: hand-checkable values on a tiny planar
 * store (known cosines and ranks for copy-last), a brute-force per-window recomputation of A, B,
 * C (reversed, repeat-last, last:=first) and D for copy-last / mean / an oracle, the numpy
 * recomputation of the whole battery from a dump (tests/parity/fivecat_reference.py), gate logic
 * exactly at the thresholds, tests that select no window, bad options and bad predictors, and
 * selection invariants (budget, seed, batch size). */
#include "testutil.h"

#include "lvt/eval.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- stores ------------------------------------------------------------------------------- */

static void store_alloc(lvt_store *s, const int *lens, int A, int D) {
    memset(s, 0, sizeof *s);
    s->dim = D;
    s->n_articles = A;
    s->offsets = calloc((size_t)A + 1, sizeof(int64_t));
    s->article_ids = calloc((size_t)A, sizeof(int64_t));
    for (int a = 0; a < A; a++) {
        s->offsets[a + 1] = s->offsets[a] + lens[a];
        s->article_ids[a] = 1000 + a;
    }
    s->n = s->offsets[A];
    s->vectors = calloc((size_t)(s->n ? s->n : 1) * D, sizeof(float));
    s->normalized = 1;
}

static void store_release(lvt_store *s) {
    free(s->vectors);
    free(s->offsets);
    free(s->article_ids);
    memset(s, 0, sizeof *s);
}

/* The planar store: article 0 on the (e0, e1) plane at angles TH0, article 1 short (4 chunks, no
 * window), article 2 on the (e2, e3) plane at angles TH2. cos between two chunks of one article
 * = cos(angle difference), so every cosine and rank below is known by hand. */
static const double TH0[8] = {0, 0.1, 0.25, 0.45, 0.7, 1.0, 1.35, 1.75};
static const double TH2[9] = {0, 0.15, 0.35, 0.6, 0.7, 1.0, 1.25, 1.4, 1.9};

static void planar_store(lvt_store *s) {
    int lens[3] = {8, 4, 9};
    store_alloc(s, lens, 3, 4);
    for (int j = 0; j < 8; j++) {
        s->vectors[j * 4 + 0] = (float)cos(TH0[j]);
        s->vectors[j * 4 + 1] = (float)sin(TH0[j]);
    }
    for (int j = 0; j < 4; j++) { /* short article: off both planes */
        float *v = s->vectors + (8 + j) * 4;
        v[0] = 0.5f;
        v[1] = -0.5f;
        v[2] = (float)(0.5 * cos(3.0 + j));
        v[3] = (float)(0.5 * sin(3.0 + j));
    }
    for (int j = 0; j < 9; j++) {
        s->vectors[(12 + j) * 4 + 2] = (float)cos(TH2[j]);
        s->vectors[(12 + j) * 4 + 3] = (float)sin(TH2[j]);
    }
}

/* xorshift + Box-Muller for the random store */
static uint64_t rs_state = 0x9E3779B97F4A7C15ull;
static double urand(void) {
    rs_state ^= rs_state << 13;
    rs_state ^= rs_state >> 7;
    rs_state ^= rs_state << 17;
    return ((double)(rs_state >> 11) + 0.5) / 9007199254740992.0;
}
static double nrand(void) { return sqrt(-2.0 * log(urand())) * cos(6.283185307179586 * urand()); }

/* Random walks on the sphere inside each article of s: x_{t+1} = normalise(a x_t + b g), with an
 * adjacent cosine around 0.5 so that test E's band holds windows. */
static void walk_fill(lvt_store *s, uint64_t seed) {
    int D = s->dim;
    rs_state = seed * 2654435761ull + 1;
    for (int64_t a = 0; a < s->n_articles; a++) {
        float *prev = NULL;
        for (int64_t r = s->offsets[a]; r < s->offsets[a + 1]; r++) {
            float *v = s->vectors + r * D;
            double ss = 0;
            double a_coef = 0.45 + 0.2 * urand();
            for (int j = 0; j < D; j++) {
                double g = nrand() / sqrt((double)D);
                v[j] = (float)(prev ? a_coef * prev[j] + 0.85 * g : g);
                ss += (double)v[j] * v[j];
            }
            for (int j = 0; j < D; j++) v[j] = (float)(v[j] / sqrt(ss));
            prev = v;
        }
    }
}

/* A random store: A articles of 2..41 chunks (some too short for any window). */
static void random_store(lvt_store *s, int A, int D, uint64_t seed) {
    rs_state = seed * 0x2545F4914F6CDD1Dull + 7;
    int *lens = malloc(sizeof(int) * (size_t)A);
    for (int a = 0; a < A; a++) lens[a] = 2 + (int)(urand() * 40.0);
    store_alloc(s, lens, A, D);
    walk_fill(s, seed);
    free(lens);
}

/* ---- test predictors ---------------------------------------------------------------------- */

/* oracle: finds the context in the store and returns the row after it (copy-last when the
 * context is not a run of store rows, e.g. an ablated one). */
static int predict_oracle(void *ctx, const float *in, int n, int L, int D, float *out, lvt_err *e) {
    const lvt_store *s = ctx;
    size_t row = (size_t)D * sizeof(float);
    for (int i = 0; i < n; i++) {
        const float *c = in + (size_t)i * L * D;
        const float *found = NULL;
        for (int64_t a = 0; a < s->n_articles && !found; a++)
            for (int64_t r = s->offsets[a]; r + L < s->offsets[a + 1] && !found; r++)
                if (!memcmp(s->vectors + r * D, c, (size_t)L * row)) found = s->vectors + (r + L) * D;
        memcpy(out + (size_t)i * D, found ? found : c + (size_t)(L - 1) * D, row);
    }
    return LVT_OK;
}

/* weighted: normalise(sum_t W[t] c_t); order-sensitive, so every ablation moves it. */
static const float W[5] = {0.1f, -0.2f, 0.3f, 0.5f, 1.0f};
static int predict_weighted(void *ctx, const float *in, int n, int L, int D, float *out, lvt_err *e) {
    if (L != 5) return lvt_errf(e, "weighted predictor needs L = 5");
    for (int i = 0; i < n; i++) {
        float *o = out + (size_t)i * D;
        double ss = 0;
        for (int j = 0; j < D; j++) {
            float acc = 0.0f;
            for (int t = 0; t < L; t++) acc += W[t] * in[((size_t)i * L + t) * D + j];
            o[j] = acc;
            ss += (double)acc * acc;
        }
        for (int j = 0; j < D; j++) o[j] = (float)(o[j] / sqrt(ss));
    }
    return LVT_OK;
}

static int predict_nan(void *ctx, const float *in, int n, int L, int D, float *out, lvt_err *e) {
    for (size_t i = 0; i < (size_t)n * D; i++) out[i] = 0.1f;
    out[(size_t)(n - 1) * D] = NAN;
    return LVT_OK;
}

static int predict_fail(void *ctx, const float *in, int n, int L, int D, float *out, lvt_err *e) {
    return lvt_errf(e, "device lost");
}

/* ---- brute force, one window at a time ---------------------------------------------------- */

enum { K_COPY = 0, K_MEAN = 1, K_ORACLE = 2 };

static double cos_f(const float *a, const float *b, int D) {
    double ab = 0, aa = 0, bb = 0;
    for (int j = 0; j < D; j++) {
        ab += (double)a[j] * b[j];
        aa += (double)a[j] * a[j];
        bb += (double)b[j] * b[j];
    }
    return ab / sqrt(aa * bb);
}

/* predict one context (rows given as pointers) with the test's own code */
static void brute_predict(int kind, const lvt_store *s, const float **rows, int L, float *out) {
    int D = s->dim;
    if (kind == K_COPY) {
        memcpy(out, rows[L - 1], sizeof(float) * (size_t)D);
    } else if (kind == K_MEAN) {
        double ss = 0;
        for (int j = 0; j < D; j++) {
            double acc = 0;
            for (int t = 0; t < L; t++) acc += rows[t][j];
            out[j] = (float)(acc / L);
            ss += (double)out[j] * out[j];
        }
        for (int j = 0; j < D; j++) out[j] = (float)(out[j] / sqrt(ss));
    } else {
        float *ctx = malloc(sizeof(float) * (size_t)L * D);
        for (int t = 0; t < L; t++) memcpy(ctx + (size_t)t * D, rows[t], sizeof(float) * (size_t)D);
        predict_oracle((void *)s, ctx, 1, L, D, out, NULL);
        free(ctx);
    }
}

/* A, B, C (base, reversed, repeat-last, last:=first) and D over every window of s */
static void brute_battery(int kind, const lvt_store *s, int L, int H, lvt_eval_metrics *m) {
    int D = s->dim;
    memset(m, 0, sizeof *m);
    float *p = malloc(sizeof(float) * D), *q = malloc(sizeof(float) * D), *prev = malloc(sizeof(float) * D);
    const float **rows = malloc(sizeof(float *) * (size_t)(L + H)), **mod = malloc(sizeof(float *) * (size_t)L);
    double a[7] = {0}, cb = 0, crev = 0, crep = 0, clf = 0, dh[LVT_EVAL_MAX_H] = {0};
    for (int64_t art = 0; art < s->n_articles; art++) {
        int64_t lo = s->offsets[art], hi = s->offsets[art + 1];
        for (int64_t r0 = lo; r0 + L < hi; r0++) {
            m->n_windows++;
            for (int t = 0; t < L; t++) rows[t] = s->vectors + (r0 + t) * D;
            const float *y = s->vectors + (r0 + L) * D;
            brute_predict(kind, s, rows, L, p);
            double cy = cos_f(p, y, D);
            if (r0 + L + 2 < hi) {
                for (int k = -3; k <= 3; k++) a[k + 3] += cos_f(p, s->vectors + (r0 + L - 1 + k) * D, D);
                m->a_n++;
            }
            if (hi - lo >= 6) {
                int rank = 1;
                for (int64_t r = lo; r < hi; r++)
                    if (r != r0 + L && cos_f(p, s->vectors + r * D, D) >= cy) rank++;
                m->b_r1 += rank == 1;
                m->b_r5 += rank <= 5;
                m->b_mrr += 1.0 / rank;
                m->b_mean_rank += rank;
                m->b_n++;
            }
            cb += cy;
            for (int t = 0; t < L; t++) mod[t] = rows[L - 1 - t];
            brute_predict(kind, s, mod, L, q);
            crev += cos_f(q, y, D) - cy;
            for (int t = 0; t < L; t++) mod[t] = rows[L - 1];
            brute_predict(kind, s, mod, L, q);
            crep += cos_f(q, y, D) - cy;
            for (int t = 0; t < L; t++) mod[t] = t == L - 1 ? rows[0] : rows[t];
            brute_predict(kind, s, mod, L, q);
            clf += cos_f(q, y, D) - cy;
            if (r0 + L + H - 1 < hi) {
                /* rollout: the context is a sliding list of row pointers; predictions are kept in
                 * a small ring so each step's context can point at them */
                float *preds = malloc(sizeof(float) * (size_t)H * D);
                const float **cx = malloc(sizeof(float *) * (size_t)(L + H));
                for (int t = 0; t < L; t++) cx[t] = rows[t];
                for (int h = 1; h <= H; h++) {
                    float *ph = preds + (size_t)(h - 1) * D;
                    brute_predict(kind, s, cx + (h - 1), L, ph);
                    cx[L + h - 1] = ph;
                    dh[h - 1] += cos_f(ph, s->vectors + (r0 + L + h - 1) * D, D);
                }
                free(preds);
                free(cx);
                m->d_n++;
            }
        }
    }
    m->n_selected = m->n_windows;
    for (int k = 0; k < 7; k++) m->a_cos[k] = a[k] / m->a_n;
    m->a_cos_p1 = m->a_cos[4];
    double best = -1e9;
    for (int k = 0; k < 7; k++)
        if (k != 4 && m->a_cos[k] > best) best = m->a_cos[k];
    m->a_margin = m->a_cos_p1 - best;
    m->b_r1 /= m->b_n;
    m->b_r5 /= m->b_n;
    m->b_mrr /= m->b_n;
    m->b_mean_rank /= m->b_n;
    m->c_n = m->n_windows;
    m->c_base_cos = cb / m->c_n;
    m->c_reversed = crev / m->c_n;
    m->c_repeat_last = crep / m->c_n;
    m->c_last_first = clf / m->c_n;
    double acc = 0;
    for (int h = 0; h < H; h++) {
        m->d_cos_h[h] = m->d_n ? dh[h] / m->d_n : 0;
        acc += m->d_cos_h[h];
    }
    m->d_cos = acc / H;
    free(p);
    free(q);
    free(prev);
    free(rows);
    free(mod);
}

#define NEAR(a, b, tol, what) CHECK(fabs((a) - (b)) <= (tol), "%s: %.9f vs %.9f", what, (double)(a), (double)(b))

static void compare_brute(const lvt_eval_metrics *m, const lvt_eval_metrics *r, int H, double tol,
                          const char *who) {
    char w[128];
    CHECK(m->n_windows == r->n_windows && m->a_n == r->a_n && m->b_n == r->b_n && m->d_n == r->d_n,
          "%s counts: windows %lld/%lld A %lld/%lld B %lld/%lld D %lld/%lld", who,
          (long long)m->n_windows, (long long)r->n_windows, (long long)m->a_n, (long long)r->a_n,
          (long long)m->b_n, (long long)r->b_n, (long long)m->d_n, (long long)r->d_n);
    for (int k = 0; k < 7; k++) {
        snprintf(w, sizeof w, "%s A cos[k=%d]", who, k - 3);
        NEAR(m->a_cos[k], r->a_cos[k], tol, w);
    }
    snprintf(w, sizeof w, "%s A margin", who);
    NEAR(m->a_margin, r->a_margin, tol, w);
    snprintf(w, sizeof w, "%s B R@1", who);
    NEAR(m->b_r1, r->b_r1, 1e-12, w);
    snprintf(w, sizeof w, "%s B R@5", who);
    NEAR(m->b_r5, r->b_r5, 1e-12, w);
    snprintf(w, sizeof w, "%s B MRR", who);
    NEAR(m->b_mrr, r->b_mrr, 1e-12, w);
    snprintf(w, sizeof w, "%s C base", who);
    NEAR(m->c_base_cos, r->c_base_cos, tol, w);
    snprintf(w, sizeof w, "%s C reversed", who);
    NEAR(m->c_reversed, r->c_reversed, tol, w);
    snprintf(w, sizeof w, "%s C repeat-last", who);
    NEAR(m->c_repeat_last, r->c_repeat_last, tol, w);
    snprintf(w, sizeof w, "%s C last:=first", who);
    NEAR(m->c_last_first, r->c_last_first, tol, w);
    for (int h = 0; h < H; h++) {
        snprintf(w, sizeof w, "%s D cos h=%d", who, h + 1);
        NEAR(m->d_cos_h[h], r->d_cos_h[h], tol, w);
    }
    snprintf(w, sizeof w, "%s D", who);
    NEAR(m->d_cos, r->d_cos, tol, w);
}

/* ---- the tests ---------------------------------------------------------------------------- */

static void test_planar_hand_values(void) {
    lvt_store s;
    planar_store(&s);
    lvt_eval_opts o;
    lvt_eval_opts_default(&o);
    o.max_samples = 0;
    o.horizon = 3;
    o.tests = LVT_EVAL_A | LVT_EVAL_B | LVT_EVAL_C | LVT_EVAL_D;
    lvt_predictor p = lvt_predictor_copy_last();
    lvt_eval_metrics m;
    lvt_err e = {{0}};
    int rc = lvt_eval_run(&s, &p, &o, &m, &e);
    CHECK(rc == LVT_OK, "planar copy-last: %s", e.msg);
    CHECK(m.n_windows == 7 && m.n_selected == 7, "windows %lld selected %lld", (long long)m.n_windows,
          (long long)m.n_selected);
    /* A: windows (art0, s=0), (art2, s=0), (art2, s=1); cos(k) = cos(angle gap to the last row) */
    CHECK(m.a_n == 3, "A n = %lld", (long long)m.a_n);
    double p1 = (cos(TH0[5] - TH0[4]) + cos(TH2[5] - TH2[4]) + cos(TH2[6] - TH2[5])) / 3.0;
    double m3 = (cos(TH0[4] - TH0[1]) + cos(TH2[4] - TH2[1]) + cos(TH2[5] - TH2[2])) / 3.0;
    NEAR(m.a_cos_p1, p1, 1e-6, "A cos(+1) by hand");
    NEAR(m.a_cos[0], m3, 1e-6, "A cos(-3) by hand");
    NEAR(m.a_cos[3], 1.0, 1e-6, "A cos(0) = 1 for copy-last");
    NEAR(m.a_margin, p1 - 1.0, 1e-6, "A margin by hand");
    CHECK(m.a_margin < 0, "copy-last margin must be negative: %f", m.a_margin);
    /* B: copy-last ranks by hand are 3,3,3 (art0) and 3,2,2,4 (art2) */
    CHECK(m.b_n == 7, "B n = %lld", (long long)m.b_n);
    NEAR(m.b_r1, 0.0, 1e-12, "B R@1");
    NEAR(m.b_r5, 1.0, 1e-12, "B R@5");
    NEAR(m.b_mrr, (4.0 / 3.0 + 0.5 + 0.5 + 0.25) / 7.0, 1e-12, "B MRR");
    NEAR(m.b_mean_rank, 20.0 / 7.0, 1e-12, "B mean rank");
    /* C: repeat-last changes nothing for copy-last; reversed == last:=first (both predict c0) */
    NEAR(m.c_repeat_last, 0.0, 1e-12, "C repeat-last");
    NEAR(m.c_reversed, m.c_last_first, 1e-12, "C reversed vs last:=first");
    double rev = 0;
    for (int s0 = 0; s0 < 3; s0++) rev += cos(TH0[s0] - TH0[s0 + 5]) - cos(TH0[s0 + 4] - TH0[s0 + 5]);
    for (int s0 = 0; s0 < 4; s0++) rev += cos(TH2[s0] - TH2[s0 + 5]) - cos(TH2[s0 + 4] - TH2[s0 + 5]);
    NEAR(m.c_reversed, rev / 7.0, 1e-6, "C reversed by hand");
    /* D: copy-last's rollout repeats c4; windows with rows up to s+7: (art0,0), (art2,0), (art2,1) */
    CHECK(m.d_n == 3, "D n = %lld", (long long)m.d_n);
    double d3 = (cos(TH0[7] - TH0[4]) + cos(TH2[7] - TH2[4]) + cos(TH2[8] - TH2[5])) / 3.0;
    NEAR(m.d_cos_h[2], d3, 1e-6, "D h=3 by hand");

    /* brute force: copy-last, mean and the oracle */
    int kinds[3] = {K_COPY, K_MEAN, K_ORACLE};
    const char *names[3] = {"copy-last", "mean", "oracle"};
    lvt_predictor ps[3] = {lvt_predictor_copy_last(), lvt_predictor_mean(),
                           {"oracle", &s, predict_oracle}};
    for (int k = 0; k < 3; k++) {
        lvt_eval_metrics r;
        rc = lvt_eval_run(&s, &ps[k], &o, &m, &e);
        CHECK(rc == LVT_OK, "planar %s: %s", names[k], e.msg);
        brute_battery(kinds[k], &s, 5, 3, &r);
        compare_brute(&m, &r, 3, 1e-6, names[k]);
    }
    /* E: the planar articles are far too coherent for the band: an error, not NaN */
    o.tests = LVT_EVAL_E;
    e.msg[0] = 0;
    rc = lvt_eval_run(&s, &p, &o, &m, &e);
    CHECK(rc == LVT_ERROR, "E with no window must fail");
    CHECK_MSG(e.msg, "E (generalisation band) selected no window");
    store_release(&s);
}

/* Ties in B count against the target: an article of 6 chunks whose row 1 duplicates the target
 * row 5; the oracle predicts row 5 exactly, row 1 ties with it, so its rank is 2, not 1. */
static void test_rank_ties(void) {
    lvt_store s;
    int lens[1] = {6};
    store_alloc(&s, lens, 1, 4);
    for (int r = 0; r < 6; r++) {
        s.vectors[r * 4 + 0] = (float)cos(0.3 * r);
        s.vectors[r * 4 + 1] = (float)sin(0.3 * r);
    }
    memcpy(s.vectors + 1 * 4, s.vectors + 5 * 4, 4 * sizeof(float));
    lvt_eval_opts o;
    lvt_eval_opts_default(&o);
    o.tests = LVT_EVAL_B;
    lvt_predictor orc = {"oracle", &s, predict_oracle};
    lvt_eval_metrics m;
    lvt_err e = {{0}};
    CHECK(lvt_eval_run(&s, &orc, &o, &m, &e) == LVT_OK, "ties: %s", e.msg);
    CHECK(m.b_n == 1 && m.b_mean_rank == 2.0 && m.b_r1 == 0.0 && m.b_r5 == 1.0 && m.b_mrr == 0.5,
          "a tie counts against the target: n %lld rank %f", (long long)m.b_n, m.b_mean_rank);
    store_release(&s);
}

static void test_oracle_and_brute_random(void) {
    lvt_store s;
    random_store(&s, 30, 16, 7);
    lvt_eval_opts o;
    lvt_eval_opts_default(&o);
    o.max_samples = 0;
    o.batch = 37; /* several batches, the last one short */
    lvt_eval_metrics m, r;
    lvt_err e = {{0}};
    lvt_predictor orc = {"oracle", &s, predict_oracle};
    int rc = lvt_eval_run(&s, &orc, &o, &m, &e);
    CHECK(rc == LVT_OK, "oracle: %s", e.msg);
    NEAR(m.a_cos_p1, 1.0, 1e-6, "oracle cos(+1)");
    CHECK(m.a_margin > 0.2, "oracle margin %f", m.a_margin);
    NEAR(m.b_r1, 1.0, 1e-12, "oracle R@1");
    NEAR(m.b_mrr, 1.0, 1e-12, "oracle MRR");
    NEAR(m.d_cos, 1.0, 1e-6, "oracle rollout");
    NEAR(m.e_cos, 1.0, 1e-6, "oracle band cos");
    CHECK(m.e_n > 0, "E selected %lld windows", (long long)m.e_n);
    brute_battery(K_ORACLE, &s, 5, 5, &r);
    compare_brute(&m, &r, 5, 1e-6, "oracle/random");
    lvt_predictor mean = lvt_predictor_mean();
    rc = lvt_eval_run(&s, &mean, &o, &m, &e);
    CHECK(rc == LVT_OK, "mean: %s", e.msg);
    brute_battery(K_MEAN, &s, 5, 5, &r);
    compare_brute(&m, &r, 5, 1e-6, "mean/random");

    /* batch size and selection invariants */
    lvt_eval_metrics m1, m2, m3;
    lvt_predictor cl = lvt_predictor_copy_last();
    o.max_samples = 100;
    o.batch = 1;
    CHECK(lvt_eval_run(&s, &cl, &o, &m1, &e) == LVT_OK, "%s", e.msg);
    o.batch = 1024;
    CHECK(lvt_eval_run(&s, &cl, &o, &m2, &e) == LVT_OK, "%s", e.msg);
    CHECK(m1.n_selected == 100 && m2.n_selected == 100, "selected %lld", (long long)m1.n_selected);
    CHECK(m1.a_cos_p1 == m2.a_cos_p1 && m1.b_mrr == m2.b_mrr && m1.c_shuffled == m2.c_shuffled &&
              m1.c_leave_one_out == m2.c_leave_one_out && m1.d_cos == m2.d_cos && m1.e_cos == m2.e_cos,
          "batch size changed the metrics");
    o.seed = 43;
    CHECK(lvt_eval_run(&s, &cl, &o, &m3, &e) == LVT_OK, "%s", e.msg);
    CHECK(m3.a_cos_p1 != m2.a_cos_p1 || m3.b_mrr != m2.b_mrr, "another seed drew the same windows");
    store_release(&s);
}

static void test_numpy_reference(void) {
    const char *py = getenv("LVT_PYTHON"), *src = getenv("LVT_SOURCE_DIR");
    if (!py || !src) {
        printf("numpy reference skipped: LVT_PYTHON / LVT_SOURCE_DIR not set\n");
        return;
    }
    const char *dir = test_tmpdir("test_eval");
    lvt_store s;
    random_store(&s, 40, 24, 11);
    lvt_predictor ps[3] = {lvt_predictor_copy_last(), lvt_predictor_mean(),
                           {"weighted[0.1,-0.2,0.3,0.5,1.0]", NULL, predict_weighted}};
    int64_t budgets[3] = {150, 0, 90};
    for (int k = 0; k < 3; k++) {
        char dump[1200], cmd[4000];
        snprintf(dump, sizeof dump, "%s/dump_%d.h5", dir, k);
        lvt_eval_opts o;
        lvt_eval_opts_default(&o);
        o.max_samples = budgets[k];
        o.batch = 64;
        o.horizon = 4;
        o.seed = 5 + (uint64_t)k;
        o.dump_path = dump;
        lvt_eval_metrics m;
        lvt_err e = {{0}};
        int rc = lvt_eval_run(&s, &ps[k], &o, &m, &e);
        CHECK(rc == LVT_OK, "dump run %s: %s", ps[k].name, e.msg);
        snprintf(cmd, sizeof cmd, "%s %s/tests/parity/fivecat_reference.py %s %lld", py, src, dump,
                 (long long)budgets[k]);
        rc = test_system(cmd);
        CHECK(rc == 0, "numpy reference disagrees for %s (exit %d)", ps[k].name, rc);
    }
    store_release(&s);
}

static void fill_at_thresholds(lvt_eval_report *r) {
    memset(r, 0, sizeof *r);
    lvt_eval_metrics *v = &r->val, *o = &r->ood;
    v->a_cos_p1 = 0.50, o->a_cos_p1 = 0.48;
    v->a_margin = 0.12, o->a_margin = 0.10;
    v->b_r1 = 0.60, o->b_r1 = 0.55;
    v->b_r5 = 0.95, o->b_r5 = 0.92;
    v->b_mrr = 0.80, o->b_mrr = 0.75;
    v->c_shuffled = o->c_shuffled = -0.15;
    v->c_reversed = o->c_reversed = -0.10;
    v->c_leave_one_out = o->c_leave_one_out = -0.08;
    v->c_repeat_last = o->c_repeat_last = 0.05;
    v->c_last_first = o->c_last_first = 0.05;
    v->d_cos = 0.45, o->d_cos = 0.42;
    v->e_cos = 0.05, o->e_cos = 0.0; /* |VAL - OOD| exactly 0.05 */
}

static void test_gates(void) {
    lvt_eval_report r;
    fill_at_thresholds(&r);
    lvt_eval_apply_gates(&r);
    CHECK(r.all_pass && r.n_pass == 23 && r.n_fail == 0, "at the thresholds every gate passes (%d/%d)",
          r.n_pass, r.n_fail);
    /* one ulp on the wrong side of each threshold fails exactly that gate */
    for (int g = 0; g < LVT_EVAL_N_GATES; g++) {
        for (int side = 0; side < 2; side++) {
            fill_at_thresholds(&r);
            lvt_eval_apply_gates(&r);
            lvt_eval_gate gd = r.gates[g];
            double *fields_v[12] = {&r.val.a_cos_p1, &r.val.a_margin, &r.val.b_r1, &r.val.b_r5,
                                    &r.val.b_mrr, &r.val.c_shuffled, &r.val.c_reversed,
                                    &r.val.c_leave_one_out, &r.val.c_repeat_last, &r.val.c_last_first,
                                    &r.val.d_cos, &r.val.e_cos};
            double *fields_o[12] = {&r.ood.a_cos_p1, &r.ood.a_margin, &r.ood.b_r1, &r.ood.b_r5,
                                    &r.ood.b_mrr, &r.ood.c_shuffled, &r.ood.c_reversed,
                                    &r.ood.c_leave_one_out, &r.ood.c_repeat_last, &r.ood.c_last_first,
                                    &r.ood.d_cos, &r.ood.e_cos};
            double *f = side == 0 ? fields_v[g] : fields_o[g];
            double away = gd.op == LVT_GATE_GE ? -1.0 : 1.0;
            if (gd.test == 'E') { /* widen the gap; side 1 mirrors it (OOD above VAL) */
                away = 1.0;
                if (side == 1) {
                    r.val.e_cos = 0.0;
                    r.ood.e_cos = 0.05;
                    lvt_eval_apply_gates(&r);
                    CHECK(r.all_pass, "E: a gap of exactly 0.05 the other way passes");
                }
            }
            *f = nextafter(*f, away * INFINITY);
            lvt_eval_apply_gates(&r);
            CHECK(!r.all_pass && !r.gates[g].pass, "gate %d (%s) side %d must fail one ulp past", g,
                  r.gates[g].label, side);
            CHECK(r.n_fail == 1, "gate %d side %d: %d checks failed", g, side, r.n_fail);
            if (gd.test != 'E')
                CHECK(side == 0 ? (!r.gates[g].pass_val && r.gates[g].pass_ood)
                                : (r.gates[g].pass_val && !r.gates[g].pass_ood),
                      "gate %d: the failing split is reported", g);
        }
    }
    CHECK(lvt_gate_pass(0.5, LVT_GATE_GE, 0.5) && lvt_gate_pass(0.5, LVT_GATE_LE, 0.5), "equality passes");
    CHECK(!lvt_gate_pass(NAN, LVT_GATE_GE, 0.5) && !lvt_gate_pass(NAN, LVT_GATE_LE, 0.5), "NaN fails");
    CHECK(!lvt_gate_pass(0.49, LVT_GATE_GE, 0.5) && !lvt_gate_pass(0.51, LVT_GATE_LE, 0.5), "wrong side fails");
}

static void test_errors(void) {
    lvt_err e = {{0}};
    lvt_eval_metrics m;
    lvt_eval_opts o;
    lvt_eval_opts_default(&o);
    lvt_predictor cl = lvt_predictor_copy_last();
    /* no window at all */
    lvt_store s;
    int short_lens[3] = {5, 3, 0};
    store_alloc(&s, short_lens, 3, 4);
    for (int64_t i = 0; i < s.n * 4; i++) s.vectors[i] = (float)(i % 7) + 1.0f;
    CHECK(lvt_eval_run(&s, &cl, &o, &m, &e) == LVT_ERROR, "no window must fail");
    CHECK_MSG(e.msg, "no window");
    store_release(&s);
    /* articles of exactly 6 chunks: B and C work, A (needs +3) and D (needs H rows) select none */
    lvt_store t;
    int six[4] = {6, 6, 6, 6};
    store_alloc(&t, six, 4, 8);
    walk_fill(&t, 3);
    o.tests = LVT_EVAL_B | LVT_EVAL_C;
    CHECK(lvt_eval_run(&t, &cl, &o, &m, &e) == LVT_OK, "B, C on 6-chunk articles: %s", e.msg);
    CHECK(m.b_n == 4 && m.c_n == 4 && m.a_n == 0, "counts B %lld C %lld", (long long)m.b_n, (long long)m.c_n);
    o.tests = LVT_EVAL_ALL;
    CHECK(lvt_eval_run(&t, &cl, &o, &m, &e) == LVT_ERROR, "A with no window must fail");
    CHECK_MSG(e.msg, "A (offset sweep) selected no window");
    o.tests = LVT_EVAL_D;
    o.horizon = 1; /* h = 1 needs only the target: works */
    CHECK(lvt_eval_run(&t, &cl, &o, &m, &e) == LVT_OK, "D with H=1: %s", e.msg);
    CHECK(m.d_n == 4, "D n %lld", (long long)m.d_n);
    o.horizon = 2;
    CHECK(lvt_eval_run(&t, &cl, &o, &m, &e) == LVT_ERROR, "D with no window must fail");
    CHECK_MSG(e.msg, "D (rollout) selected no window");
    /* bad options */
    lvt_eval_opts_default(&o);
    o.horizon = 0;
    CHECK(lvt_eval_run(&t, &cl, &o, &m, &e) == LVT_ERROR, "horizon 0");
    CHECK_MSG(e.msg, "horizon");
    lvt_eval_opts_default(&o);
    o.context_len = 1;
    CHECK(lvt_eval_run(&t, &cl, &o, &m, &e) == LVT_ERROR, "context 1");
    CHECK_MSG(e.msg, "context length");
    /* bad predictors */
    lvt_eval_opts_default(&o);
    o.tests = LVT_EVAL_B;
    lvt_predictor pn = {"nan-maker", NULL, predict_nan}, pf = {"broken", NULL, predict_fail};
    CHECK(lvt_eval_run(&t, &pn, &o, &m, &e) == LVT_ERROR, "NaN predictions must fail");
    CHECK_MSG(e.msg, "non-finite");
    CHECK(lvt_eval_run(&t, &pf, &o, &m, &e) == LVT_ERROR, "failing predictor");
    CHECK_MSG(e.msg, "predictor broken: device lost");
    lvt_predictor b;
    CHECK(lvt_predictor_baseline("median", &b, &e) == LVT_ERROR, "unknown baseline");
    CHECK_MSG(e.msg, "copy-last or mean");
    CHECK(lvt_predictor_baseline("mean", &b, &e) == LVT_OK && !strcmp(b.name, "mean"), "mean baseline");
    store_release(&t);
}

int main(void) {
    test_planar_hand_values();
    test_oracle_and_brute_random();
    test_rank_ties();
    test_gates();
    test_errors();
    test_numpy_reference();
    return test_finish("test_eval");
}
