#include "cli/cli.h"

#include "util/err.h"

#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int cli_fail(int r)
{
    fprintf(stderr, "vmkit: %s\n", vk_errmsg_for(r));
    return EXIT_FAIL;
}

int cli_failf(const char *fmt, ...)
{
    va_list ap;
    fputs("vmkit: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return EXIT_FAIL;
}

int cli_usage(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    fputs("vmkit: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nTry 'vmkit %s --help'.\n", cmd);
    return EXIT_USAGE;
}

bool cli_wants_help(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--"))
            break;
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help"))
            return true;
    }
    return false;
}

int cli_dispatch(const char *group, const struct cli_command *table, int argc, char **argv)
{
    FILE *out = stdout;

    if (argc >= 2) {
        for (const struct cli_command *c = table; c->name; c++)
            if (!strcmp(c->name, argv[1])) {
                optind = 0;   /* reset getopt for the sub-command */
                return c->run(argc - 1, argv + 1);
            }
        if (strcmp(argv[1], "--help") && strcmp(argv[1], "-h") && strcmp(argv[1], "help")) {
            fprintf(stderr, "vmkit: '%s %s' is not a vmkit command\n", group, argv[1]);
            out = stderr;
        }
    } else {
        out = stderr;
    }
    fprintf(out, "usage: vmkit %s COMMAND [ARGS...]\n\ncommands:\n", group);
    for (const struct cli_command *c = table; c->name; c++)
        fprintf(out, "  %-10s %s\n", c->name, c->summary);
    fprintf(out, "\nRun 'vmkit %s COMMAND --help' for a command's options.\n", group);
    return out == stdout ? EXIT_OK : EXIT_USAGE;
}

int cli_print_json(json_t *v)
{
    if (!v)
        return cli_failf("out of memory");
    int r = json_dumpf(v, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(v);
    fputc('\n', stdout);
    return r < 0 ? cli_failf("writing JSON failed") : EXIT_OK;
}
