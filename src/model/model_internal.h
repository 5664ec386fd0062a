/* model_internal.h — private to the model module: the activation-memory hooks shared by model.c
 * (table, init) and model_forward.c (plan, forward, backward). */
#ifndef LVT_MODEL_INTERNAL_H
#define LVT_MODEL_INTERNAL_H

#include "lvt/model.h"

/* Tensors per decoder layer in the table (self_attn 4, multihead_attn 4, linear1/2 4, norms 6). */
#define MODEL_TENSORS_PER_LAYER 18

/* Allocate the positional-encoding table (no activations yet) / free everything. */
int model_acts_create(lvt_model *m, lvt_err *e);
void model_acts_destroy(lvt_model *m);

#endif
