/* cpu_dense.c — the CPU backend's dense algebra: GEMM (OpenBLAS cblas_sgemm, row-major),
 * broadcast add/sum, row copies, elementwise add/axpy/scale, row dots, double-precision
 * reductions and the AdamW sweep (torch.optim.AdamW semantics). */
#include <cblas.h>
#include <math.h>
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
    cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
                trans_b ? CblasTrans : CblasNoTrans, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
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

/* torch.optim.AdamW (foreach=False, amsgrad=False, maximize=False), step by step:
 *   p *= 1 - lr*wd;  m = lerp(m, g, 1-b1);  v = b2*v + (1-b2)*g*g;
 *   p -= (lr / (1-b1^t)) * m / (sqrt(v) / sqrt(1-b2^t) + eps)
 * with the scalar factors computed in double (as Python does) and the tensor math in fp32. */
void cpu_adamw(lvt_backend *be, float *p, const float *g, float *m, float *v, size_t n, float lr,
               float beta1, float beta2, float eps, float weight_decay, long t, float grad_scale) {
    /* the betas as the decimals the config held (see lvt_float_decimal in ops.h) */
    double b1 = lvt_float_decimal(beta1), b2 = lvt_float_decimal(beta2);
    double bc1 = 1.0 - pow(b1, (double)t);
    double bc2 = 1.0 - pow(b2, (double)t);
    float decay = (float)(1.0 - (double)lr * (double)weight_decay);
    float step_size = (float)((double)lr / bc1);
    float bc2_sqrt = (float)sqrt(bc2);
    float w1 = (float)(1.0 - b1);
    float w2 = (float)(1.0 - b2);
#pragma omp parallel for if (n > 65536)
    for (size_t i = 0; i < n; i++) {
        float gi = g[i] * grad_scale;
        float pi = p[i] * decay;
        float mi = w1 < 0.5f ? m[i] + w1 * (gi - m[i]) : gi - (gi - m[i]) * (1.0f - w1); /* lerp */
        float vi = v[i] * beta2 + w2 * gi * gi;
        float denom = sqrtf(vi) / bc2_sqrt + eps;
        p[i] = pi - step_size * mi / denom;
        m[i] = mi;
        v[i] = vi;
    }
}
