/* test_ops_common.h — small helpers shared by the ops tests: a deterministic generator for
 * test inputs and a backend opener. */
#ifndef LVT_TEST_OPS_COMMON_H
#define LVT_TEST_OPS_COMMON_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "lvt/ops.h"

typedef struct { uint64_t s; } trng;

static inline uint32_t trng_u32(trng *r) {
    r->s ^= r->s << 13;
    r->s ^= r->s >> 7;
    r->s ^= r->s << 17;
    return (uint32_t)(r->s >> 16);
}
/* uniform in [lo, hi) */
static inline float trng_unif(trng *r, float lo, float hi) {
    return lo + (hi - lo) * (float)(trng_u32(r) >> 8) * (1.0f / 16777216.0f);
}
static inline void trng_fill(trng *r, float *x, size_t n, float lo, float hi) {
    for (size_t i = 0; i < n; i++) x[i] = trng_unif(r, lo, hi);
}

static inline lvt_backend *open_cpu(void) {
    lvt_backend *be = NULL;
    lvt_err e = {{0}};
    if (lvt_backend_create(&be, "cpu", -1, LVT_MATH_FP32, &e) != LVT_OK) {
        fprintf(stderr, "cannot open cpu backend: %s\n", e.msg);
        exit(1);
    }
    return be;
}

static inline float *fbuf(size_t n) {
    float *p = calloc(n ? n : 1, sizeof(float));
    if (!p) {
        fprintf(stderr, "out of memory\n");
        exit(1);
    }
    return p;
}

#endif
