/* Unit tests of the declarative option parser (src/cli/opt.c): GNU-style
 * syntax, operand counts, generated --help, and usage errors. */
#include "tap.h"

#include "cli/common.c"
#include "cli/opt.c"

#include <stdarg.h>

static bool json, quiet;
static const char *fmt;
static long count;
static uint64_t size;
static struct cli_list isos;
static int cb_calls;

static int cb(const struct cli_opt *o, const char *arg)
{
    cb_calls++;
    return arg && !strcmp(arg, "bad") ? -1 : 0;
}

static const char *page;
static const struct cli_opt common[] = {
    OPT_STRING(0, "codepage", &page, "N", "shared by a group"),
    OPT_END(),
};

static int cb_msg(const struct cli_opt *o, const char *arg)
{
    return vk_error(-EINVAL, "own message for %s", arg);
}

static const struct cli_opt opts[] = {
    OPT_STRING('f', "format", &fmt, "FMT", "image format"),
    OPT_INCLUDE(common),
    OPT_CALLBACK(0, "msg", NULL, "V", "callback with its own message", cb_msg),
    OPT_BOOL(0, "backing-chain", &json, "a long name"),
    OPT_BOOL(0, "backing-file", &quiet, "another long name"),
    OPT_BOOL(0, "json", &json, "print JSON"),
    OPT_BOOL('q', "quiet", &quiet, "say less"),
    OPT_INT('n', "count", &count, "N", "how many"),
    OPT_SIZE('s', "size", &size, "SIZE", "how big"),
    OPT_LIST(0, "iso", &isos, "FILE", "an ISO (repeatable)"),
    OPT_CALLBACK('x', "extra", NULL, "V", "checked by a callback", cb),
    OPT_END(),
};
static const struct cli_spec spec = { "test verb", "A [B]", "Test things.", 1, 2 };

/* Parse a space-separated command line; returns cli_parse's result. */
static int run(const char *line, struct cli_args *a)
{
    static char buf[512];
    static char *argv[32];
    int argc = 0;
    json = quiet = false;
    fmt = page = NULL;
    count = 0;
    size = 0;
    cli_list_free(&isos);
    cb_calls = 0;
    snprintf(buf, sizeof buf, "verb %s", line);
    for (char *t = strtok(buf, " "); t && argc < 31; t = strtok(NULL, " "))
        argv[argc++] = t;
    argv[argc] = NULL;
    /* Silence messages: the test looks only at results. */
    FILE *saved_out = stdout, *saved_err = stderr;
    stdout = stderr = fopen("/dev/null", "w");
    int r = cli_parse(&spec, opts, argc, argv, a);
    fclose(stdout);
    stdout = saved_out;
    stderr = saved_err;
    return r;
}

int main(void)
{
    struct cli_args a;
    int r;
    r = run("-f qcow2 disk", &a);
    CHECK(r == CLI_PARSED && fmt && !strcmp(fmt, "qcow2") &&
              a.n == 1 && !strcmp(a.v[0], "disk"), "-f VALUE and one operand");
    r = run("-fraw disk", &a);
    CHECK(r == CLI_PARSED && !strcmp(fmt, "raw"), "-fVALUE");
    r = run("disk --format=vdi", &a);
    CHECK(r == CLI_PARSED && !strcmp(fmt, "vdi"), "--long=VALUE after an operand");
    r = run("--format vmdk disk out", &a);
    CHECK(r == CLI_PARSED && !strcmp(fmt, "vmdk") && a.n == 2 &&
              !strcmp(a.v[1], "out"), "--long VALUE, two operands in order");
    r = run("-qn7 disk", &a);
    CHECK(r == CLI_PARSED && quiet && count == 7, "clustered -qn7");
    r = run("--json -s 4G disk", &a);
    CHECK(r == CLI_PARSED && json && size == (4ULL << 30), "size option");
    r = run("--iso a.iso --iso=b.iso disk", &a);
    CHECK(r == CLI_PARSED && isos.n == 2 &&
              !strcmp(isos.v[1], "b.iso"), "repeatable option keeps every value");
    r = run("disk -1G", &a);
    CHECK(r == CLI_PARSED && a.n == 2 && !strcmp(a.v[1], "-1G"),
          "a negative number is an operand");
    r = run("-- -q", &a);
    CHECK(r == CLI_PARSED && a.n == 1 && !quiet && !strcmp(a.v[0], "-q"),
          "-- ends options");
    r = run("-x ok disk", &a);
    CHECK(r == CLI_PARSED && cb_calls == 1, "callback called");
    r = run("-x bad disk", &a);
    CHECK(r == EXIT_USAGE, "callback refusal is a usage error");
    r = run("--bogus disk", &a);
    CHECK(r == EXIT_USAGE, "unknown long option");
    r = run("-Z disk", &a);
    CHECK(r == EXIT_USAGE, "unknown short option");
    r = run("disk -f", &a);
    CHECK(r == EXIT_USAGE, "missing value");
    r = run("--json=1 disk", &a);
    CHECK(r == EXIT_USAGE, "value for a flag refused");
    r = run("-n seven disk", &a);
    CHECK(r == EXIT_USAGE, "non-numeric integer refused");
    r = run("-s 12Q disk", &a);
    CHECK(r == EXIT_USAGE, "bad size refused");
    r = run("", &a);
    CHECK(r == EXIT_USAGE, "too few operands");
    r = run("a b c", &a);
    CHECK(r == EXIT_USAGE, "too many operands");
    r = run("--help", &a);
    CHECK(r == EXIT_OK, "--help");
    r = run("disk -h", &a);
    CHECK(r == EXIT_OK, "-h anywhere");
    r = run("--codepage 850 disk --codepage=437", &a);
    CHECK(r == CLI_PARSED && page && !strcmp(page, "437"), "an included table's option");
    r = run("--form=raw --backing-c disk", &a);
    CHECK(r == CLI_PARSED && !strcmp(fmt, "raw") && json && !quiet, "unambiguous prefixes");
    r = run("--backing disk", &a);
    CHECK(r == EXIT_USAGE, "an ambiguous prefix is refused");
    r = run("--he disk", &a);
    CHECK(r == EXIT_OK, "a prefix of --help");
    r = run("--msg x disk", &a);
    CHECK(r == EXIT_USAGE && !strcmp(vk_errmsg(), "own message for x"), "callback's own message");

    /* The options before a verb: parsed up to the first operand. */
    char *hv[] = { "fs", "--codepage", "850", "ls", "-l", "--bogus", NULL };
    int verb = 0;
    page = NULL;
    r = cli_parse_head(&spec, opts, 6, hv, &verb);
    CHECK(r == CLI_PARSED && verb == 3 && !strcmp(page, "850"), "head: stops at the verb");
    char *hh[] = { "fs", "--help", NULL };
    CHECK(cli_parse_head(&spec, opts, 2, hh, &verb) == CLI_HELP, "head: --help");
    char *hb[] = { "fs", "--bogus", "ls", NULL };
    FILE *saved_err = stderr;
    stderr = fopen("/dev/null", "w");
    r = cli_parse_head(&spec, opts, 3, hb, &verb);
    fclose(stderr);
    stderr = saved_err;
    CHECK(r == EXIT_USAGE, "head: unknown option");

    /* The generated help lists every option. */
    char *text = NULL;
    size_t len = 0;
    FILE *saved = stdout;
    stdout = open_memstream(&text, &len);
    cli_print_help(&spec, opts);
    fclose(stdout);
    stdout = saved;
    CHECK(strstr(text, "usage: vmkit test verb [OPTIONS] A [B]") != NULL, "usage line");
    CHECK(strstr(text, "-f, --format=FMT") && strstr(text, "--iso=FILE") &&
              strstr(text, "-h, --help") && strstr(text, "Test things."), "options and text in help");
    CHECK(strstr(text, "--codepage=N") != NULL, "an included option in help");
    free(text);
    cli_list_free(&isos);
    return tap_done();
}
