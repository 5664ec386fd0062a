/* cpu_gather.c — the CPU backend's batch gather from a resident store (ops->batch_gather,
 * include/lvt/devdata.h): the slots the CUDA kernel in cuda/gather.cu fills, in the layout of
 * lvt_batch_gather (data.h), so the trainer's resident-data path can be checked on the CPU. */
#include <string.h>

#include "cpu_backend.h"
#include "lvt/devdata.h"

/* One store row as fp32 into dst (D floats). */
static void load_row(const lvt_devdata *dd, int64_t row, float *dst) {
    const size_t D = (size_t)dd->dim;
    if (dd->prec == LVT_DEVDATA_FP32) {
        memcpy(dst, (const float *)dd->vectors + (size_t)row * D, D * sizeof(float));
    } else {
        const uint16_t *src = (const uint16_t *)dd->vectors + (size_t)row * D;
        for (size_t j = 0; j < D; j++) dst[j] = lvt_bf16_to_float(src[j]);
    }
}

/* Row `row` if it exists, else zeros; returns the mask value. */
static float load_opt_row(const lvt_devdata *dd, int64_t row, int exists, float *dst) {
    if (exists) load_row(dd, row, dst);
    else memset(dst, 0, (size_t)dd->dim * sizeof(float));
    return exists ? 1.0f : 0.0f;
}

void cpu_batch_gather(lvt_backend *be, const lvt_devdata *dd, lvt_devbatch *b, int n) {
    (void)be;
    const size_t D = (size_t)b->D, L = (size_t)b->L, H = (size_t)b->H;
    for (int j = 0; j < n; j++) {
        int64_t i = b->idx[j];
        int64_t lo = 0, hi = dd->n_articles; /* largest a with prefix[a] <= i */
        while (hi - lo > 1) {
            int64_t mid = lo + (hi - lo) / 2;
            if (dd->prefix[mid] <= i) lo = mid;
            else hi = mid;
        }
        const int64_t s0 = dd->offsets[lo] + (i - dd->prefix[lo]);
        const int64_t t = s0 + (int64_t)L, nt = dd->offsets[lo + 1] - t;
        for (size_t r = 0; r < L; r++) load_row(dd, s0 + (int64_t)r, b->ctx + ((size_t)j * L + r) * D);
        load_row(dd, t, b->target + (size_t)j * D);
        for (int k = 0; k < 2; k++)
            b->fut_mask[(size_t)j * 2 + k] = load_opt_row(dd, t + 1 + k, 1 + k < nt, b->fut + ((size_t)j * 2 + k) * D);
        for (size_t h = 0; h < H; h++)
            b->roll_mask[(size_t)j * H + h] = load_opt_row(dd, t + (int64_t)h, (int64_t)h < nt, b->roll + ((size_t)j * H + h) * D);
    }
}
