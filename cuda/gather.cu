/* gather.cu — the CUDA backend's resident-store entries of ops (include/lvt/devdata.h): pinned
 * staging of window indices (ops->index_*) and the gather kernel (ops->batch_gather) that
 * assembles ctx / target / fut / roll and their masks from the device-resident store, the GPU
 * twin of cpu_batch_gather in src/cpu/cpu_gather.c. */
#include <cuda_bf16.h>
#include <cuda_runtime.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cuda_internal.h"

/* Two pinned buffers used in turn; an event per buffer says when its last copy has run. */
typedef struct cuda_stage {
    int cap;
    int next;
    int64_t *host[2];
    cudaEvent_t done[2];
} cuda_stage;

int cu_index_stage_create(lvt_backend *be, void **out, int cap, lvt_err *e) {
    *out = NULL;
    cuda_stage *st = (cuda_stage *)calloc(1, sizeof *st);
    if (!st) return lvt_errf(e, "out of memory");
    st->cap = cap;
    for (int k = 0; k < 2; k++) {
        cudaError_t rc = cudaMallocHost((void **)&st->host[k], (size_t)cap * sizeof(int64_t));
        if (rc == cudaSuccess) rc = cudaEventCreateWithFlags(&st->done[k], cudaEventDisableTiming);
        if (rc != cudaSuccess) {
            cu_index_stage_destroy(be, st);
            return lvt_errf(e, "index staging: %s", cudaGetErrorString(rc));
        }
    }
    *out = st;
    return LVT_OK;
}

void cu_index_stage_destroy(lvt_backend *be, void *p) {
    (void)be;
    cuda_stage *st = (cuda_stage *)p;
    if (!st) return;
    for (int k = 0; k < 2; k++) {
        if (st->done[k]) {
            cudaEventSynchronize(st->done[k]);
            cudaEventDestroy(st->done[k]);
        }
        if (st->host[k]) cudaFreeHost(st->host[k]);
    }
    free(st);
}

int cu_index_upload(lvt_backend *be, void *p, int64_t *d_idx, const int64_t *idx, int n, lvt_err *e) {
    cuda_stage *st = (cuda_stage *)p;
    cudaStream_t s = cu_stream(be);
    if (n > st->cap) return lvt_errf(e, "index staging: %d indices for capacity %d", n, st->cap);
    int k = st->next;
    st->next ^= 1;
    cudaError_t rc = cudaEventSynchronize(st->done[k]); /* the copy that last read this buffer */
    if (rc == cudaSuccess) {
        memcpy(st->host[k], idx, (size_t)n * sizeof(int64_t));
        rc = cudaMemcpyAsync(d_idx, st->host[k], (size_t)n * sizeof(int64_t), cudaMemcpyHostToDevice, s);
    }
    if (rc == cudaSuccess) rc = cudaEventRecord(st->done[k], s);
    if (rc != cudaSuccess) return lvt_errf(e, "index upload: %s", cudaGetErrorString(rc));
    return LVT_OK;
}

__device__ float load_elem(const void *vec, int bf16, size_t i) {
    if (bf16) return __bfloat162float(((const __nv_bfloat16 *)vec)[i]);
    return ((const float *)vec)[i];
}

/* Block (j, slot): sample j, slot 0..L-1 context rows, L target, L+1..L+2 future rows,
 * L+3..L+2+H rollout truth rows. Each block locates its window (binary search over prefix). */
__global__ void k_gather(const void *vec, int bf16, const int64_t *prefix, const int64_t *offsets, int64_t A,
                         const int64_t *idx, int L, int D, int H, float *ctx, float *target, float *fut,
                         float *fut_mask, float *roll, float *roll_mask) {
    const int j = blockIdx.x, slot = blockIdx.y;
    const int64_t i = idx[j];
    int64_t lo = 0, hi = A; /* largest a with prefix[a] <= i */
    while (hi - lo > 1) {
        int64_t mid = lo + (hi - lo) / 2;
        if (prefix[mid] <= i) lo = mid;
        else hi = mid;
    }
    const int64_t s0 = offsets[lo] + (i - prefix[lo]);
    const int64_t t = s0 + L, nt = offsets[lo + 1] - t;
    int64_t row;
    int exists = 1;
    float *dst, *mask = NULL;
    if (slot < L) {
        row = s0 + slot;
        dst = ctx + ((size_t)j * L + slot) * D;
    } else if (slot == L) {
        row = t;
        dst = target + (size_t)j * D;
    } else if (slot < L + 3) {
        int k = slot - L - 1;
        row = t + 1 + k;
        exists = 1 + k < nt;
        dst = fut + ((size_t)j * 2 + k) * D;
        mask = fut_mask + (size_t)j * 2 + k;
    } else {
        int h = slot - L - 3;
        row = t + h;
        exists = h < nt;
        dst = roll + ((size_t)j * H + h) * D;
        mask = roll_mask + (size_t)j * H + h;
    }
    if (exists) {
        const size_t base = (size_t)row * D;
        for (int c = threadIdx.x; c < D; c += blockDim.x) dst[c] = load_elem(vec, bf16, base + c);
    } else {
        for (int c = threadIdx.x; c < D; c += blockDim.x) dst[c] = 0.0f;
    }
    if (mask && threadIdx.x == 0) *mask = exists ? 1.0f : 0.0f;
}

void cu_batch_gather(lvt_backend *be, const lvt_devdata *dd, lvt_devbatch *b, int n) {
    cudaStream_t s = cu_stream(be);
    if (n <= 0) return;
    dim3 grid((unsigned)n, (unsigned)(b->L + 3 + b->H));
    k_gather<<<grid, 128, 0, s>>>(dd->vectors, dd->prec == LVT_DEVDATA_BF16, dd->prefix, dd->offsets, dd->n_articles,
                                  b->idx, b->L, b->D, b->H, b->ctx, b->target, b->fut, b->fut_mask, b->roll,
                                  b->roll_mask);
    cu_after(be, cudaSuccess, "batch_gather", "n=%d L=%d D=%d H=%d %s", n, b->L, b->D, b->H,
             dd->prec == LVT_DEVDATA_BF16 ? "bf16" : "fp32");
}
