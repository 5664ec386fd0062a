/* cuda_graph.h — private: the CUDA implementation of include/lvt/graph.h (cuda/graph.cu). */
#ifndef LVT_CUDA_GRAPH_H
#define LVT_CUDA_GRAPH_H

#include "lvt/graph.h"

#ifdef __cplusplus
extern "C" {
#endif

int lvt_cuda_graph_begin(lvt_backend *be, uint64_t ref_step, int64_t ref_base, lvt_err *e);
int lvt_cuda_graph_end(lvt_backend *be, lvt_graph **out, lvt_err *e);
int lvt_cuda_graph_replay(lvt_graph *g, uint64_t step, int64_t sample_base, lvt_err *e);
void lvt_cuda_graph_destroy(lvt_graph *g);

/* The device optimiser step. scal: device float[8] of AdamW scalars (see src/model/graph.c); acc: a
 * device double (sum of squares, then read as the norm's square). */
void lvt_cuda_optim_set(lvt_backend *be, float *scal, const float vals[8]);
void lvt_cuda_optim_enqueue(lvt_backend *be, float *p, const float *g, float *m, float *v, size_t n,
                            const float *scal, double *acc, double max_norm, const float *loss);

#ifdef __cplusplus
}
#endif

#endif
