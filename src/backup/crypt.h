/* Encrypted backup repositories (README "Backup repository format",
 * encryption): the passphrase is stretched by scrypt into a key that
 * unwraps the repository's random 64-byte master key (32 bytes for
 * AES-256-GCM, 32 for HMAC-SHA-256 chunk names); every chunk and snapshot
 * file is sealed as nonce (12) || ciphertext || tag (16), with associated
 * data binding it to its name.  Everything cryptographic is libcrypto's.
 *
 * int functions return 0 or a negative errno after vk_error(). */
#ifndef VK_BACKUP_CRYPT_H
#define VK_BACKUP_CRYPT_H

#include <stddef.h>
#include <stdint.h>

#define VK_BK_NONCE 12
#define VK_BK_TAG 16
#define VK_BK_SEAL_OVERHEAD (VK_BK_NONCE + VK_BK_TAG)
#define VK_BK_MASTER 64                          /* enc key || mac key */
#define VK_BK_WRAPPED (VK_BK_MASTER + VK_BK_SEAL_OVERHEAD)
#define VK_BK_SALT 32
#define VK_BK_SECRET_MAX (64u << 10)             /* a passphrase or key file */

/* scrypt's parameters as the config records them.  Bounded when read
 * (vk_bk_kdf_check), so a hostile config cannot ask for gigabytes. */
struct vk_bk_kdf {
    uint64_t n;             /* a power of two */
    uint32_t r, p;
    uint8_t salt[VK_BK_SALT];
};
#define VK_BK_KDF_N 32768u  /* 2^15, r 8, p 1: 32 MiB, ~0.1 s */
#define VK_BK_KDF_R 8u
#define VK_BK_KDF_P 1u

/* 0 when k is within what this vmkit will run (n a power of two from 2^10
 * to 2^20, r 1-32, p 1-16, at most 1 GiB of memory); -EINVAL naming what
 * (in repo's messages) otherwise. */
int vk_bk_kdf_check(const struct vk_bk_kdf *k, const char *repo);
/* kek = scrypt(secret, k). */
int vk_bk_kdf_derive(const void *secret, size_t len, const struct vk_bk_kdf *k, uint8_t kek[32]);

/* Seal len bytes in place: buf holds VK_BK_NONCE bytes of room, the len
 * plaintext bytes, then VK_BK_TAG bytes of room; a random nonce is written
 * first, the plaintext is replaced by its ciphertext, the tag follows. */
int vk_bk_seal(const uint8_t key[32], const void *aad, size_t aadlen, uint8_t *buf, size_t len);
/* Open what vk_bk_seal made (total bytes at buf): the plaintext, total -
 * VK_BK_SEAL_OVERHEAD bytes, is left at buf + VK_BK_NONCE.  -EBADMSG,
 * with no message set, when it is too short or fails authentication
 * (the caller names the file). */
int vk_bk_unseal(const uint8_t key[32], const void *aad, size_t aadlen, uint8_t *buf, size_t total);

/* HMAC-SHA-256 of len bytes under key. */
int vk_bk_hmac(const uint8_t key[32], const void *data, size_t len, uint8_t out[32]);

/* len random bytes from libcrypto's CSPRNG. */
int vk_bk_random(void *buf, size_t len);

#endif
