/* Declarative command-line options (after kvmtool's parse-options): each
 * verb describes its options once, in a table of struct cli_opt, and
 * cli_parse() both parses argv against it and prints --help from it, so
 * the usage text can never disagree with what is accepted.
 *
 *     bool json = false;
 *     const char *fmt = NULL;
 *     const struct cli_opt opts[] = {
 *         OPT_STRING('f', "format", &fmt, "FMT", "image format (default: probe)"),
 *         OPT_BOOL(0, "json", &json, "print JSON"),
 *         OPT_END(),
 *     };
 *     static const struct cli_spec spec = {
 *         "img info", "[OPTIONS] FILE", "Show what an image is.", 1, 1 };
 *     struct cli_args a;
 *     int r = cli_parse(&spec, opts, argc, argv, &a);
 *     if (r != CLI_PARSED)
 *         return r;                 // help printed (0) or usage error (2)
 *     ... a.v[0] is FILE (argv is reordered: operands first) ...
 *
 * Syntax accepted (GNU style): `-x`, clustered `-xy`, `-fVALUE`, `-f VALUE`,
 * `--long`, `--long=VALUE`, `--long VALUE`, a long name shortened to any
 * unambiguous prefix (`--back` for `--backing-chain`, as getopt_long and
 * git's parse-options allow), options and operands in any order, `--`
 * ends options.  An argument that starts with '-' followed by a digit is
 * an operand (`img resize disk -1G`) unless the table has a digit short
 * option.  `-h` and `--help` are always understood.
 *
 * A command group (img, part, fs...) is a table of struct cli_command;
 * cli_dispatch_opts() runs the verb and generates the group's --help from
 * the table, with the group's own options (fs --codepage), which its
 * verbs also accept after the verb by OPT_INCLUDE of the same table.
 */
#ifndef VK_CLI_OPT_H
#define VK_CLI_OPT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum cli_opt_type {
    CLI_OPT_END,
    CLI_OPT_BOOL,      /* bool *value = true */
    CLI_OPT_STRING,    /* const char **value = the argument (last wins) */
    CLI_OPT_LIST,      /* struct cli_list *value gets every occurrence */
    CLI_OPT_INT,       /* long *value, decimal, range-checked by cb if any */
    CLI_OPT_SIZE,      /* uint64_t *value, vmkit sizes (4G, 3950M, bytes) */
    CLI_OPT_CALLBACK,  /* cb(opt, arg) decides; arg NULL for no-argument */
    CLI_OPT_INCLUDE,   /* the options of another table (sub), as if here */
};

struct cli_opt;
/* A callback returns 0; or -1, and the parser reports "--long: invalid
 * value 'ARG'" as a usage error; or what vk_error() returned (a negative
 * errno), and the parser reports that message as a usage error. */
typedef int (*cli_opt_cb)(const struct cli_opt *o, const char *arg);

struct cli_opt {
    enum cli_opt_type type;
    int short_name;          /* 0: no short form */
    const char *long_name;   /* NULL: no long form */
    void *value;
    const char *argname;     /* the argument's name in --help; NULL: none */
    const char *help;
    cli_opt_cb cb;           /* CALLBACK only */
    void *ctx;               /* for the callback */
    const struct cli_opt *sub;  /* INCLUDE only */
};

/* Repeated option values (CLI_OPT_LIST), pointing into argv. */
struct cli_list {
    const char **v;
    size_t n, cap;
};
void cli_list_free(struct cli_list *l);

#define OPT_BOOL(s, l, v, h)          { CLI_OPT_BOOL, (s), (l), (v), NULL, (h), NULL, NULL, NULL }
#define OPT_STRING(s, l, v, a, h)     { CLI_OPT_STRING, (s), (l), (v), (a), (h), NULL, NULL, NULL }
#define OPT_LIST(s, l, v, a, h)       { CLI_OPT_LIST, (s), (l), (v), (a), (h), NULL, NULL, NULL }
#define OPT_INT(s, l, v, a, h)        { CLI_OPT_INT, (s), (l), (v), (a), (h), NULL, NULL, NULL }
#define OPT_SIZE(s, l, v, a, h)       { CLI_OPT_SIZE, (s), (l), (v), (a), (h), NULL, NULL, NULL }
/* a NULL: the option takes no argument and cb gets arg NULL. */
#define OPT_CALLBACK(s, l, c, a, h, cb) { CLI_OPT_CALLBACK, (s), (l), NULL, (a), (h), (cb), (c), NULL }
/* Every option of table t (options a whole group shares), listed here. */
#define OPT_INCLUDE(t)                { CLI_OPT_INCLUDE, 0, NULL, NULL, NULL, NULL, NULL, NULL, (t) }
#define OPT_END()                     { CLI_OPT_END, 0, NULL, NULL, NULL, NULL, NULL, NULL, NULL }

/* What a verb is, for parsing and --help. */
struct cli_spec {
    const char *cmd;       /* "img create": for messages and usage */
    const char *operands;  /* "FILE [SIZE]" */
    const char *help;      /* one or more sentences; may hold newlines */
    int min_operands;
    int max_operands;      /* -1: no limit */
};

/* The operands left after the options, in order: cli_parse moves them to
 * argv[1..n] (the strings themselves are untouched). */
struct cli_args {
    char **v;
    int n;
};

enum { CLI_PARSED = -1, CLI_HELP = -2 };

/* Parse argv[1..argc) (argv[0] is the verb) against opts.  Returns
 * CLI_PARSED with the operands in *out, or
 * an exit status to return at once: EXIT_OK after printing --help on
 * stdout, EXIT_USAGE after printing "vmkit: <what is wrong>" and a --help
 * hint on stderr (unknown option, missing or extra argument, bad value,
 * operand count outside [min, max]). */
int cli_parse(const struct cli_spec *spec, const struct cli_opt *opts,
              int argc, char **argv, struct cli_args *out);

/* Print the --help text generated from spec and opts to stdout. */
void cli_print_help(const struct cli_spec *spec, const struct cli_opt *opts);

/* Parse the options that come before a verb (a group's own, or vmkit's):
 * argv[1..] up to the first operand, whose index is left in *verb (argc
 * when there is none); nothing is reordered.  Returns CLI_PARSED,
 * CLI_HELP for -h/--help (the caller prints its help), or EXIT_USAGE
 * after printing a usage error for spec->cmd. */
int cli_parse_head(const struct cli_spec *spec, const struct cli_opt *opts,
                   int argc, char **argv, int *verb);

/* Print opts as the "options:" list of --help (with -h, --help last). */
void cli_print_options(FILE *out, const struct cli_opt *opts);

struct cli_command;
/* Run a command group: its own options opts (NULL: none) before the
 * verb argv[i], then table's verb with (argc - i, argv + i).  `vmkit
 * GROUP`, `GROUP --help` and `GROUP help` print the group's help generated
 * from table and opts (exit 2 on stderr without a verb, else 0); an
 * unknown verb is a usage error (2). */
int cli_dispatch_opts(const char *group, const struct cli_command *table,
                      const struct cli_opt *opts, int argc, char **argv);

#endif
