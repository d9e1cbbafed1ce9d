/* vmkit serve: a WebSocket bridged to a socket of a VM, which lws adopts
 * as a raw socket (so both sides are served by the one event loop): the
 * serial console (/ws/console/NAME, QEMU's console socket) or the display
 * (/ws/vnc/NAME, QEMU's VNC server on loopback, for noVNC).  Bytes pass
 * unchanged both ways in binary frames.  One browser session per VM and
 * kind at a time (QEMU serves one console client; a second VNC client
 * would share the screen unseen): a second gets "409 ... busy".  The
 * socket is the WebSocket's child: closing the page closes it; the VM
 * going away closes the page's WebSocket. */
#include "serve/serve_int.h"

#include "util/err.h"
#include "vm/console.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CON_BUF 65536
/* Reading stops while less than this is free: lws hands over at most its
 * service buffer (4 KiB by default) per callback, so nothing is cut (a cut
 * RFB stream would be garbage). */
#define CON_LOW 16384

struct vk_console {
    struct vk_server *srv;
    struct vk_console *next;    /* srv->consoles */
    struct lws *ws, *raw;
    enum vk_route_kind kind;    /* VK_ROUTE_CONSOLE or VK_ROUTE_VNC */
    char name[80];
    unsigned char out[LWS_PRE + CON_BUF];   /* console -> page */
    size_t out_len;
    unsigned char in[LWS_PRE + CON_BUF];    /* page -> console */
    size_t in_len;
    int gone;                   /* the console socket closed */
    int close_code;             /* > 0: close the WebSocket with this */
    char close_why[120];
};

static const char *kind_name(enum vk_route_kind k)
{
    return k == VK_ROUTE_VNC ? "VNC" : "console";
}

/* Contract in serve_int.h. */
int vk_console_filter(struct lws *wsi)
{
    struct vk_server *srv = lws_context_user(lws_get_context(wsi));
    char path[512], why[256], tok[128] = "";
    struct vk_route r;
    if (lws_hdr_copy(wsi, path, sizeof path, WSI_TOKEN_GET_URI) <= 0 ||
        vk_serve_route(path, sizeof path, &r, why, sizeof why) != 200 ||
        (r.kind != VK_ROUTE_CONSOLE && r.kind != VK_ROUTE_VNC))
        return 0;   /* ESTABLISHED answers with the reason */
    const char *t = lws_get_urlarg_by_name(wsi, "token=", tok, sizeof tok);
    if (vk_http_may_change(wsi, srv, t ? t : "", why, sizeof why)) {
        char who[300];
        vk_http_peer(wsi, srv, who, sizeof who);
        vk_serve_logf(srv, "%s: %s %s refused: %s", who, kind_name(r.kind), r.name, why);
        return 1;
    }
    return 0;
}

static void fail(struct vk_console *c, int code, const char *why)
{
    c->close_code = code;
    snprintf(c->close_why, sizeof c->close_why, "%.119s", why);   /* a close reason: 123 bytes at most */
    lws_callback_on_writable(c->ws);
}

/* Contract in serve_int.h. */
int vk_console_establish(struct lws *wsi, struct vk_pss *pss)
{
    struct vk_server *srv = lws_context_user(lws_get_context(wsi));
    struct vk_console *c = calloc(1, sizeof *c);
    if (!c)
        return -1;
    c->srv = srv;
    c->ws = wsi;
    pss->srv = srv;
    pss->con = c;
    char path[512], why[256], who[300];
    struct vk_route r;
    int st = lws_hdr_copy(wsi, path, sizeof path, WSI_TOKEN_GET_URI) > 0
                 ? vk_serve_route(path, sizeof path, &r, why, sizeof why) : 404;
    if (st == 200 && r.kind != VK_ROUTE_CONSOLE && r.kind != VK_ROUTE_VNC) {
        st = 404;
        snprintf(why, sizeof why, "no such console");
    }
    if (st != 200) {
        char m[300];
        snprintf(m, sizeof m, "%d %s", st, why);
        fail(c, LWS_CLOSE_STATUS_POLICY_VIOLATION, m);
        return 0;
    }
    snprintf(c->name, sizeof c->name, "%s", r.name);
    c->kind = r.kind;
    for (struct vk_console *o = srv->consoles; o; o = o->next)
        if (o->kind == c->kind && !strcmp(o->name, c->name)) {
            fail(c, LWS_CLOSE_STATUS_POLICY_VIOLATION, c->kind == VK_ROUTE_VNC
                 ? "409 VNC busy (open in another page)" : "409 console busy (open in another page)");
            c->name[0] = 0;
            return 0;
        }
    char dir[4096];
    int fd = c->kind == VK_ROUTE_VNC ? vk_serve_vnc_open(c->name)
                                     : vk_console_open(c->name, dir, sizeof dir, 2000);
    if (fd < 0) {
        char m[300];
        snprintf(m, sizeof m, "%d %s", fd == -ENOENT ? 404 : fd == -EPERM ? 403 : 409, vk_errmsg());
        vk_error_clear();
        fail(c, LWS_CLOSE_STATUS_POLICY_VIOLATION, m);
        c->name[0] = 0;
        return 0;
    }
    lws_adopt_desc_t ad;
    memset(&ad, 0, sizeof ad);
    ad.vh = lws_get_vhost(wsi);
    ad.type = LWS_ADOPT_SOCKET;
    ad.fd.sockfd = fd;
    ad.vh_prot_name = "vmkit-console-raw";
    ad.parent = wsi;
    ad.opaque = c;
    c->raw = lws_adopt_descriptor_vhost_via_info(&ad);   /* closes fd on failure */
    if (!c->raw) {
        fail(c, LWS_CLOSE_STATUS_UNEXPECTED_CONDITION, "500 cannot attach the VM's socket");
        c->name[0] = 0;
        return 0;
    }
    c->next = srv->consoles;
    srv->consoles = c;
    vk_http_peer(wsi, srv, who, sizeof who);
    vk_serve_logf(srv, "%s: %s %s opened", who, kind_name(c->kind), c->name);
    return 0;
}

/* Contract in serve_int.h. */
int vk_console_rx(struct lws *wsi, struct vk_pss *pss, const void *in, size_t len)
{
    struct vk_console *c = pss->con;
    if (!c || !c->raw || c->gone)
        return 0;
    if (len > CON_BUF - c->in_len) {
        fail(c, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE, "413 too much at once");
        return 0;
    }
    memcpy(c->in + LWS_PRE + c->in_len, in, len);
    c->in_len += len;
    if (CON_BUF - c->in_len < CON_LOW)  /* the VM is slower than the page */
        lws_rx_flow_control(wsi, 0);
    lws_callback_on_writable(c->raw);
    return 0;
}

/* Contract in serve_int.h. */
int vk_console_writable(struct lws *wsi, struct vk_pss *pss)
{
    struct vk_console *c = pss->con;
    if (!c)
        return 0;
    if (c->out_len) {
        int n = lws_write(wsi, c->out + LWS_PRE, c->out_len, LWS_WRITE_BINARY);
        if (n < (int)c->out_len)
            return -1;
        c->out_len = 0;
        if (c->raw)
            lws_rx_flow_control(c->raw, 1);
    }
    if (c->close_code) {
        lws_close_reason(wsi, (enum lws_close_status)c->close_code,
                         (unsigned char *)c->close_why, strlen(c->close_why));
        return -1;
    }
    if (c->gone) {
        const char *m = "VM console closed";
        lws_close_reason(wsi, LWS_CLOSE_STATUS_NORMAL, (unsigned char *)m, strlen(m));
        return -1;
    }
    return 0;
}

/* Contract in serve_int.h. */
void vk_console_closed(struct lws *wsi, struct vk_pss *pss)
{
    struct vk_console *c = pss->con;
    if (!c)
        return;
    struct vk_console **pp = &c->srv->consoles;
    while (*pp && *pp != c)
        pp = &(*pp)->next;
    if (*pp) {
        *pp = c->next;
        vk_serve_logf(c->srv, "%s %s closed", kind_name(c->kind), c->name);
    }
    if (c->raw)     /* the child is closed with its parent: forget us */
        lws_set_opaque_user_data(c->raw, NULL);
    free(c);
    pss->con = NULL;
}

/* Contract in serve_int.h. */
int vk_console_raw_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                        size_t len)
{
    struct vk_console *c = lws_get_opaque_user_data(wsi);
    switch (reason) {
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
        return 1;   /* not a protocol a client may ask for */
    case LWS_CALLBACK_RAW_RX:
        if (!c)
            return -1;
        if (len > CON_BUF - c->out_len)
            return -1;      /* not with CON_LOW: cutting would corrupt the stream */
        memcpy(c->out + LWS_PRE + c->out_len, in, len);
        c->out_len += len;
        if (CON_BUF - c->out_len < CON_LOW)   /* the page is slower than the guest */
            lws_rx_flow_control(wsi, 0);
        lws_callback_on_writable(c->ws);
        return 0;
    case LWS_CALLBACK_RAW_WRITEABLE:
        if (!c || !c->in_len)
            return 0;
        if (lws_write(wsi, c->in + LWS_PRE, c->in_len, LWS_WRITE_RAW) < (int)c->in_len)
            return -1;
        c->in_len = 0;
        lws_rx_flow_control(c->ws, 1);
        return 0;
    case LWS_CALLBACK_RAW_CLOSE:
        if (c) {
            c->raw = NULL;
            c->gone = 1;
            lws_callback_on_writable(c->ws);
        }
        return 0;
    default:
        return 0;
    }
}

