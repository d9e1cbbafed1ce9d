/* libFuzzer entry point: what install-grub reads from a disk it does not
 * control.  The first byte picks:
 *   even  the rest is a disk: its partition table gives the room for the
 *         core image (vk_grub_room), and its first sector and the bytes after
 *         it are patched as sector 0 and a core image (vk_grub_patch), which
 *         must never change bytes 440-511;
 *   odd   the rest is a boot directory listing (names separated by '/' or
 *         NUL): the kernels found (vk_grub_find_kernels) and grub.cfg
 *         (vk_grub_config), which must hold one menuentry per kernel and
 *         nothing a name smuggled in (no quote, brace or newline from a name). */
#include "boot/grub_install.h"
#include "fuzz_mem.h"
#include "util/err.h"

#include <stdlib.h>
#include <string.h>

static void disk(const uint8_t *data, size_t size)
{
    struct vk_blockdev *bd = fuzz_open_mem(data, size, 1u << 20, "raw", 0);
    if (bd) {
        struct vk_ptable t = { 0 };
        uint64_t lba, n;
        unsigned bios;
        if (vk_ptable_read(bd, &t) == 0)
            vk_grub_room(&t, "fuzz", &lba, &n, &bios);
        vk_ptable_free(&t);
        vk_bd_close(bd);
    }
    uint8_t sector0[512] = { 0 }, before[512], boot[512] = { 0 };
    memcpy(sector0, data, size < 512 ? size : 512);
    memcpy(before, sector0, 512);
    boot[510] = 0x55;
    boot[511] = 0xaa;
    size_t len = size > 512 ? (size - 512) / 512 * 512 : 0;
    uint8_t *core = malloc(len ? len : 1);
    if (!core)
        return;
    memcpy(core, data + (size > 512 ? 512 : 0), len);
    if (vk_grub_patch(sector0, boot, core, len, size, "fuzz") == 0 &&
        memcmp(sector0 + 440, before + 440, 72))
        abort();
    free(core);
}

static void names(const uint8_t *data, size_t size)
{
    char *buf = malloc(size + 1), *v[256];
    size_t n = 0;
    if (!buf)
        return;
    memcpy(buf, data, size);
    buf[size] = 0;
    for (char *p = buf, *e; p < buf + size && n < 256; p = e + 1) {
        e = p + strcspn(p, "/");
        *e = 0;
        v[n++] = p;
    }
    struct vk_grub_kernel *k;
    size_t nk;
    char *text;
    struct vk_grub_cfg c = { .uuid = "1234-ABCD", .root_uuid = "1234-ABCD", .boot = "/boot",
                             .fs_module = "fat", .part_module = "part_msdos", .timeout = 5 };
    if (vk_grub_find_kernels(v, n, &k, &nk) == 0) {
        if (vk_grub_config(&c, k, nk, &text) == 0) {
            size_t entries = 0, braces = 0;
            for (const char *p = text; (p = strstr(p, "\nmenuentry ")); p++)
                entries++;
            for (const char *p = text; *p; p++)
                braces += *p == '{' || *p == '}';
            if (entries != nk || braces != 2 * nk)
                abort();
            free(text);
        }
        vk_grub_kernels_free(k, nk);
    }
    free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    if (data[0] & 1)
        names(data + 1, size - 1);
    else
        disk(data + 1, size - 1);
    vk_error_clear();
    return 0;
}
