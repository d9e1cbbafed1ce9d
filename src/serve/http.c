/* vmkit serve: the libwebsockets glue (serve.h): routing each request to
 * the static files, the API or the event stream, and who may change
 * state. */
#include "serve/serve_int.h"

#include "util/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Contract in serve_int.h. */
void vk_serve_logf(struct vk_server *srv, const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (srv->o->log)
        srv->o->log(line, srv->o->ctx);
}

/* Contract in serve_int.h. */
int vk_http_respond(struct lws *wsi, struct vk_pss *pss, int status, const char *ctype,
                    char *body, size_t len)
{
    unsigned char buf[LWS_PRE + 1024], *start = buf + LWS_PRE, *p = start,
                                       *end = buf + sizeof buf - 1;
    free(pss->resp);
    pss->resp = body;
    pss->resp_len = len;
    pss->resp_off = 0;
    pss->pending = 1;
    if (lws_add_http_common_headers(wsi, (unsigned)status, ctype, len, &p, end) ||
        lws_add_http_header_by_name(wsi, (const unsigned char *)"cache-control:",
                                    (const unsigned char *)"no-store", 8, &p, end) ||
        (pss->close_after &&
         lws_add_http_header_by_token(wsi, WSI_TOKEN_CONNECTION,
                                      (const unsigned char *)"close", 5, &p, end)) ||
        lws_finalize_write_http_header(wsi, start, &p, end))
        return -1;
    lws_callback_on_writable(wsi);
    return 0;
}

/* Contract in serve_int.h. */
int vk_http_error(struct lws *wsi, struct vk_pss *pss, int status, const char *msg)
{
    struct vk_serve_resp r;
    vk_serve_error(&r, status, msg);
    return vk_http_respond(wsi, pss, r.status, "application/json", r.body, r.len);
}

/* The value of header name ("x-vmkit-token:") into buf, "" when absent. */
static void custom_hdr(struct lws *wsi, const char *name, char *buf, int len)
{
    buf[0] = 0;
    int n = lws_hdr_custom_length(wsi, name, (int)strlen(name));
    if (n <= 0 || n >= len || lws_hdr_custom_copy(wsi, buf, len, name, (int)strlen(name)) < 0)
        buf[0] = 0;
}

static void token_hdr(struct lws *wsi, enum lws_token_indexes t, char *buf, int len)
{
    buf[0] = 0;
    if (lws_hdr_total_length(wsi, t) <= 0 || lws_hdr_total_length(wsi, t) >= len ||
        lws_hdr_copy(wsi, buf, len, t) < 0)
        buf[0] = 0;
}

/* Contract in serve_int.h. */
void vk_http_peer(struct lws *wsi, struct vk_server *srv, char *buf, size_t len)
{
    snprintf(buf, len, "loopback");
    if (!srv->tls)
        return;
    union lws_tls_cert_info_results *ci;
    char b[sizeof *ci + 256];
    ci = (union lws_tls_cert_info_results *)b;
    if (!lws_tls_peer_cert_info(wsi, LWS_TLS_CERT_INFO_COMMON_NAME, ci, 256))
        snprintf(buf, len, "CN=%.*s", ci->ns.len, ci->ns.name);
    else
        snprintf(buf, len, "(certificate without a common name)");
}

static int equal_ct(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    unsigned char d = la != lb;
    for (size_t i = 0; i < la && i < lb; i++)
        d |= (unsigned char)(a[i] ^ b[i]);
    return d == 0;
}

/* Contract in serve_int.h. */
int vk_http_may_change(struct lws *wsi, struct vk_server *srv, const char *token, char *why,
                       size_t wlen)
{
    char origin[256], host[256], site[64];
    token_hdr(wsi, WSI_TOKEN_ORIGIN, origin, sizeof origin);
    token_hdr(wsi, WSI_TOKEN_HOST, host, sizeof host);
    custom_hdr(wsi, "sec-fetch-site:", site, sizeof site);
    if (!vk_serve_same_origin(origin, host, site)) {
        snprintf(why, wlen, "cross-site request refused (Origin '%.80s', Sec-Fetch-Site '%.20s')",
                 origin, site);
        return 403;
    }
    if (srv->tls)     /* the handshake verified the client certificate */
        return 0;
    if (!*token || !equal_ct(token, srv->token)) {
        snprintf(why, wlen, "%s X-Vmkit-Token (see the URL vmkit serve printed)",
                 *token ? "wrong" : "missing");
        return 403;
    }
    return 0;
}

enum method { M_GET, M_POST, M_OTHER };

static enum method method_of(struct lws *wsi)
{
    if (lws_hdr_total_length(wsi, WSI_TOKEN_GET_URI) > 0)
        return M_GET;
    if (lws_hdr_total_length(wsi, WSI_TOKEN_POST_URI) > 0)
        return M_POST;
    return M_OTHER;
}

static int api_answer(struct lws *wsi, struct vk_pss *pss, const struct vk_act_opts *ao)
{
    struct vk_serve_resp r;
    vk_serve_api(&pss->route, ao, &r);
    if (pss->route.kind == VK_ROUTE_ACTION) {
        char who[300];
        vk_http_peer(wsi, pss->srv, who, sizeof who);
        vk_serve_logf(pss->srv, "%s: %s %s: %d%s%.*s", who, vk_serve_action_name(pss->route.action),
             pss->route.name, r.status, r.status == 200 ? "" : " ",
             r.status == 200 ? 0 : (int)r.len, r.body);
    }
    return vk_http_respond(wsi, pss, r.status, "application/json", r.body, r.len);
}

/* Whether the request announces a body (length or chunked). */
static int has_body(struct lws *wsi, const char *cl)
{
    return (*cl && strcmp(cl, "0")) || lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_TRANSFER_ENCODING) > 0;
}

/* Answer status now, or, when a body follows, once it has been read
 * (and dropped), so the connection stays in step; a body over the limit
 * by its length is not read: 413 and the connection is closed. */
static int refuse(struct lws *wsi, struct vk_pss *pss, const char *cl, int status, const char *why)
{
    if (*cl && strtoull(cl, NULL, 10) > VK_SERVE_BODY_MAX) {
        pss->close_after = 1;
        return vk_http_error(wsi, pss, 413, "request body too large");
    }
    if (!has_body(wsi, cl))
        return vk_http_error(wsi, pss, status, why);
    pss->deferred = status;
    snprintf(pss->deferred_why, sizeof pss->deferred_why, "%s", why);
    return 0;
}

static int on_http(struct lws *wsi, struct vk_pss *pss, const char *path)
{
    char why[256], cl[32];
    enum method m = method_of(wsi);
    pss->close_after = 0;
    pss->deferred = 0;
    pss->body_len = 0;
    pss->body_over = 0;
    token_hdr(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH, cl, sizeof cl);
    int st = vk_serve_route(path, 4096, &pss->route, why, sizeof why);
    if (st != 200)
        return refuse(wsi, pss, cl, st, why);
    int want_post = pss->route.kind == VK_ROUTE_ACTION;
    if (m != (want_post ? M_POST : M_GET))
        return refuse(wsi, pss, cl, 405, want_post ? "use POST" : "use GET");
    switch (pss->route.kind) {
    case VK_ROUTE_STATIC:
        return vk_static_send(wsi, pss, pss->route.file);
    case VK_ROUTE_NOVNC:
        return vk_static_send_novnc(wsi, pss, pss->route.file);
    case VK_ROUTE_EVENTS:
        return vk_events_begin(wsi, pss);
    case VK_ROUTE_LIST:
    case VK_ROUTE_VM:
        return api_answer(wsi, pss, NULL);
    case VK_ROUTE_CONSOLE:
    case VK_ROUTE_VNC:
        return vk_http_error(wsi, pss, 426, "a WebSocket (Upgrade: websocket) is needed here");
    case VK_ROUTE_ACTION:
        break;
    }
    char token[128];
    custom_hdr(wsi, "x-vmkit-token:", token, sizeof token);
    if ((st = vk_http_may_change(wsi, pss->srv, token, why, sizeof why))) {
        char who[300];
        vk_http_peer(wsi, pss->srv, who, sizeof who);
        vk_serve_logf(pss->srv, "%s: %s %s refused: %s", who, vk_serve_action_name(pss->route.action),
             pss->route.name, why);
        return refuse(wsi, pss, cl, st, why);
    }
    if (*cl && strtoull(cl, NULL, 10) > VK_SERVE_BODY_MAX)
        return refuse(wsi, pss, cl, 413, "request body too large");
    if (!has_body(wsi, cl)) {
        struct vk_act_opts ao = { 0 };
        return api_answer(wsi, pss, &ao);
    }
    return 0;   /* the body comes in LWS_CALLBACK_HTTP_BODY */
}

static int on_body_done(struct lws *wsi, struct vk_pss *pss)
{
    char why[256];
    if (pss->deferred) {
        free(pss->body);
        pss->body = NULL;
        return vk_http_error(wsi, pss, pss->deferred, pss->deferred_why);
    }
    if (pss->body_over) {
        pss->close_after = 1;
        return vk_http_error(wsi, pss, 413, "request body too large");
    }
    struct vk_act_opts ao;
    int st = vk_serve_body(pss->body ? pss->body : "", pss->body_len, pss->route.action, &ao,
                           why, sizeof why);
    free(pss->body);
    pss->body = NULL;
    pss->body_len = 0;
    if (st != 200)
        return vk_http_error(wsi, pss, st, why);
    return api_answer(wsi, pss, &ao);
}

static int on_writable(struct lws *wsi, struct vk_pss *pss)
{
    if (pss->sse)
        return vk_events_write(wsi, pss);
    if (!pss->pending)
        return 0;   /* nothing pending (a wake-up meant for the streams) */
    unsigned char buf[LWS_PRE + 16384];
    size_t n = pss->resp_len - pss->resp_off;
    if (n > sizeof buf - LWS_PRE)
        n = sizeof buf - LWS_PRE;
    if (n)
        memcpy(buf + LWS_PRE, pss->resp + pss->resp_off, n);
    pss->resp_off += n;
    int last = pss->resp_off == pss->resp_len;
    if (lws_write(wsi, buf + LWS_PRE, n, last ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP) < (int)n)
        return -1;
    if (!last) {
        lws_callback_on_writable(wsi);
        return 0;
    }
    free(pss->resp);
    pss->resp = NULL;
    pss->resp_len = pss->resp_off = 0;
    pss->pending = 0;
    if (pss->close_after)
        return -1;
    return lws_http_transaction_completed(wsi) ? -1 : 0;
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                    size_t len)
{
    struct vk_pss *pss = user;
    switch (reason) {
    case LWS_CALLBACK_OPENSSL_PERFORM_CLIENT_CERT_VERIFICATION:
        /* lws accepts the certificate unless this says otherwise (and
         * wsi is NULL here): OpenSSL's verdict, CA and CRL, decides */
        return vk_tls_verify(user, (int)len);
    case LWS_CALLBACK_OPENSSL_LOAD_EXTRA_SERVER_VERIFY_CERTS:
        return vk_tls_load_crl(lws_context_user(lws_get_context(wsi)), user);
    case LWS_CALLBACK_HTTP:
        pss->srv = lws_context_user(lws_get_context(wsi));
        return on_http(wsi, pss, in ? in : "");
    case LWS_CALLBACK_HTTP_BODY:
        if (pss->deferred || pss->body_over || pss->body_len + len > VK_SERVE_BODY_MAX) {
            pss->body_over = 1;
            return 0;
        }
        char *nb = realloc(pss->body, pss->body_len + len + 1);
        if (!nb)
            return -1;
        memcpy(nb + pss->body_len, in, len);
        pss->body = nb;
        pss->body_len += len;
        return 0;
    case LWS_CALLBACK_HTTP_BODY_COMPLETION:
        return on_body_done(wsi, pss);
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
        return vk_console_filter(wsi);
    case LWS_CALLBACK_ESTABLISHED:
        return vk_console_establish(wsi, pss);
    case LWS_CALLBACK_RECEIVE:
        return vk_console_rx(wsi, pss, in, len);
    case LWS_CALLBACK_SERVER_WRITEABLE:
        return vk_console_writable(wsi, pss);
    case LWS_CALLBACK_CLOSED:
        vk_console_closed(wsi, pss);
        return 0;
    case LWS_CALLBACK_HTTP_WRITEABLE:
        return pss ? on_writable(wsi, pss) : 0;
    case LWS_CALLBACK_CLOSED_HTTP:
        if (pss) {
            free(pss->body);
            free(pss->resp);
            pss->body = pss->resp = NULL;
            pss->resp_len = pss->resp_off = 0;
        }
        return 0;
    default:
        return lws_callback_http_dummy(wsi, reason, user, in, len);
    }
}

/* "binary": the WebSocket subprotocol websockify's clients ask for (noVNC
 * 1.3 asks for none by default); lws refuses a handshake naming no
 * protocol it has, so the bridge answers to this name too. */
const struct lws_protocols vk_serve_protocols[] = {
    { "http", callback, sizeof(struct vk_pss), 0, 0, NULL, 0 },
    { "binary", callback, sizeof(struct vk_pss), 0, 0, NULL, 0 },
    { "vmkit-console-raw", vk_console_raw_cb, 0, 0, 0, NULL, 0 },
    { NULL, NULL, 0, 0, 0, NULL, 0 },
};
