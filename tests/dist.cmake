# dist.cmake — data-parallel training across MPI ranks, preemption, rank failure, SLURM.
foreach(t equivalence preempt kill slurm sweep)
  lvt_sh_test(dist_${t} ${CMAKE_CURRENT_SOURCE_DIR}/dist_${t}.sh LABELS dist)
endforeach()
set_tests_properties(dist_equivalence dist_preempt dist_kill dist_slurm dist_sweep PROPERTIES RUN_SERIAL TRUE)
