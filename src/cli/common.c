#include "cli/cli.h"

#include "util/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

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
    fprintf(stderr, "\nTry 'vmkit %s%s--help'.\n", cmd, *cmd ? " " : "");
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

/* The marker: U+0001 and a random tag, so no string read from a disk (a
 * file name) can pass for one. */
static char u64_tag[24];

static const char *u64_mark(void)
{
    if (!u64_tag[0]) {
        uint64_t r = 0;
        if (getentropy(&r, sizeof r) < 0)
            r = (uint64_t)getpid() << 32 ^ (uint64_t)time(NULL);
        snprintf(u64_tag, sizeof u64_tag, "%016llx:", (unsigned long long)r);
    }
    return u64_tag;
}

json_t *cli_json_u64(uint64_t v)
{
    if (v <= (uint64_t)INT64_MAX)
        return json_integer((json_int_t)v);
    char s[64];
    snprintf(s, sizeof s, "\001%s%llu", u64_mark(), (unsigned long long)v);
    return json_string(s);
}

int cli_print_json(json_t *v)
{
    if (!v)
        return cli_failf("out of memory");
    char *text = json_dumps(v, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(v);
    if (!text)
        return cli_failf("writing JSON failed");
    /* "\u0001TAG:DIGITS" (jansson escapes U+0001) -> DIGITS */
    char mark[48];
    snprintf(mark, sizeof mark, "\"\\u0001%s", u64_mark());
    char *p = text, *m;
    while ((m = strstr(p, mark))) {
        char *d = m + strlen(mark), *e = d;
        while (*e >= '0' && *e <= '9')
            e++;
        if (e > d && *e == '"') {
            fwrite(p, 1, (size_t)(m - p), stdout);
            fwrite(d, 1, (size_t)(e - d), stdout);
            p = e + 1;
        } else {
            fwrite(p, 1, (size_t)(d - p), stdout);
            p = d;
        }
    }
    fputs(p, stdout);
    fputc('\n', stdout);
    free(text);
    return ferror(stdout) ? cli_failf("writing JSON failed") : EXIT_OK;
}

const char *cli_take_option(int *argc, char **argv, const char *name)
{
    const char *val = NULL;
    size_t len = strlen(name);
    int n = 0;
    for (int i = 0; i < *argc; i++) {
        if (!strcmp(argv[i], "--"))
            while (i < *argc)
                argv[n++] = argv[i++];
        else if (!strcmp(argv[i], name) && i + 1 < *argc)
            val = argv[++i];
        else if (!strncmp(argv[i], name, len) && argv[i][len] == '=')
            val = argv[i] + len + 1;
        else
            argv[n++] = argv[i];
    }
    *argc = n;
    argv[n] = NULL;
    return val;
}
