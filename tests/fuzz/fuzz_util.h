/* fuzz_util.h — what the libFuzzer targets of tests/fuzz/ share (docs/reliability.md): the input
 * bytes written to a per-process scratch file (the openers under test take paths), a quiet error
 * carrier, and the CPU backend the model-loading targets create once per process. Each target
 * defines fuzz_target; libFuzzer (fuzz build) or replay_main.c (every build) calls
 * LLVMFuzzerTestOneInput (fuzz_util.c), which runs it and checks what it left open. */
#ifndef LVT_FUZZ_UTIL_H
#define LVT_FUZZ_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include "lvt/convert.h"
#include "lvt/ops.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* What each target defines: one input. fuzz_util.c's LLVMFuzzerTestOneInput calls it and then
 * checks that it left no HDF5 file, group, dataset, named datatype or attribute open: the leak
 * suppression for libhdf5 (scripts/lsan.supp) would hide an identifier lvt forgot to close,
 * since its memory is allocated inside the library. */
void fuzz_target(const uint8_t *data, size_t size);

/* Write data to the scratch file "<dir>/lvt-fuzz-<pid>-<name>" (dir: $LVT_FUZZ_TMP, $TMPDIR or
 * /tmp; removed at exit) and return its path (valid until the next call with the same name).
 * Aborts when the file cannot be written: that is the harness failing, not the code under test. */
const char *fuzz_write_file(const char *name, const uint8_t *data, size_t size);

/* The path of scratch file name (for outputs the code under test writes), without creating it. */
const char *fuzz_scratch_path(const char *name);

/* The CPU backend, created on the first call (aborts if that fails). */
lvt_backend *fuzz_cpu_backend(void);

/* One allocation by lvt's code above this is a finding (fuzz_util.c wraps malloc, calloc, realloc
 * and aligned_alloc): the inputs are at most a few hundred KB, so memory must stay bounded by the
 * file, not by sizes written in it. */
#define FUZZ_ALLOC_LIMIT ((size_t)256 << 20)

/* Read an opened .npy stream to its end in blocks, as the type its dtype converts to (every
 * failure must leave a message; what names the input in a finding), then close it. */
void fuzz_read_npy_stream(lvt_npy_stream *s, const char *what);

/* `lvt convert IN --out <scratch>.h5` with the default options (every failure must leave a
 * message); nothing is left behind. */
void fuzz_convert(const char *in);

/* A harness invariant broke: print what and abort (libFuzzer then keeps the input as a crash). */
void fuzz_fail(const char *what, const char *detail);

#endif
