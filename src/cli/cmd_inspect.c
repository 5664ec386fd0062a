/* cmd_inspect.c — `lvt inspect`: statistics of an article store (src/data/inspect.c), as a table or
 * as JSON. The statistics are defined in docs/synth.md. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "lvt/inspect.h"

static void usage(void) {
    printf("usage: lvt inspect S.h5 [--json] [--context-len L] [--max-windows N] [--seed S]\n\n"
           "Print the statistics of an article store: sizes, the article-length distribution, mean\n"
           "adjacent coherence, cos(ctx[i], target) for i = 0..L-1, the copy-last and context-mean\n"
           "cosines and the forward-signal score (about 0 = the data carry no forward signal).\n"
           "Window statistics use all windows, or N sampled with seed S (default 20000, 1).\n"
           "Definitions: docs/synth.md.\n");
}

int cmd_inspect(int argc, char **argv) {
    if (cli_wants_help(argc, argv)) {
        usage();
        return 0;
    }
    lvt_inspect_opts o;
    lvt_inspect_defaults(&o);
    const char *path = NULL, *v = NULL;
    int json = 0;
    long long x = 0;
    for (int i = 1; i < argc; i++) {
        int r;
        if (!strcmp(argv[i], "--json")) {
            json = 1;
        } else if ((r = cli_flag_value("inspect", argc, argv, &i, "--context-len", &v))) {
            if (r < 0 || cli_parse_long("inspect", "--context-len", v, 1, LVT_INSPECT_MAX_L, &x)) return 1;
            o.context_len = (int)x;
        } else if ((r = cli_flag_value("inspect", argc, argv, &i, "--max-windows", &v))) {
            if (r < 0 || cli_parse_long("inspect", "--max-windows", v, 1, (long long)1e12, &x)) return 1;
            o.max_windows = x;
        } else if ((r = cli_flag_value("inspect", argc, argv, &i, "--seed", &v))) {
            if (r < 0 || cli_parse_long("inspect", "--seed", v, 0, (long long)9.2e18, &x)) return 1;
            o.seed = (uint64_t)x;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            return cli_fail("inspect", "unknown option '%s' (see `lvt inspect --help`)", argv[i]);
        } else if (path) {
            return cli_fail("inspect", "one store at a time (got '%s' and '%s')", path, argv[i]);
        } else {
            path = argv[i];
        }
    }
    if (!path) return cli_fail("inspect", "missing the store to inspect (see `lvt inspect --help`)");
    lvt_err e = {{0}};
    lvt_store s;
    if (lvt_store_read(path, 1, &s, &e)) return cli_fail("inspect", "%s", e.msg);
    lvt_inspect_stats st;
    int rc = lvt_inspect(&s, &o, &st, &e);
    lvt_store_free(&s);
    if (rc) return cli_fail("inspect", "%s: %s", path, e.msg);
    lvt_inspect_print(stdout, path, &st, json);
    return 0;
}
