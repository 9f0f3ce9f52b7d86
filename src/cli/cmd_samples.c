/* cmd_samples.c — 'kres samples' (placeholder until its issue lands). */
#include "cli/cli.h"

int cmd_samples(int argc, char **argv) {
    (void)argc;
    (void)argv;
    return not_implemented("samples");
}
