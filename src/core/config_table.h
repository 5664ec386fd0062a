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
    K_ENUM,       /* an enum (int-sized), spelled in JSON as one of the names in `values` */
    K_PATH,       /* char[size], a file or directory path, resolved against the config's dir */
    K_KEEP,       /* int, JSON "all" (stored 0) or a count >= 1 (also as a string "3") */
    K_BETAS,      /* two doubles at off and off2, JSON [b1, b2] */
    K_SUB,        /* a nested object: `sub` describes it, its offsets are relative to off */
    K_CURRICULUM, /* lvt_config.phases / n_phases */
    K_TRIPWIRES   /* lvt_config.tripwires / n_tripwires */
} cfg_kind;

enum { F_LO_OPEN = 1, F_HI_OPEN = 2, F_EMPTY_OK = 4 };

typedef struct cfg_section cfg_section;

/* One spelling of an enum key; a list ends with {NULL, 0}. Messages list them in this order. */
typedef struct cfg_enum {
    const char *name;
    int value;
} cfg_enum;

typedef struct cfg_field {
    const char *name;
    cfg_kind kind;
    size_t off, off2; /* byte offsets from the enclosing object's base */
    size_t size;      /* sizeof the member (char buffers: their capacity) */
    double lo, hi;    /* numeric range; F_LO_OPEN / F_HI_OPEN make the ends exclusive */
    unsigned flags;
    const cfg_enum *values; /* K_ENUM */
    double def, def2;       /* K_ENUM: the default's value */
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

/* The tripwire metrics (the "if" of a tripwire is "METRIC OP NUMBER"). */
extern const cfg_enum CFG_METRICS[];

/* Shortest "%.Ng" that reads back to exactly v. buf needs 32 bytes. */
const char *cfg_fmt_num(double v, char *buf);
/* The value spelled s, or -1 when s is none of the list's names. */
int cfg_enum_value(const cfg_enum *list, const char *s);
/* The name of value v, or NULL when v is not in the list. */
const char *cfg_enum_name(const cfg_enum *list, int v);
/* "a|b|c": the names of a list, for messages. Returns buf. */
const char *cfg_enum_names(const cfg_enum *list, char *buf, size_t n);
/* Range check of a numeric value: on failure "PATH: must be RANGE, got V". */
int cfg_check_num(const cfg_field *f, double v, const char *path, lvt_err *e);
/* Enum parse: s -> *out, or "PATH: must be one of a|b|c, got \"x\"". */
int cfg_parse_enum(const cfg_field *f, const char *s, int *out, const char *path, lvt_err *e);
/* A field by name, or NULL. */
const cfg_field *cfg_find(const cfg_section *s, const char *name);
/* The per-list checks lvt_config_validate and the parser share: phase order and overrides;
 * tripwire epochs, condition, rollback target and action. */
int cfg_check_phases(const lvt_phase *ph, int n, lvt_err *e);
int cfg_check_tripwires(const lvt_tripwire *t, int n, lvt_err *e);
/* Optimal-string-alignment edit distance (bounded strings). */
int cfg_edit_distance(const char *a, const char *b);

#endif
