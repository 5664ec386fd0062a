/* bench_step.h — the background load of `lvt bench --contend N`, and the P4 training step that `lvt bench --step p4` times (docs/bench.md): the
 * objective of the recipe's last curriculum phase (configs/p4_rollout.json: H = 3 rollout with
 * gradient through every step, flat supervision, λ_roll 0.1, λ_dir 0.002 adaptive per batch,
 * λ_fut 0.002, context drop 0.05 noise), run through lvt_loss_step exactly as `lvt train` runs
 * it, on synthetic Philox inputs. The optimiser step is the caller's. Code: src/train/bench_step.c. */
#ifndef LVT_BENCH_STEP_H
#define LVT_BENCH_STEP_H

#include "lvt/comm.h"
#include "lvt/common.h"
#include "lvt/config.h"
#include "lvt/loss.h"
#include "lvt/model.h"

#define LVT_BENCH_P4_H_ROLL 3 /* rollout horizon of the recipe's last phase */

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
 * first); *loss = the total objective (read back, as the training loop does). */
int lvt_bench_p4_step(lvt_bench_p4 *p, lvt_model *m, const float *dctx, uint64_t seed, long step,
                      double *loss, lvt_err *e);

/* Matmul FLOPs of one P4 step per sample: H forwards and their backwards (3 x forward each). */
double lvt_bench_p4_flops(double fwd_flops_per_sample);

void lvt_bench_p4_destroy(lvt_bench_p4 *p);

/* --contend N: N busy threads (a spinning integer loop, no memory traffic) that compete with the
 * measured step for the cores, as another user's process on a shared node does. */
typedef struct lvt_bench_contend {
    int n;
    void *threads;        /* pthread_t[n] */
    volatile int stop;
} lvt_bench_contend;

int lvt_bench_contend_start(lvt_bench_contend *c, int n, lvt_err *e);
void lvt_bench_contend_stop(lvt_bench_contend *c);

#endif
