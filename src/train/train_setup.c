/* train_setup.c — building and freeing the trainer: the batch geometry, the backend, the run
 * directory, the train and val stores (whole or this rank's article shard) and their windows, the
 * model, optimiser and objective, the batch buffers (host and backend, or the backend-resident
 * store), the logs and the config echo. Set-up order is the order of the functions below. */
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "train_priv.h"

/* The largest rollout horizon of the run: the objective's, a phase's or a tripwire's. */
static int max_rollout_h(const lvt_config *cfg) {
    int h = cfg->objective.rollout_h;
    for (int i = 0; i < cfg->n_phases; i++)
        if ((cfg->phases[i].ov.set & LVT_OV_ROLLOUT_H) && cfg->phases[i].ov.obj.rollout_h > h)
            h = cfg->phases[i].ov.obj.rollout_h;
    for (int i = 0; i < cfg->n_tripwires; i++)
        if ((cfg->tripwires[i].ov.set & LVT_OV_ROLLOUT_H) && cfg->tripwires[i].ov.obj.rollout_h > h)
            h = cfg->tripwires[i].ov.obj.rollout_h;
    return h < 1 ? 1 : h;
}

/* The fresh run state: epoch 1, nothing best yet, no phase announced. */
static void init_state(trainer *t, const lvt_config *c, const lvt_train_opts *o, lvt_comm *comm) {
    memset(t, 0, sizeof *t);
    t->cfg = c;
    t->comm = comm;
    t->best_val_loss = INFINITY;
    t->best_val_cos = -INFINITY;
    t->last_phase = -2;
    t->epoch = 1;
    t->fault_nan_step = o->fault_nan_step;
    t->fault_nan_repeat = o->fault_nan_repeat;
    t->fault_kill_save = o->fault_kill_save;
    t->fault_wait_stop = o->fault_wait_stop;
    t->nan_lr_scale = 1.0;
    t->allow_change = o->allow_change;
    t->lock_fd = -1;
    snprintf(t->run_dir, sizeof t->run_dir, "%s", o->run_dir);
    snprintf(t->ckpt_dir, sizeof t->ckpt_dir, "%s/ckpt", o->run_dir);
}

/* global_batch = micro_batch x world x grad_accum, and the rollout slots to plan for. */
static int batch_geometry(trainer *t, lvt_err *e) {
    const lvt_config *c = t->cfg;
    const int W = t->comm->world, G = c->train.global_batch;
    t->micro = c->train.micro_batch > 0 ? c->train.micro_batch : G / W;
    if (t->micro < 1 || G % ((int64_t)t->micro * W) != 0)
        return lvt_errf(e, "train.global_batch %d is not micro_batch (%d) x world (%d) x grad_accum: choose "
                           "sizes that divide", G, t->micro, W);
    t->accum = G / (t->micro * W);
    if (c->train.grad_accum > 0 && c->train.grad_accum != t->accum)
        return lvt_errf(e, "train.grad_accum %d does not match global_batch %d / (micro_batch %d x world %d) = %d",
                        c->train.grad_accum, G, t->micro, W, t->accum);
    t->hcap = max_rollout_h(c);
    return LVT_OK;
}

/* CPU threads, the backend, and the run directory (rank 0 creates it; every rank waits). */
static int open_backend(trainer *t, const lvt_train_opts *opts, lvt_err *e) {
    const lvt_config *c = t->cfg;
    t->threads = lvt_cpu_threads_init(0, t->comm->local_world);
    if (lvt_backend_create(&t->be, lvt_config_choice_name(LVT_CHOICE_BACKEND, c->train.backend), t->comm->local_rank,
                           lvt_model_math_from_config(c), e))
        return LVT_ERROR;
    if (t->comm->rank == 0 && train_rundir_open(t, opts, e)) return LVT_ERROR;
    return lvt_comm_barrier(t->comm, e);
}

/* The train store (whole, or with data.shard "articles" only this rank's article range, balanced
 * by window count) and the val store, both checked against model.dim. */
/* lvt_store_read's flags from data.normalize and data.drop_degenerate. */
static int store_flags(const lvt_config *c) {
    return (c->data.normalize ? LVT_STORE_NORMALIZE : 0) | (c->data.drop_degenerate ? LVT_STORE_DROP_DEGENERATE : 0);
}

static int load_stores(trainer *t, lvt_err *e) {
    const lvt_config *c = t->cfg;
    if (!c->data.train[0]) return lvt_errf(e, "data.train: no training store given");
    if (!c->data.val[0]) return lvt_errf(e, "data.val: no validation store given");
    t->sharded = c->data.shard == LVT_SHARD_ARTICLES && t->comm->world > 1;
    if (t->sharded) {
        int64_t *offs = NULL, A = 0, a_lo = 0, a_hi = 0;
        if (lvt_store_read_offsets(c->data.train, &offs, &A, e)) return LVT_ERROR;
        lvt_shard_articles(offs, A, c->data.context_len, t->comm->rank, t->comm->world, &a_lo, &a_hi);
        free(offs);
        if (lvt_store_read_range(c->data.train, a_lo, a_hi, store_flags(c), &t->train, e)) return LVT_ERROR;
        t->shard_lo = a_lo;
        t->shard_hi = a_hi;
    } else if (lvt_store_read(c->data.train, store_flags(c), &t->train, e)) {
        return LVT_ERROR;
    }
    if (lvt_store_read(c->data.val, store_flags(c), &t->val, e)) return LVT_ERROR;
    if (t->train.dim != c->model.dim)
        return lvt_errf(e, "%s: /vectors has dim %d but model.dim is %d", c->data.train, t->train.dim, c->model.dim);
    if (t->val.dim != c->model.dim)
        return lvt_errf(e, "%s: /vectors has dim %d but model.dim is %d", c->data.val, t->val.dim, c->model.dim);
    return LVT_OK;
}

/* The windows of both stores and the steps of an epoch. */
static int build_windows(trainer *t, lvt_err *e) {
    const lvt_config *c = t->cfg;
    const int L = c->data.context_len;
    if (lvt_windows_build(&t->wtrain, &t->train, L, e)) return LVT_ERROR;
    if (lvt_windows_build(&t->wval, &t->val, L, e)) return LVT_ERROR;
    if (t->wtrain.n_windows < 1 && t->sharded)
        return lvt_errf(e, "data.shard \"articles\": rank %d's shard (articles %lld..%lld of %s) has no window",
                        t->comm->rank, (long long)t->shard_lo, (long long)t->shard_hi, c->data.train);
    if (t->wtrain.n_windows < 1) return lvt_errf(e, "%s: no article has %d chunks (context %d + target)", c->data.train, L + 1, L);
    t->steps_per_epoch = (long)lvt_steps_per_epoch(t->wtrain.n_windows, c->train.global_batch);
    if (!t->sharded) return LVT_OK;
    /* an epoch = enough steps for the largest shard to see each of its windows once */
    int64_t per_step = (int64_t)t->micro * t->accum, nmax = t->wtrain.n_windows;
    if (lvt_comm_allreduce_i64(t->comm, &nmax, 1, LVT_COMM_MAX, e)) return LVT_ERROR;
    t->steps_per_epoch = (long)((nmax + per_step - 1) / per_step);
    return LVT_OK;
}

/* The loss's cross-rank reduction of its batch statistics. */
static int reduce_scalars(void *ctx, float *buf, int n, lvt_err *e) {
    trainer *t = ctx;
    return lvt_comm_sum_small_staged(t->comm, t->be, buf, n, e);
}

/* A lower bound on the bytes a CPU run needs for this shape: parameters, gradients and both AdamW
 * moments (4 floats each) and the activations kept for the backward pass of one micro batch. */
static double memory_estimate(const trainer *t) {
    const lvt_config *c = t->cfg;
    const double d = c->model.d_model, D = c->model.dim, nl = c->model.n_layers, L = c->data.context_len;
    const double params = 2.0 * D * d + nl * (4.0 + 2.0 * c->model.ffn_mult) * d * d;
    const double acts = (double)t->micro * (L + t->hcap) * nl * (10.0 + 2.0 * c->model.ffn_mult) * d +
                        (double)t->micro * c->model.n_heads * nl * L * L * 3.0;
    return 4.0 * (4.0 * params + acts);
}

/* Refuse a shape whose estimate exceeds this machine's memory before allocating anything (a CPU
 * run; a GPU backend reports its own allocation failure). */
static int check_memory(const trainer *t, lvt_err *e) {
    if (t->be->device >= 0) return LVT_OK;
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    if (pages <= 0 || page <= 0) return LVT_OK;
    const double have = (double)pages * (double)page, need = memory_estimate(t);
    if (need > have)
        return lvt_errf(e, "model.d_model %d x n_layers %d (dim %d, micro batch %d) needs at least %.1f GiB, more than "
                           "this machine's %.1f GiB: choose a smaller model", t->cfg->model.d_model,
                        t->cfg->model.n_layers, t->cfg->model.dim, t->micro, need / 1073741824.0, have / 1073741824.0);
    return LVT_OK;
}

/* The model (initialised from train.seed, planned for the micro batch and the rollout slots), the
 * optimiser over the run's total steps, and the objective with its cross-rank hook. */
static int build_model(trainer *t, lvt_err *e) {
    const lvt_config *c = t->cfg;
    const int L = c->data.context_len, D = c->model.dim;
    lvt_model_cfg mc;
    lvt_model_cfg_from_config(c, &mc);
    if (check_memory(t, e) || lvt_model_create(&t->model, &mc, t->be, e)) return LVT_ERROR;
    if (lvt_model_init(&t->model, c->train.seed, e)) return LVT_ERROR;
    if (lvt_model_plan(&t->model, t->micro, t->hcap, e)) return LVT_ERROR;
    long total_steps = t->steps_per_epoch * c->train.epochs;
    if (c->train.max_steps > 0 && c->train.max_steps < total_steps) total_steps = c->train.max_steps;
    lvt_optim_hparams hp;
    if (lvt_optim_hparams_from_config(&hp, c, total_steps, e)) return LVT_ERROR;
    if (lvt_optim_create(&t->opt, &hp, t->be, t->model.n_params, e)) return LVT_ERROR;
    if (lvt_loss_create(&t->loss, t->be, t->micro, L, D, t->hcap, e)) return LVT_ERROR;
    t->loss.reduce = reduce_scalars;
    t->loss.reduce_ctx = t;
    return LVT_OK;
}

/* The host batch, its backend copies and the index buffer; with the store on the backend (a GPU
 * backend, or force_devdata) the train store is uploaded once and gathered there. */
static int alloc_buffers(trainer *t, int force_devdata, lvt_err *e) {
    const int L = t->cfg->data.context_len, D = t->cfg->model.dim;
    if (lvt_batch_alloc(&t->hb, t->micro, L, D, t->hcap, e)) return LVT_ERROR;
    const lvt_ops *o = t->be->ops;
    size_t B = (size_t)t->micro;
    if (!(t->d_ctx = o->alloc(t->be, sizeof(float) * B * L * D, e)) ||
        !(t->d_target = o->alloc(t->be, sizeof(float) * B * D, e)) ||
        !(t->d_fut = o->alloc(t->be, sizeof(float) * B * 2 * D, e)) ||
        !(t->d_futm = o->alloc(t->be, sizeof(float) * B * 2, e)) ||
        !(t->d_roll = o->alloc(t->be, sizeof(float) * B * t->hcap * D, e)) ||
        !(t->d_rollm = o->alloc(t->be, sizeof(float) * B * t->hcap, e)))
        return LVT_ERROR;
    if (!(t->idx = lvt_malloc(sizeof(int64_t) * B, e))) return LVT_ERROR;
    t->use_devdata = t->be->device >= 0 || force_devdata;
    if (t->use_devdata && (lvt_devdata_upload(&t->dtrain, t->be, &t->train, &t->wtrain, LVT_DEVDATA_FP32, e) ||
                           lvt_devbatch_alloc(&t->db, t->be, t->micro, L, D, t->hcap, e)))
        return lvt_err_prefix(e, "uploading the train store to the %s backend", t->be->ops->name);
    return LVT_OK;
}

/* The logs (appended to when resuming) and run_dir/config.json, the resolved configuration. */
static int open_logs(trainer *t, int resume, lvt_err *e) {
    if (lvt_log_open(&t->log, t->run_dir, t->comm->rank == 0, resume, e)) return LVT_ERROR;
    if (t->comm->rank != 0) return LVT_OK;
    const lvt_store *st[2] = {&t->train, &t->val};
    const char *nm[2] = {t->cfg->data.train, t->cfg->data.val};
    for (int i = 0; i < 2; i++)
        if (st[i]->dropped)
            lvt_log_info(&t->log, "data.drop_degenerate: dropped %lld degenerate row%s (norm below %g) of %s%s",
                         (long long)st[i]->dropped, st[i]->dropped == 1 ? "" : "s", LVT_MIN_ROW_NORM, nm[i],
                         t->sharded && i == 0 ? " (rank 0's articles)" : "");
    char path[TRAIN_PATH_BUF];
    snprintf(path, sizeof path, "%s/config.json", t->run_dir);
    char *js = lvt_config_to_json(t->cfg);
    int rc = js ? lvt_write_file_atomic(path, js, e) : lvt_errf(e, "config echo failed");
    free(js);
    return rc;
}

int train_setup(trainer *t, const lvt_config *c, const lvt_train_opts *o, lvt_comm *comm, lvt_err *e) {
    init_state(t, c, o, comm);
    if (batch_geometry(t, e) || open_backend(t, o, e) || load_stores(t, e)) return LVT_ERROR;
    if (o->fault_raise_setup) raise(SIGTERM); /* the test of a signal while the stores load */
    if (build_windows(t, e) ||
        build_model(t, e) || alloc_buffers(t, o->force_devdata, e) || lvt_comm_device_init(comm, t->be, e) ||
        open_logs(t, o->resume, e) || train_graph_init(t, o, e))
        return LVT_ERROR;
    return LVT_OK;
}

void train_teardown(trainer *t) {
    train_graph_free(t);
    if (t->be) {
        const lvt_ops *o = t->be->ops;
        float *bufs[] = {t->d_ctx, t->d_target, t->d_fut, t->d_futm, t->d_roll, t->d_rollm};
        for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
            if (bufs[i]) o->free(t->be, bufs[i]);
        if (t->use_devdata) {
            lvt_devbatch_free(&t->db);
            lvt_devdata_free(&t->dtrain);
        }
        lvt_loss_destroy(&t->loss);
        lvt_optim_destroy(&t->opt);
        lvt_model_destroy(&t->model);
    }
    lvt_batch_free(&t->hb);
    lvt_windows_free(&t->wtrain);
    lvt_windows_free(&t->wval);
    lvt_store_free(&t->train);
    lvt_store_free(&t->val);
    free(t->idx);
    if (t->comm) lvt_comm_device_free(t->comm);
    free(t->hist);
    lvt_log_close(&t->log);
    if (t->be) lvt_backend_destroy(t->be);
    t->be = NULL;
    train_rundir_close(t);
}
