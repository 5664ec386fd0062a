/* train.h — the training loop (docs/loss.md): epochs over the train store in the seeded global
 * order, data-parallel micro-steps with gradient accumulation, the P4 objective, per-epoch
 * validation and mini-5CAT, the LR schedule, curriculum phases, tripwires (incl. rollback),
 * NaN/Inf handling, checkpoints (per epoch, last, best; atomic), exact resume (also mid-epoch),
 * preemption by SIGTERM/SIGUSR1, and the run directory's logs. */
#ifndef LVT_TRAIN_H
#define LVT_TRAIN_H

#include "lvt/comm.h"
#include "lvt/common.h"
#include "lvt/config.h"

typedef struct lvt_train_summary {
    int epochs_done;
    long steps_done;
    double val_loss, val_cos, margin;   /* last validation */
    double best_val_loss;
    int preempted;                      /* stopped by a signal; resume with --resume */
    double seconds;
    double samples_per_s;
} lvt_train_summary;

/* Run (or resume, when resume != 0: continue from run_dir/ckpt/last.h5) a training run described
 * by cfg into run_dir. Every rank calls it; rank 0 writes the run directory. */
int lvt_train_run(const lvt_config *cfg, const char *run_dir, int resume, lvt_comm *comm,
                  lvt_train_summary *out, lvt_err *e);

/* Resolve the objective knobs in force at `epoch`: the config's objective, then each
 * curriculum phase with from_epoch <= epoch in order, then every fired tripwire (bit i of
 * fired) in index order. *phase receives the index of the active phase (-1: none). */
void lvt_train_resolve(const lvt_config *cfg, int epoch, uint64_t fired, lvt_objective_cfg *obj,
                       int *phase);

#endif
