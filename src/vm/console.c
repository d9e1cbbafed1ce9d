/* Serial console attach: a byte pump between a terminal (or pipe) and
 * QEMU's console socket. */
#include "vm/console.h"
#include "vm/runtime.h"
#include "util/err.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int connect_unix(const char *path)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    if (strlen(path) >= sizeof sa.sun_path)
        return -ENAMETOOLONG;
    strcpy(sa.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
        int e = errno;
        close(fd);
        return -e;
    }
    return fd;
}

/* Connect to the console socket, retrying for ms while the VM's monitor
 * lives (QEMU may be (re)starting).  fd or negative errno. */
static int connect_console(const char *dir, int ms)
{
    char sock[4200];
    snprintf(sock, sizeof sock, "%s/console.sock", dir);
    long long end = now_ms() + ms;
    for (;;) {
        int fd = connect_unix(sock);
        if (fd >= 0)
            return fd;
        if (now_ms() >= end || !vk_rt_monitor(dir))
            return fd;
        poll(NULL, 0, 50);
    }
}

static int write_all(int fd, const char *b, size_t n)
{
    while (n) {
        ssize_t w = write(fd, b, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return -errno;
        b += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Contract in console.h. */
int vk_console_open(const char *name, char *dir, size_t dlen, int wait_ms)
{
    struct vk_vminfo info;
    int err = vk_rt_info(name, 0, &info);
    if (err)
        return err;
    snprintf(dir, dlen, "%s", info.dir);
    int live = (info.pid && info.state != VK_ST_CRASHED) || info.state == VK_ST_STARTING;
    enum vk_vm_state st = info.state;
    /* the console is serial port 0 as "pty"; another device there (tcp:,
     * file: ...) leaves nothing to attach to */
    const struct vk_strv *ser = &info.cfg.serial;
    if (ser->set && (!ser->n || strcmp(ser->v[0], "pty"))) {
        err = vk_error(-ENODEV, "%s: no console: serial port 0 is '%s', not \"pty\"", name,
                       ser->n ? ser->v[0] : "none");
        vk_vminfo_free(&info);
        return err;
    }
    vk_vminfo_free(&info);
    if (!live)
        return vk_error(-EINVAL, "%s: VM is not running (state %s)", name, vk_vm_state_name(st));
    int sock = connect_console(dir, wait_ms);
    if (sock < 0)
        return vk_error(sock, "%s: console: %s", name, strerror(-sock));
    return sock;
}

/* Contract in console.h. */
int vk_console_run(const char *name, const struct vk_console_opts *o)
{
    char dir[4096];
    int sock = vk_console_open(name, dir, sizeof dir, 5000);
    if (sock < 0)
        return sock;

    struct termios saved;
    int raw = o->interactive && tcgetattr(o->in_fd, &saved) == 0;
    if (raw) {
        struct termios t = saved;
        cfmakeraw(&t);
        tcsetattr(o->in_fd, TCSANOW, &t);
    }
    long long start = now_ms(), drain_end = -1;
    int drain = o->drain_ms > 0 ? o->drain_ms : 1000, in_open = 1, ret = 0;
    char buf[8192];
    for (;;) {
        long long now = now_ms(), end = -1;
        if (o->timeout_ms > 0)
            end = start + o->timeout_ms;
        if (drain_end >= 0 && (end < 0 || drain_end < end))
            end = drain_end;
        if (end >= 0 && now >= end)
            break;
        struct pollfd p[2] = { { .fd = sock, .events = POLLIN },
                               { .fd = in_open ? o->in_fd : -1, .events = POLLIN } };
        int pr = poll(p, 2, end < 0 ? -1 : (int)(end - now));
        if (pr < 0 && errno == EINTR)
            continue;
        if (pr < 0) {
            ret = vk_error(-errno, "%s: console: poll: %s", name, strerror(errno));
            break;
        }
        if (p[1].revents) {
            ssize_t n = read(o->in_fd, buf, sizeof buf);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0) {
                in_open = 0;
                if (raw)
                    break;
                drain_end = now_ms() + drain;
            } else {
                char *esc = raw ? memchr(buf, VK_CONSOLE_ESCAPE, (size_t)n) : NULL;
                size_t len = esc ? (size_t)(esc - buf) : (size_t)n;
                if (len && write_all(sock, buf, len) < 0 && !esc)
                    continue;   /* the read side notices the end */
                if (esc)
                    break;
            }
        }
        if (p[0].revents) {
            ssize_t n = read(sock, buf, sizeof buf);
            if (n < 0 && errno == EINTR)
                continue;
            if (n > 0) {
                if (write_all(o->out_fd, buf, (size_t)n) < 0) {
                    ret = vk_error(-EPIPE, "%s: console: output closed", name);
                    break;
                }
                continue;
            }
            /* QEMU went away: a restart reconnects, an end ends */
            close(sock);
            sock = connect_console(dir, 30000);
            if (sock < 0) {
                ret = 1;
                break;
            }
        }
    }
    if (sock >= 0)
        close(sock);
    if (raw)
        tcsetattr(o->in_fd, TCSANOW, &saved);
    return ret;
}
