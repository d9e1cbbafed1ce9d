/* Migration streams out of and into QEMU over a unix socket in the VM's
 * runtime directory (contract in migstream.h). */
#include "vm/migstream.h"
#include "util/err.h"
#include "util/str.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define LOCK_WAIT_MS 30000
#define CHUNK        (1u << 20)

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Contract in migstream.h. */
int vk_vm_qmp_open(const char *name, struct vk_vminfo *info, int *lock, struct vk_qmp **q)
{
    *lock = -1;
    *q = NULL;
    int err = vk_rt_info(name, 0, info);
    if (err)
        return err;
    if (!info->pid) {
        err = vk_error(-EINVAL, "%s: VM is not running (state %s)", name,
                       vk_vm_state_name(info->state));
    } else if ((*lock = vk_rt_lock(info->dir, LOCK_WAIT_MS)) < 0) {
        err = *lock;
        *lock = -1;
    } else {
        char sock[4200];
        if ((err = vk_pathf(sock, sizeof sock, "%s/qmp-cli.sock", info->dir)) == 0 &&
            (err = vk_qmp_connect(sock, VK_QMP_WAIT_MS, q)) < 0)
            vk_error_prefix(err, "%s: ", name);
    }
    if (err) {
        vk_rt_unlock(*lock);
        *lock = -1;
        vk_vminfo_free(info);
    }
    return err;
}

/* Contract in migstream.h. */
int vk_qmp_runstate(struct vk_qmp *q, char *buf, size_t len)
{
    json_t *r = NULL;
    int err = vk_qmp_execute(q, "query-status", NULL, &r, VK_QMP_WAIT_MS);
    if (err)
        return err;
    const char *st = json_string_value(json_object_get(r, "status"));
    snprintf(buf, len, "%s", st ? st : "?");
    json_decref(r);
    return 0;
}

/* Contract in migstream.h. */
int vk_mig_machine(struct vk_qmp *q, const char *machine, char **out)
{
    const char *want = machine && *machine ? machine : "pc";
    json_t *r = NULL;
    *out = NULL;
    int err = vk_qmp_execute(q, "query-machines", NULL, &r, VK_QMP_WAIT_MS);
    if (err)
        return err;
    const char *found = NULL;
    size_t i;
    json_t *m;
    json_array_foreach(r, i, m) {
        const char *n = json_string_value(json_object_get(m, "name"));
        const char *a = json_string_value(json_object_get(m, "alias"));
        if (n && ((a && !strcmp(a, want)) || (!found && !strcmp(n, want))))
            found = n;
    }
    if (found)
        *out = strdup(found);
    json_decref(r);
    if (!found)
        return vk_error(-ENOENT, "QEMU knows no machine type '%s'", want);
    return *out ? 0 : vk_error(-ENOMEM, "out of memory");
}

/* query-migrate's status (and error-desc) until it is final or timeout_ms
 * passes.  Returns 1 completed, 0 still running at timeout, or -EIO
 * "migration failed: DESC". */
static int await_migration(struct vk_qmp *q, int timeout_ms, struct vk_mig_stats *st)
{
    long long end = now_ms() + timeout_ms;
    for (int sleep_ms = 1;; sleep_ms = sleep_ms < 20 ? sleep_ms * 2 : 20) {
        json_t *r = NULL;
        int err = vk_qmp_execute(q, "query-migrate", NULL, &r, VK_QMP_WAIT_MS);
        if (err)
            return err;
        const char *s = json_string_value(json_object_get(r, "status"));
        if (s && !strcmp(s, "completed")) {
            if (st) {
                st->total_ms = json_integer_value(json_object_get(r, "total-time"));
                st->downtime_ms = json_integer_value(json_object_get(r, "downtime"));
            }
            json_decref(r);
            return 1;
        }
        if (s && (!strcmp(s, "failed") || !strcmp(s, "cancelled"))) {
            const char *d = json_string_value(json_object_get(r, "error-desc"));
            err = vk_error(-EIO, "migration %s%s%s", s, d ? ": " : "", d ? d : "");
            json_decref(r);
            return err;
        }
        json_decref(r);
        if (now_ms() >= end)
            return 0;
        poll(NULL, 0, sleep_ms);
    }
}

/* Cancel an outgoing migration and wait (briefly) until QEMU agrees. */
static void cancel_migration(struct vk_qmp *q)
{
    if (vk_qmp_execute(q, "migrate_cancel", NULL, NULL, VK_QMP_WAIT_MS) == 0)
        await_migration(q, 5000, NULL);
    vk_error_clear();
}

/* Read until end of stream from fd into sink. */
static int pump_out(int fd, const struct vk_mig_sink *sink, uint64_t *bytes)
{
    char *buf = malloc(CHUNK);
    if (!buf)
        return vk_error(-ENOMEM, "out of memory");
    int err = 0;
    for (;;) {
        ssize_t n = read(fd, buf, CHUNK);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            err = vk_error(-errno, "migration stream: %s", strerror(errno));
            break;
        }
        if (n == 0)
            break;
        if ((err = sink->write(sink->ctx, buf, (size_t)n)) < 0)
            break;
        *bytes += (uint64_t)n;
    }
    free(buf);
    return err;
}

/* A unix socket address for path; -ENAMETOOLONG if it does not fit. */
static int sock_addr(const char *path, struct sockaddr_un *sa)
{
    memset(sa, 0, sizeof *sa);
    sa->sun_family = AF_UNIX;
    if (strlen(path) >= sizeof sa->sun_path)
        return vk_error(-ENAMETOOLONG, "%s: socket path too long", path);
    strcpy(sa->sun_path, path);
    return 0;
}

/* Contract in migstream.h. */
int vk_mig_send(struct vk_qmp *q, const char *dir, const struct vk_mig_sink *sink,
                struct vk_mig_stats *st)
{
    char path[4200];
    struct sockaddr_un sa;
    struct vk_mig_stats local = { 0 };
    if (!st)
        st = &local;
    memset(st, 0, sizeof *st);
    int err = vk_pathf(path, sizeof path, "%s/migrate.sock", dir);
    if (err || (err = sock_addr(path, &sa)))
        return err;
    unlink(path);
    int ls = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (ls < 0)
        return vk_error(-errno, "socket: %s", strerror(errno));
    if (bind(ls, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(ls, 1) < 0) {
        err = vk_error(-errno, "%s: %s", path, strerror(errno));
        close(ls);
        unlink(path);
        return err;
    }
    /* The stream goes to a local file or pipe: no bandwidth cap (QEMU's
     * default is 32 MiB/s, meant for a shared network link). */
    json_t *p = json_pack("{s:I}", "max-bandwidth", (json_int_t)1 << 40);
    char uri[4300];
    snprintf(uri, sizeof uri, "unix:%s", path);
    if ((err = vk_qmp_execute(q, "migrate-set-parameters", p, NULL, VK_QMP_WAIT_MS)) == 0)
        err = vk_qmp_execute(q, "migrate", json_pack("{s:s}", "uri", uri), NULL, VK_QMP_WAIT_MS);
    int fd = -1;
    if (!err) {
        struct pollfd pf = { .fd = ls, .events = POLLIN };
        int pr;
        while ((pr = poll(&pf, 1, 30000)) < 0 && errno == EINTR)
            ;
        if (pr > 0)
            fd = accept4(ls, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0) {
            err = await_migration(q, 0, NULL);
            if (err >= 0)
                err = vk_error(-ETIMEDOUT, "QEMU did not connect to %s", path);
        }
    }
    close(ls);
    unlink(path);
    if (!err) {
        err = pump_out(fd, sink, &st->bytes);
        close(fd);
        if (err) {
            cancel_migration(q);
            return err;
        }
        /* the stream ended: QEMU finishes its bookkeeping at once */
        int r = await_migration(q, 60000, st);
        err = r == 1 ? 0 : r == 0 ? vk_error(-ETIMEDOUT, "migration did not complete") : r;
    } else if (fd >= 0) {
        close(fd);
    }
    return err;
}

/* The last line(s) QEMU wrote to DIR/qemu.log, on one line, into buf. */
static void qemu_said(const char *dir, char *buf, size_t len)
{
    char p[4200], t[4096];
    buf[0] = 0;
    if (vk_pathf(p, sizeof p, "%s", dir) < 0)
        return;
    int n = vk_rt_read(p, "qemu.log", t, sizeof t);
    if (n <= 0)
        return;
    while (n && (t[n - 1] == '\n' || t[n - 1] == ' '))
        t[--n] = 0;
    char *s = t + n;
    int lines = 0;
    while (s > t && lines < 3)
        if (*--s == '\n')
            lines++;
    if (*s == '\n')
        s++;
    for (char *c = s; *c; c++)
        if (*c == '\n')
            *c = ';';
    size_t l = strlen(s);
    if (l >= len)
        l = len - 1;
    memcpy(buf, s, l);
    buf[l] = 0;
}

/* Write all of len bytes to the socket; -EPIPE when QEMU closed it. */
static int send_all(int fd, const char *buf, size_t len)
{
    while (len) {
        ssize_t w = send(fd, buf, len, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return -errno;
        buf += w;
        len -= (size_t)w;
    }
    return 0;
}

/* The QEMU of an incoming migration refused or died: its own words. */
static int refused(const char *dir, pid_t qemu)
{
    for (int i = 0; i < 100 && kill(qemu, 0) == 0; i++)
        poll(NULL, 0, 10);   /* let it write its reason and exit */
    char why[1024];
    qemu_said(dir, why, sizeof why);
    return vk_error(-EIO, "migration stream refused by QEMU%s%s", *why ? ": " : "", why);
}

/* Contract in migstream.h. */
int vk_mig_recv(struct vk_qmp *q, const char *dir, pid_t qemu, const struct vk_mig_source *src,
                uint64_t *bytes)
{
    char path[4200], uri[4300];
    struct sockaddr_un sa;
    uint64_t local;
    if (!bytes)
        bytes = &local;
    *bytes = 0;
    int err = vk_pathf(path, sizeof path, "%s/migrate.sock", dir);
    if (err || (err = sock_addr(path, &sa)))
        return err;
    unlink(path);
    snprintf(uri, sizeof uri, "unix:%s", path);
    if ((err = vk_qmp_execute(q, "migrate-incoming", json_pack("{s:s}", "uri", uri), NULL,
                              VK_QMP_WAIT_MS)) < 0)
        return err;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return vk_error(-errno, "socket: %s", strerror(errno));
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
        err = vk_error(-errno, "%s: %s", path, strerror(errno));
        close(fd);
        unlink(path);
        return err;
    }
    unlink(path);   /* QEMU accepted on it; nobody else needs the name */
    char *buf = malloc(CHUNK);
    if (!buf) {
        close(fd);
        return vk_error(-ENOMEM, "out of memory");
    }
    for (;;) {
        ssize_t n = src->read(src->ctx, buf, CHUNK);
        if (n < 0) {
            err = (int)n;
            break;
        }
        if (n == 0)
            break;
        if ((err = send_all(fd, buf, (size_t)n)) < 0) {
            err = refused(dir, qemu);
            break;
        }
        *bytes += (uint64_t)n;
    }
    free(buf);
    if (err) {
        close(fd);
        return err;
    }
    shutdown(fd, SHUT_WR);
    /* QEMU has the whole stream: wait until it has loaded it */
    err = vk_mig_wait_loaded(q, dir, qemu);
    close(fd);
    return err;
}

/* Contract in migstream.h. */
int vk_mig_wait_loaded(struct vk_qmp *q, const char *dir, pid_t qemu)
{
    long long end = now_ms() + 120000;
    char st[64] = "";
    int err = 0;
    for (int sleep_ms = 1;; sleep_ms = sleep_ms < 10 ? sleep_ms * 2 : 10) {
        if ((err = vk_qmp_runstate(q, st, sizeof st)) < 0) {
            err = refused(dir, qemu);
            break;
        }
        if (strcmp(st, "inmigrate"))
            break;
        if (now_ms() >= end) {
            err = vk_error(-ETIMEDOUT, "QEMU did not finish loading the migration stream");
            break;
        }
        poll(NULL, 0, sleep_ms);
    }
    if (!err && strcmp(st, "paused") && strcmp(st, "running"))
        err = refused(dir, qemu);
    return err;
}

/* Contract in migstream.h. */
void vk_mig_argv_drop_incoming(char **argv)
{
    int had = 0;
    char **w = argv;
    for (char **a = argv; *a; a++) {
        if (!strcmp(*a, "-incoming") && a[1]) {
            free(*a);
            free(*++a);
            had = 1;
            continue;
        }
        *w++ = *a;
    }
    *w = NULL;
    if (!had)
        return;
    w = argv;
    for (char **a = argv; *a; a++) {
        if (!strcmp(*a, "-S")) {
            free(*a);
            continue;
        }
        *w++ = *a;
    }
    *w = NULL;
}
