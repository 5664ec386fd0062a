/* bench.c — the `lvt bench` measurement (include/lvt/bench.h, docs/bench.md): set up a model of
 * the config's shape on synthetic Philox inputs, with the CPU threads `lvt train` would choose,
 * time the eval forward and the P1 or P4 training step (split into compute | wait | all-reduce |
 * optimiser), optionally with busy threads alongside, and reduce the split over the ranks. The P4
 * step and the busy threads are in src/train/bench_step.c. */
#include "lvt/bench.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lvt/optim.h"
#include "lvt/rng.h"

void lvt_bench_opts_default(lvt_bench_opts *o) {
    memset(o, 0, sizeof *o);
    o->steps = 20;
    o->warmup = 3;
    o->step = LVT_BENCH_ALL;
}

static const char *const step_names[] = {"all", "eval", "p1", "p4"};

const char *lvt_bench_step_name(lvt_bench_step s) {
    return s >= LVT_BENCH_ALL && s <= LVT_BENCH_P4 ? step_names[s] : "?";
}

int lvt_bench_step_parse(const char *name) {
    for (int i = 0; i <= LVT_BENCH_P4; i++)
        if (name && !strcmp(name, step_names[i])) return i;
    return -1;
}

double lvt_bench_forward_flops(const lvt_model_cfg *c) {
    double L = c->context_len, D = c->dim, d = c->d_model, F = (double)c->ffn_mult * c->d_model;
    double input_proj = 2 * L * D * d;
    double attn = 2 * L * d * 3 * d + 2 * L * L * d * 2 + 2 * L * d * d; /* projections, QK^T, PV, out */
    double ffn = 2 * L * d * F * 2;
    double head = 2 * d * d + 2 * d * D;
    return input_proj + c->n_layers * (2 * attn + ffn) + head;
}

double lvt_bench_ring_allreduce_ms(double bytes, int ranks, double gbps) {
    const double N = (double)ranks;
    return 1e3 * 2.0 * (N - 1) / N * bytes / (gbps * 1e9);
}

/* Everything one benchmark run holds. */
typedef struct bench {
    const lvt_config *c;
    lvt_comm *comm;
    int B;
    long steps, warm;
    lvt_bench_step step;
    int threads;
    lvt_model_cfg mc;
    lvt_backend *be;
    lvt_model m;
    lvt_optim opt;
    size_t nctx, ny;
    float *hctx, *hy;         /* host inputs */
    float *dctx, *dy, *draw;  /* backend copies and the MSE gradient */
    lvt_bench_p4 p4;          /* --step p4: the objective and its batch */
    lvt_bench_contend busy;   /* --contend N */
} bench;

/* Synthetic inputs: uniform [-1, 1) context rows and targets, from Philox (seeded); rank r takes
 * rows after those of ranks < r, so ranks see different samples. */
static int make_inputs(bench *b, lvt_err *e) {
    const int L = b->mc.context_len, D = b->mc.dim;
    const uint64_t seed = b->c->train.seed;
    b->nctx = (size_t)b->B * L * D;
    b->ny = (size_t)b->B * D;
    b->hctx = lvt_malloc(b->nctx * sizeof(float), e);
    b->hy = b->hctx ? lvt_malloc(b->ny * sizeof(float), e) : NULL;
    if (!b->hy) return LVT_ERROR;
    const uint64_t row0 = (uint64_t)b->comm->rank * (uint64_t)b->B;
    for (size_t i = 0; i < b->nctx; i++)
        b->hctx[i] = 2.0f * lvt_rng_unit(seed, 0, 7, row0 * L + i / D, i % D) - 1.0f;
    for (size_t i = 0; i < b->ny; i++) b->hy[i] = 2.0f * lvt_rng_unit(seed, 0, 8, row0 + i / D, i % D) - 1.0f;
    const lvt_ops *o = b->be->ops;
    b->dctx = o->alloc(b->be, b->nctx * sizeof(float), e);
    b->dy = b->dctx ? o->alloc(b->be, b->ny * sizeof(float), e) : NULL;
    b->draw = b->dy ? o->alloc(b->be, b->ny * sizeof(float), e) : NULL;
    if (!b->draw) return LVT_ERROR;
    o->to_device(b->be, b->dctx, b->hctx, b->nctx * sizeof(float));
    o->to_device(b->be, b->dy, b->hy, b->ny * sizeof(float));
    return LVT_OK;
}

static int setup(bench *b, const lvt_bench_opts *o, lvt_err *e) {
    const lvt_config *c = b->c;
    lvt_model_cfg_from_config(c, &b->mc);
    b->B = o->batch > 0 ? o->batch : c->train.global_batch;
    b->steps = o->steps;
    b->warm = o->warmup;
    b->step = o->step;
    b->threads = lvt_cpu_threads_init(0, b->comm->local_world); /* as lvt train chooses */
    const char *backend = o->backend ? o->backend : lvt_config_choice_name(LVT_CHOICE_BACKEND, c->train.backend);
    if (lvt_backend_create(&b->be, backend, b->comm->local_rank, lvt_model_math_from_config(c), e)) return LVT_ERROR;
    if (lvt_comm_device_init(b->comm, b->be, e)) return LVT_ERROR;
    if (lvt_model_create(&b->m, &b->mc, b->be, e) || lvt_model_init(&b->m, c->train.seed, e)) return LVT_ERROR;
    const int p4 = b->step == LVT_BENCH_P4;
    if (lvt_model_plan(&b->m, b->B, p4 ? LVT_BENCH_P4_H_ROLL : 1, e)) return LVT_ERROR;
    if (p4 && lvt_bench_p4_create(&b->p4, c, b->be, b->comm, b->B, e)) return LVT_ERROR;
    lvt_optim_hparams hp;
    if (lvt_optim_hparams_from_config(&hp, c, 1000000, e)) return LVT_ERROR;
    if (lvt_optim_create(&b->opt, &hp, b->be, b->m.n_params, e)) return LVT_ERROR;
    return make_inputs(b, e);
}

static void teardown(bench *b) {
    lvt_bench_contend_stop(&b->busy);
    lvt_bench_p4_destroy(&b->p4);
    lvt_comm_device_free(b->comm);
    if (b->be) {
        const lvt_ops *o = b->be->ops;
        if (b->draw) o->free(b->be, b->draw);
        if (b->dy) o->free(b->be, b->dy);
        if (b->dctx) o->free(b->be, b->dctx);
    }
    free(b->hctx);
    free(b->hy);
    if (b->opt.m) lvt_optim_destroy(&b->opt);
    if (b->m.tensors) lvt_model_destroy(&b->m);
    if (b->be) lvt_backend_destroy(b->be);
}

/* Seconds of the timed eval forward passes. */
static int time_forward(bench *b, double *secs, lvt_err *e) {
    double t0 = 0;
    for (long s = 0; s < b->warm + b->steps; s++) {
        if (s == b->warm) {
            b->be->ops->sync(b->be);
            t0 = lvt_now();
        }
        if (lvt_model_forward(&b->m, 0, b->dctx, b->B, 0, NULL, NULL, e)) return LVT_ERROR;
    }
    b->be->ops->sync(b->be);
    *secs = lvt_now() - t0;
    return LVT_OK;
}

/* The P1 objective: MSE of the raw output against the synthetic targets, and its backward. */
static int p1_loss_backward(bench *b, long s, double *loss, lvt_err *e) {
    lvt_backend *be = b->be;
    const lvt_ops *o = be->ops;
    const int W = b->comm->world;
    const size_t ny = b->ny;
    lvt_dropout_key key = {.seed = b->c->train.seed, .step = (uint64_t)s, .site = 0,
                           .sample_base = ((int64_t)s * W + b->comm->rank) * b->B, .p = b->mc.dropout};
    lvt_model_zero_grad(&b->m);
    if (lvt_model_forward(&b->m, 0, b->dctx, b->B, 1, &key, NULL, e)) return LVT_ERROR;
    /* draw = 2 (raw - y) / (B D); loss = mean((raw - y)^2) read back as a training loop does */
    o->copy(be, b->draw, lvt_model_raw(&b->m, 0), ny * sizeof(float));
    o->axpy(be, -1.0f, b->dy, b->draw, ny);
    *loss = o->sumsq(be, b->draw, ny) / (double)ny;
    o->scale(be, b->draw, 2.0f / (float)ny, ny);
    return lvt_model_backward_raw_pred(&b->m, 0, b->draw, NULL, NULL, e);
}

/* One P1 or P4 training step s; adds its compute | wait | all-reduce | optimiser seconds to split. */
static int train_step(bench *b, long s, double split[4], double *loss, double *norm, lvt_err *e) {
    lvt_backend *be = b->be;
    const lvt_ops *o = be->ops;
    const int W = b->comm->world;
    double t0 = lvt_now();
    if (b->step == LVT_BENCH_P4) { /* the P4 objective through lvt_loss_step, as lvt train runs it */
        if (lvt_bench_p4_step(&b->p4, &b->m, b->dctx, b->c->train.seed, s, loss, e)) return LVT_ERROR;
    } else if (p1_loss_backward(b, s, loss, e)) {
        return LVT_ERROR;
    }
    o->sync(be);
    double t1 = lvt_now();
    if (W > 1 && lvt_comm_barrier(b->comm, e)) return LVT_ERROR;
    double t2 = W > 1 ? lvt_now() : t1;
    /* one process has nothing to reduce: its all-reduce time is 0, not a timer read. P1's loss is a
     * per-rank mean (average the sum); P4's is normalised by the world's batch, so summed as in
     * src/train/train_step.c */
    const int average = b->step != LVT_BENCH_P4;
    if (W > 1 && lvt_comm_allreduce_device(b->comm, be, b->m.grads, b->m.n_params, LVT_COMM_SUM, average, e))
        return LVT_ERROR;
    o->sync(be);
    double t3 = W > 1 ? lvt_now() : t2;
    *norm = lvt_optim_step(&b->opt, b->m.params, b->m.grads);
    o->sync(be);
    double t4 = lvt_now();
    split[0] += t1 - t0;
    split[1] += t2 - t1;
    split[2] += t3 - t2;
    split[3] += t4 - t3;
    return LVT_OK;
}

/* Seconds of the timed training steps (after a barrier), and their summed split. */
static int time_train(bench *b, double *secs, double split[4], double *loss, double *norm, lvt_gemm_count *gc,
                      long slots[2], lvt_err *e) {
    double t0 = 0;
    for (long s = 0; s < b->warm + b->steps; s++) {
        if (s == b->warm) {
            b->be->ops->sync(b->be);
            if (lvt_comm_barrier(b->comm, e)) return LVT_ERROR;
            t0 = lvt_now();
            memset(split, 0, 4 * sizeof(double));
            /* the CPU backend counts its GEMMs from here (the CUDA one's are asynchronous) */
            if (b->be->ops->host_memory) b->be->gemm_count = gc;
            slots[0] = -b->p4.loss.slots_run; /* P4 rollout slot backwards of the timed steps */
            slots[1] = -b->p4.loss.slots_skipped;
        }
        int rc = train_step(b, s, split, loss, norm, e);
        if (rc) {
            b->be->gemm_count = NULL;
            return rc;
        }
    }
    b->be->gemm_count = NULL;
    b->be->ops->sync(b->be);
    *secs = lvt_now() - t0;
    slots[0] += b->p4.loss.slots_run;
    slots[1] += b->p4.loss.slots_skipped;
    return LVT_OK;
}

/* Means over the ranks of the per-step split, the bus bandwidth and the parameter check. */
static int reduce_split(bench *b, const double split[4], double t_train, lvt_bench_result *r, lvt_err *e) {
    const int W = b->comm->world;
    double sp[5]; /* [compute, wait, all-reduce, optimiser, step] */
    for (int k = 0; k < 4; k++) sp[k] = 1e3 * split[k] / (double)b->steps;
    sp[4] = 1e3 * t_train / (double)b->steps;
    if (lvt_comm_allreduce_f64(b->comm, sp, 5, LVT_COMM_SUM, e)) return LVT_ERROR;
    for (int k = 0; k < 5; k++) sp[k] /= W;
    r->compute_ms = sp[0];
    r->wait_ms = sp[1];
    r->allreduce_ms = sp[2];
    r->optim_ms = sp[3];
    r->step_ms = sp[4];
    r->grad_bytes = 4.0 * (double)b->m.n_params;
    /* measured bus bandwidth (the ring's 2(N-1)/N convention, as nccl-tests reports it) */
    r->allreduce_busbw_gbps = W > 1 && sp[2] > 0 ? 2.0 * (W - 1) / W * r->grad_bytes / (sp[2] * 1e-3) * 1e-9 : 0;
    /* Data-parallel check: with averaged gradients every rank holds the same parameters. */
    double psum[2];
    psum[0] = b->be->ops->sumsq(b->be, b->m.params, b->m.n_params);
    psum[1] = -psum[0];
    if (lvt_comm_allreduce_f64(b->comm, psum, 2, LVT_COMM_MAX, e)) return LVT_ERROR;
    r->params_in_sync = psum[0] == -psum[1];
    return LVT_OK;
}

static int measure(bench *b, const lvt_bench_opts *o, lvt_bench_result *r, lvt_err *e) {
    double t_fwd = 0, t_train = 0, split[4] = {0, 0, 0, 0};
    lvt_gemm_count gc = {0, 0, 0};
    long slots[2] = {0, 0};
    r->last_loss = r->last_grad_norm = 0;
    r->timed_fwd = b->step == LVT_BENCH_ALL || b->step == LVT_BENCH_EVAL;
    r->timed_train = b->step != LVT_BENCH_EVAL;
    if (lvt_bench_contend_start(&b->busy, o->contend, e)) return LVT_ERROR;
    if (r->timed_fwd && time_forward(b, &t_fwd, e)) return LVT_ERROR;
    if (r->timed_train && time_train(b, &t_train, split, &r->last_loss, &r->last_grad_norm, &gc, slots, e))
        return LVT_ERROR;
    lvt_bench_contend_stop(&b->busy);
    if (reduce_split(b, split, t_train, r, e)) return LVT_ERROR;
    snprintf(r->backend, sizeof r->backend, "%s", b->be->ops->name);
    snprintf(r->comm, sizeof r->comm, "%s", lvt_comm_device_mode_name(lvt_comm_device_mode(b->comm)));
    r->batch = b->B;
    r->steps = b->steps;
    r->warmup = b->warm;
    r->model = b->mc;
    r->n_params = b->m.n_params;
    r->world = b->comm->world;
    r->step = b->step;
    r->contend = o->contend;
    r->threads = b->threads;
    const double ff = lvt_bench_forward_flops(&b->mc);
    r->flops_fwd_per_sample = ff;
    r->roll_bwd_run = (double)slots[0] / (double)b->steps;
    r->roll_bwd_skipped = (double)slots[1] / (double)b->steps;
    r->flops_step_per_sample = b->step == LVT_BENCH_P4 ? lvt_bench_p4_flops(ff, r->roll_bwd_run) : 3 * ff;
    r->fwd_ms = 1e3 * t_fwd / (double)b->steps;
    r->train_ms = 1e3 * t_train / (double)b->steps;
    r->fwd_gflops = r->timed_fwd ? ff * b->B / (r->fwd_ms * 1e-3) * 1e-9 : 0;
    r->train_gflops = r->timed_train ? r->flops_step_per_sample * b->B / (r->train_ms * 1e-3) * 1e-9 : 0;
    lvt_backend_math_describe(b->be, r->gemm_math, sizeof r->gemm_math);
    r->gemm_math_kind = lvt_backend_gemm_math(b->be);
    r->gemm_counted = r->timed_train && gc.calls > 0;
    if (r->gemm_counted) {
        const double n = (double)b->steps;
        r->gemm_ms = 1e3 * gc.seconds / n;
        r->gemm_gflop = gc.flops * 1e-9 / n;
        r->gemm_calls = (double)gc.calls / n;
        r->gemm_gflops = gc.seconds > 0 ? gc.flops * 1e-9 / gc.seconds : 0;
    }
    return LVT_OK;
}

int lvt_bench_run(const lvt_config *c, const lvt_bench_opts *o, lvt_comm *comm, lvt_bench_result *r,
                  lvt_err *e) {
    if (o->steps < 1 || o->warmup < 0) return lvt_errf(e, "bench: steps must be >= 1 and warm-up >= 0");
    if (o->step < LVT_BENCH_ALL || o->step > LVT_BENCH_P4) return lvt_errf(e, "bench: unknown step %d", (int)o->step);
    if (o->contend < 0) return lvt_errf(e, "bench: --contend must be >= 0, got %d", o->contend);
    bench b;
    memset(&b, 0, sizeof b);
    memset(r, 0, sizeof *r);
    b.c = c;
    b.comm = comm;
    int rc = setup(&b, o, e);
    if (rc == LVT_OK) rc = measure(&b, o, r, e);
    teardown(&b);
    return rc;
}
