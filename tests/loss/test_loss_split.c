/* test_loss_split.c — the normalisation rules of the loss module (include/lvt/loss.h,
 * docs/loss.md): one batch of G samples evaluated
 *  (a) in one process,
 *  (b) split over two "ranks" (two threads, each with its own backend, model copy and loss,
 *      meeting in the reduce hook through a barrier; an uneven split and a split that leaves one
 *      rank empty), and
 *  (c) as two sequential micro-steps of one rank (gradient accumulation),
 * must give the same logged terms (summed over ranks / micro-steps as the trainer does, λ_eff
 * equal on every rank) and the same summed parameter gradient. (a) vs (b) holds for every term,
 * batch statistics included, with model dropout and context drop on (keyed by the global sample
 * position); (c) holds for the terms without batch statistics (MSE, rollout H=1, directional with
 * per-sample weights, anti-copy), since batch statistics are per micro-step by design. Also: the
 * skipped backward of zero-gradient rollout slots equals the full one exactly (zero_slots). */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lvt/loss.h"
#include "lvt/model.h"
#include "lvt/rng.h"
#include "testutil.h"

#define G 7
#define L 5
#define D 12
#define HMAX 3
#define NBUF 64

static const lvt_model_cfg MC = {.dim = D, .d_model = 8, .n_heads = 2, .n_layers = 2, .ffn_mult = 4,
                                 .context_len = L, .dropout = 0.1f};

typedef struct {
    float ctx[G * L * D], y[G * D], fut[G * 2 * D], futm[G * 2], roll[G * HMAX * D], rollm[G * HMAX];
} batch_data;

/* the cross-rank reduction of two threads */
typedef struct {
    pthread_barrier_t bar;
    float slot[2][NBUF];
} world2;

typedef struct {
    world2 *w;
    int rank;
} reduce_ctx;

static int reduce2(void *vctx, float *buf, int n, lvt_err *e) {
    reduce_ctx *rc = vctx;
    if (n > NBUF) return lvt_errf(e, "reduce of %d floats exceeds the test's %d", n, NBUF);
    memcpy(rc->w->slot[rc->rank], buf, sizeof(float) * (size_t)n);
    pthread_barrier_wait(&rc->w->bar);
    for (int i = 0; i < n; i++) buf[i] = rc->w->slot[0][i] + rc->w->slot[1][i];
    pthread_barrier_wait(&rc->w->bar);
    return LVT_OK;
}

/* one rank: its own backend, model (same parameters) and loss; samples [lo, hi) of the batch */
typedef struct {
    const batch_data *bd;
    const float *params;
    const lvt_objective_cfg *obj;
    int lo, hi;
    world2 *w;
    int rank;
    float terms[LVT_TERM_COUNT];
    float *grads;
    int failed;
    int full_backward;          /* 1: clear skip_zero_slots (every slot's backward runs) */
    long slots_run, slots_skip; /* the loss's rollout slot backward counters after the step */
} rank_job;

static void *rank_run(void *arg) {
    rank_job *j = arg;
    lvt_err e = {{0}};
    lvt_backend *be = NULL;
    lvt_model m;
    lvt_loss l;
    const int n = j->hi - j->lo;
    reduce_ctx rc = {j->w, j->rank};
    if (lvt_backend_create(&be, "cpu", -1, LVT_MATH_FP32, &e) || lvt_model_create(&m, &MC, be, &e) ||
        lvt_model_plan(&m, G, HMAX, &e) || lvt_loss_create(&l, be, G, L, D, HMAX, &e)) {
        fprintf(stderr, "rank %d setup: %s\n", j->rank, e.msg);
        j->failed = 1;
        return NULL;
    }
    lvt_model_params_from_host(&m, j->params);
    if (j->w) l.reduce = reduce2, l.reduce_ctx = &rc;
    if (j->full_backward) l.skip_zero_slots = 0;
    const batch_data *b = j->bd;
    const int lo = j->lo;
    lvt_loss_batch lb = {n, b->ctx + (size_t)lo * L * D, b->y + (size_t)lo * D, b->fut + (size_t)lo * 2 * D,
                         b->futm + lo * 2, b->roll + (size_t)lo * HMAX * D, b->rollm + lo * HMAX, HMAX};
    lvt_loss_norm norm = {G, G};
    lvt_dropout_key key = {.seed = 77, .step = 9, .site = 0, .sample_base = 1000 + lo, .p = MC.dropout};
    lvt_model_zero_grad(&m);
    if (lvt_loss_step(&l, &m, j->obj, &lb, &norm, &key, 1, 1, &e)) {
        fprintf(stderr, "rank %d step: %s\n", j->rank, e.msg);
        j->failed = 1;
    }
    lvt_loss_read(&l, j->terms);
    j->slots_run = l.slots_run;
    j->slots_skip = l.slots_skipped;
    be->ops->to_host(be, j->grads, m.grads, sizeof(float) * m.n_params);
    lvt_loss_destroy(&l);
    lvt_model_destroy(&m);
    lvt_backend_destroy(be);
    return NULL;
}

static void unit_row(float *v, uint32_t site, uint64_t r) {
    double s = 0;
    for (int j = 0; j < D; j++) {
        v[j] = 2.0f * lvt_rng_unit(3, 0, site, r, (uint64_t)j) - 1.0f;
        s += (double)v[j] * v[j];
    }
    for (int j = 0; j < D; j++) v[j] = (float)(v[j] / sqrt(s));
}

static void make_batch(batch_data *b) {
    for (int r = 0; r < G * L; r++) unit_row(b->ctx + r * D, 1, (uint64_t)r);
    for (int s = 0; s < G; s++) {
        float nz[D];
        unit_row(nz, 2, (uint64_t)s);
        double a = 0.45 + 0.05 * s, q = 0;
        const float *c4 = b->ctx + ((size_t)s * L + L - 1) * D;
        for (int j = 0; j < D; j++) b->y[s * D + j] = (float)(a * c4[j] + sqrt(1 - a * a) * nz[j]);
        for (int j = 0; j < D; j++) q += (double)b->y[s * D + j] * b->y[s * D + j];
        for (int j = 0; j < D; j++) b->y[s * D + j] = (float)(b->y[s * D + j] / sqrt(q));
        for (int k = 0; k < 2; k++) {
            int ok = !(s == 2 || (s == 5 && k == 1));
            b->futm[s * 2 + k] = (float)ok;
            if (ok) unit_row(b->fut + (s * 2 + k) * D, 3, (uint64_t)(s * 2 + k));
            else memset(b->fut + (s * 2 + k) * D, 0, sizeof(float) * D);
        }
        for (int h = 0; h < HMAX; h++) {
            memcpy(b->roll + (s * HMAX + h) * D, h ? b->fut + (s * 2 + h - 1) * D : b->y + s * D, sizeof(float) * D);
            b->rollm[s * HMAX + h] = h ? b->futm[s * 2 + h - 1] : 1.0f;
        }
    }
}

static lvt_objective_cfg obj_all(const char *supervise) {
    lvt_objective_cfg o;
    memset(&o, 0, sizeof o);
    o.rollout_h = 3, o.lambda_roll = 0.5;
    o.rollout_grad = LVT_ROLLOUT_GRAD_FULL;
    o.rollout_supervise = !strcmp(supervise, "truth") ? LVT_SUPERVISE_TRUTH : LVT_SUPERVISE_FLAT;
    o.flat_threshold = -1.0, o.flat_scale = 10.0; /* always active: the batch mean matters */
    o.lambda_dir = 0.5, o.margin_dir = 0.3;
    o.dir_ref = LVT_DIR_REF_PREV;
    o.adaptive_dir = LVT_ADAPTIVE_BATCH;
    o.lambda_fut = 0.5, o.margin_fut = 0.3;
    o.lambda_ac = 0.5, o.margin_ac = 0.3;
    o.context_drop_p = 0.5;
    o.context_drop_mode = LVT_CTX_DROP_NOISE;
    return o;
}

static double max_abs(const float *a, size_t n) {
    double m = 0;
    for (size_t i = 0; i < n; i++) m = fmax(m, fabs(a[i]));
    return m;
}

/* compare summed terms and gradients; tolerances: float summation order */
static void compare(const char *what, const float *t_ref, const float *t_sum, double lam_ref, double lam_got,
                    const float *g_ref, const float *g_sum, size_t np, const int *terms, int n_terms) {
    double worst_t = 0, gscale = max_abs(g_ref, np), worst_g = 0;
    for (int i = 0; i < n_terms; i++) {
        int k = terms[i];
        double d = fabs(t_sum[k] - t_ref[k]) / fmax(1e-3, fabs(t_ref[k]));
        worst_t = fmax(worst_t, d);
        CHECK(d <= 1e-5, "%s: term %d %.8g vs one process %.8g", what, k, t_sum[k], t_ref[k]);
    }
    if (lam_ref >= 0) CHECK(fabs(lam_got - lam_ref) <= 1e-6 * fabs(lam_ref), "%s: lambda_eff %.8g vs %.8g", what, lam_got, lam_ref);
    for (size_t i = 0; i < np; i++) worst_g = fmax(worst_g, fabs(g_sum[i] - g_ref[i]));
    CHECK(gscale > 0 && worst_g <= 1e-5 * gscale, "%s: summed gradient max dev %.3g (max |g| %.3g)", what, worst_g, gscale);
    printf("%-34s terms worst rel %.1e, gradient worst dev %.1e of max |g| %.2e\n", what, worst_t, worst_g, gscale);
}

static void two_ranks(const batch_data *bd, const float *params, size_t np, const lvt_objective_cfg *o, int cut,
                      const char *what) {
    float *g_ref = malloc(sizeof(float) * np), *g0 = malloc(sizeof(float) * np), *g1 = malloc(sizeof(float) * np);
    rank_job one = {bd, params, o, 0, G, NULL, 0, {0}, g_ref, 0, 0, 0, 0};
    rank_run(&one);
    world2 w;
    pthread_barrier_init(&w.bar, NULL, 2);
    rank_job j0 = {bd, params, o, 0, cut, &w, 0, {0}, g0, 0, 0, 0, 0}, j1 = {bd, params, o, cut, G, &w, 1, {0}, g1, 0, 0, 0, 0};
    pthread_t th;
    pthread_create(&th, NULL, rank_run, &j1);
    rank_run(&j0);
    pthread_join(th, NULL);
    pthread_barrier_destroy(&w.bar);
    CHECK(!one.failed && !j0.failed && !j1.failed, "%s: a step failed", what);
    float tsum[LVT_TERM_COUNT];
    for (int k = 0; k < LVT_TERM_COUNT; k++) tsum[k] = j0.terms[k] + j1.terms[k];
    for (size_t i = 0; i < np; i++) g0[i] += g1[i];
    CHECK(j0.terms[LVT_TERM_LAMBDA_EFF] == j1.terms[LVT_TERM_LAMBDA_EFF], "%s: ranks disagree on lambda_eff", what);
    int terms[] = {LVT_TERM_TOTAL, LVT_TERM_MSE, LVT_TERM_ROLL, LVT_TERM_DIR, LVT_TERM_FUT, LVT_TERM_AC, LVT_TERM_COS};
    for (int i = 2; i < 6; i++)
        CHECK(fabsf(one.terms[terms[i]]) > 1e-4f, "%s: term %d is inactive (weak test)", what, terms[i]);
    compare(what, one.terms, tsum, one.terms[LVT_TERM_LAMBDA_EFF], j0.terms[LVT_TERM_LAMBDA_EFF], g_ref, g0, np,
            terms, 7);
    free(g_ref), free(g0), free(g1);
}

/* gradient accumulation over two micro-steps of one rank */
static void micro_steps(const batch_data *bd, const float *params, size_t np) {
    lvt_err e = {{0}};
    lvt_backend *be = NULL;
    lvt_model m;
    lvt_loss l;
    if (lvt_backend_create(&be, "cpu", -1, LVT_MATH_FP32, &e) || lvt_model_create(&m, &MC, be, &e) ||
        lvt_model_plan(&m, G, HMAX, &e) || lvt_loss_create(&l, be, G, L, D, HMAX, &e)) {
        CHECK(0, "setup: %s", e.msg);
        return;
    }
    lvt_model_params_from_host(&m, params);
    lvt_objective_cfg o = obj_all("flat");
    o.rollout_h = 1, o.lambda_fut = 0;
    o.adaptive_dir = LVT_ADAPTIVE_SAMPLE;
    float t_ref[LVT_TERM_COUNT], t_sum[LVT_TERM_COUNT] = {0}, t[LVT_TERM_COUNT];
    float *g_ref = malloc(sizeof(float) * np), *g_acc = malloc(sizeof(float) * np);
    const int cuts[3] = {0, 4, G};
    for (int pass = 0; pass < 2; pass++) {
        lvt_model_zero_grad(&m);
        for (int a = 0; a < (pass ? 2 : 1); a++) {
            int lo = pass ? cuts[a] : 0, hi = pass ? cuts[a + 1] : G, n = hi - lo;
            lvt_loss_batch lb = {n, bd->ctx + (size_t)lo * L * D, bd->y + (size_t)lo * D, bd->fut + (size_t)lo * 2 * D,
                                 bd->futm + lo * 2, bd->roll + (size_t)lo * HMAX * D, bd->rollm + lo * HMAX, HMAX};
            lvt_loss_norm norm = {G, n}; /* one rank: the micro-step's world count is its own */
            lvt_dropout_key key = {.seed = 77, .step = 9, .site = 0, .sample_base = 1000 + lo, .p = MC.dropout};
            CHECK(lvt_loss_step(&l, &m, &o, &lb, &norm, &key, 1, 1, &e) == 0, "micro-step: %s", e.msg);
            lvt_loss_read(&l, t);
            if (!pass) memcpy(t_ref, t, sizeof t);
            else
                for (int k = 0; k < LVT_TERM_COUNT; k++) t_sum[k] += t[k];
        }
        be->ops->to_host(be, pass ? g_acc : g_ref, m.grads, sizeof(float) * np);
    }
    int terms[] = {LVT_TERM_TOTAL, LVT_TERM_MSE, LVT_TERM_ROLL, LVT_TERM_DIR, LVT_TERM_AC, LVT_TERM_COS};
    compare("2 micro-steps (4+3), no batch stats", t_ref, t_sum, -1, 0, g_ref, g_acc, np, terms, 6);
    free(g_ref), free(g_acc);
    lvt_loss_destroy(&l);
    lvt_model_destroy(&m);
    lvt_backend_destroy(be);
}

/* A rollout slot whose prediction gradient is exactly zero has its backward skipped
 * (skip_zero_slots, docs/loss.md "Zero-gradient slots"): the terms and every gradient element
 * must equal, exactly, those of the full backward, and the counters must say what was skipped:
 * flat penalty always active (nothing), never active (both later slots), truth supervision with
 * no truth row for slot 3 (slot 3 only, slot 2 still runs and feeds p_1). */
static void zero_slots(const batch_data *bd0, const float *params, size_t np) {
    static batch_data nolast;
    nolast = *bd0;
    for (int s = 0; s < G; s++) nolast.rollm[s * HMAX + HMAX - 1] = 0.0f;
    struct {
        const char *what, *supervise;
        double thr;
        const batch_data *bd;
        long skip;
    } cases[] = {{"flat always active", "flat", -1.0, bd0, 0},
                 {"flat never active", "flat", 1.0, bd0, 2},
                 {"truth, no row for slot 3", "truth", 0, &nolast, 1}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        lvt_objective_cfg o = obj_all(cases[c].supervise);
        o.flat_threshold = cases[c].thr;
        float *gs = malloc(sizeof(float) * np), *gf = malloc(sizeof(float) * np);
        rank_job sk = {cases[c].bd, params, &o, 0, G, NULL, 0, {0}, gs, 0, 0, 0, 0};
        rank_job fu = {cases[c].bd, params, &o, 0, G, NULL, 0, {0}, gf, 0, 1, 0, 0};
        rank_run(&sk);
        rank_run(&fu);
        CHECK(!sk.failed && !fu.failed, "zero slots, %s: a step failed", cases[c].what);
        CHECK(sk.slots_skip == cases[c].skip && sk.slots_run == HMAX - 1 - cases[c].skip,
              "zero slots, %s: %ld run, %ld skipped (want %ld skipped)", cases[c].what, sk.slots_run, sk.slots_skip,
              cases[c].skip);
        CHECK(fu.slots_skip == 0 && fu.slots_run == HMAX - 1, "zero slots, %s: full backward skipped %ld",
              cases[c].what, fu.slots_skip);
        size_t bad = 0;
        for (size_t i = 0; i < np; i++) bad += !(gs[i] == gf[i]);
        for (int k = 0; k < LVT_TERM_COUNT; k++) bad += !(sk.terms[k] == fu.terms[k]);
        CHECK(bad == 0, "zero slots, %s: %zu values differ from the full backward", cases[c].what, bad);
        CHECK(max_abs(gs, np) > 0, "zero slots, %s: no gradient", cases[c].what);
        printf("zero slots, %-26s %ld of %d later slot backwards skipped, gradient identical\n", cases[c].what,
               sk.slots_skip, HMAX - 1);
        free(gs), free(gf);
    }
}

int main(void) {
    lvt_err e = {{0}};
    lvt_backend *be = NULL;
    lvt_model m;
    if (lvt_backend_create(&be, "cpu", -1, LVT_MATH_FP32, &e) || lvt_model_create(&m, &MC, be, &e) ||
        lvt_model_init(&m, 5, &e)) {
        fprintf(stderr, "setup: %s\n", e.msg);
        return 1;
    }
    size_t np = m.n_params;
    float *params = malloc(sizeof(float) * np);
    lvt_model_params_to_host(&m, params);
    for (size_t i = 0; i < np; i++) params[i] += 0.2f * (2.0f * lvt_rng_unit(99, 0, 7, 0, i) - 1.0f);
    lvt_model_destroy(&m);
    lvt_backend_destroy(be);
    static batch_data bd;
    make_batch(&bd);

    lvt_objective_cfg flat = obj_all("flat"), truth = obj_all("truth");
    two_ranks(&bd, params, np, &flat, 4, "2 ranks (4+3), H=3 flat, batch");
    two_ranks(&bd, params, np, &truth, 3, "2 ranks (3+4), H=3 truth, batch");
    lvt_objective_cfg sample = flat;
    sample.adaptive_dir = LVT_ADAPTIVE_SAMPLE;
    sample.rollout_grad = LVT_ROLLOUT_GRAD_FIRST;
    two_ranks(&bd, params, np, &sample, 6, "2 ranks (6+1), H=3 first, sample");
    two_ranks(&bd, params, np, &flat, G, "2 ranks (7+0), H=3 flat, batch");
    micro_steps(&bd, params, np);
    zero_slots(&bd, params, np);
    free(params);
    return test_finish("test_loss_split");
}
