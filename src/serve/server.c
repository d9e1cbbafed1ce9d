/* vmkit serve: start-up and the event loop (serve.h): the listen address
 * and who may reach it, the TLS files, the session token. */
#include "serve/serve_int.h"

#include "util/err.h"
#include "vm/runtime.h"
#include "vm/store.h"

#include <errno.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

/* libwebsockets logs through one process-wide function; it reaches the
 * server of this thread (vk_serve_run runs one at a time per thread). */
static _Thread_local struct vk_server *log_srv;

static void lws_emit(int level, const char *line)
{
    if (!log_srv || !log_srv->o->log)
        return;
    char buf[512];
    snprintf(buf, sizeof buf, "libwebsockets: %s", line);
    size_t n = strlen(buf);
    while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
        buf[--n] = 0;
    log_srv->o->log(buf, log_srv->o->ctx);
}

/* The TLS file name of the config dir into buf; 0 or -ENOENT naming it. */
static int tls_file(const char *name, char *buf, size_t len)
{
    char dir[4096];
    int err = vk_store_dir(dir, sizeof dir);
    if (err)
        return err;
    if (snprintf(buf, len, "%s/tls/%s", dir, name) >= (int)len)
        return vk_error(-ENAMETOOLONG, "%s/tls/%s: path too long", dir, name);
    if (access(buf, R_OK) < 0)
        return vk_error(-errno, "%s: %s (vmkit tls init makes the CA, server certificate and CRL)",
                        buf, strerror(errno));
    return 0;
}

/* Contract in serve_int.h. */
int vk_tls_load_crl(struct vk_server *srv, void *ssl_ctx)
{
    char path[4200], msg[4400];
    if (tls_file("crl.pem", path, sizeof path) < 0) {
        snprintf(msg, sizeof msg, "%s", vk_errmsg());
        srv->o->log(msg, srv->o->ctx);
        return -1;
    }
    X509_STORE *st = SSL_CTX_get_cert_store(ssl_ctx);
    FILE *f = fopen(path, "r");
    int n = 0;
    X509_CRL *crl;
    while (f && (crl = PEM_read_X509_CRL(f, NULL, NULL, NULL))) {
        n += X509_STORE_add_crl(st, crl) == 1;
        X509_CRL_free(crl);
    }
    if (f)
        fclose(f);
    if (n == 0) {
        snprintf(msg, sizeof msg, "%s: no certificate revocation list in it", path);
        srv->o->log(msg, srv->o->ctx);
        return -1;
    }
    X509_STORE_set_flags(st, X509_V_FLAG_CRL_CHECK);
    return 0;
}

/* Contract in serve_int.h. */
int vk_tls_verify(void *x509_ctx, int preverify_ok)
{
    if (preverify_ok)
        return 0;
    X509_STORE_CTX *xc = x509_ctx;
    X509 *cert = X509_STORE_CTX_get_current_cert(xc);
    char subj[256] = "?", msg[512];
    if (cert)
        X509_NAME_oneline(X509_get_subject_name(cert), subj, sizeof subj);
    snprintf(msg, sizeof msg, "client certificate %s refused: %s", subj,
             X509_verify_cert_error_string(X509_STORE_CTX_get_error(xc)));
    if (log_srv && log_srv->o->log)
        log_srv->o->log(msg, log_srv->o->ctx);
    return 1;
}

static int make_token(struct vk_server *srv)
{
    unsigned char r[32];
    if (getrandom(r, sizeof r, 0) != (ssize_t)sizeof r)
        return vk_error(-EIO, "getrandom: %s", strerror(errno));
    for (size_t i = 0; i < sizeof r; i++)
        snprintf(srv->token + 2 * i, 3, "%02x", r[i]);
    return 0;
}

static int write_token(struct vk_server *srv, int port)
{
    char base[4096], name[64];
    int err = vk_runtime_base(base, sizeof base, 1);
    if (err)
        return err;
    snprintf(name, sizeof name, "serve-%d.token", port);
    if ((err = vk_rt_write(base, name, srv->token, strlen(srv->token))) < 0)
        return err;
    snprintf(srv->token_path, sizeof srv->token_path, "%s/%s", base, name);
    return 0;
}

static void cleanup(struct vk_server *srv)
{
    if (srv->ctx)
        lws_context_destroy(srv->ctx);
    if (*srv->token_path)
        unlink(srv->token_path);
    if (srv->webdir_fd >= 0)
        close(srv->webdir_fd);
    if (srv->novnc_fd >= 0)
        close(srv->novnc_fd);
    free(srv->list);
    log_srv = NULL;
}

/* Contract in serve.h. */
int vk_serve_run(const struct vk_serve_opts *o)
{
    const char *listen = o->listen ? o->listen : "127.0.0.1:8080";
    char addr[64], ca[4200], cert[4200], key[4200], crl[4200];
    int port, loopback, err;
    if ((err = vk_serve_parse_listen(listen, addr, sizeof addr, &port, &loopback)) < 0)
        return err;
    if (!loopback && !o->tls)
        return vk_error(-EPERM, "--listen %s: not a loopback address; listening there needs "
                        "--tls (client certificates: vmkit tls init)", listen);
    if (o->tls && ((err = tls_file("ca.crt", ca, sizeof ca)) < 0 ||
                   (err = tls_file("server.crt", cert, sizeof cert)) < 0 ||
                   (err = tls_file("server.key", key, sizeof key)) < 0 ||
                   (err = tls_file("crl.pem", crl, sizeof crl)) < 0))
        return err;
    struct vk_server srv = { .o = o, .tls = o->tls, .webdir_fd = -1, .novnc_fd = -1,
                              .gen = 1 };
    if ((err = vk_static_open(&srv)) < 0 || (!o->tls && (err = make_token(&srv)) < 0)) {
        cleanup(&srv);
        return err;
    }
    log_srv = &srv;
    lws_set_log_level(LLL_ERR, lws_emit);
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    info.port = port;
    info.iface = addr;
    info.protocols = vk_serve_protocols;
    info.gid = (gid_t)-1;
    info.uid = (uid_t)-1;
    info.user = &srv;
    info.options = LWS_SERVER_OPTION_DISABLE_IPV6 | LWS_SERVER_OPTION_HTTP_HEADERS_SECURITY_BEST_PRACTICES_ENFORCE;
    if (o->tls) {
        info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT |
                        LWS_SERVER_OPTION_REQUIRE_VALID_OPENSSL_CLIENT_CERT;
        info.ssl_ca_filepath = ca;
        info.ssl_cert_filepath = cert;
        info.ssl_private_key_filepath = key;
    }
    srv.ctx = lws_create_context(&info);
    struct lws_vhost *vh = srv.ctx ? lws_get_vhost_by_name(srv.ctx, "default") : NULL;
    if (!vh) {
        cleanup(&srv);
        return vk_error(-EADDRINUSE, "%s: cannot listen there (address in use, or the TLS "
                        "files do not load)", listen);
    }
    port = lws_get_vhost_listen_port(vh);
    if (!o->tls && (err = write_token(&srv, port)) < 0) {
        cleanup(&srv);
        return err;
    }
    char url[256];
    snprintf(url, sizeof url, "%s://%s:%d/%s%s", o->tls ? "https" : "http", addr, port,
             o->tls ? "" : "#token=", srv.token);
    if (o->ready)
        o->ready(url, o->ctx);
    vk_events_start(&srv);
    while (!*o->stop)
        if (lws_service(srv.ctx, 0) < 0)
            break;
    cleanup(&srv);
    return 0;
}
