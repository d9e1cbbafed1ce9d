/* The host's access-control PKI (OpenSSL libcrypto): a CA of this host,
 * the server certificate `vmkit serve` presents, client certificates it
 * accepts, and the CRL it checks.
 *
 * Layout (fixed: serve loads exactly these), in <config dir>/tls/ (the
 * config dir of vm/store.h: $VMKIT_CONFIG_DIR, /etc/vmkit as root, else
 * $XDG_CONFIG_HOME/vmkit), the directory mode 0700:
 *     ca.key       the CA's private key (EC P-256, PEM PKCS#8), 0600
 *     ca.crt       the CA certificate, self-signed: basicConstraints
 *                  CA:TRUE (critical), keyUsage keyCertSign, cRLSign
 *     server.key   the server's private key, 0600
 *     server.crt   signed by the CA: SAN DNS:localhost, DNS:<hostname>,
 *                  IP:127.0.0.1, IP:::1; extendedKeyUsage serverAuth
 *     crl.pem      the CA's CRL (v2, crlNumber), the revoked client serials
 *     clients/NAME.key, clients/NAME.crt   a client: CN=NAME,
 *                  extendedKeyUsage clientAuth, a random 128-bit serial
 * Every file is written atomically (temporary file, fsync, rename or
 * link), keys 0600 from their creation.  ca.crt is written last by init:
 * the CA exists when ca.crt does.  Changes (init, issue, revoke) hold an
 * exclusive flock on tls/.lock, so two revokes never lose one.
 *
 * Every function returns 0 (or a count) or a negative errno after
 * vk_error() naming the file or the client.
 */
#ifndef VK_TLS_TLS_H
#define VK_TLS_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#define VK_TLS_CA_KEY "ca.key"
#define VK_TLS_CA_CRT "ca.crt"
#define VK_TLS_SERVER_KEY "server.key"
#define VK_TLS_SERVER_CRT "server.crt"
#define VK_TLS_CRL "crl.pem"
#define VK_TLS_CLIENTS "clients"

#define VK_TLS_QEMU "qemu"

/* The TLS directory (<config dir>/tls) into buf; not created. */
int vk_tls_dir(char *buf, size_t len);

/* <tls dir>/file (file one of the VK_TLS_* names) into buf. */
int vk_tls_path(const char *file, char *buf, size_t len);

/* <tls dir>/clients/NAME.ext (ext "key" or "crt") into buf; -EINVAL for
 * a name vk_tls_name_valid refuses. */
int vk_tls_client_path(const char *name, const char *ext, char *buf, size_t len);

/* True when name is a valid client name: 1 to 64 of [A-Za-z0-9._-], not
 * starting with '.' (no hidden files, no "." or ".."). */
bool vk_tls_name_valid(const char *name);

struct vk_tls_init_opts {
    const char *cn;     /* the CA's common name; NULL: "vmkit CA <hostname>" */
    int days;           /* the CA's and server certificate's lifetime; 0: 3650 */
    bool force;         /* replace an existing CA (its clients/ is kept, renamed
                           clients.old-<time>, as no longer valid) */
};

/* Create the CA, the server key and certificate and an empty CRL.
 * -EEXIST "...: a CA already exists" when ca.crt does and !force. */
int vk_tls_init(const struct vk_tls_init_opts *o);

struct vk_tls_issue_opts {
    int days;               /* lifetime; 0: 365 */
    const char *p12;        /* also write a PKCS#12 bundle (key, cert, CA
                               cert) here, 0600, never over an existing file */
    const char *password;   /* the bundle's password; NULL: empty */
};

/* Issue the client certificate NAME, signed by the CA (ca.key is checked
 * against ca.crt).  -EINVAL for a bad name, -EEXIST when NAME exists,
 * -ENOENT when there is no CA. */
int vk_tls_issue_client(const char *name, const struct vk_tls_issue_opts *o);

/* Add the client NAME's serial to the CRL and re-sign it (lastUpdate now,
 * nextUpdate the CA's notAfter: the CRL is only ever replaced by vmkit,
 * so it must not expire before the CA and lock every client out).  The
 * client's files are kept.  -ENOENT for an unknown client, -EALREADY
 * when it is revoked already. */
int vk_tls_revoke(const char *name);

/* The directory QEMU's tls-creds-x509 reads (dir=): <tls dir>/qemu, with
 * QEMU's file names as relative symbolic links to this layout
 * (ca-cert.pem -> ../ca.crt, server-cert.pem, server-key.pem, ca-crl.pem
 * -> ../crl.pem), made when missing, into buf.  QEMU reads the files
 * when it starts: a revocation applies to VMs started after it.
 * -ENOENT "no CA: run vmkit tls init" when there is no CA. */
int vk_tls_qemu_dir(char *buf, size_t len);

#define VK_TLS_MIGRATE "migrate"

/* Write the issued client NAME as QEMU's client credentials directory dir
 * (tls-creds-x509 endpoint=client): ca-cert.pem (this CA), client-cert.pem
 * and client-key.pem (0600), dir created 0700 (or existing and empty of
 * those names: nothing is overwritten).  A sending host keeps it as its
 * <tls dir>/migrate (VK_TLS_MIGRATE) for `vmkit migrate --tls` to this
 * host.  -ENOENT for an unknown client, -EEXIST for a file there. */
int vk_tls_qemu_client(const char *name, const char *dir);

/* One issued client, as vk_tls_list reports it. */
struct vk_tls_client {
    char name[65];
    char serial[48];        /* upper-case hex, as `openssl x509 -serial` */
    char not_after[24];     /* ISO 8601 UTC: 2027-11-30T13:00:00Z */
    bool revoked;
    bool expired;           /* notAfter has passed */
};

/* The issued clients, sorted by name, into *out (malloc'd; free()).
 * Returns the count.  -ENOENT when there is no CA. */
int vk_tls_list(struct vk_tls_client **out);

#endif
