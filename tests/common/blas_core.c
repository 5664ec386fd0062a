/* blas_core.c — linked into every test and benchmark executable (tests/CMakeLists.txt): selects
 * the OpenBLAS core before main() exactly as `lvt` does at the start of its main(), so the C tests,
 * the parity drivers and sgemm_peak run the kernels `lvt` runs (docs/bench.md, "BLAS core
 * selection"). glibc passes argc/argv/envp to the executable's constructors; OpenBLAS's own
 * constructor (a shared-library dependency) has already run, so its core is known here. */
#include "lvt/blas.h"

__attribute__((constructor)) static void lvt_test_blas_core(int argc, char **argv, char **envp) {
    (void)argc;
    (void)envp;
    lvt_blas_ensure_core(argv);
}
