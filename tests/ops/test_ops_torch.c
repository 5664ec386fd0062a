/* test_ops_torch.c — PyTorch cross-check of the CPU ops: this program runs layernorm, attention
 * (causal and not, with and without keyed dropout), gelu, l2norm, linear (gemm + bias) forward
 * and backward, and AdamW for 1 and 5 steps, writes inputs and results as raw float32 files,
 * and runs tests/ops/ops_torch_ref.py, which recomputes everything with torch (autograd,
 * F.multi_head_attention_forward, torch.optim.AdamW) and requires max abs diff <= 1e-5.
 * Skipped (77) when the reference Python lacks torch. */
#include <string.h>

#include "test_ops_common.h"
#include "testutil.h"

static const char *g_dir;

static void save(const char *name, const void *p, size_t bytes) {
    char path[1400];
    snprintf(path, sizeof path, "%s/%s.bin", g_dir, name);
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL, "cannot write %s", path);
    if (!f) return;
    CHECK(fwrite(p, 1, bytes, f) == bytes, "short write %s", path);
    fclose(f);
}
#define SAVEF(name, p, n) save(name, p, (size_t)(n) * sizeof(float))

static void run_layernorm(lvt_backend *be, trng *r, FILE *meta) {
    int M = 24, N = 512;
    size_t n = (size_t)M * N;
    float *x = fbuf(n), *g = fbuf(N), *b = fbuf(N), *y = fbuf(n), *dy = fbuf(n), *dx = fbuf(n);
    float *dg = fbuf(N), *db = fbuf(N), *mean = fbuf(M), *rstd = fbuf(M);
    trng_fill(r, x, n, -3, 4);
    trng_fill(r, g, N, 0.5f, 1.5f);
    trng_fill(r, b, N, -0.5f, 0.5f);
    trng_fill(r, dy, n, -1, 1);
    be->ops->layernorm_fwd(be, x, g, b, y, mean, rstd, M, N, 1e-5f);
    be->ops->layernorm_bwd(be, dy, x, mean, rstd, g, dx, dg, db, M, N);
    SAVEF("ln_x", x, n), SAVEF("ln_g", g, N), SAVEF("ln_b", b, N), SAVEF("ln_dy", dy, n);
    SAVEF("ln_y", y, n), SAVEF("ln_dx", dx, n), SAVEF("ln_dg", dg, N), SAVEF("ln_db", db, N);
    fprintf(meta, "\"ln\": {\"M\": %d, \"N\": %d, \"eps\": 1e-5},\n", M, N);
    free(x), free(g), free(b), free(y), free(dy), free(dx), free(dg), free(db);
    free(mean), free(rstd);
}

static void run_attention(lvt_backend *be, trng *r, FILE *meta, int idx, int B, int Lq, int Lk,
                          int H, int hd, int causal, float p) {
    int d = H * hd;
    size_t nq = (size_t)B * Lq * d, nk = (size_t)B * Lk * d, np = (size_t)B * H * Lq * Lk;
    float *q = fbuf(nq), *k = fbuf(nk), *v = fbuf(nk), *out = fbuf(nq), *dout = fbuf(nq);
    float *probs = fbuf(np), *dq = fbuf(nq), *dk = fbuf(nk), *dv = fbuf(nk);
    uint8_t *mask = calloc(np, 1);
    float *maskf = fbuf(np);
    trng_fill(r, q, nq, -1, 1);
    trng_fill(r, k, nk, -1, 1);
    trng_fill(r, v, nk, -1, 1);
    trng_fill(r, dout, nq, -1, 1);
    lvt_dropout_key key = {.seed = 11, .step = 1, .site = 50, .sample_base = 3, .p = p};
    be->ops->attention_fwd(be, q, d, k, d, v, d, out, d, probs, mask, B, Lq, Lk, H, hd, causal,
                           p > 0 ? &key : NULL);
    be->ops->attention_bwd(be, dout, d, q, d, k, d, v, d, probs, mask, p, dq, dk, dv, B, Lq, Lk, H,
                           hd);
    for (size_t i = 0; i < np; i++) maskf[i] = mask[i];
    char nm[64];
#define SA(tag, ptr, cnt) (snprintf(nm, sizeof nm, "at%d_%s", idx, tag), SAVEF(nm, ptr, cnt))
    SA("q", q, nq), SA("k", k, nk), SA("v", v, nk), SA("dout", dout, nq), SA("out", out, nq);
    SA("probs", probs, np), SA("mask", maskf, np), SA("dq", dq, nq), SA("dk", dk, nk);
    SA("dv", dv, nk);
#undef SA
    fprintf(meta, "\"at%d\": {\"B\": %d, \"Lq\": %d, \"Lk\": %d, \"H\": %d, \"hd\": %d, "
                  "\"causal\": %d, \"p\": %.9g},\n", idx, B, Lq, Lk, H, hd, causal, p);
    free(q), free(k), free(v), free(out), free(dout), free(probs), free(dq), free(dk), free(dv),
        free(mask), free(maskf);
}

static void run_pointwise(lvt_backend *be, trng *r, FILE *meta) {
    size_t n = 4096;
    float *x = fbuf(n), *y = fbuf(n), *dy = fbuf(n), *dx = fbuf(n);
    trng_fill(r, x, n, -5, 5);
    trng_fill(r, dy, n, -1, 1);
    be->ops->gelu_fwd(be, x, y, n);
    be->ops->gelu_bwd(be, dy, x, dx, n);
    SAVEF("gelu_x", x, n), SAVEF("gelu_dy", dy, n), SAVEF("gelu_y", y, n), SAVEF("gelu_dx", dx, n);
    be->ops->relu_fwd(be, x, y, n);
    be->ops->relu_bwd(be, dy, x, dx, n);
    SAVEF("relu_y", y, n), SAVEF("relu_dx", dx, n);
    /* l2norm: 32 rows of 768, eps 1e-12 as the model head */
    int M = 32, N = 768;
    float *lx = fbuf((size_t)M * N), *ly = fbuf((size_t)M * N), *ldy = fbuf((size_t)M * N);
    float *ldx = fbuf((size_t)M * N), norms[32];
    trng_fill(r, lx, (size_t)M * N, -1, 1);
    for (int j = 0; j < N; j++) lx[5 * N + j] *= 1e-3f; /* a short row */
    trng_fill(r, ldy, (size_t)M * N, -1, 1);
    be->ops->l2norm_fwd(be, lx, ly, norms, M, N, 1e-12f);
    be->ops->l2norm_bwd(be, ldy, lx, norms, ldx, M, N, 1e-12f);
    SAVEF("l2_x", lx, M * N), SAVEF("l2_dy", ldy, M * N), SAVEF("l2_y", ly, M * N);
    SAVEF("l2_dx", ldx, M * N), SAVEF("l2_norms", norms, M);
    fprintf(meta, "\"gelu\": {\"n\": %zu}, \"l2\": {\"M\": %d, \"N\": %d, \"eps\": 1e-12},\n", n,
            M, N);
    free(x), free(y), free(dy), free(dx), free(lx), free(ly), free(ldy), free(ldx);
}

static void run_linear(lvt_backend *be, trng *r, FILE *meta) {
    int M = 40, K = 96, N = 80;
    float *x = fbuf(M * K), *W = fbuf(N * K), *b = fbuf(N), *y = fbuf(M * N), *dy = fbuf(M * N);
    float *dx = fbuf(M * K), *dW = fbuf(N * K), *db = fbuf(N);
    trng_fill(r, x, M * K, -1, 1);
    trng_fill(r, W, N * K, -0.1f, 0.1f);
    trng_fill(r, b, N, -0.1f, 0.1f);
    trng_fill(r, dy, M * N, -1, 1);
    be->ops->gemm(be, 0, 1, M, N, K, 1.0f, x, K, W, K, 0.0f, y, N);
    be->ops->add_bcast(be, y, b, M, N);
    be->ops->gemm(be, 0, 0, M, K, N, 1.0f, dy, N, W, K, 0.0f, dx, K);
    be->ops->gemm(be, 1, 0, N, K, M, 1.0f, dy, N, x, K, 0.0f, dW, K);
    be->ops->sum_bcast(be, dy, db, M, N);
    SAVEF("lin_x", x, M * K), SAVEF("lin_W", W, N * K), SAVEF("lin_b", b, N);
    SAVEF("lin_dy", dy, M * N), SAVEF("lin_y", y, M * N), SAVEF("lin_dx", dx, M * K);
    SAVEF("lin_dW", dW, N * K), SAVEF("lin_db", db, N);
    fprintf(meta, "\"lin\": {\"M\": %d, \"K\": %d, \"N\": %d},\n", M, K, N);
    free(x), free(W), free(b), free(y), free(dy), free(dx), free(dW), free(db);
}

static void run_adamw(lvt_backend *be, trng *r, FILE *meta) {
    size_t n = 5000;
    int steps = 5;
    float lr = 3e-4f, b1 = 0.9f, b2 = 0.999f, eps = 1e-8f, wd = 0.05f, gs = 0.7f;
    float *p = fbuf(n), *m = fbuf(n), *v = fbuf(n), *g = fbuf(n * steps), *p1 = fbuf(n);
    trng_fill(r, p, n, -1, 1);
    trng_fill(r, g, n * steps, -1e-2f, 1e-2f);
    for (size_t i = 0; i < 50; i++) g[i] = 0.0f; /* a few zero gradients (denominator = eps) */
    SAVEF("adam_p0", p, n), SAVEF("adam_g", g, n * steps);
    for (int t = 1; t <= steps; t++) {
        be->ops->adamw(be, p, g + (size_t)(t - 1) * n, m, v, n, lr, b1, b2, eps, wd, t, gs);
        if (t == 1) memcpy(p1, p, n * sizeof(float));
    }
    SAVEF("adam_p1", p1, n), SAVEF("adam_p5", p, n), SAVEF("adam_m5", m, n), SAVEF("adam_v5", v, n);
    /* torch gets the hyperparameters as the decimal literals a config holds (0.98, not the
     * float 0.980000019): it forms 1 - beta in double, and so must the backend */
    fprintf(meta, "\"adam\": {\"n\": %zu, \"steps\": %d, \"lr\": %g, \"b1\": %g, \"b2\": %g, "
                  "\"eps\": %g, \"wd\": %g, \"gs\": %.9g}\n", n, steps, lr, b1, b2, eps, wd, gs);
    free(p), free(m), free(v), free(g), free(p1);
}

int main(void) {
    const char *py = getenv("LVT_PYTHON");
    const char *src = getenv("LVT_SOURCE_DIR");
    if (!py || !*py) py = "/usr/bin/python3";
    if (!src || !*src) src = ".";
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "%s -c 'import torch, numpy' 2>/dev/null", py);
    if (test_system(cmd) != 0) {
        printf("test_ops_torch: %s has no torch/numpy, skipped\n", py);
        return 77;
    }
    g_dir = test_tmpdir("test_ops_torch");
    char metap[1400];
    snprintf(metap, sizeof metap, "%s/meta.json", g_dir);
    FILE *meta = fopen(metap, "w");
    CHECK(meta != NULL, "cannot write %s", metap);
    if (!meta) return test_finish("test_ops_torch");
    fprintf(meta, "{\n");
    trng r = {0x5555aaaa12345678ull};
    lvt_backend *be = open_cpu();
    run_layernorm(be, &r, meta);
    run_attention(be, &r, meta, 0, 4, 10, 10, 8, 64, 1, 0.0f);
    run_attention(be, &r, meta, 1, 3, 7, 12, 4, 16, 0, 0.0f);
    run_attention(be, &r, meta, 2, 4, 10, 10, 8, 64, 1, 0.1f);
    run_attention(be, &r, meta, 3, 3, 7, 12, 4, 16, 0, 0.25f);
    run_pointwise(be, &r, meta);
    run_linear(be, &r, meta);
    run_adamw(be, &r, meta);
    fprintf(meta, "}\n");
    fclose(meta);
    lvt_backend_destroy(be);
    snprintf(cmd, sizeof cmd, "%s %s/tests/ops/ops_torch_ref.py %s", py, src, g_dir);
    CHECK(test_system(cmd) == 0, "torch reference disagrees (see above)");
    return test_finish("test_ops_torch");
}
