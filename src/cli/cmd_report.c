/* cmd_report.c — `lvt report RUN_DIR... --out DIR`: pictures and an HTML page of training runs and
 * sweeps. The drawing is a Python script (tools/report/report.py, matplotlib); this command finds
 * it and replaces itself with `python3 report.py ARGS...` (docs/report.md).
 *
 * The script is the first that exists of: $LVT_REPORT_SCRIPT; <dir of the binary>/../share/lvt/
 * report.py (the installed layout, `cmake --install`); the source tree the binary was built from
 * (LVT_SOURCE_TREE, set by CMake). The interpreter is $LVT_PYTHON, else /usr/bin/python3. The
 * script checks the arguments and prints the one-line errors. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

#ifndef LVT_SOURCE_TREE
#define LVT_SOURCE_TREE ""
#endif

static void usage(void) {
    printf("usage: lvt report RUN_DIR... --out DIR\n\n"
           "Write PNG pictures and one HTML page (DIR/index.html) of training runs (directories of\n"
           "`lvt train`: losses, val cos and margin per epoch with the baselines, curriculum phases,\n"
           "tripwires and rollbacks, the per-term step losses, the 5CAT offset sweep of a 5cat.json)\n"
           "and of rollout sweeps (directories of launch/sweep_rollout_h.sh: val cos, margin and 5CAT\n"
           "gates against H, one line per seed and λ_roll). DIR/report.json holds every plotted series.\n"
           "Runs tools/report/report.py with /usr/bin/python3 (needs python3-matplotlib); the script\n"
           "is $LVT_REPORT_SCRIPT, else <bin>/../share/lvt/report.py, else the source tree's copy.\n"
           "Details: docs/report.md.\n");
}

static int readable(const char *p) { return p && p[0] && access(p, R_OK) == 0; }

/* The report script's path into buf (PATH_MAX bytes); 0 when found. */
static int find_script(char *buf) {
    const char *env = getenv("LVT_REPORT_SCRIPT");
    if (env && env[0]) {
        snprintf(buf, PATH_MAX, "%s", env);
        return readable(buf) ? 0 : -1;
    }
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash) {
            *slash = '\0';
            if (snprintf(buf, PATH_MAX, "%s/../share/lvt/report.py", exe) < PATH_MAX && readable(buf)) return 0;
        }
    }
    if (snprintf(buf, PATH_MAX, "%s/tools/report/report.py", LVT_SOURCE_TREE) < PATH_MAX && LVT_SOURCE_TREE[0] &&
        readable(buf))
        return 0;
    return 1;
}

int cmd_report(int argc, char **argv) {
    if (cli_wants_help(argc, argv)) {
        usage();
        return 0;
    }
    char script[PATH_MAX];
    int rc = find_script(script);
    if (rc < 0) return cli_fail("report", "LVT_REPORT_SCRIPT=%s is not a readable file", script);
    if (rc > 0)
        return cli_fail("report", "cannot find report.py (looked in <bin>/../share/lvt and %s/tools/report); "
                        "set LVT_REPORT_SCRIPT", LVT_SOURCE_TREE[0] ? LVT_SOURCE_TREE : "the source tree");
    const char *py = getenv("LVT_PYTHON");
    if (!py || !py[0]) py = "/usr/bin/python3";
    char **args = calloc((size_t)argc + 2, sizeof *args);
    if (!args) return cli_fail("report", "out of memory");
    args[0] = (char *)py;
    args[1] = script;
    for (int i = 1; i < argc; i++) args[i + 1] = argv[i];
    fflush(NULL);
    execv(py, args);
    int err = errno;
    free(args);
    return cli_fail("report", "cannot run %s: %s (Debian: apt-get install python3 python3-matplotlib)", py,
                    strerror(err));
}
