/* comm_nccl.cu — NCCL all-reduce of device buffers: communicator creation from a unique id on
 * the device of the local rank, and in-place ncclAllReduce on the backend's stream. Compiled to
 * stubs that report "built without NCCL" when nccl.h was not found (LVT_HAVE_NCCL unset). */
#include <cuda_runtime.h>
#include <stdlib.h>
#include <string.h>
#ifdef LVT_HAVE_NCCL
#include <nccl.h>
#endif

extern "C" {
#include "lvt/common.h"
#include "comm_nccl.h"
}

#ifdef LVT_HAVE_NCCL

static_assert(sizeof(ncclUniqueId) == LVT_NCCL_ID_BYTES, "ncclUniqueId size changed");

struct lvt_nccl {
    ncclComm_t comm;
    int device;
};

static int nccl_check(ncclResult_t rc, const char *what, lvt_err *e) {
    if (rc == ncclSuccess) return LVT_OK;
    return lvt_errf(e, "%s failed: %s", what, ncclGetErrorString(rc));
}

extern "C" int lvt_nccl_unique_id(void *id, lvt_err *e) {
    ncclUniqueId u;
    if (nccl_check(ncclGetUniqueId(&u), "ncclGetUniqueId", e)) return LVT_ERROR;
    memcpy(id, &u, sizeof u);
    return LVT_OK;
}

extern "C" int lvt_nccl_create(lvt_nccl **out, const void *id, int rank, int world, int device, lvt_err *e) {
    *out = NULL;
    cudaError_t crc = cudaSetDevice(device);
    if (crc != cudaSuccess) return lvt_errf(e, "cudaSetDevice(%d): %s", device, cudaGetErrorString(crc));
    lvt_nccl *nc = (lvt_nccl *)calloc(1, sizeof *nc);
    if (!nc) return lvt_errf(e, "out of memory");
    ncclUniqueId u;
    memcpy(&u, id, sizeof u);
    if (nccl_check(ncclCommInitRank(&nc->comm, world, u, rank), "ncclCommInitRank", e)) {
        free(nc);
        return LVT_ERROR;
    }
    nc->device = device;
    *out = nc;
    return LVT_OK;
}

extern "C" int lvt_nccl_allreduce(lvt_nccl *nc, float *buf, size_t n, lvt_comm_op op, int avg, void *stream,
                                  lvt_err *e) {
    ncclRedOp_t rop = op == LVT_COMM_MAX ? ncclMax : op == LVT_COMM_MIN ? ncclMin : (avg ? ncclAvg : ncclSum);
    ncclResult_t rc = ncclAllReduce(buf, buf, n, ncclFloat32, rop, nc->comm, (cudaStream_t)stream);
    if (nccl_check(rc, "ncclAllReduce", e)) return LVT_ERROR;
    return LVT_OK;
}

extern "C" void lvt_nccl_destroy(lvt_nccl *nc) {
    if (!nc) return;
    ncclCommDestroy(nc->comm);
    free(nc);
}

#else /* built without NCCL */

struct lvt_nccl {
    int unused;
};

extern "C" int lvt_nccl_unique_id(void *id, lvt_err *e) {
    (void)id;
    return lvt_errf(e, "this lvt was built without NCCL");
}

extern "C" int lvt_nccl_create(lvt_nccl **out, const void *id, int rank, int world, int device, lvt_err *e) {
    (void)id; (void)rank; (void)world; (void)device;
    *out = NULL;
    return lvt_errf(e, "this lvt was built without NCCL");
}

extern "C" int lvt_nccl_allreduce(lvt_nccl *nc, float *buf, size_t n, lvt_comm_op op, int avg, void *stream,
                                  lvt_err *e) {
    (void)nc; (void)buf; (void)n; (void)op; (void)avg; (void)stream;
    return lvt_errf(e, "this lvt was built without NCCL");
}

extern "C" void lvt_nccl_destroy(lvt_nccl *nc) { (void)nc; }

#endif
