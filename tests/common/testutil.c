/* testutil.c — see testutil.h. */
#define _POSIX_C_SOURCE 200809L
#include "testutil.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

int test_failures = 0;
int test_checks = 0;

int test_contains(const char *hay, const char *needle) {
    return hay && needle && strstr(hay, needle) != NULL;
}

const char *test_tmpdir(const char *test_name) {
    static char buf[1024];
    const char *base = getenv("LVT_TEST_TMP");
    if (!base || !*base) base = "/tmp";
    snprintf(buf, sizeof buf, "%s/%s", base, test_name);
    mkdir(base, 0755);
    mkdir(buf, 0755);
    return buf;
}

int test_system(const char *cmd) {
    int rc = system(cmd);
    if (rc == -1) return -1;
    if (WIFEXITED(rc)) return WEXITSTATUS(rc);
    return -1;
}

int test_finish(const char *name) {
    if (test_failures)
        printf("%s: %d of %d checks FAILED\n", name, test_failures, test_checks);
    else
        printf("%s: all %d checks passed\n", name, test_checks);
    return test_failures ? 1 : 0;
}
