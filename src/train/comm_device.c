/* comm_device.c — all-reduce of buffers in a backend's memory (include/lvt/comm.h): in place
 * over MPI for backends whose memory is host memory (ops->host_memory), the backend's own
 * collective on its stream where it has one (the optional ops->coll_* entries: NCCL on CUDA; the
 * unique id is made on rank 0 and broadcast here over MPI), and host staging (device -> host,
 * MPI_Allreduce, host -> device) otherwise. */
#include "lvt/comm.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lvt/ops.h"

/* Host all-reduces go in pieces of at most 4 Mi floats (16 MB): MPI's temporary buffers then
 * stay below glibc's largest mmap threshold (32 MB) and are reused instead of being mapped and
 * page-faulted afresh on every call, which made a 71.5 MB all-reduce 3-5x slower on the 2-core
 * development VM (docs/scaling.md). */
#define COMM_DEV_PIECE ((size_t)1 << 22)

typedef struct comm_dev {
    lvt_comm_dev_mode mode;
    lvt_backend *be; /* the backend the state was made for */
    float *host;     /* staging buffer (LVT_COMM_DEV_STAGED) */
    size_t host_n;
    void *coll;      /* the backend's communicator (LVT_COMM_DEV_NCCL) */
    char note[192];  /* why the backend's collective is not used, when it is not */
} comm_dev;

const char *lvt_comm_device_mode_name(lvt_comm_dev_mode m) {
    switch (m) {
    case LVT_COMM_DEV_HOST: return "mpi";
    case LVT_COMM_DEV_NCCL: return "nccl";
    case LVT_COMM_DEV_STAGED: return "staged";
    default: return "none";
    }
}

static int allreduce_host(lvt_comm *c, float *buf, size_t n, lvt_comm_op op, int avg, lvt_err *e) {
    for (size_t off = 0; off < n; off += COMM_DEV_PIECE) {
        size_t k = n - off < COMM_DEV_PIECE ? n - off : COMM_DEV_PIECE;
        if (lvt_comm_allreduce_f32(c, buf + off, k, op, avg, e)) return LVT_ERROR;
    }
    return LVT_OK;
}

const char *lvt_comm_device_note(const lvt_comm *c) {
    const comm_dev *d = c->dev;
    return d ? d->note : "";
}

int lvt_comm_device_wait(lvt_comm *c, lvt_backend *be, lvt_err *e) {
    comm_dev *d = c->dev;
    if (d && d->mode == LVT_COMM_DEV_NCCL && be->ops->coll_wait) return be->ops->coll_wait(be, d->coll, e);
    be->ops->sync(be);
    return LVT_OK;
}

lvt_comm_dev_mode lvt_comm_device_mode(const lvt_comm *c) {
    const comm_dev *d = c->dev;
    return d ? d->mode : LVT_COMM_DEV_NONE;
}

void lvt_comm_device_free(lvt_comm *c) {
    comm_dev *d = c->dev;
    if (!d) return;
    if (d->coll) d->be->ops->coll_destroy(d->be, d->coll);
    free(d->host);
    free(d);
    c->dev = NULL;
}

/* LVT_COMM_DEVICE=staged: stage through a host buffer whatever the backend (debugging; lets the
 * staging path be tested on the CPU backend, where the copies are memcpy). */
static int force_staged(void) {
    const char *env = getenv("LVT_COMM_DEVICE");
    return env && !strcmp(env, "staged");
}

/* 1 when this rank would use the backend's collective: the backend has one (NCCL in a CUDA
 * build with NCCL), it is not switched off, and the node has a GPU for each of its ranks (NCCL
 * refuses two ranks on one device; with more ranks than GPUs the ranks share devices through
 * host staging). Else 0 with the reason in note. */
static int wants_coll(const lvt_comm *c, const lvt_backend *be, char *note, size_t cap) {
    if (be->ops->coll_allreduce == NULL) {
        snprintf(note, cap, "the %s backend has no collective", be->ops->name);
        return 0;
    }
    if (force_staged()) {
        snprintf(note, cap, "LVT_COMM_DEVICE=staged");
        return 0;
    }
    int gpus = lvt_cuda_devices();
    if (c->local_world > gpus) {
        snprintf(note, cap, "%d ranks on this node share %d GPU%s", c->local_world, gpus, gpus == 1 ? "" : "s");
        return 0;
    }
    return 1;
}

/* The collective set-up: the unique id on rank 0, shared by a vote (so no rank waits in the
 * broadcast when rank 0 failed) and a broadcast, then the collective creation. */
static int coll_init(lvt_comm *c, comm_dev *d, lvt_backend *be, lvt_err *e) {
    unsigned char id[LVT_COLL_ID_BYTES];
    memset(id, 0, sizeof id);
    int64_t ok_all = 1;
    if (c->rank == 0 && be->ops->coll_unique_id(be, id, e)) ok_all = 0;
    if (lvt_comm_allreduce_i64(c, &ok_all, 1, LVT_COMM_MIN, e)) return LVT_ERROR;
    if (!ok_all) return c->rank == 0 ? LVT_ERROR : lvt_errf(e, "NCCL set-up failed on rank 0");
    if (lvt_comm_bcast(c, id, sizeof id, 0, e)) return LVT_ERROR;
    if (be->ops->coll_create(be, &d->coll, id, c->rank, c->world, e)) return LVT_ERROR;
    d->mode = LVT_COMM_DEV_NCCL;
    return LVT_OK;
}

int lvt_comm_device_init(lvt_comm *c, lvt_backend *be, lvt_err *e) {
    lvt_comm_device_free(c);
    comm_dev *d = lvt_calloc(1, sizeof *d, e);
    if (!d) return LVT_ERROR;
    d->be = be;
    c->dev = d;
    if (c->world == 1) {
        d->mode = LVT_COMM_DEV_NONE;
        return LVT_OK;
    }
    /* the collective only when every rank can take part: one rank on the CPU means MPI for all */
    int64_t all_coll = wants_coll(c, be, d->note, sizeof d->note);
    if (lvt_comm_allreduce_i64(c, &all_coll, 1, LVT_COMM_MIN, e)) return LVT_ERROR;
    if (all_coll) return coll_init(c, d, be, e);
    if (!d->note[0]) snprintf(d->note, sizeof d->note, "another rank cannot use the backend's collective");
    d->mode = be->ops->host_memory && !force_staged() ? LVT_COMM_DEV_HOST : LVT_COMM_DEV_STAGED;
    return LVT_OK;
}

int lvt_comm_allreduce_device(lvt_comm *c, lvt_backend *be, float *buf, size_t n, lvt_comm_op op, int avg,
                              lvt_err *e) {
    comm_dev *d = c->dev;
    if (avg && op != LVT_COMM_SUM) return lvt_errf(e, "device all-reduce: avg needs LVT_COMM_SUM");
    if (c->world == 1) return LVT_OK;
    if (!d) return lvt_errf(e, "device all-reduce before lvt_comm_device_init");
    if (d->be != be) return lvt_errf(e, "device all-reduce on another backend than its set-up");
    switch (d->mode) {
    case LVT_COMM_DEV_HOST: return allreduce_host(c, buf, n, op, avg, e);
    case LVT_COMM_DEV_NCCL: return be->ops->coll_allreduce(be, d->coll, buf, n, op, avg, e);
    case LVT_COMM_DEV_STAGED:
        if (d->host_n < n) {
            free(d->host);
            d->host_n = 0;
            if (!(d->host = lvt_malloc(sizeof(float) * n, e))) return LVT_ERROR;
            d->host_n = n;
        }
        be->ops->to_host(be, d->host, buf, sizeof(float) * n);
        if (allreduce_host(c, d->host, n, op, avg, e)) return LVT_ERROR;
        be->ops->to_device(be, buf, d->host, sizeof(float) * n);
        return LVT_OK;
    default: break;
    }
    return lvt_errf(e, "device all-reduce: no path set up");
}

int lvt_comm_sum_small_staged(lvt_comm *c, lvt_backend *be, float *buf, int n, lvt_err *e) {
    if (c->world == 1) return LVT_OK;
    float tmp[256];
    if (n > 256) return lvt_errf(e, "too many loss statistics (%d)", n);
    be->ops->to_host(be, tmp, buf, sizeof(float) * (size_t)n);
    if (lvt_comm_allreduce_f32(c, tmp, (size_t)n, LVT_COMM_SUM, 0, e)) return LVT_ERROR;
    be->ops->to_device(be, buf, tmp, sizeof(float) * (size_t)n);
    return LVT_OK;
}
