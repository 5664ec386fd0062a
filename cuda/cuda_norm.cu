/* cuda_norm.cu — the CUDA backend's row-wise primitives (ops.h): layernorm (one block per row;
 * the parameter gradients dg, db as a two-stage column reduction: row chunks in parallel, then
 * the chunks in order, deterministic), l2norm, ReLU / GELU, keyed dropout and context drop, with
 * the same Philox keying (include/lvt/rng.h) as the CPU so masks are bit-identical. */
#include <math.h>

#include "cuda_internal.h"
#include "lvt/rng.h"

/* ---- layernorm ------------------------------------------------------------------------------------ */

__global__ void k_layernorm_fwd(const float *x, const float *g, const float *b, float *y, float *mean, float *rstd,
                                int N, float eps) {
    __shared__ double sh[32];
    const float *xr = x + (size_t)blockIdx.x * N;
    double s = 0;
    for (int j = threadIdx.x; j < N; j += blockDim.x) s += xr[j];
    double mu = cu_block_sum<double>(s, sh) / N;
    double q = 0;
    for (int j = threadIdx.x; j < N; j += blockDim.x) {
        double d = xr[j] - mu;
        q += d * d;
    }
    double var = cu_block_sum<double>(q, sh) / N;
    float rs = (float)(1.0 / sqrt(var + eps));
    float m = (float)mu;
    float *yr = y + (size_t)blockIdx.x * N;
    for (int j = threadIdx.x; j < N; j += blockDim.x) yr[j] = (xr[j] - m) * rs * g[j] + b[j];
    if (threadIdx.x == 0) {
        if (mean) mean[blockIdx.x] = m;
        if (rstd) rstd[blockIdx.x] = rs;
    }
}
void cu_layernorm_fwd(lvt_backend *be, const float *x, const float *g, const float *b, float *y, float *mean,
                      float *rstd, int M, int N, float eps) {
    if (M <= 0 || N <= 0) return;
    k_layernorm_fwd<<<M, 256, 0, cu_stream(be)>>>(x, g, b, y, mean, rstd, N, eps);
    cu_after(be, cudaSuccess, "layernorm_fwd", "M=%d N=%d", M, N);
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
    s1 = cu_block_sum<float>(s1, sh) / N;
    s2 = cu_block_sum<float>(s2, sh) / N;
    for (int j = threadIdx.x; j < N; j += blockDim.x) {
        float xh = (xr[j] - m) * rs, dxh = dyr[j] * g[j];
        dx[r * N + j] = rs * (dxh - s1 - xh * s2);
    }
}

/* dg, db stage 1: block (32-column tile, row chunk c) -> part[c][j] (dg) and part[chunks + c][j]
 * (db), 8 row lanes combined in a fixed order. */
#define LN_TX 32
#define LN_TY 8
__global__ void k_layernorm_dg_part(const float *dy, const float *x, const float *mean, const float *rstd, float *part,
                                    int M, int N, int rows_per, int chunks) {
    __shared__ float sg[LN_TY][LN_TX + 1], sb[LN_TY][LN_TX + 1];
    const int j = blockIdx.x * LN_TX + threadIdx.x, c = blockIdx.y;
    const int r0 = c * rows_per, r1 = min(M, r0 + rows_per);
    float a = 0.0f, b = 0.0f;
    if (j < N)
        for (int r = r0 + threadIdx.y; r < r1; r += LN_TY) {
            float d = dy[(size_t)r * N + j];
            a += d * (x[(size_t)r * N + j] - mean[r]) * rstd[r];
            b += d;
        }
    sg[threadIdx.y][threadIdx.x] = a;
    sb[threadIdx.y][threadIdx.x] = b;
    __syncthreads();
    if (threadIdx.y == 0 && j < N) {
        float ta = 0.0f, tb = 0.0f;
        for (int y = 0; y < LN_TY; y++) {
            ta += sg[y][threadIdx.x];
            tb += sb[y][threadIdx.x];
        }
        part[(size_t)c * N + j] = ta;
        part[(size_t)(chunks + c) * N + j] = tb;
    }
}
__global__ void k_layernorm_dg_final(const float *part, float *dg, float *db, int chunks, int N) {
    int j = blockIdx.x * blockDim.x + threadIdx.x;
    if (j >= N) return;
    float a = 0.0f, b = 0.0f;
    for (int c = 0; c < chunks; c++) {
        a += part[(size_t)c * N + j];
        b += part[(size_t)(chunks + c) * N + j];
    }
    if (dg) dg[j] += a;
    if (db) db[j] += b;
}
void cu_layernorm_bwd(lvt_backend *be, const float *dy, const float *x, const float *mean, const float *rstd,
                      const float *g, float *dx, float *dg, float *db, int M, int N) {
    if (M <= 0 || N <= 0) return;
    cudaStream_t s = cu_stream(be);
    int chunks = 0;
    if (dg || db) {
        chunks = (M + 63) / 64;
        if (chunks > 256) chunks = 256;
        int rows_per = (M + chunks - 1) / chunks;
        float *part = (float *)cu_scratch(be, CU_SCR_RED, sizeof(float) * 2 * (size_t)chunks * N, "layernorm_bwd");
        if (!part) return;
        dim3 grid((unsigned)((N + LN_TX - 1) / LN_TX), (unsigned)chunks), block(LN_TX, LN_TY);
        k_layernorm_dg_part<<<grid, block, 0, s>>>(dy, x, mean, rstd, part, M, N, rows_per, chunks);
        k_layernorm_dg_final<<<(N + 255) / 256, 256, 0, s>>>(part, dg, db, chunks, N);
    }
    k_layernorm_bwd_dx<<<M, 256, 0, s>>>(dy, x, mean, rstd, g, dx, N);
    cu_after(be, cudaSuccess, "layernorm_bwd", "M=%d N=%d dg/db %s (%d chunks)", M, N, (dg || db) ? "yes" : "no",
             chunks);
}

/* ---- l2norm ------------------------------------------------------------------------------------- */

__global__ void k_l2norm_fwd(const float *x, float *y, float *norms, int N, float eps) {
    __shared__ double sh[32];
    const float *xr = x + (size_t)blockIdx.x * N;
    double s = 0;
    for (int j = threadIdx.x; j < N; j += blockDim.x) s += (double)xr[j] * xr[j];
    float n = (float)sqrt(cu_block_sum<double>(s, sh));
    float d = n > eps ? n : eps;
    for (int j = threadIdx.x; j < N; j += blockDim.x) y[(size_t)blockIdx.x * N + j] = xr[j] / d;
    if (norms && threadIdx.x == 0) norms[blockIdx.x] = n;
}
void cu_l2norm_fwd(lvt_backend *be, const float *x, float *y, float *norms, int M, int N, float eps) {
    if (M <= 0 || N <= 0) return;
    k_l2norm_fwd<<<M, 256, 0, cu_stream(be)>>>(x, y, norms, N, eps);
    cu_after(be, cudaSuccess, "l2norm_fwd", "M=%d N=%d", M, N);
}
__global__ void k_l2norm_bwd(const float *dy, const float *x, const float *norms, float *dx, int N, float eps) {
    __shared__ double sh[32];
    size_t r = blockIdx.x;
    const float *xr = x + r * N, *dyr = dy + r * N;
    float n = norms[r];
    if (n >= eps && n > 0.0f) {
        double s = 0;
        for (int j = threadIdx.x; j < N; j += blockDim.x) s += (double)xr[j] * dyr[j];
        double xd = cu_block_sum<double>(s, sh);
        float inv = 1.0f / n, c = (float)(xd / ((double)n * n * n));
        for (int j = threadIdx.x; j < N; j += blockDim.x) dx[r * N + j] = dyr[j] * inv - xr[j] * c;
    } else {
        for (int j = threadIdx.x; j < N; j += blockDim.x) dx[r * N + j] = dyr[j] / eps;
    }
}
void cu_l2norm_bwd(lvt_backend *be, const float *dy, const float *x, const float *norms, float *dx, int M, int N,
                   float eps) {
    if (M <= 0 || N <= 0) return;
    k_l2norm_bwd<<<M, 256, 0, cu_stream(be)>>>(dy, x, norms, dx, N, eps);
    cu_after(be, cudaSuccess, "l2norm_bwd", "M=%d N=%d", M, N);
}

/* ---- activations --------------------------------------------------------------------------------- */

__global__ void k_relu_fwd(const float *x, float *y, size_t n) { CU_GRID_LOOP(i, n) y[i] = lvt_relu(x[i]); }
__global__ void k_relu_bwd(const float *dy, const float *x, float *dx, size_t n) {
    CU_GRID_LOOP(i, n) dx[i] = lvt_relu_grad(dy[i], x[i]);
}
__global__ void k_gelu_fwd(const float *x, float *y, size_t n) { CU_GRID_LOOP(i, n) y[i] = lvt_gelu(x[i]); }
__global__ void k_gelu_bwd(const float *dy, const float *x, float *dx, size_t n) {
    CU_GRID_LOOP(i, n) dx[i] = lvt_gelu_grad(dy[i], x[i]);
}
void cu_relu_fwd(lvt_backend *be, const float *x, float *y, size_t n) {
    if (!n) return;
    k_relu_fwd<<<cu_blocks(n, 256), 256, 0, cu_stream(be)>>>(x, y, n);
    cu_after(be, cudaSuccess, "relu_fwd", "n=%zu", n);
}
void cu_relu_bwd(lvt_backend *be, const float *dy, const float *x, float *dx, size_t n) {
    if (!n) return;
    k_relu_bwd<<<cu_blocks(n, 256), 256, 0, cu_stream(be)>>>(dy, x, dx, n);
    cu_after(be, cudaSuccess, "relu_bwd", "n=%zu", n);
}
void cu_gelu_fwd(lvt_backend *be, const float *x, float *y, size_t n) {
    if (!n) return;
    k_gelu_fwd<<<cu_blocks(n, 256), 256, 0, cu_stream(be)>>>(x, y, n);
    cu_after(be, cudaSuccess, "gelu_fwd", "n=%zu", n);
}
void cu_gelu_bwd(lvt_backend *be, const float *dy, const float *x, float *dx, size_t n) {
    if (!n) return;
    k_gelu_bwd<<<cu_blocks(n, 256), 256, 0, cu_stream(be)>>>(dy, x, dx, n);
    cu_after(be, cudaSuccess, "gelu_bwd", "n=%zu", n);
}

/* ---- dropout ------------------------------------------------------------------------------------- */

__global__ void k_dropout_fwd(const float *x, float *y, uint8_t *mask, int n_samples, int per_sample, uint64_t seed,
                              uint64_t step, uint32_t site, int64_t base, const uint64_t *rng, float p, float scale) {
    if (rng) {
        step += rng[0];
        base += (int64_t)rng[1];
    }
    CU_GRID_LOOP(i, (size_t)n_samples * per_sample) {
        size_t s = i / per_sample, el = i % per_sample;
        uint8_t keep = p > 0.0f ? (lvt_rng_unit(seed, step, site, (uint64_t)(base + (int64_t)s), el) >= p) : 1;
        if (mask) mask[i] = keep;
        y[i] = keep ? x[i] * scale : 0.0f;
    }
}
void cu_dropout_fwd(lvt_backend *be, const float *x, float *y, uint8_t *mask, int n_samples, int per_sample,
                    const lvt_dropout_key *key) {
    float p = key ? key->p : 0.0f;
    float scale = lvt_dropout_scale(p);
    size_t n = (size_t)n_samples * per_sample;
    if (n == 0) return;
    uint64_t step;
    int64_t base;
    const uint64_t *rng;
    cu_rng_args(be, key, &step, &base, &rng);
    k_dropout_fwd<<<cu_blocks(n, 256), 256, 0, cu_stream(be)>>>(x, y, mask, n_samples, per_sample, key ? key->seed : 0,
                                                                step, key ? key->site : 0, base, rng, p, scale);
    cu_after(be, cudaSuccess, "dropout_fwd", "samples=%d per_sample=%d p=%g", n_samples, per_sample, (double)p);
}
__global__ void k_dropout_bwd(const float *dy, const uint8_t *mask, float *dx, size_t n, float scale) {
    CU_GRID_LOOP(i, n) dx[i] = mask[i] ? dy[i] * scale : 0.0f;
}
void cu_dropout_bwd(lvt_backend *be, const float *dy, const uint8_t *mask, float *dx, size_t n, float p) {
    if (n == 0) return;
    if (p <= 0.0f) { /* identity; mask may be NULL (as on the CPU) */
        if (dx != dy)
            cu_after(be, cudaMemcpyAsync(dx, dy, n * sizeof(float), cudaMemcpyDeviceToDevice, cu_stream(be)),
                     "dropout_bwd", "n=%zu p=0", n);
        return;
    }
    k_dropout_bwd<<<cu_blocks(n, 256), 256, 0, cu_stream(be)>>>(dy, mask, dx, n, lvt_dropout_scale(p));
    cu_after(be, cudaSuccess, "dropout_bwd", "n=%zu p=%g", n, (double)p);
}

/* ---- context drop: one block per sample ------------------------------------------------------------ */

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
        nrm = cu_block_sum<double>(nrm, sh);
        float inv = nrm > 0 ? (float)(1.0 / sqrt(nrm)) : 0.0f;
        for (int j = threadIdx.x; j < D; j += blockDim.x) last[j] *= inv;
    }
}
void cu_context_drop(lvt_backend *be, float *ctx, int B, int L, int D, const lvt_dropout_key *key,
                     lvt_context_drop_mode mode) {
    if (B <= 0) return;
    uint64_t step;
    int64_t base;
    const uint64_t *rng;
    cu_rng_args(be, key, &step, &base, &rng);
    k_context_drop<<<B, 128, 0, cu_stream(be)>>>(ctx, L, D, key->seed, step, base, rng, key->p, mode);
    cu_after(be, cudaSuccess, "context_drop", "B=%d L=%d D=%d mode=%d p=%g", B, L, D, (int)mode, (double)key->p);
}
