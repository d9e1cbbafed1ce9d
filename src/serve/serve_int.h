/* vmkit serve internals shared by http.c, static.c and events.c. */
#ifndef VK_SERVE_INT_H
#define VK_SERVE_INT_H

#include "serve/api.h"
#include "serve/req.h"
#include "serve/serve.h"

#include <libwebsockets.h>

#define VK_SERVE_BODY_MAX 16384   /* a POST body larger than this: 413 */

struct vk_server {
    const struct vk_serve_opts *o;
    struct lws_context *ctx;
    struct lws_vhost *vh;
    int tls;
    int webdir_fd;              /* O_PATH of the web dir */
    int novnc_fd;               /* O_PATH of the noVNC dir, -1 when absent */
    char token[65];             /* hex; "" with TLS */
    char token_path[4200];
    /* the VM list as the events last saw it, and its generation */
    char *list;
    size_t list_len;
    unsigned gen;
    lws_sorted_usec_list_t poll;
    struct vk_console *consoles;   /* open console sessions (console.c) */
};

/* Per HTTP connection (lws keeps it across keep-alive requests). */
struct vk_pss {
    struct vk_server *srv;
    struct vk_route route;
    char *body;                 /* the POST body so far */
    size_t body_len;
    int body_over;              /* more than VK_SERVE_BODY_MAX came */
    char *resp;                 /* the response body still to send */
    size_t resp_len, resp_off;
    int deferred;               /* an error status to send after the body */
    char deferred_why[256];
    int pending;                /* a response is being sent */
    int close_after;            /* close instead of keep-alive */
    int sse;                    /* an event stream */
    unsigned gen_sent;
    struct vk_console *con;     /* a console WebSocket's session */
};

/* A line for the operator (o->log). */
void vk_serve_logf(struct vk_server *srv, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Who is asking: "CN=..." of the client certificate, or "loopback". */
void vk_http_peer(struct lws *wsi, struct vk_server *srv, char *buf, size_t len);

/* May this request change state (or open a console)?  0, or 403 with the
 * reason in why: cross-site (Origin, Sec-Fetch-Site), or without TLS a
 * token that is not the session's. */
int vk_http_may_change(struct lws *wsi, struct vk_server *srv, const char *token, char *why,
                       size_t wlen);

/* The console WebSocket (console.c): FILTER_PROTOCOL_CONNECTION (1 to
 * refuse: not allowed), ESTABLISHED (connects, or closes the WebSocket
 * with "STATUS reason"), RECEIVE, SERVER_WRITEABLE, CLOSED; and the raw
 * protocol's callback for the adopted console socket. */
int vk_console_filter(struct lws *wsi);
int vk_console_establish(struct lws *wsi, struct vk_pss *pss);
int vk_console_rx(struct lws *wsi, struct vk_pss *pss, const void *in, size_t len);
int vk_console_writable(struct lws *wsi, struct vk_pss *pss);
void vk_console_closed(struct lws *wsi, struct vk_pss *pss);
int vk_console_raw_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                      size_t len);

/* Send status, content type and body (taken over; may be NULL with len 0)
 * as the response to wsi.  0, or -1 to close the connection. */
int vk_http_respond(struct lws *wsi, struct vk_pss *pss, int status, const char *ctype,
                    char *body, size_t len);

/* Respond with {"error": msg, "status": status}. */
int vk_http_error(struct lws *wsi, struct vk_pss *pss, int status, const char *msg);

/* Connect to running VM name's VNC server (its address as `vmkit list -l`
 * shows it; loopback only).  The socket (close-on-exec, blocking), or
 * -ENOENT no such VM, -ESRCH not running, -ENODEV no VNC, -EPERM not on
 * loopback, another negative errno (connect). */
int vk_serve_vnc_open(const char *name);

/* Respond with the file r->file of the web dir (404 when it is not a
 * regular file there; symlinks are not followed). */
int vk_static_send(struct lws *wsi, struct vk_pss *pss, const char *file);

/* Respond with the file at relative path file of the noVNC dir (404 when
 * noVNC is not there or the path is no regular file below it: no
 * component may be a symlink). */
int vk_static_send_novnc(struct lws *wsi, struct vk_pss *pss, const char *file);

/* Open o->webdir (0 or -ENOENT naming it) and o->novncdir (absent: no
 * graphical console, not an error). */
int vk_static_open(struct vk_server *srv);

/* Start the event stream on wsi (headers now, the list on writable). */
int vk_events_begin(struct lws *wsi, struct vk_pss *pss);

/* Write the current VM list to an event stream that has not had it. */
int vk_events_write(struct lws *wsi, struct vk_pss *pss);

/* Begin polling the runtime dirs every 500 ms; a changed list wakes the
 * event streams. */
void vk_events_start(struct vk_server *srv);

/* LWS_CALLBACK_OPENSSL_LOAD_EXTRA_SERVER_VERIFY_CERTS: load
 * CONFIG/tls/crl.pem into the SSL_CTX ssl_ctx and check it for every
 * client.  0, or -1 after logging why. */
int vk_tls_load_crl(struct vk_server *srv, void *ssl_ctx);

/* LWS_CALLBACK_OPENSSL_PERFORM_CLIENT_CERT_VERIFICATION: 0 to accept the
 * client's certificate when OpenSSL found it good (preverify_ok), else 1
 * after logging why (x509_ctx: the X509_STORE_CTX). */
int vk_tls_verify(void *x509_ctx, int preverify_ok);

extern const struct lws_protocols vk_serve_protocols[];

#endif
