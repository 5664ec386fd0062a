/* model_forward.c — the transformer's activation plan and its forward and backward passes,
 * composed only from ops calls (every pointer is backend memory), so the same code runs on the
 * CPU and CUDA backends. The module tree and the buffer-by-buffer plan are in docs/model.md. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lvt/model.h"
#include "lvt/rng.h"
#include "model_internal.h"

#define LN_EPS 1e-5f
#define L2_EPS 1e-12f

/* Saved activations of one decoder layer for one slot. Rows are b*L + t (N = B*L rows). */
typedef struct {
    float *qkv;                 /* [N, 3d] self-attention q|k|v */
    float *att1;                /* [N, d] self-attention output before out_proj */
    float *r1, *x1;             /* [N, d] LN1 input (residual sum) and output */
    float *mean1, *rstd1;       /* [N] */
    float *probs1;              /* [B, H, L, L] */
    float *q2, *kv2;            /* [N, d], [N, 2d] cross-attention q and k|v (from mem) */
    float *att2, *r2, *x2;      /* [N, d] */
    float *mean2, *rstd2;       /* [N] */
    float *probs2;              /* [B, H, L, L] */
    float *a;                   /* [N, F] dropout(relu(linear1(x2))) */
    float *r3, *x3;             /* [N, d] LN3 input and output (the layer's output) */
    float *mean3, *rstd3;       /* [N] */
    uint8_t *m_att1, *m_att2;   /* [B, H, L, L] attention-dropout masks (sites 5, 6) */
    uint8_t *m_drop1, *m_drop2; /* [N, d] sites 1, 2 */
    uint8_t *m_drop3;           /* [N, F] site 3 */
    uint8_t *m_drop4;           /* [N, d] site 4 */
} layer_acts;

typedef struct {
    void *mem;
    float *ctx; /* [N, D] copy of the input */
    float *x0;  /* [N, d] input_proj(ctx) + PE = mem */
    layer_acts *layers;
    float *g0, *g1, *g2;  /* [B, d] head: Linear, GELU, LayerNorm outputs */
    float *hmean, *hrstd; /* [B] */
    float *raw, *pred;    /* [B, D] */
    float *norms;         /* [B] */
    int B;                /* batch of the last forward (0: none yet) */
    int drop;             /* the last forward used dropout */
} slot_acts;

struct lvt_model_acts {
    float *pe; /* [L, d] positional encoding */
    int batch, n_slots;
    slot_acts *slots;
    void *scratch_mem;
    float *bufA, *bufB, *bufC, *dmem; /* [N, d] */
    float *F1, *F2;                   /* [N, F] */
    float *d3;                        /* [N, 3d] */
    float *d2;                        /* [N, 2d] */
    float *hD;                        /* [B, D] */
    float *hd1, *hd2;                 /* [B, d] */
};

/* ---- memory carving ---- */

typedef struct {
    char *base; /* NULL: only count */
    size_t off;
    size_t align;
} carver;

static void *take(carver *c, size_t bytes) {
    size_t o = (c->off + c->align - 1) / c->align * c->align;
    c->off = o + bytes;
    return c->base ? (void *)(c->base + o) : NULL;
}
#define TAKEF(c, n) ((float *)take((c), (size_t)(n) * sizeof(float)))
#define TAKEB(c, n) ((uint8_t *)take((c), (size_t)(n)))

/* Lay out (or count, when c->base is NULL) one slot of `batch` samples. */
static void slot_layout(const lvt_model_cfg *cfg, int batch, carver *c, slot_acts *s) {
    size_t N = (size_t)batch * cfg->context_len, d = cfg->d_model, D = cfg->dim;
    size_t F = (size_t)cfg->ffn_mult * d;
    int masks = cfg->dropout > 0.0f;
    s->ctx = TAKEF(c, N * D);
    s->x0 = TAKEF(c, N * d);
    for (int l = 0; l < cfg->n_layers; l++) {
        layer_acts tmp, *la = s->layers ? &s->layers[l] : &tmp;
        /* the last layer keeps position L-1 only, except its keys/values (qkv, kv2) */
        int tail = l == cfg->n_layers - 1;
        size_t M = tail ? (size_t)batch : N;
        size_t P = (size_t)batch * cfg->n_heads * (tail ? 1 : cfg->context_len) * cfg->context_len;
        la->qkv = TAKEF(c, N * 3 * d);
        la->att1 = TAKEF(c, M * d);
        la->r1 = TAKEF(c, M * d);
        la->x1 = TAKEF(c, M * d);
        la->mean1 = TAKEF(c, M);
        la->rstd1 = TAKEF(c, M);
        la->probs1 = TAKEF(c, P);
        la->q2 = TAKEF(c, M * d);
        la->kv2 = TAKEF(c, N * 2 * d);
        la->att2 = TAKEF(c, M * d);
        la->r2 = TAKEF(c, M * d);
        la->x2 = TAKEF(c, M * d);
        la->mean2 = TAKEF(c, M);
        la->rstd2 = TAKEF(c, M);
        la->probs2 = TAKEF(c, P);
        la->a = TAKEF(c, N * F); /* N rows even in the tail: readers of "ffn" copy N*F floats */
        la->r3 = TAKEF(c, M * d);
        la->x3 = TAKEF(c, M * d);
        la->mean3 = TAKEF(c, M);
        la->rstd3 = TAKEF(c, M);
        la->m_att1 = masks ? TAKEB(c, P) : NULL;
        la->m_att2 = masks ? TAKEB(c, P) : NULL;
        la->m_drop1 = masks ? TAKEB(c, M * d) : NULL;
        la->m_drop2 = masks ? TAKEB(c, M * d) : NULL;
        la->m_drop3 = masks ? TAKEB(c, M * F) : NULL;
        la->m_drop4 = masks ? TAKEB(c, M * d) : NULL;
    }
    s->g0 = TAKEF(c, (size_t)batch * d);
    s->g1 = TAKEF(c, (size_t)batch * d);
    s->g2 = TAKEF(c, (size_t)batch * d);
    s->hmean = TAKEF(c, batch);
    s->hrstd = TAKEF(c, batch);
    s->raw = TAKEF(c, (size_t)batch * D);
    s->pred = TAKEF(c, (size_t)batch * D);
    s->norms = TAKEF(c, batch);
}

static void scratch_layout(const lvt_model_cfg *cfg, int batch, carver *c, lvt_model_acts *a) {
    size_t N = (size_t)batch * cfg->context_len, d = cfg->d_model, D = cfg->dim;
    size_t F = (size_t)cfg->ffn_mult * d;
    a->bufA = TAKEF(c, N * d);
    a->bufB = TAKEF(c, N * d);
    a->bufC = TAKEF(c, N * d);
    a->dmem = TAKEF(c, N * d);
    a->F1 = TAKEF(c, N * F);
    a->F2 = TAKEF(c, N * F);
    a->d3 = TAKEF(c, N * 3 * d);
    a->d2 = TAKEF(c, N * 2 * d);
    a->hD = TAKEF(c, (size_t)batch * D);
    a->hd1 = TAKEF(c, (size_t)batch * d);
    a->hd2 = TAKEF(c, (size_t)batch * d);
}

size_t lvt_model_act_bytes_per_sample(const lvt_model_cfg *cfg) {
    carver c = {NULL, 0, 1};
    slot_acts s = {0};
    slot_layout(cfg, 1, &c, &s);
    return c.off;
}

/* ---- plan ---- */

static void free_plan(lvt_model *m) {
    lvt_model_acts *a = m->acts;
    if (!a) return;
    for (int i = 0; i < a->n_slots; i++) {
        if (a->slots[i].mem) m->be->ops->free(m->be, a->slots[i].mem);
        free(a->slots[i].layers);
    }
    free(a->slots);
    a->slots = NULL;
    if (a->scratch_mem) m->be->ops->free(m->be, a->scratch_mem);
    a->scratch_mem = NULL;
    a->batch = a->n_slots = 0;
}

int model_acts_create(lvt_model *m, lvt_err *e) {
    m->acts = lvt_calloc(1, sizeof *m->acts, e);
    if (!m->acts) return LVT_ERROR;
    int L = m->cfg.context_len, d = m->cfg.d_model;
    float *pe = lvt_malloc((size_t)L * d * sizeof(float), e);
    if (!pe) return LVT_ERROR;
    /* PyTorch-style sinusoid: pe[pos, 2i] = sin(pos / 10000^(2i/d)), pe[pos, 2i+1] = cos(...) */
    for (int pos = 0; pos < L; pos++)
        for (int i = 0; i < d; i += 2) {
            double ang = pos * exp(-(double)i * log(10000.0) / d);
            pe[pos * d + i] = (float)sin(ang);
            if (i + 1 < d) pe[pos * d + i + 1] = (float)cos(ang);
        }
    m->acts->pe = m->be->ops->alloc(m->be, (size_t)L * d * sizeof(float), e);
    if (!m->acts->pe) {
        free(pe);
        return LVT_ERROR;
    }
    m->be->ops->to_device(m->be, m->acts->pe, pe, (size_t)L * d * sizeof(float));
    free(pe);
    return LVT_OK;
}

void model_acts_destroy(lvt_model *m) {
    if (!m->acts) return;
    free_plan(m);
    if (m->acts->pe) m->be->ops->free(m->be, m->acts->pe);
    free(m->acts);
    m->acts = NULL;
}

int lvt_model_plan(lvt_model *m, int batch, int n_slots, lvt_err *e) {
    lvt_model_acts *a = m->acts;
    if (batch <= 0 || n_slots <= 0)
        return lvt_errf(e, "model plan: batch (%d) and slots (%d) must be positive", batch,
                        n_slots);
    if (batch <= a->batch && n_slots <= a->n_slots) return LVT_OK;
    if (batch < a->batch) batch = a->batch;
    if (n_slots < a->n_slots) n_slots = a->n_slots;
    free_plan(m);
    const lvt_ops *o = m->be->ops;
    a->slots = lvt_calloc((size_t)n_slots, sizeof *a->slots, e);
    if (!a->slots) return lvt_err_prefix(e, "model plan");
    a->n_slots = n_slots;
    for (int i = 0; i < n_slots; i++) {
        slot_acts *s = &a->slots[i];
        s->layers = lvt_calloc((size_t)m->cfg.n_layers, sizeof *s->layers, e);
        if (!s->layers) goto fail;
        carver c = {NULL, 0, 64};
        slot_layout(&m->cfg, batch, &c, s);
        s->mem = o->alloc(m->be, c.off, e);
        if (!s->mem) goto fail;
        c.base = s->mem;
        c.off = 0;
        slot_layout(&m->cfg, batch, &c, s);
    }
    carver c = {NULL, 0, 64};
    scratch_layout(&m->cfg, batch, &c, a);
    a->scratch_mem = o->alloc(m->be, c.off, e);
    if (!a->scratch_mem) goto fail;
    c.base = a->scratch_mem;
    c.off = 0;
    scratch_layout(&m->cfg, batch, &c, a);
    a->batch = batch;
    return LVT_OK;
fail:
    free_plan(m);
    return lvt_err_prefix(e, "model plan (batch %d, %d slots)", batch, n_slots);
}

/* ---- parameter views ---- */

/* clang-format off */
enum { T_SA_W, T_SA_B, T_SO_W, T_SO_B, T_CA_W, T_CA_B, T_CO_W, T_CO_B, T_L1_W, T_L1_B,
       T_L2_W, T_L2_B, T_N1_W, T_N1_B, T_N2_W, T_N2_B, T_N3_W, T_N3_B };
/* clang-format on */

static size_t tensor_index(const lvt_model *m, int layer, int k) {
    return 2 + (size_t)MODEL_TENSORS_PER_LAYER * layer + k;
}
/* layer_tensor: the parameter (buf = m->params) or gradient (buf = m->grads) of tensor k of a layer */
static float *layer_tensor(const lvt_model *m, float *buf, int layer, int k) {
    return buf + m->tensors[tensor_index(m, layer, k)].offset;
}
/* io_tensor: the same for the tensors outside the layers, input_proj (j = 0, 1) and head
 * (j = 2.. : head.0.w, head.0.b, head.2.w, head.2.b, head.3.w/b) */
static float *io_tensor(const lvt_model *m, float *buf, int j) {
    size_t idx =
        j < 2 ? (size_t)j : 2 + (size_t)MODEL_TENSORS_PER_LAYER * m->cfg.n_layers + (j - 2);
    return buf + m->tensors[idx].offset;
}
enum { G_IN_W, G_IN_B, G_H0_W, G_H0_B, G_H2_W, G_H2_B, G_H3_W, G_H3_B };

static int check_slot(const lvt_model *m, int slot, lvt_err *e) {
    if (!m->acts || m->acts->n_slots == 0)
        return lvt_errf(e, "model: lvt_model_plan was not called");
    if (slot < 0 || slot >= m->acts->n_slots)
        return lvt_errf(e, "model: slot %d out of range (planned %d)", slot, m->acts->n_slots);
    return LVT_OK;
}

const float *lvt_model_raw(const lvt_model *m, int slot) {
    if (!m->acts || slot < 0 || slot >= m->acts->n_slots) return NULL;
    return m->acts->slots[slot].raw;
}

const float *lvt_model_pred(const lvt_model *m, int slot) {
    if (!m->acts || slot < 0 || slot >= m->acts->n_slots) return NULL;
    return m->acts->slots[slot].pred;
}

const float *lvt_model_saved(const lvt_model *m, int slot, int layer, const char *name) {
    if (!m->acts || slot < 0 || slot >= m->acts->n_slots) return NULL;
    const slot_acts *s = &m->acts->slots[slot];
    if (!strcmp(name, "x0")) return s->x0;
    if (layer < 0 || layer >= m->cfg.n_layers) return NULL;
    const layer_acts *la = &s->layers[layer];
    if (!strcmp(name, "qkv")) return la->qkv;
    if (!strcmp(name, "x1")) return la->x1;
    if (!strcmp(name, "x2")) return la->x2;
    if (!strcmp(name, "x3")) return la->x3;
    if (!strcmp(name, "ffn")) return la->a;
    return NULL;
}

/* ---- forward ---- */

/* y[N, out] = x[N, in] @ W^T + b  (PyTorch Linear; W is [out, in]) */
static void linear_fwd(lvt_backend *be, const float *x, int ldx, const float *W, const float *b,
                       float *y, int ldy, int N, int in, int out) {
    be->ops->gemm(be, 0, 1, N, out, in, 1.0f, x, ldx, W, in, 0.0f, y, ldy);
    be->ops->add_bcast(be, y, b, N, out); /* requires ldy == out */
}

/* r = xres + dropout(y) (site k of the layer) or xres + y without dropout. */
static void residual_fwd(lvt_backend *be, const float *y, const float *xres, float *r,
                         uint8_t *mask, int B, int per_sample, const lvt_dropout_key *key) {
    size_t n = (size_t)B * per_sample;
    if (key) {
        be->ops->dropout_fwd(be, y, r, mask, B, per_sample, key);
        be->ops->add(be, r, xres, r, n);
    } else {
        be->ops->add(be, y, xres, r, n);
    }
}

/* The dropout key of site k (1..6, docs/model.md) of a layer, or NULL without dropout. */
static const lvt_dropout_key *at_site(lvt_dropout_key *key, int drop, int layer, int k) {
    if (!drop) return NULL;
    key->site = LVT_SITE_LAYER(layer, k);
    return key;
}

int lvt_model_forward(lvt_model *m, int slot, const float *ctx, int B, int train,
                      const lvt_dropout_key *key, float *pred, lvt_err *e) {
    if (check_slot(m, slot, e)) return LVT_ERROR;
    lvt_model_acts *a = m->acts;
    if (B <= 0 || B > a->batch)
        return lvt_errf(e, "model forward: batch %d outside the planned 1..%d", B, a->batch);
    int drop = train && m->cfg.dropout > 0.0f;
    if (drop && !key)
        return lvt_errf(e, "model forward: training with dropout needs a dropout key");
    lvt_backend *be = m->be;
    const lvt_ops *o = be->ops;
    const lvt_model_cfg *c = &m->cfg;
    int L = c->context_len, D = c->dim, d = c->d_model, H = c->n_heads, hd = d / H;
    int F = c->ffn_mult * d, N = B * L;
    slot_acts *s = &a->slots[slot];
    float *W = m->params;
    lvt_dropout_key k = {0}; /* the caller's seed/step/sample_base; site set per call */
    if (drop) {
        k = *key;
        k.p = c->dropout;
    }

    o->copy(be, s->ctx, ctx, (size_t)N * D * sizeof(float));
    linear_fwd(be, s->ctx, D, io_tensor(m, W, G_IN_W), io_tensor(m, W, G_IN_B), s->x0, d, N, D, d);
    o->add_bcast(be, s->x0, a->pe, B, L * d);

    const float *xin = s->x0;
    for (int l = 0; l < c->n_layers; l++) {
        layer_acts *la = &s->layers[l];
        /* The last layer ("tail") only computes what the head reads: every position's keys and
         * values, but queries, out_proj, residuals, norms and the FFN for position L-1 only
         * (M = B rows, one query per sample, no mask needed). */
        const int tail = l == c->n_layers - 1;
        const int M = tail ? B : N, Lq = tail ? 1 : L, rows = tail ? 1 : L;
        /* x1 = LN1(x + Drop(SelfAttn(x, causal))) */
        linear_fwd(be, xin, d, layer_tensor(m, W, l, T_SA_W), layer_tensor(m, W, l, T_SA_B), la->qkv, 3 * d, N, d,
                   3 * d);
        const float *q1 = tail ? la->qkv + (size_t)(L - 1) * 3 * d : la->qkv;
        o->attention_fwd(be, q1, tail ? L * 3 * d : 3 * d, la->qkv + d, 3 * d, la->qkv + 2 * d,
                         3 * d, la->att1, d, la->probs1, la->m_att1, B, Lq, L, H, hd, !tail,
                         at_site(&k, drop, l, 5));
        linear_fwd(be, la->att1, d, layer_tensor(m, W, l, T_SO_W), layer_tensor(m, W, l, T_SO_B), a->bufA, d, M, d, d);
        const float *xres = xin;
        if (tail) { /* the residual input: position L-1 of every sample, gathered */
            o->copy_rows(be, a->bufC, d, xin + (size_t)(L - 1) * d, L * d, B, d);
            xres = a->bufC;
        }
        residual_fwd(be, a->bufA, xres, la->r1, la->m_drop1, B, rows * d, at_site(&k, drop, l, 1));
        o->layernorm_fwd(be, la->r1, layer_tensor(m, W, l, T_N1_W), layer_tensor(m, W, l, T_N1_B), la->x1, la->mean1,
                         la->rstd1, M, d, LN_EPS);
        /* x2 = LN2(x1 + Drop(CrossAttn(q = x1, kv = mem, causal))) */
        float *Wc = layer_tensor(m, W, l, T_CA_W), *bc = layer_tensor(m, W, l, T_CA_B);
        linear_fwd(be, la->x1, d, Wc, bc, la->q2, d, M, d, d);
        linear_fwd(be, s->x0, d, Wc + (size_t)d * d, bc + d, la->kv2, 2 * d, N, d, 2 * d);
        o->attention_fwd(be, la->q2, d, la->kv2, 2 * d, la->kv2 + d, 2 * d, la->att2, d, la->probs2,
                         la->m_att2, B, Lq, L, H, hd, !tail, at_site(&k, drop, l, 6));
        linear_fwd(be, la->att2, d, layer_tensor(m, W, l, T_CO_W), layer_tensor(m, W, l, T_CO_B), a->bufA, d, M, d, d);
        residual_fwd(be, a->bufA, la->x1, la->r2, la->m_drop2, B, rows * d,
                     at_site(&k, drop, l, 2));
        o->layernorm_fwd(be, la->r2, layer_tensor(m, W, l, T_N2_W), layer_tensor(m, W, l, T_N2_B), la->x2, la->mean2,
                         la->rstd2, M, d, LN_EPS);
        /* x3 = LN3(x2 + Drop(W2 Drop(ReLU(W1 x2)))) */
        if (drop) {
            linear_fwd(be, la->x2, d, layer_tensor(m, W, l, T_L1_W), layer_tensor(m, W, l, T_L1_B), la->a, F, M, d, F);
            o->relu_fwd(be, la->a, a->F1, (size_t)M * F);
            o->dropout_fwd(be, a->F1, la->a, la->m_drop3, B, rows * F, at_site(&k, drop, l, 3));
        } else {
            linear_fwd(be, la->x2, d, layer_tensor(m, W, l, T_L1_W), layer_tensor(m, W, l, T_L1_B), a->F1, F, M, d, F);
            o->relu_fwd(be, a->F1, la->a, (size_t)M * F);
        }
        linear_fwd(be, la->a, F, layer_tensor(m, W, l, T_L2_W), layer_tensor(m, W, l, T_L2_B), a->bufA, d, M, F, d);
        residual_fwd(be, a->bufA, la->x2, la->r3, la->m_drop4, B, rows * d,
                     at_site(&k, drop, l, 4));
        o->layernorm_fwd(be, la->r3, layer_tensor(m, W, l, T_N3_W), layer_tensor(m, W, l, T_N3_B), la->x3, la->mean3,
                         la->rstd3, M, d, LN_EPS);
        xin = la->x3;
    }

    /* head (xin = the last layer's output, [B, d], position L-1 only):
     * raw = Linear(LN(GELU(Linear(h)))), pred = raw / ||raw|| */
    linear_fwd(be, xin, d, io_tensor(m, W, G_H0_W), io_tensor(m, W, G_H0_B), s->g0, d, B, d, d);
    o->gelu_fwd(be, s->g0, s->g1, (size_t)B * d);
    o->layernorm_fwd(be, s->g1, io_tensor(m, W, G_H2_W), io_tensor(m, W, G_H2_B), s->g2, s->hmean, s->hrstd, B, d,
                     LN_EPS);
    linear_fwd(be, s->g2, d, io_tensor(m, W, G_H3_W), io_tensor(m, W, G_H3_B), s->raw, D, B, d, D);
    o->l2norm_fwd(be, s->raw, s->pred, s->norms, B, D, L2_EPS);
    if (pred) o->copy(be, pred, s->pred, (size_t)B * D * sizeof(float));
    s->B = B;
    s->drop = drop;
    return LVT_OK;
}

/* ---- backward ---- */

/* Linear backward: dW += dy^T x, db += colsum(dy), and (when dx) dx = dy W (+ dx if accumulate). */
static void linear_bwd(lvt_backend *be, const float *dy, int lddy, const float *x, int ldx,
                       const float *W, float *dW, float *db, float *dx, int lddx, int accumulate,
                       int N, int in, int out) {
    be->ops->gemm(be, 1, 0, out, in, N, 1.0f, dy, lddy, x, ldx, 1.0f, dW, in);
    be->ops->sum_bcast(be, dy, db, N, out); /* requires lddy == out */
    if (dx)
        be->ops->gemm(be, 0, 0, N, in, out, 1.0f, dy, lddy, W, in, accumulate ? 1.0f : 0.0f, dx,
                      lddx);
}

int lvt_model_backward_raw_pred(lvt_model *m, int slot, const float *draw, const float *dpred,
                                float *dctx, lvt_err *e) {
    if (check_slot(m, slot, e)) return LVT_ERROR;
    lvt_model_acts *a = m->acts;
    slot_acts *s = &a->slots[slot];
    if (s->B <= 0) return lvt_errf(e, "model backward: slot %d has no forward pass", slot);
    lvt_backend *be = m->be;
    const lvt_ops *o = be->ops;
    const lvt_model_cfg *c = &m->cfg;
    int B = s->B, L = c->context_len, D = c->dim, d = c->d_model, H = c->n_heads, hd = d / H;
    int F = c->ffn_mult * d, N = B * L, drop = s->drop;
    float p = drop ? c->dropout : 0.0f;
    float *W = m->params, *G = m->grads;
    size_t nd = (size_t)N * d;

    /* d raw = l2norm_bwd(dpred) + draw */
    if (dpred) {
        o->l2norm_bwd(be, dpred, s->raw, s->norms, a->hD, B, D, L2_EPS);
        if (draw) o->axpy(be, 1.0f, draw, a->hD, (size_t)B * D);
    } else if (draw) {
        o->copy(be, a->hD, draw, (size_t)B * D * sizeof(float));
    } else {
        o->zero(be, a->hD, (size_t)B * D * sizeof(float));
    }
    /* head */
    linear_bwd(be, a->hD, D, s->g2, d, io_tensor(m, W, G_H3_W), io_tensor(m, G, G_H3_W), io_tensor(m, G, G_H3_B), a->hd1,
               d, 0, B, d, D);
    o->layernorm_bwd(be, a->hd1, s->g1, s->hmean, s->hrstd, io_tensor(m, W, G_H2_W), a->hd2,
                     io_tensor(m, G, G_H2_W), io_tensor(m, G, G_H2_B), B, d);
    o->gelu_bwd(be, a->hd2, s->g0, a->hd1, (size_t)B * d);
    float *dX = a->bufA, *dR = a->bufB, *T = a->bufC;
    linear_bwd(be, a->hd1, d, s->layers[c->n_layers - 1].x3, d, io_tensor(m, W, G_H0_W), io_tensor(m, G, G_H0_W),
               io_tensor(m, G, G_H0_B), dX, d, 0, B, d, d);
    o->zero(be, a->dmem, nd * sizeof(float));

    for (int l = c->n_layers - 1; l >= 0; l--) {
        layer_acts *la = &s->layers[l];
        const float *xin = l ? s->layers[l - 1].x3 : s->x0;
        const int tail = l == c->n_layers - 1;
        const int M = tail ? B : N, Lq = tail ? 1 : L;
        const size_t md = (size_t)M * d;
        const float *t;
        /* LN3 and the feed-forward block; dR = d x2 at the end */
        o->layernorm_bwd(be, dX, la->r3, la->mean3, la->rstd3, layer_tensor(m, W, l, T_N3_W), dR,
                         layer_tensor(m, G, l, T_N3_W), layer_tensor(m, G, l, T_N3_B), M, d);
        t = dR;
        if (drop) {
            o->dropout_bwd(be, dR, la->m_drop4, T, md, p);
            t = T;
        }
        linear_bwd(be, t, d, la->a, F, layer_tensor(m, W, l, T_L2_W), layer_tensor(m, G, l, T_L2_W),
                   layer_tensor(m, G, l, T_L2_B), a->F1, F, 0, M, F, d);
        float *dh = a->F2;
        if (drop) {
            o->dropout_bwd(be, a->F1, la->m_drop3, a->F2, (size_t)M * F, p);
            o->relu_bwd(be, a->F2, la->a, a->F1,
                        (size_t)M * F); /* a > 0 exactly where h > 0 & kept */
            dh = a->F1;
        } else {
            o->relu_bwd(be, a->F1, la->a, a->F2, (size_t)M * F);
        }
        linear_bwd(be, dh, F, la->x2, d, layer_tensor(m, W, l, T_L1_W), layer_tensor(m, G, l, T_L1_W),
                   layer_tensor(m, G, l, T_L1_B), dR, d, 1, M, d, F);
        /* LN2 and cross-attention; dX = d x1 at the end, dmem accumulates */
        o->layernorm_bwd(be, dR, la->r2, la->mean2, la->rstd2, layer_tensor(m, W, l, T_N2_W), dX,
                         layer_tensor(m, G, l, T_N2_W), layer_tensor(m, G, l, T_N2_B), M, d);
        t = dX;
        if (drop) {
            o->dropout_bwd(be, dX, la->m_drop2, T, md, p);
            t = T;
        }
        linear_bwd(be, t, d, la->att2, d, layer_tensor(m, W, l, T_CO_W), layer_tensor(m, G, l, T_CO_W),
                   layer_tensor(m, G, l, T_CO_B), dR, d, 0, M, d, d);
        o->attention_bwd(be, dR, d, la->q2, d, la->kv2, 2 * d, la->kv2 + d, 2 * d, la->probs2,
                         drop ? la->m_att2 : NULL, p, T, a->d2, a->d2 + d, B, Lq, L, H, hd);
        float *Wc = layer_tensor(m, W, l, T_CA_W), *dWc = layer_tensor(m, G, l, T_CA_W), *dbc = layer_tensor(m, G, l, T_CA_B);
        linear_bwd(be, T, d, la->x1, d, Wc, dWc, dbc, dX, d, 1, M, d, d);
        linear_bwd(be, a->d2, 2 * d, s->x0, d, Wc + (size_t)d * d, dWc + (size_t)d * d, dbc + d,
                   a->dmem, d, 1, N, d, 2 * d);
        /* LN1 and self-attention; d xin ends in dR (dX for the tail) */
        o->layernorm_bwd(be, dX, la->r1, la->mean1, la->rstd1, layer_tensor(m, W, l, T_N1_W), dR,
                         layer_tensor(m, G, l, T_N1_W), layer_tensor(m, G, l, T_N1_B), M, d);
        t = dR;
        if (drop) {
            o->dropout_bwd(be, dR, la->m_drop1, T, md, p);
            t = T;
        }
        linear_bwd(be, t, d, la->att1, d, layer_tensor(m, W, l, T_SO_W), layer_tensor(m, G, l, T_SO_W),
                   layer_tensor(m, G, l, T_SO_B), dX, d, 0, M, d, d);
        if (tail) {
            /* one query per sample: dq lands in rows b*L + L-1 of d3, the other rows' dq are 0;
             * the residual gradient dR goes to those rows of d xin (built in dX) */
            int ldq1 = L * 3 * d;
            o->zero(be, a->d3, (size_t)N * 3 * d * sizeof(float));
            o->attention_bwd(be, dX, d, la->qkv + (size_t)(L - 1) * 3 * d, ldq1, la->qkv + d, 3 * d,
                             la->qkv + 2 * d, 3 * d, la->probs1, drop ? la->m_att1 : NULL, p,
                             a->d3 + (size_t)(L - 1) * 3 * d, a->d3 + d, a->d3 + 2 * d, B, 1, L, H,
                             hd);
            o->zero(be, dX, nd * sizeof(float));
            o->copy_rows(be, dX + (size_t)(L - 1) * d, L * d, dR, d, B, d);
            linear_bwd(be, a->d3, 3 * d, xin, d, layer_tensor(m, W, l, T_SA_W), layer_tensor(m, G, l, T_SA_W),
                       layer_tensor(m, G, l, T_SA_B), dX, d, 1, N, d, 3 * d);
        } else {
            o->attention_bwd(be, dX, d, la->qkv, 3 * d, la->qkv + d, 3 * d, la->qkv + 2 * d, 3 * d,
                             la->probs1, drop ? la->m_att1 : NULL, p, a->d3, a->d3 + d,
                             a->d3 + 2 * d, B, L, L, H, hd);
            linear_bwd(be, a->d3, 3 * d, xin, d, layer_tensor(m, W, l, T_SA_W), layer_tensor(m, G, l, T_SA_W),
                       layer_tensor(m, G, l, T_SA_B), dR, d, 1, N, d, 3 * d);
            float *sw = dX; /* the gradient w.r.t. this layer's input becomes the next dX */
            dX = dR;
            dR = sw;
        }
    }
    /* x0 feeds layer 0 and every cross-attention's k|v */
    o->add(be, dX, a->dmem, dX, nd);
    linear_bwd(be, dX, d, s->ctx, D, io_tensor(m, W, G_IN_W), io_tensor(m, G, G_IN_W), io_tensor(m, G, G_IN_B), dctx, D,
               0, N, D, d);
    return LVT_OK;
}

int lvt_model_backward(lvt_model *m, int slot, const float *dpred, float *dctx, lvt_err *e) {
    return lvt_model_backward_raw_pred(m, slot, NULL, dpred, dctx, e);
}
