/* libFuzzer entry point: what `vmkit migrate-receive` reads off its pipe
 * before it starts anything (migproto.h): the header; the metadata (the
 * rest of the input, with a header made to match it, since a fuzzer
 * cannot forge its SHA-256), its list of disks to copy and the config
 * built from it; the trailer (the last 48 bytes); the input as the
 * receiver's "nbd unix:PATH" answer line. */
#include "vm/migproto.h"
#include "vm/save_int.h"
#include "util/endian.h"
#include "util/err.h"

#include <openssl/evp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct vk_mighdr h;
    vk_mighdr_parse(data, size, "fuzz", &h);
    if (size >= VK_MIG_HDR) {
        /* the metadata as the header describes it, made to match */
        struct vk_mighdr m = { .version = VK_MIG_VERSION,
                               .meta_len = size - VK_MIG_HDR,
                               .files_len = vk_get_le64(data + 24) % (VK_MIG_MAX_FILES + 1) };
        const char *json = (const char *)data + VK_MIG_HDR;
        EVP_Digest(json, m.meta_len, m.meta_sha, NULL, EVP_sha256(), NULL);
        struct vk_savemeta meta;
        if (m.meta_len && vk_migmeta_parse(json, &m, "fuzz", &meta) == 0) {
            struct vk_restore_opts none = { 0 };
            struct vk_domcfg cfg;
            if (vk_save_config("fuzz", &meta, &none, &cfg) == 0)
                vk_domcfg_free(&cfg);
            vk_savemeta_free(&meta);
            struct vk_migdisk *d;
            int n;
            if (vk_migdisks_parse(json, m.meta_len, "fuzz", &d, &n) == 0) {
                for (int i = 0; i < n; i++)
                    if (!d[i].vdev[0] || !d[i].size)
                        __builtin_trap();
                free(d);
            }
        }
        /* and a metadata damaged on the way is refused */
        m.meta_sha[0] ^= 1;
        if (m.meta_len && vk_migmeta_parse(json, &m, "fuzz", &meta) == 0)
            __builtin_trap();
    }
    if (size >= VK_MIG_TRAILER) {
        uint8_t sha[32] = { 0 };
        vk_migtrailer_check(data + size - VK_MIG_TRAILER, vk_get_le64(data), sha, "fuzz");
    }
    /* the answer line, NUL-terminated as the sender reads it */
    char line[1024], path[108];
    int port;
    size_t ll = size < sizeof line - 1 ? size : sizeof line - 1;
    memcpy(line, data, ll);
    line[ll] = 0;
    if (vk_mignbd_parse(line, "fuzz", path, sizeof path, &port) == 0 &&
        (port ? path[0] || port > 65535 : path[0] != '/'))
        __builtin_trap();
    vk_error_clear();
    return 0;
}
