/* model.h — the reference transformer LVM (docs/model.md): parameter layout in one flat buffer with
 * PyTorch names and shapes, PyTorch-default initialisation, and forward/backward composed from
 * the ops interface. Activations are planned once per (batch, slots) shape; a "slot" holds the
 * activations of one forward pass so the rollout can keep H passes alive for the backward. */
#ifndef LVT_MODEL_H
#define LVT_MODEL_H

#include "lvt/common.h"
#include "lvt/ops.h"

typedef struct lvt_model_cfg {
    int dim;         /* D, input/output vector dimension (768) */
    int d_model;     /* d (512) */
    int n_heads;     /* 8 */
    int n_layers;    /* 4 */
    int ffn_mult;    /* dim_feedforward = ffn_mult * d_model */
    int context_len; /* L (5) */
    float dropout;   /* 0.1 */
} lvt_model_cfg;

/* One named tensor inside the flat parameter buffer. */
typedef struct lvt_tensor_info {
    char name[96]; /* PyTorch state_dict name, e.g. "transformer_decoder.layers.0.norm1.weight" */
    int ndim;      /* 1 or 2 */
    int64_t shape[2]; /* [out, in] for weights (row-major), [n] for vectors */
    size_t offset;    /* in floats, into params/grads */
    size_t numel;
} lvt_tensor_info;

typedef struct lvt_model_acts lvt_model_acts; /* private: planned activation memory */

typedef struct lvt_model {
    lvt_model_cfg cfg;
    lvt_backend *be;
    size_t n_params;
    float *params; /* backend memory, n_params floats */
    float *grads;  /* backend memory, n_params floats (accumulated by backward) */
    int n_tensors;
    lvt_tensor_info *tensors; /* host array, in state_dict order */
    lvt_model_acts *acts;
} lvt_model;

/* Build the parameter table for cfg and allocate params/grads on be (zeroed). */
int lvt_model_create(lvt_model *m, const lvt_model_cfg *cfg, lvt_backend *be, lvt_err *e);
void lvt_model_destroy(lvt_model *m);

/* Number of parameters for cfg without allocating (17,867,520 for the reference shape). */
size_t lvt_model_param_count(const lvt_model_cfg *cfg);

/* Look up a tensor by PyTorch name; NULL if absent. */
const lvt_tensor_info *lvt_model_find(const lvt_model *m, const char *name);

/* ---- initialisation ---------------------------------------------------------------------------
 * PyTorch defaults (docs/model.md): Linear weight and bias U(-1/sqrt(fan_in), 1/sqrt(fan_in));
 * MultiheadAttention in_proj_weight xavier_uniform, in_proj_bias and out_proj.bias 0;
 * LayerNorm ones/zeros. Layer 0 is drawn and copied to every layer, as nn.TransformerDecoder's
 * deep copy gives. Uniforms come from Philox keyed by seed. Fills on the host, uploads. */
int lvt_model_init(lvt_model *m, uint64_t seed, lvt_err *e);

/* Copy all parameters from / to a host array of m->n_params floats (state_dict order). */
void lvt_model_params_from_host(lvt_model *m, const float *host);
void lvt_model_params_to_host(const lvt_model *m, float *host);

/* ---- activations -------------------------------------------------------------------------------
 * Allocate activation memory for up to n_slots live forward passes of up to `batch` samples each.
 * Cheap when the shape does not grow (existing slots are kept only if nothing is reallocated). */
int lvt_model_plan(lvt_model *m, int batch, int n_slots, lvt_err *e);

/* Bytes of planned activation memory per sample and slot, and the per-batch-row scratch. */
size_t lvt_model_act_bytes_per_sample(const lvt_model_cfg *cfg);

/* ---- forward / backward ------------------------------------------------------------------------
 * forward: ctx [B, L, D] (backend memory; copied into the slot, the caller may reuse it) ->
 * pred [B, D] (unit rows; may be NULL, the slot keeps its own copy). train != 0 enables dropout
 * (p = cfg.dropout) keyed by key->seed, key->step and key->sample_base (the global index of
 * sample 0); the model sets key.site = LVT_SITE_LAYER(layer, k) for k = 1..6 (docs/model.md).
 * key may be NULL when train == 0. */
int lvt_model_forward(lvt_model *m, int slot, const float *ctx, int B, int train,
                      const lvt_dropout_key *key, float *pred, lvt_err *e);

/* The slot's raw head output r [B, D] (before the L2 normalisation) and prediction p [B, D]. */
const float *lvt_model_raw(const lvt_model *m, int slot);
const float *lvt_model_pred(const lvt_model *m, int slot);

/* A saved activation of the slot's last forward, for tests and debugging (backend memory, rows
 * b*L + t): "x0" [N, d] (layer ignored), and per layer "qkv" [N, 3d], "x1", "x2", "x3" [N, d],
 * "ffn" [N, F] (= dropout(relu(linear1(x2))), so > 0 exactly where the ReLU passed). The last
 * layer computes position L-1 only: its "x1", "x2", "x3" are [B, d] and "ffn" holds [B, F] at the
 * start of a buffer that is still N*F floats long.
 * NULL for an unknown name, layer or slot. */
const float *lvt_model_saved(const lvt_model *m, int slot, int layer, const char *name);

/* backward of the slot's last forward from the gradients of both outputs: dpred = dL/dp [B, D]
 * (may be NULL), draw = dL/dr [B, D] (may be NULL; added to the gradient flowing back through the
 * normalisation). Accumulates into m->grads (call lvt_model_zero_grad first). Writes
 * dctx = dL/dctx [B, L, D] when non-NULL (overwritten, not accumulated). Slots may be
 * back-propagated in any order, each once per forward; the slot's activations stay valid until
 * its next forward. lvt_model_backward is the same with draw = NULL. */
int lvt_model_backward_raw_pred(lvt_model *m, int slot, const float *draw, const float *dpred,
                                float *dctx, lvt_err *e);
int lvt_model_backward(lvt_model *m, int slot, const float *dpred, float *dctx, lvt_err *e);

void lvt_model_zero_grad(lvt_model *m);

/* ---- from a run configuration (src/model/model_config.c) ------------------------------------------
 * The one adapter from the config to what the model and the backends take: the shape (model.* and
 * data.context_len) and train.math as the backends' math mode. */
struct lvt_config;
void lvt_model_cfg_from_config(const struct lvt_config *c, lvt_model_cfg *mc);
lvt_math lvt_model_math_from_config(const struct lvt_config *c);

#endif
