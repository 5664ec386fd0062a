/* eval_report.c — 5CAT gates (docs/eval.md thresholds), the human table and the JSON report. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lvt/eval.h"

int lvt_gate_pass(double value, lvt_gate_op op, double threshold) {
    if (isnan(value)) return 0;
    return op == LVT_GATE_GE ? value >= threshold : value <= threshold;
}

/* The gate table: test, key, label, op, VAL threshold, OOD threshold. */
typedef struct gate_def {
    char test;
    const char *key, *label;
    lvt_gate_op op;
    double thr_val, thr_ood;
} gate_def;

static const gate_def GATES[LVT_EVAL_N_GATES] = {
    {'A', "cos_p1", "cos(+1)", LVT_GATE_GE, 0.50, 0.48},
    {'A', "margin", "margin(+1)", LVT_GATE_GE, 0.12, 0.10},
    {'B', "r1", "R@1", LVT_GATE_GE, 0.60, 0.55},
    {'B', "r5", "R@5", LVT_GATE_GE, 0.95, 0.92},
    {'B', "mrr", "MRR", LVT_GATE_GE, 0.80, 0.75},
    {'C', "shuffled", "dcos shuffled", LVT_GATE_LE, -0.15, -0.15},
    {'C', "reversed", "dcos reversed", LVT_GATE_LE, -0.10, -0.10},
    {'C', "leave_one_out", "dcos leave-one-out", LVT_GATE_LE, -0.08, -0.08},
    {'C', "repeat_last", "dcos repeat-last", LVT_GATE_LE, 0.05, 0.05},
    {'C', "last_first", "dcos last:=first", LVT_GATE_LE, 0.05, 0.05},
    {'D', "rollout_cos", "rollout mean cos", LVT_GATE_GE, 0.45, 0.42},
    {'E', "band_gap", "|VAL-OOD| band cos", LVT_GATE_LE, 0.05, 0.05},
};

static double gate_value(const lvt_eval_metrics *m, int g) {
    switch (g) {
    case 0: return m->a_cos_p1;
    case 1: return m->a_margin;
    case 2: return m->b_r1;
    case 3: return m->b_r5;
    case 4: return m->b_mrr;
    case 5: return m->c_shuffled;
    case 6: return m->c_reversed;
    case 7: return m->c_leave_one_out;
    case 8: return m->c_repeat_last;
    case 9: return m->c_last_first;
    case 10: return m->d_cos;
    default: return m->e_cos;
    }
}

void lvt_eval_apply_gates(lvt_eval_report *r) {
    r->n_pass = r->n_fail = 0;
    for (int g = 0; g < LVT_EVAL_N_GATES; g++) {
        const gate_def *d = &GATES[g];
        lvt_eval_gate *o = &r->gates[g];
        o->test = d->test;
        o->key = d->key;
        o->label = d->label;
        o->op = d->op;
        o->thr_val = d->thr_val;
        o->thr_ood = d->thr_ood;
        o->v_val = gate_value(&r->val, g);
        o->v_ood = gate_value(&r->ood, g);
        if (d->test == 'E') {
            o->pass_val = o->pass_ood = lvt_gate_pass(fabs(o->v_val - o->v_ood), d->op, d->thr_val);
            o->pass = o->pass_val;
            if (o->pass) r->n_pass++;
            else r->n_fail++;
            continue;
        }
        o->pass_val = lvt_gate_pass(o->v_val, d->op, d->thr_val);
        o->pass_ood = lvt_gate_pass(o->v_ood, d->op, d->thr_ood);
        o->pass = o->pass_val && o->pass_ood;
        r->n_pass += o->pass_val + o->pass_ood;
        r->n_fail += !o->pass_val + !o->pass_ood;
    }
    r->all_pass = r->n_fail == 0;
}

static const char *op_str(lvt_gate_op op) { return op == LVT_GATE_GE ? ">=" : "<="; }

/* The baselines beside the A gates, and whether the predictor beats them on VAL. */
static void print_baselines(FILE *f, const lvt_eval_report *r) {
    if (!r->have_baselines) return;
    static const char *const names[2] = {"copy-last", "mean-of-context"};
    for (int k = 0; k < 2; k++) {
        const int below = r->val.a_cos_p1 < r->bl_cos_p1[0][k];
        fprintf(f, "   baseline %-15s cos(+1) VAL %.4f OOD %.4f   margin(+1) VAL %.4f OOD %.4f   %s\n", names[k],
                r->bl_cos_p1[0][k], r->bl_cos_p1[1][k], r->bl_margin[0][k], r->bl_margin[1][k],
                below ? "predictor below it on VAL" : "predictor at or above it on VAL");
    }
    fprintf(f, "\n");
}

static cJSON *baselines_json(const lvt_eval_report *r) {
    static const char *const keys[2] = {"copy_last", "mean_of_context"};
    cJSON *b = cJSON_CreateObject();
    for (int k = 0; k < 2; k++) {
        cJSON *o = cJSON_AddObjectToObject(b, keys[k]);
        cJSON_AddNumberToObject(o, "val_cos_p1", r->bl_cos_p1[0][k]);
        cJSON_AddNumberToObject(o, "val_margin", r->bl_margin[0][k]);
        cJSON_AddNumberToObject(o, "ood_cos_p1", r->bl_cos_p1[1][k]);
        cJSON_AddNumberToObject(o, "ood_margin", r->bl_margin[1][k]);
    }
    return b;
}

void lvt_eval_print(FILE *f, const lvt_eval_report *r) {
    fprintf(f, "5CAT  predictor: %s   seed %llu   horizon %d   context %d\n", r->predictor,
            (unsigned long long)r->opts.seed, r->opts.horizon, r->opts.context_len);
    if (r->model_path[0]) fprintf(f, "  model %s\n", r->model_path);
    fprintf(f, "  VAL %s: %lld windows, %lld drawn (%.2f s)\n", r->val_path,
            (long long)r->val.n_windows, (long long)r->val.n_selected, r->val.seconds);
    fprintf(f, "  OOD %s: %lld windows, %lld drawn (%.2f s)\n\n", r->ood_path,
            (long long)r->ood.n_windows, (long long)r->ood.n_selected, r->ood.seconds);
    fprintf(f, "   %-24s  %8s  %-8s   %8s  %-8s   %s\n", "gate", "VAL", "  need", "OOD", "  need",
            "result");
    for (int g = 0; g < LVT_EVAL_N_GATES; g++) {
        const lvt_eval_gate *o = &r->gates[g];
        if (o->test == 'E') {
            fprintf(f, "%c  %-24s  %8.4f             %8.4f  |VAL-OOD| %.4f %s %.2f   %s\n", o->test, o->label,
                    o->v_val, o->v_ood, fabs(o->v_val - o->v_ood), op_str(o->op), o->thr_val,
                    o->pass ? "PASS" : "FAIL");
            continue;
        }
        const char *res = o->pass ? "PASS" : (!o->pass_val && !o->pass_ood) ? "FAIL"
                                             : !o->pass_val                 ? "FAIL (VAL)"
                                                                            : "FAIL (OOD)";
        fprintf(f, "%c  %-24s  %8.4f  %s %5.2f   %8.4f  %s %5.2f   %s\n", o->test, o->label, o->v_val,
                op_str(o->op), o->thr_val, o->v_ood, op_str(o->op), o->thr_ood, res);
    }
    fprintf(f, "\n");
    print_baselines(f, r);
    const lvt_eval_metrics *ms[2] = {&r->val, &r->ood};
    const char *names[2] = {"VAL", "OOD"};
    for (int s = 0; s < 2; s++) {
        const lvt_eval_metrics *m = ms[s];
        fprintf(f, "%s  A offsets -3..+3 (n=%lld):", names[s], (long long)m->a_n);
        for (int k = 0; k < 7; k++) fprintf(f, " %.4f", m->a_cos[k]);
        fprintf(f, "\n%s  B n=%lld  mean rank %.3f   C n=%lld base cos %.4f   E n=%lld (mean coherence %.4f)\n",
                names[s], (long long)m->b_n, m->b_mean_rank, (long long)m->c_n, m->c_base_cos,
                (long long)m->e_n, m->e_coherence_mean);
        fprintf(f, "%s  D n=%lld cos by h:", names[s], (long long)m->d_n);
        for (int h = 0; h < m->d_h; h++) fprintf(f, " %.4f", m->d_cos_h[h]);
        fprintf(f, "\n");
    }
    fprintf(f, "\n5CAT: %d of %d gate checks passed — %s\n", r->n_pass, r->n_pass + r->n_fail,
            r->all_pass ? "ALL GATES PASS" : "GATES FAILED");
}

static cJSON *metrics_json(const lvt_eval_metrics *m, const char *path) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "path", path);
    cJSON_AddNumberToObject(o, "n_windows", (double)m->n_windows);
    cJSON_AddNumberToObject(o, "n_selected", (double)m->n_selected);
    cJSON_AddNumberToObject(o, "seconds", m->seconds);
    if (m->tests & LVT_EVAL_A) {
        cJSON *a = cJSON_AddObjectToObject(o, "A");
        cJSON_AddNumberToObject(a, "n", (double)m->a_n);
        cJSON *sweep = cJSON_AddObjectToObject(a, "cos");
        static const char *ks[7] = {"-3", "-2", "-1", "0", "+1", "+2", "+3"};
        for (int k = 0; k < 7; k++) cJSON_AddNumberToObject(sweep, ks[k], m->a_cos[k]);
        cJSON_AddNumberToObject(a, "cos_p1", m->a_cos_p1);
        cJSON_AddNumberToObject(a, "margin", m->a_margin);
    }
    if (m->tests & LVT_EVAL_B) {
        cJSON *b = cJSON_AddObjectToObject(o, "B");
        cJSON_AddNumberToObject(b, "n", (double)m->b_n);
        cJSON_AddNumberToObject(b, "r1", m->b_r1);
        cJSON_AddNumberToObject(b, "r5", m->b_r5);
        cJSON_AddNumberToObject(b, "mrr", m->b_mrr);
        cJSON_AddNumberToObject(b, "mean_rank", m->b_mean_rank);
    }
    if (m->tests & LVT_EVAL_C) {
        cJSON *c = cJSON_AddObjectToObject(o, "C");
        cJSON_AddNumberToObject(c, "n", (double)m->c_n);
        cJSON_AddNumberToObject(c, "base_cos", m->c_base_cos);
        cJSON_AddNumberToObject(c, "shuffled", m->c_shuffled);
        cJSON_AddNumberToObject(c, "reversed", m->c_reversed);
        cJSON_AddNumberToObject(c, "leave_one_out", m->c_leave_one_out);
        cJSON_AddNumberToObject(c, "repeat_last", m->c_repeat_last);
        cJSON_AddNumberToObject(c, "last_first", m->c_last_first);
    }
    if (m->tests & LVT_EVAL_D) {
        cJSON *d = cJSON_AddObjectToObject(o, "D");
        cJSON_AddNumberToObject(d, "n", (double)m->d_n);
        cJSON_AddNumberToObject(d, "horizon", m->d_h);
        cJSON_AddNumberToObject(d, "rollout_cos", m->d_cos);
        cJSON *h = cJSON_AddArrayToObject(d, "cos_h");
        for (int i = 0; i < m->d_h; i++) cJSON_AddItemToArray(h, cJSON_CreateNumber(m->d_cos_h[i]));
    }
    if (m->tests & LVT_EVAL_E) {
        cJSON *e = cJSON_AddObjectToObject(o, "E");
        cJSON_AddNumberToObject(e, "n", (double)m->e_n);
        cJSON_AddNumberToObject(e, "band_cos", m->e_cos);
        cJSON_AddNumberToObject(e, "coherence_lo", LVT_EVAL_COH_LO);
        cJSON_AddNumberToObject(e, "coherence_hi", LVT_EVAL_COH_HI);
        cJSON_AddNumberToObject(e, "coherence_mean", m->e_coherence_mean);
    }
    return o;
}

/* One gate: its values, thresholds and verdicts (E: the two band means and |VAL-OOD|). */
static cJSON *gate_json(const lvt_eval_gate *o) {
    char test[2] = {o->test, 0};
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "test", test);
    cJSON_AddStringToObject(j, "key", o->key);
    cJSON_AddStringToObject(j, "label", o->label);
    cJSON_AddStringToObject(j, "op", op_str(o->op));
    if (o->test == 'E') {
        cJSON_AddNumberToObject(j, "val", o->v_val);
        cJSON_AddNumberToObject(j, "ood", o->v_ood);
        cJSON_AddNumberToObject(j, "value", fabs(o->v_val - o->v_ood));
        cJSON_AddNumberToObject(j, "threshold", o->thr_val);
    } else {
        cJSON_AddNumberToObject(j, "val", o->v_val);
        cJSON_AddNumberToObject(j, "threshold_val", o->thr_val);
        cJSON_AddBoolToObject(j, "pass_val", o->pass_val);
        cJSON_AddNumberToObject(j, "ood", o->v_ood);
        cJSON_AddNumberToObject(j, "threshold_ood", o->thr_ood);
        cJSON_AddBoolToObject(j, "pass_ood", o->pass_ood);
    }
    cJSON_AddBoolToObject(j, "pass", o->pass);
    return j;
}

/* Write text and a newline beside path, then rename: an existing report is never left torn. */
static int write_report_text(const char *path, const char *text, lvt_err *e) {
    char tmp[1100];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f) return lvt_errf(e, "cannot write the 5CAT JSON report %s", path);
    int bad = fputs(text, f) < 0 || fputc('\n', f) == EOF;
    bad |= fclose(f) != 0;
    if (bad || rename(tmp, path) != 0) {
        remove(tmp);
        return lvt_errf(e, "cannot write the 5CAT JSON report %s", path);
    }
    return LVT_OK;
}

int lvt_eval_write_json(const char *path, const lvt_eval_report *r, lvt_err *e) {
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "format", "lvt-5cat");
    cJSON_AddNumberToObject(root, "version", 1);
    cJSON_AddStringToObject(root, "predictor", r->predictor);
    if (r->model_path[0]) cJSON_AddStringToObject(root, "model", r->model_path);
    cJSON *opt = cJSON_AddObjectToObject(root, "options");
    cJSON_AddNumberToObject(opt, "max_samples", (double)r->opts.max_samples);
    cJSON_AddNumberToObject(opt, "horizon", r->opts.horizon);
    cJSON_AddNumberToObject(opt, "seed", (double)r->opts.seed);
    cJSON_AddNumberToObject(opt, "context_len", r->opts.context_len);
    cJSON *splits = cJSON_AddObjectToObject(root, "splits");
    cJSON_AddItemToObject(splits, "val", metrics_json(&r->val, r->val_path));
    cJSON_AddItemToObject(splits, "ood", metrics_json(&r->ood, r->ood_path));
    cJSON *gates = cJSON_AddArrayToObject(root, "gates");
    for (int g = 0; g < LVT_EVAL_N_GATES; g++) cJSON_AddItemToArray(gates, gate_json(&r->gates[g]));
    cJSON_AddNumberToObject(root, "checks_passed", r->n_pass);
    cJSON_AddNumberToObject(root, "checks_failed", r->n_fail);
    cJSON_AddBoolToObject(root, "all_pass", r->all_pass);
    if (r->have_baselines) cJSON_AddItemToObject(root, "baselines", baselines_json(r));
    char *text = cJSON_Print(root);
    cJSON_Delete(root);
    if (!text) return lvt_errf(e, "cannot format the 5CAT JSON report");
    int rc = write_report_text(path, text, e);
    free(text);
    return rc;
}
