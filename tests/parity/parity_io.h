/* parity_io.h — shared by the C drivers of the PyTorch parity tests: the model's tensor table
 * (name, shape, offset into the flat buffer) as the JSON array the Python side reads. */
#ifndef LVT_PARITY_IO_H
#define LVT_PARITY_IO_H

#include <stdio.h>

#include "lvt/model.h"

/* Write ` "tensors": [...]` (no trailing comma or closing brace) to f. */
void parity_write_tensors(FILE *f, const lvt_model *m);

#endif
