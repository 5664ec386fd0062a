/* elementwise.h — the per-element math both backends run, written once: the AdamW update, the
 * clip coefficient, the vmap element functions of the P4 objective (with the adaptive-λ sigmoid),
 * exact GELU, ReLU, the dropout scale and the Box-Muller pair of context-drop noise. Every
 * function is LVT_HD (rng.h): static inline in C, __host__ __device__ under nvcc, so the CPU
 * loops (src/cpu/) and the CUDA kernels (cuda/) call the same code and differ only in the order
 * of their reductions (docs/ops.md, "Each formula once"). Plain C11; no allocation, no state. */
#ifndef LVT_ELEMENTWISE_H
#define LVT_ELEMENTWISE_H

#include <math.h>
#include <stdint.h>

#include "lvt/rng.h"

/* ---- AdamW ------------------------------------------------------------------------------------ */

/* The per-step scalar factors of torch.optim.AdamW, computed once on the host in double and
 * rounded to float (lvt_adamw_scalars_for, ops.h): decay = 1 - lr*wd, step_size = lr / (1-β1^t),
 * bc2_sqrt = sqrt(1-β2^t), w1 = 1-β1, w2 = 1-β2; beta2 and eps as the floats passed. Eight floats,
 * so the graph optimiser keeps one in backend memory (include/lvt/graph.h). */
typedef struct lvt_adamw_scalars {
    float decay, step_size, bc2_sqrt, w1, beta2, w2, eps, unused;
} lvt_adamw_scalars;

/* One element of torch.optim.AdamW (single-tensor path): g scaled by grad_scale (clipping),
 * p *= decay, m = lerp(m, g, w1) (torch's lerp: the weight < 0.5 and >= 0.5 branches),
 * v = β2 v + w2 g², p -= step_size * m / (sqrt(v) / bc2_sqrt + eps). */
LVT_HD void lvt_adamw_update(float *p, float *m, float *v, float g, float grad_scale,
                             const lvt_adamw_scalars s) {
    float gi = g * grad_scale;
    float pi = *p * s.decay;
    float mi = s.w1 < 0.5f ? *m + s.w1 * (gi - *m) : gi - (gi - *m) * (1.0f - s.w1); /* lerp */
    float vi = *v * s.beta2 + s.w2 * gi * gi;
    float denom = sqrtf(vi) / s.bc2_sqrt + s.eps;
    *p = pi - s.step_size * mi / denom;
    *m = mi;
    *v = vi;
}

/* torch.nn.utils.clip_grad_norm_'s factor: min(1, max_norm / (norm + 1e-6)); 1 when
 * max_norm <= 0 (lvt_clip_scale in optim.h is this function). */
LVT_HD double lvt_clip_coef(double norm, double max_norm) {
    if (max_norm <= 0) return 1.0;
    double coef = max_norm / (norm + 1e-6);
    return coef < 1.0 ? coef : 1.0;
}

/* ---- the vmap element functions (ops->vmap, the P4 objective) ---------------------------------- */

/* Element functions of ops->vmap (a, b, c per element; NULL b reads 0, NULL c reads 1). */
typedef enum lvt_vmap_op {
    LVT_VMAP_HINGE = 0,  /* y = c * max(0, s0 - (a - b)) */
    LVT_VMAP_HINGE_GATE, /* y = c * (s0 - (a - b) > 0 ? 1 : 0) */
    LVT_VMAP_SIGMOID,    /* y = 1 / (1 + exp(-(a - s0) / s1)) */
    LVT_VMAP_RELU_SHIFT, /* y = s1 * max(0, a - s0) */
    LVT_VMAP_STEP_SHIFT, /* y = (a - s0 > 0) ? s1 : 0 */
    LVT_VMAP_MUL_AFFINE, /* y = s0 * a * (s1 + b) * c */
    LVT_VMAP_DIV_COUNT,  /* y = s0 * a * c / max(b, 1) */
    LVT_VMAP_AFFINE      /* y = s0 * a + s1 */
} lvt_vmap_op;

/* The shifted, scaled logistic of the adaptive directional guard (docs/loss.md): the weight
 * sigmoid((cos(c_last, y) - s0) / s1) of a sample. */
LVT_HD float lvt_sigmoid_shift(float a, float s0, float s1) {
    return 1.0f / (1.0f + expf(-(a - s0) / s1));
}

/* y = f(a, b, c) of lvt_vmap_op; an unknown op gives NaN. */
LVT_HD float lvt_vmap_apply(lvt_vmap_op op, float a, float b, float c, float s0, float s1) {
    switch (op) {
    case LVT_VMAP_HINGE: {
        float h = s0 - (a - b);
        return c * (h > 0 ? h : 0.0f);
    }
    case LVT_VMAP_HINGE_GATE: return c * ((s0 - (a - b)) > 0 ? 1.0f : 0.0f);
    case LVT_VMAP_SIGMOID: return lvt_sigmoid_shift(a, s0, s1);
    case LVT_VMAP_RELU_SHIFT: return s1 * (a - s0 > 0 ? a - s0 : 0.0f);
    case LVT_VMAP_STEP_SHIFT: return (a - s0 > 0) ? s1 : 0.0f;
    case LVT_VMAP_MUL_AFFINE: return s0 * a * (s1 + b) * c;
    case LVT_VMAP_DIV_COUNT: return s0 * a * c / (b > 1.0f ? b : 1.0f);
    case LVT_VMAP_AFFINE: return s0 * a + s1;
    }
    return NAN;
}

/* ---- activations and dropout -------------------------------------------------------------------- */

#define LVT_SQRT1_2F 0.70710678118654752440f      /* 1/sqrt(2) */
#define LVT_INV_SQRT_2PIF 0.39894228040143267794f /* 1/sqrt(2 pi) */

LVT_HD float lvt_relu(float x) { return x > 0.0f ? x : 0.0f; }
/* dy * [x > 0] */
LVT_HD float lvt_relu_grad(float dy, float x) { return x > 0.0f ? dy : 0.0f; }

/* Exact GELU: x Φ(x) = ½ x (1 + erf(x / √2)). */
LVT_HD float lvt_gelu(float x) { return 0.5f * x * (1.0f + erff(x * LVT_SQRT1_2F)); }
/* dy * d/dx GELU(x) = dy (Φ(x) + x φ(x)). */
LVT_HD float lvt_gelu_grad(float dy, float x) {
    float cdf = 0.5f * (1.0f + erff(x * LVT_SQRT1_2F));
    float pdf = LVT_INV_SQRT_2PIF * expf(-0.5f * x * x);
    return dy * (cdf + x * pdf);
}

/* The factor of a kept element under dropout with probability p: 1/(1-p); 0 when p >= 1;
 * 1 when p <= 0 (no dropout). */
LVT_HD float lvt_dropout_scale(float p) {
    return p > 0.0f ? (p < 1.0f ? 1.0f / (1.0f - p) : 0.0f) : 1.0f;
}

/* ---- context-drop noise -------------------------------------------------------------------------- */

/* Elements j and j + 1 (even j) of the Gaussian noise row of global sample g (ops.h,
 * context_drop): u1 = max(unit(..., j), 1e-7), u2 = unit(..., j + 1), r = sqrt(-2 ln u1),
 * z0 = r cos(2π u2), z1 = r sin(2π u2), in float. */
LVT_HD void lvt_context_noise_pair(uint64_t seed, uint64_t step, uint64_t g, int j, float *z0,
                                   float *z1) {
    float u1 = lvt_rng_unit(seed, step, LVT_SITE_CONTEXT_NOISE, g, (uint64_t)j);
    float u2 = lvt_rng_unit(seed, step, LVT_SITE_CONTEXT_NOISE, g, (uint64_t)j + 1);
    if (u1 < 1e-7f) u1 = 1e-7f;
    float r = sqrtf(-2.0f * logf(u1));
    *z0 = r * cosf(6.28318530717958647692f * u2);
    *z1 = r * sinf(6.28318530717958647692f * u2);
}

#endif
