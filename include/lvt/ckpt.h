/* ckpt.h — checkpoints (HDF5, format "lvt-checkpoint" version 1; docs/checkpoints.md). The
 * safetensors export/import is in safetensors.h, the "extra" key/value set in kvstore.h.
 *
 * A checkpoint holds the model configuration, every parameter tensor (/params/<name>), the
 * AdamW moments (/optim/m/<name>, /optim/v/<name>) and optimiser/scheduler state, the step and
 * epoch, the resolved config JSON, and a generic "extra" area of named values that the trainer
 * uses for curriculum/tripwire state, RNG counters and the data position. Writes are atomic
 * (temporary file in the same directory, fsync, rename). */
#ifndef LVT_CKPT_H
#define LVT_CKPT_H

#include "lvt/common.h"
#include "lvt/kvstore.h"
#include "lvt/model.h"
#include "lvt/optim.h"

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

#endif
