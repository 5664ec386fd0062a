# config.cmake — the config module: parsing, messages, --set, round trip (C) and `lvt config` (shell).
lvt_c_test(test_config SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_config.c LABELS config)
lvt_sh_test(test_config_cli ${CMAKE_CURRENT_SOURCE_DIR}/test_config_cli.sh LABELS config)
