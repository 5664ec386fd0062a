/* cuda_devdata.h — private: the CUDA half of the devdata module (cuda/gather.cu), called by
 * src/data/devdata.c when the backend is "cuda". */
#ifndef LVT_CUDA_DEVDATA_H
#define LVT_CUDA_DEVDATA_H

#include "lvt/devdata.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Pinned double-buffered staging for index uploads of up to cap indices. */
int lvt_cuda_stage_create(void **stage, int cap, lvt_err *e);
void lvt_cuda_stage_destroy(void *stage);
/* idx[0..n) -> d_idx on the backend stream through the staging (no device synchronisation). */
int lvt_cuda_set_indices(lvt_backend *be, void *stage, int64_t *d_idx, const int64_t *idx, int n,
                         lvt_err *e);
/* The gather kernel: b's first n samples from b->idx. */
void lvt_cuda_gather(lvt_backend *be, const lvt_devdata *dd, lvt_devbatch *b, int n);

#ifdef __cplusplus
}
#endif

#endif
