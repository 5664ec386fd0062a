/* sgemm_peak.c — measures the CPU backend's sgemm (OpenBLAS cblas_sgemm, row-major) in GFLOP/s
 * for the GEMM shapes of the reference model (M = B*L rows; N, K in {512, 768, 1536, 2048}) in
 * the three layouts a linear layer uses (forward x W^T: NT, input gradient dy W: NN, weight
 * gradient dy^T x: TN), and a large square 2048^3 for the machine's peak. Not a test.
 * Usage: sgemm_peak [--quick | --square] [--seconds S] [--bf16]   (S: minimum timed seconds per
 * shape, default 0.3; --square: only the 2048^3 square, the peak bench/run_bench.sh divides by;
 * --bf16: the backend's bf16 GEMM instead, AMX with fp32 accumulation, docs/bench.md) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lvt/blas.h"
#include "lvt/ops.h"

static double cpu_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* The machine is shared: print the load average so contended numbers are recognisable. */
static void print_load(const char *when) {
    char buf[128] = "?";
    FILE *f = fopen("/proc/loadavg", "r");
    if (f) {
        if (!fgets(buf, sizeof buf, f)) buf[0] = 0;
        fclose(f);
    }
    buf[strcspn(buf, "\n")] = 0;
    printf("load average %s: %s\n", when, buf);
}

/* GFLOP/s of op(A) op(B) over at least min_s seconds and 3 calls; *per_cpu (if given) gets the
 * GFLOP per process CPU-second (all threads), an estimate less sensitive to other load. */
static double time_gemm(lvt_backend *be, int ta, int tb, int M, int N, int K, const float *A,
                        const float *B, float *C, double min_s, double *per_cpu) {
    int lda = ta ? M : K, ldb = tb ? K : N;
    be->ops->gemm(be, ta, tb, M, N, K, 1.0f, A, lda, B, ldb, 0.0f, C, N); /* warm-up */
    int reps = 0;
    double t0 = lvt_now(), c0 = cpu_seconds(), t;
    do {
        be->ops->gemm(be, ta, tb, M, N, K, 1.0f, A, lda, B, ldb, 0.0f, C, N);
        reps++;
        t = lvt_now() - t0;
    } while (t < min_s || reps < 3);
    if (per_cpu) *per_cpu = 2.0 * M * N * K * reps / (cpu_seconds() - c0) * 1e-9;
    return 2.0 * M * N * K * reps / t * 1e-9;
}

int main(int argc, char **argv) {
    double min_s = 0.3;
    int quick = 0, square_only = 0, bf16 = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--quick")) quick = 1;
        else if (!strcmp(argv[i], "--square")) square_only = 1;
        else if (!strcmp(argv[i], "--seconds") && i + 1 < argc) min_s = atof(argv[++i]);
        else if (!strcmp(argv[i], "--bf16")) bf16 = 1;
        else {
            fprintf(stderr, "usage: sgemm_peak [--quick | --square] [--seconds S] [--bf16]\n");
            return 1;
        }
    }
    lvt_err e = {{0}};
    lvt_backend *be = NULL;
    if (lvt_backend_create(&be, "cpu", -1, bf16 ? LVT_MATH_BF16 : LVT_MATH_FP32, &e) != LVT_OK) {
        fprintf(stderr, "sgemm_peak: %s\n", e.msg);
        return 1;
    }
    size_t maxe = (size_t)5120 * 2048;
    float *A = be->ops->alloc(be, maxe * sizeof(float), &e);
    float *B = be->ops->alloc(be, maxe * sizeof(float), &e);
    float *C = be->ops->alloc(be, maxe * sizeof(float), &e);
    if (!A || !B || !C) {
        fprintf(stderr, "sgemm_peak: %s\n", e.msg);
        return 1;
    }
    for (size_t i = 0; i < maxe; i++) {
        A[i] = (float)((i * 7919) % 1000) * 1e-3f - 0.5f;
        B[i] = (float)((i * 104729) % 1000) * 1e-3f - 0.5f;
    }
    const char *omp = getenv("OMP_NUM_THREADS"), *ob = getenv("OPENBLAS_NUM_THREADS");
    char math[160];
    lvt_backend_math_describe(be, math, sizeof math);
    printf("%s peak (lvt cpu backend: %s), OMP_NUM_THREADS=%s OPENBLAS_NUM_THREADS=%s\n",
           bf16 ? "bf16 GEMM" : "sgemm", math, omp ? omp : "unset", ob ? ob : "unset");
    char blas[256]; /* the core in force (docs/bench.md, "BLAS core selection") */
    lvt_blas_describe(blas, sizeof blas);
    printf("BLAS: %s\n", blas);
    print_load("at start");
    printf("%6s %6s %6s   %9s %9s %9s   (GFLOP/s; NT = x W^T, NN = dy W, TN = dy^T x)\n", "M", "N",
           "K", "NT", "NN", "TN");
    const int Ms[2] = {320, 5120};
    const int dims[4] = {512, 768, 1536, 2048};
    for (int mi = 0; mi < (square_only ? 0 : 2); mi++)
        for (int ni = 0; ni < 4; ni++)
            for (int ki = 0; ki < 4; ki++) {
                int M = Ms[mi], N = dims[ni], K = dims[ki];
                if (quick && (ni != ki && !(N == 2048 && K == 512) && !(N == 512 && K == 2048)))
                    continue;
                double nt = time_gemm(be, 0, 1, M, N, K, A, B, C, min_s, NULL);
                double nn = time_gemm(be, 0, 0, M, N, K, A, B, C, min_s, NULL);
                double tn = time_gemm(be, 1, 0, M, N, K, A, B, C, min_s, NULL);
                printf("%6d %6d %6d   %9.1f %9.1f %9.1f\n", M, N, K, nt, nn, tn);
                fflush(stdout);
            }
    double sq_cpu = 0.0;
    double sq = time_gemm(be, 0, 0, 2048, 2048, 2048, A, B, C, min_s * 3, &sq_cpu);
    printf("%6d %6d %6d   %9s %9.1f %9s   square (%.1f GFLOP per CPU-second)\n", 2048, 2048,
           2048, "", sq, "", sq_cpu);
    print_load("at end");
    be->ops->free(be, A);
    be->ops->free(be, B);
    be->ops->free(be, C);
    lvt_backend_destroy(be);
    return 0;
}
