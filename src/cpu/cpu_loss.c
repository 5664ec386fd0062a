/* cpu_loss.c — CPU primitives for the P4 objective: the per-sample vector map, reductions to a
 * backend scalar, row-scaled accumulation and context drop (see include/lvt/ops.h). */
#include <math.h>
#include <string.h>

#include "cpu_backend.h"
#include "lvt/rng.h"

void cpu_vmap(lvt_backend *be, int op, const float *a, const float *b, int b_stride, const float *c,
              float s0, float s1, float *y, int n) {
    (void)be;
    for (int i = 0; i < n; i++) {
        float av = a ? a[i] : 0.0f;
        float bv = b ? b[(size_t)i * b_stride] : 0.0f;
        float cv = c ? c[i] : 1.0f;
        float v;
        switch (op) {
        case LVT_VMAP_HINGE: {
            float h = s0 - (av - bv);
            v = cv * (h > 0 ? h : 0.0f);
            break;
        }
        case LVT_VMAP_HINGE_GATE: v = cv * ((s0 - (av - bv)) > 0 ? 1.0f : 0.0f); break;
        case LVT_VMAP_SIGMOID: v = 1.0f / (1.0f + expf(-(av - s0) / s1)); break;
        case LVT_VMAP_RELU_SHIFT: v = s1 * (av - s0 > 0 ? av - s0 : 0.0f); break;
        case LVT_VMAP_STEP_SHIFT: v = (av - s0 > 0) ? s1 : 0.0f; break;
        case LVT_VMAP_MUL_AFFINE: v = s0 * av * (s1 + bv) * cv; break;
        case LVT_VMAP_DIV_COUNT: v = s0 * av * cv / (bv > 1.0f ? bv : 1.0f); break;
        case LVT_VMAP_AFFINE: v = s0 * av + s1; break;
        default: v = NAN; break;
        }
        y[i] = v;
    }
}

void cpu_reduce_sum(lvt_backend *be, const float *x, int n, float scale, float *out) {
    (void)be;
    double s = 0;
    for (int i = 0; i < n; i++) s += x[i];
    out[0] = (float)(s * scale);
}

void cpu_scale_rows_add(lvt_backend *be, const float *coef, int coef_stride, float alpha, const float *x,
                        int ldx, float *y, int ldy, int M, int N) {
    (void)be;
    for (int m = 0; m < M; m++) {
        float f = alpha * (coef ? coef[(size_t)m * coef_stride] : 1.0f);
        if (f == 0.0f) continue;
        const float *xr = x + (size_t)m * ldx;
        float *yr = y + (size_t)m * ldy;
        for (int j = 0; j < N; j++) yr[j] += f * xr[j];
    }
}

void cpu_context_drop(lvt_backend *be, float *ctx, int B, int L, int D, const lvt_dropout_key *key, int mode) {
    (void)be;
    for (int s = 0; s < B; s++) {
        uint64_t g = (uint64_t)(key->sample_base + s);
        if (!(lvt_rng_unit(key->seed, key->step, LVT_SITE_CONTEXT_DROP, g, 0) < key->p)) continue;
        float *last = ctx + ((size_t)s * L + (L - 1)) * D;
        if (mode == 1) {
            memset(last, 0, sizeof(float) * (size_t)D);
        } else if (mode == 2) {
            for (int j = 0; j < D; j++) {
                float acc = 0;
                for (int i = 0; i < L - 1; i++) acc += ctx[((size_t)s * L + i) * D + j];
                last[j] = acc / (float)(L - 1);
            }
        } else {
            double nrm = 0;
            for (int j = 0; j < D; j += 2) {
                float u1 = lvt_rng_unit(key->seed, key->step, LVT_SITE_CONTEXT_NOISE, g, (uint64_t)j);
                float u2 = lvt_rng_unit(key->seed, key->step, LVT_SITE_CONTEXT_NOISE, g, (uint64_t)j + 1);
                if (u1 < 1e-7f) u1 = 1e-7f;
                float r = sqrtf(-2.0f * logf(u1));
                last[j] = r * cosf(6.28318530717958647692f * u2);
                if (j + 1 < D) last[j + 1] = r * sinf(6.28318530717958647692f * u2);
            }
            for (int j = 0; j < D; j++) nrm += (double)last[j] * last[j];
            float inv = nrm > 0 ? (float)(1.0 / sqrt(nrm)) : 0.0f;
            for (int j = 0; j < D; j++) last[j] *= inv;
        }
    }
}
