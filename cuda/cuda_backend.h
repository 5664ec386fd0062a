/* cuda_backend.h — private: what the backend registry (src/model/ops.c, the one file of src/
 * that knows the CUDA backend exists) calls to find and create it. Everything else reaches the
 * CUDA backend through its ops table only. */
#ifndef LVT_CUDA_BACKEND_H
#define LVT_CUDA_BACKEND_H

#include "lvt/ops.h"

#ifdef __cplusplus
extern "C" {
#endif

/* What cudaGetDeviceCount says: > 0 the count; 0 no usable GPU (no device, or no driver
 * installed); -1 any other error (e.g. a driver older than the runtime). msg: one line saying
 * which, with the driver and runtime versions. */
int lvt_cuda_device_probe(char *msg, size_t cap);
/* max(probe, 0). */
int lvt_cuda_device_count(void);
/* A CUDA backend on device (modulo the device count) with GEMMs in math; destroyed through
 * be->ops->destroy. */
int lvt_cuda_backend_create(lvt_backend **out, int device, lvt_math math, lvt_err *e);

#ifdef __cplusplus
}
#endif

#endif
