/* synth.c — the synthetic-article generator behind `lvt synth` (docs/synth.md; model, parameters
 * and calibration in docs/synth.md). Owns its seeded random numbers (splitmix64-seeded
 * xoshiro256**, Box-Muller Gaussians), the "world" (a fixed rotation Q of R^D and the topic
 * clusters) and the per-article processes. Every article draws from its own generator keyed by
 * (seed, stream, article), so output does not depend on thread count or scheduling. */
#include "lvt/synth.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SYNTH_PI 3.14159265358979323846

/* ---- random numbers ------------------------------------------------------------------------ */

typedef struct rng {
    uint64_t s[4];
} rng;

static uint64_t splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Seed from a 4-word key; distinct keys give unrelated streams. */
static void rng_seed(rng *r, uint64_t a, uint64_t b, uint64_t c, uint64_t d) {
    uint64_t x = a;
    uint64_t h = splitmix64(&x);
    x = h ^ b;
    h = splitmix64(&x);
    x = h ^ c;
    h = splitmix64(&x);
    x = h ^ d;
    for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&x);
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static inline uint64_t rng_next(rng *r) {
    uint64_t *s = r->s;
    uint64_t out = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return out;
}

/* Uniform in (0, 1): 53 bits, never exactly 0. */
static inline double rng_unit(rng *r) { return ((double)(rng_next(r) >> 11) + 0.5) * (1.0 / 9007199254740992.0); }

static double rng_gauss(rng *r) {
    double u1 = rng_unit(r), u2 = rng_unit(r);
    return sqrt(-2.0 * log(u1)) * cos(2.0 * SYNTH_PI * u2);
}

/* Fill x[0..n) with independent N(0, scale^2) (Box-Muller pairs, single precision). */
static void gauss_fill(rng *r, float *x, int n, float scale) {
    int i = 0;
    for (; i + 1 < n; i += 2) {
        uint64_t v = rng_next(r);
        float u1 = ((float)(v >> 40) + 0.5f) * (1.0f / 16777216.0f);
        float u2 = (float)((v >> 16) & 0xFFFFFF) * (1.0f / 16777216.0f);
        float rad = scale * sqrtf(-2.0f * logf(u1));
        float ang = 6.28318530717958647f * u2;
        x[i] = rad * cosf(ang);
        x[i + 1] = rad * sinf(ang);
    }
    if (i < n) x[i] = scale * (float)rng_gauss(r);
}

/* Key tags so that the streams of one seed never collide. */
enum { TAG_LEN = 1, TAG_BODY = 2, TAG_ROT = 3, TAG_TOPICS = 4 };

/* ---- options and calibration --------------------------------------------------------------- */

void lvt_synth_defaults(lvt_synth_opts *o) {
    memset(o, 0, sizeof *o);
    o->articles = 1000;
    o->first_id = 0;
    o->dim = 768;
    o->mean_len = 70.0;
    o->len_sigma = 0.8;
    o->min_len = 6;
    o->max_len = 2000;
    o->drift = 0.5;
    o->copy_cos = 0.52;
    o->far_cos = 0.455;
    o->rho_slow = 0.7;
    o->rho_rot = 0.9;
    o->focus = 0.0625;
    o->topics = 64;
    o->topic_spread = 1.0;
    o->seed = 1;
    o->world = 0;
    o->stream = 0;
    o->ood = 0;
}

/* With the rotating state invisible to lagged cosines (its angles average cos(h*theta) to 0),
 * mean cos at lag h is topic2 + slow2 * rho^h. Solve it for lag 1 = copy_cos, lag 5 = far_cos. */
int lvt_synth_calibrate(const lvt_synth_opts *o, double *topic2, double *slow2, lvt_err *e) {
    double r = o->rho_slow;
    if (!(r > 0.0 && r < 1.0)) return lvt_errf(e, "slow-path correlation must be in (0, 1), got %g", r);
    if (!(o->copy_cos > o->far_cos))
        return lvt_errf(e, "copy cos (%g) must exceed far cos (%g)", o->copy_cos, o->far_cos);
    double r5 = r * r * r * r * r;
    double s2 = (o->copy_cos - o->far_cos) / (r - r5);
    double t2 = o->copy_cos - s2 * r;
    if (t2 < 0.02 || t2 + s2 > 0.98)
        return lvt_errf(e, "copy cos %g and far cos %g cannot be met (topic share %.3f, slow share %.3f)",
                        o->copy_cos, o->far_cos, t2, s2);
    *topic2 = t2;
    *slow2 = s2;
    return LVT_OK;
}

static int check_opts(const lvt_synth_opts *o, lvt_err *e) {
    if (o->articles < 1) return lvt_errf(e, "need at least 1 article, got %lld", (long long)o->articles);
    if (o->dim < 2) return lvt_errf(e, "dim must be at least 2, got %d", o->dim);
    if (o->min_len < 1 || o->max_len < o->min_len)
        return lvt_errf(e, "length bounds [%d, %d] are invalid", o->min_len, o->max_len);
    if (!(o->mean_len >= 1.0 && o->mean_len <= 1e6)) return lvt_errf(e, "mean length must be in [1, 1e6], got %g", o->mean_len);
    if (!(o->len_sigma >= 0.0 && o->len_sigma <= 3.0)) return lvt_errf(e, "length sigma must be in [0, 3], got %g", o->len_sigma);
    if (!(o->drift >= 0.0 && o->drift <= 1.0)) return lvt_errf(e, "drift must be in [0, 1], got %g", o->drift);
    if (!(o->rho_rot >= 0.0 && o->rho_rot < 1.0)) return lvt_errf(e, "rotation correlation must be in [0, 1), got %g", o->rho_rot);
    if (!(o->focus >= 0.0 && o->focus <= 1.0)) return lvt_errf(e, "focus must be in [0, 1], got %g", o->focus);
    if (o->topics < 1) return lvt_errf(e, "need at least 1 topic cluster, got %d", o->topics);
    if (!(o->topic_spread >= 0.0)) return lvt_errf(e, "topic spread must be >= 0, got %g", o->topic_spread);
    if ((double)o->articles * o->mean_len * o->dim > 4e10)
        return lvt_errf(e, "%lld articles x %g chunks x %d dims is too large to hold in memory",
                        (long long)o->articles, o->mean_len, o->dim);
    return LVT_OK;
}

/* ---- the world: rotation Q and topic clusters ---------------------------------------------- */

typedef struct world {
    int dim, planes;
    int *perm;       /* plane j rotates coordinates perm[2j], perm[2j+1] */
    float *cs, *sn;  /* cos, sin of plane j's angle */
    int topics;
    float *centers;  /* [topics, dim], unit rows */
} world;

static void world_free(world *w) {
    free(w->perm);
    free(w->cs);
    free(w->sn);
    free(w->centers);
    memset(w, 0, sizeof *w);
}

static void normalize_f(float *x, int n) {
    double ss = 0.0;
    for (int i = 0; i < n; i++) ss += (double)x[i] * x[i];
    float inv = ss > 0.0 ? (float)(1.0 / sqrt(ss)) : 0.0f;
    for (int i = 0; i < n; i++) x[i] *= inv;
}

static int world_make(world *w, const lvt_synth_opts *o, lvt_err *e) {
    memset(w, 0, sizeof *w);
    int D = o->dim;
    w->dim = D;
    w->planes = D / 2;
    w->topics = o->topics;
    w->perm = lvt_malloc(sizeof(int) * (size_t)D, e);
    w->cs = lvt_malloc(sizeof(float) * (size_t)w->planes, e);
    w->sn = lvt_malloc(sizeof(float) * (size_t)w->planes, e);
    w->centers = lvt_malloc(sizeof(float) * (size_t)o->topics * (size_t)D, e);
    if (!w->perm || !w->cs || !w->sn || !w->centers) {
        world_free(w);
        return LVT_ERROR;
    }
    /* The rotation belongs to the world alone: train, val and ood share it. Random planes
     * (a shuffled coordinate pairing) with angles spread evenly over (0, 2 pi), so that the
     * mean of cos(h * theta_j) over the planes is exactly 0 for every lag 0 < h < D/2. */
    rng r;
    rng_seed(&r, o->world, TAG_ROT, 0, 0);
    for (int i = 0; i < D; i++) w->perm[i] = i;
    for (int i = D - 1; i > 0; i--) {
        int j = (int)(rng_next(&r) % (uint64_t)(i + 1));
        int t = w->perm[i];
        w->perm[i] = w->perm[j];
        w->perm[j] = t;
    }
    for (int j = 0; j < w->planes; j++) {
        double th = 2.0 * SYNTH_PI * ((double)j + 0.5) / (double)w->planes;
        w->cs[j] = (float)cos(th);
        w->sn[j] = (float)sin(th);
    }
    /* Topic clusters: ood stores draw them from another world. */
    rng_seed(&r, o->world, TAG_TOPICS, o->ood ? 1 : 0, 0);
    for (int k = 0; k < o->topics; k++) {
        float *c = w->centers + (size_t)k * D;
        gauss_fill(&r, c, D, 1.0f);
        normalize_f(c, D);
    }
    return LVT_OK;
}

/* z <- rho * Q z + sqrt(1 - rho^2) * g (g already scaled), in place; tmp has D floats. */
static void rotate_step(const world *w, float *z, const float *g, float rho, float *tmp) {
    int D = w->dim;
    float a = sqrtf(1.0f - rho * rho);
    memcpy(tmp, z, sizeof(float) * (size_t)D);
    for (int j = 0; j < w->planes; j++) {
        int p = w->perm[2 * j], q = w->perm[2 * j + 1];
        float zp = tmp[p], zq = tmp[q];
        z[p] = w->cs[j] * zp - w->sn[j] * zq;
        z[q] = w->sn[j] * zp + w->cs[j] * zq;
    }
    for (int i = 0; i < D; i++) z[i] = rho * z[i] + a * g[i];
}

int lvt_synth_rotate(const lvt_synth_opts *o, const float *x, float *y, int64_t n, lvt_err *e) {
    if (check_opts(o, e)) return LVT_ERROR;
    world w;
    if (world_make(&w, o, e)) return LVT_ERROR;
    int D = o->dim;
    for (int64_t r = 0; r < n; r++) {
        const float *a = x + (size_t)r * D;
        float *b = y + (size_t)r * D;
        memcpy(b, a, sizeof(float) * (size_t)D); /* an odd dim leaves one coordinate fixed */
        for (int j = 0; j < w.planes; j++) {
            int p = w.perm[2 * j], q = w.perm[2 * j + 1];
            b[p] = w.cs[j] * a[p] - w.sn[j] * a[q];
            b[q] = w.sn[j] * a[p] + w.cs[j] * a[q];
        }
    }
    world_free(&w);
    return LVT_OK;
}

/* ---- articles ------------------------------------------------------------------------------ */

static int64_t article_length(const lvt_synth_opts *o, int64_t a) {
    rng r;
    rng_seed(&r, o->seed, TAG_LEN, (uint64_t)o->stream, (uint64_t)a);
    double mu = log(o->mean_len) - 0.5 * o->len_sigma * o->len_sigma;
    double len = floor(exp(mu + o->len_sigma * rng_gauss(&r)) + 0.5);
    if (len < o->min_len) len = o->min_len;
    if (len > o->max_len) len = o->max_len;
    return (int64_t)len;
}

/* Generate article a into out[len, D]; scratch has 6*D floats. */
static void article_make(const lvt_synth_opts *o, const world *w, double topic2, double slow2, int64_t a,
                         int64_t len, float *out, float *scratch) {
    int D = o->dim;
    float *t = scratch, *y = scratch + D, *z = scratch + 2 * D, *g = scratch + 3 * D;
    float *tmp = scratch + 4 * D, *noise = scratch + 5 * D;
    float sd = 1.0f / sqrtf((float)D); /* coordinates N(0, 1/D): vectors of norm ~1 */
    rng r;
    rng_seed(&r, o->seed, TAG_BODY, (uint64_t)o->stream, (uint64_t)a);

    /* topic: a cluster centre plus a personal direction */
    int k = (int)(rng_next(&r) % (uint64_t)o->topics);
    gauss_fill(&r, t, D, sd * (float)o->topic_spread);
    const float *c = w->centers + (size_t)k * D;
    for (int i = 0; i < D; i++) t[i] += c[i];
    normalize_f(t, D);

    /* shares: the topic share grows with ln(length) around the window-weighted mean length */
    double mu = log(o->mean_len) - 0.5 * o->len_sigma * o->len_sigma;
    double mu_w = mu + o->len_sigma * o->len_sigma;
    double tau2 = topic2 + o->focus * (log((double)len) - mu_w);
    if (tau2 < 0.01) tau2 = 0.01;
    if (tau2 > 0.99 - slow2) tau2 = 0.99 - slow2;
    double fresh = 1.0 - tau2 - slow2;
    float ct = (float)sqrt(tau2), cy = (float)sqrt(slow2);
    float cz = (float)sqrt(o->drift * fresh), ce = (float)sqrt((1.0 - o->drift) * fresh);
    float rs = (float)o->rho_slow, ays = sqrtf(1.0f - rs * rs);

    /* stationary starts: both processes keep covariance I/D, so chunk 0 is already typical */
    gauss_fill(&r, y, D, sd);
    if (o->drift > 0.0) gauss_fill(&r, z, D, sd);
    for (int64_t j = 0; j < len; j++) {
        if (j > 0) {
            gauss_fill(&r, g, D, sd);
            for (int i = 0; i < D; i++) y[i] = rs * y[i] + ays * g[i];
            if (o->drift > 0.0) {
                gauss_fill(&r, g, D, sd);
                rotate_step(w, z, g, (float)o->rho_rot, tmp);
            }
        }
        if (o->drift < 1.0) gauss_fill(&r, noise, D, sd);
        float *v = out + (size_t)j * D;
        for (int i = 0; i < D; i++) {
            float x = ct * t[i] + cy * y[i];
            if (o->drift > 0.0) x += cz * z[i];
            if (o->drift < 1.0) x += ce * noise[i];
            v[i] = x;
        }
        normalize_f(v, D);
    }
}

int lvt_synth_generate(const lvt_synth_opts *o, lvt_store *s, lvt_err *e) {
    memset(s, 0, sizeof *s);
    if (check_opts(o, e)) return LVT_ERROR;
    double topic2, slow2;
    if (lvt_synth_calibrate(o, &topic2, &slow2, e)) return LVT_ERROR;

    int64_t A = o->articles;
    int D = o->dim;
    s->dim = D;
    s->n_articles = A;
    s->normalized = 1;
    snprintf(s->source, sizeof s->source,
             "lvt synth seed=%llu world=%llu stream=%d ood=%d drift=%g mean_len=%g dim=%d",
             (unsigned long long)o->seed, (unsigned long long)o->world, o->stream, o->ood, o->drift,
             o->mean_len, D);
    s->offsets = lvt_malloc(sizeof(int64_t) * (size_t)(A + 1), e);
    s->article_ids = lvt_malloc(sizeof(int64_t) * (size_t)A, e);
    if (!s->offsets || !s->article_ids) goto fail;
    s->offsets[0] = 0;
    for (int64_t a = 0; a < A; a++) {
        s->offsets[a + 1] = s->offsets[a] + article_length(o, a);
        s->article_ids[a] = o->first_id + a;
    }
    s->n = s->offsets[A];
    s->vectors = lvt_malloc(sizeof(float) * (size_t)s->n * (size_t)D, e);
    s->chunk_ids = lvt_malloc(sizeof(int64_t) * (size_t)s->n, e);
    if (!s->vectors || !s->chunk_ids) goto fail;
    for (int64_t a = 0; a < A; a++)
        for (int64_t j = s->offsets[a]; j < s->offsets[a + 1]; j++) s->chunk_ids[j] = j - s->offsets[a];

    world w;
    if (world_make(&w, o, e)) goto fail;
    int failed = 0;
#ifdef _OPENMP
#pragma omp parallel
#endif
    {
        float *scratch = malloc(sizeof(float) * 6 * (size_t)D);
        if (!scratch) {
#ifdef _OPENMP
#pragma omp atomic write
#endif
            failed = 1;
        }
#ifdef _OPENMP
#pragma omp for schedule(dynamic, 4)
#endif
        for (int64_t a = 0; a < A; a++) {
            if (!scratch) continue;
            article_make(o, &w, topic2, slow2, a, s->offsets[a + 1] - s->offsets[a],
                         s->vectors + (size_t)s->offsets[a] * D, scratch);
        }
        free(scratch);
    }
    world_free(&w);
    if (failed) {
        lvt_errf(e, "out of memory allocating generator scratch");
        goto fail;
    }
    return LVT_OK;
fail:
    lvt_store_free(s);
    return LVT_ERROR;
}
