/* vmkit serve: parsing the untrusted parts of a request (req.h). */
#include "serve/req.h"

#include "util/err.h"
#include "vm/store.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const action_names[] = {
    [VK_SA_START] = "start", [VK_SA_SHUTDOWN] = "shutdown", [VK_SA_DESTROY] = "destroy",
    [VK_SA_PAUSE] = "pause", [VK_SA_UNPAUSE] = "unpause",
};

/* Contract in req.h. */
const char *vk_serve_action_name(enum vk_serve_action a)
{
    return (unsigned)a < sizeof action_names / sizeof *action_names ? action_names[a] : "?";
}

static int why_status(char *why, size_t wlen, int status, const char *msg)
{
    snprintf(why, wlen, "%s", msg);
    return status;
}

/* A plain file name of the web dir: [A-Za-z0-9_-][A-Za-z0-9._-]*, so no
 * '/' and no hidden file. */
static int plain_file(const char *s, size_t n)
{
    if (n == 0 || n >= 64 || s[0] == '.')
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return 0;
    }
    return 1;   /* ".." anywhere in the path was refused before */
}

/* Contract in req.h. */
int vk_serve_route(const char *path, size_t len, struct vk_route *r, char *why, size_t wlen)
{
    memset(r, 0, sizeof *r);
    size_t n = strnlen(path, len);
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)path[i] < 0x20 || path[i] == 0x7f || path[i] == '%' || path[i] == '\\')
            return why_status(why, wlen, 404, "no such resource");
    if (n == 0 || path[0] != '/')
        return why_status(why, wlen, 404, "no such resource");
    for (size_t i = 0; i + 1 < n; i++)
        if (path[i] == '.' && path[i + 1] == '.')
            return why_status(why, wlen, 404, "no such resource");
    const char *p = path + 1;
    size_t rest = n - 1;
    if (rest == 0) {
        snprintf(r->file, sizeof r->file, "index.html");
        r->kind = VK_ROUTE_STATIC;
        return 200;
    }
    static const struct { const char *prefix; enum vk_route_kind kind; } ws[] = {
        { "ws/console/", VK_ROUTE_CONSOLE }, { "ws/vnc/", VK_ROUTE_VNC },
    };
    for (size_t i = 0; i < sizeof ws / sizeof *ws; i++) {
        size_t pl = strlen(ws[i].prefix);
        if (rest <= pl || memcmp(p, ws[i].prefix, pl))
            continue;
        size_t nl = rest - pl;
        if (nl >= sizeof r->name)
            return why_status(why, wlen, 400, "bad VM name");
        memcpy(r->name, p + pl, nl);
        r->name[nl] = 0;
        if (!vk_name_valid(r->name))
            return why_status(why, wlen, 400, "bad VM name");
        r->kind = ws[i].kind;
        return 200;
    }
    static const char nv[] = "novnc/";
    if (rest > sizeof nv - 1 && !memcmp(p, nv, sizeof nv - 1)) {
        const char *f = p + sizeof nv - 1;
        size_t fl = rest - (sizeof nv - 1);
        if (fl >= sizeof r->file)
            return why_status(why, wlen, 404, "no such resource");
        /* each component a plain name: no empty one, none hidden */
        for (size_t s = 0, e; s <= fl; s = e + 1) {
            const char *sl = memchr(f + s, '/', fl - s);
            e = sl ? (size_t)(sl - f) : fl;
            if (!plain_file(f + s, e - s))
                return why_status(why, wlen, 404, "no such resource");
        }
        memcpy(r->file, f, fl);
        r->file[fl] = 0;
        r->kind = VK_ROUTE_NOVNC;
        return 200;
    }
    static const char api[] = "api/";
    if (rest < sizeof api - 1 || memcmp(p, api, sizeof api - 1)) {
        if (!plain_file(p, rest))
            return why_status(why, wlen, 404, "no such resource");
        memcpy(r->file, p, rest);
        r->file[rest] = 0;
        r->kind = VK_ROUTE_STATIC;
        return 200;
    }
    p += sizeof api - 1;
    rest -= sizeof api - 1;
    if (rest == 6 && !memcmp(p, "events", 6)) {
        r->kind = VK_ROUTE_EVENTS;
        return 200;
    }
    if (rest == 3 && !memcmp(p, "vms", 3)) {
        r->kind = VK_ROUTE_LIST;
        return 200;
    }
    if (rest < 4 || memcmp(p, "vms/", 4))
        return why_status(why, wlen, 404, "no such resource");
    p += 4;
    rest -= 4;
    const char *slash = memchr(p, '/', rest);
    size_t nl = slash ? (size_t)(slash - p) : rest;
    if (nl == 0 || nl >= sizeof r->name)
        return why_status(why, wlen, 400, "bad VM name");
    memcpy(r->name, p, nl);
    r->name[nl] = 0;
    if (!vk_name_valid(r->name))
        return why_status(why, wlen, 400, "bad VM name");
    if (!slash) {
        r->kind = VK_ROUTE_VM;
        return 200;
    }
    const char *act = slash + 1;
    size_t al = rest - nl - 1;
    for (size_t i = 0; i < sizeof action_names / sizeof *action_names; i++)
        if (strlen(action_names[i]) == al && !memcmp(act, action_names[i], al)) {
            r->kind = VK_ROUTE_ACTION;
            r->action = (enum vk_serve_action)i;
            return 200;
        }
    return why_status(why, wlen, 400, "unknown action (start, shutdown, destroy, pause, unpause)");
}

/* Contract in req.h. */
int vk_serve_body(const char *buf, size_t len, enum vk_serve_action a, struct vk_act_opts *o,
                  char *why, size_t wlen)
{
    memset(o, 0, sizeof *o);
    size_t i = 0;
    while (i < len && (buf[i] == ' ' || buf[i] == '\t' || buf[i] == '\r' || buf[i] == '\n'))
        i++;
    if (i == len)
        return 200;
    json_error_t jerr;
    json_t *j = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!j) {
        snprintf(why, wlen, "malformed JSON body: %s (at byte %d)", jerr.text, jerr.position);
        return 400;
    }
    int status = 200;
    if (!json_is_object(j)) {
        snprintf(why, wlen, "the body must be a JSON object");
        status = 400;
    }
    const char *key;
    json_t *v;
    json_object_foreach(status == 200 ? j : NULL, key, v) {
        if (a == VK_SA_START && !strcmp(key, "paused") && json_is_boolean(v)) {
            o->paused = json_is_true(v);
            continue;
        }
        snprintf(why, wlen, "%s: unknown key or wrong type for %.40s", vk_serve_action_name(a), key);
        status = 400;
        break;
    }
    json_decref(j);
    return status;
}

/* Contract in req.h. */
int vk_serve_same_origin(const char *origin, const char *host, const char *fetch_site)
{
    if (fetch_site && *fetch_site && strcmp(fetch_site, "same-origin") && strcmp(fetch_site, "none"))
        return 0;
    if (!origin || !*origin)
        return 1;
    if (!host || !*host)
        return 0;
    const char *rest = !strncmp(origin, "http://", 7) ? origin + 7
                       : !strncmp(origin, "https://", 8) ? origin + 8 : NULL;
    return rest && !strcmp(rest, host);
}

/* Contract in req.h. */
int vk_serve_vnc_addr(const char *s, struct sockaddr_storage *sa, socklen_t *salen)
{
    char host[64];
    const char *colon = strrchr(s, ':'), *h = s;
    size_t hl = colon ? (size_t)(colon - s) : 0;
    if (hl >= 2 && s[0] == '[' && s[hl - 1] == ']') {   /* "[v6]:port" */
        h++;
        hl -= 2;
    }
    char *end;
    long port = colon ? strtol(colon + 1, &end, 10) : -1;
    if (!colon || hl == 0 || hl >= sizeof host || !colon[1] || *end || port < 1 || port > 65535)
        return vk_error(-EINVAL, "VNC address '%.100s': expected HOST:PORT", s);
    memcpy(host, h, hl);
    host[hl] = 0;
    memset(sa, 0, sizeof *sa);
    struct sockaddr_in *v4 = (struct sockaddr_in *)sa;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)sa;
    if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons((uint16_t)port);
        *salen = sizeof *v4;
        if ((ntohl(v4->sin_addr.s_addr) >> 24) != 127)
            return vk_error(-EPERM, "VNC address %s is not on loopback", s);
        return 0;
    }
    if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons((uint16_t)port);
        *salen = sizeof *v6;
        if (!IN6_IS_ADDR_LOOPBACK(&v6->sin6_addr))
            return vk_error(-EPERM, "VNC address %s is not on loopback", s);
        return 0;
    }
    return vk_error(-EINVAL, "VNC address '%.100s': the host is no IP address", s);
}

/* Contract in req.h. */
int vk_serve_parse_listen(const char *s, char *addr, size_t alen, int *port, int *loopback)
{
    const char *colon = strrchr(s, ':');
    char host[64];
    if (!colon || colon == s || (size_t)(colon - s) >= sizeof host)
        return vk_error(-EINVAL, "--listen %s: expected ADDR:PORT (127.0.0.1:8080)", s);
    memcpy(host, s, (size_t)(colon - s));
    host[colon - s] = 0;
    char *end;
    long p = strtol(colon + 1, &end, 10);
    if (!colon[1] || *end || p < 0 || p > 65535)
        return vk_error(-EINVAL, "--listen %s: the port must be 0..65535", s);
    if (!strcmp(host, "localhost"))
        snprintf(host, sizeof host, "127.0.0.1");
    struct in_addr in;
    if (inet_pton(AF_INET, host, &in) != 1)
        return vk_error(-EINVAL, "--listen %s: '%s' is not an IPv4 address", s, host);
    if (snprintf(addr, alen, "%s", host) >= (int)alen)
        return vk_error(-ENAMETOOLONG, "--listen %s: address too long", s);
    *port = (int)p;
    *loopback = (ntohl(in.s_addr) >> 24) == 127;
    return 0;
}
