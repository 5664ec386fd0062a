/* comm.h — the process group: world size, rank, local rank; all-reduce of the flat gradient,
 * broadcast, barrier and a cross-rank "any" vote (used for preemption and fault agreement).
 * Implementations: MPI for host buffers (LVT_HAVE_MPI), a single-process one otherwise (or when
 * the program was started without mpirun and MPI is unavailable). NCCL for device buffers is
 * layered on top by the CUDA backend. */
#ifndef LVT_COMM_H
#define LVT_COMM_H

#include "lvt/common.h"

typedef struct lvt_comm {
    int rank, world;
    int local_rank, local_world;
    int is_mpi;       /* 1 when MPI was initialised by lvt_comm_init */
    void *impl;       /* private */
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

#endif
