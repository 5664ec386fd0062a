/* cli.h — private to the lvt binary: the subcommand entry points and small argument helpers.
 * Each subcommand lives in src/cli/cmd_<name>.c and returns the process exit code
 * (0 success, 1 error with one line on stderr, 2 gates failed for eval). */
#ifndef LVT_CLI_H
#define LVT_CLI_H

#include "lvt/common.h"

int cmd_synth(int argc, char **argv);
int cmd_convert(int argc, char **argv);
int cmd_inspect(int argc, char **argv);
int cmd_config(int argc, char **argv);
int cmd_init(int argc, char **argv);
int cmd_train(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_predict(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_report(int argc, char **argv);

/* Print "lvt CMD: message" on stderr and return 1. */
int cli_fail(const char *cmd, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* True if argv contains -h or --help. */
int cli_wants_help(int argc, char **argv);

/* Parse helpers: return 0 on success, print a clear error and return 1 otherwise. */
int cli_parse_long(const char *cmd, const char *flag, const char *s, long long lo, long long hi,
                   long long *out);
int cli_parse_double(const char *cmd, const char *flag, const char *s, double *out);

/* Fetch the value after a flag: if argv[*i] == flag, stores argv[*i+1] into *val, advances *i and
 * returns 1; returns -1 (after printing an error) when the value is missing; 0 when no match. */
int cli_flag_value(const char *cmd, int argc, char **argv, int *i, const char *flag,
                   const char **val);

#endif
