/* train_ckpt.c — the training run's checkpoints in run_dir/ckpt (docs/training.md, "Checkpoints and
 * resume"): save (rank 0 writes, every rank learns the status), restore (every rank reloads the
 * weights, AdamW state and the run position: epoch, step, fired tripwires, best values, history,
 * partial epoch sums) and the retention of epoch checkpoints. The file format is the ckpt module's. */
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lvt/ckpt.h"
#include "train_priv.h"

void train_ckpt_path(const trainer *t, const char *name, char *out, size_t n) {
    size_t a = strlen(t->ckpt_dir), b = strlen(name);
    if (a + b + 2 > n) { /* cannot happen: callers pass TRAIN_PATH_BUF */
        out[0] = 0;
        return;
    }
    memcpy(out, t->ckpt_dir, a);
    out[a] = '/';
    memcpy(out + a + 1, name, b + 1);
}

void train_epoch_ckpt_name(int epoch, char *out, size_t n) { snprintf(out, n, "epoch_%03d.h5", epoch); }

int train_ckpt_exists(const trainer *t, const char *name) {
    char path[TRAIN_PATH_BUF];
    train_ckpt_path(t, name, path, sizeof path);
    struct stat st;
    return stat(path, &st) == 0;
}

/* The run position into the checkpoint's extra area. */
static int store_run_state(const trainer *t, lvt_kvset *x, lvt_err *e) {
    char *hist = train_history_json(t, 0);
    int rc = LVT_OK;
    if (lvt_kv_set_i64(x, "train.epoch", t->epoch, e) ||
        lvt_kv_set_i64(x, "train.step_in_epoch", t->step_in_epoch, e) ||
        lvt_kv_set_i64(x, "train.global_step", t->global_step, e) ||
        lvt_kv_set_i64(x, "train.fired", (int64_t)t->fired, e) ||
        lvt_kv_set_i64(x, "train.last_phase", t->last_phase, e) ||
        lvt_kv_set_f64(x, "train.best_val_loss", t->best_val_loss, e) ||
        lvt_kv_set_f64(x, "train.best_val_cos", t->best_val_cos, e) ||
        lvt_kv_set_str(x, "train.history", hist ? hist : "{}", e) ||
        lvt_kv_set_f64_array(x, "train.epoch_sums", t->ep_sums, LVT_TERM_COUNT, e) ||
        lvt_kv_set_i64(x, "train.epoch_samples", t->ep_samples, e) ||
        lvt_kv_set_i64(x, "train.epoch_close", t->closing, e))
        rc = LVT_ERROR;
    free(hist);
    return rc;
}

/* Every restored field in range for this run (a damaged or hand-made checkpoint fails here, not in
 * an assertion later). */
static int check_run_state(const trainer *t, int64_t epoch, int64_t step, int64_t gstep, int64_t fired,
                           int64_t phase, int64_t samples, double best_loss, double best_cos, const double *sums,
                           lvt_err *e) {
    const lvt_config *c = t->cfg;
    if (epoch < 1 || epoch > 1000000) return lvt_errf(e, "train.epoch %lld is out of range (1..1000000)", (long long)epoch);
    if (step < 0 || step > t->steps_per_epoch)
        return lvt_errf(e, "train.step_in_epoch %lld is out of range (0..%ld steps per epoch)", (long long)step,
                        t->steps_per_epoch);
    if (gstep < step) return lvt_errf(e, "train.global_step %lld is out of range (>= step_in_epoch %lld)",
                                      (long long)gstep, (long long)step);
    if (c->n_tripwires < 63 && (fired < 0 || (fired >> c->n_tripwires) != 0))
        return lvt_errf(e, "train.fired %lld names a tripwire this config does not have (%d tripwires)",
                        (long long)fired, c->n_tripwires);
    if (phase < -2 || phase >= c->n_phases)
        return lvt_errf(e, "train.last_phase %lld is out of range (-2..%d)", (long long)phase, c->n_phases - 1);
    if (samples < 0) return lvt_errf(e, "train.epoch_samples %lld is negative", (long long)samples);
    if (isnan(best_loss) || isnan(best_cos)) return lvt_errf(e, "train.best_val_loss or best_val_cos is NaN");
    for (int k = 0; k < LVT_TERM_COUNT; k++)
        if (!isfinite(sums[k])) return lvt_errf(e, "train.epoch_sums holds a non-finite value");
    if (!(t->opt.lr >= 0) || !isfinite(t->opt.lr) || t->opt.t < 0)
        return lvt_errf(e, "the optimiser state is out of range (lr %g, step %ld)", t->opt.lr, t->opt.t);
    return LVT_OK;
}

/* The run position from the checkpoint's extra area (an absent history keeps the current one). */
static int load_run_state(trainer *t, const lvt_kvset *x, lvt_err *e) {
    int64_t epoch, step, gstep, fired, phase, samples;
    double best_loss, best_cos;
    if (lvt_kv_get_i64(x, "train.epoch", &epoch, e) || lvt_kv_get_i64(x, "train.step_in_epoch", &step, e) ||
        lvt_kv_get_i64(x, "train.global_step", &gstep, e) || lvt_kv_get_i64(x, "train.fired", &fired, e) ||
        lvt_kv_get_i64(x, "train.last_phase", &phase, e) ||
        lvt_kv_get_f64(x, "train.best_val_loss", &best_loss, e) ||
        lvt_kv_get_f64(x, "train.best_val_cos", &best_cos, e))
        return LVT_ERROR;
    const lvt_kv *h = lvt_kv_get(x, "train.history");
    if (h && h->type == LVT_KV_STR && train_history_load(t, h->s, e)) return LVT_ERROR;
    if (lvt_kv_get_i64(x, "train.epoch_samples", &samples, e)) return LVT_ERROR;
    int64_t closing = 0; /* absent in checkpoints written before it existed */
    if (lvt_kv_get(x, "train.epoch_close") && lvt_kv_get_i64(x, "train.epoch_close", &closing, e)) return LVT_ERROR;
    if (closing < 0 || closing > 2 || (closing && (step != 0 || t->n_hist < 1)))
        return lvt_errf(e, "train.epoch_close %lld is out of range (0..2, and only at an epoch boundary)",
                        (long long)closing);
    const lvt_kv *sums = lvt_kv_get(x, "train.epoch_sums");
    if (!sums || sums->type != LVT_KV_F64_ARRAY || sums->n != LVT_TERM_COUNT)
        return lvt_errf(e, "train.epoch_sums missing");
    if (check_run_state(t, epoch, step, gstep, fired, phase, samples, best_loss, best_cos, sums->da, e))
        return LVT_ERROR;
    t->epoch = (int)epoch;
    t->step_in_epoch = step;
    t->global_step = gstep;
    t->fired = (uint64_t)fired;
    t->last_phase = (int)phase;
    t->best_val_loss = best_loss;
    t->best_val_cos = best_cos;
    t->ep_samples = samples;
    t->resumed_close = (int)closing;
    memcpy(t->ep_sums, sums->da, sizeof t->ep_sums);
    return LVT_OK;
}

/* The settings a run cannot change and still continue exactly: refused on resume unless
 * opts.allow_change, and then each difference is logged. */
static const char *const FIXED_KEYS[][2] = {
    {"model", "dim"}, {"model", "d_model"}, {"model", "n_heads"}, {"model", "n_layers"}, {"model", "ffn_mult"},
    {"data", "train"}, {"data", "val"}, {"data", "context_len"}, {"data", "normalize"}, {"data", "drop_degenerate"},
    {"data", "shard"},
    {"train", "global_batch"}, {"train", "seed"}, {"train", "monitor"}};

static char *key_text(const cJSON *root, const char *sec, const char *key) {
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(root, sec), key);
    return it ? cJSON_PrintUnformatted(it) : NULL;
}

static int check_settings(trainer *t, const char *path, const char *stored_json, lvt_err *e) {
    if (!stored_json) return LVT_OK; /* a checkpoint without a config (lvt init) */
    char *now_json = lvt_config_to_json(t->cfg);
    cJSON *was = cJSON_Parse(stored_json), *now = now_json ? cJSON_Parse(now_json) : NULL;
    free(now_json);
    int rc = LVT_OK;
    if (!was || !now) rc = lvt_errf(e, "%s: the stored configuration is not valid JSON", path);
    for (size_t i = 0; rc == LVT_OK && i < sizeof FIXED_KEYS / sizeof FIXED_KEYS[0]; i++) {
        char *a = key_text(was, FIXED_KEYS[i][0], FIXED_KEYS[i][1]), *b = key_text(now, FIXED_KEYS[i][0], FIXED_KEYS[i][1]);
        if (a && b && strcmp(a, b)) {
            if (!t->allow_change)
                rc = lvt_errf(e, "%s.%s is %s but the run being resumed used %s: resuming would not continue the "
                                 "run exactly (pass --allow-change to resume anyway)", FIXED_KEYS[i][0],
                              FIXED_KEYS[i][1], b, a);
            else
                lvt_log_info(&t->log, "resume with --allow-change: %s.%s changed from %s to %s", FIXED_KEYS[i][0],
                             FIXED_KEYS[i][1], a, b);
        }
        free(a);
        free(b);
    }
    cJSON_Delete(was);
    cJSON_Delete(now);
    return rc;
}

/* The crash test's hook: half a checkpoint in the temporary file, then SIGKILL (as a kill -9
 * during the write would leave it). */
static void fault_kill(const char *path, lvt_model *m) {
    char tmp[TRAIN_PATH_BUF + 64];
    lvt_atomic_tmp_path(path, tmp, sizeof tmp);
    FILE *f = fopen(tmp, "wb");
    if (f) {
        fwrite(m->tensors, 1, sizeof *m->tensors, f);
        fclose(f);
    }
    raise(SIGKILL);
}

int train_ckpt_save(trainer *t, const char *name, lvt_err *e) {
    int64_t rc = LVT_OK;
    if (t->comm->rank == 0) {
        char path[TRAIN_PATH_BUF];
        train_ckpt_path(t, name, path, sizeof path);
        if (++t->saves == t->fault_kill_save) fault_kill(path, &t->model);
        lvt_ckpt_info info;
        lvt_ckpt_info_init(&info);
        info.step = t->global_step;
        info.epoch = t->epoch - 1;
        info.config_json = lvt_config_to_json(t->cfg);
        if (store_run_state(t, &info.extra, e) || lvt_ckpt_save(path, &t->model, &t->opt, &info, e)) rc = LVT_ERROR;
        lvt_ckpt_info_free(&info);
    }
    lvt_err be;
    if (lvt_comm_allreduce_i64(t->comm, &rc, 1, LVT_COMM_MIN, &be)) return lvt_errf(e, "%s", be.msg);
    if (rc != LVT_OK && t->comm->rank != 0) return lvt_errf(e, "checkpoint %s failed on rank 0", name);
    return (int)rc;
}

int train_ckpt_restore(trainer *t, const char *name, lvt_err *e) {
    char path[TRAIN_PATH_BUF];
    train_ckpt_path(t, name, path, sizeof path);
    lvt_ckpt_info info;
    lvt_ckpt_info_init(&info);
    if (lvt_ckpt_load(path, &t->model, &t->opt, &info, e)) {
        lvt_ckpt_info_free(&info);
        return LVT_ERROR;
    }
    int rc = load_run_state(t, &info.extra, e);
    if (rc) lvt_err_prefix(e, "%s: not a usable training checkpoint of lvt train", path);
    else if ((rc = check_settings(t, path, info.config_json, e))) lvt_err_prefix(e, "%s", path);
    lvt_ckpt_info_free(&info);
    return rc;
}

void train_ckpt_retention(trainer *t, int epoch) {
    if (t->comm->rank != 0) return;
    int keep = t->cfg->output.keep_epochs;
    if (keep < 1) return; /* "all" */
    for (int ep = 1; ep <= epoch - keep; ep++) {
        int needed = 0;
        for (int i = 0; i < t->cfg->n_tripwires; i++)
            if (t->cfg->tripwires[i].rollback_to_epoch == ep) needed = 1;
        if (needed) continue;
        char name[64], path[TRAIN_PATH_BUF];
        train_epoch_ckpt_name(ep, name, sizeof name);
        train_ckpt_path(t, name, path, sizeof path);
        unlink(path);
    }
}
