/* Client certificates of the host CA: issue, revoke, list (contracts in
 * tls.h). */
#include "tls/tls.h"
#include "tls/tls_int.h"

#include "util/dirs.h"
#include "util/err.h"
#include "util/file.h"
#include "util/str.h"

#include <dirent.h>
#include <errno.h>
#include <openssl/bn.h>
#include <openssl/pkcs12.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A PKCS#12 bundle of key, cert and the CA (OpenSSL 3's defaults:
 * AES-256-CBC, PBKDF2, a SHA-256 MAC) written as path, 0600, never over
 * an existing file. */
static int write_p12(const char *path, const char *name, const char *password, EVP_PKEY *key,
                     X509 *cert, X509 *ca)
{
    STACK_OF(X509) *cas = sk_X509_new_null();
    PKCS12 *p = NULL;
    unsigned char *der = NULL;
    int len = -1, r;
    if (cas && sk_X509_push(cas, ca))
        p = PKCS12_create(password ? password : "", name, key, cert, cas, 0, 0, 0, 0, 0);
    if (p)
        len = i2d_PKCS12(p, &der);
    sk_X509_free(cas);
    PKCS12_free(p);
    if (len < 0)
        return tls_ossl_error(-EIO, path, "cannot make the PKCS#12 bundle");
    r = vk_write_file_atomic(path, der, (size_t)len, 0600, 0);
    OPENSSL_clear_free(der, (size_t)len);
    return r;
}

static int issue_locked(const char *name, const struct vk_tls_issue_opts *o, const char *kp,
                        const char *cp)
{
    const struct tls_ext ext[] = {
        { NID_basic_constraints, "critical,CA:FALSE" },
        { NID_key_usage, "critical,digitalSignature" },
        { NID_ext_key_usage, "clientAuth" },
        { NID_subject_key_identifier, "hash" },
        { NID_authority_key_identifier, "keyid:always" },
        { 0, NULL },
    };
    EVP_PKEY *cakey = NULL, *key = NULL;
    X509 *ca = NULL, *cert = NULL;
    int r = tls_load_ca(&ca, &cakey);
    if (r)
        return r;
    if (access(cp, F_OK) == 0 || access(kp, F_OK) == 0)
        r = vk_error(-EEXIST, "%s: client already exists (%s)", name, cp);
    else if (o->p12 && access(o->p12, F_OK) == 0)
        r = vk_error(-EEXIST, "%s: already exists", o->p12);
    if (!r && !(r = tls_new_key(&key)) &&
        !(r = tls_make_cert(key, name, o->days ? o->days : 365, ca, cakey, ext, &cert)) &&
        (!o->p12 || !(r = write_p12(o->p12, name, o->password, key, cert, ca))) &&
        !(r = tls_save(kp, key, NULL, NULL, false)))
        r = tls_save(cp, NULL, cert, NULL, false);
    X509_free(cert);
    X509_free(ca);
    EVP_PKEY_free(key);
    EVP_PKEY_free(cakey);
    return r;
}

/* Contract in tls.h. */
int vk_tls_issue_client(const char *name, const struct vk_tls_issue_opts *o)
{
    char dir[4000], cdir[4100], kp[4200], cp[4200];
    int r;
    if ((r = vk_tls_client_path(name, "key", kp, sizeof kp)) ||
        (r = vk_tls_client_path(name, "crt", cp, sizeof cp)) || (r = vk_tls_dir(dir, sizeof dir)))
        return r;
    if (o->days < 0)
        return vk_error(-EINVAL, "%d days: not a lifetime", o->days);
    if (access(dir, F_OK) < 0)
        return vk_error(-ENOENT, "%s: no CA yet: run 'vmkit tls init'", dir);
    if ((r = vk_pathf(cdir, sizeof cdir, "%s/" VK_TLS_CLIENTS, dir)) || (r = vk_mkdirs(cdir, 0700)))
        return r;
    int lock = tls_lock(dir);
    if (lock < 0)
        return lock;
    r = issue_locked(name, o, kp, cp);
    close(lock);
    return r;
}

/* The client NAME's certificate, which must be one the CA signed. */
static int load_client(const char *name, X509 *ca, X509 **out)
{
    char cp[4200];
    int r = vk_tls_client_path(name, "crt", cp, sizeof cp);
    if (r)
        return r;
    if (access(cp, F_OK) < 0 && errno == ENOENT)
        return vk_error(-ENOENT, "%s: no such client (%s)", name, cp);
    if ((r = tls_load_cert(cp, out)))
        return r;
    if (X509_verify(*out, X509_get0_pubkey(ca)) != 1) {
        X509_free(*out);
        return tls_ossl_error(-EINVAL, cp, "not issued by this host's CA");
    }
    return 0;
}

static int revoke_locked(const char *name, const char *crlpath)
{
    EVP_PKEY *cakey = NULL;
    X509 *ca = NULL, *cert = NULL;
    X509_CRL *crl = NULL;
    X509_REVOKED *rev = NULL;
    ASN1_TIME *now = NULL;
    int r = tls_load_ca(&ca, &cakey);
    if (r || (r = load_client(name, ca, &cert)) || (r = tls_load_ca_crl(ca, &crl)))
        goto out;
    if (X509_CRL_get0_by_serial(crl, &rev, X509_get_serialNumber(cert)) > 0) {
        r = vk_error(-EALREADY, "%s: already revoked", name);
        goto out;
    }
    rev = X509_REVOKED_new();
    now = X509_gmtime_adj(NULL, 0);
    if (!rev || !now || !X509_REVOKED_set_serialNumber(rev, X509_get_serialNumber(cert)) ||
        !X509_REVOKED_set_revocationDate(rev, now) || !X509_CRL_add0_revoked(crl, rev)) {
        X509_REVOKED_free(rev);
        r = tls_ossl_error(-ENOMEM, crlpath, "cannot add the serial");
        goto out;
    }
    if (!(r = tls_sign_crl(crl, ca, cakey)))
        r = tls_save(crlpath, NULL, NULL, crl, true);
out:
    ASN1_TIME_free(now);
    X509_CRL_free(crl);
    X509_free(cert);
    X509_free(ca);
    EVP_PKEY_free(cakey);
    return r;
}

/* Contract in tls.h. */
int vk_tls_qemu_client(const char *name, const char *dir)
{
    char src[3][4200];
    static const char *const dst[3] = { "ca-cert.pem", "client-cert.pem", "client-key.pem" };
    static const unsigned mode[3] = { 0644, 0644, 0600 };
    int r;
    if ((r = vk_tls_path(VK_TLS_CA_CRT, src[0], sizeof src[0])) ||
        (r = vk_tls_client_path(name, "crt", src[1], sizeof src[1])) ||
        (r = vk_tls_client_path(name, "key", src[2], sizeof src[2])))
        return r;
    if (access(src[1], F_OK) < 0)
        return vk_error(-ENOENT, "%s: no such client (%s)", name, src[1]);
    if ((r = vk_mkdirs(dir, 0700)) < 0)
        return r;
    for (int i = 0; i < 3; i++) {
        char *data = NULL, p[4300];
        size_t len;
        if ((r = vk_pathf(p, sizeof p, "%s/%s", dir, dst[i])) < 0 ||
            (r = vk_read_small_file(src[i], 1 << 20, &data, &len)) < 0)
            return r;
        r = vk_write_file_atomic(p, data, len, mode[i], 0);
        free(data);
        if (r < 0)
            return r;
    }
    return 0;
}

/* Contract in tls.h. */
int vk_tls_revoke(const char *name)
{
    char dir[4000], cp[4200], crl[4100];
    int r;
    if ((r = vk_tls_client_path(name, "crt", cp, sizeof cp)) || (r = vk_tls_dir(dir, sizeof dir)) ||
        (r = vk_tls_path(VK_TLS_CRL, crl, sizeof crl)))
        return r;
    if (access(dir, F_OK) < 0)
        return vk_error(-ENOENT, "%s: no CA yet: run 'vmkit tls init'", dir);
    int lock = tls_lock(dir);
    if (lock < 0)
        return lock;
    r = revoke_locked(name, crl);
    close(lock);
    return r;
}

/* Contract in tls_int.h. */
void tls_describe(struct vk_tls_client *c, const char *name, X509 *cert, X509_CRL *crl)
{
    X509_REVOKED *rev;
    struct tm tm;
    const ASN1_INTEGER *sn = X509_get0_serialNumber(cert);
    BIGNUM *bn = ASN1_INTEGER_to_BN(sn, NULL);
    char *hex = bn ? BN_bn2hex(bn) : NULL;
    snprintf(c->name, sizeof c->name, "%.64s", name);   /* valid names are no longer */
    snprintf(c->serial, sizeof c->serial, "%s", hex ? hex : "?");
    if (ASN1_TIME_to_tm(X509_get0_notAfter(cert), &tm))
        strftime(c->not_after, sizeof c->not_after, "%Y-%m-%dT%H:%M:%SZ", &tm);
    else
        snprintf(c->not_after, sizeof c->not_after, "?");
    c->revoked = X509_CRL_get0_by_serial(crl, &rev, (ASN1_INTEGER *)sn) > 0;
    c->expired = X509_cmp_current_time(X509_get0_notAfter(cert)) < 0;
    OPENSSL_free(hex);
    BN_free(bn);
}

static int by_name(const void *a, const void *b)
{
    return strcmp(((const struct vk_tls_client *)a)->name, ((const struct vk_tls_client *)b)->name);
}

/* Every clients/NAME.crt into *out; the count. */
static int scan(const char *cdir, X509 *ca, X509_CRL *crl, struct vk_tls_client **out)
{
    DIR *d = opendir(cdir);
    struct dirent *e;
    size_t n = 0, cap = 0;
    int r = 0;
    if (!d)
        return errno == ENOENT ? 0 : vk_error(-errno, "%s: %s", cdir, strerror(errno));
    while (!r && (e = readdir(d))) {
        size_t l = strlen(e->d_name);
        char name[80];
        X509 *cert;
        if (l < 5 || strcmp(e->d_name + l - 4, ".crt") || l - 4 >= sizeof name)
            continue;
        snprintf(name, sizeof name, "%.*s", (int)(l - 4), e->d_name);
        if (!vk_tls_name_valid(name))
            continue;   /* not one vmkit wrote: NAME.crt.tmp.XXXXXX, a stray file */
        if ((r = load_client(name, ca, &cert)))
            break;
        if (n == cap) {
            struct vk_tls_client *g = realloc(*out, (cap = cap ? 2 * cap : 16) * sizeof *g);
            if (!g) {
                X509_free(cert);
                r = vk_error(-ENOMEM, "out of memory");
                break;
            }
            *out = g;
        }
        tls_describe(&(*out)[n++], name, cert, crl);
        X509_free(cert);
    }
    closedir(d);
    if (r)
        return r;
    if (n)
        qsort(*out, n, sizeof **out, by_name);
    return (int)n;
}

/* Contract in tls.h. */
int vk_tls_list(struct vk_tls_client **out)
{
    char dir[4000], cdir[4100];
    X509 *ca = NULL;
    X509_CRL *crl = NULL;
    *out = NULL;
    int r = vk_tls_dir(dir, sizeof dir);
    if (r || (r = vk_pathf(cdir, sizeof cdir, "%s/" VK_TLS_CLIENTS, dir)) ||
        (r = tls_load_ca(&ca, NULL)) || (r = tls_load_ca_crl(ca, &crl)))
        goto out;
    r = scan(cdir, ca, crl, out);
out:
    if (r < 0) {
        free(*out);
        *out = NULL;
    }
    X509_CRL_free(crl);
    X509_free(ca);
    return r;
}
