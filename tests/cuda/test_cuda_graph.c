/* test_cuda_graph.c — a miniature training loop run through the capture policy
 * (lvt_graph_cache_run) with the device optimiser step (lvt_graph_optim_*) against the same loop
 * run eagerly with lvt_optim_step: model forward with dropout, backward, clip, AdamW, 9 steps,
 * the batch size changing at step 4 and back at step 7 (a new signature each time: warm-up,
 * capture, replays). The policy's counters must show exactly that sequence.
 *   CPU backend (always; no graphs, so every step is eager): parameters bit-identical.
 *   CUDA backend (when a device exists): parameters within 1e-5 relative + 1e-7 after every step
 *   (the global norm is summed in another order, which can move the clip scale by an ulp). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lvt/graph.h"
#include "lvt/model.h"
#include "lvt/ops.h"
#include "lvt/optim.h"
#include "gpu_gate.h"
#include "testutil.h"

#define BMAX 16
#define STEPS 9

typedef struct step_ctx {
    lvt_model *m;
    lvt_optim *o;
    lvt_graph_optim *go;
    const float *ctx, *dp;
    int B;
    uint64_t step;
    int64_t base;
} step_ctx;

/* The captured work: zero_grad, forward (dropout keyed by step/base), backward, optimiser. */
static int graph_step(void *p, lvt_err *e) {
    step_ctx *s = p;
    lvt_dropout_key k = {21, s->step, 0, s->base, 0.1f};
    lvt_model_zero_grad(s->m);
    if (lvt_model_forward(s->m, 0, s->ctx, s->B, 1, &k, NULL, e)) return LVT_ERROR;
    if (lvt_model_backward(s->m, 0, s->dp, NULL, e)) return LVT_ERROR;
    lvt_graph_optim_enqueue(s->go, s->o, s->m->params, s->m->grads, NULL);
    return LVT_OK;
}

static void run(lvt_backend *be, int graphs, double rtol) {
    lvt_err e;
    const lvt_ops *ops = be->ops;
    lvt_model_cfg mc = {40, 32, 4, 2, 2, 4, 0.1f};
    lvt_model ref, dut;
    lvt_optim_hparams hp;
    lvt_optim_hparams_default(&hp);
    hp.lr = 3e-3;
    hp.grad_clip = 0.5;
    lvt_optim oref, odut;
    lvt_graph_optim *go = NULL;
    if (lvt_model_create(&ref, &mc, be, &e) || lvt_model_init(&ref, 8, &e) || lvt_model_plan(&ref, BMAX, 1, &e) ||
        lvt_model_create(&dut, &mc, be, &e) || lvt_model_init(&dut, 8, &e) || lvt_model_plan(&dut, BMAX, 1, &e) ||
        lvt_optim_create(&oref, &hp, be, ref.n_params, &e) || lvt_optim_create(&odut, &hp, be, dut.n_params, &e) ||
        lvt_graph_optim_create(&go, be, &e)) {
        CHECK(0, "%s set-up: %s", ops->name, e.msg);
        return;
    }
    size_t nc = (size_t)BMAX * 4 * 40, nd = (size_t)BMAX * 40;
    float *hc = malloc(nc * sizeof(float)), *hd = malloc(nd * sizeof(float));
    uint64_t r = 77;
    for (size_t i = 0; i < nc; i++) hc[i] = (float)((r = r * 6364136223846793005ull + 1) >> 40) / 16777216.0f - 0.5f;
    for (size_t i = 0; i < nd; i++) hd[i] = (float)((r = r * 6364136223846793005ull + 1) >> 40) / 16777216.0f - 0.5f;
    float *dctx = ops->alloc(be, nc * sizeof(float), &e), *ddp = ops->alloc(be, nd * sizeof(float), &e);
    ops->to_device(be, dctx, hc, nc * sizeof(float));
    ops->to_device(be, ddp, hd, nd * sizeof(float));
    lvt_graph_cache gc;
    lvt_graph_cache_init(&gc, be, graphs);
    step_ctx sc = {&dut, &odut, go, dctx, ddp, BMAX, 0, 0};
    float *a = malloc(ref.n_params * sizeof(float)), *b = malloc(ref.n_params * sizeof(float));
    int worst_step = -1;
    size_t total_bad = 0;
    for (int s = 0; s < STEPS; s++) {
        int B = (s >= 4 && s < 7) ? 12 : BMAX;
        uint64_t step = 100 + (uint64_t)s;
        int64_t base = (int64_t)s * BMAX;
        /* reference: eager, lvt_optim_step */
        lvt_dropout_key k = {21, step, 0, base, 0.1f};
        lvt_model_zero_grad(&ref);
        CHECK(lvt_model_forward(&ref, 0, dctx, B, 1, &k, NULL, &e) == 0, "forward: %s", e.msg);
        CHECK(lvt_model_backward(&ref, 0, ddp, NULL, &e) == 0, "backward: %s", e.msg);
        lvt_optim_step(&oref, ref.params, ref.grads);
        /* under test: the policy with the device optimiser */
        uint64_t sig = lvt_graph_sig(0, &B, sizeof B);
        sc.B = B;
        sc.step = step;
        sc.base = base;
        lvt_graph_optim_prepare(go, &odut);
        CHECK(lvt_graph_cache_run(&gc, sig, step, base, graph_step, &sc, &e) == 0, "step %d: %s", s, e.msg);
        ops->to_host(be, a, dut.params, ref.n_params * sizeof(float));
        ops->to_host(be, b, ref.params, ref.n_params * sizeof(float));
        size_t bad = 0;
        for (size_t i = 0; i < ref.n_params; i++)
            if (!(fabs((double)a[i] - (double)b[i]) <= rtol * fabs((double)b[i]) + (rtol > 0 ? 1e-7 : 0.0))) bad++;
        if (bad && worst_step < 0) worst_step = s;
        total_bad += bad;
    }
    CHECK(total_bad == 0, "%s: parameters differ from the eager loop (first at step %d, %zu values in all)", ops->name,
          worst_step, total_bad);
    CHECK(odut.t == oref.t && odut.t == STEPS, "t %ld vs %ld", odut.t, oref.t);
    if (gc.enabled) {
        /* B 16: warm-up, capture+replay, replay, replay; B 12: warm-up, capture, replay;
         * B 16 again: warm-up, capture */
        CHECK(gc.n_eager == 3 && gc.n_captures == 3 && gc.n_replays == 6,
              "policy: %ld eager, %ld captures, %ld replays (want 3, 3, 6)", gc.n_eager, gc.n_captures, gc.n_replays);
    } else {
        CHECK(gc.n_eager == STEPS && gc.n_captures == 0, "no graphs: %ld eager of %d", gc.n_eager, STEPS);
        if (graphs && lvt_graph_available(be)) CHECK(0, "graphs switched off: %s", gc.note);
    }
    printf("  %s: %d steps, %ld eager / %ld captured / %ld replayed, parameters %s the eager loop\n", ops->name, STEPS,
           gc.n_eager, gc.n_captures, gc.n_replays, rtol > 0 ? "within 1e-5 of" : "bit-identical to");
    lvt_graph_cache_free(&gc);
    lvt_graph_optim_destroy(go);
    lvt_optim_destroy(&oref), lvt_optim_destroy(&odut);
    lvt_model_destroy(&ref), lvt_model_destroy(&dut);
    ops->free(be, dctx), ops->free(be, ddp);
    free(hc), free(hd), free(a), free(b);
}

int main(void) {
    lvt_err e;
    lvt_backend *cpu;
    if (lvt_backend_create(&cpu, "cpu", -1, LVT_MATH_FP32, &e)) {
        fprintf(stderr, "%s\n", e.msg);
        return 1;
    }
    uint64_t h1 = lvt_graph_sig(0, "ab", 2), h2 = lvt_graph_sig(0, "ba", 2);
    CHECK(h1 != h2 && h1 == lvt_graph_sig(lvt_graph_sig(0, "a", 1), "b", 1), "signature hash not chained FNV-1a");
    run(cpu, 1, 0.0);
    lvt_backend_destroy(cpu);
    if (gpu_gate("test_cuda_graph")) {
        lvt_backend *gpu;
        if (lvt_backend_create(&gpu, "cuda", 0, LVT_MATH_FP32, &e)) {
            CHECK(0, "cuda: %s", e.msg);
        } else {
            run(gpu, 0, 1e-5); /* the policy disabled: eager device optimiser */
            run(gpu, 1, 1e-5); /* warm-up, capture, replay */
            lvt_backend_destroy(gpu);
        }
    } else {
        printf("the CUDA half of this test did not run\n");
    }
    return test_finish("test_cuda_graph");
}
