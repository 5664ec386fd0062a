/* args.c — small argument-parsing helpers shared by the subcommands (see cli.h). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

int cli_fail(const char *cmd, const char *fmt, ...) {
    va_list ap;
    fprintf(stderr, "lvt %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return 1;
}

int cli_wants_help(int argc, char **argv) {
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) return 1;
    return 0;
}

int cli_parse_long(const char *cmd, const char *flag, const char *s, long long lo, long long hi,
                   long long *out) {
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end) return cli_fail(cmd, "%s expects an integer, got '%s'", flag, s);
    if (v < lo || v > hi) return cli_fail(cmd, "%s must be in [%lld, %lld], got %lld", flag, lo, hi, v);
    *out = v;
    return 0;
}

int cli_parse_double(const char *cmd, const char *flag, const char *s, double *out) {
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end) return cli_fail(cmd, "%s expects a number, got '%s'", flag, s);
    *out = v;
    return 0;
}

int cli_flag_value(const char *cmd, int argc, char **argv, int *i, const char *flag,
                   const char **val) {
    if (strcmp(argv[*i], flag)) return 0;
    if (*i + 1 >= argc) {
        cli_fail(cmd, "%s needs a value", flag);
        return -1;
    }
    *val = argv[++*i];
    return 1;
}
