/* config_table.h — private to the config module: the key table that drives defaults, parsing,
 * validation and the echo, so every key is described exactly once (src/core/config.c holds it). */
#ifndef LVT_CONFIG_TABLE_H
#define LVT_CONFIG_TABLE_H

#include <stddef.h>

#include "lvt/config.h"

typedef enum {
    K_INT,        /* int */
    K_LONG,       /* long */
    K_U64,        /* unsigned long long */
    K_DBL,        /* double */
    K_BOOL,       /* int 0/1, JSON true/false */
    K_CHOICE,     /* char[size], one of `choices` ("a|b|c") */
    K_PATH,       /* char[size], a file or directory path, resolved against the config's dir */
    K_KEEP,       /* char[size], "all" or a count >= 1 */
    K_BETAS,      /* two doubles at off and off2, JSON [b1, b2] */
    K_SUB,        /* a nested object: `sub` describes it, its offsets are relative to off */
    K_CURRICULUM, /* lvt_config.phases / n_phases */
    K_TRIPWIRES   /* lvt_config.tripwires / n_tripwires */
} cfg_kind;

enum { F_LO_OPEN = 1, F_HI_OPEN = 2, F_EMPTY_OK = 4 };

typedef struct cfg_section cfg_section;

typedef struct cfg_field {
    const char *name;
    cfg_kind kind;
    size_t off, off2; /* byte offsets from the enclosing object's base */
    size_t size;      /* sizeof the member (char buffers: their capacity) */
    double lo, hi;    /* numeric range; F_LO_OPEN / F_HI_OPEN make the ends exclusive */
    unsigned flags;
    const char *choices;
    double def, def2;
    const char *def_s;
    unsigned ov_bit; /* objective knobs: the LVT_OV_* bit a phase or tripwire sets */
    const cfg_section *sub;
} cfg_field;

struct cfg_section {
    const char *name;
    const cfg_field *fields;
    int n;
};

/* The whole config (offsets into lvt_config) and the objective knobs (offsets into
 * lvt_objective_cfg, which phases and tripwires reuse). */
extern const cfg_section CFG_ROOT;
extern const cfg_section CFG_OBJECTIVE;
extern const cfg_section CFG_OPTIM; /* for the "lr" a phase or tripwire may set */

#define CFG_METRICS "val_cos|val_loss|margin|val_cos_drop_pct|train_loss"

/* Shortest "%.Ng" that reads back to exactly v. buf needs 32 bytes. */
const char *cfg_fmt_num(double v, char *buf);
/* 1 if s is one of the '|'-separated choices. */
int cfg_choice_ok(const char *choices, const char *s);
/* Range check of a numeric value: on failure "PATH: must be RANGE, got V". */
int cfg_check_num(const cfg_field *f, double v, const char *path, lvt_err *e);
/* Choice check: "PATH: must be one of a|b|c, got \"x\"". */
int cfg_check_choice(const cfg_field *f, const char *s, const char *path, lvt_err *e);
/* A field by name, or NULL. */
const cfg_field *cfg_find(const cfg_section *s, const char *name);
/* The per-list checks lvt_config_validate and the parser share: phase order and overrides;
 * tripwire epochs, condition, rollback target and action. */
int cfg_check_phases(const lvt_phase *ph, int n, lvt_err *e);
int cfg_check_tripwires(const lvt_tripwire *t, int n, lvt_err *e);
/* Optimal-string-alignment edit distance (bounded strings). */
int cfg_edit_distance(const char *a, const char *b);

#endif
