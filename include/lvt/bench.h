/* bench.h — the measurement behind `lvt bench` (docs/bench.md, docs/scaling.md): at a config's
 * model shape, on synthetic random inputs, time the eval forward pass and a training step, warm-up
 * steps excluded. The step is P1 (train-mode forward, MSE on the raw output, backward, global-norm
 * clip, AdamW) or P4 (the recipe's last-phase objective through lvt_loss_step, as `lvt train` runs
 * it, then clip and AdamW). Under several ranks the step is data-parallel (B samples per rank) and
 * split into compute, wait (a barrier: load imbalance), all-reduce of the flat gradient and
 * optimiser. --contend N runs N busy threads alongside (a shared node). FLOPs are counted
 * analytically: matmuls only, backward = 2 x forward. Code: src/train/bench.c (the measurement),
 * src/train/bench_step.c (the P4 step and the busy threads). */
#ifndef LVT_BENCH_H
#define LVT_BENCH_H

#include "lvt/comm.h"
#include "lvt/common.h"
#include "lvt/config.h"
#include "lvt/loss.h"
#include "lvt/model.h"

/* What is timed: the forward and the P1 step (ALL), the forward alone, the P1 or the P4 step. */
typedef enum lvt_bench_step { LVT_BENCH_ALL, LVT_BENCH_EVAL, LVT_BENCH_P1, LVT_BENCH_P4 } lvt_bench_step;

/* "all", "eval", "p1", "p4"; and back (-1: not a step name). */
const char *lvt_bench_step_name(lvt_bench_step s);
int lvt_bench_step_parse(const char *name);

typedef struct lvt_bench_opts {
    int batch;           /* samples per rank and step; 0 = train.global_batch */
    long steps;          /* timed steps (default 20) */
    long warmup;         /* untimed steps before them (default 3) */
    const char *backend; /* "cpu" | "cuda" | "auto"; NULL = the config's train.backend */
    lvt_bench_step step; /* default LVT_BENCH_ALL */
    int contend;         /* busy background threads while measuring (default 0) */
} lvt_bench_opts;

typedef struct lvt_bench_result {
    char backend[32];       /* the backend's ops name */
    int batch;
    long steps, warmup;
    lvt_model_cfg model;
    size_t n_params;
    lvt_bench_step step;
    int timed_fwd, timed_train;      /* which phases --step timed (the others are 0) */
    int contend;                     /* busy threads that ran alongside */
    int threads;                     /* CPU threads per rank, chosen as `lvt train` chooses them */
    double flops_fwd_per_sample;
    double flops_step_per_sample;    /* P1: 3 x forward; P4: lvt_bench_p4_flops of the slots that ran */
    /* P4: rollout slot backwards (h >= 2) per timed step that ran and that were skipped (an exactly
     * zero gradient: the flat penalty inactive; docs/loss.md "Zero-gradient slots"); 0 for P1 */
    double roll_bwd_run, roll_bwd_skipped;
    double fwd_ms, train_ms;         /* per step, rank 0's clock */
    double fwd_gflops, train_gflops;
    double last_loss, last_grad_norm;
    int world;
    char comm[16];           /* lvt_comm_device_mode_name: "none", "mpi", "nccl", "staged" */
    double grad_bytes;       /* 4 x n_params */
    int params_in_sync;      /* every rank ends with the same parameters */
    /* ms per step, means over steps and ranks: compute | wait | all-reduce | optimiser, and the
     * independently timed whole step */
    double compute_ms, wait_ms, allreduce_ms, optim_ms, step_ms;
    double allreduce_busbw_gbps; /* measured bus bandwidth, 2(N-1)/N * bytes / time; 0 for 1 rank */
    /* GEMMs of the timed training steps, measured (CPU backend only; gemm_counted 0 otherwise):
     * wall ms per step inside gemm, executed GFLOP per step (2 M N K summed: what the model really
     * multiplies, not the analytic count above), calls per step, and their rate */
    char gemm_math[256];             /* lvt_backend_math_describe of the bench's backend */
    int gemm_math_kind;              /* lvt_backend_gemm_math: LVT_MATH_FP32 / TF32 / BF16 */
    int gemm_counted;
    double gemm_ms, gemm_gflop, gemm_calls, gemm_gflops;
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

/* ---- the P4 step (src/train/bench_step.c) ---- */

#define LVT_BENCH_P4_H_ROLL 3 /* rollout horizon of the recipe's last phase */

/* The objective of the recipe's last curriculum phase (configs/p4_rollout.json: H = 3 rollout
 * with gradient through every step, flat supervision, λ_roll 0.1, λ_dir 0.002 adaptive per batch,
 * λ_fut 0.002, context drop 0.05 noise) and its synthetic batch in backend memory. */
typedef struct lvt_bench_p4 {
    lvt_backend *be;
    lvt_comm *comm;
    lvt_objective_cfg obj;
    lvt_loss loss;
    int B, L, D;
    float *d_target, *d_fut, *d_futm, *d_roll, *d_rollm; /* backend copies of the batch */
} lvt_bench_p4;

/* The recipe's last-phase objective over the config's objective defaults (margins, thresholds). */
void lvt_bench_p4_objective(const lvt_config *c, lvt_objective_cfg *obj);

/* Allocate the objective and its synthetic batch (targets, +2/+3 rows, rollout truth, all masks
 * 1) for B samples per rank. The model must be planned for B samples and LVT_BENCH_P4_H_ROLL slots. */
int lvt_bench_p4_create(lvt_bench_p4 *p, const lvt_config *c, lvt_backend *be, lvt_comm *comm, int B,
                        lvt_err *e);

/* One P4 forward + backward on the context dctx ([B, L, D] backend memory) into m->grads (zeroed
 * first) through lvt_loss_step, the call `lvt train` makes each micro-step; *loss = the total
 * objective (read back, as the training loop does). The optimiser step is the caller's. */
int lvt_bench_p4_step(lvt_bench_p4 *p, lvt_model *m, const float *dctx, uint64_t seed, long step,
                      double *loss, lvt_err *e);

/* Matmul FLOPs of one P4 step per sample: H forwards and the backwards (2 x forward each) of slot 1
 * and of the slots_bwd later slots whose backward ran (H - 1 when none was skipped: 3 H forwards). */
double lvt_bench_p4_flops(double fwd_flops_per_sample, double slots_bwd);

void lvt_bench_p4_destroy(lvt_bench_p4 *p);

/* ---- --contend N: N busy threads (a spinning integer loop, no memory traffic) that compete with
 * the measured step for the cores, as another user's process on a shared node does ---- */
typedef struct lvt_bench_contend {
    int n;
    void *threads; /* pthread_t[n] */
    volatile int stop;
} lvt_bench_contend;

int lvt_bench_contend_start(lvt_bench_contend *c, int n, lvt_err *e);
void lvt_bench_contend_stop(lvt_bench_contend *c);

#endif
