/* test_cpu_bf16.c — the CPU backend's bf16 GEMM (train.math = bf16 on AMX, src/cpu/cpu_amx.c)
 * through the public ops table, against references computed here:
 *   1. exact: operands that bf16 holds exactly (multiples of 1/8 in [-4, 4)) and sums fp32 holds
 *      exactly, so op(A) op(B) must equal the fp32 reference bit for bit — all four transposes,
 *      shapes with row/column/K tails, alpha/beta (beta = 0 overwrites a NaN-filled C);
 *   2. rounding: random operands; the result matches the product of the bf16-rounded operands
 *      (accumulated in double) to fp32 accumulation error, differs from fp32 sgemm (so the bf16
 *      path ran), and stays within bf16's input rounding of it;
 *   3. the result does not depend on the thread count (1 and 2 threads bit-identical);
 *   4. the backend says what it computes in (lvt_backend_math_describe / lvt_backend_gemm_math),
 *      and an fp32 backend is untouched;
 *   5. op(B) packed once inside a constant window (ops->const_window, the step's parameters):
 *      the same bits as packing it every call, reused while the window lasts (a change to B the
 *      caller promised not to make is not seen), dropped when it closes, and never kept for a B
 *      outside the window.
 * Skips (77) on a CPU or kernel without AMX-BF16. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "lvt/ops.h"
#include "lvt/rng.h"

static int failures;
#define CHECK(c, ...)                                                                              \
    do {                                                                                           \
        if (!(c)) {                                                                                \
            printf("FAIL %s:%d: ", __FILE__, __LINE__);                                            \
            printf(__VA_ARGS__);                                                                   \
            printf("\n");                                                                          \
            failures++;                                                                            \
        }                                                                                          \
    } while (0)

/* round to nearest even bf16 and back (the reference's view of an operand) */
static float bf16_round(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    if ((u & 0x7f800000u) == 0) u &= 0x80000000u;
    else u = (u + 0x7fffu + ((u >> 16) & 1u)) & 0xffff0000u;
    memcpy(&f, &u, 4);
    return f;
}

static float opa(const float *A, int lda, int ta, int i, int k) { return ta ? A[(size_t)k * lda + i] : A[(size_t)i * lda + k]; }
static float opb(const float *B, int ldb, int tb, int k, int j) { return tb ? B[(size_t)j * ldb + k] : B[(size_t)k * ldb + j]; }

typedef struct {
    int M, N, K, ta, tb;
    int lda, ldb, ldc;
    float *A, *B, *C;
} gemm_case;

static void setup(gemm_case *g, int M, int N, int K, int ta, int tb, int exact, uint64_t seed) {
    g->M = M, g->N = N, g->K = K, g->ta = ta, g->tb = tb;
    g->lda = (ta ? M : K) + 3; /* leading dimensions wider than the rows: strided operands */
    g->ldb = (tb ? K : N) + 5;
    g->ldc = N + 2;
    size_t na = (size_t)(ta ? K : M) * g->lda, nb = (size_t)(tb ? N : K) * g->ldb, nc = (size_t)M * g->ldc;
    g->A = malloc(na * sizeof(float));
    g->B = malloc(nb * sizeof(float));
    g->C = malloc(nc * sizeof(float));
    for (size_t i = 0; i < na; i++) {
        float u = lvt_rng_unit(seed, 1, 1, 0, i);
        g->A[i] = exact ? floorf(u * 64.0f - 32.0f) / 8.0f : 2.0f * u - 1.0f;
    }
    for (size_t i = 0; i < nb; i++) {
        float u = lvt_rng_unit(seed, 1, 2, 0, i);
        g->B[i] = exact ? floorf(u * 64.0f - 32.0f) / 8.0f : 2.0f * u - 1.0f;
    }
    for (size_t i = 0; i < nc; i++) g->C[i] = lvt_rng_unit(seed, 1, 3, 0, i) - 0.5f;
}

static void release(gemm_case *g) {
    free(g->A);
    free(g->B);
    free(g->C);
}

static void run(lvt_backend *be, const gemm_case *g, float alpha, float beta, float *C) {
    memcpy(C, g->C, (size_t)g->M * g->ldc * sizeof(float));
    be->ops->gemm(be, g->ta, g->tb, g->M, g->N, g->K, alpha, g->A, g->lda, g->B, g->ldb, beta, C, g->ldc);
}

/* 1: exact operands, exact sums: bit-identical to the fp32 reference (float accumulation of exact terms) */
static void test_exact(lvt_backend *be) {
    const int shapes[][3] = {{37, 45, 70}, {64, 512, 512}, {16, 16, 32}, {1, 1, 1}, {33, 17, 95}};
    const float ab[][2] = {{1.0f, 0.0f}, {0.5f, 1.0f}, {-2.0f, 0.25f}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int t = 0; t < 4; t++)
            for (size_t k = 0; k < sizeof ab / sizeof ab[0]; k++) {
                gemm_case g;
                setup(&g, shapes[s][0], shapes[s][1], shapes[s][2], t & 1, t >> 1, 1, 11 + s);
                float alpha = ab[k][0], beta = ab[k][1];
                if (beta == 0.0f) /* BLAS semantics: beta 0 overwrites whatever C held, NaN included */
                    for (size_t i = 0; i < (size_t)g.M * g.ldc; i++) g.C[i] = NAN;
                float *C = malloc((size_t)g.M * g.ldc * sizeof(float));
                run(be, &g, alpha, beta, C);
                int bad = 0;
                for (int i = 0; i < g.M && !bad; i++)
                    for (int j = 0; j < g.N; j++) {
                        double acc = 0.0; /* exact: |terms| are multiples of 1/64 below 2^10 */
                        for (int q = 0; q < g.K; q++) acc += (double)opa(g.A, g.lda, g.ta, i, q) * opb(g.B, g.ldb, g.tb, q, j);
                        float want = alpha * (float)acc + (beta == 0.0f ? 0.0f : beta * g.C[(size_t)i * g.ldc + j]);
                        float got = C[(size_t)i * g.ldc + j];
                        if (got != want) {
                            CHECK(0, "exact %dx%dx%d ta=%d tb=%d alpha=%g beta=%g: C[%d,%d] = %.9g, want %.9g", g.M, g.N,
                                  g.K, g.ta, g.tb, alpha, beta, i, j, got, want);
                            bad = 1;
                            break;
                        }
                    }
                /* the padding columns past N are never written */
                for (int i = 0; i < g.M; i++)
                    for (int j = g.N; j < g.ldc; j++) {
                        float a = C[(size_t)i * g.ldc + j], b = g.C[(size_t)i * g.ldc + j];
                        CHECK(memcmp(&a, &b, 4) == 0, "exact: C[%d,%d] beyond N written", i, j);
                    }
                free(C);
                release(&g);
            }
}

/* 2 and 3: random operands */
static void test_rounding(lvt_backend *be, lvt_backend *fp32) {
    const int shapes[][3] = {{320, 512, 512}, {64, 768, 512}, {50, 70, 300}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int t = 0; t < 4; t++) {
            gemm_case g;
            setup(&g, shapes[s][0], shapes[s][1], shapes[s][2], t & 1, t >> 1, 0, 101 + s);
            size_t nc = (size_t)g.M * g.ldc;
            float *C = malloc(nc * sizeof(float)), *C1 = malloc(nc * sizeof(float)), *F = malloc(nc * sizeof(float));
            run(be, &g, 1.0f, 0.0f, C);
            run(fp32, &g, 1.0f, 0.0f, F);
#ifdef _OPENMP
            int nt = omp_get_max_threads();
            omp_set_num_threads(1);
            run(be, &g, 1.0f, 0.0f, C1);
            omp_set_num_threads(nt);
            CHECK(memcmp(C, C1, nc * sizeof(float)) == 0, "%dx%dx%d ta=%d tb=%d: 1 thread differs from %d", g.M, g.N,
                  g.K, g.ta, g.tb, nt);
#endif
            double worst_acc = 0, worst_in = 0;
            int differs = 0;
            for (int i = 0; i < g.M; i++)
                for (int j = 0; j < g.N; j++) {
                    double acc = 0, mag = 0;
                    for (int q = 0; q < g.K; q++) {
                        double x = bf16_round(opa(g.A, g.lda, g.ta, i, q)), y = bf16_round(opb(g.B, g.ldb, g.tb, q, j));
                        acc += x * y;
                        mag += fabs(x * y);
                    }
                    double got = C[(size_t)i * g.ldc + j], f = F[(size_t)i * g.ldc + j];
                    double ea = fabs(got - acc) / mag, ei = fabs(got - f) / mag;
                    if (ea > worst_acc) worst_acc = ea;
                    if (ei > worst_in) worst_in = ei;
                    differs |= got != f;
                }
            /* fp32 accumulation of K products: well below K * 2^-24 relative to the magnitudes */
            CHECK(worst_acc < 1e-5, "%dx%dx%d ta=%d tb=%d: %.3g from the bf16-operand product", g.M, g.N, g.K, g.ta,
                  g.tb, worst_acc);
            /* bf16 operands: each product off by at most ~2 * 2^-8 of its magnitude */
            CHECK(worst_in < 1e-2 && worst_in > 0, "%dx%dx%d ta=%d tb=%d: %.3g from fp32 sgemm", g.M, g.N, g.K, g.ta, g.tb,
                  worst_in);
            CHECK(differs, "%dx%dx%d: identical to fp32 sgemm (the bf16 path did not run)", g.M, g.N, g.K);
            printf("bf16 %4dx%4dx%4d ta=%d tb=%d: %.2e from the bf16-operand product, %.2e from fp32\n", g.M, g.N, g.K,
                   g.ta, g.tb, worst_acc, worst_in);
            free(C);
            free(C1);
            free(F);
            release(&g);
        }
}

/* Elements of C (M x N, ldc) that are not exactly k times the same element of C0. */
static int not_scaled(const gemm_case *g, const float *C, const float *C0, float k) {
    int bad = 0;
    for (int i = 0; i < g->M; i++)
        for (int j = 0; j < g->N; j++) bad += C[(size_t)i * g->ldc + j] != k * C0[(size_t)i * g->ldc + j];
    return bad;
}

/* 5: the constant window */
static void test_window(lvt_backend *be) {
    const int shapes[][3] = {{37, 45, 70}, {64, 512, 512}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int tb = 0; tb < 2; tb++) {
            gemm_case g;
            setup(&g, shapes[s][0], shapes[s][1], shapes[s][2], 0, tb, 0, 201 + s);
            const size_t nc = (size_t)g.M * g.ldc, nb = (size_t)(tb ? g.N : g.K) * g.ldb;
            float *C0 = malloc(nc * sizeof(float)), *C1 = malloc(nc * sizeof(float)), *C2 = malloc(nc * sizeof(float));
            run(be, &g, 1.0f, 0.0f, C0); /* no window: packed in the call */
            be->ops->const_window(be, g.B, nb * sizeof(float));
            run(be, &g, 1.0f, 0.0f, C1); /* packed into the window's cache */
            run(be, &g, 0.5f, 0.0f, C2); /* from the cache */
            CHECK(memcmp(C0, C1, nc * sizeof(float)) == 0, "window %dx%dx%d tb=%d: first call differs", g.M, g.N, g.K, tb);
            int bad = not_scaled(&g, C2, C0, 0.5f);
            CHECK(bad == 0, "window %dx%dx%d tb=%d: cached call differs in %d elements", g.M, g.N, g.K, tb, bad);
            for (size_t i = 0; i < nb; i++) g.B[i] = -g.B[i]; /* breaks the promise: the cache still has the old B */
            run(be, &g, 1.0f, 0.0f, C1);
            CHECK(memcmp(C0, C1, nc * sizeof(float)) == 0, "window %dx%dx%d tb=%d: packed B not reused", g.M, g.N, g.K, tb);
            be->ops->const_window(be, NULL, 0); /* closed: the new B is packed */
            run(be, &g, 1.0f, 0.0f, C1);
            bad = not_scaled(&g, C1, C0, -1.0f);
            CHECK(bad == 0, "window %dx%dx%d tb=%d: after the window, %d elements not from the new B", g.M, g.N, g.K, tb, bad);
            /* a window that does not hold B: B is packed every call */
            be->ops->const_window(be, g.A, sizeof(float));
            run(be, &g, 1.0f, 0.0f, C2);
            for (size_t i = 0; i < nb; i++) g.B[i] = -g.B[i];
            run(be, &g, 1.0f, 0.0f, C1);
            be->ops->const_window(be, NULL, 0);
            CHECK(memcmp(C0, C1, nc * sizeof(float)) == 0, "window elsewhere %dx%dx%d tb=%d: B was cached", g.M, g.N, g.K, tb);
            printf("window %4dx%4dx%4d tb=%d: packed once, reused, dropped\n", g.M, g.N, g.K, tb);
            free(C0), free(C1), free(C2);
            release(&g);
        }
}

int main(void) {
    lvt_err e = {{0}};
    lvt_backend *be = NULL, *fp32 = NULL;
    if (lvt_backend_create(&be, "cpu", -1, LVT_MATH_BF16, &e) || lvt_backend_create(&fp32, "cpu", -1, LVT_MATH_FP32, &e)) {
        printf("FAIL: %s\n", e.msg);
        return 1;
    }
    char what[256];
    lvt_backend_math_describe(be, what, sizeof what);
    printf("bf16 backend: %s\n", what);
    if (lvt_backend_gemm_math(be) != LVT_MATH_BF16) {
        CHECK(strstr(what, "GEMMs in fp32: train.math bf16 needs AMX-BF16") != NULL, "fallback line: %s", what);
        printf("no AMX-BF16 here: skipped\n");
        lvt_backend_destroy(be);
        lvt_backend_destroy(fp32);
        return failures ? 1 : 77;
    }
    CHECK(strstr(what, "bf16 on AMX") != NULL, "describe: %s", what);
    lvt_backend_math_describe(fp32, what, sizeof what);
    CHECK(lvt_backend_gemm_math(fp32) == LVT_MATH_FP32 && strstr(what, "GEMMs in fp32") != NULL, "fp32: %s", what);
    test_exact(be);
    test_rounding(be, fp32);
    test_window(be);
    lvt_backend_destroy(be);
    lvt_backend_destroy(fp32);
    if (failures) {
        printf("%d failure(s)\n", failures);
        return 1;
    }
    printf("all bf16 GEMM checks passed\n");
    return 0;
}
