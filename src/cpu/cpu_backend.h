/* cpu_backend.h — private: construction of the CPU implementation of ops (src/cpu/), for the
 * backend registry (src/model/ops.c), and the kernels each src/cpu/ file contributes to its
 * function table (cpu_backend.c). */
#ifndef LVT_CPU_BACKEND_H
#define LVT_CPU_BACKEND_H

#include "lvt/ops.h"

int lvt_cpu_backend_create(lvt_backend **out, lvt_math math, lvt_err *e);

/* Longest key sequence the fused CPU attention handles (one row of scores on the stack). */
#define LVT_CPU_ATTN_MAX_LK 1024

/* cpu_rng.c: w[i] = lvt_rng_u32(seed, step, site, sample, e0 + i) for i in [0, n), batched */
void cpu_rng_words(uint64_t seed, uint64_t step, uint32_t site, uint64_t sample, uint64_t e0,
                   int n, uint32_t *w);

/* Packed op(B) kept while it lies in the constant window (cpu_const_window): at most this many
 * per window (the reference model's step packs 2 per weight matrix: 26 + 2 for the head). */
#define CPU_PACKED_B_MAX 96

/* Backend-private state (be->impl): the bf16 GEMM's availability and its packing workspace,
 * grown on demand (the first step of a shape; never inside later steps), and the packed weights
 * of the current step (docs/bench.md, "bf16 on AMX"). */
typedef struct cpu_impl {
    int amx;          /* train.math = bf16 and cpu_amx_probe said yes */
    char why[128];    /* what the probe found (the describe line) */
    void *ws;         /* packed bf16 operands of the current GEMM */
    size_t ws_bytes;
    const char *cw_lo, *cw_hi; /* the constant window [lo, hi); NULL: none */
    struct cpu_packed_b {
        const float *B;
        int tb, K, N, ldb;
        size_t off;   /* into pbuf, in bf16 elements */
    } pb[CPU_PACKED_B_MAX];
    int npb;
    uint16_t *pbuf;   /* the packed operands of the window, 64-byte aligned; kept between windows */
    size_t pbuf_elems, pbuf_used;
} cpu_impl;

/* cpu_backend.c: ops->const_window, and op(B) of a bf16 GEMM packed once per window: the cached
 * packing when B (tb, N x K, ldb) lies inside the window, else NULL (the GEMM packs it). */
void cpu_const_window(lvt_backend *be, const void *p, size_t bytes);
const uint16_t *cpu_amx_cached_b(cpu_impl *im, int tb, int N, int K, const float *B, int ldb);

/* The AMX bf16 GEMM (docs/bench.md, "bf16 on AMX"). cpu_backend.c: the probe, 1 when this
 * build has the GEMM and the CPU, the OS and the kernel allow AMX-BF16 (it asks the kernel for
 * the tile state), else 0 with the reason; the workspace the GEMM needs. cpu_amx.c: the GEMM,
 * and whether it was built with the AMX instruction sets. */
int cpu_amx_probe(char *why, size_t len);
/* The packed layout both share: 16-row (op(A)) and 16-column (op(B)) tiles, counted in pairs
 * (the GEMM computes 32 x 32 blocks), by 32 of K; 512 bf16 per tile. Op(A)'s tiles come first. */
#define CPU_AMX_TILES16(n) (((n) + 31) / 32 * 2)
#define CPU_AMX_KTILES(k) (((k) + 31) / 32)
#define CPU_AMX_TILE_ELEMS 512
/* bf16 elements of one packed operand with n rows (op(A)) or columns (op(B)) and k of K */
#define CPU_AMX_PACKED_ELEMS(n, k) ((size_t)CPU_AMX_TILES16(n) * CPU_AMX_KTILES(k) * CPU_AMX_TILE_ELEMS)
size_t cpu_amx_workspace(int M, int N, int K);
extern const int cpu_amx_built;
/* bp: op(B) already packed (cpu_amx_pack_b), or NULL to pack it into ws after op(A) */
void cpu_amx_gemm(int ta, int tb, int M, int N, int K, float alpha, const float *A, int lda, const float *B,
                  int ldb, float beta, float *C, int ldc, void *ws, const uint16_t *bp);
void cpu_amx_pack_b(const float *B, int ldb, int tb, int K, int N, uint16_t *dst);

/* cpu_dense.c */
void cpu_gemm(lvt_backend *be, int trans_a, int trans_b, int M, int N, int K, float alpha,
              const float *A, int lda, const float *B, int ldb, float beta, float *C, int ldc);
void cpu_add_bcast(lvt_backend *be, float *y, const float *t, int outer, int inner);
void cpu_sum_bcast(lvt_backend *be, const float *dy, float *dt, int outer, int inner);
void cpu_copy_rows(lvt_backend *be, float *dst, int ldd, const float *src, int lds, int M, int N);
void cpu_add(lvt_backend *be, const float *a, const float *b, float *y, size_t n);
void cpu_axpy(lvt_backend *be, float alpha, const float *x, float *y, size_t n);
void cpu_scale(lvt_backend *be, float *x, float alpha, size_t n);
void cpu_dot_rows(lvt_backend *be, const float *a, int lda, const float *b, int ldb, float *out,
                  int M, int N);
double cpu_sum(lvt_backend *be, const float *x, size_t n);
double cpu_sumsq(lvt_backend *be, const float *x, size_t n);
void cpu_adamw(lvt_backend *be, float *p, const float *g, float *m, float *v, size_t n, float lr,
               float beta1, float beta2, float eps, float weight_decay, long t, float grad_scale);
void cpu_adamw_clipped(lvt_backend *be, float *p, const float *g, float *m, float *v, size_t n,
                       const lvt_adamw_scalars *sc, double *norm_sq, double max_norm,
                       const float *loss);

/* cpu_norm.c: normalisation, activations, dropout */
void cpu_layernorm_fwd(lvt_backend *be, const float *x, const float *g, const float *b, float *y,
                       float *mean, float *rstd, int M, int N, float eps);
void cpu_layernorm_bwd(lvt_backend *be, const float *dy, const float *x, const float *mean,
                       const float *rstd, const float *g, float *dx, float *dg, float *db, int M,
                       int N);
void cpu_l2norm_fwd(lvt_backend *be, const float *x, float *y, float *norms, int M, int N,
                    float eps);
void cpu_l2norm_bwd(lvt_backend *be, const float *dy, const float *x, const float *norms,
                    float *dx, int M, int N, float eps);
void cpu_relu_fwd(lvt_backend *be, const float *x, float *y, size_t n);
void cpu_relu_bwd(lvt_backend *be, const float *dy, const float *x, float *dx, size_t n);
void cpu_gelu_fwd(lvt_backend *be, const float *x, float *y, size_t n);
void cpu_gelu_bwd(lvt_backend *be, const float *dy, const float *x, float *dx, size_t n);
void cpu_dropout_fwd(lvt_backend *be, const float *x, float *y, uint8_t *mask, int n_samples,
                     int per_sample, const lvt_dropout_key *key);
void cpu_dropout_bwd(lvt_backend *be, const float *dy, const uint8_t *mask, float *dx, size_t n,
                     float p);

/* cpu_attention.c */
void cpu_attention_fwd(lvt_backend *be, const float *q, int ldq, const float *k, int ldk,
                       const float *v, int ldv, float *out, int ldo, float *probs,
                       uint8_t *drop_mask, int B, int Lq, int Lk, int H, int hd, int causal,
                       const lvt_dropout_key *key);
void cpu_attention_bwd(lvt_backend *be, const float *dout, int ldo, const float *q, int ldq,
                       const float *k, int ldk, const float *v, int ldv, const float *probs,
                       const uint8_t *drop_mask, float drop_p, float *dq, float *dk, float *dv,
                       int B, int Lq, int Lk, int H, int hd);


/* cpu_loss.c — P4 objective helpers */
void cpu_vmap(lvt_backend *be, lvt_vmap_op op, const float *a, const float *b, int b_stride, const float *c,
              float s0, float s1, float *y, int n);
void cpu_reduce_sum(lvt_backend *be, const float *x, int n, float scale, float *out);
void cpu_scale_rows_add(lvt_backend *be, const float *coef, int coef_stride, float alpha, const float *x,
                        int ldx, float *y, int ldy, int M, int N);
void cpu_context_drop(lvt_backend *be, float *ctx, int B, int L, int D, const lvt_dropout_key *key,
                      lvt_context_drop_mode mode);

/* cpu_gather.c — the resident store's batch gather (ops->batch_gather; the reference the CUDA
 * kernel in cuda/gather.cu mirrors) */
void cpu_batch_gather(lvt_backend *be, const struct lvt_devdata *dd, struct lvt_devbatch *b, int n);

/* Set the OpenMP and OpenBLAS thread counts of this process; returns n. */
int lvt_cpu_set_threads(int n);

#endif
