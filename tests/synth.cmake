# synth.cmake — `lvt synth` and `lvt inspect` (src/synth.c, src/inspect.c; docs/synth.md).
lvt_c_test(test_synth SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_synth.c LABELS synth)
lvt_sh_test(test_synth_cli ${CMAKE_CURRENT_SOURCE_DIR}/test_synth_cli.sh LABELS synth)
