/* test_cuda_optim.c — the graph optimiser step (lvt_graph_optim_*, include/lvt/graph.h) against
 * lvt_optim_step, the tested reference: 40 steps with a cosine schedule and clipping active on
 * some steps (gradients scaled up every 3rd step), then a step with a NaN loss that must leave
 * parameters and moments untouched.
 *   CPU backend (always): bit-identical params, m, v; same t, lr and norms (exact).
 *   CUDA backend (when a device exists): the device path run eagerly, and captured once in a
 *   CUDA graph and replayed 40 times with lvt_graph_optim_prepare before each replay, against
 *   lvt_optim_step on the same GPU: params within 1e-6 relative (the norm is summed in another
 *   order, which can move the clip scale by an ulp), t and lr exact, norms within 1e-9. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lvt/graph.h"
#include "lvt/ops.h"
#include "lvt/optim.h"
#include "gpu_gate.h"
#include "testutil.h"

#define N 50021
#define STEPS 40

static uint64_t rs = 5;
static float urand(void) {
    rs = rs * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((double)(rs >> 40) / (double)(1ull << 24)) * 2.0f - 1.0f;
}

static void fill(float *x, size_t n, float s) {
    for (size_t i = 0; i < n; i++) x[i] = s * urand();
}

/* mode 0: eager device path; mode 1: captured once, replayed (CUDA only) */
static void run(lvt_backend *be, int mode, double tol) {
    lvt_err e;
    const lvt_ops *o = be->ops;
    lvt_optim_hparams hp;
    lvt_optim_hparams_default(&hp);
    hp.schedule = LVT_SCHED_COSINE;
    hp.cosine_steps = 30;
    hp.min_lr = 1e-5;
    hp.lr = 2e-3;
    hp.grad_clip = 1.0;
    lvt_optim ref, dut;
    lvt_graph_optim *go = NULL;
    if (lvt_optim_create(&ref, &hp, be, N, &e) || lvt_optim_create(&dut, &hp, be, N, &e) ||
        lvt_graph_optim_create(&go, be, &e)) {
        CHECK(0, "create: %s", e.msg);
        return;
    }
    float *hp0 = malloc(N * sizeof(float)), *hg = malloc(N * sizeof(float));
    fill(hp0, N, 1.0f);
    float *pr = o->alloc(be, N * sizeof(float), &e), *pd = o->alloc(be, N * sizeof(float), &e);
    float *g = o->alloc(be, N * sizeof(float), &e), *loss = o->alloc(be, sizeof(float), &e);
    o->to_device(be, pr, hp0, N * sizeof(float));
    o->to_device(be, pd, hp0, N * sizeof(float));
    float one = 1.0f;
    o->to_device(be, loss, &one, sizeof one);
    lvt_graph *gr = NULL;
    if (mode == 1) {
        /* warm-up outside the graph is not needed (no allocation); capture once */
        if (lvt_graph_begin(be, 0, 0, &e)) {
            CHECK(0, "begin: %s", e.msg);
            return;
        }
        lvt_graph_optim_enqueue(go, &dut, pd, g, loss);
        if (lvt_graph_end(be, &gr, &e)) {
            CHECK(0, "end: %s", e.msg);
            return;
        }
    }
    int clipped = 0, bad_norm = 0;
    for (int s = 0; s < STEPS; s++) {
        fill(hg, N, s % 3 == 0 ? 0.05f : 0.001f); /* norm ~6.5 (clipped) or ~0.13 */
        o->to_device(be, g, hg, N * sizeof(float));
        double nr = lvt_optim_step(&ref, pr, g);
        clipped += nr > hp.grad_clip;
        lvt_graph_optim_prepare(go, &dut);
        if (mode == 1) CHECK(lvt_graph_replay(gr, 0, 0, &e) == 0, "replay: %s", e.msg);
        else lvt_graph_optim_enqueue(go, &dut, pd, g, loss);
        double nd = lvt_graph_optim_norm(go);
        if (!(fabs(nd - nr) <= (tol > 0 ? 1e-9 * nr : 0.0))) bad_norm++;
    }
    CHECK(clipped > 5 && clipped < STEPS, "clipping active on %d of %d steps", clipped, STEPS);
    CHECK(bad_norm == 0, "%d norms differ", bad_norm);
    CHECK(dut.t == ref.t && dut.t == STEPS, "t %ld vs %ld", dut.t, ref.t);
    CHECK(dut.lr == ref.lr && dut.sched_steps == ref.sched_steps, "lr %.17g vs %.17g", dut.lr, ref.lr);
    float *a = malloc(N * sizeof(float)), *b = malloc(N * sizeof(float));
    float *bufs[3][2] = {{pd, pr}, {dut.m, ref.m}, {dut.v, ref.v}};
    const char *names[3] = {"params", "m", "v"};
    for (int k = 0; k < 3; k++) {
        o->to_host(be, a, bufs[k][0], N * sizeof(float));
        o->to_host(be, b, bufs[k][1], N * sizeof(float));
        size_t bad = 0, first = 0;
        for (size_t i = 0; i < N; i++)
            if (!(fabs((double)a[i] - (double)b[i]) <= tol * fabs((double)b[i])) && bad++ == 0) first = i;
        CHECK(bad == 0, "%s %s: %zu differ (first [%zu] %.9g vs %.9g)", be->ops->name, names[k], bad, first, a[first],
              b[first]);
    }
    /* a non-finite loss: no update */
    o->to_host(be, b, pd, N * sizeof(float));
    float nan = NAN;
    o->to_device(be, loss, &nan, sizeof nan);
    lvt_graph_optim_prepare(go, &dut);
    if (mode == 1) CHECK(lvt_graph_replay(gr, 0, 0, &e) == 0, "replay: %s", e.msg);
    else lvt_graph_optim_enqueue(go, &dut, pd, g, loss);
    o->to_host(be, a, pd, N * sizeof(float));
    CHECK(memcmp(a, b, N * sizeof(float)) == 0, "%s: params changed by a step with a NaN loss", be->ops->name);
    printf("  %s %s: %d steps (%d clipped) match lvt_optim_step %s\n", be->ops->name,
           mode ? "graph replay" : "eager", STEPS, clipped, tol > 0 ? "within 1e-6" : "bit for bit");
    lvt_graph_destroy(gr);
    lvt_graph_optim_destroy(go);
    o->free(be, pr), o->free(be, pd), o->free(be, g), o->free(be, loss);
    lvt_optim_destroy(&ref), lvt_optim_destroy(&dut);
    free(hp0), free(hg), free(a), free(b);
}

int main(void) {
    lvt_err e;
    lvt_backend *cpu;
    if (lvt_backend_create(&cpu, "cpu", -1, LVT_MATH_FP32, &e)) {
        fprintf(stderr, "%s\n", e.msg);
        return 1;
    }
    run(cpu, 0, 0.0);
    lvt_backend_destroy(cpu);
    if (gpu_gate("test_cuda_optim")) {
        lvt_backend *gpu;
        if (lvt_backend_create(&gpu, "cuda", 0, LVT_MATH_FP32, &e)) {
            CHECK(0, "cuda: %s", e.msg);
        } else {
            run(gpu, 0, 1e-6);
            run(gpu, 1, 1e-6);
            lvt_backend_destroy(gpu);
        }
    } else {
        printf("the CUDA half of this test did not run\n");
    }
    return test_finish("test_cuda_optim");
}
