/* An io_manager for libext2fs on top of a vk_blockdev, so ext2/3/4 work on
 * a partition inside a qcow2 image exactly as on a raw file.  The device
 * pointer travels inside the channel name ("vkbd:0x..."), because
 * libext2fs hands only a name to io_manager->open. */
#include "fs/ext_int.h"

#include "util/err.h"
#include "util/vec.h"

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
 * overlaps them, so every read sees the latest data.
 *
 * Crash ordering (see ext_int.h): blocks written while the channel is in
 * commit mode (ext_io_commit) are "held": kept apart from the cache and
 * never written before the next flush, which first writes every other
 * dirty block, syncs the device (vk_bd_flush: on qcow2 also the tables
 * that map new clusters), and only then writes the held blocks, in the
 * order they were first held, and syncs again.  Anything written to a
 * held block later (in either mode) stays held.  So a directory entry or
 * an inode that makes new data visible reaches the disk only after that
 * data, and after the bitmaps that mark it used. */
#define CACHE_SLOTS 16384u
#define RUN_MAX 256u

struct slot {
    uint64_t block;
    uint8_t *data;      /* NULL: empty */
    bool dirty;
};

/* Held blocks: a list in the order they were first held, and an open
 * addressing index (slot value = list position + 1, 0 empty). */
struct held {
    uint64_t *blk;
    uint8_t **data;
    size_t n, cap;
    size_t *idx;
    size_t icap;        /* power of two, > 2n */
};

struct vkio {
    struct vk_blockdev *bd;
    struct slot *slots;
    uint8_t *runbuf;    /* RUN_MAX blocks, for coalesced write-back */
    struct held h;
    bool commit;        /* writes now are held */
    bool unsynced;      /* written since the last vk_bd_flush */
};

/* Every device write goes through these, so a barrier with nothing new
 * to sync costs no fdatasync. */
static int dev_write(struct vkio *v, const void *buf, size_t len, uint64_t off)
{
    v->unsynced = true;
    return vk_bd_pwrite(v->bd, buf, len, off);
}

static int dev_zero(struct vkio *v, uint64_t off, uint64_t len, int flags)
{
    v->unsynced = true;
    return vk_bd_write_zeroes(v->bd, off, len, flags);
}

static int dev_sync(struct vkio *v)
{
    if (!v->unsynced)
        return 0;
    v->unsynced = false;
    return vk_bd_flush(v->bd);
}

void ext_io_name(struct vk_blockdev *bd, char *buf, size_t len)
{
    snprintf(buf, len, "vkbd:%p", (void *)bd);
}

static errcode_t from_errno(int r)
{
    return r < 0 ? (errcode_t)-r : 0;
}

static size_t held_hash(uint64_t b, size_t icap)
{
    return (size_t)((b * 0x9e3779b97f4a7c15ull) >> 20) & (icap - 1);
}

/* The held copy of block b, or NULL. */
static uint8_t *held_get(struct vkio *v, uint64_t b)
{
    struct held *h = &v->h;
    if (!h->n)
        return NULL;
    for (size_t i = held_hash(b, h->icap);; i = (i + 1) & (h->icap - 1)) {
        if (!h->idx[i])
            return NULL;
        if (h->blk[h->idx[i] - 1] == b)
            return h->data[h->idx[i] - 1];
    }
}

static int held_reindex(struct held *h, size_t icap)
{
    size_t *idx = calloc(icap, sizeof *idx);
    if (!idx)
        return -ENOMEM;
    for (size_t k = 0; k < h->n; k++) {
        size_t i = held_hash(h->blk[k], icap);
        while (idx[i])
            i = (i + 1) & (icap - 1);
        idx[i] = k + 1;
    }
    free(h->idx);
    h->idx = idx;
    h->icap = icap;
    return 0;
}

/* Hold block b with content src (bs bytes); a held block is updated. */
static int held_put(struct vkio *v, uint64_t b, const void *src, size_t bs)
{
    struct held *h = &v->h;
    uint8_t *d = held_get(v, b);
    if (d) {
        memcpy(d, src, bs);
        return 0;
    }
    if ((h->n + 1) * 2 >= h->icap && held_reindex(h, h->icap ? h->icap * 2 : 64) < 0)
        return -ENOMEM;
    size_t cap = h->cap;
    uint64_t *nb = vk_grow(h->blk, &cap, h->n + 1, sizeof *nb, 64);
    if (!nb)
        return -ENOMEM;
    h->blk = nb;
    cap = h->cap;
    uint8_t **nd = vk_grow(h->data, &cap, h->n + 1, sizeof *nd, 64);
    if (!nd)
        return -ENOMEM;
    h->data = nd;
    h->cap = cap;
    if (!(d = malloc(bs)))
        return -ENOMEM;
    memcpy(d, src, bs);
    h->blk[h->n] = b;
    h->data[h->n] = d;
    size_t i = held_hash(b, h->icap);
    while (h->idx[i])
        i = (i + 1) & (h->icap - 1);
    h->idx[i] = ++h->n;
    return 0;
}

static void held_drop(struct held *h)
{
    for (size_t k = 0; k < h->n; k++)
        free(h->data[k]);
    h->n = 0;
    if (h->idx)
        memset(h->idx, 0, h->icap * sizeof *h->idx);
}

static void held_free(struct held *h)
{
    held_drop(h);
    free(h->blk);
    free(h->data);
    free(h->idx);
    memset(h, 0, sizeof *h);
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
    int r = dev_write(v, v->runbuf, n * bs, start * bs);
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

static int cache_get(io_channel io, uint64_t block, const void *whole, struct slot **out);

static int cmp_blk(const void *a, const void *b)
{
    uint64_t x = **(const uint64_t *const *)a, y = **(const uint64_t *const *)b;
    return x < y ? -1 : x > y;
}

/* Write the held blocks (after everything else is on disk and synced) in
 * block order, adjacent ones together, keep them in the cache as clean
 * blocks, and sync.  Their order among themselves does not matter: each
 * commit write is safe alone (ext_int.h). */
static int write_held(io_channel io)
{
    struct vkio *v = io->private_data;
    size_t bs = (size_t)io->block_size, n = v->h.n;
    uint64_t **ord = malloc(n * sizeof *ord);
    if (!ord || (!v->runbuf && !(v->runbuf = malloc(RUN_MAX * bs)))) {
        free(ord);
        return -ENOMEM;
    }
    for (size_t k = 0; k < n; k++)
        ord[k] = &v->h.blk[k];
    qsort(ord, n, sizeof *ord, cmp_blk);
    int r = 0;
    for (size_t k = 0; k < n && r >= 0;) {
        size_t m = 0;
        uint64_t first = *ord[k];
        while (k + m < n && m < RUN_MAX && *ord[k + m] == first + m) {
            memcpy(v->runbuf + m * bs, v->h.data[ord[k + m] - v->h.blk], bs);
            m++;
        }
        r = dev_write(v, v->runbuf, m * bs, first * bs);
        for (size_t i = 0; i < m && r >= 0; i++) {
            struct slot *s;
            if (cache_sync_range(io, first + i, first + i, true) < 0 ||
                cache_get(io, first + i, v->h.data[ord[k + i] - v->h.blk], &s) < 0)
                r = -ENOMEM;
        }
        k += m;
    }
    free(ord);
    if (r < 0)
        return r;
    held_drop(&v->h);
    return dev_sync(v);
}

/* The barrier: every dirty block, then (after a sync) the held ones. */
static int flush_all(io_channel io)
{
    struct vkio *v = io->private_data;
    int r = cache_flush(io);
    if (r >= 0)
        r = dev_sync(v);
    if (r >= 0 && v->h.n)
        r = write_held(io);
    return r;
}

static errcode_t vkio_close(io_channel io)
{
    if (--io->refcount > 0)
        return 0;
    struct vkio *v = io->private_data;
    int r = (v->bd->flags & VK_OPEN_RDWR) ? flush_all(io) : 0;
    cache_drop(v);
    held_free(&v->h);
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
        int r = v->h.n ? flush_all(io) : cache_flush(io);
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

/* Copy the held blocks that overlap [off, off+len) into buf. */
static void held_overlay(io_channel io, uint8_t *buf, uint64_t off, size_t len)
{
    struct vkio *v = io->private_data;
    uint64_t bs = (uint64_t)io->block_size;
    for (size_t k = 0; k < v->h.n; k++) {
        uint64_t s = v->h.blk[k] * bs, e = s + bs;
        if (e <= off || s >= off + len)
            continue;
        uint64_t from = s > off ? s : off, to = e < off + len ? e : off + len;
        memcpy(buf + (from - off), v->h.data[k] + (from - s), (size_t)(to - from));
    }
}

/* A write that bypasses the cache (several blocks, bytes, zeroes): data
 * NULL writes zeroes.  Held blocks in the range take their part of it and
 * stay held; the rest goes to the device. */
static int direct_write(io_channel io, uint64_t off, size_t len, const uint8_t *data, int zflags)
{
    struct vkio *v = io->private_data;
    uint64_t bs = (uint64_t)io->block_size;
    if (!len)
        return 0;
    uint64_t first = off / bs, last = (off + len - 1) / bs;
    int r = 0;
    /* A block written only in part keeps the rest of its cached data. */
    if (off % bs)
        r = cache_sync_range(io, first, first, false);
    if (r >= 0 && (off + len) % bs)
        r = cache_sync_range(io, last, last, false);
    if (r >= 0)
        r = cache_sync_range(io, first, last, true);
    if (r < 0)
        return r;
    uint64_t pos = off, end = off + len, run = off;
    while (pos < end) {
        uint64_t b = pos / bs, be = (b + 1) * bs < end ? (b + 1) * bs : end;
        uint8_t *h = held_get(v, b);
        if (h) {
            if (run < pos)
                r = data ? dev_write(v, data + (run - off), (size_t)(pos - run), run)
                         : dev_zero(v, run, pos - run, zflags);
            if (r < 0)
                return r;
            if (data)
                memcpy(h + (pos - b * bs), data + (pos - off), (size_t)(be - pos));
            else
                memset(h + (pos - b * bs), 0, (size_t)(be - pos));
            run = be;
        }
        pos = be;
    }
    if (run < end)
        r = data ? dev_write(v, data + (run - off), (size_t)(end - run), run)
                 : dev_zero(v, run, end - run, zflags);
    return r;
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
        const uint8_t *h = held_get(v, block);
        if (h) {
            memcpy(data, h, len);
            return 0;
        }
        struct slot *s;
        if ((r = cache_get(io, block, NULL, &s)) < 0)
            return EXT2_ET_SHORT_READ;
        memcpy(data, s->data, len);
        return 0;
    }
    uint64_t bs = (uint64_t)io->block_size;
    if (len && (r = cache_sync_range(io, off / bs, (off + len - 1) / bs, false)) < 0)
        return EXT2_ET_SHORT_READ;
    if ((r = vk_bd_pread(v->bd, data, len, off)) < 0)
        return EXT2_ET_SHORT_READ;
    held_overlay(io, data, off, len);
    return 0;
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
        if (v->commit || held_get(v, block)) {
            /* The held copy supersedes any cached one. */
            if (cache_sync_range(io, block, block, true) < 0 || held_put(v, block, data, len) < 0)
                return EXT2_ET_SHORT_WRITE;
            return 0;
        }
        /* Rewriting a cached block with what it holds (ext2fs_flush writes
         * every bitmap block) leaves it clean. */
        struct slot *s = v->slots ? slot_of(v, block) : NULL;
        if (s && s->data && s->block == block && !s->dirty && !memcmp(s->data, data, len))
            return 0;
        if ((r = cache_get(io, block, data, &s)) < 0)
            return EXT2_ET_SHORT_WRITE;
        memcpy(s->data, data, len);
        s->dirty = true;
        return 0;
    }
    /* Byte-sized writes are the superblock, which libext2fs writes last in
     * ext2fs_flush: let everything it describes reach the device first
     * (but not the held blocks: they wait for the flush). */
    if (count < 0 && (r = cache_flush(io)) < 0)
        return EXT2_ET_SHORT_WRITE;
    return direct_write(io, off, len, data, 0) < 0 ? EXT2_ET_SHORT_WRITE : 0;
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
    return direct_write(io, offset, (size_t)size, data, 0) < 0 ? EXT2_ET_SHORT_WRITE : 0;
}

/* libext2fs calls this at the end of ext2fs_flush: the barrier. */
static errcode_t vkio_flush(io_channel io)
{
    struct vkio *v = io->private_data;
    if (!(v->bd->flags & VK_OPEN_RDWR))
        return 0;
    return from_errno(flush_all(io));
}

static errcode_t vkio_zero(io_channel io, unsigned long long block, unsigned long long count,
                           int flags)
{
    struct vkio *v = io->private_data;
    uint64_t bs = (uint64_t)io->block_size;
    if (block > v->bd->size / bs || count > v->bd->size / bs - block || count > SIZE_MAX / bs)
        return EXT2_ET_UNIMPLEMENTED;
    int r = direct_write(io, block * bs, (size_t)(count * bs), NULL, flags);
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

void ext_io_commit(io_channel io, bool on)
{
    if (io->manager == vk_ext_io_manager)
        ((struct vkio *)io->private_data)->commit = on;
}

size_t ext_io_held(io_channel io)
{
    return io->manager == vk_ext_io_manager ? ((struct vkio *)io->private_data)->h.n : 0;
}
