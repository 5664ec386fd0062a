/* cmd_bench.c — `lvt bench`: not built yet; it lands with issue 3. */
#include <stdio.h>

#include "cli.h"

int cmd_bench(int argc, char **argv) {
    if (cli_wants_help(argc, argv)) {
        printf("usage: lvt bench ...\n\nThis command is not implemented yet (planned in issue 3).\n");
        return 0;
    }
    return cli_fail("bench", "not implemented yet (planned in issue 3)");
}
