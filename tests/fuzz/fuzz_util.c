/* fuzz_util.c — scratch files, the shared CPU backend, invariant failures and the allocation
 * limit for the fuzz targets (fuzz_util.h). The state here is per test process, as libFuzzer's
 * one-function interface forces. */
#include "fuzz_util.h"

#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define FUZZ_MAX_FILES 8

static struct {
    char paths[FUZZ_MAX_FILES][512];
    int n;
    lvt_backend *be;
    int registered; /* cleanup installed with atexit */
} fz;

static void cleanup(void) {
    for (int i = 0; i < fz.n; i++) unlink(fz.paths[i]);
    if (fz.be) lvt_backend_destroy(fz.be);
    fz.be = NULL;
}

static void register_cleanup(void) {
    if (!fz.registered) atexit(cleanup);
    fz.registered = 1;
}

const char *fuzz_scratch_path(const char *name) {
    const char *dir = getenv("LVT_FUZZ_TMP");
    if (!dir || !*dir) dir = getenv("TMPDIR");
    if (!dir || !*dir) dir = "/tmp";
    char p[512];
    snprintf(p, sizeof p, "%s/lvt-fuzz-%ld-%s", dir, (long)getpid(), name);
    for (int i = 0; i < fz.n; i++)
        if (!strcmp(fz.paths[i], p)) return fz.paths[i];
    if (fz.n == FUZZ_MAX_FILES) fuzz_fail("too many scratch files", name);
    register_cleanup();
    snprintf(fz.paths[fz.n], sizeof fz.paths[0], "%s", p);
    return fz.paths[fz.n++];
}

const char *fuzz_write_file(const char *name, const uint8_t *data, size_t size) {
    const char *path = fuzz_scratch_path(name);
    FILE *f = fopen(path, "wb");
    if (!f || (size && fwrite(data, 1, size, f) != size) || fclose(f) != 0) fuzz_fail("cannot write", path);
    return path;
}

lvt_backend *fuzz_cpu_backend(void) {
    if (fz.be) return fz.be;
    lvt_err e = {{0}};
    if (lvt_backend_create(&fz.be, "cpu", -1, LVT_MATH_FP32, &e)) fuzz_fail("cpu backend", e.msg);
    register_cleanup();
    return fz.be;
}

/* The allocation limit. The targets link with -Wl,--wrap=malloc,... so that these wrappers see
 * every allocation made by lvt's code (statically linked) and none made inside the shared
 * libraries (HDF5, libzip, cJSON), whose own bugs on corrupt files are not lvt's to fix. */
void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t n);
void *__real_aligned_alloc(size_t align, size_t n);

static void check_size(const char *fn, size_t n) {
    if (n <= FUZZ_ALLOC_LIMIT) return;
    char msg[96];
    snprintf(msg, sizeof msg, "%s of %zu bytes, over %zu MB", fn, n, (size_t)(FUZZ_ALLOC_LIMIT >> 20));
    fuzz_fail("lvt allocated more than the input can justify", msg);
}

void *__wrap_malloc(size_t n) {
    check_size("malloc", n);
    return __real_malloc(n);
}

void *__wrap_calloc(size_t n, size_t size) {
    if (size && n > SIZE_MAX / size) return NULL;
    check_size("calloc", n * size);
    return __real_calloc(n, size);
}

void *__wrap_realloc(void *p, size_t n) {
    check_size("realloc", n);
    return __real_realloc(p, n);
}

void *__wrap_aligned_alloc(size_t align, size_t n) {
    check_size("aligned_alloc", n);
    return __real_aligned_alloc(align, n);
}

/* The identifier kinds counted before and after each input. HDF5 1.10 counts only what belongs
 * to a file this way (H5Inmembers refuses the library's own kinds), so a transient datatype,
 * dataspace or property list left open is not seen here. */
static const unsigned h5_kinds[] = {H5F_OBJ_FILE, H5F_OBJ_GROUP, H5F_OBJ_DATASET, H5F_OBJ_DATATYPE,
                                    H5F_OBJ_ATTR};
static const char *const h5_kind_names[] = {"file", "group", "dataset", "named datatype", "attribute"};
#define H5_NKINDS (sizeof h5_kinds / sizeof h5_kinds[0])

static void h5_count(ssize_t n[H5_NKINDS]) {
    for (size_t k = 0; k < H5_NKINDS; k++) n[k] = H5Fget_obj_count(H5F_OBJ_ALL, h5_kinds[k]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    ssize_t before[H5_NKINDS], after[H5_NKINDS];
    h5_count(before);
    fuzz_target(data, size);
    h5_count(after);
    for (size_t k = 0; k < H5_NKINDS; k++)
        if (after[k] > before[k]) {
            char msg[96];
            snprintf(msg, sizeof msg, "%lld %s identifier(s) more open than before the input",
                     (long long)(after[k] - before[k]), h5_kind_names[k]);
            fuzz_fail("an HDF5 identifier was left open", msg);
        }
    return 0;
}

void fuzz_fail(const char *what, const char *detail) {
    fprintf(stderr, "fuzz harness: %s: %s\n", what, detail ? detail : "");
    abort();
}

#define FUZZ_BLOCK 4096 /* elements read per call */

void fuzz_read_npy_stream(lvt_npy_stream *s, const char *what) {
    lvt_err e = {{0}};
    int is_int = s->h.dtype == LVT_NPY_I8 || s->h.dtype == LVT_NPY_I4;
    void *buf = malloc(FUZZ_BLOCK * 8);
    if (!buf) abort();
    for (int64_t done = 0; done < s->h.count;) {
        int64_t n = s->h.count - done < FUZZ_BLOCK ? s->h.count - done : FUZZ_BLOCK;
        int rc = is_int ? lvt_npy_read_i64(s, buf, n, &e) : lvt_npy_read_f32(s, buf, n, &e);
        if (rc) {
            if (!e.msg[0]) fuzz_fail("an element read failed without a message", what);
            break;
        }
        done += n;
    }
    free(buf);
    lvt_npy_close(s);
}

void fuzz_convert(const char *in) {
    const char *out = fuzz_scratch_path("out.h5");
    lvt_convert_opts o;
    lvt_convert_opts_default(&o);
    o.in = in;
    o.out = out;
    lvt_err e = {{0}};
    if (lvt_convert(&o, &e) && !e.msg[0]) fuzz_fail("lvt_convert failed without a message", NULL);
    unlink(out);
}
