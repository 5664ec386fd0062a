/* ops.c — the backend registry, the one file that knows which backends exist:
 * lvt_backend_create picks the CPU (src/cpu/) or CUDA (cuda/) implementation of ops, and
 * lvt_cuda_probe / lvt_cuda_devices / lvt_cuda_available answer how many CUDA devices are usable (LVT_HAVE_CUDA is defined for
 * this file alone; everything else asks the ops table). Also the host-side scalar math both
 * backends share: lvt_float_decimal and the AdamW step scalars. */
#define _GNU_SOURCE /* sched_getaffinity, CPU_COUNT */
#include <math.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lvt/ops.h"
#include "../cpu/cpu_backend.h"
#ifdef LVT_HAVE_CUDA
#include "../../cuda/cuda_backend.h"
#endif

int lvt_cuda_probe(lvt_err *e) {
#ifdef LVT_HAVE_CUDA
    char msg[256];
    int n = lvt_cuda_device_probe(msg, sizeof msg);
    if (n < 0) return lvt_errf(e, "%s", msg);
#else
    int n = 0;
    const char *msg = "this lvt was built without CUDA (LVT_CUDA=OFF or no nvcc)";
#endif
    if (n > 0) return n;
    const char *req = getenv("LVT_CUDA_REQUIRE");
    if (req && !strcmp(req, "1")) return lvt_errf(e, "a GPU is required (LVT_CUDA_REQUIRE=1) but there is none: %s", msg);
    lvt_errf(e, "%s", msg);
    return 0;
}

int lvt_cuda_devices(void) {
    lvt_err e;
    int n = lvt_cuda_probe(&e);
    return n > 0 ? n : 0;
}

int lvt_cuda_available(void) { return lvt_cuda_devices() > 0; }

static int create_cuda(lvt_backend **out, int device, lvt_math math, lvt_err *e) {
#ifdef LVT_HAVE_CUDA
    int n = lvt_cuda_probe(e);
    if (n == 0) return lvt_err_prefix(e, "backend 'cuda': no usable CUDA device");
    if (n < 0) return lvt_err_prefix(e, "backend 'cuda'");
    return lvt_cuda_backend_create(out, device, math, e);
#else
    (void)out, (void)device, (void)math;
    return lvt_errf(e, "backend 'cuda': this lvt was built without CUDA "
                       "(LVT_CUDA=OFF or no nvcc)");
#endif
}

int lvt_backend_create(lvt_backend **out, const char *name, int device, lvt_math math, lvt_err *e) {
    *out = NULL;
    if (!name || !strcmp(name, "auto")) {
        /* auto: the GPU when there is one, the CPU when there is none; a GPU that is there but
         * fails (e.g. a driver older than the runtime) is an error, not a silent CPU run */
        int n = lvt_cuda_probe(e);
        if (n < 0) return lvt_err_prefix(e, "backend 'auto' (set the backend to cpu to run without the GPU)");
        name = n > 0 ? "cuda" : "cpu";
    }
    if (!strcmp(name, "cpu")) return lvt_cpu_backend_create(out, math, e);
    if (!strcmp(name, "cuda")) return create_cuda(out, device, math, e);
    return lvt_errf(e, "unknown backend '%s' (expected auto, cpu or cuda)", name);
}

void lvt_backend_destroy(lvt_backend *be) {
    if (be) be->ops->destroy(be);
}

const char *lvt_math_name(int math) {
    static const char *const names[] = {"fp32", "tf32", "bf16"};
    return math >= LVT_MATH_FP32 && math <= LVT_MATH_BF16 ? names[math] : "?";
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

/* torch.optim.AdamW computes its step factors from Python floats (double); see docs/ops.md. */
lvt_adamw_scalars lvt_adamw_scalars_for(float lr, float beta1, float beta2, float eps,
                                        float weight_decay, long t) {
    const double b1 = lvt_float_decimal(beta1), b2 = lvt_float_decimal(beta2);
    const double bc1 = 1.0 - pow(b1, (double)t), bc2 = 1.0 - pow(b2, (double)t);
    lvt_adamw_scalars s;
    s.decay = (float)(1.0 - (double)lr * (double)weight_decay);
    s.step_size = (float)((double)lr / bc1);
    s.bc2_sqrt = (float)sqrt(bc2);
    s.w1 = (float)(1.0 - b1);
    s.beta2 = beta2;
    s.w2 = (float)(1.0 - b2);
    s.eps = eps;
    s.unused = 0.0f;
    return s;
}

/* CPUs this process may run on: its affinity mask (what taskset, srun --cpu-bind or a cgroup
 * cpuset leave it), else the online cores. */
static int usable_cpus(void) {
#ifdef CPU_COUNT
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0) return CPU_COUNT(&set);
#endif
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    return cores > 0 ? (int)cores : 1;
}

/* The thread-count environment in force, or NULL. */
static const char *threads_env(const char **name) {
    const char *names[2] = {"OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS"};
    for (int i = 0; i < 2; i++) {
        const char *v = getenv(names[i]);
        if (v && *v) {
            *name = names[i];
            return v;
        }
    }
    return NULL;
}

int lvt_cpu_threads_init(int n, int ranks_per_node) {
    if (n <= 0) {
        const char *name, *env = threads_env(&name);
        if (env) return lvt_cpu_set_threads(atoi(env) > 0 ? atoi(env) : 1);
        if (ranks_per_node < 1) ranks_per_node = 1;
        n = usable_cpus() / ranks_per_node;
    }
    return lvt_cpu_set_threads(n < 1 ? 1 : n);
}

void lvt_cpu_threads_describe(char *buf, size_t len, int threads, int ranks_per_node) {
    const char *name, *env = threads_env(&name), *wait = getenv("OMP_WAIT_POLICY");
    char why[96];
    if (env)
        snprintf(why, sizeof why, "%s=%s", name, env);
    else
        snprintf(why, sizeof why, "%d usable CPUs / %d rank%s on this node", usable_cpus(),
                 ranks_per_node < 1 ? 1 : ranks_per_node, ranks_per_node > 1 ? "s" : "");
    snprintf(buf, len, "%d CPU thread%s per rank (%s), OpenMP wait policy %s%s", threads, threads == 1 ? "" : "s",
             why, wait && *wait ? wait : "default (spinning)", getenv("LVT_OMP_WAIT_SET") ? " (set by lvt)" : "");
}
