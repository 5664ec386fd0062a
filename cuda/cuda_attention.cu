/* cuda_attention.cu — the CUDA backend's fused multi-head attention (ops.h), the GPU twin of
 * src/cpu/cpu_attention.c: scores, causal mask, fp32 softmax, keyed dropout on the weights, P@V,
 * and the backward through all of it.
 *   block kernels: one block per (batch, head) with q, k, v, scores (and dout, dP) in shared
 *     memory — the fast path for the model's short contexts (L = 5);
 *   row kernels: one block per query row (forward, dq) and one per key row (dk, dv), k and v
 *     read from global memory, only a row of scores in shared memory — taken when the block
 *     kernel's working set exceeds what one block may hold (context_len up to 1024; at head dim
 *     64 the backward's block kernel stops fitting at L ~ 103 on a 227 KiB H100/H200), or always
 *     with LVT_CUDA_ATTN=rows (tests). The backward row kernels keep the per-row sums
 *     sum_j dP_ij P_ij in backend scratch [B, H, Lq].
 * Both compute the same formulas in a different summation order (tolerance "red" of the tests). */
#include <math.h>

#include "cuda_internal.h"
#include "lvt/rng.h"

/* ---- block kernels: one block per (batch, head), everything in shared memory ------------------------ */

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
        float keep = drop_mask ? (float)drop_mask[pbase + idx] : 1.0f;
        sp[idx] = probs[pbase + idx];
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

/* ---- row kernels: one block per query row (forward, dq) or key row (dk, dv) --------------------------- */

/* Block (b, h, i): scores of query i against every key into shared memory, softmax, dropout, P@V. */
__global__ void k_attn_fwd_row(const float *q, int ldq, const float *k, int ldk, const float *v, int ldv, float *out,
                               int ldo, float *probs, uint8_t *drop_mask, int Lq, int Lk, int H, int hd, int causal,
                               int dropping, uint64_t seed, uint64_t step, uint32_t site, int64_t base,
                               const uint64_t *rng, float p, float dscale) {
    extern __shared__ float sm[];
    __shared__ float red[32];
    const int i = blockIdx.x % Lq, bh = blockIdx.x / Lq, b = bh / H, h = bh % H;
    float *sq = sm, *sp = sm + hd;
    const float scale = 1.0f / sqrtf((float)hd);
    if (rng) {
        step += rng[0];
        base += (int64_t)rng[1];
    }
    for (int c = threadIdx.x; c < hd; c += blockDim.x) sq[c] = q[(size_t)(b * Lq + i) * ldq + h * hd + c];
    __syncthreads();
    float mx = -INFINITY;
    for (int j = threadIdx.x; j < Lk; j += blockDim.x) {
        float s = -INFINITY;
        if (!causal || j <= i) {
            const float *kj = k + (size_t)(b * Lk + j) * ldk + h * hd;
            s = 0.0f;
            for (int c = 0; c < hd; c++) s += sq[c] * kj[c];
            s *= scale;
        }
        sp[j] = s;
        mx = fmaxf(mx, s);
    }
    for (int o = 16; o > 0; o >>= 1) mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, o));
    if ((threadIdx.x & 31) == 0) red[threadIdx.x >> 5] = mx;
    __syncthreads();
    mx = -INFINITY;
    for (int w = 0; w < (int)((blockDim.x + 31) >> 5); w++) mx = fmaxf(mx, red[w]);
    __syncthreads();
    float sum = 0.0f;
    for (int j = threadIdx.x; j < Lk; j += blockDim.x) {
        float ev = sp[j] == -INFINITY ? 0.0f : expf(sp[j] - mx);
        sp[j] = ev;
        sum += ev;
    }
    const float inv = 1.0f / cu_block_sum<float>(sum, red);
    const size_t prow = (((size_t)b * H + h) * Lq + i) * Lk;
    for (int j = threadIdx.x; j < Lk; j += blockDim.x) {
        float pj = sp[j] * inv;
        if (probs) probs[prow + j] = pj;
        uint8_t keep = 1;
        if (dropping) keep = lvt_rng_unit(seed, step, site, (uint64_t)(base + b), ((uint64_t)h * Lq + i) * Lk + j) >= p;
        if (drop_mask) drop_mask[prow + j] = keep;
        sp[j] = dropping ? (keep ? pj * dscale : 0.0f) : pj;
    }
    __syncthreads();
    for (int c = threadIdx.x; c < hd; c += blockDim.x) {
        float acc = 0.0f;
        for (int j = 0; j < Lk; j++) acc += sp[j] * v[(size_t)(b * Lk + j) * ldv + h * hd + c];
        out[(size_t)(b * Lq + i) * ldo + h * hd + c] = acc;
    }
}

/* Block (b, h, i): dP_ij = (dout_i . v_j) f_ij, rs_i = sum_j dP_ij P_ij (kept for the key
 * kernel), dS_ij = P_ij (dP_ij - rs_i), dq_i = scale sum_j dS_ij k_j. */
__global__ void k_attn_bwd_qrow(const float *dout, int ldo, const float *k, int ldk, const float *v, int ldv,
                                const float *probs, const uint8_t *drop_mask, float dscale, float *dq, int ldq,
                                float *rowsum, int Lq, int Lk, int H, int hd) {
    extern __shared__ float sm[];
    __shared__ float red[32];
    const int i = blockIdx.x % Lq, bh = blockIdx.x / Lq, b = bh / H, h = bh % H;
    float *sdo = sm, *sds = sm + hd;
    const float scale = 1.0f / sqrtf((float)hd);
    const size_t prow = ((size_t)bh * Lq + i) * Lk;
    for (int c = threadIdx.x; c < hd; c += blockDim.x) sdo[c] = dout[(size_t)(b * Lq + i) * ldo + h * hd + c];
    __syncthreads();
    float part = 0.0f;
    for (int j = threadIdx.x; j < Lk; j += blockDim.x) {
        const float *vj = v + (size_t)(b * Lk + j) * ldv + h * hd;
        float acc = 0.0f;
        for (int c = 0; c < hd; c++) acc += sdo[c] * vj[c];
        float dp = acc * (drop_mask ? (float)drop_mask[prow + j] * dscale : 1.0f);
        sds[j] = dp;
        part += dp * probs[prow + j];
    }
    const float rs = cu_block_sum<float>(part, red);
    for (int j = threadIdx.x; j < Lk; j += blockDim.x) sds[j] = probs[prow + j] * (sds[j] - rs);
    if (threadIdx.x == 0) rowsum[(size_t)bh * Lq + i] = rs;
    __syncthreads();
    for (int c = threadIdx.x; c < hd; c += blockDim.x) {
        float acc = 0.0f;
        for (int j = 0; j < Lk; j++) acc += sds[j] * k[(size_t)(b * Lk + j) * ldk + h * hd + c];
        dq[(size_t)(b * Lq + i) * ldq + h * hd + c] = acc * scale;
    }
}

/* Block (b, h, j): for every query i, dS_ij (from rs_i) and P_dropped_ij into shared memory, then
 * dk_j = scale sum_i dS_ij q_i and dv_j = sum_i P_dropped_ij dout_i. */
__global__ void k_attn_bwd_krow(const float *dout, int ldo, const float *q, int ldq, const float *v, int ldv,
                                const float *probs, const uint8_t *drop_mask, float dscale, const float *rowsum,
                                float *dk, int ldk, float *dv, int Lq, int Lk, int H, int hd) {
    extern __shared__ float sm[];
    const int j = blockIdx.x % Lk, bh = blockIdx.x / Lk, b = bh / H, h = bh % H;
    float *sv = sm, *sds = sm + hd, *spd = sds + Lq;
    const float scale = 1.0f / sqrtf((float)hd);
    for (int c = threadIdx.x; c < hd; c += blockDim.x) sv[c] = v[(size_t)(b * Lk + j) * ldv + h * hd + c];
    __syncthreads();
    for (int i = threadIdx.x; i < Lq; i += blockDim.x) {
        const size_t pij = ((size_t)bh * Lq + i) * Lk + j;
        const float *doi = dout + (size_t)(b * Lq + i) * ldo + h * hd;
        float acc = 0.0f;
        for (int c = 0; c < hd; c++) acc += doi[c] * sv[c];
        float f = drop_mask ? (float)drop_mask[pij] * dscale : 1.0f, pv = probs[pij];
        sds[i] = pv * (acc * f - rowsum[(size_t)bh * Lq + i]);
        spd[i] = pv * f;
    }
    __syncthreads();
    for (int c = threadIdx.x; c < hd; c += blockDim.x) {
        float ak = 0.0f, av = 0.0f;
        for (int i = 0; i < Lq; i++) {
            ak += sds[i] * q[(size_t)(b * Lq + i) * ldq + h * hd + c];
            av += spd[i] * dout[(size_t)(b * Lq + i) * ldo + h * hd + c];
        }
        dk[(size_t)(b * Lk + j) * ldk + h * hd + c] = ak * scale;
        dv[(size_t)(b * Lk + j) * ldv + h * hd + c] = av;
    }
}

/* ---- the ops entries ------------------------------------------------------------------------------- */

void cu_attention_setup(lvt_backend *be) {
    cuda_impl *im = cu_impl(be);
    const void *fns[2] = {(const void *)k_attention_fwd, (const void *)k_attention_bwd};
    for (int k = 0; k < 2 && im->smem_optin > 48 * 1024; k++)
        cu_after(be, cudaFuncSetAttribute(fns[k], cudaFuncAttributeMaxDynamicSharedMemorySize, im->smem_optin),
                 "attention set-up", "%d bytes of shared memory per block", im->smem_optin);
}

/* 1 when a block kernel needing `bytes` of dynamic shared memory can run (cu_attention_setup
 * allowed the device's opt-in maximum, so nothing is set per call, also inside a capture);
 * 0: take the row kernels. */
static int block_kernel_fits(lvt_backend *be, size_t bytes) {
    cuda_impl *im = cu_impl(be);
    return !im->attn_rows && bytes <= (size_t)(im->smem_optin > 48 * 1024 ? im->smem_optin : 48 * 1024);
}

void cu_attention_fwd(lvt_backend *be, const float *q, int ldq, const float *k, int ldk, const float *v, int ldv,
                      float *out, int ldo, float *probs, uint8_t *drop_mask, int B, int Lq, int Lk, int H, int hd,
                      int causal, const lvt_dropout_key *key) {
    if (B <= 0 || H <= 0 || Lq <= 0 || Lk <= 0) return;
    int dropping = key && key->p > 0.0f;
    float p = dropping ? key->p : 0.0f, dscale = lvt_dropout_scale(p);
    uint64_t step, seed = key ? key->seed : 0;
    uint32_t site = key ? key->site : 0;
    int64_t base;
    const uint64_t *rng;
    cu_rng_args(be, key, &step, &base, &rng);
    size_t smem = sizeof(float) * ((size_t)Lq * hd + 2 * (size_t)Lk * hd + (size_t)Lq * Lk);
    int blockk = block_kernel_fits(be, smem);
    if (blockk)
        k_attention_fwd<<<B * H, 128, smem, cu_stream(be)>>>(q, ldq, k, ldk, v, ldv, out, ldo, probs, drop_mask, Lq, Lk,
                                                             H, hd, causal, dropping, seed, step, site, base, rng, p,
                                                             dscale);
    else
        k_attn_fwd_row<<<B * H * Lq, 128, sizeof(float) * ((size_t)hd + Lk), cu_stream(be)>>>(
            q, ldq, k, ldk, v, ldv, out, ldo, probs, drop_mask, Lq, Lk, H, hd, causal, dropping, seed, step, site, base,
            rng, p, dscale);
    cu_after(be, cudaSuccess, "attention_fwd", "%s kernel B=%d Lq=%d Lk=%d H=%d hd=%d causal=%d p=%g ldq=%d ldo=%d",
             blockk ? "block" : "row", B, Lq, Lk, H, hd, causal, (double)p, ldq, ldo);
}

void cu_attention_bwd(lvt_backend *be, const float *dout, int ldo, const float *q, int ldq, const float *k, int ldk,
                      const float *v, int ldv, const float *probs, const uint8_t *drop_mask, float drop_p, float *dq,
                      float *dk, float *dv, int B, int Lq, int Lk, int H, int hd) {
    if (B <= 0 || H <= 0 || Lq <= 0 || Lk <= 0) return;
    const uint8_t *mask = drop_p > 0.0f ? drop_mask : NULL;
    float dscale = lvt_dropout_scale(drop_p);
    cudaStream_t s = cu_stream(be);
    size_t smem = sizeof(float) * (2 * (size_t)Lq * hd + 2 * (size_t)Lk * hd + 3 * (size_t)Lq * Lk);
    int blockk = block_kernel_fits(be, smem);
    if (blockk) {
        k_attention_bwd<<<B * H, 128, smem, s>>>(dout, ldo, q, ldq, k, ldk, v, ldv, probs, mask, dscale, dq, dk, dv, Lq,
                                                 Lk, H, hd);
    } else {
        float *rowsum =
            (float *)cu_scratch(be, CU_SCR_ATTN, sizeof(float) * (size_t)B * H * Lq, "attention_bwd (row sums)");
        if (!rowsum) return;
        k_attn_bwd_qrow<<<B * H * Lq, 128, sizeof(float) * ((size_t)hd + Lk), s>>>(dout, ldo, k, ldk, v, ldv, probs, mask,
                                                                                dscale, dq, ldq, rowsum, Lq, Lk, H, hd);
        k_attn_bwd_krow<<<B * H * Lk, 128, sizeof(float) * ((size_t)hd + 2 * Lq), s>>>(
            dout, ldo, q, ldq, v, ldv, probs, mask, dscale, rowsum, dk, ldk, dv, Lq, Lk, H, hd);
    }
    cu_after(be, cudaSuccess, "attention_bwd", "%s kernel B=%d Lq=%d Lk=%d H=%d hd=%d p=%g ldq=%d ldk=%d ldv=%d ldo=%d",
             blockk ? "block" : "row", B, Lq, Lk, H, hd, (double)drop_p, ldq, ldk, ldv, ldo);
}
