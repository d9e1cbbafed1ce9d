/* libFuzzer entry point: vmkit serve's request parsing (serve/req.c), the
 * parts that see a client's bytes.  The input is "PATH\nBODY": PATH goes
 * to the router, the --listen parser and the VNC address parser, BODY to the JSON body parser for
 * the action data[0] picks, and both as Origin/Host to the same-origin
 * check.  Checks: only the documented statuses, a routed static file is
 * one plain name (no '/', no "..", no leading '.'), a noVNC file plain
 * names joined by single '/', a routed VM name is valid, a VNC address is
 * accepted only on loopback. */
#include "serve/req.h"
#include "util/err.h"
#include "vm/store.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *in = malloc(size + 1);
    if (!in)
        return 0;
    memcpy(in, data, size);
    in[size] = 0;
    char *nl = memchr(in, '\n', size);
    size_t plen = nl ? (size_t)(nl - in) : size;
    const char *body = nl ? nl + 1 : "";
    size_t blen = nl ? size - plen - 1 : 0;
    if (nl)
        *nl = 0;

    struct vk_route r;
    char why[256];
    int st = vk_serve_route(in, plen, &r, why, sizeof why);
    if (st != 200 && st != 400 && st != 404)
        abort();
    if (st == 200 && r.kind == VK_ROUTE_STATIC &&
        (!r.file[0] || strchr(r.file, '/') || strstr(r.file, "..") || r.file[0] == '.'))
        abort();
    if (st == 200 && r.kind == VK_ROUTE_NOVNC &&
        (!r.file[0] || r.file[0] == '/' || strstr(r.file, "..") || strstr(r.file, "/.") ||
         strstr(r.file, "//") || r.file[strlen(r.file) - 1] == '/'))
        abort();
    if (st == 200 && (r.kind == VK_ROUTE_VM || r.kind == VK_ROUTE_VNC || r.kind == VK_ROUTE_ACTION || r.kind == VK_ROUTE_CONSOLE) && !vk_name_valid(r.name))
        abort();

    struct vk_act_opts o;
    enum vk_serve_action a = (enum vk_serve_action)(size ? data[0] % 5 : 0);
    st = vk_serve_body(body, blen, a, &o, why, sizeof why);
    if (st != 200 && st != 400)
        abort();
    if (o.paused && a != VK_SA_START)
        abort();

    int same = vk_serve_same_origin(in, body, plen & 1 ? "same-origin" : NULL);
    if (same != 0 && same != 1)
        abort();

    char addr[64];
    int port, loop;
    if (vk_serve_parse_listen(in, addr, sizeof addr, &port, &loop) == 0 &&
        (port < 0 || port > 65535 || (loop != 0 && loop != 1)))
        abort();
    struct sockaddr_storage sa;
    socklen_t salen = 0;
    int vr = vk_serve_vnc_addr(in, &sa, &salen);
    if (vr != 0 && vr != -EPERM && vr != -EINVAL)
        abort();
    if (vr == 0 && !(sa.ss_family == AF_INET
                         ? (ntohl(((struct sockaddr_in *)&sa)->sin_addr.s_addr) >> 24) == 127
                         : IN6_IS_ADDR_LOOPBACK(&((struct sockaddr_in6 *)&sa)->sin6_addr)))
        abort();
    free(in);
    vk_error_clear();
    return 0;
}
