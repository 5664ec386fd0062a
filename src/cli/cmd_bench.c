/* cmd_bench.c — `lvt bench CONFIG.json [--steps N] [--batch B] [--json]`: times the eval forward
 * pass and a P1 training step (train-mode forward, MSE on raw, backward, global-norm clip, AdamW)
 * on synthetic random inputs at the config's model shape; warm-up steps are excluded. FLOPs are
 * counted analytically (docs/bench.md): matmuls only, backward = 2 x forward. Under mpirun the
 * step is data-parallel (B per rank) and split into compute, wait (barrier: load imbalance),
 * all-reduce of the flat gradient and optimiser; with --bandwidth it prints the ring all-reduce
 * cost model 2(N-1)/N * bytes / bandwidth next to the measurement (docs/scaling.md). --step p4
 * times the recipe's P4 step instead (src/train/bench_step.c), --step eval the forward alone;
 * --contend N runs N busy threads alongside. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "lvt/bench_step.h"
#include "lvt/blas.h"
#include "lvt/ckpt.h"
#include "lvt/comm.h"
#include "lvt/config.h"
#include "lvt/model.h"
#include "lvt/optim.h"
#include "lvt/rng.h"

static void usage(void) {
    printf("usage: lvt bench CONFIG.json [--steps N] [--batch B] [--warmup W] [--backend cpu|cuda|auto]\n"
           "                 [--step all|eval|p1|p4] [--contend N] [--set KEY=VALUE]... [--bandwidth GBPS]\n"
           "                 [--ranks N] [--json]\n"
           "       mpirun -np N lvt bench CONFIG.json ...   (data-parallel: B samples per rank)\n\n"
           "Times, at the model shape of CONFIG.json on synthetic random inputs:\n"
           "  forward  the eval-mode forward pass of B samples\n"
           "  train    one P1 training step: forward (dropout on), MSE on the raw output, backward,\n"
           "           global-norm clipping and AdamW\n"
           "--step selects what is timed: all (default: forward and the P1 step), eval (the forward),\n"
           "p1 (the P1 step) or p4 (the P4 step of the recipe's last phase, as lvt train runs it:\n"
           "rollout H=3 with gradient through every step, lambda_roll 0.1, lambda_dir 0.002 adaptive,\n"
           "lambda_fut 0.002, context drop 0.05; then clipping and AdamW). --contend N runs N busy\n"
           "threads while measuring (a shared node).\n"
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

/* Matmul FLOPs of one eval forward per sample (multiply-add = 2). */
static double forward_flops_per_sample(const lvt_model_cfg *c) {
    double L = c->context_len, D = c->dim, d = c->d_model, F = (double)c->ffn_mult * c->d_model;
    double input_proj = 2 * L * D * d;
    double attn = 2 * L * d * 3 * d + 2 * L * L * d * 2 + 2 * L * d * d; /* projections, QK^T, PV, out */
    double ffn = 2 * L * d * F * 2;
    double head = 2 * d * d + 2 * d * D;
    return input_proj + c->n_layers * (2 * attn + ffn) + head;
}

/* One timed phase of the JSON report; null when --step left it out. */
static void json_phase(const char *name, int timed, double ms, int B, double gf) {
    if (!timed) {
        printf("\"%s\": null, ", name);
        return;
    }
    printf("\"%s\": {\"ms_per_step\": %.4f, \"steps_per_s\": %.4f, \"samples_per_s\": %.2f, \"gflops\": %.3f}, ",
           name, ms, 1e3 / ms, B * 1e3 / ms, gf);
}

int cmd_bench(int argc, char **argv) {
    if (cli_wants_help(argc, argv)) {
        usage();
        return 0;
    }
    const char *cfg_path = NULL, *steps_s = NULL, *batch_s = NULL, *warm_s = NULL, *backend = NULL;
    const char *bw_s = NULL, *ranks_s = NULL, *step_s = NULL, *contend_s = NULL;
    const char *sets[64];
    int n_sets = 0, json = 0;
    for (int i = 1; i < argc; i++) {
        const char *v = NULL;
        int r;
        if ((r = cli_flag_value("bench", argc, argv, &i, "--steps", &steps_s)) ||
            (r = cli_flag_value("bench", argc, argv, &i, "--batch", &batch_s)) ||
            (r = cli_flag_value("bench", argc, argv, &i, "--warmup", &warm_s)) ||
            (r = cli_flag_value("bench", argc, argv, &i, "--backend", &backend)) ||
            (r = cli_flag_value("bench", argc, argv, &i, "--bandwidth", &bw_s)) ||
            (r = cli_flag_value("bench", argc, argv, &i, "--ranks", &ranks_s)) ||
            (r = cli_flag_value("bench", argc, argv, &i, "--step", &step_s)) ||
            (r = cli_flag_value("bench", argc, argv, &i, "--contend", &contend_s))) {
            if (r < 0) return 1;
        } else if ((r = cli_flag_value("bench", argc, argv, &i, "--set", &v))) {
            if (r < 0) return 1;
            if (n_sets == 64) return cli_fail("bench", "too many --set options (at most 64)");
            sets[n_sets++] = v;
        } else if (!strcmp(argv[i], "--json")) {
            json = 1;
        } else if (argv[i][0] == '-') {
            return cli_fail("bench", "unknown option '%s' (see lvt bench --help)", argv[i]);
        } else if (!cfg_path) {
            cfg_path = argv[i];
        } else {
            return cli_fail("bench", "unexpected argument '%s'", argv[i]);
        }
    }
    if (!cfg_path) return cli_fail("bench", "missing CONFIG.json (see lvt bench --help)");
    long long steps = 20, warm = 3, batch = 0;
    if (steps_s && cli_parse_long("bench", "--steps", steps_s, 1, 1000000, &steps)) return 1;
    if (warm_s && cli_parse_long("bench", "--warmup", warm_s, 0, 1000000, &warm)) return 1;
    if (batch_s && cli_parse_long("bench", "--batch", batch_s, 1, 1 << 20, &batch)) return 1;
    double bw_gbps = 0;
    long long model_ranks = 0;
    if (bw_s && cli_parse_double("bench", "--bandwidth", bw_s, &bw_gbps)) return 1;
    if (bw_s && !(bw_gbps > 0)) return cli_fail("bench", "--bandwidth must be > 0 GB/s, got '%s'", bw_s);
    if (ranks_s && cli_parse_long("bench", "--ranks", ranks_s, 1, 1 << 24, &model_ranks)) return 1;
    long long contend = 0;
    if (contend_s && cli_parse_long("bench", "--contend", contend_s, 0, 1024, &contend)) return 1;
    if (!step_s) step_s = "all";
    if (strcmp(step_s, "all") && strcmp(step_s, "eval") && strcmp(step_s, "p1") && strcmp(step_s, "p4"))
        return cli_fail("bench", "--step must be all, eval, p1 or p4, got '%s'", step_s);
    const int do_fwd = !strcmp(step_s, "all") || !strcmp(step_s, "eval"), do_train = strcmp(step_s, "eval") != 0;
    const int p4 = !strcmp(step_s, "p4");

    lvt_err e = {{0}};
    lvt_comm comm;
    if (lvt_comm_init(&comm, &argc, &argv, &e)) return cli_fail("bench", "%s", e.msg);
    lvt_config *c = malloc(sizeof *c);
    if (!c) {
        lvt_comm_finalize(&comm);
        return cli_fail("bench", "out of memory");
    }
    int cfg_rc = lvt_config_load(c, cfg_path, &e);
    for (int i = 0; i < n_sets && !cfg_rc; i++)
        if ((cfg_rc = lvt_config_set(c, sets[i], &e))) lvt_err_prefix(&e, "--set %s", sets[i]);
    if (!cfg_rc) cfg_rc = lvt_config_validate(c, &e);
    if (cfg_rc) {
        free(c);
        lvt_comm_finalize(&comm);
        return cli_fail("bench", "%s", e.msg);
    }
    const int W = comm.world, rank0 = comm.rank == 0;
    if (!model_ranks) model_ranks = W > 1 ? W : 8;
    if (!batch) batch = c->train.global_batch;
    if (!backend) backend = c->train.backend;
    lvt_math math = !strcmp(c->train.math, "bf16") ? LVT_MATH_BF16 : !strcmp(c->train.math, "tf32") ? LVT_MATH_TF32
                                                                                                   : LVT_MATH_FP32;
    lvt_model_cfg mc;
    lvt_ckpt_model_cfg(c, &mc);
    const int B = (int)batch, L = mc.context_len, D = mc.dim;

    lvt_backend *be = NULL;
    lvt_model m;
    memset(&m, 0, sizeof m);
    lvt_optim o;
    memset(&o, 0, sizeof o);
    float *hctx = NULL, *hy = NULL, *dctx = NULL, *dy = NULL, *draw = NULL;
    lvt_bench_p4 bp4;
    memset(&bp4, 0, sizeof bp4);
    lvt_bench_contend busy;
    memset((void *)&busy, 0, sizeof busy);
    int rc = 1;
    if (lvt_backend_create(&be, backend, comm.local_rank, math, &e)) goto fail;
    const int threads = lvt_cpu_threads_init(0, comm.local_world); /* as lvt train chooses */
    if (lvt_comm_device_init(&comm, be, &e)) goto fail;
    if (lvt_model_create(&m, &mc, be, &e) || lvt_model_init(&m, c->train.seed, &e)) goto fail;
    if (lvt_model_plan(&m, B, p4 ? LVT_BENCH_P4_H_ROLL : 1, &e)) goto fail;
    if (p4 && lvt_bench_p4_create(&bp4, c, be, &comm, B, &e)) goto fail;
    lvt_optim_hparams hp;
    if (lvt_optim_hparams_from_config(&hp, c, 1000000, &e)) goto fail;
    if (lvt_optim_create(&o, &hp, be, m.n_params, &e)) goto fail;

    /* Synthetic inputs: uniform [-1, 1) context rows and targets, from Philox (seeded); rank r
     * takes rows after those of ranks < r, so ranks see different samples. */
    size_t nctx = (size_t)B * L * D, ny = (size_t)B * D;
    hctx = lvt_malloc(nctx * sizeof(float), &e);
    hy = hctx ? lvt_malloc(ny * sizeof(float), &e) : NULL;
    if (!hy) goto fail;
    const uint64_t row0 = (uint64_t)comm.rank * (uint64_t)B;
    for (size_t i = 0; i < nctx; i++)
        hctx[i] = 2.0f * lvt_rng_unit(c->train.seed, 0, 7, row0 * L + i / D, i % D) - 1.0f;
    for (size_t i = 0; i < ny; i++) hy[i] = 2.0f * lvt_rng_unit(c->train.seed, 0, 8, row0 + i / D, i % D) - 1.0f;
    dctx = be->ops->alloc(be, nctx * sizeof(float), &e);
    dy = dctx ? be->ops->alloc(be, ny * sizeof(float), &e) : NULL;
    draw = dy ? be->ops->alloc(be, ny * sizeof(float), &e) : NULL;
    if (!draw) goto fail;
    be->ops->to_device(be, dctx, hctx, nctx * sizeof(float));
    be->ops->to_device(be, dy, hy, ny * sizeof(float));

    if (lvt_bench_contend_start(&busy, (int)contend, &e)) goto fail;
    /* ---- forward ---- */
    double t_fwd = 0;
    for (long long s = 0; do_fwd && s < warm + steps; s++) {
        if (s == warm) {
            be->ops->sync(be);
            t_fwd = lvt_now();
        }
        if (lvt_model_forward(&m, 0, dctx, B, 0, NULL, NULL, &e)) goto fail;
    }
    be->ops->sync(be);
    t_fwd = lvt_now() - t_fwd;

    /* ---- P1 training step, split: compute | wait | all-reduce | optimiser ---- */
    double t_train = 0, loss = 0, norm = 0;
    double split[4] = {0, 0, 0, 0}; /* seconds summed over the timed steps */
    for (long long s = 0; do_train && s < warm + steps; s++) {
        if (s == warm) {
            be->ops->sync(be);
            if (lvt_comm_barrier(&comm, &e)) goto fail;
            t_train = lvt_now();
            memset(split, 0, sizeof split);
        }
        double t0 = lvt_now();
        lvt_dropout_key key = {.seed = c->train.seed, .step = (uint64_t)s, .site = 0,
                               .sample_base = ((int64_t)s * W + comm.rank) * B, .p = mc.dropout};
        if (p4) { /* the P4 objective through lvt_loss_step, as lvt train runs it */
            if (lvt_bench_p4_step(&bp4, &m, dctx, c->train.seed, (long)s, &loss, &e)) goto fail;
        } else {
            lvt_model_zero_grad(&m);
            if (lvt_model_forward(&m, 0, dctx, B, 1, &key, NULL, &e)) goto fail;
            /* draw = 2 (raw - y) / (B D); loss = mean((raw - y)^2) read back as a training loop does */
            be->ops->copy(be, draw, lvt_model_raw(&m, 0), ny * sizeof(float));
            be->ops->axpy(be, -1.0f, dy, draw, ny);
            loss = be->ops->sumsq(be, draw, ny) / (double)ny;
            be->ops->scale(be, draw, 2.0f / (float)ny, ny);
            if (lvt_model_backward2(&m, 0, draw, NULL, NULL, &e)) goto fail;
        }
        be->ops->sync(be);
        double t1 = lvt_now();
        if (W > 1 && lvt_comm_barrier(&comm, &e)) goto fail;
        double t2 = W > 1 ? lvt_now() : t1;
        /* one process has nothing to reduce: its all-reduce time is 0, not a timer read */
        if (W > 1 && lvt_comm_allreduce_device(&comm, be, m.grads, m.n_params, LVT_COMM_SUM, 1, &e))
            goto fail;
        be->ops->sync(be);
        double t3 = W > 1 ? lvt_now() : t2;
        norm = lvt_optim_step(&o, m.params, m.grads);
        be->ops->sync(be);
        double t4 = lvt_now();
        split[0] += t1 - t0;
        split[1] += t2 - t1;
        split[2] += t3 - t2;
        split[3] += t4 - t3;
    }
    be->ops->sync(be);
    t_train = lvt_now() - t_train;
    lvt_bench_contend_stop(&busy);

    /* Means over the ranks of the per-step means: [compute, wait, all-reduce, optimiser, step]. */
    double sp[5];
    for (int k = 0; k < 4; k++) sp[k] = 1e3 * split[k] / (double)steps;
    sp[4] = 1e3 * t_train / (double)steps;
    if (lvt_comm_allreduce_f64(&comm, sp, 5, LVT_COMM_SUM, &e)) goto fail;
    for (int k = 0; k < 5; k++) sp[k] /= W;
    const double grad_bytes = 4.0 * (double)m.n_params;
    /* measured bus bandwidth (the ring's 2(N-1)/N convention, as nccl-tests reports it) */
    const double busbw = W > 1 && sp[2] > 0 ? 2.0 * (W - 1) / W * grad_bytes / (sp[2] * 1e-3) * 1e-9 : 0;
    const double Nm = (double)model_ranks;
    const double model_ms = bw_gbps > 0 ? 1e3 * 2.0 * (Nm - 1) / Nm * grad_bytes / (bw_gbps * 1e9) : 0;
    const double model_eff = bw_gbps > 0 ? (sp[0] + sp[3]) / (sp[0] + sp[3] + model_ms) : 0;
    const char *comm_name = lvt_comm_device_mode_name(lvt_comm_device_mode(&comm));
    /* Data-parallel check: with averaged gradients every rank holds the same parameters. */
    double psum[2];
    psum[0] = be->ops->sumsq(be, m.params, m.n_params);
    psum[1] = -psum[0];
    if (lvt_comm_allreduce_f64(&comm, psum, 2, LVT_COMM_MAX, &e)) goto fail;
    const int in_sync = psum[0] == -psum[1];

    double ff = forward_flops_per_sample(&mc);
    double fwd_ms = 1e3 * t_fwd / (double)steps, train_ms = 1e3 * t_train / (double)steps;
    const double tf = p4 ? lvt_bench_p4_flops(ff) : 3 * ff; /* matmul FLOPs per sample of the step */
    double fwd_gf = ff * B / (fwd_ms * 1e-3) * 1e-9, train_gf = tf * B / (train_ms * 1e-3) * 1e-9;
    if (!rank0) {
        /* only rank 0 reports */
    } else if (json) {
        printf("{\"impl\": \"lvt\", \"backend\": \"%s\", \"math\": \"%s\", \"batch\": %d, \"steps\": %lld, "
               "\"warmup\": %lld, \"n_params\": %zu, \"dim\": %d, \"d_model\": %d, \"n_layers\": %d, "
               "\"n_heads\": %d, \"context_len\": %d, \"flops_fwd_per_sample\": %.0f, "
               "\"step\": \"%s\", \"contend\": %lld, \"flops_step_per_sample\": %.0f, ",
               be->ops->name, c->train.math, B, steps, warm, m.n_params, mc.dim, mc.d_model, mc.n_layers,
               mc.n_heads, L, ff, step_s, contend, tf);
        json_phase("forward", do_fwd, fwd_ms, B, fwd_gf);
        json_phase("train", do_train, train_ms, B, train_gf);
        printf("\"last_loss\": %.6g, \"last_grad_norm\": %.6g, ", loss, norm);
        char blas[320]; /* library, core, threads (docs/bench.md, "BLAS core selection") */
        lvt_blas_json(blas, sizeof blas);
        printf("\"blas\": %s, ", blas);
        const char *wait = getenv("OMP_WAIT_POLICY");
        printf("\"threads\": %d, \"omp_wait_policy\": \"%s\", ", threads, wait && *wait ? wait : "default");
        printf("\"world\": %d, \"comm\": \"%s\", \"grad_bytes\": %.0f, \"params_in_sync\": %s, "
               "\"split\": {\"compute_ms\": %.4f, \"wait_ms\": %.4f, \"allreduce_ms\": %.4f, \"optim_ms\": %.4f, "
               "\"step_ms\": %.4f, \"allreduce_busbw_gbps\": %.4f}, ",
               W, comm_name, grad_bytes, in_sync ? "true" : "false", sp[0], sp[1], sp[2], sp[3], sp[4], busbw);
        if (bw_gbps > 0)
            printf("\"model\": {\"ranks\": %lld, \"bandwidth_gbps\": %.4f, \"allreduce_ms\": %.4f, "
                   "\"efficiency\": %.4f}}\n", model_ranks, bw_gbps, model_ms, model_eff);
        else
            printf("\"model\": null}\n");
    } else {
        printf("lvt bench: backend %s, batch %d, %zu parameters (D=%d d=%d layers=%d heads=%d L=%d), "
               "%lld steps after %lld warm-up\n",
               be->ops->name, B, m.n_params, mc.dim, mc.d_model, mc.n_layers, mc.n_heads, L, steps, warm);
        char blas[256];
        lvt_blas_describe(blas, sizeof blas);
        printf("  BLAS: %s\n", blas);
        char thr[192];
        lvt_cpu_threads_describe(thr, sizeof thr, threads, comm.local_world);
        printf("  threads: %s\n", thr);
        if (contend) printf("  contention: %lld busy thread%s while measuring\n", contend, contend > 1 ? "s" : "");
        if (do_fwd)
            printf("  forward      %9.3f ms/step  %8.2f steps/s  %10.1f samples/s  %8.2f GFLOP/s\n", fwd_ms,
                   1e3 / fwd_ms, B * 1e3 / fwd_ms, fwd_gf);
        if (do_train)
            printf("  train (%s)   %9.3f ms/step  %8.2f steps/s  %10.1f samples/s  %8.2f GFLOP/s\n", p4 ? "P4" : "P1",
                   train_ms, 1e3 / train_ms, B * 1e3 / train_ms, train_gf);
        printf("  (FLOPs: %.1f MFLOP per sample forward, %.1f per sample of the training step; last loss %.4g, "
               "grad norm %.4g)\n", ff * 1e-6, tf * 1e-6, loss, norm);
        printf("  step split over %d rank%s (B=%d per rank, all-reduce: %s, gradient %.2f MB fp32), ms/step:\n",
               W, W > 1 ? "s" : "", B, comm_name, grad_bytes * 1e-6);
        printf("    compute %.3f + wait %.3f + all-reduce %.3f + optimiser %.3f = %.3f (step %.3f)\n", sp[0], sp[1],
               sp[2], sp[3], sp[0] + sp[1] + sp[2] + sp[3], sp[4]);
        if (W > 1)
            printf("    all-reduce %.1f%% of the step, measured bus bandwidth %.3f GB/s; parameters %s across ranks\n",
                   100 * sp[2] / sp[4], busbw, in_sync ? "identical" : "DIFFER");
        if (bw_gbps > 0)
            printf("  ring model at N=%lld, %.2f GB/s: all-reduce %.3f ms = 2(N-1)/N x %.0f B / bandwidth; "
                   "efficiency with this compute %.1f%% (no overlap)\n",
                   model_ranks, bw_gbps, model_ms, grad_bytes, 100 * model_eff);
    }
    rc = 0;
    goto done;
fail:
    if (W > 1) {
        fprintf(stderr, "lvt bench [rank %d]: %s\n", comm.rank, e.msg);
        lvt_comm_abort(&comm, 1); /* never leave the other ranks waiting */
    }
    cli_fail("bench", "%s", e.msg);
done:
    lvt_bench_contend_stop(&busy);
    lvt_bench_p4_destroy(&bp4);
    lvt_comm_device_free(&comm);
    if (draw) be->ops->free(be, draw);
    if (dy) be->ops->free(be, dy);
    if (dctx) be->ops->free(be, dctx);
    free(hctx);
    free(hy);
    if (o.m) lvt_optim_destroy(&o);
    if (m.tensors) lvt_model_destroy(&m);
    if (be) lvt_backend_destroy(be);
    free(c);
    lvt_comm_finalize(&comm);
    return rc;
}
