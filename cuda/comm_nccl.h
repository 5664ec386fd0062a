/* comm_nccl.h — private: the NCCL communicator for device buffers (cuda/comm_nccl.cu). Used by
 * src/train/comm_device.c, which makes the unique id on rank 0 and broadcasts it over MPI. */
#ifndef LVT_COMM_NCCL_H
#define LVT_COMM_NCCL_H

#include "lvt/comm.h"

#ifdef __cplusplus
extern "C" {
#endif

#define LVT_NCCL_ID_BYTES 128 /* sizeof(ncclUniqueId), checked in comm_nccl.cu */

typedef struct lvt_nccl lvt_nccl;

/* ncclGetUniqueId into id[LVT_NCCL_ID_BYTES] (rank 0 only). */
int lvt_nccl_unique_id(void *id, lvt_err *e);

/* ncclCommInitRank(world, id, rank) on CUDA device `device` (collective over the ranks). */
int lvt_nccl_create(lvt_nccl **out, const void *id, int rank, int world, int device, lvt_err *e);

/* In-place ncclAllReduce of n floats on `stream` (a cudaStream_t); avg uses ncclAvg. */
int lvt_nccl_allreduce(lvt_nccl *nc, float *buf, size_t n, lvt_comm_op op, int avg, void *stream,
                       lvt_err *e);

void lvt_nccl_destroy(lvt_nccl *nc);

#ifdef __cplusplus
}
#endif

#endif
