/* Starting a VM (contract in monitor.h): the runtime directory, the files
 * the CLI reads, pygrub, QEMU's argv; then the monitor process is forked
 * (monitor.c) and its first report awaited. */
#include "vm/monitor.h"
#include "vm/monitor_int.h"
#include "vm/clone.h"
#include "boot/pygrub.h"
#include "vm/qemu_args.h"
#include "vm/runtime.h"
#include "vm/store.h"
#include "tls/tls.h"
#include "util/err.h"
#include "util/str.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/lsan_interface.h>
#endif

/* dir/f into buf; a truncated path names nothing. */
static void path_in(const char *dir, const char *f, char *buf, size_t len)
{
    if ((size_t)snprintf(buf, len, "%s/%s", dir, f) >= len)
        buf[0] = 0;
}

/* Create DIR, or find out why it exists: a running VM, a preserved one,
 * or a leftover (removed). */
static int make_dir(const struct vk_domcfg *c, const char *dir)
{
    for (int attempt = 0; attempt < 2; attempt++) {
        if (mkdir(dir, 0700) == 0)
            return 0;
        if (errno != EEXIST)
            return vk_error(-errno, "%s: %s", dir, strerror(errno));
        struct vk_vminfo info;
        int r = vk_rt_info(c->name, 0, &info);
        if (r == 0) {
            enum vk_vm_state s = info.state;
            vk_vminfo_free(&info);
            if (s == VK_ST_CRASHED || s == VK_ST_SHUTDOWN)
                return vk_error(-EEXIST, "%s: a VM of that name is preserved (state %s); "
                                "'vmkit destroy %s' removes it", c->name,
                                vk_vm_state_name(s), c->name);
            return vk_error(-EEXIST, "%s: a VM of that name is already running", c->name);
        }
        if (r != -ENOENT)
            return r;
        vk_error_clear();     /* a leftover was removed: try again */
    }
    return vk_error(-EEXIST, "%s: %s exists", c->name, dir);
}

/* Write the files the CLI reads (config, accel) and build QEMU's argv;
 * extract kernel and initrd first for bootloader = "pygrub". */
static int prepare(struct vk_domcfg *c, const char *dir, const char *accel, const char *why,
                   const struct vk_start_opts *o, char ***argv);

/* What vk_vm_start checks before it creates anything; fills *accel, why
 * and the runtime directory's path. */
static int start_checks(struct vk_domcfg *c, const char **accel, char *why, size_t whylen,
                        char *dir, size_t dirlen)
{
    int err;
    char qemu[4096], base[4096];
    if ((err = vk_domcfg_check(c)) < 0 || (err = vk_store_uuid_check(c)) < 0 ||
        (err = vk_domcfg_validate_disks(c)) < 0 ||
        (err = vk_domcfg_check_backing(c)) < 0 ||   /* clone.h: a linked clone's base */
        (err = vk_accel_choose(c->accel, accel, why, whylen)) < 0 ||
        (err = vk_qemu_find("qemu-system-x86_64", qemu, sizeof qemu)) < 0 ||
        (err = vk_runtime_base(base, sizeof base, 1)) < 0)
        return err;
    if ((err = vk_pathf(dir, dirlen, "%s/%s", base, c->name)) < 0)
        return err;
    /* QEMU's sockets live in dir: a path longer than a unix socket address
     * holds would only fail inside QEMU, after the directory was made. */
    struct sockaddr_un sun;
    if (strlen(dir) + sizeof "/qmp-cli.sock" > sizeof sun.sun_path)
        return vk_error(-ENAMETOOLONG, "%s: runtime directory path too long for QEMU's "
                        "sockets (at most %zu bytes; set VMKIT_RUNTIME_DIR shorter)", dir,
                        sizeof sun.sun_path - sizeof "/qmp-cli.sock");
    return 0;
}

/* Contract in monitor.h. */
int vk_vm_start(struct vk_domcfg *c, const struct vk_start_opts *o)
{
    int err;
    const char *accel;
    char why[256], dir[4200];
    if ((err = start_checks(c, &accel, why, sizeof why, dir, sizeof dir)) < 0)
        return err;
    char base[4096];
    snprintf(base, sizeof base, "%.*s", (int)(strrchr(dir, '/') - dir), dir);
    int bl = vk_rt_lock(base, 10000);
    if (bl < 0)
        return bl;
    err = make_dir(c, dir);
    if (!err)
        err = vk_rt_set_monitor(dir, getpid());   /* ours until the monitor runs */
    if (!err) {
        int id = vk_rt_free_id();
        char t[32];
        int n = snprintf(t, sizeof t, "%d\n", id > 0 ? id : 1);
        err = vk_rt_write(dir, "id", t, (size_t)n);
        if (!err)
            err = vk_rt_write(dir, "state", "starting", 8);
    }
    vk_rt_unlock(bl);
    if (err) {
        if (err != -EEXIST)
            vk_rt_remove(dir);
        return err;
    }
    char **argv = NULL;
    if ((err = prepare(c, dir, accel, why, o, &argv)) < 0) {
        vk_rt_remove(dir);
        return err;
    }
    int pfd[2];
    if (pipe2(pfd, O_CLOEXEC) < 0) {
        err = vk_error(-errno, "pipe: %s", strerror(errno));
        vk_argv_free(argv);
        vk_rt_remove(dir);
        return err;
    }
    fflush(NULL);
    pid_t p = fork();
    if (p == 0) {
        close(pfd[0]);
        setsid();
        pid_t g = fork();
        if (g != 0)
            _exit(g < 0 ? 1 : 0);
        /* the monitor's process ends here, with _exit: never with exit(),
         * which would run the embedding program's atexit handlers */
        int st = vk_monitor_main(dir, argv, c, o, pfd[1]);
#if defined(__SANITIZE_ADDRESS__)
        __lsan_do_leak_check();   /* what exit() did in the sanitizer build */
#endif
        _exit(st);
    }
    close(pfd[1]);
    vk_argv_free(argv);
    if (p < 0) {
        err = vk_error(-errno, "fork: %s", strerror(errno));
        close(pfd[0]);
        vk_rt_remove(dir);
        return err;
    }
    waitpid(p, NULL, 0);
    char msg[2048];
    size_t len = 0;
    for (;;) {
        ssize_t n = read(pfd[0], msg + len, sizeof msg - 1 - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        len += (size_t)n;
        if (len == sizeof msg - 1)
            break;
    }
    close(pfd[0]);
    msg[len] = 0;
    if (!strncmp(msg, "OK", 2))
        return 0;
    int code = 0, off = 0;
    if (sscanf(msg, "ERR %d %n", &code, &off) >= 1 && code > 0 && off > 0)
        err = vk_error(-code, "%s", msg + off);
    else
        err = vk_error(-EIO, "%s: the monitor process died while starting QEMU", c->name);
    /* the monitor cleans up before it reports; make sure of it */
    pid_t q = vk_rt_qemu(dir, c->uuid);
    if (q)
        kill(q, SIGKILL);
    if (!vk_rt_monitor(dir))
        vk_rt_remove(dir);
    return err;
}

/* bootloader = "pygrub": copy the kernel and initrd the first disk's boot
 * configuration names into dir; *append is the entry's command line
 * followed by the config's (cmdline, else root= and extra), as Xen's
 * pygrub appends its --args.  A disk without format= is read as raw, as
 * QEMU will see it.  0 or negative errno. */
static int run_pygrub(const struct vk_domcfg *c, const char *dir, struct vk_boot_result *br,
                      char **append)
{
    const struct vk_diskspec *d = NULL;
    for (unsigned i = 0; i < c->n_disks && !d; i++)
        if (c->disks[i].target && *c->disks[i].target && !c->disks[i].cdrom)
            d = &c->disks[i];
    if (!d)
        return vk_error(-EINVAL, "%s: bootloader = \"pygrub\" needs a disk to read", c->name);
    if (d->network)
        return vk_error(-EINVAL, "%s: pygrub reads local disk images, not '%s'", c->name, d->target);
    const char **args = calloc(c->bootloader_args.n + 1, sizeof *args);
    if (!args)
        return vk_error(-ENOMEM, "out of memory");
    for (unsigned i = 0; i < c->bootloader_args.n; i++)
        args[i] = c->bootloader_args.v[i];
    int err = vk_pygrub_extract(d->target, d->format ? d->format : "raw", args, dir, br);
    free(args);
    if (err)
        return err;
    *append = vk_pygrub_append(c, br->cmdline);
    if (!*append) {
        vk_boot_result_free(br);
        return -ENOMEM;
    }
    return 0;
}

/* Append "-incoming defer", or "-incoming fd:N" for a stream QEMU reads
 * itself from descriptor fd (> 0), to the malloc'd argv (migstream.h). */
static int add_incoming(char ***argv, int fd)
{
    size_t n = 0;
    while ((*argv)[n])
        n++;
    char **v = realloc(*argv, (n + 3) * sizeof *v), *b = NULL;
    char *a = strdup("-incoming");
    if (fd > 0 ? asprintf(&b, "fd:%d", fd) < 0 : !(b = strdup("defer")))
        b = NULL;
    if (!v || !a || !b) {
        free(a);
        free(b);
        vk_argv_free(v ? v : *argv);
        *argv = NULL;
        return vk_error(-ENOMEM, "out of memory");
    }
    v[n] = a;
    v[n + 1] = b;
    v[n + 2] = NULL;
    *argv = v;
    return 0;
}

/* QEMU's argv for c with its files in dir; pygrub extracts into bootdir
 * (dir itself, or a temporary one for a dry run). */
static int build_argv(struct vk_domcfg *c, const char *dir, const char *bootdir,
                      const char *accel, const struct vk_start_opts *o, char ***argv)
{
    char qmp[4300], cli[4300], con[4300], log[4300];
    path_in(dir, "qmp.sock", qmp, sizeof qmp);
    path_in(dir, "qmp-cli.sock", cli, sizeof cli);
    path_in(dir, "console.sock", con, sizeof con);
    path_in(dir, "console.log", log, sizeof log);
    struct vk_qemu_setup s = { .accel = accel, .qmp_monitor = qmp, .qmp_cli = cli,
                               .console_sock = con, .console_log = log, .rundir = dir,
                               .paused = o && o->paused };
    struct vk_boot_result br = { 0 };
    char *append = NULL;
    int err;
    char kp[4300], ip[4300];
    if (c->bootloader && o && o->boot_files) {
        /* the kernel and initrd this VM booted, kept by a save file */
        if ((err = o->boot_files(bootdir, o->boot_ctx)) < 0)
            return err;
        path_in(bootdir, "kernel", kp, sizeof kp);
        path_in(bootdir, "initrd", ip, sizeof ip);
        s.kernel = kp;
        s.initrd = access(ip, F_OK) == 0 ? ip : NULL;
        s.append = o->boot_append;
    } else if (c->bootloader) {
        err = run_pygrub(c, bootdir, &br, &append);
        if (err)
            return err;
        s.kernel = br.kernel;
        s.initrd = br.initrd;
        s.append = append;
    }
    s.paused |= o && o->incoming;
    /* VNC beyond loopback: TLS with client certificates when the host has
     * a CA (the web console's; README "The web console") */
    char tlsdir[4300];
    if (c->vnc == 1 && !vk_domcfg_vnc_local(c)) {
        err = vk_tls_qemu_dir(tlsdir, sizeof tlsdir);
        if (err == 0)
            s.vnc_tls_dir = tlsdir;
        else if (err != -ENOENT)
            goto out;
        vk_error_clear();
    }
    err = vk_qemu_argv(c, &s, argv);
    if (!err && o && o->incoming)
        err = add_incoming(argv, o->incoming_fd);
out:
    vk_boot_result_free(&br);
    free(append);
    return err;
}

/* Contract in monitor.h. */
int vk_vm_dryrun(struct vk_domcfg *c, const struct vk_start_opts *o, char ***argv)
{
    int err;
    const char *accel;
    char why[256], dir[4200];
    *argv = NULL;
    if ((err = start_checks(c, &accel, why, sizeof why, dir, sizeof dir)) < 0)
        return err;
    struct vk_vminfo info;
    if ((err = vk_rt_info(c->name, 0, &info)) == 0) {
        vk_vminfo_free(&info);
        return vk_error(-EEXIST, "%s: a VM of that name is already running", c->name);
    }
    if (err != -ENOENT)
        return err;
    vk_error_clear();
    char tmp[4096];
    const char *t = getenv("TMPDIR");
    if ((size_t)snprintf(tmp, sizeof tmp, "%s/vmkit-dryrun.XXXXXX", t && *t ? t : "/tmp") >= sizeof tmp)
        return vk_error(-ENAMETOOLONG, "$TMPDIR too long");
    if (c->bootloader && !mkdtemp(tmp))
        return vk_error(-errno, "%s: %s", tmp, strerror(errno));
    err = build_argv(c, dir, tmp, accel, o, argv);
    if (c->bootloader) {
        /* show the files where a real create puts them */
        size_t tl = strlen(tmp);
        for (char **a = *argv; !err && a && *a; a++)
            if (!strncmp(*a, tmp, tl) && (*a)[tl] == '/') {
                char *n;
                if (asprintf(&n, "%s%s", dir, *a + tl) < 0) {
                    err = vk_error(-ENOMEM, "out of memory");
                    break;
                }
                char f[4200];
                snprintf(f, sizeof f, "%s", *a);
                unlink(f);
                free(*a);
                *a = n;
            }
        rmdir(tmp);
    }
    if (err) {
        vk_argv_free(*argv);
        *argv = NULL;
    }
    return err;
}

static int prepare(struct vk_domcfg *c, const char *dir, const char *accel, const char *why,
                   const struct vk_start_opts *o, char ***argv)
{
    char *text = vk_domcfg_format(c);
    if (!text)
        return -ENOMEM;
    int err = vk_rt_write(dir, "config", text, strlen(text));
    free(text);
    char t[300];
    int n = snprintf(t, sizeof t, "%s\n", why);
    if (!err)
        err = vk_rt_write(dir, "accel", t, (size_t)n);
    if (err)
        return err;
    if (c->spice == 1 && c->spicepasswd && c->spicedisable_ticketing != 1 &&
        (err = vk_rt_write(dir, "spice-secret", c->spicepasswd, strlen(c->spicepasswd))))
        return err;
    if ((err = build_argv(c, dir, dir, accel, o, argv)))
        return err;
    /* the argv, NUL-separated as /proc/PID/cmdline, for the curious and
     * for bench/vm.sh */
    size_t total = 0;
    for (char **a = *argv; *a; a++)
        total += strlen(*a) + 1;
    char *buf = malloc(total ? total : 1), *q = buf;
    if (!buf) {
        vk_argv_free(*argv);
        *argv = NULL;
        return vk_error(-ENOMEM, "out of memory");
    }
    for (char **a = *argv; *a; a++)
        q = stpcpy(q, *a) + 1;
    err = vk_rt_write(dir, "argv", buf, total);
    free(buf);
    if (err) {
        vk_argv_free(*argv);
        *argv = NULL;
    }
    return err;
}
