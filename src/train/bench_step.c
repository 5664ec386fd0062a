/* bench_step.c — the P4 step of `lvt bench --step p4` (include/lvt/bench.h, docs/bench.md): the
 * recipe's last-phase objective, its synthetic batch in backend memory, and one forward + backward
 * through lvt_loss_step, the call `lvt train` makes each micro-step (src/train/train_step.c); and
 * the busy threads of --contend. */
#include "lvt/bench.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lvt/rng.h"

void lvt_bench_p4_objective(const lvt_config *c, lvt_objective_cfg *obj) {
    *obj = c->objective;
    obj->rollout_h = LVT_BENCH_P4_H_ROLL;
    obj->lambda_roll = 0.1;
    obj->rollout_grad = LVT_ROLLOUT_GRAD_FULL;
    obj->rollout_supervise = LVT_SUPERVISE_FLAT;
    obj->lambda_dir = 0.002;
    obj->adaptive_dir = LVT_ADAPTIVE_BATCH;
    obj->lambda_fut = 0.002;
    obj->context_drop_p = 0.05;
    obj->context_drop_mode = LVT_CTX_DROP_NOISE;
}

/* The loss's cross-rank reduction of its batch statistics (as src/train/train_setup.c does). */
static int reduce_scalars(void *ctx, float *buf, int n, lvt_err *e) {
    lvt_bench_p4 *p = ctx;
    return lvt_comm_sum_small_staged(p->comm, p->be, buf, n, e);
}

/* n floats uniform in [lo, hi) from Philox stream `site`, uploaded into a new backend buffer. */
static float *upload_uniform(lvt_bench_p4 *p, uint64_t seed, uint32_t site, uint64_t row0, size_t rows,
                             size_t cols, float lo, float hi, lvt_err *e) {
    const size_t n = rows * cols;
    float *h = lvt_malloc(n * sizeof(float), e);
    if (!h) return NULL;
    for (size_t i = 0; i < n; i++) h[i] = lo + (hi - lo) * lvt_rng_unit(seed, 0, site, row0 + i / cols, i % cols);
    float *d = p->be->ops->alloc(p->be, n * sizeof(float), e);
    if (d) p->be->ops->to_device(p->be, d, h, n * sizeof(float));
    free(h);
    return d;
}

int lvt_bench_p4_create(lvt_bench_p4 *p, const lvt_config *c, lvt_backend *be, lvt_comm *comm, int B,
                        lvt_err *e) {
    memset(p, 0, sizeof *p);
    p->be = be;
    p->comm = comm;
    p->B = B;
    p->L = c->data.context_len;
    p->D = c->model.dim;
    lvt_bench_p4_objective(c, &p->obj);
    const int H = LVT_BENCH_P4_H_ROLL, D = p->D;
    if (lvt_loss_create(&p->loss, be, B, p->L, D, H, e)) return LVT_ERROR;
    p->loss.reduce = reduce_scalars;
    p->loss.reduce_ctx = p;
    const uint64_t seed = c->train.seed, r0 = (uint64_t)comm->rank * (uint64_t)B;
    if (!(p->d_target = upload_uniform(p, seed, 8, r0, (size_t)B, (size_t)D, -1, 1, e)) ||
        !(p->d_fut = upload_uniform(p, seed, 9, 2 * r0, 2 * (size_t)B, (size_t)D, -1, 1, e)) ||
        !(p->d_futm = upload_uniform(p, seed, 10, r0, (size_t)B, 2, 1, 1, e)) ||
        !(p->d_roll = upload_uniform(p, seed, 11, H * r0, (size_t)H * B, (size_t)D, -1, 1, e)) ||
        !(p->d_rollm = upload_uniform(p, seed, 12, r0, (size_t)B, (size_t)H, 1, 1, e)))
        return LVT_ERROR;
    return LVT_OK;
}

int lvt_bench_p4_step(lvt_bench_p4 *p, lvt_model *m, const float *dctx, uint64_t seed, long step,
                      double *loss, lvt_err *e) {
    const int W = p->comm->world;
    lvt_loss_batch lb = {p->B, dctx, p->d_target, p->d_fut, p->d_futm, p->d_roll, p->d_rollm, LVT_BENCH_P4_H_ROLL};
    lvt_loss_norm norm = {(int64_t)p->B * W, (int64_t)p->B * W};
    lvt_dropout_key key = {seed, (uint64_t)step, 0, ((int64_t)step * W + p->comm->rank) * p->B,
                           m->cfg.dropout};
    lvt_model_zero_grad(m);
    if (lvt_loss_step(&p->loss, m, &p->obj, &lb, &norm, &key, 1, 1, e)) return LVT_ERROR;
    float tv[LVT_TERM_COUNT];
    lvt_loss_read(&p->loss, tv);
    *loss = tv[LVT_TERM_TOTAL];
    return LVT_OK;
}

double lvt_bench_p4_flops(double fwd_flops_per_sample, double slots_bwd) {
    return (LVT_BENCH_P4_H_ROLL + 2.0 * (1.0 + slots_bwd)) * fwd_flops_per_sample;
}

void lvt_bench_p4_destroy(lvt_bench_p4 *p) {
    if (!p->be) return;
    const lvt_ops *o = p->be->ops;
    float *bufs[] = {p->d_target, p->d_fut, p->d_futm, p->d_roll, p->d_rollm};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
        if (bufs[i]) o->free(p->be, bufs[i]);
    if (p->loss.be) lvt_loss_destroy(&p->loss);
    memset(p, 0, sizeof *p);
}

static void *spin(void *arg) {
    lvt_bench_contend *c = arg;
    volatile unsigned x = 1;
    while (!c->stop)
        for (int i = 0; i < 100000; i++) x = x * 1664525u + 1013904223u;
    return NULL;
}

int lvt_bench_contend_start(lvt_bench_contend *c, int n, lvt_err *e) {
    memset((void *)c, 0, sizeof *c);
    if (n <= 0) return LVT_OK;
    pthread_t *t = lvt_malloc(sizeof(pthread_t) * (size_t)n, e);
    if (!t) return LVT_ERROR;
    c->threads = t;
    for (c->n = 0; c->n < n; c->n++)
        if (pthread_create(&t[c->n], NULL, spin, c)) {
            lvt_bench_contend_stop(c);
            return lvt_errf(e, "bench: cannot start busy thread %d of %d", c->n + 1, n);
        }
    return LVT_OK;
}

void lvt_bench_contend_stop(lvt_bench_contend *c) {
    pthread_t *t = c->threads;
    c->stop = 1;
    for (int i = 0; i < c->n; i++) pthread_join(t[i], NULL);
    free(t);
    c->threads = NULL;
    c->n = 0;
}
