/* devdata.h — backend-resident training data (docs/cuda.md): a store's vectors (fp32 or bf16) and
 * its window index uploaded to the backend once, and batch assembly from window indices by the
 * backend's gather (the optional ops->batch_gather: a CUDA kernel on the GPU, a loop on the CPU
 * backend), with exactly the layout and masks of lvt_batch_gather (data.h). After the upload, a
 * step moves only its window indices from the host; the gather itself can be captured in a CUDA
 * graph. A backend without batch_gather keeps no resident store (the upload says so). */
#ifndef LVT_DEVDATA_H
#define LVT_DEVDATA_H

#include "lvt/common.h"
#include "lvt/data.h"
#include "lvt/ops.h"

/* Storage precision of the uploaded vectors. bf16 rounds each value to nearest-even (the
 * conversion __float2bfloat16 makes); batches are always fp32. */
typedef enum { LVT_DEVDATA_FP32 = 0, LVT_DEVDATA_BF16 = 1 } lvt_devdata_prec;

/* A store and its window index in backend memory. */
typedef struct lvt_devdata {
    lvt_backend *be;
    lvt_devdata_prec prec;
    int64_t n_rows;      /* store rows */
    int dim;             /* D */
    int context_len;     /* L of the window index */
    int64_t n_articles;
    int64_t n_windows;
    void *vectors;       /* [n_rows, dim] float (fp32) or uint16 bf16 bits */
    int64_t *prefix;     /* [A+1] windows before each article */
    int64_t *offsets;    /* [A+1] first row of each article */
} lvt_devdata;

/* A batch in backend memory: the arrays of lvt_batch (data.h) plus the window indices. */
typedef struct lvt_devbatch {
    lvt_backend *be;
    int cap, b, L, D, H;
    float *ctx;       /* [cap, L, D] */
    float *target;    /* [cap, D] */
    float *fut;       /* [cap, 2, D] */
    float *fut_mask;  /* [cap, 2] */
    float *roll;      /* [cap, H, D] */
    float *roll_mask; /* [cap, H] */
    int64_t *idx;     /* [cap] window indices (backend memory) */
    void *stage;      /* backend-private index staging (ops->index_stage_create; NULL without) */
} lvt_devbatch;

/* Upload store s with its window index w (built over s) to backend be in precision prec.
 * Refused when the backend has no ops->batch_gather. */
int lvt_devdata_upload(lvt_devdata *dd, lvt_backend *be, const lvt_store *s, const lvt_windows *w,
                       lvt_devdata_prec prec, lvt_err *e);
void lvt_devdata_free(lvt_devdata *dd);

int lvt_devbatch_alloc(lvt_devbatch *b, lvt_backend *be, int cap, int L, int D, int H, lvt_err *e);
void lvt_devbatch_free(lvt_devbatch *b);

/* Copy window indices idx[0..n) from the host to b->idx (checked against dd's window count;
 * asynchronous on the GPU). Not capturable: call it before launching a captured step. */
int lvt_devbatch_set_indices(lvt_devbatch *b, const lvt_devdata *dd, const int64_t *idx, int n,
                             lvt_err *e);

/* Assemble b's first n samples from the indices in b->idx (asynchronous; capturable). Sets
 * b->b = n. Requires n <= b->cap, b->D == dd->dim, b->L == dd->context_len. */
int lvt_devbatch_gather(lvt_devbatch *b, const lvt_devdata *dd, int n, lvt_err *e);

/* Host bf16 rounding used by the upload: the bf16 bits of x, round to nearest even. */
uint16_t lvt_bf16_from_float(float x);
float lvt_bf16_to_float(uint16_t h);

#endif
