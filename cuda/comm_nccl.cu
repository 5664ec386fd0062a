/* comm_nccl.cu — the CUDA backend's collective entries of ops (ops->coll_*, include/lvt/comm.h):
 * an NCCL communicator made from a unique id on the backend's device, and in-place
 * ncclAllReduce on the backend's stream. Compiled only when nccl.h was found (LVT_HAVE_NCCL);
 * without it the table leaves the entries NULL and src/train/comm_device.c stages through the
 * host. */
#ifdef LVT_HAVE_NCCL

#include <cuda_runtime.h>
#include <nccl.h>
#include <stdlib.h>
#include <string.h>

#include "cuda_internal.h"

static_assert(sizeof(ncclUniqueId) == LVT_COLL_ID_BYTES, "ncclUniqueId size changed");

typedef struct cu_nccl {
    ncclComm_t comm;
} cu_nccl;

static int nccl_check(ncclResult_t rc, const char *what, lvt_err *e) {
    if (rc == ncclSuccess) return LVT_OK;
    return lvt_errf(e, "%s failed: %s", what, ncclGetErrorString(rc));
}

int cu_coll_unique_id(lvt_backend *be, void *id, lvt_err *e) {
    (void)be;
    ncclUniqueId u;
    if (nccl_check(ncclGetUniqueId(&u), "ncclGetUniqueId", e)) return LVT_ERROR;
    memcpy(id, &u, sizeof u);
    return LVT_OK;
}

int cu_coll_create(lvt_backend *be, void **out, const void *id, int rank, int world, lvt_err *e) {
    *out = NULL;
    cudaError_t crc = cudaSetDevice(be->device);
    if (crc != cudaSuccess) return lvt_errf(e, "cudaSetDevice(%d): %s", be->device, cudaGetErrorString(crc));
    cu_nccl *nc = (cu_nccl *)calloc(1, sizeof *nc);
    if (!nc) return lvt_errf(e, "out of memory");
    ncclUniqueId u;
    memcpy(&u, id, sizeof u);
    if (nccl_check(ncclCommInitRank(&nc->comm, world, u, rank), "ncclCommInitRank", e)) {
        free(nc);
        return LVT_ERROR;
    }
    *out = nc;
    return LVT_OK;
}

int cu_coll_allreduce(lvt_backend *be, void *p, float *buf, size_t n, lvt_comm_op op, int avg, lvt_err *e) {
    cu_nccl *nc = (cu_nccl *)p;
    ncclRedOp_t rop = op == LVT_COMM_MAX ? ncclMax : op == LVT_COMM_MIN ? ncclMin : (avg ? ncclAvg : ncclSum);
    ncclResult_t rc = ncclAllReduce(buf, buf, n, ncclFloat32, rop, nc->comm, cu_stream(be));
    if (nccl_check(rc, "ncclAllReduce", e)) return LVT_ERROR;
    return LVT_OK;
}

void cu_coll_destroy(lvt_backend *be, void *p) {
    (void)be;
    cu_nccl *nc = (cu_nccl *)p;
    if (!nc) return;
    ncclCommDestroy(nc->comm);
    free(nc);
}

#endif /* LVT_HAVE_NCCL */
