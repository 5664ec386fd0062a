/* train_history.c — the epoch history of a run: one record per finished epoch, kept in the trainer,
 * stored in every checkpoint (train.history) and written to run_dir/training_history.json (the
 * reference schema, extended; docs/training.md). */
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "train_priv.h"

/* The numeric fields of a record under their JSON keys, in the order they are written. */
static const struct {
    const char *key;
    size_t off;
} REC_NUMBERS[] = {
    {"train_loss", offsetof(epoch_rec, train_loss)},   {"train_cosine", offsetof(epoch_rec, train_cos)},
    {"val_loss", offsetof(epoch_rec, val_loss)},       {"val_cosine", offsetof(epoch_rec, val_cos)},
    {"lr", offsetof(epoch_rec, lr)},                   {"margin", offsetof(epoch_rec, margin)},
    {"val_cos_drop_pct", offsetof(epoch_rec, val_cos_drop_pct)},
    {"train_mse", offsetof(epoch_rec, mse)},           {"train_rollout", offsetof(epoch_rec, roll)},
    {"train_dir", offsetof(epoch_rec, dir)},           {"train_future", offsetof(epoch_rec, fut)},
    {"train_anticopy", offsetof(epoch_rec, ac)},       {"lambda_dir_eff", offsetof(epoch_rec, lambda_eff)},
    {"mini5cat_cos_p1", offsetof(epoch_rec, mini_cos_p1)}, {"mini5cat_margin", offsetof(epoch_rec, mini_margin)},
    {"mini5cat_ctx_shuffled", offsetof(epoch_rec, ctx_shuffled)},
};
#define N_REC_NUMBERS (sizeof REC_NUMBERS / sizeof REC_NUMBERS[0])

static double rec_get(const epoch_rec *r, size_t i) { return *(const double *)((const char *)r + REC_NUMBERS[i].off); }
static double *rec_field(epoch_rec *r, size_t i) { return (double *)((char *)r + REC_NUMBERS[i].off); }

cJSON *train_rec_json(const epoch_rec *r) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "epoch", r->epoch);
    cJSON_AddStringToObject(o, "phase", r->phase);
    for (size_t i = 0; i < N_REC_NUMBERS; i++)
        cJSON_AddNumberToObject(o, REC_NUMBERS[i].key, rec_get(r, i));
    cJSON_AddNumberToObject(o, "steps", (double)r->steps);
    cJSON_AddNumberToObject(o, "seconds", r->seconds);
    cJSON_AddNumberToObject(o, "samples_per_s", r->samples_per_s);
    return o;
}

static double num_or_nan(const cJSON *o, const char *key) {
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsNumber(it) ? it->valuedouble : NAN;
}

static int rec_from_json(const cJSON *o, epoch_rec *r) {
    memset(r, 0, sizeof *r);
    const cJSON *ep = cJSON_GetObjectItemCaseSensitive(o, "epoch");
    if (!cJSON_IsNumber(ep)) return LVT_ERROR;
    r->epoch = ep->valueint;
    const cJSON *ph = cJSON_GetObjectItemCaseSensitive(o, "phase");
    if (cJSON_IsString(ph)) snprintf(r->phase, sizeof r->phase, "%s", ph->valuestring);
    for (size_t i = 0; i < N_REC_NUMBERS; i++) *rec_field(r, i) = num_or_nan(o, REC_NUMBERS[i].key);
    r->seconds = num_or_nan(o, "seconds");
    r->samples_per_s = num_or_nan(o, "samples_per_s");
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(o, "steps");
    r->steps = cJSON_IsNumber(st) ? (long)st->valuedouble : 0;
    return LVT_OK;
}

char *train_history_json(const trainer *t, int pretty) {
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "model_type", lvt_config_choice_name(LVT_CHOICE_ARCH, t->cfg->model.arch));
    cJSON *arr = cJSON_AddArrayToObject(root, "history");
    for (int i = 0; i < t->n_hist; i++) cJSON_AddItemToArray(arr, train_rec_json(&t->hist[i]));
    cJSON_AddNumberToObject(root, "best_val_loss", isfinite(t->best_val_loss) ? t->best_val_loss : 0);
    cJSON_AddNumberToObject(root, "final_params", (double)t->model.n_params);
    cJSON_AddNumberToObject(root, "global_step", (double)t->global_step);
    train_baselines_json(t, root);
    char *s = pretty ? cJSON_Print(root) : cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    return s;
}

static int grow(trainer *t, lvt_err *e) {
    if (t->n_hist < t->cap_hist) return LVT_OK;
    int cap = t->cap_hist ? 2 * t->cap_hist : 32;
    epoch_rec *h = realloc(t->hist, sizeof *h * (size_t)cap);
    if (!h) return lvt_errf(e, "out of memory (history)");
    t->hist = h;
    t->cap_hist = cap;
    return LVT_OK;
}

int train_history_load(trainer *t, const char *text, lvt_err *e) {
    cJSON *root = cJSON_Parse(text);
    if (!root) return lvt_errf(e, "checkpoint: the stored training history is not valid JSON");
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(root, "history");
    t->n_hist = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, arr) {
        if (grow(t, e)) {
            cJSON_Delete(root);
            return LVT_ERROR;
        }
        if (rec_from_json(it, &t->hist[t->n_hist]) == LVT_OK) t->n_hist++;
    }
    cJSON_Delete(root);
    return LVT_OK;
}

int train_history_push(trainer *t, const epoch_rec *r, lvt_err *e) {
    if (grow(t, e)) return LVT_ERROR;
    t->hist[t->n_hist++] = *r;
    return LVT_OK;
}

int train_history_write(const trainer *t, lvt_err *e) {
    if (t->comm->rank != 0) return LVT_OK;
    char path[TRAIN_PATH_BUF];
    snprintf(path, sizeof path, "%s/training_history.json", t->run_dir);
    char *hj = train_history_json(t, 1);
    int rc = hj ? lvt_write_file_atomic(path, hj, e) : lvt_errf(e, "%s: out of memory", path);
    free(hj);
    return rc;
}
