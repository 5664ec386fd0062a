/* parity_io.c — see parity_io.h. */
#include "parity_io.h"

void parity_write_tensors(FILE *f, const lvt_model *m) {
    fprintf(f, " \"tensors\": [\n");
    for (int i = 0; i < m->n_tensors; i++) {
        const lvt_tensor_info *t = &m->tensors[i];
        fprintf(f, "  {\"name\": \"%s\", \"shape\": [%lld", t->name, (long long)t->shape[0]);
        if (t->ndim == 2) fprintf(f, ", %lld", (long long)t->shape[1]);
        fprintf(f, "], \"offset\": %zu}%s\n", t->offset, i + 1 < m->n_tensors ? "," : "");
    }
    fprintf(f, " ]");
}
