# data.cmake — the data module: HDF5 store (with h5py interoperability), window index and batch
# assembly against brute force, epoch permutation (with a Python reference) and rank slicing.
lvt_c_test(test_store SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_store.c LABELS data)
lvt_c_test(test_windows SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_windows.c LABELS data)
lvt_c_test(test_perm SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_perm.c LABELS data)
