/* vmkit install: run an installer in the VM a config describes, as
 * virt-install --location / --cdrom does (library: guest/install.h). */
#include "cli/cli.h"
#include "cli/opt.h"

#include "guest/install.h"
#include "util/err.h"
#include "util/str.h"
#include "vm/console.h"
#include "vm/control.h"
#include "vm/monitor.h"
#include "vm/runtime.h"
#include "vm/store.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define INSTALL_HELP \
    "Run an operating system's installer in the VM that CFG (an xl.cfg file) or\n" \
    "NAME (a defined VM) describes, as virt-install does, and return when the\n" \
    "installer powers the machine off (exit 0) or reboots it at its end.  The\n" \
    "config itself is not changed: the next `vmkit create CFG` / `vmkit start\n" \
    "NAME` boots the installed disk.\n\n" \
    "On a terminal the console is attached (Ctrl-] leaves it; the install goes\n" \
    "on); otherwise the output goes only to the log.  A crash, a timeout or an\n" \
    "interrupt destroys the VM and exits 1 with the console's last lines."

/* --timeout SECS: 1..604800 (ctx: the long). */
static int install_timeout(const struct cli_opt *o, const char *arg)
{
    char *end;
    long v = strtol(arg, &end, 10);
    if (*end || end == arg || v <= 0 || v > 7 * 86400)
        return vk_error(-EINVAL, "--timeout '%s': seconds, 1 to 604800", arg);
    *(long *)o->ctx = v;
    return 0;
}

static volatile int stop;

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

/* The default log path: $XDG_CACHE_HOME/vmkit (or ~/.cache/vmkit), made. */
static int default_log(const char *name, char *buf, size_t len)
{
    const char *x = getenv("XDG_CACHE_HOME"), *h = getenv("HOME");
    char dir[4096];
    int err = x && *x ? vk_pathf(dir, sizeof dir, "%s/vmkit", x)
            : vk_pathf(dir, sizeof dir, "%s/.cache/vmkit", h && *h ? h : "/tmp");
    if (err)
        return err;
    char *slash = strrchr(dir, '/');
    *slash = 0;
    mkdir(dir, 0700);
    *slash = '/';
    if (mkdir(dir, 0700) < 0 && errno != EEXIST)
        return vk_error(-errno, "%s: %s", dir, strerror(errno));
    return vk_pathf(buf, len, "%s/install-%s.log", dir, name);
}

/* Remove the installer's copies (QEMU loaded them at start). */
static void remove_work(const char *dir)
{
    char p[4200];
    if (vk_pathf(p, sizeof p, "%s/kernel", dir) == 0)
        unlink(p);
    if (vk_pathf(p, sizeof p, "%s/initrd", dir) == 0)
        unlink(p);
    rmdir(dir);
}

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int cmd_install(int argc, char **argv)
{
    struct vk_install_opts o = { 0 };
    struct cli_list inject = { 0 };
    const char *log = NULL;
    long timeout = 0;
    bool dry = false;
    const struct cli_opt opts[] = {
        OPT_STRING(0, "location", &o.location, "ISO|DIR", "the installer's kernel and initrd, found through the\n"
                   "medium's boot menus (isolinux, pxelinux, grub.cfg) or the Debian, Ubuntu,\n"
                   "Fedora and netboot layouts, booted directly with the console on the serial\n"
                   "port; an ISO is also put in a CD drive"),
        OPT_STRING(0, "cdrom", &o.cdrom, "ISO", "boot the ISO through the BIOS (boot = \"dc\") and its own\n"
                   "boot menu; watch it with VNC or vmkit screenshot"),
        OPT_STRING(0, "preseed", &o.preseed, "FILE", "put FILE into the initrd as /preseed.cfg (Debian's\n"
                   "installer reads it first thing)"),
        OPT_LIST(0, "initrd-inject", &inject, "FILE", "put FILE into the initrd's root (repeatable), as\n"
                 "virt-install --initrd-inject"),
        OPT_STRING(0, "extra-args", &o.extra_args, "ARGS", "the installer's kernel command line (console=ttyS0\n"
                   "comes first unless ARGS has a console=)"),
        OPT_STRING(0, "floppy", &o.floppy, "FILE", "attach the floppy image FILE as fda; a\n"
                   "preseed/file=/floppy/F in --extra-args is carried in the initrd instead\n"
                   "(Debian's installer has no floppy driver)"),
        OPT_CALLBACK(0, "timeout", &timeout, "SECS", "destroy the installer after SECS and fail (default:\n"
                     "wait for as long as it runs)", install_timeout),
        OPT_STRING(0, "log", &log, "FILE", "where the console output is kept (default\n"
                   "~/.cache/vmkit/install-NAME.log)"),
        OPT_BOOL('n', "dry-run", &dry, "find the installer and build its initrd, print what was\n"
                 "found and the install run's config; start nothing"),
        OPT_END(),
    };
    static const struct cli_spec spec = { "install", "CFG|NAME (--location ISO|DIR | --cdrom ISO)",
                                          INSTALL_HELP, 0, -1 };
    struct cli_args a;
    int rc = cli_parse(&spec, opts, argc, argv, &a);
    if (rc != CLI_PARSED) {
        cli_list_free(&inject);
        return rc;
    }
    o.inject = inject.v;
    o.n_inject = inject.n;
    rc = EXIT_OK;
    if (a.n != 1 || (!o.location == !o.cdrom)) {
        cli_list_free(&inject);
        return cli_usage("install", a.n != 1 ? "which config? (vmkit install CFG "
                         "--location ISO|DIR)" : "give --location ISO|DIR or --cdrom ISO");
    }
    const char *what = a.v[0];
    struct vk_domcfg cfg;
    struct stat st;
    int is_file = stat(what, &st) == 0 || strchr(what, '/');
    int err = is_file ? vk_domcfg_load(what, &cfg) : vk_store_load(what, &cfg);
    if (!err)
        err = vk_domcfg_check(&cfg);
    char work[4096], logbuf[4096], name[80] = "";
    const char *t = getenv("TMPDIR");
    if (!err)
        err = vk_pathf(work, sizeof work, "%s/vmkit-install.XXXXXX", t && *t ? t : "/tmp");
    if (!err && !mkdtemp(work))
        err = vk_error(-errno, "%s: %s", work, strerror(errno));
    else if (!err) {
        snprintf(name, sizeof name, "%s", cfg.name);
        char *note = NULL, *found = NULL;
        err = vk_install_prepare(&cfg, &o, work, &found, &note);
        if (note)
            fprintf(stderr, "vmkit: note: %s\n", note);
        if (found)
            fprintf(stderr, "vmkit: %s: installer %s\n", name, found);
        free(note);
        free(found);
        if (!err && dry) {
            char *text = vk_domcfg_format(&cfg);
            if (!text)
                err = -ENOMEM;
            else
                printf("%s# the install run's config (dry run: nothing was started)\n", text);
            free(text);
        } else if (!err && !log && !(err = default_log(name, logbuf, sizeof logbuf))) {
            log = logbuf;
        }
        if (!err && !dry) {
            struct sigaction sa = { .sa_handler = on_signal };
            sigemptyset(&sa.sa_mask);
            sigaction(SIGINT, &sa, NULL);
            sigaction(SIGTERM, &sa, NULL);
            sigaction(SIGHUP, &sa, NULL);
            struct vk_start_opts so = { 0 };
            err = vk_vm_start(&cfg, &so);
        }
        remove_work(work);
    }
    if (!err && !dry && cfg.kernel == NULL)
        fprintf(stderr, "vmkit: %s: booting %s through the BIOS%s\n", name, o.cdrom,
                cfg.vnc == 1 ? "; its screen: vmkit list -l shows the VNC address, vmkit "
                               "screenshot saves it" : "");
    vk_domcfg_free(&cfg);
    cli_list_free(&inject);
    if (err)
        return cli_fail(err);
    if (dry)
        return EXIT_OK;

    long long start = now_ms();
    int timeout_ms = (int)(timeout * 1000);
    if (isatty(0) && isatty(1)) {
        struct vk_console_opts co = { .in_fd = 0, .out_fd = 1, .interactive = 1,
                                      .timeout_ms = timeout_ms };
        fprintf(stderr, "Connected to %s's console (the installer); Ctrl-] leaves it.\n", name);
        int r = vk_console_run(name, &co);
        if (r == 0 && !stop)
            fprintf(stderr, "\r\n[left the console; waiting for the installer to end: "
                    "vmkit console %s attaches again]\r\n", name);
        if (r < 0)
            vk_error_clear();           /* it may have ended before we attached */
        if (timeout_ms > 0) {
            timeout_ms -= (int)(now_ms() - start);
            if (timeout_ms <= 0)
                timeout_ms = 1;
        }
    } else {
        fprintf(stderr, "vmkit: %s: installing; console output goes to %s (vmkit console %s "
                "attaches)\n", name, log, name);
    }
    enum vk_install_end end;
    char *tail = NULL;
    err = vk_install_wait(name, timeout_ms, &stop, log, &end, &tail);
    if (err) {
        free(tail);
        return cli_fail(err);
    }
    static const char *const why[] = {
        [VK_INSTALL_DONE] = "the installer finished",
        [VK_INSTALL_CRASHED] = "the installer crashed (guest panic or QEMU died)",
        [VK_INSTALL_TIMEOUT] = "the installer was still running at the timeout; destroyed",
        [VK_INSTALL_GONE] = "the VM was destroyed before the installer finished",
        [VK_INSTALL_STOPPED] = "interrupted; the installer was destroyed",
    };
    if (end == VK_INSTALL_DONE) {
        if (isatty(1))
            printf("%s: %s; `vmkit %s %s` boots the installed system (console log: %s)\n",
                   name, why[end], is_file ? "create" : "start", what, log);
    } else {
        fprintf(stderr, "vmkit: %s: %s\n", name, why[end]);
        if (tail && *tail)
            fprintf(stderr, "--- the console's last lines (all of it: %s) ---\n%s%s", log, tail,
                    tail[strlen(tail) - 1] == '\n' ? "" : "\n");
        rc = EXIT_FAIL;
    }
    free(tail);
    return rc;
}
