/* slice: a byte window of another device - a partition, or the
 * `losetup -o 32256` of the old HOWTOs.  Offsets are relative to the
 * window; everything else passes through to the parent. */
#include "block/blockdev.h"

#include "util/err.h"

#include <errno.h>

struct slice {
    struct vk_blockdev *parent;
    uint64_t offset;
    bool own_parent;
};

static int slice_pread(struct vk_blockdev *bd, void *buf, size_t len, uint64_t off)
{
    struct slice *s = bd->priv;
    return vk_bd_pread(s->parent, buf, len, s->offset + off);
}

static int slice_pwrite(struct vk_blockdev *bd, const void *buf, size_t len, uint64_t off)
{
    struct slice *s = bd->priv;
    return vk_bd_pwrite(s->parent, buf, len, s->offset + off);
}

static int slice_flush(struct vk_blockdev *bd)
{
    struct slice *s = bd->priv;
    return vk_bd_flush(s->parent);
}

static int slice_write_zeroes(struct vk_blockdev *bd, uint64_t off, uint64_t len, int flags)
{
    struct slice *s = bd->priv;
    return vk_bd_write_zeroes(s->parent, s->offset + off, len, flags);
}

static int slice_block_status(struct vk_blockdev *bd, uint64_t off, uint64_t len,
                              uint64_t *pnum, uint64_t *host_off)
{
    struct slice *s = bd->priv;
    return vk_bd_block_status(s->parent, s->offset + off, len, pnum, host_off);
}

static int slice_close(struct vk_blockdev *bd)
{
    struct slice *s = bd->priv;
    int r = 0;
    if (s->own_parent)
        r = vk_bd_close(s->parent);
    vk_bd_free(bd);
    return r;
}

static const struct vk_blockdev_ops slice_ops = {
    .pread = slice_pread,
    .pwrite = slice_pwrite,
    .flush = slice_flush,
    .write_zeroes = slice_write_zeroes,
    .block_status = slice_block_status,
    .close = slice_close,
};

int vk_slice_open(struct vk_blockdev *parent, uint64_t offset, uint64_t length,
                  const char *name, bool own_parent, struct vk_blockdev **out)
{
    struct vk_blockdev *bd;
    struct slice *s;

    if (offset > parent->size || length > parent->size - offset)
        return vk_error(-EINVAL, "%s: window %llu+%llu lies beyond the end of %s (%llu bytes)",
                        name, (unsigned long long)offset, (unsigned long long)length,
                        parent->name, (unsigned long long)parent->size);
    bd = vk_bd_alloc(&slice_ops, NULL, name, sizeof *s);
    if (!bd)
        return vk_error(-ENOMEM, "%s: out of memory", name);
    s = bd->priv;
    s->parent = parent;
    s->offset = offset;
    s->own_parent = own_parent;
    bd->size = length;
    bd->cluster_size = parent->cluster_size;
    bd->flags = parent->flags;
    *out = bd;
    return 0;
}
