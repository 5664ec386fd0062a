/* gpu_gate.h — the one rule every GPU test follows to decide whether it runs (docs/cuda.md,
 * "Which errors skip"): lvt_cuda_probe says > 0 devices (run the GPU half), 0 no usable GPU on
 * this machine (skip it, saying why), or an error — a GPU that is there but broken, e.g. a driver
 * older than the runtime — which fails the test instead of skipping it. */
#ifndef LVT_GPU_GATE_H
#define LVT_GPU_GATE_H

/* 1: run the GPU half; 0: no usable GPU (a line saying why is printed); exits 1 on a probe error. */
int gpu_gate(const char *test);

#endif
