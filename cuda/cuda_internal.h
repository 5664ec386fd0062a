/* cuda_internal.h — private to cuda/: what the files of the CUDA backend share. The backend's
 * state (stream, cuBLAS, scratch buffers, the BF16 weight shadow, capture state), the one error
 * path every op ends in (cu_after: names the op and its shapes; LVT_CUDA_SYNC=1 synchronises
 * after every op so a kernel fault is pinned on the op that caused it), the scratch helper that
 * fails a graph capture instead of allocating inside it, and the entry points the files
 * contribute to the ops table in cuda_backend.cu:
 *   cuda_backend.cu   memory, errors, scratch, probe, construction, the table
 *   cuda_dense.cu     GEMM (fp32 / TF32 / BF16 with the weight shadow), elementwise, broadcast,
 *                     reductions, AdamW, the P4 helpers
 *   cuda_norm.cu      layernorm, l2norm, activations, dropout, context drop
 *   cuda_attention.cu fused attention (shared-memory kernel per (batch, head); row kernels for
 *                     sequences whose working set exceeds the per-block shared memory)
 *   graph.cu, gather.cu, comm_nccl.cu  the optional entries (graphs, resident-store gather, NCCL)
 * C++ (nvcc) only; nothing outside cuda/ includes it. */
#ifndef LVT_CUDA_INTERNAL_H
#define LVT_CUDA_INTERNAL_H

#include <cublas_v2.h>
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include "lvt/elementwise.h" /* C++-safe (math.h, inline functions): outside the extern "C" block */
extern "C" {
#include "lvt/common.h"
#include "lvt/devdata.h"
#include "lvt/ops.h"
}

/* Scratch buffers of the backend (grown on demand, never inside a graph capture). */
enum { CU_SCR_BF_A = 0, CU_SCR_BF_B, CU_SCR_ATTN, CU_SCR_RED, CU_SCR_COUNT };
#define CU_RETIRED_MAX 32

typedef struct cuda_impl {
    cudaStream_t stream;
    cublasHandle_t blas;
    void *blas_ws;        /* cuBLAS workspace set explicitly, so graph capture never allocates */
    double *d_acc;        /* device accumulator for sum/sumsq */
    void *scr[CU_SCR_COUNT];
    size_t scr_cap[CU_SCR_COUNT];
    /* buffers replaced while a graph may still point at them: freed at destroy */
    void *retired[CU_RETIRED_MAX];
    int n_retired;
    int n_graphs;         /* instantiated graphs alive (graph.cu) */
    /* BF16 weight shadow (BF16 math only): the buffer the first AdamW call updates (the flat
     * parameters) kept as bf16, rewritten by every AdamW step, so weight operands of BF16 GEMMs
     * are not converted on every call. A memory op that writes into the region converts it again
     * right after (in stream order); inside a capture it marks it dirty instead and the next GEMM
     * that reads it converts it (inside the graph, so every replay does). */
    const float *sh_src;
    __nv_bfloat16 *sh;
    size_t sh_n;
    int sh_dirty;
    int smem_optin;       /* dynamic shared memory one block may opt in to (bytes) */
    int sync_ops;         /* LVT_CUDA_SYNC=1: synchronise and check after every op */
    int attn_rows;        /* LVT_CUDA_ATTN=rows: always the row kernels (tests) */
    /* graph capture (graph.cu): while capturing, keyed draws read step / sample base from
     * d_rng[0], d_rng[1] (offset by key value - the reference given at capture), nothing
     * synchronises, and a first failure (e.g. a scratch buffer that would have to grow) is kept
     * in capture_err to fail lvt_graph_end. */
    int capturing;
    char capture_err[256];
    uint64_t *d_rng;
    uint64_t rng_ref_step;
    int64_t rng_ref_base;
} cuda_impl;

static inline cuda_impl *cu_impl(lvt_backend *be) { return (cuda_impl *)be->impl; }
static inline cudaStream_t cu_stream(lvt_backend *be) { return cu_impl(be)->stream; }

/* ---- errors (cuda_backend.cu) ----
 * cu_after(be, rc, op, fmt, ...): the end of every op. rc is the status of an API call of the op
 * (cudaSuccess if none); then the launch status (cudaGetLastError); with LVT_CUDA_SYNC=1 (and
 * not capturing) a stream synchronise. On any error: one line on stderr naming the op and its
 * shapes (fmt), and whether the fault is certainly this op's (launch errors, sync mode) or may
 * be an earlier kernel's (asynchronous faults surface at the next call), then abort(): a CUDA
 * fault inside a step is not recoverable (the context is lost), and a dead rank ends the job. */
void cu_after(lvt_backend *be, cudaError_t rc, const char *op, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void cu_blas_after(lvt_backend *be, cublasStatus_t st, const char *op, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* The capture failed for a reason of the backend's (kept for lvt_graph_end; first one wins). */
void cu_capture_fail(lvt_backend *be, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Scratch buffer `which` of at least `bytes`; grown outside a capture (the old buffer is retired
 * while graphs exist, since a graph may still use it). Inside a capture that needs it to grow:
 * NULL and the capture fails (cu_capture_fail); the caller skips its work. */
void *cu_scratch(lvt_backend *be, int which, size_t bytes, const char *op);

/* After a write into [p, p + bytes): when it overlaps the BF16 shadow's buffer, convert the
 * shadow again (inside a capture: mark it dirty for the next GEMM). */
void cu_shadow_touch(lvt_backend *be, const void *p, size_t bytes);
/* Convert the whole shadowed buffer into the shadow now (stream order). */
void cu_shadow_refresh(lvt_backend *be);
/* Once per backend: the block attention kernels may use all the shared memory a block can get. */
void cu_attention_setup(lvt_backend *be);

/* Grid size for a grid-stride loop over n elements. */
int cu_blocks(size_t n, int threads);

/* ---- the primitives (cuda_dense.cu, cuda_norm.cu, cuda_attention.cu) ---- */
void cu_gemm(lvt_backend *be, int ta, int tb, int M, int N, int K, float alpha, const float *A, int lda,
             const float *B, int ldb, float beta, float *C, int ldc);
void cu_add_bcast(lvt_backend *be, float *y, const float *t, int outer, int inner);
void cu_sum_bcast(lvt_backend *be, const float *dy, float *dt, int outer, int inner);
void cu_copy_rows(lvt_backend *be, float *dst, int ldd, const float *src, int lds, int M, int N);
void cu_add(lvt_backend *be, const float *a, const float *b, float *y, size_t n);
void cu_axpy(lvt_backend *be, float alpha, const float *x, float *y, size_t n);
void cu_scale(lvt_backend *be, float *x, float alpha, size_t n);
void cu_dot_rows(lvt_backend *be, const float *a, int lda, const float *b, int ldb, float *out, int M, int N);
double cu_sum(lvt_backend *be, const float *x, size_t n);
double cu_sumsq(lvt_backend *be, const float *x, size_t n);
void cu_adamw(lvt_backend *be, float *p, const float *g, float *m, float *v, size_t n, float lr, float beta1,
              float beta2, float eps, float weight_decay, long t, float grad_scale);
void cu_adamw_clipped(lvt_backend *be, float *p, const float *g, float *m, float *v, size_t n,
                      const lvt_adamw_scalars *sc, double *acc, double max_norm, const float *loss);
void cu_vmap(lvt_backend *be, lvt_vmap_op op, const float *a, const float *b, int bs, const float *c, float s0,
             float s1, float *y, int n);
void cu_reduce_sum(lvt_backend *be, const float *x, int n, float scale, float *out);
void cu_scale_rows_add(lvt_backend *be, const float *coef, int cs, float alpha, const float *x, int ldx, float *y,
                       int ldy, int M, int N);

void cu_layernorm_fwd(lvt_backend *be, const float *x, const float *g, const float *b, float *y, float *mean,
                      float *rstd, int M, int N, float eps);
void cu_layernorm_bwd(lvt_backend *be, const float *dy, const float *x, const float *mean, const float *rstd,
                      const float *g, float *dx, float *dg, float *db, int M, int N);
void cu_l2norm_fwd(lvt_backend *be, const float *x, float *y, float *norms, int M, int N, float eps);
void cu_l2norm_bwd(lvt_backend *be, const float *dy, const float *x, const float *norms, float *dx, int M, int N,
                   float eps);
void cu_relu_fwd(lvt_backend *be, const float *x, float *y, size_t n);
void cu_relu_bwd(lvt_backend *be, const float *dy, const float *x, float *dx, size_t n);
void cu_gelu_fwd(lvt_backend *be, const float *x, float *y, size_t n);
void cu_gelu_bwd(lvt_backend *be, const float *dy, const float *x, float *dx, size_t n);
void cu_dropout_fwd(lvt_backend *be, const float *x, float *y, uint8_t *mask, int n_samples, int per_sample,
                    const lvt_dropout_key *key);
void cu_dropout_bwd(lvt_backend *be, const float *dy, const uint8_t *mask, float *dx, size_t n, float p);
void cu_context_drop(lvt_backend *be, float *ctx, int B, int L, int D, const lvt_dropout_key *key,
                     lvt_context_drop_mode mode);

void cu_attention_fwd(lvt_backend *be, const float *q, int ldq, const float *k, int ldk, const float *v, int ldv,
                      float *out, int ldo, float *probs, uint8_t *drop_mask, int B, int Lq, int Lk, int H, int hd,
                      int causal, const lvt_dropout_key *key);
void cu_attention_bwd(lvt_backend *be, const float *dout, int ldo, const float *q, int ldq, const float *k, int ldk,
                      const float *v, int ldv, const float *probs, const uint8_t *drop_mask, float drop_p, float *dq,
                      float *dk, float *dv, int B, int Lq, int Lk, int H, int hd);

/* Block sum of v over the block (every thread gets the total); sh holds 32 T. */
template <typename T>
__device__ T cu_block_sum(T v, T *sh) {
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    int w = threadIdx.x >> 5, l = threadIdx.x & 31;
    if (l == 0) sh[w] = v;
    __syncthreads();
    int nw = (blockDim.x + 31) >> 5;
    v = (threadIdx.x < nw) ? sh[threadIdx.x] : (T)0;
    if (w == 0)
        for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    if (threadIdx.x == 0) sh[0] = v;
    __syncthreads();
    v = sh[0];
    __syncthreads();
    return v;
}

/* Step and sample base of a key as passed to a kernel: absolute when eager, relative to the
 * capture reference when the kernel adds the device values at replay (*dev set). */
void cu_rng_args(lvt_backend *be, const lvt_dropout_key *key, uint64_t *step, int64_t *base, const uint64_t **dev);

#define CU_GRID_LOOP(i, n) \
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < (n); i += (size_t)gridDim.x * blockDim.x)

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
int cu_coll_wait(lvt_backend *be, void *coll, lvt_err *e);
void cu_coll_destroy(lvt_backend *be, void *coll);
#endif

#endif
