/* fuzz_config.c — libFuzzer target: the config parser (lvt_config_parse, lvt_config_set,
 * lvt_config_validate) on arbitrary bytes. The input is JSON text, optionally followed by
 * "--set" overrides, each on a line of its own ("\n--set KEY=VALUE"). Invariants checked beyond
 * "no crash, no sanitizer report": a failed call leaves the config unchanged and leaves a message;
 * an accepted config echoes (lvt_config_to_json) to JSON that parses back to the same echo. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "lvt/config.h"

#define SET_MARK "\n--set "

static void same_or_fail(const lvt_config *a, const lvt_config *b, const char *what) {
    if (memcmp(a, b, sizeof *a)) fuzz_fail("a failed call changed the config", what);
}

/* An accepted config's echo parses back to the same echo. */
static void check_round_trip(const lvt_config *c) {
    char *j = lvt_config_to_json(c);
    if (!j) fuzz_fail("lvt_config_to_json returned NULL", NULL);
    lvt_config *c2 = malloc(sizeof *c2);
    if (!c2) abort();
    lvt_config_defaults(c2);
    lvt_err e = {{0}};
    if (lvt_config_parse(c2, j, "echo", NULL, &e)) {
        fprintf(stderr, "echo:\n%s\n", j);
        fuzz_fail("the echo of an accepted config does not parse", e.msg);
    }
    char *j2 = lvt_config_to_json(c2);
    if (!j2 || strcmp(j, j2)) {
        fprintf(stderr, "echo:\n%s\nre-echo:\n%s\n", j, j2 ? j2 : "(null)");
        fuzz_fail("the echo does not round-trip", NULL);
    }
    lvt_objective_cfg obj;
    double lr;
    for (int ep = 1; ep <= c->train.epochs && ep <= 64; ep++) lvt_config_at_epoch(c, ep, &obj, &lr);
    free(j);
    free(j2);
    free(c2);
}

/* Apply each "--set" line of sets (NUL-separated by the caller) on c. Returns 0 if all held. */
static int apply_sets(lvt_config *c, char *sets) {
    lvt_config *before = malloc(sizeof *before);
    if (!before) abort();
    int rc = 0;
    for (char *s = sets; s && !rc;) {
        char *next = strstr(s, SET_MARK);
        if (next) *next = 0;
        memcpy(before, c, sizeof *c);
        lvt_err e = {{0}};
        if (lvt_config_set(c, s, &e)) {
            same_or_fail(before, c, "lvt_config_set");
            if (!e.msg[0]) fuzz_fail("lvt_config_set failed without a message", s);
            rc = -1;
        }
        s = next ? next + strlen(SET_MARK) : NULL;
    }
    free(before);
    return rc;
}

void fuzz_target(const uint8_t *data, size_t size) {
    char *text = malloc(size + 1);
    lvt_config *c = malloc(sizeof *c), *before = malloc(sizeof *before);
    if (!text || !c || !before) abort();
    memcpy(text, data, size);
    text[size] = 0;
    char *sets = strstr(text, SET_MARK);
    if (sets) {
        *sets = 0;
        sets += strlen(SET_MARK);
    }
    lvt_config_defaults(c);
    memcpy(before, c, sizeof *c);
    lvt_err e = {{0}};
    int ok = lvt_config_parse(c, text, "fuzz.json", "/fuzz/base", &e) == 0;
    if (!ok) {
        same_or_fail(before, c, "lvt_config_parse");
        if (!e.msg[0]) fuzz_fail("lvt_config_parse failed without a message", NULL);
    } else {
        check_round_trip(c);
    }
    if (sets && apply_sets(c, sets) == 0) {
        if (lvt_config_validate(c, &e) == 0) check_round_trip(c);
        else if (!e.msg[0]) fuzz_fail("lvt_config_validate failed without a message", NULL);
    }
    free(text);
    free(c);
    free(before);
}
