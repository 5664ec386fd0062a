/* cpu_rng.c — batched Philox draws for the CPU kernels: the words of lvt_rng_u32 for a run of
 * consecutive elements, computed 16 counter blocks at a time: with AVX-512 in explicit
 * 32 x 32 -> 64-bit multiplies (VPMULUDQ; the compiler's own vectorisation of the lane loop
 * uses the full 64-bit VPMULLQ, about 3x slower), elsewhere in a lane loop the compiler
 * vectorises. Bit-identical to lvt_rng_u32 (rng.h), which the tests check. */
#include "cpu_backend.h"
#include "lvt/rng.h"

#ifdef __AVX512F__
#include <immintrin.h>
#endif

#define CPU_RNG_LANES 16

void cpu_rng_words(uint64_t seed, uint64_t step, uint32_t site, uint64_t sample, uint64_t e0,
                   int n, uint32_t *w) {
    const uint64_t M0 = 0xD2511F53u, M1 = 0xCD9E8D57u, W0 = 0x9E3779B9u, W1 = 0xBB67AE85u;
    int i = 0;
    /* leading elements up to a block boundary */
    if (n > 0 && (e0 & 3)) {
        lvt_philox_ctr r = lvt_rng_block(seed, step, site, sample, e0);
        for (; i < n && ((e0 + (uint64_t)i) & 3); i++) w[i] = r.v[(e0 + (uint64_t)i) & 3];
    }
    /* the counter words every block of this (seed, step, site, sample) shares; see rng.h */
    const uint32_t c1 = (uint32_t)sample, c2 = (uint32_t)step;
    const uint32_t c3 = site ^ ((uint32_t)(step >> 32) << 16) ^ ((uint32_t)(sample >> 32) << 24);
    while (n - i >= 4 * CPU_RNG_LANES) {
        uint32_t blk = (uint32_t)((e0 + (uint64_t)i) >> 2);
#ifdef __AVX512F__
        /* two vectors of 8 blocks, each 32-bit word in the low half of a 64-bit lane */
        const __m512i lo32 = _mm512_set1_epi64(0xffffffffu), m0 = _mm512_set1_epi64((long long)M0),
                      m1 = _mm512_set1_epi64((long long)M1), lane = _mm512_set_epi64(7, 6, 5, 4, 3, 2, 1, 0);
        __m512i x0[2], x1[2], x2[2], x3[2];
        for (int h = 0; h < 2; h++) {
            x0[h] = _mm512_and_si512(_mm512_add_epi64(_mm512_set1_epi64(blk + 8u * h), lane), lo32);
            x1[h] = _mm512_set1_epi64(c1);
            x2[h] = _mm512_set1_epi64(c2);
            x3[h] = _mm512_set1_epi64(c3);
        }
        uint64_t ka = (uint32_t)seed, kb = (uint32_t)(seed >> 32);
        for (int r = 0; r < 10; r++) {
            const __m512i vka = _mm512_set1_epi64((long long)ka), vkb = _mm512_set1_epi64((long long)kb);
            for (int h = 0; h < 2; h++) {
                const __m512i p0 = _mm512_mul_epu32(x0[h], m0), p1 = _mm512_mul_epu32(x2[h], m1);
                const __m512i n0 = _mm512_ternarylogic_epi64(_mm512_srli_epi64(p1, 32), x1[h], vka, 0x96);
                const __m512i n2 = _mm512_ternarylogic_epi64(_mm512_srli_epi64(p0, 32), x3[h], vkb, 0x96);
                x1[h] = _mm512_and_si512(p1, lo32);
                x3[h] = _mm512_and_si512(p0, lo32);
                x0[h] = n0;
                x2[h] = n2;
            }
            ka = (ka + W0) & 0xffffffffu;
            kb = (kb + W1) & 0xffffffffu;
        }
        /* words (x0, x1, x2, x3) of block l to w[4l .. 4l+3]: two 64-bit lanes of each pair */
        for (int h = 0; h < 2; h++) {
            const __m512i a = _mm512_or_si512(x0[h], _mm512_slli_epi64(x1[h], 32)); /* (x0, x1) per lane */
            const __m512i b = _mm512_or_si512(x2[h], _mm512_slli_epi64(x3[h], 32)); /* (x2, x3) per lane */
            _mm512_storeu_si512(w + i + 32 * h, _mm512_permutex2var_epi64(a, _mm512_set_epi64(11, 3, 10, 2, 9, 1, 8, 0), b));
            _mm512_storeu_si512(w + i + 32 * h + 16,
                                _mm512_permutex2var_epi64(a, _mm512_set_epi64(15, 7, 14, 6, 13, 5, 12, 4), b));
        }
#else
        /* 32-bit words held in 64-bit lanes so that the 32x32->64 products vectorise */
        uint64_t x0[CPU_RNG_LANES], x1[CPU_RNG_LANES], x2[CPU_RNG_LANES], x3[CPU_RNG_LANES];
        for (int l = 0; l < CPU_RNG_LANES; l++) {
            x0[l] = (uint32_t)(blk + (uint32_t)l);
            x1[l] = c1;
            x2[l] = c2;
            x3[l] = c3;
        }
        uint64_t ka = (uint32_t)seed, kb = (uint32_t)(seed >> 32);
        for (int r = 0; r < 10; r++) {
#pragma omp simd
            for (int l = 0; l < CPU_RNG_LANES; l++) {
                uint64_t p0 = M0 * x0[l];
                uint64_t p1 = M1 * x2[l];
                uint64_t n0 = (p1 >> 32) ^ x1[l] ^ ka;
                uint64_t n2 = (p0 >> 32) ^ x3[l] ^ kb;
                x1[l] = p1 & 0xffffffffu;
                x3[l] = p0 & 0xffffffffu;
                x0[l] = n0;
                x2[l] = n2;
            }
            ka = (ka + W0) & 0xffffffffu;
            kb = (kb + W1) & 0xffffffffu;
        }
        for (int l = 0; l < CPU_RNG_LANES; l++) {
            w[i + 4 * l + 0] = (uint32_t)x0[l];
            w[i + 4 * l + 1] = (uint32_t)x1[l];
            w[i + 4 * l + 2] = (uint32_t)x2[l];
            w[i + 4 * l + 3] = (uint32_t)x3[l];
        }
#endif
        i += 4 * CPU_RNG_LANES;
    }
    /* tail, one block at a time */
    while (i < n) {
        uint64_t e = e0 + (uint64_t)i;
        lvt_philox_ctr r = lvt_rng_block(seed, step, site, sample, e);
        for (int j = 0; j < 4 && i < n; j++, i++) w[i] = r.v[j];
    }
}
