/* cmd_bench.c — `lvt bench CONFIG.json [--steps N] [--batch B] [--step S] [--contend N] [--json]
 * ...`: the arguments, the config, and the report (text, or JSON built with cJSON) of the
 * measurement in src/train/bench.c (include/lvt/bench.h: the eval forward and a P1 or P4 training
 * step, split into compute | wait | all-reduce | optimiser under mpirun, optionally with busy
 * threads alongside). With --bandwidth it prints the ring all-reduce cost model
 * 2(N-1)/N * bytes / bandwidth next to the measurement (docs/scaling.md). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "lvt/bench.h"
#include "lvt/blas.h"
#include "lvt/comm.h"
#include "lvt/config.h"
#include "lvt/json.h"
#include "lvt/ops.h"

static void usage(void) {
    printf("usage: lvt bench CONFIG.json [--steps N] [--batch B] [--warmup W] [--backend cpu|cuda|auto]\n"
           "                 [--step all|eval|p1|p4] [--contend N] [--set KEY=VALUE]...\n"
           "                 [--bandwidth GBPS] [--ranks N] [--json]\n"
           "       mpirun -np N lvt bench CONFIG.json ...   (data-parallel: B samples per rank)\n\n"
           "Times, at the model shape of CONFIG.json on synthetic random inputs:\n"
           "  forward  the eval-mode forward pass of B samples\n"
           "  train    one P1 training step: forward (dropout on), MSE on the raw output, backward,\n"
           "           global-norm clipping and AdamW\n"
           "--step selects what is timed: all (default: forward and the P1 step), eval (the forward),\n"
           "p1 (the P1 step) or p4 (the P4 step of the recipe's last phase, as lvt train runs it:\n"
           "rollout H=3 with gradient through every step, lambda_roll 0.1, lambda_dir 0.002 adaptive,\n"
           "lambda_fut 0.002, context drop 0.05; then clipping and AdamW; the report says how many\n"
           "later rollout slots' backward ran: one with an exactly zero gradient, the flat penalty\n"
           "below objective.flat_threshold, is skipped as in lvt train). --contend N runs N busy\n"
           "threads while measuring (a shared node). CPU threads are chosen as lvt train chooses them.\n"
           "N timed steps (default 20) after W warm-up steps (default 3). B defaults to\n"
           "train.global_batch. Prints steps/s, samples/s, ms/step and GFLOP/s (matmul FLOPs counted\n"
           "analytically, backward = 2 x forward; docs/bench.md). --json prints one JSON object.\n\n"
           "The training step is split into compute (forward+loss+backward), wait (a barrier: load\n"
           "imbalance between ranks), all-reduce (average of the flat fp32 gradient over the ranks:\n"
           "MPI, NCCL or host-staged) and optimiser, each averaged over steps and ranks. With\n"
           "--bandwidth GBPS (bus bandwidth, GB/s) it also prints the ring all-reduce model\n"
           "2(N-1)/N * gradient bytes / bandwidth for N = --ranks (default: the world size, or 8\n"
           "when run as one process) and the data-parallel efficiency it implies with the measured\n"
           "compute time (docs/scaling.md).\n");
}

/* The ring all-reduce model of --bandwidth (ranks 0: not asked for). */
typedef struct ring_model {
    long long ranks;
    double bandwidth_gbps, allreduce_ms, efficiency;
} ring_model;

/* A number in the report's fixed format (the precision it has always had); null when not finite. */
static void add_num(cJSON *o, const char *key, const char *fmt, double v) {
    char buf[64];
    if (!isfinite(v)) {
        cJSON_AddNullToObject(o, key);
        return;
    }
    snprintf(buf, sizeof buf, fmt, v);
    cJSON_AddRawToObject(o, key, buf);
}

static cJSON *phase_json(int timed, double ms, int B, double gflops) {
    if (!timed) return cJSON_CreateNull(); /* --step left it out */
    cJSON *o = cJSON_CreateObject();
    add_num(o, "ms_per_step", "%.4f", ms);
    add_num(o, "steps_per_s", "%.4f", 1e3 / ms);
    add_num(o, "samples_per_s", "%.2f", B * 1e3 / ms);
    add_num(o, "gflops", "%.3f", gflops);
    return o;
}

static void print_json(const lvt_bench_result *r, const char *math, const ring_model *rm) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "impl", "lvt");
    cJSON_AddStringToObject(o, "backend", r->backend);
    cJSON_AddStringToObject(o, "math", math);
    cJSON_AddStringToObject(o, "gemm_math", lvt_math_name(r->gemm_math_kind)); /* what the GEMMs ran in */
    cJSON_AddNumberToObject(o, "batch", r->batch);
    cJSON_AddNumberToObject(o, "steps", (double)r->steps);
    cJSON_AddNumberToObject(o, "warmup", (double)r->warmup);
    add_num(o, "n_params", "%.0f", (double)r->n_params);
    cJSON_AddNumberToObject(o, "dim", r->model.dim);
    cJSON_AddNumberToObject(o, "d_model", r->model.d_model);
    cJSON_AddNumberToObject(o, "n_layers", r->model.n_layers);
    cJSON_AddNumberToObject(o, "n_heads", r->model.n_heads);
    cJSON_AddNumberToObject(o, "context_len", r->model.context_len);
    add_num(o, "flops_fwd_per_sample", "%.0f", r->flops_fwd_per_sample);
    cJSON_AddStringToObject(o, "step", lvt_bench_step_name(r->step));
    cJSON_AddNumberToObject(o, "contend", r->contend);
    add_num(o, "flops_step_per_sample", "%.0f", r->flops_step_per_sample);
    if (r->step == LVT_BENCH_P4) { /* rollout slot backwards per step (docs/loss.md, "Zero-gradient slots") */
        cJSON *rb = cJSON_AddObjectToObject(o, "rollout_backward");
        add_num(rb, "slots_run", "%.4g", r->roll_bwd_run);
        add_num(rb, "slots_skipped", "%.4g", r->roll_bwd_skipped);
    }
    cJSON_AddItemToObject(o, "forward", phase_json(r->timed_fwd, r->fwd_ms, r->batch, r->fwd_gflops));
    cJSON_AddItemToObject(o, "train", phase_json(r->timed_train, r->train_ms, r->batch, r->train_gflops));
    add_num(o, "last_loss", "%.6g", r->last_loss);
    add_num(o, "last_grad_norm", "%.6g", r->last_grad_norm);
    char blas[320]; /* library, core, threads (docs/bench.md, "BLAS core selection") */
    lvt_blas_json(blas, sizeof blas);
    cJSON *bj = cJSON_Parse(blas);
    cJSON_AddItemToObject(o, "blas", bj ? bj : cJSON_CreateNull());
    const char *wait = getenv("OMP_WAIT_POLICY"); /* docs/bench.md, "Contention" */
    cJSON_AddNumberToObject(o, "threads", r->threads);
    cJSON_AddStringToObject(o, "omp_wait_policy", wait && *wait ? wait : "default");
    cJSON_AddNumberToObject(o, "world", r->world);
    cJSON_AddStringToObject(o, "comm", r->comm);
    add_num(o, "grad_bytes", "%.0f", r->grad_bytes);
    cJSON_AddBoolToObject(o, "params_in_sync", r->params_in_sync);
    cJSON *sp = cJSON_AddObjectToObject(o, "split");
    add_num(sp, "compute_ms", "%.4f", r->compute_ms);
    add_num(sp, "wait_ms", "%.4f", r->wait_ms);
    add_num(sp, "allreduce_ms", "%.4f", r->allreduce_ms);
    add_num(sp, "optim_ms", "%.4f", r->optim_ms);
    add_num(sp, "step_ms", "%.4f", r->step_ms);
    add_num(sp, "allreduce_busbw_gbps", "%.4f", r->allreduce_busbw_gbps);
    if (r->gemm_counted) { /* measured GEMMs of the training step (docs/bench.md, "GEMM share") */
        cJSON *g = cJSON_AddObjectToObject(o, "gemm");
        add_num(g, "ms_per_step", "%.4f", r->gemm_ms);
        add_num(g, "gflop_per_step", "%.9g", r->gemm_gflop);
        add_num(g, "calls_per_step", "%.1f", r->gemm_calls);
        add_num(g, "gflops", "%.3f", r->gemm_gflops);
    } else {
        cJSON_AddNullToObject(o, "gemm");
    }
    if (rm->ranks) {
        cJSON *m = cJSON_AddObjectToObject(o, "model");
        cJSON_AddNumberToObject(m, "ranks", (double)rm->ranks);
        add_num(m, "bandwidth_gbps", "%.4f", rm->bandwidth_gbps);
        add_num(m, "allreduce_ms", "%.4f", rm->allreduce_ms);
        add_num(m, "efficiency", "%.4f", rm->efficiency);
    } else {
        cJSON_AddNullToObject(o, "model");
    }
    char *text = lvt_json_line(o);
    cJSON_Delete(o);
    if (text) printf("%s\n", text);
    free(text);
}

static void print_text(const lvt_bench_result *r, int local_world, const ring_model *rm) {
    const lvt_model_cfg *mc = &r->model;
    const int B = r->batch, W = r->world;
    printf("lvt bench: backend %s, batch %d, %zu parameters (D=%d d=%d layers=%d heads=%d L=%d), "
           "%ld steps after %ld warm-up\n",
           r->backend, B, r->n_params, mc->dim, mc->d_model, mc->n_layers, mc->n_heads, mc->context_len, r->steps,
           r->warmup);
    char blas[256];
    lvt_blas_describe(blas, sizeof blas);
    printf("  BLAS: %s\n  math: %s\n", blas, r->gemm_math);
    char thr[192];
    lvt_cpu_threads_describe(thr, sizeof thr, r->threads, local_world);
    printf("  threads: %s\n", thr);
    if (r->contend) printf("  contention: %d busy thread%s while measuring\n", r->contend, r->contend > 1 ? "s" : "");
    if (r->timed_fwd)
        printf("  forward      %9.3f ms/step  %8.2f steps/s  %10.1f samples/s  %8.2f GFLOP/s\n", r->fwd_ms,
               1e3 / r->fwd_ms, B * 1e3 / r->fwd_ms, r->fwd_gflops);
    if (r->timed_train)
        printf("  train (%s)   %9.3f ms/step  %8.2f steps/s  %10.1f samples/s  %8.2f GFLOP/s\n",
               r->step == LVT_BENCH_P4 ? "P4" : "P1", r->train_ms, 1e3 / r->train_ms, B * 1e3 / r->train_ms,
               r->train_gflops);
    printf("  (FLOPs: %.1f MFLOP per sample forward, %.1f per sample of the training step; last loss %.4g, "
           "grad norm %.4g)\n", r->flops_fwd_per_sample * 1e-6, r->flops_step_per_sample * 1e-6, r->last_loss,
           r->last_grad_norm);
    if (r->step == LVT_BENCH_P4)
        printf("  rollout backward: %.2f of %.2f later slots per step ran; %.2f skipped (exactly zero gradient: "
               "the flat penalty inactive)\n", r->roll_bwd_run, r->roll_bwd_run + r->roll_bwd_skipped,
               r->roll_bwd_skipped);
    printf("  step split over %d rank%s (B=%d per rank, all-reduce: %s, gradient %.2f MB fp32), ms/step:\n", W,
           W > 1 ? "s" : "", B, r->comm, r->grad_bytes * 1e-6);
    printf("    compute %.3f + wait %.3f + all-reduce %.3f + optimiser %.3f = %.3f (step %.3f)\n", r->compute_ms,
           r->wait_ms, r->allreduce_ms, r->optim_ms, r->compute_ms + r->wait_ms + r->allreduce_ms + r->optim_ms,
           r->step_ms);
    if (r->gemm_counted)
        printf("    of which GEMM %.3f ms (%.1f%% of the step): %.0f calls, %.2f GFLOP executed, %.1f GFLOP/s\n",
               r->gemm_ms, 100 * r->gemm_ms / r->step_ms, r->gemm_calls, r->gemm_gflop, r->gemm_gflops);
    if (W > 1)
        printf("    all-reduce %.1f%% of the step, measured bus bandwidth %.3f GB/s; parameters %s across ranks\n",
               100 * r->allreduce_ms / r->step_ms, r->allreduce_busbw_gbps, r->params_in_sync ? "identical" : "DIFFER");
    if (rm->ranks)
        printf("  ring model at N=%lld, %.2f GB/s: all-reduce %.3f ms = 2(N-1)/N x %.0f B / bandwidth; "
               "efficiency with this compute %.1f%% (no overlap)\n",
               rm->ranks, rm->bandwidth_gbps, rm->allreduce_ms, r->grad_bytes, 100 * rm->efficiency);
}

/* The flags; 0 on success, 1 after printing the error. */
typedef struct bench_args {
    const char *cfg_path;
    const char *sets[64];
    int n_sets, json;
    lvt_bench_opts opts;
    double bw_gbps;        /* 0: no ring model */
    long long model_ranks; /* 0: the world size, or 8 in one process */
} bench_args;

static int parse_args(int argc, char **argv, bench_args *a) {
    const char *steps_s = NULL, *batch_s = NULL, *warm_s = NULL, *bw_s = NULL, *ranks_s = NULL;
    const char *step_s = NULL, *contend_s = NULL;
    memset(a, 0, sizeof *a);
    lvt_bench_opts_default(&a->opts);
    for (int i = 1; i < argc; i++) {
        const char *v = NULL;
        int r;
        if ((r = cli_flag_value("bench", argc, argv, &i, "--steps", &steps_s)) ||
            (r = cli_flag_value("bench", argc, argv, &i, "--batch", &batch_s)) ||
            (r = cli_flag_value("bench", argc, argv, &i, "--warmup", &warm_s)) ||
            (r = cli_flag_value("bench", argc, argv, &i, "--backend", &a->opts.backend)) ||
            (r = cli_flag_value("bench", argc, argv, &i, "--bandwidth", &bw_s)) ||
            (r = cli_flag_value("bench", argc, argv, &i, "--ranks", &ranks_s)) ||
            (r = cli_flag_value("bench", argc, argv, &i, "--step", &step_s)) ||
            (r = cli_flag_value("bench", argc, argv, &i, "--contend", &contend_s))) {
            if (r < 0) return 1;
        } else if ((r = cli_flag_value("bench", argc, argv, &i, "--set", &v))) {
            if (r < 0) return 1;
            if (a->n_sets == 64) return cli_fail("bench", "too many --set options (at most 64)");
            a->sets[a->n_sets++] = v;
        } else if (!strcmp(argv[i], "--json")) {
            a->json = 1;
        } else if (argv[i][0] == '-') {
            return cli_fail("bench", "unknown option '%s' (see lvt bench --help)", argv[i]);
        } else if (!a->cfg_path) {
            a->cfg_path = argv[i];
        } else {
            return cli_fail("bench", "unexpected argument '%s'", argv[i]);
        }
    }
    if (!a->cfg_path) return cli_fail("bench", "missing CONFIG.json (see lvt bench --help)");
    long long steps = a->opts.steps, warm = a->opts.warmup, batch = 0;
    if (steps_s && cli_parse_long("bench", "--steps", steps_s, 1, 1000000, &steps)) return 1;
    if (warm_s && cli_parse_long("bench", "--warmup", warm_s, 0, 1000000, &warm)) return 1;
    if (batch_s && cli_parse_long("bench", "--batch", batch_s, 1, 1 << 20, &batch)) return 1;
    a->opts.steps = (long)steps;
    a->opts.warmup = (long)warm;
    a->opts.batch = (int)batch;
    if (bw_s && cli_parse_double("bench", "--bandwidth", bw_s, &a->bw_gbps)) return 1;
    if (bw_s && !(a->bw_gbps > 0)) return cli_fail("bench", "--bandwidth must be > 0 GB/s, got '%s'", bw_s);
    if (ranks_s && cli_parse_long("bench", "--ranks", ranks_s, 1, 1 << 24, &a->model_ranks)) return 1;
    long long contend = 0;
    if (contend_s && cli_parse_long("bench", "--contend", contend_s, 0, 1024, &contend)) return 1;
    a->opts.contend = (int)contend;
    const int step = step_s ? lvt_bench_step_parse(step_s) : LVT_BENCH_ALL;
    if (step < 0) return cli_fail("bench", "--step must be all, eval, p1 or p4, got '%s'", step_s);
    a->opts.step = (lvt_bench_step)step;
    return 0;
}

int cmd_bench(int argc, char **argv) {
    if (cli_wants_help(argc, argv)) {
        usage();
        return 0;
    }
    bench_args a;
    if (parse_args(argc, argv, &a)) return 1;

    lvt_err e = {{0}};
    lvt_comm comm;
    if (lvt_comm_init(&comm, &argc, &argv, &e)) return cli_fail("bench", "%s", e.msg);
    lvt_config *c = malloc(sizeof *c);
    if (!c) {
        lvt_comm_finalize(&comm);
        return cli_fail("bench", "out of memory");
    }
    if (lvt_config_load_sets(c, a.cfg_path, a.sets, a.n_sets, &e)) {
        free(c);
        lvt_comm_finalize(&comm);
        return cli_fail("bench", "%s", e.msg);
    }
    lvt_bench_result r;
    int rc = lvt_bench_run(c, &a.opts, &comm, &r, &e);
    if (rc != LVT_OK) {
        if (comm.world > 1) {
            fprintf(stderr, "lvt bench [rank %d]: %s\n", comm.rank, e.msg);
            lvt_comm_abort(&comm, 1); /* never leave the other ranks waiting */
        }
        cli_fail("bench", "%s", e.msg);
    } else if (comm.rank == 0) { /* only rank 0 reports */
        ring_model rm = {0, 0, 0, 0};
        if (a.bw_gbps > 0) {
            rm.ranks = a.model_ranks ? a.model_ranks : r.world > 1 ? r.world : 8;
            rm.bandwidth_gbps = a.bw_gbps;
            rm.allreduce_ms = lvt_bench_ring_allreduce_ms(r.grad_bytes, (int)rm.ranks, a.bw_gbps);
            rm.efficiency = (r.compute_ms + r.optim_ms) / (r.compute_ms + r.optim_ms + rm.allreduce_ms);
        }
        if (a.json) print_json(&r, lvt_config_choice_name(LVT_CHOICE_MATH, c->train.math), &rm);
        else print_text(&r, comm.local_world, &rm);
    }
    free(c);
    lvt_comm_finalize(&comm);
    return rc == LVT_OK ? 0 : 1;
}
