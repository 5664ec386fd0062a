/* rng.h — Philox4x32-10 counter-based random numbers. The same function is compiled for the CPU
 * and (as a __device__ function) for CUDA, so a mask depends only on its key and counter, never
 * on the rank or backend that draws it (docs/model.md). */
#ifndef LVT_RNG_H
#define LVT_RNG_H

#include <stdint.h>

#if defined(__CUDACC__)
#define LVT_HD __host__ __device__ __forceinline__
#else
#define LVT_HD static inline
#endif

typedef struct { uint32_t v[4]; } lvt_philox_ctr;
typedef struct { uint32_t v[2]; } lvt_philox_key;

/* Philox4x32 with 10 rounds (Salmon et al., SC'11). */
LVT_HD lvt_philox_ctr lvt_philox4x32_10(lvt_philox_ctr c, lvt_philox_key k) {
    const uint32_t M0 = 0xD2511F53u, M1 = 0xCD9E8D57u, W0 = 0x9E3779B9u, W1 = 0xBB67AE85u;
    for (int r = 0; r < 10; r++) {
        uint64_t p0 = (uint64_t)M0 * c.v[0];
        uint64_t p1 = (uint64_t)M1 * c.v[2];
        uint32_t hi0 = (uint32_t)(p0 >> 32), lo0 = (uint32_t)p0;
        uint32_t hi1 = (uint32_t)(p1 >> 32), lo1 = (uint32_t)p1;
        lvt_philox_ctr n;
        n.v[0] = hi1 ^ c.v[1] ^ k.v[0];
        n.v[1] = lo1;
        n.v[2] = hi0 ^ c.v[3] ^ k.v[1];
        n.v[3] = lo0;
        c = n;
        k.v[0] += W0;
        k.v[1] += W1;
    }
    return c;
}

/* uint32 -> float uniform in [0, 1) with 24 bits. */
LVT_HD float lvt_u32_to_unit(uint32_t u) { return (float)(u >> 8) * (1.0f / 16777216.0f); }

/* The project's keying (docs/model.md): key = seed; counter = (element/4, global sample index,
 * step, site), with the high halves of step and sample folded into the site word. One Philox
 * call yields the block of 4 words serving elements 4*(element/4) .. 4*(element/4)+3. */
LVT_HD lvt_philox_ctr lvt_rng_block(uint64_t seed, uint64_t step, uint32_t site, uint64_t sample,
                                    uint64_t element) {
    lvt_philox_ctr c;
    lvt_philox_key k;
    c.v[0] = (uint32_t)(element >> 2);
    c.v[1] = (uint32_t)sample;
    c.v[2] = (uint32_t)step;
    c.v[3] = site ^ ((uint32_t)(step >> 32) << 16) ^ ((uint32_t)(sample >> 32) << 24);
    k.v[0] = (uint32_t)seed;
    k.v[1] = (uint32_t)(seed >> 32);
    return lvt_philox4x32_10(c, k);
}

/* Word (element & 3) of lvt_rng_block: the draw for one element. */
LVT_HD uint32_t lvt_rng_u32(uint64_t seed, uint64_t step, uint32_t site, uint64_t sample,
                            uint64_t element) {
    return lvt_rng_block(seed, step, site, sample, element).v[element & 3];
}

LVT_HD float lvt_rng_unit(uint64_t seed, uint64_t step, uint32_t site, uint64_t sample,
                          uint64_t element) {
    return lvt_u32_to_unit(lvt_rng_u32(seed, step, site, sample, element));
}

/* Sites: dropout and context-drop draws are separated by site id. Layer-local sites are
 * LVT_SITE_LAYER(layer, k). */
enum {
    LVT_SITE_CONTEXT_DROP = 1,     /* Bernoulli per sample, element 0 */
    LVT_SITE_CONTEXT_NOISE = 2,    /* Gaussian noise row: elements j, j+1 (even j < D) form one Box-Muller pair; see ops.h context_drop */
    LVT_SITE_LAYER_BASE = 16
};
#define LVT_SITE_LAYER(layer, k) ((uint32_t)(LVT_SITE_LAYER_BASE + 8 * (layer) + (k)))

#endif
