/* cmd_eval.c — `lvt eval`: the 5CAT battery (docs/eval.md) on a VAL and an OOD store, for a model
 * (checkpoint .h5 or .safetensors) or a baseline; prints the gate table, writes the JSON report,
 * exits 0 when every gate passes, 2 when one fails, 1 on error. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "lvt/ckpt.h"
#include "lvt/data.h"
#include "lvt/eval.h"
#include "lvt/ops.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: lvt eval (--model M | --baseline copy-last|mean) --val V.h5 --ood O.h5\n"
            "                [--max-samples N] [--horizon H] [--seed S] [--json OUT]\n"
            "                [--batch B] [--context-len L] [--backend auto|cpu|cuda] [--drop-degenerate]\n\n"
            "Runs the 5CAT battery (offset sweep, within-article retrieval, context ablations,\n"
            "rollout, generalisation) on the VAL and OOD stores and checks the gates.\n\n"
            "  --model M         checkpoint (.h5) or safetensors file to evaluate\n"
            "  --baseline NAME   evaluate a baseline instead: copy-last or mean\n"
            "  --max-samples N   windows drawn per store without replacement (default 5000, 0 = all)\n"
            "  --horizon H       rollout steps of test D (default 5)\n"
            "  --seed S          window selection, shuffles and leave-one-out slots (default 42)\n"
            "  --json OUT        write the JSON report (schema: docs/eval.md)\n"
            "  --batch B         windows per forward pass (default 1024)\n"
            "  --context-len L   context length for baselines (default 5; a model uses its own)\n"
            "  --backend NAME    backend for --model (default auto)\n"
            "  --drop-degenerate drop rows of norm below 1e-6 from both stores (else such a row is an error)\n\n"
            "Exit codes: 0 all gates pass, 2 a gate failed, 1 error.\n");
}

/* The flags; 0 on success, 1 after printing the error. */
typedef struct eval_args {
    const char *model, *baseline, *val, *ood, *json, *backend;
    int drop_degenerate;
    lvt_eval_opts o;
} eval_args;

static int parse_args(int argc, char **argv, eval_args *a) {
    const char *cmd = "eval", *v = NULL;
    long long x;
    memset(a, 0, sizeof *a);
    a->backend = "auto";
    lvt_eval_opts_default(&a->o);
    for (int i = 1; i < argc; i++) {
        int r;
        if ((r = cli_flag_value(cmd, argc, argv, &i, "--model", &a->model)) ||
            (r = cli_flag_value(cmd, argc, argv, &i, "--baseline", &a->baseline)) ||
            (r = cli_flag_value(cmd, argc, argv, &i, "--val", &a->val)) ||
            (r = cli_flag_value(cmd, argc, argv, &i, "--ood", &a->ood)) ||
            (r = cli_flag_value(cmd, argc, argv, &i, "--json", &a->json)) ||
            (r = cli_flag_value(cmd, argc, argv, &i, "--backend", &a->backend))) {
            if (r < 0) return 1;
        } else if ((r = cli_flag_value(cmd, argc, argv, &i, "--max-samples", &v))) {
            if (r < 0 || cli_parse_long(cmd, "--max-samples", v, 0, INT64_MAX, &x)) return 1;
            a->o.max_samples = x;
        } else if ((r = cli_flag_value(cmd, argc, argv, &i, "--horizon", &v))) {
            if (r < 0 || cli_parse_long(cmd, "--horizon", v, 1, LVT_EVAL_MAX_H, &x)) return 1;
            a->o.horizon = (int)x;
        } else if ((r = cli_flag_value(cmd, argc, argv, &i, "--seed", &v))) {
            if (r < 0 || cli_parse_long(cmd, "--seed", v, 0, INT64_MAX, &x)) return 1;
            a->o.seed = (uint64_t)x;
        } else if ((r = cli_flag_value(cmd, argc, argv, &i, "--batch", &v))) {
            if (r < 0 || cli_parse_long(cmd, "--batch", v, 1, 1 << 20, &x)) return 1;
            a->o.batch = (int)x;
        } else if ((r = cli_flag_value(cmd, argc, argv, &i, "--context-len", &v))) {
            if (r < 0 || cli_parse_long(cmd, "--context-len", v, 2, 64, &x)) return 1;
            a->o.context_len = (int)x;
        } else if (!strcmp(argv[i], "--drop-degenerate")) {
            a->drop_degenerate = 1;
        } else {
            return cli_fail(cmd, "unknown argument '%s' (see `lvt eval --help`)", argv[i]);
        }
    }
    if (!a->model && !a->baseline) return cli_fail(cmd, "give --model M or --baseline copy-last|mean");
    if (a->model && a->baseline) return cli_fail(cmd, "give either --model or --baseline, not both");
    if (!a->val || !a->ood) return cli_fail(cmd, "both --val and --ood stores are required");
    return 0;
}

/* The battery on both stores, the gates, the table and the JSON report: exit code 0 or 2,
 * or 1 after printing an error. */
static int run_battery(const eval_args *a, const lvt_store *sv, const lvt_store *so, const lvt_predictor *pred,
                       const lvt_eval_opts *o) {
    const char *cmd = "eval";
    lvt_err e = {{0}};
    lvt_eval_report rep;
    memset(&rep, 0, sizeof rep);
    snprintf(rep.predictor, sizeof rep.predictor, "%s", a->model ? "model" : pred->name);
    if (a->model) snprintf(rep.model_path, sizeof rep.model_path, "%s", a->model);
    snprintf(rep.val_path, sizeof rep.val_path, "%s", a->val);
    snprintf(rep.ood_path, sizeof rep.ood_path, "%s", a->ood);
    rep.opts = *o;
    if (lvt_eval_run(sv, pred, o, &rep.val, &e)) return cli_fail(cmd, "VAL %s: %s", a->val, e.msg);
    if (lvt_eval_run(so, pred, o, &rep.ood, &e)) return cli_fail(cmd, "OOD %s: %s", a->ood, e.msg);
    if (lvt_eval_baselines(sv, o, rep.bl_cos_p1[0], rep.bl_margin[0], &e) ||
        lvt_eval_baselines(so, o, rep.bl_cos_p1[1], rep.bl_margin[1], &e))
        return cli_fail(cmd, "baselines: %s", e.msg);
    rep.have_baselines = 1;
    lvt_eval_apply_gates(&rep);
    lvt_eval_print(stdout, &rep);
    fflush(stdout);
    if (a->json && lvt_eval_write_json(a->json, &rep, &e)) return cli_fail(cmd, "%s", e.msg);
    return rep.all_pass ? 0 : 2;
}

int cmd_eval(int argc, char **argv) {
    const char *cmd = "eval";
    if (cli_wants_help(argc, argv)) {
        usage(stdout);
        return 0;
    }
    eval_args a;
    if (parse_args(argc, argv, &a)) return 1;
    lvt_eval_opts o = a.o;
    lvt_err e = {{0}};
    lvt_predictor pred;
    if (a.baseline && lvt_predictor_baseline(a.baseline, &pred, &e)) return cli_fail(cmd, "%s", e.msg);

    int rc = 1;
    lvt_store sv, so;
    memset(&sv, 0, sizeof sv);
    memset(&so, 0, sizeof so);
    lvt_backend *be = NULL;
    lvt_model m;
    memset(&m, 0, sizeof m);
    int have_model = 0;
    lvt_model_predictor mp;
    memset(&mp, 0, sizeof mp);

    const int flags = LVT_STORE_NORMALIZE | (a.drop_degenerate ? LVT_STORE_DROP_DEGENERATE : 0);
    if (lvt_store_read(a.val, flags, &sv, &e) || lvt_store_read(a.ood, flags, &so, &e)) {
        cli_fail(cmd, "%s", e.msg);
        goto done;
    }
    if (sv.dropped || so.dropped)
        fprintf(stderr, "note: --drop-degenerate dropped %lld row%s of %s and %lld of %s (norm below %g)\n",
                (long long)sv.dropped, sv.dropped == 1 ? "" : "s", a.val, (long long)so.dropped, a.ood, LVT_MIN_ROW_NORM);
    if (sv.dim != so.dim) {
        cli_fail(cmd, "dimension mismatch: %s has D = %d, %s has D = %d", a.val, sv.dim, a.ood, so.dim);
        goto done;
    }
    if (a.model) {
        if (lvt_backend_create(&be, a.backend, 0, LVT_MATH_FP32, &e) ||
            lvt_ckpt_load_any(a.model, be, o.context_len, &m, &e)) {
            cli_fail(cmd, "%s", e.msg);
            goto done;
        }
        have_model = 1;
        if (m.cfg.dim != sv.dim) {
            cli_fail(cmd, "%s: model dimension %d does not match the stores' D = %d", a.model, m.cfg.dim, sv.dim);
            goto done;
        }
        o.context_len = m.cfg.context_len;
        if (lvt_model_predictor_init(&mp, &m, o.batch, &pred, &e)) {
            cli_fail(cmd, "%s", e.msg);
            goto done;
        }
    }
    rc = run_battery(&a, &sv, &so, &pred, &o);
done:
    lvt_model_predictor_free(&mp);
    if (have_model) lvt_model_destroy(&m);
    if (be) lvt_backend_destroy(be);
    lvt_store_free(&sv);
    lvt_store_free(&so);
    return rc;
}
