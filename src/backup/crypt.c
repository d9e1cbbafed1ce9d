/* AES-256-GCM sealing, HMAC-SHA-256 chunk names and scrypt key
 * derivation for encrypted repositories (crypt.h), all from libcrypto. */
#include "backup/crypt.h"

#include "util/err.h"

#include <errno.h>
#include <limits.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

int vk_bk_random(void *buf, size_t len)
{
    if (len > INT_MAX || RAND_bytes(buf, (int)len) != 1)
        return vk_error(-EIO, "no random bytes from libcrypto");
    return 0;
}

int vk_bk_kdf_check(const struct vk_bk_kdf *k, const char *repo)
{
    if (k->n < 1024 || k->n > (1u << 20) || (k->n & (k->n - 1)))
        return vk_error(-EINVAL, "%s: scrypt n %llu is not a power of two from 1024 to 1048576",
                        repo, (unsigned long long)k->n);
    if (k->r < 1 || k->r > 32 || k->p < 1 || k->p > 16)
        return vk_error(-EINVAL, "%s: scrypt r %u or p %u out of range (1-32, 1-16)", repo, k->r,
                        k->p);
    if (128ull * k->r * k->n > (1ull << 30))
        return vk_error(-EINVAL, "%s: scrypt parameters need more than 1 GiB of memory", repo);
    return 0;
}

int vk_bk_kdf_derive(const void *secret, size_t len, const struct vk_bk_kdf *k, uint8_t kek[32])
{
    /* OpenSSL counts 128 r (n + p + 2) bytes against maxmem. */
    uint64_t mem = 128ull * k->r * (k->n + k->p + 2) + 4096;
    if (!EVP_PBE_scrypt(secret, len, k->salt, sizeof k->salt, k->n, k->r, k->p, mem, kek, 32))
        return vk_error(-ENOMEM, "scrypt key derivation failed (libcrypto; %llu MiB)",
                        (unsigned long long)(mem >> 20));
    return 0;
}

/* One AES-256-GCM pass in place over buf[VK_BK_NONCE, +len), the tag
 * after it (written when enc, checked otherwise).  -EBADMSG on a bad tag. */
static int gcm(int enc, const uint8_t key[32], const void *aad, size_t aadlen, uint8_t *buf,
               size_t len)
{
    if (len > INT_MAX || aadlen > INT_MAX)
        return vk_error(-EINVAL, "%zu bytes: too large to seal", len);
    uint8_t *data = buf + VK_BK_NONCE, *tag = data + len;
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    int n, ok = c && EVP_CipherInit_ex(c, EVP_aes_256_gcm(), NULL, key, buf, enc) == 1;
    ok = ok && (!aadlen || EVP_CipherUpdate(c, NULL, &n, aad, (int)aadlen) == 1);
    ok = ok && (!len || EVP_CipherUpdate(c, data, &n, data, (int)len) == 1);
    if (ok && !enc)
        ok = EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, VK_BK_TAG, tag) == 1;
    int fin = ok ? EVP_CipherFinal_ex(c, data + len, &n) : 0;
    if (ok && fin == 1 && enc)
        ok = EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, VK_BK_TAG, tag) == 1;
    EVP_CIPHER_CTX_free(c);
    if (!ok)
        return vk_error(-EIO, "AES-256-GCM failed (libcrypto)");
    return fin == 1 ? 0 : -EBADMSG;
}

int vk_bk_seal(const uint8_t key[32], const void *aad, size_t aadlen, uint8_t *buf, size_t len)
{
    int e = vk_bk_random(buf, VK_BK_NONCE);
    if (e < 0)
        return e;
    e = gcm(1, key, aad, aadlen, buf, len);
    return e == -EBADMSG ? vk_error(-EIO, "AES-256-GCM failed (libcrypto)") : e;
}

int vk_bk_unseal(const uint8_t key[32], const void *aad, size_t aadlen, uint8_t *buf, size_t total)
{
    if (total < VK_BK_SEAL_OVERHEAD)
        return -EBADMSG;
    return gcm(0, key, aad, aadlen, buf, total - VK_BK_SEAL_OVERHEAD);
}

int vk_bk_hmac(const uint8_t key[32], const void *data, size_t len, uint8_t out[32])
{
    unsigned n = 0;
    if (!HMAC(EVP_sha256(), key, 32, data, len, out, &n) || n != 32)
        return vk_error(-EIO, "HMAC-SHA-256 failed (libcrypto)");
    return 0;
}
