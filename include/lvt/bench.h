/* bench.h — the measurement behind `lvt bench` (docs/bench.md, docs/scaling.md): at a config's
 * model shape, on synthetic random inputs, time the eval forward pass and a P1 training step
 * (train-mode forward, MSE on the raw output, backward, global-norm clip, AdamW), warm-up steps
 * excluded. Under several ranks the step is data-parallel (B samples per rank) and split into
 * compute, wait (a barrier: load imbalance), all-reduce of the flat gradient and optimiser.
 * FLOPs are counted analytically: matmuls only, backward = 2 x forward. Code: src/train/bench.c. */
#ifndef LVT_BENCH_H
#define LVT_BENCH_H

#include "lvt/comm.h"
#include "lvt/common.h"
#include "lvt/config.h"
#include "lvt/model.h"

typedef struct lvt_bench_opts {
    int batch;           /* samples per rank and step; 0 = train.global_batch */
    long steps;          /* timed steps (default 20) */
    long warmup;         /* untimed steps before them (default 3) */
    const char *backend; /* "cpu" | "cuda" | "auto"; NULL = the config's train.backend */
} lvt_bench_opts;

typedef struct lvt_bench_result {
    char backend[32];       /* the backend's ops name */
    int batch;
    long steps, warmup;
    lvt_model_cfg model;
    size_t n_params;
    double flops_fwd_per_sample;
    double fwd_ms, train_ms;         /* per step, rank 0's clock */
    double fwd_gflops, train_gflops; /* train: 3 x forward FLOPs */
    double last_loss, last_grad_norm;
    int world;
    char comm[16];           /* lvt_comm_device_mode_name: "none", "mpi", "nccl", "staged" */
    double grad_bytes;       /* 4 x n_params */
    int params_in_sync;      /* every rank ends with the same parameters */
    /* ms per step, means over steps and ranks: compute | wait | all-reduce | optimiser, and the
     * independently timed whole step */
    double compute_ms, wait_ms, allreduce_ms, optim_ms, step_ms;
    double allreduce_busbw_gbps; /* measured bus bandwidth, 2(N-1)/N * bytes / time; 0 for 1 rank */
} lvt_bench_result;

void lvt_bench_opts_default(lvt_bench_opts *o);

/* Matmul FLOPs of one eval forward per sample (multiply-add = 2). */
double lvt_bench_forward_flops(const lvt_model_cfg *mc);

/* Run the benchmark on every rank of comm (collective). The split (means over the ranks) and
 * params_in_sync are the same on every rank; fwd_ms and train_ms are this rank's clock. */
int lvt_bench_run(const lvt_config *c, const lvt_bench_opts *o, lvt_comm *comm, lvt_bench_result *r,
                  lvt_err *e);

/* The ring all-reduce model: 2(N-1)/N * bytes / bandwidth, in ms (bandwidth in GB/s). */
double lvt_bench_ring_allreduce_ms(double bytes, int ranks, double gbps);

#endif
