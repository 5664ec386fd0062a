/* test_cuda_fault.c — a kernel that faults is named (docs/cuda.md, "When a kernel faults"). The
 * binary runs itself twice as a child that makes ops->add read an invalid device address and
 * then issues more ops, and checks the child's stderr:
 *   LVT_CUDA_SYNC=1  the line names the faulting op and its shape ("add(n=4099) failed") and the
 *                    CUDA error (an illegal address), and nothing after it ran;
 *   without it       the fault surfaces at a later call, and the line says so and tells to
 *                    rerun with LVT_CUDA_SYNC=1.
 * Both children must die (abort): a CUDA fault is not recoverable. Exit 77 without a usable GPU. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gpu_gate.h"
#include "lvt/ops.h"
#include "testutil.h"

static int child(void) {
    lvt_err e;
    lvt_backend *be;
    if (lvt_backend_create(&be, "cuda", 0, LVT_MATH_FP32, &e)) {
        fprintf(stderr, "child: %s\n", e.msg);
        return 3;
    }
    const size_t n = 4099;
    float *ok = be->ops->alloc(be, n * sizeof(float), &e);
    float *bad = (float *)(uintptr_t)0x10; /* not a device address */
    be->ops->add(be, bad, bad, ok, n);
    fprintf(stderr, "child: after add\n");
    be->ops->scale(be, ok, 2.0f, 77);
    be->ops->sync(be);
    fprintf(stderr, "child: survived\n");
    return 0;
}

static char *slurp(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    static char buf[1 << 16];
    size_t k = fread(buf, 1, sizeof buf - 1, f);
    buf[k] = 0;
    fclose(f);
    return buf;
}

static void run_child(const char *self, int sync, const char *dir) {
    char out[512], cmd[1536];
    snprintf(out, sizeof out, "%s/child_%s.err", dir, sync ? "sync" : "async");
    snprintf(cmd, sizeof cmd, "%s LVT_CUDA_SYNC=%d '%s' --child 2> '%s'", "env", sync, self, out);
    int rc = test_system(cmd);
    const char *err = slurp(out);
    printf("child (LVT_CUDA_SYNC=%d): exit %d, stderr:\n%s\n", sync, rc, err ? err : "(none)");
    CHECK(rc != 0, "the faulting child exited 0");
    CHECK(err != NULL, "no stderr from the child");
    if (!err) return;
    CHECK(!strstr(err, "survived"), "the child went on after the fault");
    if (sync) {
        CHECK_MSG(err, "lvt cuda: add(n=4099) failed");
        CHECK(strstr(err, "illegal") || strstr(err, "Illegal"), "no illegal-address error named: %s", err);
        CHECK(!strstr(err, "after add"), "LVT_CUDA_SYNC=1 did not stop at the faulting op");
    } else {
        CHECK_MSG(err, "rerun with LVT_CUDA_SYNC=1");
    }
}

int main(int argc, char **argv) {
    if (argc > 1 && !strcmp(argv[1], "--child")) return child();
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (!gpu_gate("test_cuda_fault")) return 77;
    const char *dir = test_tmpdir("test_cuda_fault");
    run_child(argv[0], 1, dir);
    run_child(argv[0], 0, dir);
    return test_finish("test_cuda_fault");
}
