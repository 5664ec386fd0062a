/* cmd_config.c — `lvt config`: not built yet; it lands with issue 2. */
#include <stdio.h>

#include "cli.h"

int cmd_config(int argc, char **argv) {
    if (cli_wants_help(argc, argv)) {
        printf("usage: lvt config ...\n\nThis command is not implemented yet (planned in issue 2).\n");
        return 0;
    }
    return cli_fail("config", "not implemented yet (planned in issue 2)");
}
