/* Inside src/tls/: the OpenSSL building blocks (pki.c) that tls.c puts
 * together.  Each returns 0 or a negative errno after vk_error() naming
 * the file (or what was being made) and OpenSSL's reason. */
#ifndef VK_TLS_INT_H
#define VK_TLS_INT_H

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stdbool.h>

/* One X.509v3 extension in openssl.cnf syntax: { NID_key_usage,
 * "critical,keyCertSign,cRLSign" }.  A list ends with nid 0. */
struct tls_ext {
    int nid;
    const char *value;
};

/* A new EC P-256 key into *out. */
int tls_new_key(EVP_PKEY **out);

/* A certificate for key's public half, subject CN=cn, valid from an hour
 * ago (clock skew between hosts) for days, a random positive 128-bit
 * serial, the extensions exts, signed (SHA-256) by issuer_key as issuer
 * (issuer NULL: self-signed with key). */
int tls_make_cert(EVP_PKEY *key, const char *cn, int days, X509 *issuer, EVP_PKEY *issuer_key,
                  const struct tls_ext *exts, X509 **out);

/* Set crl's issuer, lastUpdate (now), nextUpdate (ca's notAfter),
 * crlNumber (one more than before, 1 for a new CRL) and authority key id;
 * sort it and sign it with ca_key. */
int tls_sign_crl(X509_CRL *crl, X509 *ca, EVP_PKEY *ca_key);

/* PEM files.  Loading names path and says what it expected to find
 * (a damaged file is not a crash nor a password prompt). */
int tls_load_key(const char *path, EVP_PKEY **out);
int tls_load_cert(const char *path, X509 **out);
int tls_load_crl(const char *path, X509_CRL **out);
/* The PEM of a key, certificate or CRL (exactly one non-NULL) written as
 * path atomically (vk_write_file_atomic): keys 0600, the rest 0644. */
int tls_save(const char *path, EVP_PKEY *key, X509 *cert, X509_CRL *crl, bool replace);

/* Parse PEM bytes (a certificate, or a CRL when crl is set) from memory;
 * what is the file's name for messages.  The parsers behind the loaders
 * (and the fuzz entry point). */
int tls_parse_cert(const char *what, const char *data, size_t len, X509 **out);
int tls_parse_crl(const char *what, const char *data, size_t len, X509_CRL **out);

/* Record OpenSSL's error queue (its first reason) as "what: doing: reason",
 * clear the queue and return err. */
int tls_ossl_error(int err, const char *what, const char *doing);

/* Take the exclusive lock of the TLS directory dir (dir/.lock, flock):
 * the fd to close, or a negative errno. */
int tls_lock(const char *dir);

/* Load ca.crt and ca.key and check that they belong together.  -ENOENT
 * "no CA (...): run 'vmkit tls init'" when ca.crt is missing. */
int tls_load_ca(X509 **ca, EVP_PKEY **key);

/* Load crl.pem and check it is signed by ca. */
int tls_load_ca_crl(X509 *ca, X509_CRL **out);

struct vk_tls_client;
/* Fill c with name (cut to 64 bytes), cert's serial and notAfter, whether
 * crl lists the serial and whether notAfter has passed.  Any certificate
 * and CRL OpenSSL parsed will do: fields it cannot show are "?". */
void tls_describe(struct vk_tls_client *c, const char *name, X509 *cert, X509_CRL *crl);

#endif
