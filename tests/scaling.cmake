# scaling.cmake — the process group (comm) on one rank, on two MPI ranks, with host staging and
# built without MPI; the compute/communication split of `lvt bench` under mpirun; the scaling
# cost-model script.
lvt_c_test(test_comm SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_comm.c LABELS scaling ARGS 1 none)

# comm.c as a build with LVT_MPI=OFF compiles it: no LVT_HAVE_MPI, no lvtcore.
add_executable(test_comm_single ${CMAKE_CURRENT_SOURCE_DIR}/test_comm.c ${CMAKE_SOURCE_DIR}/src/comm.c
               ${CMAKE_SOURCE_DIR}/src/common.c ${CMAKE_CURRENT_SOURCE_DIR}/testutil.c)
target_include_directories(test_comm_single PRIVATE ${CMAKE_SOURCE_DIR}/include ${CMAKE_CURRENT_SOURCE_DIR})
target_compile_definitions(test_comm_single PRIVATE COMM_TEST_HOST_ONLY=1 _POSIX_C_SOURCE=200809L)
target_link_libraries(test_comm_single PRIVATE m)
add_test(NAME test_comm_single COMMAND test_comm_single 1)
set_tests_properties(test_comm_single PROPERTIES LABELS scaling)

if(LVT_MPI)
  lvt_sh_test(scaling_comm_mpi ${CMAKE_CURRENT_SOURCE_DIR}/scaling_comm_mpi.sh LABELS scaling
              ARGS $<TARGET_FILE:test_comm>)
  lvt_sh_test(scaling_bench ${CMAKE_CURRENT_SOURCE_DIR}/scaling_bench.sh LABELS scaling)
  set_tests_properties(scaling_comm_mpi scaling_bench PROPERTIES RUN_SERIAL TRUE)
endif()
lvt_sh_test(scaling_model ${CMAKE_CURRENT_SOURCE_DIR}/scaling_model.sh LABELS scaling)
