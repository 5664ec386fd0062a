/* cmd_synth.c — `lvt synth`: not built yet; it lands with issue 2. */
#include <stdio.h>

#include "cli.h"

int cmd_synth(int argc, char **argv) {
    if (cli_wants_help(argc, argv)) {
        printf("usage: lvt synth ...\n\nThis command is not implemented yet (planned in issue 2).\n");
        return 0;
    }
    return cli_fail("synth", "not implemented yet (planned in issue 2)");
}
