/* test_ops_fwd.c — forward checks of every CPU op against straightforward reference loops in
 * double: GEMM (all transpose combinations, leading dims, alpha/beta), broadcasts, row copies,
 * elementwise ops, reductions, LayerNorm, L2 normalise, activations, dropout, attention (with
 * and without causal mask and dropout) and AdamW; plus backend creation and memory ops. */
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "lvt/rng.h"
#include "test_ops_common.h"
#include "testutil.h"

static double maxrel(const float *got, const double *want, size_t n, double floor) {
    double m = 0.0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)got[i] - want[i]) / (fabs(want[i]) > floor ? fabs(want[i]) : floor);
        if (!(d <= m)) m = d; /* NaN propagates as a failure */
    }
    return m;
}

static void test_backend(void) {
    lvt_backend *be = NULL;
    lvt_err e = {{0}};
    CHECK(lvt_backend_create(&be, "cpu", -1, LVT_MATH_TF32, &e) == LVT_OK, "%s", e.msg);
    if (!be) return;
    CHECK(!strcmp(be->ops->name, "cpu"), "name %s", be->ops->name);
    CHECK(be->device == -1, "device %d", be->device);
    float *p = be->ops->alloc(be, 1000 * sizeof(float), &e);
    CHECK(p != NULL, "alloc: %s", e.msg);
    int nonzero = 0;
    for (int i = 0; i < 1000; i++) nonzero += p[i] != 0.0f;
    CHECK(nonzero == 0, "alloc not zero-filled");
    float h[1000], back[1000];
    for (int i = 0; i < 1000; i++) h[i] = (float)i;
    be->ops->to_device(be, p, h, sizeof h);
    float *q = be->ops->alloc(be, sizeof h, &e);
    be->ops->copy(be, q, p, sizeof h);
    be->ops->to_host(be, back, q, sizeof h);
    CHECK(!memcmp(back, h, sizeof h), "to_device/copy/to_host round trip");
    be->ops->zero(be, q, 10 * sizeof(float));
    be->ops->sync(be);
    CHECK(q[9] == 0.0f && q[10] == 10.0f, "zero: %g %g", q[9], q[10]);
    be->ops->free(be, p);
    be->ops->free(be, q);
    lvt_backend_destroy(be);

    be = NULL;
    CHECK(lvt_backend_create(&be, "bogus", -1, LVT_MATH_FP32, &e) == LVT_ERROR, "bogus accepted");
    CHECK(be == NULL, "bogus backend returned");
    CHECK_MSG(e.msg, "unknown backend 'bogus'");
    if (!lvt_cuda_available()) {
        CHECK(lvt_backend_create(&be, "cuda", 0, LVT_MATH_FP32, &e) == LVT_ERROR, "cuda accepted");
        CHECK_MSG(e.msg, "cuda");
        CHECK(lvt_backend_create(&be, "auto", -1, LVT_MATH_FP32, &e) == LVT_OK, "auto: %s", e.msg);
        if (be) CHECK(!strcmp(be->ops->name, "cpu"), "auto picked %s", be->ops->name);
        lvt_backend_destroy(be);
    }
}

static void test_gemm(lvt_backend *be, trng *r) {
    const int shapes[3][3] = {{7, 5, 6}, {33, 17, 65}, {70, 96, 130}};
    double worst = 0.0;
    for (int s = 0; s < 3; s++)
        for (int ta = 0; ta < 2; ta++)
            for (int tb = 0; tb < 2; tb++)
                for (int bz = 0; bz < 2; bz++) {
                    int M = shapes[s][0], N = shapes[s][1], K = shapes[s][2];
                    int ar = ta ? K : M, ac = ta ? M : K; /* stored A is ar x ac */
                    int br = tb ? N : K, bc = tb ? K : N;
                    int lda = ac + 3, ldb = bc + 5, ldc = N + 2;
                    float *A = fbuf((size_t)ar * lda), *B = fbuf((size_t)br * ldb);
                    float *C = fbuf((size_t)M * ldc);
                    double *want = calloc((size_t)M * ldc, sizeof(double));
                    trng_fill(r, A, (size_t)ar * lda, -1, 1);
                    trng_fill(r, B, (size_t)br * ldb, -1, 1);
                    trng_fill(r, C, (size_t)M * ldc, -1, 1);
                    float alpha = 0.75f, beta = bz ? 0.0f : -0.5f;
                    if (bz) /* beta == 0: C is not read (NaN must not leak) */
                        for (int i = 0; i < M; i++)
                            for (int j = 0; j < N; j++) C[(size_t)i * ldc + j] = NAN;
                    for (int i = 0; i < M; i++)
                        for (int j = 0; j < ldc; j++) {
                            if (j >= N) { /* padding: must stay as it was */
                                want[(size_t)i * ldc + j] = C[(size_t)i * ldc + j];
                                continue;
                            }
                            double acc = 0.0;
                            for (int kk = 0; kk < K; kk++) {
                                double a = ta ? A[(size_t)kk * lda + i] : A[(size_t)i * lda + kk];
                                double b = tb ? B[(size_t)j * ldb + kk] : B[(size_t)kk * ldb + j];
                                acc += a * b;
                            }
                            want[(size_t)i * ldc + j] =
                                alpha * acc + (bz ? 0.0 : beta * (double)C[(size_t)i * ldc + j]);
                        }
                    be->ops->gemm(be, ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
                    double err = 0.0;
                    for (int i = 0; i < M; i++)
                        for (int j = 0; j < ldc; j++) {
                            double d = fabs(C[(size_t)i * ldc + j] - want[(size_t)i * ldc + j]);
                            if (j >= N) d = d == 0.0 ? 0.0 : INFINITY; /* padding untouched */
                            if (!(d <= err)) err = d;
                        }
                    /* |terms| <= 1, K terms: fp32 error bound ~ K * 2^-24 * K, use 1e-6 * K */
                    CHECK(err <= 1e-6 * K, "gemm M%d N%d K%d ta%d tb%d beta%g: max abs err %g",
                          M, N, K, ta, tb, beta, err);
                    if (err > worst) worst = err;
                    free(A), free(B), free(C), free(want);
                }
    printf("gemm: 24 cases, max abs err %.3g\n", worst);
}

static void test_elementwise(lvt_backend *be, trng *r) {
    int outer = 37, inner = 29;
    size_t n = (size_t)outer * inner;
    float *y = fbuf(n), *y0 = fbuf(n), *t = fbuf(inner), *dt = fbuf(inner);
    trng_fill(r, y, n, -1, 1);
    trng_fill(r, t, inner, -1, 1);
    trng_fill(r, dt, inner, -1, 1);
    memcpy(y0, y, n * sizeof(float));
    float dt0[29];
    memcpy(dt0, dt, sizeof dt0);
    be->ops->add_bcast(be, y, t, outer, inner);
    int bad = 0;
    for (size_t i = 0; i < n; i++) bad += y[i] != y0[i] + t[i % inner];
    CHECK(bad == 0, "add_bcast: %d wrong", bad);
    be->ops->sum_bcast(be, y0, dt, outer, inner);
    double err = 0.0;
    for (int j = 0; j < inner; j++) {
        double s = dt0[j];
        for (int o = 0; o < outer; o++) s += y0[(size_t)o * inner + j];
        if (fabs(s - dt[j]) > err) err = fabs(s - dt[j]);
    }
    CHECK(err < 1e-5, "sum_bcast accumulates: err %g", err);

    /* copy_rows with leading dims */
    float src[6 * 10], dst[6 * 8];
    trng_fill(r, src, 60, -1, 1);
    for (int i = 0; i < 48; i++) dst[i] = -7.0f;
    be->ops->copy_rows(be, dst, 8, src + 2, 10, 6, 5);
    bad = 0;
    for (int i = 0; i < 6; i++)
        for (int j = 0; j < 8; j++) bad += dst[i * 8 + j] != (j < 5 ? src[i * 10 + 2 + j] : -7.0f);
    CHECK(bad == 0, "copy_rows: %d wrong", bad);

    /* add (aliasing), axpy, scale */
    float a[100], b[100], c[100], a0[100];
    trng_fill(r, a, 100, -1, 1);
    trng_fill(r, b, 100, -1, 1);
    memcpy(a0, a, sizeof a);
    be->ops->add(be, a, b, c, 100);
    be->ops->add(be, a, b, a, 100);
    bad = 0;
    for (int i = 0; i < 100; i++) bad += c[i] != a0[i] + b[i] || a[i] != c[i];
    CHECK(bad == 0, "add: %d wrong", bad);
    memcpy(a, a0, sizeof a);
    be->ops->axpy(be, -0.25f, b, a, 100);
    be->ops->scale(be, b, 3.0f, 100);
    double e1 = 0.0, e2 = 0.0;
    for (int i = 0; i < 100; i++) {
        e1 = fmax(e1, fabs(a[i] - (a0[i] - 0.25 * (b[i] / 3.0))));
        e2 = fmax(e2, fabs(b[i] - 3.0 * (double)(b[i] / 3.0f)));
    }
    CHECK(e1 < 1e-6 && e2 < 1e-6, "axpy %g scale %g", e1, e2);

    /* dot_rows with leading dims */
    float da[5 * 9], db[5 * 7], out[5];
    trng_fill(r, da, 45, -1, 1);
    trng_fill(r, db, 35, -1, 1);
    be->ops->dot_rows(be, da, 9, db, 7, out, 5, 6);
    err = 0.0;
    for (int m = 0; m < 5; m++) {
        double s = 0;
        for (int j = 0; j < 6; j++) s += (double)da[m * 9 + j] * db[m * 7 + j];
        err = fmax(err, fabs(s - out[m]));
    }
    CHECK(err < 1e-6, "dot_rows err %g", err);

    /* sum, sumsq in double over a large odd-sized buffer */
    size_t big = 3000017;
    float *x = fbuf(big);
    trng_fill(r, x, big, -1, 1.5f);
    double s = 0, ss = 0;
    for (size_t i = 0; i < big; i++) s += x[i], ss += (double)x[i] * x[i];
    double gs = be->ops->sum(be, x, big), gss = be->ops->sumsq(be, x, big);
    CHECK(fabs(gs - s) <= 1e-9 * fabs(s) + 1e-9, "sum %.17g vs %.17g", gs, s);
    CHECK(fabs(gss - ss) <= 1e-10 * ss, "sumsq %.17g vs %.17g", gss, ss);
    CHECK(be->ops->sum(be, x, 0) == 0.0 && be->ops->sumsq(be, x, 0) == 0.0, "empty sums");
    free(x);

    /* relu, gelu (exact, erf) */
    float xa[200], ya[200];
    trng_fill(r, xa, 200, -6, 6);
    xa[0] = 0.0f;
    be->ops->relu_fwd(be, xa, ya, 200);
    bad = 0;
    for (int i = 0; i < 200; i++) bad += ya[i] != (xa[i] > 0 ? xa[i] : 0.0f);
    CHECK(bad == 0, "relu: %d wrong", bad);
    be->ops->gelu_fwd(be, xa, ya, 200);
    double want[200];
    for (int i = 0; i < 200; i++) want[i] = 0.5 * xa[i] * (1.0 + erf(xa[i] / sqrt(2.0)));
    err = maxrel(ya, want, 200, 1.0); /* absolute below 1: 1+erf cancels for x << 0, as in torch */
    CHECK(err < 1e-6, "gelu err %g", err);
    free(y), free(y0), free(t), free(dt);
}

static void test_norms(lvt_backend *be, trng *r) {
    int M = 13, N = 67;
    size_t n = (size_t)M * N;
    float *x = fbuf(n), *y = fbuf(n), *g = fbuf(N), *b = fbuf(N), mean[13], rstd[13];
    double *want = calloc(n, sizeof(double));
    trng_fill(r, x, n, -2, 3);
    trng_fill(r, g, N, 0.5f, 1.5f);
    trng_fill(r, b, N, -0.5f, 0.5f);
    for (int j = 0; j < N; j++) x[5 * N + j] = 100.0f + 0.01f * (float)j; /* large offset row */
    be->ops->layernorm_fwd(be, x, g, b, y, mean, rstd, M, N, 1e-5f);
    double es = 0.0;
    for (int m = 0; m < M; m++) {
        double mu = 0, var = 0;
        for (int j = 0; j < N; j++) mu += x[m * N + j];
        mu /= N;
        for (int j = 0; j < N; j++) var += (x[m * N + j] - mu) * (x[m * N + j] - mu);
        var /= N; /* biased, as PyTorch */
        double rs = 1.0 / sqrt(var + 1e-5);
        for (int j = 0; j < N; j++) want[m * N + j] = (x[m * N + j] - mu) * rs * g[j] + b[j];
        es = fmax(es, fabs(mean[m] - mu) / fabs(mu) + fabs(rstd[m] - rs) / rs);
    }
    double err = maxrel(y, want, n, 1.0);
    CHECK(err < 2e-4, "layernorm fwd err %g", err); /* the offset row loses ~log2(1e4) bits */
    CHECK(es < 1e-5, "layernorm mean/rstd err %g", es);
    printf("layernorm fwd: max err %.3g (mean/rstd %.3g)\n", err, es);

    /* l2norm, with a zero row and a row below eps */
    for (int j = 0; j < N; j++) x[2 * N + j] = 0.0f, x[3 * N + j] = 1e-7f;
    float norms[13];
    float eps = 1e-4f;
    be->ops->l2norm_fwd(be, x, y, norms, M, N, eps);
    double en = 0.0;
    for (int m = 0; m < M; m++) {
        double ss = 0;
        for (int j = 0; j < N; j++) ss += (double)x[m * N + j] * x[m * N + j];
        double nr = sqrt(ss), d = nr > eps ? nr : eps;
        for (int j = 0; j < N; j++) want[m * N + j] = x[m * N + j] / d;
        en = fmax(en, fabs(norms[m] - nr) / (nr > 0 ? nr : 1));
    }
    err = maxrel(y, want, n, 1e-3);
    CHECK(err < 1e-5 && en < 1e-6, "l2norm err %g norms %g", err, en);
    free(x), free(y), free(g), free(b), free(want);
}

static void test_dropout_fwd(lvt_backend *be, trng *r) {
    int S = 64, P = 1001; /* enough draws that a shifted threshold changes some mask bits */
    size_t n = (size_t)S * P;
    float *x = fbuf(n), *y = fbuf(n);
    uint8_t *mask = calloc(n, 1);
    trng_fill(r, x, n, -1, 1);
    lvt_dropout_key key = {.seed = 99, .step = 4, .site = LVT_SITE_LAYER(2, 1), .sample_base = 17,
                           .p = 0.3f};
    be->ops->dropout_fwd(be, x, y, mask, S, P, &key);
    int bad = 0;
    for (int s = 0; s < S; s++)
        for (int e = 0; e < P; e++) {
            int keep = lvt_rng_unit(99, 4, LVT_SITE_LAYER(2, 1), 17 + s, e) >= 0.3f;
            size_t i = (size_t)s * P + e;
            bad += mask[i] != keep || y[i] != (keep ? x[i] * (1.0f / 0.7f) : 0.0f);
        }
    CHECK(bad == 0, "dropout fwd: %d elements differ from the documented keying", bad);
    key.p = 0.0f;
    memset(mask, 0, n);
    be->ops->dropout_fwd(be, x, y, mask, S, P, &key);
    bad = 0;
    for (size_t i = 0; i < n; i++) bad += y[i] != x[i] || mask[i] != 1;
    CHECK(bad == 0, "dropout p=0: %d wrong", bad);
    free(x), free(y), free(mask);
}

/* Reference attention in double; probs and mask per the ops.h contract. */
static void ref_attention(const float *q, int ldq, const float *k, int ldk, const float *v, int ldv,
                          double *out, int ldo, double *probs, int B, int Lq, int Lk, int H, int hd,
                          int causal, const lvt_dropout_key *key) {
    double *s = calloc((size_t)Lk, sizeof(double));
    for (int b = 0; b < B; b++)
        for (int h = 0; h < H; h++)
            for (int i = 0; i < Lq; i++) {
                double mx = -INFINITY, sum = 0;
                for (int j = 0; j < Lk; j++) {
                    double acc = 0;
                    for (int c = 0; c < hd; c++)
                        acc += (double)q[(size_t)(b * Lq + i) * ldq + h * hd + c] *
                               k[(size_t)(b * Lk + j) * ldk + h * hd + c];
                    s[j] = (causal && j > i) ? -INFINITY : acc / sqrt((double)hd);
                    mx = fmax(mx, s[j]);
                }
                for (int j = 0; j < Lk; j++) sum += (s[j] = exp(s[j] - mx));
                for (int c = 0; c < hd; c++) out[(size_t)(b * Lq + i) * ldo + h * hd + c] = 0;
                for (int j = 0; j < Lk; j++) {
                    double pj = s[j] / sum;
                    probs[(((size_t)b * H + h) * Lq + i) * Lk + j] = pj;
                    if (key && key->p > 0) {
                        float u = lvt_rng_unit(key->seed, key->step, key->site,
                                               (uint64_t)(key->sample_base + b),
                                               ((uint64_t)h * Lq + i) * Lk + j);
                        pj = u >= key->p ? pj / (1.0 - key->p) : 0.0;
                    }
                    for (int c = 0; c < hd; c++)
                        out[(size_t)(b * Lq + i) * ldo + h * hd + c] +=
                            pj * v[(size_t)(b * Lk + j) * ldv + h * hd + c];
                }
            }
    free(s);
}

static void test_attention_fwd(lvt_backend *be, trng *r) {
    /* (B, Lq, Lk, H, hd, causal, p) */
    const int cases[5][6] = {{2, 5, 5, 2, 4, 1}, {3, 4, 7, 2, 8, 0}, {2, 6, 6, 3, 5, 0},
                             {2, 10, 10, 8, 64, 1}, {1, 9, 3, 1, 3, 1}};
    for (int c = 0; c < 5; c++)
        for (int dp = 0; dp < 2; dp++) {
            int B = cases[c][0], Lq = cases[c][1], Lk = cases[c][2], H = cases[c][3];
            int hd = cases[c][4], causal = cases[c][5];
            int d = H * hd, ldq = 3 * d, ldk = 2 * d + 1, ldv = 2 * d + 1, ldo = d + 2;
            float *q = fbuf((size_t)B * Lq * ldq), *kv = fbuf((size_t)B * Lk * ldk);
            float *out = fbuf((size_t)B * Lq * ldo), *probs = fbuf((size_t)B * H * Lq * Lk);
            uint8_t *mask = calloc((size_t)B * H * Lq * Lk, 1);
            double *wout = calloc((size_t)B * Lq * ldo, sizeof(double));
            double *wprobs = calloc((size_t)B * H * Lq * Lk, sizeof(double));
            trng_fill(r, q, (size_t)B * Lq * ldq, -2, 2);
            trng_fill(r, kv, (size_t)B * Lk * ldk, -2, 2);
            const float *k = kv, *v = kv + d; /* k and v interleaved in one buffer */
            lvt_dropout_key key = {.seed = 5, .step = 2, .site = 40, .sample_base = 11, .p = 0.25f};
            be->ops->attention_fwd(be, q, ldq, k, ldk, v, ldv, out, ldo, probs, mask, B, Lq, Lk, H,
                                   hd, causal, dp ? &key : NULL);
            ref_attention(q, ldq, k, ldk, v, ldv, wout, ldo, wprobs, B, Lq, Lk, H, hd, causal,
                          dp ? &key : NULL);
            double eo = 0, ep = 0;
            int badmask = 0;
            for (int b = 0; b < B; b++)
                for (int i = 0; i < Lq; i++)
                    for (int cc = 0; cc < d; cc++) {
                        size_t o = (size_t)(b * Lq + i) * ldo + cc;
                        eo = fmax(eo, fabs(out[o] - wout[o]));
                    }
            for (size_t i = 0; i < (size_t)B * H * Lq * Lk; i++) {
                ep = fmax(ep, fabs(probs[i] - wprobs[i]));
                int h = (int)(i / ((size_t)Lq * Lk)) % H, b = (int)(i / ((size_t)H * Lq * Lk));
                size_t e = i % ((size_t)H * Lq * Lk);
                (void)h;
                int keep = !dp || lvt_rng_unit(5, 2, 40, (uint64_t)(11 + b), e) >= 0.25f;
                badmask += mask[i] != keep;
            }
            CHECK(eo < 2e-5 * sqrt((double)Lk) * (dp ? 1.5 : 1.0) && ep < 1e-6,
                  "attention case %d drop %d: out err %g probs err %g", c, dp, eo, ep);
            CHECK(badmask == 0, "attention case %d drop %d: %d mask entries wrong", c, dp, badmask);
            int pad = 0;
            for (int row = 0; row < B * Lq; row++)
                pad += out[(size_t)row * ldo + d] != 0.0f || out[(size_t)row * ldo + d + 1] != 0.0f;
            CHECK(pad == 0, "attention wrote outside its columns");
            printf("attention fwd B%d Lq%d Lk%d H%d hd%d causal%d drop%d: out err %.3g "
                   "probs err %.3g\n", B, Lq, Lk, H, hd, causal, dp, eo, ep);
            free(q), free(kv), free(out), free(probs), free(mask), free(wout), free(wprobs);
        }
}

static void test_adamw(lvt_backend *be, trng *r) {
    size_t n = 1000;
    float *p = fbuf(n), *g = fbuf(n), *m = fbuf(n), *v = fbuf(n);
    double *P = calloc(n, sizeof(double)), *Mm = calloc(n, sizeof(double));
    double *V = calloc(n, sizeof(double));
    trng_fill(r, p, n, -1, 1);
    for (size_t i = 0; i < n; i++) P[i] = p[i];
    float lr = 1e-3f, b1 = 0.9f, b2 = 0.999f, eps = 1e-8f, wd = 0.01f, gs = 0.5f;
    for (long t = 1; t <= 5; t++) {
        trng_fill(r, g, n, -1, 1);
        be->ops->adamw(be, p, g, m, v, n, lr, b1, b2, eps, wd, t, gs);
        for (size_t i = 0; i < n; i++) {
            double gi = (double)g[i] * gs;
            P[i] *= 1.0 - (double)lr * wd;
            /* the config's betas are the decimals 0.9 and 0.999 (see lvt_float_decimal) */
            Mm[i] = 0.9 * Mm[i] + (1 - 0.9) * gi;
            V[i] = 0.999 * V[i] + (1 - 0.999) * gi * gi;
            double mh = Mm[i] / (1 - pow(0.9, (double)t)), vh = V[i] / (1 - pow(0.999, (double)t));
            P[i] -= lr * mh / (sqrt(vh) + eps);
        }
    }
    double err = 0, errv = 0, vmax = 0;
    for (size_t i = 0; i < n; i++) {
        err = fmax(err, fabs(p[i] - P[i]));
        errv = fmax(errv, fabs(v[i] - V[i]));
        vmax = fmax(vmax, V[i]);
    }
    CHECK(err < 1e-6, "adamw 5 steps vs double formula: err %g", err);
    CHECK(errv < 1e-6 * vmax, "adamw v vs double formula: rel err %g", errv / vmax);
    /* float hyperparameters are read back as the decimals they came from */
    CHECK(lvt_float_decimal(0.999f) == 0.999 && lvt_float_decimal(0.9f) == 0.9 &&
              lvt_float_decimal(0.98f) == 0.98 && lvt_float_decimal(1e-8f) == 1e-8 &&
              lvt_float_decimal(0.0f) == 0.0 && lvt_float_decimal(-2.5f) == -2.5,
          "lvt_float_decimal of short decimals");
    float odd = nextafterf(0.999f, 1.0f);
    CHECK((float)lvt_float_decimal(odd) == odd, "lvt_float_decimal must round-trip");
    printf("adamw: 5 steps, max abs err vs double formula %.3g\n", err);
    free(p), free(g), free(m), free(v), free(P), free(Mm), free(V);
}

/* Results must not depend on the number of OpenMP threads (ranks and reruns compare bit for
 * bit): every reduction that crosses rows has a fixed order. Run with 1 and with 3 threads. */
static void test_thread_independence(lvt_backend *be, trng *r) {
#ifdef _OPENMP
    int M = 600, N = 512, B = 60, L = 10, H = 8, hd = 64;
    size_t n = (size_t)M * N, np = (size_t)B * H * L * L;
    float *x = fbuf(n), *dy = fbuf(n), *g = fbuf(N), *bb = fbuf(N), *mean = fbuf(M), *rstd = fbuf(M);
    trng_fill(r, x, n, -1, 1);
    trng_fill(r, dy, n, -1, 1);
    trng_fill(r, g, N, 0.5f, 1.5f);
    trng_fill(r, bb, N, -1, 1);
    float *res[2][8];
    double sums[2][2];
    uint8_t *masks[2];
    lvt_dropout_key key = {.seed = 8, .step = 1, .site = 33, .sample_base = 0, .p = 0.1f};
    int saved = omp_get_max_threads();
    for (int run = 0; run < 2; run++) {
        omp_set_num_threads(run == 0 ? 1 : 3);
        for (int k = 0; k < 8; k++) res[run][k] = fbuf(n);
        masks[run] = calloc(np, 1);
        float *y = res[run][0], *dx = res[run][1], *dgdb = res[run][2];
        be->ops->layernorm_fwd(be, x, g, bb, y, mean, rstd, M, N, 1e-5f);
        be->ops->layernorm_bwd(be, dy, x, mean, rstd, g, dx, dgdb, dgdb + N, M, N);
        be->ops->sum_bcast(be, dy, dgdb + 2 * N, M, N);
        /* attention on x viewed as [B*L, 512] = q = k = v, with dropout */
        float *out = res[run][3], *probs = res[run][4], *dq = res[run][5];
        be->ops->attention_fwd(be, x, N, x, N, x, N, out, N, probs, masks[run], B, L, L, H, hd, 1,
                               &key);
        be->ops->attention_bwd(be, dy, N, x, N, x, N, x, N, probs, masks[run], key.p, dq,
                               res[run][6], res[run][7], B, L, L, H, hd);
        sums[run][0] = be->ops->sum(be, dy, n);
        sums[run][1] = be->ops->sumsq(be, dy, n);
    }
    omp_set_num_threads(saved);
    int same = 1;
    for (int k = 0; k < 8; k++) same &= !memcmp(res[0][k], res[1][k], n * sizeof(float));
    same &= !memcmp(masks[0], masks[1], np);
    CHECK(same, "layernorm/sum_bcast/attention results differ between 1 and 3 threads");
    CHECK(sums[0][0] == sums[1][0] && sums[0][1] == sums[1][1], "sum/sumsq depend on threads");
    for (int run = 0; run < 2; run++) {
        for (int k = 0; k < 8; k++) free(res[run][k]);
        free(masks[run]);
    }
    free(x), free(dy), free(g), free(bb), free(mean), free(rstd);
#else
    (void)be, (void)r;
    printf("built without OpenMP: thread independence not tested\n");
#endif
}

int main(void) {
    trng r = {0x1234567887654321ull};
    test_backend();
    lvt_backend *be = open_cpu();
    test_gemm(be, &r);
    test_elementwise(be, &r);
    test_norms(be, &r);
    test_dropout_fwd(be, &r);
    test_attention_fwd(be, &r);
    test_adamw(be, &r);
    test_thread_independence(be, &r);
    lvt_backend_destroy(be);
    return test_finish("test_ops_fwd");
}
