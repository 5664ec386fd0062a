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

#ifdef __cplusplus
}
#endif

#endif
