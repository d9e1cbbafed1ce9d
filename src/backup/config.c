/* REPO/config: a repository's parameters (README "Backup repository
 * format"), parsed from untrusted bytes and written for vk_bk_init. */
#include "backup/backup.h"

#include "util/err.h"
#include "util/str.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int bad_config(const char *path, const char *what)
{
    return vk_error(-EINVAL, "%s: not a vmkit backup repository (config: %s)", path, what);
}

static bool is_str(json_t *j, const char *key, const char *want)
{
    const char *v = json_string_value(json_object_get(j, key));
    return v && !strcmp(v, want);
}

/* An integer member in [lo, hi], else false. */
static bool get_int(json_t *j, const char *key, json_int_t lo, json_int_t hi, json_int_t *out)
{
    json_t *v = json_object_get(j, key);
    if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi)
        return false;
    *out = json_integer_value(v);
    return true;
}

/* The "kdf" object and "key" of an encrypted repository. */
static int parse_key(json_t *j, const char *path, struct vk_bk_config *c)
{
    json_t *k = json_object_get(j, "kdf");
    json_int_t n, r, p;
    if (!json_is_object(k) || !is_str(k, "name", "scrypt"))
        return vk_error(-ENOTSUP, "%s: repository key derivation not supported (scrypt)", path);
    if (!get_int(k, "n", 1, INT64_MAX, &n) || !get_int(k, "r", 1, UINT32_MAX, &r) ||
        !get_int(k, "p", 1, UINT32_MAX, &p) ||
        !vk_hex_decode(json_string_value(json_object_get(k, "salt")), c->kdf.salt,
                       sizeof c->kdf.salt))
        return bad_config(path, "bad kdf");
    c->kdf.n = (uint64_t)n;
    c->kdf.r = (uint32_t)r;
    c->kdf.p = (uint32_t)p;
    if (!vk_hex_decode(json_string_value(json_object_get(j, "key")), c->wrapped,
                       sizeof c->wrapped))
        return bad_config(path, "bad key");
    return vk_bk_kdf_check(&c->kdf, path);
}

int vk_bk_config_parse(const char *buf, size_t len, const char *path, struct vk_bk_config *c)
{
    memset(c, 0, sizeof *c);
    json_error_t je;
    json_t *j = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &je);
    json_int_t cs;
    int r = 0;
    if (!json_is_object(j))
        r = bad_config(path, "not a JSON object");
    else if (!is_str(j, "format", "vmkit-backup"))
        r = bad_config(path, "format is not vmkit-backup");
    else if (!json_is_integer(json_object_get(j, "version")) ||
             json_integer_value(json_object_get(j, "version")) != 1)
        r = vk_error(-ENOTSUP, "%s: repository format version not supported (this vmkit reads 1)", path);
    else if (!is_str(j, "compression", "zstd"))
        r = vk_error(-ENOTSUP, "%s: repository compression not supported (zstd)", path);
    else if (is_str(j, "encryption", "none") && is_str(j, "hash", "sha256"))
        c->encrypted = false;
    else if (is_str(j, "encryption", "aes-256-gcm") && is_str(j, "hash", "hmac-sha256"))
        c->encrypted = true;
    else
        r = vk_error(-ENOTSUP, "%s: repository encryption or hash not supported "
                     "(none with sha256, aes-256-gcm with hmac-sha256)", path);
    if (r == 0 && (!get_int(j, "chunk_size", VK_BK_CHUNK_MIN, VK_BK_CHUNK_MAX, &cs) ||
                   (cs & (cs - 1))))
        r = bad_config(path, "bad chunk_size");
    if (r == 0)
        c->chunk_size = (uint32_t)cs;
    if (r == 0 && c->encrypted)
        r = parse_key(j, path, c);
    json_decref(j);
    return r;
}

char *vk_bk_config_dump(const struct vk_bk_config *c)
{
    json_t *j = json_pack("{s:s, s:i, s:I, s:s, s:s, s:s}", "format", "vmkit-backup", "version", 1,
                          "chunk_size", (json_int_t)c->chunk_size, "hash",
                          c->encrypted ? "hmac-sha256" : "sha256", "compression", "zstd",
                          "encryption", c->encrypted ? "aes-256-gcm" : "none");
    if (j && c->encrypted) {
        char salt[2 * VK_BK_SALT + 1], key[2 * VK_BK_WRAPPED + 1];
        vk_hex_encode(c->kdf.salt, sizeof c->kdf.salt, salt);
        vk_hex_encode(c->wrapped, sizeof c->wrapped, key);
        json_t *k = json_pack("{s:s, s:I, s:I, s:I, s:s}", "name", "scrypt", "n",
                              (json_int_t)c->kdf.n, "r", (json_int_t)c->kdf.r, "p",
                              (json_int_t)c->kdf.p, "salt", salt);
        if (!k || json_object_set_new(j, "kdf", k) < 0 ||
            json_object_set_new(j, "key", json_string(key)) < 0) {
            json_decref(j);
            j = NULL;
        }
    }
    return vk_bk_json_text(j, 2);
}
