/* test_ops_seam.c — the callers of the ops table test its entries, never the build (docs/ops.md,
 * "The seam"). Runs on the CPU backend with copies of its table in which entries are removed or
 * replaced by counting fakes:
 *   destroy:  lvt_backend_destroy goes through ops->destroy.
 *   graphs:   the CPU table has no graph entries: lvt_graph_available is 0, lvt_graph_begin fails
 *             with a message, the capture policy runs every step eagerly. With fake graph
 *             entries the policy (src/model/graph.c) warms up once, captures once, then only
 *             replays, passing the handle graph_end made to replay and destroy; a new signature
 *             destroys the graph and starts over; a graph_end that fails switches to eager for
 *             good with the reason in the note.
 *   devdata:  a table without batch_gather keeps no resident store (upload and gather refuse);
 *             a table with index staging entries is used by lvt_devbatch_set_indices instead
 *             of to_device, and its stage is created and destroyed with the batch.
 *   element math: the CPU vmap and gelu entries equal the elementwise.h functions bit for bit. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lvt/data.h"
#include "lvt/devdata.h"
#include "lvt/elementwise.h"
#include "lvt/graph.h"
#include "lvt/ops.h"
#include "testutil.h"

/* ---- counting fakes -------------------------------------------------------------------------------- */

static struct {
    int destroys, begins, ends, replays, graph_destroys, fail_end;
    int stage_creates, stage_destroys, uploads;
    uint64_t last_step;
    void *handle;
} F;

static void (*cpu_destroy)(lvt_backend *be);
static void count_destroy(lvt_backend *be) {
    F.destroys++;
    cpu_destroy(be);
}

static int fake_begin(lvt_backend *be, uint64_t ref_step, int64_t ref_base, lvt_err *e) {
    F.begins++;
    return LVT_OK;
}
static int fake_end(lvt_backend *be, void **graph, lvt_err *e) {
    F.ends++;
    if (F.fail_end) return lvt_errf(e, "fake: this work cannot be captured");
    *graph = F.handle = malloc(1);
    return LVT_OK;
}
static int fake_replay(lvt_backend *be, void *graph, uint64_t step, int64_t base, lvt_err *e) {
    CHECK(graph == F.handle, "replay got another handle than graph_end made");
    F.replays++;
    F.last_step = step;
    return LVT_OK;
}
static void fake_graph_destroy(lvt_backend *be, void *graph) {
    CHECK(graph == F.handle, "destroy got another handle than graph_end made");
    F.graph_destroys++;
    free(graph);
}

static int fake_stage_create(lvt_backend *be, void **stage, int cap, lvt_err *e) {
    F.stage_creates++;
    *stage = malloc((size_t)cap * sizeof(int64_t));
    return LVT_OK;
}
static void fake_stage_destroy(lvt_backend *be, void *stage) {
    F.stage_destroys++;
    free(stage);
}
static int fake_upload(lvt_backend *be, void *stage, int64_t *dst, const int64_t *idx, int n, lvt_err *e) {
    CHECK(stage != NULL, "index_upload without the stage");
    F.uploads++;
    memcpy(stage, idx, (size_t)n * sizeof(int64_t));
    memcpy(dst, stage, (size_t)n * sizeof(int64_t));
    return LVT_OK;
}

static int n_fn;
static int step_fn(void *ctx, lvt_err *e) {
    n_fn++;
    return LVT_OK;
}

/* ---- the checks ------------------------------------------------------------------------------------ */

static void test_destroy(void) {
    lvt_err e;
    lvt_backend *be;
    CHECK(lvt_backend_create(&be, "cpu", -1, LVT_MATH_FP32, &e) == LVT_OK, "%s", e.msg);
    lvt_ops t = *be->ops;
    cpu_destroy = t.destroy;
    t.destroy = count_destroy;
    be->ops = &t;
    lvt_backend_destroy(be);
    lvt_backend_destroy(NULL);
    CHECK(F.destroys == 1, "ops->destroy called %d times", F.destroys);
}

static void test_graphs(lvt_backend *cpu) {
    lvt_err e;
    CHECK(!cpu->ops->graph_begin && !cpu->ops->graph_end && !cpu->ops->graph_replay && !cpu->ops->graph_destroy,
          "the CPU table has graph entries");
    CHECK(!lvt_graph_available(cpu), "graphs available on the CPU");
    CHECK(lvt_graph_begin(cpu, 0, 0, &e) == LVT_ERROR, "begin accepted without graph entries");
    CHECK_MSG(e.msg, "cpu");
    lvt_graph_cache gc;
    lvt_graph_cache_init(&gc, cpu, 1);
    n_fn = 0;
    for (int s = 0; s < 4; s++) CHECK(lvt_graph_cache_run(&gc, 7, s, 0, step_fn, NULL, &e) == LVT_OK, "%s", e.msg);
    CHECK(n_fn == 4 && gc.n_eager == 4 && gc.n_captures == 0, "cpu: %d fn, %ld eager, %ld captures", n_fn,
          gc.n_eager, gc.n_captures);
    lvt_graph_cache_free(&gc);

    lvt_backend fake = *cpu;
    lvt_ops t = *cpu->ops;
    t.graph_begin = fake_begin, t.graph_end = fake_end, t.graph_replay = fake_replay;
    t.graph_destroy = fake_graph_destroy;
    fake.ops = &t;
    CHECK(lvt_graph_available(&fake), "fake graph entries not seen");
    lvt_graph_cache_init(&gc, &fake, 1);
    n_fn = 0;
    for (int s = 0; s < 5; s++) CHECK(lvt_graph_cache_run(&gc, 7, 100 + s, 0, step_fn, NULL, &e) == LVT_OK, "%s", e.msg);
    /* step 0 warm-up (eager), step 1 capture (fn recorded once) + replay, steps 2..4 replays */
    CHECK(n_fn == 2 && F.begins == 1 && F.ends == 1 && F.replays == 4, "policy: %d fn, %d begin, %d end, %d replay",
          n_fn, F.begins, F.ends, F.replays);
    CHECK(gc.n_eager == 1 && gc.n_captures == 1 && gc.n_replays == 4, "counters %ld/%ld/%ld", gc.n_eager,
          gc.n_captures, gc.n_replays);
    CHECK(F.last_step == 104, "last replay at step %llu", (unsigned long long)F.last_step);
    CHECK(lvt_graph_cache_run(&gc, 8, 105, 0, step_fn, NULL, &e) == LVT_OK, "%s", e.msg); /* new signature */
    CHECK(F.graph_destroys == 1 && n_fn == 3 && gc.n_eager == 2, "new signature: %d destroyed, %d fn",
          F.graph_destroys, n_fn);
    F.fail_end = 1;
    CHECK(lvt_graph_cache_run(&gc, 8, 106, 0, step_fn, NULL, &e) == LVT_OK, "%s", e.msg); /* capture fails */
    CHECK(!gc.enabled && n_fn == 5 && F.ends == 2, "failed capture: enabled %d, %d fn", gc.enabled, n_fn);
    CHECK_MSG(gc.note, "cannot be captured");
    CHECK(lvt_graph_cache_run(&gc, 8, 107, 0, step_fn, NULL, &e) == LVT_OK && n_fn == 6 && F.begins == 2,
          "after a failed capture: %d fn, %d begins", n_fn, F.begins);
    lvt_graph_cache_free(&gc);
}

static void test_devdata(lvt_backend *cpu) {
    lvt_err e;
    const int lens[] = {6, 3, 9};
    lvt_store s;
    memset(&s, 0, sizeof s);
    s.n_articles = 3;
    s.dim = 4;
    s.offsets = calloc(4, sizeof(int64_t));
    for (int a = 0; a < 3; a++) s.offsets[a + 1] = s.offsets[a] + lens[a];
    s.n = s.offsets[3];
    s.vectors = calloc((size_t)s.n * 4, sizeof(float));
    for (int64_t i = 0; i < s.n * 4; i++) s.vectors[i] = (float)i;
    lvt_windows w;
    CHECK(lvt_windows_build(&w, &s, 2, &e) == LVT_OK, "%s", e.msg);
    lvt_devdata dd;
    lvt_devbatch db;

    lvt_backend fake = *cpu;
    lvt_ops t = *cpu->ops;
    t.batch_gather = NULL;
    fake.ops = &t;
    CHECK(lvt_devdata_upload(&dd, &fake, &s, &w, LVT_DEVDATA_FP32, &e) == LVT_ERROR, "upload without batch_gather");
    CHECK_MSG(e.msg, "no resident-store gather");

    CHECK(!cpu->ops->index_upload && !cpu->ops->index_stage_create, "the CPU table stages indices");
    t = *cpu->ops;
    t.index_stage_create = fake_stage_create, t.index_stage_destroy = fake_stage_destroy;
    t.index_upload = fake_upload;
    if (lvt_devdata_upload(&dd, &fake, &s, &w, LVT_DEVDATA_FP32, &e) || lvt_devbatch_alloc(&db, &fake, 4, 2, 4, 2, &e)) {
        CHECK(0, "set-up: %s", e.msg);
        return;
    }
    CHECK(F.stage_creates == 1 && db.stage, "stage not created (%d)", F.stage_creates);
    const int64_t idx[3] = {0, (int64_t)w.n_windows - 1, 5};
    CHECK(lvt_devbatch_set_indices(&db, &dd, idx, 3, &e) == LVT_OK && F.uploads == 1, "upload: %s (%d)", e.msg,
          F.uploads);
    CHECK(lvt_devbatch_gather(&db, &dd, 3, &e) == LVT_OK, "gather: %s", e.msg);
    lvt_batch hb;
    CHECK(lvt_batch_alloc(&hb, 4, 2, 4, 2, &e) == LVT_OK, "%s", e.msg);
    lvt_batch_gather(&hb, &s, &w, idx, 3);
    CHECK(!memcmp(db.ctx, hb.ctx, 3 * 2 * 4 * sizeof(float)) && !memcmp(db.target, hb.target, 3 * 4 * sizeof(float)),
          "gather through the staged indices differs from lvt_batch_gather");
    lvt_devbatch_free(&db);
    CHECK(F.stage_destroys == 1, "stage destroyed %d times", F.stage_destroys);
    t.batch_gather = NULL; /* a batch on a backend that lost its gather: refused, not crashed */
    CHECK(lvt_devbatch_alloc(&db, &fake, 4, 2, 4, 2, &e) == LVT_OK, "%s", e.msg);
    CHECK(lvt_devbatch_gather(&db, &dd, 1, &e) == LVT_ERROR, "gather without batch_gather accepted");
    lvt_devbatch_free(&db);
    lvt_devdata_free(&dd);
    lvt_batch_free(&hb);
    lvt_windows_free(&w);
    free(s.vectors), free(s.offsets);
}

/* The CPU entries are the element functions of elementwise.h, bit for bit. */
static void test_element_math(lvt_backend *cpu) {
    enum { N = 257 };
    float a[N], b[N], c[N], y[N];
    for (int i = 0; i < N; i++) {
        a[i] = -3.0f + 6.0f * (float)i / N;
        b[i] = 0.5f + (float)(i % 7) * 0.3f;
        c[i] = (float)(i % 3) - 0.5f;
    }
    int bad = 0;
    for (lvt_vmap_op op = LVT_VMAP_HINGE; op <= LVT_VMAP_AFFINE; op++) {
        cpu->ops->vmap(cpu, op, a, b, 1, c, 0.6f, 0.05f, y, N);
        for (int i = 0; i < N; i++) {
            float r = lvt_vmap_apply(op, a[i], b[i], c[i], 0.6f, 0.05f);
            bad += memcmp(&r, &y[i], sizeof r) != 0;
        }
    }
    cpu->ops->gelu_fwd(cpu, a, y, N);
    for (int i = 0; i < N; i++) {
        float r = lvt_gelu(a[i]);
        bad += memcmp(&r, &y[i], sizeof r) != 0;
    }
    cpu->ops->gelu_bwd(cpu, b, a, y, N);
    for (int i = 0; i < N; i++) {
        float r = lvt_gelu_grad(b[i], a[i]);
        bad += memcmp(&r, &y[i], sizeof r) != 0;
    }
    CHECK(bad == 0, "%d CPU results differ from elementwise.h", bad);
    CHECK(isnan(lvt_vmap_apply((lvt_vmap_op)99, 1, 1, 1, 0, 1)), "an unknown vmap op is not NaN");
    CHECK(lvt_clip_coef(10.0, 1.0) < 0.1 && lvt_clip_coef(10.0, 0.0) == 1.0 && lvt_clip_coef(0.5, 1.0) == 1.0,
          "clip coefficient");
    CHECK(lvt_dropout_scale(0.0f) == 1.0f && lvt_dropout_scale(0.5f) == 2.0f && lvt_dropout_scale(1.0f) == 0.0f,
          "dropout scale");
}

int main(void) {
    lvt_err e;
    test_destroy();
    lvt_backend *cpu;
    if (lvt_backend_create(&cpu, "cpu", -1, LVT_MATH_FP32, &e)) {
        fprintf(stderr, "%s\n", e.msg);
        return 1;
    }
    CHECK(cpu->ops->host_memory == 1 && cpu->ops->batch_gather && !cpu->ops->coll_allreduce,
          "the CPU table's capabilities");
    test_graphs(cpu);
    test_devdata(cpu);
    test_element_math(cpu);
    lvt_backend_destroy(cpu);
    return test_finish("test_ops_seam");
}
