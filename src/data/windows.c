/* windows.c — the window index (docs/formats.md): prefix sums of per-article window counts, window
 * index -> (article, first context row) by binary search, how many truth rows follow; and the
 * article shards of data.shard = "articles" (docs/formats.md), balanced by window count. */
#include "lvt/data.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

int lvt_windows_build(lvt_windows *w, const lvt_store *s, int context_len, lvt_err *e) {
    memset(w, 0, sizeof *w);
    if (context_len < 1) return lvt_errf(e, "context length %d must be >= 1", context_len);
    w->prefix = lvt_malloc((size_t)(s->n_articles + 1) * sizeof(int64_t), e);
    if (!w->prefix) return lvt_err_prefix(e, "window index");
    w->context_len = context_len;
    w->n_articles = s->n_articles;
    w->offsets = s->offsets;
    w->prefix[0] = 0;
    for (int64_t a = 0; a < s->n_articles; a++) {
        int64_t len = s->offsets[a + 1] - s->offsets[a];
        int64_t nw = len > context_len ? len - context_len : 0; /* needs L context rows + target */
        w->prefix[a + 1] = w->prefix[a] + nw;
    }
    w->n_windows = w->prefix[s->n_articles];
    return LVT_OK;
}

void lvt_windows_free(lvt_windows *w) {
    if (!w) return;
    free(w->prefix);
    memset(w, 0, sizeof *w);
}

void lvt_window_info(const lvt_windows *w, int64_t i, int64_t *article, int64_t *row0,
                     int64_t *n_truth) {
    assert(i >= 0 && i < w->n_windows);
    /* the article a with prefix[a] <= i < prefix[a+1]: largest a with prefix[a] <= i */
    int64_t lo = 0, hi = w->n_articles; /* invariant: prefix[lo] <= i < prefix[hi] */
    while (hi - lo > 1) {
        int64_t mid = lo + (hi - lo) / 2;
        if (w->prefix[mid] <= i) lo = mid;
        else hi = mid;
    }
    int64_t s = w->offsets[lo] + (i - w->prefix[lo]);
    if (article) *article = lo;
    if (row0) *row0 = s;
    if (n_truth) *n_truth = w->offsets[lo + 1] - (s + w->context_len);
}

void lvt_window_locate(const lvt_windows *w, int64_t i, int64_t *article, int64_t *row0) {
    lvt_window_info(w, i, article, row0, NULL);
}

static int64_t article_windows(const int64_t *offsets, int64_t a, int L) {
    int64_t len = offsets[a + 1] - offsets[a];
    return len > L ? len - L : 0;
}

/* First article a such that windows in articles < a, times world, reach r * W (a in [0, A]). */
static int64_t shard_boundary(const int64_t *offsets, int64_t A, int L, int64_t W, int r, int world) {
    if (r <= 0) return 0;
    if (r >= world) return A;
    int64_t cum = 0;
    for (int64_t a = 0; a < A; a++) {
        if (cum * world >= (int64_t)r * W) return a;
        cum += article_windows(offsets, a, L);
    }
    return A;
}

void lvt_shard_articles(const int64_t *offsets, int64_t n_articles, int context_len, int rank,
                        int world, int64_t *a_lo, int64_t *a_hi) {
    assert(world > 0 && rank >= 0 && rank < world && context_len >= 1);
    int64_t W = 0;
    for (int64_t a = 0; a < n_articles; a++) W += article_windows(offsets, a, context_len);
    *a_lo = shard_boundary(offsets, n_articles, context_len, W, rank, world);
    *a_hi = shard_boundary(offsets, n_articles, context_len, W, rank + 1, world);
}
