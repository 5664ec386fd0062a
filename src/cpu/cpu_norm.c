/* cpu_norm.c — the CPU backend's row normalisations (LayerNorm, L2 normalise), activations
 * (ReLU, exact GELU) and keyed dropout (Philox masks, identical to the CUDA backend's). */
#include <math.h>
#include <string.h>

#include "cpu_backend.h"
#include "lvt/elementwise.h"
#include "lvt/rng.h"

/* ---- LayerNorm (PyTorch: biased variance, eps inside the sqrt) ---- */

void cpu_layernorm_fwd(lvt_backend *be, const float *x, const float *g, const float *b, float *y,
                       float *mean, float *rstd, int M, int N, float eps) {
#pragma omp parallel for if ((size_t)M * N > 32768)
    for (int m = 0; m < M; m++) {
        const float *xr = x + (size_t)m * N;
        float *yr = y + (size_t)m * N;
        double s = 0.0;
#pragma omp simd reduction(+ : s)
        for (int j = 0; j < N; j++) s += xr[j];
        double mu = s / N;
        double ss = 0.0;
#pragma omp simd reduction(+ : ss)
        for (int j = 0; j < N; j++) {
            double d = xr[j] - mu;
            ss += d * d;
        }
        float rs = (float)(1.0 / sqrt(ss / N + (double)eps));
        float muf = (float)mu;
        for (int j = 0; j < N; j++) yr[j] = (xr[j] - muf) * rs * g[j] + b[j];
        if (mean) mean[m] = muf;
        if (rstd) rstd[m] = rs;
    }
}

void cpu_layernorm_bwd(lvt_backend *be, const float *dy, const float *x, const float *mean,
                       const float *rstd, const float *g, float *dx, float *dg, float *db, int M,
                       int N) {
    /* dx = rstd * (dy*g - mean_j(dy*g) - xhat * mean_j(dy*g*xhat)), row by row. */
#pragma omp parallel for if ((size_t)M * N > 32768)
    for (int m = 0; m < M; m++) {
        const float *xr = x + (size_t)m * N, *dyr = dy + (size_t)m * N;
        float *dxr = dx + (size_t)m * N;
        float mu = mean[m], rs = rstd[m];
        float a = 0.0f, c = 0.0f;
#pragma omp simd reduction(+ : a, c)
        for (int j = 0; j < N; j++) {
            float dyg = dyr[j] * g[j];
            a += dyg;
            c += dyg * (xr[j] - mu) * rs;
        }
        a /= (float)N;
        c /= (float)N;
        for (int j = 0; j < N; j++) dxr[j] = rs * (dyr[j] * g[j] - a - (xr[j] - mu) * rs * c);
    }
    /* dg += sum_m dy*xhat, db += sum_m dy: columns in parallel, rows in order. */
#pragma omp parallel for if ((size_t)M * N > 32768)
    for (int j0 = 0; j0 < N; j0 += 64) {
        int j1 = j0 + 64 < N ? j0 + 64 : N;
        float ag[64], ab[64];
        for (int j = j0; j < j1; j++) ag[j - j0] = ab[j - j0] = 0.0f;
        for (int m = 0; m < M; m++) {
            const float *xr = x + (size_t)m * N, *dyr = dy + (size_t)m * N;
            float mu = mean[m], rs = rstd[m];
            for (int j = j0; j < j1; j++) {
                ag[j - j0] += dyr[j] * (xr[j] - mu) * rs;
                ab[j - j0] += dyr[j];
            }
        }
        for (int j = j0; j < j1; j++) {
            if (dg) dg[j] += ag[j - j0];
            if (db) db[j] += ab[j - j0];
        }
    }
}

/* ---- L2 normalise (torch.nn.functional.normalize: x / clamp_min(||x||, eps)) ---- */

void cpu_l2norm_fwd(lvt_backend *be, const float *x, float *y, float *norms, int M, int N,
                    float eps) {
#pragma omp parallel for if ((size_t)M * N > 32768)
    for (int m = 0; m < M; m++) {
        const float *xr = x + (size_t)m * N;
        float *yr = y + (size_t)m * N;
        double ss = 0.0;
#pragma omp simd reduction(+ : ss)
        for (int j = 0; j < N; j++) ss += (double)xr[j] * xr[j];
        float n = (float)sqrt(ss);
        float d = n > eps ? n : eps;
        for (int j = 0; j < N; j++) yr[j] = xr[j] / d;
        if (norms) norms[m] = n;
    }
}

void cpu_l2norm_bwd(lvt_backend *be, const float *dy, const float *x, const float *norms,
                    float *dx, int M, int N, float eps) {
    /* n >= eps: dx = dy/n - x <x,dy>/n^3 ; n < eps: the clamp stops the norm's gradient,
     * dx = dy/eps (torch's clamp_min passes the gradient where norm >= eps). */
#pragma omp parallel for if ((size_t)M * N > 32768)
    for (int m = 0; m < M; m++) {
        const float *xr = x + (size_t)m * N, *dyr = dy + (size_t)m * N;
        float *dxr = dx + (size_t)m * N;
        float n = norms[m];
        if (n >= eps && n > 0.0f) {
            double xd = 0.0;
#pragma omp simd reduction(+ : xd)
            for (int j = 0; j < N; j++) xd += (double)xr[j] * dyr[j];
            float inv = 1.0f / n;
            float c = (float)(xd / ((double)n * n * n));
            for (int j = 0; j < N; j++) dxr[j] = dyr[j] * inv - xr[j] * c;
        } else {
            for (int j = 0; j < N; j++) dxr[j] = dyr[j] / eps;
        }
    }
}

/* ---- activations (y may alias x; dx may alias dy) ---- */

/* The element functions are those of include/lvt/elementwise.h, shared with the CUDA kernels. */

void cpu_relu_fwd(lvt_backend *be, const float *x, float *y, size_t n) {
#pragma omp parallel for if (n > 262144)
    for (size_t i = 0; i < n; i++) y[i] = lvt_relu(x[i]);
}

void cpu_relu_bwd(lvt_backend *be, const float *dy, const float *x, float *dx, size_t n) {
#pragma omp parallel for if (n > 262144)
    for (size_t i = 0; i < n; i++) dx[i] = lvt_relu_grad(dy[i], x[i]);
}

void cpu_gelu_fwd(lvt_backend *be, const float *x, float *y, size_t n) {
#pragma omp parallel for if (n > 65536)
    for (size_t i = 0; i < n; i++) y[i] = lvt_gelu(x[i]);
}

void cpu_gelu_bwd(lvt_backend *be, const float *dy, const float *x, float *dx, size_t n) {
#pragma omp parallel for if (n > 65536)
    for (size_t i = 0; i < n; i++) dx[i] = lvt_gelu_grad(dy[i], x[i]);
}

/* ---- dropout: keep element e of sample sample_base+s iff lvt_rng_unit(...) >= p ---- */

void cpu_dropout_fwd(lvt_backend *be, const float *x, float *y, uint8_t *mask, int n_samples,
                     int per_sample, const lvt_dropout_key *key) {
    size_t n = (size_t)n_samples * per_sample;
    float p = key ? key->p : 0.0f;
    if (p <= 0.0f) {
        if (y != x) memmove(y, x, n * sizeof(float));
        if (mask) memset(mask, 1, n);
        return;
    }
    const float scale = lvt_dropout_scale(p);
#pragma omp parallel for if (n > 16384)
    for (int s = 0; s < n_samples; s++) {
        uint64_t sample = (uint64_t)(key->sample_base + s);
        const float *xr = x + (size_t)s * per_sample;
        float *yr = y + (size_t)s * per_sample;
        uint8_t *mr = mask ? mask + (size_t)s * per_sample : NULL;
        uint32_t w[256];
        for (int e0 = 0; e0 < per_sample; e0 += 256) {
            int m = per_sample - e0 < 256 ? per_sample - e0 : 256;
            cpu_rng_words(key->seed, key->step, key->site, sample, (uint64_t)e0, m, w);
            uint8_t keep[256];
            for (int j = 0; j < m; j++) keep[j] = lvt_u32_to_unit(w[j]) >= p;
            for (int j = 0; j < m; j++) yr[e0 + j] = keep[j] ? xr[e0 + j] * scale : 0.0f;
            if (mr) memcpy(mr + e0, keep, (size_t)m);
        }
    }
}

void cpu_dropout_bwd(lvt_backend *be, const float *dy, const uint8_t *mask, float *dx, size_t n,
                     float p) {
    if (p <= 0.0f) {
        if (dx != dy) memmove(dx, dy, n * sizeof(float));
        return;
    }
    const float scale = lvt_dropout_scale(p);
#pragma omp parallel for if (n > 262144)
    for (size_t i = 0; i < n; i++) dx[i] = mask[i] ? dy[i] * scale : 0.0f;
}
