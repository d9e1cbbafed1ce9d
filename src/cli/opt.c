/* Declarative options: parsing and --help from one table (cli/opt.h). */
#include "cli/opt.h"

#include "cli/cli.h"
#include "util/err.h"
#include "util/size.h"
#include "util/vec.h"

#include <errno.h>
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

static bool has_digit_short(const struct cli_opt *opts)
{
    for (const struct cli_opt *o = opts; o->type != CLI_OPT_END; o++)
        if (o->short_name >= '0' && o->short_name <= '9')
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
        int r = o->cb(o, arg);
        if (r == -2)
            return EXIT_USAGE;
        if (r < 0)
            return cli_usage(spec->cmd, "%s%s: invalid value '%s'", dash, nm, arg ? arg : "");
        return 0;
    }
    case CLI_OPT_END:
        break;
    }
    return cli_usage(spec->cmd, "internal error: bad option table");
}

static const struct cli_opt *find_long(const struct cli_opt *opts, const char *name, size_t len)
{
    for (const struct cli_opt *o = opts; o->type != CLI_OPT_END; o++)
        if (o->long_name && strlen(o->long_name) == len && !strncmp(o->long_name, name, len))
            return o;
    return NULL;
}

static const struct cli_opt *find_short(const struct cli_opt *opts, int c)
{
    for (const struct cli_opt *o = opts; o->type != CLI_OPT_END; o++)
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
    const struct cli_opt *o = find_long(opts, a, len);
    if (!o) {
        if (len == 4 && !strncmp(a, "help", 4))
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
        if (only_operands || a[0] != '-' || !a[1] ||
            (!digits_are_options && a[1] >= '0' && a[1] <= '9')) {
            out->v[out->n++] = argv[i];   /* i >= 1 + n: already read */
        } else if (!strcmp(a, "--")) {
            only_operands = true;
        } else if (a[1] == '-') {
            r = parse_long(spec, opts, argc, argv, &i);
        } else {
            r = parse_short(spec, opts, argc, argv, &i);
        }
    }
    if (r == 0) {
        if (out->n < spec->min_operands || (spec->max_operands >= 0 && out->n > spec->max_operands))
            r = out->n < spec->min_operands
                    ? cli_usage(spec->cmd, "missing operand: expected %s", spec->operands)
                    : cli_usage(spec->cmd, "too many operands: expected %s", spec->operands);
        else
            return CLI_PARSED;
    } else if (r == 1) {
        cli_print_help(spec, opts);
        r = EXIT_OK;
    }
    return r;
}

void cli_print_help(const struct cli_spec *spec, const struct cli_opt *opts)
{
    printf("usage: vmkit %s%s %s\n", spec->cmd,
           opts[0].type == CLI_OPT_END ? "" : " [OPTIONS]", spec->operands);
    if (spec->help && *spec->help)
        printf("\n%s\n", spec->help);
    printf("\noptions:\n");
    for (const struct cli_opt *o = opts;; o++) {
        static const struct cli_opt help = OPT_BOOL('h', "help", NULL, "show this help");
        const struct cli_opt *h = o->type == CLI_OPT_END ? &help : o;
        char left[64];
        int n = snprintf(left, sizeof left, "  %s%c%s%s%s%s%s",
                         h->short_name ? "-" : "  ", h->short_name ? h->short_name : ' ',
                         h->short_name && h->long_name ? "," : " ",
                         h->long_name ? " --" : "", h->long_name ? h->long_name : "",
                         h->argname ? (h->long_name ? "=" : " ") : "",
                         h->argname ? h->argname : "");
        if (n >= 26)
            printf("%s\n%26s%s\n", left, "", h->help);
        else
            printf("%-26s%s\n", left, h->help);
        if (h == &help)
            break;
    }
}
