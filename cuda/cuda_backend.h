/* cuda_backend.h — private: construction of the CUDA implementation of ops (cuda/). */
#ifndef LVT_CUDA_BACKEND_H
#define LVT_CUDA_BACKEND_H

#include "lvt/ops.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Number of usable devices; 0 when the runtime or driver reports any error. */
int lvt_cuda_device_count(void);
int lvt_cuda_backend_create(lvt_backend **out, int device, lvt_math math, lvt_err *e);
void lvt_cuda_backend_destroy(lvt_backend *be);

/* Hooks for cuda/graph.cu (graph replay of keyed draws). */
/* Device words [step, sample_base] that keyed draws add while device RNG mode is on. */
uint64_t *lvt_cuda_rng_slot(lvt_backend *be);
/* Device RNG mode (for graph capture): on != 0 makes every dropout / attention-dropout /
 * context-drop kernel launched from now on use step = key.step - ref_step + slot[0] and
 * sample_base = key.sample_base - ref_base + slot[1], the slot read on the device at run time. */
void lvt_cuda_rng_device(lvt_backend *be, int on, uint64_t ref_step, int64_t ref_base);
/* The backend's cudaStream_t (as void *), for work enqueued outside ops (NCCL all-reduce). */
void *lvt_cuda_stream(lvt_backend *be);

#ifdef __cplusplus
}
#endif

#endif
