# ckpt.cmake — optimiser (vs torch.optim.AdamW / clip_grad_norm_ / LR schedulers), checkpoints
# (round trip, atomicity, malformed files), safetensors (export/import vs PyTorch), lvt init /
# export / predict / bench.
lvt_c_test(test_optim SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_optim.c LABELS ckpt)
lvt_c_test(test_ckpt SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_ckpt.c LABELS ckpt)

# PyTorch side: init/export/load_state_dict, PyTorch-written safetensors -> predict, store
# predict, one clipped AdamW step (driver test_ckpt_step), CLI failures.
add_executable(test_ckpt_step ${CMAKE_CURRENT_SOURCE_DIR}/test_ckpt_step.c)
target_link_libraries(test_ckpt_step PRIVATE lvtcore)
if(LVT_HAVE_CUDA AND TARGET lvtcuda)
  set_target_properties(test_ckpt_step PROPERTIES LINKER_LANGUAGE CUDA)
endif()
add_test(NAME test_ckpt_torch
         COMMAND ${LVT_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/test_ckpt_torch.py
                 $<TARGET_FILE:lvt> $<TARGET_FILE:test_ckpt_step> ${LVT_TEST_TMP})
set_tests_properties(test_ckpt_torch PROPERTIES LABELS "ckpt;parity" SKIP_RETURN_CODE 77
                     ENVIRONMENT "OMP_NUM_THREADS=2;LVT_SOURCE_DIR=${CMAKE_SOURCE_DIR}")

# lvt bench: report consistency, FLOP count vs torch.profiler, pytorch_ref.py runs.
add_test(NAME test_ckpt_bench
         COMMAND ${LVT_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/test_ckpt_bench.py $<TARGET_FILE:lvt> ${LVT_TEST_TMP})
set_tests_properties(test_ckpt_bench PROPERTIES LABELS "ckpt;bench" SKIP_RETURN_CODE 77
                     ENVIRONMENT "OMP_NUM_THREADS=2;LVT_SOURCE_DIR=${CMAKE_SOURCE_DIR}")
