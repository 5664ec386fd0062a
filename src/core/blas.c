/* blas.c — the OpenBLAS core in force: the selection rule (pure), the cpuid reading, the re-exec
 * that applies it before OpenBLAS's threads or MPI exist, and the description printed by the
 * train header and `lvt bench` (include/lvt/blas.h; docs/bench.md, "BLAS core selection"). */
#define _POSIX_C_SOURCE 200809L
#include "lvt/blas.h"

#include <cblas.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#define LVT_BLAS_X86 1
#endif

/* Set by lvt_blas_ensure_core() before its re-exec: the core OpenBLAS had picked by itself. */
#define LVT_BLAS_MARKER "LVT_BLAS_CORE_FROM"
/* Set with OMP_WAIT_POLICY=PASSIVE by that re-exec: lvt, not the user, chose the wait policy. */
#define LVT_OMP_MARKER "LVT_OMP_WAIT_SET"

/* OpenBLAS's dynamic-arch core names (driver/others/dynamic.c, 0.3.21 plus the later
 * SapphireRapids) by the widest vector instruction set their kernels use:
 * 0 SSE..SSE4, 1 AVX, 2 AVX2+FMA, 3 AVX-512. */
static const struct {
    const char *name;
    int level;
} CORES[] = {
    {"Katmai", 0},     {"Coppermine", 0}, {"Northwood", 0},    {"Prescott", 0},  {"Banias", 0},
    {"Atom", 0},       {"Core2", 0},      {"Penryn", 0},       {"Dunnington", 0}, {"Nehalem", 0},
    {"Athlon", 0},     {"Opteron", 0},    {"Opteron_SSE3", 0}, {"Barcelona", 0}, {"Nano", 0},
    {"Bobcat", 0},     {"Sandybridge", 1}, {"Bulldozer", 1},   {"Piledriver", 1}, {"Steamroller", 1},
    {"Haswell", 2},    {"Zen", 2},        {"Excavator", 2},    {"SkylakeX", 3},  {"Cooperlake", 3},
    {"SapphireRapids", 3},
};

/* The instruction-set level of a core name (any case: static builds report "haswell"), or -1
 * for a name lvt does not know (another architecture, a newer library): left alone. */
static int core_level(const char *name) {
    for (size_t i = 0; i < sizeof CORES / sizeof CORES[0]; i++)
        if (!strcasecmp(name, CORES[i].name)) return CORES[i].level;
    return -1;
}

const char *lvt_blas_core_for(const lvt_cpu_features *f, int version) {
    const bool avx = f->avx && f->os_ymm;
    const bool avx2 = avx && f->avx2 && f->fma;
    const bool amd = f->vendor == LVT_CPU_AMD || f->vendor == LVT_CPU_HYGON;
    if (avx2 && f->avx512f && f->avx512dq && f->avx512bw && f->avx512vl && f->os_zmm)
        /* 0.3.21's force_coretype() scans only the first 24 names and misses "Cooperlake";
         * its sgemm kernels are SkylakeX's anyway (Cooperlake adds the BF16 ones). */
        return f->avx512_bf16 && version >= 322 ? "Cooperlake" : "SkylakeX";
    if (avx2) return amd ? "Zen" : "Haswell";
    if (avx) return "Sandybridge";
    return NULL; /* SSE only: every SSE-level core is as good as OpenBLAS's choice */
}

const char *lvt_blas_pick_core(const lvt_cpu_features *f, const lvt_blas_state *s) {
    if (s->user_coretype || s->reexeced || !s->dynamic || !s->core) return NULL;
    const int have = core_level(s->core);
    if (have < 0) return NULL;
    const char *want = lvt_blas_core_for(f, s->version);
    if (!want || core_level(want) <= have) return NULL;
    return want;
}

#ifdef LVT_BLAS_X86
static unsigned long long xcr0(void) {
    unsigned lo, hi;
    __asm__ volatile(".byte 0x0f, 0x01, 0xd0" : "=a"(lo), "=d"(hi) : "c"(0)); /* xgetbv */
    return ((unsigned long long)hi << 32) | lo;
}
#endif

void lvt_cpu_features_read(lvt_cpu_features *f) {
    memset(f, 0, sizeof *f);
#ifdef LVT_BLAS_X86
    unsigned a, b, c, d;
    const unsigned max = __get_cpuid_max(0, NULL);
    if (max < 1) return;
    __cpuid(0, a, b, c, d);
    char v[13];
    memcpy(v, &b, 4);
    memcpy(v + 4, &d, 4);
    memcpy(v + 8, &c, 4);
    v[12] = 0;
    f->vendor = !strcmp(v, "GenuineIntel")   ? LVT_CPU_INTEL
                : !strcmp(v, "AuthenticAMD") ? LVT_CPU_AMD
                : !strcmp(v, "HygonGenuine") ? LVT_CPU_HYGON
                                             : LVT_CPU_OTHER;
    __cpuid(1, a, b, c, d);
    f->sse3 = c & 1u, f->ssse3 = c >> 9 & 1u, f->fma = c >> 12 & 1u, f->sse4_2 = c >> 20 & 1u;
    f->avx = c >> 28 & 1u;
    if (c >> 27 & 1u) { /* OSXSAVE: XCR0 readable */
        const unsigned long long x = xcr0();
        f->os_ymm = (x & 0x6) == 0x6;     /* SSE + AVX state */
        f->os_zmm = (x & 0xe6) == 0xe6;   /* + opmask, ZMM_Hi256, Hi16_ZMM */
    }
    if (max < 7) return;
    __cpuid_count(7, 0, a, b, c, d);
    f->avx2 = b >> 5 & 1u, f->avx512f = b >> 16 & 1u, f->avx512dq = b >> 17 & 1u;
    f->avx512bw = b >> 30 & 1u, f->avx512vl = b >> 31 & 1u;
    const unsigned sub = a;
    if (sub >= 1) {
        __cpuid_count(7, 1, a, b, c, d);
        f->avx512_bf16 = a >> 5 & 1u;
    }
#endif
}

void lvt_blas_state_read(lvt_blas_state *s) {
    memset(s, 0, sizeof *s);
    s->core = openblas_get_corename();
    const char *config = openblas_get_config();
    int major = 0, minor = 0, patch = 0;
    if (config && sscanf(config, "OpenBLAS %d.%d.%d", &major, &minor, &patch) >= 2)
        s->version = 10000 * major + 100 * minor + patch;
    s->dynamic = config && strstr(config, "DYNAMIC_ARCH");
    s->user_coretype = getenv("OPENBLAS_CORETYPE");
    s->reexeced = getenv(LVT_BLAS_MARKER) != NULL;
}

/* The file to re-execute: this executable by its real path, so that the process keeps its name
 * (comm, what ps/pgrep/top show, is the basename of the exec'd path: "/proc/self/exe" would make
 * it "exe"); /proc/self/exe itself when the path is unreadable or the file was replaced. */
static void self_path(char *buf, size_t n) {
    const ssize_t k = readlink("/proc/self/exe", buf, n - 1);
    const char *del = " (deleted)";
    const size_t dl = strlen(del);
    if (k <= 0 || (size_t)k >= n - 1 || ((size_t)k > dl && !memcmp(buf + k - dl, del, dl))) {
        snprintf(buf, n, "/proc/self/exe");
        return;
    }
    buf[k] = 0;
}

/* The OpenMP wait policy (docs/bench.md, "Contention"): libgomp reads OMP_WAIT_POLICY once, before
 * main(); unset, its idle threads spin for ~300k iterations after every parallel region, which on
 * a shared node steals the core the working thread needs. lvt sets PASSIVE when the user has not
 * set the variable (even empty): within the core re-exec when there is one, and for the commands
 * that run training steps (`lvt train`, `lvt bench`) also by a re-exec of its own. */
static int wants_passive(char **argv, int reexec_anyway) {
    if (getenv("OMP_WAIT_POLICY")) return 0;
    if (reexec_anyway) return 1;
    return argv && argv[0] && argv[1] && (!strcmp(argv[1], "train") || !strcmp(argv[1], "bench"));
}

void lvt_blas_ensure_core(char **argv) {
    lvt_cpu_features f;
    lvt_blas_state s;
    lvt_cpu_features_read(&f);
    lvt_blas_state_read(&s);
    const char *want = lvt_blas_pick_core(&f, &s);
    const int passive = wants_passive(argv, want != NULL);
    if ((!want && !passive) || !argv || !argv[0]) return;
    char from[64];
    snprintf(from, sizeof from, "%s", s.core);
    char self[4096];
    self_path(self, sizeof self);
    int ok = !passive || (setenv("OMP_WAIT_POLICY", "PASSIVE", 1) == 0 && setenv(LVT_OMP_MARKER, "1", 1) == 0);
    if (ok && want) ok = setenv("OPENBLAS_CORETYPE", want, 1) == 0 && setenv(LVT_BLAS_MARKER, from, 1) == 0;
    if (ok) {
        fflush(NULL);
        execv(self, argv);
    }
    const int err = errno;
    if (passive) unsetenv("OMP_WAIT_POLICY");
    unsetenv(LVT_OMP_MARKER);
    if (!want) return; /* the default wait policy stays: slower on a shared node, not wrong */
    unsetenv("OPENBLAS_CORETYPE");
    unsetenv(LVT_BLAS_MARKER);
    fprintf(stderr, "lvt: note: OpenBLAS runs its generic %s kernels on this CPU and re-executing with "
            "OPENBLAS_CORETYPE=%s failed (%s); set OPENBLAS_CORETYPE=%s yourself for faster BLAS\n",
            from, want, strerror(err), want);
}

/* Who chose the core in force: "openblas" (its own detection), "lvt" (the re-exec; *from is
 * OpenBLAS's own pick) or "user" (OPENBLAS_CORETYPE set outside lvt). */
static const char *chosen_by(const char **from) {
    const char *user = getenv("OPENBLAS_CORETYPE"), *marker = getenv(LVT_BLAS_MARKER);
    *from = NULL;
    if (!user) {
        *from = openblas_get_corename();
        return "openblas";
    }
    if (marker && !strcasecmp(user, openblas_get_corename())) {
        *from = marker;
        return "lvt";
    }
    return "user";
}

static const char *threading(void) {
    const int p = openblas_get_parallel();
    return p == 0 ? "sequential" : p == 1 ? "pthreads" : p == 2 ? "OpenMP" : "unknown";
}

/* A core name as it may appear in JSON: letters, digits and '_' only (the marker comes from the
 * environment). */
static void json_name(char *buf, size_t n, const char *name) {
    size_t k = 0;
    for (; name && *name && k + 1 < n; name++)
        if ((*name >= 'A' && *name <= 'Z') || (*name >= 'a' && *name <= 'z') || (*name >= '0' && *name <= '9') ||
            *name == '_')
            buf[k++] = *name;
    buf[k] = 0;
}

static void version_string(char *buf, size_t n) {
    lvt_blas_state s;
    lvt_blas_state_read(&s);
    if (s.version)
        snprintf(buf, n, "%d.%d.%d", s.version / 10000, s.version / 100 % 100, s.version % 100);
    else
        snprintf(buf, n, "unknown");
}

void lvt_blas_describe(char *buf, size_t n) {
    char ver[32], who[160];
    const char *from, *by = chosen_by(&from), *core = openblas_get_corename();
    version_string(ver, sizeof ver);
    if (!strcmp(by, "lvt"))
        snprintf(who, sizeof who, "selected by lvt over OpenBLAS's %s", from);
    else if (!strcmp(by, "user"))
        snprintf(who, sizeof who, "OPENBLAS_CORETYPE=%s", getenv("OPENBLAS_CORETYPE"));
    else
        snprintf(who, sizeof who, "OpenBLAS's own detection");
    const int t = openblas_get_num_threads();
    snprintf(buf, n, "OpenBLAS %s (%s), core %s (%s), %d thread%s", ver, threading(), core, who, t,
             t == 1 ? "" : "s");
}

void lvt_blas_json(char *buf, size_t n) {
    char ver[32], core[64], fromn[64], fromq[80] = "null";
    const char *from, *by = chosen_by(&from);
    version_string(ver, sizeof ver);
    json_name(core, sizeof core, openblas_get_corename());
    if (from) {
        json_name(fromn, sizeof fromn, from);
        snprintf(fromq, sizeof fromq, "\"%s\"", fromn);
    }
    snprintf(buf, n,
             "{\"library\": \"OpenBLAS\", \"version\": \"%s\", \"threading\": \"%s\", \"core\": \"%s\", "
             "\"chosen_by\": \"%s\", \"openblas_core\": %s, \"threads\": %d}",
             ver, threading(), core, by, fromq, openblas_get_num_threads());
}
