/* comm.c — the process group over MPI (host buffers), or a single process when lvt is built
 * without MPI. See include/lvt/comm.h. */
#include "lvt/comm.h"

#include <stdlib.h>
#include <string.h>

#ifdef LVT_HAVE_MPI
#include <mpi.h>

typedef struct {
    MPI_Comm world;
    MPI_Comm node;
} comm_mpi;

static MPI_Op mpi_op(lvt_comm_op op) {
    return op == LVT_COMM_MAX ? MPI_MAX : op == LVT_COMM_MIN ? MPI_MIN : MPI_SUM;
}

static int mpi_check(int rc, const char *what, lvt_err *e) {
    if (rc == MPI_SUCCESS) return LVT_OK;
    char s[MPI_MAX_ERROR_STRING];
    int len = 0;
    MPI_Error_string(rc, s, &len);
    return lvt_errf(e, "%s failed: %s", what, s);
}
#endif

int lvt_comm_init(lvt_comm *c, int *argc, char ***argv, lvt_err *e) {
    memset(c, 0, sizeof *c);
    c->world = c->local_world = 1;
#ifdef LVT_HAVE_MPI
    int inited = 0;
    MPI_Initialized(&inited);
    if (!inited) {
        int provided;
        int rc = MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided);
        if (rc != MPI_SUCCESS) return lvt_errf(e, "MPI_Init_thread failed");
    }
    comm_mpi *m = lvt_calloc(1, sizeof *m, e);
    if (!m) return LVT_ERROR;
    MPI_Comm_dup(MPI_COMM_WORLD, &m->world);
    /* Errors return codes so a failure becomes a message; a dead peer is caught by the launcher. */
    MPI_Comm_set_errhandler(m->world, MPI_ERRORS_RETURN);
    MPI_Comm_rank(m->world, &c->rank);
    MPI_Comm_size(m->world, &c->world);
    MPI_Comm_split_type(m->world, MPI_COMM_TYPE_SHARED, c->rank, MPI_INFO_NULL, &m->node);
    MPI_Comm_rank(m->node, &c->local_rank);
    MPI_Comm_size(m->node, &c->local_world);
    c->impl = m;
    c->is_mpi = 1;
#else
    (void)argc;
    (void)argv;
    (void)e;
#endif
    return LVT_OK;
}

void lvt_comm_finalize(lvt_comm *c) {
#ifdef LVT_HAVE_MPI
    if (c->impl) {
        comm_mpi *m = c->impl;
        MPI_Comm_free(&m->node);
        MPI_Comm_free(&m->world);
        free(m);
        c->impl = NULL;
        int fin = 0;
        MPI_Finalized(&fin);
        if (!fin) MPI_Finalize();
    }
#endif
    c->is_mpi = 0;
}

int lvt_comm_allreduce_f32(lvt_comm *c, float *buf, size_t n, lvt_comm_op op, int avg, lvt_err *e) {
#ifdef LVT_HAVE_MPI
    if (c->world > 1) {
        comm_mpi *m = c->impl;
        /* Pieces of 4 Mi floats (16 MB): MPI counts are int, and one huge reduction re-maps and
         * page-faults its temporary buffer on every call (measured 4x slower for 71.5 MB). */
        const size_t piece = (size_t)1 << 22;
        for (size_t off = 0; off < n; off += piece) {
            size_t k = n - off < piece ? n - off : piece;
            int rc = MPI_Allreduce(MPI_IN_PLACE, buf + off, (int)k, MPI_FLOAT, mpi_op(op), m->world);
            if (mpi_check(rc, "MPI_Allreduce", e)) return LVT_ERROR;
        }
    }
#endif
    if (avg && c->world > 1) {
        float s = 1.0f / (float)c->world;
        for (size_t i = 0; i < n; i++) buf[i] *= s;
    }
    (void)e;
    (void)op;
    return LVT_OK;
}

#ifdef LVT_HAVE_MPI
/* In-place MPI_Allreduce of n elements of type t (counts fit an int: callers reduce scalars). */
static int allreduce_small(lvt_comm *c, void *buf, size_t n, MPI_Datatype t, lvt_comm_op op, lvt_err *e) {
    if (c->world <= 1) return LVT_OK;
    comm_mpi *m = c->impl;
    return mpi_check(MPI_Allreduce(MPI_IN_PLACE, buf, (int)n, t, mpi_op(op), m->world), "MPI_Allreduce", e);
}
#endif

int lvt_comm_allreduce_f64(lvt_comm *c, double *buf, size_t n, lvt_comm_op op, lvt_err *e) {
#ifdef LVT_HAVE_MPI
    return allreduce_small(c, buf, n, MPI_DOUBLE, op, e);
#else
    (void)c; (void)buf; (void)n; (void)op; (void)e;
    return LVT_OK;
#endif
}

int lvt_comm_allreduce_i64(lvt_comm *c, int64_t *buf, size_t n, lvt_comm_op op, lvt_err *e) {
#ifdef LVT_HAVE_MPI
    return allreduce_small(c, buf, n, MPI_INT64_T, op, e);
#else
    (void)c; (void)buf; (void)n; (void)op; (void)e;
    return LVT_OK;
#endif
}

int lvt_comm_bcast(lvt_comm *c, void *buf, size_t bytes, int root, lvt_err *e) {
#ifdef LVT_HAVE_MPI
    if (c->world > 1) {
        comm_mpi *m = c->impl;
        int rc = MPI_Bcast(buf, (int)bytes, MPI_BYTE, root, m->world);
        if (mpi_check(rc, "MPI_Bcast", e)) return LVT_ERROR;
    }
#endif
    (void)c; (void)buf; (void)bytes; (void)root; (void)e;
    return LVT_OK;
}

int lvt_comm_barrier(lvt_comm *c, lvt_err *e) {
#ifdef LVT_HAVE_MPI
    if (c->world > 1) {
        comm_mpi *m = c->impl;
        int rc = MPI_Barrier(m->world);
        if (mpi_check(rc, "MPI_Barrier", e)) return LVT_ERROR;
    }
#endif
    (void)c; (void)e;
    return LVT_OK;
}

void lvt_comm_abort(lvt_comm *c, int code) {
#ifdef LVT_HAVE_MPI
    if (c->world > 1) MPI_Abort(MPI_COMM_WORLD, code);
#endif
    (void)c;
    exit(code);
}
