/* graph.cu — CUDA graph capture and replay of backend work (include/lvt/graph.h): stream
 * capture on the backend's stream with the backend's keyed draws switched to device-side
 * step / sample base, instantiation, and replay preceded by a one-thread kernel that writes
 * the replayed step's step and sample base where the captured kernels read them; and the
 * optimiser step (global norm, clip, AdamW) with its per-step scalars in device memory. */
#include <cuda_runtime.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

extern "C" {
#include "lvt/common.h"
#include "lvt/graph.h"
}
#include "cuda_backend.h"
#include "cuda_graph.h"

struct lvt_graph {
    lvt_backend *be;
    cudaGraph_t graph;
    cudaGraphExec_t exec;
};

extern "C" int lvt_cuda_graph_begin(lvt_backend *be, uint64_t ref_step, int64_t ref_base, lvt_err *e) {
    cudaStream_t s = (cudaStream_t)lvt_cuda_stream(be);
    cudaError_t rc = cudaStreamBeginCapture(s, cudaStreamCaptureModeThreadLocal);
    if (rc != cudaSuccess) return lvt_errf(e, "cudaStreamBeginCapture: %s", cudaGetErrorString(rc));
    lvt_cuda_rng_device(be, 1, ref_step, ref_base);
    return LVT_OK;
}

extern "C" int lvt_cuda_graph_end(lvt_backend *be, lvt_graph **out, lvt_err *e) {
    *out = NULL;
    cudaStream_t s = (cudaStream_t)lvt_cuda_stream(be);
    lvt_cuda_rng_device(be, 0, 0, 0);
    cudaGraph_t graph = NULL;
    cudaError_t rc = cudaStreamEndCapture(s, &graph);
    if (rc != cudaSuccess || !graph) {
        if (graph) cudaGraphDestroy(graph);
        cudaGetLastError();
        return lvt_errf(e, "CUDA graph capture failed: %s", cudaGetErrorString(rc));
    }
    cudaGraphExec_t exec = NULL;
    rc = cudaGraphInstantiate(&exec, graph, 0);
    if (rc != cudaSuccess) {
        cudaGraphDestroy(graph);
        return lvt_errf(e, "cudaGraphInstantiate: %s", cudaGetErrorString(rc));
    }
    lvt_graph *g = (lvt_graph *)calloc(1, sizeof *g);
    if (!g) {
        cudaGraphExecDestroy(exec);
        cudaGraphDestroy(graph);
        return lvt_errf(e, "out of memory");
    }
    g->be = be;
    g->graph = graph;
    g->exec = exec;
    *out = g;
    return LVT_OK;
}

__global__ void k_set_rng(uint64_t *slot, uint64_t step, uint64_t base) {
    slot[0] = step;
    slot[1] = base;
}

extern "C" int lvt_cuda_graph_replay(lvt_graph *g, uint64_t step, int64_t sample_base, lvt_err *e) {
    cudaStream_t s = (cudaStream_t)lvt_cuda_stream(g->be);
    k_set_rng<<<1, 1, 0, s>>>(lvt_cuda_rng_slot(g->be), step, (uint64_t)sample_base);
    cudaError_t rc = cudaGetLastError();
    if (rc == cudaSuccess) rc = cudaGraphLaunch(g->exec, s);
    if (rc != cudaSuccess) return lvt_errf(e, "CUDA graph replay: %s", cudaGetErrorString(rc));
    return LVT_OK;
}

extern "C" void lvt_cuda_graph_destroy(lvt_graph *g) {
    if (!g) return;
    cudaStreamSynchronize((cudaStream_t)lvt_cuda_stream(g->be));
    cudaGraphExecDestroy(g->exec);
    cudaGraphDestroy(g->graph);
    free(g);
}

/* ---- the optimiser step with per-step values in device memory ------------------------------------ */

/* scal: [0] decay, [1] step_size, [2] sqrt(bias correction 2), [3] 1-beta1, [4] beta2,
 * [5] 1-beta2, [6] eps, [7] unused */
__global__ void k_optim_set(float *scal, float s0, float s1, float s2, float s3, float s4, float s5, float s6,
                            float s7) {
    scal[0] = s0;
    scal[1] = s1;
    scal[2] = s2;
    scal[3] = s3;
    scal[4] = s4;
    scal[5] = s5;
    scal[6] = s6;
    scal[7] = s7;
}

extern "C" void lvt_cuda_optim_set(lvt_backend *be, float *scal, const float vals[8]) {
    cudaStream_t s = (cudaStream_t)lvt_cuda_stream(be);
    k_optim_set<<<1, 1, 0, s>>>(scal, vals[0], vals[1], vals[2], vals[3], vals[4], vals[5], vals[6], vals[7]);
    cudaError_t rc = cudaGetLastError();
    if (rc != cudaSuccess) {
        fprintf(stderr, "lvt cuda: optimiser scalars: %s\n", cudaGetErrorString(rc));
        abort();
    }
}

__global__ void k_sumsq_acc(const float *x, size_t n, double *acc) {
    __shared__ double sh[32];
    double s = 0;
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
        s += (double)x[i] * x[i];
    for (int o = 16; o > 0; o >>= 1) s += __shfl_xor_sync(0xffffffffu, s, o);
    if ((threadIdx.x & 31) == 0) sh[threadIdx.x >> 5] = s;
    __syncthreads();
    if (threadIdx.x < 32) {
        s = threadIdx.x < (blockDim.x >> 5) ? sh[threadIdx.x] : 0.0;
        for (int o = 16; o > 0; o >>= 1) s += __shfl_xor_sync(0xffffffffu, s, o);
        if (threadIdx.x == 0) atomicAdd(acc, s);
    }
}

/* AdamW exactly as k_adamw / cpu_adamw, with grad_scale = lvt_clip_scale(sqrt(*acc), max_norm)
 * computed here in double, and no update when the norm or *loss is not finite. */
__global__ void k_adamw_dev(float *p, const float *g, float *m, float *v, size_t n, const float *scal,
                            const double *acc, double max_norm, const float *loss) {
    const double norm = sqrt(*acc);
    if (!isfinite(norm) || (loss && !isfinite(*loss))) return;
    float grad_scale = 1.0f;
    if (max_norm > 0) {
        double coef = max_norm / (norm + 1e-6);
        grad_scale = (float)(coef < 1.0 ? coef : 1.0);
    }
    const float decay = scal[0], step_size = scal[1], bc2_sqrt = scal[2], w1 = scal[3], beta2 = scal[4],
                w2 = scal[5], eps = scal[6];
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
        float gi = g[i] * grad_scale;
        float pi = p[i] * decay;
        float mi = w1 < 0.5f ? m[i] + w1 * (gi - m[i]) : gi - (gi - m[i]) * (1.0f - w1);
        float vi = v[i] * beta2 + w2 * gi * gi;
        float denom = sqrtf(vi) / bc2_sqrt + eps;
        p[i] = pi - step_size * mi / denom;
        m[i] = mi;
        v[i] = vi;
    }
}

extern "C" void lvt_cuda_optim_enqueue(lvt_backend *be, float *p, const float *g, float *m, float *v, size_t n,
                                       const float *scal, double *acc, double max_norm, const float *loss) {
    cudaStream_t s = (cudaStream_t)lvt_cuda_stream(be);
    cudaError_t rc = cudaMemsetAsync(acc, 0, sizeof(double), s);
    size_t blocks = (n + 255) / 256;
    if (blocks > 1024) blocks = 1024;
    if (blocks < 1) blocks = 1;
    size_t ablocks = (n + 255) / 256;
    if (ablocks > 65535 * 8) ablocks = 65535 * 8;
    if (ablocks < 1) ablocks = 1;
    if (rc == cudaSuccess) {
        k_sumsq_acc<<<(unsigned)blocks, 256, 0, s>>>(g, n, acc);
        k_adamw_dev<<<(unsigned)ablocks, 256, 0, s>>>(p, g, m, v, n, scal, acc, max_norm, loss);
        rc = cudaGetLastError();
    }
    if (rc != cudaSuccess) {
        fprintf(stderr, "lvt cuda: optimiser step: %s\n", cudaGetErrorString(rc));
        abort();
    }
}
