/* cmd_init.c — `lvt init`: not built yet; it lands with issue 3. */
#include <stdio.h>

#include "cli.h"

int cmd_init(int argc, char **argv) {
    if (cli_wants_help(argc, argv)) {
        printf("usage: lvt init ...\n\nThis command is not implemented yet (planned in issue 3).\n");
        return 0;
    }
    return cli_fail("init", "not implemented yet (planned in issue 3)");
}
