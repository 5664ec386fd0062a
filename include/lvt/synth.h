/* synth.h — part of the `convert` module (docs/synth.md): the seeded synthetic-article generator
 * behind `lvt synth`, and the store statistics behind `lvt inspect`. The generator's model, its
 * calibration bands and the forward-signal score are documented in docs/synth.md. */
#ifndef LVT_SYNTH_H
#define LVT_SYNTH_H

#include <stdio.h>

#include "lvt/common.h"
#include "lvt/data.h"

/* ---- the generator ------------------------------------------------------------------------- */

typedef struct lvt_synth_opts {
    int64_t articles;      /* number of articles (default 1000) */
    int64_t first_id;      /* article_ids are first_id, first_id+1, ... (default 0) */
    int dim;               /* D (default 768) */
    double mean_len;       /* mean article length in chunks (default 70) */
    double len_sigma;      /* sigma of the lognormal length law (default 0.8) */
    int min_len, max_len;  /* lengths are clamped to [min_len, max_len] (default 6, 2000) */
    double drift;          /* share of the fresh per-chunk content that follows the global
                              rotation (predictable), in [0, 1]; 0 = none (default 0.5) */
    double copy_cos;       /* calibration target: mean cos(ctx[-1], target) (default 0.52) */
    double far_cos;        /* calibration target: mean cos(ctx[0], target), lag 5 (default 0.455) */
    double rho_slow;       /* lag-1 correlation of the slow article path (default 0.7) */
    double rho_rot;        /* lag-1 correlation of the rotating state (default 0.9) */
    double focus;          /* topic share grows by focus * ln(len) (default 0.0625) */
    int topics;            /* number of topic clusters (default 64) */
    double topic_spread;   /* spread of an article's topic around its cluster (default 1.0) */
    uint64_t seed;         /* article randomness (default 1) */
    uint64_t world;        /* the rotation and the topic clusters (default 0) */
    int stream;            /* 0 train, 1 val, 2 ood: separate article streams of one seed */
    int ood;               /* nonzero: topic clusters of another world (out of distribution) */
} lvt_synth_opts;

void lvt_synth_defaults(lvt_synth_opts *o);

/* The calibrated shares: topic (window-weighted mean), slow path, fresh = 1 - topic - slow.
 * Fails with a clear message when the targets cannot be met. */
int lvt_synth_calibrate(const lvt_synth_opts *o, double *topic2, double *slow2, lvt_err *e);

/* Generate an in-memory store (vectors L2-normalised, chunk_ids set). Free with
 * lvt_store_free. Deterministic in (opts), independent of the number of threads. */
int lvt_synth_generate(const lvt_synth_opts *o, lvt_store *s, lvt_err *e);

/* Apply the world's rotation Q (the lag-1 map of the predictable state) to n rows x[n, dim]
 * into y[n, dim] (x != y). For oracle predictors in tests and docs. */
int lvt_synth_rotate(const lvt_synth_opts *o, const float *x, float *y, int64_t n, lvt_err *e);

/* ---- inspect ------------------------------------------------------------------------------- */

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

/* Print the statistics as a human table or as one JSON object. */
void lvt_inspect_print(FILE *f, const char *path, const lvt_inspect_stats *st, int json);

#endif
