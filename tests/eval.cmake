# eval.cmake — 5CAT: the battery against hand values, brute force and the numpy reference
# (tests/parity/fivecat_reference.py), gate logic, errors; and `lvt eval` end to end.
lvt_c_test(test_eval SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_eval.c LABELS eval)
lvt_sh_test(test_eval_cli ${CMAKE_CURRENT_SOURCE_DIR}/test_eval_cli.sh LABELS eval)
lvt_c_test(test_eval_model SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_eval_model.c LABELS eval)
