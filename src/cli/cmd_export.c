/* cmd_export.c — `lvt export`: not built yet; it lands with issue 3. */
#include <stdio.h>

#include "cli.h"

int cmd_export(int argc, char **argv) {
    if (cli_wants_help(argc, argv)) {
        printf("usage: lvt export ...\n\nThis command is not implemented yet (planned in issue 3).\n");
        return 0;
    }
    return cli_fail("export", "not implemented yet (planned in issue 3)");
}
