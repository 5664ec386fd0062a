/* train_graph.c — the training step as a CUDA graph (docs/cuda.md, "The graph step in lvt train"):
 * gather, forward, rollout, backward, the NCCL all-reduce (several ranks), clip and AdamW
 * captured once per signature (batch sizes, the resolved objective, the loss normalisation, the
 * activation buffers) through lvt_graph_cache_run and replayed; the optimiser's per-step scalars
 * in backend memory (lvt_graph_optim_*); the loss terms summed on the backend, weighted by the
 * step's samples, and read once per log interval, at the end of an epoch, at train.max_steps and
 * before a preemption checkpoint — not after every step. A non-finite loss skips the update on
 * the device and is seen at the next read, which rolls back as the eager step would.
 * Used when train.cuda_graph is on, the backend can capture (or opts.graph_emulate runs the same
 * step eagerly on any backend, for the CPU test of graph == eager), the store is resident on the
 * backend, grad_accum is 1 and the ranks all-reduce on the device (one rank, or NCCL); otherwise
 * train_step runs eagerly and the reason is logged. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lvt/graph.h"
#include "train_priv.h"

struct train_graph {
    trainer *t;
    lvt_graph_cache gc;
    lvt_graph_optim *go;
    float *acc;           /* backend: sample-weighted term sums since the last read */
    int64_t acc_samples;  /* samples those sums cover */
    long acc_steps;
    double last_terms[LVT_TERM_COUNT]; /* the last read's means (shown between reads) */
    int noted;            /* the capture's fallback reason has been logged */
    /* the step being run (read by graph_fn) */
    const lvt_objective_cfg *obj;
    int my_n, poison;
    int64_t m, cm, base;
};

/* The loss's cross-rank statistics on the backend's stream (NCCL: capturable). */
static int reduce_device(void *ctx, float *buf, int n, lvt_err *e) {
    trainer *t = ctx;
    return lvt_comm_allreduce_device(t->comm, t->be, buf, (size_t)n, LVT_COMM_SUM, 0, e);
}

/* Why the graph step cannot be used ("" when it can). */
static void why_not(const trainer *t, const lvt_train_opts *o, char *why, size_t cap) {
    why[0] = 0;
    if (!t->cfg->train.cuda_graph) snprintf(why, cap, "train.cuda_graph is off");
    else if (!lvt_graph_available(t->be) && !o->graph_emulate)
        snprintf(why, cap, "the %s backend has no graphs", t->be->ops->name);
    else if (!t->use_devdata) snprintf(why, cap, "the train store is not resident on the backend");
    else if (t->accum != 1) snprintf(why, cap, "grad_accum is %d (the graph step takes one micro-step)", t->accum);
    else if (t->comm->world > 1 && lvt_comm_device_mode(t->comm) != LVT_COMM_DEV_NCCL)
        snprintf(why, cap, "%d ranks without NCCL (%s)", t->comm->world, lvt_comm_device_note(t->comm));
}

int train_graph_init(trainer *t, const lvt_train_opts *o, lvt_err *e) {
    char why[256];
    why_not(t, o, why, sizeof why);
    if (why[0]) {
        /* a backend without graphs (the CPU) says nothing: there was nothing to capture */
        if (t->cfg->train.cuda_graph && !lvt_graph_available(t->be) && !o->graph_emulate) return LVT_OK;
        lvt_log_info(&t->log, "cuda graph: off (%s)", why);
        return LVT_OK;
    }
    struct train_graph *g = lvt_calloc(1, sizeof *g, e);
    if (!g) return LVT_ERROR;
    g->t = t;
    t->graph = g;
    lvt_graph_cache_init(&g->gc, t->be, 1);
    if (lvt_graph_optim_create(&g->go, t->be, e) ||
        !(g->acc = t->be->ops->alloc(t->be, sizeof(float) * LVT_TERM_COUNT, e)))
        return lvt_err_prefix(e, "cuda graph");
    if (t->comm->world > 1) t->loss.reduce = reduce_device;
    if (g->gc.enabled)
        lvt_log_info(&t->log, "cuda graph: on (one graph per batch shape and objective; statistics read every %d "
                     "steps and at epoch ends)", t->cfg->train.log_every);
    else
        lvt_log_info(&t->log, "cuda graph: emulated (the graph step runs eagerly on the %s backend)",
                     t->be->ops->name);
    return LVT_OK;
}

void train_graph_free(trainer *t) {
    struct train_graph *g = t->graph;
    if (!g) return;
    lvt_log_info(&t->log, "cuda graph: %ld eager steps (warm-ups and fallbacks), %ld captures, %ld replays%s%s",
                 g->gc.n_eager, g->gc.n_captures, g->gc.n_replays, g->gc.note[0] ? "; " : "", g->gc.note);
    lvt_graph_cache_free(&g->gc);
    lvt_graph_optim_destroy(g->go);
    if (g->acc) t->be->ops->free(t->be, g->acc);
    free(g);
    t->graph = NULL;
}

/* What the graph freezes, field by field: a change means a new capture. */
static uint64_t signature(const struct train_graph *g) {
    const trainer *t = g->t;
    const lvt_objective_cfg *o = g->obj;
    uint64_t h = 0;
    h = lvt_graph_sig(h, &g->m, sizeof g->m);
    h = lvt_graph_sig(h, &g->cm, sizeof g->cm);
    h = lvt_graph_sig(h, &g->my_n, sizeof g->my_n);
    const int ints[] = {o->rollout_h, (int)o->rollout_grad, (int)o->rollout_supervise, (int)o->dir_ref,
                        (int)o->adaptive_dir, (int)o->context_drop_mode};
    const double dbls[] = {o->lambda_roll, o->flat_threshold, o->flat_scale, o->lambda_dir, o->margin_dir,
                           o->lambda_fut, o->margin_fut, o->lambda_ac, o->margin_ac, o->context_drop_p,
                           t->cfg->model.dropout, t->opt.hp.grad_clip};
    h = lvt_graph_sig(h, ints, sizeof ints);
    h = lvt_graph_sig(h, dbls, sizeof dbls);
    /* the activation buffers the graph points at (a re-plan would move them) */
    const void *bufs[] = {lvt_model_raw(&t->model, 0), lvt_model_saved(&t->model, 0, 0, "qkv")};
    return lvt_graph_sig(h, bufs, sizeof bufs);
}

/* The captured work of one step: everything between the index upload and the next read. */
static int graph_fn(void *p, lvt_err *e) {
    struct train_graph *g = p;
    trainer *t = g->t;
    const lvt_ops *o = t->be->ops;
    lvt_model_zero_grad(&t->model);
    if (lvt_devbatch_gather(&t->db, &t->dtrain, g->my_n, e)) return LVT_ERROR;
    if (g->poison) { /* fault injection (tests): this step runs eagerly */
        float nan = NAN;
        o->to_device(t->be, t->db.ctx, &nan, sizeof nan);
    }
    lvt_loss_batch lb = {g->my_n, t->db.ctx, t->db.target, t->db.fut, t->db.fut_mask, t->db.roll, t->db.roll_mask,
                         t->hcap};
    lvt_loss_norm norm = {g->m, g->cm};
    lvt_dropout_key key = {t->cfg->train.seed, (uint64_t)t->global_step, 0, g->base, (float)t->cfg->model.dropout};
    if (lvt_loss_step(&t->loss, &t->model, g->obj, &lb, &norm, &key, 1, 1, e)) return LVT_ERROR;
    o->axpy(t->be, (float)g->m, t->loss.scal, g->acc, LVT_TERM_COUNT);
    if (t->comm->world > 1 &&
        lvt_comm_allreduce_device(t->comm, t->be, t->model.grads, t->model.n_params, LVT_COMM_SUM, 0, e))
        return LVT_ERROR;
    lvt_graph_optim_enqueue(g->go, &t->opt, t->model.params, t->model.grads, t->loss.scal + LVT_TERM_TOTAL);
    return LVT_OK;
}

/* Read the term sums since the last read (synchronises; all ranks): their sample-weighted means
 * into terms, the samples they cover as the return value (0: nothing pending). */
static int64_t read_terms(struct train_graph *g, double terms[LVT_TERM_COUNT], lvt_err *e) {
    trainer *t = g->t;
    if (g->acc_steps == 0) return 0;
    if (lvt_comm_device_wait(t->comm, t->be, e)) return -1;
    float h[LVT_TERM_COUNT];
    t->be->ops->to_host(t->be, h, g->acc, sizeof h);
    t->be->ops->zero(t->be, g->acc, sizeof h);
    double s[LVT_TERM_COUNT];
    for (int k = 0; k < LVT_TERM_COUNT; k++) s[k] = h[k];
    const double lam = s[LVT_TERM_LAMBDA_EFF]; /* the same on every rank: not summed */
    if (lvt_comm_allreduce_f64(t->comm, s, LVT_TERM_COUNT, LVT_COMM_SUM, e)) return -1;
    s[LVT_TERM_LAMBDA_EFF] = lam;
    int64_t n = g->acc_samples;
    for (int k = 0; k < LVT_TERM_COUNT; k++) terms[k] = s[k] / (double)n;
    g->acc_samples = 0;
    g->acc_steps = 0;
    return n;
}

/* Read now: the last step of the epoch, a log step, the step budget, a fault-injected step. */
static int read_due(const trainer *t, int poison) {
    const lvt_config *c = t->cfg;
    const long next = t->global_step + 1;
    return poison || t->step_in_epoch + 1 >= t->steps_per_epoch || (c->train.max_steps > 0 && next >= c->train.max_steps) ||
           (c->train.log_every > 0 && next % c->train.log_every == 0);
}

int train_graph_step(trainer *t, const lvt_objective_cfg *obj, const lvt_perm *perm, step_out *so, lvt_err *e) {
    struct train_graph *g = t->graph;
    const int64_t n = t->wtrain.n_windows, G = t->cfg->train.global_batch;
    const int64_t step_lo = (int64_t)t->step_in_epoch * G;
    memset(so, 0, sizeof *so);
    g->obj = obj;
    g->m = t->sharded ? G : ((n - step_lo) < G ? (n - step_lo) : G);
    g->my_n = train_micro_slice(t, perm, step_lo, g->m, 0, &g->cm, &g->base);
    g->poison = train_fault_fires(t, g->my_n);
    if (g->my_n > 0 && lvt_devbatch_set_indices(&t->db, &t->dtrain, t->idx, g->my_n, e)) return LVT_ERROR;
    lvt_graph_optim_prepare(g->go, &t->opt);
    int rc = g->poison ? graph_fn(g, e)
                       : lvt_graph_cache_run(&g->gc, signature(g), (uint64_t)t->global_step, g->base, graph_fn, g, e);
    if (rc) return LVT_ERROR;
    if (g->gc.note[0] && !g->noted) {
        lvt_log_info(&t->log, "cuda graph: capture failed at step %ld (%s); the step runs eagerly from now on",
                     t->global_step, g->gc.note);
        g->noted = 1;
    }
    g->acc_samples += g->m;
    g->acc_steps++;
    so->samples = g->m;
    so->finite = 1;
    memcpy(so->terms, g->last_terms, sizeof so->terms);
    if (!read_due(t, g->poison)) return LVT_OK; /* deferred: term_samples 0 */
    int64_t covered = read_terms(g, so->terms, e);
    if (covered < 0) return LVT_ERROR;
    memcpy(g->last_terms, so->terms, sizeof so->terms);
    so->term_samples = covered;
    so->finite = isfinite(so->terms[LVT_TERM_TOTAL]);
    so->grad_norm = lvt_graph_optim_norm(g->go);
    return LVT_OK;
}

int train_graph_flush(trainer *t, lvt_err *e) {
    struct train_graph *g = t->graph;
    if (!g || g->acc_steps == 0) return LVT_OK;
    double terms[LVT_TERM_COUNT];
    int64_t covered = read_terms(g, terms, e);
    if (covered < 0) return LVT_ERROR;
    if (!isfinite(terms[LVT_TERM_TOTAL])) {
        /* the device skipped those updates; the eager step would have rolled back */
        lvt_log_info(&t->log, "cuda graph: a non-finite loss in the last %lld samples (its update was skipped)",
                     (long long)covered);
        return LVT_OK;
    }
    for (int k = 0; k < LVT_TERM_COUNT; k++) t->ep_sums[k] += terms[k] * (double)covered;
    t->ep_samples += covered;
    return LVT_OK;
}
