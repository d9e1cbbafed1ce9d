/* vmkit serve: the socket of a VM's VNC server for /ws/vnc/NAME (the
 * bridge itself is console.c's).  The address is the one `vmkit list -l`
 * shows: DIR/vnc as the monitor recorded it from query-vnc, else QMP. */
#include "serve/serve_int.h"

#include "util/err.h"
#include "vm/runtime.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Contract in serve_int.h. */
int vk_serve_vnc_open(const char *name)
{
    struct vk_vminfo info;
    int err = vk_rt_info(name, 0, &info);
    if (err)
        return err;
    if (!info.pid) {
        vk_vminfo_free(&info);
        return vk_error(-ESRCH, "%s: VM is not running", name);
    }
    if (!*info.vnc && info.cfg.vnc == 1) {
        /* the monitor records it once QMP is up: ask QEMU meanwhile */
        vk_vminfo_free(&info);
        if ((err = vk_rt_info(name, 1, &info)))
            return err;
    }
    char addr[sizeof info.vnc];
    snprintf(addr, sizeof addr, "%s", info.vnc);
    vk_vminfo_free(&info);
    if (!*addr)
        return vk_error(-ENODEV, "%s has no VNC display (vnc = 0 in its config)", name);
    struct sockaddr_storage sa;
    socklen_t salen;
    if ((err = vk_serve_vnc_addr(addr, &sa, &salen)) < 0) {
        char why[200];      /* vk_error would write over vk_errmsg() */
        snprintf(why, sizeof why, "%s", vk_errmsg());
        return vk_error(err, "%s: %s (serve bridges only to VNC on loopback)", name, why);
    }
    int fd = socket(sa.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return vk_error(-errno, "socket: %s", strerror(errno));
    /* loopback: a refusal or an accept is immediate, so blocking is fine */
    if (connect(fd, (struct sockaddr *)&sa, salen) < 0) {
        err = -errno;
        close(fd);
        return vk_error(err, "%s: VNC at %s: %s", name, addr, strerror(-err));
    }
    return fd;
}
