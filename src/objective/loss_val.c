/* loss_val.c — the validation numbers of the objective on the host (docs/training.md,
 * "Validation, per epoch"): MSE of the raw output, cos(p, y) and margin(+1 vs last) of each
 * window, summed in double so that the sums of all ranks add. */
#include "lvt/loss.h"

void lvt_loss_val_sums(double sums[LVT_VAL_COUNT], const float *raw, const float *pred,
                       const float *ctx, const float *target, int n, int L, int D) {
    for (int j = 0; j < n; j++) {
        const float *y = target + (size_t)j * D, *last = ctx + ((size_t)j * L + L - 1) * D;
        const float *r = raw + (size_t)j * D, *p = pred + (size_t)j * D;
        double se = 0, cy = 0, cl = 0;
        for (int k = 0; k < D; k++) {
            double dlt = (double)r[k] - y[k];
            se += dlt * dlt;
            cy += (double)p[k] * y[k];
            cl += (double)p[k] * last[k];
        }
        sums[LVT_VAL_MSE] += se / D;
        sums[LVT_VAL_COS] += cy;
        sums[LVT_VAL_MARGIN] += cy - cl;
        sums[LVT_VAL_WINDOWS] += 1;
    }
}
