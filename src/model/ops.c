/* ops.c — backend selection: lvt_backend_create picks the CPU or CUDA implementation of ops;
 * and lvt_float_decimal, the host-side widening of float hyperparameters both backends use. */
#include <stdio.h>
#include <stdlib.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lvt/ops.h"
#include "../cpu/cpu_backend.h"
#ifdef LVT_HAVE_CUDA
#include "../../cuda/cuda_backend.h"
#endif

int lvt_cuda_available(void) {
#ifdef LVT_HAVE_CUDA
    return lvt_cuda_device_count() > 0;
#else
    return 0;
#endif
}

int lvt_backend_create(lvt_backend **out, const char *name, int device, lvt_math math, lvt_err *e) {
    *out = NULL;
    if (!name || !strcmp(name, "auto")) name = lvt_cuda_available() ? "cuda" : "cpu";
    if (!strcmp(name, "cpu")) return lvt_cpu_backend_create(out, math, e);
    if (!strcmp(name, "cuda")) {
#ifdef LVT_HAVE_CUDA
        if (!lvt_cuda_available()) return lvt_errf(e, "backend 'cuda': no usable CUDA device");
        return lvt_cuda_backend_create(out, device, math, e);
#else
        return lvt_errf(e, "backend 'cuda': this lvt was built without CUDA "
                           "(LVT_CUDA=OFF or no nvcc)");
#endif
    }
    return lvt_errf(e, "unknown backend '%s' (expected auto, cpu or cuda)", name);
}

void lvt_backend_destroy(lvt_backend *be) {
    if (be && be->ops && be->ops->name && !strcmp(be->ops->name, "cuda")) {
#ifdef LVT_HAVE_CUDA
        lvt_cuda_backend_destroy(be);
#endif
        return;
    }
    if (be) lvt_cpu_backend_destroy(be);
}

double lvt_float_decimal(float x) {
    char buf[32];
    for (int prec = 1; prec <= 9; prec++) {
        snprintf(buf, sizeof buf, "%.*g", prec, (double)x);
        double d = strtod(buf, NULL);
        if ((float)d == x) return d;
    }
    return (double)x;
}

int lvt_cpu_threads_init(int n, int ranks_per_node) {
    if (n <= 0) {
        const char *env = getenv("OMP_NUM_THREADS");
        if (!env || !*env) env = getenv("OPENBLAS_NUM_THREADS");
        if (env && *env) return lvt_cpu_set_threads(atoi(env) > 0 ? atoi(env) : 1);
        long cores = sysconf(_SC_NPROCESSORS_ONLN);
        if (ranks_per_node < 1) ranks_per_node = 1;
        n = (int)(cores / ranks_per_node);
    }
    return lvt_cpu_set_threads(n < 1 ? 1 : n);
}
