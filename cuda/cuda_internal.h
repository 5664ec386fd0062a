/* cuda_internal.h — private to cuda/: what the files of the CUDA backend share. The backend's
 * stream and its device-side RNG slot for graph replay (cuda_backend.cu), and the optional ops
 * entries that graph.cu (capture and replay), gather.cu (the resident store's gather and index
 * staging) and comm_nccl.cu (the NCCL collective) contribute to the table in cuda_backend.cu.
 * C++ (nvcc) only; nothing outside cuda/ includes it. */
#ifndef LVT_CUDA_INTERNAL_H
#define LVT_CUDA_INTERNAL_H

#include <cuda_runtime.h>

#include "lvt/elementwise.h" /* C++-safe (math.h, inline functions): outside the extern "C" block */
extern "C" {
#include "lvt/common.h"
#include "lvt/devdata.h"
#include "lvt/ops.h"
}

/* Fatal CUDA failure inside a step (not recoverable user input): one line on stderr, abort. */
void cu_fatal(cudaError_t rc, const char *what);

/* ---- cuda_backend.cu ---- */
cudaStream_t cu_stream(lvt_backend *be);
/* Device words [step, sample_base] that keyed draws add while device RNG mode is on. */
uint64_t *cu_rng_slot(lvt_backend *be);
/* Device RNG mode (for graph capture): on != 0 makes every dropout / attention-dropout /
 * context-drop kernel launched from now on use step = key.step - ref_step + slot[0] and
 * sample_base = key.sample_base - ref_base + slot[1], the slot read on the device at run time. */
void cu_rng_device(lvt_backend *be, int on, uint64_t ref_step, int64_t ref_base);

/* ---- graph.cu: ops->graph_* ---- */
int cu_graph_begin(lvt_backend *be, uint64_t ref_step, int64_t ref_base, lvt_err *e);
int cu_graph_end(lvt_backend *be, void **graph, lvt_err *e);
int cu_graph_replay(lvt_backend *be, void *graph, uint64_t step, int64_t sample_base, lvt_err *e);
void cu_graph_destroy(lvt_backend *be, void *graph);

/* ---- gather.cu: ops->batch_gather and the index staging ---- */
void cu_batch_gather(lvt_backend *be, const lvt_devdata *dd, lvt_devbatch *b, int n);
int cu_index_stage_create(lvt_backend *be, void **stage, int cap, lvt_err *e);
void cu_index_stage_destroy(lvt_backend *be, void *stage);
int cu_index_upload(lvt_backend *be, void *stage, int64_t *dst, const int64_t *idx, int n, lvt_err *e);

/* ---- comm_nccl.cu: ops->coll_* (only in a build with NCCL, LVT_HAVE_NCCL) ---- */
#ifdef LVT_HAVE_NCCL
int cu_coll_unique_id(lvt_backend *be, void *id, lvt_err *e);
int cu_coll_create(lvt_backend *be, void **coll, const void *id, int rank, int world, lvt_err *e);
int cu_coll_allreduce(lvt_backend *be, void *coll, float *buf, size_t n, lvt_comm_op op, int avg,
                      lvt_err *e);
void cu_coll_destroy(lvt_backend *be, void *coll);
#endif

#endif
