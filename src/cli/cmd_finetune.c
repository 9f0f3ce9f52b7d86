/* cmd_finetune.c — 'kres finetune' (placeholder until its issue lands). */
#include "cli/cli.h"

int cmd_finetune(int argc, char **argv) {
    (void)argc;
    (void)argv;
    return not_implemented("finetune");
}
