/* test_ops_dropout.c — keyed dropout: keep rate within a binomial tolerance for several p,
 * exact reproducibility, different masks per step/site/seed, and rank independence: the mask
 * of global sample g is the same whether it is computed in a batch starting at g or at g-3
 * (plain dropout and attention dropout alike). */
#include <string.h>

#include "test_ops_common.h"
#include "testutil.h"

static void test_rate(lvt_backend *be) {
    const float ps[4] = {0.05f, 0.1f, 0.3f, 0.5f};
    int S = 64, P = 4096;
    size_t n = (size_t)S * P;
    float *x = fbuf(n), *y = fbuf(n);
    uint8_t *mask = calloc(n, 1);
    for (size_t i = 0; i < n; i++) x[i] = 1.0f;
    for (int t = 0; t < 4; t++) {
        float p = ps[t];
        lvt_dropout_key key = {
            .seed = 2024, .step = (uint64_t)t, .site = 17, .sample_base = 0, .p = p};
        be->ops->dropout_fwd(be, x, y, mask, S, P, &key);
        size_t kept = 0;
        double ysum = 0.0;
        int bad = 0;
        for (size_t i = 0; i < n; i++) {
            kept += mask[i];
            ysum += y[i];
            bad += y[i] != (mask[i] ? 1.0f / (1.0f - p) : 0.0f);
        }
        double rate = (double)kept / n, sd = sqrt(p * (1.0 - p) / n);
        /* 5 binomial standard deviations */
        CHECK(fabs(rate - (1.0 - p)) <= 5 * sd, "p=%g keep rate %.5f expected %.5f (sd %.2g)", p,
              rate, 1.0 - p, sd);
        CHECK(bad == 0, "p=%g: %d outputs not x*keep/(1-p)", p, bad);
        /* E[y] = x: inverted dropout keeps the mean */
        CHECK(fabs(ysum / n - 1.0) <= 5 * sd / (1.0 - p), "p=%g mean of y %.5f", p, ysum / n);
        /* per-sample rates are also consistent (no sample is degenerate) */
        int worst = 0;
        for (int s = 0; s < S; s++) {
            size_t ks = 0;
            for (int e = 0; e < P; e++) ks += mask[(size_t)s * P + e];
            double sds = sqrt(p * (1.0 - p) / P);
            if (fabs((double)ks / P - (1.0 - p)) > 6 * sds) worst++;
        }
        CHECK(worst == 0, "p=%g: %d samples with an implausible keep rate", p, worst);
        printf("dropout p=%.2f: keep rate %.5f (expected %.5f, sd %.1e) over %zu elements\n", p,
               rate, 1.0 - p, sd, n);
    }
    free(x), free(y), free(mask);
}

static void test_keys(lvt_backend *be, trng *r) {
    int S = 8, P = 300;
    size_t n = (size_t)S * P;
    float *x = fbuf(n), *y1 = fbuf(n), *y2 = fbuf(n);
    uint8_t *m1 = calloc(n, 1), *m2 = calloc(n, 1);
    trng_fill(r, x, n, -1, 1);
    lvt_dropout_key key = {.seed = 7, .step = 100, .site = 24, .sample_base = 40, .p = 0.5f};
    be->ops->dropout_fwd(be, x, y1, m1, S, P, &key);
    be->ops->dropout_fwd(be, x, y2, m2, S, P, &key);
    CHECK(!memcmp(m1, m2, n) && !memcmp(y1, y2, n * sizeof(float)), "not reproducible");
    /* in-place (y == x) gives the same result */
    float *xc = fbuf(n);
    memcpy(xc, x, n * sizeof(float));
    be->ops->dropout_fwd(be, xc, xc, m2, S, P, &key);
    CHECK(!memcmp(xc, y1, n * sizeof(float)), "in-place dropout differs");
    free(xc);
    /* changing any part of the key changes about half of a p=0.5 mask */
    for (int variant = 0; variant < 4; variant++) {
        lvt_dropout_key k2 = key;
        if (variant == 0) k2.step++;
        if (variant == 1) k2.site++;
        if (variant == 2) k2.seed++;
        if (variant == 3) k2.sample_base++;
        be->ops->dropout_fwd(be, x, y2, m2, S, P, &k2);
        size_t diff = 0;
        for (size_t i = 0; i < n; i++) diff += m1[i] != m2[i];
        double frac = (double)diff / n; /* expected 1/2, sd 0.5/sqrt(n) = 0.01 */
        CHECK(frac > 0.44 && frac < 0.56, "variant %d: %.3f of the mask differs", variant, frac);
    }
    free(x), free(y1), free(y2), free(m1), free(m2);
}

static void test_offset(lvt_backend *be, trng *r) {
    /* plain dropout: batch A covers samples 10..17, batch B covers 7..14; overlap 10..14 */
    int S = 8, P = 123;
    size_t n = (size_t)S * P;
    float *x = fbuf(n), *ya = fbuf(n), *yb = fbuf(n), *xb = fbuf(n);
    uint8_t *ma = calloc(n, 1), *mb = calloc(n, 1);
    trng_fill(r, x, n, -1, 1);
    for (int s = 0; s < S; s++) /* xb row s = sample 7+s = x row s-3 */
        for (int e = 0; e < P; e++)
            xb[(size_t)s * P + e] = s >= 3 ? x[(size_t)(s - 3) * P + e] : 0.5f;
    lvt_dropout_key ka = {.seed = 3, .step = 8, .site = 26, .sample_base = 10, .p = 0.2f};
    lvt_dropout_key kb = ka;
    kb.sample_base = 7;
    be->ops->dropout_fwd(be, x, ya, ma, S, P, &ka);
    be->ops->dropout_fwd(be, xb, yb, mb, S, P, &kb);
    int bad = 0;
    for (int g = 10; g <= 14; g++)
        bad += memcmp(ma + (size_t)(g - 10) * P, mb + (size_t)(g - 7) * P, P) != 0 ||
               memcmp(ya + (size_t)(g - 10) * P, yb + (size_t)(g - 7) * P, P * sizeof(float)) != 0;
    CHECK(bad == 0, "dropout: %d overlapping samples differ between batch offsets", bad);
    /* and a non-overlapping sample differs */
    CHECK(memcmp(ma, mb, P) != 0, "samples 10 and 7 have the same mask");

    /* attention dropout: same property with per_sample = H*Lq*Lk */
    int B = 6, L = 5, H = 2, hd = 3, d = H * hd;
    size_t nq = (size_t)B * L * d, np = (size_t)B * H * L * L;
    float *q = fbuf(nq), *qb = fbuf(nq), *out = fbuf(nq), *outb = fbuf(nq);
    float *pr = fbuf(np), *prb = fbuf(np);
    uint8_t *dm = calloc(np, 1), *dmb = calloc(np, 1);
    trng_fill(r, q, nq, -1, 1);
    for (int b = 0; b < B; b++)
        for (size_t i = 0; i < (size_t)L * d; i++)
            qb[(size_t)b * L * d + i] = b >= 3 ? q[(size_t)(b - 3) * L * d + i] : 0.25f;
    lvt_dropout_key aa = {.seed = 3, .step = 8, .site = 27, .sample_base = 20, .p = 0.3f};
    lvt_dropout_key ab = aa;
    ab.sample_base = 17;
    be->ops->attention_fwd(be, q, d, q, d, q, d, out, d, pr, dm, B, L, L, H, hd, 1, &aa);
    be->ops->attention_fwd(be, qb, d, qb, d, qb, d, outb, d, prb, dmb, B, L, L, H, hd, 1, &ab);
    size_t per = (size_t)H * L * L;
    bad = 0;
    for (int g = 20; g <= 22; g++)
        bad += memcmp(dm + (size_t)(g - 20) * per, dmb + (size_t)(g - 17) * per, per) != 0 ||
               memcmp(out + (size_t)(g - 20) * L * d, outb + (size_t)(g - 17) * L * d,
                      (size_t)L * d * sizeof(float)) != 0;
    CHECK(bad == 0, "attention dropout: %d overlapping samples differ between batch offsets", bad);
    size_t dropped = 0;
    for (size_t i = 0; i < np; i++) dropped += !dm[i];
    CHECK(dropped > 0 && dropped < np, "attention dropout dropped %zu of %zu", dropped, np);
    free(x), free(ya), free(yb), free(xb), free(ma), free(mb);
    free(q), free(qb), free(out), free(outb), free(pr), free(prb), free(dm), free(dmb);
}

int main(void) {
    trng r = {0xabcdef0123456789ull};
    lvt_backend *be = open_cpu();
    test_rate(be);
    test_keys(be, &r);
    test_offset(be, &r);
    lvt_backend_destroy(be);
    return test_finish("test_ops_dropout");
}
