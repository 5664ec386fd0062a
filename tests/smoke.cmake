# smoke.cmake — the binary runs: version, help, every subcommand's --help, unknown command.
lvt_sh_test(cli_smoke ${CMAKE_CURRENT_SOURCE_DIR}/cli_smoke.sh)
# The LVT_MPI=OFF variant builds and trains (a second, small build tree).
lvt_sh_test(build_nompi ${CMAKE_CURRENT_SOURCE_DIR}/build_nompi.sh LABELS build)
