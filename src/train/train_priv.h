/* train_priv.h — private to the training loop (src/train/train*.c): the trainer struct that carries
 * every piece of run state, and the functions the loop's files share. train.c is the driver,
 * train_setup.c builds and frees the trainer, train_step.c runs one optimiser step,
 * train_validate.c the per-epoch validation, train_ckpt.c the checkpoints, train_history.c the
 * epoch history and train_metrics.c the metrics.jsonl records (docs/training.md). */
#ifndef LVT_TRAIN_PRIV_H
#define LVT_TRAIN_PRIV_H

#include <cjson/cJSON.h>

#include "lvt/data.h"
#include "lvt/devdata.h"
#include "lvt/log.h"
#include "lvt/loss.h"
#include "lvt/model.h"
#include "lvt/ops.h"
#include "lvt/optim.h"
#include "lvt/train.h"

#define TRAIN_PATH_BUF (2 * LVT_PATH_MAX + 128)

/* One epoch's row of the history (training_history.json, metrics.jsonl "epoch" records). */
typedef struct epoch_rec {
    int epoch;
    char phase[LVT_NAME_MAX];
    double train_loss, train_cos, mse, roll, dir, fut, ac, lambda_eff;
    double val_loss, val_cos, margin, val_cos_drop_pct;
    double mini_cos_p1, mini_margin;
    double ctx_shuffled; /* the mini-5CAT's shuffled-context delta cos (test C), NaN when not run */
    double lr, seconds, samples_per_s;
    long steps;
} epoch_rec;

/* What one optimiser step reports (terms summed over ranks and micro-steps). */
typedef struct step_out {
    double terms[LVT_TERM_COUNT];
    double grad_norm;
    int64_t samples;
    int64_t term_samples; /* the samples terms cover: samples (eager), those since the last read
                           * (graph step, train_graph.c), 0 while its terms wait on the backend */
    int finite;
} step_out;

typedef struct trainer {
    const lvt_config *cfg;
    lvt_comm *comm;
    lvt_backend *be;
    lvt_store train, val;
    lvt_windows wtrain, wval;
    lvt_model model;
    lvt_optim opt;
    lvt_loss loss;
    lvt_batch hb;
    float *d_ctx, *d_target, *d_fut, *d_futm, *d_roll, *d_rollm;
    int64_t *idx;
    int micro, accum, hcap;
    int threads;            /* CPU threads of this rank */
    int sharded;            /* data.shard "articles" on more than one rank */
    int use_devdata;        /* train store resident on the backend (GPU, or opts.force_devdata) */
    lvt_devdata dtrain;
    lvt_devbatch db;
    int64_t shard_lo, shard_hi; /* this rank's article range when sharded */
    long steps_per_epoch;
    /* run state (checkpointed) */
    int epoch;            /* epoch in progress (1-based) */
    long step_in_epoch;   /* optimiser steps done in this epoch */
    long global_step;     /* optimiser steps done in the run */
    uint64_t fired;       /* tripwires that fired */
    double best_val_loss, best_val_cos;
    int last_phase;
    double ep_sums[LVT_TERM_COUNT]; /* sample-weighted term sums of the epoch so far */
    int64_t ep_samples;
    epoch_rec *hist;
    int n_hist, cap_hist;
    /* not checkpointed */
    int nan_retries;
    double nan_lr_scale;  /* product of the halvings of the non-finite rollbacks so far */
    int allow_change;     /* opts.allow_change */
    int lock_fd;          /* rank 0: the flock on run_dir/.lock (-1: none) */
    int tmp_removed;      /* stale temporary files removed at start */
    char moved_aside[TRAIN_PATH_BUF]; /* --restart: where the old run went ("" if nowhere) */
    long fault_nan_step;  /* opts.fault_nan_step (-1: off) */
    int fault_nan_done;
    int fault_nan_repeat; /* opts.fault_nan_repeat */
    long fault_kill_save; /* opts.fault_kill_save */
    long fault_wait_stop; /* opts.fault_wait_stop */
    long saves;           /* checkpoint saves by this process */
    int64_t samples_run;  /* samples trained by this process */
    double train_seconds; /* time spent in training steps by this process */
    int preempted;        /* a stop signal ended the run */
    int closing;          /* written with each checkpoint as train.epoch_close: 1 while the epoch-close
                           * saves are written (best.h5, retention, the history and the tripwires are
                           * still to come), 2 the same for an improved epoch, else 0 */
    int resumed_close;    /* train.epoch_close of the checkpoint restored last */
    int capped;           /* train.max_steps ended the run inside an epoch */
    epoch_rec capped_rec; /* that epoch's validation */
    struct { double copy_cos, copy_margin, mean_cos, mean_margin; } bl; /* val-store baselines */
    lvt_log log;
    char run_dir[LVT_PATH_MAX], ckpt_dir[LVT_PATH_MAX + 8];
    struct train_graph *graph; /* the graph step (train_graph.c); NULL: eager steps */
} trainer;

/* train_setup.c: build every piece (backend, stores, windows, model, optimiser, objective,
 * buffers, logs, config echo); teardown frees what setup built, also after a failed setup. */
int train_setup(trainer *t, const lvt_config *c, const lvt_train_opts *o, lvt_comm *comm, lvt_err *e);
void train_teardown(trainer *t);

/* train_rundir.c: rank 0 opens the run directory (lock, refuse or move aside an old run, clean
 * stale temporaries); the checkpoints of ckpt/ newest first, for a resume (*n 0: none yet;
 * free *names). */
int train_rundir_open(trainer *t, const lvt_train_opts *o, lvt_err *e);
void train_rundir_close(trainer *t);
int train_resume_candidates(const trainer *t, char (**names)[256], int *n, lvt_err *e);

/* train_step.c: one optimiser step at t->step_in_epoch of the epoch order perm (all ranks). */
int train_step(trainer *t, const lvt_objective_cfg *obj, const lvt_perm *perm, step_out *so, lvt_err *e);

/* train_step.c, shared with train_graph.c: the rank's slice of micro-step a (its windows into
 * t->idx; returns the rank's sample count, *world_n the micro-step's over all ranks, *base the
 * dropout key's index of the rank's first sample), and the test fault hook (true once). */
int train_micro_slice(trainer *t, const lvt_perm *perm, int64_t step_lo, int64_t m, int a, int64_t *world_n,
                      int64_t *base);
int train_fault_fires(trainer *t, int my_n);

/* train_graph.c: the step as a CUDA graph with its statistics read once per log interval
 * (docs/cuda.md). init decides (and logs) whether it is used and sets t->graph; train_step hands
 * over to train_graph_step when it is; flush reads pending statistics into the epoch sums (before
 * a preemption checkpoint); free logs the capture counts. */
int train_graph_init(trainer *t, const lvt_train_opts *o, lvt_err *e);
int train_graph_step(trainer *t, const lvt_objective_cfg *obj, const lvt_perm *perm, step_out *so, lvt_err *e);
int train_graph_flush(trainer *t, lvt_err *e);
void train_graph_free(trainer *t);

/* train_validate.c: val_loss, val_cos, margin over every val window and the mini-5CAT into r. */
int train_validate(trainer *t, epoch_rec *r, lvt_err *e);

/* train_ckpt.c: checkpoints in run_dir/ckpt. save: rank 0 writes, every rank returns rank 0's
 * status; restore: every rank loads weights, moments, optimiser and run state. */
int train_ckpt_save(trainer *t, const char *name, lvt_err *e);
int train_ckpt_restore(trainer *t, const char *name, lvt_err *e);
int train_ckpt_exists(const trainer *t, const char *name);
void train_ckpt_path(const trainer *t, const char *name, char *out, size_t n);
void train_epoch_ckpt_name(int epoch, char *out, size_t n);
/* Keep the last output.keep_epochs epoch checkpoints, epoch 0 and every rollback target. */
void train_ckpt_retention(trainer *t, int epoch);

/* train_history.c: the epoch history, as stored in checkpoints and training_history.json. */
cJSON *train_rec_json(const epoch_rec *r);
char *train_history_json(const trainer *t, int pretty);
int train_history_load(trainer *t, const char *text, lvt_err *e);
int train_history_push(trainer *t, const epoch_rec *r, lvt_err *e);
int train_history_write(const trainer *t, lvt_err *e); /* rank 0: run_dir/training_history.json */

/* train_baselines.c: the val-store baselines (computed at start, logged), the tripwire threshold
 * (a baseline when tw->ref names one), the "baselines" JSON, and the epoch-line flags. The model
 * "ignores its context" when |dcos(shuffled)| < TRAIN_CTX_SENS_MIN. */
#define TRAIN_CTX_SENS_MIN 0.005
int train_baselines(trainer *t, lvt_err *e);
double train_tripwire_threshold(const trainer *t, const lvt_tripwire *tw);
void train_baselines_json(const trainer *t, cJSON *root);
void train_baselines_flags(const trainer *t, const epoch_rec *r, char *buf, size_t n);
void train_context_flags(const epoch_rec *r, char *buf, size_t n);

/* train_metrics.c: the metrics.jsonl records (rank 0; JSON built with cJSON). */
void train_metrics_step(trainer *t, const step_out *so, double samples_per_s);
void train_metrics_epoch(trainer *t, const epoch_rec *r);
void train_metrics_phase(trainer *t, int phase, const char *name);
void train_metrics_tripwire(trainer *t, int tripwire, int epoch, const char *condition, double value,
                            int rollback_to_epoch);
void train_metrics_rollback(trainer *t, int to_epoch, double params_sum, double params_sumsq);
void train_metrics_nonfinite(trainer *t, long global_step, const char *rollback_to);
void train_metrics_preempted(trainer *t);

#endif
