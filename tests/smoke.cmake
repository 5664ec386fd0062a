# smoke.cmake — the binary runs: version, help, every subcommand's --help, unknown command.
lvt_sh_test(cli_smoke ${CMAKE_CURRENT_SOURCE_DIR}/cli_smoke.sh)
