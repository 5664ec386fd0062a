/* comm_nccl.cu — the CUDA backend's collective entries of ops (ops->coll_*, include/lvt/comm.h):
 * an NCCL communicator made from a unique id on the backend's device, in-place ncclAllReduce on
 * the backend's stream, and the wait that polls NCCL's asynchronous error state while the
 * stream drains, so that a failed peer (or a network error) ends the wait with an error and an
 * aborted communicator instead of a hang. Eager all-reduces wait at once; inside a graph capture
 * they are only enqueued and the caller waits with ops->coll_wait. Compiled only when nccl.h was
 * found (LVT_HAVE_NCCL); without it the table leaves the entries NULL and
 * src/train/comm_device.c stages through the host. */
#ifdef LVT_HAVE_NCCL

#include <cuda_runtime.h>
#include <nccl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cuda_internal.h"

static_assert(sizeof(ncclUniqueId) == LVT_COLL_ID_BYTES, "ncclUniqueId size changed");

typedef struct cu_nccl {
    ncclComm_t comm; /* NULL once aborted */
    cudaEvent_t done;
    char dead[200];  /* why the communicator was aborted */
} cu_nccl;

static int nccl_check(ncclResult_t rc, const char *what, lvt_err *e) {
    if (rc == ncclSuccess) return LVT_OK;
    return lvt_errf(e, "%s failed: %s", what, ncclGetErrorString(rc));
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* LVT_NCCL_TIMEOUT_S (default 600): how long one all-reduce may take before the job gives up. */
static double timeout_s(void) {
    const char *v = getenv("LVT_NCCL_TIMEOUT_S");
    double t = v && *v ? atof(v) : 600.0;
    return t > 0 ? t : 600.0;
}

static int abort_comm(cu_nccl *nc, lvt_err *e, const char *why) {
    snprintf(nc->dead, sizeof nc->dead, "%s", why);
    if (nc->comm) ncclCommAbort(nc->comm);
    nc->comm = NULL;
    return lvt_errf(e, "NCCL: %s", nc->dead);
}

int cu_coll_wait(lvt_backend *be, void *p, lvt_err *e) {
    cu_nccl *nc = (cu_nccl *)p;
    if (!nc->comm) return lvt_errf(e, "NCCL communicator aborted earlier: %s", nc->dead);
    cudaError_t rc = cudaEventRecord(nc->done, cu_stream(be));
    if (rc != cudaSuccess) return lvt_errf(e, "NCCL wait: %s", cudaGetErrorString(rc));
    const double t0 = now_s(), limit = timeout_s();
    for (long it = 0;; it++) {
        rc = cudaEventQuery(nc->done);
        if (rc == cudaSuccess) return LVT_OK;
        if (rc != cudaErrorNotReady) {
            cu_after(be, rc, "coll_wait", "NCCL all-reduce on the stream"); /* a kernel fault: fatal */
            return LVT_ERROR;
        }
        ncclResult_t st = ncclSuccess;
        ncclCommGetAsyncError(nc->comm, &st);
        char why[200];
        if (st != ncclSuccess && st != ncclInProgress) {
            snprintf(why, sizeof why, "a peer or the network failed during an all-reduce (%s); communicator aborted",
                     ncclGetErrorString(st));
            return abort_comm(nc, e, why);
        }
        if (now_s() - t0 > limit) {
            snprintf(why, sizeof why, "an all-reduce did not finish within %.0f s (LVT_NCCL_TIMEOUT_S); "
                                      "communicator aborted", limit);
            return abort_comm(nc, e, why);
        }
        if (it < 2000) sched_yield();
        else {
            struct timespec ts = {0, 100000};
            nanosleep(&ts, NULL);
        }
    }
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
    if ((crc = cudaEventCreateWithFlags(&nc->done, cudaEventDisableTiming)) != cudaSuccess) {
        free(nc);
        return lvt_errf(e, "NCCL set-up: %s", cudaGetErrorString(crc));
    }
    ncclUniqueId u;
    memcpy(&u, id, sizeof u);
    if (nccl_check(ncclCommInitRank(&nc->comm, world, u, rank), "ncclCommInitRank", e)) {
        cudaEventDestroy(nc->done);
        free(nc);
        return lvt_err_prefix(e, "rank %d on device %d", rank, be->device);
    }
    *out = nc;
    return LVT_OK;
}

int cu_coll_allreduce(lvt_backend *be, void *p, float *buf, size_t n, lvt_comm_op op, int avg, lvt_err *e) {
    cu_nccl *nc = (cu_nccl *)p;
    if (!nc->comm) return lvt_errf(e, "NCCL communicator aborted earlier: %s", nc->dead);
    ncclRedOp_t rop = op == LVT_COMM_MAX ? ncclMax : op == LVT_COMM_MIN ? ncclMin : (avg ? ncclAvg : ncclSum);
    ncclResult_t rc = ncclAllReduce(buf, buf, n, ncclFloat32, rop, nc->comm, cu_stream(be));
    if (nccl_check(rc, "ncclAllReduce", e)) return LVT_ERROR;
    if (cu_impl(be)->capturing) return LVT_OK; /* the caller waits after the replay (coll_wait) */
    return cu_coll_wait(be, nc, e);
}

void cu_coll_destroy(lvt_backend *be, void *p) {
    (void)be;
    cu_nccl *nc = (cu_nccl *)p;
    if (!nc) return;
    if (nc->comm) ncclCommDestroy(nc->comm);
    cudaEventDestroy(nc->done);
    free(nc);
}

#endif /* LVT_HAVE_NCCL */
