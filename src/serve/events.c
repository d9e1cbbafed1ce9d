/* vmkit serve: live updates.  The runtime dirs and the config store are
 * polled every 500 ms (the CLI changes them without telling anyone); when
 * the VM list differs from the last one, every event stream gets it as
 * one server-sent event "data: [...]". */
#include "serve/serve_int.h"

#include "util/err.h"

#include <stdlib.h>
#include <string.h>

#define POLL_US (500 * LWS_US_PER_MS)

/* Re-read the list; 1 when it changed. */
static int refresh(struct vk_server *srv)
{
    char *text;
    size_t len;
    if (vk_serve_vm_list(&text, &len) < 0) {
        vk_error_clear();
        return 0;
    }
    if (srv->list && len == srv->list_len && !memcmp(text, srv->list, len)) {
        free(text);
        return 0;
    }
    free(srv->list);
    srv->list = text;
    srv->list_len = len;
    srv->gen++;
    return 1;
}

static void poll_cb(lws_sorted_usec_list_t *sul)
{
    struct vk_server *srv = lws_container_of(sul, struct vk_server, poll);
    if (refresh(srv))
        lws_callback_on_writable_all_protocol(srv->ctx, &vk_serve_protocols[0]);
    lws_sul_schedule(srv->ctx, 0, &srv->poll, poll_cb, POLL_US);
}

/* Contract in serve_int.h. */
void vk_events_start(struct vk_server *srv)
{
    refresh(srv);
    lws_sul_schedule(srv->ctx, 0, &srv->poll, poll_cb, POLL_US);
}

/* Contract in serve_int.h. */
int vk_events_begin(struct lws *wsi, struct vk_pss *pss)
{
    unsigned char buf[LWS_PRE + 512], *start = buf + LWS_PRE, *p = start,
                                      *end = buf + sizeof buf - 1;
    if (lws_add_http_common_headers(wsi, HTTP_STATUS_OK, "text/event-stream",
                                    LWS_ILLEGAL_HTTP_CONTENT_LEN, &p, end) ||
        lws_add_http_header_by_name(wsi, (const unsigned char *)"cache-control:",
                                    (const unsigned char *)"no-store", 8, &p, end) ||
        lws_finalize_write_http_header(wsi, start, &p, end))
        return -1;
    pss->sse = 1;
    pss->gen_sent = pss->srv->gen - 1;     /* the current list goes out first */
    /* an endless HTTP/1.1 body: no transaction timeout (lws_http_mark_sse
     * is for HTTP/2 streams and complains on HTTP/1.1) */
    lws_set_timeout(wsi, NO_PENDING_TIMEOUT, 0);
    lws_callback_on_writable(wsi);
    return 0;
}

/* Contract in serve_int.h. */
int vk_events_write(struct lws *wsi, struct vk_pss *pss)
{
    struct vk_server *srv = pss->srv;
    if (pss->gen_sent == srv->gen || !srv->list)
        return 0;
    size_t n = srv->list_len + 8;
    unsigned char *buf = malloc(LWS_PRE + n + 1);
    if (!buf)
        return -1;
    memcpy(buf + LWS_PRE, "data: ", 6);
    memcpy(buf + LWS_PRE + 6, srv->list, srv->list_len);
    memcpy(buf + LWS_PRE + 6 + srv->list_len, "\n\n", 2);
    int w = lws_write(wsi, buf + LWS_PRE, n, LWS_WRITE_HTTP);
    free(buf);
    if (w < (int)n)
        return -1;
    pss->gen_sent = srv->gen;
    return 0;
}
