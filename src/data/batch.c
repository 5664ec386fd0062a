/* batch.c — batch assembly on the host: gather windows by global index into contiguous
 * ctx / target / future / rollout-truth arrays with their existence masks (docs/formats.md). */
#include "lvt/data.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

int lvt_batch_alloc(lvt_batch *b, int cap, int L, int D, int H, lvt_err *e) {
    memset(b, 0, sizeof *b);
    if (cap < 1 || L < 1 || D < 1 || H < 1)
        return lvt_errf(e, "batch: capacity %d, context %d, dim %d, rollout depth %d must all be >= 1",
                        cap, L, D, H);
    const size_t c = (size_t)cap, d = (size_t)D;
    b->cap = cap;
    b->L = L;
    b->D = D;
    b->H = H;
    b->ctx = lvt_calloc(c * (size_t)L * d, sizeof(float), e);
    b->target = lvt_calloc(c * d, sizeof(float), e);
    b->fut = lvt_calloc(c * 2 * d, sizeof(float), e);
    b->fut_mask = lvt_calloc(c * 2, sizeof(float), e);
    b->roll = lvt_calloc(c * (size_t)H * d, sizeof(float), e);
    b->roll_mask = lvt_calloc(c * (size_t)H, sizeof(float), e);
    b->sample_index = lvt_calloc(c, sizeof(int64_t), e);
    if (!b->ctx || !b->target || !b->fut || !b->fut_mask || !b->roll || !b->roll_mask || !b->sample_index) {
        lvt_batch_free(b);
        return lvt_err_prefix(e, "batch");
    }
    return LVT_OK;
}

void lvt_batch_free(lvt_batch *b) {
    if (!b) return;
    free(b->ctx);
    free(b->target);
    free(b->fut);
    free(b->fut_mask);
    free(b->roll);
    free(b->roll_mask);
    free(b->sample_index);
    memset(b, 0, sizeof *b);
}

/* Copy store row `row` into dst if it exists (k < n_truth), else zero it; returns the mask. */
static float copy_row(float *dst, const lvt_store *s, int64_t row, int exists) {
    const size_t D = (size_t)s->dim;
    if (exists) memcpy(dst, s->vectors + (size_t)row * D, D * sizeof(float));
    else memset(dst, 0, D * sizeof(float));
    return exists ? 1.0f : 0.0f;
}

void lvt_batch_gather(lvt_batch *b, const lvt_store *s, const lvt_windows *w, const int64_t *idx, int n) {
    assert(n >= 0 && n <= b->cap && b->D == s->dim && b->L == w->context_len);
    const size_t D = (size_t)b->D, L = (size_t)b->L, H = (size_t)b->H;
    for (int j = 0; j < n; j++) {
        int64_t a, s0, nt;
        lvt_window_info(w, idx[j], &a, &s0, &nt);
        const int64_t t = s0 + (int64_t)L; /* target row */
        memcpy(b->ctx + (size_t)j * L * D, s->vectors + (size_t)s0 * D, L * D * sizeof(float));
        memcpy(b->target + (size_t)j * D, s->vectors + (size_t)t * D, D * sizeof(float));
        for (int k = 0; k < 2; k++)
            b->fut_mask[(size_t)j * 2 + k] = copy_row(b->fut + ((size_t)j * 2 + k) * D, s, t + 1 + k, 1 + k < nt);
        for (size_t h = 0; h < H; h++)
            b->roll_mask[(size_t)j * H + h] = copy_row(b->roll + ((size_t)j * H + h) * D, s, t + (int64_t)h, (int64_t)h < nt);
        b->sample_index[j] = idx[j];
    }
    b->b = n;
}
