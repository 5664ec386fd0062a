/* test_blas_select.c — the OpenBLAS core selection rule (lvt_blas_pick_core) for every feature
 * set lvt distinguishes, without needing those CPUs: AVX-512 F/BW/VL (with and without BF16, by
 * library version), AVX2+FMA on Intel and AMD/Hygon, AVX only, SSE only, missing OS register
 * state, an already-right core, a user's OPENBLAS_CORETYPE, the re-exec marker, a static build,
 * unknown core names. Then this machine's cpuid bits against /proc/cpuinfo.
 * `test_blas_select --pick CORE` prints the core lvt would select on this machine if OpenBLAS
 * had chosen CORE by itself ("none" if it would leave it), `--comm` the process name (after the
 * re-exec it must still be this program's), both for tests/blas/test_blas_core.sh. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lvt/blas.h"
#include "testutil.h"

static lvt_cpu_features sse(void) {
    lvt_cpu_features f = {0};
    f.vendor = LVT_CPU_INTEL;
    f.sse3 = f.ssse3 = f.sse4_2 = true;
    return f;
}
static lvt_cpu_features avx(void) {
    lvt_cpu_features f = sse();
    f.avx = f.os_ymm = true;
    return f;
}
static lvt_cpu_features avx2(lvt_cpu_vendor v) {
    lvt_cpu_features f = avx();
    f.vendor = v;
    f.avx2 = f.fma = true;
    return f;
}
static lvt_cpu_features avx512(bool bf16) {
    lvt_cpu_features f = avx2(LVT_CPU_INTEL);
    f.avx512f = f.avx512dq = f.avx512bw = f.avx512vl = f.os_zmm = true;
    f.avx512_bf16 = bf16;
    return f;
}

/* OpenBLAS 0.3.21 (Debian 12), dynamic build, nothing set, chose `core` by itself. */
static lvt_blas_state lib(const char *core) {
    lvt_blas_state s = {0};
    s.core = core;
    s.version = 321;
    s.dynamic = true;
    return s;
}

static const char *pick(lvt_cpu_features f, lvt_blas_state s) {
    const char *p = lvt_blas_pick_core(&f, &s);
    return p ? p : "none";
}

#define EXPECT(f, s, want)                                                                   \
    do {                                                                                     \
        const char *got_ = pick((f), (s));                                                   \
        CHECK(!strcmp(got_, (want)), "%s / %s: picked %s, want %s", #f, #s, got_, (want));   \
    } while (0)

static void feature_sets(void) {
    /* AVX-512 F+BW+VL+DQ (Skylake-SP .. Emerald Rapids, Zen 4): SkylakeX */
    EXPECT(avx512(false), lib("Prescott"), "SkylakeX");
    EXPECT(avx512(false), lib("Haswell"), "SkylakeX");
    EXPECT(avx512(false), lib("Nehalem"), "SkylakeX");
    EXPECT(avx512(false), lib("prescott"), "SkylakeX"); /* names compare in any case */
    /* with BF16: 0.3.21 cannot be told "Cooperlake" (its sgemm is SkylakeX's); 0.3.22 can */
    EXPECT(avx512(true), lib("Prescott"), "SkylakeX");
    lvt_blas_state v322 = lib("Prescott");
    v322.version = 322;
    EXPECT(avx512(true), v322, "Cooperlake");
    EXPECT(avx512(false), v322, "SkylakeX");
    /* AVX2 + FMA: Haswell on Intel, Zen on AMD and Hygon */
    EXPECT(avx2(LVT_CPU_INTEL), lib("Prescott"), "Haswell");
    EXPECT(avx2(LVT_CPU_INTEL), lib("Sandybridge"), "Haswell");
    EXPECT(avx2(LVT_CPU_OTHER), lib("Prescott"), "Haswell");
    EXPECT(avx2(LVT_CPU_AMD), lib("Prescott"), "Zen");
    EXPECT(avx2(LVT_CPU_AMD), lib("Barcelona"), "Zen");
    EXPECT(avx2(LVT_CPU_HYGON), lib("Prescott"), "Zen");
    /* AVX only: Sandybridge; SSE only: nothing better than OpenBLAS's SSE-level choice */
    EXPECT(avx(), lib("Prescott"), "Sandybridge");
    EXPECT(avx(), lib("Nehalem"), "Sandybridge");
    EXPECT(sse(), lib("Prescott"), "none");
    EXPECT(sse(), lib("Nehalem"), "none");
    lvt_cpu_features nofma = avx2(LVT_CPU_INTEL);
    nofma.fma = false;
    EXPECT(nofma, lib("Prescott"), "Sandybridge");
    lvt_cpu_features knl = avx512(false); /* AVX-512F without BW/VL (Knights Landing) */
    knl.avx512bw = knl.avx512vl = false;
    EXPECT(knl, lib("Prescott"), "Haswell");
}

static void os_state(void) {
    /* the CPU has the instructions but the OS does not save the registers: they would fault */
    lvt_cpu_features f = avx512(true);
    f.os_zmm = false;
    EXPECT(f, lib("Prescott"), "Haswell");
    EXPECT(f, lib("Haswell"), "none");
    f.os_ymm = false;
    EXPECT(f, lib("Prescott"), "none");
}

static void already_right(void) {
    lvt_blas_state skx322 = lib("SkylakeX"); /* no re-exec only to rename SkylakeX Cooperlake */
    skx322.version = 322;
    EXPECT(avx512(false), lib("SkylakeX"), "none");
    EXPECT(avx512(true), lib("Cooperlake"), "none");
    EXPECT(avx512(true), lib("SapphireRapids"), "none");
    EXPECT(avx512(true), skx322, "none");
    EXPECT(avx2(LVT_CPU_INTEL), lib("Haswell"), "none");
    EXPECT(avx2(LVT_CPU_AMD), lib("Zen"), "none");
    EXPECT(avx2(LVT_CPU_AMD), lib("Haswell"), "none");   /* same instruction set: leave it */
    EXPECT(avx2(LVT_CPU_AMD), lib("Excavator"), "none"); /* OpenBLAS's own AMD choice */
    EXPECT(avx(), lib("Sandybridge"), "none");
    EXPECT(avx(), lib("Bulldozer"), "none");
    EXPECT(avx2(LVT_CPU_INTEL), lib("SkylakeX"), "none"); /* never downgrade */
}

static void left_alone(void) {
    lvt_blas_state s = lib("Prescott");
    s.user_coretype = "Prescott"; /* the user's choice is never overridden, whatever it is */
    EXPECT(avx512(false), s, "none");
    s.user_coretype = "Haswell";
    EXPECT(avx512(false), s, "none");
    s.user_coretype = "";
    EXPECT(avx512(false), s, "none");
    s = lib("Prescott");
    s.reexeced = true; /* this is already the re-exec: never loop */
    EXPECT(avx512(false), s, "none");
    s = lib("Prescott");
    s.dynamic = false; /* a single-target build ignores OPENBLAS_CORETYPE */
    EXPECT(avx512(false), s, "none");
    EXPECT(avx512(false), lib("ARMV8"), "none"); /* names lvt does not know */
    EXPECT(avx512(false), lib("Zen5"), "none");
    EXPECT(avx512(false), lib("Unknown"), "none");
    s = lib(NULL);
    EXPECT(avx512(false), s, "none");
    CHECK(lvt_blas_core_for(&(lvt_cpu_features){0}, 321) == NULL, "no features: no core");
}

/* The flags line of /proc/cpuinfo contains `flag` as a whole word. */
static int cpuinfo_has(const char *flags, const char *flag) {
    const size_t n = strlen(flag);
    for (const char *p = strstr(flags, flag); p; p = strstr(p + 1, flag))
        if ((p == flags || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\n' || p[n] == 0)) return 1;
    return 0;
}

static void this_machine(void) {
#if defined(__x86_64__) || defined(__i386__)
    static char line[16384];
    char flags[16384] = "", vendor[64] = "";
    FILE *fp = fopen("/proc/cpuinfo", "r");
    if (!fp) return;
    while (fgets(line, sizeof line, fp) && (!flags[0] || !vendor[0])) {
        if (!strncmp(line, "flags", 5) && !flags[0]) snprintf(flags, sizeof flags, "%s", strchr(line, ':') + 1);
        if (!strncmp(line, "vendor_id", 9) && !vendor[0]) sscanf(strchr(line, ':') + 1, "%63s", vendor);
    }
    fclose(fp);
    lvt_cpu_features f;
    lvt_cpu_features_read(&f);
    const struct {
        const char *flag;
        bool bit;
    } k[] = {{"pni", f.sse3},         {"ssse3", f.ssse3},       {"sse4_2", f.sse4_2},
             {"avx", f.avx},          {"fma", f.fma},           {"avx2", f.avx2},
             {"avx512f", f.avx512f},  {"avx512dq", f.avx512dq}, {"avx512bw", f.avx512bw},
             {"avx512vl", f.avx512vl}, {"avx512_bf16", f.avx512_bf16}};
    for (size_t i = 0; i < sizeof k / sizeof k[0]; i++)
        CHECK(cpuinfo_has(flags, k[i].flag) == (int)k[i].bit, "cpuid %s = %d, /proc/cpuinfo says %d", k[i].flag,
              (int)k[i].bit, cpuinfo_has(flags, k[i].flag));
    const lvt_cpu_vendor v = !strcmp(vendor, "GenuineIntel")   ? LVT_CPU_INTEL
                             : !strcmp(vendor, "AuthenticAMD") ? LVT_CPU_AMD
                             : !strcmp(vendor, "HygonGenuine") ? LVT_CPU_HYGON
                                                               : LVT_CPU_OTHER;
    CHECK(f.vendor == v, "vendor %d, /proc/cpuinfo says %s", (int)f.vendor, vendor);
    /* Linux lists avx only when it saves the ymm state, avx512f only with the zmm state */
    if (f.avx) CHECK(f.os_ymm, "avx listed but XCR0 lacks the ymm state");
    if (f.avx512f) CHECK(f.os_zmm, "avx512f listed but XCR0 lacks the zmm state");
    lvt_blas_state s;
    lvt_blas_state_read(&s);
    CHECK(s.core && s.core[0] && s.version >= 300, "library reports core %s, version %d", s.core ? s.core : "?",
          s.version);
    const char *want = lvt_blas_core_for(&f, s.version);
    printf("this machine: vendor %d, avx %d avx2 %d fma %d avx512 f/dq/bw/vl %d%d%d%d bf16 %d, os ymm/zmm %d%d; "
           "OpenBLAS %d%s, core in force %s, best core %s\n",
           (int)f.vendor, f.avx, f.avx2, f.fma, f.avx512f, f.avx512dq, f.avx512bw, f.avx512vl, f.avx512_bf16,
           f.os_ymm, f.os_zmm, s.version, s.dynamic ? " DYNAMIC_ARCH" : "", s.core, want ? want : "none");
#endif
}

/* --pick CORE: what this machine's lvt would select had OpenBLAS chosen CORE itself. */
static int print_pick(const char *core) {
    lvt_cpu_features f;
    lvt_blas_state s;
    lvt_cpu_features_read(&f);
    lvt_blas_state_read(&s);
    s.core = core;
    s.user_coretype = NULL;
    s.reexeced = false;
    const char *p = lvt_blas_pick_core(&f, &s);
    printf("%s\n", p ? p : "none");
    return 0;
}

/* --comm: /proc/self/comm, the name ps and pgrep show. */
static int print_comm(void) {
    char name[64] = "?";
    FILE *fp = fopen("/proc/self/comm", "r");
    if (fp) {
        if (!fgets(name, sizeof name, fp)) snprintf(name, sizeof name, "?\n");
        fclose(fp);
    }
    printf("%s", name);
    return 0;
}

int main(int argc, char **argv) {
    if (argc == 3 && !strcmp(argv[1], "--pick")) return print_pick(argv[2]);
    if (argc == 2 && !strcmp(argv[1], "--comm")) return print_comm();
    feature_sets();
    os_state();
    already_right();
    left_alone();
    this_machine();
    return test_finish("test_blas_select");
}
