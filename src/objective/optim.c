/* optim.c — AdamW through ops->adamw, global-norm clipping through ops->sumsq, and the LR
 * schedules (ReduceLROnPlateau with torch's exact rules, cosine, constant). See optim.h. */
#include "lvt/optim.h"

#include <math.h>
#include <string.h>

#include "lvt/config.h"

void lvt_optim_hparams_default(lvt_optim_hparams *hp) {
    memset(hp, 0, sizeof *hp);
    hp->lr = 5e-4;
    hp->beta1 = 0.9;
    hp->beta2 = 0.999;
    hp->eps = 1e-8;
    hp->weight_decay = 0.01;
    hp->grad_clip = 1.0;
    hp->schedule = LVT_SCHED_PLATEAU;
    hp->plateau_factor = 0.5;
    hp->plateau_patience = 3;
    hp->plateau_threshold = 1e-4;
    hp->plateau_cooldown = 0;
    hp->min_lr = 0.0;
    hp->cosine_steps = 0;
}

const char *lvt_sched_name(lvt_sched_kind k) {
    switch (k) {
    case LVT_SCHED_PLATEAU: return "plateau";
    case LVT_SCHED_COSINE: return "cosine";
    default: return "constant";
    }
}

int lvt_optim_hparams_from_config(lvt_optim_hparams *hp, const lvt_config *c, long total_steps,
                                  lvt_err *e) {
    lvt_optim_hparams_default(hp);
    hp->lr = c->optim.lr;
    hp->beta1 = c->optim.beta1;
    hp->beta2 = c->optim.beta2;
    hp->eps = c->optim.eps;
    hp->weight_decay = c->optim.weight_decay;
    hp->grad_clip = c->train.grad_clip;
    hp->schedule = c->optim.schedule;
    hp->plateau_factor = c->optim.plateau_factor;
    hp->plateau_patience = c->optim.plateau_patience;
    hp->plateau_threshold = c->optim.plateau_threshold;
    hp->min_lr = c->optim.min_lr;
    hp->cosine_steps = total_steps;
    return LVT_OK;
}

static int check_hparams(const lvt_optim_hparams *hp, lvt_err *e) {
    if (!(hp->lr >= 0) || !isfinite(hp->lr)) return lvt_errf(e, "optim: lr must be >= 0, got %g", hp->lr);
    if (!(hp->beta1 >= 0 && hp->beta1 < 1)) return lvt_errf(e, "optim: beta1 must be in [0, 1), got %g", hp->beta1);
    if (!(hp->beta2 >= 0 && hp->beta2 < 1)) return lvt_errf(e, "optim: beta2 must be in [0, 1), got %g", hp->beta2);
    if (!(hp->eps > 0)) return lvt_errf(e, "optim: eps must be > 0, got %g", hp->eps);
    if (!(hp->weight_decay >= 0)) return lvt_errf(e, "optim: weight_decay must be >= 0, got %g", hp->weight_decay);
    if (hp->schedule == LVT_SCHED_PLATEAU) {
        if (!(hp->plateau_factor > 0 && hp->plateau_factor < 1))
            return lvt_errf(e, "optim: plateau factor must be in (0, 1), got %g", hp->plateau_factor);
        if (hp->plateau_patience < 0) return lvt_errf(e, "optim: plateau patience must be >= 0");
        if (hp->plateau_cooldown < 0) return lvt_errf(e, "optim: plateau cooldown must be >= 0");
    }
    if (hp->schedule == LVT_SCHED_COSINE && hp->cosine_steps <= 0)
        return lvt_errf(e, "optim: the cosine schedule needs a positive number of steps, got %ld",
                        hp->cosine_steps);
    return LVT_OK;
}

int lvt_optim_create(lvt_optim *o, const lvt_optim_hparams *hp, lvt_backend *be, size_t n,
                     lvt_err *e) {
    memset(o, 0, sizeof *o);
    if (check_hparams(hp, e)) return LVT_ERROR;
    o->hp = *hp;
    o->be = be;
    o->n = n;
    o->m = be->ops->alloc(be, n * sizeof(float), e);
    if (!o->m) return LVT_ERROR;
    o->v = be->ops->alloc(be, n * sizeof(float), e);
    if (!o->v) {
        be->ops->free(be, o->m);
        o->m = NULL;
        return LVT_ERROR;
    }
    lvt_optim_reset(o);
    return LVT_OK;
}

void lvt_optim_reset(lvt_optim *o) {
    o->be->ops->zero(o->be, o->m, o->n * sizeof(float));
    o->be->ops->zero(o->be, o->v, o->n * sizeof(float));
    o->t = 0;
    o->lr = o->hp.lr;
    o->best = INFINITY;
    o->num_bad_epochs = 0;
    o->cooldown_counter = 0;
    o->last_epoch = 0;
    o->n_reductions = 0;
    o->sched_steps = 0;
}

void lvt_optim_destroy(lvt_optim *o) {
    if (!o || !o->be) return;
    if (o->m) o->be->ops->free(o->be, o->m);
    if (o->v) o->be->ops->free(o->be, o->v);
    o->m = o->v = NULL;
}

double lvt_clip_scale(double norm, double max_norm) { return lvt_clip_coef(norm, max_norm); }

double lvt_cosine_lr(const lvt_optim_hparams *hp, long step) {
    long T = hp->cosine_steps > 0 ? hp->cosine_steps : 1;
    long s = step < T ? step : T;
    if (s < 0) s = 0;
    return hp->min_lr + (hp->lr - hp->min_lr) * (1.0 + cos(3.14159265358979323846 * (double)s / (double)T)) / 2.0;
}

double lvt_optim_step(lvt_optim *o, float *params, const float *grads) {
    const lvt_ops *ops = o->be->ops;
    double norm = sqrt(ops->sumsq(o->be, grads, o->n));
    /* torch multiplies the gradients by the clamped coefficient (a float32 tensor). */
    float scale = (float)lvt_clip_scale(norm, o->hp.grad_clip);
    o->t += 1;
    ops->adamw(o->be, params, grads, o->m, o->v, o->n, (float)o->lr, (float)o->hp.beta1,
               (float)o->hp.beta2, (float)o->hp.eps, (float)o->hp.weight_decay, o->t, scale);
    lvt_optim_schedule_step(o);
    return norm;
}

void lvt_optim_schedule_step(lvt_optim *o) {
    if (o->hp.schedule == LVT_SCHED_COSINE) {
        o->sched_steps += 1;
        o->lr = lvt_cosine_lr(&o->hp, o->sched_steps);
    }
}

int lvt_optim_plateau_step(lvt_optim *o, double metric) {
    if (o->hp.schedule != LVT_SCHED_PLATEAU) return 0;
    /* torch.optim.lr_scheduler.ReduceLROnPlateau.step, mode "min", threshold_mode "rel". */
    o->last_epoch += 1;
    if (metric < o->best * (1.0 - o->hp.plateau_threshold)) {
        o->best = metric;
        o->num_bad_epochs = 0;
    } else {
        o->num_bad_epochs += 1;
    }
    if (o->cooldown_counter > 0) {
        o->cooldown_counter -= 1;
        o->num_bad_epochs = 0;
    }
    if (o->num_bad_epochs > o->hp.plateau_patience) {
        double old_lr = o->lr;
        double new_lr = old_lr * o->hp.plateau_factor;
        if (new_lr < o->hp.min_lr) new_lr = o->hp.min_lr;
        o->cooldown_counter = o->hp.plateau_cooldown;
        o->num_bad_epochs = 0;
        if (old_lr - new_lr > 1e-8) { /* torch's eps */
            o->lr = new_lr;
            o->n_reductions += 1;
            return 1;
        }
    }
    return 0;
}
