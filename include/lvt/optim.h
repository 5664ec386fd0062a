/* optim.h — the optimiser (docs/loss.md): AdamW over the flat parameter buffer (torch.optim.AdamW
 * semantics, weight decay on every parameter), global-norm gradient clipping (exactly
 * torch.nn.utils.clip_grad_norm_), and the learning-rate schedules "plateau"
 * (torch.optim.lr_scheduler.ReduceLROnPlateau, mode "min", threshold_mode "rel"), "cosine"
 * (CosineAnnealingLR's closed form over a number of optimiser steps) and "constant".
 * The math runs through the backend's ops (adamw, sumsq), so it works on any backend.
 * All state that a resumed run needs is plain fields of lvt_optim (and the m/v buffers). */
#ifndef LVT_OPTIM_H
#define LVT_OPTIM_H

#include "lvt/common.h"
#include "lvt/config.h" /* lvt_sched_kind: optim.schedule, typed at load time */
#include "lvt/ops.h"

typedef struct lvt_optim_hparams {
    double lr;            /* base learning rate */
    double beta1, beta2, eps, weight_decay;
    double grad_clip;     /* max global norm; <= 0 disables clipping */
    lvt_sched_kind schedule;
    double plateau_factor;    /* new_lr = max(lr * factor, min_lr) */
    int plateau_patience;     /* reduce when num_bad_epochs > patience */
    double plateau_threshold; /* relative: better when metric < best * (1 - threshold) */
    int plateau_cooldown;     /* epochs to wait after a reduction (torch's cooldown; config: 0) */
    double min_lr;            /* floor of plateau, eta_min of cosine */
    long cosine_steps;        /* cosine: length T in optimiser steps (lr reaches min_lr at T) */
} lvt_optim_hparams;

typedef struct lvt_optim {
    lvt_optim_hparams hp;
    lvt_backend *be;
    size_t n;        /* number of parameters */
    float *m, *v;    /* AdamW first/second moments, backend memory, n floats each */
    long t;          /* optimiser steps taken (bias correction uses t after increment) */
    double lr;       /* current learning rate (changed by the schedule) */
    /* ReduceLROnPlateau state (torch's names) */
    double best;            /* best metric so far (+inf before the first epoch) */
    long num_bad_epochs;
    long cooldown_counter;
    long last_epoch;        /* number of plateau_step calls */
    long n_reductions;      /* how many times the plateau schedule reduced lr */
    /* cosine: steps counted by the schedule (== t unless the schedule was restarted) */
    long sched_steps;
} lvt_optim;

/* Defaults of docs/loss.md: lr 5e-4, betas 0.9/0.999, eps 1e-8, wd 0.01, clip 1.0, plateau 0.5/3/1e-4. */
void lvt_optim_hparams_default(lvt_optim_hparams *hp);

/* Fill from the config's optim and train.grad_clip fields. total_steps is the cosine length
 * (epochs * steps_per_epoch, or train.max_steps when that is smaller); ignored otherwise. */
int lvt_optim_hparams_from_config(lvt_optim_hparams *hp, const struct lvt_config *c,
                                  long total_steps, lvt_err *e);

/* Validate hp; allocate zeroed moments for n parameters on be. */
int lvt_optim_create(lvt_optim *o, const lvt_optim_hparams *hp, lvt_backend *be, size_t n,
                     lvt_err *e);
void lvt_optim_destroy(lvt_optim *o);

/* torch.nn.utils.clip_grad_norm_'s factor: min(1, max_norm / (norm + 1e-6)); 1 when
 * max_norm <= 0 (lvt_clip_coef of elementwise.h, which the backends' device-side step uses). */
double lvt_clip_scale(double norm, double max_norm);

/* One optimiser step: norm = sqrt(sumsq(grads)); grads are scaled by lvt_clip_scale(norm,
 * grad_clip) inside the AdamW update (grads themselves are not modified); t += 1; then the
 * cosine schedule (if any) advances one step. Returns the pre-clip global norm. The caller
 * checks the norm for NaN/Inf before calling when it wants to skip bad steps. */
double lvt_optim_step(lvt_optim *o, float *params, const float *grads);

/* The schedule's move after one optimiser step (the cosine schedule advances one step; the
 * others do nothing per step). lvt_optim_step calls it after its update; the graph optimiser
 * (graph.h) after preparing a step. */
void lvt_optim_schedule_step(lvt_optim *o);

/* The plateau schedule's epoch step with a validation metric (lower is better). Returns 1 when
 * the learning rate was reduced, 0 otherwise. A no-op returning 0 for other schedules. */
int lvt_optim_plateau_step(lvt_optim *o, double metric);

/* The cosine learning rate after `step` steps: min_lr + (lr - min_lr) * (1 + cos(pi*s/T)) / 2,
 * s = min(step, T). */
double lvt_cosine_lr(const lvt_optim_hparams *hp, long step);

/* Reset the moments and step count (e.g. after a NaN rollback with a fresh optimiser). */
void lvt_optim_reset(lvt_optim *o);

const char *lvt_sched_name(lvt_sched_kind k);

#endif
