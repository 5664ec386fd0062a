/* train.c — the training loop's driver (see include/lvt/train.h, docs/training.md): set up, start or
 * resume, then per epoch the named steps — begin the epoch (curriculum phase, epoch order), run its
 * steps (non-finite rollback, preemption), validate, record and checkpoint, apply tripwires (and
 * roll back) — then the summary. The pieces live beside it: train_setup.c, train_step.c,
 * train_validate.c, train_ckpt.c, train_history.c, train_metrics.c. The only process-global is the
 * preemption flag that the signal handler sets (a handler cannot reach anything else). */
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lvt/blas.h"
#include "train_priv.h"

static volatile sig_atomic_t stop_requested = 0;
static void on_stop_signal(int sig) { stop_requested = sig; }

void lvt_train_opts_default(lvt_train_opts *o) {
    memset(o, 0, sizeof *o);
    o->fault_nan_step = -1;
}

/* ---- curriculum and tripwires ---------------------------------------------------------------- */

void lvt_train_resolve(const lvt_config *cfg, int epoch, uint64_t fired, lvt_objective_cfg *obj,
                       int *phase) {
    double lr = cfg->optim.lr;
    lvt_config_at_epoch(cfg, epoch, obj, &lr);
    int ph = -1;
    for (int i = 0; i < cfg->n_phases; i++)
        if (cfg->phases[i].from_epoch <= epoch) ph = i;
    for (int i = 0; i < cfg->n_tripwires; i++)
        if (fired & (1ull << i)) lvt_override_apply(&cfg->tripwires[i].ov, obj, &lr);
    if (phase) *phase = ph;
}

/* The name shown for phase ph: its own, else the nearest earlier named phase's, else "base". */
static const char *phase_name(const lvt_config *cfg, int ph) {
    for (int i = ph; i >= 0; i--)
        if (cfg->phases[i].name[0]) return cfg->phases[i].name;
    return "base";
}

/* The epoch metric a tripwire condition reads. */
static double metric_value(lvt_tripwire_metric metric, const epoch_rec *r) {
    switch (metric) {
    case LVT_METRIC_VAL_COS: return r->val_cos;
    case LVT_METRIC_VAL_LOSS: return r->val_loss;
    case LVT_METRIC_MARGIN: return r->margin;
    case LVT_METRIC_VAL_COS_DROP_PCT: return r->val_cos_drop_pct;
    case LVT_METRIC_TRAIN_LOSS: return r->train_loss;
    }
    return NAN;
}

/* ---- roll back ----------------------------------------------------------------------------------- */

/* A non-finite loss: reload the newest good checkpoint and halve the LR once more than the last
 * retry did (retry k runs at the checkpoint's lr / 2^k), or give up after train.nan_max_retries
 * rollbacks, naming the checkpoint the run can be resumed from. */
static int roll_back_nonfinite(trainer *t, double bad_loss, lvt_err *e) {
    const char *name = train_ckpt_exists(t, "last.h5") ? "last.h5" : "epoch_000.h5";
    t->nan_retries++;
    if (t->nan_retries > t->cfg->train.nan_max_retries)
        return lvt_errf(e, "training diverged: non-finite loss at step %ld (epoch %d) after %d rollbacks; "
                           "the last good checkpoint is %s/%s", t->global_step, t->epoch, t->nan_retries - 1,
                        t->ckpt_dir, name);
    long bad_step = t->global_step;
    if (train_ckpt_restore(t, name, e)) return lvt_err_prefix(e, "rollback after a non-finite loss");
    t->nan_lr_scale *= 0.5;
    t->opt.lr *= t->nan_lr_scale;
    lvt_log_info(&t->log, "non-finite loss (%g) at step %ld: rolled back to %s, lr %.3g (halved %d time%s; retry %d of %d)",
                 bad_loss, bad_step, name, t->opt.lr, t->nan_retries, t->nan_retries == 1 ? "" : "s", t->nan_retries,
                 t->cfg->train.nan_max_retries);
    train_metrics_nonfinite(t, bad_step, name);
    return LVT_OK;
}

/* A tripwire's rollback_to_epoch: reload ckpt/epoch_NNN.h5, keeping the fired set (a tripwire
 * fires once, also across its own rollback) and, when a fired tripwire set it, the LR. */
static int roll_back_tripwire(trainer *t, int to_epoch, int keep_lr, lvt_err *e) {
    uint64_t fired = t->fired;
    double lr = t->opt.lr;
    char name[64];
    train_epoch_ckpt_name(to_epoch, name, sizeof name);
    if (train_ckpt_restore(t, name, e)) return LVT_ERROR;
    t->fired = fired;
    t->last_phase = -2;
    if (keep_lr) t->opt.lr = lr;
    lvt_log_info(&t->log, "rolled back to %s/%s: continuing at epoch %d", t->ckpt_dir, name, t->epoch);
    /* a fingerprint of the reloaded weights, so a reader can check them against the file */
    double psum = t->be->ops->sum(t->be, t->model.params, t->model.n_params);
    double psq = t->be->ops->sumsq(t->be, t->model.params, t->model.n_params);
    train_metrics_rollback(t, to_epoch, psum, psq);
    return train_ckpt_save(t, "last.h5", e);
}

/* ---- one epoch ----------------------------------------------------------------------------------- */

typedef struct epoch_run {
    lvt_objective_cfg obj; /* the knobs in force */
    int phase;             /* the curriculum phase (-1: none) */
    lvt_perm perm;         /* the epoch order */
    epoch_rec rec;         /* the history row being filled */
    double t0;             /* when this process began the epoch */
    int64_t samples;       /* samples of the epoch trained by this process */
} epoch_run;

/* A new curriculum phase: log it, set its lr when it begins at this epoch, record the event. */
static void announce_phase(trainer *t, const lvt_objective_cfg *obj, int phase) {
    const lvt_config *cfg = t->cfg;
    const char *pname = phase_name(cfg, phase);
    char desc[512] = "";
    if (phase >= 0) lvt_override_describe(&cfg->phases[phase].ov, desc, sizeof desc);
    if (phase >= 0 && cfg->phases[phase].from_epoch == t->epoch && (cfg->phases[phase].ov.set & LVT_OV_LR))
        t->opt.lr = cfg->phases[phase].ov.lr;
    lvt_log_info(&t->log, "epoch %d: curriculum phase %d '%s' begins (%s); rollout_h %d, lambda_roll %g, "
                 "lambda_dir %g, lambda_fut %g, lambda_ac %g, context_drop_p %g",
                 t->epoch, phase + 1, pname, desc[0] ? desc : "base objective", obj->rollout_h, obj->lambda_roll,
                 obj->lambda_dir, obj->lambda_fut, obj->lambda_ac, obj->context_drop_p);
    train_metrics_phase(t, phase + 1, pname);
    t->last_phase = phase;
}

/* Begin (or, after a resume or rollback, re-enter) epoch t->epoch: the knobs, the phase, the
 * seeded order (per rank when sharded), the partial sums. */
static void begin_epoch(trainer *t, epoch_run *ep) {
    const lvt_config *cfg = t->cfg;
    memset(ep, 0, sizeof *ep);
    lvt_train_resolve(cfg, t->epoch, t->fired, &ep->obj, &ep->phase);
    if (ep->phase != t->last_phase) announce_phase(t, &ep->obj, ep->phase);
    lvt_perm_init(&ep->perm, (uint64_t)t->wtrain.n_windows,
                  cfg->train.seed + (t->sharded ? (uint64_t)t->comm->rank : 0), (uint64_t)t->epoch);
    ep->rec.epoch = t->epoch;
    snprintf(ep->rec.phase, sizeof ep->rec.phase, "%s", phase_name(cfg, ep->phase));
    if (t->step_in_epoch == 0) {
        memset(t->ep_sums, 0, sizeof t->ep_sums);
        t->ep_samples = 0;
    }
    ep->t0 = lvt_now();
}

/* A finished step: the epoch sums, the counters, the progress line and the step record. */
static void count_step(trainer *t, epoch_run *ep, const step_out *so) {
    const lvt_config *cfg = t->cfg;
    for (int k = 0; k < LVT_TERM_COUNT; k++) t->ep_sums[k] += so->terms[k] * (double)so->term_samples;
    t->ep_samples += so->term_samples;
    ep->samples += so->samples;
    t->samples_run += so->samples;
    t->step_in_epoch++;
    t->global_step++;
    double el = lvt_now() - ep->t0;
    double sps = el > 0 ? (double)ep->samples / el : 0;
    double eta = sps > 0 ? (double)(t->steps_per_epoch - t->step_in_epoch) * cfg->train.global_batch / sps : -1;
    lvt_log_progress(&t->log, t->epoch, t->step_in_epoch, t->steps_per_epoch, sps, so->terms[LVT_TERM_TOTAL], eta,
                     cfg->train.log_every);
    if (cfg->train.log_every > 0 && t->global_step % cfg->train.log_every == 0 && so->term_samples > 0)
        train_metrics_step(t, so, sps);
}

/* The test hook LVT_FAULT_WAIT_STOP=k: after global step k this process waits for its stop
 * signal (up to 120 s, then carries on), so a signal test cannot lose the race against a run that
 * ends before the signal arrives. */
static void fault_wait_stop(const trainer *t) {
    if (t->fault_wait_stop <= 0 || t->global_step != t->fault_wait_stop) return;
    const struct timespec tick = {0, 10 * 1000 * 1000};
    for (int i = 0; i < 12000 && !stop_requested; i++) nanosleep(&tick, NULL);
}

/* Preemption: every rank agrees at the step boundary; then last.h5 is written and the run stops. */
static int check_preemption(trainer *t, lvt_err *e) {
    int64_t stop = stop_requested;
    if (lvt_comm_allreduce_i64(t->comm, &stop, 1, LVT_COMM_MAX, e)) return LVT_ERROR;
    if (!stop) return LVT_OK;
    lvt_log_progress_end(&t->log);
    if (train_graph_flush(t, e)) return LVT_ERROR;
    if (train_ckpt_save(t, "last.h5", e)) return LVT_ERROR;
    lvt_log_info(&t->log, "stop signal received: checkpoint written at epoch %d step %ld; continue with --resume %s",
                 t->epoch, t->step_in_epoch, t->run_dir);
    train_metrics_preempted(t);
    t->preempted = 1;
    return LVT_OK;
}

/* The epoch's remaining steps, up to train.max_steps. *rolled_back: a non-finite step was rolled
 * back (the loop re-enters the epoch at the restored position). */
static int run_epoch(trainer *t, epoch_run *ep, int *rolled_back, lvt_err *e) {
    const lvt_config *cfg = t->cfg;
    int rc = LVT_OK;
    *rolled_back = 0;
    while (rc == LVT_OK && !t->preempted && t->step_in_epoch < t->steps_per_epoch) {
        if (cfg->train.max_steps > 0 && t->global_step >= cfg->train.max_steps) break;
        step_out so;
        if ((rc = train_step(t, &ep->obj, &ep->perm, &so, e))) break;
        if (!so.finite) {
            *rolled_back = 1;
            rc = roll_back_nonfinite(t, so.terms[LVT_TERM_TOTAL], e);
            break;
        }
        count_step(t, ep, &so);
        fault_wait_stop(t);
        rc = check_preemption(t, e);
    }
    t->train_seconds += lvt_now() - ep->t0;
    return rc;
}

/* The epoch's training side of its history row: sample-weighted term means, steps, timing. */
static void summarise_epoch(const trainer *t, epoch_run *ep) {
    epoch_rec *r = &ep->rec;
    const double ns = t->ep_samples > 0 ? (double)t->ep_samples : 1.0;
    r->train_loss = t->ep_sums[LVT_TERM_TOTAL] / ns;
    r->train_cos = t->ep_sums[LVT_TERM_COS] / ns;
    r->mse = t->ep_sums[LVT_TERM_MSE] / ns;
    r->roll = t->ep_sums[LVT_TERM_ROLL] / ns;
    r->dir = t->ep_sums[LVT_TERM_DIR] / ns;
    r->fut = t->ep_sums[LVT_TERM_FUT] / ns;
    r->ac = t->ep_sums[LVT_TERM_AC] / ns;
    r->lambda_eff = t->ep_sums[LVT_TERM_LAMBDA_EFF] / ns;
    r->steps = t->step_in_epoch;
    r->seconds = lvt_now() - ep->t0;
    r->samples_per_s = r->seconds > 0 ? ep->samples / r->seconds : 0;
}

/* The step budget ended inside the epoch: report, keep the run resumable, and leave the epoch's
 * bookkeeping (history, best values, schedule) to the resumed run. */
static int stop_at_budget(trainer *t, const epoch_rec *r, lvt_err *e) {
    lvt_log_info(&t->log, "stopped at train.max_steps = %ld inside epoch %d (step %ld of %ld): val_loss %.6f "
                 "val_cos %.4f Margin(+1 vs last): %.4f", (long)t->cfg->train.max_steps, t->epoch,
                 t->step_in_epoch, t->steps_per_epoch, r->val_loss, r->val_cos, r->margin);
    t->capped = 1;
    t->capped_rec = *r;
    return train_ckpt_save(t, "last.h5", e);
}

/* The validated epoch into the history, training.log and metrics.jsonl. */
static int record_epoch(trainer *t, const epoch_rec *r, int improved, lvt_err *e) {
    if (r->val_loss < t->best_val_loss) t->best_val_loss = r->val_loss;
    if (train_history_push(t, r, e)) return LVT_ERROR;
    char bl[160], mini[96] = "", ctx[96];
    train_baselines_flags(t, r, bl, sizeof bl);
    train_context_flags(r, ctx, sizeof ctx);
    if (isfinite(r->mini_cos_p1))
        snprintf(mini, sizeof mini, "   mini-5CAT cos(+1) %.4f margin(+1) %.4f", r->mini_cos_p1, r->mini_margin);
    lvt_log_info(&t->log, "epoch %d/%d [%s] train_loss %.6f train_cos %.4f | val_loss %.6f val_cos %.4f%s | lr %.3g | %.1fs",
                 t->epoch, t->cfg->train.epochs, r->phase, r->train_loss, r->train_cos, r->val_loss, r->val_cos, bl,
                 r->lr, r->seconds);
    const char *best = lvt_config_monitor(t->cfg) == LVT_MONITOR_VAL_COS ? "   (best val cos)" : "   (best val loss)";
    lvt_log_info(&t->log, "  Margin(+1 vs last): %.4f%s%s%s", r->margin, mini, ctx, improved ? best : "");
    train_metrics_epoch(t, r);
    return LVT_OK;
}

/* What train.monitor follows, lower is better: val_loss, or 1 - val_cos. */
static double monitored(const lvt_config *cfg, const epoch_rec *r) {
    return lvt_config_monitor(cfg) == LVT_MONITOR_VAL_COS ? 1.0 - r->val_cos : r->val_loss;
}

/* The files of an epoch's close: epoch_name (NULL: not again), last.h5, best.h5 when improved —
 * each marked train.epoch_close, so that a resume from one finishes the close (finish_close) —
 * then retention and training_history.json. */
static int write_close(trainer *t, const char *epoch_name, int done_epoch, int improved, lvt_err *e) {
    t->closing = improved ? 2 : 1;
    int rc = (epoch_name && train_ckpt_save(t, epoch_name, e)) || train_ckpt_save(t, "last.h5", e) ||
             (improved && train_ckpt_save(t, "best.h5", e));
    t->closing = 0;
    if (rc) return LVT_ERROR;
    train_ckpt_retention(t, done_epoch);
    return train_history_write(t, e);
}

/* Close the epoch: the plateau schedule, the move to the next epoch, the epoch's checkpoints
 * (epoch_NNN, last, best when improved), retention and training_history.json. */
static int checkpoint_epoch(trainer *t, const epoch_rec *r, int improved, lvt_err *e) {
    if (lvt_optim_plateau_step(&t->opt, monitored(t->cfg, r))) lvt_log_info(&t->log, "  plateau: lr reduced to %.3g", t->opt.lr);
    int done_epoch = t->epoch;
    t->epoch++;
    t->step_in_epoch = 0;
    char name[64];
    train_epoch_ckpt_name(done_epoch, name, sizeof name);
    return write_close(t, name, done_epoch, improved, e);
}

/* Tripwire i fired after done_epoch: mark it, log it, record it, and set its lr now (its
 * objective knobs apply from the next epoch through lvt_train_resolve). */
static void fire_tripwire(trainer *t, int i, int done_epoch, const epoch_rec *r) {
    const lvt_tripwire *tw = &t->cfg->tripwires[i];
    t->fired |= 1ull << i;
    char desc[512] = "";
    lvt_override_describe(&tw->ov, desc, sizeof desc);
    double v = metric_value(tw->metric, r);
    lvt_log_info(&t->log, "tripwire %d fired after epoch %d: %s (%s = %.6g); set %s%s", i + 1, done_epoch,
                 tw->cond_text, lvt_config_choice_name(LVT_CHOICE_METRIC, tw->metric), v, desc[0] ? desc : "nothing",
                 tw->rollback_to_epoch ? ", rolling back" : "");
    train_metrics_tripwire(t, i + 1, done_epoch, tw->cond_text, v, tw->rollback_to_epoch);
    if (tw->ov.set & LVT_OV_LR) t->opt.lr = tw->ov.lr;
}

/* The tripwires of the epoch just closed: rank 0 decides, every rank applies; the first fired
 * tripwire with rollback_to_epoch rolls the run back. */
static int apply_tripwires(trainer *t, const epoch_rec *r, lvt_err *e) {
    const lvt_config *cfg = t->cfg;
    const int done_epoch = t->epoch - 1;
    int64_t decision[LVT_MAX_TRIPWIRES + 1];
    memset(decision, 0, sizeof decision);
    for (int i = 0; t->comm->rank == 0 && i < cfg->n_tripwires; i++) {
        const lvt_tripwire *tw = &cfg->tripwires[i];
        if ((t->fired & (1ull << i)) || done_epoch < tw->epoch_lo || done_epoch > tw->epoch_hi) continue;
        lvt_tripwire at = *tw;
        at.value = train_tripwire_threshold(t, tw);
        if (lvt_tripwire_holds(&at, metric_value(tw->metric, r))) decision[i] = 1;
    }
    if (lvt_comm_allreduce_i64(t->comm, decision, LVT_MAX_TRIPWIRES, LVT_COMM_MAX, e)) return LVT_ERROR;
    int rollback = 0, lr_set = 0;
    for (int i = 0; i < cfg->n_tripwires; i++) {
        if (!decision[i]) continue;
        fire_tripwire(t, i, done_epoch, r);
        if (cfg->tripwires[i].ov.set & LVT_OV_LR) lr_set = 1;
        if (cfg->tripwires[i].rollback_to_epoch > 0 && !rollback) rollback = cfg->tripwires[i].rollback_to_epoch;
    }
    return rollback ? roll_back_tripwire(t, rollback, lr_set, e) : LVT_OK;
}

/* A resume from a checkpoint written while an epoch was being closed (a kill between
 * epoch_NNN.h5 and last.h5, before best.h5, or before the tripwires ran): do the rest of the close
 * as the uninterrupted run did — last.h5 and best.h5 (still marked as closing, should this be
 * killed too), retention, training_history.json, the tripwires on that epoch's row. */
static int finish_close(trainer *t, lvt_err *e) {
    const int improved = t->resumed_close == 2, done_epoch = t->epoch - 1;
    lvt_log_info(&t->log, "resume: finishing the close of epoch %d (last.h5%s, history, tripwires)", done_epoch,
                 improved ? ", best.h5" : "");
    t->resumed_close = 0;
    if (write_close(t, NULL, done_epoch, improved, e)) return LVT_ERROR;
    return apply_tripwires(t, &t->hist[t->n_hist - 1], e);
}

/* One pass of the loop over epoch t->epoch. */
static int epoch(trainer *t, lvt_err *e) {
    const lvt_config *cfg = t->cfg;
    epoch_run ep;
    int rolled_back, rc;
    begin_epoch(t, &ep);
    if ((rc = run_epoch(t, &ep, &rolled_back, e)) || rolled_back || t->preempted) return rc;
    lvt_log_progress_end(&t->log);
    const int capped = cfg->train.max_steps > 0 && t->global_step >= cfg->train.max_steps &&
                       t->step_in_epoch < t->steps_per_epoch;
    summarise_epoch(t, &ep);
    if ((rc = train_validate(t, &ep.rec, e))) return rc;
    if (capped) return stop_at_budget(t, &ep.rec, e);
    epoch_rec *r = &ep.rec;
    const double prev_best_cos = t->best_val_cos;
    if (r->val_cos > t->best_val_cos) t->best_val_cos = r->val_cos;
    r->val_cos_drop_pct = t->best_val_cos > 0 ? 100.0 * (t->best_val_cos - r->val_cos) / t->best_val_cos : 0;
    r->lr = t->opt.lr;
    if (!isfinite(r->val_loss)) return roll_back_nonfinite(t, r->val_loss, e);
    /* best.h5 follows train.monitor (docs/training.md) */
    const int improved = lvt_config_monitor(cfg) == LVT_MONITOR_VAL_COS ? r->val_cos > prev_best_cos
                                                                         : r->val_loss < t->best_val_loss;
    if ((rc = record_epoch(t, r, improved, e)) || (rc = checkpoint_epoch(t, r, improved, e))) return rc;
    return apply_tripwires(t, r, e);
}

/* ---- the run ----------------------------------------------------------------------------------------- */

/* Resume from ckpt/last.h5, or start: ckpt/epoch_000.h5 (the initial weights) and the run's
 * description in the log. */
/* the BLAS library, core and threads in force (docs/bench.md, "BLAS core selection") */
static void log_blas(trainer *t) {
    char blas[256], math[256];
    lvt_blas_describe(blas, sizeof blas);
    lvt_backend_math_describe(t->be, math, sizeof math); /* what train.math became on this backend */
    lvt_log_info(&t->log, "BLAS: %s; %s", blas, math);
}

/* --resume: the newest checkpoint of ckpt/ that loads and passes the run-state checks (a kill can
 * leave last.h5 older than epoch_NNN.h5, or absent); every rank agrees on each candidate. */
static int resume_newest(trainer *t, int *resumed, lvt_err *e) {
    char (*names)[256] = NULL;
    int n = 0;
    if (train_resume_candidates(t, &names, &n, e)) return LVT_ERROR;
    if (n == 0) return LVT_OK;
    int rc = LVT_ERROR;
    lvt_err why, first = {{0}};
    for (int i = 0; i < n && rc != LVT_OK; i++) {
        why.msg[0] = 0;
        int64_t bad = train_ckpt_restore(t, names[i], &why) != LVT_OK;
        lvt_err ce;
        if (lvt_comm_allreduce_i64(t->comm, &bad, 1, LVT_COMM_MAX, &ce)) {
            free(names);
            return lvt_errf(e, "%s", ce.msg);
        }
        if (bad) {
            if (i + 1 < n)
                lvt_log_info(&t->log, "resume: skipping %s/%s (%s)", t->ckpt_dir, names[i],
                             why.msg[0] ? why.msg : "failed on another rank");
            if (!first.msg[0]) first = why;
            continue;
        }
        rc = LVT_OK;
        *resumed = 1;
        lvt_log_info(&t->log, "resumed from %s/%s: epoch %d, step %ld of %ld, global step %ld%s", t->ckpt_dir, names[i],
                     t->epoch, t->step_in_epoch, t->steps_per_epoch, t->global_step,
                     t->tmp_removed ? " (stale temporary files removed)" : "");
    }
    if (rc != LVT_OK && n == 1)
        lvt_errf(e, "--resume %s: %s", t->run_dir, first.msg[0] ? first.msg : "the checkpoint failed on another rank");
    else if (rc != LVT_OK)
        lvt_errf(e, "--resume %s: none of the %d checkpoints in %s loads (newest %s: %s)", t->run_dir, n, t->ckpt_dir,
                 names[0], first.msg[0] ? first.msg : "failed on another rank");
    free(names);
    return rc;
}

static int start_run(trainer *t, int resume, lvt_err *e) {
    const lvt_config *cfg = t->cfg;
    int resumed = 0;
    if (resume && resume_newest(t, &resumed, e)) return LVT_ERROR;
    if (resumed) {
        log_blas(t);
        return LVT_OK;
    }
    if (resume)
        lvt_log_info(&t->log, "resume: no checkpoint yet in %s (stopped during set-up): starting from the beginning",
                     t->ckpt_dir);
    if (t->moved_aside[0]) lvt_log_info(&t->log, "--restart: the previous run was moved to %s", t->moved_aside);
    if (train_ckpt_save(t, "epoch_000.h5", e)) return LVT_ERROR;
    if (t->sharded)
        lvt_log_info(&t->log, "data.shard articles: rank 0 holds articles [%lld, %lld) of %s (%lld windows); "
                     "every rank reads only its own range", (long long)t->shard_lo, (long long)t->shard_hi,
                     cfg->data.train, (long long)t->wtrain.n_windows);
    char thr[192]; /* the thread count, why, and the OpenMP wait policy (docs/bench.md, "Contention") */
    lvt_cpu_threads_describe(thr, sizeof thr, t->threads, t->comm->local_world);
    lvt_log_info(&t->log, "lvt train: %lld train windows, %lld val windows, %zu parameters, global batch %d "
                 "(micro %d x world %d x accum %d), %ld steps/epoch, backend %s, %s",
                 (long long)t->wtrain.n_windows, (long long)t->wval.n_windows, t->model.n_params,
                 cfg->train.global_batch, t->micro, t->comm->world, t->accum, t->steps_per_epoch, t->be->ops->name,
                 thr);
    if (lvt_config_monitor(cfg) == LVT_MONITOR_VAL_COS)
        lvt_log_info(&t->log, "best.h5 and the plateau schedule follow val_cos (train.monitor %s%s)",
                     lvt_config_choice_name(LVT_CHOICE_MONITOR, cfg->train.monitor),
                     cfg->train.monitor == LVT_MONITOR_AUTO ? ": the base loss is not mse" : "");
    log_blas(t);
    return LVT_OK;
}

static void summarise_run(trainer *t, lvt_train_summary *out, double t_start) {
    out->epochs_done = t->epoch - 1;
    out->steps_done = t->global_step;
    out->preempted = t->preempted;
    const epoch_rec *r = t->capped ? &t->capped_rec : t->n_hist > 0 ? &t->hist[t->n_hist - 1] : NULL;
    if (r) {
        out->val_loss = r->val_loss;
        out->val_cos = r->val_cos;
        out->margin = r->margin;
    }
    out->best_val_loss = t->best_val_loss;
    out->seconds = lvt_now() - t_start;
    out->samples_per_s = t->train_seconds > 0 ? t->samples_run / t->train_seconds : 0;
    if (!out->preempted && r)
        lvt_log_info(&t->log, "done: %d epochs, %ld steps in %.1fs (%.0f samples/s); final val_cos %.4f, "
                     "Margin(+1 vs last) %.4f, best val_loss %.6f", out->epochs_done, out->steps_done, out->seconds,
                     out->samples_per_s, out->val_cos, out->margin, out->best_val_loss);
    const long roll = t->loss.slots_run + t->loss.slots_skipped;
    if (!out->preempted && roll > 0) /* docs/loss.md, "Zero-gradient slots" */
        lvt_log_info(&t->log, "rollout backward: %ld of %ld later-slot backwards skipped on rank 0 (%.1f%%: an exactly "
                     "zero prediction gradient: the flat penalty below its threshold, or no rollout truth)", t->loss.slots_skipped, roll,
                     100.0 * (double)t->loss.slots_skipped / (double)roll);
}

int lvt_train_run(const lvt_config *cfg, const lvt_train_opts *opts, lvt_comm *comm,
                  lvt_train_summary *out, lvt_err *e) {
    memset(out, 0, sizeof *out);
    if (!opts->run_dir || !opts->run_dir[0]) return lvt_errf(e, "lvt_train_run: no run directory");
    if (strlen(opts->run_dir) >= LVT_PATH_MAX - 64) /* room for ckpt/epoch_NNN.h5 and its temporary name */
        return lvt_errf(e, "run directory %.40s...: longer than %d characters", opts->run_dir, LVT_PATH_MAX - 65);
    trainer tr, *t = &tr;
    double t_start = lvt_now();
    /* the handlers come first: a stop signal during set-up stops the run at its first step boundary */
    stop_requested = 0;
    signal(SIGTERM, on_stop_signal);
    signal(SIGUSR1, on_stop_signal);
    int rc = train_setup(t, cfg, opts, comm, e);
    if (rc == LVT_OK) rc = start_run(t, opts->resume, e);
    if (rc == LVT_OK) rc = train_baselines(t, e);
    if (rc == LVT_OK && t->resumed_close) rc = finish_close(t, e); /* after the baselines a tripwire may name */
    while (rc == LVT_OK && !t->preempted && !t->capped && t->epoch <= cfg->train.epochs) rc = epoch(t, e);
    if (rc == LVT_OK) summarise_run(t, out, t_start);
    signal(SIGTERM, SIG_DFL);
    signal(SIGUSR1, SIG_DFL);
    train_teardown(t);
    return rc;
}
