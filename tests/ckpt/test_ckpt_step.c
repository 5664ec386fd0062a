/* test_ckpt_step.c — driver of tests/ckpt/test_ckpt_torch.py (not a test by itself): loads a model
 * from a .safetensors or .h5 file, runs one eval-mode forward over ctx.bin [B, L, D], the backward
 * of MSE(raw, y) = mean((raw - y)^2) with y from y.bin [B, D], one optimiser step (global-norm
 * clip + AdamW, hyperparameters from the command line) and exports the updated parameters to a
 * safetensors file; the pre-clip norm is printed on stdout.
 * usage: test_ckpt_step MODEL CTX.bin Y.bin B OUT.safetensors LR WD CLIP */
#include <stdio.h>
#include <stdlib.h>

#include "lvt/ckpt.h"
#include "lvt/safetensors.h"

static float *read_f32(const char *path, size_t n) {
    float *x = malloc(n * sizeof(float));
    FILE *f = fopen(path, "rb");
    if (!x || !f || fread(x, sizeof(float), n, f) != n) {
        fprintf(stderr, "cannot read %zu floats from %s\n", n, path);
        exit(1);
    }
    fclose(f);
    return x;
}

int main(int argc, char **argv) {
    if (argc != 9) {
        fprintf(stderr, "usage: test_ckpt_step MODEL CTX.bin Y.bin B OUT.safetensors LR WD CLIP\n");
        return 1;
    }
    int B = atoi(argv[4]);
    lvt_err e = {{0}};
    lvt_backend *be = NULL;
    lvt_model m;
    if (lvt_backend_create(&be, "cpu", -1, LVT_MATH_FP32, &e) || lvt_ckpt_load_any(argv[1], be, 5, &m, &e)) {
        fprintf(stderr, "%s\n", e.msg);
        return 1;
    }
    int L = m.cfg.context_len, D = m.cfg.dim;
    float *ctx = read_f32(argv[2], (size_t)B * L * D), *y = read_f32(argv[3], (size_t)B * D);
    float *draw = malloc((size_t)B * D * sizeof(float));
    lvt_optim_hparams hp;
    lvt_optim_hparams_default(&hp);
    hp.lr = atof(argv[6]);
    hp.weight_decay = atof(argv[7]);
    hp.grad_clip = atof(argv[8]);
    hp.schedule = LVT_SCHED_CONSTANT;
    lvt_optim o;
    if (lvt_model_plan(&m, B, 1, &e) || lvt_optim_create(&o, &hp, be, m.n_params, &e) ||
        lvt_model_forward(&m, 0, ctx, B, 0, NULL, NULL, &e)) {
        fprintf(stderr, "%s\n", e.msg);
        return 1;
    }
    const float *raw = lvt_model_raw(&m, 0);
    double loss = 0;
    for (size_t i = 0; i < (size_t)B * D; i++) {
        double r = (double)raw[i] - y[i];
        loss += r * r;
        draw[i] = (float)(2.0 * r / ((double)B * D));
    }
    lvt_model_zero_grad(&m);
    if (lvt_model_backward_raw_pred(&m, 0, draw, NULL, NULL, &e)) {
        fprintf(stderr, "%s\n", e.msg);
        return 1;
    }
    double norm = lvt_optim_step(&o, m.params, m.grads);
    if (lvt_safetensors_save(argv[5], &m, &e)) {
        fprintf(stderr, "%s\n", e.msg);
        return 1;
    }
    printf("%.17g %.17g\n", norm, loss / ((double)B * D));
    lvt_optim_destroy(&o);
    lvt_model_destroy(&m);
    lvt_backend_destroy(be);
    free(ctx);
    free(y);
    free(draw);
    return 0;
}
