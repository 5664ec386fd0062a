/* cpu_backend.h — private: construction of the CPU implementation of ops (src/cpu/). */
#ifndef LVT_CPU_BACKEND_H
#define LVT_CPU_BACKEND_H

#include "lvt/ops.h"

int lvt_cpu_backend_create(lvt_backend **out, lvt_math math, lvt_err *e);
void lvt_cpu_backend_destroy(lvt_backend *be);

#endif
