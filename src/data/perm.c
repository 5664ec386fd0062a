/* perm.c — the epoch order and its slicing (docs/formats.md): a keyed Feistel bijection on [0, n)
 * with cycle walking (O(1) memory, pure integer arithmetic, identical in every process), and
 * the split of each global batch into contiguous per-rank parts. See docs/formats.md. */
#include "lvt/data.h"

#include <assert.h>
#include <string.h>

#define PERM_ROUNDS 8

/* splitmix64: a well-mixed 64-bit function of its input (Steele, Lea, Flood 2014). */
static uint64_t mix64(uint64_t z) {
    z += 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

void lvt_perm_init(lvt_perm *p, uint64_t n, uint64_t seed, uint64_t epoch) {
    memset(p, 0, sizeof *p);
    p->n = n;
    /* smallest even bit width 2k (k >= 1) with 2^(2k) >= n; so the domain is < 4n for n > 1 */
    uint64_t k = 1;
    while (k < 32 && (n - 1) >> (2 * k) != 0) k++;
    if (n == 0) k = 1;
    p->half_bits = k;
    p->mask = k >= 32 ? 0xFFFFFFFFull : ((1ull << k) - 1);
    uint64_t state = mix64(seed) ^ mix64(epoch ^ 0x6C76742D7065726Dull); /* "lvt-perm" */
    for (int r = 0; r < PERM_ROUNDS; r++) {
        state = mix64(state + (uint64_t)r);
        p->keys[r] = (uint32_t)(state >> 32);
    }
}

/* One pass of the Feistel network on 2*half_bits bits. */
static uint64_t feistel(const lvt_perm *p, uint64_t x) {
    uint64_t l = (x >> p->half_bits) & p->mask, r = x & p->mask;
    for (int i = 0; i < PERM_ROUNDS; i++) {
        uint64_t f = mix64(((uint64_t)p->keys[i] << 32) ^ r) & p->mask;
        uint64_t t = r;
        r = l ^ f;
        l = t;
    }
    return (l << p->half_bits) | r;
}

uint64_t lvt_perm_apply(const lvt_perm *p, uint64_t i) {
    assert(i < p->n);
    uint64_t x = feistel(p, i);
    while (x >= p->n) x = feistel(p, x); /* cycle walking: stays a bijection on [0, n) */
    return x;
}

int64_t lvt_steps_per_epoch(int64_t n_windows, int64_t global_batch) {
    assert(global_batch > 0);
    if (n_windows <= 0) return 0;
    return (n_windows + global_batch - 1) / global_batch;
}

int64_t lvt_rank_slice(int64_t n_windows, int64_t global_batch, int64_t step, int rank, int world,
                       int64_t *pos_lo) {
    assert(global_batch > 0 && world > 0 && rank >= 0 && rank < world && step >= 0);
    int64_t lo = step * global_batch;
    int64_t m = n_windows - lo;
    if (m < 0) m = 0;
    if (m > global_batch) m = global_batch;
    int64_t q = m / world, rem = m % world;
    int64_t start = lo + (int64_t)rank * q + (rank < rem ? rank : rem);
    if (pos_lo) *pos_lo = m > 0 ? start : (n_windows > lo ? lo : n_windows);
    return q + (rank < rem ? 1 : 0);
}
