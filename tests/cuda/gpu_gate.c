/* gpu_gate.c — see gpu_gate.h. */
#include "gpu_gate.h"

#include <stdio.h>
#include <stdlib.h>

#include "lvt/ops.h"

int gpu_gate(const char *test) {
    lvt_err e;
    int n = lvt_cuda_probe(&e);
    if (n > 0) return 1;
    if (n < 0) {
        fprintf(stderr, "%s: FAIL: the CUDA device query failed: %s\n", test, e.msg);
        exit(1);
    }
    printf("%s: no usable GPU (%s)\n", test, e.msg);
    return 0;
}
