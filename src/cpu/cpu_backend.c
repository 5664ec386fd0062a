/* cpu_backend.c — the CPU backend: construction, memory (host malloc) and the ops table that
 * gathers the kernels of cpu_dense.c, cpu_norm.c, cpu_attention.c, cpu_loss.c and cpu_gather.c.
 * The CPU computes in fp32 (sums and norms in double), except the GEMMs of train.math bf16 on a
 * CPU with AMX (the probe here, the GEMM in cpu_amx.c). Of the optional entries the CPU has the
 * resident store's gather only: no graphs, no index staging (to_device is a memcpy), no
 * collective (MPI reduces host memory in place). */
#define _GNU_SOURCE /* syscall: the AMX probe */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#if defined(__x86_64__)
#include <cpuid.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

#include "cpu_backend.h"

#include <cblas.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#define CPU_ALIGN 64

static void *cpu_alloc(lvt_backend *be, size_t bytes, lvt_err *e) {
    size_t n = (bytes + CPU_ALIGN - 1) / CPU_ALIGN * CPU_ALIGN;
    if (n == 0) n = CPU_ALIGN;
    void *p = aligned_alloc(CPU_ALIGN, n);
    if (!p) {
        lvt_errf(e, "cpu backend: out of memory allocating %zu bytes", bytes);
        return NULL;
    }
    memset(p, 0, n);
    return p;
}

static void cpu_free(lvt_backend *be, void *p) { free(p); }

/* Large zeroing and copies (the 71 MB gradient of the reference model every step) in one 64-byte
 * aligned chunk per thread: about 2x a single memset on two cores (docs/bench.md, "Profile").
 * Below 1 MB, or for overlapping copies, one call. The bytes written are the same either way. */
#define CPU_PAR_BYTES ((size_t)1 << 20)

/* This thread's share of `bytes`: 64-byte aligned chunks, one per thread; 0 when it has none. */
static int thread_chunk(size_t bytes, size_t *off, size_t *len) {
    int nt = 1, t = 0;
#ifdef _OPENMP
    nt = omp_get_num_threads();
    t = omp_get_thread_num();
#endif
    size_t chunk = (bytes / (size_t)nt + 63) / 64 * 64;
    *off = chunk * (size_t)t;
    if (*off >= bytes) return 0;
    *len = *off + chunk > bytes ? bytes - *off : chunk;
    return 1;
}

static void cpu_zero(lvt_backend *be, void *p, size_t bytes) {
    if (!bytes) return;
    if (bytes < CPU_PAR_BYTES) {
        memset(p, 0, bytes);
        return;
    }
#pragma omp parallel
    {
        size_t off, len;
        if (thread_chunk(bytes, &off, &len)) memset((char *)p + off, 0, len);
    }
}

static void cpu_memcpy(lvt_backend *be, void *dst, const void *src, size_t bytes) {
    if (!bytes || dst == src) return;
    const char *s = src;
    char *d = dst;
    if (bytes < CPU_PAR_BYTES || (d < s + bytes && s < d + bytes)) {
        memmove(dst, src, bytes);
        return;
    }
#pragma omp parallel
    {
        size_t off, len;
        if (thread_chunk(bytes, &off, &len)) memcpy(d + off, s + off, len);
    }
}

static void cpu_sync(lvt_backend *be) {}

static void cpu_destroy(lvt_backend *be) {
    cpu_impl *im = be->impl;
    if (im) {
        free(im->ws);
        free(im->pbuf);
    }
    free(im);
    free(be);
}

/* ---- the AMX probe (train.math = bf16; the GEMM is src/cpu/cpu_amx.c) ---- */

#if defined(__x86_64__)
#define ARCH_REQ_XCOMP_PERM 0x1023
#define XFEATURE_XTILEDATA 18

static uint64_t xcr0(void) {
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((uint64_t)hi << 32) | lo;
}

int cpu_amx_probe(char *why, size_t len) {
    if (!cpu_amx_built) {
        snprintf(why, len, "this lvt was built without AMX support");
        return 0;
    }
    unsigned a, b, c, d;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d) || !((d >> 22) & 1) || !((d >> 24) & 1) ||
        !((b >> 16) & 1) || !((b >> 30) & 1)) { /* AMX-BF16, AMX-TILE, AVX512F, AVX512BW */
        snprintf(why, len, "this CPU has no AMX-BF16 (cpuid)");
        return 0;
    }
    unsigned a1, b1, c1, d1;
    if (!__get_cpuid_count(7, 1, &a1, &b1, &c1, &d1) || !((a1 >> 5) & 1)) {
        snprintf(why, len, "this CPU has AMX but no AVX512-BF16 (cpuid)");
        return 0;
    }
    unsigned a0, b0, c0, d0;
    if (!__get_cpuid(1, &a0, &b0, &c0, &d0) || !((c0 >> 27) & 1)) {
        snprintf(why, len, "the OS does not enable XSAVE");
        return 0;
    }
    const uint64_t x = xcr0(), need = (1u << 1) | (1u << 2) | (7u << 5) | (3u << 17);
    if ((x & need) != need) {
        snprintf(why, len, "the OS does not save the AVX-512/AMX tile state (XCR0 0x%llx)", (unsigned long long)x);
        return 0;
    }
    if (syscall(SYS_arch_prctl, ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA) != 0) {
        snprintf(why, len, "the kernel refused AMX tile data (arch_prctl ARCH_REQ_XCOMP_PERM)");
        return 0;
    }
    snprintf(why, len, "AMX-BF16");
    return 1;
}

#else
int cpu_amx_probe(char *why, size_t len) {
    snprintf(why, len, "AMX needs an x86-64 CPU");
    return 0;
}
#endif

/* Bytes of packed bf16 operands for an M x N x K GEMM (the layout in cpu_backend.h). */
size_t cpu_amx_workspace(int M, int N, int K) {
    return (CPU_AMX_PACKED_ELEMS(M, K) + CPU_AMX_PACKED_ELEMS(N, K)) * sizeof(uint16_t);
}

/* A new window drops every packed operand of the previous one (its memory is kept). */
void cpu_const_window(lvt_backend *be, const void *p, size_t bytes) {
    cpu_impl *im = be->impl;
    im->cw_lo = p;
    im->cw_hi = p ? (const char *)p + bytes : NULL;
    im->npb = 0;
    im->pbuf_used = 0;
}

const uint16_t *cpu_amx_cached_b(cpu_impl *im, int tb, int N, int K, const float *B, int ldb) {
    if (!im->cw_lo) return NULL;
    const float *end = B + (tb ? (size_t)(N - 1) * ldb + K : (size_t)(K - 1) * ldb + N);
    if ((const char *)B < im->cw_lo || (const char *)end > im->cw_hi) return NULL;
    for (int i = 0; i < im->npb; i++) {
        const struct cpu_packed_b *c = &im->pb[i];
        if (c->B == B && c->tb == tb && c->K == K && c->N == N && c->ldb == ldb) return im->pbuf + c->off;
    }
    if (im->npb == CPU_PACKED_B_MAX) return NULL;
    const size_t n = CPU_AMX_PACKED_ELEMS(N, K);
    if (im->pbuf_used + n > im->pbuf_elems) { /* grows in the first window of a model, then stays */
        size_t cap = im->pbuf_elems ? 2 * im->pbuf_elems : n;
        while (cap < im->pbuf_used + n) cap *= 2;
        uint16_t *nb = aligned_alloc(64, (cap * sizeof(uint16_t) + 63) / 64 * 64);
        if (!nb) return NULL; /* no memory: this GEMM packs op(B) itself */
        if (im->pbuf_used) memcpy(nb, im->pbuf, im->pbuf_used * sizeof(uint16_t));
        free(im->pbuf);
        im->pbuf = nb;
        im->pbuf_elems = cap;
    }
    uint16_t *dst = im->pbuf + im->pbuf_used;
    cpu_amx_pack_b(B, ldb, tb, K, N, dst);
    im->pb[im->npb++] = (struct cpu_packed_b){B, tb, K, N, ldb, im->pbuf_used};
    im->pbuf_used += n;
    return dst;
}

static const lvt_ops cpu_ops = {
    .name = "cpu",
    .host_memory = 1,
    .destroy = cpu_destroy,
    .alloc = cpu_alloc,
    .free = cpu_free,
    .zero = cpu_zero,
    .to_device = cpu_memcpy,
    .to_host = cpu_memcpy,
    .copy = cpu_memcpy,
    .sync = cpu_sync,
    .gemm = cpu_gemm,
    .add_bcast = cpu_add_bcast,
    .sum_bcast = cpu_sum_bcast,
    .copy_rows = cpu_copy_rows,
    .add = cpu_add,
    .axpy = cpu_axpy,
    .scale = cpu_scale,
    .layernorm_fwd = cpu_layernorm_fwd,
    .layernorm_bwd = cpu_layernorm_bwd,
    .l2norm_fwd = cpu_l2norm_fwd,
    .l2norm_bwd = cpu_l2norm_bwd,
    .relu_fwd = cpu_relu_fwd,
    .relu_bwd = cpu_relu_bwd,
    .gelu_fwd = cpu_gelu_fwd,
    .gelu_bwd = cpu_gelu_bwd,
    .dropout_fwd = cpu_dropout_fwd,
    .dropout_bwd = cpu_dropout_bwd,
    .attention_fwd = cpu_attention_fwd,
    .attention_bwd = cpu_attention_bwd,
    .dot_rows = cpu_dot_rows,
    .sum = cpu_sum,
    .sumsq = cpu_sumsq,
    .adamw = cpu_adamw,
    .vmap = cpu_vmap,
    .reduce_sum = cpu_reduce_sum,
    .scale_rows_add = cpu_scale_rows_add,
    .context_drop = cpu_context_drop,
    .adamw_clipped = cpu_adamw_clipped,
    /* optional entries */
    .const_window = cpu_const_window,
    .graph_begin = NULL,
    .graph_end = NULL,
    .graph_replay = NULL,
    .graph_destroy = NULL,
    .batch_gather = cpu_batch_gather,
    .index_stage_create = NULL,
    .index_stage_destroy = NULL,
    .index_upload = NULL,
    .coll_unique_id = NULL,
    .coll_create = NULL,
    .coll_allreduce = NULL,
    .coll_wait = NULL,
    .coll_destroy = NULL,
};

int lvt_cpu_backend_create(lvt_backend **out, lvt_math math, lvt_err *e) {
    *out = NULL;
    lvt_backend *be = lvt_calloc(1, sizeof *be, e);
    if (!be) return lvt_err_prefix(e, "cpu backend");
    be->ops = &cpu_ops;
    be->math = math;
    be->device = -1;
    cpu_impl *im = lvt_calloc(1, sizeof *im, e);
    if (!im) {
        free(be);
        return lvt_err_prefix(e, "cpu backend");
    }
    be->impl = im;
    /* tf32 has no CPU counterpart (fp32); bf16 runs on AMX where the CPU has it, else fp32 */
    if (math == LVT_MATH_BF16) im->amx = cpu_amx_probe(im->why, sizeof im->why);
    *out = be;
    return LVT_OK;
}

void lvt_backend_math_describe(const lvt_backend *be, char *buf, size_t len) {
    const char *asked = lvt_math_name(be->math);
    const cpu_impl *im = be->ops == &cpu_ops ? be->impl : NULL;
    if (!im) {
        snprintf(buf, len, "GEMMs in %s (train.math %s)", asked, asked);
    } else if (im->amx) {
        snprintf(buf, len, "GEMMs in bf16 on AMX, fp32 accumulation (train.math bf16)");
    } else if (be->math == LVT_MATH_BF16) {
        snprintf(buf, len, "GEMMs in fp32: train.math bf16 needs AMX-BF16 on the CPU backend, but %s", im->why);
    } else {
        snprintf(buf, len, "GEMMs in fp32 (train.math %s%s)", asked,
                 be->math == LVT_MATH_TF32 ? ": TF32 is a GPU format, the CPU computes fp32" : "");
    }
}

int lvt_backend_gemm_math(const lvt_backend *be) {
    const cpu_impl *im = be->ops == &cpu_ops ? be->impl : NULL;
    if (!im) return be->math;
    return im->amx ? LVT_MATH_BF16 : LVT_MATH_FP32;
}

int lvt_cpu_set_threads(int n) {
#ifdef _OPENMP
    omp_set_num_threads(n);
#endif
    openblas_set_num_threads(n);
    return n;
}
