/* vmkit serve: the web console (src/serve/serve.h) in the foreground,
 * until Ctrl-C or SIGTERM; each action is logged to stderr. */
#include "cli/cli.h"
#include "cli/opt.h"

#include "serve/serve.h"
#include "util/err.h"

#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#ifndef VMKIT_WEBDIR
#define VMKIT_WEBDIR "/usr/local/share/vmkit/web"
#endif

/* noVNC (Debian's novnc package), served as /novnc/ for the display */
#ifndef VMKIT_NOVNC_DIR
#define VMKIT_NOVNC_DIR "/usr/share/novnc"
#endif

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
    (void)sig;
    stop_flag = 1;
}

static void log_line(const char *line, void *ctx)
{
    char ts[32];
    time_t t = time(NULL);
    struct tm tm;
    strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&t, &tm));
    fprintf(stderr, "vmkit serve: %s %s\n", ts, line);
}

static void ready(const char *url, void *ctx)
{
    printf("vmkit serve: open %s\n", url);
    fflush(stdout);
}

/* The page's files: next to the binary (build/web, as the Makefile copies
 * them), else where make install puts them. */
static const char *default_webdir(char *buf, size_t len)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    struct stat st;
    if (n > 0) {
        exe[n] = 0;
        char *slash = strrchr(exe, '/');
        if (slash) {
            *slash = 0;
            snprintf(buf, len, "%s/web", exe);
            if (stat(buf, &st) == 0 && S_ISDIR(st.st_mode))
                return buf;
        }
    }
    return VMKIT_WEBDIR;
}

int cmd_serve(int argc, char **argv)
{
    const char *listen = "127.0.0.1:8080", *web = NULL;
    bool tls = false;
    const struct cli_opt opts[] = {
        OPT_STRING('l', "listen", &listen, "ADDR:PORT", "where to listen (default 127.0.0.1:8080;\n"
                   "port 0: any free port); other than loopback only with --tls"),
        OPT_BOOL(0, "tls", &tls, "HTTPS, every client presenting a certificate of this host's\n"
                 "CA (CONFIG/tls: ca.crt server.crt server.key crl.pem)"),
        OPT_STRING(0, "web", &web, "DIR", "serve the page from DIR (default: the installed one)"),
        OPT_END(),
    };
    static const struct cli_spec spec = {
        "serve", "[--listen ADDR:PORT] [--tls] [--web DIR]",
        "A web console for this user's VMs: a page listing the running and\n"
        "defined VMs with live state and start, shut down, destroy, pause and\n"
        "resume buttons, and its JSON API (/api/vms, /api/vms/NAME,\n"
        "POST /api/vms/NAME/ACTION, /api/events).  It reads the same runtime\n"
        "dirs and config store as the other commands and keeps no state.\n"
        "Without --tls it listens on loopback only and prints a URL with a\n"
        "session token, which state-changing requests must send\n"
        "(X-Vmkit-Token); with --tls every client needs a certificate that\n"
        "`vmkit tls issue-client` made.  Each action is logged to stderr.", 0, 0 };
    struct cli_args a;
    int r = cli_parse(&spec, opts, argc, argv, &a);
    if (r != CLI_PARSED)
        return r;
    char buf[PATH_MAX + 8];
    struct vk_serve_opts o = { .listen = listen, .tls = tls,
                               .webdir = web ? web : default_webdir(buf, sizeof buf),
                               .novncdir = VMKIT_NOVNC_DIR,
                               .stop = &stop_flag, .log = log_line, .ready = ready };
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    r = vk_serve_run(&o);
    return r ? cli_fail(r) : EXIT_OK;
}
