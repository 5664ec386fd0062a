/* test_loss_val.c — lvt_loss_val_sums, the host validation numbers (docs/training.md): hand
 * values (the margin uses the last context row, not another one; the MSE uses the raw output, the
 * cosines the unit prediction), n = 0 adds nothing, batches accumulate to exactly the sums of one
 * pass (so ranks and batches add), and random windows against the formulas written out here. */
#include <math.h>
#include <string.h>

#include "lvt/loss.h"
#include "lvt/rng.h"
#include "testutil.h"

static void hand_values(void) {
    enum { L = 3, D = 4 };
    /* window 0: y = e0, last = e1, pred (0.6, 0.8), raw = y + 0.5 e2;
     * window 1: y = e2, last = e3, pred (0.8 e2 + 0.6 e3), raw = 3 e2. Rows 0 and 1 of each
     * context are distractors: row 0 equals the target. */
    const float ctx[2 * L * D] = {1, 0, 0, 0, 0, 0, 0, 1, 0, 1, 0, 0,
                                  0, 0, 1, 0, 0, 1, 0, 0, 0, 0, 0, 1};
    const float y[2 * D] = {1, 0, 0, 0, 0, 0, 1, 0};
    const float pred[2 * D] = {0.6f, 0.8f, 0, 0, 0, 0, 0.8f, 0.6f};
    const float raw[2 * D] = {1, 0, 0.5f, 0, 0, 0, 3, 0};
    double s[LVT_VAL_COUNT] = {0};
    lvt_loss_val_sums(s, raw, pred, ctx, y, 2, L, D);
    CHECK(fabs(s[LVT_VAL_MSE] - (0.25 / 4 + 4.0 / 4)) < 1e-12, "mse sum %.17g", s[LVT_VAL_MSE]);
    CHECK(fabs(s[LVT_VAL_COS] - 1.4) < 1e-7, "cos sum %.17g", s[LVT_VAL_COS]);
    CHECK(fabs(s[LVT_VAL_MARGIN] - 0.0) < 1e-7, "margin sum %.17g (window 0: -0.2, window 1: +0.2)",
          s[LVT_VAL_MARGIN]);
    CHECK(s[LVT_VAL_WINDOWS] == 2, "window count %g", s[LVT_VAL_WINDOWS]);
    double one[LVT_VAL_COUNT] = {0};
    lvt_loss_val_sums(one, raw, pred, ctx, y, 1, L, D);
    CHECK(fabs(one[LVT_VAL_MARGIN] + 0.2) < 1e-7 && fabs(one[LVT_VAL_COS] - 0.6) < 1e-7,
          "window 0: margin %.9g cos %.9g", one[LVT_VAL_MARGIN], one[LVT_VAL_COS]);
    double before[LVT_VAL_COUNT];
    memcpy(before, s, sizeof s);
    lvt_loss_val_sums(s, raw, pred, ctx, y, 0, L, D);
    CHECK(memcmp(before, s, sizeof s) == 0, "n = 0 must add nothing");
}

static float urand(uint64_t i) { return 2.0f * lvt_rng_unit(99, 0, 7, 0, i) - 1.0f; }

static void random_windows(void) {
    enum { N = 7, L = 5, D = 33 };
    static float ctx[N * L * D], y[N * D], raw[N * D], pred[N * D];
    uint64_t k = 0;
    for (int i = 0; i < N * L * D; i++) ctx[i] = urand(k++);
    for (int i = 0; i < N * D; i++) y[i] = urand(k++), raw[i] = urand(k++), pred[i] = urand(k++);
    double whole[LVT_VAL_COUNT] = {0}, parts[LVT_VAL_COUNT] = {0};
    lvt_loss_val_sums(whole, raw, pred, ctx, y, N, L, D);
    lvt_loss_val_sums(parts, raw, pred, ctx, y, 3, L, D);
    lvt_loss_val_sums(parts, raw + 3 * D, pred + 3 * D, ctx + 3 * L * D, y + 3 * D, N - 3, L, D);
    CHECK(memcmp(whole, parts, sizeof whole) == 0, "3 + 4 windows must give the sums of 7 exactly");
    double mse = 0, cos = 0, margin = 0;
    for (int b = 0; b < N; b++) {
        double se = 0, py = 0, pl = 0;
        for (int j = 0; j < D; j++) {
            double d = (double)raw[b * D + j] - (double)y[b * D + j];
            se += d * d;
            py += (double)pred[b * D + j] * y[b * D + j];
            pl += (double)pred[b * D + j] * ctx[(b * L + L - 1) * D + j];
        }
        mse += se / D;
        cos += py;
        margin += py - pl;
    }
    CHECK(fabs(whole[LVT_VAL_MSE] - mse) < 1e-12 && fabs(whole[LVT_VAL_COS] - cos) < 1e-12 &&
              fabs(whole[LVT_VAL_MARGIN] - margin) < 1e-12 && whole[LVT_VAL_WINDOWS] == N,
          "random windows: mse %.17g/%.17g cos %.17g/%.17g margin %.17g/%.17g", whole[LVT_VAL_MSE], mse,
          whole[LVT_VAL_COS], cos, whole[LVT_VAL_MARGIN], margin);
}

int main(void) {
    hand_values();
    random_windows();
    return test_finish("test_loss_val");
}
