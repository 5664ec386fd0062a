/* train.c — the training loop (see include/lvt/train.h). One trainer struct carries every piece
 * of run state; the only process-global is the preemption flag that the signal handler sets
 * (a handler cannot reach anything else). */
#include "lvt/train.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lvt/blas.h"
#include "lvt/ckpt.h"
#include "lvt/data.h"
#include "lvt/devdata.h"
#include "lvt/eval.h"
#include "lvt/log.h"
#include "lvt/loss.h"
#include "lvt/model.h"
#include "lvt/ops.h"
#include "lvt/optim.h"

#define TRAIN_PATH_BUF (2 * LVT_PATH_MAX + 128)

static volatile sig_atomic_t stop_requested = 0;
static void on_stop_signal(int sig) { stop_requested = sig; }

typedef struct epoch_rec {
    int epoch;
    char phase[LVT_NAME_MAX];
    double train_loss, train_cos, mse, roll, dir, fut, ac, lambda_eff;
    double val_loss, val_cos, margin, val_cos_drop_pct;
    double mini_cos_p1, mini_margin;
    double lr, seconds, samples_per_s;
    long steps;
} epoch_rec;

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
    int use_devdata;        /* train store resident on the backend (GPU; LVT_DEVDATA=1 forces it) */
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
    int fault_nan_step_done;
    long fault_nan_step;
    lvt_log log;
    char run_dir[LVT_PATH_MAX], ckpt_dir[LVT_PATH_MAX + 8];
} trainer;

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

static double metric_value(const char *name, const epoch_rec *r) {
    if (!strcmp(name, "val_cos")) return r->val_cos;
    if (!strcmp(name, "val_loss")) return r->val_loss;
    if (!strcmp(name, "margin")) return r->margin;
    if (!strcmp(name, "val_cos_drop_pct")) return r->val_cos_drop_pct;
    if (!strcmp(name, "train_loss")) return r->train_loss;
    return NAN;
}

/* ---- history ----------------------------------------------------------------------------------- */

static cJSON *rec_json(const epoch_rec *r) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "epoch", r->epoch);
    cJSON_AddStringToObject(o, "phase", r->phase);
    cJSON_AddNumberToObject(o, "train_loss", r->train_loss);
    cJSON_AddNumberToObject(o, "train_cosine", r->train_cos);
    cJSON_AddNumberToObject(o, "val_loss", r->val_loss);
    cJSON_AddNumberToObject(o, "val_cosine", r->val_cos);
    cJSON_AddNumberToObject(o, "lr", r->lr);
    cJSON_AddNumberToObject(o, "margin", r->margin);
    cJSON_AddNumberToObject(o, "val_cos_drop_pct", r->val_cos_drop_pct);
    cJSON_AddNumberToObject(o, "train_mse", r->mse);
    cJSON_AddNumberToObject(o, "train_rollout", r->roll);
    cJSON_AddNumberToObject(o, "train_dir", r->dir);
    cJSON_AddNumberToObject(o, "train_future", r->fut);
    cJSON_AddNumberToObject(o, "train_anticopy", r->ac);
    cJSON_AddNumberToObject(o, "lambda_dir_eff", r->lambda_eff);
    cJSON_AddNumberToObject(o, "mini5cat_cos_p1", r->mini_cos_p1);
    cJSON_AddNumberToObject(o, "mini5cat_margin", r->mini_margin);
    cJSON_AddNumberToObject(o, "steps", (double)r->steps);
    cJSON_AddNumberToObject(o, "seconds", r->seconds);
    cJSON_AddNumberToObject(o, "samples_per_s", r->samples_per_s);
    return o;
}

static int rec_from_json(const cJSON *o, epoch_rec *r) {
    memset(r, 0, sizeof *r);
#define NUM(key, field)                                                   \
    do {                                                                  \
        const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, key);       \
        r->field = cJSON_IsNumber(it) ? it->valuedouble : NAN;            \
    } while (0)
    const cJSON *ep = cJSON_GetObjectItemCaseSensitive(o, "epoch");
    if (!cJSON_IsNumber(ep)) return LVT_ERROR;
    r->epoch = ep->valueint;
    const cJSON *ph = cJSON_GetObjectItemCaseSensitive(o, "phase");
    if (cJSON_IsString(ph)) snprintf(r->phase, sizeof r->phase, "%s", ph->valuestring);
    NUM("train_loss", train_loss);
    NUM("train_cosine", train_cos);
    NUM("val_loss", val_loss);
    NUM("val_cosine", val_cos);
    NUM("lr", lr);
    NUM("margin", margin);
    NUM("val_cos_drop_pct", val_cos_drop_pct);
    NUM("train_mse", mse);
    NUM("train_rollout", roll);
    NUM("train_dir", dir);
    NUM("train_future", fut);
    NUM("train_anticopy", ac);
    NUM("lambda_dir_eff", lambda_eff);
    NUM("mini5cat_cos_p1", mini_cos_p1);
    NUM("mini5cat_margin", mini_margin);
    NUM("seconds", seconds);
    NUM("samples_per_s", samples_per_s);
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(o, "steps");
    r->steps = cJSON_IsNumber(st) ? (long)st->valuedouble : 0;
#undef NUM
    return LVT_OK;
}

static char *history_json(const trainer *t, int pretty) {
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "model_type", t->cfg->model.arch);
    cJSON *arr = cJSON_AddArrayToObject(root, "history");
    for (int i = 0; i < t->n_hist; i++) cJSON_AddItemToArray(arr, rec_json(&t->hist[i]));
    cJSON_AddNumberToObject(root, "best_val_loss", isfinite(t->best_val_loss) ? t->best_val_loss : 0);
    cJSON_AddNumberToObject(root, "final_params", (double)t->model.n_params);
    cJSON_AddNumberToObject(root, "global_step", (double)t->global_step);
    char *s = pretty ? cJSON_Print(root) : cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    return s;
}

static int history_load(trainer *t, const char *text, lvt_err *e) {
    cJSON *root = cJSON_Parse(text);
    if (!root) return lvt_errf(e, "checkpoint: the stored training history is not valid JSON");
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(root, "history");
    t->n_hist = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, arr) {
        if (t->n_hist == t->cap_hist) {
            int cap = t->cap_hist ? 2 * t->cap_hist : 32;
            epoch_rec *h = realloc(t->hist, sizeof *h * (size_t)cap);
            if (!h) {
                cJSON_Delete(root);
                return lvt_errf(e, "out of memory (history)");
            }
            t->hist = h;
            t->cap_hist = cap;
        }
        if (rec_from_json(it, &t->hist[t->n_hist]) == LVT_OK) t->n_hist++;
    }
    cJSON_Delete(root);
    return LVT_OK;
}

static int history_push(trainer *t, const epoch_rec *r, lvt_err *e) {
    if (t->n_hist == t->cap_hist) {
        int cap = t->cap_hist ? 2 * t->cap_hist : 32;
        epoch_rec *h = realloc(t->hist, sizeof *h * (size_t)cap);
        if (!h) return lvt_errf(e, "out of memory (history)");
        t->hist = h;
        t->cap_hist = cap;
    }
    t->hist[t->n_hist++] = *r;
    return LVT_OK;
}

/* ---- checkpoints ------------------------------------------------------------------------------- */

static void ckpt_path(const trainer *t, char *out, size_t n, const char *name) {
    size_t a = strlen(t->ckpt_dir), b = strlen(name);
    if (a + b + 2 > n) { /* cannot happen: callers pass TRAIN_PATH_BUF */
        out[0] = 0;
        return;
    }
    memcpy(out, t->ckpt_dir, a);
    out[a] = '/';
    memcpy(out + a + 1, name, b + 1);
}

static void epoch_ckpt_name(int epoch, char *out, size_t n) { snprintf(out, n, "epoch_%03d.h5", epoch); }

/* Rank 0 writes; every rank returns the same status (rank 0's is broadcast). */
static int save_ckpt(trainer *t, const char *name, lvt_err *e) {
    int64_t rc = LVT_OK;
    if (t->comm->rank == 0) {
        char path[TRAIN_PATH_BUF];
        ckpt_path(t, path, sizeof path, name);
        lvt_ckpt_info info;
        lvt_ckpt_info_init(&info);
        info.step = t->global_step;
        info.epoch = t->epoch - 1;
        info.config_json = lvt_config_to_json(t->cfg);
        char *hist = history_json(t, 0);
        if (lvt_kv_set_i64(&info.extra, "train.epoch", t->epoch, e) ||
            lvt_kv_set_i64(&info.extra, "train.step_in_epoch", t->step_in_epoch, e) ||
            lvt_kv_set_i64(&info.extra, "train.global_step", t->global_step, e) ||
            lvt_kv_set_i64(&info.extra, "train.fired", (int64_t)t->fired, e) ||
            lvt_kv_set_i64(&info.extra, "train.last_phase", t->last_phase, e) ||
            lvt_kv_set_f64(&info.extra, "train.best_val_loss", t->best_val_loss, e) ||
            lvt_kv_set_f64(&info.extra, "train.best_val_cos", t->best_val_cos, e) ||
            lvt_kv_set_str(&info.extra, "train.history", hist ? hist : "{}", e) ||
            lvt_kv_set_f64_array(&info.extra, "train.epoch_sums", t->ep_sums, LVT_TERM_COUNT, e) ||
            lvt_kv_set_i64(&info.extra, "train.epoch_samples", t->ep_samples, e) ||
            lvt_ckpt_save(path, &t->model, &t->opt, &info, e))
            rc = LVT_ERROR;
        free(hist);
        lvt_ckpt_info_free(&info);
    }
    lvt_err be;
    if (lvt_comm_allreduce_i64(t->comm, &rc, 1, LVT_COMM_MIN, &be)) return lvt_errf(e, "%s", be.msg);
    if (rc != LVT_OK && t->comm->rank != 0) return lvt_errf(e, "checkpoint %s failed on rank 0", name);
    return (int)rc;
}

/* Every rank loads the checkpoint: weights, moments, optimiser state and the run position. */
static int restore_ckpt(trainer *t, const char *name, lvt_err *e) {
    char path[TRAIN_PATH_BUF];
    ckpt_path(t, path, sizeof path, name);
    lvt_ckpt_info info;
    lvt_ckpt_info_init(&info);
    if (lvt_ckpt_load(path, &t->model, &t->opt, &info, e)) {
        lvt_ckpt_info_free(&info);
        return LVT_ERROR;
    }
    int64_t v;
    double d;
    const lvt_kv *h;
    int rc = LVT_OK;
    if (lvt_kv_get_i64(&info.extra, "train.epoch", &v, e)) rc = LVT_ERROR;
    else t->epoch = (int)v;
    if (!rc && lvt_kv_get_i64(&info.extra, "train.step_in_epoch", &v, e) == LVT_OK) t->step_in_epoch = v;
    else rc = LVT_ERROR;
    if (!rc && lvt_kv_get_i64(&info.extra, "train.global_step", &v, e) == LVT_OK) t->global_step = v;
    else rc = LVT_ERROR;
    if (!rc && lvt_kv_get_i64(&info.extra, "train.fired", &v, e) == LVT_OK) t->fired = (uint64_t)v;
    else rc = LVT_ERROR;
    if (!rc && lvt_kv_get_i64(&info.extra, "train.last_phase", &v, e) == LVT_OK) t->last_phase = (int)v;
    else rc = LVT_ERROR;
    if (!rc && lvt_kv_get_f64(&info.extra, "train.best_val_loss", &d, e) == LVT_OK) t->best_val_loss = d;
    else rc = LVT_ERROR;
    if (!rc && lvt_kv_get_f64(&info.extra, "train.best_val_cos", &d, e) == LVT_OK) t->best_val_cos = d;
    else rc = LVT_ERROR;
    if (!rc && (h = lvt_kv_get(&info.extra, "train.history")) && h->type == LVT_KV_STR)
        rc = history_load(t, h->s, e);
    if (!rc && lvt_kv_get_i64(&info.extra, "train.epoch_samples", &v, e) == LVT_OK) t->ep_samples = v;
    else rc = LVT_ERROR;
    if (!rc && (h = lvt_kv_get(&info.extra, "train.epoch_sums")) && h->type == LVT_KV_F64_ARRAY &&
        h->n == LVT_TERM_COUNT)
        memcpy(t->ep_sums, h->da, sizeof t->ep_sums);
    else if (!rc)
        rc = lvt_errf(e, "train.epoch_sums missing");
    lvt_ckpt_info_free(&info);
    if (rc) lvt_err_prefix(e, "%s: not a training checkpoint of lvt train", path);
    return rc;
}

static int file_exists(const char *p) {
    struct stat st;
    return stat(p, &st) == 0;
}

/* Keep the last N epoch checkpoints (output.keep_epochs), epoch 0 and every rollback target. */
static void apply_retention(trainer *t, int epoch) {
    if (t->comm->rank != 0) return;
    const char *k = t->cfg->output.keep_epochs;
    if (!strcmp(k, "all")) return;
    int keep = atoi(k);
    if (keep < 1) return;
    for (int ep = 1; ep <= epoch - keep; ep++) {
        int needed = 0;
        for (int i = 0; i < t->cfg->n_tripwires; i++)
            if (t->cfg->tripwires[i].rollback_to_epoch == ep) needed = 1;
        if (needed) continue;
        char name[64], path[LVT_PATH_MAX + 64];
        epoch_ckpt_name(ep, name, sizeof name);
        ckpt_path(t, path, sizeof path, name);
        unlink(path);
    }
}

/* ---- data movement ----------------------------------------------------------------------------- */

static void upload_batch(trainer *t, int n) {
    const lvt_ops *o = t->be->ops;
    const int L = t->hb.L, D = t->hb.D, H = t->hb.H;
    o->to_device(t->be, t->d_ctx, t->hb.ctx, sizeof(float) * (size_t)n * L * D);
    o->to_device(t->be, t->d_target, t->hb.target, sizeof(float) * (size_t)n * D);
    o->to_device(t->be, t->d_fut, t->hb.fut, sizeof(float) * (size_t)n * 2 * D);
    o->to_device(t->be, t->d_futm, t->hb.fut_mask, sizeof(float) * (size_t)n * 2);
    o->to_device(t->be, t->d_roll, t->hb.roll, sizeof(float) * (size_t)n * H * D);
    o->to_device(t->be, t->d_rollm, t->hb.roll_mask, sizeof(float) * (size_t)n * H);
}

/* The loss's cross-rank reduction of its batch statistics. */
static int reduce_scalars(void *ctx, float *buf, int n, lvt_err *e) {
    trainer *t = ctx;
    if (t->comm->world == 1) return LVT_OK;
    float tmp[256];
    if (n > 256) return lvt_errf(e, "too many loss statistics (%d)", n);
    t->be->ops->to_host(t->be, tmp, buf, sizeof(float) * (size_t)n);
    if (lvt_comm_allreduce_f32(t->comm, tmp, (size_t)n, LVT_COMM_SUM, 0, e)) return LVT_ERROR;
    t->be->ops->to_device(t->be, buf, tmp, sizeof(float) * (size_t)n);
    return LVT_OK;
}

/* Sum of the flat gradient over the ranks: MPI in place (CPU), NCCL on the backend's stream
 * (CUDA with NCCL) or staged through host memory (src/train/comm_device.c). */
static int allreduce_grads(trainer *t, lvt_err *e) {
    if (t->comm->world == 1) return LVT_OK;
    return lvt_comm_allreduce_device(t->comm, t->be, t->model.grads, t->model.n_params, LVT_COMM_SUM, 0, e);
}

/* ---- one optimiser step -------------------------------------------------------------------------- */

typedef struct step_out {
    double terms[LVT_TERM_COUNT];
    double grad_norm;
    int64_t samples;
    int finite;
} step_out;

static int train_step(trainer *t, const lvt_objective_cfg *obj, const lvt_perm *perm, step_out *so,
                      lvt_err *e) {
    const lvt_config *c = t->cfg;
    const int W = t->comm->world, r = t->comm->rank;
    const int64_t n = t->wtrain.n_windows, G = c->train.global_batch;
    const int64_t step_lo = (int64_t)t->step_in_epoch * G;
    /* replicate: the step owns positions [step_lo, step_lo + m) of the global order; articles:
     * every rank takes micro x accum positions of its own shard's order each step (full steps) */
    const int64_t m = t->sharded ? G : ((n - step_lo) < G ? (n - step_lo) : G);
    const int64_t mw = (int64_t)t->micro * W;
    memset(so, 0, sizeof *so);
    lvt_model_zero_grad(&t->model);
    for (int a = 0; a < t->accum; a++) {
        int64_t chunk_lo = step_lo + a * mw;
        int64_t cm = step_lo + m - chunk_lo;
        if (cm > mw) cm = mw;
        if (cm <= 0) break;
        int64_t q = cm / W, rem = cm % W;
        int64_t my_lo = chunk_lo + r * q + (r < rem ? r : rem);
        int my_n = (int)(q + (r < rem ? 1 : 0));
        if (t->sharded) {
            /* the shard's own order; positions wrap so shorter shards repeat a few windows. The
             * dropout key's sample index stays unique: rank in the high bits. */
            int64_t lpos = ((int64_t)t->step_in_epoch * t->accum + a) * t->micro;
            for (int i = 0; i < my_n; i++)
                t->idx[i] = (int64_t)lvt_perm_apply(perm, (uint64_t)((lpos + i) % n));
            my_lo = ((int64_t)r << 40) + lpos;
        } else {
            for (int i = 0; i < my_n; i++) t->idx[i] = (int64_t)lvt_perm_apply(perm, (uint64_t)(my_lo + i));
        }
        int poison = my_n > 0 && t->fault_nan_step >= 0 && !t->fault_nan_step_done && t->global_step == t->fault_nan_step;
        lvt_loss_batch lb = {my_n, t->d_ctx, t->d_target, t->d_fut, t->d_futm, t->d_roll, t->d_rollm, t->hcap};
        if (my_n > 0 && t->use_devdata) {
            /* backend-resident store: only the window indices travel; the gather runs there */
            if (lvt_devbatch_set_indices(&t->db, &t->dtrain, t->idx, my_n, e) ||
                lvt_devbatch_gather(&t->db, &t->dtrain, my_n, e))
                return LVT_ERROR;
            if (poison) { /* fault injection (tests): poison one input value once */
                float nan = NAN;
                t->be->ops->to_device(t->be, t->db.ctx, &nan, sizeof nan);
                t->fault_nan_step_done = 1;
            }
            lb = (lvt_loss_batch){my_n, t->db.ctx, t->db.target, t->db.fut, t->db.fut_mask, t->db.roll,
                                  t->db.roll_mask, t->hcap};
        } else if (my_n > 0) {
            lvt_batch_gather(&t->hb, &t->train, &t->wtrain, t->idx, my_n);
            if (poison) {
                t->hb.ctx[0] = NAN; /* fault injection (tests): poison one input value once */
                t->fault_nan_step_done = 1;
            }
            upload_batch(t, my_n);
        }
        lvt_loss_norm norm = {m, cm};
        lvt_dropout_key key = {c->train.seed, (uint64_t)t->global_step, 0, my_lo, (float)c->model.dropout};
        if (lvt_loss_step(&t->loss, &t->model, obj, &lb, &norm, &key, 1, 1, e)) return LVT_ERROR;
        float tv[LVT_TERM_COUNT];
        lvt_loss_read(&t->loss, tv);
        for (int k = 0; k < LVT_TERM_COUNT; k++) so->terms[k] += tv[k];
    }
    so->terms[LVT_TERM_LAMBDA_EFF] /= t->accum;
    if (allreduce_grads(t, e)) return LVT_ERROR;
    double lam = so->terms[LVT_TERM_LAMBDA_EFF];
    if (lvt_comm_allreduce_f64(t->comm, so->terms, LVT_TERM_COUNT, LVT_COMM_SUM, e)) return LVT_ERROR;
    so->terms[LVT_TERM_LAMBDA_EFF] = lam;
    so->samples = m;
    so->finite = isfinite(so->terms[LVT_TERM_TOTAL]);
    if (!so->finite) return LVT_OK; /* no update from a non-finite loss */
    so->grad_norm = lvt_optim_step(&t->opt, t->model.params, t->model.grads);
    so->finite = isfinite(so->grad_norm);
    return LVT_OK;
}

/* ---- validation ------------------------------------------------------------------------------------ */

/* val loss (MSE of raw vs target), val cosine and margin(+1 vs last) over every val window,
 * split across ranks and reduced. */
static int validate(trainer *t, epoch_rec *r, lvt_err *e) {
    const lvt_ops *o = t->be->ops;
    const int L = t->hb.L, D = t->hb.D;
    const int64_t n = t->wval.n_windows;
    const int W = t->comm->world, rk = t->comm->rank;
    int64_t lo = n * rk / W, hi = n * (rk + 1) / W;
    double sums[4] = {0, 0, 0, 0}; /* mse, cos, margin, count */
    float *raw = NULL, *pred = NULL;
    if (!(raw = lvt_malloc(sizeof(float) * (size_t)t->micro * D, e))) return LVT_ERROR;
    if (!(pred = lvt_malloc(sizeof(float) * (size_t)t->micro * D, e))) {
        free(raw);
        return LVT_ERROR;
    }
    int rc = LVT_OK;
    for (int64_t i = lo; i < hi && rc == LVT_OK; i += t->micro) {
        int b = (int)(hi - i < t->micro ? hi - i : t->micro);
        for (int j = 0; j < b; j++) t->idx[j] = i + j;
        lvt_batch_gather(&t->hb, &t->val, &t->wval, t->idx, b);
        o->to_device(t->be, t->d_ctx, t->hb.ctx, sizeof(float) * (size_t)b * L * D);
        if ((rc = lvt_model_forward(&t->model, 0, t->d_ctx, b, 0, NULL, NULL, e))) break;
        o->to_host(t->be, raw, lvt_model_raw(&t->model, 0), sizeof(float) * (size_t)b * D);
        o->to_host(t->be, pred, lvt_model_pred(&t->model, 0), sizeof(float) * (size_t)b * D);
        for (int j = 0; j < b; j++) {
            const float *y = t->hb.target + (size_t)j * D, *last = t->hb.ctx + ((size_t)j * L + L - 1) * D;
            const float *rr = raw + (size_t)j * D, *p = pred + (size_t)j * D;
            double se = 0, cy = 0, cl = 0;
            for (int k = 0; k < D; k++) {
                double dlt = (double)rr[k] - y[k];
                se += dlt * dlt;
                cy += (double)p[k] * y[k];
                cl += (double)p[k] * last[k];
            }
            sums[0] += se / D;
            sums[1] += cy;
            sums[2] += cy - cl;
            sums[3] += 1;
        }
    }
    free(raw);
    free(pred);
    if (rc) return rc;
    if (lvt_comm_allreduce_f64(t->comm, sums, 4, LVT_COMM_SUM, e)) return LVT_ERROR;
    if (sums[3] < 1) return lvt_errf(e, "validation store has no windows of context length %d", L);
    r->val_loss = sums[0] / sums[3];
    r->val_cos = sums[1] / sums[3];
    r->margin = sums[2] / sums[3];
    /* mini-5CAT offset sweep on rank 0 */
    r->mini_cos_p1 = r->mini_margin = NAN;
    if (rk == 0 && t->cfg->eval.mini5cat_samples > 0) {
        lvt_model_predictor mp;
        lvt_predictor p;
        if (lvt_model_predictor_init(&mp, &t->model, t->micro, &p, e)) return LVT_ERROR;
        lvt_eval_opts eo;
        lvt_eval_opts_default(&eo);
        eo.max_samples = t->cfg->eval.mini5cat_samples;
        eo.context_len = L;
        eo.batch = t->micro;
        eo.tests = LVT_EVAL_A;
        eo.seed = t->cfg->train.seed;
        lvt_eval_metrics em;
        lvt_err ee;
        if (lvt_eval_run(&t->val, &p, &eo, &em, &ee) == LVT_OK) {
            r->mini_cos_p1 = em.a_cos_p1;
            r->mini_margin = em.a_margin;
        } else {
            lvt_log_info(&t->log, "  mini-5CAT skipped: %s", ee.msg);
        }
        lvt_model_predictor_free(&mp);
    }
    double mm[2] = {r->mini_cos_p1, r->mini_margin};
    if (lvt_comm_bcast(t->comm, mm, sizeof mm, 0, e)) return LVT_ERROR;
    r->mini_cos_p1 = mm[0];
    r->mini_margin = mm[1];
    return LVT_OK;
}

/* ---- set-up and tear-down ------------------------------------------------------------------------ */

static int mkdir_p(const char *path, lvt_err *e) {
    char tmp[LVT_PATH_MAX + 16];
    snprintf(tmp, sizeof tmp, "%s", path);
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/') continue;
        *p = 0;
        if (mkdir(tmp, 0755) != 0 && errno != EEXIST) return lvt_errf(e, "%s: cannot create: %s", tmp, strerror(errno));
        *p = '/';
    }
    if (mkdir(tmp, 0755) != 0 && errno != EEXIST) return lvt_errf(e, "%s: cannot create: %s", tmp, strerror(errno));
    return LVT_OK;
}

static int setup(trainer *t, const lvt_config *c, const char *run_dir, lvt_comm *comm, int resume, lvt_err *e) {
    memset(t, 0, sizeof *t);
    t->cfg = c;
    t->comm = comm;
    t->best_val_loss = INFINITY;
    t->best_val_cos = -INFINITY;
    t->last_phase = -2;
    t->epoch = 1;
    t->fault_nan_step = -1;
    const char *fault = getenv("LVT_FAULT_NAN_STEP");
    if (fault && *fault) t->fault_nan_step = atol(fault);
    snprintf(t->run_dir, sizeof t->run_dir, "%s", run_dir);
    snprintf(t->ckpt_dir, sizeof t->ckpt_dir, "%s/ckpt", run_dir);

    const int W = comm->world;
    const int G = c->train.global_batch;
    t->micro = c->train.micro_batch > 0 ? c->train.micro_batch : G / W;
    if (t->micro < 1 || G % ((int64_t)t->micro * W) != 0)
        return lvt_errf(e, "train.global_batch %d is not micro_batch (%d) x world (%d) x grad_accum: choose "
                           "sizes that divide", G, t->micro, W);
    t->accum = G / (t->micro * W);
    if (c->train.grad_accum > 0 && c->train.grad_accum != t->accum)
        return lvt_errf(e, "train.grad_accum %d does not match global_batch %d / (micro_batch %d x world %d) = %d",
                        c->train.grad_accum, G, t->micro, W, t->accum);
    t->hcap = max_rollout_h(c);

    t->threads = lvt_cpu_threads_init(0, comm->local_world);
    lvt_math math = !strcmp(c->train.math, "bf16") ? LVT_MATH_BF16 : !strcmp(c->train.math, "fp32") ? LVT_MATH_FP32 : LVT_MATH_TF32;
    if (lvt_backend_create(&t->be, c->train.backend, comm->local_rank, math, e)) return LVT_ERROR;

    if (comm->rank == 0 && (mkdir_p(t->run_dir, e) || mkdir_p(t->ckpt_dir, e))) return LVT_ERROR;
    if (lvt_comm_barrier(comm, e)) return LVT_ERROR;

    if (!c->data.train[0]) return lvt_errf(e, "data.train: no training store given");
    if (!c->data.val[0]) return lvt_errf(e, "data.val: no validation store given");
    t->sharded = !strcmp(c->data.shard, "articles") && W > 1;
    if (t->sharded) {
        /* each rank loads only its article range, balanced by window count */
        int64_t *offs = NULL, A = 0, a_lo = 0, a_hi = 0;
        if (lvt_store_read_offsets(c->data.train, &offs, &A, e)) return LVT_ERROR;
        lvt_shard_articles(offs, A, c->data.context_len, comm->rank, W, &a_lo, &a_hi);
        free(offs);
        if (lvt_store_read_range(c->data.train, a_lo, a_hi, c->data.normalize, &t->train, e)) return LVT_ERROR;
        t->shard_lo = a_lo;
        t->shard_hi = a_hi;
    } else if (lvt_store_read(c->data.train, c->data.normalize, &t->train, e)) {
        return LVT_ERROR;
    }
    if (lvt_store_read(c->data.val, c->data.normalize, &t->val, e)) return LVT_ERROR;
    if (t->train.dim != c->model.dim)
        return lvt_errf(e, "%s: /vectors has dim %d but model.dim is %d", c->data.train, t->train.dim, c->model.dim);
    if (t->val.dim != c->model.dim)
        return lvt_errf(e, "%s: /vectors has dim %d but model.dim is %d", c->data.val, t->val.dim, c->model.dim);
    const int L = c->data.context_len, D = c->model.dim;
    if (lvt_windows_build(&t->wtrain, &t->train, L, e)) return LVT_ERROR;
    if (lvt_windows_build(&t->wval, &t->val, L, e)) return LVT_ERROR;
    if (t->wtrain.n_windows < 1) return lvt_errf(e, "%s: no article has %d chunks (context %d + target)", c->data.train, L + 1, L);
    t->steps_per_epoch = (long)lvt_steps_per_epoch(t->wtrain.n_windows, G);
    if (t->sharded) {
        /* an epoch = enough steps for the largest shard to see each of its windows once */
        int64_t per_step = (int64_t)t->micro * t->accum, nmax = t->wtrain.n_windows;
        if (lvt_comm_allreduce_i64(comm, &nmax, 1, LVT_COMM_MAX, e)) return LVT_ERROR;
        if (t->wtrain.n_windows < 1)
            return lvt_errf(e, "data.shard \"articles\": rank %d's shard (articles %lld..%lld of %s) has no window",
                            comm->rank, (long long)t->shard_lo, (long long)t->shard_hi, c->data.train);
        t->steps_per_epoch = (long)((nmax + per_step - 1) / per_step);
    }

    lvt_model_cfg mc = {c->model.dim, c->model.d_model, c->model.n_heads, c->model.n_layers,
                        c->model.ffn_mult, L, (float)c->model.dropout};
    if (lvt_model_create(&t->model, &mc, t->be, e)) return LVT_ERROR;
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
    const char *dd_env = getenv("LVT_DEVDATA");
    t->use_devdata = t->be->device >= 0 || (dd_env && !strcmp(dd_env, "1"));
    if (t->use_devdata && (lvt_devdata_upload(&t->dtrain, t->be, &t->train, &t->wtrain, LVT_DEVDATA_FP32, e) ||
                           lvt_devbatch_alloc(&t->db, t->be, t->micro, L, D, t->hcap, e)))
        return lvt_err_prefix(e, "uploading the train store to the %s backend", t->be->ops->name);
    if (lvt_comm_device_init(comm, t->be, e)) return LVT_ERROR;

    if (lvt_log_open(&t->log, t->run_dir, comm->rank == 0, resume, e)) return LVT_ERROR;
    if (comm->rank == 0) {
        char path[TRAIN_PATH_BUF];
        snprintf(path, sizeof path, "%s/config.json", t->run_dir);
        char *js = lvt_config_to_json(c);
        int rc = js ? lvt_write_file_atomic(path, js, e) : lvt_errf(e, "config echo failed");
        free(js);
        if (rc) return LVT_ERROR;
    }
    return LVT_OK;
}

static void teardown(trainer *t) {
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
}

/* ---- the run ----------------------------------------------------------------------------------------- */

static void log_step_metrics(trainer *t, const step_out *so, double sps) {
    char buf[1024];
    snprintf(buf, sizeof buf,
             "{\"type\":\"step\",\"epoch\":%d,\"step\":%ld,\"global_step\":%ld,\"loss\":%.8g,\"mse\":%.8g,"
             "\"rollout\":%.8g,\"dir\":%.8g,\"future\":%.8g,\"anticopy\":%.8g,\"cos\":%.8g,"
             "\"lambda_dir_eff\":%.8g,\"grad_norm\":%.8g,\"lr\":%.8g,\"samples_per_s\":%.1f}",
             t->epoch, t->step_in_epoch, t->global_step, so->terms[LVT_TERM_TOTAL], so->terms[LVT_TERM_MSE],
             so->terms[LVT_TERM_ROLL], so->terms[LVT_TERM_DIR], so->terms[LVT_TERM_FUT], so->terms[LVT_TERM_AC],
             so->terms[LVT_TERM_COS], so->terms[LVT_TERM_LAMBDA_EFF], so->grad_norm, t->opt.lr, sps);
    lvt_log_metrics(&t->log, buf);
}

static void log_event(trainer *t, const char *json) { lvt_log_metrics(&t->log, json); }

/* A non-finite loss: roll back to the newest good checkpoint and halve the LR. */
static int handle_nonfinite(trainer *t, const step_out *so, lvt_err *e) {
    t->nan_retries++;
    if (t->nan_retries > t->cfg->train.nan_max_retries)
        return lvt_errf(e, "training diverged: non-finite loss at step %ld (epoch %d) after %d rollbacks; "
                           "the last good checkpoint is %s/last.h5", t->global_step, t->epoch,
                        t->nan_retries - 1, t->ckpt_dir);
    char path[TRAIN_PATH_BUF];
    ckpt_path(t, path, sizeof path, "last.h5");
    const char *name = file_exists(path) ? "last.h5" : "epoch_000.h5";
    long bad_step = t->global_step;
    if (restore_ckpt(t, name, e)) return lvt_err_prefix(e, "rollback after a non-finite loss");
    t->opt.lr *= 0.5;
    lvt_log_info(&t->log, "non-finite loss (%g) at step %ld: rolled back to %s, lr halved to %.3g (retry %d of %d)",
                 so->terms[LVT_TERM_TOTAL], bad_step, name, t->opt.lr, t->nan_retries, t->cfg->train.nan_max_retries);
    char buf[512];
    snprintf(buf, sizeof buf, "{\"type\":\"event\",\"event\":\"nonfinite\",\"global_step\":%ld,\"rollback_to\":\"%s\","
             "\"lr\":%.8g,\"retry\":%d}", bad_step, name, t->opt.lr, t->nan_retries);
    log_event(t, buf);
    return LVT_OK;
}

int lvt_train_run(const lvt_config *cfg, const char *run_dir, int resume, lvt_comm *comm,
                  lvt_train_summary *out, lvt_err *e) {
    trainer tr, *t = &tr;
    memset(out, 0, sizeof *out);
    double t_start = lvt_now();
    int rc = setup(t, cfg, run_dir, comm, resume, e);
    if (rc) goto done;
    stop_requested = 0;
    signal(SIGTERM, on_stop_signal);
    signal(SIGUSR1, on_stop_signal);

    if (resume) {
        char path[TRAIN_PATH_BUF];
        ckpt_path(t, path, sizeof path, "last.h5");
        if (!file_exists(path)) {
            rc = lvt_errf(e, "--resume %s: no checkpoint at %s", run_dir, path);
            goto done;
        }
        if ((rc = restore_ckpt(t, "last.h5", e))) goto done;
        lvt_log_info(&t->log, "resumed from %s: epoch %d, step %ld of %ld, global step %ld", path, t->epoch,
                     t->step_in_epoch, t->steps_per_epoch, t->global_step);
    } else {
        if ((rc = save_ckpt(t, "epoch_000.h5", e))) goto done;
        if (t->sharded)
            lvt_log_info(&t->log, "data.shard articles: rank 0 holds articles [%lld, %lld) of %s (%lld windows); "
                         "every rank reads only its own range", (long long)t->shard_lo, (long long)t->shard_hi,
                         cfg->data.train, (long long)t->wtrain.n_windows);
        lvt_log_info(&t->log, "lvt train: %lld train windows, %lld val windows, %zu parameters, global batch %d "
                     "(micro %d x world %d x accum %d), %ld steps/epoch, backend %s, %d CPU thread%s per rank",
                     (long long)t->wtrain.n_windows, (long long)t->wval.n_windows, t->model.n_params,
                     cfg->train.global_batch, t->micro, comm->world, t->accum, t->steps_per_epoch, t->be->ops->name,
                     t->threads, t->threads == 1 ? "" : "s");
    }
    char blas[256]; /* the BLAS library, core and threads in force (docs/bench.md) */
    lvt_blas_describe(blas, sizeof blas);
    lvt_log_info(&t->log, "BLAS: %s", blas);

    int capped_summary = 0;
    int64_t samples_this_run = 0;
    double t_train = 0;
    while (t->epoch <= cfg->train.epochs) {
        lvt_objective_cfg obj;
        int phase;
        lvt_train_resolve(cfg, t->epoch, t->fired, &obj, &phase);
        if (phase != t->last_phase) {
            const char *pname = phase_name(cfg, phase);
            char desc[512] = "";
            if (phase >= 0) lvt_override_describe(&cfg->phases[phase].ov, desc, sizeof desc);
            if (phase >= 0 && cfg->phases[phase].from_epoch == t->epoch && (cfg->phases[phase].ov.set & LVT_OV_LR))
                t->opt.lr = cfg->phases[phase].ov.lr;
            lvt_log_info(&t->log, "epoch %d: curriculum phase %d '%s' begins (%s); rollout_h %d, lambda_roll %g, "
                         "lambda_dir %g, lambda_fut %g, lambda_ac %g, context_drop_p %g",
                         t->epoch, phase + 1, pname, desc[0] ? desc : "base objective", obj.rollout_h, obj.lambda_roll,
                         obj.lambda_dir, obj.lambda_fut, obj.lambda_ac, obj.context_drop_p);
            char buf[512];
            snprintf(buf, sizeof buf, "{\"type\":\"event\",\"event\":\"phase\",\"epoch\":%d,\"phase\":%d,\"name\":\"%s\"}",
                     t->epoch, phase + 1, pname);
            log_event(t, buf);
            t->last_phase = phase;
        }
        lvt_perm perm;
        lvt_perm_init(&perm, (uint64_t)t->wtrain.n_windows, cfg->train.seed + (t->sharded ? (uint64_t)comm->rank : 0),
                      (uint64_t)t->epoch);
        epoch_rec rec;
        memset(&rec, 0, sizeof rec);
        rec.epoch = t->epoch;
        snprintf(rec.phase, sizeof rec.phase, "%s", phase_name(cfg, phase));
        if (t->step_in_epoch == 0) {
            memset(t->ep_sums, 0, sizeof t->ep_sums);
            t->ep_samples = 0;
        }
        double *sums = t->ep_sums;
        int64_t n_samples_run = 0;
        double t_ep = lvt_now();
        int rolled_back = 0;
        while (t->step_in_epoch < t->steps_per_epoch) {
            if (cfg->train.max_steps > 0 && t->global_step >= cfg->train.max_steps) break;
            step_out so;
            if ((rc = train_step(t, &obj, &perm, &so, e))) goto done;
            if (!so.finite) {
                if ((rc = handle_nonfinite(t, &so, e))) goto done;
                rolled_back = 1;
                break;
            }
            for (int k = 0; k < LVT_TERM_COUNT; k++) sums[k] += so.terms[k] * (double)so.samples;
            t->ep_samples += so.samples;
            n_samples_run += so.samples;
            t->step_in_epoch++;
            t->global_step++;
            samples_this_run += so.samples;
            double el = lvt_now() - t_ep;
            double sps = el > 0 ? (double)n_samples_run / el : 0;
            double eta = sps > 0 ? (double)(t->steps_per_epoch - t->step_in_epoch) * cfg->train.global_batch / sps : -1;
            lvt_log_progress(&t->log, t->epoch, t->step_in_epoch, t->steps_per_epoch, sps, so.terms[LVT_TERM_TOTAL], eta,
                             cfg->train.log_every);
            if (cfg->train.log_every > 0 && t->global_step % cfg->train.log_every == 0) log_step_metrics(t, &so, sps);
            /* preemption: every rank agrees at the step boundary */
            int64_t stop = stop_requested;
            if ((rc = lvt_comm_allreduce_i64(comm, &stop, 1, LVT_COMM_MAX, e))) goto done;
            if (stop) {
                lvt_log_progress_end(&t->log);
                if ((rc = save_ckpt(t, "last.h5", e))) goto done;
                lvt_log_info(&t->log, "stop signal received: checkpoint written at epoch %d step %ld; continue with --resume %s",
                             t->epoch, t->step_in_epoch, t->run_dir);
                log_event(t, "{\"type\":\"event\",\"event\":\"preempted\"}");
                out->preempted = 1;
                goto finish;
            }
        }
        t_train += lvt_now() - t_ep;
        if (rolled_back) continue;
        lvt_log_progress_end(&t->log);
        int capped = cfg->train.max_steps > 0 && t->global_step >= cfg->train.max_steps && t->step_in_epoch < t->steps_per_epoch;
        /* ---- end of epoch (or of the step budget): validation ---- */
        const double ns = t->ep_samples > 0 ? (double)t->ep_samples : 1.0;
        rec.train_loss = sums[LVT_TERM_TOTAL] / ns;
        rec.train_cos = sums[LVT_TERM_COS] / ns;
        rec.mse = sums[LVT_TERM_MSE] / ns;
        rec.roll = sums[LVT_TERM_ROLL] / ns;
        rec.dir = sums[LVT_TERM_DIR] / ns;
        rec.fut = sums[LVT_TERM_FUT] / ns;
        rec.ac = sums[LVT_TERM_AC] / ns;
        rec.lambda_eff = sums[LVT_TERM_LAMBDA_EFF] / ns;
        rec.steps = t->step_in_epoch;
        rec.seconds = lvt_now() - t_ep;
        rec.samples_per_s = rec.seconds > 0 ? n_samples_run / rec.seconds : 0;
        if ((rc = validate(t, &rec, e))) goto done;
        if (capped) {
            /* the step budget ended inside the epoch: report, keep the run resumable, and leave
             * the epoch's bookkeeping (history, best values, schedule) to the resumed run */
            lvt_log_info(&t->log, "stopped at train.max_steps = %ld inside epoch %d (step %ld of %ld): val_loss %.6f "
                         "val_cos %.4f Margin(+1 vs last): %.4f", (long)cfg->train.max_steps, t->epoch,
                         t->step_in_epoch, t->steps_per_epoch, rec.val_loss, rec.val_cos, rec.margin);
            out->val_loss = rec.val_loss;
            out->val_cos = rec.val_cos;
            out->margin = rec.margin;
            capped_summary = 1;
            if ((rc = save_ckpt(t, "last.h5", e))) goto done;
            break;
        }
        if (rec.val_cos > t->best_val_cos) t->best_val_cos = rec.val_cos;
        rec.val_cos_drop_pct = t->best_val_cos > 0 ? 100.0 * (t->best_val_cos - rec.val_cos) / t->best_val_cos : 0;
        rec.lr = t->opt.lr;
        if (!isfinite(rec.val_loss)) {
            step_out so;
            memset(&so, 0, sizeof so);
            so.terms[LVT_TERM_TOTAL] = rec.val_loss;
            if ((rc = handle_nonfinite(t, &so, e))) goto done;
            continue;
        }
        int improved = rec.val_loss < t->best_val_loss;
        if (improved) t->best_val_loss = rec.val_loss;
        if ((rc = history_push(t, &rec, e))) goto done;
        lvt_log_info(&t->log, "epoch %d/%d [%s] train_loss %.6f train_cos %.4f | val_loss %.6f val_cos %.4f | lr %.3g | %.1fs",
                     t->epoch, cfg->train.epochs, rec.phase, rec.train_loss, rec.train_cos, rec.val_loss, rec.val_cos,
                     rec.lr, rec.seconds);
        lvt_log_info(&t->log, "  Margin(+1 vs last): %.4f   mini-5CAT cos(+1) %.4f margin(+1) %.4f%s", rec.margin,
                     rec.mini_cos_p1, rec.mini_margin, improved ? "   (best val loss)" : "");
        {
            cJSON *o = rec_json(&rec);
            cJSON_AddStringToObject(o, "type", "epoch");
            char *s = cJSON_PrintUnformatted(o);
            log_event(t, s);
            free(s);
            cJSON_Delete(o);
        }
        /* the LR schedule and the epoch's checkpoints */
        if (lvt_optim_plateau_step(&t->opt, rec.val_loss))
            lvt_log_info(&t->log, "  plateau: lr reduced to %.3g", t->opt.lr);
        int done_epoch = t->epoch;
        t->epoch++;
        t->step_in_epoch = 0;
        char name[64];
        epoch_ckpt_name(done_epoch, name, sizeof name);
        if ((rc = save_ckpt(t, name, e))) goto done;
        if ((rc = save_ckpt(t, "last.h5", e))) goto done;
        if (improved && (rc = save_ckpt(t, "best.h5", e))) goto done;
        apply_retention(t, done_epoch);
        if (comm->rank == 0) {
            char path[TRAIN_PATH_BUF];
            snprintf(path, sizeof path, "%s/training_history.json", t->run_dir);
            char *hj = history_json(t, 1);
            rc = lvt_write_file_atomic(path, hj, e);
            free(hj);
            if (rc) goto done;
        }
        /* tripwires: rank 0 decides, every rank applies */
        int64_t decision[LVT_MAX_TRIPWIRES + 1];
        memset(decision, 0, sizeof decision);
        if (comm->rank == 0) {
            for (int i = 0; i < cfg->n_tripwires; i++) {
                const lvt_tripwire *tw = &cfg->tripwires[i];
                if ((t->fired & (1ull << i)) || done_epoch < tw->epoch_lo || done_epoch > tw->epoch_hi) continue;
                if (lvt_tripwire_holds(tw, metric_value(tw->metric, &rec))) decision[i] = 1;
            }
        }
        if ((rc = lvt_comm_allreduce_i64(comm, decision, LVT_MAX_TRIPWIRES, LVT_COMM_MAX, e))) goto done;
        int rollback = 0;
        for (int i = 0; i < cfg->n_tripwires; i++) {
            if (!decision[i]) continue;
            const lvt_tripwire *tw = &cfg->tripwires[i];
            t->fired |= 1ull << i;
            char desc[512] = "";
            lvt_override_describe(&tw->ov, desc, sizeof desc);
            lvt_log_info(&t->log, "tripwire %d fired after epoch %d: %s (%s = %.6g); set %s%s", i + 1, done_epoch,
                         tw->cond_text, tw->metric, metric_value(tw->metric, &rec), desc[0] ? desc : "nothing",
                         tw->rollback_to_epoch ? ", rolling back" : "");
            char buf[768];
            snprintf(buf, sizeof buf, "{\"type\":\"event\",\"event\":\"tripwire\",\"tripwire\":%d,\"epoch\":%d,"
                     "\"condition\":\"%s\",\"value\":%.8g,\"rollback_to_epoch\":%d}", i + 1, done_epoch, tw->cond_text,
                     metric_value(tw->metric, &rec), tw->rollback_to_epoch);
            log_event(t, buf);
            if (tw->ov.set & LVT_OV_LR) t->opt.lr = tw->ov.lr;
            if (tw->rollback_to_epoch > 0 && !rollback) rollback = tw->rollback_to_epoch;
        }
        if (rollback) {
            uint64_t fired = t->fired;
            double lr = t->opt.lr;
            int lr_set = 0;
            for (int i = 0; i < cfg->n_tripwires; i++)
                if (decision[i] && (cfg->tripwires[i].ov.set & LVT_OV_LR)) lr_set = 1;
            epoch_ckpt_name(rollback, name, sizeof name);
            if ((rc = restore_ckpt(t, name, e))) goto done;
            t->fired = fired; /* a tripwire fires once, also across its own rollback */
            t->last_phase = -2;
            if (lr_set) t->opt.lr = lr;
            lvt_log_info(&t->log, "rolled back to %s/%s: continuing at epoch %d", t->ckpt_dir, name, t->epoch);
            /* a fingerprint of the reloaded weights, so a reader can check them against the file */
            double psum = t->be->ops->sum(t->be, t->model.params, t->model.n_params);
            double psq = t->be->ops->sumsq(t->be, t->model.params, t->model.n_params);
            char buf[384];
            snprintf(buf, sizeof buf, "{\"type\":\"event\",\"event\":\"rollback\",\"to_epoch\":%d,\"global_step\":%ld,"
                     "\"params_sum\":%.17g,\"params_sumsq\":%.17g}", rollback, t->global_step, psum, psq);
            log_event(t, buf);
            if ((rc = save_ckpt(t, "last.h5", e))) goto done;
        }
    }
finish:
    out->epochs_done = t->epoch - 1;
    out->steps_done = t->global_step;
    if (t->n_hist > 0 && !capped_summary) {
        const epoch_rec *r = &t->hist[t->n_hist - 1];
        out->val_loss = r->val_loss;
        out->val_cos = r->val_cos;
        out->margin = r->margin;
    }
    out->best_val_loss = t->best_val_loss;
    out->seconds = lvt_now() - t_start;
    out->samples_per_s = t_train > 0 ? samples_this_run / t_train : 0;
    if (!out->preempted && (t->n_hist > 0 || capped_summary))
        lvt_log_info(&t->log, "done: %d epochs, %ld steps in %.1fs (%.0f samples/s); final val_cos %.4f, "
                     "Margin(+1 vs last) %.4f, best val_loss %.6f", out->epochs_done, out->steps_done, out->seconds,
                     out->samples_per_s, out->val_cos, out->margin, out->best_val_loss);
done:
    signal(SIGTERM, SIG_DFL);
    signal(SIGUSR1, SIG_DFL);
    teardown(t);
    return rc;
}
