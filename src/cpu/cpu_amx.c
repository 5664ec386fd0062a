/* cpu_amx.c — the CPU backend's bf16 GEMM (train.math = bf16) on Intel AMX: C = alpha op(A) op(B)
 * + beta C (row-major, as cpu_gemm) with op(A) and op(B) rounded to bf16 (round to nearest even)
 * and packed into 16 x 32 tiles, their products accumulated in fp32 by TDPBF16PS. Each element
 * of C is computed by one thread over K in a fixed order, so the result does not depend on the
 * thread count. This file is compiled with the AMX and AVX512-BF16 flags (CMakeLists.txt) and
 * holds only the GEMM, which runs after cpu_amx_probe (cpu_backend.c, built without those flags,
 * so it is safe on any x86-64) said yes. Design and measurements: docs/bench.md,
 * "bf16 on AMX". */
#include "cpu_backend.h"

#include <stdlib.h>

#if defined(LVT_NO_AMX) || !defined(__x86_64__)
/* Built without the AMX instruction sets (another architecture or compiler): cpu_amx_probe
 * (cpu_backend.c) says so, and this is never called. */
const int cpu_amx_built = 0;
void cpu_amx_gemm(int ta, int tb, int M, int N, int K, float alpha, const float *A, int lda, const float *B,
                  int ldb, float beta, float *C, int ldc, void *ws, const uint16_t *bp) {
    abort(); /* programmer error: called although cpu_amx_probe returned 0 */
}
void cpu_amx_pack_b(const float *B, int ldb, int tb, int K, int N, uint16_t *dst) {
    abort(); /* programmer error, as above */
}
#else
#include <immintrin.h>
#include <stdint.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

const int cpu_amx_built = 1;

#define TILE_ELEMS CPU_AMX_TILE_ELEMS /* 16 rows x 32 bf16 (A) or 16 k-pairs x 16 columns x 2 (B) */

/* fp32 -> bf16, round to nearest even, as VCVTNEPS2BF16: NaN stays a (quiet) NaN, denormal
 * inputs become signed zeros. */
static inline uint16_t f2bf(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    if ((u & 0x7f800000u) == 0) return (uint16_t)((u >> 16) & 0x8000u);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40u);
    u += 0x7fffu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}


/* 32 bf16 of two 16-element rows, interleaved: out[2j] = lo[j], out[2j+1] = hi[j] */
static inline __m512i interleave16(__m256i lo, __m256i hi) {
    const __m512i idx = _mm512_set_epi16(31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24, 8, 23, 7, 22, 6,
                                         21, 5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
    return _mm512_permutexvar_epi16(idx, _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1));
}

static inline __m256i cvt16v(const float *x) {
    __m256bh h = _mm512_cvtneps_pbh(_mm512_loadu_ps(x));
    __m256i r;
    memcpy(&r, &h, 32);
    return r;
}

/* In-register transpose of 16 rows of 16 uint32 (unpack 32, unpack 64, two 128-bit shuffles),
 * stored as the 16 rows of tile t (64 bytes apart). */
static inline void transpose_store(__m512i r[16], uint16_t *t) {
    __m512i u[16];
    for (int i = 0; i < 8; i++) {
        u[2 * i] = _mm512_unpacklo_epi32(r[2 * i], r[2 * i + 1]);
        u[2 * i + 1] = _mm512_unpackhi_epi32(r[2 * i], r[2 * i + 1]);
    }
    for (int i = 0; i < 4; i++) {
        r[4 * i + 0] = _mm512_unpacklo_epi64(u[4 * i], u[4 * i + 2]);
        r[4 * i + 1] = _mm512_unpackhi_epi64(u[4 * i], u[4 * i + 2]);
        r[4 * i + 2] = _mm512_unpacklo_epi64(u[4 * i + 1], u[4 * i + 3]);
        r[4 * i + 3] = _mm512_unpackhi_epi64(u[4 * i + 1], u[4 * i + 3]);
    }
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 4; j++) {
            u[8 * i + j] = _mm512_shuffle_i32x4(r[8 * i + j], r[8 * i + 4 + j], 0x88);
            u[8 * i + 4 + j] = _mm512_shuffle_i32x4(r[8 * i + j], r[8 * i + 4 + j], 0xdd);
        }
    for (int j = 0; j < 8; j++) {
        _mm512_storeu_si512(t + j * 32, _mm512_shuffle_i32x4(u[j], u[8 + j], 0x88));
        _mm512_storeu_si512(t + (8 + j) * 32, _mm512_shuffle_i32x4(u[j], u[8 + j], 0xdd));
    }
}

/* Tile (mb, kb) of op(A) (M x K): 16 rows i = 16 mb + r, 32 columns k = 32 kb + c, zero padded. */
static void pack_a_tile(const float *A, int lda, int ta, int M, int K, int mb, int kb, uint16_t *t) {
    const int i0 = mb * 16, k0 = kb * 32;
    const int ni = M - i0 < 16 ? M - i0 : 16, nk = K - k0 < 32 ? K - k0 : 32;
    if (ni <= 0) {
        memset(t, 0, TILE_ELEMS * sizeof(uint16_t));
        return;
    }
    if (ni == 16 && nk == 32) { /* whole tile: vector conversions */
        if (!ta) { /* row i of op(A) is row i of A: contiguous in k */
            for (int r = 0; r < 16; r++) {
                const float *src = A + (size_t)(i0 + r) * lda + k0;
                _mm256_storeu_si256((__m256i *)(t + r * 32), cvt16v(src));
                _mm256_storeu_si256((__m256i *)(t + r * 32 + 16), cvt16v(src + 16));
            }
        } else { /* op(A)(i, k) = A[k lda + i]: rows of A are columns of the tile; pairs of them
                  * interleaved give 16 uint32 per k pair, then a 16 x 16 transpose */
            __m512i q[16];
            for (int c = 0; c < 16; c++) {
                const float *s0 = A + (size_t)(k0 + 2 * c) * lda + i0;
                q[c] = interleave16(cvt16v(s0), cvt16v(s0 + lda));
            }
            transpose_store(q, t);
        }
        return;
    }
    memset(t, 0, TILE_ELEMS * sizeof(uint16_t)); /* a tail tile: scalar, zero padded */
    for (int r = 0; r < ni; r++)
        for (int c = 0; c < nk; c++)
            t[r * 32 + c] = f2bf(ta ? A[(size_t)(k0 + c) * lda + i0 + r] : A[(size_t)(i0 + r) * lda + k0 + c]);
}

/* Tile (nb, kb) of op(B) (K x N) in the pair layout TDPBF16PS reads: row r holds, for each of 16
 * columns n = 16 nb + j, the pair (k = 32 kb + 2r, k + 1) at t[r*32 + 2j], t[r*32 + 2j + 1]. */
static void pack_b_tile(const float *B, int ldb, int tb, int K, int N, int nb, int kb, uint16_t *t) {
    const int n0 = nb * 16, k0 = kb * 32;
    const int nn = N - n0 < 16 ? N - n0 : 16, nk = K - k0 < 32 ? K - k0 : 32;
    if (nn <= 0) {
        memset(t, 0, TILE_ELEMS * sizeof(uint16_t));
        return;
    }
    if (nn == 16 && nk == 32) {
        if (tb) { /* op(B)(k, n) = B[n ldb + k]: row n of B converted is 16 k pairs (uint32), the
                   * tile is their 16 x 16 transpose */
            __m512i q[16];
            for (int j = 0; j < 16; j++) {
                const float *src = B + (size_t)(n0 + j) * ldb + k0;
                q[j] = _mm512_inserti64x4(_mm512_castsi256_si512(cvt16v(src)), cvt16v(src + 16), 1);
            }
            transpose_store(q, t);
        } else { /* op(B)(k, n) = B[k ldb + n]: tile row r interleaves rows 2r and 2r + 1 */
            for (int r = 0; r < 16; r++) {
                const float *s0 = B + (size_t)(k0 + 2 * r) * ldb + n0;
                _mm512_storeu_si512(t + r * 32, interleave16(cvt16v(s0), cvt16v(s0 + ldb)));
            }
        }
        return;
    }
    memset(t, 0, TILE_ELEMS * sizeof(uint16_t)); /* a tail tile: scalar, zero padded */
    for (int c = 0; c < nk; c++)
        for (int j = 0; j < nn; j++)
            t[(c >> 1) * 32 + 2 * j + (c & 1)] = f2bf(tb ? B[(size_t)(n0 + j) * ldb + k0 + c] : B[(size_t)(k0 + c) * ldb + n0 + j]);
}

typedef struct {
    uint8_t palette, start_row, reserved[14];
    uint16_t colsb[16];
    uint8_t rows[16];
} amx_tilecfg;

/* C block (32 x 32 at rows 32 I, columns 32 J): four accumulator tiles over the K tiles. */
static void block(const uint16_t *Ap, const uint16_t *Bp, int KB, int I, int J, int M, int N, float alpha,
                  float beta, float *C, int ldc) {
    const uint16_t *a0 = Ap + (size_t)(2 * I) * KB * TILE_ELEMS, *a1 = a0 + (size_t)KB * TILE_ELEMS;
    const uint16_t *b0 = Bp + (size_t)(2 * J) * KB * TILE_ELEMS, *b1 = b0 + (size_t)KB * TILE_ELEMS;
    _tile_zero(0);
    _tile_zero(1);
    _tile_zero(2);
    _tile_zero(3);
    for (int kb = 0; kb < KB; kb++) {
        _tile_loadd(4, a0 + (size_t)kb * TILE_ELEMS, 64);
        _tile_loadd(5, a1 + (size_t)kb * TILE_ELEMS, 64);
        _tile_loadd(6, b0 + (size_t)kb * TILE_ELEMS, 64);
        _tile_loadd(7, b1 + (size_t)kb * TILE_ELEMS, 64);
        _tile_dpbf16ps(0, 4, 6);
        _tile_dpbf16ps(1, 4, 7);
        _tile_dpbf16ps(2, 5, 6);
        _tile_dpbf16ps(3, 5, 7);
    }
    float acc[32 * 32];
    _tile_stored(0, acc, 128);
    _tile_stored(1, acc + 16, 128);
    _tile_stored(2, acc + 16 * 32, 128);
    _tile_stored(3, acc + 16 * 32 + 16, 128);
    const int i0 = 32 * I, j0 = 32 * J;
    const int ni = M - i0 < 32 ? M - i0 : 32, nj = N - j0 < 32 ? N - j0 : 32;
    for (int r = 0; r < ni; r++) {
        float *c = C + (size_t)(i0 + r) * ldc + j0;
        const float *s = acc + r * 32;
        if (beta == 0.0f)
            for (int j = 0; j < nj; j++) c[j] = alpha * s[j];
        else
            for (int j = 0; j < nj; j++) c[j] = alpha * s[j] + beta * c[j];
    }
}

/* Every tile of op(B) into dst, shared among the threads of the enclosing parallel region (an
 * orphaned worksharing loop: run by one thread outside a region), no barrier at the end. */
static void pack_b_all(const float *B, int ldb, int tb, int K, int N, uint16_t *dst) {
    const int NB = CPU_AMX_TILES16(N), KB = CPU_AMX_KTILES(K);
#pragma omp for schedule(static) nowait
    for (int t = 0; t < NB * KB; t++) pack_b_tile(B, ldb, tb, K, N, t / KB, t % KB, dst + (size_t)t * TILE_ELEMS);
}

/* All of op(B) in the packed layout the GEMM reads (cpu_backend.h), for a GEMM to reuse. */
void cpu_amx_pack_b(const float *B, int ldb, int tb, int K, int N, uint16_t *dst) {
#pragma omp parallel if ((size_t)N * K > 65536)
    pack_b_all(B, ldb, tb, K, N, dst);
}

void cpu_amx_gemm(int ta, int tb, int M, int N, int K, float alpha, const float *A, int lda, const float *B,
                  int ldb, float beta, float *C, int ldc, void *ws, const uint16_t *bp) {
    const int MB = CPU_AMX_TILES16(M), NB = CPU_AMX_TILES16(N), KB = CPU_AMX_KTILES(K); /* cpu_backend.h */
    uint16_t *Ap = ws, *Bw = Ap + CPU_AMX_PACKED_ELEMS(M, K);
    const uint16_t *Bp = bp ? bp : Bw; /* op(B) packed by the caller (cpu_amx_cached_b), or here */
    const int IB = MB / 2, JB = NB / 2;
    const int IC = KB > 256 ? 1 : 256 / KB; /* 32-row blocks per chunk: 32 x 32K bf16 = 2 KB x KB each */
    const size_t work = (size_t)M * N * K;
#pragma omp parallel if (work > 262144)
    {
#pragma omp for schedule(static) nowait
        for (int t = 0; t < MB * KB; t++)
            pack_a_tile(A, lda, ta, M, K, t / KB, t % KB, Ap + (size_t)t * TILE_ELEMS);
        if (!bp) pack_b_all(B, ldb, tb, K, N, Bw); /* bp is the same on every thread */
#pragma omp barrier
        amx_tilecfg cfg;
        memset(&cfg, 0, sizeof cfg);
        cfg.palette = 1;
        for (int i = 0; i < 8; i++) {
            cfg.rows[i] = 16;
            cfg.colsb[i] = 64;
        }
        _tile_loadconfig(&cfg);
        /* Blocks in chunks of IC row blocks (packed A rows of a chunk about 512 KB, so they stay in
         * L2): within a chunk column block J outer, row block I inner, so the B panel of J (32
         * columns x K) is read from L1 for every I. Static ranges: each thread a run of columns. */
#pragma omp for schedule(static)
        for (int b = 0; b < IB * JB; b++) {
            const int c = b / (IC * JB), i0 = c * IC, sz = IB - i0 < IC ? IB - i0 : IC;
            const int local = b - c * IC * JB;
            block(Ap, Bp, KB, i0 + local % sz, local / sz, M, N, alpha, beta, C, ldc);
        }
        _tile_release();
    }
}
#endif
