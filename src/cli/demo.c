/* vmkit demo: build a guest, look inside it, run it as a VM, talk to it,
 * shut it down — each step printed ("==> ...") and done by running vmkit
 * itself (/proc/self/exe), so what the user sees are the real commands:
 * guest build, img info, part list, fs ls, guest pygrub, create, list,
 * console, shutdown -w, list.
 *
 * Readiness is read from the VM's console log (the runtime directory's
 * console.log, kept by QEMU for the monitor), so no output is missed
 * between `vmkit create` and attaching; the command then goes through
 * `vmkit console` with its stdin and stdout on pipes. */
#include "cli/cli.h"
#include "cli/opt.h"

#include "util/err.h"
#include "util/str.h"
#include "vm/store.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define NAME "demo"

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

/* Start this vmkit with args (shown as "$ vmkit ..." unless quiet).
 * in/out: if not NULL, get pipe ends to the child's stdin/stdout.  Returns
 * the child's pid or -1. */
static pid_t spawn(const char *const *args, bool quiet, int *in, int *out)
{
    char *argv[16];
    int n = 0, pin[2] = { -1, -1 }, pout[2] = { -1, -1 };
    argv[n++] = "vmkit";
    if (!quiet)
        printf("$ vmkit");
    for (const char *const *a = args; *a && n < 15; a++) {
        argv[n++] = (char *)*a;
        if (!quiet)
            printf(" %s", *a);
    }
    argv[n] = NULL;
    if (!quiet)
        printf("\n");
    fflush(stdout);
    fflush(stderr);
    if ((in && pipe2(pin, O_CLOEXEC) < 0) || (out && pipe2(pout, O_CLOEXEC) < 0))
        return -1;
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        int nul = open("/dev/null", O_RDWR);
        dup2(in ? pin[0] : nul, 0);
        if (out)
            dup2(pout[1], 1);
        if (quiet)
            dup2(nul, 2);
        execv("/proc/self/exe", argv);
        _exit(127);
    }
    if (in) {
        close(pin[0]);
        *in = pin[1];
    }
    if (out) {
        close(pout[1]);
        *out = pout[0];
    }
    return pid;
}

static int reap(pid_t pid)
{
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR)
            return 128;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

/* Run this vmkit with args, showing the command; its exit status. */
static int vmkit(const char *const *args)
{
    pid_t pid = spawn(args, false, NULL, NULL);
    return pid < 0 ? 128 : reap(pid);
}

/* Wait up to timeout seconds for needle in file path (re-read as it
 * grows).  Returns a malloc'd copy of the line holding it, or NULL. */
static char *wait_in_file(const char *path, const char *needle, double timeout)
{
    double end = now() + timeout;
    static char buf[1 << 20];
    do {
        FILE *f = fopen(path, "r");
        if (f) {
            size_t n = fread(buf, 1, sizeof buf - 1, f);
            fclose(f);
            buf[n] = '\0';
            char *hit = strstr(buf, needle);
            if (hit) {
                while (hit > buf && hit[-1] != '\n')
                    hit--;
                return strndup(hit, strcspn(hit, "\r\n"));
            }
        }
        usleep(50000);
    } while (now() < end);
    return NULL;
}

/* Read fd into buf (NUL-terminated) until needle followed by a newline
 * appears after offset from, or timeout.  Returns needle's position or -1. */
static long read_until(int fd, char *buf, size_t cap, size_t *len, size_t from,
                       const char *needle, double timeout)
{
    double end = now() + timeout;
    for (;;) {
        buf[*len] = '\0';
        char *hit = strstr(buf + from, needle);
        if (hit && strchr(hit + 1, '\n'))
            return hit - buf;
        double left = end - now();
        if (left <= 0 || *len + 1 >= cap)
            return -1;
        struct pollfd p = { .fd = fd, .events = POLLIN };
        int r = poll(&p, 1, (int)(left * 1000) + 1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            continue;
        ssize_t n = read(fd, buf + *len, cap - 1 - *len);
        if (n <= 0)
            return -1;
        *len += n;
    }
}

/* `vmkit console NAME`, typing cmd; prints the line of the answer that
 * starts with answer_prefix as "guest says: ...".  0 or -1. */
static int run_in_guest(const char *cmd, const char *answer_prefix)
{
    int in = -1, out = -1;
    pid_t pid = spawn((const char *[]){ "console", "--timeout", "30", NAME, NULL }, false,
                      &in, &out);
    if (pid < 0)
        return -1;
    printf("(typing '%s' into it)\n", cmd);
    fflush(stdout);
    static char buf[256 << 10];
    size_t len = 0;
    char line[512];
    snprintf(line, sizeof line, "%s\n", cmd);
    int rc = -1;
    if (write(in, line, strlen(line)) == (ssize_t)strlen(line)) {
        char needle[128];
        snprintf(needle, sizeof needle, "\n%s", answer_prefix);
        long at = read_until(out, buf, sizeof buf, &len, 0, needle, 20);
        if (at >= 0) {
            char *s = buf + at + 1;
            int l = (int)strcspn(s, "\r\n");
            printf("guest says: %.*s\n", l, s);
            rc = 0;
        }
    }
    close(in);    /* vmkit console ends a second after its stdin */
    char drain[4096];
    while (read(out, drain, sizeof drain) > 0)
        ;
    close(out);
    reap(pid);
    return rc;
}

int cmd_demo(int argc, char **argv)
{
    const char *dir_opt = NULL;
    const struct cli_opt opts[] = {
        OPT_STRING(0, "dir", &dir_opt, "DIR", "keeps the disk and its xl.cfg (default ~/.cache/vmkit/demo)"),
        OPT_END(),
    };
    static const struct cli_spec spec = { "demo", "",
        "Build a small Linux guest (vmkit guest build), look inside it (img info,\n"
        "part list, fs ls, pygrub), start it as VM \"" NAME "\" (vmkit create), show\n"
        "vmkit list, wait for its readiness line, run uname -a in it over its serial\n"
        "console, shut it down (vmkit shutdown -w) and show it gone.", 0, 0 };
    struct cli_args a;
    int pr = cli_parse(&spec, opts, argc, argv, &a);
    if (pr != CLI_PARSED)
        return pr;
    double t0 = now();
    const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    char dir[4096], img[4200], kdir[4200], cfg[4300], rdir[4096], log[4200];
    int r;
    if (dir_opt)
        r = vk_pathf(dir, sizeof dir, "%s", dir_opt);
    else if (xdg && *xdg)
        r = vk_pathf(dir, sizeof dir, "%s/vmkit/demo", xdg);
    else
        r = vk_pathf(dir, sizeof dir, "%s/.cache/vmkit/demo", home && *home ? home : "/tmp");
    if (r < 0 || (r = vk_runtime_dir(NAME, rdir, sizeof rdir, 0)) < 0 ||
        (r = vk_pathf(log, sizeof log, "%s/console.log", rdir)) < 0)
        return cli_fail(r);
    struct stat st;
    if (stat(rdir, &st) == 0) {
        /* a demo VM left running (an interrupted demo) holds the disk */
        step("A VM named " NAME " from an earlier run is still there; destroying it");
        if (vmkit((const char *[]){ "destroy", NAME, NULL }) != 0)
            return cli_failf("demo: cannot destroy the earlier VM " NAME);
    }
    char cmd[8400];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s'", dir);
    if (strchr(dir, '\'') || system(cmd) != 0)
        return cli_failf("%s: cannot create the demo directory", dir);
    snprintf(img, sizeof img, "%s/" NAME ".img", dir);
    snprintf(kdir, sizeof kdir, "%s/boot", dir);
    snprintf(cfg, sizeof cfg, "%s.cfg", img);
    unlink(img);
    unlink(cfg);
    mkdir(kdir, 0700);

    step("Building a small Debian guest disk (cloud kernel + busybox)");
    if (vmkit((const char *[]){ "guest", "build", "--size", "256M", img, NULL }) != 0)
        return cli_failf("demo: guest build failed");
    step("The disk image");
    if (vmkit((const char *[]){ "img", "info", img, NULL }) != 0)
        return cli_failf("demo: img info failed");
    step("Its partition table");
    if (vmkit((const char *[]){ "part", "list", img, NULL }) != 0)
        return cli_failf("demo: part list failed");
    char target[4300];
    snprintf(target, sizeof target, "%s:1:/boot", img);
    step("Inside its ext4 partition, without mounting");
    if (vmkit((const char *[]){ "fs", "ls", target, NULL }) != 0)
        return cli_failf("demo: fs ls failed");
    step("Its VM configuration (xl.cfg)");
    FILE *f = fopen(cfg, "r");
    if (!f)
        return cli_failf("%s: %s", cfg, strerror(errno));
    char line[512];
    while (fgets(line, sizeof line, f))
        fputs(line, stdout);
    fclose(f);
    step("Reading the boot menu inside the disk, as Xen's pygrub (nothing executed)");
    if (vmkit((const char *[]){ "guest", "pygrub", img, kdir, NULL }) != 0)
        return cli_failf("demo: pygrub failed");

    step("Starting it: vmkit create (pygrub boot, one monitor process, QEMU under it)");
    double tb = now();
    if (vmkit((const char *[]){ "create", cfg, NULL }) != 0)
        return cli_failf("demo: vmkit create failed");
    signal(SIGPIPE, SIG_IGN);
    int rc = EXIT_OK;
    step("The running VMs");
    if (vmkit((const char *[]){ "list", NULL }) != 0)
        rc = cli_failf("demo: vmkit list failed");
    step("Waiting for the guest's readiness line on its serial console");
    char *ready = rc ? NULL : wait_in_file(log, "VMKIT-READY", 60);
    if (!ready && rc == EXIT_OK)
        rc = cli_failf("demo: the guest did not print VMKIT-READY within 60 s (see %s)", log);
    free(ready);
    if (rc == EXIT_OK) {
        char *hello = wait_in_file(log, "vmkit guest " NAME " ready", 1);
        if (hello)
            printf("guest console: %s\n", hello);
        free(hello);
        printf("ready %.1f s after vmkit create\n", now() - tb);
        step("Running 'uname -a' in the guest over its serial console");
        if (run_in_guest("uname -a", "Linux ") < 0)
            rc = cli_failf("demo: no answer to uname -a from the guest");
    }
    step("Shutting it down: the ACPI power button, then waiting for QEMU to end");
    double td = now();
    if (vmkit((const char *[]){ "shutdown", "-w", "-t", "30", NAME, NULL }) != 0) {
        rc = cli_failf("demo: vmkit shutdown failed");
        vmkit((const char *[]){ "destroy", NAME, NULL });
    } else {
        printf("guest powered off after %.1f s\n", now() - td);
    }
    step("The running VMs again (" NAME " is gone)");
    if (vmkit((const char *[]){ "list", NULL }) != 0)
        rc = cli_failf("demo: vmkit list failed");
    if (stat(rdir, &st) == 0)
        rc = cli_failf("demo: %s is still there after the shutdown", rdir);
    if (rc == EXIT_OK)
        step("Done in %.0f s.  The disk and its xl.cfg stay in %s", now() - t0, dir);
    return rc;
}
