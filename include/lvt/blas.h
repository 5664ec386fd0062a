/* blas.h — the BLAS library in force: which OpenBLAS kernel set ("core") runs, chosen from the
 * CPU's feature bits when OpenBLAS itself fell back to a generic core, and a one-line / JSON
 * description of library, core and threads for the train header and `lvt bench`
 * (docs/bench.md, "BLAS core selection").
 *
 * OpenBLAS (DYNAMIC_ARCH builds, e.g. Debian's) picks its core in a load-time constructor, before
 * main(), from the CPU model number; a model it does not know gets the generic Prescott (SSE3)
 * kernels, 2-6x slower than the AVX2/AVX-512 ones. It honours OPENBLAS_CORETYPE only at that
 * moment, so lvt_blas_ensure_core() sets the variable and re-executes the program. */
#ifndef LVT_BLAS_H
#define LVT_BLAS_H

#include <stdbool.h>
#include <stddef.h>

typedef enum { LVT_CPU_OTHER = 0, LVT_CPU_INTEL, LVT_CPU_AMD, LVT_CPU_HYGON } lvt_cpu_vendor;

/* x86 feature bits as cpuid reports them; os_ymm / os_zmm: the OS saves the AVX / AVX-512
 * register state (XCR0), without which the instructions fault. */
typedef struct {
    lvt_cpu_vendor vendor;
    bool sse3, ssse3, sse4_2, avx, fma, avx2;
    bool avx512f, avx512dq, avx512bw, avx512vl, avx512_bf16;
    bool os_ymm, os_zmm;
} lvt_cpu_features;

/* What the BLAS library reports about itself and the environment it was started in. */
typedef struct {
    const char *core;           /* openblas_get_corename(): the core in force, e.g. "Prescott" */
    int version;                /* 10000*major + 100*minor + patch (0.3.21 -> 321); 0 unknown */
    bool dynamic;               /* a DYNAMIC_ARCH build: OPENBLAS_CORETYPE is honoured */
    const char *user_coretype;  /* OPENBLAS_CORETYPE as found, NULL when unset */
    bool reexeced;              /* LVT_BLAS_CORE_FROM is set: this process is lvt's re-exec */
} lvt_blas_state;

/* The core OpenBLAS should use on a CPU with these features (NULL: none better than SSE3):
 * AVX-512 F+BW+VL -> SkylakeX (Cooperlake with BF16, from OpenBLAS 0.3.22 on: 0.3.21 cannot
 * be told that name), AVX2+FMA -> Haswell (Zen on AMD/Hygon), AVX -> Sandybridge. */
const char *lvt_blas_core_for(const lvt_cpu_features *f, int version);

/* The pure selection rule: the core to set OPENBLAS_CORETYPE to before re-executing, or NULL
 * to leave OpenBLAS alone — when the user set OPENBLAS_CORETYPE (never overridden), when this
 * is already the re-exec, when the build ignores the variable, when the current core is not
 * one lvt knows, or when it already has the instruction set the CPU offers. */
const char *lvt_blas_pick_core(const lvt_cpu_features *f, const lvt_blas_state *s);

/* This CPU's feature bits (all false on a non-x86 build). */
void lvt_cpu_features_read(lvt_cpu_features *f);

/* This process's BLAS state (library self-report and environment). */
void lvt_blas_state_read(lvt_blas_state *s);

/* Call first in main(), before MPI or threads exist: when lvt_blas_pick_core() names a core,
 * set OPENBLAS_CORETYPE and LVT_BLAS_CORE_FROM and execv(this executable, argv); returns only
 * when nothing was to be done or the exec failed (then a one-line note on stderr and the
 * environment is restored). Works the same under mpirun and srun (exec keeps the pid). */
void lvt_blas_ensure_core(char **argv);

/* One line: library and version, core in force and who chose it, threads. E.g.
 * "OpenBLAS 0.3.21 (pthreads), core SkylakeX (selected by lvt over OpenBLAS's Prescott), 2 threads" */
void lvt_blas_describe(char *buf, size_t n);

/* The same as one JSON object: {"library", "version", "core", "chosen_by": "openblas"|"lvt"|
 * "user", "openblas_core", "threads"}; openblas_core is the core OpenBLAS picked by itself. */
void lvt_blas_json(char *buf, size_t n);

#endif
