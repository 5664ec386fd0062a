/* comm.h — the process group: world size, rank, local rank; all-reduce of the flat gradient,
 * broadcast, barrier and a cross-rank "any" vote (used for preemption and fault agreement).
 * Implementations: MPI for host buffers (LVT_HAVE_MPI), a single-process one otherwise (or when
 * the program was started without mpirun and MPI is unavailable). All-reduces of backend
 * buffers are layered on top: MPI in place, the backend's collective (NCCL, an optional ops
 * entry) or host staging. */
#ifndef LVT_COMM_H
#define LVT_COMM_H

#include "lvt/common.h"

typedef struct lvt_comm {
    int rank, world;
    int local_rank, local_world;
    int is_mpi;       /* 1 when MPI was initialised by lvt_comm_init */
    void *impl;       /* private */
    void *dev;        /* private: device all-reduce state (lvt_comm_device_init, src/train/comm_device.c) */
} lvt_comm;

typedef enum { LVT_COMM_SUM = 0, LVT_COMM_MAX = 1, LVT_COMM_MIN = 2 } lvt_comm_op;

/* Initialise (MPI_Init_thread when built with MPI; a 1-rank world otherwise). */
int lvt_comm_init(lvt_comm *c, int *argc, char ***argv, lvt_err *e);
void lvt_comm_finalize(lvt_comm *c);

/* In-place all-reduce of n floats / doubles / int64 on host buffers. avg divides by world. */
int lvt_comm_allreduce_f32(lvt_comm *c, float *buf, size_t n, lvt_comm_op op, int avg, lvt_err *e);
int lvt_comm_allreduce_f64(lvt_comm *c, double *buf, size_t n, lvt_comm_op op, lvt_err *e);
int lvt_comm_allreduce_i64(lvt_comm *c, int64_t *buf, size_t n, lvt_comm_op op, lvt_err *e);

/* Broadcast bytes from root to every rank. */
int lvt_comm_bcast(lvt_comm *c, void *buf, size_t bytes, int root, lvt_err *e);

int lvt_comm_barrier(lvt_comm *c, lvt_err *e);

/* Abort every rank (a fatal error on one rank must not leave the others hanging). */
void lvt_comm_abort(lvt_comm *c, int code);

/* ---- all-reduce of backend buffers (src/train/comm_device.c) ------------------------------------------
 * The path follows the backend's ops table (ops.h): memory that is host memory (ops->host_memory)
 * is reduced in place by MPI; a backend with the optional collective entries (ops->coll_*: NCCL
 * on the CUDA backend) reduces on its own stream; anything else is staged through the host. */

typedef struct lvt_backend lvt_backend;

/* How lvt_comm_allreduce_device moves data. */
typedef enum {
    LVT_COMM_DEV_NONE = 0,   /* world 1: nothing to reduce */
    LVT_COMM_DEV_HOST = 1,   /* the backend's buffers are host memory: MPI_Allreduce in place */
    LVT_COMM_DEV_NCCL = 2,   /* device buffers: the backend's collective (ncclAllReduce) on its stream */
    LVT_COMM_DEV_STAGED = 3  /* device buffers without NCCL: copy to host, MPI, copy back */
} lvt_comm_dev_mode;

/* Prepare all-reduces of buffers that live in be's memory (collective: every rank calls it).
 * The backend's collective is used when every rank's backend has one (a CUDA build with NCCL and
 * a device on every rank; the id is made on rank 0 and broadcast with lvt_comm_bcast);
 * otherwise MPI in place (host memory) or host staging. Environment: LVT_COMM_DEVICE=staged
 * forces host staging (for debugging and tests). Calling it again replaces the earlier set-up.
 * Later all-reduces must pass the same be; free the state before destroying be. */
int lvt_comm_device_init(lvt_comm *c, lvt_backend *be, lvt_err *e);

/* In-place all-reduce of n floats in be's memory; avg (with LVT_COMM_SUM only) divides by
 * world. The result is ordered before later work on be (NCCL: enqueued on its stream). */
int lvt_comm_allreduce_device(lvt_comm *c, lvt_backend *be, float *buf, size_t n, lvt_comm_op op,
                              int avg, lvt_err *e);

/* Sum n <= 256 floats of be's memory over the ranks through the host (MPI), in place: the loss's
 * per-step batch statistics (its reduce callback in lvt train and lvt bench). Needs no device set-up. */
int lvt_comm_sum_small_staged(lvt_comm *c, lvt_backend *be, float *buf, int n, lvt_err *e);

/* The path chosen by lvt_comm_device_init, and its name ("none", "mpi", "nccl", "staged"). */
lvt_comm_dev_mode lvt_comm_device_mode(const lvt_comm *c);
const char *lvt_comm_device_mode_name(lvt_comm_dev_mode m);

/* Why the backend's collective is not used ("" when it is, or for world 1): e.g. "4 ranks on
 * this node share 2 GPUs" (then every rank stages through the host). */
const char *lvt_comm_device_note(const lvt_comm *c);

/* Wait until be's stream has finished its work, all-reduces included: with NCCL through
 * ops->coll_wait, which turns a failed peer into an error instead of a hang; otherwise a sync. */
int lvt_comm_device_wait(lvt_comm *c, lvt_backend *be, lvt_err *e);

/* Release the device state (the backend's communicator, staging buffer). Safe to call twice. */
void lvt_comm_device_free(lvt_comm *c);

#endif
