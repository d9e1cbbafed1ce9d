/* The per-VM monitor process: starts QEMU, follows its QMP events,
 * applies on_poweroff/on_reboot/on_crash, removes the state at the end. */
#include "vm/monitor.h"
#include "vm/hotplug.h"
#include "vm/monitor_int.h"
#include "vm/migstream.h"
#include "vm/qemu_args.h"
#include "vm/qmp.h"
#include "vm/runtime.h"
#include "vm/store.h"
#include "util/dirs.h"
#include "util/err.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Why QEMU ended, as learnt from its events. */
enum cause { C_NONE, C_POWEROFF, C_REBOOT, C_CRASH, C_DESTROY, C_WATCHDOG };
static const char *const cause_names[] = { "exit without shutdown event", "poweroff",
                                           "reboot", "crash", "destroy", "watchdog" };

struct mon {
    const char *dir;
    char **argv;
    const struct vk_domcfg *c;
    pid_t qemu;
    struct vk_qmp *q;
    int sfd;
    enum cause pending;
    time_t restarts[VK_MAX_RESTARTS];
    int nrestarts;
    long long log_off;      /* qemu.log size when QEMU was last started */
    bool done;              /* the VM ended: the monitor's main loop returns */
    bool incoming;          /* waiting for a migration stream, never resumed yet */
    int incoming_fd;        /* the stream QEMU reads (restore), or -1 */
    bool panicked;          /* GUEST_PANICKED seen: QEMU stopped in guest-panicked */
    bool panic_done;        /* ... and on_crash applied to it */
};

/* Diagnostics go to stderr, which the monitor points at its log file. */
static void mlog(const char *fmt, ...) VK_PRINTF(1, 2);
static void mlog(const char *fmt, ...)
{
    char ts[32];
    time_t t = time(NULL);
    struct tm tm;
    strftime(ts, sizeof ts, "%Y-%m-%d %H:%M:%S", gmtime_r(&t, &tm));
    fprintf(stderr, "%s [%d] ", ts, (int)getpid());
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    fflush(stderr);
}

static void set_state(struct mon *m, const char *s)
{
    if (vk_rt_write(m->dir, "state", s, strlen(s)) < 0)
        mlog("writing state: %s", vk_errmsg());
}

/* dir/f into buf; the runtime dir is short enough (store.h keeps it under
 * 4096 bytes and callers give 4200), a truncated path names nothing. */
static void path_in(const char *dir, const char *f, char *buf, size_t len)
{
    if ((size_t)snprintf(buf, len, "%s/%s", dir, f) >= len)
        buf[0] = 0;
}

/* Fork and exec QEMU with m->argv; output to DIR/qemu.log. */
static int spawn_qemu(struct mon *m)
{
    char logp[4200], p[4200];
    static const char *const socks[] = { "qmp.sock", "qmp-cli.sock", "console.sock" };
    for (size_t i = 0; i < sizeof socks / sizeof *socks; i++) {
        path_in(m->dir, socks[i], p, sizeof p);
        unlink(p);
    }
    path_in(m->dir, "qemu.log", logp, sizeof logp);
    int lf = open(logp, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (lf < 0)
        return vk_error(-errno, "%s: %s", logp, strerror(errno));
    struct stat st;
    m->log_off = fstat(lf, &st) == 0 ? (long long)st.st_size : 0;
    pid_t self = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        int e = errno;
        close(lf);
        return vk_error(-e, "fork: %s", strerror(e));
    }
    if (pid == 0) {
        /* a VM never outlives its monitor */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != self)
            _exit(1);
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        umask(0177);          /* QEMU's sockets and logs: 0600 */
        int nul = open("/dev/null", O_RDONLY);
        if (nul >= 0)
            dup2(nul, 0);
        dup2(lf, 1);
        dup2(lf, 2);
        if (m->incoming_fd >= 0)    /* -incoming fd:N: QEMU's from here on */
            fcntl(m->incoming_fd, F_SETFD, 0);
        execv(m->argv[0], m->argv);
        dprintf(2, "%s: %s\n", m->argv[0], strerror(errno));
        _exit(127);
    }
    close(lf);
    if (m->incoming_fd >= 0) {      /* a restarted QEMU boots afresh */
        close(m->incoming_fd);
        m->incoming_fd = -1;
    }
    m->qemu = pid;
    char t[32];
    int n = snprintf(t, sizeof t, "%d\n", (int)pid);
    vk_rt_write(m->dir, "pid", t, (size_t)n);
    mlog("started QEMU, pid %d", (int)pid);
    return 0;
}

/* What QEMU printed since it was last started, on one line. */
static void qemu_output(struct mon *m, char *buf, size_t len)
{
    char p[4200];
    path_in(m->dir, "qemu.log", p, sizeof p);
    buf[0] = 0;
    int fd = open(p, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    ssize_t n = pread(fd, buf, len - 1, m->log_off);
    close(fd);
    if (n <= 0)
        return;
    buf[n] = 0;
    while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' '))
        buf[--n] = 0;
    for (char *c = buf; *c; c++)
        if (*c == '\n')
            *c = ';';
}

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int exited_error(struct mon *m, int st)
{
    char out[1024];
    qemu_output(m, out, sizeof out);
    char how[64];
    if (WIFSIGNALED(st))
        snprintf(how, sizeof how, "killed by signal %d", WTERMSIG(st));
    else
        snprintf(how, sizeof how, "exit status %d", WEXITSTATUS(st));
    return vk_error(-EIO, "%s: QEMU exited at start (%s)%s%s", m->c->name, how,
                    *out ? ": " : "", out);
}

/* Write the VNC address QEMU actually listens on (it picks the display
 * with to=99) to DIR/vnc, so `vmkit list -l` needs no QMP round trip. */
static void record_vnc(struct mon *m)
{
    json_t *r = NULL;
    if (vk_qmp_execute(m->q, "query-vnc", NULL, &r, 5000) == 0 &&
        json_is_true(json_object_get(r, "enabled"))) {
        const char *h = json_string_value(json_object_get(r, "host"));
        const char *p = json_string_value(json_object_get(r, "service"));
        char t[300];
        int n = h && p ? snprintf(t, sizeof t, strchr(h, ':') ? "[%s]:%s\n" : "%s:%s\n", h, p) : 0;
        if (n > 0 && n < (int)sizeof t)
            vk_rt_write(m->dir, "vnc", t, (size_t)n);
    } else {
        mlog("query-vnc: %s", vk_errmsg());
    }
    json_decref(r);
}

/* Connect to QEMU's QMP socket once it is up; set the VNC password and
 * record the VNC address. */
static int attach_qmp(struct mon *m, int timeout_ms)
{
    char sock[4200];
    path_in(m->dir, "qmp.sock", sock, sizeof sock);
    long long deadline = now_ms() + timeout_ms;
    for (;;) {
        int st;
        if (waitpid(m->qemu, &st, WNOHANG) == m->qemu) {
            m->qemu = 0;
            return exited_error(m, st);
        }
        long long left = deadline - now_ms();
        if (left <= 0)
            break;
        if (access(sock, F_OK) == 0 && vk_qmp_connect(sock, (int)left, &m->q) == 0)
            break;
        poll(NULL, 0, 10);
    }
    if (!m->q) {
        kill(m->qemu, SIGKILL);
        waitpid(m->qemu, NULL, 0);
        m->qemu = 0;
        return vk_error(-ETIMEDOUT, "%s: QEMU did not answer on QMP within %d s",
                        m->c->name, timeout_ms / 1000);
    }
    if (m->c->vncpasswd && *m->c->vncpasswd) {   /* "": no password on purpose */
        int r = vk_qmp_execute(m->q, "change-vnc-password",
                               json_pack("{s:s}", "password", m->c->vncpasswd), NULL, 10000);
        if (r < 0) {
            kill(m->qemu, SIGKILL);
            waitpid(m->qemu, NULL, 0);
            m->qemu = 0;
            vk_qmp_close(m->q);
            m->q = NULL;
            return vk_error_prefix(r, "%s: setting the VNC password: ", m->c->name);
        }
    }
    if (m->c->vnc)
        record_vnc(m);
    return 0;
}

static enum cause shutdown_cause(const char *reason)
{
    if (!reason)
        return C_POWEROFF;
    if (!strcmp(reason, "guest-shutdown"))
        return C_POWEROFF;
    if (!strcmp(reason, "guest-reset") || !strcmp(reason, "host-qmp-system-reset"))
        return C_REBOOT;
    if (!strcmp(reason, "guest-panic") || !strcmp(reason, "host-error"))
        return C_CRASH;
    return C_DESTROY;   /* host-qmp-quit, host-signal, host-ui, ... */
}

static void handle_event(struct mon *m, const struct vk_qmp_msg *ev)
{
    const char *reason = json_string_value(json_object_get(ev->data, "reason"));
    mlog("event %s%s%s", ev->event, reason ? " " : "", reason ? reason : "");
    if (!strcmp(ev->event, "SHUTDOWN")) {
        enum cause c = shutdown_cause(reason);
        if (m->pending != C_CRASH && m->pending != C_DESTROY && m->pending != C_WATCHDOG)
            m->pending = c;
    } else if (!strcmp(ev->event, "WATCHDOG")) {
        /* the i6300esb of on_watchdog fired; QEMU powers off next */
        if (m->pending != C_DESTROY)
            m->pending = C_WATCHDOG;
    } else if (!strcmp(ev->event, "GUEST_PANICKED")) {
        if (m->pending != C_DESTROY) {
            m->pending = C_CRASH;
            m->panicked = true;     /* on_crash is applied once the events are read */
        }
    } else if (!strcmp(ev->event, "STOP")) {
        if (!m->panicked)           /* the panic's own stop is no pause */
            set_state(m, "paused");
    } else if (!strcmp(ev->event, "RESUME")) {
        m->incoming = false;
        set_state(m, "running");
    }
}

/* Read every event available within timeout_ms; closes the QMP
 * connection at end of file. */
static void drain_events(struct mon *m, int timeout_ms)
{
    while (m->q) {
        struct vk_qmp_msg ev;
        int r = vk_qmp_event(m->q, &ev, timeout_ms);
        if (r == 0)
            return;
        if (r < 0) {
            vk_qmp_close(m->q);
            m->q = NULL;
            vk_error_clear();
            return;
        }
        handle_event(m, &ev);
        vk_qmp_msg_free(&ev);
    }
}

/* The VM is gone: remove its directory; the main loop then ends. */
static void finish_destroy(struct mon *m)
{
    mlog("removing %s", m->dir);
    vk_qmp_close(m->q);
    m->q = NULL;
    vk_rt_remove(m->dir);
    m->done = true;
}

/* Keep the directory (state shutdown or crashed) for `vmkit list`. */
static void finish_preserve(struct mon *m, const char *state)
{
    static const char *const gone[] = { "qmp.sock", "qmp-cli.sock", "console.sock", "pid",
                                        "monitor.pid" };
    char p[4200];
    set_state(m, state);
    for (size_t i = 0; i < sizeof gone / sizeof *gone; i++) {
        path_in(m->dir, gone[i], p, sizeof p);
        unlink(p);
    }
    mlog("preserved as %s", state);
    vk_qmp_close(m->q);
    m->q = NULL;
    m->done = true;
}

/* Where coredump-* actions write the guest's memory: $VMKIT_DUMP_DIR, else
 * $XDG_STATE_HOME/vmkit/dump (~/.local/state/vmkit/dump; root:
 * /var/lib/vmkit/dump), as xl writes /var/lib/xen/dump/NAME.  The file is
 * NAME-YYYYMMDD-HHMMSS.core. */
static int dump_path(const struct mon *m, char *buf, size_t len)
{
    const char *o = getenv("VMKIT_DUMP_DIR"), *x = getenv("XDG_STATE_HOME"),
               *h = getenv("HOME");
    char dir[4000];
    if (o && *o)
        snprintf(dir, sizeof dir, "%s", o);
    else if (geteuid() == 0)
        snprintf(dir, sizeof dir, "/var/lib/vmkit/dump");
    else if (x && *x == '/')
        snprintf(dir, sizeof dir, "%s/vmkit/dump", x);
    else if (h && *h)
        snprintf(dir, sizeof dir, "%s/.local/state/vmkit/dump", h);
    else
        return vk_error(-ENOENT, "no dump directory (set VMKIT_DUMP_DIR)");
    int err = vk_mkdirs(dir, 0700);
    if (err)
        return err;
    char ts[32];
    time_t t = time(NULL);
    struct tm tm;
    strftime(ts, sizeof ts, "%Y%m%d-%H%M%S", localtime_r(&t, &tm));
    if ((size_t)snprintf(buf, len, "%s/%s-%s.core", dir, m->c->name, ts) >= len)
        return vk_error(-ENAMETOOLONG, "%s: path too long", dir);
    return 0;
}

/* coredump-*: the stopped guest's memory as an ELF core (QMP
 * dump-guest-memory, written by QEMU; crash(8) and gdb read it). */
static void coredump(struct mon *m)
{
    char path[4200], proto[4300];
    int err = dump_path(m, path, sizeof path);
    if (!err) {
        snprintf(proto, sizeof proto, "file:%s", path);
        mlog("writing the guest's memory to %s", path);
        err = vk_qmp_execute(m->q, "dump-guest-memory",
                             json_pack("{s:b, s:s}", "paging", 0, "protocol", proto), NULL,
                             600000);
    }
    if (err) {
        mlog("coredump failed: %s", vk_errmsg());
        vk_error_clear();
    } else {
        mlog("coredump written: %s", path);
        vk_rt_write(m->dir, "coredump", path, strlen(path));
    }
}

/* The guest panicked and QEMU stopped it (-action panic=pause): apply
 * on_crash while QEMU is still there.  preserve keeps it stopped, listed
 * as crashed, until `vmkit destroy`; coredump-* dump its memory first;
 * the others end QEMU, and qemu_ended() applies the action. */
static void handle_panic(struct mon *m)
{
    m->panic_done = true;
    enum vk_action a = m->c->on_crash;
    mlog("guest panicked: on_crash %s", vk_action_name(a));
    if (a == VK_ACT_PRESERVE) {
        set_state(m, "crashed");
        return;
    }
    if ((a == VK_ACT_COREDUMP_DESTROY || a == VK_ACT_COREDUMP_RESTART) && m->q)
        coredump(m);
    if (m->qemu)
        kill(m->qemu, SIGKILL);
}

static void restart(struct mon *m)
{
    time_t now = time(NULL);
    int k = 0;
    for (int i = 0; i < m->nrestarts; i++)
        if (now - m->restarts[i] < VK_RESTART_WINDOW)
            m->restarts[k++] = m->restarts[i];
    m->nrestarts = k;
    if (k >= VK_MAX_RESTARTS) {
        mlog("restarted %d times within %d s: giving up", k, VK_RESTART_WINDOW);
        finish_preserve(m, "crashed");
        return;
    }
    m->restarts[m->nrestarts++] = now;
    set_state(m, "restarting");
    m->pending = C_NONE;
    vk_mig_argv_drop_incoming(m->argv);   /* a restored VM reboots afresh */
    if (vk_hp_reset(m->dir, m->c) < 0)    /* hot-plugged devices end with QEMU */
        mlog("restart: %s", vk_errmsg());
    m->panicked = m->panic_done = false;
    if (vk_qemu_argv_restamp(m->argv, m->c) < 0)   /* rtc_timeoffset from now */
        mlog("restart: %s", vk_errmsg());
    if (spawn_qemu(m) < 0) {
        mlog("restart failed: %s", vk_errmsg());
        finish_destroy(m);
        return;
    }
    int err = attach_qmp(m, 60000);
    if (err == -ETIMEDOUT) {
        mlog("restart failed: %s", vk_errmsg());
        finish_destroy(m);
        return;
    }
    if (err < 0) {
        /* QEMU ended before QMP was up: a guest that resets at once (its
         * SHUTDOWN event was never seen).  Another round, which the
         * restart limit above bounds (then preserved as crashed). */
        mlog("QEMU ended before QMP was up (%s): restarting again", vk_errmsg());
        vk_error_clear();
        restart(m);
        return;
    }
    set_state(m, "running");
}

/* QEMU is gone: decide from its events what that means. */
static void qemu_ended(struct mon *m, int st)
{
    m->qemu = 0;
    drain_events(m, 500);     /* the SHUTDOWN event may still be unread */
    vk_qmp_close(m->q);
    m->q = NULL;
    enum cause c = m->pending;
    if (c == C_NONE)
        c = C_CRASH;
    if (m->incoming) {
        /* a restore or migration that failed to load: no VM was there */
        mlog("QEMU ended before the incoming VM ever ran: removing it");
        finish_destroy(m);
        return;
    }
    if (WIFSIGNALED(st))
        mlog("QEMU killed by signal %d (%s)", WTERMSIG(st), cause_names[m->pending]);
    else
        mlog("QEMU exited with status %d (%s)", WEXITSTATUS(st), cause_names[m->pending]);
    enum vk_action a = c == C_POWEROFF ? m->c->on_poweroff
                     : c == C_REBOOT   ? m->c->on_reboot
                     : c == C_CRASH    ? m->c->on_crash
                     : c == C_WATCHDOG && m->c->on_watchdog >= 0
                                       ? (enum vk_action)m->c->on_watchdog : VK_ACT_DESTROY;
    mlog("%s -> %s", cause_names[c], vk_action_name(a));
    /* the dump needs QEMU: only a panic (handle_panic) gets one; here the
     * coredump-* actions are what they do afterwards */
    if (a == VK_ACT_COREDUMP_DESTROY)
        a = VK_ACT_DESTROY;
    else if (a == VK_ACT_COREDUMP_RESTART)
        a = VK_ACT_RESTART;
    if (a == VK_ACT_RESTART)
        restart(m);
    else if (a == VK_ACT_PRESERVE)
        finish_preserve(m, c == C_CRASH || c == C_WATCHDOG ? "crashed" : "shutdown");
    else
        finish_destroy(m);
}

static void report(int fd, int err)
{
    char msg[2048];
    int n = err ? snprintf(msg, sizeof msg, "ERR %d %s", -err, vk_errmsg_for(err))
                : snprintf(msg, sizeof msg, "OK");
    if (n > (int)sizeof msg - 1)
        n = (int)sizeof msg - 1;
    if (write(fd, msg, (size_t)n) < 0)
        mlog("reporting to vmkit: %s", strerror(errno));
}

/* Close every descriptor from 3 up but a and b (-1: none). */
static void close_all_but(int a, int b)
{
    int keep[2] = { a < b ? a : b, a < b ? b : a };
    unsigned from = 3;
    for (int i = 0; i < 2; i++) {
        if (keep[i] < (int)from)
            continue;
        if (keep[i] > (int)from)
            close_range(from, (unsigned)keep[i] - 1, 0);
        from = (unsigned)keep[i] + 1;
    }
    close_range(from, ~0U, 0);
}

/* Contract in monitor_int.h. */
int vk_monitor_main(const char *dir, char **argv, const struct vk_domcfg *c,
                     const struct vk_start_opts *o, int status_fd)
{
    struct mon m = { .dir = dir, .argv = argv, .c = c, .sfd = -1,
                     .incoming = o && o->incoming };
    char lp[4200];
    const char *env = getenv("VMKIT_MONITOR_LOG");
    path_in(dir, "monitor.log", lp, sizeof lp);
    int lf = open(env && *env ? env : lp, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    int nul = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (nul >= 0) {
        dup2(nul, 0);
        dup2(nul, 1);
        dup2(lf >= 0 ? lf : nul, 2);
    }
    /* nothing of the caller's stays open but the status pipe and the
     * stream QEMU is to read (restore) */
    m.incoming_fd = o && o->incoming && o->incoming_fd > 2 ? o->incoming_fd : -1;
    close_all_but(status_fd, m.incoming_fd);
    if (chdir("/") < 0)
        mlog("chdir /: %s", strerror(errno));
    umask(077);
    vk_rt_set_monitor(dir, getpid());
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGCHLD);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    sigprocmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    m.sfd = signalfd(-1, &set, SFD_CLOEXEC);
    mlog("monitor for %s", c->name);
    int err = m.sfd < 0 ? vk_error(-errno, "signalfd: %s", strerror(errno)) : spawn_qemu(&m);
    if (!err)
        err = attach_qmp(&m, o && o->timeout_ms > 0 ? o->timeout_ms : 60000);
    if (err) {
        mlog("start failed: %s", vk_errmsg_for(err));
        vk_rt_remove(dir);
        report(status_fd, err);
        return 1;
    }
    set_state(&m, o && (o->paused || o->incoming) ? "paused" : "running");
    report(status_fd, 0);
    close(status_fd);

    while (!m.done) {
        struct pollfd p[2] = { { .fd = m.sfd, .events = POLLIN },
                               { .fd = m.q ? vk_qmp_fd(m.q) : -1, .events = POLLIN } };
        if (poll(p, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            mlog("poll: %s", strerror(errno));
            poll(NULL, 0, 100);
            continue;
        }
        if (p[1].revents)
            drain_events(&m, 0);
        if (m.panicked && !m.panic_done)
            handle_panic(&m);
        if (!(p[0].revents & POLLIN))
            continue;
        struct signalfd_siginfo si;
        if (read(m.sfd, &si, sizeof si) != sizeof si)
            continue;
        if (si.ssi_signo != SIGCHLD) {
            mlog("signal %u: destroying the VM", si.ssi_signo);
            m.pending = C_DESTROY;
            if (m.qemu)
                kill(m.qemu, SIGKILL);
            else
                finish_destroy(&m);
            continue;
        }
        int st;
        pid_t w;
        while (!m.done && (w = waitpid(-1, &st, WNOHANG)) > 0)
            if (w == m.qemu)
                qemu_ended(&m, st);
    }
    return 0;
}
