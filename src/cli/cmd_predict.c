/* cmd_predict.c — `lvt predict`: not built yet; it lands with issue 3. */
#include <stdio.h>

#include "cli.h"

int cmd_predict(int argc, char **argv) {
    if (cli_wants_help(argc, argv)) {
        printf("usage: lvt predict ...\n\nThis command is not implemented yet (planned in issue 3).\n");
        return 0;
    }
    return cli_fail("predict", "not implemented yet (planned in issue 3)");
}
