/* json.h — the text of every JSON document lvt writes from a cJSON tree, in the layout its users
 * and scripts have always seen: one line with ", " and ": " between items (inspect --json,
 * bench --json), or the block layout of the config echo (sections as indented blocks, one line
 * per list item). Code: src/core/json.c. */
#ifndef LVT_JSON_H
#define LVT_JSON_H

#include <cjson/cJSON.h>

/* {"k": v, "l": [1, 2]} on one line, no trailing newline. malloc'd (caller frees); NULL when out
 * of memory. */
char *lvt_json_line(const cJSON *v);

/* An object as a block: members indented by two spaces per level, nested objects as blocks,
 * arrays of objects one object per line (each as lvt_json_line), other values inline; ends with a
 * newline. malloc'd (caller frees); NULL when out of memory. */
char *lvt_json_block(const cJSON *obj);

#endif
