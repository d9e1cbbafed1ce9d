/* Placeholder until this command group lands. */
#include "cli/cli.h"

int cmd_demo(int argc, char **argv)
{
    return cli_failf("%s: not implemented yet", argv[0]);
}
