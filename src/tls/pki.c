/* OpenSSL building blocks of the host PKI: keys, certificates, the CRL,
 * PEM files (contracts in tls_int.h). */
#include "tls/tls_int.h"

#include "util/err.h"
#include "util/file.h"

#include <errno.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>
#include <stdlib.h>
#include <string.h>

/* PEM files of the PKI are small: anything larger is not one of ours. */
#define TLS_FILE_MAX (1u << 20)

/* Contract in tls_int.h. */
int tls_ossl_error(int err, const char *what, const char *doing)
{
    unsigned long e = ERR_peek_last_error();
    const char *reason = e ? ERR_reason_error_string(e) : NULL;
    vk_error(err, "%s: %s%s%s", what, doing, reason ? ": " : "", reason ? reason : "");
    ERR_clear_error();
    return err;
}

/* Contract in tls_int.h. */
int tls_new_key(EVP_PKEY **out)
{
    *out = EVP_EC_gen("P-256");
    return *out ? 0 : tls_ossl_error(-EIO, "EC P-256 key", "cannot generate");
}

static int add_exts(X509 *cert, X509 *issuer, const struct tls_ext *exts)
{
    X509V3_CTX ctx;
    X509V3_set_ctx(&ctx, issuer, cert, NULL, NULL, 0);
    for (const struct tls_ext *e = exts; e->nid; e++) {
        X509_EXTENSION *x = X509V3_EXT_nconf_nid(NULL, &ctx, e->nid, e->value);
        int ok = x && X509_add_ext(cert, x, -1);
        X509_EXTENSION_free(x);
        if (!ok)
            return tls_ossl_error(-EIO, OBJ_nid2sn(e->nid), e->value);
    }
    return 0;
}

/* A random positive 128-bit serial, 126 of its bits random (RFC 5280: at
 * most 20 octets; CA/B Forum: at least 64 random bits, so a certificate
 * cannot be predicted before it is issued). */
static int set_serial(X509 *cert)
{
    unsigned char b[16];
    if (RAND_bytes(b, sizeof b) != 1)
        return tls_ossl_error(-EIO, "serial", "no random bytes");
    b[0] = (unsigned char)((b[0] & 0x7f) | 0x40);   /* positive, always 16 bytes */
    BIGNUM *bn = BN_bin2bn(b, sizeof b, NULL);
    ASN1_INTEGER *s = bn ? BN_to_ASN1_INTEGER(bn, NULL) : NULL;
    int ok = s && X509_set_serialNumber(cert, s);
    ASN1_INTEGER_free(s);
    BN_free(bn);
    return ok ? 0 : tls_ossl_error(-ENOMEM, "serial", "cannot set");
}

/* Contract in tls_int.h. */
int tls_make_cert(EVP_PKEY *key, const char *cn, int days, X509 *issuer, EVP_PKEY *issuer_key,
                  const struct tls_ext *exts, X509 **out)
{
    X509 *c = X509_new();
    X509_NAME *name = X509_NAME_new();
    int r = -ENOMEM;
    if (!c || !name || !X509_set_version(c, 2) ||
        !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1,
                                    0) ||
        !X509_set_subject_name(c, name) ||
        !X509_set_issuer_name(c, issuer ? X509_get_subject_name(issuer) : name) ||
        !X509_gmtime_adj(X509_getm_notBefore(c), -3600) ||
        !X509_time_adj_ex(X509_getm_notAfter(c), days, 0, NULL) || !X509_set_pubkey(c, key)) {
        r = tls_ossl_error(-EINVAL, cn, "cannot fill in the certificate");
        goto out;
    }
    if ((r = set_serial(c)) || (r = add_exts(c, issuer ? issuer : c, exts)))
        goto out;
    if (!X509_sign(c, issuer ? issuer_key : key, EVP_sha256())) {
        r = tls_ossl_error(-EIO, cn, "cannot sign the certificate");
        goto out;
    }
    *out = c;
    c = NULL;
    r = 0;
out:
    X509_NAME_free(name);
    X509_free(c);
    return r;
}

/* Contract in tls_int.h. */
int tls_sign_crl(X509_CRL *crl, X509 *ca, EVP_PKEY *ca_key)
{
    ASN1_INTEGER *num = X509_CRL_get_ext_d2i(crl, NID_crl_number, NULL, NULL);
    BIGNUM *bn = num ? ASN1_INTEGER_to_BN(num, NULL) : BN_new();
    ASN1_TIME *now = X509_gmtime_adj(NULL, 0);
    int ok = bn && now && BN_add_word(bn, 1) && (num = BN_to_ASN1_INTEGER(bn, num)) &&
             X509_CRL_set_version(crl, 1 /* v2: extensions */) &&
             X509_CRL_set_issuer_name(crl, X509_get_subject_name(ca)) &&
             X509_CRL_set1_lastUpdate(crl, now) &&
             X509_CRL_set1_nextUpdate(crl, X509_get0_notAfter(ca)) &&
             X509_CRL_add1_ext_i2d(crl, NID_crl_number, num, 0, X509V3_ADD_REPLACE) > 0;
    ASN1_INTEGER_free(num);
    BN_free(bn);
    ASN1_TIME_free(now);
    if (ok && X509_CRL_get_ext_by_NID(crl, NID_authority_key_identifier, -1) < 0) {
        X509V3_CTX ctx;
        X509V3_set_ctx(&ctx, ca, NULL, NULL, crl, 0);
        X509_EXTENSION *x =
            X509V3_EXT_nconf_nid(NULL, &ctx, NID_authority_key_identifier, "keyid:always");
        ok = x && X509_CRL_add_ext(crl, x, -1);
        X509_EXTENSION_free(x);
    }
    if (!ok)
        return tls_ossl_error(-EIO, "CRL", "cannot fill in");
    X509_CRL_sort(crl);
    if (!X509_CRL_sign(crl, ca_key, EVP_sha256()))
        return tls_ossl_error(-EIO, "CRL", "cannot sign");
    return 0;
}

/* Never prompt on the terminal for an encrypted key: refuse it. */
static int no_password(char *buf, int size, int rwflag, void *u)
{
    return 0;
}

static int read_pem(const char *path, char **data, size_t *len)
{
    return vk_read_small_file(path, TLS_FILE_MAX, data, len);
}

/* Contract in tls_int.h. */
int tls_parse_cert(const char *what, const char *data, size_t len, X509 **out)
{
    BIO *b = BIO_new_mem_buf(data, (int)len);
    *out = b ? PEM_read_bio_X509(b, NULL, no_password, NULL) : NULL;
    BIO_free(b);
    return *out ? 0 : tls_ossl_error(-EINVAL, what, "not a PEM certificate (damaged?)");
}

/* Contract in tls_int.h. */
int tls_parse_crl(const char *what, const char *data, size_t len, X509_CRL **out)
{
    BIO *b = BIO_new_mem_buf(data, (int)len);
    *out = b ? PEM_read_bio_X509_CRL(b, NULL, no_password, NULL) : NULL;
    BIO_free(b);
    return *out ? 0 : tls_ossl_error(-EINVAL, what, "not a PEM CRL (damaged?)");
}

/* Contract in tls_int.h. */
int tls_load_key(const char *path, EVP_PKEY **out)
{
    char *data;
    size_t len;
    int r = read_pem(path, &data, &len);
    if (r)
        return r;
    BIO *b = BIO_new_mem_buf(data, (int)len);
    *out = b ? PEM_read_bio_PrivateKey(b, NULL, no_password, NULL) : NULL;
    BIO_free(b);
    OPENSSL_cleanse(data, len);
    free(data);
    return *out ? 0 : tls_ossl_error(-EINVAL, path, "not a PEM private key (damaged?)");
}

/* Contract in tls_int.h. */
int tls_load_cert(const char *path, X509 **out)
{
    char *data;
    size_t len;
    int r = read_pem(path, &data, &len);
    if (r)
        return r;
    r = tls_parse_cert(path, data, len, out);
    free(data);
    return r;
}

/* Contract in tls_int.h. */
int tls_load_crl(const char *path, X509_CRL **out)
{
    char *data;
    size_t len;
    int r = read_pem(path, &data, &len);
    if (r)
        return r;
    r = tls_parse_crl(path, data, len, out);
    free(data);
    return r;
}

/* Contract in tls_int.h. */
int tls_save(const char *path, EVP_PKEY *key, X509 *cert, X509_CRL *crl, bool replace)
{
    BIO *b = BIO_new(BIO_s_secmem());
    int ok = b && (key ? PEM_write_bio_PKCS8PrivateKey(b, key, NULL, NULL, 0, NULL, NULL)
                   : cert ? PEM_write_bio_X509(b, cert)
                          : PEM_write_bio_X509_CRL(b, crl));
    if (!ok) {
        BIO_free(b);
        return tls_ossl_error(-EIO, path, "cannot encode");
    }
    char *data;
    long len = BIO_get_mem_data(b, &data);
    int r = vk_write_file_atomic(path, data, (size_t)len, key ? 0600 : 0644, replace);
    BIO_free(b);   /* the secure-memory BIO wipes the key's PEM */
    return r;
}
