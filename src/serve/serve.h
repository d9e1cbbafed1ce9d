/* vmkit serve: a web console for the VMs of this user, on libwebsockets:
 * a JSON API (api.h), a page from a web dir, live updates as server-sent
 * events.  It keeps no state of its own: every request reads the runtime
 * dirs and the config store as the CLI does.
 *
 * Access: without TLS it listens on loopback only, and a state-changing
 * request must carry the session token (X-Vmkit-Token) that start-up
 * makes (also written, 0600, to RUNTIME_BASE/serve-PORT.token).  With TLS
 * every client must present a certificate signed by CONFIG/tls/ca.crt and
 * not revoked in CONFIG/tls/crl.pem; then any address may be listened on.
 * Either way a cross-site request (Origin, Sec-Fetch-Site) may not
 * change state.
 *
 * libwebsockets' log level is process-wide: vk_serve_run sets it (errors
 * only, through o->log).
 */
#ifndef VK_SERVE_SERVE_H
#define VK_SERVE_SERVE_H

#include <signal.h>

struct vk_serve_opts {
    const char *listen;     /* "ADDR:PORT"; NULL: 127.0.0.1:8080 */
    int tls;                /* TLS with client certificates required */
    const char *webdir;     /* the page's files (flat dir) */
    const char *novncdir;   /* noVNC (served as /novnc/); NULL: none */
    volatile sig_atomic_t *stop;   /* set (by a signal handler) to end */
    /* a line for the operator: each action (with who asked), errors */
    void (*log)(const char *line, void *ctx);
    /* once listening: the URL to open (with the token when there is one) */
    void (*ready)(const char *url, void *ctx);
    void *ctx;
};

/* Serve until *o->stop is set.  Returns 0 then, or a negative errno:
 * -EPERM "--listen ADDR: not a loopback address; ... --tls", -EINVAL for a
 * bad --listen, -ENOENT for a missing web dir or TLS file, -EADDRINUSE
 * and the like when it cannot listen. */
int vk_serve_run(const struct vk_serve_opts *o);

#endif
