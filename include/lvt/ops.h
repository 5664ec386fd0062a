/* ops.h — the backend interface, the only seam between the numeric code and a backend: every
 * primitive the model, the losses, the optimiser and 5CAT need, and the optional capabilities of
 * a device backend (graph capture, the resident store's gather, the collective all-reduce), each
 * an entry that is NULL where the backend lacks it. Model and loss math is written once over
 * this table; the CPU backend (src/cpu/) and the CUDA backend (cuda/) implement it, and only the
 * backend registry (src/model/ops.c) knows which backends exist. All matrices are row-major;
 * every float pointer lives in the backend's memory (host for cpu, device for cuda). */
#ifndef LVT_OPS_H
#define LVT_OPS_H

#include "lvt/comm.h"
#include "lvt/common.h"
#include "lvt/elementwise.h" /* lvt_vmap_op, lvt_adamw_scalars and the element math */

typedef struct lvt_backend lvt_backend;
struct lvt_devdata;
struct lvt_devbatch;

/* GEMM precision of a backend (the CPU always computes in fp32). */
typedef enum { LVT_MATH_FP32 = 0, LVT_MATH_TF32 = 1, LVT_MATH_BF16 = 2 } lvt_math;

/* What context_drop puts in the last context row of a dropped sample. */
typedef enum lvt_context_drop_mode {
    LVT_CONTEXT_DROP_NOISE = 0, /* a unit-norm Gaussian row */
    LVT_CONTEXT_DROP_ZERO = 1,  /* zeros */
    LVT_CONTEXT_DROP_MEAN = 2   /* the mean of the other context rows */
} lvt_context_drop_mode;

/* Key of a dropout mask (docs/model.md): element e of the sample at global position sample_base + s
 * keeps with probability 1-p, drawn as lvt_rng_unit(seed, step, site, sample_base + s, e). */
typedef struct lvt_dropout_key {
    uint64_t seed;
    uint64_t step;
    uint32_t site;
    int64_t sample_base;
    float p;
} lvt_dropout_key;

/* Bytes of the unique id a collective communicator is made from (ncclUniqueId). */
#define LVT_COLL_ID_BYTES 128

typedef struct lvt_ops {
    const char *name;
    /* 1 when the backend's memory is host memory (MPI reduces it in place), else 0 */
    int host_memory;
    /* release the backend and everything it holds (lvt_backend_destroy) */
    void (*destroy)(lvt_backend *be);

    /* ---- memory ---- */
    void *(*alloc)(lvt_backend *be, size_t bytes, lvt_err *e); /* zero-filled */
    void (*free)(lvt_backend *be, void *p);
    void (*zero)(lvt_backend *be, void *p, size_t bytes);
    void (*to_device)(lvt_backend *be, void *dst, const void *src_host, size_t bytes);
    void (*to_host)(lvt_backend *be, void *dst_host, const void *src, size_t bytes);
    void (*copy)(lvt_backend *be, void *dst, const void *src, size_t bytes);
    void (*sync)(lvt_backend *be);

    /* ---- dense algebra ---- */
    /* C[M,N] = alpha * op(A) @ op(B) + beta * C; op(A) is M x K, op(B) is K x N. */
    void (*gemm)(lvt_backend *be, int trans_a, int trans_b, int M, int N, int K, float alpha,
                 const float *A, int lda, const float *B, int ldb, float beta, float *C, int ldc);
    /* y[o*inner + j] += t[j]  (bias add, positional encoding) */
    void (*add_bcast)(lvt_backend *be, float *y, const float *t, int outer, int inner);
    /* dt[j] += sum_o dy[o*inner + j]  (bias gradient) */
    void (*sum_bcast)(lvt_backend *be, const float *dy, float *dt, int outer, int inner);
    /* 2-D copy of M rows of N floats with leading dimensions. */
    void (*copy_rows)(lvt_backend *be, float *dst, int ldd, const float *src, int lds, int M,
                      int N);
    /* y = a + b (elementwise, y may alias a or b) */
    void (*add)(lvt_backend *be, const float *a, const float *b, float *y, size_t n);
    /* y += alpha * x */
    void (*axpy)(lvt_backend *be, float alpha, const float *x, float *y, size_t n);
    /* x *= alpha */
    void (*scale)(lvt_backend *be, float *x, float alpha, size_t n);

    /* ---- normalisation ---- */
    /* y = (x - mean)/sqrt(var + eps) * g + b per row of N; saves mean, rstd [M]. */
    void (*layernorm_fwd)(lvt_backend *be, const float *x, const float *g, const float *b, float *y,
                          float *mean, float *rstd, int M, int N, float eps);
    /* dx overwritten; dg, db accumulated. */
    void (*layernorm_bwd)(lvt_backend *be, const float *dy, const float *x, const float *mean,
                          const float *rstd, const float *g, float *dx, float *dg, float *db, int M,
                          int N);
    /* y = x / max(||x||, eps) per row; norms[M] saved (the unclamped norm). */
    void (*l2norm_fwd)(lvt_backend *be, const float *x, float *y, float *norms, int M, int N,
                       float eps);
    /* dx overwritten, from dy, x and the saved norms. */
    void (*l2norm_bwd)(lvt_backend *be, const float *dy, const float *x, const float *norms,
                       float *dx, int M, int N, float eps);

    /* ---- activations ---- */
    void (*relu_fwd)(lvt_backend *be, const float *x, float *y, size_t n);
    void (*relu_bwd)(lvt_backend *be, const float *dy, const float *x, float *dx, size_t n);
    void (*gelu_fwd)(lvt_backend *be, const float *x, float *y, size_t n); /* exact, erf */
    void (*gelu_bwd)(lvt_backend *be, const float *dy, const float *x, float *dx, size_t n);

    /* ---- dropout ---- */
    /* x viewed as [n_samples, per_sample]; y = x * keep / (1-p); mask[n_samples*per_sample]
     * records keep (1) / drop (0). p == 0 copies x and sets mask to 1. */
    void (*dropout_fwd)(lvt_backend *be, const float *x, float *y, uint8_t *mask, int n_samples,
                        int per_sample, const lvt_dropout_key *key);
    void (*dropout_bwd)(lvt_backend *be, const float *dy, const uint8_t *mask, float *dx, size_t n,
                        float p);

    /* ---- attention, fused per (batch, head); Lk up to 1024 (data.context_len) ---- */
    /* q: row (b*Lq + i), columns [h*hd, (h+1)*hd) with leading dim ldq; k, v likewise with Lk.
     * out[b*Lq+i, h*hd + c] = sum_j P[b,h,i,j] v[b*Lk+j, h*hd+c] where
     * P = dropout(softmax(q k^T / sqrt(hd) + causal mask)). probs [B,H,Lq,Lk] saves the softmax
     * (before dropout); drop_mask [B,H,Lq,Lk] the attention-dropout mask when key != NULL
     * (keyed per sample with per_sample = H*Lq*Lk). */
    void (*attention_fwd)(lvt_backend *be, const float *q, int ldq, const float *k, int ldk,
                          const float *v, int ldv, float *out, int ldo, float *probs,
                          uint8_t *drop_mask, int B, int Lq, int Lk, int H, int hd, int causal,
                          const lvt_dropout_key *key);
    /* dq, dk, dv overwritten in the head columns [0, H*hd); they have the layouts of q, k, v
     * (leading dims ldq, ldk, ldv), so they may be column slices of one fused dqkv buffer.
     * drop_mask may be NULL (or drop_p 0) when the forward ran without dropout. */
    void (*attention_bwd)(lvt_backend *be, const float *dout, int ldo, const float *q, int ldq,
                          const float *k, int ldk, const float *v, int ldv, const float *probs,
                          const uint8_t *drop_mask, float drop_p, float *dq, float *dk, float *dv,
                          int B, int Lq, int Lk, int H, int hd);

    /* ---- row-wise reductions and reductions to the host ---- */
    /* out[m] = <a_m, b_m> over N columns. */
    void (*dot_rows)(lvt_backend *be, const float *a, int lda, const float *b, int ldb, float *out,
                     int M, int N);
    /* sum of x[0..n) as double on the host (synchronises). */
    double (*sum)(lvt_backend *be, const float *x, size_t n);
    /* sum of squares of x[0..n) as double on the host (global norm). */
    double (*sumsq)(lvt_backend *be, const float *x, size_t n);

    /* ---- optimiser ---- */
    /* AdamW (decoupled weight decay) over a flat buffer; g is multiplied by grad_scale first
     * (global-norm clipping). t is the 1-based step for bias correction. Exactly
     * torch.optim.AdamW: scalar factors in double with the betas widened by lvt_float_decimal
     * (below), tensor math in fp32; see docs/ops.md. */
    void (*adamw)(lvt_backend *be, float *p, const float *g, float *m, float *v, size_t n, float lr,
                  float beta1, float beta2, float eps, float weight_decay, long t,
                  float grad_scale);
    /* ---- per-sample vector helpers for the P4 objective (n = batch, backend memory) ---- */
    /* y[i] = f(a[i], b[i*b_stride], c[i]); see lvt_vmap_op. b or c may be NULL where the op
     * allows (NULL b reads as 0, NULL c as 1). b_stride 0 broadcasts a backend scalar b[0]. */
    void (*vmap)(lvt_backend *be, lvt_vmap_op op, const float *a, const float *b, int b_stride,
                 const float *c, float s0, float s1, float *y, int n);
    /* out[0] = scale * sum(x[0..n)) written in backend memory (no host synchronisation);
     * n = 0 writes 0. */
    void (*reduce_sum)(lvt_backend *be, const float *x, int n, float scale, float *out);
    /* y[m, :] += alpha * coef[m*coef_stride] * x[m, :]  (coef_stride 0: one backend scalar;
     * coef NULL reads as 1). A row whose factor is exactly 0 is left untouched, also when x
     * holds non-finite values there (masked samples). */
    void (*scale_rows_add)(lvt_backend *be, const float *coef, int coef_stride, float alpha,
                           const float *x, int ldx, float *y, int ldy, int M, int N);
    /* Context drop (docs/loss.md): for sample s (global index g = key->sample_base + s) with
     * lvt_rng_unit(seed, step, LVT_SITE_CONTEXT_DROP, g, 0) < key->p, the last context row
     * (row L-1) is replaced by noise, zeros, or the mean of rows 0..L-2 (not renormalised), as
     * mode says. ctx is [B, L, D]; key->site is not used. Noise (Box-Muller, float math):
     * for even j, u1 = max(unit(seed, step, LVT_SITE_CONTEXT_NOISE, g, j), 1e-7),
     * u2 = unit(..., g, j + 1), r = sqrt(-2 ln u1); row[j] = r cos(2π u2) and, when j + 1 < D,
     * row[j + 1] = r sin(2π u2) (lvt_context_noise_pair); then the row is divided by its L2 norm
     * (computed in double). */
    void (*context_drop)(lvt_backend *be, float *ctx, int B, int L, int D,
                         const lvt_dropout_key *key, lvt_context_drop_mode mode);

    /* ---- the optimiser step with its per-step values in backend memory (graph.h) ---- */
    /* norm_sq[0] = sum of squares of g[0..n) (a double in backend memory); then, unless
     * sqrt(norm_sq[0]) or loss[0] (a backend scalar; NULL: not checked) is not finite, the AdamW
     * update of ops->adamw with the scalars *sc (backend memory) and
     * grad_scale = (float)lvt_clip_coef(sqrt(norm_sq[0]), max_norm). No host synchronisation,
     * so it can be captured in a graph. */
    void (*adamw_clipped)(lvt_backend *be, float *p, const float *g, float *m, float *v, size_t n,
                          const lvt_adamw_scalars *sc, double *norm_sq, double max_norm,
                          const float *loss);

    /* ==== optional entries: NULL where the backend lacks the capability ==== */

    /* ---- constant operands ---- */
    /* Declare [p, p + bytes) unchanged until the next call (p NULL: nothing): a GEMM whose op(B)
     * lies inside may keep its packed form and reuse it (the CPU backend's bf16 GEMM, docs/bench.md
     * "bf16 on AMX"). lvt_loss_step brackets its forward and backward with the parameters. */
    void (*const_window)(lvt_backend *be, const void *p, size_t bytes);

    /* ---- graph capture and replay (include/lvt/graph.h; the CUDA backend) ---- */
    /* Start recording everything enqueued on the backend; keyed draws recorded from now on take
     * step = key.step - ref_step + (replayed step) and likewise the sample base. */
    int (*graph_begin)(lvt_backend *be, uint64_t ref_step, int64_t ref_base, lvt_err *e);
    /* Stop recording and instantiate into *graph (backend-private); nothing is left recording. */
    int (*graph_end)(lvt_backend *be, void **graph, lvt_err *e);
    /* Launch the graph (asynchronous) with the keyed draws of step / sample_base. */
    int (*graph_replay)(lvt_backend *be, void *graph, uint64_t step, int64_t sample_base,
                        lvt_err *e);
    void (*graph_destroy)(lvt_backend *be, void *graph);

    /* ---- the backend-resident store's gather (include/lvt/devdata.h) ---- */
    /* Assemble b's first n samples from the window indices b->idx and the store dd, both in
     * backend memory, with exactly the layout and masks of lvt_batch_gather (asynchronous,
     * capturable). NULL: the backend keeps no resident store (lvt_devdata_upload refuses). */
    void (*batch_gather)(lvt_backend *be, const struct lvt_devdata *dd, struct lvt_devbatch *b,
                         int n);
    /* Staging of window indices, so that lvt_devbatch_set_indices does not wait for the device
     * (CUDA: two pinned buffers used in turn). NULL: indices go up with to_device. */
    int (*index_stage_create)(lvt_backend *be, void **stage, int cap, lvt_err *e);
    void (*index_stage_destroy)(lvt_backend *be, void *stage);
    /* idx[0..n) (host) -> dst (backend memory) through the staging, ordered on the backend. */
    int (*index_upload)(lvt_backend *be, void *stage, int64_t *dst, const int64_t *idx, int n,
                        lvt_err *e);

    /* ---- collective all-reduce of backend buffers across ranks (include/lvt/comm.h; NCCL) ---- */
    /* NULL: lvt_comm_allreduce_device reduces host memory with MPI (host_memory) or stages
     * device buffers through the host. coll_unique_id runs on rank 0; the id
     * (LVT_COLL_ID_BYTES) reaches the other ranks by lvt_comm_bcast before coll_create, which
     * is collective. coll_allreduce is in place, ordered on the backend's stream; avg divides
     * by the world (LVT_COMM_SUM only). */
    int (*coll_unique_id)(lvt_backend *be, void *id, lvt_err *e);
    int (*coll_create)(lvt_backend *be, void **coll, const void *id, int rank, int world,
                       lvt_err *e);
    int (*coll_allreduce)(lvt_backend *be, void *coll, float *buf, size_t n, lvt_comm_op op,
                          int avg, lvt_err *e);
    /* Wait until the work on the backend's stream (all-reduces included) has finished, polling
     * the collective's asynchronous error state: a failed peer or a timeout (NCCL:
     * LVT_NCCL_TIMEOUT_S, default 600 s) aborts the communicator and returns an error instead
     * of hanging. An eager coll_allreduce waits by itself; one recorded in a graph is waited
     * for with this after the replay. */
    int (*coll_wait)(lvt_backend *be, void *coll, lvt_err *e);
    void (*coll_destroy)(lvt_backend *be, void *coll);
} lvt_ops;


/* GEMM accounting (lvt bench): while a backend's gemm_count is set, the CPU backend adds every
 * gemm call's wall seconds, FLOPs (2 M N K) and one call to it. The CUDA backend's GEMMs are
 * asynchronous and are not counted. */
typedef struct lvt_gemm_count {
    double seconds, flops;
    long calls;
} lvt_gemm_count;

struct lvt_backend {
    const lvt_ops *ops;
    lvt_math math;
    int device;   /* GPU ordinal, -1 for the CPU */
    void *impl;   /* backend-private state */
    lvt_gemm_count *gemm_count; /* NULL: not counting (see lvt_gemm_count) */
};

/* The backend registry (src/model/ops.c). name: "cpu", "cuda" or "auto" (cuda when a device is
 * usable, else cpu). device: the GPU ordinal (taken modulo the device count; ignored by cpu). */
int lvt_backend_create(lvt_backend **out, const char *name, int device, lvt_math math, lvt_err *e);
/* be->ops->destroy(be); NULL is a no-op. */
void lvt_backend_destroy(lvt_backend *be);

/* The precision the backend's GEMMs really run in, one line for logs ("GEMMs in bf16 on AMX, ...",
 * or why train.math bf16 fell back to fp32 on this CPU), and as an lvt_math: the CPU backend
 * computes fp32 except for bf16 on a CPU with AMX-BF16 (docs/bench.md, "bf16 on AMX"). */
void lvt_backend_math_describe(const lvt_backend *be, char *buf, size_t len);
int lvt_backend_gemm_math(const lvt_backend *be);
/* "fp32", "tf32", "bf16" ("?" for anything else). */
const char *lvt_math_name(int math);

/* CPU threads per process for the CPU backend's kernels (OpenMP) and GEMMs (OpenBLAS).
 * n <= 0 picks the default: the OMP_NUM_THREADS / OPENBLAS_NUM_THREADS environment when set,
 * else the CPUs of the process's affinity mask (online cores without one) / ranks_per_node (at
 * least 1), so ranks sharing a node do not oversubscribe it. Returns the count in force. */
int lvt_cpu_threads_init(int n, int ranks_per_node);

/* "2 CPU threads per rank (2 usable CPUs / 1 rank on this node), OpenMP wait policy PASSIVE (set
 * by lvt)": the count, why, and the wait policy (docs/bench.md, "Contention"). */
void lvt_cpu_threads_describe(char *buf, size_t len, int threads, int ranks_per_node);

/* The number of usable CUDA devices: 0 in a build without the CUDA backend, or when the
 * runtime or driver reports an error (the registry answers; no caller needs the build's macros). */
int lvt_cuda_devices(void);
/* What the CUDA runtime says, for callers that must tell "no GPU here" from "a GPU that does not
 * work" (docs/cuda.md, "Which errors skip"): > 0 the device count; 0 no usable GPU — a build
 * without CUDA, cudaErrorNoDevice, or no driver installed at all (cudaErrorInsufficientDriver
 * with driver version 0) — with the reason in e; LVT_ERROR (< 0) any other error, e.g. a driver
 * older than the runtime, described in e. With LVT_CUDA_REQUIRE=1 in the environment "no usable
 * GPU" is an error too (scripts/gpu-check.sh sets it: on a GPU machine nothing may skip). */
int lvt_cuda_probe(lvt_err *e);
/* True when this build has the CUDA backend and a device is usable (lvt_cuda_devices() > 0). */
int lvt_cuda_available(void);

/* The shortest decimal (at most 9 significant digits) that rounds to the float x, as a double:
 * the value a JSON config or a Python literal held before it was narrowed to float. adamw
 * forms 1 - beta and beta^t from lvt_float_decimal(beta), as torch does from the double beta
 * (from the float, 1 - 0.999f is off by 1.3e-5 relative). Host function, for both backends. */
double lvt_float_decimal(float x);

/* The AdamW scalars (elementwise.h) of step t (1-based) for the float hyperparameters that
 * ops->adamw receives: the betas widened by lvt_float_decimal, 1 - β^t, lr / bc1, sqrt(bc2),
 * 1 - lr*wd, 1 - β in double, each rounded to float once (docs/ops.md, AdamW). ops->adamw
 * forms exactly these; the graph optimiser writes them to backend memory. Host function. */
lvt_adamw_scalars lvt_adamw_scalars_for(float lr, float beta1, float beta2, float eps,
                                        float weight_decay, long t);

#endif
