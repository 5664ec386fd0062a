/* inspect.h — part of the `convert` module (docs/synth.md): the statistics of an article store
 * behind `lvt inspect` (sizes, lengths, coherence, the cos(ctx[i], target) profile, baselines and
 * the forward-signal score). Code: src/data/inspect.c. */
#ifndef LVT_INSPECT_H
#define LVT_INSPECT_H

#include <stdio.h>

#include "lvt/common.h"
#include "lvt/data.h"

#define LVT_INSPECT_MAX_L 64
#define LVT_INSPECT_FWD_MAX 40000 /* the forward score uses at most the first 40000 sampled windows */

typedef struct lvt_inspect_opts {
    int context_len;       /* L (default 5) */
    int64_t max_windows;   /* sampled windows for the window statistics (default 20000) */
    uint64_t seed;         /* window sampling (default 1) */
} lvt_inspect_opts;

typedef struct lvt_inspect_stats {
    int64_t articles, chunks, windows;
    int dim, context_len;
    int64_t len_min, len_max;
    double len_p10, len_median, len_mean, len_p90;
    double adjacent;        /* mean over articles (>= 2 chunks) of the article's mean
                               cos(chunk k, chunk k+1) */
    double adjacent_pairs;  /* the same over all consecutive pairs of the store */
    int64_t sampled;        /* windows used for the statistics below */
    double profile[LVT_INSPECT_MAX_L]; /* mean cos(ctx[i], target), i = 0..L-1 */
    double copy_last;       /* = profile[L-1] */
    double mean_ctx;        /* mean cos(mean of the context, target) */
    int have_forward;       /* 0 when L < 2 or no windows in both even and odd articles */
    double forward_x;       /* D * mean (c_{t+1} - c_{t-1}) . A c_t, A fitted on the other half:
                               an unbiased estimate of 2 D |antisym. lag-1 cross-cov|^2 */
    double forward_signal;  /* signed sqrt of forward_x (docs/synth.md): about 0 = no forward
                               signal; the same for time-reversed data (a magnitude) */
} lvt_inspect_stats;

void lvt_inspect_defaults(lvt_inspect_opts *o);

/* Statistics of a store whose rows are unit vectors (read it with normalize = 1). */
int lvt_inspect(const lvt_store *s, const lvt_inspect_opts *o, lvt_inspect_stats *st, lvt_err *e);

/* Print the statistics as a human table or as one JSON object (built with cJSON; non-finite
 * values are null). */
void lvt_inspect_print(FILE *f, const char *path, const lvt_inspect_stats *st, int json);

#endif
