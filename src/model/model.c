/* model.c — the transformer's parameter table (PyTorch state_dict names, order and shapes,
 * docs/model.md), the flat parameter/gradient buffers, and PyTorch-default initialisation from Philox. The
 * forward/backward passes live in model_forward.c. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lvt/model.h"
#include "lvt/rng.h"
#include "model_internal.h"

/* Philox site of the initialisation draws (distinct from every dropout/context-drop site). */
#define MODEL_INIT_SITE 0x40000000u

/* clang-format off */
static const char *const layer_tensor_names[MODEL_TENSORS_PER_LAYER] = {
    "self_attn.in_proj_weight",      "self_attn.in_proj_bias",
    "self_attn.out_proj.weight",     "self_attn.out_proj.bias",
    "multihead_attn.in_proj_weight", "multihead_attn.in_proj_bias",
    "multihead_attn.out_proj.weight", "multihead_attn.out_proj.bias",
    "linear1.weight",                "linear1.bias",
    "linear2.weight",                "linear2.bias",
    "norm1.weight",                  "norm1.bias",
    "norm2.weight",                  "norm2.bias",
    "norm3.weight",                  "norm3.bias",
};

/* Shapes of the per-layer tensors, in the order of layer_tensor_names. */
static void layer_tensor_shape(const lvt_model_cfg *c, int k, int *ndim, int64_t shape[2]) {
    int64_t d = c->d_model, f = (int64_t)c->ffn_mult * c->d_model;
    int64_t s[MODEL_TENSORS_PER_LAYER][2] = {
        {3 * d, d}, {3 * d, 0}, {d, d}, {d, 0},   /* self_attn */
        {3 * d, d}, {3 * d, 0}, {d, d}, {d, 0},   /* multihead_attn */
        {f, d}, {f, 0}, {d, f}, {d, 0},           /* linear1, linear2 */
        {d, 0}, {d, 0}, {d, 0}, {d, 0}, {d, 0}, {d, 0}, /* norm1..3 */
    };
    /* clang-format on */
    shape[0] = s[k][0];
    shape[1] = s[k][1];
    *ndim = s[k][1] ? 2 : 1;
}

/* Append tensor NAME [r, c] (c == 0: a vector [r]) at float offset *off; t may be NULL (count). */
static void add_tensor(lvt_tensor_info *t, int *n, size_t *off, const char *name, int64_t r,
                       int64_t c) {
    size_t numel = (size_t)r * (size_t)(c ? c : 1);
    if (t) {
        lvt_tensor_info *ti = &t[*n];
        snprintf(ti->name, sizeof ti->name, "%s", name);
        ti->ndim = c ? 2 : 1;
        ti->shape[0] = r;
        ti->shape[1] = c;
        ti->numel = numel;
        ti->offset = *off;
    }
    *off += numel;
    (*n)++;
}

/* Fill the table (when t != NULL) in state_dict order and return the number of tensors. */
static int build_table(const lvt_model_cfg *c, lvt_tensor_info *t, size_t *n_params) {
    int n = 0;
    size_t off = 0;
    int64_t D = c->dim, d = c->d_model;
    add_tensor(t, &n, &off, "input_proj.weight", d, D);
    add_tensor(t, &n, &off, "input_proj.bias", d, 0);
    for (int l = 0; l < c->n_layers; l++) {
        for (int k = 0; k < MODEL_TENSORS_PER_LAYER; k++) {
            char name[96];
            int nd;
            int64_t sh[2];
            snprintf(name, sizeof name, "transformer_decoder.layers.%d.%s", l,
                     layer_tensor_names[k]);
            layer_tensor_shape(c, k, &nd, sh);
            add_tensor(t, &n, &off, name, sh[0], sh[1]);
        }
    }
    add_tensor(t, &n, &off, "head.0.weight", d, d);
    add_tensor(t, &n, &off, "head.0.bias", d, 0);
    add_tensor(t, &n, &off, "head.2.weight", d, 0);
    add_tensor(t, &n, &off, "head.2.bias", d, 0);
    add_tensor(t, &n, &off, "head.3.weight", D, d);
    add_tensor(t, &n, &off, "head.3.bias", D, 0);
    *n_params = off;
    return n;
}

static int check_cfg(const lvt_model_cfg *c, lvt_err *e) {
    if (c->dim <= 0 || c->d_model <= 0 || c->n_heads <= 0 || c->n_layers <= 0 || c->ffn_mult <= 0 ||
        c->context_len <= 0)
        return lvt_errf(e,
                        "model: dim, d_model, n_heads, n_layers, ffn_mult and context_len must "
                        "be positive (got %d, %d, %d, %d, %d, %d)",
                        c->dim, c->d_model, c->n_heads, c->n_layers, c->ffn_mult, c->context_len);
    if (c->d_model % c->n_heads)
        return lvt_errf(e, "model: d_model %d is not divisible by n_heads %d", c->d_model,
                        c->n_heads);
    if (c->context_len > 64)
        return lvt_errf(e, "model: context_len %d exceeds the attention limit of 64",
                        c->context_len);
    if (!(c->dropout >= 0.0f && c->dropout < 1.0f))
        return lvt_errf(e, "model: dropout must be in [0, 1) (got %g)", (double)c->dropout);
    return LVT_OK;
}

size_t lvt_model_param_count(const lvt_model_cfg *cfg) {
    size_t n = 0;
    build_table(cfg, NULL, &n);
    return n;
}

int lvt_model_create(lvt_model *m, const lvt_model_cfg *cfg, lvt_backend *be, lvt_err *e) {
    memset(m, 0, sizeof *m);
    if (check_cfg(cfg, e)) return LVT_ERROR;
    m->cfg = *cfg;
    m->be = be;
    int nt = build_table(cfg, NULL, &m->n_params);
    m->tensors = lvt_calloc((size_t)nt, sizeof *m->tensors, e);
    if (!m->tensors) return lvt_err_prefix(e, "model");
    m->n_tensors = build_table(cfg, m->tensors, &m->n_params);
    m->params = be->ops->alloc(be, m->n_params * sizeof(float), e);
    if (!m->params) goto fail;
    m->grads = be->ops->alloc(be, m->n_params * sizeof(float), e);
    if (!m->grads) goto fail;
    if (model_acts_create(m, e)) goto fail;
    return LVT_OK;
fail:
    lvt_err_prefix(e, "model: allocating %zu parameters", m->n_params);
    lvt_model_destroy(m);
    return LVT_ERROR;
}

void lvt_model_destroy(lvt_model *m) {
    if (!m) return;
    model_acts_destroy(m);
    if (m->be) {
        if (m->params) m->be->ops->free(m->be, m->params);
        if (m->grads) m->be->ops->free(m->be, m->grads);
    }
    free(m->tensors);
    memset(m, 0, sizeof *m);
}

const lvt_tensor_info *lvt_model_find(const lvt_model *m, const char *name) {
    for (int i = 0; i < m->n_tensors; i++)
        if (!strcmp(m->tensors[i].name, name)) return &m->tensors[i];
    return NULL;
}

void lvt_model_params_from_host(lvt_model *m, const float *host) {
    m->be->ops->to_device(m->be, m->params, host, m->n_params * sizeof(float));
}

void lvt_model_params_to_host(const lvt_model *m, float *host) {
    m->be->ops->to_host(m->be, host, m->params, m->n_params * sizeof(float));
}

void lvt_model_zero_grad(lvt_model *m) {
    m->be->ops->zero(m->be, m->grads, m->n_params * sizeof(float));
}

/* ---- initialisation ---- */

/* w[i] = U(-bound, bound) = (2u - 1) bound,
 * u = lvt_rng_unit(seed, 0, MODEL_INIT_SITE, stream, i). */
static void fill_uniform(float *w, size_t n, float bound, uint64_t seed, uint32_t stream) {
    for (size_t i0 = 0; i0 < n; i0 += 4) {
        lvt_philox_ctr r = lvt_rng_block(seed, 0, MODEL_INIT_SITE, stream, i0);
        for (size_t i = i0; i < n && i < i0 + 4; i++)
            w[i] = (2.0f * lvt_u32_to_unit(r.v[i - i0]) - 1.0f) * bound;
    }
}

static void fill_const(float *w, size_t n, float v) {
    for (size_t i = 0; i < n; i++)
        w[i] = v;
}

/* Initialise tensor t (index ti in the table; `stream` keys its draws) the PyTorch way. */
static void init_tensor(const lvt_tensor_info *t, float *w, uint64_t seed, uint32_t stream) {
    const char *nm = t->name;
    size_t len = strlen(nm);
#define ENDS(S) (len >= strlen(S) && !strcmp(nm + len - strlen(S), S))
    if (strstr(nm, ".norm") || !strncmp(nm, "head.2.", 7)) {
        fill_const(w, t->numel, ENDS(".weight") ? 1.0f : 0.0f); /* LayerNorm */
    } else if (ENDS("in_proj_weight")) {
        /* xavier_uniform: fan_in = d, fan_out = 3d */
        double fan_in = (double)t->shape[1], fan_out = (double)t->shape[0];
        fill_uniform(w, t->numel, (float)sqrt(6.0 / (fan_in + fan_out)), seed, stream);
    } else if (ENDS("in_proj_bias") || ENDS("out_proj.bias")) {
        fill_const(w, t->numel, 0.0f);
    } else if (ENDS(".weight")) {
        /* Linear: kaiming_uniform(a=sqrt(5)) gives U(-1/sqrt(fan_in), 1/sqrt(fan_in)) */
        fill_uniform(w, t->numel, (float)(1.0 / sqrt((double)t->shape[1])), seed, stream);
    } else {
        /* Linear bias: U(-1/sqrt(fan_in), 1/sqrt(fan_in)); fan_in from the preceding weight */
        const lvt_tensor_info *wt = t - 1;
        fill_uniform(w, t->numel, (float)(1.0 / sqrt((double)wt->shape[1])), seed, stream);
    }
#undef ENDS
}

int lvt_model_init(lvt_model *m, uint64_t seed, lvt_err *e) {
    float *host = lvt_malloc(m->n_params * sizeof(float), e);
    if (!host) return lvt_err_prefix(e, "model init");
    int first_layer = 2, per = MODEL_TENSORS_PER_LAYER;
    for (int i = 0; i < m->n_tensors; i++) {
        const lvt_tensor_info *t = &m->tensors[i];
        int in_layer = i >= first_layer && i < first_layer + per * m->cfg.n_layers;
        if (in_layer && i >= first_layer + per) {
            /* nn.TransformerDecoder deep-copies one layer: every layer starts as layer 0 */
            const lvt_tensor_info *t0 = &m->tensors[first_layer + (i - first_layer) % per];
            memcpy(host + t->offset, host + t0->offset, t->numel * sizeof(float));
        } else {
            init_tensor(t, host + t->offset, seed, (uint32_t)i);
        }
    }
    lvt_model_params_from_host(m, host);
    free(host);
    return LVT_OK;
}
