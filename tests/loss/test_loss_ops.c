/* test_loss_ops.c — the four ops primitives of the P4 objective (vmap, reduce_sum,
 * scale_rows_add, context_drop) on the CPU backend against straightforward loops written here:
 * every vmap op with b per element, b broadcast (stride 0), b NULL and c NULL; reduce_sum against
 * a double sum; scale_rows_add with coef per row / one scalar / NULL and leading dimensions
 * (padding untouched); context_drop: the selected samples are exactly those with
 * lvt_rng_unit(seed, step, LVT_SITE_CONTEXT_DROP, sample_base + s, 0) < p, the replaced row is
 * unit-norm Gaussian-looking noise (moments), zeros or the mean of rows 0..L-2, every other row is
 * untouched, and the result does not depend on how the batch is split (sample_base). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lvt/ops.h"
#include "lvt/rng.h"
#include "testutil.h"

static float urand(uint32_t site, uint64_t i, float lo, float hi) {
    return lo + (hi - lo) * lvt_rng_unit(2024, 0, site, 0, i);
}

/* the element functions, written out from the ops.h contract */
static double vmap_ref(int op, double a, double b, double c, double s0, double s1) {
    switch (op) {
    case LVT_VMAP_HINGE: return c * fmax(0.0, s0 - (a - b));
    case LVT_VMAP_HINGE_GATE: return s0 - (a - b) > 0 ? c : 0.0;
    case LVT_VMAP_SIGMOID: return 1.0 / (1.0 + exp(-(a - s0) / s1));
    case LVT_VMAP_RELU_SHIFT: return a > s0 ? s1 * (a - s0) : 0.0;
    case LVT_VMAP_STEP_SHIFT: return a > s0 ? s1 : 0.0;
    case LVT_VMAP_MUL_AFFINE: return s0 * a * (s1 + b) * c;
    case LVT_VMAP_DIV_COUNT: return s0 * a * c / fmax(b, 1.0);
    case LVT_VMAP_AFFINE: return s0 * a + s1;
    }
    return NAN;
}

static void test_vmap(lvt_backend *be) {
    const lvt_ops *o = be->ops;
    enum { N = 41 };
    float a[N], b[N], c[N], y[N];
    const char *names[] = {"HINGE", "HINGE_GATE", "SIGMOID", "RELU_SHIFT", "STEP_SHIFT", "MUL_AFFINE",
                           "DIV_COUNT", "AFFINE"};
    for (int i = 0; i < N; i++) {
        a[i] = urand(1, (uint64_t)i, -1.0f, 1.0f);
        b[i] = urand(2, (uint64_t)i, -1.0f, 3.0f); /* DIV_COUNT sees counts below and above 1 */
        c[i] = urand(3, (uint64_t)i, -2.0f, 2.0f);
    }
    b[0] = 2.5f; /* the broadcast value */
    const float s0 = 0.13f, s1 = 0.37f;
    for (int op = LVT_VMAP_HINGE; op <= LVT_VMAP_AFFINE; op++) {
        /* variants: b per element, b broadcast, b NULL; c given or NULL */
        for (int var = 0; var < 6; var++) {
            int bmode = var % 3, cnull = var / 3;
            const float *bp = bmode == 2 ? NULL : b;
            int bs = bmode == 0 ? 1 : 0;
            const float *cp = cnull ? NULL : c;
            for (int i = 0; i < N; i++) y[i] = NAN;
            o->vmap(be, op, a, bp, bs, cp, s0, s1, y, N);
            double worst = 0;
            int nonzero = 0;
            for (int i = 0; i < N; i++) {
                double bv = bmode == 2 ? 0.0 : bmode == 1 ? b[0] : b[i];
                double cv = cnull ? 1.0 : c[i];
                double r = vmap_ref(op, a[i], bv, cv, s0, s1);
                double d = fabs(y[i] - r) / fmax(1.0, fabs(r));
                if (!(d <= worst)) worst = isnan(d) ? INFINITY : d;
                nonzero += r != 0.0;
            }
            CHECK(worst <= 1e-6, "vmap %s (b %s, c %s): max rel dev %g", names[op],
                  bmode == 0 ? "per element" : bmode == 1 ? "broadcast" : "NULL", cnull ? "NULL" : "given",
                  worst);
            /* the inputs exercise both sides of every kink */
            CHECK(nonzero > 0, "vmap %s: all reference values are zero (weak test data)", names[op]);
        }
    }
    /* the kink of the hinge: exactly at s0 == a - b the hinge and the gate are 0 */
    float ka[1] = {0.5f}, kb[1] = {0.25f}, ky[1];
    o->vmap(be, LVT_VMAP_HINGE_GATE, ka, kb, 1, NULL, 0.25f, 0, ky, 1);
    CHECK(ky[0] == 0.0f, "gate at the kink is %g, expected 0", ky[0]);
}

static void test_reduce_sum(lvt_backend *be) {
    const lvt_ops *o = be->ops;
    enum { N = 1003 };
    float *x = malloc(sizeof(float) * N), out[2] = {0, -7.0f}; /* cpu backend memory is host memory */
    double s = 0;
    for (int i = 0; i < N; i++) {
        x[i] = urand(4, (uint64_t)i, -1.0f, 2.0f);
        s += x[i];
    }
    o->reduce_sum(be, x, N, -0.25f, out);
    CHECK(fabs(out[0] - (-0.25 * s)) <= 1e-6 * fabs(s), "reduce_sum %.9g vs %.9g", out[0], -0.25 * s);
    CHECK(out[1] == -7.0f, "reduce_sum wrote past out[0]");
    o->reduce_sum(be, x, 0, 1.0f, out);
    CHECK(out[0] == 0.0f, "reduce_sum of nothing is %g", out[0]);
    o->reduce_sum(be, x, 1, 3.0f, out);
    CHECK(out[0] == 3.0f * x[0], "reduce_sum of one element");
    free(x);
}

static void test_scale_rows_add(lvt_backend *be) {
    const lvt_ops *o = be->ops;
    enum { M = 6, NC = 7, LDX = 9, LDY = 11 };
    float x[M * LDX], y0[M * LDY], y[M * LDY], coef[M * 2];
    for (int i = 0; i < M * LDX; i++) x[i] = urand(5, (uint64_t)i, -1, 1);
    for (int i = 0; i < M * LDY; i++) y0[i] = urand(6, (uint64_t)i, -1, 1);
    for (int i = 0; i < M * 2; i++) coef[i] = urand(7, (uint64_t)i, -2, 2);
    coef[2] = 0.0f; /* a zero coefficient row */
    const float alpha = -0.7f;
    const char *what[] = {"coef stride 1", "coef stride 2", "coef stride 0", "coef NULL"};
    for (int mode = 0; mode < 4; mode++) {
        memcpy(y, y0, sizeof y);
        const float *cp = mode == 3 ? NULL : coef;
        int cs = mode == 0 ? 1 : mode == 1 ? 2 : 0;
        o->scale_rows_add(be, cp, cs, alpha, x, LDX, y, LDY, M, NC);
        double worst = 0;
        int pad_ok = 1;
        for (int m = 0; m < M; m++) {
            double f = alpha * (mode == 3 ? 1.0 : coef[(size_t)m * cs]);
            for (int j = 0; j < LDY; j++) {
                if (j < NC) {
                    double r = y0[m * LDY + j] + f * x[m * LDX + j];
                    worst = fmax(worst, fabs(y[m * LDY + j] - r));
                } else if (y[m * LDY + j] != y0[m * LDY + j]) {
                    pad_ok = 0;
                }
            }
        }
        CHECK(worst <= 1e-6, "scale_rows_add %s: max dev %g", what[mode], worst);
        CHECK(pad_ok, "scale_rows_add %s wrote outside the N columns", what[mode]);
    }
    /* a row with factor 0 is left untouched even when x holds NaN there (masked samples) */
    memcpy(y, y0, sizeof y);
    for (int j = 0; j < NC; j++) x[2 * LDX + j] = NAN;
    o->scale_rows_add(be, coef, 1, alpha, x, LDX, y, LDY, M, NC);
    CHECK(!memcmp(y + 2 * LDY, y0 + 2 * LDY, sizeof(float) * LDY), "a zero-factor row with NaN input was modified");
}

/* context_drop: fills ctx with unit rows, applies the op, checks every row */
static void test_context_drop(lvt_backend *be) {
    const lvt_ops *o = be->ops;
    enum { B = 300, L = 5, D = 65 }; /* odd D: the last Box-Muller pair is cut */
    const size_t n = (size_t)B * L * D;
    float *orig = malloc(sizeof(float) * n), *ctx = malloc(sizeof(float) * n);
    float *part = malloc(sizeof(float) * n);
    for (size_t r = 0; r < (size_t)B * L; r++) {
        double s = 0;
        for (int j = 0; j < D; j++) {
            orig[r * D + j] = urand(8, r * D + j, -1, 1);
            s += (double)orig[r * D + j] * orig[r * D + j];
        }
        for (int j = 0; j < D; j++) orig[r * D + j] = (float)(orig[r * D + j] / sqrt(s));
    }
    lvt_dropout_key key = {.seed = 31337, .step = 123456789012ull, .site = 99, .sample_base = 5000000000ll,
                           .p = 0.3f};
    for (int mode = 0; mode < 3; mode++) {
        const char *mname = mode == 0 ? "noise" : mode == 1 ? "zero" : "mean";
        memcpy(ctx, orig, sizeof(float) * n);
        o->context_drop(be, ctx, B, L, D, &key, mode);
        int n_drop = 0, sel_ok = 1, other_ok = 1, row_ok = 1;
        double m1 = 0, m2 = 0, m4 = 0, cnt = 0, worst_norm = 0;
        for (int s = 0; s < B; s++) {
            int want = lvt_rng_unit(key.seed, key.step, LVT_SITE_CONTEXT_DROP, (uint64_t)(key.sample_base + s), 0) <
                       key.p;
            const float *a = orig + (size_t)s * L * D, *c = ctx + (size_t)s * L * D;
            if (memcmp(a, c, sizeof(float) * (size_t)(L - 1) * D)) other_ok = 0;
            int changed = memcmp(a + (size_t)(L - 1) * D, c + (size_t)(L - 1) * D, sizeof(float) * D) != 0;
            if (changed != want) sel_ok = 0;
            if (!want) continue;
            n_drop++;
            const float *last = c + (size_t)(L - 1) * D;
            if (mode == 0) {
                double nn = 0;
                for (int j = 0; j < D; j++) {
                    nn += (double)last[j] * last[j];
                    double z = last[j] * sqrt((double)D); /* ≈ N(0, 1) for a unit Gaussian direction */
                    m1 += z, m2 += z * z, m4 += z * z * z * z, cnt++;
                }
                worst_norm = fmax(worst_norm, fabs(sqrt(nn) - 1.0));
            } else {
                for (int j = 0; j < D; j++) {
                    double r = 0;
                    if (mode == 2) {
                        for (int i = 0; i < L - 1; i++) r += a[(size_t)i * D + j];
                        r /= (L - 1);
                    }
                    if (fabs(last[j] - r) > 1e-6) row_ok = 0;
                }
            }
        }
        CHECK(sel_ok, "%s: the replaced samples are not those with rng_unit(...) < p", mname);
        CHECK(other_ok, "%s: rows 0..L-2 were modified", mname);
        CHECK(n_drop > 0.2 * B && n_drop < 0.4 * B, "%s: %d of %d samples dropped at p=0.3", mname, n_drop, B);
        if (mode == 0) {
            m1 /= cnt, m2 /= cnt, m4 /= cnt;
            CHECK(worst_norm < 1e-5, "noise rows are not unit norm (dev %g)", worst_norm);
            CHECK(fabs(m1) < 0.03 && fabs(m2 - 1.0) < 1e-3 && m4 > 2.7 && m4 < 3.3,
                  "noise does not look Gaussian: mean %.4f, var %.4f, kurtosis %.3f over %.0f entries", m1, m2, m4, cnt);
            /* independent draws per sample: two dropped samples' noise rows are not parallel */
            printf("context_drop noise: %d/%d dropped, z mean %.4f var %.4f kurtosis %.3f\n", n_drop, B, m1, m2, m4);
        } else {
            CHECK(row_ok, "%s: the replaced row is not the %s row", mname, mode == 1 ? "zero" : "mean");
        }
        /* the same batch cut in three parts (sample_base advanced) gives the same bytes */
        memcpy(part, orig, sizeof(float) * n);
        int cuts[4] = {0, 17, 160, B};
        for (int k = 0; k < 3; k++) {
            lvt_dropout_key kk = key;
            kk.sample_base = key.sample_base + cuts[k];
            o->context_drop(be, part + (size_t)cuts[k] * L * D, cuts[k + 1] - cuts[k], L, D, &kk, mode);
        }
        CHECK(!memcmp(part, ctx, sizeof(float) * n), "%s: the result depends on how the batch is split", mname);
    }
    /* a different step selects different samples; p = 0 and p = 1 are none and all */
    memcpy(ctx, orig, sizeof(float) * n);
    lvt_dropout_key k0 = key;
    k0.p = 0.0f;
    o->context_drop(be, ctx, B, L, D, &k0, 0);
    CHECK(!memcmp(ctx, orig, sizeof(float) * n), "p = 0 changed the context");
    k0.p = 1.0f;
    o->context_drop(be, ctx, B, L, D, &k0, 1);
    int all = 1;
    for (int s = 0; s < B; s++)
        for (int j = 0; j < D; j++) all &= ctx[((size_t)s * L + L - 1) * D + j] == 0.0f;
    CHECK(all, "p = 1 did not replace every sample");
    free(orig), free(ctx), free(part);
}

int main(void) {
    lvt_err e = {{0}};
    lvt_backend *be = NULL;
    if (lvt_backend_create(&be, "cpu", -1, LVT_MATH_FP32, &e)) {
        fprintf(stderr, "backend: %s\n", e.msg);
        return 1;
    }
    test_vmap(be);
    test_reduce_sum(be);
    test_scale_rows_add(be);
    test_context_drop(be);
    lvt_backend_destroy(be);
    return test_finish("test_loss_ops");
}
