/* train_step.c — one optimiser step of the training loop (docs/training.md, "One optimiser step"):
 * the step's window positions cut into micro-steps and rank slices, the batch gathered on the host
 * and uploaded (or gathered on the backend), the objective with its cross-rank statistics, the
 * gradient all-reduce, clipping and AdamW. The test fault hook (trainer.fault_nan_step) poisons
 * one input value here. */
#include <math.h>
#include <string.h>

#include "train_priv.h"

static void upload_batch(trainer *t, int n) {
    const lvt_ops *o = t->be->ops;
    const int L = t->hb.L, D = t->hb.D, H = t->hb.H;
    o->to_device(t->be, t->d_ctx, t->hb.ctx, sizeof(float) * (size_t)n * L * D);
    o->to_device(t->be, t->d_target, t->hb.target, sizeof(float) * (size_t)n * D);
    o->to_device(t->be, t->d_fut, t->hb.fut, sizeof(float) * (size_t)n * 2 * D);
    o->to_device(t->be, t->d_futm, t->hb.fut_mask, sizeof(float) * (size_t)n * 2);
    o->to_device(t->be, t->d_roll, t->hb.roll, sizeof(float) * (size_t)n * H * D);
    o->to_device(t->be, t->d_rollm, t->hb.roll_mask, sizeof(float) * (size_t)n * H);
}

/* Sum of the flat gradient over the ranks: MPI in place (CPU), NCCL on the backend's stream
 * (CUDA with NCCL) or staged through host memory (src/train/comm_device.c). */
static int allreduce_grads(trainer *t, lvt_err *e) {
    if (t->comm->world == 1) return LVT_OK;
    return lvt_comm_allreduce_device(t->comm, t->be, t->model.grads, t->model.n_params, LVT_COMM_SUM, 0, e);
}

/* The slice of micro-step a that this rank trains on: its epoch-order windows into t->idx.
 * Returns the rank's sample count; *world_n = samples of the micro-step over all ranks (<= 0:
 * the step has no micro-step a), *base = the dropout key's index of the rank's first sample. */
int train_micro_slice(trainer *t, const lvt_perm *perm, int64_t step_lo, int64_t m, int a, int64_t *world_n,
                      int64_t *base) {
    const int W = t->comm->world, r = t->comm->rank;
    const int64_t n = t->wtrain.n_windows, mw = (int64_t)t->micro * W;
    int64_t chunk_lo = step_lo + a * mw;
    int64_t cm = step_lo + m - chunk_lo;
    if (cm > mw) cm = mw;
    *world_n = cm;
    if (cm <= 0) return 0;
    int64_t q = cm / W, rem = cm % W;
    int64_t my_lo = chunk_lo + r * q + (r < rem ? r : rem);
    int my_n = (int)(q + (r < rem ? 1 : 0));
    if (t->sharded) {
        /* the shard's own order; positions wrap so shorter shards repeat a few windows. The
         * dropout key's sample index stays unique: rank in the high bits. */
        int64_t lpos = ((int64_t)t->step_in_epoch * t->accum + a) * t->micro;
        for (int i = 0; i < my_n; i++) t->idx[i] = (int64_t)lvt_perm_apply(perm, (uint64_t)((lpos + i) % n));
        my_lo = ((int64_t)r << 40) + lpos;
    } else {
        for (int i = 0; i < my_n; i++) t->idx[i] = (int64_t)lvt_perm_apply(perm, (uint64_t)(my_lo + i));
    }
    *base = my_lo;
    return my_n;
}

/* The test fault hook: true once, on the first micro-step with samples of global step
 * fault_nan_step. */
int train_fault_fires(trainer *t, int my_n) {
    if (my_n <= 0 || t->fault_nan_step < 0 || t->fault_nan_done || t->global_step != t->fault_nan_step) return 0;
    t->fault_nan_done = !t->fault_nan_repeat;
    return 1;
}

/* The rank's my_n windows of t->idx into backend memory: gathered on the backend when the store
 * lives there (only the indices travel), else gathered on the host and uploaded. */
static int load_batch(trainer *t, int my_n, lvt_loss_batch *lb, lvt_err *e) {
    *lb = (lvt_loss_batch){my_n, t->d_ctx, t->d_target, t->d_fut, t->d_futm, t->d_roll, t->d_rollm, t->hcap};
    if (my_n <= 0) return LVT_OK;
    const int poison = train_fault_fires(t, my_n);
    if (t->use_devdata) {
        if (lvt_devbatch_set_indices(&t->db, &t->dtrain, t->idx, my_n, e) ||
            lvt_devbatch_gather(&t->db, &t->dtrain, my_n, e))
            return LVT_ERROR;
        if (poison) {
            float nan = NAN;
            t->be->ops->to_device(t->be, t->db.ctx, &nan, sizeof nan);
        }
        *lb = (lvt_loss_batch){my_n, t->db.ctx, t->db.target, t->db.fut, t->db.fut_mask, t->db.roll,
                               t->db.roll_mask, t->hcap};
        return LVT_OK;
    }
    lvt_batch_gather(&t->hb, &t->train, &t->wtrain, t->idx, my_n);
    if (poison) t->hb.ctx[0] = NAN;
    upload_batch(t, my_n);
    return LVT_OK;
}

int train_step(trainer *t, const lvt_objective_cfg *obj, const lvt_perm *perm, step_out *so, lvt_err *e) {
    if (t->graph) return train_graph_step(t, obj, perm, so, e); /* the CUDA-graph step */
    const lvt_config *c = t->cfg;
    const int64_t n = t->wtrain.n_windows, G = c->train.global_batch;
    const int64_t step_lo = (int64_t)t->step_in_epoch * G;
    /* replicate: the step owns positions [step_lo, step_lo + m) of the global order; articles:
     * every rank takes micro x accum positions of its own shard's order each step (full steps) */
    const int64_t m = t->sharded ? G : ((n - step_lo) < G ? (n - step_lo) : G);
    memset(so, 0, sizeof *so);
    lvt_model_zero_grad(&t->model);
    for (int a = 0; a < t->accum; a++) {
        int64_t cm = 0, base = 0;
        int my_n = train_micro_slice(t, perm, step_lo, m, a, &cm, &base);
        if (cm <= 0) break;
        lvt_loss_batch lb;
        if (load_batch(t, my_n, &lb, e)) return LVT_ERROR;
        lvt_loss_norm norm = {m, cm};
        lvt_dropout_key key = {c->train.seed, (uint64_t)t->global_step, 0, base, (float)c->model.dropout};
        if (lvt_loss_step(&t->loss, &t->model, obj, &lb, &norm, &key, 1, 1, e)) return LVT_ERROR;
        float tv[LVT_TERM_COUNT];
        lvt_loss_read(&t->loss, tv);
        for (int k = 0; k < LVT_TERM_COUNT; k++) so->terms[k] += tv[k];
    }
    so->terms[LVT_TERM_LAMBDA_EFF] /= t->accum;
    if (allreduce_grads(t, e)) return LVT_ERROR;
    double lam = so->terms[LVT_TERM_LAMBDA_EFF];
    if (lvt_comm_allreduce_f64(t->comm, so->terms, LVT_TERM_COUNT, LVT_COMM_SUM, e)) return LVT_ERROR;
    so->terms[LVT_TERM_LAMBDA_EFF] = lam;
    so->samples = m;
    so->term_samples = m;
    so->finite = isfinite(so->terms[LVT_TERM_TOTAL]);
    if (!so->finite) return LVT_OK; /* no update from a non-finite loss */
    so->grad_norm = lvt_optim_step(&t->opt, t->model.params, t->model.grads);
    so->finite = isfinite(so->grad_norm);
    return LVT_OK;
}
