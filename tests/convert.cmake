# convert.cmake — tests of `lvt convert` and its .npy/.npz readers (SPEC §3.2, docs/convert.md).
lvt_c_test(test_convert_npy SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_convert_npy.c LABELS convert)
lvt_sh_test(test_convert_layouts ${CMAKE_CURRENT_SOURCE_DIR}/test_convert.sh ARGS layouts LABELS convert)
lvt_sh_test(test_convert_split ${CMAKE_CURRENT_SOURCE_DIR}/test_convert.sh ARGS split LABELS convert)
lvt_sh_test(test_convert_hostile ${CMAKE_CURRENT_SOURCE_DIR}/test_convert.sh ARGS hostile LABELS convert)
