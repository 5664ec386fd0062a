/* ckpt_diff.c — compare the parameters of two lvt checkpoints (or safetensors files) without
 * Python: the GPU machine may have PyTorch but no h5py (docs/cuda.md). Prints the largest
 * absolute difference, the tensor it is in and both files' steps, then decides:
 *   ckpt_diff A B TOL            exit 0 when max |a - b| <= TOL, 1 when it is larger
 *   ckpt_diff A B --moved MIN    exit 0 when max |a - b| >  MIN (the weights moved), 1 otherwise
 * exit 2 when a file cannot be read, the two models differ in shape, or a value is not finite —
 * so a failure to compare can never pass for a result. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lvt/ckpt.h"
#include "lvt/model.h"
#include "lvt/ops.h"

static int load(const char *path, lvt_backend *be, lvt_model *m, float **host, int64_t *step) {
    lvt_err e;
    lvt_ckpt_info info;
    lvt_ckpt_info_init(&info);
    *step = -1;
    if (lvt_file_is_hdf5(path) && lvt_ckpt_read_info(path, &info, &e) == LVT_OK) *step = info.step;
    lvt_ckpt_info_free(&info);
    if (lvt_ckpt_load_any(path, be, 5, m, &e)) {
        fprintf(stderr, "ckpt_diff: %s: %s\n", path, e.msg);
        return LVT_ERROR;
    }
    *host = malloc(sizeof(float) * (m->n_params ? m->n_params : 1));
    if (!*host) {
        fprintf(stderr, "ckpt_diff: out of memory\n");
        return LVT_ERROR;
    }
    lvt_model_params_to_host(m, *host);
    return LVT_OK;
}

int main(int argc, char **argv) {
    int moved = argc == 5 && !strcmp(argv[3], "--moved");
    if (!(argc == 4 || moved)) {
        fprintf(stderr, "usage: ckpt_diff A.h5 B.h5 TOL | ckpt_diff A.h5 B.h5 --moved MIN\n");
        return 2;
    }
    double tol = atof(argv[moved ? 4 : 3]);
    lvt_err e;
    lvt_backend *be;
    if (lvt_backend_create(&be, "cpu", -1, LVT_MATH_FP32, &e)) {
        fprintf(stderr, "ckpt_diff: %s\n", e.msg);
        return 2;
    }
    lvt_model a, b;
    float *ha = NULL, *hb = NULL;
    int64_t sa, sb;
    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    int rc = 2; /* every exit frees what was loaded (the sanitizer run checks for leaks) */
    if (load(argv[1], be, &a, &ha, &sa) || load(argv[2], be, &b, &hb, &sb)) goto done;
    if (memcmp(&a.cfg, &b.cfg, sizeof a.cfg) != 0 || a.n_params != b.n_params || a.n_tensors != b.n_tensors) {
        fprintf(stderr, "ckpt_diff: the two models differ in shape\n");
        goto done;
    }
    double worst = 0;
    int where = -1;
    for (int t = 0; t < a.n_tensors; t++) {
        const lvt_tensor_info *ti = &a.tensors[t];
        for (size_t i = ti->offset; i < ti->offset + ti->numel; i++) {
            if (!isfinite(ha[i]) || !isfinite(hb[i])) {
                fprintf(stderr, "ckpt_diff: %s: non-finite value at element %zu\n", ti->name, i - ti->offset);
                goto done;
            }
            double d = fabs((double)ha[i] - (double)hb[i]);
            if (d > worst) {
                worst = d;
                where = t;
            }
        }
    }
    int ok = moved ? worst > tol : worst <= tol;
    printf("ckpt_diff: max |a-b| = %.3e (%s) over %d tensors, %zu parameters; steps %lld / %lld; %s %g: %s\n", worst,
           where >= 0 ? a.tensors[where].name : "all equal", a.n_tensors, a.n_params, (long long)sa, (long long)sb,
           moved ? "must exceed" : "tolerance", tol, ok ? "ok" : "FAILED");
    rc = ok ? 0 : 1;
done:
    free(ha), free(hb);
    lvt_model_destroy(&a);
    lvt_model_destroy(&b);
    lvt_backend_destroy(be);
    return rc;
}
