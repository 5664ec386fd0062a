# model.cmake — the transformer model: parameter table, init, plan/forward/backward behaviour,
# whole-model gradient check, and PyTorch parity (tests/parity/test_model_parity.py).
lvt_c_test(test_model SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_model.c LABELS model)
lvt_c_test(test_model_grad SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_model_grad.c LABELS model)

# PyTorch parity: the C driver writes lvt's parameters/outputs/gradients, the Python reference
# (run with /usr/bin/python3: numpy + torch) compares them.
add_executable(model_parity_driver ${CMAKE_CURRENT_SOURCE_DIR}/parity/model_parity_driver.c
               ${CMAKE_CURRENT_SOURCE_DIR}/parity/parity_io.c)
target_link_libraries(model_parity_driver PRIVATE lvtcore)
if(LVT_HAVE_CUDA AND TARGET lvtcuda)
  set_target_properties(model_parity_driver PROPERTIES LINKER_LANGUAGE CUDA)
endif()
add_test(NAME test_model_parity
         COMMAND ${LVT_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/parity/test_model_parity.py
                 $<TARGET_FILE:model_parity_driver> ${LVT_TEST_TMP})
set_tests_properties(test_model_parity PROPERTIES LABELS "model;parity" SKIP_RETURN_CODE 77
                     ENVIRONMENT "OMP_NUM_THREADS=2")
