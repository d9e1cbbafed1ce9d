/* The migration wire format (migproto.h). */
#include "vm/migproto.h"
#include "util/endian.h"
#include "util/err.h"

#include <errno.h>
#include <openssl/evp.h>
#include <string.h>
#include <zlib.h>

/* Contract in migproto.h. */
void vk_mighdr_encode(const struct vk_mighdr *h, uint8_t *out)
{
    memset(out, 0, VK_MIG_HDR);
    memcpy(out, VK_MIG_MAGIC, 8);
    vk_put_le32(out + 8, VK_MIG_VERSION);
    vk_put_le32(out + 12, h->flags);
    vk_put_le64(out + 16, h->meta_len);
    vk_put_le64(out + 24, h->files_len);
    memcpy(out + 32, h->meta_sha, 32);
    vk_put_le32(out + 64, (uint32_t)crc32(0, out, 64));
}

/* Contract in migproto.h. */
int vk_mighdr_parse(const uint8_t *b, size_t len, const char *what, struct vk_mighdr *h)
{
    memset(h, 0, sizeof *h);
    if (len < VK_MIG_HDR || memcmp(b, VK_MIG_MAGIC, 8))
        return vk_error(-EINVAL, "%s: not a vmkit migration stream", what);
    if ((uint32_t)crc32(0, b, 64) != vk_get_le32(b + 64) || vk_get_le32(b + 68))
        return vk_error(-EINVAL, "%s: migration header is damaged (checksum)", what);
    h->version = vk_get_le32(b + 8);
    h->flags = vk_get_le32(b + 12);
    h->meta_len = vk_get_le64(b + 16);
    h->files_len = vk_get_le64(b + 24);
    memcpy(h->meta_sha, b + 32, 32);
    if (h->version != VK_MIG_VERSION)
        return vk_error(-EINVAL, "%s: migration protocol version %u is not supported (this "
                        "vmkit speaks version %d)", what, h->version, VK_MIG_VERSION);
    if (h->flags & ~VK_MIG_LIVE)
        return vk_error(-EINVAL, "%s: migration header has unknown flags 0x%x", what, h->flags);
    if (h->meta_len == 0 || h->meta_len > VK_SAVE_MAX_META)
        return vk_error(-EINVAL, "%s: metadata length %llu is out of range", what,
                        (unsigned long long)h->meta_len);
    if (h->files_len > VK_MIG_MAX_FILES)
        return vk_error(-EINVAL, "%s: %llu bytes of boot files is too much", what,
                        (unsigned long long)h->files_len);
    return 0;
}

/* Contract in migproto.h. */
int vk_migmeta_parse(const char *json, const struct vk_mighdr *h, const char *what,
                     struct vk_savemeta *m)
{
    uint8_t sha[32];
    unsigned int n = 0;
    memset(m, 0, sizeof *m);
    if (!EVP_Digest(json, h->meta_len, sha, &n, EVP_sha256(), NULL))
        return vk_error(-ENOMEM, "SHA-256 failed");
    if (memcmp(sha, h->meta_sha, 32))
        return vk_error(-EBADMSG, "%s: the migration metadata is damaged (checksum)", what);
    /* the files as a save file lays them out: from its header on */
    struct vk_savehdr sh = { .stream_off = VK_SAVE_HDR + h->files_len };
    return vk_savemeta_parse(json, h->meta_len, &sh, what, m);
}

/* Contract in migproto.h. */
void vk_migtrailer_encode(uint64_t len, const uint8_t *sha, uint8_t *out)
{
    memcpy(out, VK_MIG_END_MAGIC, 8);
    vk_put_le64(out + 8, len);
    memcpy(out + 16, sha, 32);
}

/* Contract in migproto.h. */
int vk_migtrailer_check(const uint8_t *b, uint64_t len, const uint8_t *sha, const char *what)
{
    if (memcmp(b, VK_MIG_END_MAGIC, 8))
        return vk_error(-EBADMSG, "%s: bad end marker after the migration stream", what);
    if (vk_get_le64(b + 8) != len)
        return vk_error(-EBADMSG, "%s: %llu bytes of migration stream were sent, %llu arrived",
                        what, (unsigned long long)vk_get_le64(b + 8), (unsigned long long)len);
    if (memcmp(b + 16, sha, 32))
        return vk_error(-EBADMSG, "%s: the migration stream is damaged (checksum)", what);
    return 0;
}
