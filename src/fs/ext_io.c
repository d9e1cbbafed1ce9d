/* An io_manager for libext2fs on top of a vk_blockdev, so ext2/3/4 work on
 * a partition inside a qcow2 image exactly as on a raw file.  The device
 * pointer travels inside the channel name ("vkbd:0x..."), because
 * libext2fs hands only a name to io_manager->open. */
#include "fs/ext_int.h"

#include "util/err.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct vkio {
    struct vk_blockdev *bd;
};

void ext_io_name(struct vk_blockdev *bd, char *buf, size_t len)
{
    snprintf(buf, len, "vkbd:%p", (void *)bd);
}

static errcode_t from_errno(int r)
{
    return r < 0 ? (errcode_t)-r : 0;
}

static errcode_t vkio_open(const char *name, int flags, io_channel *out)
{
    void *p = NULL;
    if (!name || sscanf(name, "vkbd:%p", &p) != 1 || !p)
        return EXT2_ET_BAD_DEVICE_NAME;
    io_channel io = calloc(1, sizeof *io);
    struct vkio *v = calloc(1, sizeof *v);
    char *n = strdup(name);
    if (!io || !v || !n) {
        free(io); free(v); free(n);
        return EXT2_ET_NO_MEMORY;
    }
    v->bd = p;
    io->magic = EXT2_ET_MAGIC_IO_CHANNEL;
    io->manager = vk_ext_io_manager;
    io->name = n;
    io->block_size = 1024;
    io->refcount = 1;
    io->private_data = v;
    if (flags & IO_FLAG_RW && !(v->bd->flags & VK_OPEN_RDWR)) {
        free(io); free(v); free(n);
        return EROFS;
    }
    *out = io;
    return 0;
}

static errcode_t vkio_close(io_channel io)
{
    if (--io->refcount > 0)
        return 0;
    free(io->private_data);
    free(io->name);
    free(io);
    return 0;
}

static errcode_t vkio_set_blksize(io_channel io, int blksize)
{
    io->block_size = blksize;
    return 0;
}

/* count > 0 is blocks, count < 0 is -bytes (libext2fs convention). */
static int span(io_channel io, unsigned long long block, int count, uint64_t *off, size_t *len)
{
    struct vkio *v = io->private_data;
    *len = count < 0 ? (size_t)-(int64_t)count : (size_t)count * (size_t)io->block_size;
    if (block > UINT64_MAX / (uint64_t)io->block_size)
        return -1;
    *off = block * (uint64_t)io->block_size;
    if (*off > v->bd->size || *len > v->bd->size - *off)
        return -1;
    return 0;
}

static errcode_t vkio_read64(io_channel io, unsigned long long block, int count, void *data)
{
    struct vkio *v = io->private_data;
    uint64_t off;
    size_t len;
    if (span(io, block, count, &off, &len) < 0) {
        vk_error(-EIO, "%s: read of block %llu beyond the end of the device", v->bd->name, block);
        return EXT2_ET_SHORT_READ;
    }
    int r = vk_bd_pread(v->bd, data, len, off);
    return r < 0 ? EXT2_ET_SHORT_READ : 0;
}

static errcode_t vkio_write64(io_channel io, unsigned long long block, int count, const void *data)
{
    struct vkio *v = io->private_data;
    uint64_t off;
    size_t len;
    if (span(io, block, count, &off, &len) < 0) {
        vk_error(-EIO, "%s: write of block %llu beyond the end of the device", v->bd->name, block);
        return EXT2_ET_SHORT_WRITE;
    }
    int r = vk_bd_pwrite(v->bd, data, len, off);
    return r < 0 ? EXT2_ET_SHORT_WRITE : 0;
}

static errcode_t vkio_read(io_channel io, unsigned long block, int count, void *data)
{
    return vkio_read64(io, block, count, data);
}

static errcode_t vkio_write(io_channel io, unsigned long block, int count, const void *data)
{
    return vkio_write64(io, block, count, data);
}

static errcode_t vkio_write_byte(io_channel io, unsigned long offset, int size, const void *data)
{
    struct vkio *v = io->private_data;
    if (size < 0 || offset > v->bd->size || (uint64_t)size > v->bd->size - offset)
        return EXT2_ET_SHORT_WRITE;
    return vk_bd_pwrite(v->bd, data, (size_t)size, offset) < 0 ? EXT2_ET_SHORT_WRITE : 0;
}

static errcode_t vkio_flush(io_channel io)
{
    struct vkio *v = io->private_data;
    if (!(v->bd->flags & VK_OPEN_RDWR))
        return 0;
    return from_errno(vk_bd_flush(v->bd));
}

static errcode_t vkio_zero(io_channel io, unsigned long long block, unsigned long long count,
                           int flags)
{
    struct vkio *v = io->private_data;
    uint64_t bs = (uint64_t)io->block_size;
    if (block > v->bd->size / bs || count > v->bd->size / bs - block)
        return EXT2_ET_UNIMPLEMENTED;
    int r = vk_bd_write_zeroes(v->bd, block * bs, count * bs, flags);
    return r < 0 ? EXT2_ET_UNIMPLEMENTED : 0;
}

static errcode_t vkio_zeroout(io_channel io, unsigned long long block, unsigned long long count)
{
    return vkio_zero(io, block, count, 0);
}

static errcode_t vkio_discard(io_channel io, unsigned long long block, unsigned long long count)
{
    return vkio_zero(io, block, count, VK_ZERO_MAY_UNMAP);
}

static errcode_t vkio_set_option(io_channel io, const char *option, const char *arg)
{
    (void)io; (void)option; (void)arg;
    return EXT2_ET_INVALID_ARGUMENT;
}

static struct struct_io_manager mgr = {
    .magic = EXT2_ET_MAGIC_IO_MANAGER,
    .name = "vmkit blockdev I/O manager",
    .open = vkio_open,
    .close = vkio_close,
    .set_blksize = vkio_set_blksize,
    .read_blk = vkio_read,
    .write_blk = vkio_write,
    .flush = vkio_flush,
    .write_byte = vkio_write_byte,
    .set_option = vkio_set_option,
    .read_blk64 = vkio_read64,
    .write_blk64 = vkio_write64,
    .discard = vkio_discard,
    .zeroout = vkio_zeroout,
};

io_manager vk_ext_io_manager = &mgr;
