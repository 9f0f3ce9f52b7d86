/* cmd_pretrain.c — 'kres pretrain' (placeholder until its issue lands). */
#include "cli/cli.h"

int cmd_pretrain(int argc, char **argv) {
    (void)argc;
    (void)argv;
    return not_implemented("pretrain");
}
