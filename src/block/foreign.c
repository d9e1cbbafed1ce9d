/* Image formats vmkit recognizes but cannot read.
 *
 * Taking a VDI or VMDK file for a raw disk gives the guest (or a convert)
 * the container's bytes instead of its disk: wrong content with exit 0.
 * So probing knows every format qemu-img knows, by the signatures of
 * QEMU's block/<driver>.c probe functions, and vk_bd_open() refuses the
 * ones without a driver here by name; `-f raw` still takes the bytes as
 * they are.
 *
 * When a real driver for one of these lands (block/vdi.c ...), its entry
 * stops applying by itself: an entry is skipped when a format of the same
 * name is registered, and a driver's probe wins over this table anyway.
 * Delete the entry then. */
#include "block/blockdev.h"

#include "util/err.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* What the probe sees: the head of the file and its last 512 bytes (VHD
 * footer, DMG trailer). */
struct probe_buf {
    const uint8_t *head;
    size_t len;
    const uint8_t *tail;    /* NULL when the file is shorter than 1024 bytes */
};

static bool at(const struct probe_buf *b, size_t off, const void *magic, size_t n)
{
    return b->len >= off + n && !memcmp(b->head + off, magic, n);
}

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static bool is_qed(const struct probe_buf *b) { return at(b, 0, "QED\0", 4); }

/* block/qcow.c: the qcow2 magic with version 1 (qcow2.c takes 2 and up;
 * 0 never existed, but is no raw disk either). */
static bool is_qcow1(const struct probe_buf *b)
{
    return at(b, 0, "QFI\xfb", 4) && b->len >= 8 && be32(b->head + 4) < 2;
}

/* block/parallels.c: either magic, version 2. */
static bool is_parallels(const struct probe_buf *b)
{
    return (at(b, 0, "WithoutFreeSpace", 16) || at(b, 0, "WithouFreSpacExt", 16)) &&
           b->len >= 20 && le32(b->head + 16) == 2;
}

static bool is_bochs(const struct probe_buf *b)
{
    return at(b, 0, "Bochs Virtual HD Image", 23);   /* with its NUL */
}

static bool is_cloop(const struct probe_buf *b)
{
    static const char magic[] = "#!/bin/sh\n#V2.0 Format\n"
                                "modprobe cloop file=$0 && mount -r -t iso9660 /dev/cloop $1\n";
    return at(b, 0, magic, sizeof magic - 1);
}

/* A UDIF trailer ("koly", version 4, 512 bytes) at the end of the file;
 * QEMU itself goes by the .dmg file name. */
static bool is_dmg(const struct probe_buf *b)
{
    return b->tail && !memcmp(b->tail, "koly", 4) && be32(b->tail + 4) == 4 && be32(b->tail + 8) == 512;
}

static bool is_luks(const struct probe_buf *b) { return at(b, 0, "LUKS\xba\xbe", 6); }

static const struct {
    const char *name;   /* QEMU's format name: a vmkit driver of that name wins */
    const char *desc;
    bool (*match)(const struct probe_buf *b);
} foreign[] = {
    { "qed", "QED image", is_qed },
    { "qcow", "qcow version 1 image", is_qcow1 },
    { "parallels", "Parallels image", is_parallels },
    { "bochs", "Bochs image", is_bochs },
    { "cloop", "cloop image", is_cloop },
    { "dmg", "DMG image (Apple disk image)", is_dmg },
    { "luks", "LUKS-encrypted volume", is_luks },
};

int vk_foreign_probe(int fd, const char *path, const uint8_t *head, size_t len)
{
    uint8_t tail[512];
    struct probe_buf b = { head, len, NULL };
    struct stat st;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size >= 1024) {
        ssize_t n;
        do
            n = pread(fd, tail, sizeof tail, st.st_size - (off_t)sizeof tail);
        while (n < 0 && errno == EINTR);
        if (n == (ssize_t)sizeof tail)
            b.tail = tail;
    }
    for (size_t i = 0; i < sizeof foreign / sizeof foreign[0]; i++)
        if (!vk_format_by_name(foreign[i].name) && foreign[i].match(&b))
            return vk_error(-ENOTSUP, "%s: %s: vmkit cannot read this format; use --format raw to take the bytes as they are",
                            path, foreign[i].desc);
    return 0;
}
