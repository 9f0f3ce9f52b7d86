/* cmd_info.c — 'kres info' (placeholder until its issue lands). */
#include "cli/cli.h"

int cmd_info(int argc, char **argv) {
    (void)argc;
    (void)argv;
    return not_implemented("info");
}
