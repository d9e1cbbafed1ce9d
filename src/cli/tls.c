/* vmkit tls: the host's CA and the client certificates `vmkit serve`
 * accepts (tls/tls.h). */
#include "cli/cli.h"
#include "cli/opt.h"

#include "tls/tls.h"
#include "util/err.h"
#include "util/file.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A lifetime in days: 1 to 100 years. */
static int days_ok(const char *cmd, long days)
{
    if (days < 1 || days > 36500)
        return cli_usage(cmd, "--days %ld: from 1 to 36500", days);
    return CLI_PARSED;
}

static int tls_init(int argc, char **argv)
{
    const char *cn = NULL;
    long days = 3650;
    bool force = false;
    const struct cli_opt opts[] = {
        OPT_STRING(0, "cn", &cn, "NAME", "the CA's common name (default: vmkit CA HOSTNAME)"),
        OPT_INT(0, "days", &days, "N", "the CA's and server certificate's lifetime (default 3650)"),
        OPT_BOOL(0, "force", &force, "replace an existing CA (its clients/ is renamed aside)"),
        OPT_END(),
    };
    static const struct cli_spec spec = {
        "tls init", "[--cn NAME] [--days N] [--force]",
        "Create this host's CA in <config dir>/tls/: ca.key and ca.crt, a server\n"
        "key and certificate for localhost, this host name, 127.0.0.1 and ::1\n"
        "(server.key, server.crt) and an empty CRL (crl.pem).  Keys are EC P-256,\n"
        "mode 0600; the directory 0700.", 0, 0 };
    struct cli_args a;
    int r = cli_parse(&spec, opts, argc, argv, &a);
    if (r != CLI_PARSED || (r = days_ok(spec.cmd, days)) != CLI_PARSED)
        return r;
    struct vk_tls_init_opts o = { cn, (int)days, force };
    if ((r = vk_tls_init(&o)) < 0)
        return cli_fail(r);
    char dir[4000];
    if (isatty(1) && vk_tls_dir(dir, sizeof dir) == 0)
        printf("Created the CA in %s\n", dir);
    return EXIT_OK;
}

/* The first line of file (a password), without its newline, malloc'd. */
static int read_password(const char *file, char **out)
{
    size_t len;
    int r = vk_read_small_file(file, 4096, out, &len);
    if (r)
        return r;
    (*out)[strcspn(*out, "\r\n")] = '\0';
    return 0;
}

static int tls_issue(int argc, char **argv)
{
    long days = 365;
    const char *p12 = NULL, *pwfile = NULL, *qdir = NULL;
    const struct cli_opt opts[] = {
        OPT_INT(0, "days", &days, "N", "the certificate's lifetime (default 365)"),
        OPT_STRING(0, "p12", &p12, "FILE", "also write a PKCS#12 bundle (key, cert, CA) for browsers"),
        OPT_STRING(0, "password-file", &pwfile, "F", "the bundle's password: F's first line (default: empty)"),
        OPT_STRING(0, "qemu-dir", &qdir, "DIR",
                   "also write it as QEMU's client credentials in DIR (ca-cert.pem, client-cert.pem, "
                   "client-key.pem): a host that migrates VMs here with --tls keeps DIR as its tls/migrate"),
        OPT_END(),
    };
    static const struct cli_spec spec = {
        "tls issue-client", "[--days N] [--p12 FILE [--password-file F]] [--qemu-dir DIR] NAME",
        "Issue a client certificate CN=NAME (clientAuth, a random 128-bit serial)\n"
        "signed by this host's CA, as tls/clients/NAME.key (0600) and NAME.crt.\n"
        "NAME is 1 to 64 of A-Z a-z 0-9 . _ - and must be new.", 1, 1 };
    struct cli_args a;
    int r = cli_parse(&spec, opts, argc, argv, &a);
    if (r != CLI_PARSED || (r = days_ok(spec.cmd, days)) != CLI_PARSED)
        return r;
    if (pwfile && !p12)
        return cli_usage(spec.cmd, "--password-file needs --p12");
    char *pw = NULL;
    if (pwfile && (r = read_password(pwfile, &pw)) < 0)
        return cli_fail(r);
    struct vk_tls_issue_opts o = { (int)days, p12, pw };
    r = vk_tls_issue_client(a.v[0], &o);
    if (pw) {
        memset(pw, 0, strlen(pw));
        free(pw);
    }
    if (r == 0 && qdir)
        r = vk_tls_qemu_client(a.v[0], qdir);
    if (r < 0)
        return cli_fail(r);
    char crt[4200];
    if (isatty(1) && vk_tls_client_path(a.v[0], "crt", crt, sizeof crt) == 0)
        printf("Issued %s%s%s\n", crt, p12 ? " and " : "", p12 ? p12 : "");
    return EXIT_OK;
}

static int tls_revoke(int argc, char **argv)
{
    const struct cli_opt opts[] = { OPT_END() };
    static const struct cli_spec spec = {
        "tls revoke", "NAME",
        "Revoke the client NAME: add its serial to crl.pem and sign it again.\n"
        "Its files stay (tls list shows it revoked).", 1, 1 };
    struct cli_args a;
    int r = cli_parse(&spec, opts, argc, argv, &a);
    if (r != CLI_PARSED)
        return r;
    return (r = vk_tls_revoke(a.v[0])) < 0 ? cli_fail(r) : EXIT_OK;
}

static int tls_list(int argc, char **argv)
{
    bool json = false;
    const struct cli_opt opts[] = {
        OPT_BOOL(0, "json", &json, "print JSON"),
        OPT_END(),
    };
    static const struct cli_spec spec = {
        "tls list", "[--json]", "List the issued client certificates: serial, expiry, revoked or expired.", 0, 0 };
    struct cli_args a;
    int r = cli_parse(&spec, opts, argc, argv, &a);
    if (r != CLI_PARSED)
        return r;
    struct vk_tls_client *c;
    int n = vk_tls_list(&c);
    if (n < 0)
        return cli_fail(n);
    if (json) {
        json_t *arr = json_array();
        for (int i = 0; i < n; i++)
            json_array_append_new(arr, json_pack("{ss ss ss sb sb}", "name", c[i].name, "serial",
                                                 c[i].serial, "not_after", c[i].not_after,
                                                 "revoked", c[i].revoked, "expired",
                                                 c[i].expired));
        free(c);
        return cli_print_json(arr);
    }
    printf("%-20s %-34s %-20s %s\n", "NAME", "SERIAL", "EXPIRES", "STATUS");
    for (int i = 0; i < n; i++)
        printf("%-20s %-34s %-20s %s\n", c[i].name, c[i].serial, c[i].not_after,
               c[i].revoked ? "revoked" : c[i].expired ? "expired" : "valid");
    free(c);
    return EXIT_OK;
}

static const struct cli_command tls_cmds[] = {
    { "init",         tls_init,   "create this host's CA, server certificate and CRL" },
    { "issue-client", tls_issue,  "issue a client certificate (--p12: a bundle for browsers)" },
    { "revoke",       tls_revoke, "revoke a client certificate (the CRL serve checks)" },
    { "list",         tls_list,   "list the client certificates: serial, expiry, revoked" },
    { NULL, NULL, NULL },
};

/* vmkit tls COMMAND: see tls_cmds. */
int cmd_tls(int argc, char **argv)
{
    return cli_dispatch("tls", tls_cmds, argc, argv);
}
