/* devdata.c — backend-resident data (include/lvt/devdata.h): the upload of a store and its
 * window index through ops, the checks on window indices, and the batch gather, which is the
 * backend's optional ops->batch_gather (src/cpu/cpu_gather.c, cuda/gather.cu) with its index
 * staging (ops->index_upload where the backend has one, to_device otherwise). */
#include "lvt/devdata.h"

#include <stdlib.h>
#include <string.h>

uint16_t lvt_bf16_from_float(float x) {
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    if ((u & 0x7f800000u) == 0x7f800000u && (u & 0x007fffffu)) /* NaN stays a (quiet) NaN */
        return (uint16_t)((u >> 16) | 0x0040u);
    uint32_t lsb = (u >> 16) & 1u;
    u += 0x7fffu + lsb; /* round to nearest, ties to even */
    return (uint16_t)(u >> 16);
}

float lvt_bf16_to_float(uint16_t h) {
    uint32_t u = (uint32_t)h << 16;
    float x;
    memcpy(&x, &u, sizeof x);
    return x;
}

/* Upload the vectors in slices, converting to bf16 on the host when asked. */
#define DEVDATA_SLICE ((size_t)1 << 20) /* floats per upload slice */

static int upload_vectors(lvt_devdata *dd, const lvt_store *s, lvt_err *e) {
    const lvt_ops *o = dd->be->ops;
    const size_t n = (size_t)s->n * (size_t)s->dim;
    const size_t esize = dd->prec == LVT_DEVDATA_BF16 ? sizeof(uint16_t) : sizeof(float);
    if (!(dd->vectors = o->alloc(dd->be, n * esize, e))) return LVT_ERROR;
    if (dd->prec == LVT_DEVDATA_FP32) {
        o->to_device(dd->be, dd->vectors, s->vectors, n * sizeof(float));
        return LVT_OK;
    }
    uint16_t *tmp = lvt_malloc(DEVDATA_SLICE * sizeof(uint16_t), e);
    if (!tmp) return LVT_ERROR;
    for (size_t i0 = 0; i0 < n; i0 += DEVDATA_SLICE) {
        size_t m = n - i0 < DEVDATA_SLICE ? n - i0 : DEVDATA_SLICE;
        for (size_t i = 0; i < m; i++) tmp[i] = lvt_bf16_from_float(s->vectors[i0 + i]);
        /* to_device has consumed tmp when it returns (pageable source), so tmp can be reused */
        o->to_device(dd->be, (uint16_t *)dd->vectors + i0, tmp, m * sizeof(uint16_t));
    }
    o->sync(dd->be);
    free(tmp);
    return LVT_OK;
}

int lvt_devdata_upload(lvt_devdata *dd, lvt_backend *be, const lvt_store *s, const lvt_windows *w,
                       lvt_devdata_prec prec, lvt_err *e) {
    memset(dd, 0, sizeof *dd);
    if (!be->ops->batch_gather)
        return lvt_errf(e, "device store: backend '%s' has no resident-store gather", be->ops->name);
    if (prec != LVT_DEVDATA_FP32 && prec != LVT_DEVDATA_BF16)
        return lvt_errf(e, "device store: unknown precision %d", prec);
    if (w->n_articles != s->n_articles || w->offsets != s->offsets)
        return lvt_errf(e, "device store: the window index was not built over this store");
    dd->be = be;
    dd->prec = prec;
    dd->n_rows = s->n;
    dd->dim = s->dim;
    dd->context_len = w->context_len;
    dd->n_articles = s->n_articles;
    dd->n_windows = w->n_windows;
    const lvt_ops *o = be->ops;
    const size_t ab = (size_t)(s->n_articles + 1) * sizeof(int64_t);
    if (upload_vectors(dd, s, e) || !(dd->prefix = o->alloc(be, ab, e)) ||
        !(dd->offsets = o->alloc(be, ab, e))) {
        lvt_devdata_free(dd);
        return lvt_err_prefix(e, "device store (%lld rows x %d, %s)", (long long)s->n, s->dim,
                              prec == LVT_DEVDATA_BF16 ? "bf16" : "fp32");
    }
    o->to_device(be, dd->prefix, w->prefix, ab);
    o->to_device(be, dd->offsets, s->offsets, ab);
    o->sync(be);
    return LVT_OK;
}

void lvt_devdata_free(lvt_devdata *dd) {
    if (!dd || !dd->be) return;
    const lvt_ops *o = dd->be->ops;
    if (dd->vectors) o->free(dd->be, dd->vectors);
    if (dd->prefix) o->free(dd->be, dd->prefix);
    if (dd->offsets) o->free(dd->be, dd->offsets);
    memset(dd, 0, sizeof *dd);
}

int lvt_devbatch_alloc(lvt_devbatch *b, lvt_backend *be, int cap, int L, int D, int H, lvt_err *e) {
    memset(b, 0, sizeof *b);
    if (cap < 1 || L < 1 || D < 1 || H < 1)
        return lvt_errf(e, "device batch: capacity %d, context %d, dim %d, rollout depth %d must all be >= 1",
                        cap, L, D, H);
    const lvt_ops *o = be->ops;
    const size_t c = (size_t)cap, d = (size_t)D;
    b->be = be;
    b->cap = cap;
    b->L = L;
    b->D = D;
    b->H = H;
    if (!(b->ctx = o->alloc(be, c * (size_t)L * d * sizeof(float), e)) ||
        !(b->target = o->alloc(be, c * d * sizeof(float), e)) ||
        !(b->fut = o->alloc(be, c * 2 * d * sizeof(float), e)) ||
        !(b->fut_mask = o->alloc(be, c * 2 * sizeof(float), e)) ||
        !(b->roll = o->alloc(be, c * (size_t)H * d * sizeof(float), e)) ||
        !(b->roll_mask = o->alloc(be, c * (size_t)H * sizeof(float), e)) ||
        !(b->idx = o->alloc(be, c * sizeof(int64_t), e)))
        goto fail;
    if (o->index_stage_create && o->index_stage_create(be, &b->stage, cap, e)) goto fail;
    return LVT_OK;
fail:
    lvt_devbatch_free(b);
    return lvt_err_prefix(e, "device batch");
}

void lvt_devbatch_free(lvt_devbatch *b) {
    if (!b || !b->be) return;
    const lvt_ops *o = b->be->ops;
    void *bufs[] = {b->ctx, b->target, b->fut, b->fut_mask, b->roll, b->roll_mask, b->idx};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
        if (bufs[i]) o->free(b->be, bufs[i]);
    if (b->stage) o->index_stage_destroy(b->be, b->stage);
    memset(b, 0, sizeof *b);
}

int lvt_devbatch_set_indices(lvt_devbatch *b, const lvt_devdata *dd, const int64_t *idx, int n,
                             lvt_err *e) {
    if (n < 0 || n > b->cap) return lvt_errf(e, "device batch: %d indices for capacity %d", n, b->cap);
    for (int j = 0; j < n; j++)
        if (idx[j] < 0 || idx[j] >= dd->n_windows)
            return lvt_errf(e, "device batch: window index %lld outside [0, %lld)", (long long)idx[j],
                            (long long)dd->n_windows);
    if (n == 0) return LVT_OK;
    if (b->be->ops->index_upload) return b->be->ops->index_upload(b->be, b->stage, b->idx, idx, n, e);
    b->be->ops->to_device(b->be, b->idx, idx, (size_t)n * sizeof(int64_t));
    return LVT_OK;
}

int lvt_devbatch_gather(lvt_devbatch *b, const lvt_devdata *dd, int n, lvt_err *e) {
    if (n < 0 || n > b->cap) return lvt_errf(e, "device batch: gather of %d samples, capacity %d", n, b->cap);
    if (b->D != dd->dim || b->L != dd->context_len)
        return lvt_errf(e, "device batch: shape L=%d D=%d does not match the store (L=%d D=%d)", b->L, b->D,
                        dd->context_len, dd->dim);
    if (b->be != dd->be) return lvt_errf(e, "device batch: batch and store live on different backends");
    if (!b->be->ops->batch_gather)
        return lvt_errf(e, "device batch: backend '%s' has no resident-store gather", b->be->ops->name);
    b->b = n;
    if (n == 0) return LVT_OK;
    b->be->ops->batch_gather(b->be, dd, b, n);
    return LVT_OK;
}
