/* cmd_dataset.c — 'kres dataset' (placeholder until its issue lands). */
#include "cli/cli.h"

int cmd_dataset(int argc, char **argv) {
    (void)argc;
    (void)argv;
    return not_implemented("dataset");
}
