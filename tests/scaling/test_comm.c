/* test_comm.c — the process group (include/lvt/comm.h) against brute-force expectations computed
 * from every rank's known inputs: all-reduce sum/avg/max/min of f32, f64 and i64, broadcast from
 * several roots, barrier, and the backend-buffer all-reduce (lvt_comm_allreduce_device) on the
 * CPU backend (and CUDA when devices are present). Run as one process, under mpirun -np 2, and
 * built against the single-process comm (COMM_TEST_HOST_ONLY: comm.c compiled without MPI).
 * Usage: test_comm EXPECTED_WORLD [EXPECTED_DEVICE_MODE] */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lvt/comm.h"
#include "testutil.h"
#ifndef COMM_TEST_HOST_ONLY
#include "lvt/ops.h"
#endif

#define N 1000

/* The input of rank r at element i, for each dtype and op. */
static float in_f32(int r, int i) { return 0.5f * (float)(r + 1) + (float)i; }
static float in_f32_mm(int r, int i) { return (float)((r * 7 + i * 3) % 11) - 5.0f; }
static double in_f64(int r, int i) { return 1e10 * r + 0.25 * i; }
static int64_t in_i64(int r, int i) { return ((int64_t)r << 40) + i * ((r % 2) ? -3 : 5); }

static void test_host(lvt_comm *c) {
    const int W = c->world, R = c->rank;
    lvt_err e = {{0}};
    float *f = malloc(sizeof(float) * N);
    double *d = malloc(sizeof(double) * N);
    int64_t *q = malloc(sizeof(int64_t) * N);

    /* f32 sum, avg, max, min (values are multiples of 0.5: exact in any reduction order) */
    for (int avg = 0; avg <= 1; avg++) {
        for (int i = 0; i < N; i++) f[i] = in_f32(R, i);
        CHECK(lvt_comm_allreduce_f32(c, f, N, LVT_COMM_SUM, avg, &e) == LVT_OK, "f32 sum: %s", e.msg);
        int bad = 0;
        for (int i = 0; i < N; i++) {
            double s = 0;
            for (int r = 0; r < W; r++) s += in_f32(r, i);
            if (avg) s /= W;
            if (fabs(f[i] - s) > 1e-6 * fabs(s)) bad++;
        }
        CHECK(bad == 0, "f32 sum avg=%d: %d elements wrong", avg, bad);
    }
    for (int op = LVT_COMM_MAX; op <= LVT_COMM_MIN; op++) {
        for (int i = 0; i < N; i++) f[i] = in_f32_mm(R, i);
        CHECK(lvt_comm_allreduce_f32(c, f, N, (lvt_comm_op)op, 0, &e) == LVT_OK, "f32 max/min: %s", e.msg);
        int bad = 0;
        for (int i = 0; i < N; i++) {
            float m = in_f32_mm(0, i);
            for (int r = 1; r < W; r++) {
                float v = in_f32_mm(r, i);
                if (op == LVT_COMM_MAX ? v > m : v < m) m = v;
            }
            if (f[i] != m) bad++;
        }
        CHECK(bad == 0, "f32 op %d: %d elements wrong", op, bad);
    }

    /* f64 and i64 */
    for (int op = LVT_COMM_SUM; op <= LVT_COMM_MIN; op++) {
        for (int i = 0; i < N; i++) {
            d[i] = in_f64(R, i);
            q[i] = in_i64(R, i);
        }
        CHECK(lvt_comm_allreduce_f64(c, d, N, (lvt_comm_op)op, &e) == LVT_OK, "f64: %s", e.msg);
        CHECK(lvt_comm_allreduce_i64(c, q, N, (lvt_comm_op)op, &e) == LVT_OK, "i64: %s", e.msg);
        int bad_d = 0, bad_q = 0;
        for (int i = 0; i < N; i++) {
            double ed = in_f64(0, i);
            int64_t eq = in_i64(0, i);
            for (int r = 1; r < W; r++) {
                double vd = in_f64(r, i);
                int64_t vq = in_i64(r, i);
                if (op == LVT_COMM_SUM) {
                    ed += vd;
                    eq += vq;
                } else if (op == LVT_COMM_MAX) {
                    ed = vd > ed ? vd : ed;
                    eq = vq > eq ? vq : eq;
                } else {
                    ed = vd < ed ? vd : ed;
                    eq = vq < eq ? vq : eq;
                }
            }
            if (d[i] != ed) bad_d++;
            if (q[i] != eq) bad_q++;
        }
        CHECK(bad_d == 0, "f64 op %d: %d elements wrong", op, bad_d);
        CHECK(bad_q == 0, "i64 op %d: %d elements wrong", op, bad_q);
    }

    /* broadcast from the first and the last rank: every rank ends with the root's bytes */
    int roots[2] = {0, W - 1};
    for (int k = 0; k < 2; k++) {
        unsigned char b[333];
        for (int i = 0; i < (int)sizeof b; i++) b[i] = (unsigned char)(R * 31 + i * 7);
        CHECK(lvt_comm_bcast(c, b, sizeof b, roots[k], &e) == LVT_OK, "bcast: %s", e.msg);
        int bad = 0;
        for (int i = 0; i < (int)sizeof b; i++)
            if (b[i] != (unsigned char)(roots[k] * 31 + i * 7)) bad++;
        CHECK(bad == 0, "bcast root %d: %d bytes differ", roots[k], bad);
    }
    CHECK(lvt_comm_barrier(c, &e) == LVT_OK, "barrier: %s", e.msg);
    free(f);
    free(d);
    free(q);
}

#ifndef COMM_TEST_HOST_ONLY
/* The flat-gradient all-reduce on buffers in backend memory; returns the mode's name. */
static const char *test_device(lvt_comm *c, const char *backend, int device) {
    const int W = c->world, R = c->rank;
    lvt_err e = {{0}};
    lvt_backend *be = NULL;
    if (lvt_backend_create(&be, backend, device, LVT_MATH_FP32, &e)) {
        CHECK(0, "backend %s: %s", backend, e.msg);
        return "error";
    }
    const char *mode = "error";
    CHECK(lvt_comm_device_init(c, be, &e) == LVT_OK, "device init: %s", e.msg);
    mode = lvt_comm_device_mode_name(lvt_comm_device_mode(c));
    float *h = malloc(sizeof(float) * N);
    float *buf = be->ops->alloc(be, sizeof(float) * N, &e);
    CHECK(buf != NULL, "alloc: %s", e.msg);
    for (int avg = 0; avg <= 1 && buf; avg++) {
        /* twice per setting: the staging buffer and the NCCL communicator are reused */
        for (int rep = 0; rep < 2; rep++) {
            for (int i = 0; i < N; i++) h[i] = in_f32(R, i) + (float)rep;
            be->ops->to_device(be, buf, h, sizeof(float) * N);
            CHECK(lvt_comm_allreduce_device(c, be, buf, N, LVT_COMM_SUM, avg, &e) == LVT_OK, "allreduce_device: %s",
                  e.msg);
            be->ops->to_host(be, h, buf, sizeof(float) * N);
            int bad = 0;
            for (int i = 0; i < N; i++) {
                double s = 0;
                for (int r = 0; r < W; r++) s += in_f32(r, i) + rep;
                if (avg) s /= W;
                if (fabs(h[i] - s) > 1e-6 * fabs(s)) bad++;
            }
            CHECK(bad == 0, "%s allreduce_device avg=%d rep=%d: %d elements wrong", backend, avg, rep, bad);
        }
    }
    /* max over ranks */
    for (int i = 0; i < N && buf; i++) h[i] = in_f32_mm(R, i);
    if (buf) {
        be->ops->to_device(be, buf, h, sizeof(float) * N);
        CHECK(lvt_comm_allreduce_device(c, be, buf, N, LVT_COMM_MAX, 0, &e) == LVT_OK, "max: %s", e.msg);
        be->ops->to_host(be, h, buf, sizeof(float) * N);
        int bad = 0;
        for (int i = 0; i < N; i++) {
            float m = in_f32_mm(0, i);
            for (int r = 1; r < W; r++) m = in_f32_mm(r, i) > m ? in_f32_mm(r, i) : m;
            if (h[i] != m) bad++;
        }
        CHECK(bad == 0, "%s allreduce_device max: %d elements wrong", backend, bad);
        CHECK(lvt_comm_allreduce_device(c, be, buf, N, LVT_COMM_MAX, 1, &e) == LVT_ERROR, "avg with max accepted");
        CHECK_MSG(e.msg, "avg needs");
        be->ops->free(be, buf);
    }
    free(h);
    lvt_comm_device_free(c);
    lvt_comm_device_free(c); /* twice is allowed */
    CHECK(lvt_comm_device_mode(c) == LVT_COMM_DEV_NONE, "mode after free");
    lvt_backend_destroy(be);
    return mode;
}
#endif

int main(int argc, char **argv) {
    int want_world = argc > 1 ? atoi(argv[1]) : 1;
    const char *want_mode = argc > 2 ? argv[2] : NULL;
    lvt_comm c;
    lvt_err e = {{0}};
    if (lvt_comm_init(&c, &argc, &argv, &e)) {
        fprintf(stderr, "comm init: %s\n", e.msg);
        return 1;
    }
    CHECK(c.world == want_world, "world %d, expected %d", c.world, want_world);
    CHECK(c.rank >= 0 && c.rank < c.world, "rank %d of %d", c.rank, c.world);
    CHECK(c.local_rank >= 0 && c.local_rank < c.local_world && c.local_world <= c.world, "local rank %d of %d",
          c.local_rank, c.local_world);
#ifdef COMM_TEST_HOST_ONLY
    CHECK(c.is_mpi == 0, "single-process build reports MPI");
#endif
    test_host(&c);
#ifdef COMM_TEST_HOST_ONLY
    (void)want_mode;
#else
    const char *mode = test_device(&c, "cpu", -1);
    if (want_mode) CHECK(!strcmp(mode, want_mode), "device mode %s, expected %s", mode, want_mode);
    if (lvt_cuda_available()) {
        /* NCCL needs a GPU of its own per rank: with fewer GPUs than ranks on the node the
         * host-staged path is tested on the GPU instead. */
        if (lvt_cuda_devices() < c.local_world) setenv("LVT_COMM_DEVICE", "staged", 1);
        const char *cm = test_device(&c, "cuda", c.local_rank);
        if (c.rank == 0) printf("cuda device all-reduce path: %s\n", cm);
    }
#endif
    char name[64];
    snprintf(name, sizeof name, "test_comm[rank %d/%d]", c.rank, c.world);
    int rc = test_finish(name);
    /* every rank must reach finalize; a failure on any rank fails the job */
    int64_t any = rc != 0;
    lvt_comm_allreduce_i64(&c, &any, 1, LVT_COMM_MAX, &e);
    lvt_comm_finalize(&c);
    return any ? 1 : 0;
}
