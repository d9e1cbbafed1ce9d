/* vmkit serve's parsing of what a client or the runtime dir hands it
 * (serve/req.h): the routes of the display (/ws/vnc/NAME, /novnc/PATH)
 * and the VNC address the bridge may connect to (loopback only). */
#include "serve/req.h"
#include "util/err.h"
#include "tap.h"

#include <errno.h>
#include <netinet/in.h>
#include <string.h>

static int route(const char *path, struct vk_route *r)
{
    char why[256];
    return vk_serve_route(path, strlen(path) + 1, r, why, sizeof why);
}

static int addr(const char *s, int *port)
{
    struct sockaddr_storage sa;
    socklen_t len;
    int err = vk_serve_vnc_addr(s, &sa, &len);
    vk_error_clear();
    *port = err ? -1 : ntohs(sa.ss_family == AF_INET ? ((struct sockaddr_in *)&sa)->sin_port
                                                     : ((struct sockaddr_in6 *)&sa)->sin6_port);
    return err;
}

int main(void)
{
    struct vk_route r;
    CHECK(route("/ws/vnc/web1", &r) == 200 && r.kind == VK_ROUTE_VNC && !strcmp(r.name, "web1"),
          "/ws/vnc/web1: the display of web1");
    CHECK(route("/ws/vnc/", &r) != 200, "/ws/vnc/ without a name: refused");
    CHECK(route("/ws/vnc/a/b", &r) == 400, "/ws/vnc/a/b: a bad name");
    CHECK(route("/novnc/core/rfb.js", &r) == 200 && r.kind == VK_ROUTE_NOVNC &&
          !strcmp(r.file, "core/rfb.js"), "/novnc/core/rfb.js: noVNC's file core/rfb.js");
    const char *bad[] = { "/novnc/", "/novnc/../etc/passwd", "/novnc/core/../../x", "/novnc/core/",
                          "/novnc//rfb.js", "/novnc/.git/config", "/novnc/core/.x",
                          "/novnc/%2e%2e/x", "/novnc/a\\b" };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        CHECK(route(bad[i], &r) == 404, "%s: 404", bad[i]);

    int port;
    CHECK(addr("127.0.0.1:5900", &port) == 0 && port == 5900, "127.0.0.1:5900: loopback");
    CHECK(addr("127.1.2.3:5999", &port) == 0 && port == 5999, "127.1.2.3:5999: loopback too");
    CHECK(addr("[::1]:5901", &port) == 0 && port == 5901, "[::1]:5901: IPv6 loopback");
    CHECK(addr("0.0.0.0:5900", &port) == -EPERM, "0.0.0.0:5900: not loopback");
    CHECK(addr("192.168.1.2:5900", &port) == -EPERM, "192.168.1.2:5900: not loopback");
    CHECK(addr("[::]:5900", &port) == -EPERM, "[::]:5900: not loopback");
    const char *junk[] = { "", "127.0.0.1", "127.0.0.1:", "127.0.0.1:0", "127.0.0.1:65536",
                           "127.0.0.1:59x", "localhost:5900", ":5900", "[::1:5900" };
    for (size_t i = 0; i < sizeof junk / sizeof *junk; i++)
        CHECK(addr(junk[i], &port) == -EINVAL, "'%s': no HOST:PORT", junk[i]);
    return tap_done();
}
