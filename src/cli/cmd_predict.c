/* cmd_predict.c — 'kres predict' (placeholder until its issue lands). */
#include "cli/cli.h"

int cmd_predict(int argc, char **argv) {
    (void)argc;
    (void)argv;
    return not_implemented("predict");
}
