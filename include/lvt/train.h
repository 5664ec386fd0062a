/* train.h — the training loop (docs/training.md): epochs over the train store in the seeded global
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

/* How to run: where, whether to resume, and the hooks that tests set (the CLI reads them once, at
 * its edge; the trainer itself reads no environment). */
typedef struct lvt_train_opts {
    const char *run_dir;  /* the run directory (rank 0 writes it) */
    int resume;           /* continue from the newest checkpoint of run_dir/ckpt that loads */
    int restart;          /* a run_dir that holds a run: move it aside into run_dir/previous.N/
                           * and start over (without it, such a directory is refused) */
    int allow_change;     /* resume even though the model shape, data, global batch or seed
                           * differ from the checkpoint's (each difference is logged) */
    int force_devdata;    /* keep the train store on the backend and gather there even on the CPU
                           * backend (the path a GPU takes; tests compare it with the host gather) */
    long fault_kill_save; /* fault injection: the k-th checkpoint save of this process leaves a
                           * partial temporary file and kills the process (SIGKILL); 0: off */
    int fault_nan_repeat; /* fault injection: poison that step each time it is reached (not once) */
    long fault_nan_step;  /* fault injection: poison one input value at this global step, once
                           * (-1: off) */
    int fault_raise_setup; /* test hook: raise SIGTERM right after the stores are loaded (the
                            * handlers must already be installed: exit 0 after a checkpoint) */
    long fault_wait_stop; /* test hook: after global step k, wait (up to 120 s) for a stop signal
                           * before the step boundary's agreement, so a signal test never races
                           * the end of a fast run; 0: off */
    int graph_emulate;    /* run the CUDA-graph step (statistics on the backend, the device
                           * optimiser) eagerly on a backend without graphs: the CPU test of
                           * graph == eager (docs/cuda.md) */
} lvt_train_opts;

/* run_dir NULL, no resume, no forced device data, no fault. */
void lvt_train_opts_default(lvt_train_opts *o);

/* Run (or resume) the training run described by cfg into opts->run_dir. Every rank calls it;
 * rank 0 writes the run directory. */
int lvt_train_run(const lvt_config *cfg, const lvt_train_opts *opts, lvt_comm *comm,
                  lvt_train_summary *out, lvt_err *e);

/* Resolve the objective knobs in force at `epoch`: the config's objective, then each
 * curriculum phase with from_epoch <= epoch in order, then every fired tripwire (bit i of
 * fired) in index order. *phase receives the index of the active phase (-1: none). */
void lvt_train_resolve(const lvt_config *cfg, int epoch, uint64_t fired, lvt_objective_cfg *obj,
                       int *phase);

#endif
