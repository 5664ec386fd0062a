/* cuda_backend.h — private: what the backend registry (src/model/ops.c, the one file of src/
 * that knows the CUDA backend exists) calls to find and create it. Everything else reaches the
 * CUDA backend through its ops table only. */
#ifndef LVT_CUDA_BACKEND_H
#define LVT_CUDA_BACKEND_H

#include "lvt/ops.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Number of usable devices; 0 when the runtime or driver reports any error. */
int lvt_cuda_device_count(void);
/* A CUDA backend on device (modulo the device count) with GEMMs in math; destroyed through
 * be->ops->destroy. */
int lvt_cuda_backend_create(lvt_backend **out, int device, lvt_math math, lvt_err *e);

#ifdef __cplusplus
}
#endif

#endif
