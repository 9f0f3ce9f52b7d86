/* cmd_experiment.c — 'kres experiment' (placeholder until its issue lands). */
#include "cli/cli.h"

int cmd_experiment(int argc, char **argv) {
    (void)argc;
    (void)argv;
    return not_implemented("experiment");
}
