# ops.cmake — rng and the ops backend: known answers, forward references, gradient checks,
# dropout keying, the PyTorch cross-check; and the sgemm peak benchmark (built, not run).
lvt_c_test(test_rng SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_rng.c LABELS ops)
lvt_c_test(test_ops_fwd SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_ops_fwd.c LABELS ops)
lvt_c_test(test_ops_grad SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_ops_grad.c LABELS ops)
lvt_c_test(test_ops_dropout SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_ops_dropout.c LABELS ops)
lvt_c_test(test_ops_torch SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_ops_torch.c LABELS ops parity)

# bench/sgemm_peak.c: OpenBLAS sgemm GFLOP/s for the model's shapes (docs/ops.md). Not a test.
add_executable(sgemm_peak ${CMAKE_SOURCE_DIR}/bench/sgemm_peak.c)
target_link_libraries(sgemm_peak PRIVATE lvtcore)
if(LVT_HAVE_CUDA AND TARGET lvtcuda)
  set_target_properties(sgemm_peak PROPERTIES LINKER_LANGUAGE CUDA)
endif()
