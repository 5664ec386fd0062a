/* cuda_backend.cu — the CUDA implementation of ops (being written; see issue 7). */
#include <cuda_runtime.h>

#include "cuda_backend.h"

extern "C" int lvt_cuda_device_count(void) {
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess) {
        cudaGetLastError();
        return 0;
    }
    return n;
}

extern "C" int lvt_cuda_backend_create(lvt_backend **out, int device, lvt_math math, lvt_err *e) {
    *out = NULL;
    return lvt_errf(e, "the CUDA backend is not implemented yet (issue 7)");
}

extern "C" void lvt_cuda_backend_destroy(lvt_backend *be) { (void)be; }
