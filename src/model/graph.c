/* graph.c — graph capture over the backend's optional graph entries (include/lvt/graph.h): a
 * graph is the backend's handle plus the backend it belongs to; a backend without graph_begin
 * (the CPU) has no graphs. The capture policy of a training loop (lvt_graph_cache_run). And the
 * host half of the graph optimiser step: it advances the optimiser through optim.h exactly as
 * lvt_optim_step does and writes the step's AdamW scalars to backend memory, where
 * ops->adamw_clipped reads them. */
#include "lvt/graph.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct lvt_graph {
    lvt_backend *be;
    void *impl; /* the backend's instantiated graph */
};

int lvt_graph_available(const lvt_backend *be) { return be && be->ops->graph_begin != NULL; }

int lvt_graph_begin(lvt_backend *be, uint64_t ref_step, int64_t ref_base, lvt_err *e) {
    if (!lvt_graph_available(be))
        return lvt_errf(e, "CUDA graphs need the cuda backend (this one is '%s')", be ? be->ops->name : "none");
    return be->ops->graph_begin(be, ref_step, ref_base, e);
}

int lvt_graph_end(lvt_backend *be, lvt_graph **out, lvt_err *e) {
    *out = NULL;
    if (!lvt_graph_available(be)) return lvt_errf(e, "CUDA graphs need the cuda backend");
    lvt_graph *g = lvt_calloc(1, sizeof *g, e);
    void *impl = NULL;
    int rc = be->ops->graph_end(be, &impl, e); /* ends the capture even when g is NULL */
    if (rc || !g) {
        if (impl) be->ops->graph_destroy(be, impl);
        free(g);
        return LVT_ERROR;
    }
    g->be = be;
    g->impl = impl;
    *out = g;
    return LVT_OK;
}

int lvt_graph_replay(lvt_graph *g, uint64_t step, int64_t sample_base, lvt_err *e) {
    if (!g) return lvt_errf(e, "no CUDA graph to replay");
    return g->be->ops->graph_replay(g->be, g->impl, step, sample_base, e);
}

void lvt_graph_destroy(lvt_graph *g) {
    if (!g) return;
    g->be->ops->graph_destroy(g->be, g->impl);
    free(g);
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
    lvt_adamw_scalars *scal; /* backend memory: the AdamW scalars of the prepared step */
    double *acc;             /* backend memory: sum of squares of the last step's gradients */
};

int lvt_graph_optim_create(lvt_graph_optim **out, lvt_backend *be, lvt_err *e) {
    *out = NULL;
    lvt_graph_optim *go = lvt_calloc(1, sizeof *go, e);
    if (!go) return lvt_err_prefix(e, "graph optimiser");
    go->be = be;
    if (!(go->scal = be->ops->alloc(be, sizeof(lvt_adamw_scalars), e)) ||
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
    /* the scalars ops->adamw forms from the arguments lvt_optim_step passes, at o->lr before the
     * schedule moves */
    const lvt_adamw_scalars s = lvt_adamw_scalars_for((float)o->lr, (float)o->hp.beta1, (float)o->hp.beta2,
                                                      (float)o->hp.eps, (float)o->hp.weight_decay, o->t);
    go->be->ops->to_device(go->be, go->scal, &s, sizeof s);
    lvt_optim_schedule_step(o);
}

void lvt_graph_optim_enqueue(lvt_graph_optim *go, const lvt_optim *o, float *params, const float *grads,
                             const float *loss) {
    go->be->ops->adamw_clipped(go->be, params, grads, o->m, o->v, o->n, go->scal, go->acc, o->hp.grad_clip, loss);
}

double lvt_graph_optim_norm(lvt_graph_optim *go) {
    double ss = 0;
    go->be->ops->to_host(go->be, &ss, go->acc, sizeof ss);
    return sqrt(ss);
}
