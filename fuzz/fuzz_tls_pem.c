/* libFuzzer entry point: the PEM glue of the host PKI (tls/pki.c,
 * tls/client.c): a certificate and a CRL parsed from memory (the input
 * split at its first NUL: certificate before, CRL after), described as
 * `tls list` shows a client, the CRL's signature checked against the
 * certificate's key and the certificate's self-signature, as tls_load_ca_crl
 * and load_client do.  Checks: the description's strings are terminated
 * within their buffers. */
#include "tls/tls.h"
#include "tls/tls_int.h"
#include "util/err.h"

#include <openssl/err.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *d = (const char *)data;
    const char *nul = memchr(d, 0, size);
    size_t clen = nul ? (size_t)(nul - d) : size;
    X509 *cert = NULL;
    X509_CRL *crl = NULL;
    if (size > 1 << 20)
        return 0;
    tls_parse_cert("fuzz.crt", d, clen, &cert);
    if (nul)
        tls_parse_crl("fuzz.crl", nul + 1, size - clen - 1, &crl);
    if (cert) {
        X509_verify(cert, X509_get0_pubkey(cert));
        if (crl) {
            struct vk_tls_client c;
            tls_describe(&c, "fuzz", cert, crl);
            if (!memchr(c.serial, 0, sizeof c.serial) || !memchr(c.not_after, 0, sizeof c.not_after))
                abort();
            X509_CRL_verify(crl, X509_get0_pubkey(cert));
        }
    }
    X509_CRL_free(crl);
    X509_free(cert);
    ERR_clear_error();
    vk_error_clear();
    return 0;
}
