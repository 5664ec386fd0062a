/* test_synth.c — the synthetic generator and the inspect statistics through the C API:
 * hand-made stores with hand-computed statistics (written and read back through the store
 * module), determinism, the calibration bands of docs/synth.md on two seeds, and the
 * forward-signal score: about 0 with --drift 0, clearly positive with the default drift, and
 * unchanged on time-reversed articles (it measures irreversibility, which has no sign). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lvt/inspect.h"
#include "lvt/synth.h"
#include "testutil.h"

/* Bands of docs/synth.md. */
#define BAND_COPY_LO 0.50
#define BAND_COPY_HI 0.54
#define BAND_FAR_LO 0.435
#define BAND_FAR_HI 0.475
#define BAND_ADJ_LO 0.45
#define BAND_ADJ_HI 0.50
#define FWD_NONE_TOL 0.06   /* |forward_signal| below this with drift 0 */
#define FWD_DEFAULT_MIN 0.15 /* forward_signal above this with the default drift */
#define ORACLE_GAIN_MIN 0.02 /* a Q-aware oracle beats the context mean by this (default drift) */
#define ORACLE_NONE_TOL 0.002 /* ... and by less than this with drift 0 */

static int near(double a, double b, double tol) { return fabs(a - b) <= tol; }

/* A store of D = 4 from per-row basis indices: article a holds rows [off[a], off[a+1]). */
static void make_basis_store(lvt_store *s, const int *basis, int64_t n, const int64_t *off, int64_t A) {
    memset(s, 0, sizeof *s);
    s->n = n;
    s->dim = 4;
    s->n_articles = A;
    s->vectors = calloc((size_t)n * 4, sizeof(float));
    s->offsets = malloc(sizeof(int64_t) * (size_t)(A + 1));
    s->article_ids = malloc(sizeof(int64_t) * (size_t)A);
    for (int64_t r = 0; r < n; r++) s->vectors[r * 4 + basis[r]] = 1.0f;
    for (int64_t a = 0; a <= A; a++) s->offsets[a] = off[a];
    for (int64_t a = 0; a < A; a++) s->article_ids[a] = 100 + a;
    s->normalized = 1;
    snprintf(s->source, sizeof s->source, "test_synth hand-made");
}

/* Write through the store module, read back normalised, inspect. */
static int roundtrip_inspect(const char *dir, const char *name, const lvt_store *s, const lvt_inspect_opts *o,
                             lvt_inspect_stats *st) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s.h5", dir, name);
    lvt_err e = {{0}};
    lvt_store_write_opts wo = {0, 0};
    if (lvt_store_write(path, s, &wo, &e)) {
        fprintf(stderr, "write %s: %s\n", path, e.msg);
        return -1;
    }
    lvt_store r;
    if (lvt_store_read(path, 1, &r, &e)) {
        fprintf(stderr, "read %s: %s\n", path, e.msg);
        return -1;
    }
    int rc = lvt_inspect(&r, o, st, &e);
    if (rc) fprintf(stderr, "inspect %s: %s\n", path, e.msg);
    lvt_store_free(&r);
    return rc;
}

static void test_hand_made(const char *dir) {
    lvt_inspect_opts o;
    lvt_inspect_defaults(&o);
    lvt_inspect_stats st;

    /* article 0: 8 rows alternating e0, e1 (adjacent cos 0); article 1: 7 rows of e2 (cos 1).
     * L = 5 windows: article 0 has 3 (targets rows 5,6,7), article 1 has 2. ctx[i] and the
     * target coincide in article 0 iff i and 5 have equal parity (i = 1, 3). */
    int basis[15] = {0, 1, 0, 1, 0, 1, 0, 1, 2, 2, 2, 2, 2, 2, 2};
    int64_t off[3] = {0, 8, 15};
    lvt_store s;
    make_basis_store(&s, basis, 15, off, 2);
    CHECK(roundtrip_inspect(dir, "hand1", &s, &o, &st) == 0, "inspect hand1");
    CHECK(st.articles == 2 && st.chunks == 15 && st.dim == 4 && st.windows == 5, "sizes %lld %lld %d %lld",
          (long long)st.articles, (long long)st.chunks, st.dim, (long long)st.windows);
    CHECK(st.len_min == 7 && st.len_max == 8, "len min/max %lld %lld", (long long)st.len_min, (long long)st.len_max);
    CHECK(near(st.len_mean, 7.5, 1e-12) && near(st.len_median, 7.5, 1e-12), "mean %g median %g", st.len_mean,
          st.len_median);
    CHECK(near(st.len_p10, 7.1, 1e-12) && near(st.len_p90, 7.9, 1e-12), "p10 %g p90 %g", st.len_p10, st.len_p90);
    CHECK(near(st.adjacent, 0.5, 1e-12), "adjacent (articles) %g, want (0 + 1) / 2", st.adjacent);
    CHECK(near(st.adjacent_pairs, 6.0 / 13.0, 1e-12), "adjacent (pairs) %g, want 6/13", st.adjacent_pairs);
    CHECK(st.sampled == 5, "sampled %lld", (long long)st.sampled);
    double want[5] = {0.4, 1.0, 0.4, 1.0, 0.4};
    for (int i = 0; i < 5; i++) CHECK(near(st.profile[i], want[i], 1e-12), "profile[%d] %g want %g", i, st.profile[i], want[i]);
    CHECK(near(st.copy_last, 0.4, 1e-12), "copy-last %g", st.copy_last);
    /* mean of the context: in article 0 the context sums are 3e0+2e1, 2e0+3e1, 3e0+2e1 against
     * targets e1, e0, e1: cos 2/sqrt(13) each; in article 1 cos 1 */
    double c23 = 2.0 / sqrt(13.0);
    double want_mean = (3 * c23 + 2 * 1.0) / 5.0;
    CHECK(near(st.mean_ctx, want_mean, 1e-9), "mean-ctx %g want %g", st.mean_ctx, want_mean);
    /* in both articles next == prev for every window: the forward signal is exactly 0 */
    CHECK(st.have_forward && near(st.forward_x, 0.0, 1e-12), "alternating forward_x %g", st.forward_x);
    lvt_store_free(&s);

    /* two articles cycling e0 -> e1 -> e2 -> e3 -> e0 (29 rows, 24 windows each, so each
     * residue is the last context row of 6 windows): the lag-1 map fitted on one article is the
     * cyclic shift / 4, and every window of the other contributes (e_{i+1} - e_{i-1}) . A e_i =
     * 1/4, so x = D / 4 = 1 and the score is 1. Reversed cycles: the same (a magnitude). */
    int cyc[58], rev[58];
    for (int r = 0; r < 58; r++) {
        cyc[r] = (r % 29) % 4;
        rev[r] = (4 - (r % 29) % 4) % 4;
    }
    int64_t off2[3] = {0, 29, 58};
    make_basis_store(&s, cyc, 58, off2, 2);
    CHECK(roundtrip_inspect(dir, "cycle", &s, &o, &st) == 0, "inspect cycle");
    CHECK(st.windows == 48, "cycle windows %lld", (long long)st.windows);
    CHECK(st.have_forward && near(st.forward_x, 1.0, 1e-6) && near(st.forward_signal, 1.0, 1e-6),
          "cycle forward x %g score %g", st.forward_x, st.forward_signal);
    CHECK(near(st.copy_last, 0.0, 1e-12) && near(st.profile[0], 0.0, 1e-12) && near(st.profile[1], 1.0, 1e-12),
          "cycle profile %g %g %g", st.profile[0], st.profile[1], st.copy_last);
    CHECK(near(st.adjacent, 0.0, 1e-12), "cycle adjacent %g", st.adjacent);
    lvt_store_free(&s);
    make_basis_store(&s, rev, 58, off2, 2);
    CHECK(roundtrip_inspect(dir, "cycle_rev", &s, &o, &st) == 0, "inspect reversed cycle");
    CHECK(near(st.forward_x, 1.0, 1e-6), "reversed cycle x %g", st.forward_x);
    lvt_store_free(&s);
    /* one article only: no independent halves, no score */
    int64_t off1[2] = {0, 29};
    make_basis_store(&s, cyc, 29, off1, 1);
    CHECK(lvt_inspect(&s, &o, &st, NULL) == 0 && !st.have_forward, "one article: no forward score");
    lvt_store_free(&s);

    /* window sampling: max_windows < windows uses exactly max_windows distinct windows */
    make_basis_store(&s, cyc, 58, off2, 2);
    o.max_windows = 10;
    CHECK(lvt_inspect(&s, &o, &st, NULL) == 0, "inspect sampled");
    CHECK(st.sampled == 10 && st.windows == 48, "sampled %lld of %lld", (long long)st.sampled, (long long)st.windows);
    CHECK(near(st.copy_last, 0.0, 1e-12) && near(st.profile[1], 1.0, 1e-12), "sampled profile");
    o.context_len = 0;
    lvt_err e = {{0}};
    CHECK(lvt_inspect(&s, &o, &st, &e) != 0, "context_len 0 must fail");
    CHECK_MSG(e.msg, "context length");
    lvt_store_free(&s);
}

/* Reverse the rows of every article in place. */
static void reverse_articles(lvt_store *s) {
    int D = s->dim;
    float *tmp = malloc(sizeof(float) * (size_t)D);
    for (int64_t a = 0; a < s->n_articles; a++) {
        int64_t lo = s->offsets[a], hi = s->offsets[a + 1] - 1;
        for (; lo < hi; lo++, hi--) {
            memcpy(tmp, s->vectors + lo * D, sizeof(float) * D);
            memcpy(s->vectors + lo * D, s->vectors + hi * D, sizeof(float) * D);
            memcpy(s->vectors + hi * D, tmp, sizeof(float) * D);
        }
    }
    free(tmp);
}

static void test_determinism(void) {
    lvt_synth_opts o;
    lvt_synth_defaults(&o);
    o.articles = 30;
    o.dim = 64;
    lvt_store a, b, c;
    lvt_err e = {{0}};
    CHECK(lvt_synth_generate(&o, &a, &e) == 0, "generate: %s", e.msg);
    CHECK(lvt_synth_generate(&o, &b, &e) == 0, "generate: %s", e.msg);
    o.seed = 2;
    CHECK(lvt_synth_generate(&o, &c, &e) == 0, "generate: %s", e.msg);
    CHECK(a.n == b.n && !memcmp(a.vectors, b.vectors, sizeof(float) * (size_t)a.n * a.dim) &&
              !memcmp(a.offsets, b.offsets, sizeof(int64_t) * (size_t)(a.n_articles + 1)),
          "same seed must give identical stores");
    int differ = a.n != c.n || memcmp(a.vectors, c.vectors, sizeof(float) * (size_t)(a.n < c.n ? a.n : c.n) * a.dim);
    CHECK(differ, "different seeds must give different stores");
    /* rows are unit vectors, offsets consistent, chunk ids restart per article */
    CHECK(lvt_store_check(&a, "synth", &e) == 0, "store check: %s", e.msg);
    double worst = 0.0;
    for (int64_t r = 0; r < a.n; r++) {
        double ss = 0.0;
        for (int i = 0; i < a.dim; i++) ss += (double)a.vectors[r * a.dim + i] * a.vectors[r * a.dim + i];
        if (fabs(ss - 1.0) > worst) worst = fabs(ss - 1.0);
    }
    CHECK(worst < 1e-5, "row norms off by %g", worst);
    int ids_ok = 1;
    for (int64_t k = 0; k < a.n_articles; k++) {
        ids_ok &= a.article_ids[k] == k && a.offsets[k + 1] - a.offsets[k] >= 6;
        for (int64_t r = a.offsets[k]; r < a.offsets[k + 1]; r++) ids_ok &= a.chunk_ids[r] == r - a.offsets[k];
    }
    CHECK(ids_ok, "article ids, min length 6, chunk ids");
    lvt_store_free(&a);
    lvt_store_free(&b);
    lvt_store_free(&c);

    /* bad options are errors with a message */
    lvt_synth_defaults(&o);
    o.drift = 1.5;
    CHECK(lvt_synth_generate(&o, &a, &e) != 0, "drift 1.5 must fail");
    CHECK_MSG(e.msg, "drift");
    lvt_synth_defaults(&o);
    o.copy_cos = 0.40;
    CHECK(lvt_synth_generate(&o, &a, &e) != 0, "copy cos below far cos must fail");
    CHECK_MSG(e.msg, "copy cos");
}

/* An oracle that knows the generator's rotation Q: p = mean(ctx)/|mean| + beta * u/|u| with
 * u = Q c[L-1] + rho Q^2 c[L-2] (the predictable state carried forward), beta on a grid.
 * Returns the best mean cosine and (through base) the beta = 0 value (the context mean). */
static double oracle_cos(const lvt_synth_opts *go, const lvt_store *s, int L, double *base) {
    int D = s->dim;
    size_t nv = (size_t)s->n * D;
    float *r1 = malloc(sizeof(float) * nv), *r2 = malloc(sizeof(float) * nv);
    lvt_err e = {{0}};
    CHECK(lvt_synth_rotate(go, s->vectors, r1, s->n, &e) == 0, "rotate: %s", e.msg);
    CHECK(lvt_synth_rotate(go, r1, r2, s->n, &e) == 0, "rotate: %s", e.msg);
    enum { NB = 21 };
    double sum[NB] = {0};
    int64_t nw = 0;
    double *m = malloc(sizeof(double) * D), *u = malloc(sizeof(double) * D);
    for (int64_t a = 0; a < s->n_articles; a++)
        for (int64_t r0 = s->offsets[a]; r0 + L < s->offsets[a + 1]; r0++) {
            const float *y = s->vectors + (size_t)(r0 + L) * D;
            double mm = 0, uu = 0, my = 0, uy = 0, mu = 0;
            for (int i = 0; i < D; i++) {
                m[i] = 0;
                for (int k = 0; k < L; k++) m[i] += s->vectors[(size_t)(r0 + k) * D + i];
                u[i] = r1[(size_t)(r0 + L - 1) * D + i] + go->rho_rot * r2[(size_t)(r0 + L - 2) * D + i];
                mm += m[i] * m[i], uu += u[i] * u[i], my += m[i] * y[i], uy += u[i] * y[i], mu += m[i] * u[i];
            }
            double nm = sqrt(mm), nu = sqrt(uu);
            for (int b = 0; b < NB; b++) {
                double beta = 0.05 * b;
                double py = my / nm + beta * uy / nu;
                double pp = 1.0 + beta * beta + 2.0 * beta * mu / (nm * nu);
                sum[b] += py / sqrt(pp);
            }
            nw++;
        }
    double best = -2.0;
    for (int b = 0; b < NB; b++)
        if (sum[b] / nw > best) best = sum[b] / nw;
    *base = sum[0] / nw;
    free(m), free(u), free(r1), free(r2);
    return best;
}

static void test_calibration(void) {
    for (int seed = 1; seed <= 2; seed++)
        for (int k = 0; k < 2; k++) {
            double drift = k == 0 ? 0.5 : 0.0; /* the default, then none */
            lvt_synth_opts o;
            lvt_synth_defaults(&o);
            CHECK(o.drift == 0.5, "default drift %g", o.drift);
            o.articles = 200;
            o.seed = (uint64_t)seed;
            o.drift = drift;
            lvt_store s;
            lvt_err e = {{0}};
            CHECK(lvt_synth_generate(&o, &s, &e) == 0, "generate: %s", e.msg);
            lvt_inspect_opts io;
            lvt_inspect_defaults(&io);
            lvt_inspect_stats st;
            CHECK(lvt_inspect(&s, &io, &st, &e) == 0, "inspect: %s", e.msg);
            printf("seed %d drift %.1f: copy %.4f far %.4f adjacent %.4f (pairs %.4f) len mean %.1f min %lld "
                   "forward %.4f (x %.5f)\n",
                   seed, drift, st.copy_last, st.profile[0], st.adjacent, st.adjacent_pairs, st.len_mean,
                   (long long)st.len_min, st.forward_signal, st.forward_x);
            CHECK(st.copy_last >= BAND_COPY_LO && st.copy_last <= BAND_COPY_HI, "copy-last %g", st.copy_last);
            CHECK(st.profile[0] >= BAND_FAR_LO && st.profile[0] <= BAND_FAR_HI, "cos(ctx[0]) %g", st.profile[0]);
            CHECK(st.adjacent >= BAND_ADJ_LO && st.adjacent <= BAND_ADJ_HI, "adjacent %g", st.adjacent);
            for (int i = 0; i + 1 < 5; i++)
                CHECK(st.profile[i] < st.profile[i + 1], "profile must rise toward the target: %g %g", st.profile[i],
                      st.profile[i + 1]);
            CHECK(st.len_mean > 60.0 && st.len_mean < 80.0 && st.len_min >= 6 && st.len_max > 3 * st.len_median,
                  "length law: mean %g median %g max %lld", st.len_mean, st.len_median, (long long)st.len_max);
            if (drift > 0.0)
                CHECK(st.forward_signal > FWD_DEFAULT_MIN, "default drift: forward signal %g", st.forward_signal);
            else
                CHECK(fabs(st.forward_signal) < FWD_NONE_TOL, "drift 0: forward signal %g", st.forward_signal);

            /* the forward signal is real: an oracle that knows Q beats the context mean (the best
             * symmetric baseline) with drift, and gains nothing without it */
            double mean_cos, orc = oracle_cos(&o, &s, 5, &mean_cos);
            printf("  oracle %.4f vs context mean %.4f vs copy-last %.4f\n", orc, mean_cos, st.copy_last);
            if (drift > 0.0)
                CHECK(orc - mean_cos > ORACLE_GAIN_MIN && orc - st.copy_last > 0.1, "oracle %g mean %g", orc, mean_cos);
            else
                CHECK(orc - mean_cos < ORACLE_NONE_TOL, "drift 0: oracle %g mean %g", orc, mean_cos);

            /* time reversal keeps the score and keeps the symmetric statistics */
            reverse_articles(&s);
            lvt_inspect_stats rs;
            CHECK(lvt_inspect(&s, &io, &rs, &e) == 0, "inspect reversed: %s", e.msg);
            printf("  reversed: copy %.4f forward %.4f\n", rs.copy_last, rs.forward_signal);
            CHECK(near(rs.adjacent, st.adjacent, 1e-9), "reversal keeps adjacent coherence");
            CHECK(near(rs.copy_last, st.copy_last, 0.01), "reversal keeps copy-last: %g vs %g", rs.copy_last,
                  st.copy_last);
            CHECK(near(rs.forward_signal, st.forward_signal, 0.03), "reversal keeps the score: %g vs %g",
                  rs.forward_signal, st.forward_signal);
            lvt_store_free(&s);
        }
}

int main(void) {
    const char *dir = test_tmpdir("test_synth");
    test_hand_made(dir);
    test_determinism();
    test_calibration();
    return test_finish("test_synth");
}
