/* graph.h — capture and replay of a training step as a CUDA graph (docs/cuda.md). Everything the
 * backend enqueues between lvt_graph_begin and lvt_graph_end is recorded once and replayed by
 * lvt_graph_replay with one launch. Keyed random draws (dropout, attention dropout, context
 * drop) inside the graph take their step and sample base from device memory that replay sets,
 * so a replay at step s draws exactly the masks an eager step s would.
 *
 * Rules for the captured region: no op that returns a value to the host or synchronises
 * (to_host, sum, sumsq, sync, lvt_loss_read, lvt_devbatch_set_indices), no allocation; warm up
 * with one eager run of the same shapes first (first-use allocations such as cuBLAS or BF16
 * staging happen there). Host values passed to ops (shapes, lr, t, grad_scale, key.seed,
 * key.site, key.p, loss normalisation) are frozen into the graph: capture again when any of
 * them changes. Graphs are the optional graph_* entries of the backend's ops table (ops.h; the
 * CUDA backend has them); on a backend without them (the CPU) begin returns an error. */
#ifndef LVT_GRAPH_H
#define LVT_GRAPH_H

#include "lvt/common.h"
#include "lvt/ops.h"
#include "lvt/optim.h"

typedef struct lvt_graph lvt_graph;

/* 1 when be can capture graphs (its ops table has the graph entries), else 0. */
int lvt_graph_available(const lvt_backend *be);

/* Start capturing be's stream. ref_step, ref_base: the key step and sample base the captured
 * ops are called with; at replay a key with step ref_step + k draws as step `step` + k. */
int lvt_graph_begin(lvt_backend *be, uint64_t ref_step, int64_t ref_base, lvt_err *e);

/* Stop capturing and instantiate. On error nothing is left capturing. */
int lvt_graph_end(lvt_backend *be, lvt_graph **out, lvt_err *e);

/* Launch the graph on the backend stream (asynchronous) with the keyed draws of `step` and
 * sample base `sample_base`. */
int lvt_graph_replay(lvt_graph *g, uint64_t step, int64_t sample_base, lvt_err *e);

void lvt_graph_destroy(lvt_graph *g);

/* ---- the capture policy of a training loop -----------------------------------------------------
 * A cache holds at most one graph, for one signature (a hash of everything frozen into it:
 * batch size, rollout H, the resolved objective, the loss normalisation; see lvt_graph_sig).
 * lvt_graph_cache_run(gc, sig, step, base, fn, ctx): the first call with a new signature runs
 * fn eagerly (the warm-up: first-use allocations happen there); the second captures fn once and
 * replays it for that step; later calls only replay. A new signature drops the graph and starts
 * over. fn must enqueue the same work for the same signature, its keyed draws at (step, base)
 * as passed here, and nothing that synchronises. Without graphs (CPU backend, enabled 0, or
 * after a failed capture, which is reported in gc->note and falls back to eager for good) every
 * call runs fn eagerly. */
typedef int (*lvt_graph_fn)(void *ctx, lvt_err *e);

typedef struct lvt_graph_cache {
    lvt_backend *be;
    int enabled;
    uint64_t sig;   /* signature of the cached graph / of the last warm-up */
    int warm;       /* an eager run with sig has been done */
    lvt_graph *graph;
    long n_eager, n_captures, n_replays;
    char note[256]; /* why graphs were switched off, if they were */
} lvt_graph_cache;

void lvt_graph_cache_init(lvt_graph_cache *gc, lvt_backend *be, int enabled);
void lvt_graph_cache_free(lvt_graph_cache *gc);
int lvt_graph_cache_run(lvt_graph_cache *gc, uint64_t sig, uint64_t step, int64_t sample_base, lvt_graph_fn fn,
                        void *ctx, lvt_err *e);
/* FNV-1a over n bytes, chained from h (start with 0): for building signatures field by field
 * (hash fields, not whole structs, whose padding bytes are unspecified). */
uint64_t lvt_graph_sig(uint64_t h, const void *p, size_t n);

/* ---- the optimiser step inside a graph -------------------------------------------------------
 * lvt_optim_step reads the global norm on the host and passes lr / t / grad_scale as host values,
 * which a graph would freeze. This is the same step with everything per-step in device memory:
 *   before each launch (host, not capturable):  lvt_graph_optim_prepare(go, o)
 *       advances o exactly as lvt_optim_step does (t += 1, then lvt_optim_schedule_step) and
 *       writes this step's AdamW scalars (lvt_adamw_scalars_for at o->lr before the schedule
 *       moves, and t) to backend memory;
 *   in the captured step (capturable):          lvt_graph_optim_enqueue(go, o, params, grads, loss)
 *       ops->adamw_clipped: norm = sqrt(sum grads^2) in backend memory, scale =
 *       lvt_clip_coef(norm, grad_clip), AdamW (torch semantics, the element update of
 *       ops->adamw); when loss (a backend scalar, e.g. the loss's LVT_TERM_TOTAL) is given and
 *       is not finite, or the norm is not finite, params and moments are left untouched;
 *   when needed (synchronises):                 lvt_graph_optim_norm(go) = the last norm.
 * On a backend without graphs the same calls run eagerly through ops. */
typedef struct lvt_graph_optim lvt_graph_optim;

int lvt_graph_optim_create(lvt_graph_optim **out, lvt_backend *be, lvt_err *e);
void lvt_graph_optim_destroy(lvt_graph_optim *go);
void lvt_graph_optim_prepare(lvt_graph_optim *go, lvt_optim *o);
void lvt_graph_optim_enqueue(lvt_graph_optim *go, const lvt_optim *o, float *params, const float *grads,
                             const float *loss);
double lvt_graph_optim_norm(lvt_graph_optim *go);

#endif
