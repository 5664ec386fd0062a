/* train_metrics.c — the metrics.jsonl records of a run (rank 0): one "step" record per log interval,
 * one "epoch" record per epoch and the events (phase, tripwire, rollback, nonfinite, preempted).
 * Every record is a cJSON object, so names from the config (a phase called `warm"up`, a tripwire's
 * condition) are escaped; numbers keep the precision the records always had (docs/training.md). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "train_priv.h"

/* v as printf("%.*g", digits) prints it: cJSON then writes that short form (it prints the
 * shortest of %.15g / %.17g that reads back as the same double). Non-finite values become null. */
static double sig_digits(double v, int digits) {
    if (!isfinite(v)) return v;
    char buf[64];
    snprintf(buf, sizeof buf, "%.*g", digits, v);
    return strtod(buf, NULL);
}

static void add_num8(cJSON *o, const char *key, double v) { cJSON_AddNumberToObject(o, key, sig_digits(v, 8)); }

/* Write the record as one line and free it. */
static void emit(trainer *t, cJSON *o) {
    char *s = o ? cJSON_PrintUnformatted(o) : NULL;
    if (s) lvt_log_metrics(&t->log, s);
    free(s);
    cJSON_Delete(o);
}

static cJSON *event(const char *name) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "type", "event");
    cJSON_AddStringToObject(o, "event", name);
    return o;
}

void train_metrics_step(trainer *t, const step_out *so, double samples_per_s) {
    if (!t->log.enabled) return;
    static const struct {
        const char *key;
        int term;
    } terms[] = {{"loss", LVT_TERM_TOTAL}, {"mse", LVT_TERM_MSE},     {"rollout", LVT_TERM_ROLL},
                 {"dir", LVT_TERM_DIR},    {"future", LVT_TERM_FUT},  {"anticopy", LVT_TERM_AC},
                 {"cos", LVT_TERM_COS},    {"lambda_dir_eff", LVT_TERM_LAMBDA_EFF}};
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "type", "step");
    cJSON_AddNumberToObject(o, "epoch", t->epoch);
    cJSON_AddNumberToObject(o, "step", (double)t->step_in_epoch);
    cJSON_AddNumberToObject(o, "global_step", (double)t->global_step);
    for (size_t i = 0; i < sizeof terms / sizeof terms[0]; i++) add_num8(o, terms[i].key, so->terms[terms[i].term]);
    add_num8(o, "grad_norm", so->grad_norm);
    add_num8(o, "lr", t->opt.lr);
    char buf[64];
    snprintf(buf, sizeof buf, "%.1f", samples_per_s);
    cJSON_AddNumberToObject(o, "samples_per_s", isfinite(samples_per_s) ? strtod(buf, NULL) : samples_per_s);
    emit(t, o);
}

void train_metrics_epoch(trainer *t, const epoch_rec *r) {
    if (!t->log.enabled) return;
    cJSON *o = train_rec_json(r);
    cJSON_AddStringToObject(o, "type", "epoch");
    emit(t, o);
}

void train_metrics_phase(trainer *t, int phase, const char *name) {
    if (!t->log.enabled) return;
    cJSON *o = event("phase");
    cJSON_AddNumberToObject(o, "epoch", t->epoch);
    cJSON_AddNumberToObject(o, "phase", phase);
    cJSON_AddStringToObject(o, "name", name);
    emit(t, o);
}

void train_metrics_tripwire(trainer *t, int tripwire, int epoch, const char *condition, double value,
                            int rollback_to_epoch) {
    if (!t->log.enabled) return;
    cJSON *o = event("tripwire");
    cJSON_AddNumberToObject(o, "tripwire", tripwire);
    cJSON_AddNumberToObject(o, "epoch", epoch);
    cJSON_AddStringToObject(o, "condition", condition);
    add_num8(o, "value", value);
    cJSON_AddNumberToObject(o, "rollback_to_epoch", rollback_to_epoch);
    emit(t, o);
}

void train_metrics_rollback(trainer *t, int to_epoch, double params_sum, double params_sumsq) {
    if (!t->log.enabled) return;
    cJSON *o = event("rollback");
    cJSON_AddNumberToObject(o, "to_epoch", to_epoch);
    cJSON_AddNumberToObject(o, "global_step", (double)t->global_step);
    /* full precision: a reader checks the reloaded weights against the file with these */
    cJSON_AddNumberToObject(o, "params_sum", params_sum);
    cJSON_AddNumberToObject(o, "params_sumsq", params_sumsq);
    emit(t, o);
}

void train_metrics_nonfinite(trainer *t, long global_step, const char *rollback_to) {
    if (!t->log.enabled) return;
    cJSON *o = event("nonfinite");
    cJSON_AddNumberToObject(o, "global_step", (double)global_step);
    cJSON_AddStringToObject(o, "rollback_to", rollback_to);
    add_num8(o, "lr", t->opt.lr);
    cJSON_AddNumberToObject(o, "retry", t->nan_retries);
    emit(t, o);
}

void train_metrics_preempted(trainer *t) {
    if (!t->log.enabled) return;
    emit(t, event("preempted"));
}
