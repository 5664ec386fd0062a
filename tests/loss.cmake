# loss.cmake — the P4 objective (loss module) and its ops primitives: primitive unit tests,
# finite-difference gradient checks of every term through the model, rank/micro-step
# normalisation, and PyTorch parity (tests/parity/p4_objective.py).
lvt_c_test(test_loss_ops SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_loss_ops.c LABELS loss)
lvt_c_test(test_loss_grad SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_loss_grad.c LABELS loss)
