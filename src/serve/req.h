/* vmkit serve: what a request asks for, from its untrusted bytes (the
 * path, the JSON body, the Origin headers), without any network code, so
 * fuzz/fuzz_serve_req.c can drive it.  Each function takes bytes as
 * received and answers an HTTP status, never trusting a length or a name.
 */
#ifndef VK_SERVE_REQ_H
#define VK_SERVE_REQ_H

#include <stddef.h>
#include <sys/socket.h>

enum vk_route_kind {
    VK_ROUTE_STATIC,    /* a file of the web dir: route.file */
    VK_ROUTE_LIST,      /* GET /api/vms */
    VK_ROUTE_VM,        /* GET /api/vms/NAME */
    VK_ROUTE_ACTION,    /* POST /api/vms/NAME/ACTION */
    VK_ROUTE_EVENTS,    /* GET /api/events (server-sent events) */
    VK_ROUTE_CONSOLE,   /* GET /ws/console/NAME (a WebSocket) */
    VK_ROUTE_VNC,       /* GET /ws/vnc/NAME (a WebSocket) */
    VK_ROUTE_NOVNC,     /* a file of the noVNC dir: route.file, a relative path */
};

enum vk_serve_action {
    VK_SA_START, VK_SA_SHUTDOWN, VK_SA_DESTROY, VK_SA_PAUSE, VK_SA_UNPAUSE,
};

struct vk_route {
    enum vk_route_kind kind;
    enum vk_serve_action action;
    char name[80];      /* the VM (valid by vk_name_valid) */
    char file[128];     /* STATIC: a plain file name: no '/', no leading '.';
                         * NOVNC: plain names joined by single '/' */
};

/* The name of an action ("start"...). */
const char *vk_serve_action_name(enum vk_serve_action a);

/* Route the path of a request (as the HTTP library decoded it, NUL-
 * terminated, at most len bytes looked at).  Returns 200 with *r filled,
 * 404 (no such resource; also any '..', '%', '\\' or control byte, a path
 * that is not one plain file name under / or plain names under /novnc/)
 * or 400 (an unknown action or a
 * VM name vk_name_valid refuses), with a reason in why. */
int vk_serve_route(const char *path, size_t len, struct vk_route *r, char *why, size_t wlen);

/* The options a POST body may carry for action a. */
struct vk_act_opts {
    int paused;         /* start: with the CPUs stopped */
};

/* Parse the body of an action request: empty (or blank), or a JSON
 * object whose keys the action knows ("paused": bool for start).
 * Returns 200 with *o filled, or 400 with the reason in why (not JSON,
 * not an object, an unknown key, a value of the wrong type). */
int vk_serve_body(const char *buf, size_t len, enum vk_serve_action a, struct vk_act_opts *o,
                  char *why, size_t wlen);

/* Whether a request may change state as far as its origin goes (the
 * token or client certificate is checked elsewhere): Sec-Fetch-Site, when
 * sent, is "same-origin" or "none"; Origin, when sent, is exactly
 * "http://HOST" or "https://HOST" for the request's Host header.  NULL or
 * "" means the header was absent.  1 when allowed, 0 when cross-site. */
int vk_serve_same_origin(const char *origin, const char *host, const char *fetch_site);

/* Parse --listen "ADDR:PORT" (ADDR an IPv4 address or "localhost", PORT
 * 0..65535, 0 = any free port) into addr (dotted quad) and *port, and
 * *loopback = whether ADDR is in 127.0.0.0/8.  0 or -EINVAL naming s. */
int vk_serve_parse_listen(const char *s, char *addr, size_t alen, int *port, int *loopback);

/* Parse a VNC address as the runtime dir records it ("127.0.0.1:5900",
 * "[::1]:5901", from QEMU's query-vnc) into *sa (an IPv4 or IPv6 socket
 * address, *salen its size).  0; -EPERM when the host is not a loopback
 * address (127.0.0.0/8, ::1): serve bridges only to those; -EINVAL naming
 * s when it is no HOST:PORT. */
int vk_serve_vnc_addr(const char *s, struct sockaddr_storage *sa, socklen_t *salen);

#endif
