/* cpu_attention.c — the CPU backend's fused multi-head attention for short sequences:
 * per (batch, head) scores, causal mask, fp32 softmax, keyed dropout on the weights
 * (PyTorch MultiheadAttention semantics) and P@V; the backward through all of it. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpu_backend.h"
#include "lvt/elementwise.h"
#include "lvt/rng.h"

static void check_lk(int Lk) {
    if (Lk > LVT_CPU_ATTN_MAX_LK) { /* programmer error: ops.h limits attention to short L */
        fprintf(stderr, "cpu attention: Lk=%d exceeds %d\n", Lk, LVT_CPU_ATTN_MAX_LK);
        abort();
    }
}

/* Keep flags of elements e0 .. e0+n-1 of one sample (same draws as cpu_dropout_fwd). */
static void drop_row(const lvt_dropout_key *key, uint64_t sample, uint64_t e0, int n,
                     uint8_t *keep) {
    uint32_t w[LVT_CPU_ATTN_MAX_LK];
    cpu_rng_words(key->seed, key->step, key->site, sample, e0, n, w);
    for (int j = 0; j < n; j++) keep[j] = lvt_u32_to_unit(w[j]) >= key->p;
}

void cpu_attention_fwd(lvt_backend *be, const float *q, int ldq, const float *k, int ldk,
                       const float *v, int ldv, float *out, int ldo, float *probs,
                       uint8_t *drop_mask, int B, int Lq, int Lk, int H, int hd, int causal,
                       const lvt_dropout_key *key) {
    check_lk(Lk);
    const float scale = 1.0f / sqrtf((float)hd);
    const int dropping = key && key->p > 0.0f;
    const float dscale = dropping ? lvt_dropout_scale(key->p) : 1.0f;
#pragma omp parallel for collapse(2) if ((size_t)B * H * Lq * Lk * hd > 65536)
    for (int b = 0; b < B; b++) {
        for (int h = 0; h < H; h++) {
            float p[LVT_CPU_ATTN_MAX_LK];
            uint8_t keep[LVT_CPU_ATTN_MAX_LK];
            for (int i = 0; i < Lq; i++) {
                const float *qi = q + (size_t)(b * Lq + i) * ldq + (size_t)h * hd;
                int jn = causal ? (i + 1 < Lk ? i + 1 : Lk) : Lk; /* columns j < jn are visible */
                float mx = -INFINITY;
                for (int j = 0; j < jn; j++) {
                    const float *kj = k + (size_t)(b * Lk + j) * ldk + (size_t)h * hd;
                    float s = 0.0f;
#pragma omp simd reduction(+ : s)
                    for (int c = 0; c < hd; c++) s += qi[c] * kj[c];
                    p[j] = s * scale;
                    if (p[j] > mx) mx = p[j];
                }
                float sum = 0.0f;
                for (int j = 0; j < jn; j++) {
                    p[j] = expf(p[j] - mx);
                    sum += p[j];
                }
                float inv = 1.0f / sum;
                for (int j = 0; j < jn; j++) p[j] *= inv;
                for (int j = jn; j < Lk; j++) p[j] = 0.0f;
                size_t prow = (((size_t)b * H + h) * Lq + i) * Lk;
                if (probs) memcpy(probs + prow, p, (size_t)Lk * sizeof(float));
                if (dropping) {
                    drop_row(key, (uint64_t)(key->sample_base + b), ((uint64_t)h * Lq + i) * Lk,
                             Lk, keep);
                    if (drop_mask) memcpy(drop_mask + prow, keep, (size_t)Lk);
                    for (int j = 0; j < Lk; j++) p[j] = keep[j] ? p[j] * dscale : 0.0f;
                } else if (drop_mask) {
                    memset(drop_mask + prow, 1, (size_t)Lk);
                }
                float *oi = out + (size_t)(b * Lq + i) * ldo + (size_t)h * hd;
                for (int c = 0; c < hd; c++) oi[c] = 0.0f;
                for (int j = 0; j < jn; j++) {
                    const float *vj = v + (size_t)(b * Lk + j) * ldv + (size_t)h * hd;
                    float pj = p[j];
                    for (int c = 0; c < hd; c++) oi[c] += pj * vj[c];
                }
            }
        }
    }
}

void cpu_attention_bwd(lvt_backend *be, const float *dout, int ldo, const float *q, int ldq,
                       const float *k, int ldk, const float *v, int ldv, const float *probs,
                       const uint8_t *drop_mask, float drop_p, float *dq, float *dk, float *dv,
                       int B, int Lq, int Lk, int H, int hd) {
    check_lk(Lk);
    const float scale = 1.0f / sqrtf((float)hd);
    const int dropping = drop_mask && drop_p > 0.0f;
    const float dscale = dropping ? lvt_dropout_scale(drop_p) : 1.0f;
#pragma omp parallel for collapse(2) if ((size_t)B * H * Lq * Lk * hd > 65536)
    for (int b = 0; b < B; b++) {
        for (int h = 0; h < H; h++) {
            float dp[LVT_CPU_ATTN_MAX_LK];
            /* this (b, h) owns rows b*Lk.. of dk, dv in columns h*hd..: clear them */
            const size_t hbytes = (size_t)hd * sizeof(float);
            for (int j = 0; j < Lk; j++) {
                memset(dk + (size_t)(b * Lk + j) * ldk + (size_t)h * hd, 0, hbytes);
                memset(dv + (size_t)(b * Lk + j) * ldv + (size_t)h * hd, 0, hbytes);
            }
            for (int i = 0; i < Lq; i++) {
                size_t prow = (((size_t)b * H + h) * Lq + i) * Lk;
                const float *P = probs + prow;
                const uint8_t *keep = dropping ? drop_mask + prow : NULL;
                const float *doi = dout + (size_t)(b * Lq + i) * ldo + (size_t)h * hd;
                const float *qi = q + (size_t)(b * Lq + i) * ldq + (size_t)h * hd;
                float *dqi = dq + (size_t)(b * Lq + i) * ldq + (size_t)h * hd;
                /* dv_j += Pd_ij dout_i ; dPd_ij = dout_i . v_j ; dP = dPd * keep * dscale */
                float dot = 0.0f;
                for (int j = 0; j < Lk; j++) {
                    const float *vj = v + (size_t)(b * Lk + j) * ldv + (size_t)h * hd;
                    float *dvj = dv + (size_t)(b * Lk + j) * ldv + (size_t)h * hd;
                    float f = keep ? (keep[j] ? dscale : 0.0f) : 1.0f;
                    float pd = P[j] * f;
                    float s = 0.0f;
#pragma omp simd reduction(+ : s)
                    for (int c = 0; c < hd; c++) {
                        s += doi[c] * vj[c];
                        dvj[c] += pd * doi[c];
                    }
                    dp[j] = s * f;
                    dot += P[j] * dp[j];
                }
                /* dS_ij = P_ij (dP_ij - sum_l P_il dP_il); dq_i = scale sum_j dS_ij k_j;
                 * dk_j += scale dS_ij q_i */
                for (int c = 0; c < hd; c++) dqi[c] = 0.0f;
                for (int j = 0; j < Lk; j++) {
                    float ds = P[j] * (dp[j] - dot) * scale;
                    if (ds == 0.0f) continue;
                    const float *kj = k + (size_t)(b * Lk + j) * ldk + (size_t)h * hd;
                    float *dkj = dk + (size_t)(b * Lk + j) * ldk + (size_t)h * hd;
                    for (int c = 0; c < hd; c++) {
                        dqi[c] += ds * kj[c];
                        dkj[c] += ds * qi[c];
                    }
                }
            }
        }
    }
}
