/* ckpt.h — checkpoints (HDF5, format "lvt-checkpoint" version 1; docs/checkpoints.md) and the
 * safetensors export/import of the model's parameters under their PyTorch names.
 *
 * A checkpoint holds the model configuration, every parameter tensor (/params/<name>), the
 * AdamW moments (/optim/m/<name>, /optim/v/<name>) and optimiser/scheduler state, the step and
 * epoch, the resolved config JSON, and a generic "extra" area of named values that the trainer
 * uses for curriculum/tripwire state, RNG counters and the data position. Writes are atomic
 * (temporary file in the same directory, fsync, rename). */
#ifndef LVT_CKPT_H
#define LVT_CKPT_H

#include "lvt/common.h"
#include "lvt/model.h"
#include "lvt/optim.h"

/* ---- the extension area: named int64 / double / string values and small arrays ----------- */

typedef enum {
    LVT_KV_I64 = 0,
    LVT_KV_F64 = 1,
    LVT_KV_STR = 2,
    LVT_KV_I64_ARRAY = 3,
    LVT_KV_F64_ARRAY = 4
} lvt_kv_type;

#define LVT_KV_NAME_MAX 64

typedef struct lvt_kv {
    char name[LVT_KV_NAME_MAX]; /* letters, digits, '_', '.', '-' */
    lvt_kv_type type;
    int64_t i;      /* LVT_KV_I64 */
    double d;       /* LVT_KV_F64 */
    char *s;        /* LVT_KV_STR (owned) */
    int64_t n;      /* array length */
    int64_t *ia;    /* LVT_KV_I64_ARRAY (owned) */
    double *da;     /* LVT_KV_F64_ARRAY (owned) */
} lvt_kv;

typedef struct lvt_kvset {
    int n, cap;
    lvt_kv *items;
} lvt_kvset;

/* Setting an existing name replaces its value (and type). */
int lvt_kv_set_i64(lvt_kvset *s, const char *name, int64_t v, lvt_err *e);
int lvt_kv_set_f64(lvt_kvset *s, const char *name, double v, lvt_err *e);
int lvt_kv_set_str(lvt_kvset *s, const char *name, const char *v, lvt_err *e);
int lvt_kv_set_i64_array(lvt_kvset *s, const char *name, const int64_t *v, int64_t n, lvt_err *e);
int lvt_kv_set_f64_array(lvt_kvset *s, const char *name, const double *v, int64_t n, lvt_err *e);
/* NULL when absent. */
const lvt_kv *lvt_kv_get(const lvt_kvset *s, const char *name);
/* Typed getters: 0 and *out set when present with that type; LVT_ERROR (message) otherwise. */
int lvt_kv_get_i64(const lvt_kvset *s, const char *name, int64_t *out, lvt_err *e);
int lvt_kv_get_f64(const lvt_kvset *s, const char *name, double *out, lvt_err *e);
void lvt_kvset_free(lvt_kvset *s);

/* ---- checkpoint metadata -------------------------------------------------------------------- */

typedef struct lvt_ckpt_info {
    char arch[64];          /* "transformer" */
    lvt_model_cfg model;    /* the architecture's shape */
    int64_t step;           /* global optimiser steps done */
    int64_t epoch;          /* epochs completed */
    int has_optim;          /* the file holds moments and optimiser state */
    char *config_json;      /* resolved configuration (owned, may be NULL) */
    lvt_kvset extra;        /* extension area (owned) */
} lvt_ckpt_info;

void lvt_ckpt_info_init(lvt_ckpt_info *info);
void lvt_ckpt_info_free(lvt_ckpt_info *info);

/* Write a checkpoint of m (parameters copied from the backend), o's moments and state when o is
 * non-NULL, and info's step/epoch/config/extra (info->model and info->arch are ignored: the
 * model's cfg and "transformer" are written). Atomic: a failure leaves an existing file at path
 * untouched and removes the temporary file. */
int lvt_ckpt_save(const char *path, const lvt_model *m, const lvt_optim *o,
                  const lvt_ckpt_info *info, lvt_err *e);

/* Read the metadata only (format checks, model config, step, epoch, config JSON, extra). */
int lvt_ckpt_read_info(const char *path, lvt_ckpt_info *info, lvt_err *e);

/* Load parameters into m (created by the caller with the expected cfg; a dimension mismatch is
 * an error naming the field), and when o is non-NULL the moments and optimiser state (the file
 * must then contain them). info (optional) receives the metadata. */
int lvt_ckpt_load(const char *path, lvt_model *m, lvt_optim *o, lvt_ckpt_info *info, lvt_err *e);

/* Open any model file: an lvt checkpoint (.h5) or a safetensors file. Reads the model config
 * (from the checkpoint, or inferred from the safetensors shapes and metadata), creates m on be
 * and loads its parameters. context_len_default is used when the file does not record L. */
int lvt_ckpt_load_any(const char *path, lvt_backend *be, int context_len_default, lvt_model *m,
                      lvt_err *e);

/* True (1) when the file starts with the HDF5 signature, 0 otherwise (also when unreadable). */
int lvt_file_is_hdf5(const char *path);

/* ---- safetensors (src/model/safetensors.c) ----------------------------------------------------------- */

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

/* The model shape of a run configuration (model.* and data.context_len). */
struct lvt_config;
void lvt_ckpt_model_cfg(const struct lvt_config *c, lvt_model_cfg *mc);

/* ---- shared helpers of the writers ---------------------------------------------------------- */

/* Temporary path in the same directory as path: "<dir>/.<base>.tmp.<pid>". */
void lvt_ckpt_tmp_path(const char *path, char *out, size_t cap);
/* fsync the file at tmp, rename it over path and fsync the directory. On failure tmp is removed. */
int lvt_ckpt_commit(const char *tmp, const char *path, lvt_err *e);

#endif
