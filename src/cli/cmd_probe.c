/* cmd_probe.c — 'kres probe' (placeholder until its issue lands). */
#include "cli/cli.h"

int cmd_probe(int argc, char **argv) {
    (void)argc;
    (void)argv;
    return not_implemented("probe");
}
