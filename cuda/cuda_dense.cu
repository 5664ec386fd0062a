/* cuda_dense.cu — the CUDA backend's dense primitives (ops.h): cuBLAS GEMM in fp32, TF32 or BF16
 * inputs with fp32 accumulation (weight operands read from the BF16 shadow of the parameters,
 * activations converted into staging), elementwise and broadcast ops, the column sums of
 * sum_bcast as a two-stage reduction (row chunks in parallel, then the chunks in order:
 * deterministic), row dots, the host reductions sum / sumsq, AdamW (writing the BF16 shadow in
 * the same pass), the graph-capturable clipped AdamW, and the P4 helpers. Per-element math from
 * include/lvt/elementwise.h, as the CPU loops in src/cpu/. */
#include <math.h>
#include <stdio.h>

#include "cuda_internal.h"

/* ---- GEMM ------------------------------------------------------------------------------------ */

__global__ void k_to_bf16(const float *x, __nv_bfloat16 *y, int rows, int cols, int ld) {
    size_t n = (size_t)rows * cols;
    CU_GRID_LOOP(i, n) {
        size_t r = i / cols, c = i % cols;
        y[r * cols + c] = __float2bfloat16(x[r * (size_t)ld + c]);
    }
}

__global__ void k_gemm_k0(float *C, int ldc, int M, int N, float beta) {
    CU_GRID_LOOP(i, (size_t)M * N) {
        float *c = C + (i / N) * (size_t)ldc + i % N;
        *c = beta == 0.0f ? 0.0f : beta * *c;
    }
}

__global__ void k_to_bf16_flat(const float *x, __nv_bfloat16 *y, size_t n) { CU_GRID_LOOP(i, n) y[i] = __float2bfloat16(x[i]); }

void cu_shadow_refresh(lvt_backend *be) {
    cuda_impl *im = cu_impl(be);
    if (!im->sh) return;
    k_to_bf16_flat<<<cu_blocks(im->sh_n, 256), 256, 0, im->stream>>>(im->sh_src, im->sh, im->sh_n);
    cu_after(be, cudaSuccess, "bf16 shadow refresh", "%zu params", im->sh_n);
    im->sh_dirty = 0;
}

/* The bf16 operand for X [rows, cols] (leading dim ld): inside the parameter shadow when X lies in
 * the shadowed buffer (refreshed first when stale), else converted into staging `which` (packed,
 * leading dim cols). NULL when the staging would have to grow inside a capture. */
static const __nv_bfloat16 *bf16_operand(lvt_backend *be, const float *X, int rows, int cols, int ld, int which,
                                         int *ld_out) {
    cuda_impl *im = cu_impl(be);
    if (im->sh && X >= im->sh_src && X + (size_t)(rows - 1) * ld + cols <= im->sh_src + im->sh_n) {
        if (im->sh_dirty) cu_shadow_refresh(be);
        *ld_out = ld;
        return im->sh + (X - im->sh_src);
    }
    size_t n = (size_t)rows * cols;
    __nv_bfloat16 *st = (__nv_bfloat16 *)cu_scratch(be, which, n * sizeof(__nv_bfloat16), "gemm (bf16 staging)");
    if (!st) return NULL;
    k_to_bf16<<<cu_blocks(n, 256), 256, 0, im->stream>>>(X, st, rows, cols, ld);
    cu_after(be, cudaSuccess, "gemm (bf16 conversion)", "%dx%d ld %d", rows, cols, ld);
    *ld_out = cols;
    return st;
}

/* Row-major C = alpha op(A) op(B) + beta C through column-major cuBLAS: C^T = op(B)^T op(A)^T. */
void cu_gemm(lvt_backend *be, int ta, int tb, int M, int N, int K, float alpha, const float *A, int lda,
             const float *B, int ldb, float beta, float *C, int ldc) {
    cuda_impl *im = cu_impl(be);
    if (M <= 0 || N <= 0) return;
    if (K <= 0) { /* op(A)@op(B) is zero: C = beta * C (beta == 0 clears), as the CPU backend */
        k_gemm_k0<<<cu_blocks((size_t)M * N, 256), 256, 0, im->stream>>>(C, ldc, M, N, beta);
        cu_after(be, cudaSuccess, "gemm", "K=0 M=%d N=%d", M, N);
        return;
    }
    cublasOperation_t opA = ta ? CUBLAS_OP_T : CUBLAS_OP_N, opB = tb ? CUBLAS_OP_T : CUBLAS_OP_N;
    if (be->math == LVT_MATH_BF16) {
        int ar = ta ? K : M, ac = ta ? M : K, br = tb ? N : K, bc = tb ? K : N, la = 0, lb = 0;
        const __nv_bfloat16 *a16 = bf16_operand(be, A, ar, ac, lda, CU_SCR_BF_A, &la);
        const __nv_bfloat16 *b16 = bf16_operand(be, B, br, bc, ldb, CU_SCR_BF_B, &lb);
        if (!a16 || !b16) return; /* the capture fails (cu_capture_fail); nothing to compute */
        cublasStatus_t st = cublasGemmEx(im->blas, opB, opA, N, M, K, &alpha, b16, CUDA_R_16BF, lb, a16, CUDA_R_16BF,
                                         la, &beta, C, CUDA_R_32F, ldc, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT);
        cu_blas_after(be, st, "gemm", "bf16 %c%c M=%d N=%d K=%d lda=%d ldb=%d ldc=%d", ta ? 'T' : 'N', tb ? 'T' : 'N',
                      M, N, K, lda, ldb, ldc);
        return;
    }
    cublasStatus_t st = cublasSgemm(im->blas, opB, opA, N, M, K, &alpha, B, ldb, A, lda, &beta, C, ldc);
    cu_blas_after(be, st, "gemm", "%s %c%c M=%d N=%d K=%d lda=%d ldb=%d ldc=%d",
                  be->math == LVT_MATH_TF32 ? "tf32" : "fp32", ta ? 'T' : 'N', tb ? 'T' : 'N', M, N, K, lda, ldb,
                  ldc);
}

/* ---- elementwise and broadcast -------------------------------------------------------------------- */

__global__ void k_add_bcast(float *y, const float *t, int outer, int inner) {
    CU_GRID_LOOP(i, (size_t)outer * inner) y[i] += t[i % inner];
}
void cu_add_bcast(lvt_backend *be, float *y, const float *t, int outer, int inner) {
    size_t n = (size_t)outer * inner;
    if (!n) return;
    k_add_bcast<<<cu_blocks(n, 256), 256, 0, cu_stream(be)>>>(y, t, outer, inner);
    cu_after(be, cudaSuccess, "add_bcast", "outer=%d inner=%d", outer, inner);
}

/* Column sums in two stages. Stage 1: block (column tile of 32, row chunk c) sums rows
 * [c*rows_per, (c+1)*rows_per) of its 32 columns with 8 row lanes, combined in a fixed order,
 * into part[c][j]. Stage 2: one thread per column adds the chunks in order. Both orders are
 * fixed by the shape, so the result is deterministic. */
#define CB_TX 32
#define CB_TY 8
__global__ void k_colsum_part(const float *dy, float *part, int outer, int inner, int rows_per) {
    __shared__ float sh[CB_TY][CB_TX + 1];
    const int j = blockIdx.x * CB_TX + threadIdx.x, c = blockIdx.y;
    const int r0 = c * rows_per, r1 = min(outer, r0 + rows_per);
    float s = 0.0f;
    if (j < inner)
        for (int r = r0 + threadIdx.y; r < r1; r += CB_TY) s += dy[(size_t)r * inner + j];
    sh[threadIdx.y][threadIdx.x] = s;
    __syncthreads();
    if (threadIdx.y == 0 && j < inner) {
        float t = 0.0f;
        for (int y = 0; y < CB_TY; y++) t += sh[y][threadIdx.x];
        part[(size_t)c * inner + j] = t;
    }
}
__global__ void k_colsum_final(const float *part, float *dt, int chunks, int inner) {
    int j = blockIdx.x * blockDim.x + threadIdx.x;
    if (j >= inner) return;
    float s = 0.0f;
    for (int c = 0; c < chunks; c++) s += part[(size_t)c * inner + j];
    dt[j] += s;
}
/* Row chunking of the two-stage column reductions: ~64 rows per chunk, at most 256 chunks. */
static int colsum_chunks(int outer, int *rows_per) {
    int chunks = (outer + 63) / 64;
    if (chunks > 256) chunks = 256;
    if (chunks < 1) chunks = 1;
    *rows_per = (outer + chunks - 1) / chunks;
    return chunks;
}
void cu_sum_bcast(lvt_backend *be, const float *dy, float *dt, int outer, int inner) {
    if (outer <= 0 || inner <= 0) return;
    int rows_per, chunks = colsum_chunks(outer, &rows_per);
    float *part = (float *)cu_scratch(be, CU_SCR_RED, sizeof(float) * (size_t)chunks * inner, "sum_bcast");
    if (!part) return;
    dim3 grid((unsigned)((inner + CB_TX - 1) / CB_TX), (unsigned)chunks), block(CB_TX, CB_TY);
    k_colsum_part<<<grid, block, 0, cu_stream(be)>>>(dy, part, outer, inner, rows_per);
    k_colsum_final<<<(inner + 255) / 256, 256, 0, cu_stream(be)>>>(part, dt, chunks, inner);
    cu_after(be, cudaSuccess, "sum_bcast", "outer=%d inner=%d (%d chunks)", outer, inner, chunks);
}

void cu_copy_rows(lvt_backend *be, float *dst, int ldd, const float *src, int lds, int M, int N) {
    if (M <= 0 || N <= 0) return;
    cudaError_t rc = cudaMemcpy2DAsync(dst, (size_t)ldd * sizeof(float), src, (size_t)lds * sizeof(float),
                                       (size_t)N * sizeof(float), (size_t)M, cudaMemcpyDeviceToDevice, cu_stream(be));
    cu_after(be, rc, "copy_rows", "M=%d N=%d ldd=%d lds=%d", M, N, ldd, lds);
    cu_shadow_touch(be, dst, sizeof(float) * ((size_t)(M - 1) * ldd + N));
}

__global__ void k_add(const float *a, const float *b, float *y, size_t n) { CU_GRID_LOOP(i, n) y[i] = a[i] + b[i]; }
__global__ void k_axpy(float alpha, const float *x, float *y, size_t n) { CU_GRID_LOOP(i, n) y[i] += alpha * x[i]; }
__global__ void k_scale(float *x, float alpha, size_t n) { CU_GRID_LOOP(i, n) x[i] *= alpha; }
void cu_add(lvt_backend *be, const float *a, const float *b, float *y, size_t n) {
    if (!n) return;
    k_add<<<cu_blocks(n, 256), 256, 0, cu_stream(be)>>>(a, b, y, n);
    cu_after(be, cudaSuccess, "add", "n=%zu", n);
    cu_shadow_touch(be, y, n * sizeof(float));
}
void cu_axpy(lvt_backend *be, float alpha, const float *x, float *y, size_t n) {
    if (!n) return;
    k_axpy<<<cu_blocks(n, 256), 256, 0, cu_stream(be)>>>(alpha, x, y, n);
    cu_after(be, cudaSuccess, "axpy", "n=%zu", n);
    cu_shadow_touch(be, y, n * sizeof(float));
}
void cu_scale(lvt_backend *be, float *x, float alpha, size_t n) {
    if (!n) return;
    k_scale<<<cu_blocks(n, 256), 256, 0, cu_stream(be)>>>(x, alpha, n);
    cu_after(be, cudaSuccess, "scale", "n=%zu", n);
    cu_shadow_touch(be, x, n * sizeof(float));
}

/* ---- row dots and reductions to the host --------------------------------------------------------- */

__global__ void k_dot_rows(const float *a, int lda, const float *b, int ldb, float *out, int M, int N) {
    int warp = (blockIdx.x * blockDim.x + threadIdx.x) >> 5, lane = threadIdx.x & 31;
    if (warp >= M) return;
    const float *ar = a + (size_t)warp * lda, *br = b + (size_t)warp * ldb;
    float s = 0.0f;
    for (int j = lane; j < N; j += 32) s += ar[j] * br[j];
    for (int o = 16; o > 0; o >>= 1) s += __shfl_xor_sync(0xffffffffu, s, o);
    if (lane == 0) out[warp] = s;
}
void cu_dot_rows(lvt_backend *be, const float *a, int lda, const float *b, int ldb, float *out, int M, int N) {
    const int threads = 256, warps = threads / 32;
    if (M <= 0) return;
    k_dot_rows<<<(M + warps - 1) / warps, threads, 0, cu_stream(be)>>>(a, lda, b, ldb, out, M, N);
    cu_after(be, cudaSuccess, "dot_rows", "M=%d N=%d lda=%d ldb=%d", M, N, lda, ldb);
}

/* Sum (or sum of squares) of x into *acc (double, atomics across at most 1024 blocks). */
__global__ void k_sum_acc(const float *x, size_t n, int squares, double *acc) {
    __shared__ double sh[32];
    double s = 0;
    CU_GRID_LOOP(i, n) s += squares ? (double)x[i] * x[i] : (double)x[i];
    s = cu_block_sum<double>(s, sh);
    if (threadIdx.x == 0) atomicAdd(acc, s);
}
static int acc_blocks(size_t n) {
    int b = cu_blocks(n, 256);
    return b > 1024 ? 1024 : b;
}
static double reduce_host(lvt_backend *be, const float *x, size_t n, int squares, const char *op) {
    cuda_impl *im = cu_impl(be);
    double h = 0;
    cudaError_t rc = cudaMemsetAsync(im->d_acc, 0, sizeof(double), im->stream);
    if (rc == cudaSuccess) {
        k_sum_acc<<<acc_blocks(n), 256, 0, im->stream>>>(x, n, squares, im->d_acc);
        rc = cudaGetLastError();
    }
    if (rc == cudaSuccess) rc = cudaMemcpyAsync(&h, im->d_acc, sizeof h, cudaMemcpyDeviceToHost, im->stream);
    if (rc == cudaSuccess) rc = cudaStreamSynchronize(im->stream);
    cu_after(be, rc, op, "n=%zu", n);
    return h;
}
double cu_sum(lvt_backend *be, const float *x, size_t n) { return reduce_host(be, x, n, 0, "sum"); }
double cu_sumsq(lvt_backend *be, const float *x, size_t n) { return reduce_host(be, x, n, 1, "sumsq"); }

/* ---- AdamW ------------------------------------------------------------------------------------------ */

/* The shadow for the parameters p[0..n): made at the first AdamW call in BF16 math (outside a
 * capture), when no other buffer holds it. NULL when p is not (or cannot be) shadowed.
 * full_write: the caller's kernel writes every element (else a new shadow starts stale). */
static __nv_bfloat16 *shadow_for(lvt_backend *be, const float *p, size_t n, int full_write) {
    cuda_impl *im = cu_impl(be);
    if (be->math != LVT_MATH_BF16) return NULL;
    if (im->sh) return (im->sh_src == p && im->sh_n == n) ? im->sh : NULL;
    if (im->capturing || n == 0) return NULL;
    __nv_bfloat16 *sh = NULL;
    if (cudaMalloc(&sh, n * sizeof(__nv_bfloat16)) != cudaSuccess) {
        cudaGetLastError(); /* no memory for a shadow: GEMMs keep converting per call */
        return NULL;
    }
    im->sh = sh;
    im->sh_src = p;
    im->sh_n = n;
    if (!full_write) cu_shadow_refresh(be); /* the caller may leave p (and so the shadow) as it is */
    im->sh_dirty = 0;
    return sh;
}

__global__ void k_adamw(float *p, const float *g, float *m, float *v, size_t n, const lvt_adamw_scalars s,
                        float grad_scale, __nv_bfloat16 *sh) {
    CU_GRID_LOOP(i, n) {
        lvt_adamw_update(p + i, m + i, v + i, g[i], grad_scale, s);
        if (sh) sh[i] = __float2bfloat16(p[i]);
    }
}
void cu_adamw(lvt_backend *be, float *p, const float *g, float *m, float *v, size_t n, float lr, float beta1,
              float beta2, float eps, float weight_decay, long t, float grad_scale) {
    /* the scalars of cpu_adamw, on the host (see ops.h) */
    const lvt_adamw_scalars s = lvt_adamw_scalars_for(lr, beta1, beta2, eps, weight_decay, t);
    if (n == 0) return;
    __nv_bfloat16 *sh = shadow_for(be, p, n, 1);
    k_adamw<<<cu_blocks(n, 256), 256, 0, cu_stream(be)>>>(p, g, m, v, n, s, grad_scale, sh);
    cu_after(be, cudaSuccess, "adamw", "n=%zu t=%ld", n, t);
    if (!sh) cu_shadow_touch(be, p, n * sizeof(float));
}

/* The graph optimiser's step (ops->adamw_clipped): the sum of squares accumulated into a device
 * double, then AdamW with grad_scale = lvt_clip_coef(sqrt(*acc), max_norm) computed here in
 * double, and no update when the norm or *loss is not finite. */
__global__ void k_adamw_clipped(float *p, const float *g, float *m, float *v, size_t n, const lvt_adamw_scalars *sc,
                                const double *acc, double max_norm, const float *loss, __nv_bfloat16 *sh) {
    const double norm = sqrt(*acc);
    if (!isfinite(norm) || (loss && !isfinite(*loss))) return;
    const float grad_scale = (float)lvt_clip_coef(norm, max_norm);
    const lvt_adamw_scalars s = *sc;
    CU_GRID_LOOP(i, n) {
        lvt_adamw_update(p + i, m + i, v + i, g[i], grad_scale, s);
        if (sh) sh[i] = __float2bfloat16(p[i]);
    }
}
void cu_adamw_clipped(lvt_backend *be, float *p, const float *g, float *m, float *v, size_t n,
                      const lvt_adamw_scalars *sc, double *acc, double max_norm, const float *loss) {
    cudaStream_t s = cu_stream(be);
    /* a skipped update (non-finite loss) leaves p and its shadow as they were */
    __nv_bfloat16 *sh = shadow_for(be, p, n, 0);
    cudaError_t rc = cudaMemsetAsync(acc, 0, sizeof(double), s);
    if (rc == cudaSuccess && n) {
        k_sum_acc<<<acc_blocks(n), 256, 0, s>>>(g, n, 1, acc);
        k_adamw_clipped<<<cu_blocks(n, 256), 256, 0, s>>>(p, g, m, v, n, sc, acc, max_norm, loss, sh);
    }
    cu_after(be, rc, "adamw_clipped", "n=%zu", n);
    if (!sh) cu_shadow_touch(be, p, n * sizeof(float));
}

/* ---- P4 objective helpers --------------------------------------------------------------------------- */

__global__ void k_vmap(lvt_vmap_op op, const float *a, const float *b, int bs, const float *c, float s0, float s1,
                       float *y, int n) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    float av = a ? a[i] : 0.0f, bv = b ? b[(size_t)i * bs] : 0.0f, cv = c ? c[i] : 1.0f;
    y[i] = lvt_vmap_apply(op, av, bv, cv, s0, s1);
}
void cu_vmap(lvt_backend *be, lvt_vmap_op op, const float *a, const float *b, int bs, const float *c, float s0,
             float s1, float *y, int n) {
    if (n <= 0) return;
    k_vmap<<<(n + 255) / 256, 256, 0, cu_stream(be)>>>(op, a, b, bs, c, s0, s1, y, n);
    cu_after(be, cudaSuccess, "vmap", "op=%d n=%d b_stride=%d", (int)op, n, bs);
}
/* single block, ordered per thread then tree: deterministic */
__global__ void k_reduce_sum(const float *x, int n, float scale, float *out) {
    __shared__ double sh[32];
    double s = 0;
    for (int i = threadIdx.x; i < n; i += blockDim.x) s += x[i];
    s = cu_block_sum<double>(s, sh);
    if (threadIdx.x == 0) out[0] = (float)(s * scale);
}
void cu_reduce_sum(lvt_backend *be, const float *x, int n, float scale, float *out) {
    k_reduce_sum<<<1, 256, 0, cu_stream(be)>>>(x, n, scale, out);
    cu_after(be, cudaSuccess, "reduce_sum", "n=%d", n);
}
__global__ void k_scale_rows_add(const float *coef, int cs, float alpha, const float *x, int ldx, float *y, int ldy,
                                 int M, int N) {
    CU_GRID_LOOP(idx, (size_t)M * N) {
        size_t m = idx / N, j = idx % N;
        float f = alpha * (coef ? coef[m * cs] : 1.0f);
        if (f != 0.0f) y[m * ldy + j] += f * x[m * ldx + j]; /* the CPU skips zero factors too */
    }
}
void cu_scale_rows_add(lvt_backend *be, const float *coef, int cs, float alpha, const float *x, int ldx, float *y,
                       int ldy, int M, int N) {
    size_t n = (size_t)M * N;
    if (!n) return;
    k_scale_rows_add<<<cu_blocks(n, 256), 256, 0, cu_stream(be)>>>(coef, cs, alpha, x, ldx, y, ldy, M, N);
    cu_after(be, cudaSuccess, "scale_rows_add", "M=%d N=%d ldx=%d ldy=%d coef_stride=%d", M, N, ldx, ldy, cs);
}
