/* test_devdata.c — backend-resident data (include/lvt/devdata.h) against lvt_batch_gather, the
 * host reference: a store with articles of every interesting length (no window, one truth row,
 * two, three, many), random window indices including the first and last window, fp32 storage
 * bit-identical to lvt_batch_gather, bf16 storage equal to the nearest-even bf16 rounding of the
 * reference (checked independently: representable, within half an ulp, ties to even), bad
 * indices rejected. Runs on the CPU backend always; on the CUDA backend when a device exists
 * (gather kernel, and the gather replayed inside a CUDA graph with new indices). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lvt/data.h"
#include "lvt/devdata.h"
#include "lvt/graph.h"
#include "lvt/ops.h"
#include "gpu_gate.h"
#include "testutil.h"

#define L 3
#define D 19
#define H 4

static uint64_t rs = 99;
static double urand(void) {
    rs = rs * 6364136223846793005ull + 1442695040888963407ull;
    return (double)(rs >> 11) / 9007199254740992.0;
}

static void make_store(lvt_store *s) {
    /* article lengths: < L+1 (no window), L+1 (1 truth row), L+2, L+3, long ones */
    const int lens[] = {2, 4, 5, 6, 40, 0, 3, 17, 4, 25, 9};
    const int A = (int)(sizeof lens / sizeof lens[0]);
    memset(s, 0, sizeof *s);
    s->n_articles = A;
    s->dim = D;
    s->offsets = calloc((size_t)A + 1, sizeof(int64_t));
    s->article_ids = calloc((size_t)A, sizeof(int64_t));
    for (int a = 0; a < A; a++) {
        s->offsets[a + 1] = s->offsets[a] + lens[a];
        s->article_ids[a] = 100 + a;
    }
    s->n = s->offsets[A];
    s->vectors = calloc((size_t)s->n * D, sizeof(float));
    for (size_t i = 0; i < (size_t)s->n * D; i++) s->vectors[i] = (float)(urand() * 4.0 - 2.0);
    /* values exactly halfway between two bf16 numbers, to exercise ties-to-even */
    s->vectors[0] = 1.0f + 1.0f / 256.0f;          /* tie: rounds down to 1.0 (even) */
    s->vectors[1] = 1.0f + 3.0f / 256.0f;          /* tie: rounds up to 1 + 4/256 */
    s->vectors[2] = -(1.0f + 1.0f / 256.0f + 1e-6f); /* just above the tie: away from 1 */
}

/* Independent check that h is the nearest-even bf16 of x. */
static int is_rne_bf16(float x, float h) {
    uint32_t u;
    memcpy(&u, &h, sizeof u);
    if (u & 0xffffu) return 0; /* not representable in bf16 */
    if (x == 0.0f) return h == 0.0f;
    int ex;
    frexpf(x, &ex);
    double ulp = ldexp(1.0, ex - 8); /* bf16: 8 significant bits */
    double d = fabs((double)h - (double)x);
    if (d > ulp / 2) return 0;
    if (d == ulp / 2) { /* a tie: the even one (last mantissa bit of h zero) */
        return ((u >> 16) & 1u) == 0;
    }
    return 1;
}

static void compare_batch(const char *what, lvt_backend *be, const lvt_devbatch *db, const lvt_batch *hb, int n,
                          int bf16) {
    size_t sizes[6] = {(size_t)n * L * D, (size_t)n * D, (size_t)n * 2 * D, (size_t)n * 2, (size_t)n * H * D,
                       (size_t)n * H};
    const float *dev[6] = {db->ctx, db->target, db->fut, db->fut_mask, db->roll, db->roll_mask};
    const float *ref[6] = {hb->ctx, hb->target, hb->fut, hb->fut_mask, hb->roll, hb->roll_mask};
    const char *names[6] = {"ctx", "target", "fut", "fut_mask", "roll", "roll_mask"};
    for (int k = 0; k < 6; k++) {
        float *got = malloc(sizes[k] * sizeof(float));
        be->ops->to_host(be, got, dev[k], sizes[k] * sizeof(float));
        size_t bad = 0, first = 0;
        for (size_t i = 0; i < sizes[k]; i++) {
            int ok = bf16 ? is_rne_bf16(ref[k][i], got[i]) : memcmp(&got[i], &ref[k][i], sizeof(float)) == 0;
            if (!ok && bad++ == 0) first = i;
        }
        CHECK(bad == 0, "%s %s: %zu of %zu differ (first [%zu] got %.9g want %.9g)", what, names[k], bad, sizes[k],
              first, sizes[k] ? got[first] : 0.0f, sizes[k] ? ref[k][first] : 0.0f);
        free(got);
    }
    printf("  %s: %d samples %s\n", what, n, bf16 ? "equal the bf16 rounding of the reference" : "bit-identical");
}

static void run_backend(lvt_backend *be, const lvt_store *s, const lvt_windows *w, lvt_batch *hb) {
    lvt_err e;
    const int cap = 48;
    int64_t idx[48];
    for (int prec = 0; prec < 2; prec++) {
        lvt_devdata dd;
        lvt_devbatch db;
        if (lvt_devdata_upload(&dd, be, s, w, prec, &e) || lvt_devbatch_alloc(&db, be, cap, L, D, H, &e)) {
            CHECK(0, "%s: %s", be->ops->name, e.msg);
            return;
        }
        CHECK(dd.n_windows == w->n_windows, "window count %lld vs %lld", (long long)dd.n_windows,
              (long long)w->n_windows);
        for (int round = 0; round < 3; round++) {
            int n = round == 2 ? 7 : cap;
            for (int j = 0; j < n; j++) idx[j] = (int64_t)(urand() * (double)w->n_windows);
            idx[0] = 0;
            idx[1] = w->n_windows - 1;
            CHECK(lvt_devbatch_set_indices(&db, &dd, idx, n, &e) == 0, "set_indices: %s", e.msg);
            CHECK(lvt_devbatch_gather(&db, &dd, n, &e) == 0, "gather: %s", e.msg);
            lvt_batch_gather(hb, s, w, idx, n);
            char what[96];
            snprintf(what, sizeof what, "%s %s round %d", be->ops->name, prec ? "bf16" : "fp32", round);
            compare_batch(what, be, &db, hb, n, prec);
        }
        /* the indices must be windows of this store */
        idx[0] = w->n_windows;
        CHECK(lvt_devbatch_set_indices(&db, &dd, idx, 1, &e) != 0, "index n_windows accepted");
        CHECK_MSG(e.msg, "outside");
        idx[0] = -1;
        CHECK(lvt_devbatch_set_indices(&db, &dd, idx, 1, &e) != 0, "index -1 accepted");
        CHECK(lvt_devbatch_set_indices(&db, &dd, idx, cap + 1, &e) != 0, "more indices than capacity accepted");
        CHECK(lvt_devbatch_gather(&db, &dd, cap + 1, &e) != 0, "gather beyond capacity accepted");

        /* CUDA: the gather captured in a graph picks up indices set before each replay */
        if (prec == 0 && lvt_graph_available(be)) {
            lvt_graph *g = NULL;
            int rc = lvt_graph_begin(be, 0, 0, &e);
            if (!rc) {
                lvt_devbatch_gather(&db, &dd, cap, &e);
                rc = lvt_graph_end(be, &g, &e);
            }
            CHECK(rc == 0, "graph capture of the gather: %s", e.msg);
            for (int round = 0; rc == 0 && round < 2; round++) {
                for (int j = 0; j < cap; j++) idx[j] = (int64_t)(urand() * (double)w->n_windows);
                CHECK(lvt_devbatch_set_indices(&db, &dd, idx, cap, &e) == 0, "set_indices: %s", e.msg);
                CHECK(lvt_graph_replay(g, 0, 0, &e) == 0, "replay: %s", e.msg);
                lvt_batch_gather(hb, s, w, idx, cap);
                compare_batch("cuda fp32 gather replayed in a graph", be, &db, hb, cap, 0);
            }
            lvt_graph_destroy(g);
        }
        lvt_devbatch_free(&db);
        lvt_devdata_free(&dd);
    }
}

int main(void) {
    lvt_err e;
    lvt_store s;
    make_store(&s);
    lvt_windows w;
    if (lvt_windows_build(&w, &s, L, &e)) {
        fprintf(stderr, "%s\n", e.msg);
        return 1;
    }
    lvt_batch hb;
    if (lvt_batch_alloc(&hb, 48, L, D, H, &e)) {
        fprintf(stderr, "%s\n", e.msg);
        return 1;
    }
    /* the bf16 rounding itself on the tie cases */
    CHECK(lvt_bf16_to_float(lvt_bf16_from_float(1.0f + 1.0f / 256.0f)) == 1.0f, "tie 1+1/256 not to even");
    CHECK(lvt_bf16_to_float(lvt_bf16_from_float(1.0f + 3.0f / 256.0f)) == 1.0f + 4.0f / 256.0f, "tie 1+3/256");
    CHECK(lvt_bf16_to_float(lvt_bf16_from_float(-3.0f)) == -3.0f, "-3 not exact");

    lvt_backend *cpu;
    if (lvt_backend_create(&cpu, "cpu", -1, LVT_MATH_FP32, &e)) {
        fprintf(stderr, "%s\n", e.msg);
        return 1;
    }
    printf("cpu backend\n");
    run_backend(cpu, &s, &w, &hb);
    lvt_backend_destroy(cpu);
    if (gpu_gate("test_devdata")) {
        lvt_backend *gpu;
        if (lvt_backend_create(&gpu, "cuda", 0, LVT_MATH_FP32, &e)) {
            CHECK(0, "cuda backend: %s", e.msg);
        } else {
            printf("cuda backend\n");
            run_backend(gpu, &s, &w, &hb);
            lvt_backend_destroy(gpu);
        }
    } else {
        printf("the CUDA half of this test did not run\n");
    }
    lvt_batch_free(&hb);
    lvt_windows_free(&w);
    free(s.vectors), free(s.offsets), free(s.article_ids);
    return test_finish("test_devdata");
}
