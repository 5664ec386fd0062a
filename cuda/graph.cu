/* graph.cu — the CUDA backend's graph entries of ops (ops->graph_*, include/lvt/graph.h): stream
 * capture on the backend's stream with the backend's keyed draws switched to device-side
 * step / sample base, instantiation, and replay preceded by a one-thread kernel that writes the
 * replayed step's step and sample base where the captured kernels read them. A capture fails
 * (lvt_graph_end returns the reason) when an op could not be recorded without allocating or
 * synchronising (cu_capture_fail: e.g. a scratch buffer that would have to grow). */
#include <cuda_runtime.h>
#include <stdio.h>
#include <stdlib.h>

#include "cuda_internal.h"

typedef struct cu_graph {
    cudaGraph_t graph;
    cudaGraphExec_t exec;
} cu_graph;

int cu_graph_begin(lvt_backend *be, uint64_t ref_step, int64_t ref_base, lvt_err *e) {
    cuda_impl *im = cu_impl(be);
    cudaError_t rc = cudaStreamBeginCapture(cu_stream(be), cudaStreamCaptureModeThreadLocal);
    if (rc != cudaSuccess) {
        cudaGetLastError();
        return lvt_errf(e, "cudaStreamBeginCapture: %s", cudaGetErrorString(rc));
    }
    im->capturing = 1;
    im->capture_err[0] = 0;
    im->rng_ref_step = ref_step;
    im->rng_ref_base = ref_base;
    return LVT_OK;
}

int cu_graph_end(lvt_backend *be, void **out, lvt_err *e) {
    *out = NULL;
    cuda_impl *im = cu_impl(be);
    im->capturing = 0;
    cudaGraph_t graph = NULL;
    cudaError_t rc = cudaStreamEndCapture(cu_stream(be), &graph);
    if (rc != cudaSuccess || !graph || im->capture_err[0]) {
        if (graph) cudaGraphDestroy(graph);
        cudaGetLastError();
        if (im->capture_err[0]) return lvt_errf(e, "CUDA graph capture failed: %s", im->capture_err);
        return lvt_errf(e, "CUDA graph capture failed: %s", cudaGetErrorString(rc));
    }
    cudaGraphExec_t exec = NULL;
    rc = cudaGraphInstantiate(&exec, graph, 0);
    if (rc != cudaSuccess) {
        cudaGetLastError();
        cudaGraphDestroy(graph);
        return lvt_errf(e, "cudaGraphInstantiate: %s", cudaGetErrorString(rc));
    }
    cu_graph *g = (cu_graph *)calloc(1, sizeof *g);
    if (!g) {
        cudaGraphExecDestroy(exec);
        cudaGraphDestroy(graph);
        return lvt_errf(e, "out of memory");
    }
    g->graph = graph;
    g->exec = exec;
    im->n_graphs++;
    *out = g;
    return LVT_OK;
}

__global__ void k_set_rng(uint64_t *slot, uint64_t step, uint64_t base) {
    slot[0] = step;
    slot[1] = base;
}

int cu_graph_replay(lvt_backend *be, void *p, uint64_t step, int64_t sample_base, lvt_err *e) {
    cu_graph *g = (cu_graph *)p;
    cudaStream_t s = cu_stream(be);
    k_set_rng<<<1, 1, 0, s>>>(cu_impl(be)->d_rng, step, (uint64_t)sample_base);
    cudaError_t rc = cudaGetLastError();
    if (rc == cudaSuccess) rc = cudaGraphLaunch(g->exec, s);
    if (rc != cudaSuccess) return lvt_errf(e, "CUDA graph replay: %s", cudaGetErrorString(rc));
    cu_after(be, cudaSuccess, "graph_replay", "step %llu", (unsigned long long)step); /* LVT_CUDA_SYNC */
    return LVT_OK;
}

void cu_graph_destroy(lvt_backend *be, void *p) {
    cu_graph *g = (cu_graph *)p;
    if (!g) return;
    cudaStreamSynchronize(cu_stream(be));
    cudaGraphExecDestroy(g->exec);
    cudaGraphDestroy(g->graph);
    cu_impl(be)->n_graphs--;
    free(g);
}
