/* vmkit demo: build a guest, look inside it, boot it, talk to it, power it
 * off — each step printed ("==> ...") and done by running vmkit itself
 * (/proc/self/exe) where vmkit has a command for it, so what the user sees
 * are the real commands.
 *
 * The VM is started from the xl.cfg that guest build wrote, as the runtime
 * would: vm/'s config parser and QEMU command line, the kernel from pygrub,
 * the serial console and QMP on unix sockets (vmkit create/console/
 * shutdown are not in this build yet; the demo moves to them when they
 * are). */
#include "cli/cli.h"

#include "boot/pygrub.h"
#include "util/err.h"
#include "vm/config.h"
#include "vm/qemu_args.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void step(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void step(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    printf("\n==> ");
    vprintf(fmt, ap);
    printf("\n");
    va_end(ap);
    fflush(stdout);
}

/* Run this vmkit with args, showing the command; returns its exit status. */
static int vmkit(const char *const *args, bool quiet_fail)
{
    char *argv[16];
    int n = 0;
    argv[n++] = "vmkit";
    fflush(stderr);
    printf("$ vmkit");
    for (const char *const *a = args; *a && n < 15; a++) {
        argv[n++] = (char *)*a;
        printf(" %s", *a);
    }
    argv[n] = NULL;
    printf("\n");
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        if (quiet_fail) {
            int nul = open("/dev/null", O_WRONLY);
            dup2(nul, 2);
        }
        execv("/proc/self/exe", argv);
        _exit(127);
    }
    int st;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

struct console {
    int in, out;          /* to the guest's serial, from it */
    char buf[1 << 20];
    size_t len;
};

/* Read console output until needle appears after offset from (or the
 * timeout); returns the position of needle or -1. */
static long wait_for(struct console *c, size_t from, const char *needle, double timeout)
{
    double end = now() + timeout;
    for (;;) {
        c->buf[c->len] = '\0';
        char *hit = strstr(c->buf + from, needle);
        if (hit)
            return hit - c->buf;
        double left = end - now();
        if (left <= 0)
            return -1;
        struct pollfd p = { .fd = c->out, .events = POLLIN };
        int r = poll(&p, 1, (int)(left * 1000) + 1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            continue;
        if (c->len + 4096 >= sizeof c->buf) {  /* keep the tail */
            memmove(c->buf, c->buf + c->len / 2, c->len - c->len / 2);
            from = from > c->len / 2 ? from - c->len / 2 : 0;
            c->len -= c->len / 2;
        }
        ssize_t n = read(c->out, c->buf + c->len, 4096);
        if (n <= 0)
            return -1;  /* QEMU went away */
        c->len += n;
    }
}

static int say(struct console *c, const char *line)
{
    size_t l = strlen(line);
    return write(c->in, line, l) == (ssize_t)l ? 0 : -1;
}

/* Connect to the unix socket QEMU (pid q) is about to create. */
static int connect_retry(const char *path, pid_t q)
{
    struct sockaddr_un a = { .sun_family = AF_UNIX };
    if (strlen(path) >= sizeof a.sun_path)
        return -1;
    strcpy(a.sun_path, path);
    for (int i = 0; i < 100; i++) {
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
            return -1;
        if (connect(fd, (struct sockaddr *)&a, sizeof a) == 0)
            return fd;
        close(fd);
        if (waitpid(q, NULL, WNOHANG) == q)
            return -1;
        usleep(100000);
    }
    return -1;
}

/* Read one QMP line (greeting or reply) within 10 s; 0 or -1. */
static int qmp_line(int fd, char *buf, size_t len)
{
    size_t n = 0;
    while (n + 1 < len) {
        struct pollfd p = { .fd = fd, .events = POLLIN };
        if (poll(&p, 1, 10000) <= 0)
            return -1;
        ssize_t k = read(fd, buf + n, 1);
        if (k <= 0)
            return -1;
        if (buf[n++] == '\n')
            break;
    }
    buf[n] = '\0';
    return 0;
}

/* QMP handshake, then system_powerdown (the ACPI power button). */
static int qmp_powerdown(int fd)
{
    char line[4096];
    const char caps[] = "{\"execute\":\"qmp_capabilities\"}\n";
    const char pd[] = "{\"execute\":\"system_powerdown\"}\n";
    if (qmp_line(fd, line, sizeof line) < 0 || !strstr(line, "QMP"))
        return -1;
    if (write(fd, caps, sizeof caps - 1) != (ssize_t)(sizeof caps - 1) ||
        qmp_line(fd, line, sizeof line) < 0 || !strstr(line, "return"))
        return -1;
    if (write(fd, pd, sizeof pd - 1) != (ssize_t)(sizeof pd - 1))
        return -1;
    while (qmp_line(fd, line, sizeof line) == 0)
        if (strstr(line, "\"return\""))
            return 0;
    return -1;
}

int cmd_demo(int argc, char **argv)
{
    if (cli_wants_help(argc, argv)) {
        printf("usage: vmkit demo [--dir DIR]\nBuild a small Linux guest (vmkit guest build), look inside it\n"
               "(img info, part list, pygrub), boot it under QEMU, wait for it, run uname -a\n"
               "in it over the serial console and power it off with the ACPI button.\n"
               "DIR (default ~/.cache/vmkit/demo) keeps the disk and its xl.cfg.\n");
        return EXIT_OK;
    }
    double t0 = now();
    const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    char dir[4096], img[4200], kdir[4200];
    if (argc == 3 && !strcmp(argv[1], "--dir"))
        snprintf(dir, sizeof dir, "%s", argv[2]);
    else if (argc != 1)
        return cli_usage("demo", "unexpected argument '%s'", argv[1]);
    else if (xdg && *xdg)
        snprintf(dir, sizeof dir, "%s/vmkit/demo", xdg);
    else
        snprintf(dir, sizeof dir, "%s/.cache/vmkit/demo", home && *home ? home : "/tmp");
    char cmd[8400];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s'", dir);
    if (system(cmd) != 0)
        return cli_failf("%s: cannot create the demo directory", dir);
    snprintf(img, sizeof img, "%s/demo.img", dir);
    snprintf(kdir, sizeof kdir, "%s/boot", dir);
    char cfg[4300];
    snprintf(cfg, sizeof cfg, "%s.cfg", img);
    unlink(img);
    unlink(cfg);
    mkdir(kdir, 0700);

    step("Building a small Debian guest disk (cloud kernel + busybox)");
    if (vmkit((const char *[]){ "guest", "build", "--size", "256M", img, NULL }, false) != 0)
        return cli_failf("demo: guest build failed");
    step("The disk image");
    if (vmkit((const char *[]){ "img", "info", img, NULL }, false) != 0)
        return cli_failf("demo: img info failed");
    step("Its partition table");
    if (vmkit((const char *[]){ "part", "list", img, NULL }, false) != 0)
        return cli_failf("demo: part list failed");
    char target[4300];
    snprintf(target, sizeof target, "%s:1:/boot", img);
    step("Inside its ext4 partition, without mounting");
    if (vmkit((const char *[]){ "fs", "ls", target, NULL }, false) != 0)
        return cli_failf("demo: fs ls failed");
    step("Its VM configuration (xl.cfg)");
    FILE *f = fopen(cfg, "r");
    if (f) {
        char line[512];
        while (fgets(line, sizeof line, f))
            fputs(line, stdout);
        fclose(f);
    }
    step("Reading the boot menu inside the disk, as Xen's pygrub (nothing executed)");
    if (vmkit((const char *[]){ "guest", "pygrub", img, kdir, NULL }, false) != 0)
        return cli_failf("demo: pygrub failed");

    /* boot: the xl.cfg guest build wrote, through vm/'s config parser and
     * QEMU command line; the kernel from pygrub as the runtime does */
    struct vk_domcfg dc;
    const char *accel = NULL;
    char why[256] = "";
    int r = vk_domcfg_load(cfg, &dc);
    if (r < 0)
        return cli_fail(r);
    if ((r = vk_domcfg_check(&dc)) < 0 || (r = vk_domcfg_validate_disks(&dc)) < 0 ||
        (r = vk_accel_choose(dc.accel, &accel, why, sizeof why)) < 0) {
        vk_domcfg_free(&dc);
        return cli_fail(r);
    }
    struct vk_boot_result br;
    if ((r = vk_pygrub_extract(dc.disks[0].target, dc.disks[0].format,
                               (const char *const *)dc.bootloader_args, kdir, &br)) < 0) {
        vk_domcfg_free(&dc);
        return cli_fail(r);
    }
    char con[4300], qmp[4300];
    snprintf(con, sizeof con, "%s/console.sock", dir);
    snprintf(qmp, sizeof qmp, "%s/qmp.sock", dir);
    unlink(con);
    unlink(qmp);
    struct vk_qemu_setup qs = { .accel = accel, .console_sock = con, .qmp_cli = qmp,
                                .kernel = br.kernel, .initrd = br.initrd, .append = br.cmdline };
    char **qargv = NULL;
    r = vk_qemu_argv(&dc, &qs, &qargv);
    vk_boot_result_free(&br);
    vk_domcfg_free(&dc);
    if (r < 0)
        return cli_fail(r);
    step("Booting it from its xl.cfg (%s)", why);
    printf("$");
    for (char **a = qargv; *a; a++)
        printf(strchr(*a, ' ') ? " '%s'" : " %s", *a);
    printf("\n");
    fflush(stdout);
    fflush(stderr);
    char qlog[4300];
    snprintf(qlog, sizeof qlog, "%s/qemu.log", dir);
    pid_t q = fork();
    if (q < 0)
        return cli_failf("demo: fork: %s", strerror(errno));
    if (q == 0) {
        int lf = open(qlog, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        int nul = open("/dev/null", O_RDONLY);
        dup2(nul, 0);
        if (lf >= 0) {
            dup2(lf, 1);
            dup2(lf, 2);
        }
        execv(qargv[0], qargv);
        fprintf(stderr, "%s: %s\n", qargv[0], strerror(errno));
        _exit(127);
    }
    vk_argv_free(qargv);
    int cfd = connect_retry(con, q), qfd = cfd >= 0 ? connect_retry(qmp, q) : -1;
    if (cfd < 0 || qfd < 0) {
        kill(q, SIGTERM);
        waitpid(q, NULL, 0);
        return cli_failf("demo: QEMU did not open its console/QMP sockets (see %s)", qlog);
    }
    static struct console c;
    c.in = cfd;
    c.out = cfd;
    signal(SIGPIPE, SIG_IGN);
    int rc = EXIT_OK;
    double tb = now();
    long at = wait_for(&c, 0, "VMKIT-READY", 60);
    if (at < 0) {
        rc = cli_failf("demo: the guest did not print VMKIT-READY within 60 s; last console output:\n%s",
                       c.len > 2000 ? c.buf + c.len - 2000 : c.buf);
        kill(q, SIGTERM);
        waitpid(q, NULL, 0);
        return rc;
    }
    long rl = wait_for(&c, 0, "vmkit guest ", 1);
    if (rl >= 0) {
        char *e = strchr(c.buf + rl, '\n');
        printf("guest console: %.*s\n", e ? (int)(e - (c.buf + rl)) : 40, c.buf + rl);
    }
    printf("ready after %.1f s\n", now() - tb);
    step("Running 'uname -a' in the guest over its serial console");
    size_t mark = c.len;
    say(&c, "uname -a\n");
    at = wait_for(&c, mark, "\nLinux ", 20);
    if (at < 0) {
        rc = cli_failf("demo: no answer to uname -a from the guest");
    } else {
        wait_for(&c, at + 1, "\n", 5);
        char *s = c.buf + at + 1, *e = strchr(s, '\n');
        int l = e ? (int)(e - s) : (int)strlen(s);
        while (l > 0 && s[l - 1] == '\r')
            l--;
        printf("guest says: %.*s\n", l, s);
    }
    step("Pressing the ACPI power button (QMP system_powerdown)");
    if (qmp_powerdown(qfd) < 0)
        rc = cli_failf("demo: QMP system_powerdown failed");
    double td = now();
    while (wait_for(&c, c.len, "\n", 30) >= 0 && now() - td < 30)
        ;
    int st = 0;
    pid_t w;
    while ((w = waitpid(q, &st, WNOHANG)) == 0 && now() - td < 30)
        usleep(100000);
    if (w == 0) {
        kill(q, SIGTERM);
        waitpid(q, &st, 0);
        rc = cli_failf("demo: the guest did not power off within 30 s");
    } else {
        printf("guest powered off after %.1f s (QEMU exit status %d)\n", now() - td,
               WIFEXITED(st) ? WEXITSTATUS(st) : -1);
    }
    close(cfd);
    close(qfd);
    unlink(con);
    unlink(qmp);
    if (rc == EXIT_OK)
        step("Done in %.0f s.  The disk and its xl.cfg stay in %s", now() - t0, dir);
    return rc;
}
