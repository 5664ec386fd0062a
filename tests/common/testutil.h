/* testutil.h — the tiny assertion layer every C test uses: CHECK records a failure and goes on,
 * the test returns test_finish() (0 all passed, 1 any failed). */
#ifndef LVT_TESTUTIL_H
#define LVT_TESTUTIL_H

#include <stdio.h>

extern int test_failures;
extern int test_checks;

#define CHECK(cond, ...)                                                                      \
    do {                                                                                      \
        test_checks++;                                                                        \
        if (!(cond)) {                                                                        \
            test_failures++;                                                                  \
            fprintf(stderr, "%s:%d: CHECK(%s) failed: ", __FILE__, __LINE__, #cond);          \
            fprintf(stderr, __VA_ARGS__);                                                     \
            fprintf(stderr, "\n");                                                            \
        }                                                                                     \
    } while (0)

/* CHECK that the error message contains a substring. */
#define CHECK_MSG(msg, needle)                                                                \
    CHECK(test_contains((msg), (needle)), "message \"%s\" lacks \"%s\"", (msg), (needle))

int test_contains(const char *hay, const char *needle);
/* Directory for scratch files (LVT_TEST_TMP or /tmp), with a per-test subdirectory. */
const char *test_tmpdir(const char *test_name);
/* Run a shell command; returns its exit status (or -1). */
int test_system(const char *cmd);
int test_finish(const char *name);

#endif
