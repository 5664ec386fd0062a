/* synth.h — part of the `convert` module (docs/synth.md): the seeded synthetic-article generator
 * behind `lvt synth` (the store statistics of `lvt inspect` are in inspect.h). The generator's
 * model and its calibration bands are documented in docs/synth.md. */
#ifndef LVT_SYNTH_H
#define LVT_SYNTH_H

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

#endif
