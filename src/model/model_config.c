/* model_config.c — the adapter from a run configuration (include/lvt/config.h) to the model shape
 * and the backends' math mode (include/lvt/model.h): the only code that turns model.*,
 * data.context_len and train.math into an lvt_model_cfg and an lvt_math. */
#include <string.h>

#include "lvt/config.h"
#include "lvt/model.h"

void lvt_model_cfg_from_config(const lvt_config *c, lvt_model_cfg *mc) {
    memset(mc, 0, sizeof *mc);
    mc->dim = c->model.dim;
    mc->d_model = c->model.d_model;
    mc->n_heads = c->model.n_heads;
    mc->n_layers = c->model.n_layers;
    mc->ffn_mult = c->model.ffn_mult;
    mc->context_len = c->data.context_len;
    mc->dropout = (float)c->model.dropout;
}

lvt_math lvt_model_math_from_config(const lvt_config *c) {
    switch (c->train.math) {
    case LVT_TRAIN_MATH_FP32: return LVT_MATH_FP32;
    case LVT_TRAIN_MATH_TF32: return LVT_MATH_TF32;
    case LVT_TRAIN_MATH_BF16: return LVT_MATH_BF16;
    }
    return LVT_MATH_TF32;
}
