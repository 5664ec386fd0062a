/* cmd_config.c — `lvt config check|show CONFIG.json [--set KEY=VALUE]...`: validate a run
 * configuration, or print it fully resolved (every key, defaults included, absolute paths). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "lvt/config.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: lvt config check CONFIG.json [--set KEY=VALUE]...\n"
            "       lvt config show  CONFIG.json [--set KEY=VALUE]...\n"
            "\n"
            "check  validate the configuration: prints \"ok: CONFIG.json\" and exits 0, or prints one\n"
            "       error line (file:line:col for syntax errors, the dotted key otherwise) and exits 1.\n"
            "show   print the resolved configuration as JSON: every key with its default filled in,\n"
            "       paths made absolute; `lvt config show A.json > B.json` gives a config equal to A.\n"
            "\n"
            "--set KEY=VALUE  override one key after the file, e.g. --set objective.rollout_h=4\n"
            "                 --set train.global_batch=256 --set 'curriculum=[{\"from_epoch\":2}]'.\n"
            "                 VALUE is JSON when it parses as JSON, otherwise a plain string.\n"
            "                 Repeatable; applied in order. Keys and ranges: docs/config.md.\n");
}

int cmd_config(int argc, char **argv) {
    if (cli_wants_help(argc, argv)) {
        usage(stdout);
        return 0;
    }
    if (argc < 2) return cli_fail("config", "expected a subcommand: check or show (see `lvt config --help`)");
    const char *sub = argv[1];
    int show = !strcmp(sub, "show");
    if (!show && strcmp(sub, "check"))
        return cli_fail("config", "unknown subcommand '%s' (expected check or show)", sub);

    const char *path = NULL;
    const char **sets = calloc((size_t)argc, sizeof *sets);
    int n_sets = 0;
    if (!sets) return cli_fail("config", "out of memory");
    for (int i = 2; i < argc; i++) {
        const char *val = NULL;
        int r = cli_flag_value("config", argc, argv, &i, "--set", &val);
        if (r < 0) {
            free(sets);
            return 1;
        }
        if (r > 0) {
            sets[n_sets++] = val;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            free(sets);
            return cli_fail("config", "unknown flag '%s' (see `lvt config --help`)", argv[i]);
        } else if (path) {
            free(sets);
            return cli_fail("config", "more than one config file given ('%s' and '%s')", path, argv[i]);
        } else {
            path = argv[i];
        }
    }
    if (!path) {
        free(sets);
        return cli_fail("config", "%s: missing CONFIG.json", sub);
    }

    lvt_err e = {{0}};
    lvt_config *c = malloc(sizeof *c);
    if (!c) {
        free(sets);
        return cli_fail("config", "out of memory");
    }
    int rc = lvt_config_load_sets(c, path, sets, n_sets, &e);
    free(sets);
    if (rc) {
        free(c);
        return cli_fail("config", "%s", e.msg);
    }
    if (show) {
        char *json = lvt_config_to_json(c);
        free(c);
        if (!json) return cli_fail("config", "out of memory");
        fputs(json, stdout);
        free(json);
    } else {
        free(c);
        printf("ok: %s\n", path);
    }
    return 0;
}
