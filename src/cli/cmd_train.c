/* cmd_train.c — `lvt train`: not built yet; it lands with issue 4. */
#include <stdio.h>

#include "cli.h"

int cmd_train(int argc, char **argv) {
    if (cli_wants_help(argc, argv)) {
        printf("usage: lvt train ...\n\nThis command is not implemented yet (planned in issue 4).\n");
        return 0;
    }
    return cli_fail("train", "not implemented yet (planned in issue 4)");
}
