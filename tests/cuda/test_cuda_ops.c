/* test_cuda_ops.c — every op of include/lvt/ops.h on the CUDA backend against the CPU backend
 * (the tested reference) on random inputs, fp32 math mode: leading dimensions, all GEMM
 * transposes (plus TF32 and BF16 GEMMs with looser bounds), the column sums and layernorm at the
 * model's widths (512, 768) and at B = 4096 x L = 5 rows, attention as the model lays it out
 * (fused qkv slices, cross attention, the last layer's one strided query per sample) with and
 * without dropout and up to L = 1024 (the row kernels; also forced at every shape with
 * LVT_CUDA_ATTN=rows), each written region compared on its own and everything outside it
 * required untouched, dropout and attention-dropout masks byte for byte, context drop in its
 * three modes at D = 37 and 768, the vmap ops, AdamW over many steps; then CUDA-graph replay
 * against eager runs (keyed ops at a replayed step, a model forward + backward), the BF16 weight
 * shadow against bf16-rounded references, and a capture that would allocate (refused with the
 * reason, then captured after a warm-up).
 *
 * Tolerances (g = GPU value, c = CPU value, checked per element):
 *   exact   |g - c| == 0: masks, copies, ReLU, dropout outputs, memory ops, graph replay
 *   elem    |g - c| <= 1e-6 |c| + 1e-7: elementwise ops where only FMA contraction differs
 *   trans   |g - c| <= 1e-5 |c| + 1e-6: erf/exp/log/sin/cos based ops (GELU, sigmoid, noise)
 *   red     |g - c| <= 1e-4 |c| + 1e-5 max|c|: GEMM-free reductions in another order
 *           (layernorm, l2norm, attention, dot_rows, sum_bcast, reduce_sum); max over the
 *           compared region (an attention output's head columns, dq, dk or dv alone)
 *   gemm    |g - c| <= 1e-4 |c| + 1e-5 max|c|: fp32 cuBLAS vs OpenBLAS
 *   tf32    |g - c| <= 5e-3 max|c|;  bf16  |g - c| <= 3e-2 max|c| (vs fp32);
 *           bf16 shadow 2e-5 max|c| (vs the product of bf16-rounded inputs)
 *   adamw   params |g - c| <= 1e-5 |c| + 1e-7; m, v <= 1e-5 |c| + 1e-6 max|c|, after 60 steps
 *   sum/sumsq (double): relative 1e-9
 * Exit 77 when there is no usable GPU (tests/cuda/gpu_gate.c; a broken one fails). With
 * LVT_CUDA_SELFCHECK=1 and no device, a second CPU backend stands in for the GPU: this checks the
 * harness itself (the GPU-only parts skipped). */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gpu_gate.h"
#include "lvt/devdata.h"
#include "lvt/graph.h"
#include "lvt/model.h"
#include "lvt/ops.h"
#include "lvt/rng.h"
#include "testutil.h"

typedef struct ctx {
    lvt_backend *cpu, *gpu;
    uint64_t rs; /* test random state */
    int self;    /* self-check mode: "gpu" is a CPU backend */
} ctx;

/* ---- helpers -------------------------------------------------------------------------------- */

static float urand(ctx *c) { /* uniform [-1, 1) from a 64-bit LCG (high bits) */
    c->rs = c->rs * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((double)(c->rs >> 40) / (double)(1ull << 24)) * 2.0f - 1.0f;
}
static float *hbuf(size_t n) { return calloc(n ? n : 1, sizeof(float)); }
static float *hrand(ctx *c, size_t n, float scale) {
    float *x = hbuf(n);
    for (size_t i = 0; i < n; i++) x[i] = scale * urand(c);
    return x;
}
/* a buffer on backend be holding a copy of host h (n floats) */
static float *dev(lvt_backend *be, const float *h, size_t n) {
    lvt_err e;
    float *d = be->ops->alloc(be, (n ? n : 1) * sizeof(float), &e);
    if (!d) {
        fprintf(stderr, "alloc: %s\n", e.msg);
        exit(1);
    }
    if (h && n) be->ops->to_device(be, d, h, n * sizeof(float));
    return d;
}
static void *devb(lvt_backend *be, size_t bytes) {
    lvt_err e;
    void *d = be->ops->alloc(be, bytes ? bytes : 1, &e);
    if (!d) {
        fprintf(stderr, "alloc: %s\n", e.msg);
        exit(1);
    }
    return d;
}
static float *host(lvt_backend *be, const float *d, size_t n) {
    float *h = hbuf(n);
    be->ops->to_host(be, h, d, n * sizeof(float));
    return h;
}
static void dfree(lvt_backend *be, void *d) { be->ops->free(be, d); }

/* Compare n values: |g-c| <= rtol |c| + atol + arel * max|c|. Prints the worst element. */
static void close_(const char *what, const float *g, const float *c, size_t n, double rtol, double atol,
                   double arel) {
    double mx = 0;
    for (size_t i = 0; i < n; i++) mx = fmax(mx, fabs((double)c[i]));
    size_t bad = 0, worst = 0;
    double wr = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)g[i] - (double)c[i]);
        double lim = rtol * fabs((double)c[i]) + atol + arel * mx;
        if (!(d <= lim)) bad++; /* NaN fails */
        double r = lim > 0 ? d / lim : (d > 0 ? INFINITY : 0);
        if (!(r <= wr)) {
            wr = r;
            worst = i;
        }
    }
    CHECK(bad == 0, "%s: %zu of %zu elements out of tolerance; worst [%zu] gpu %.9g cpu %.9g", what, bad, n, worst,
          n ? g[worst] : 0.0f, n ? c[worst] : 0.0f);
    printf("  %-44s n=%-8zu worst/limit %.3f\n", what, n, wr);
}
#define EXACT(w, g, c, n) close_(w, g, c, n, 0, 0, 0)
#define ELEM(w, g, c, n) close_(w, g, c, n, 1e-6, 1e-7, 0)
#define TRANS(w, g, c, n) close_(w, g, c, n, 1e-5, 1e-6, 0)
#define RED(w, g, c, n) close_(w, g, c, n, 1e-4, 0, 1e-5)

static void bytes_equal(const char *what, const uint8_t *g, const uint8_t *c, size_t n) {
    size_t bad = 0, first = n;
    for (size_t i = 0; i < n; i++)
        if (g[i] != c[i]) {
            bad++;
            if (first == n) first = i;
        }
    CHECK(bad == 0, "%s: %zu of %zu bytes differ (first at %zu)", what, bad, n, first);
    printf("  %-44s n=%-8zu %s\n", what, n, bad ? "DIFFER" : "identical");
}

/* Mirror one host array onto both backends. */
typedef struct pair {
    float *c, *g;
    size_t n;
} pair;
static pair mk(ctx *x, const float *h, size_t n) {
    pair p = {dev(x->cpu, h, n), dev(x->gpu, h, n), n};
    return p;
}
static void pfree(ctx *x, pair *p) {
    dfree(x->cpu, p->c);
    dfree(x->gpu, p->g);
}
/* fetch both sides and compare with the given tolerance */
static void cmp(ctx *x, const char *what, pair p, double rtol, double atol, double arel) {
    float *hc = host(x->cpu, p.c, p.n), *hg = host(x->gpu, p.g, p.n);
    close_(what, hg, hc, p.n, rtol, atol, arel);
    free(hc);
    free(hg);
}

/* ---- memory --------------------------------------------------------------------------------- */

static void test_memory(ctx *x) {
    printf("memory\n");
    lvt_backend *g = x->gpu;
    size_t n = 1000;
    float *z = devb(g, n * sizeof(float));
    float *h = host(g, z, n), *zero = hbuf(n);
    EXACT("alloc is zero-filled", h, zero, n);
    free(h);
    float *src = hrand(x, n, 3.0f);
    g->ops->to_device(g, z, src, n * sizeof(float));
    float *d2 = devb(g, n * sizeof(float));
    g->ops->copy(g, d2, z, n * sizeof(float));
    h = host(g, d2, n);
    EXACT("to_device / copy / to_host round trip", h, src, n);
    free(h);
    g->ops->zero(g, d2 + 100, 200 * sizeof(float));
    h = host(g, d2, n);
    memset(src + 100, 0, 200 * sizeof(float));
    EXACT("zero of a sub-range", h, src, n);
    g->ops->sync(g);
    free(h);
    free(src);
    free(zero);
    dfree(g, z);
    dfree(g, d2);
}

/* ---- dense algebra --------------------------------------------------------------------------- */

static void gemm_case(ctx *x, lvt_backend *gb, const char *mode, int ta, int tb, int M, int N, int K, float alpha,
                      float beta, int pad, double tol_abs_rel) {
    int ar = ta ? K : M, ac = ta ? M : K, br = tb ? N : K, bc = tb ? K : N;
    int lda = ac + pad, ldb = bc + pad, ldc = N + pad;
    float *A = hrand(x, (size_t)ar * lda, 1), *B = hrand(x, (size_t)br * ldb, 1), *C = hrand(x, (size_t)M * ldc, 1);
    float *Ac = dev(x->cpu, A, (size_t)ar * lda), *Bc = dev(x->cpu, B, (size_t)br * ldb),
          *Cc = dev(x->cpu, C, (size_t)M * ldc);
    float *Ag = dev(gb, A, (size_t)ar * lda), *Bg = dev(gb, B, (size_t)br * ldb), *Cg = dev(gb, C, (size_t)M * ldc);
    x->cpu->ops->gemm(x->cpu, ta, tb, M, N, K, alpha, Ac, lda, Bc, ldb, beta, Cc, ldc);
    gb->ops->gemm(gb, ta, tb, M, N, K, alpha, Ag, lda, Bg, ldb, beta, Cg, ldc);
    float *hc = host(x->cpu, Cc, (size_t)M * ldc), *hg = host(gb, Cg, (size_t)M * ldc);
    char what[128];
    snprintf(what, sizeof what, "gemm %s %c%c %dx%dx%d pad %d", mode, ta ? 'T' : 'N', tb ? 'T' : 'N', M, N, K, pad);
    if (tol_abs_rel > 0) close_(what, hg, hc, (size_t)M * ldc, 0, 0, tol_abs_rel);
    else close_(what, hg, hc, (size_t)M * ldc, 1e-4, 0, 1e-5);
    free(hc), free(hg), free(A), free(B), free(C);
    dfree(x->cpu, Ac), dfree(x->cpu, Bc), dfree(x->cpu, Cc), dfree(gb, Ag), dfree(gb, Bg), dfree(gb, Cg);
}

static void test_gemm(ctx *x) {
    printf("gemm (fp32)\n");
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++) {
            gemm_case(x, x->gpu, "fp32", ta, tb, 37, 29, 53, 1.0f, 0.0f, 0, 0);
            gemm_case(x, x->gpu, "fp32", ta, tb, 64, 96, 320, 0.7f, 1.0f, 5, 0);
            gemm_case(x, x->gpu, "fp32", ta, tb, 5, 512, 128, -1.3f, 0.5f, 3, 0);
        }
    gemm_case(x, x->gpu, "fp32", 0, 0, 17, 9, 0, 1.0f, 0.5f, 2, 0); /* K = 0: C = beta C */
    gemm_case(x, x->gpu, "fp32", 0, 1, 17, 9, 0, 1.0f, 0.0f, 0, 0); /* K = 0, beta 0: clear */
    if (x->self) return;
    lvt_err e;
    const lvt_math modes[2] = {LVT_MATH_TF32, LVT_MATH_BF16};
    const char *names[2] = {"tf32", "bf16"};
    const double tols[2] = {5e-3, 3e-2};
    for (int m = 0; m < 2; m++) {
        lvt_backend *gb = NULL;
        if (lvt_backend_create(&gb, "cuda", 0, modes[m], &e)) {
            CHECK(0, "cuda backend (%s): %s", names[m], e.msg);
            continue;
        }
        printf("gemm (%s, bound %.0e x max|C|)\n", names[m], tols[m]);
        for (int ta = 0; ta < 2; ta++)
            for (int tb = 0; tb < 2; tb++) gemm_case(x, gb, names[m], ta, tb, 64, 96, 320, 1.0f, 0.0f, 5, tols[m]);
        gemm_case(x, gb, names[m], 0, 1, 256, 512, 512, 1.0f, 1.0f, 0, tols[m]);
        lvt_backend_destroy(gb);
    }
}

static void test_elementwise(ctx *x) {
    printf("elementwise and broadcast\n");
    const int outer = 53, inner = 77;
    size_t n = (size_t)outer * inner;
    float *hy = hrand(x, n, 1), *ht = hrand(x, inner, 1), *ha = hrand(x, n, 2), *hb = hrand(x, n, 2);
    pair y = mk(x, hy, n), t = mk(x, ht, inner), a = mk(x, ha, n), b = mk(x, hb, n);
    x->cpu->ops->add_bcast(x->cpu, y.c, t.c, outer, inner);
    x->gpu->ops->add_bcast(x->gpu, y.g, t.g, outer, inner);
    cmp(x, "add_bcast", y, 0, 0, 0);
    /* sum_bcast accumulates into dt */
    x->cpu->ops->sum_bcast(x->cpu, a.c, t.c, outer, inner);
    x->gpu->ops->sum_bcast(x->gpu, a.g, t.g, outer, inner);
    cmp(x, "sum_bcast (accumulating)", t, 1e-4, 0, 1e-5);
    /* the bias gradients of a B = 4096, L = 5 step: 20480 rows, every row chunk of the two-stage
     * reduction in use; and a column count that is not a multiple of the 32-column tile */
    const int shapes[2][2] = {{20480, 512}, {777, 1539}};
    for (int k = 0; k < 2; k++) {
        size_t nb = (size_t)shapes[k][0] * shapes[k][1];
        float *hbig = hrand(x, nb, 1), *hacc = hrand(x, shapes[k][1], 1);
        pair big = mk(x, hbig, nb), acc = mk(x, hacc, shapes[k][1]);
        x->cpu->ops->sum_bcast(x->cpu, big.c, acc.c, shapes[k][0], shapes[k][1]);
        x->gpu->ops->sum_bcast(x->gpu, big.g, acc.g, shapes[k][0], shapes[k][1]);
        char w[64];
        snprintf(w, sizeof w, "sum_bcast %dx%d", shapes[k][0], shapes[k][1]);
        cmp(x, w, acc, 1e-4, 0, 1e-5);
        pfree(x, &big), pfree(x, &acc), free(hbig), free(hacc);
    }
    x->cpu->ops->add(x->cpu, a.c, b.c, y.c, n);
    x->gpu->ops->add(x->gpu, a.g, b.g, y.g, n);
    cmp(x, "add", y, 0, 0, 0);
    x->cpu->ops->add(x->cpu, y.c, b.c, y.c, n); /* aliasing y = y + b */
    x->gpu->ops->add(x->gpu, y.g, b.g, y.g, n);
    cmp(x, "add (y aliases a)", y, 0, 0, 0);
    x->cpu->ops->axpy(x->cpu, -0.37f, a.c, y.c, n);
    x->gpu->ops->axpy(x->gpu, -0.37f, a.g, y.g, n);
    cmp(x, "axpy", y, 1e-6, 1e-7, 0);
    x->cpu->ops->scale(x->cpu, y.c, 1.7f, n);
    x->gpu->ops->scale(x->gpu, y.g, 1.7f, n);
    cmp(x, "scale", y, 0, 0, 0);
    /* copy_rows: 13 rows of 21 floats between strides 77 and 30, at offsets */
    x->cpu->ops->copy_rows(x->cpu, b.c + 3, 30, a.c + 5, inner, 13, 21);
    x->gpu->ops->copy_rows(x->gpu, b.g + 3, 30, a.g + 5, inner, 13, 21);
    cmp(x, "copy_rows (strided, offsets)", b, 0, 0, 0);
    /* dot_rows with leading dims */
    float *hd = hbuf(40);
    pair d = mk(x, hd, 40);
    x->cpu->ops->dot_rows(x->cpu, a.c + 1, inner, b.c, 60, d.c, 40, 59);
    x->gpu->ops->dot_rows(x->gpu, a.g + 1, inner, b.g, 60, d.g, 40, 59);
    cmp(x, "dot_rows (lda 77, ldb 60)", d, 1e-4, 0, 1e-5);
    /* sum, sumsq (double on the host) */
    double sc = x->cpu->ops->sum(x->cpu, a.c, n), sg = x->gpu->ops->sum(x->gpu, a.g, n);
    double qc = x->cpu->ops->sumsq(x->cpu, a.c, n), qg = x->gpu->ops->sumsq(x->gpu, a.g, n);
    CHECK(fabs(sg - sc) <= 1e-9 * fmax(1.0, fabs(sc)), "sum gpu %.15g cpu %.15g", sg, sc);
    CHECK(fabs(qg - qc) <= 1e-9 * qc, "sumsq gpu %.15g cpu %.15g", qg, qc);
    printf("  sum %.12g / %.12g, sumsq %.12g / %.12g (gpu / cpu)\n", sg, sc, qg, qc);
    /* a large vector for the multi-block reduction */
    size_t big = 3000017;
    float *hbig = hrand(x, big, 1);
    pair pb = mk(x, hbig, big);
    qc = x->cpu->ops->sumsq(x->cpu, pb.c, big);
    qg = x->gpu->ops->sumsq(x->gpu, pb.g, big);
    CHECK(fabs(qg - qc) <= 1e-9 * qc, "sumsq (3M) gpu %.15g cpu %.15g", qg, qc);
    sc = x->cpu->ops->sum(x->cpu, pb.c, big);
    sg = x->gpu->ops->sum(x->gpu, pb.g, big);
    CHECK(fabs(sg - sc) <= 1e-9 * sqrt(qc), "sum (3M) gpu %.15g cpu %.15g", sg, sc);
    pfree(x, &pb), free(hbig);
    pfree(x, &y), pfree(x, &t), pfree(x, &a), pfree(x, &b), pfree(x, &d);
    free(hy), free(ht), free(ha), free(hb), free(hd);
}

/* ---- normalisation and activations ------------------------------------------------------------ */

/* layernorm and l2norm over M rows of N: N below one block of 256 threads, and the model's 512
 * and 768 (the strided loops repeat); M large enough that the two-stage dg/db reduction uses
 * many row chunks. */
static void norms_case(ctx *x, int M, int N) {
    printf("layernorm, l2norm M=%d N=%d\n", M, N);
    size_t n = (size_t)M * N;
    float *hx = hrand(x, n, 2), *hg = hrand(x, N, 1), *hb = hrand(x, N, 1), *hdy = hrand(x, n, 1);
    for (int j = 0; j < N; j++) hx[5 * N + j] = 3.0f + 1e-3f * hx[5 * N + j]; /* a nearly constant row */
    pair X = mk(x, hx, n), G = mk(x, hg, N), B = mk(x, hb, N), Y = mk(x, NULL, n), mu = mk(x, NULL, M),
         rs = mk(x, NULL, M), dY = mk(x, hdy, n), dX = mk(x, hdy, n), dG = mk(x, hg, N), dB = mk(x, hb, N);
    x->cpu->ops->layernorm_fwd(x->cpu, X.c, G.c, B.c, Y.c, mu.c, rs.c, M, N, 1e-5f);
    x->gpu->ops->layernorm_fwd(x->gpu, X.g, G.g, B.g, Y.g, mu.g, rs.g, M, N, 1e-5f);
    cmp(x, "layernorm_fwd y", Y, 1e-5, 1e-6, 0);
    cmp(x, "layernorm_fwd mean", mu, 1e-6, 1e-7, 0);
    cmp(x, "layernorm_fwd rstd", rs, 1e-6, 0, 0);
    x->cpu->ops->layernorm_bwd(x->cpu, dY.c, X.c, mu.c, rs.c, G.c, dX.c, dG.c, dB.c, M, N);
    x->gpu->ops->layernorm_bwd(x->gpu, dY.g, X.g, mu.g, rs.g, G.g, dX.g, dG.g, dB.g, M, N);
    cmp(x, "layernorm_bwd dx (overwritten)", dX, 1e-4, 0, 1e-5);
    cmp(x, "layernorm_bwd dg (accumulated)", dG, 1e-4, 0, 1e-5);
    cmp(x, "layernorm_bwd db (accumulated)", dB, 1e-4, 0, 1e-5);
    /* NULL mean/rstd in the forward and NULL dg/db in the backward are allowed */
    x->gpu->ops->layernorm_fwd(x->gpu, X.g, G.g, B.g, Y.g, NULL, NULL, M, N, 1e-5f);
    x->gpu->ops->layernorm_bwd(x->gpu, dY.g, X.g, mu.g, rs.g, G.g, dX.g, NULL, NULL, M, N);
    cmp(x, "layernorm_fwd y (NULL stats)", Y, 1e-5, 1e-6, 0);
    cmp(x, "layernorm_bwd dx (NULL dg, db)", dX, 1e-4, 0, 1e-5);

    /* l2norm with one zero row and one tiny row (below eps: the clamp branch) */
    for (int j = 0; j < N; j++) {
        hx[7 * N + j] = 0.0f;
        hx[9 * N + j] = 1e-9f;
    }
    X.n = n;
    x->cpu->ops->to_device(x->cpu, X.c, hx, n * sizeof(float));
    x->gpu->ops->to_device(x->gpu, X.g, hx, n * sizeof(float));
    x->cpu->ops->l2norm_fwd(x->cpu, X.c, Y.c, mu.c, M, N, 1e-6f);
    x->gpu->ops->l2norm_fwd(x->gpu, X.g, Y.g, mu.g, M, N, 1e-6f);
    cmp(x, "l2norm_fwd y", Y, 1e-5, 1e-7, 0);
    cmp(x, "l2norm_fwd norms", mu, 1e-6, 0, 0);
    x->cpu->ops->l2norm_bwd(x->cpu, dY.c, X.c, mu.c, dX.c, M, N, 1e-6f);
    x->gpu->ops->l2norm_bwd(x->gpu, dY.g, X.g, mu.g, dX.g, M, N, 1e-6f);
    cmp(x, "l2norm_bwd dx", dX, 1e-4, 0, 1e-5);
    pair *all[] = {&X, &G, &B, &Y, &mu, &rs, &dY, &dX, &dG, &dB};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) pfree(x, all[i]);
    free(hx), free(hg), free(hb), free(hdy);
}

static void test_norms(ctx *x) {
    norms_case(x, 67, 200);
    norms_case(x, 130, 512);
    norms_case(x, 3000, 768); /* 47 row chunks in the dg/db reduction */
    norms_case(x, 20480, 512); /* B = 4096, L = 5: the chunk count at its cap (256) */
}

static void test_activations(ctx *x) {
    printf("activations\n");
    size_t n = 50001;
    float *hx = hrand(x, n, 4), *hdy = hrand(x, n, 1);
    hx[0] = 0.0f;
    pair X = mk(x, hx, n), Y = mk(x, NULL, n), dY = mk(x, hdy, n), dX = mk(x, NULL, n);
    x->cpu->ops->relu_fwd(x->cpu, X.c, Y.c, n);
    x->gpu->ops->relu_fwd(x->gpu, X.g, Y.g, n);
    cmp(x, "relu_fwd", Y, 0, 0, 0);
    x->cpu->ops->relu_bwd(x->cpu, dY.c, X.c, dX.c, n);
    x->gpu->ops->relu_bwd(x->gpu, dY.g, X.g, dX.g, n);
    cmp(x, "relu_bwd", dX, 0, 0, 0);
    x->cpu->ops->gelu_fwd(x->cpu, X.c, Y.c, n);
    x->gpu->ops->gelu_fwd(x->gpu, X.g, Y.g, n);
    cmp(x, "gelu_fwd (erf)", Y, 1e-5, 1e-6, 0);
    x->cpu->ops->gelu_bwd(x->cpu, dY.c, X.c, dX.c, n);
    x->gpu->ops->gelu_bwd(x->gpu, dY.g, X.g, dX.g, n);
    cmp(x, "gelu_bwd", dX, 1e-5, 1e-6, 0);
    x->cpu->ops->relu_fwd(x->cpu, X.c, X.c, n); /* in place */
    x->gpu->ops->relu_fwd(x->gpu, X.g, X.g, n);
    cmp(x, "relu_fwd in place", X, 0, 0, 0);
    pfree(x, &X), pfree(x, &Y), pfree(x, &dY), pfree(x, &dX);
    free(hx), free(hdy);
}

/* ---- dropout ------------------------------------------------------------------------------------ */

static void fetch_bytes(lvt_backend *be, uint8_t *h, const uint8_t *d, size_t n) { be->ops->to_host(be, h, d, n); }

static void test_dropout(ctx *x) {
    printf("dropout\n");
    const int S = 37, P = 1001; /* per_sample not a multiple of 4 */
    size_t n = (size_t)S * P;
    float *hx = hrand(x, n, 1), *hdy = hrand(x, n, 1);
    pair X = mk(x, hx, n), Y = mk(x, NULL, n), dY = mk(x, hdy, n), dX = mk(x, NULL, n);
    uint8_t *mc = devb(x->cpu, n), *mg = devb(x->gpu, n);
    uint8_t *hmc = malloc(n), *hmg = malloc(n);
    /* high words of step and sample exercise the folded counter word */
    const lvt_dropout_key keys[3] = {{123, 7, LVT_SITE_LAYER(1, 3), 1000, 0.1f},
                                     {0xfeedbeefcafeull, (1ull << 33) + 5, LVT_SITE_LAYER(3, 6),
                                      ((int64_t)1 << 34) + 17, 0.5f},
                                     {9, 0, 2, 0, 0.9f}};
    for (int k = 0; k < 3; k++) {
        char w[96];
        x->cpu->ops->dropout_fwd(x->cpu, X.c, Y.c, mc, S, P, &keys[k]);
        x->gpu->ops->dropout_fwd(x->gpu, X.g, Y.g, mg, S, P, &keys[k]);
        fetch_bytes(x->cpu, hmc, mc, n);
        fetch_bytes(x->gpu, hmg, mg, n);
        snprintf(w, sizeof w, "dropout mask p=%.1f (key %d)", keys[k].p, k);
        bytes_equal(w, hmg, hmc, n);
        size_t kept = 0;
        for (size_t i = 0; i < n; i++) kept += hmc[i];
        CHECK(fabs((double)kept / n - (1.0 - keys[k].p)) < 0.02, "keep rate %.4f for p %.2f", (double)kept / n,
              keys[k].p);
        snprintf(w, sizeof w, "dropout_fwd y p=%.1f", keys[k].p);
        cmp(x, w, Y, 0, 0, 0);
        x->cpu->ops->dropout_bwd(x->cpu, dY.c, mc, dX.c, n, keys[k].p);
        x->gpu->ops->dropout_bwd(x->gpu, dY.g, mg, dX.g, n, keys[k].p);
        snprintf(w, sizeof w, "dropout_bwd p=%.1f", keys[k].p);
        cmp(x, w, dX, 0, 0, 0);
    }
    /* p = 0: y = x exactly and the mask all ones; NULL key likewise; NULL mask allowed */
    lvt_dropout_key k0 = {1, 2, 3, 4, 0.0f};
    x->gpu->ops->dropout_fwd(x->gpu, X.g, Y.g, mg, S, P, &k0);
    fetch_bytes(x->gpu, hmg, mg, n);
    size_t ones = 0;
    for (size_t i = 0; i < n; i++) ones += hmg[i] == 1;
    CHECK(ones == n, "p=0: %zu of %zu mask bytes are 1", ones, n);
    float *hy = host(x->gpu, Y.g, n);
    EXACT("dropout_fwd p=0 copies x", hy, hx, n);
    free(hy);
    x->gpu->ops->dropout_fwd(x->gpu, X.g, Y.g, NULL, S, P, NULL);
    hy = host(x->gpu, Y.g, n);
    EXACT("dropout_fwd NULL key, NULL mask", hy, hx, n);
    free(hy);
    x->gpu->ops->dropout_bwd(x->gpu, dY.g, NULL, dX.g, n, 0.0f);
    hy = host(x->gpu, dX.g, n);
    EXACT("dropout_bwd p=0, NULL mask", hy, hdy, n);
    free(hy);
    /* rank independence on the GPU: samples 3.. of a batch at base b are samples 0.. at b+3 */
    lvt_dropout_key ka = keys[1], kb = keys[1];
    kb.sample_base += 3;
    x->gpu->ops->dropout_fwd(x->gpu, X.g, Y.g, mg, S, P, &ka);
    fetch_bytes(x->gpu, hmg, mg, n);
    x->gpu->ops->dropout_fwd(x->gpu, X.g, Y.g, mg, S - 3, P, &kb);
    fetch_bytes(x->gpu, hmc, mg, (size_t)(S - 3) * P);
    bytes_equal("gpu mask shifted by 3 samples", hmg + (size_t)3 * P, hmc, (size_t)(S - 3) * P);
    pfree(x, &X), pfree(x, &Y), pfree(x, &dY), pfree(x, &dX);
    dfree(x->cpu, mc), dfree(x->gpu, mg);
    free(hmc), free(hmg), free(hx), free(hdy);
}

/* ---- attention ---------------------------------------------------------------------------------- */

/* The elements of a [rows, ld] buffer an op writes: rows r0, r0 + rstep, ... (nr of them),
 * columns [c0, c0 + nc). */
typedef struct region {
    const char *name;
    int r0, rstep, nr, c0, nc;
} region;

/* Compare each region of buf (gpu vs cpu) with the "red" tolerance taken over that region alone,
 * and demand every element outside all regions to still hold init on both backends (an op that
 * writes where it must not, or a region the op never wrote, both fail). */
static void cmp_regions(ctx *x, const char *what, pair buf, const float *init, int ld, const region *rg, int nrg) {
    float *hc = host(x->cpu, buf.c, buf.n), *hg = host(x->gpu, buf.g, buf.n);
    uint8_t *in = calloc(buf.n, 1);
    for (int k = 0; k < nrg; k++) {
        size_t m = (size_t)rg[k].nr * rg[k].nc, t = 0;
        float *gc = hbuf(m), *gg = hbuf(m);
        for (int r = 0; r < rg[k].nr; r++)
            for (int c = 0; c < rg[k].nc; c++) {
                size_t i = (size_t)(rg[k].r0 + r * rg[k].rstep) * ld + rg[k].c0 + c;
                gc[t] = hc[i], gg[t] = hg[i], in[i] = 1, t++;
            }
        char w[160];
        snprintf(w, sizeof w, "%s %s", what, rg[k].name);
        close_(w, gg, gc, m, 1e-4, 0, 1e-5);
        free(gc), free(gg);
    }
    size_t bad_c = 0, bad_g = 0, outside = 0;
    for (size_t i = 0; i < buf.n; i++)
        if (!in[i]) {
            outside++;
            bad_c += memcmp(&hc[i], &init[i], sizeof(float)) != 0;
            bad_g += memcmp(&hg[i], &init[i], sizeof(float)) != 0;
        }
    CHECK(bad_c == 0 && bad_g == 0, "%s: %zu (cpu) / %zu (gpu) of %zu elements outside the written regions changed",
          what, bad_c, bad_g, outside);
    printf("  %-44s %zu elements outside untouched\n", what, outside);
    free(hc), free(hg), free(in);
}

/* kinds of attention_case */
enum { ATT_SELF = 0, ATT_CROSS = 1, ATT_TAIL = 2 };

/* One attention forward + backward, both backends, with q / k / v (and dq / dk / dv) laid out as
 * the model lays them out:
 *   self  q, k, v columns 0, W, 2W of one fused [B*L, 3W+4] qkv buffer (dq, dk, dv likewise);
 *   cross q in its own [B*Lq, W+4] buffer, k, v columns 0, W of a fused [B*Lk, 2W+4] kv buffer;
 *   tail  the last layer: one query per sample, row L-1 of the fused qkv (ldq = L*(3W+4)), its
 *         dq in row L-1 of a dqkv whose other rows' dq columns stay untouched. */
static void attention_case(ctx *x, int kind, int B, int Lq, int Lk, int H, int hd, int causal, float p) {
    const int W = H * hd, L = Lk;
    const int ld3 = 3 * W + 4, ldqc = W + 4, ld2 = 2 * W + 4, ldo = W + 6;
    const int qrows = kind == ATT_TAIL ? B * L : B * Lq, krows = B * Lk;
    const int ldQ = kind == ATT_CROSS ? ldqc : ld3, ldK = kind == ATT_CROSS ? ld2 : ld3;
    size_t nQ = (size_t)qrows * ldQ, nK = (size_t)krows * ldK, no = (size_t)B * Lq * ldo;
    size_t np = (size_t)B * H * Lq * Lk;
    float *hq = hrand(x, nQ, 1.5f), *hk = hrand(x, nK, 1.5f), *ho = hrand(x, no, 1), *hdo = hrand(x, no, 1);
    float *hdq = hrand(x, nQ, 9), *hdk = hrand(x, nK, 9); /* filler: only the head columns may change */
    pair Q = mk(x, hq, nQ), K = mk(x, hk, nK), O = mk(x, ho, no), P = mk(x, NULL, np), dO = mk(x, hdo, no);
    pair dQ = mk(x, hdq, nQ), dK = mk(x, hdk, nK);
    /* offsets (in floats) and leading dims of q, k, v within Q / K (K is Q for self and tail) */
    const int self = kind != ATT_CROSS;
    size_t oq = kind == ATT_TAIL ? (size_t)(L - 1) * ld3 : 0, ok = self ? W : 0, ov = self ? 2 * W : W;
    int ldq = kind == ATT_TAIL ? L * ld3 : ldQ, ldk = ldK;
    const float *qc = Q.c + oq, *qg = Q.g + oq;
    const float *kc = (self ? Q.c : K.c) + ok, *kg = (self ? Q.g : K.g) + ok;
    const float *vc = (self ? Q.c : K.c) + ov, *vg = (self ? Q.g : K.g) + ov;
    uint8_t *mc = devb(x->cpu, np), *mg = devb(x->gpu, np);
    lvt_dropout_key key = {77, 31, LVT_SITE_LAYER(2, 1), 5000, p};
    const lvt_dropout_key *kp = p > 0 ? &key : NULL;
    x->cpu->ops->attention_fwd(x->cpu, qc, ldq, kc, ldk, vc, ldk, O.c, ldo, P.c, mc, B, Lq, Lk, H, hd, causal, kp);
    x->gpu->ops->attention_fwd(x->gpu, qg, ldq, kg, ldk, vg, ldk, O.g, ldo, P.g, mg, B, Lq, Lk, H, hd, causal, kp);
    const char *kn = kind == ATT_SELF ? "self" : kind == ATT_CROSS ? "cross" : "tail";
    char w[128];
    snprintf(w, sizeof w, "attn %s B%d Lq%d Lk%d H%d hd%d %s p=%.2f", kn, B, Lq, Lk, H, hd, causal ? "causal" : "full",
             p);
    printf(" %s\n", w);
    region ro = {"out", 0, 1, B * Lq, 0, W};
    cmp_regions(x, "  fwd", O, ho, ldo, &ro, 1);
    cmp(x, "  fwd probs", P, 1e-4, 0, 1e-5);
    uint8_t *hmc = malloc(np), *hmg = malloc(np);
    fetch_bytes(x->cpu, hmc, mc, np);
    fetch_bytes(x->gpu, hmg, mg, np);
    bytes_equal("  dropout mask", hmg, hmc, np);
    /* backward into the layout of the forward's inputs */
    float *dqc = dQ.c + oq, *dqg = dQ.g + oq;
    float *dkc = (self ? dQ.c : dK.c) + ok, *dkg = (self ? dQ.g : dK.g) + ok;
    float *dvc = (self ? dQ.c : dK.c) + ov, *dvg = (self ? dQ.g : dK.g) + ov;
    x->cpu->ops->attention_bwd(x->cpu, dO.c, ldo, qc, ldq, kc, ldk, vc, ldk, P.c, mc, p, dqc, dkc, dvc, B, Lq, Lk, H,
                               hd);
    x->gpu->ops->attention_bwd(x->gpu, dO.g, ldo, qg, ldq, kg, ldk, vg, ldk, P.g, mg, p, dqg, dkg, dvg, B, Lq, Lk, H,
                               hd);
    if (self) {
        region rq = {"dq", kind == ATT_TAIL ? L - 1 : 0, kind == ATT_TAIL ? L : 1, B * Lq, 0, W};
        region rg[3] = {rq, {"dk", 0, 1, krows, W, W}, {"dv", 0, 1, krows, 2 * W, W}};
        cmp_regions(x, "  bwd dqkv", dQ, hdq, ld3, rg, 3);
    } else {
        region rq = {"dq", 0, 1, B * Lq, 0, W}, rkv[2] = {{"dk", 0, 1, krows, 0, W}, {"dv", 0, 1, krows, W, W}};
        cmp_regions(x, "  bwd dq", dQ, hdq, ldqc, &rq, 1);
        cmp_regions(x, "  bwd dkv", dK, hdk, ld2, rkv, 2);
    }
    pair *all[] = {&Q, &K, &O, &P, &dO, &dQ, &dK};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) pfree(x, all[i]);
    dfree(x->cpu, mc), dfree(x->gpu, mg);
    free(hq), free(hk), free(ho), free(hdo), free(hdq), free(hdk), free(hmc), free(hmg);
}

static void attention_cases(ctx *x) {
    for (int causal = 0; causal < 2; causal++) {
        attention_case(x, ATT_SELF, 3, 5, 5, 4, 8, causal, 0.0f);
        attention_case(x, ATT_SELF, 3, 5, 5, 4, 8, causal, 0.25f);
        attention_case(x, ATT_CROSS, 2, 4, 7, 2, 16, causal, 0.1f); /* Lq != Lk */
        attention_case(x, ATT_SELF, 2, 64, 64, 2, 64, causal, 0.1f); /* > 48 KiB of shared memory */
    }
    /* the reference model's shapes (d 512, 8 heads, L 5): the layers, and the last layer's one
     * query per sample (non-causal) over strided rows */
    attention_case(x, ATT_SELF, 9, 5, 5, 8, 64, 1, 0.1f);
    attention_case(x, ATT_CROSS, 9, 5, 5, 8, 64, 1, 0.1f);
    attention_case(x, ATT_TAIL, 9, 1, 5, 8, 64, 0, 0.1f);
    attention_case(x, ATT_TAIL, 9, 1, 5, 8, 64, 0, 0.0f);
    /* long contexts (data.context_len up to 1024): beyond one block's shared memory the backend
     * takes its row kernels */
    attention_case(x, ATT_SELF, 2, 128, 128, 2, 64, 1, 0.1f);
    attention_case(x, ATT_TAIL, 2, 1, 1024, 2, 64, 0, 0.1f);
    attention_case(x, ATT_SELF, 1, 1024, 1024, 1, 64, 1, 0.1f);
}

static void test_attention(ctx *x) {
    printf("attention\n");
    attention_cases(x);
    if (x->self) return;
    /* the row kernels at every shape (LVT_CUDA_ATTN=rows, read when a backend is created) */
    lvt_err e;
    lvt_backend *rows = NULL, *keep = x->gpu;
    setenv("LVT_CUDA_ATTN", "rows", 1);
    int rc = lvt_backend_create(&rows, "cuda", 0, LVT_MATH_FP32, &e);
    unsetenv("LVT_CUDA_ATTN");
    CHECK(rc == 0, "cuda backend (rows): %s", e.msg);
    if (rc) return;
    printf("attention (row kernels forced: LVT_CUDA_ATTN=rows)\n");
    x->gpu = rows;
    attention_cases(x);
    x->gpu = keep;
    lvt_backend_destroy(rows);
}

/* ---- AdamW --------------------------------------------------------------------------------------- */

static void test_adamw(ctx *x) {
    printf("adamw\n");
    size_t n = 100003;
    float *hp = hrand(x, n, 1);
    pair p = mk(x, hp, n), g = mk(x, NULL, n), m = mk(x, NULL, n), v = mk(x, NULL, n);
    for (long t = 1; t <= 60; t++) {
        float *hg = hrand(x, n, t % 7 == 0 ? 5.0f : 0.5f);
        x->cpu->ops->to_device(x->cpu, g.c, hg, n * sizeof(float));
        x->gpu->ops->to_device(x->gpu, g.g, hg, n * sizeof(float));
        float scale = t % 5 == 0 ? 0.37f : 1.0f, lr = 1e-3f * (1.0f + 0.01f * (float)t);
        x->cpu->ops->adamw(x->cpu, p.c, g.c, m.c, v.c, n, lr, 0.9f, 0.999f, 1e-8f, 0.01f, t, scale);
        x->gpu->ops->adamw(x->gpu, p.g, g.g, m.g, v.g, n, lr, 0.9f, 0.999f, 1e-8f, 0.01f, t, scale);
        free(hg);
    }
    /* m is a running mean of gradients of either sign, so it crosses 0: a pure relative bound has
     * no margin there. The bound for m and v adds 1e-6 x max|c| (the FMA-contraction differences
     * of one update, ~1e-7 relative of the gradient scale, accumulated over 60 steps). */
    cmp(x, "adamw params after 60 steps", p, 1e-5, 1e-7, 0);
    cmp(x, "adamw m after 60 steps", m, 1e-5, 0, 1e-6);
    cmp(x, "adamw v after 60 steps", v, 1e-5, 0, 1e-6);
    /* beta1 >= 0.5 branch of the lerp and no weight decay */
    x->cpu->ops->adamw(x->cpu, p.c, g.c, m.c, v.c, n, 3e-4f, 0.3f, 0.95f, 1e-6f, 0.0f, 61, 1.0f);
    x->gpu->ops->adamw(x->gpu, p.g, g.g, m.g, v.g, n, 3e-4f, 0.3f, 0.95f, 1e-6f, 0.0f, 61, 1.0f);
    cmp(x, "adamw params (beta1 0.3, wd 0)", p, 1e-5, 1e-7, 0);
    pfree(x, &p), pfree(x, &g), pfree(x, &m), pfree(x, &v);
    free(hp);
}

/* ---- P4 objective helpers ------------------------------------------------------------------------ */

static void test_vmap(ctx *x) {
    printf("vmap, reduce_sum, scale_rows_add\n");
    const int n = 1001;
    float *ha = hrand(x, n, 1), *hb = hrand(x, 3 * n, 1), *hc = hrand(x, n, 1);
    for (int i = 0; i < 3 * n; i += 3) hb[i] = hb[i] * 3.0f; /* counts > 1 for DIV_COUNT */
    pair a = mk(x, ha, n), b = mk(x, hb, 3 * n), c = mk(x, hc, n), y = mk(x, NULL, n);
    const char *names[8] = {"HINGE", "HINGE_GATE", "SIGMOID", "RELU_SHIFT", "STEP_SHIFT", "MUL_AFFINE", "DIV_COUNT",
                            "AFFINE"};
    for (lvt_vmap_op op = LVT_VMAP_HINGE; op <= LVT_VMAP_AFFINE; op++) {
        /* b with stride 3, stride 0 (broadcast scalar) and NULL; c present and NULL */
        const int strides[3] = {3, 0, -1};
        for (int si = 0; si < 3; si++)
            for (int ci = 0; ci < 2; ci++) {
                const float *bc = strides[si] < 0 ? NULL : b.c, *bg = strides[si] < 0 ? NULL : b.g;
                int bs = strides[si] < 0 ? 0 : strides[si];
                const float *cc = ci ? c.c : NULL, *cg = ci ? c.g : NULL;
                float s0 = 0.1f, s1 = op == LVT_VMAP_SIGMOID ? 0.05f : 0.7f;
                x->cpu->ops->vmap(x->cpu, op, a.c, bc, bs, cc, s0, s1, y.c, n);
                x->gpu->ops->vmap(x->gpu, op, a.g, bg, bs, cg, s0, s1, y.g, n);
                char w[96];
                snprintf(w, sizeof w, "vmap %s b_stride %d%s c %s", names[op], bs, bc ? "" : " (NULL)",
                         cc ? "set" : "NULL");
                cmp(x, w, y, 1e-6, 1e-7, 0);
            }
    }
    float *hs = hbuf(4);
    pair s = mk(x, hs, 4);
    x->cpu->ops->reduce_sum(x->cpu, a.c, n, 0.25f, s.c + 1);
    x->gpu->ops->reduce_sum(x->gpu, a.g, n, 0.25f, s.g + 1);
    cmp(x, "reduce_sum", s, 1e-6, 1e-7, 0);
    const int M = 19, N = 33, ldx = 40, ldy = 35;
    float *hx = hrand(x, (size_t)M * ldx, 1), *hy = hrand(x, (size_t)M * ldy, 1);
    pair X = mk(x, hx, (size_t)M * ldx), Y = mk(x, hy, (size_t)M * ldy);
    x->cpu->ops->scale_rows_add(x->cpu, c.c, 2, -0.5f, X.c, ldx, Y.c, ldy, M, N);
    x->gpu->ops->scale_rows_add(x->gpu, c.g, 2, -0.5f, X.g, ldx, Y.g, ldy, M, N);
    cmp(x, "scale_rows_add (coef stride 2)", Y, 1e-6, 1e-7, 0);
    x->cpu->ops->scale_rows_add(x->cpu, s.c + 1, 0, 2.0f, X.c, ldx, Y.c, ldy, M, N);
    x->gpu->ops->scale_rows_add(x->gpu, s.g + 1, 0, 2.0f, X.g, ldx, Y.g, ldy, M, N);
    cmp(x, "scale_rows_add (backend scalar)", Y, 1e-6, 1e-7, 0);
    x->cpu->ops->scale_rows_add(x->cpu, NULL, 0, 0.3f, X.c, ldx, Y.c, ldy, M, N);
    x->gpu->ops->scale_rows_add(x->gpu, NULL, 0, 0.3f, X.g, ldx, Y.g, ldy, M, N);
    cmp(x, "scale_rows_add (coef NULL)", Y, 1e-6, 1e-7, 0);
    /* a row with factor exactly 0 is left untouched even where x is not finite (ops.h) */
    float hz[19];
    for (int i = 0; i < M; i++) hz[i] = i == 4 ? 0.0f : 1.0f + 0.1f * (float)i;
    hx[(size_t)4 * ldx + 7] = NAN;
    hx[(size_t)4 * ldx + 8] = INFINITY;
    pair Z = mk(x, hz, (size_t)M), X2 = mk(x, hx, (size_t)M * ldx);
    x->cpu->ops->scale_rows_add(x->cpu, Z.c, 1, 1.5f, X2.c, ldx, Y.c, ldy, M, N);
    x->gpu->ops->scale_rows_add(x->gpu, Z.g, 1, 1.5f, X2.g, ldx, Y.g, ldy, M, N);
    cmp(x, "scale_rows_add (zero factor, NaN row)", Y, 1e-6, 1e-7, 0);
    pfree(x, &Z), pfree(x, &X2);
    /* reduce_sum of n = 0 writes 0 (over a 7 put there first) */
    const float seven = 7.0f;
    x->cpu->ops->to_device(x->cpu, s.c + 2, &seven, sizeof seven);
    x->gpu->ops->to_device(x->gpu, s.g + 2, &seven, sizeof seven);
    x->gpu->ops->reduce_sum(x->gpu, a.g, 0, 1.0f, s.g + 2);
    x->cpu->ops->reduce_sum(x->cpu, a.c, 0, 1.0f, s.c + 2);
    cmp(x, "reduce_sum n=0", s, 0, 0, 0);
    float r0 = -1.0f;
    x->gpu->ops->to_host(x->gpu, &r0, s.g + 2, sizeof r0);
    CHECK(r0 == 0.0f, "reduce_sum n=0 wrote %g", r0);
    pfree(x, &a), pfree(x, &b), pfree(x, &c), pfree(x, &y), pfree(x, &s), pfree(x, &X), pfree(x, &Y);
    free(ha), free(hb), free(hc), free(hs), free(hx), free(hy);
}

/* D = 37: odd, the last Box-Muller pair is half used, fewer columns than threads; D = 768: the
 * model's width, the strided loops repeat. */
static void context_drop_case(ctx *x, int D) {
    printf("context_drop D=%d\n", D);
    const int B = 200, L = 5;
    size_t n = (size_t)B * L * D;
    float *h = hrand(x, n, 1);
    for (lvt_context_drop_mode mode = LVT_CONTEXT_DROP_NOISE; mode <= LVT_CONTEXT_DROP_MEAN; mode++) {
        pair C = mk(x, h, n);
        lvt_dropout_key key = {4242, 17 + (uint64_t)mode, 0, ((int64_t)1 << 33) + 100, 0.3f};
        x->cpu->ops->context_drop(x->cpu, C.c, B, L, D, &key, mode);
        x->gpu->ops->context_drop(x->gpu, C.g, B, L, D, &key, mode);
        float *hc = host(x->cpu, C.c, n), *hg = host(x->gpu, C.g, n);
        int changed = 0;
        for (int s = 0; s < B; s++) changed += memcmp(hc + ((size_t)s * L + L - 1) * D, h + ((size_t)s * L + L - 1) * D,
                                                      (size_t)D * sizeof(float)) != 0;
        CHECK(changed > B / 10 && changed < B / 2, "mode %d: %d of %d samples dropped at p=0.3", mode, changed, B);
        char w[64];
        snprintf(w, sizeof w, "context_drop mode %d (%d dropped)", mode, changed);
        close_(w, hg, hc, n, 1e-5, 1e-6, 0);
        free(hc), free(hg);
        pfree(x, &C);
    }
    free(h);
}

static void test_context_drop(ctx *x) {
    context_drop_case(x, 37);
    context_drop_case(x, 768);
}

/* ---- CUDA graphs: replay equals eager --------------------------------------------------------------- */

/* A keyed sequence: dropout -> gemm -> attention with dropout -> context drop. */
static void keyed_seq(lvt_backend *be, float *in, float *a, float *w, float *qkv, float *out, float *probs, uint8_t *m1,
                      uint8_t *m2, uint64_t step, int64_t base) {
    const lvt_ops *o = be->ops;
    lvt_dropout_key k = {99, step, LVT_SITE_LAYER(0, 1), base, 0.2f};
    o->dropout_fwd(be, in, a, m1, 8, 5 * 32, &k);                          /* [8*5, 32] */
    o->gemm(be, 0, 1, 40, 96, 32, 1.0f, a, 32, w, 32, 0.0f, qkv, 96);      /* qkv = a W^T */
    k.site = LVT_SITE_LAYER(0, 2);
    o->attention_fwd(be, qkv, 96, qkv + 32, 96, qkv + 64, 96, out, 32, probs, m2, 8, 5, 5, 4, 8, 1, &k);
    k.p = 0.5f;
    o->context_drop(be, out, 8, 5, 32, &k, LVT_CONTEXT_DROP_NOISE);
}

static void test_graph_ops(ctx *x) {
    printf("graph replay of keyed ops\n");
    lvt_backend *g = x->gpu;
    lvt_err e;
    float *hin = hrand(x, 8 * 5 * 32, 1), *hw = hrand(x, 96 * 32, 0.3f);
    float *in = dev(g, hin, 8 * 5 * 32), *w = dev(g, hw, 96 * 32);
    float *a = dev(g, NULL, 8 * 5 * 32), *qkv = dev(g, NULL, 40 * 96), *out = dev(g, NULL, 40 * 32),
          *probs = dev(g, NULL, 8 * 4 * 25);
    uint8_t *m1 = devb(g, 8 * 5 * 32), *m2 = devb(g, 8 * 4 * 25);
    /* eager reference results at two steps */
    float *ref[2];
    const uint64_t steps[2] = {1000, (1ull << 32) + 3};
    const int64_t bases[2] = {64, 999};
    for (int r = 0; r < 2; r++) {
        keyed_seq(g, in, a, w, qkv, out, probs, m1, m2, steps[r], bases[r]);
        ref[r] = host(g, out, 40 * 32);
    }
    /* capture at step 5 / base 0, then replay at the two steps */
    lvt_graph *gr = NULL;
    int rc = lvt_graph_begin(g, 5, 0, &e);
    CHECK(rc == 0, "graph begin: %s", e.msg);
    if (rc) return;
    keyed_seq(g, in, a, w, qkv, out, probs, m1, m2, 5, 0);
    rc = lvt_graph_end(g, &gr, &e);
    CHECK(rc == 0, "graph end: %s", e.msg);
    if (rc) return;
    for (int r = 1; r >= 0; r--) {
        g->ops->zero(g, out, 40 * 32 * sizeof(float));
        CHECK(lvt_graph_replay(gr, steps[r], bases[r], &e) == 0, "replay: %s", e.msg);
        float *h = host(g, out, 40 * 32);
        char wt[80];
        snprintf(wt, sizeof wt, "graph replay == eager (step %llu, base %lld)", (unsigned long long)steps[r],
                 (long long)bases[r]);
        EXACT(wt, h, ref[r], 40 * 32);
        free(h);
    }
    /* the two steps really draw different masks (the replay is not frozen at one step) */
    int differ = memcmp(ref[0], ref[1], 40 * 32 * sizeof(float)) != 0;
    CHECK(differ, "steps 1000 and 2^32+3 gave identical outputs");
    /* eager after capture is absolute again */
    keyed_seq(g, in, a, w, qkv, out, probs, m1, m2, steps[0], bases[0]);
    float *h = host(g, out, 40 * 32);
    EXACT("eager after capture", h, ref[0], 40 * 32);
    free(h);
    lvt_graph_destroy(gr);
    free(ref[0]), free(ref[1]), free(hin), free(hw);
    dfree(g, in), dfree(g, w), dfree(g, a), dfree(g, qkv), dfree(g, out), dfree(g, probs), dfree(g, m1), dfree(g, m2);
}

/* A model forward + backward with dropout, eager vs captured and replayed. */
static void test_graph_model(ctx *x) {
    printf("graph replay of a model forward + backward\n");
    lvt_backend *g = x->gpu;
    lvt_err e;
    lvt_model m;
    lvt_model_cfg mc = {48, 32, 4, 2, 4, 5, 0.1f};
    if (lvt_model_create(&m, &mc, g, &e) || lvt_model_init(&m, 3, &e) || lvt_model_plan(&m, 16, 1, &e)) {
        CHECK(0, "model: %s", e.msg);
        return;
    }
    const int B = 16;
    size_t nc = (size_t)B * 5 * 48;
    float *hctx = hrand(x, nc, 1), *hdp = hrand(x, (size_t)B * 48, 1);
    float *ctxd = dev(g, hctx, nc), *dp = dev(g, hdp, (size_t)B * 48), *dctx = dev(g, NULL, nc);
    float *ref[2], *refd[2];
    const uint64_t steps[2] = {11, 12};
    for (int r = 0; r < 2; r++) {
        lvt_dropout_key k = {5, steps[r], 0, 128 * (int64_t)r, 0.1f};
        lvt_model_zero_grad(&m);
        CHECK(lvt_model_forward(&m, 0, ctxd, B, 1, &k, NULL, &e) == 0, "forward: %s", e.msg);
        CHECK(lvt_model_backward(&m, 0, dp, dctx, &e) == 0, "backward: %s", e.msg);
        ref[r] = host(g, m.grads, m.n_params);
        refd[r] = host(g, dctx, nc);
    }
    lvt_graph *gr = NULL;
    lvt_dropout_key k0 = {5, 1, 0, 0, 0.1f};
    int rc = lvt_graph_begin(g, 1, 0, &e);
    CHECK(rc == 0, "graph begin: %s", e.msg);
    if (rc) return;
    lvt_model_zero_grad(&m);
    int frc = lvt_model_forward(&m, 0, ctxd, B, 1, &k0, NULL, &e);
    int brc = frc ? frc : lvt_model_backward(&m, 0, dp, dctx, &e);
    rc = lvt_graph_end(g, &gr, &e);
    CHECK(frc == 0 && brc == 0 && rc == 0, "capture of the model step: %s", e.msg);
    if (rc) return;
    for (int r = 0; r < 2; r++) {
        CHECK(lvt_graph_replay(gr, steps[r], 128 * (int64_t)r, &e) == 0, "replay: %s", e.msg);
        float *hg = host(g, m.grads, m.n_params), *hd = host(g, dctx, nc);
        char w[64];
        snprintf(w, sizeof w, "model grads, replay == eager (step %d)", (int)steps[r]);
        EXACT(w, hg, ref[r], m.n_params);
        snprintf(w, sizeof w, "model dctx, replay == eager (step %d)", (int)steps[r]);
        EXACT(w, hd, refd[r], nc);
        free(hg), free(hd);
    }
    lvt_graph_destroy(gr);
    lvt_model_destroy(&m);
    free(ref[0]), free(ref[1]), free(refd[0]), free(refd[1]), free(hctx), free(hdp);
    dfree(g, ctxd), dfree(g, dp), dfree(g, dctx);
}

/* ---- BF16: the weight shadow and captures that would allocate ----------------------------------- */

/* C = X W^T on bf16-rounded copies, in double, on the host: what a BF16 GEMM must give (products
 * of bf16 values are exact in fp32; only the fp32 accumulation order differs). */
static void bf16_ref(const float *X, const float *W, int M, int N, int K, int ldw, float *C) {
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            double acc = 0;
            for (int k = 0; k < K; k++)
                acc += (double)lvt_bf16_to_float(lvt_bf16_from_float(X[(size_t)i * K + k])) *
                       (double)lvt_bf16_to_float(lvt_bf16_from_float(W[(size_t)j * ldw + k]));
            C[(size_t)i * N + j] = (float)acc;
        }
}

/* The parameters a BF16 GEMM reads come from the shadow AdamW keeps: after an AdamW step and after
 * a to_device into the parameters, the GEMM must see the new weights (a stale shadow would
 * differ by the step, far beyond the bound; the test checks that it would). */
static void test_bf16_shadow(ctx *x) {
    printf("bf16 weight shadow\n");
    lvt_err e;
    lvt_backend *gb = NULL;
    if (lvt_backend_create(&gb, "cuda", 0, LVT_MATH_BF16, &e)) {
        CHECK(0, "cuda backend (bf16): %s", e.msg);
        return;
    }
    const int M = 64, N = 96, K = 320, ldw = 330;
    size_t nw = (size_t)N * ldw;
    float *hw = hrand(x, nw, 1), *hx = hrand(x, (size_t)M * K, 1), *hg = hrand(x, nw, 1);
    float *W = dev(gb, hw, nw), *G = dev(gb, hg, nw), *Mo = dev(gb, NULL, nw), *V = dev(gb, NULL, nw);
    float *X = dev(gb, hx, (size_t)M * K), *C = dev(gb, NULL, (size_t)M * N);
    float *ref = hbuf((size_t)M * N), *stale = hbuf((size_t)M * N);
    gb->ops->adamw(gb, W, G, Mo, V, nw, 0.0f, 0.9f, 0.999f, 1e-8f, 0.0f, 1, 1.0f); /* lr 0: W unchanged */
    for (int phase = 0; phase < 3; phase++) {
        if (phase == 1) gb->ops->adamw(gb, W, G, Mo, V, nw, 1e-2f, 0.9f, 0.999f, 1e-8f, 0.0f, 2, 1.0f);
        if (phase == 2) {
            float *hn = hrand(x, nw, 1);
            gb->ops->to_device(gb, W, hn, nw * sizeof(float));
            free(hn);
        }
        memcpy(stale, ref, sizeof(float) * (size_t)M * N);
        float *hcur = host(gb, W, nw);
        bf16_ref(hx, hcur, M, N, K, ldw, ref);
        gb->ops->gemm(gb, 0, 1, M, N, K, 1.0f, X, K, W, ldw, 0.0f, C, N);
        float *hc = host(gb, C, (size_t)M * N);
        const char *names[3] = {"after registration (lr 0)", "after an AdamW step", "after to_device"};
        char w[96];
        snprintf(w, sizeof w, "bf16 gemm on the shadow %s", names[phase]);
        close_(w, hc, ref, (size_t)M * N, 0, 0, 2e-5);
        if (phase > 0) { /* the bound separates fresh from stale weights */
            double mx = 0, d = 0;
            for (size_t i = 0; i < (size_t)M * N; i++) {
                mx = fmax(mx, fabs(ref[i]));
                d = fmax(d, fabs(stale[i] - ref[i]));
            }
            CHECK(d > 100 * 2e-5 * mx, "%s: stale weights would differ by only %.3g (max %.3g)", w, d, mx);
        }
        free(hc), free(hcur);
    }
    free(hw), free(hx), free(hg), free(ref), free(stale);
    dfree(gb, W), dfree(gb, G), dfree(gb, Mo), dfree(gb, V), dfree(gb, X), dfree(gb, C);
    lvt_backend_destroy(gb);
}

/* A capture whose BF16 staging would have to grow fails with the reason instead of aborting;
 * after an eager warm-up of the same shapes the capture works and replays like eager. */
static void test_capture_scratch(ctx *x) {
    printf("graph capture that would allocate\n");
    lvt_err e;
    lvt_backend *gb = NULL;
    if (lvt_backend_create(&gb, "cuda", 0, LVT_MATH_BF16, &e)) {
        CHECK(0, "cuda backend (bf16): %s", e.msg);
        return;
    }
    const int M = 128, N = 256, K = 512;
    float *ha = hrand(x, (size_t)M * K, 1), *hb = hrand(x, (size_t)N * K, 1);
    float *A = dev(gb, ha, (size_t)M * K), *B = dev(gb, hb, (size_t)N * K), *C = dev(gb, NULL, (size_t)M * N);
    lvt_graph *gr = NULL;
    int rc = lvt_graph_begin(gb, 0, 0, &e);
    CHECK(rc == 0, "graph begin: %s", e.msg);
    if (rc == 0) {
        gb->ops->gemm(gb, 0, 1, M, N, K, 1.0f, A, K, B, K, 0.0f, C, N);
        rc = lvt_graph_end(gb, &gr, &e);
        CHECK(rc != 0 && gr == NULL, "a capture that needs new staging succeeded");
        CHECK_MSG(e.msg, "scratch");
        printf("  capture refused: %s\n", e.msg);
    }
    gb->ops->gemm(gb, 0, 1, M, N, K, 1.0f, A, K, B, K, 0.0f, C, N); /* eager: the warm-up */
    float *eager = host(gb, C, (size_t)M * N);
    gb->ops->zero(gb, C, sizeof(float) * (size_t)M * N);
    rc = lvt_graph_begin(gb, 0, 0, &e);
    if (rc == 0) {
        gb->ops->gemm(gb, 0, 1, M, N, K, 1.0f, A, K, B, K, 0.0f, C, N);
        rc = lvt_graph_end(gb, &gr, &e);
    }
    CHECK(rc == 0, "capture after the warm-up: %s", e.msg);
    if (rc == 0) {
        CHECK(lvt_graph_replay(gr, 0, 0, &e) == 0, "replay: %s", e.msg);
        float *h = host(gb, C, (size_t)M * N);
        EXACT("bf16 gemm replay == eager", h, eager, (size_t)M * N);
        free(h);
        lvt_graph_destroy(gr);
    }
    free(ha), free(hb), free(eager);
    dfree(gb, A), dfree(gb, B), dfree(gb, C);
    lvt_backend_destroy(gb);
}

int main(void) {
    ctx x;
    memset(&x, 0, sizeof x);
    x.rs = 0x1234567ull;
    setvbuf(stdout, NULL, _IOLBF, 0); /* progress lines survive an abort */
    lvt_err e;
    const char *self = getenv("LVT_CUDA_SELFCHECK");
    if (!gpu_gate("test_cuda_ops")) {
        if (!(self && *self == '1')) {
            printf("test_cuda_ops: skipped\n");
            return 77;
        }
        x.self = 1;
        printf("test_cuda_ops: SELF-CHECK of the harness (CPU vs CPU), no GPU involved\n");
    }
    if (lvt_backend_create(&x.cpu, "cpu", -1, LVT_MATH_FP32, &e) ||
        lvt_backend_create(&x.gpu, x.self ? "cpu" : "cuda", 0, LVT_MATH_FP32, &e)) {
        fprintf(stderr, "backend: %s\n", e.msg);
        return 1;
    }
    test_memory(&x);
    test_gemm(&x);
    test_elementwise(&x);
    test_norms(&x);
    test_activations(&x);
    test_dropout(&x);
    test_attention(&x);
    test_adamw(&x);
    test_vmap(&x);
    test_context_drop(&x);
    if (!x.self) {
        test_graph_ops(&x);
        test_graph_model(&x);
        test_bf16_shadow(&x);
        test_capture_scratch(&x);
    }
    lvt_backend_destroy(x.gpu);
    lvt_backend_destroy(x.cpu);
    return test_finish("test_cuda_ops");
}
