/* safetensors.h — export and import of the model's parameters as a safetensors file under
 * their PyTorch names (docs/checkpoints.md). Code: src/model/safetensors.c. */
#ifndef LVT_SAFETENSORS_H
#define LVT_SAFETENSORS_H

#include "lvt/common.h"
#include "lvt/model.h"

/* Export m's parameters as F32 tensors in the model's order, with __metadata__ recording
 * format="lvt", arch and the model config. Atomic like checkpoints. */
int lvt_safetensors_save(const char *path, const lvt_model *m, lvt_err *e);

/* Infer the model config from a safetensors file: D, d from input_proj.weight [d, D], n_layers
 * from the highest layer index, ffn_mult from linear1; n_heads, context_len and dropout from
 * lvt's __metadata__ when present, else n_heads = 8, context_len = context_len_default,
 * dropout = 0.1. *heads_from_meta (optional) tells whether n_heads came from the metadata. */
int lvt_safetensors_read_cfg(const char *path, int context_len_default, lvt_model_cfg *cfg,
                             int *heads_from_meta, lvt_err *e);

/* Load the tensors into m: every model tensor must be present with its shape; dtypes F32, F16
 * and BF16 are accepted (converted to fp32); unknown names are an error unless they are known
 * PyTorch buffers of the reference module (positional-encoding tables), which are ignored. */
int lvt_safetensors_load(const char *path, lvt_model *m, lvt_err *e);

#endif
