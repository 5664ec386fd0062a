/* gpu_gemm.c — lvt's own GEMM (ops->gemm of the cuda backend) in TFLOP/s, for the peak that
 * docs/cuda.md puts the training step against: a square 8192^3 and the reference model's
 * linear layers at B = 4096 (M = B*L = 20480 rows; forward x W^T, NT) in fp32, tf32, bf16 and bf16
 * with cuBLAS's pedantic math mode (LVT_CUDA_BF16_PEDANTIC=1: does it keep BF16 off the tensor
 * cores?). Operands are activations (not the parameter shadow), so BF16 includes the conversion.
 * Not a test. usage: gpu_gemm [--quick]        exit 77 without a usable GPU. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lvt/ops.h"

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* TFLOP/s of C[M,N] = A[M,K] B[N,K]^T, median-free: reps after 2 warm-ups, one sync at the end */
static double tflops(lvt_backend *be, int M, int N, int K, int reps) {
    lvt_err e;
    float *A = be->ops->alloc(be, sizeof(float) * (size_t)M * K, &e);
    float *B = be->ops->alloc(be, sizeof(float) * (size_t)N * K, &e);
    float *C = be->ops->alloc(be, sizeof(float) * (size_t)M * N, &e);
    if (!A || !B || !C) {
        fprintf(stderr, "gpu_gemm: %s\n", e.msg);
        exit(1);
    }
    for (int i = 0; i < 2; i++) be->ops->gemm(be, 0, 1, M, N, K, 1.0f, A, K, B, K, 0.0f, C, N);
    be->ops->sync(be);
    double t0 = now();
    for (int i = 0; i < reps; i++) be->ops->gemm(be, 0, 1, M, N, K, 1.0f, A, K, B, K, 0.0f, C, N);
    be->ops->sync(be);
    double dt = now() - t0;
    be->ops->free(be, A), be->ops->free(be, B), be->ops->free(be, C);
    return 2.0 * M * N * (double)K * reps / dt * 1e-12;
}

int main(int argc, char **argv) {
    int quick = argc > 1 && !strcmp(argv[1], "--quick");
    lvt_err e;
    if (lvt_cuda_probe(&e) <= 0) {
        printf("gpu_gemm: no usable GPU: %s\n", e.msg);
        return 77;
    }
    static const struct {
        const char *name;
        lvt_math math;
        int pedantic;
    } modes[] = {{"fp32", LVT_MATH_FP32, 0}, {"tf32", LVT_MATH_TF32, 0}, {"bf16", LVT_MATH_BF16, 0},
                 {"bf16-pedantic", LVT_MATH_BF16, 1}};
    static const int shapes[][3] = {{8192, 8192, 8192}, {20480, 1536, 512}, {20480, 2048, 512}, {20480, 512, 2048}};
    printf("%-14s %8s %8s %8s %8s\n", "TFLOP/s", "8192^3", "qkv", "ffn1", "ffn2");
    for (size_t m = 0; m < sizeof modes / sizeof *modes; m++) {
        if (modes[m].pedantic) setenv("LVT_CUDA_BF16_PEDANTIC", "1", 1);
        lvt_backend *be;
        if (lvt_backend_create(&be, "cuda", 0, modes[m].math, &e)) {
            fprintf(stderr, "gpu_gemm: %s\n", e.msg);
            return 1;
        }
        unsetenv("LVT_CUDA_BF16_PEDANTIC");
        printf("%-14s", modes[m].name);
        for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++)
            printf(" %8.1f", tflops(be, shapes[s][0], shapes[s][1], shapes[s][2], quick ? 3 : 20));
        printf("\n");
        lvt_backend_destroy(be);
    }
    printf("(rows: math mode; columns: 8192^3 and the model's layers at B = 4096: M = 20480, N x K = 1536 x 512 "
           "(qkv), 2048 x 512, 512 x 2048)\n");
    return 0;
}
