/* cmd_eval.c — `lvt eval`: not built yet; it lands with issue 5. */
#include <stdio.h>

#include "cli.h"

int cmd_eval(int argc, char **argv) {
    if (cli_wants_help(argc, argv)) {
        printf("usage: lvt eval ...\n\nThis command is not implemented yet (planned in issue 5).\n");
        return 0;
    }
    return cli_fail("eval", "not implemented yet (planned in issue 5)");
}
