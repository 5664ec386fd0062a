/* cpu_sgemm.c — the CPU backend's own fp32 GEMM for AVX-512 (train.math fp32/tf32 on a CPU
 * with AVX-512F): C = alpha op(A) op(B) + beta C, row-major, the semantics of cblas_sgemm. A
 * 12 x 32 register-blocked kernel (24 zmm accumulators, fp32 FMA) over packed operands: op(B)
 * in panels of 32 columns by KC rows of k, packed once per call by all threads together, and
 * op(A) in panels of 12 rows, packed by the thread that uses them. Each element of C is
 * accumulated by one thread over k in a fixed order (KC blocks in turn, k ascending within a
 * block), so the result does not depend on the thread count or on how the work is split. This
 * file is compiled with -mavx512f (CMakeLists.txt) and runs only after cpu_sgemm_probe
 * (cpu_backend.c, built without it) found AVX-512F usable. Why it exists and what it measures
 * against OpenBLAS: docs/bench.md, "lvt's fp32 GEMM". */
#include "cpu_backend.h"

#include <stdlib.h>

#if defined(LVT_NO_AVX512) || !defined(__x86_64__)
const int cpu_sgemm_built = 0;
void cpu_sgemm(int ta, int tb, int M, int N, int K, float alpha, const float *A, int lda, const float *B, int ldb,
               float beta, float *C, int ldc, float *ws) {
    abort(); /* programmer error: called although this build has no AVX-512 GEMM */
}
#else
#include <immintrin.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

const int cpu_sgemm_built = 1;

#define MR CPU_SGEMM_MR /* rows of the register block (cpu_backend.h) */
#define NR CPU_SGEMM_NR /* columns: two zmm */
#define KC CPU_SGEMM_KC /* k rows per packed block */
#define MC 96           /* rows of op(A) packed at a time by a thread (8 panels, ~96 KB at KC 256) */

/* In-register transpose of 16 rows of 16 floats: r[i] becomes column i. */
static inline void transpose16(__m512 r[16]) {
    __m512 u[16];
    for (int i = 0; i < 8; i++) {
        u[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        u[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    for (int i = 0; i < 4; i++) {
        r[4 * i + 0] = _mm512_shuffle_ps(u[4 * i], u[4 * i + 2], 0x44);
        r[4 * i + 1] = _mm512_shuffle_ps(u[4 * i], u[4 * i + 2], 0xee);
        r[4 * i + 2] = _mm512_shuffle_ps(u[4 * i + 1], u[4 * i + 3], 0x44);
        r[4 * i + 3] = _mm512_shuffle_ps(u[4 * i + 1], u[4 * i + 3], 0xee);
    }
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 4; j++) {
            u[8 * i + j] = _mm512_shuffle_f32x4(r[8 * i + j], r[8 * i + 4 + j], 0x88);
            u[8 * i + 4 + j] = _mm512_shuffle_f32x4(r[8 * i + j], r[8 * i + 4 + j], 0xdd);
        }
    for (int j = 0; j < 8; j++) {
        r[j] = _mm512_shuffle_f32x4(u[j], u[8 + j], 0x88);
        r[8 + j] = _mm512_shuffle_f32x4(u[j], u[8 + j], 0xdd);
    }
}

static inline __mmask16 first_n(int n) { return n >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << n) - 1u); }

/* Panel of op(B): columns j0 .. j0+nj-1 (nj <= 32), k rows k0 .. k0+kc-1, as dst[k*32 + c], zero
 * beyond nj. op(B)(k, j) = tb ? B[j ldb + k] : B[k ldb + j]. */
static void pack_b(const float *B, int ldb, int tb, int k0, int kc, int j0, int nj, float *dst) {
    if (!tb) {
        const __mmask16 m0 = first_n(nj), m1 = first_n(nj - 16 > 0 ? nj - 16 : 0);
        for (int k = 0; k < kc; k++) {
            const float *s = B + (size_t)(k0 + k) * ldb + j0;
            _mm512_store_ps(dst + k * NR, _mm512_maskz_loadu_ps(m0, s));
            _mm512_store_ps(dst + k * NR + 16, _mm512_maskz_loadu_ps(m1, s + 16));
        }
        return;
    }
    /* rows of B are columns of the panel: 16 x 16 transposes, k in steps of 16 */
    for (int h = 0; h < 2; h++) {
        const int c0 = 16 * h, nc = nj - c0 < 0 ? 0 : (nj - c0 > 16 ? 16 : nj - c0);
        for (int kk = 0; kk < kc; kk += 16) {
            const int nk = kc - kk < 16 ? kc - kk : 16;
            const __mmask16 mk = first_n(nk);
            __m512 r[16];
            for (int c = 0; c < 16; c++)
                r[c] = c < nc ? _mm512_maskz_loadu_ps(mk, B + (size_t)(j0 + c0 + c) * ldb + k0 + kk)
                              : _mm512_setzero_ps();
            transpose16(r);
            for (int k = 0; k < nk; k++) _mm512_store_ps(dst + (kk + k) * NR + c0, r[k]);
        }
    }
}

/* Panel of op(A): rows i0 .. i0+ni-1 (ni <= 12), k rows k0 .. k0+kc-1, as dst[k*12 + r], zero
 * beyond ni. op(A)(i, k) = ta ? A[k lda + i] : A[i lda + k]. */
static void pack_a(const float *A, int lda, int ta, int k0, int kc, int i0, int ni, float *dst) {
    const __mmask16 mi = first_n(ni), m12 = first_n(MR);
    if (ta) {
        for (int k = 0; k < kc; k++)
            _mm512_mask_storeu_ps(dst + k * MR, m12, _mm512_maskz_loadu_ps(mi, A + (size_t)(k0 + k) * lda + i0));
        return;
    }
    for (int kk = 0; kk < kc; kk += 16) {
        const int nk = kc - kk < 16 ? kc - kk : 16;
        const __mmask16 mk = first_n(nk);
        __m512 r[16];
        for (int i = 0; i < 16; i++)
            r[i] = i < ni ? _mm512_maskz_loadu_ps(mk, A + (size_t)(i0 + i) * lda + k0 + kk) : _mm512_setzero_ps();
        transpose16(r);
        for (int k = 0; k < nk; k++) _mm512_mask_storeu_ps(dst + (kk + k) * MR, m12, r[k]);
    }
}

/* The register block: rows 0 .. mr-1 of an A panel times a B panel over kc; then
 * C = alpha acc + beta C on the first k block (beta 0: C is not read) and C += alpha acc on later
 * ones. mr is a constant in every instantiation (kernel_rows), so acc stays in registers. */
static inline __attribute__((always_inline)) void kernel(const int mr, int kc, const float *Ap, const float *Bp,
                                                         float *C, int ldc, float alpha, float beta, int first,
                                                         __mmask16 m0, __mmask16 m1) {
    __m512 acc[MR][2];
#pragma GCC unroll 12
    for (int r = 0; r < mr; r++) acc[r][0] = acc[r][1] = _mm512_setzero_ps();
    for (int k = 0; k < kc; k++) {
        const __m512 b0 = _mm512_load_ps(Bp + k * NR), b1 = _mm512_load_ps(Bp + k * NR + 16);
#pragma GCC unroll 12
        for (int r = 0; r < mr; r++) {
            const __m512 a = _mm512_set1_ps(Ap[k * MR + r]);
            acc[r][0] = _mm512_fmadd_ps(a, b0, acc[r][0]);
            acc[r][1] = _mm512_fmadd_ps(a, b1, acc[r][1]);
        }
    }
    const __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
#pragma GCC unroll 12
    for (int r = 0; r < mr; r++) {
        float *c = C + (size_t)r * ldc;
        __m512 x0 = _mm512_mul_ps(va, acc[r][0]), x1 = _mm512_mul_ps(va, acc[r][1]);
        if (!first) {
            x0 = _mm512_add_ps(_mm512_maskz_loadu_ps(m0, c), x0);
            x1 = _mm512_add_ps(_mm512_maskz_loadu_ps(m1, c + 16), x1);
        } else if (beta != 0.0f) {
            x0 = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(m0, c), x0);
            x1 = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(m1, c + 16), x1);
        }
        _mm512_mask_storeu_ps(c, m0, x0);
        _mm512_mask_storeu_ps(c + 16, m1, x1);
    }
}

static void kernel_rows(int mr, int kc, const float *Ap, const float *Bp, float *C, int ldc, float alpha,
                        float beta, int first, __mmask16 m0, __mmask16 m1) {
    switch (mr) {
#define ROWS(n) \
    case n: kernel(n, kc, Ap, Bp, C, ldc, alpha, beta, first, m0, m1); break;
        ROWS(1) ROWS(2) ROWS(3) ROWS(4) ROWS(5) ROWS(6) ROWS(7) ROWS(8) ROWS(9) ROWS(10) ROWS(11) ROWS(12)
#undef ROWS
    default: abort(); /* programmer error: 1 <= mr <= MR */
    }
}

/* How T threads split C: Tm row ranges by Tn column ranges (Tm Tn <= T), the split whose busiest
 * thread has the fewest register blocks (12 x 32), rows preferred on a tie (no A panel is packed
 * twice). */
static void split(int T, int mblocks, int npanels, int *tm, int *tn) {
    long best = -1;
    for (int m = T; m >= 1; m--) {
        int n = T / m;
        if (n > npanels) n = npanels;
        const long cost = (long)((mblocks + m - 1) / m) * ((npanels + n - 1) / n);
        if (best < 0 || cost < best) {
            best = cost;
            *tm = m;
            *tn = n;
        }
    }
}

size_t cpu_sgemm_workspace(int M, int N, int K, int threads) {
    const int kc = K < KC ? K : KC, np = (N + NR - 1) / NR;
    return ((size_t)np * NR * kc + (size_t)threads * MC * kc) * sizeof(float) + 64;
}

void cpu_sgemm(int ta, int tb, int M, int N, int K, float alpha, const float *A, int lda, const float *B, int ldb,
               float beta, float *C, int ldc, float *ws) {
    const int np = (N + NR - 1) / NR, kcmax = K < KC ? K : KC;
    float *Bp = ws;
    const size_t work = (size_t)M * N * K;
#pragma omp parallel if (work > 262144)
    {
#ifdef _OPENMP
        const int T = omp_get_num_threads(), t = omp_get_thread_num();
#else
        const int T = 1, t = 0;
#endif
        const int mblocks = (M + MR - 1) / MR;
        int tm, tn;
        split(T, mblocks, np, &tm, &tn);
        float *Ap = Bp + (size_t)np * NR * kcmax + (size_t)t * MC * kcmax;
        /* this thread's rows [r0, r1) (whole register blocks) and panels [p0, p1) */
        const int active = t < tm * tn;
        const int ti = t % tm, tj = t / tm;
        const int r0 = (int)((long)mblocks * ti / tm) * MR, r1i = (int)((long)mblocks * (ti + 1) / tm) * MR;
        const int r1 = r1i < M ? r1i : M;
        const int p0 = (int)((long)np * tj / tn), p1 = (int)((long)np * (tj + 1) / tn);
        for (int k0 = 0; k0 < K; k0 += KC) {
            const int kc = K - k0 < KC ? K - k0 : KC;
#pragma omp for schedule(static)
            for (int p = 0; p < np; p++)
                pack_b(B, ldb, tb, k0, kc, p * NR, N - p * NR < NR ? N - p * NR : NR, Bp + (size_t)p * NR * kc);
            if (active) {
                for (int i0 = r0; i0 < r1; i0 += MC) {
                    const int ib = r1 - i0 < MC ? r1 - i0 : MC;
                    for (int i = 0; i < ib; i += MR)
                        pack_a(A, lda, ta, k0, kc, i0 + i, ib - i < MR ? ib - i : MR, Ap + (size_t)i * kc);
                    for (int p = p0; p < p1; p++) {
                        const int nj = N - p * NR < NR ? N - p * NR : NR;
                        const __mmask16 m0 = first_n(nj), m1 = first_n(nj - 16 > 0 ? nj - 16 : 0);
                        for (int i = 0; i < ib; i += MR)
                            kernel_rows(ib - i < MR ? ib - i : MR, kc, Ap + (size_t)i * kc, Bp + (size_t)p * NR * kc,
                                        C + (size_t)(i0 + i) * ldc + p * NR, ldc, alpha, beta, k0 == 0, m0, m1);
                    }
                }
            }
#pragma omp barrier
        }
    }
}
#endif
