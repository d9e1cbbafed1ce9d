/* The migration wire format (migproto.h). */
#include "vm/migproto.h"
#include "util/endian.h"
#include "util/err.h"

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
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
    if (h->flags & ~(VK_MIG_LIVE | VK_MIG_COPY))
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

/* Contract in migproto.h. */
int vk_migdisks_parse(const char *json, size_t len, const char *what, struct vk_migdisk **out,
                      int *n)
{
    *out = NULL;
    *n = 0;
    json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES, NULL);
    if (!root)
        return vk_error(-EINVAL, "%s: the metadata is not JSON", what);
    json_t *arr = json_is_object(root) ? json_object_get(root, "copy") : NULL;
    int err = 0;
    if (!arr)
        goto out;
    size_t cnt = json_is_array(arr) ? json_array_size(arr) : 0;
    if (!json_is_array(arr) || cnt > VK_MIG_MAX_COPY) {
        err = vk_error(-EINVAL, "%s: bad copy list (not an array of at most %d disks)", what,
                       VK_MIG_MAX_COPY);
        goto out;
    }
    if (cnt && !(*out = calloc(cnt, sizeof **out))) {
        err = vk_error(-ENOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < cnt; i++) {
        json_t *d = json_array_get(arr, i), *v = json_object_get(d, "vdev"),
               *sz = json_object_get(d, "size");
        const char *s = json_string_value(v);
        size_t sl = s ? strlen(s) : 0;
        int good = s && sl > 0 && sl < sizeof (*out)[i].vdev && json_is_integer(sz) &&
                   json_integer_value(sz) > 0 && json_integer_value(sz) <= (1ll << 60);
        for (size_t k = 0; good && k < sl; k++)
            good = (s[k] >= 'a' && s[k] <= 'z') || (s[k] >= '0' && s[k] <= '9');
        for (size_t k = 0; good && k < i; k++)
            good = strcmp((*out)[k].vdev, s) != 0;
        if (!good) {
            err = vk_error(-EINVAL, "%s: bad copy list (disk %zu)", what, i);
            goto out;
        }
        memcpy((*out)[i].vdev, s, sl + 1);
        (*out)[i].size = (uint64_t)json_integer_value(sz);
        *n = (int)i + 1;
    }
out:
    json_decref(root);
    if (err) {
        free(*out);
        *out = NULL;
        *n = 0;
    }
    return err;
}

/* Contract in migproto.h. */
int vk_mignbd_parse(const char *line, const char *what, char *path, size_t len, int *port)
{
    *port = 0;
    if (len)
        path[0] = 0;
    if (!strncmp(line, "nbd tcp:", 8)) {
        const char *d = line + 8;
        long v = 0;
        size_t k = 0;
        for (; d[k] >= '0' && d[k] <= '9' && k < 6; k++)
            v = v * 10 + (d[k] - '0');
        if (k == 0 || d[k] || v < 1 || v > 65535)
            return vk_error(-EPROTO, "%s: bad NBD address '%.200s'", what, line);
        *port = (int)v;
        return 0;
    }
    const char *p = !strncmp(line, "nbd unix:", 9) ? line + 9 : NULL;
    size_t pl = p ? strlen(p) : 0;
    int good = p && p[0] == '/' && pl < 108 && pl < len;
    for (size_t k = 0; good && k < pl; k++)
        good = (unsigned char)p[k] >= 0x20 && p[k] != 0x7f && !strchr("?&#", p[k]);
    if (!good)
        return vk_error(-EPROTO, "%s: bad NBD address '%.200s'", what, line);
    memcpy(path, p, pl + 1);
    return 0;
}
