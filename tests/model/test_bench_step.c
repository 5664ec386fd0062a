/* test_bench_step.c — the steps `lvt bench --step p4 --contend N` times (src/train/bench_step.c):
 * the bench's objective is the one `lvt train` resolves for the recipe's last curriculum phase
 * (configs/p4_rollout.json), one bench P4 step runs every term of it (rollout, guard, future) and
 * fills the gradient, and the busy threads of --contend start and stop. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lvt/bench.h"
#include "lvt/train.h"
#include "testutil.h"

static void test_objective(void) {
    const char *src = getenv("LVT_SOURCE_DIR");
    char path[1024];
    snprintf(path, sizeof path, "%s/configs/p4_rollout.json", src ? src : ".");
    lvt_config *c = calloc(1, sizeof *c);
    lvt_err e = {{0}};
    CHECK(lvt_config_load(c, path, &e) == 0, "load %s: %s", path, e.msg);
    lvt_objective_cfg tr, be;
    int phase = -1;
    lvt_train_resolve(c, c->train.epochs, 0, &tr, &phase); /* the last epoch: every phase applied */
    lvt_bench_p4_objective(c, &be);
    CHECK(phase == c->n_phases - 1, "phase %d of %d", phase, c->n_phases);
    CHECK(tr.rollout_h == be.rollout_h && be.rollout_h == 3, "rollout_h %d vs %d", tr.rollout_h, be.rollout_h);
    CHECK(tr.lambda_roll == be.lambda_roll && tr.lambda_dir == be.lambda_dir && tr.lambda_fut == be.lambda_fut &&
              tr.lambda_ac == be.lambda_ac && tr.context_drop_p == be.context_drop_p,
          "lambdas: train %g %g %g %g %g, bench %g %g %g %g %g", tr.lambda_roll, tr.lambda_dir, tr.lambda_fut,
          tr.lambda_ac, tr.context_drop_p, be.lambda_roll, be.lambda_dir, be.lambda_fut, be.lambda_ac,
          be.context_drop_p);
    CHECK(tr.margin_dir == be.margin_dir && tr.margin_fut == be.margin_fut && tr.flat_scale == be.flat_scale &&
              tr.flat_threshold == be.flat_threshold,
          "margins differ");
    CHECK(tr.rollout_grad == be.rollout_grad && tr.rollout_supervise == be.rollout_supervise &&
              tr.adaptive_dir == be.adaptive_dir && tr.dir_ref == be.dir_ref &&
              tr.context_drop_mode == be.context_drop_mode && tr.base_loss == be.base_loss,
          "choices: %d/%d %d/%d %d/%d %d/%d", tr.rollout_grad, be.rollout_grad, tr.rollout_supervise,
          be.rollout_supervise, tr.adaptive_dir, be.adaptive_dir, tr.context_drop_mode, be.context_drop_mode);
    free(c);
}

static void test_step(void) {
    lvt_config *c = calloc(1, sizeof *c);
    lvt_err e = {{0}};
    lvt_config_defaults(c);
    c->model.dim = 16;
    c->model.d_model = 16;
    c->model.n_heads = 2;
    c->model.n_layers = 1;
    c->data.context_len = 5;
    lvt_comm comm;
    int argc = 0;
    char **argv = NULL;
    CHECK(lvt_comm_init(&comm, &argc, &argv, &e) == 0, "comm: %s", e.msg);
    lvt_backend *be = NULL;
    CHECK(lvt_backend_create(&be, "cpu", -1, LVT_MATH_FP32, &e) == 0, "backend: %s", e.msg);
    lvt_model_cfg mc;
    lvt_model_cfg_from_config(c, &mc);
    lvt_model m;
    const int B = 8, L = 5, D = 16;
    CHECK(lvt_model_create(&m, &mc, be, &e) == 0 && lvt_model_init(&m, 3, &e) == 0, "model: %s", e.msg);
    CHECK(lvt_model_plan(&m, B, LVT_BENCH_P4_H_ROLL, &e) == 0, "plan: %s", e.msg);
    lvt_bench_p4 p;
    CHECK(lvt_bench_p4_create(&p, c, be, &comm, B, &e) == 0, "create: %s", e.msg);
    float *ctx = be->ops->alloc(be, sizeof(float) * B * L * D, &e);
    float h[8 * 5 * 16];
    for (int i = 0; i < B * L * D; i++) h[i] = sinf(0.37f * (float)i);
    be->ops->to_device(be, ctx, h, sizeof h);
    double loss = 0;
    CHECK(lvt_bench_p4_step(&p, &m, ctx, 3, 0, &loss, &e) == 0, "step: %s", e.msg);
    float tv[LVT_TERM_COUNT];
    lvt_loss_read(&p.loss, tv);
    CHECK(isfinite(loss) && loss > tv[LVT_TERM_MSE], "total %g, mse %g", loss, tv[LVT_TERM_MSE]);
    CHECK(tv[LVT_TERM_ROLL] > 0 && tv[LVT_TERM_FUT] > 0 && tv[LVT_TERM_DIR] >= 0, "roll %g fut %g dir %g",
          tv[LVT_TERM_ROLL], tv[LVT_TERM_FUT], tv[LVT_TERM_DIR]);
    CHECK(tv[LVT_TERM_LAMBDA_EFF] >= 0.002f, "lambda_eff %g", tv[LVT_TERM_LAMBDA_EFF]);
    CHECK(be->ops->sumsq(be, m.grads, m.n_params) > 0, "no gradient");
    CHECK(lvt_bench_p4_flops(1.0, 2) == 9.0 && lvt_bench_p4_flops(1.0, 0) == 5.0, "P4 FLOPs %g, %g per forward FLOP",
          lvt_bench_p4_flops(1.0, 2), lvt_bench_p4_flops(1.0, 0));
    be->ops->free(be, ctx);
    lvt_bench_p4_destroy(&p);
    lvt_model_destroy(&m);
    lvt_backend_destroy(be);
    lvt_comm_finalize(&comm);
    free(c);
}

static void test_contend(void) {
    lvt_err e = {{0}};
    lvt_bench_contend busy;
    CHECK(lvt_bench_contend_start(&busy, 2, &e) == 0 && busy.n == 2, "start: %s", e.msg);
    lvt_bench_contend_stop(&busy);
    CHECK(busy.n == 0 && busy.threads == NULL, "stop");
    CHECK(lvt_bench_contend_start(&busy, 0, &e) == 0 && busy.n == 0, "start 0");
    lvt_bench_contend_stop(&busy);
}

int main(void) {
    test_objective();
    test_step();
    test_contend();
    return test_finish("test_bench_step");
}
