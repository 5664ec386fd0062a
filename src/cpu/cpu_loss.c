/* cpu_loss.c — CPU primitives for the P4 objective: the per-sample vector map (element functions
 * of include/lvt/elementwise.h), reductions to a backend scalar, row-scaled accumulation and
 * context drop (see include/lvt/ops.h). */
#include <math.h>
#include <string.h>

#include "cpu_backend.h"
#include "lvt/elementwise.h"
#include "lvt/rng.h"

void cpu_vmap(lvt_backend *be, lvt_vmap_op op, const float *a, const float *b, int b_stride,
              const float *c, float s0, float s1, float *y, int n) {
    (void)be;
    for (int i = 0; i < n; i++) {
        float av = a ? a[i] : 0.0f;
        float bv = b ? b[(size_t)i * b_stride] : 0.0f;
        float cv = c ? c[i] : 1.0f;
        y[i] = lvt_vmap_apply(op, av, bv, cv, s0, s1);
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

/* Context drop (ops.h): the Bernoulli draw per sample, then the replacement row; the noise pairs
 * come from lvt_context_noise_pair, shared with the CUDA kernel. */
void cpu_context_drop(lvt_backend *be, float *ctx, int B, int L, int D, const lvt_dropout_key *key,
                      lvt_context_drop_mode mode) {
    (void)be;
    for (int s = 0; s < B; s++) {
        uint64_t g = (uint64_t)(key->sample_base + s);
        if (!(lvt_rng_unit(key->seed, key->step, LVT_SITE_CONTEXT_DROP, g, 0) < key->p)) continue;
        float *last = ctx + ((size_t)s * L + (L - 1)) * D;
        if (mode == LVT_CONTEXT_DROP_ZERO) {
            memset(last, 0, sizeof(float) * (size_t)D);
        } else if (mode == LVT_CONTEXT_DROP_MEAN) {
            for (int j = 0; j < D; j++) {
                float acc = 0;
                for (int i = 0; i < L - 1; i++) acc += ctx[((size_t)s * L + i) * D + j];
                last[j] = acc / (float)(L - 1);
            }
        } else {
            double nrm = 0;
            for (int j = 0; j < D; j += 2) {
                float z0, z1;
                lvt_context_noise_pair(key->seed, key->step, g, j, &z0, &z1);
                last[j] = z0;
                if (j + 1 < D) last[j + 1] = z1;
            }
            for (int j = 0; j < D; j++) nrm += (double)last[j] * last[j];
            float inv = nrm > 0 ? (float)(1.0 / sqrt(nrm)) : 0.0f;
            for (int j = 0; j < D; j++) last[j] *= inv;
        }
    }
}
