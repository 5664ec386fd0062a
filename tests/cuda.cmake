# cuda.cmake — the CUDA backend against the CPU backend (every op, masks byte for byte, graph
# replay == eager), backend-resident data and its gather (CPU half runs everywhere), and a
# 50-step P4 run CPU vs GPU. GPU tests exit 77 (skipped) when no device exists.
lvt_c_test(test_cuda_ops SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_cuda_ops.c LABELS cuda)
# The same binary with a CPU backend standing in for the GPU: checks the harness (runs anywhere).
add_test(NAME test_cuda_ops_selfcheck COMMAND test_cuda_ops)
set_tests_properties(test_cuda_ops_selfcheck PROPERTIES ENVIRONMENT "LVT_CUDA_SELFCHECK=1"
                     LABELS "cuda;selfcheck" SKIP_RETURN_CODE 77)
lvt_c_test(test_devdata SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_devdata.c LABELS cuda data)
lvt_sh_test(test_cuda_train ${CMAKE_CURRENT_SOURCE_DIR}/test_cuda_train.sh LABELS cuda)
# The optimiser step with device-side scalars (graph-capturable) vs lvt_optim_step (CPU half runs
# everywhere).
lvt_c_test(test_cuda_optim SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_cuda_optim.c LABELS cuda ckpt)
# A miniature training loop through the capture policy + device optimiser vs the eager loop.
lvt_c_test(test_cuda_graph SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_cuda_graph.c LABELS cuda)
