# loss.cmake — the P4 objective (loss module) and its ops primitives: primitive unit tests,
# finite-difference gradient checks of every term through the model, rank/micro-step
# normalisation, and PyTorch parity (tests/parity/p4_objective.py).
lvt_c_test(test_loss_ops SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_loss_ops.c LABELS loss)
lvt_c_test(test_loss_grad SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_loss_grad.c LABELS loss)

# PyTorch parity of the whole objective: the C driver runs lvt_loss_step and writes parameters,
# batch, terms and gradients; p4_objective.py (run with /usr/bin/python3) recomputes them.
add_executable(test_loss_parity_driver ${CMAKE_CURRENT_SOURCE_DIR}/test_loss_parity_driver.c
               ${CMAKE_CURRENT_SOURCE_DIR}/parity/parity_io.c)
target_link_libraries(test_loss_parity_driver PRIVATE lvtcore)
if(LVT_HAVE_CUDA AND TARGET lvtcuda)
  set_target_properties(test_loss_parity_driver PROPERTIES LINKER_LANGUAGE CUDA)
endif()
# test_loss_parity: seven reduced-shape cases (D=64 or 63, d=32, 4 heads, 2 layers, B=16);
# test_loss_parity_ref: the reference shape (D=768, d=512, 8 heads, 4 layers) at B=4.
foreach(part small ref)
  if(part STREQUAL "small")
    set(tname test_loss_parity)
  else()
    set(tname test_loss_parity_ref)
  endif()
  add_test(NAME ${tname}
           COMMAND ${LVT_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/parity/p4_objective.py
                   $<TARGET_FILE:test_loss_parity_driver> ${LVT_TEST_TMP} --${part})
  set_tests_properties(${tname} PROPERTIES LABELS "loss;parity" SKIP_RETURN_CODE 77
                       ENVIRONMENT "OMP_NUM_THREADS=2")
endforeach()
set_property(TEST test_loss_parity_ref APPEND PROPERTY LABELS slow) # 30-45 s on 2 shared cores

# normalisation across ranks (two threads meeting in the reduce hook) and micro-steps
lvt_c_test(test_loss_split SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_loss_split.c LABELS loss)
find_package(Threads REQUIRED)
target_link_libraries(test_loss_split PRIVATE Threads::Threads)
set_property(TEST test_loss_split APPEND PROPERTY ENVIRONMENT "OPENBLAS_NUM_THREADS=1")
set_tests_properties(test_loss_split PROPERTIES TIMEOUT 120) # a rank failing before the reduction would hang the other
