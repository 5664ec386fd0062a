/* data.h — the HDF5 article store (docs/formats.md) and the HDF5 row files of `lvt predict`, the
 * window index, the seeded epoch permutation and global-batch slicing, and batch assembly into
 * contiguous arrays. */
#ifndef LVT_DATA_H
#define LVT_DATA_H

#include "lvt/common.h"

/* An article store in host memory. */
typedef struct lvt_store {
    int64_t n;               /* rows (chunks) */
    int dim;                 /* D */
    int64_t n_articles;      /* A */
    float *vectors;          /* [n, dim] */
    int64_t *offsets;        /* [A+1] */
    int64_t *article_ids;    /* [A] */
    int64_t *chunk_ids;      /* [n] or NULL */
    int normalized;          /* root attribute */
    int64_t dropped;         /* degenerate rows dropped at load (LVT_STORE_DROP_DEGENERATE) */
    char source[256];        /* root attribute */
} lvt_store;

typedef struct lvt_store_write_opts {
    int64_t chunk_rows; /* 0 = automatic */
    int compress;       /* 0 = none, 1..9 = deflate level */
} lvt_store_write_opts;

/* Write a store (validates it first). */
int lvt_store_write(const char *path, const lvt_store *s, const lvt_store_write_opts *opts, lvt_err *e);

/* Rows whose L2 norm is below this are degenerate (they normalise to Inf and make the cosine
 * undefined): an error naming the file and row, unless LVT_STORE_DROP_DEGENERATE. */
#define LVT_MIN_ROW_NORM 1e-6
/* The flags of lvt_store_read's `normalize` argument (1 keeps its old meaning). */
#define LVT_STORE_NORMALIZE 1
#define LVT_STORE_DROP_DEGENERATE 2 /* drop degenerate rows (and articles left empty) instead */

/* Drop the degenerate rows (norm below LVT_MIN_ROW_NORM) and the articles left empty, in place;
 * returns how many rows went. */
int64_t lvt_store_drop_degenerate(lvt_store *s);

/* Read a whole store; normalize & LVT_STORE_NORMALIZE L2-normalises rows on load. Every malformed
 * case of docs/formats.md is an error naming the file and dataset. */
int lvt_store_read(const char *path, int normalize, lvt_store *s, lvt_err *e);

/* Read only articles [a_lo, a_hi) (for sharding); offsets are rebased to start at 0. */
int lvt_store_read_range(const char *path, int64_t a_lo, int64_t a_hi, int normalize, lvt_store *s,
                         lvt_err *e);

/* Read only the header: n, dim, n_articles (no vectors loaded). */
int lvt_store_probe(const char *path, int64_t *n, int *dim, int64_t *n_articles, lvt_err *e);

/* Read only /article_offsets (checked against the row count of /vectors): *offsets gets a
 * malloc'ed [A+1] array the caller frees. For planning an article shard without loading vectors. */
int lvt_store_read_offsets(const char *path, int64_t **offsets, int64_t *n_articles, lvt_err *e);

/* Check an in-memory store for consistency (offsets monotone, in range, finite vectors). */
int lvt_store_check(const lvt_store *s, const char *name, lvt_err *e);

void lvt_store_free(lvt_store *s);

/* A row file: an HDF5 file holding a float32 [rows, cols] dataset written in blocks of rows, and
 * int64 vectors of length rows beside it (`lvt predict`: /predictions, /window_article,
 * /window_row). Written to a temporary file beside path; lvt_rows_h5_finish(ok = 1) renames it
 * into place atomically, lvt_rows_h5_finish(ok = 0) discards it. */
typedef struct lvt_rows_h5 {
    int64_t file, dset; /* HDF5 ids; -1 when closed */
    char path[1024];
    char tmp[1100];
    int64_t rows;
    int cols;
} lvt_rows_h5;

int lvt_rows_h5_create(lvt_rows_h5 *w, const char *path, const char *dataset, int64_t rows, int cols, lvt_err *e);
/* Rows [row0, row0 + count) from x [count, cols]. */
int lvt_rows_h5_write(lvt_rows_h5 *w, int64_t row0, const float *x, int64_t count, lvt_err *e);
/* An int64 dataset of length rows. */
int lvt_rows_h5_write_i64(lvt_rows_h5 *w, const char *dataset, const int64_t *v, lvt_err *e);
int lvt_rows_h5_finish(lvt_rows_h5 *w, int ok, lvt_err *e);

/* ---- windows ---------------------------------------------------------------------------- */

/* Window index over a store: article a has max(0, len_a - L) windows (context s..s+L-1, target
 * s+L). prefix[a] = number of windows in articles < a. Never materialises windows. */
typedef struct lvt_windows {
    int context_len;         /* L */
    int64_t n_articles;
    int64_t n_windows;
    int64_t *prefix;         /* [A+1] */
    const int64_t *offsets;  /* borrowed from the store */
} lvt_windows;

int lvt_windows_build(lvt_windows *w, const lvt_store *s, int context_len, lvt_err *e);
void lvt_windows_free(lvt_windows *w);

/* Window i -> (article, first context row in the store). i must be in [0, n_windows). */
void lvt_window_locate(const lvt_windows *w, int64_t i, int64_t *article, int64_t *row0);

/* Window i -> article, first context row, and n_truth = the number of rows of the article from
 * the target row s+L on (>= 1). Row s+L+k exists iff k < n_truth: target +2 exists iff
 * n_truth >= 2, target +3 iff n_truth >= 3, rollout truth row h (h = 1..H, row s+L+h-1) iff
 * h <= n_truth. */
void lvt_window_info(const lvt_windows *w, int64_t i, int64_t *article, int64_t *row0,
                     int64_t *n_truth);

/* data.shard = "articles": split articles [0, A) into `world` contiguous ranges balanced by
 * window count for context length L. Rank r gets [*a_lo, *a_hi): a_lo is the first article a
 * whose preceding articles hold >= r*W/world windows (W = all windows), so each rank's window
 * count is within one article's windows of W/world. */
void lvt_shard_articles(const int64_t *offsets, int64_t n_articles, int context_len, int rank,
                        int world, int64_t *a_lo, int64_t *a_hi);

/* ---- epoch order -------------------------------------------------------------------------- */

/* A bijection on [0, n) keyed by (seed, epoch): a Feistel network with cycle walking.
 * O(1) memory, identical in every process. */
typedef struct lvt_perm {
    uint64_t n;
    uint64_t half_bits; /* bits per Feistel half */
    uint64_t mask;
    uint32_t keys[8];
} lvt_perm;

void lvt_perm_init(lvt_perm *p, uint64_t n, uint64_t seed, uint64_t epoch);
uint64_t lvt_perm_apply(const lvt_perm *p, uint64_t i);

/* steps_per_epoch = ceil(n_windows / G): no sample is dropped, the last batch may be short.
 * The global batch of step s is positions [s*G, s*G + m) of the epoch order, m = min(G, n - s*G).
 * Rank r of world takes the contiguous part of it that starts at s*G + r*q + min(r, m % world)
 * and holds q + (r < m % world) positions, q = m / world: an even split where the first ranks
 * take one extra (for a full batch with world | G this is exactly [r*G/world, (r+1)*G/world)).
 * Returns the count for this rank (0 past the epoch's end) and sets *pos_lo (may be NULL). */
int64_t lvt_steps_per_epoch(int64_t n_windows, int64_t global_batch);
int64_t lvt_rank_slice(int64_t n_windows, int64_t global_batch, int64_t step, int rank, int world,
                       int64_t *pos_lo);

/* ---- batches ------------------------------------------------------------------------------ */

/* A host batch: contiguous arrays for B windows with L context rows of dim D. */
typedef struct lvt_batch {
    int cap, b, L, D, H;     /* capacity, rows used, context length, dim, rollout truth depth */
    float *ctx;              /* [cap, L, D] */
    float *target;           /* [cap, D]   row s+L (+1) */
    float *fut;              /* [cap, 2, D] rows s+L+1 (+2), s+L+2 (+3); zero where missing */
    float *fut_mask;         /* [cap, 2]   1 if the row exists in the article */
    float *roll;             /* [cap, H, D] rollout truth rows s+L .. s+L+H-1 (H >= 1) */
    float *roll_mask;        /* [cap, H] */
    int64_t *sample_index;   /* [cap] global window index (keys dropout / context drop) */
} lvt_batch;

int lvt_batch_alloc(lvt_batch *b, int cap, int L, int D, int H, lvt_err *e);
void lvt_batch_free(lvt_batch *b);

/* Gather windows idx[0..n) into b (n <= cap). */
void lvt_batch_gather(lvt_batch *b, const lvt_store *s, const lvt_windows *w, const int64_t *idx,
                      int n);

#endif
