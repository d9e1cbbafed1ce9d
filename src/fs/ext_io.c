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

/* A direct-mapped write-back block cache.  libext2fs reads the same
 * inode-table, bitmap and directory blocks over and over (one block per
 * inode read); without a cache populating 20,000 files costs 1.5 million
 * preads.  Dirty blocks are written at flush (libext2fs flushes on close
 * and ext2fs_flush), on eviction, and before any uncached access that
 * overlaps them, so every read sees the latest data. */
#define CACHE_SLOTS 16384u
#define RUN_MAX 256u

struct slot {
    uint64_t block;
    uint8_t *data;      /* NULL: empty */
    bool dirty;
};

struct vkio {
    struct vk_blockdev *bd;
    struct slot *slots;
    uint8_t *runbuf;    /* RUN_MAX blocks, for coalesced write-back */
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

static struct slot *slot_of(struct vkio *v, uint64_t block)
{
    return &v->slots[block % CACHE_SLOTS];
}

/* Write back the dirty block in s together with the dirty blocks that
 * follow it on disk and sit in the following slots, as one pwrite. */
static int write_run(io_channel io, struct slot *s)
{
    struct vkio *v = io->private_data;
    size_t bs = (size_t)io->block_size;
    uint64_t start = s->block;
    unsigned n = 0;
    while (n < RUN_MAX) {
        struct slot *t = slot_of(v, start + n);
        if (!t->data || !t->dirty || t->block != start + n)
            break;
        if (!v->runbuf && !(v->runbuf = malloc(RUN_MAX * bs)))
            return -ENOMEM;
        memcpy(v->runbuf + n * bs, t->data, bs);
        n++;
    }
    if (!n)
        return 0;
    int r = vk_bd_pwrite(v->bd, v->runbuf, n * bs, start * bs);
    if (r < 0)
        return r;
    for (unsigned i = 0; i < n; i++)
        slot_of(v, start + i)->dirty = false;
    return 0;
}

static int cache_flush(io_channel io)
{
    struct vkio *v = io->private_data;
    if (!v->slots)
        return 0;
    /* Write in disk order of the slot scan; runs coalesce. */
    for (unsigned i = 0; i < CACHE_SLOTS; i++) {
        struct slot *s = &v->slots[i];
        if (s->data && s->dirty) {
            int r = write_run(io, s);
            if (r < 0)
                return r;
        }
    }
    return 0;
}

static void cache_drop(struct vkio *v)
{
    if (!v->slots)
        return;
    for (unsigned i = 0; i < CACHE_SLOTS; i++)
        free(v->slots[i].data);
    free(v->slots);
    v->slots = NULL;
}

/* Before an uncached access to blocks [first, last]: write back dirty
 * blocks there and, for a write, forget them. */
static int cache_sync_range(io_channel io, uint64_t first, uint64_t last, bool forget)
{
    struct vkio *v = io->private_data;
    if (!v->slots)
        return 0;
    if (last - first >= CACHE_SLOTS) {
        int r = cache_flush(io);
        if (r < 0)
            return r;
        if (forget)
            for (unsigned i = 0; i < CACHE_SLOTS; i++)
                if (v->slots[i].data && v->slots[i].block >= first && v->slots[i].block <= last) {
                    free(v->slots[i].data);
                    v->slots[i].data = NULL;
                }
        return 0;
    }
    for (uint64_t b = first; b <= last; b++) {
        struct slot *s = slot_of(v, b);
        if (!s->data || s->block != b)
            continue;
        if (s->dirty && !forget) {
            int r = write_run(io, s);
            if (r < 0)
                return r;
        }
        if (forget) {
            free(s->data);
            s->data = NULL;
        }
    }
    return 0;
}

static errcode_t vkio_close(io_channel io)
{
    if (--io->refcount > 0)
        return 0;
    struct vkio *v = io->private_data;
    int r = (v->bd->flags & VK_OPEN_RDWR) ? cache_flush(io) : 0;
    cache_drop(v);
    free(v->runbuf);
    free(io->private_data);
    free(io->name);
    free(io);
    return from_errno(r);
}

static errcode_t vkio_set_blksize(io_channel io, int blksize)
{
    struct vkio *v = io->private_data;
    if (blksize != io->block_size) {
        int r = cache_flush(io);
        if (r < 0)
            return from_errno(r);
        cache_drop(v);
    }
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

static int cache_init(struct vkio *v)
{
    if (!v->slots && !(v->slots = calloc(CACHE_SLOTS, sizeof *v->slots)))
        return -ENOMEM;
    return 0;
}

/* Fill the single block `block` of the cache (reading unless whole is
 * given) and return its slot. */
static int cache_get(io_channel io, uint64_t block, const void *whole, struct slot **out)
{
    struct vkio *v = io->private_data;
    size_t bs = (size_t)io->block_size;
    int r = cache_init(v);
    if (r < 0)
        return r;
    struct slot *s = slot_of(v, block);
    if (s->data && s->block == block) {
        *out = s;
        return 0;
    }
    if (s->data && s->dirty && (r = write_run(io, s)) < 0)
        return r;
    if (!s->data && !(s->data = malloc(bs)))
        return -ENOMEM;
    if (whole)
        memcpy(s->data, whole, bs);
    else if ((r = vk_bd_pread(v->bd, s->data, bs, block * bs)) < 0) {
        free(s->data);
        s->data = NULL;
        return r;
    }
    s->block = block;
    s->dirty = false;
    *out = s;
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
    int r;
    if (count == 1) {
        struct slot *s;
        if ((r = cache_get(io, block, NULL, &s)) < 0)
            return EXT2_ET_SHORT_READ;
        memcpy(data, s->data, len);
        return 0;
    }
    uint64_t bs = (uint64_t)io->block_size;
    if (len && (r = cache_sync_range(io, off / bs, (off + len - 1) / bs, false)) < 0)
        return EXT2_ET_SHORT_READ;
    r = vk_bd_pread(v->bd, data, len, off);
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
    int r;
    if (count == 1) {
        struct slot *s;
        if ((r = cache_get(io, block, data, &s)) < 0)
            return EXT2_ET_SHORT_WRITE;
        memcpy(s->data, data, len);
        s->dirty = true;
        return 0;
    }
    uint64_t bs = (uint64_t)io->block_size;
    /* Byte-sized writes are the superblock, which libext2fs writes last in
     * ext2fs_flush: let everything it describes reach the device first. */
    if (count < 0 && (r = cache_flush(io)) < 0)
        return EXT2_ET_SHORT_WRITE;
    if (len && (r = cache_sync_range(io, off / bs, (off + len - 1) / bs, true)) < 0)
        return EXT2_ET_SHORT_WRITE;
    r = vk_bd_pwrite(v->bd, data, len, off);
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
    if (size <= 0 || offset > v->bd->size || (uint64_t)size > v->bd->size - offset)
        return EXT2_ET_SHORT_WRITE;
    uint64_t bs = (uint64_t)io->block_size;
    if (cache_sync_range(io, offset / bs, (offset + (uint64_t)size - 1) / bs, true) < 0)
        return EXT2_ET_SHORT_WRITE;
    return vk_bd_pwrite(v->bd, data, (size_t)size, offset) < 0 ? EXT2_ET_SHORT_WRITE : 0;
}

static errcode_t vkio_flush(io_channel io)
{
    struct vkio *v = io->private_data;
    if (!(v->bd->flags & VK_OPEN_RDWR))
        return 0;
    int r = cache_flush(io);
    if (r < 0)
        return from_errno(r);
    return from_errno(vk_bd_flush(v->bd));
}

static errcode_t vkio_zero(io_channel io, unsigned long long block, unsigned long long count,
                           int flags)
{
    struct vkio *v = io->private_data;
    uint64_t bs = (uint64_t)io->block_size;
    if (block > v->bd->size / bs || count > v->bd->size / bs - block)
        return EXT2_ET_UNIMPLEMENTED;
    if (count && cache_sync_range(io, block, block + count - 1, true) < 0)
        return EXT2_ET_SHORT_WRITE;
    int r = vk_bd_write_zeroes(v->bd, block * bs, count * bs, flags);
    return r < 0 ? EXT2_ET_UNIMPLEMENTED : 0;
}

/* Zeroed ranges (inode tables, journal) may become holes: they read as
 * zeroes either way, and a sparse image stays sparse. */
static errcode_t vkio_zeroout(io_channel io, unsigned long long block, unsigned long long count)
{
    return vkio_zero(io, block, count, VK_ZERO_MAY_UNMAP);
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

/* Not const only because libext2fs's io_manager type points to non-const;
 * nothing writes it. */
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

io_manager const vk_ext_io_manager = &mgr;
