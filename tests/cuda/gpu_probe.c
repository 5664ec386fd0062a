/* gpu_probe.c — one line about this machine's GPU for scripts (scripts/gpu-check.sh): what
 * lvt_cuda_probe says, and the exit status 0 (a usable GPU), 77 (none: no device, no driver, or a
 * build without CUDA) or 1 (a GPU that is there but fails, e.g. a driver older than the runtime). */
#include <stdio.h>

#include "lvt/ops.h"

int main(void) {
    lvt_err e;
    int n = lvt_cuda_probe(&e);
    if (n > 0) {
        printf("gpu: %d usable CUDA device%s\n", n, n == 1 ? "" : "s");
        return 0;
    }
    printf("gpu: %s: %s\n", n == 0 ? "none" : "ERROR", e.msg);
    return n == 0 ? 77 : 1;
}
