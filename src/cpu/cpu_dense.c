/* cpu_dense.c — the CPU backend's dense algebra: GEMM (OpenBLAS cblas_sgemm, row-major),
 * broadcast add/sum, row copies, elementwise add/axpy/scale, row dots, double-precision
 * reductions and the AdamW sweeps (torch.optim.AdamW semantics; eager, and with the step's
 * values in backend memory for the graph optimiser). */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cpu_backend.h"

void cpu_gemm(lvt_backend *be, int trans_a, int trans_b, int M, int N, int K, float alpha,
              const float *A, int lda, const float *B, int ldb, float beta, float *C, int ldc) {
    if (M <= 0 || N <= 0) return;
    if (K <= 0) { /* op(A)@op(B) is zero: C = beta * C (BLAS semantics, beta == 0 clears) */
        for (int i = 0; i < M; i++) {
            float *row = C + (size_t)i * ldc;
            for (int j = 0; j < N; j++) row[j] = beta == 0.0f ? 0.0f : beta * row[j];
        }
        return;
    }
    lvt_gemm_count *gc = be->gemm_count;
    const double t0 = gc ? lvt_now() : 0.0;
    cpu_impl *im = be->impl;
    if (im && im->amx) { /* train.math = bf16: the AMX GEMM, its workspace grown on first use */
        size_t need = cpu_amx_workspace(M, N, K);
        if (need > im->ws_bytes) {
            void *ws = aligned_alloc(64, (need + 63) / 64 * 64);
            if (ws) {
                free(im->ws);
                im->ws = ws;
                im->ws_bytes = need;
            }
        }
        if (need <= im->ws_bytes) {
            cpu_amx_gemm(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, im->ws,
                         cpu_amx_cached_b(im, trans_b, N, K, B, ldb));
            goto counted;
        }
        /* no memory for the packed operands: this call runs in fp32 */
    }
    cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
                trans_b ? CblasTrans : CblasNoTrans, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
counted:
    if (gc) {
        gc->seconds += lvt_now() - t0;
        gc->flops += 2.0 * M * N * K;
        gc->calls++;
    }
}

void cpu_add_bcast(lvt_backend *be, float *y, const float *t, int outer, int inner) {
#pragma omp parallel for if ((size_t)outer * inner > 65536)
    for (int o = 0; o < outer; o++) {
        float *row = y + (size_t)o * inner;
        for (int j = 0; j < inner; j++) row[j] += t[j];
    }
}

void cpu_sum_bcast(lvt_backend *be, const float *dy, float *dt, int outer, int inner) {
    /* Columns in parallel, rows summed in order: the result does not depend on thread count. */
#pragma omp parallel for if ((size_t)outer * inner > 65536)
    for (int j0 = 0; j0 < inner; j0 += 64) {
        int j1 = j0 + 64 < inner ? j0 + 64 : inner;
        float acc[64];
        for (int j = j0; j < j1; j++) acc[j - j0] = 0.0f;
        for (int o = 0; o < outer; o++) {
            const float *row = dy + (size_t)o * inner;
            for (int j = j0; j < j1; j++) acc[j - j0] += row[j];
        }
        for (int j = j0; j < j1; j++) dt[j] += acc[j - j0];
    }
}

void cpu_copy_rows(lvt_backend *be, float *dst, int ldd, const float *src, int lds, int M, int N) {
    for (int i = 0; i < M; i++)
        memmove(dst + (size_t)i * ldd, src + (size_t)i * lds, (size_t)N * sizeof(float));
}

void cpu_add(lvt_backend *be, const float *a, const float *b, float *y, size_t n) {
#pragma omp parallel for if (n > 262144)
    for (size_t i = 0; i < n; i++) y[i] = a[i] + b[i];
}

void cpu_axpy(lvt_backend *be, float alpha, const float *x, float *y, size_t n) {
#pragma omp parallel for if (n > 262144)
    for (size_t i = 0; i < n; i++) y[i] += alpha * x[i];
}

void cpu_scale(lvt_backend *be, float *x, float alpha, size_t n) {
#pragma omp parallel for if (n > 262144)
    for (size_t i = 0; i < n; i++) x[i] *= alpha;
}

void cpu_dot_rows(lvt_backend *be, const float *a, int lda, const float *b, int ldb, float *out,
                  int M, int N) {
#pragma omp parallel for if ((size_t)M * N > 65536)
    for (int m = 0; m < M; m++) {
        const float *ar = a + (size_t)m * lda, *br = b + (size_t)m * ldb;
        float s = 0.0f;
#pragma omp simd reduction(+ : s)
        for (int j = 0; j < N; j++) s += ar[j] * br[j];
        out[m] = s;
    }
}

/* Sums in double over fixed blocks of 4096, so the result is the same for any thread count. */
#define CPU_SUM_BLOCK 4096

double cpu_sum(lvt_backend *be, const float *x, size_t n) {
    size_t nb = (n + CPU_SUM_BLOCK - 1) / CPU_SUM_BLOCK;
    double total = 0.0;
    for (size_t b0 = 0; b0 < nb; b0 += 256) { /* blocks in groups, partials summed in order */
        size_t b1 = b0 + 256 < nb ? b0 + 256 : nb;
        double part[256];
#pragma omp parallel for if (n > 262144)
        for (size_t b = b0; b < b1; b++) {
            size_t i1 = (b + 1) * CPU_SUM_BLOCK < n ? (b + 1) * CPU_SUM_BLOCK : n;
            double s = 0.0;
#pragma omp simd reduction(+ : s)
            for (size_t i = b * CPU_SUM_BLOCK; i < i1; i++) s += x[i];
            part[b - b0] = s;
        }
        for (size_t b = b0; b < b1; b++) total += part[b - b0];
    }
    return total;
}

double cpu_sumsq(lvt_backend *be, const float *x, size_t n) {
    size_t nb = (n + CPU_SUM_BLOCK - 1) / CPU_SUM_BLOCK;
    double total = 0.0;
    for (size_t b0 = 0; b0 < nb; b0 += 256) {
        size_t b1 = b0 + 256 < nb ? b0 + 256 : nb;
        double part[256];
#pragma omp parallel for if (n > 262144)
        for (size_t b = b0; b < b1; b++) {
            size_t i1 = (b + 1) * CPU_SUM_BLOCK < n ? (b + 1) * CPU_SUM_BLOCK : n;
            double s = 0.0;
#pragma omp simd reduction(+ : s)
            for (size_t i = b * CPU_SUM_BLOCK; i < i1; i++) s += (double)x[i] * x[i];
            part[b - b0] = s;
        }
        for (size_t b = b0; b < b1; b++) total += part[b - b0];
    }
    return total;
}

/* torch.optim.AdamW (foreach=False, amsgrad=False, maximize=False): the step's scalar factors in
 * double (lvt_adamw_scalars_for, as Python computes them), then lvt_adamw_update per element in
 * fp32 (include/lvt/elementwise.h, the same code the CUDA kernels run). This file is compiled with
 * -fno-math-errno (CMakeLists.txt) so that the loop vectorises: sqrtf would otherwise call libm to
 * set errno on a negative input, which keeps the loop scalar (docs/bench.md, "Profile"). */
void cpu_adamw(lvt_backend *be, float *p, const float *g, float *m, float *v, size_t n, float lr,
               float beta1, float beta2, float eps, float weight_decay, long t, float grad_scale) {
    const lvt_adamw_scalars s = lvt_adamw_scalars_for(lr, beta1, beta2, eps, weight_decay, t);
#pragma omp parallel for if (n > 65536)
    for (size_t i = 0; i < n; i++) lvt_adamw_update(p + i, m + i, v + i, g[i], grad_scale, s);
}

/* The graph optimiser's step (ops.h): the global norm from cpu_sumsq (the value lvt_optim_step
 * reads), the clip coefficient, then the loop of cpu_adamw with the scalars in *sc. */
void cpu_adamw_clipped(lvt_backend *be, float *p, const float *g, float *m, float *v, size_t n,
                       const lvt_adamw_scalars *sc, double *norm_sq, double max_norm,
                       const float *loss) {
    *norm_sq = cpu_sumsq(be, g, n);
    const double norm = sqrt(*norm_sq);
    if (!isfinite(norm) || (loss && !isfinite(*loss))) return;
    const float grad_scale = (float)lvt_clip_coef(norm, max_norm);
    const lvt_adamw_scalars s = *sc;
#pragma omp parallel for if (n > 65536)
    for (size_t i = 0; i < n; i++) lvt_adamw_update(p + i, m + i, v + i, g[i], grad_scale, s);
}
