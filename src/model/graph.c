/* graph.c — the backend-neutral face of graph capture (include/lvt/graph.h): CUDA builds
 * forward to cuda/graph.cu for the CUDA backend; everything else reports "no graphs". And the
 * host half of the graph optimiser step: the per-step AdamW scalars, computed exactly as
 * cpu_adamw / cu_adamw compute them, and the eager CPU-backend path. */
#include "lvt/graph.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef LVT_HAVE_CUDA
#include "../../cuda/cuda_graph.h"
#endif

int lvt_graph_available(const lvt_backend *be) {
#ifdef LVT_HAVE_CUDA
    return be && be->device >= 0;
#else
    (void)be;
    return 0;
#endif
}

int lvt_graph_begin(lvt_backend *be, uint64_t ref_step, int64_t ref_base, lvt_err *e) {
    if (!lvt_graph_available(be))
        return lvt_errf(e, "CUDA graphs need the cuda backend (this one is '%s')", be ? be->ops->name : "none");
#ifdef LVT_HAVE_CUDA
    return lvt_cuda_graph_begin(be, ref_step, ref_base, e);
#else
    return LVT_ERROR;
#endif
}

int lvt_graph_end(lvt_backend *be, lvt_graph **out, lvt_err *e) {
    *out = NULL;
    if (!lvt_graph_available(be)) return lvt_errf(e, "CUDA graphs need the cuda backend");
#ifdef LVT_HAVE_CUDA
    return lvt_cuda_graph_end(be, out, e);
#else
    return LVT_ERROR;
#endif
}

int lvt_graph_replay(lvt_graph *g, uint64_t step, int64_t sample_base, lvt_err *e) {
#ifdef LVT_HAVE_CUDA
    if (g) return lvt_cuda_graph_replay(g, step, sample_base, e);
#endif
    (void)g;
    (void)step;
    (void)sample_base;
    return lvt_errf(e, "no CUDA graph to replay");
}

void lvt_graph_destroy(lvt_graph *g) {
#ifdef LVT_HAVE_CUDA
    lvt_cuda_graph_destroy(g);
#else
    (void)g;
#endif
}

/* ---- the capture policy ------------------------------------------------------------------------------ */

void lvt_graph_cache_init(lvt_graph_cache *gc, lvt_backend *be, int enabled) {
    memset(gc, 0, sizeof *gc);
    gc->be = be;
    gc->enabled = enabled && lvt_graph_available(be);
}

void lvt_graph_cache_free(lvt_graph_cache *gc) {
    if (!gc) return;
    lvt_graph_destroy(gc->graph);
    gc->graph = NULL;
    gc->warm = 0;
}

uint64_t lvt_graph_sig(uint64_t h, const void *p, size_t n) {
    const unsigned char *b = p;
    if (h == 0) h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * 0x100000001b3ull;
    return h;
}

int lvt_graph_cache_run(lvt_graph_cache *gc, uint64_t sig, uint64_t step, int64_t sample_base, lvt_graph_fn fn,
                        void *ctx, lvt_err *e) {
    if (!gc->enabled) {
        gc->n_eager++;
        return fn(ctx, e);
    }
    if (sig != gc->sig) { /* something frozen into the graph changed: start over */
        lvt_graph_destroy(gc->graph);
        gc->graph = NULL;
        gc->warm = 0;
        gc->sig = sig;
    }
    if (gc->graph) {
        gc->n_replays++;
        return lvt_graph_replay(gc->graph, step, sample_base, e);
    }
    if (!gc->warm) {
        gc->warm = 1;
        gc->n_eager++;
        return fn(ctx, e);
    }
    if (lvt_graph_begin(gc->be, step, sample_base, e)) {
        snprintf(gc->note, sizeof gc->note, "%.255s", e->msg);
        gc->enabled = 0;
        gc->n_eager++;
        return fn(ctx, e);
    }
    int rc = fn(ctx, e);
    lvt_err ee;
    lvt_graph *g = NULL;
    int rc_end = lvt_graph_end(gc->be, &g, &ee);
    if (rc) { /* fn failed while being captured: nothing ran; report fn's error */
        lvt_graph_destroy(g);
        return LVT_ERROR;
    }
    if (rc_end) { /* the work cannot be captured: eager from now on (it has not run yet) */
        snprintf(gc->note, sizeof gc->note, "%.255s", ee.msg);
        gc->enabled = 0;
        gc->n_eager++;
        return fn(ctx, e);
    }
    gc->graph = g;
    gc->n_captures++;
    gc->n_replays++;
    return lvt_graph_replay(g, step, sample_base, e); /* a captured graph has not run yet */
}

/* ---- the optimiser step inside a graph ------------------------------------------------------------ */

struct lvt_graph_optim {
    lvt_backend *be;
    float *scal;  /* backend memory [8]: the AdamW scalars of the prepared step */
    double *acc;  /* backend memory: sum of squares of the last step's gradients */
};

int lvt_graph_optim_create(lvt_graph_optim **out, lvt_backend *be, lvt_err *e) {
    *out = NULL;
    lvt_graph_optim *go = lvt_calloc(1, sizeof *go, e);
    if (!go) return lvt_err_prefix(e, "graph optimiser");
    go->be = be;
    if (!(go->scal = be->ops->alloc(be, 8 * sizeof(float), e)) ||
        !(go->acc = be->ops->alloc(be, sizeof(double), e))) {
        lvt_graph_optim_destroy(go);
        return lvt_err_prefix(e, "graph optimiser");
    }
    *out = go;
    return LVT_OK;
}

void lvt_graph_optim_destroy(lvt_graph_optim *go) {
    if (!go) return;
    if (go->scal) go->be->ops->free(go->be, go->scal);
    if (go->acc) go->be->ops->free(go->be, go->acc);
    free(go);
}

void lvt_graph_optim_prepare(lvt_graph_optim *go, lvt_optim *o) {
    o->t += 1;
    /* exactly the arguments lvt_optim_step passes to ops->adamw, and the scalars adamw forms */
    const float lr = (float)o->lr, beta1 = (float)o->hp.beta1, beta2 = (float)o->hp.beta2;
    const float eps = (float)o->hp.eps, wd = (float)o->hp.weight_decay;
    const double b1 = lvt_float_decimal(beta1), b2 = lvt_float_decimal(beta2);
    const double bc1 = 1.0 - pow(b1, (double)o->t), bc2 = 1.0 - pow(b2, (double)o->t);
    const float vals[8] = {(float)(1.0 - (double)lr * (double)wd), (float)((double)lr / bc1), (float)sqrt(bc2),
                           (float)(1.0 - b1), beta2, (float)(1.0 - b2), eps, 0.0f};
#ifdef LVT_HAVE_CUDA
    if (go->be->device >= 0) lvt_cuda_optim_set(go->be, go->scal, vals);
    else
#endif
        go->be->ops->to_device(go->be, go->scal, vals, sizeof vals);
    if (o->hp.schedule == LVT_SCHED_COSINE) {
        o->sched_steps += 1;
        o->lr = lvt_cosine_lr(&o->hp, o->sched_steps);
    }
}

void lvt_graph_optim_enqueue(lvt_graph_optim *go, const lvt_optim *o, float *params, const float *grads,
                             const float *loss) {
#ifdef LVT_HAVE_CUDA
    if (go->be->device >= 0) {
        lvt_cuda_optim_enqueue(go->be, params, grads, o->m, o->v, o->n, go->scal, go->acc, o->hp.grad_clip, loss);
        return;
    }
#endif
    /* CPU backend (host memory): the device kernel's loop, from the same prepared scalars, so the
     * scalars are checked against cpu_adamw where no GPU is present */
    double norm = sqrt(go->be->ops->sumsq(go->be, grads, o->n));
    *go->acc = norm * norm;
    if (!isfinite(norm) || (loss && !isfinite(*loss))) return;
    const float grad_scale = (float)lvt_clip_scale(norm, o->hp.grad_clip);
    const float *sc = go->scal;
    const float decay = sc[0], step_size = sc[1], bc2_sqrt = sc[2], w1 = sc[3], beta2 = sc[4], w2 = sc[5],
                eps = sc[6];
    float *m = o->m, *v = o->v;
    for (size_t i = 0; i < o->n; i++) {
        float gi = grads[i] * grad_scale;
        float pi = params[i] * decay;
        float mi = w1 < 0.5f ? m[i] + w1 * (gi - m[i]) : gi - (gi - m[i]) * (1.0f - w1);
        float vi = v[i] * beta2 + w2 * gi * gi;
        float denom = sqrtf(vi) / bc2_sqrt + eps;
        params[i] = pi - step_size * mi / denom;
        m[i] = mi;
        v[i] = vi;
    }
}

double lvt_graph_optim_norm(lvt_graph_optim *go) {
    double ss = 0;
    go->be->ops->to_host(go->be, &ss, go->acc, sizeof ss);
    return sqrt(ss);
}
