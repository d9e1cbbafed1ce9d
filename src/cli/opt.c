/* Declarative options: parsing and --help from one table (cli/opt.h). */
#include "cli/opt.h"

#include "cli/cli.h"
#include "util/err.h"
#include "util/size.h"
#include "util/vec.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void cli_list_free(struct cli_list *l)
{
    free(l->v);
    l->v = NULL;
    l->n = l->cap = 0;
}

static bool takes_arg(const struct cli_opt *o)
{
    return o->type != CLI_OPT_BOOL && (o->type != CLI_OPT_CALLBACK || o->argname);
}

static const struct cli_opt *find_short(const struct cli_opt *opts, int c);

static bool has_digit_short(const struct cli_opt *opts)
{
    for (int c = '0'; c <= '9'; c++)
        if (find_short(opts, c))
            return true;
    return false;
}

/* The option's name as the user wrote it, for messages. */
static const char *shown(const struct cli_opt *o, bool as_long, char buf[3])
{
    if (as_long || !o->short_name)
        return o->long_name;
    buf[0] = '-';
    buf[1] = (char)o->short_name;
    buf[2] = 0;
    return buf;
}

/* Store arg (NULL for options without one) into o.  Returns 0 or an exit
 * status after printing the usage error. */
static int apply(const struct cli_spec *spec, const struct cli_opt *o, const char *arg,
                 bool as_long)
{
    char sb[3];
    const char *nm = shown(o, as_long, sb);
    const char *dash = (as_long || !o->short_name) ? "--" : "";
    switch (o->type) {
    case CLI_OPT_BOOL:
        *(bool *)o->value = true;
        return 0;
    case CLI_OPT_STRING:
        *(const char **)o->value = arg;
        return 0;
    case CLI_OPT_LIST: {
        struct cli_list *l = o->value;
        void *nv = vk_grow(l->v, &l->cap, l->n + 1, sizeof *l->v, 4);
        if (!nv)
            return cli_failf("out of memory");
        l->v = nv;
        l->v[l->n++] = arg;
        return 0;
    }
    case CLI_OPT_INT: {
        char *end;
        errno = 0;
        long v = strtol(arg, &end, 10);
        if (errno || end == arg || *end)
            return cli_usage(spec->cmd, "%s%s: '%s' is not a whole number", dash, nm, arg);
        *(long *)o->value = v;
        return 0;
    }
    case CLI_OPT_SIZE:
        if (vk_parse_size(arg, o->value) < 0)
            return cli_usage(spec->cmd, "%s%s: %s", dash, nm, vk_errmsg());
        return 0;
    case CLI_OPT_CALLBACK: {
        vk_error_clear();
        int r = o->cb(o, arg);
        if (r == -1)
            return cli_usage(spec->cmd, "%s%s: invalid value '%s'", dash, nm, arg ? arg : "");
        if (r < 0)
            return cli_usage(spec->cmd, "%s", vk_errmsg_for(r));
        return 0;
    }
    case CLI_OPT_END:
    case CLI_OPT_INCLUDE:
        break;
    }
    return cli_usage(spec->cmd, "internal error: bad option table");
}

/* Every option of opts, through OPT_INCLUDE, one at a time: *stack holds
 * the tables being walked (an include nests one level per table). */
struct walk {
    const struct cli_opt *at[4];
    int depth;
};

static void walk_init(struct walk *w, const struct cli_opt *opts)
{
    w->at[0] = opts;
    w->depth = opts ? 0 : -1;
}

static const struct cli_opt *walk_next(struct walk *w)
{
    while (w->depth >= 0) {
        const struct cli_opt *o = w->at[w->depth]++;
        if (o->type == CLI_OPT_END)
            w->depth--;
        else if (o->type != CLI_OPT_INCLUDE)
            return o;
        else if (w->depth + 1 < (int)(sizeof w->at / sizeof *w->at))
            w->at[++w->depth] = o->sub;
    }
    return NULL;
}

/* The option --name (len bytes), or NULL; *ambiguous when name is only a
 * prefix of two or more long names and none is exactly it. */
static const struct cli_opt *find_long(const struct cli_opt *opts, const char *name, size_t len,
                                       bool *ambiguous)
{
    const struct cli_opt *o, *prefix = NULL;
    struct walk w;
    int nprefix = 0;
    *ambiguous = false;
    walk_init(&w, opts);
    while ((o = walk_next(&w))) {
        if (!o->long_name || strncmp(o->long_name, name, len))
            continue;
        if (strlen(o->long_name) == len)
            return o;
        if (o != prefix)
            nprefix++;
        prefix = o;
    }
    *ambiguous = nprefix > 1;
    return nprefix == 1 ? prefix : NULL;
}

static const struct cli_opt *find_short(const struct cli_opt *opts, int c)
{
    const struct cli_opt *o;
    struct walk w;
    walk_init(&w, opts);
    while ((o = walk_next(&w)))
        if (o->short_name == c)
            return o;
    return NULL;
}

/* One "--name[=value]" at argv[*i].  Returns 0, 1 for --help, or an exit
 * status. */
static int parse_long(const struct cli_spec *spec, const struct cli_opt *opts,
                      int argc, char **argv, int *i)
{
    const char *a = argv[*i] + 2;
    const char *eq = strchr(a, '=');
    size_t len = eq ? (size_t)(eq - a) : strlen(a);
    /* --help is an option of every table, for prefixes too. */
    bool ambiguous, help = len && len <= 4 && !strncmp(a, "help", len);
    if (help && len == 4)
        return 1;
    const struct cli_opt *o = find_long(opts, a, len, &ambiguous);
    if (help && (o || ambiguous))
        ambiguous = true, o = NULL;
    if (!o) {
        if (ambiguous)
            return cli_usage(spec->cmd, "option '--%.*s' is ambiguous", (int)len, a);
        if (help)
            return 1;
        return cli_usage(spec->cmd, "unknown option '--%.*s'", (int)len, a);
    }
    const char *arg = NULL;
    if (takes_arg(o)) {
        if (eq)
            arg = eq + 1;
        else if (*i + 1 < argc)
            arg = argv[++*i];
        else
            return cli_usage(spec->cmd, "option '--%s' needs a value (%s)", o->long_name, o->argname);
    } else if (eq) {
        return cli_usage(spec->cmd, "option '--%s' takes no value", o->long_name);
    }
    return apply(spec, o, arg, true);
}

/* One cluster "-xyz" / "-fVALUE" at argv[*i]. */
static int parse_short(const struct cli_spec *spec, const struct cli_opt *opts,
                       int argc, char **argv, int *i)
{
    for (const char *p = argv[*i] + 1; *p; p++) {
        const struct cli_opt *o = find_short(opts, (unsigned char)*p);
        if (!o) {
            if (*p == 'h')
                return 1;
            return cli_usage(spec->cmd, "unknown option '-%c'", *p);
        }
        if (!takes_arg(o)) {
            int r = apply(spec, o, NULL, false);
            if (r)
                return r;
            continue;
        }
        const char *arg = p[1] ? p + 1 : NULL;
        if (!arg) {
            if (*i + 1 >= argc)
                return cli_usage(spec->cmd, "option '-%c' needs a value (%s)", *p, o->argname);
            arg = argv[++*i];
        }
        return apply(spec, o, arg, false);
    }
    return 0;
}

/* An argument that is an operand, not an option. */
static bool is_operand(const char *a, bool digits_are_options)
{
    return a[0] != '-' || !a[1] || (!digits_are_options && a[1] >= '0' && a[1] <= '9');
}

/* One option (or cluster) at argv[*i]: 0, 1 for --help, or an exit status. */
static int parse_one(const struct cli_spec *spec, const struct cli_opt *opts,
                     int argc, char **argv, int *i)
{
    return argv[*i][1] == '-' ? parse_long(spec, opts, argc, argv, i)
                              : parse_short(spec, opts, argc, argv, i);
}

int cli_parse(const struct cli_spec *spec, const struct cli_opt *opts,
              int argc, char **argv, struct cli_args *out)
{
    /* Operands are gathered at the front of argv[1..]: slot 1+n is always
     * one already read, so argv can be rewritten in place. */
    out->v = argv + 1;
    out->n = 0;
    bool digits_are_options = has_digit_short(opts);
    bool only_operands = false;
    int r = 0;
    for (int i = 1; i < argc && r == 0; i++) {
        const char *a = argv[i];
        if (only_operands || is_operand(a, digits_are_options))
            out->v[out->n++] = argv[i];   /* i >= 1 + n: already read */
        else if (!strcmp(a, "--"))
            only_operands = true;
        else
            r = parse_one(spec, opts, argc, argv, &i);
    }
    if (r == 0) {
        if (out->n < spec->min_operands || (spec->max_operands >= 0 && out->n > spec->max_operands))
            r = out->n < spec->min_operands
                    ? cli_usage(spec->cmd, "missing operand: expected %s", spec->operands)
                    : !spec->max_operands
                    ? cli_usage(spec->cmd, "unexpected argument '%s'", out->v[0])
                    : cli_usage(spec->cmd, "too many operands: expected %s", spec->operands);
        else
            return CLI_PARSED;
    } else if (r == 1) {
        cli_print_help(spec, opts);
        r = EXIT_OK;
    }
    return r;
}

int cli_parse_head(const struct cli_spec *spec, const struct cli_opt *opts,
                   int argc, char **argv, int *verb)
{
    static const struct cli_opt none[] = { OPT_END() };
    if (!opts)
        opts = none;
    bool digits_are_options = has_digit_short(opts);
    int i = 1, r = 0;
    while (r == 0 && i < argc && !is_operand(argv[i], digits_are_options)) {
        if (!strcmp(argv[i], "--")) {
            i++;
            break;
        }
        r = parse_one(spec, opts, argc, argv, &i);
        i++;
    }
    *verb = i;
    return r == 0 ? CLI_PARSED : r == 1 ? CLI_HELP : r;
}

void cli_print_options(FILE *out, const struct cli_opt *opts)
{
    static const struct cli_opt help = OPT_BOOL('h', "help", NULL, "show this help");
    const struct cli_opt *o;
    struct walk w;
    walk_init(&w, opts);
    fprintf(out, "\noptions:\n");
    do {
        const struct cli_opt *h = (o = walk_next(&w)) ? o : &help;
        /* "  -f, --format=FMT", "  -f FMT", "      --json" */
        char left[64], sh[8] = "    ";
        if (h->short_name)
            snprintf(sh, sizeof sh, "-%c%s", h->short_name, h->long_name ? ", " : "");
        int n = snprintf(left, sizeof left, "  %s%s%s%s%s", sh, h->long_name ? "--" : "",
                         h->long_name ? h->long_name : "",
                         h->argname ? (h->long_name ? "=" : " ") : "",
                         h->argname ? h->argname : "");
        /* A help text of several lines is indented as a whole. */
        for (const char *t = h->help, *nl; t; t = nl ? nl + 1 : NULL, n = 99, left[0] = 0) {
            nl = strchr(t, '\n');
            int tl = nl ? (int)(nl - t) : (int)strlen(t);
            if (n >= 25 && left[0])
                fprintf(out, "%s\n%26s%.*s\n", left, "", tl, t);
            else
                fprintf(out, "%-26s%.*s\n", left, tl, t);
        }
    } while (o);
}

void cli_print_help(const struct cli_spec *spec, const struct cli_opt *opts)
{
    struct walk w;
    walk_init(&w, opts);
    printf("usage: vmkit %s%s%s%s\n", spec->cmd, walk_next(&w) ? " [OPTIONS]" : "",
           spec->operands && *spec->operands ? " " : "", spec->operands ? spec->operands : "");
    if (spec->help && *spec->help)
        printf("\n%s\n", spec->help);
    cli_print_options(stdout, opts);
}

/* The help of a command group, generated from its table. */
static void group_help(FILE *out, const char *group, const struct cli_command *table,
                       const struct cli_opt *opts)
{
    struct walk w;
    walk_init(&w, opts);
    bool has_opts = walk_next(&w) != NULL;
    fprintf(out, "usage: vmkit %s%s COMMAND [ARGS...]\n\ncommands:\n", group,
            has_opts ? " [OPTIONS]" : "");
    for (const struct cli_command *c = table; c->name; c++)
        fprintf(out, "  %-10s %s\n", c->name, c->summary);
    if (has_opts)
        cli_print_options(out, opts);
    fprintf(out, "\nRun 'vmkit %s COMMAND --help' for a command's options.\n", group);
}

int cli_dispatch_opts(const char *group, const struct cli_command *table,
                      const struct cli_opt *opts, int argc, char **argv)
{
    const struct cli_spec spec = { group, "COMMAND [ARGS...]", NULL, 0, -1 };
    int i, r = cli_parse_head(&spec, opts, argc, argv, &i);
    if (r == CLI_HELP || (r == CLI_PARSED && i < argc && !strcmp(argv[i], "help"))) {
        group_help(stdout, group, table, opts);
        return EXIT_OK;
    }
    if (r != CLI_PARSED)
        return r;
    if (i < argc) {
        for (const struct cli_command *c = table; c->name; c++)
            if (!strcmp(c->name, argv[i])) {
                optind = 0;   /* verbs still on getopt start afresh */
                return c->run(argc - i, argv + i);
            }
        fprintf(stderr, "vmkit: '%s %s' is not a vmkit command\n", group, argv[i]);
    }
    group_help(stderr, group, table, opts);
    return EXIT_USAGE;
}

int cli_dispatch(const char *group, const struct cli_command *table, int argc, char **argv)
{
    return cli_dispatch_opts(group, table, NULL, argc, argv);
}
