/* cuda_backend.cu — the CUDA implementation of ops (include/lvt/ops.h): cuBLAS GEMMs (fp32,
 * TF32 or BF16 inputs with fp32 accumulation), and one kernel per primitive, each the GPU twin
 * of the CPU reference in src/cpu/, with the per-element math of include/lvt/elementwise.h that
 * the CPU loops call too. Every call is asynchronous on the backend's stream except those that
 * return a value to the host (sum, sumsq) and sync/to_host. Dropout and context-drop draws use
 * the same Philox keying (include/lvt/rng.h) as the CPU, so masks are bit-identical. The ops
 * table at the end also holds the optional entries of graph.cu, gather.cu and comm_nccl.cu. */
#include <cublas_v2.h>
#include <cuda_bf16.h>
#include <cuda_runtime.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cuda_internal.h"
#include "cuda_backend.h"
#include "lvt/rng.h"

typedef struct cuda_impl {
    cudaStream_t stream;
    cublasHandle_t blas;
    void *blas_ws;          /* cuBLAS workspace set explicitly, so graph capture never allocates */
    double *d_acc;          /* device accumulator for sum/sumsq */
    __nv_bfloat16 *bf_a, *bf_b; /* BF16 staging for GEMM inputs */
    size_t bf_cap;
    /* Graph replay of keyed draws (graph.cu): while rng_dev is set, dropout, attention
     * dropout and context drop read their step and sample base from d_rng[0], d_rng[1] on the
     * device, offset by (key value - the reference value given at capture). */
    uint64_t *d_rng;
    int rng_dev;
    uint64_t rng_ref_step;
    int64_t rng_ref_base;
} cuda_impl;

/* Step and sample base of a key as passed to a kernel: absolute when eager, relative to the
 * capture reference when the kernel will add the device values at replay. */
static void rng_args(lvt_backend *be, const lvt_dropout_key *key, uint64_t *step, int64_t *base,
                     const uint64_t **dev) {
    cuda_impl *im = (cuda_impl *)be->impl;
    uint64_t s = key ? key->step : 0;
    int64_t b = key ? key->sample_base : 0;
    if (im->rng_dev) {
        *step = s - im->rng_ref_step;
        *base = (int64_t)((uint64_t)b - (uint64_t)im->rng_ref_base);
        *dev = im->d_rng;
    } else {
        *step = s;
        *base = b;
        *dev = NULL;
    }
}

#define LVT_CUDA_BLAS_WS ((size_t)32 << 20) /* cuBLAS workspace bytes */

static cuda_impl *IMPL(lvt_backend *be) { return (cuda_impl *)be->impl; }
static cudaStream_t STREAM(lvt_backend *be) { return IMPL(be)->stream; }

void cu_fatal(cudaError_t rc, const char *what) {
    /* A failing CUDA call inside a step is not recoverable user input: report and stop. */
    fprintf(stderr, "lvt cuda: %s failed: %s\n", what, cudaGetErrorString(rc));
    abort();
}
#define CK(call)                                                     \
    do {                                                             \
        cudaError_t rc_ = (call);                                    \
        if (rc_ != cudaSuccess) cu_fatal(rc_, #call);                \
    } while (0)
#define KCHECK() CK(cudaGetLastError())

static int blocks_for(size_t n, int threads) {
    size_t b = (n + threads - 1) / threads;
    if (b > 65535 * 8) b = 65535 * 8;
    return b < 1 ? 1 : (int)b;
}

/* ---- memory ---------------------------------------------------------------------------------- */

static void *cu_alloc(lvt_backend *be, size_t bytes, lvt_err *e) {
    void *p = NULL;
    cudaError_t rc = cudaMalloc(&p, bytes ? bytes : 1);
    if (rc != cudaSuccess) {
        lvt_errf(e, "cudaMalloc(%zu bytes): %s", bytes, cudaGetErrorString(rc));
        return NULL;
    }
    CK(cudaMemsetAsync(p, 0, bytes, STREAM(be)));
    return p;
}
static void cu_free(lvt_backend *be, void *p) {
    (void)be;
    if (p) cudaFree(p);
}
static void cu_zero(lvt_backend *be, void *p, size_t bytes) { CK(cudaMemsetAsync(p, 0, bytes, STREAM(be))); }
static void cu_to_device(lvt_backend *be, void *dst, const void *src, size_t bytes) {
    CK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, STREAM(be)));
}
static void cu_to_host(lvt_backend *be, void *dst, const void *src, size_t bytes) {
    CK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, STREAM(be)));
    CK(cudaStreamSynchronize(STREAM(be)));
}
static void cu_copy(lvt_backend *be, void *dst, const void *src, size_t bytes) {
    if (dst != src) CK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, STREAM(be)));
}
static void cu_sync(lvt_backend *be) { CK(cudaStreamSynchronize(STREAM(be))); }

/* ---- GEMM ------------------------------------------------------------------------------------ */

__global__ void k_to_bf16(const float *x, __nv_bfloat16 *y, int rows, int cols, int ld) {
    size_t n = (size_t)rows * cols;
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
        size_t r = i / cols, c = i % cols;
        y[r * cols + c] = __float2bfloat16(x[r * (size_t)ld + c]);
    }
}

__global__ void k_gemm_k0(float *C, int ldc, int M, int N, float beta) {
    size_t n = (size_t)M * N;
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
        float *c = C + (i / N) * (size_t)ldc + i % N;
        *c = beta == 0.0f ? 0.0f : beta * *c;
    }
}

/* Row-major C = alpha op(A) op(B) + beta C through column-major cuBLAS: C^T = op(B)^T op(A)^T. */
static void cu_gemm(lvt_backend *be, int ta, int tb, int M, int N, int K, float alpha, const float *A, int lda,
                    const float *B, int ldb, float beta, float *C, int ldc) {
    cuda_impl *im = IMPL(be);
    if (M <= 0 || N <= 0) return;
    if (K <= 0) { /* op(A)@op(B) is zero: C = beta * C (beta == 0 clears), as the CPU backend */
        k_gemm_k0<<<blocks_for((size_t)M * N, 256), 256, 0, im->stream>>>(C, ldc, M, N, beta);
        KCHECK();
        return;
    }
    cublasOperation_t opA = ta ? CUBLAS_OP_T : CUBLAS_OP_N, opB = tb ? CUBLAS_OP_T : CUBLAS_OP_N;
    if (be->math == LVT_MATH_BF16) {
        int ar = ta ? K : M, ac = ta ? M : K, br = tb ? N : K, bc = tb ? K : N;
        size_t need = (size_t)ar * ac > (size_t)br * bc ? (size_t)ar * ac : (size_t)br * bc;
        if (need > im->bf_cap) {
            cudaFree(im->bf_a);
            cudaFree(im->bf_b);
            CK(cudaMalloc(&im->bf_a, need * sizeof(__nv_bfloat16)));
            CK(cudaMalloc(&im->bf_b, need * sizeof(__nv_bfloat16)));
            im->bf_cap = need;
        }
        k_to_bf16<<<blocks_for((size_t)ar * ac, 256), 256, 0, im->stream>>>(A, im->bf_a, ar, ac, lda);
        k_to_bf16<<<blocks_for((size_t)br * bc, 256), 256, 0, im->stream>>>(B, im->bf_b, br, bc, ldb);
        KCHECK();
        cublasStatus_t st = cublasGemmEx(im->blas, opB, opA, N, M, K, &alpha, im->bf_b, CUDA_R_16BF, bc, im->bf_a,
                                         CUDA_R_16BF, ac, &beta, C, CUDA_R_32F, ldc, CUBLAS_COMPUTE_32F,
                                         CUBLAS_GEMM_DEFAULT);
        if (st != CUBLAS_STATUS_SUCCESS) {
            fprintf(stderr, "lvt cuda: cublasGemmEx (bf16) failed: %d\n", (int)st);
            abort();
        }
        return;
    }
    cublasStatus_t st = cublasSgemm(im->blas, opB, opA, N, M, K, &alpha, B, ldb, A, lda, &beta, C, ldc);
    if (st != CUBLAS_STATUS_SUCCESS) {
        fprintf(stderr, "lvt cuda: cublasSgemm failed: %d\n", (int)st);
        abort();
    }
}

/* ---- elementwise and broadcast -------------------------------------------------------------------- */

#define GRID_LOOP(i, n) for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < (n); i += (size_t)gridDim.x * blockDim.x)

__global__ void k_add_bcast(float *y, const float *t, int outer, int inner) {
    GRID_LOOP(i, (size_t)outer * inner) y[i] += t[i % inner];
}
static void cu_add_bcast(lvt_backend *be, float *y, const float *t, int outer, int inner) {
    size_t n = (size_t)outer * inner;
    k_add_bcast<<<blocks_for(n, 256), 256, 0, STREAM(be)>>>(y, t, outer, inner);
    KCHECK();
}

/* column sums: one thread per column, rows summed in order (deterministic) */
__global__ void k_sum_bcast(const float *dy, float *dt, int outer, int inner) {
    int j = blockIdx.x * blockDim.x + threadIdx.x;
    if (j >= inner) return;
    float s = 0.0f;
    for (int o = 0; o < outer; o++) s += dy[(size_t)o * inner + j];
    dt[j] += s;
}
static void cu_sum_bcast(lvt_backend *be, const float *dy, float *dt, int outer, int inner) {
    if (outer <= 0 || inner <= 0) return;
    k_sum_bcast<<<(inner + 127) / 128, 128, 0, STREAM(be)>>>(dy, dt, outer, inner);
    KCHECK();
}

static void cu_copy_rows(lvt_backend *be, float *dst, int ldd, const float *src, int lds, int M, int N) {
    if (M <= 0 || N <= 0) return;
    CK(cudaMemcpy2DAsync(dst, (size_t)ldd * sizeof(float), src, (size_t)lds * sizeof(float), (size_t)N * sizeof(float),
                         (size_t)M, cudaMemcpyDeviceToDevice, STREAM(be)));
}

__global__ void k_add(const float *a, const float *b, float *y, size_t n) { GRID_LOOP(i, n) y[i] = a[i] + b[i]; }
__global__ void k_axpy(float alpha, const float *x, float *y, size_t n) { GRID_LOOP(i, n) y[i] += alpha * x[i]; }
__global__ void k_scale(float *x, float alpha, size_t n) { GRID_LOOP(i, n) x[i] *= alpha; }
static void cu_add(lvt_backend *be, const float *a, const float *b, float *y, size_t n) {
    k_add<<<blocks_for(n, 256), 256, 0, STREAM(be)>>>(a, b, y, n);
    KCHECK();
}
static void cu_axpy(lvt_backend *be, float alpha, const float *x, float *y, size_t n) {
    k_axpy<<<blocks_for(n, 256), 256, 0, STREAM(be)>>>(alpha, x, y, n);
    KCHECK();
}
static void cu_scale(lvt_backend *be, float *x, float alpha, size_t n) {
    k_scale<<<blocks_for(n, 256), 256, 0, STREAM(be)>>>(x, alpha, n);
    KCHECK();
}

/* ---- block reductions ----------------------------------------------------------------------------- */

template <typename T>
__device__ T block_sum(T v, T *sh) {
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    int w = threadIdx.x >> 5, l = threadIdx.x & 31;
    if (l == 0) sh[w] = v;
    __syncthreads();
    int nw = (blockDim.x + 31) >> 5;
    v = (threadIdx.x < nw) ? sh[threadIdx.x] : (T)0;
    if (w == 0)
        for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    if (threadIdx.x == 0) sh[0] = v;
    __syncthreads();
    v = sh[0];
    __syncthreads();
    return v;
}

/* ---- normalisation (one block per row) -------------------------------------------------------------- */

__global__ void k_layernorm_fwd(const float *x, const float *g, const float *b, float *y, float *mean, float *rstd,
                                int N, float eps) {
    __shared__ double sh[32];
    const float *xr = x + (size_t)blockIdx.x * N;
    double s = 0;
    for (int j = threadIdx.x; j < N; j += blockDim.x) s += xr[j];
    double mu = block_sum<double>(s, sh) / N;
    double q = 0;
    for (int j = threadIdx.x; j < N; j += blockDim.x) {
        double d = xr[j] - mu;
        q += d * d;
    }
    double var = block_sum<double>(q, sh) / N;
    float rs = (float)(1.0 / sqrt(var + eps));
    float m = (float)mu;
    float *yr = y + (size_t)blockIdx.x * N;
    for (int j = threadIdx.x; j < N; j += blockDim.x) yr[j] = (xr[j] - m) * rs * g[j] + b[j];
    if (threadIdx.x == 0) {
        if (mean) mean[blockIdx.x] = m;
        if (rstd) rstd[blockIdx.x] = rs;
    }
}
static void cu_layernorm_fwd(lvt_backend *be, const float *x, const float *g, const float *b, float *y, float *mean,
                             float *rstd, int M, int N, float eps) {
    if (M <= 0 || N <= 0) return;
    k_layernorm_fwd<<<M, 256, 0, STREAM(be)>>>(x, g, b, y, mean, rstd, N, eps);
    KCHECK();
}

__global__ void k_layernorm_bwd_dx(const float *dy, const float *x, const float *mean, const float *rstd,
                                   const float *g, float *dx, int N) {
    __shared__ float sh[32];
    size_t r = blockIdx.x;
    const float *xr = x + r * N, *dyr = dy + r * N;
    float m = mean[r], rs = rstd[r];
    float s1 = 0, s2 = 0;
    for (int j = threadIdx.x; j < N; j += blockDim.x) {
        float xh = (xr[j] - m) * rs, dxh = dyr[j] * g[j];
        s1 += dxh;
        s2 += dxh * xh;
    }
    s1 = block_sum<float>(s1, sh) / N;
    s2 = block_sum<float>(s2, sh) / N;
    for (int j = threadIdx.x; j < N; j += blockDim.x) {
        float xh = (xr[j] - m) * rs, dxh = dyr[j] * g[j];
        dx[r * N + j] = rs * (dxh - s1 - xh * s2);
    }
}
/* dg, db: one thread per column over the rows (deterministic) */
__global__ void k_layernorm_bwd_dg(const float *dy, const float *x, const float *mean, const float *rstd, float *dg,
                                   float *db, int M, int N) {
    int j = blockIdx.x * blockDim.x + threadIdx.x;
    if (j >= N) return;
    float sg = 0, sb = 0;
    for (int r = 0; r < M; r++) {
        float d = dy[(size_t)r * N + j];
        sg += d * (x[(size_t)r * N + j] - mean[r]) * rstd[r];
        sb += d;
    }
    if (dg) dg[j] += sg;
    if (db) db[j] += sb;
}
static void cu_layernorm_bwd(lvt_backend *be, const float *dy, const float *x, const float *mean, const float *rstd,
                             const float *g, float *dx, float *dg, float *db, int M, int N) {
    if (M <= 0 || N <= 0) return;
    if (dg || db) k_layernorm_bwd_dg<<<(N + 127) / 128, 128, 0, STREAM(be)>>>(dy, x, mean, rstd, dg, db, M, N);
    k_layernorm_bwd_dx<<<M, 256, 0, STREAM(be)>>>(dy, x, mean, rstd, g, dx, N);
    KCHECK();
}

__global__ void k_l2norm_fwd(const float *x, float *y, float *norms, int N, float eps) {
    __shared__ double sh[32];
    const float *xr = x + (size_t)blockIdx.x * N;
    double s = 0;
    for (int j = threadIdx.x; j < N; j += blockDim.x) s += (double)xr[j] * xr[j];
    float n = (float)sqrt(block_sum<double>(s, sh));
    float d = n > eps ? n : eps;
    for (int j = threadIdx.x; j < N; j += blockDim.x) y[(size_t)blockIdx.x * N + j] = xr[j] / d;
    if (norms && threadIdx.x == 0) norms[blockIdx.x] = n;
}
static void cu_l2norm_fwd(lvt_backend *be, const float *x, float *y, float *norms, int M, int N, float eps) {
    if (M <= 0 || N <= 0) return;
    k_l2norm_fwd<<<M, 256, 0, STREAM(be)>>>(x, y, norms, N, eps);
    KCHECK();
}
__global__ void k_l2norm_bwd(const float *dy, const float *x, const float *norms, float *dx, int N, float eps) {
    __shared__ double sh[32];
    size_t r = blockIdx.x;
    const float *xr = x + r * N, *dyr = dy + r * N;
    float n = norms[r];
    if (n >= eps && n > 0.0f) {
        double s = 0;
        for (int j = threadIdx.x; j < N; j += blockDim.x) s += (double)xr[j] * dyr[j];
        double xd = block_sum<double>(s, sh);
        float inv = 1.0f / n, c = (float)(xd / ((double)n * n * n));
        for (int j = threadIdx.x; j < N; j += blockDim.x) dx[r * N + j] = dyr[j] * inv - xr[j] * c;
    } else {
        for (int j = threadIdx.x; j < N; j += blockDim.x) dx[r * N + j] = dyr[j] / eps;
    }
}
static void cu_l2norm_bwd(lvt_backend *be, const float *dy, const float *x, const float *norms, float *dx, int M,
                          int N, float eps) {
    if (M <= 0 || N <= 0) return;
    k_l2norm_bwd<<<M, 256, 0, STREAM(be)>>>(dy, x, norms, dx, N, eps);
    KCHECK();
}

/* ---- activations --------------------------------------------------------------------------------- */

__global__ void k_relu_fwd(const float *x, float *y, size_t n) { GRID_LOOP(i, n) y[i] = lvt_relu(x[i]); }
__global__ void k_relu_bwd(const float *dy, const float *x, float *dx, size_t n) {
    GRID_LOOP(i, n) dx[i] = lvt_relu_grad(dy[i], x[i]);
}
__global__ void k_gelu_fwd(const float *x, float *y, size_t n) { GRID_LOOP(i, n) y[i] = lvt_gelu(x[i]); }
__global__ void k_gelu_bwd(const float *dy, const float *x, float *dx, size_t n) {
    GRID_LOOP(i, n) dx[i] = lvt_gelu_grad(dy[i], x[i]);
}
static void cu_relu_fwd(lvt_backend *be, const float *x, float *y, size_t n) {
    k_relu_fwd<<<blocks_for(n, 256), 256, 0, STREAM(be)>>>(x, y, n);
    KCHECK();
}
static void cu_relu_bwd(lvt_backend *be, const float *dy, const float *x, float *dx, size_t n) {
    k_relu_bwd<<<blocks_for(n, 256), 256, 0, STREAM(be)>>>(dy, x, dx, n);
    KCHECK();
}
static void cu_gelu_fwd(lvt_backend *be, const float *x, float *y, size_t n) {
    k_gelu_fwd<<<blocks_for(n, 256), 256, 0, STREAM(be)>>>(x, y, n);
    KCHECK();
}
static void cu_gelu_bwd(lvt_backend *be, const float *dy, const float *x, float *dx, size_t n) {
    k_gelu_bwd<<<blocks_for(n, 256), 256, 0, STREAM(be)>>>(dy, x, dx, n);
    KCHECK();
}

/* ---- dropout ------------------------------------------------------------------------------------- */

__global__ void k_dropout_fwd(const float *x, float *y, uint8_t *mask, int n_samples, int per_sample, uint64_t seed,
                              uint64_t step, uint32_t site, int64_t base, const uint64_t *rng, float p, float scale) {
    if (rng) {
        step += rng[0];
        base += (int64_t)rng[1];
    }
    GRID_LOOP(i, (size_t)n_samples * per_sample) {
        size_t s = i / per_sample, el = i % per_sample;
        uint8_t keep = p > 0.0f ? (lvt_rng_unit(seed, step, site, (uint64_t)(base + (int64_t)s), el) >= p) : 1;
        if (mask) mask[i] = keep;
        y[i] = keep ? x[i] * scale : 0.0f;
    }
}
static void cu_dropout_fwd(lvt_backend *be, const float *x, float *y, uint8_t *mask, int n_samples, int per_sample,
                           const lvt_dropout_key *key) {
    float p = key ? key->p : 0.0f;
    float scale = lvt_dropout_scale(p);
    size_t n = (size_t)n_samples * per_sample;
    if (n == 0) return;
    uint64_t step;
    int64_t base;
    const uint64_t *rng;
    rng_args(be, key, &step, &base, &rng);
    k_dropout_fwd<<<blocks_for(n, 256), 256, 0, STREAM(be)>>>(x, y, mask, n_samples, per_sample, key ? key->seed : 0,
                                                               step, key ? key->site : 0, base, rng, p, scale);
    KCHECK();
}
__global__ void k_dropout_bwd(const float *dy, const uint8_t *mask, float *dx, size_t n, float scale) {
    GRID_LOOP(i, n) dx[i] = mask[i] ? dy[i] * scale : 0.0f;
}
static void cu_dropout_bwd(lvt_backend *be, const float *dy, const uint8_t *mask, float *dx, size_t n, float p) {
    if (n == 0) return;
    if (p <= 0.0f) { /* identity; mask may be NULL (as on the CPU) */
        if (dx != dy) CK(cudaMemcpyAsync(dx, dy, n * sizeof(float), cudaMemcpyDeviceToDevice, STREAM(be)));
        return;
    }
    float scale = lvt_dropout_scale(p);
    k_dropout_bwd<<<blocks_for(n, 256), 256, 0, STREAM(be)>>>(dy, mask, dx, n, scale);
    KCHECK();
}

/* ---- attention: one block per (batch, head), everything in shared memory ------------------------------- */

__global__ void k_attention_fwd(const float *q, int ldq, const float *k, int ldk, const float *v, int ldv, float *out,
                                int ldo, float *probs, uint8_t *drop_mask, int Lq, int Lk, int H, int hd, int causal,
                                int dropping, uint64_t seed, uint64_t step, uint32_t site, int64_t base,
                                const uint64_t *rng, float p, float dscale) {
    extern __shared__ float sm[];
    const int b = blockIdx.x / H, h = blockIdx.x % H;
    float *sq = sm, *sk = sq + Lq * hd, *sv = sk + Lk * hd, *sp = sv + Lk * hd; /* sp: [Lq][Lk] */
    const float scale = 1.0f / sqrtf((float)hd); /* as the CPU backend */
    if (rng) {
        step += rng[0];
        base += (int64_t)rng[1];
    }
    for (int idx = threadIdx.x; idx < Lq * hd; idx += blockDim.x) {
        int i = idx / hd, c = idx % hd;
        sq[idx] = q[(size_t)(b * Lq + i) * ldq + h * hd + c];
    }
    for (int idx = threadIdx.x; idx < Lk * hd; idx += blockDim.x) {
        int j = idx / hd, c = idx % hd;
        sk[idx] = k[(size_t)(b * Lk + j) * ldk + h * hd + c];
        sv[idx] = v[(size_t)(b * Lk + j) * ldv + h * hd + c];
    }
    __syncthreads();
    for (int idx = threadIdx.x; idx < Lq * Lk; idx += blockDim.x) {
        int i = idx / Lk, j = idx % Lk;
        float s = -INFINITY;
        if (!causal || j <= i) {
            s = 0.0f;
            for (int c = 0; c < hd; c++) s += sq[i * hd + c] * sk[j * hd + c];
            s *= scale;
        }
        sp[idx] = s;
    }
    __syncthreads();
    for (int i = threadIdx.x; i < Lq; i += blockDim.x) {
        float *row = sp + i * Lk;
        float mx = -INFINITY;
        for (int j = 0; j < Lk; j++) mx = fmaxf(mx, row[j]);
        float sum = 0.0f;
        for (int j = 0; j < Lk; j++) {
            float ev = row[j] == -INFINITY ? 0.0f : expf(row[j] - mx);
            row[j] = ev;
            sum += ev;
        }
        float inv = 1.0f / sum;
        size_t prow = (((size_t)b * H + h) * Lq + i) * Lk;
        for (int j = 0; j < Lk; j++) {
            float pj = row[j] * inv;
            if (probs) probs[prow + j] = pj;
            uint8_t keep = 1;
            if (dropping)
                keep = lvt_rng_unit(seed, step, site, (uint64_t)(base + b), ((uint64_t)h * Lq + i) * Lk + j) >= p;
            if (drop_mask) drop_mask[prow + j] = keep;
            row[j] = dropping ? (keep ? pj * dscale : 0.0f) : pj;
        }
    }
    __syncthreads();
    for (int idx = threadIdx.x; idx < Lq * hd; idx += blockDim.x) {
        int i = idx / hd, c = idx % hd;
        float acc = 0.0f;
        for (int j = 0; j < Lk; j++) acc += sp[i * Lk + j] * sv[j * hd + c];
        out[(size_t)(b * Lq + i) * ldo + h * hd + c] = acc;
    }
}

static void set_smem(const void *fn, size_t bytes) {
    if (bytes > 48 * 1024) CK(cudaFuncSetAttribute(fn, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)bytes));
}

static void cu_attention_fwd(lvt_backend *be, const float *q, int ldq, const float *k, int ldk, const float *v, int ldv,
                             float *out, int ldo, float *probs, uint8_t *drop_mask, int B, int Lq, int Lk, int H,
                             int hd, int causal, const lvt_dropout_key *key) {
    int dropping = key && key->p > 0.0f;
    float p = dropping ? key->p : 0.0f;
    float dscale = lvt_dropout_scale(p);
    size_t smem = sizeof(float) * ((size_t)Lq * hd + 2 * (size_t)Lk * hd + (size_t)Lq * Lk);
    if (B <= 0 || H <= 0) return;
    uint64_t step;
    int64_t base;
    const uint64_t *rng;
    rng_args(be, key, &step, &base, &rng);
    set_smem((const void *)k_attention_fwd, smem);
    k_attention_fwd<<<B * H, 128, smem, STREAM(be)>>>(q, ldq, k, ldk, v, ldv, out, ldo, probs, drop_mask, Lq, Lk, H, hd,
                                                      causal, dropping, key ? key->seed : 0, step,
                                                      key ? key->site : 0, base, rng, p, dscale);
    KCHECK();
}

__global__ void k_attention_bwd(const float *dout, int ldo, const float *q, int ldq, const float *k, int ldk,
                                const float *v, int ldv, const float *probs, const uint8_t *drop_mask, float dscale,
                                float *dq, float *dk, float *dv, int Lq, int Lk, int H, int hd) {
    extern __shared__ float sm[];
    const int b = blockIdx.x / H, h = blockIdx.x % H;
    float *sq = sm, *sk = sq + Lq * hd, *sv = sk + Lk * hd, *sdo = sv + Lk * hd;
    float *sp = sdo + Lq * hd, *spd = sp + Lq * Lk, *sds = spd + Lq * Lk;
    const float scale = 1.0f / sqrtf((float)hd);
    for (int idx = threadIdx.x; idx < Lq * hd; idx += blockDim.x) {
        int i = idx / hd, c = idx % hd;
        sq[idx] = q[(size_t)(b * Lq + i) * ldq + h * hd + c];
        sdo[idx] = dout[(size_t)(b * Lq + i) * ldo + h * hd + c];
    }
    for (int idx = threadIdx.x; idx < Lk * hd; idx += blockDim.x) {
        int j = idx / hd, c = idx % hd;
        sk[idx] = k[(size_t)(b * Lk + j) * ldk + h * hd + c];
        sv[idx] = v[(size_t)(b * Lk + j) * ldv + h * hd + c];
    }
    size_t pbase = ((size_t)b * H + h) * Lq * Lk;
    for (int idx = threadIdx.x; idx < Lq * Lk; idx += blockDim.x) {
        float pv = probs[pbase + idx];
        float keep = drop_mask ? (float)drop_mask[pbase + idx] : 1.0f;
        sp[idx] = pv;
        spd[idx] = drop_mask ? keep * dscale : 1.0f; /* d(P_dropped)/dP */
    }
    __syncthreads();
    /* dP[i][j] = (dout_i . v_j) * dropout factor */
    for (int idx = threadIdx.x; idx < Lq * Lk; idx += blockDim.x) {
        int i = idx / Lk, j = idx % Lk;
        float acc = 0.0f;
        for (int c = 0; c < hd; c++) acc += sdo[i * hd + c] * sv[j * hd + c];
        sds[idx] = acc * spd[idx];
    }
    __syncthreads();
    /* dv[j][c] = sum_i P_dropped[i][j] dout[i][c] */
    for (int idx = threadIdx.x; idx < Lk * hd; idx += blockDim.x) {
        int j = idx / hd, c = idx % hd;
        float acc = 0.0f;
        for (int i = 0; i < Lq; i++) acc += sp[i * Lk + j] * spd[i * Lk + j] * sdo[i * hd + c];
        dv[(size_t)(b * Lk + j) * ldv + h * hd + c] = acc;
    }
    /* softmax backward per row: dS = P (dP - sum_j dP P) */
    for (int i = threadIdx.x; i < Lq; i += blockDim.x) {
        float rs = 0.0f;
        for (int j = 0; j < Lk; j++) rs += sds[i * Lk + j] * sp[i * Lk + j];
        for (int j = 0; j < Lk; j++) sds[i * Lk + j] = sp[i * Lk + j] * (sds[i * Lk + j] - rs);
    }
    __syncthreads();
    for (int idx = threadIdx.x; idx < Lq * hd; idx += blockDim.x) {
        int i = idx / hd, c = idx % hd;
        float acc = 0.0f;
        for (int j = 0; j < Lk; j++) acc += sds[i * Lk + j] * sk[j * hd + c];
        dq[(size_t)(b * Lq + i) * ldq + h * hd + c] = acc * scale;
    }
    for (int idx = threadIdx.x; idx < Lk * hd; idx += blockDim.x) {
        int j = idx / hd, c = idx % hd;
        float acc = 0.0f;
        for (int i = 0; i < Lq; i++) acc += sds[i * Lk + j] * sq[i * hd + c];
        dk[(size_t)(b * Lk + j) * ldk + h * hd + c] = acc * scale;
    }
}

static void cu_attention_bwd(lvt_backend *be, const float *dout, int ldo, const float *q, int ldq, const float *k,
                             int ldk, const float *v, int ldv, const float *probs, const uint8_t *drop_mask,
                             float drop_p, float *dq, float *dk, float *dv, int B, int Lq, int Lk, int H, int hd) {
    const uint8_t *mask = drop_p > 0.0f ? drop_mask : NULL;
    float dscale = lvt_dropout_scale(drop_p);
    size_t smem = sizeof(float) * (2 * (size_t)Lq * hd + 2 * (size_t)Lk * hd + 3 * (size_t)Lq * Lk);
    if (B <= 0 || H <= 0) return;
    set_smem((const void *)k_attention_bwd, smem);
    k_attention_bwd<<<B * H, 128, smem, STREAM(be)>>>(dout, ldo, q, ldq, k, ldk, v, ldv, probs, mask, dscale, dq, dk,
                                                      dv, Lq, Lk, H, hd);
    KCHECK();
}

/* ---- row dots and reductions ------------------------------------------------------------------------- */

__global__ void k_dot_rows(const float *a, int lda, const float *b, int ldb, float *out, int M, int N) {
    int warp = (blockIdx.x * blockDim.x + threadIdx.x) >> 5, lane = threadIdx.x & 31;
    if (warp >= M) return;
    const float *ar = a + (size_t)warp * lda, *br = b + (size_t)warp * ldb;
    float s = 0.0f;
    for (int j = lane; j < N; j += 32) s += ar[j] * br[j];
    for (int o = 16; o > 0; o >>= 1) s += __shfl_xor_sync(0xffffffffu, s, o);
    if (lane == 0) out[warp] = s;
}
static void cu_dot_rows(lvt_backend *be, const float *a, int lda, const float *b, int ldb, float *out, int M, int N) {
    int threads = 256, warps = threads / 32;
    if (M <= 0) return;
    k_dot_rows<<<(M + warps - 1) / warps, threads, 0, STREAM(be)>>>(a, lda, b, ldb, out, M, N);
    KCHECK();
}

__global__ void k_sum(const float *x, size_t n, int squares, double *acc) {
    __shared__ double sh[32];
    double s = 0;
    GRID_LOOP(i, n) s += squares ? (double)x[i] * x[i] : (double)x[i];
    s = block_sum<double>(s, sh);
    if (threadIdx.x == 0) atomicAdd(acc, s);
}
static double reduce_host(lvt_backend *be, const float *x, size_t n, int squares) {
    cuda_impl *im = IMPL(be);
    CK(cudaMemsetAsync(im->d_acc, 0, sizeof(double), im->stream));
    int blocks = blocks_for(n, 256);
    if (blocks > 1024) blocks = 1024;
    k_sum<<<blocks, 256, 0, im->stream>>>(x, n, squares, im->d_acc);
    KCHECK();
    double h = 0;
    CK(cudaMemcpyAsync(&h, im->d_acc, sizeof h, cudaMemcpyDeviceToHost, im->stream));
    CK(cudaStreamSynchronize(im->stream));
    return h;
}
static double cu_sum(lvt_backend *be, const float *x, size_t n) { return reduce_host(be, x, n, 0); }
static double cu_sumsq(lvt_backend *be, const float *x, size_t n) { return reduce_host(be, x, n, 1); }

/* ---- AdamW ------------------------------------------------------------------------------------------ */

__global__ void k_adamw(float *p, const float *g, float *m, float *v, size_t n, const lvt_adamw_scalars s,
                        float grad_scale) {
    GRID_LOOP(i, n) lvt_adamw_update(p + i, m + i, v + i, g[i], grad_scale, s);
}
static void cu_adamw(lvt_backend *be, float *p, const float *g, float *m, float *v, size_t n, float lr, float beta1,
                     float beta2, float eps, float weight_decay, long t, float grad_scale) {
    /* the scalars of cpu_adamw, on the host (see ops.h) */
    const lvt_adamw_scalars s = lvt_adamw_scalars_for(lr, beta1, beta2, eps, weight_decay, t);
    if (n == 0) return;
    k_adamw<<<blocks_for(n, 256), 256, 0, STREAM(be)>>>(p, g, m, v, n, s, grad_scale);
    KCHECK();
}

/* The graph optimiser's step (ops->adamw_clipped): the sum of squares accumulated into a device
 * double, then AdamW with grad_scale = lvt_clip_coef(sqrt(*acc), max_norm) computed here in
 * double, and no update when the norm or *loss is not finite. */
__global__ void k_sumsq_acc(const float *x, size_t n, double *acc) {
    __shared__ double sh[32];
    double s = 0;
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
        s += (double)x[i] * x[i];
    for (int o = 16; o > 0; o >>= 1) s += __shfl_xor_sync(0xffffffffu, s, o);
    if ((threadIdx.x & 31) == 0) sh[threadIdx.x >> 5] = s;
    __syncthreads();
    if (threadIdx.x < 32) {
        s = threadIdx.x < (blockDim.x >> 5) ? sh[threadIdx.x] : 0.0;
        for (int o = 16; o > 0; o >>= 1) s += __shfl_xor_sync(0xffffffffu, s, o);
        if (threadIdx.x == 0) atomicAdd(acc, s);
    }
}
__global__ void k_adamw_clipped(float *p, const float *g, float *m, float *v, size_t n, const lvt_adamw_scalars *sc,
                                const double *acc, double max_norm, const float *loss) {
    const double norm = sqrt(*acc);
    if (!isfinite(norm) || (loss && !isfinite(*loss))) return;
    const float grad_scale = (float)lvt_clip_coef(norm, max_norm);
    const lvt_adamw_scalars s = *sc;
    GRID_LOOP(i, n) lvt_adamw_update(p + i, m + i, v + i, g[i], grad_scale, s);
}
static void cu_adamw_clipped(lvt_backend *be, float *p, const float *g, float *m, float *v, size_t n,
                             const lvt_adamw_scalars *sc, double *acc, double max_norm, const float *loss) {
    cudaStream_t s = STREAM(be);
    CK(cudaMemsetAsync(acc, 0, sizeof(double), s));
    size_t blocks = (n + 255) / 256;
    if (blocks > 1024) blocks = 1024;
    if (blocks < 1) blocks = 1;
    k_sumsq_acc<<<(unsigned)blocks, 256, 0, s>>>(g, n, acc);
    k_adamw_clipped<<<blocks_for(n, 256), 256, 0, s>>>(p, g, m, v, n, sc, acc, max_norm, loss);
    KCHECK();
}

/* ---- P4 objective helpers --------------------------------------------------------------------------- */

__global__ void k_vmap(lvt_vmap_op op, const float *a, const float *b, int bs, const float *c, float s0, float s1,
                       float *y, int n) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    float av = a ? a[i] : 0.0f, bv = b ? b[(size_t)i * bs] : 0.0f, cv = c ? c[i] : 1.0f;
    y[i] = lvt_vmap_apply(op, av, bv, cv, s0, s1);
}
static void cu_vmap(lvt_backend *be, lvt_vmap_op op, const float *a, const float *b, int bs, const float *c, float s0, float s1,
                    float *y, int n) {
    if (n <= 0) return;
    k_vmap<<<(n + 255) / 256, 256, 0, STREAM(be)>>>(op, a, b, bs, c, s0, s1, y, n);
    KCHECK();
}
/* single block, ordered per thread then tree: deterministic */
__global__ void k_reduce_sum(const float *x, int n, float scale, float *out) {
    __shared__ double sh[32];
    double s = 0;
    for (int i = threadIdx.x; i < n; i += blockDim.x) s += x[i];
    s = block_sum<double>(s, sh);
    if (threadIdx.x == 0) out[0] = (float)(s * scale);
}
static void cu_reduce_sum(lvt_backend *be, const float *x, int n, float scale, float *out) {
    k_reduce_sum<<<1, 256, 0, STREAM(be)>>>(x, n, scale, out);
    KCHECK();
}
__global__ void k_scale_rows_add(const float *coef, int cs, float alpha, const float *x, int ldx, float *y, int ldy,
                                 int M, int N) {
    GRID_LOOP(idx, (size_t)M * N) {
        size_t m = idx / N, j = idx % N;
        float f = alpha * (coef ? coef[m * cs] : 1.0f);
        if (f != 0.0f) y[m * ldy + j] += f * x[m * ldx + j]; /* the CPU skips zero factors too */
    }
}
static void cu_scale_rows_add(lvt_backend *be, const float *coef, int cs, float alpha, const float *x, int ldx,
                              float *y, int ldy, int M, int N) {
    size_t n = (size_t)M * N;
    if (!n) return;
    k_scale_rows_add<<<blocks_for(n, 256), 256, 0, STREAM(be)>>>(coef, cs, alpha, x, ldx, y, ldy, M, N);
    KCHECK();
}
/* one block per sample */
__global__ void k_context_drop(float *ctx, int L, int D, uint64_t seed, uint64_t step, int64_t base,
                               const uint64_t *rng, float p, lvt_context_drop_mode mode) {
    __shared__ double sh[32];
    int s = blockIdx.x;
    if (rng) {
        step += rng[0];
        base += (int64_t)rng[1];
    }
    uint64_t g = (uint64_t)(base + s);
    if (!(lvt_rng_unit(seed, step, LVT_SITE_CONTEXT_DROP, g, 0) < p)) return;
    float *last = ctx + ((size_t)s * L + (L - 1)) * D;
    if (mode == LVT_CONTEXT_DROP_ZERO) {
        for (int j = threadIdx.x; j < D; j += blockDim.x) last[j] = 0.0f;
    } else if (mode == LVT_CONTEXT_DROP_MEAN) {
        for (int j = threadIdx.x; j < D; j += blockDim.x) {
            float acc = 0;
            for (int i = 0; i < L - 1; i++) acc += ctx[((size_t)s * L + i) * D + j];
            last[j] = acc / (float)(L - 1);
        }
    } else {
        double nrm = 0;
        for (int j = 2 * threadIdx.x; j < D; j += 2 * blockDim.x) {
            float z0, z1;
            lvt_context_noise_pair(seed, step, g, j, &z0, &z1);
            last[j] = z0;
            nrm += (double)z0 * z0;
            if (j + 1 < D) {
                last[j + 1] = z1;
                nrm += (double)z1 * z1;
            }
        }
        nrm = block_sum<double>(nrm, sh);
        float inv = nrm > 0 ? (float)(1.0 / sqrt(nrm)) : 0.0f;
        for (int j = threadIdx.x; j < D; j += blockDim.x) last[j] *= inv;
    }
}
static void cu_context_drop(lvt_backend *be, float *ctx, int B, int L, int D, const lvt_dropout_key *key,
                            lvt_context_drop_mode mode) {
    if (B <= 0) return;
    uint64_t step;
    int64_t base;
    const uint64_t *rng;
    rng_args(be, key, &step, &base, &rng);
    k_context_drop<<<B, 128, 0, STREAM(be)>>>(ctx, L, D, key->seed, step, base, rng, key->p, mode);
    KCHECK();
}

/* ---- the table and construction ---------------------------------------------------------------------- */

static void cu_destroy(lvt_backend *be);

static const lvt_ops cuda_ops = {
    .name = "cuda",
    .host_memory = 0,
    .destroy = cu_destroy,
    .alloc = cu_alloc,
    .free = cu_free,
    .zero = cu_zero,
    .to_device = cu_to_device,
    .to_host = cu_to_host,
    .copy = cu_copy,
    .sync = cu_sync,
    .gemm = cu_gemm,
    .add_bcast = cu_add_bcast,
    .sum_bcast = cu_sum_bcast,
    .copy_rows = cu_copy_rows,
    .add = cu_add,
    .axpy = cu_axpy,
    .scale = cu_scale,
    .layernorm_fwd = cu_layernorm_fwd,
    .layernorm_bwd = cu_layernorm_bwd,
    .l2norm_fwd = cu_l2norm_fwd,
    .l2norm_bwd = cu_l2norm_bwd,
    .relu_fwd = cu_relu_fwd,
    .relu_bwd = cu_relu_bwd,
    .gelu_fwd = cu_gelu_fwd,
    .gelu_bwd = cu_gelu_bwd,
    .dropout_fwd = cu_dropout_fwd,
    .dropout_bwd = cu_dropout_bwd,
    .attention_fwd = cu_attention_fwd,
    .attention_bwd = cu_attention_bwd,
    .dot_rows = cu_dot_rows,
    .sum = cu_sum,
    .sumsq = cu_sumsq,
    .adamw = cu_adamw,
    .vmap = cu_vmap,
    .reduce_sum = cu_reduce_sum,
    .scale_rows_add = cu_scale_rows_add,
    .context_drop = cu_context_drop,
    .adamw_clipped = cu_adamw_clipped,
    /* optional entries: all present (the collective only in a build with NCCL) */
    .graph_begin = cu_graph_begin,
    .graph_end = cu_graph_end,
    .graph_replay = cu_graph_replay,
    .graph_destroy = cu_graph_destroy,
    .batch_gather = cu_batch_gather,
    .index_stage_create = cu_index_stage_create,
    .index_stage_destroy = cu_index_stage_destroy,
    .index_upload = cu_index_upload,
#ifdef LVT_HAVE_NCCL
    .coll_unique_id = cu_coll_unique_id,
    .coll_create = cu_coll_create,
    .coll_allreduce = cu_coll_allreduce,
    .coll_destroy = cu_coll_destroy,
#else
    .coll_unique_id = NULL,
    .coll_create = NULL,
    .coll_allreduce = NULL,
    .coll_destroy = NULL,
#endif
};

extern "C" int lvt_cuda_device_count(void) {
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess) {
        cudaGetLastError();
        return 0;
    }
    return n;
}

extern "C" int lvt_cuda_backend_create(lvt_backend **out, int device, lvt_math math, lvt_err *e) {
    *out = NULL;
    int n = lvt_cuda_device_count();
    if (n <= 0) return lvt_errf(e, "no usable CUDA device");
    if (device < 0) device = 0;
    device %= n;
    cudaError_t rc = cudaSetDevice(device);
    if (rc != cudaSuccess) return lvt_errf(e, "cudaSetDevice(%d): %s", device, cudaGetErrorString(rc));
    lvt_backend *be = (lvt_backend *)calloc(1, sizeof *be);
    cuda_impl *im = (cuda_impl *)calloc(1, sizeof *im);
    if (!be || !im) {
        free(be);
        free(im);
        return lvt_errf(e, "out of memory");
    }
    if ((rc = cudaStreamCreateWithFlags(&im->stream, cudaStreamNonBlocking)) != cudaSuccess ||
        (rc = cudaMalloc(&im->d_acc, sizeof(double))) != cudaSuccess ||
        (rc = cudaMalloc(&im->d_rng, 2 * sizeof(uint64_t))) != cudaSuccess ||
        (rc = cudaMemset(im->d_rng, 0, 2 * sizeof(uint64_t))) != cudaSuccess ||
        (rc = cudaMalloc(&im->blas_ws, LVT_CUDA_BLAS_WS)) != cudaSuccess) {
        cudaFree(im->d_acc);
        cudaFree(im->d_rng);
        free(be);
        free(im);
        return lvt_errf(e, "CUDA set-up: %s", cudaGetErrorString(rc));
    }
    if (cublasCreate(&im->blas) != CUBLAS_STATUS_SUCCESS) {
        cudaStreamDestroy(im->stream);
        cudaFree(im->d_acc);
        cudaFree(im->d_rng);
        cudaFree(im->blas_ws);
        free(be);
        free(im);
        return lvt_errf(e, "cublasCreate failed");
    }
    cublasSetStream(im->blas, im->stream);
    /* an explicit workspace: cuBLAS calls captured into a CUDA graph then never allocate */
    cublasSetWorkspace(im->blas, im->blas_ws, LVT_CUDA_BLAS_WS);
    cublasSetMathMode(im->blas, math == LVT_MATH_TF32 ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_PEDANTIC_MATH);
    be->ops = &cuda_ops;
    be->math = math;
    be->device = device;
    be->impl = im;
    *out = be;
    return LVT_OK;
}

static void cu_destroy(lvt_backend *be) {
    if (!be) return;
    cuda_impl *im = IMPL(be);
    if (im) {
        cudaStreamSynchronize(im->stream);
        cublasDestroy(im->blas);
        cudaFree(im->d_acc);
        cudaFree(im->d_rng);
        cudaFree(im->blas_ws);
        cudaFree(im->bf_a);
        cudaFree(im->bf_b);
        cudaStreamDestroy(im->stream);
        free(im);
    }
    free(be);
}

cudaStream_t cu_stream(lvt_backend *be) { return STREAM(be); }

/* ---- for graph.cu: device-side RNG step for graph replay ------------------------------------------ */

uint64_t *cu_rng_slot(lvt_backend *be) { return IMPL(be)->d_rng; }

void cu_rng_device(lvt_backend *be, int on, uint64_t ref_step, int64_t ref_base) {
    cuda_impl *im = IMPL(be);
    im->rng_dev = on;
    im->rng_ref_step = ref_step;
    im->rng_ref_base = ref_base;
}
