/* test_ops_grad.c — gradient checks of every CPU op with a backward: central finite
 * differences of L = sum(w * y) (w random, L accumulated in double) against the analytic
 * backward fed with dy = w. Ops: layernorm (x, g, b), attention (q, k, v; causal, non-causal,
 * Lq != Lk, with keyed dropout, whose mask is fixed by its key), relu, gelu, l2norm (incl. the
 * clamped branch), dropout, the gemm-based linear layer (x, W, b via add_bcast/sum_bcast). */
#include <string.h>

#include "test_ops_common.h"
#include "testutil.h"

/* err = max_i |num_i - ana_i| / max(max_i |ana_i|, 1e-3): the error relative to the gradient's
 * scale. Float forward, h = 1e-2, a smooth loss: truncation ~h^2, rounding ~1e-6/h. */
#define GRAD_TOL 1e-3
#define FD_H 1e-2f

typedef struct fd_ctx fd_ctx;
typedef double (*loss_fn)(fd_ctx *c);

struct fd_ctx {
    lvt_backend *be;
    /* generic slots used by the per-op forward functions */
    float *in[4];
    float *out, *w, *aux0, *aux1;
    uint8_t *mask;
    int M, N, B, Lq, Lk, H, hd, causal, ldq, ldk, ldv, ldo;
    float eps;
    lvt_dropout_key key;
    int use_key;
    size_t n_out;
};

static double weighted(const fd_ctx *c) {
    double L = 0.0;
    for (size_t i = 0; i < c->n_out; i++) L += (double)c->w[i] * c->out[i];
    return L;
}

/* Compare the analytic gradient of param[0..n) (entries with skip(i) excluded) to central
 * differences; print and return the error. */
static double fd_check(const char *what, fd_ctx *c, loss_fn f, float *param, const float *grad,
                       size_t n, int stride_cols, int used_cols) {
    double maxg = 0.0, maxd = 0.0;
    for (size_t i = 0; i < n; i++) {
        if (stride_cols && (int)(i % stride_cols) >= used_cols) continue;
        float x0 = param[i];
        float xp = x0 + FD_H, xm = x0 - FD_H;
        param[i] = xp;
        double lp = f(c);
        param[i] = xm;
        double lm = f(c);
        param[i] = x0;
        double num = (lp - lm) / ((double)xp - (double)xm);
        maxg = fmax(maxg, fabs(grad[i]));
        double d = fabs(num - grad[i]);
        if (!(d <= maxd)) maxd = d;
    }
    double err = maxd / fmax(maxg, 1e-3);
    printf("grad %-34s max|g| %.3e  max|num-ana| %.3e  rel %.3e\n", what, maxg, maxd, err);
    CHECK(err <= GRAD_TOL, "%s: relative gradient error %g > %g", what, err, GRAD_TOL);
    CHECK(maxg > 0.0, "%s: gradient is identically zero", what);
    return err;
}

/* ---- layernorm ---- */
static double ln_loss(fd_ctx *c) {
    c->be->ops->layernorm_fwd(c->be, c->in[0], c->in[1], c->in[2], c->out, c->aux0, c->aux1, c->M,
                              c->N, c->eps);
    return weighted(c);
}

static void grad_layernorm(lvt_backend *be, trng *r) {
    int M = 4, N = 9;
    fd_ctx c = {.be = be, .M = M, .N = N, .eps = 1e-5f, .n_out = (size_t)M * N};
    float *x = fbuf(M * N), *g = fbuf(N), *b = fbuf(N), *y = fbuf(M * N), *w = fbuf(M * N);
    float mean[4], rstd[4], *dx = fbuf(M * N), *dg = fbuf(N), *db = fbuf(N);
    trng_fill(r, x, M * N, -2, 2);
    trng_fill(r, g, N, 0.5f, 1.5f);
    trng_fill(r, b, N, -1, 1);
    trng_fill(r, w, M * N, -1, 1);
    c.in[0] = x, c.in[1] = g, c.in[2] = b, c.out = y, c.w = w, c.aux0 = mean, c.aux1 = rstd;
    ln_loss(&c);
    /* dg, db accumulate: start from a known value and subtract it afterwards */
    for (int j = 0; j < N; j++) dg[j] = 1.0f, db[j] = -2.0f;
    be->ops->layernorm_bwd(be, w, x, mean, rstd, g, dx, dg, db, M, N);
    for (int j = 0; j < N; j++) dg[j] -= 1.0f, db[j] += 2.0f;
    fd_check("layernorm dx", &c, ln_loss, x, dx, (size_t)M * N, 0, 0);
    fd_check("layernorm dg", &c, ln_loss, g, dg, N, 0, 0);
    fd_check("layernorm db", &c, ln_loss, b, db, N, 0, 0);
    free(x), free(g), free(b), free(y), free(w), free(dx), free(dg), free(db);
}

/* ---- attention ---- */
static double attn_loss(fd_ctx *c) {
    c->be->ops->attention_fwd(c->be, c->in[0], c->ldq, c->in[1], c->ldk, c->in[2], c->ldv, c->out,
                              c->ldo, c->aux0, c->mask, c->B, c->Lq, c->Lk, c->H, c->hd, c->causal,
                              c->use_key ? &c->key : NULL);
    return weighted(c);
}

static void grad_attention(lvt_backend *be, trng *r, int B, int Lq, int Lk, int H, int hd,
                           int causal, float p) {
    int d = H * hd, ldq = d + 3, ldk = d + 1, ldv = d + 2, ldo = d;
    fd_ctx c = {.be = be, .B = B, .Lq = Lq, .Lk = Lk, .H = H, .hd = hd, .causal = causal,
                .ldq = ldq, .ldk = ldk, .ldv = ldv, .ldo = ldo, .n_out = (size_t)B * Lq * ldo};
    c.key = (lvt_dropout_key){.seed = 77, .step = 3, .site = 21, .sample_base = 5, .p = p};
    c.use_key = p > 0.0f;
    size_t nq = (size_t)B * Lq * ldq, nk = (size_t)B * Lk * ldk, nv = (size_t)B * Lk * ldv;
    float *q = fbuf(nq), *k = fbuf(nk), *v = fbuf(nv), *out = fbuf(c.n_out), *w = fbuf(c.n_out);
    float *probs = fbuf((size_t)B * H * Lq * Lk);
    uint8_t *mask = calloc((size_t)B * H * Lq * Lk, 1);
    float *dq = fbuf(nq), *dk = fbuf(nk), *dv = fbuf(nv);
    trng_fill(r, q, nq, -1.5f, 1.5f);
    trng_fill(r, k, nk, -1.5f, 1.5f);
    trng_fill(r, v, nv, -1, 1);
    trng_fill(r, w, c.n_out, -1, 1);
    c.in[0] = q, c.in[1] = k, c.in[2] = v, c.out = out, c.w = w, c.aux0 = probs, c.mask = mask;
    attn_loss(&c);
    int dropped = 0;
    for (size_t i = 0; i < (size_t)B * H * Lq * Lk; i++) dropped += !mask[i];
    if (p > 0.0f) CHECK(dropped > 0, "attention dropout p=%g dropped nothing", p);
    be->ops->attention_bwd(be, w, ldo, q, ldq, k, ldk, v, ldv, probs, mask, p, dq, dk, dv, B, Lq,
                           Lk, H, hd);
    char name[128];
    const char *tag = causal ? "causal" : "full";
    snprintf(name, sizeof name, "attention %s Lq%d Lk%d p%.1f dq", tag, Lq, Lk, p);
    fd_check(name, &c, attn_loss, q, dq, nq, ldq, d);
    snprintf(name, sizeof name, "attention %s Lq%d Lk%d p%.1f dk", tag, Lq, Lk, p);
    fd_check(name, &c, attn_loss, k, dk, nk, ldk, d);
    snprintf(name, sizeof name, "attention %s Lq%d Lk%d p%.1f dv", tag, Lq, Lk, p);
    fd_check(name, &c, attn_loss, v, dv, nv, ldv, d);
    /* padding columns of dq/dk/dv are not written */
    int pad = 0;
    for (int row = 0; row < B * Lq; row++) pad += dq[(size_t)row * ldq + d] != 0.0f;
    for (int row = 0; row < B * Lk; row++) pad += dk[(size_t)row * ldk + d] != 0.0f;
    CHECK(pad == 0, "attention_bwd wrote padding columns");
    free(q), free(k), free(v), free(out), free(w), free(probs), free(mask), free(dq), free(dk),
        free(dv);
}

/* ---- elementwise: relu, gelu, dropout ---- */
static double relu_loss(fd_ctx *c) {
    c->be->ops->relu_fwd(c->be, c->in[0], c->out, c->n_out);
    return weighted(c);
}
static double gelu_loss(fd_ctx *c) {
    c->be->ops->gelu_fwd(c->be, c->in[0], c->out, c->n_out);
    return weighted(c);
}
static double drop_loss(fd_ctx *c) {
    c->be->ops->dropout_fwd(c->be, c->in[0], c->out, c->mask, c->M, c->N, &c->key);
    return weighted(c);
}

static void grad_elementwise(lvt_backend *be, trng *r) {
    size_t n = 64;
    float *x = fbuf(n), *y = fbuf(n), *w = fbuf(n), *dx = fbuf(n);
    uint8_t mask[64];
    fd_ctx c = {.be = be, .in = {x}, .out = y, .w = w, .n_out = n, .mask = mask, .M = 4, .N = 16};
    trng_fill(r, w, n, -1, 1);
    /* relu: keep |x| > 2h away from the kink */
    for (size_t i = 0; i < n; i++) {
        x[i] = trng_unif(r, 0.05f, 2.0f);
        if (i % 2) x[i] = -x[i];
    }
    be->ops->relu_bwd(be, w, x, dx, n);
    fd_check("relu dx", &c, relu_loss, x, dx, n, 0, 0);
    trng_fill(r, x, n, -4, 4);
    be->ops->gelu_bwd(be, w, x, dx, n);
    fd_check("gelu dx", &c, gelu_loss, x, dx, n, 0, 0);
    c.key = (lvt_dropout_key){.seed = 1, .step = 9, .site = 30, .sample_base = 100, .p = 0.4f};
    drop_loss(&c);
    be->ops->dropout_bwd(be, w, mask, dx, n, 0.4f);
    fd_check("dropout dx", &c, drop_loss, x, dx, n, 0, 0);
    free(x), free(y), free(w), free(dx);
}

/* ---- l2norm ---- */
static double l2_loss(fd_ctx *c) {
    c->be->ops->l2norm_fwd(c->be, c->in[0], c->out, c->aux0, c->M, c->N, c->eps);
    return weighted(c);
}

static void grad_l2norm(lvt_backend *be, trng *r) {
    int M = 5, N = 7;
    size_t n = (size_t)M * N;
    float *x = fbuf(n), *y = fbuf(n), *w = fbuf(n), *dx = fbuf(n), norms[5];
    trng_fill(r, x, n, -1, 1);
    trng_fill(r, w, n, -1, 1);
    /* row 4 has norm ~0.1 < eps = 0.5: the clamped branch (FD stays inside it) */
    for (int j = 0; j < N; j++) x[4 * N + j] *= 0.1f / sqrtf((float)N);
    fd_ctx c = {.be = be, .in = {x}, .out = y, .w = w, .aux0 = norms, .M = M, .N = N,
                .eps = 0.5f, .n_out = n};
    l2_loss(&c);
    CHECK(norms[4] < 0.5f && norms[0] > 0.5f + 2 * N * FD_H, "l2norm test rows: %g %g", norms[4],
          norms[0]);
    be->ops->l2norm_bwd(be, w, x, norms, dx, M, N, 0.5f);
    fd_check("l2norm dx (incl. clamped row)", &c, l2_loss, x, dx, n, 0, 0);
    /* eps as in the model (1e-12), ordinary rows */
    c.eps = 1e-12f;
    trng_fill(r, x, n, -1, 1);
    l2_loss(&c);
    be->ops->l2norm_bwd(be, w, x, norms, dx, M, N, 1e-12f);
    fd_check("l2norm dx (eps 1e-12)", &c, l2_loss, x, dx, n, 0, 0);
    free(x), free(y), free(w), free(dx);
}

/* ---- linear: y = x W^T + b (gemm + add_bcast); dx = dy W, dW = dy^T x, db = sum dy ---- */
static double lin_loss(fd_ctx *c) {
    /* x [M, K=in[3] count], W [N, K] */
    int M = c->M, N = c->N, K = c->B;
    c->be->ops->gemm(c->be, 0, 1, M, N, K, 1.0f, c->in[0], K, c->in[1], K, 0.0f, c->out, N);
    c->be->ops->add_bcast(c->be, c->out, c->in[2], M, N);
    return weighted(c);
}

static void grad_linear(lvt_backend *be, trng *r) {
    int M = 6, N = 5, K = 7;
    float *x = fbuf(M * K), *W = fbuf(N * K), *b = fbuf(N), *y = fbuf(M * N), *w = fbuf(M * N);
    float *dx = fbuf(M * K), *dW = fbuf(N * K), *db = fbuf(N);
    trng_fill(r, x, M * K, -1, 1);
    trng_fill(r, W, N * K, -1, 1);
    trng_fill(r, b, N, -1, 1);
    trng_fill(r, w, M * N, -1, 1);
    fd_ctx c = {.be = be, .in = {x, W, b}, .out = y, .w = w, .M = M, .N = N, .B = K,
                .n_out = (size_t)M * N};
    be->ops->gemm(be, 0, 0, M, K, N, 1.0f, w, N, W, K, 0.0f, dx, K);
    be->ops->gemm(be, 1, 0, N, K, M, 1.0f, w, N, x, K, 0.0f, dW, K);
    be->ops->sum_bcast(be, w, db, M, N);
    fd_check("linear dx", &c, lin_loss, x, dx, (size_t)M * K, 0, 0);
    fd_check("linear dW", &c, lin_loss, W, dW, (size_t)N * K, 0, 0);
    fd_check("linear db (sum_bcast)", &c, lin_loss, b, db, N, 0, 0);
    free(x), free(W), free(b), free(y), free(w), free(dx), free(dW), free(db);
}

int main(void) {
    trng r = {0x9e3779b97f4a7c15ull};
    lvt_backend *be = open_cpu();
    grad_layernorm(be, &r);
    grad_attention(be, &r, 2, 5, 5, 2, 4, 1, 0.0f);
    grad_attention(be, &r, 2, 4, 6, 2, 3, 0, 0.0f);
    grad_attention(be, &r, 2, 5, 5, 2, 4, 1, 0.3f);
    grad_attention(be, &r, 2, 4, 6, 2, 3, 0, 0.3f);
    grad_elementwise(be, &r);
    grad_l2norm(be, &r);
    grad_linear(be, &r);
    lvt_backend_destroy(be);
    return test_finish("test_ops_grad");
}
