/* cuda_backend.cu — the CUDA backend's frame (docs/cuda.md): the device probe, construction and
 * destruction, the error path every op ends in (cu_after: the op and its shapes named;
 * LVT_CUDA_SYNC=1 synchronises after every op), scratch buffers that never grow inside a graph
 * capture, the BF16 weight shadow's bookkeeping, memory ops, and the ops table, whose primitives
 * live in cuda_dense.cu, cuda_norm.cu and cuda_attention.cu (each the GPU twin of a CPU
 * reference in src/cpu/, per-element math from include/lvt/elementwise.h) and whose optional
 * entries are graph.cu, gather.cu and comm_nccl.cu. Every call is asynchronous on the backend's
 * stream except those that return a value to the host (sum, sumsq) and sync/to_host. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cuda_internal.h"
#include "cuda_backend.h"

#define LVT_CUDA_BLAS_WS ((size_t)32 << 20) /* cuBLAS workspace bytes */

int cu_blocks(size_t n, int threads) {
    size_t b = (n + threads - 1) / threads;
    if (b > 65535 * 8) b = 65535 * 8;
    return b < 1 ? 1 : (int)b;
}

/* ---- errors ---------------------------------------------------------------------------------- */

/* Errors a kernel raises while running: the call that reports them is not the one that faulted. */
static int async_fault(cudaError_t rc) {
    switch (rc) {
    case cudaErrorIllegalAddress:
    case cudaErrorLaunchFailure:
    case cudaErrorAssert:
    case cudaErrorHardwareStackError:
    case cudaErrorIllegalInstruction:
    case cudaErrorMisalignedAddress:
    case cudaErrorInvalidAddressSpace:
    case cudaErrorInvalidPc:
    case cudaErrorLaunchTimeout: return 1;
    default: return 0;
    }
}

static void fatal_line(const cuda_impl *im, const char *err, int async, const char *op, const char *shapes) {
    fflush(stdout); /* what the caller printed so far comes before the fault */
    if (!async || (im && im->sync_ops))
        fprintf(stderr, "lvt cuda: %s(%s) failed: %s\n", op, shapes, err);
    else
        fprintf(stderr,
                "lvt cuda: %s reported when %s(%s) was issued; a kernel fault surfaces at the next CUDA call, "
                "so an earlier op may have faulted: rerun with LVT_CUDA_SYNC=1 to name it\n",
                err, op, shapes);
    fflush(stderr);
    abort();
}

void cu_after(lvt_backend *be, cudaError_t rc, const char *op, const char *fmt, ...) {
    cuda_impl *im = be ? cu_impl(be) : NULL;
    if (rc == cudaSuccess) rc = cudaGetLastError();
    if (rc == cudaSuccess && im && im->sync_ops && !im->capturing) rc = cudaStreamSynchronize(im->stream);
    if (rc == cudaSuccess) return;
    char shapes[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(shapes, sizeof shapes, fmt, ap);
    va_end(ap);
    char err[160];
    snprintf(err, sizeof err, "%s (%s)", cudaGetErrorString(rc), cudaGetErrorName(rc));
    if (im && im->capturing && !async_fault(rc)) {
        /* a call the capture cannot record (it invalidates the capture): fail the capture, and
         * lvt_graph_end reports this op; the caller's eager fallback redoes the work */
        cudaGetLastError();
        cu_capture_fail(be, "%s(%s) cannot be captured: %s", op, shapes, err);
        return;
    }
    fatal_line(im, err, async_fault(rc), op, shapes);
}

void cu_blas_after(lvt_backend *be, cublasStatus_t st, const char *op, const char *fmt, ...) {
    char shapes[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(shapes, sizeof shapes, fmt, ap);
    va_end(ap);
    if (st != CUBLAS_STATUS_SUCCESS) {
        char err[128];
        snprintf(err, sizeof err, "cuBLAS status %d (%s)", (int)st, cublasGetStatusString(st));
        fatal_line(cu_impl(be), err, 0, op, shapes);
    }
    cu_after(be, cudaSuccess, op, "%s", shapes);
}

void cu_capture_fail(lvt_backend *be, const char *fmt, ...) {
    cuda_impl *im = cu_impl(be);
    if (im->capture_err[0]) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(im->capture_err, sizeof im->capture_err, fmt, ap);
    va_end(ap);
}

/* ---- scratch and the BF16 shadow -------------------------------------------------------------- */

static void retire(cuda_impl *im, void *p) {
    if (!p) return;
    if (im->n_graphs == 0 || im->n_retired == CU_RETIRED_MAX) {
        /* no graph can point at it (or too many retired: wait for the device and free; a graph
         * that still used it would be a bug caught by the sanitizer run) */
        cudaStreamSynchronize(im->stream);
        cudaFree(p);
        return;
    }
    im->retired[im->n_retired++] = p;
}

void *cu_scratch(lvt_backend *be, int which, size_t bytes, const char *op) {
    cuda_impl *im = cu_impl(be);
    if (bytes <= im->scr_cap[which]) return im->scr[which];
    if (im->capturing) {
        cu_capture_fail(be, "%s needs %zu bytes of scratch (%zu held) inside a graph capture; "
                            "warm up with an eager step of the same shapes first",
                        op, bytes, im->scr_cap[which]);
        return NULL;
    }
    size_t cap = bytes + bytes / 4;
    void *p = NULL;
    cudaError_t rc = cudaMalloc(&p, cap);
    if (rc != cudaSuccess) cu_after(be, rc, op, "scratch of %zu bytes", cap);
    retire(im, im->scr[which]);
    im->scr[which] = p;
    im->scr_cap[which] = cap;
    return p;
}

void cu_shadow_touch(lvt_backend *be, const void *p, size_t bytes) {
    cuda_impl *im = cu_impl(be);
    if (!im->sh_src || !bytes) return;
    const char *a = (const char *)p, *s = (const char *)im->sh_src;
    if (!(a < s + im->sh_n * sizeof(float) && a + bytes > s)) return;
    if (im->capturing) im->sh_dirty = 1;
    else cu_shadow_refresh(be);
}

/* ---- memory ---------------------------------------------------------------------------------- */

static void *cu_alloc(lvt_backend *be, size_t bytes, lvt_err *e) {
    void *p = NULL;
    if (cu_impl(be)->capturing) {
        lvt_errf(e, "cudaMalloc(%zu bytes) inside a graph capture", bytes);
        cu_capture_fail(be, "an allocation of %zu bytes inside the capture", bytes);
        return NULL;
    }
    cudaError_t rc = cudaMalloc(&p, bytes ? bytes : 1);
    if (rc != cudaSuccess) {
        cudaGetLastError(); /* out of memory is not sticky: clear it */
        lvt_errf(e, "cudaMalloc(%zu bytes): %s", bytes, cudaGetErrorString(rc));
        return NULL;
    }
    cu_after(be, cudaMemsetAsync(p, 0, bytes, cu_stream(be)), "alloc", "%zu bytes", bytes);
    return p;
}
static void cu_free(lvt_backend *be, void *p) {
    cuda_impl *im = cu_impl(be);
    if (!p) return;
    if (p == (const void *)im->sh_src) { /* the shadowed buffer goes: so does its shadow */
        retire(im, im->sh);
        im->sh = NULL;
        im->sh_src = NULL;
        im->sh_n = 0;
    }
    cudaFree(p);
}
static void cu_zero(lvt_backend *be, void *p, size_t bytes) {
    cu_after(be, cudaMemsetAsync(p, 0, bytes, cu_stream(be)), "zero", "%zu bytes", bytes);
    cu_shadow_touch(be, p, bytes);
}
static void cu_to_device(lvt_backend *be, void *dst, const void *src, size_t bytes) {
    cu_after(be, cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, cu_stream(be)), "to_device", "%zu bytes",
             bytes);
    cu_shadow_touch(be, dst, bytes);
}
static void cu_to_host(lvt_backend *be, void *dst, const void *src, size_t bytes) {
    cudaError_t rc = cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, cu_stream(be));
    if (rc == cudaSuccess) rc = cudaStreamSynchronize(cu_stream(be));
    cu_after(be, rc, "to_host", "%zu bytes", bytes);
}
static void cu_copy(lvt_backend *be, void *dst, const void *src, size_t bytes) {
    if (dst == src) return;
    cu_after(be, cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, cu_stream(be)), "copy", "%zu bytes",
             bytes);
    cu_shadow_touch(be, dst, bytes);
}
static void cu_sync(lvt_backend *be) { cu_after(be, cudaStreamSynchronize(cu_stream(be)), "sync", "stream"); }

/* ---- the table and construction ---------------------------------------------------------------- */

static void cu_destroy(lvt_backend *be);

static const lvt_ops cuda_ops = {
    .name = "cuda",
    .host_memory = 0,
    .destroy = cu_destroy,
    .alloc = cu_alloc,
    .free = cu_free,
    .zero = cu_zero,
    .to_device = cu_to_device,
    .to_host = cu_to_host,
    .copy = cu_copy,
    .sync = cu_sync,
    .gemm = cu_gemm,
    .add_bcast = cu_add_bcast,
    .sum_bcast = cu_sum_bcast,
    .copy_rows = cu_copy_rows,
    .add = cu_add,
    .axpy = cu_axpy,
    .scale = cu_scale,
    .layernorm_fwd = cu_layernorm_fwd,
    .layernorm_bwd = cu_layernorm_bwd,
    .l2norm_fwd = cu_l2norm_fwd,
    .l2norm_bwd = cu_l2norm_bwd,
    .relu_fwd = cu_relu_fwd,
    .relu_bwd = cu_relu_bwd,
    .gelu_fwd = cu_gelu_fwd,
    .gelu_bwd = cu_gelu_bwd,
    .dropout_fwd = cu_dropout_fwd,
    .dropout_bwd = cu_dropout_bwd,
    .attention_fwd = cu_attention_fwd,
    .attention_bwd = cu_attention_bwd,
    .dot_rows = cu_dot_rows,
    .sum = cu_sum,
    .sumsq = cu_sumsq,
    .adamw = cu_adamw,
    .vmap = cu_vmap,
    .reduce_sum = cu_reduce_sum,
    .scale_rows_add = cu_scale_rows_add,
    .context_drop = cu_context_drop,
    .adamw_clipped = cu_adamw_clipped,
    /* optional entries: all present (the collective only in a build with NCCL) */
    .const_window = NULL,
    .graph_begin = cu_graph_begin,
    .graph_end = cu_graph_end,
    .graph_replay = cu_graph_replay,
    .graph_destroy = cu_graph_destroy,
    .batch_gather = cu_batch_gather,
    .index_stage_create = cu_index_stage_create,
    .index_stage_destroy = cu_index_stage_destroy,
    .index_upload = cu_index_upload,
#ifdef LVT_HAVE_NCCL
    .coll_unique_id = cu_coll_unique_id,
    .coll_create = cu_coll_create,
    .coll_allreduce = cu_coll_allreduce,
    .coll_wait = cu_coll_wait,
    .coll_destroy = cu_coll_destroy,
#else
    .coll_unique_id = NULL,
    .coll_create = NULL,
    .coll_allreduce = NULL,
    .coll_wait = NULL,
    .coll_destroy = NULL,
#endif
};

/* Which answers of cudaGetDeviceCount mean "this machine has no usable GPU" (skip) rather than
 * "a GPU is there but broken" (fail): cudaErrorNoDevice, and cudaErrorInsufficientDriver when
 * no driver is installed at all (cudaDriverGetVersion reports 0). An installed driver older than
 * the runtime, or any other error, is a failure with its message. */
extern "C" int lvt_cuda_device_probe(char *msg, size_t cap) {
    int n = 0, drv = 0, rt = 0;
    cudaError_t rc = cudaGetDeviceCount(&n);
    cudaDriverGetVersion(&drv);
    cudaRuntimeGetVersion(&rt);
    cudaGetLastError();
    if (rc == cudaSuccess && n > 0) {
        snprintf(msg, cap, "%d device%s (driver %d, runtime %d)", n, n == 1 ? "" : "s", drv, rt);
        return n;
    }
    if (rc == cudaSuccess || rc == cudaErrorNoDevice) {
        snprintf(msg, cap, "no CUDA device (driver %d, runtime %d)", drv, rt);
        return 0;
    }
    if (rc == cudaErrorInsufficientDriver && drv == 0) {
        snprintf(msg, cap, "no CUDA driver installed (runtime %d)", rt);
        return 0;
    }
    snprintf(msg, cap, "cudaGetDeviceCount failed: %s (%s); driver %d.%d, runtime %d.%d", cudaGetErrorString(rc),
             cudaGetErrorName(rc), drv / 1000, (drv % 1000) / 10, rt / 1000, (rt % 1000) / 10);
    return -1;
}

extern "C" int lvt_cuda_device_count(void) {
    char msg[256];
    int n = lvt_cuda_device_probe(msg, sizeof msg);
    return n > 0 ? n : 0;
}

static int env_is(const char *name, const char *value) {
    const char *v = getenv(name);
    return v && !strcmp(v, value);
}

/* cuBLAS on the backend's stream with an explicit workspace (captured GEMMs never allocate) and
 * the math mode: fp32 pedantic (no TF32 anywhere), TF32 tensor-op math, BF16 default math (the
 * inputs are bf16 already; LVT_CUDA_BF16_PEDANTIC=1 selects pedantic, to measure its cost). */
static int blas_setup(cuda_impl *im, lvt_math math, lvt_err *e) {
    cublasStatus_t st = cublasCreate(&im->blas);
    if (st != CUBLAS_STATUS_SUCCESS) {
        im->blas = NULL;
        return lvt_errf(e, "cublasCreate: %s", cublasGetStatusString(st));
    }
    cublasMath_t mode = math == LVT_MATH_TF32   ? CUBLAS_TF32_TENSOR_OP_MATH
                        : math == LVT_MATH_BF16 ? (env_is("LVT_CUDA_BF16_PEDANTIC", "1") ? CUBLAS_PEDANTIC_MATH
                                                                                         : CUBLAS_DEFAULT_MATH)
                                                : CUBLAS_PEDANTIC_MATH;
    const char *what = "cublasSetStream";
    if ((st = cublasSetStream(im->blas, im->stream)) == CUBLAS_STATUS_SUCCESS) {
        what = "cublasSetWorkspace";
        if ((st = cublasSetWorkspace(im->blas, im->blas_ws, LVT_CUDA_BLAS_WS)) == CUBLAS_STATUS_SUCCESS) {
            what = "cublasSetMathMode";
            st = cublasSetMathMode(im->blas, mode);
        }
    }
    if (st != CUBLAS_STATUS_SUCCESS) return lvt_errf(e, "%s: %s", what, cublasGetStatusString(st));
    return LVT_OK;
}

static int impl_setup(cuda_impl *im, int device, lvt_math math, lvt_err *e) {
    cudaError_t rc;
    const char *what = "cudaStreamCreate";
    if ((rc = cudaStreamCreateWithFlags(&im->stream, cudaStreamNonBlocking)) != cudaSuccess) goto fail;
    what = "cudaMalloc";
    if ((rc = cudaMalloc(&im->d_acc, sizeof(double))) != cudaSuccess ||
        (rc = cudaMalloc(&im->d_rng, 2 * sizeof(uint64_t))) != cudaSuccess ||
        (rc = cudaMalloc(&im->blas_ws, LVT_CUDA_BLAS_WS)) != cudaSuccess)
        goto fail;
    what = "cudaMemset";
    if ((rc = cudaMemset(im->d_rng, 0, 2 * sizeof(uint64_t))) != cudaSuccess) goto fail;
    what = "cudaDeviceGetAttribute";
    if ((rc = cudaDeviceGetAttribute(&im->smem_optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, device)) !=
        cudaSuccess)
        goto fail;
    im->sync_ops = env_is("LVT_CUDA_SYNC", "1");
    im->attn_rows = env_is("LVT_CUDA_ATTN", "rows");
    return blas_setup(im, math, e);
fail:
    cudaGetLastError();
    return lvt_errf(e, "CUDA set-up: %s: %s", what, cudaGetErrorString(rc));
}

static void impl_free(cuda_impl *im) {
    if (im->stream) cudaStreamSynchronize(im->stream);
    if (im->blas) cublasDestroy(im->blas);
    cudaFree(im->d_acc);
    cudaFree(im->d_rng);
    cudaFree(im->blas_ws);
    for (int k = 0; k < CU_SCR_COUNT; k++) cudaFree(im->scr[k]);
    for (int k = 0; k < im->n_retired; k++) cudaFree(im->retired[k]);
    cudaFree(im->sh);
    if (im->stream) cudaStreamDestroy(im->stream);
    free(im);
}

extern "C" int lvt_cuda_backend_create(lvt_backend **out, int device, lvt_math math, lvt_err *e) {
    *out = NULL;
    char msg[256];
    int n = lvt_cuda_device_probe(msg, sizeof msg);
    if (n <= 0) return lvt_errf(e, "%s", msg);
    if (device < 0) device = 0;
    device %= n;
    cudaError_t rc = cudaSetDevice(device);
    if (rc != cudaSuccess) return lvt_errf(e, "cudaSetDevice(%d): %s", device, cudaGetErrorString(rc));
    lvt_backend *be = (lvt_backend *)calloc(1, sizeof *be);
    cuda_impl *im = (cuda_impl *)calloc(1, sizeof *im);
    if (!be || !im) {
        free(be);
        free(im);
        return lvt_errf(e, "out of memory");
    }
    if (impl_setup(im, device, math, e)) {
        impl_free(im);
        free(be);
        return LVT_ERROR;
    }
    be->ops = &cuda_ops;
    be->math = math;
    be->device = device;
    be->impl = im;
    cu_attention_setup(be);
    *out = be;
    return LVT_OK;
}

static void cu_destroy(lvt_backend *be) {
    if (!be) return;
    if (be->impl) impl_free(cu_impl(be));
    free(be);
}

/* ---- keyed draws: eager or relative to a capture ------------------------------------------------- */

void cu_rng_args(lvt_backend *be, const lvt_dropout_key *key, uint64_t *step, int64_t *base, const uint64_t **dev) {
    cuda_impl *im = cu_impl(be);
    uint64_t s = key ? key->step : 0;
    int64_t b = key ? key->sample_base : 0;
    if (im->capturing) {
        *step = s - im->rng_ref_step;
        *base = (int64_t)((uint64_t)b - (uint64_t)im->rng_ref_base);
        *dev = im->d_rng;
    } else {
        *step = s;
        *base = b;
        *dev = NULL;
    }
}
