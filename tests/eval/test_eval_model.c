/* test_eval_model.c — a transformer as a 5CAT predictor: the model predictor gives unit rows,
 * its chunking (cap smaller than the battery's batch) does not change the metrics, the numpy
 * reference agrees with the battery on the model's dumped predictions, the mini-5CAT (A-D, and A
 * alone as the trainer's validation runs it) is the battery, and `lvt eval --model`
 * on a saved checkpoint reports the same metrics as the in-process battery. */
#include "testutil.h"

#include "lvt/ckpt.h"
#include "lvt/safetensors.h"
#include "lvt/eval.h"
#include "lvt/ops.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static uint64_t rs = 0x1234567ull;
static double urand(void) {
    rs ^= rs << 13;
    rs ^= rs >> 7;
    rs ^= rs << 17;
    return ((double)(rs >> 11) + 0.5) / 9007199254740992.0;
}
static double nrand(void) { return sqrt(-2.0 * log(urand())) * cos(6.283185307179586 * urand()); }

/* random-walk articles of 6..35 chunks, adjacent cosine around 0.5 */
static void make_store(lvt_store *s, int A, int D) {
    memset(s, 0, sizeof *s);
    s->dim = D;
    s->n_articles = A;
    s->offsets = calloc((size_t)A + 1, sizeof(int64_t));
    s->article_ids = calloc((size_t)A, sizeof(int64_t));
    for (int a = 0; a < A; a++) {
        s->offsets[a + 1] = s->offsets[a] + 6 + (int64_t)(urand() * 30);
        s->article_ids[a] = a;
    }
    s->n = s->offsets[A];
    s->vectors = calloc((size_t)s->n * D, sizeof(float));
    s->normalized = 1;
    snprintf(s->source, sizeof s->source, "test_eval_model");
    for (int a = 0; a < A; a++) {
        float *prev = NULL;
        for (int64_t r = s->offsets[a]; r < s->offsets[a + 1]; r++) {
            float *v = s->vectors + r * D;
            double ss = 0;
            for (int j = 0; j < D; j++) {
                double g = nrand() / sqrt((double)D);
                v[j] = (float)(prev ? 0.55 * prev[j] + 0.85 * g : g);
                ss += (double)v[j] * v[j];
            }
            for (int j = 0; j < D; j++) v[j] = (float)(v[j] / sqrt(ss));
            prev = v;
        }
    }
}

static void free_store(lvt_store *s) {
    free(s->vectors);
    free(s->offsets);
    free(s->article_ids);
}

/* wraps the model predictor and checks every prediction is a unit row */
typedef struct {
    lvt_predictor inner;
    double worst;
} unit_check;

static int predict_checked(void *ctx, const float *in, int n, int L, int D, float *out, lvt_err *e) {
    unit_check *u = ctx;
    if (u->inner.predict(u->inner.ctx, in, n, L, D, out, e)) return LVT_ERROR;
    for (int i = 0; i < n; i++) {
        double ss = 0;
        for (int j = 0; j < D; j++) ss += (double)out[(size_t)i * D + j] * out[(size_t)i * D + j];
        if (fabs(sqrt(ss) - 1.0) > u->worst) u->worst = fabs(sqrt(ss) - 1.0);
    }
    return LVT_OK;
}

int main(void) {
    const char *dir = test_tmpdir("test_eval_model");
    lvt_err e = {{0}};
    lvt_backend *be = NULL;
    if (lvt_backend_create(&be, "cpu", 0, LVT_MATH_FP32, &e)) {
        printf("cpu backend unavailable: %s\n", e.msg);
        return 1;
    }
    lvt_model_cfg cfg = {.dim = 16, .d_model = 16, .n_heads = 2, .n_layers = 1, .ffn_mult = 2,
                         .context_len = 5, .dropout = 0.1f};
    lvt_model m;
    int rc = lvt_model_create(&m, &cfg, be, &e);
    CHECK(rc == LVT_OK, "model create: %s", e.msg);
    if (rc) return test_finish("test_eval_model");
    CHECK(lvt_model_init(&m, 3, &e) == LVT_OK, "model init: %s", e.msg);

    lvt_store s;
    make_store(&s, 25, 16);
    lvt_eval_opts o;
    lvt_eval_opts_default(&o);
    o.max_samples = 200;
    o.batch = 64;

    /* cap 7 (each battery batch split into pieces) vs cap 64 */
    lvt_model_predictor mp7, mp64;
    unit_check u7 = {{0}, 0}, u64 = {{0}, 0};
    CHECK(lvt_model_predictor_init(&mp7, &m, 7, &u7.inner, &e) == LVT_OK, "%s", e.msg);
    lvt_predictor p7 = {"model/7", &u7, predict_checked};
    lvt_eval_metrics m7, m64;
    char dump[1200];
    snprintf(dump, sizeof dump, "%s/model_dump.h5", dir);
    o.dump_path = dump;
    CHECK(lvt_eval_run(&s, &p7, &o, &m7, &e) == LVT_OK, "battery cap 7: %s", e.msg);
    o.dump_path = NULL;
    lvt_model_predictor_free(&mp7);
    CHECK(lvt_model_predictor_init(&mp64, &m, 64, &u64.inner, &e) == LVT_OK, "%s", e.msg);
    lvt_predictor p64 = {"model/64", &u64, predict_checked};
    CHECK(lvt_eval_run(&s, &p64, &o, &m64, &e) == LVT_OK, "battery cap 64: %s", e.msg);
    lvt_model_predictor_free(&mp64);
    CHECK(u7.worst < 1e-5 && u64.worst < 1e-5, "predictions are unit rows (worst |norm-1| %g, %g)",
          u7.worst, u64.worst);
    CHECK(fabs(m7.a_cos_p1 - m64.a_cos_p1) < 1e-5 && fabs(m7.b_mrr - m64.b_mrr) < 1e-5 &&
              fabs(m7.c_shuffled - m64.c_shuffled) < 1e-5 && fabs(m7.d_cos - m64.d_cos) < 1e-5,
          "chunking changed the metrics: cos %f/%f mrr %f/%f", m7.a_cos_p1, m64.a_cos_p1, m7.b_mrr, m64.b_mrr);

    /* the trainer's mini-5CAT is the same battery (tests A-D) */
    lvt_eval_metrics mini;
    CHECK(lvt_eval_mini5cat(&s, &m, 200, 64, o.seed, &mini, &e) == LVT_OK, "mini-5CAT: %s", e.msg);
    CHECK(mini.tests == (LVT_EVAL_ALL & ~LVT_EVAL_E) && mini.e_n == 0 && mini.n_selected == 200,
          "mini-5CAT runs A-D on the budget");
    CHECK(fabs(mini.a_cos_p1 - m64.a_cos_p1) < 1e-9 && fabs(mini.a_margin - m64.a_margin) < 1e-9 &&
              fabs(mini.b_mrr - m64.b_mrr) < 1e-9 && fabs(mini.c_reversed - m64.c_reversed) < 1e-9 &&
              fabs(mini.d_cos - m64.d_cos) < 1e-9,
          "mini-5CAT differs from the battery: cos %f/%f", mini.a_cos_p1, m64.a_cos_p1);

    /* the trainer's validation runs test A alone through lvt_eval_mini5cat_tests: bit-identical
     * to the battery with a model predictor of the same cap and opts.tests = A */
    lvt_eval_metrics mini_a, ref_a;
    CHECK(lvt_eval_mini5cat_tests(&s, &m, 150, 64, o.seed + 1, LVT_EVAL_A, &mini_a, &e) == LVT_OK,
          "mini-5CAT A: %s", e.msg);
    {
        lvt_model_predictor mpa;
        lvt_predictor pa;
        CHECK(lvt_model_predictor_init(&mpa, &m, 64, &pa, &e) == LVT_OK, "%s", e.msg);
        lvt_eval_opts oa;
        lvt_eval_opts_default(&oa);
        oa.max_samples = 150;
        oa.batch = 64;
        oa.seed = o.seed + 1;
        oa.tests = LVT_EVAL_A;
        CHECK(lvt_eval_run(&s, &pa, &oa, &ref_a, &e) == LVT_OK, "battery A: %s", e.msg);
        lvt_model_predictor_free(&mpa);
    }
    CHECK(mini_a.tests == LVT_EVAL_A && mini_a.b_n == 0 && mini_a.c_n == 0 && mini_a.d_n == 0 &&
              mini_a.n_selected == 150 && mini_a.a_n == ref_a.a_n,
          "mini-5CAT A runs test A alone on the budget (a_n %lld / %lld)", (long long)mini_a.a_n,
          (long long)ref_a.a_n);
    CHECK(mini_a.a_cos_p1 == ref_a.a_cos_p1 && mini_a.a_margin == ref_a.a_margin &&
              memcmp(mini_a.a_cos, ref_a.a_cos, sizeof ref_a.a_cos) == 0,
          "mini-5CAT A differs from the battery: cos(+1) %.17g / %.17g", mini_a.a_cos_p1, ref_a.a_cos_p1);
    CHECK(lvt_eval_mini5cat_tests(&s, &m, 150, 64, 1, 0, &mini_a, &e) == LVT_ERROR, "an empty test mask must fail");

    /* numpy recomputes the battery from the model's dumped predictions */
    const char *py = getenv("LVT_PYTHON"), *src = getenv("LVT_SOURCE_DIR"), *bin = getenv("LVT_BIN");
    char cmd[8192];
    if (py && src) {
        snprintf(cmd, sizeof cmd, "%s %s/tests/parity/fivecat_reference.py %s 200", py, src, dump);
        CHECK(test_system(cmd) == 0, "numpy reference disagrees on the model dump");
    }

    /* the CLI on a saved checkpoint: same metrics as the in-process battery with its defaults */
    if (bin && py) {
        char ck[600], sv[600], so[600], js[600];
        snprintf(ck, sizeof ck, "%s/model.h5", dir);
        snprintf(sv, sizeof sv, "%s/val.h5", dir);
        snprintf(so, sizeof so, "%s/ood.h5", dir);
        snprintf(js, sizeof js, "%s/report.json", dir);
        lvt_ckpt_info info;
        lvt_ckpt_info_init(&info);
        CHECK(lvt_ckpt_save(ck, &m, NULL, &info, &e) == LVT_OK, "ckpt save: %s", e.msg);
        lvt_ckpt_info_free(&info);
        lvt_store_write_opts wo = {0, 0};
        CHECK(lvt_store_write(sv, &s, &wo, &e) == LVT_OK, "store write: %s", e.msg);
        CHECK(lvt_store_write(so, &s, &wo, &e) == LVT_OK, "store write: %s", e.msg);
        snprintf(cmd, sizeof cmd, "%s eval --model %s --val %s --ood %s --max-samples 150 --batch 50 "
                 "--json %s --backend cpu > %s/out.txt", bin, ck, sv, so, js, dir);
        int x = test_system(cmd);
        CHECK(x == 0 || x == 2, "lvt eval --model exit %d", x);
        lvt_model_predictor mp;
        lvt_predictor p;
        CHECK(lvt_model_predictor_init(&mp, &m, 50, &p, &e) == LVT_OK, "%s", e.msg);
        lvt_eval_opts_default(&o);
        o.max_samples = 150;
        o.batch = 50;
        lvt_eval_metrics ref;
        CHECK(lvt_eval_run(&s, &p, &o, &ref, &e) == LVT_OK, "%s", e.msg);
        lvt_model_predictor_free(&mp);
        snprintf(cmd, sizeof cmd,
                 "%s -c \"import json,sys; r=json.load(open('%s')); v=r['splits']['val']; "
                 "sys.exit(0 if r['predictor']=='model' and len(r['gates'])==12 and "
                 "abs(v['A']['cos_p1']-%.12f)<1e-6 and abs(v['B']['mrr']-%.12f)<1e-6 and "
                 "abs(v['C']['shuffled']-%.12f)<1e-6 and abs(v['D']['rollout_cos']-%.12f)<1e-6 and "
                 "abs(v['E']['band_cos']-%.12f)<1e-6 and (r['all_pass'] == (%d == 0)) else 1)\"",
                 py, js, ref.a_cos_p1, ref.b_mrr, ref.c_shuffled, ref.d_cos, ref.e_cos, x);
        CHECK(test_system(cmd) == 0, "CLI report disagrees with the in-process battery");
        /* the same model exported to safetensors gives the same report */
        char st[600], js2[600];
        snprintf(st, sizeof st, "%s/model.safetensors", dir);
        snprintf(js2, sizeof js2, "%s/report_st.json", dir);
        CHECK(lvt_safetensors_save(st, &m, &e) == LVT_OK, "safetensors save: %s", e.msg);
        snprintf(cmd, sizeof cmd, "%s eval --model %s --val %s --ood %s --max-samples 150 --batch 50 "
                 "--json %s --backend cpu > %s/out_st.txt", bin, st, sv, so, js2, dir);
        int x2 = test_system(cmd);
        CHECK(x2 == x, "lvt eval --model .safetensors exit %d vs %d", x2, x);
        snprintf(cmd, sizeof cmd,
                 "%s -c \"import json,sys; a=json.load(open('%s'))['splits']; b=json.load(open('%s'))['splits']; "
                 "sys.exit(0 if a['val']['A']==b['val']['A'] and a['ood']['D']==b['ood']['D'] and "
                 "a['val']['C']==b['val']['C'] else 1)\"",
                 py, js, js2);
        CHECK(test_system(cmd) == 0, "safetensors and checkpoint reports differ");
    }
    free_store(&s);
    lvt_model_destroy(&m);
    lvt_backend_destroy(be);
    return test_finish("test_eval_model");
}
