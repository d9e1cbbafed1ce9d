/* Whole-image operations over the generic block interface: copy (the
 * heart of `img convert`), compare, map, commit, rebase.  Nothing here
 * knows an on-disk format; everything goes through vk_bd_*. */
#include "block/imgops.h"

#include "util/err.h"
#include "util/size.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Big enough to amortise per-call costs, a multiple of every cluster size
 * qcow2 allows (512 B .. 2 MiB). */
#define CHUNK (2u << 20)

bool vk_buf_is_zero(const void *buf, size_t len)
{
    const unsigned char *p = buf;
    /* Check a short head by hand, then let memcmp compare the buffer with
     * itself shifted: zero iff every byte equals its neighbour and the
     * first is zero. */
    size_t head = len < 16 ? len : 16;
    for (size_t i = 0; i < head; i++)
        if (p[i])
            return false;
    return len <= 16 || memcmp(p, p + 16, len - 16) == 0;
}

static uint64_t min64(uint64_t a, uint64_t b)
{
    return a < b ? a : b;
}

static void *alloc_buf(size_t len, const char *name)
{
    void *p = NULL;
    if (posix_memalign(&p, 4096, len))
        p = NULL;
    if (!p)
        vk_error(-ENOMEM, "%s: out of memory", name);
    return p;
}

/* Write the non-zero blocks (granularity g) of buf, which holds
 * [off, off+len) of the guest, to dst; zero blocks are skipped because
 * dst already reads as zeroes there. */
static int write_nonzero(struct vk_blockdev *dst, const unsigned char *buf, size_t len,
                         uint64_t off, size_t g)
{
    size_t i = 0;
    while (i < len) {
        size_t n = min64(g, len - i);
        if (vk_buf_is_zero(buf + i, n)) {
            i += n;
            continue;
        }
        size_t start = i;
        i += n;
        while (i < len) {
            n = min64(g, len - i);
            if (vk_buf_is_zero(buf + i, n))
                break;
            i += n;
        }
        int r = vk_bd_pwrite(dst, buf + start, i - start, off + start);
        if (r < 0)
            return r;
    }
    return 0;
}

static int write_compressed(struct vk_blockdev *dst, const unsigned char *buf, size_t len,
                            uint64_t off, size_t cs)
{
    for (size_t i = 0; i < len; i += cs) {
        size_t n = min64(cs, len - i);
        if (vk_buf_is_zero(buf + i, n))
            continue;
        int r = vk_bd_pwrite_compressed(dst, buf + i, n, off + i);
        if (r < 0)
            return r;
    }
    return 0;
}

int vk_img_copy(struct vk_blockdev *src, struct vk_blockdev *dst, const struct vk_copy_opts *o)
{
    uint64_t size = src->size, off = 0;
    size_t cs = dst->cluster_size ? dst->cluster_size : 512;
    /* Zero detection granularity: a whole cluster of a format with
     * clusters; a filesystem block for raw, so holes survive. */
    size_t g = cs < 4096 && !o->compress ? 4096 : cs;
    size_t chunk = CHUNK > cs ? CHUNK : cs;
    unsigned char *buf;
    int r = 0;

    if (dst->size < size)
        return vk_error(-EINVAL, "%s: destination (%llu bytes) is smaller than %s (%llu bytes)",
                        dst->name, (unsigned long long)dst->size, src->name,
                        (unsigned long long)size);
    if (o->compress && chunk % cs)
        return vk_error(-EINVAL, "%s: cluster size %zu does not divide the copy chunk",
                        dst->name, cs);
    if (!(buf = alloc_buf(chunk, dst->name)))
        return -ENOMEM;
    while (off < size) {
        uint64_t n = min64(chunk - off % chunk, size - off), pnum;
        int st = vk_bd_block_status(src, off, n, &pnum, NULL);
        if (st < 0) {
            r = st;
            break;
        }
        if (st & VK_BS_ZERO) {
            /* With compression only whole clusters may be skipped, so the
             * next write still starts on a cluster boundary. */
            uint64_t skip = o->compress ? pnum / cs * cs : pnum;
            if (skip) {
                off += skip;
                if (o->progress)
                    o->progress(off, size, o->progress_ctx);
                continue;
            }
        }
        uint64_t len = o->compress ? min64(vk_round_up(pnum, cs), n) : pnum;
        if ((r = vk_bd_pread(src, buf, len, off)) < 0)
            break;
        r = o->compress ? write_compressed(dst, buf, len, off, cs)
                        : write_nonzero(dst, buf, len, off, g);
        if (r < 0)
            break;
        off += len;
        if (o->progress)
            o->progress(off, size, o->progress_ctx);
    }
    free(buf);
    return r;   /* durability is the caller's choice: it flushes or not */
}

/* Contract in imgops.h. */
int vk_img_copy_new(struct vk_blockdev *src, const char *dst, const char *fmt,
                    const struct vk_create_opts *create, const struct vk_copy_opts *o)
{
    char *tmp;
    int r = vk_bd_create_tmp(dst, fmt, create, &tmp);
    if (r < 0)
        return r;
    if (o->tmp_path)
        *o->tmp_path = tmp;
    /* The format is known: we made it.  Metadata updates are not synced
     * one by one (unless sync_each); the whole image is, before it gets
     * its name, and written back all along (VK_OPEN_BULK) so that the
     * sync finds little left. */
    int flags = VK_OPEN_RDWR | (o->sync_each ? 0 : VK_OPEN_NOFLUSH) | (o->unsafe ? 0 : VK_OPEN_BULK);
    struct vk_blockdev *out;
    if ((r = vk_bd_open(tmp, fmt, flags, &out)) == 0) {
        struct vk_copy_opts co = *o;
        co.compress |= out->needs_compressed_writes;   /* VMDK streamOptimized */
        r = vk_img_copy(src, out, &co);
        /* vk_publish syncs tmp only: the flush syncs every file */
        if (r == 0 && !o->unsafe)
            r = vk_bd_flush(out);
        int c = vk_bd_close(out);
        if (r == 0)
            r = c;
    }
    if (r == 0)
        r = o->unsafe ? vk_publish_unsynced(tmp, dst) : vk_publish(tmp, dst);
    else
        vk_bd_remove(tmp, fmt);     /* with the extent files of a VMDK */
    if (o->tmp_path)
        *o->tmp_path = NULL;
    free(tmp);
    return r;
}

/* Read [off, off+len) of bd into buf where bytes past the end of bd (or
 * a NULL bd: no backing file at all) read as zeroes. */
static int read_padded(struct vk_blockdev *bd, void *buf, size_t len, uint64_t off)
{
    size_t have = 0;
    if (bd && off < bd->size)
        have = min64(len, bd->size - off);
    memset((char *)buf + have, 0, len - have);
    return have ? vk_bd_pread(bd, buf, have, off) : 0;
}

/* Offset of the first non-zero byte in bd's [off, end), or end. */
static int first_nonzero(struct vk_blockdev *bd, uint64_t off, uint64_t end,
                         unsigned char *buf, uint64_t *at)
{
    while (off < end) {
        uint64_t n = min64(CHUNK, end - off), pnum;
        int st = vk_bd_block_status(bd, off, n, &pnum, NULL);
        if (st < 0)
            return st;
        if (!(st & VK_BS_ZERO)) {
            int r = vk_bd_pread(bd, buf, pnum, off);
            if (r < 0)
                return r;
            for (size_t i = 0; i < pnum; i++)
                if (buf[i]) {
                    *at = off + i;
                    return 0;
                }
        }
        off += pnum;
    }
    *at = end;
    return 0;
}

int vk_img_compare(struct vk_blockdev *a, struct vk_blockdev *b, uint64_t *mismatch)
{
    uint64_t common = min64(a->size, b->size), off = 0;
    unsigned char *ba = alloc_buf(CHUNK, a->name), *bb = alloc_buf(CHUNK, b->name);
    int r = 0;

    if (!ba || !bb) {
        r = -ENOMEM;
        goto out;
    }
    while (off < common) {
        uint64_t n = min64(CHUNK, common - off), pa, pb;
        int sa = vk_bd_block_status(a, off, n, &pa, NULL);
        int sb = sa < 0 ? sa : vk_bd_block_status(b, off, n, &pb, NULL);
        if (sa < 0 || sb < 0) {
            r = sa < 0 ? sa : sb;
            goto out;
        }
        n = min64(pa, pb);
        if ((sa & VK_BS_ZERO) && (sb & VK_BS_ZERO)) {
            off += n;
            continue;
        }
        if ((r = vk_bd_pread(a, ba, n, off)) < 0 || (r = vk_bd_pread(b, bb, n, off)) < 0)
            goto out;
        if (memcmp(ba, bb, n)) {
            size_t i = 0;
            while (ba[i] == bb[i])
                i++;
            *mismatch = off + i;
            r = 1;
            goto out;
        }
        off += n;
    }
    struct vk_blockdev *big = a->size > b->size ? a : b;
    if (big->size > common) {
        uint64_t at;
        if ((r = first_nonzero(big, common, big->size, ba, &at)) < 0)
            goto out;
        if (at < big->size) {
            *mismatch = at;
            r = 1;
        }
    }
out:
    free(ba);
    free(bb);
    return r;
}

/* Status of [off, off+len) descending the backing chain while a layer
 * does not allocate the range. */
static int chain_status(struct vk_blockdev *bd, uint64_t off, uint64_t len,
                        struct vk_map_run *run)
{
    struct vk_blockdev *cur = bd;
    int depth = 0;
    for (;;) {
        uint64_t pnum, host = 0;
        int st = vk_bd_block_status(cur, off, len, &pnum, &host);
        if (st < 0)
            return st;
        if (!(st & VK_BS_ALLOCATED) && cur->backing && off < cur->backing->size) {
            len = min64(pnum, cur->backing->size - off);
            cur = cur->backing;
            depth++;
            continue;
        }
        run->start = off;
        run->length = pnum;
        run->status = st;
        run->depth = depth;
        run->host_off = host;
        run->file = cur->name;
        run->present = (st & (VK_BS_ALLOCATED | VK_BS_OFFSET_VALID)) != 0;
        return 0;
    }
}

static bool mergeable(const struct vk_map_run *a, const struct vk_map_run *b)
{
    int mask = VK_BS_DATA | VK_BS_ZERO | VK_BS_OFFSET_VALID | VK_BS_COMPRESSED;
    if ((a->status & mask) != (b->status & mask) || a->depth != b->depth ||
        a->present != b->present || a->file != b->file || a->start + a->length != b->start)
        return false;
    /* Compressed clusters have no linear host mapping: never merge them. */
    if (a->status & VK_BS_COMPRESSED)
        return false;
    return !(a->status & VK_BS_OFFSET_VALID) || a->host_off + a->length == b->host_off;
}

int vk_img_map(struct vk_blockdev *bd,
               int (*fn)(const struct vk_map_run *run, void *ctx), void *ctx)
{
    struct vk_map_run pending = { 0 }, run;
    bool have = false;
    uint64_t off = 0;
    int r;

    while (off < bd->size) {
        /* Bounded queries keep the driver's per-call work small. */
        if ((r = chain_status(bd, off, min64(1u << 30, bd->size - off), &run)) < 0)
            return r;
        if (have && mergeable(&pending, &run)) {
            pending.length += run.length;
        } else {
            if (have && (r = fn(&pending, ctx)) < 0)
                return r;
            pending = run;
            have = true;
        }
        off += run.length;
    }
    return have ? fn(&pending, ctx) : 0;
}

/* Copy [off, off+len) from src to dst in chunks. */
static int copy_range(struct vk_blockdev *src, struct vk_blockdev *dst, uint64_t off,
                      uint64_t len, unsigned char *buf)
{
    while (len) {
        uint64_t n = min64(CHUNK, len);
        int r = vk_bd_pread(src, buf, n, off);
        if (r < 0 || (r = vk_bd_pwrite(dst, buf, n, off)) < 0)
            return r;
        off += n;
        len -= n;
    }
    return 0;
}

/* Open the backing file that bd's header names (path of bd for relative
 * names), read-only with its own chain, or writable alone. */
static int open_named_backing(const char *path, const char *file, const char *fmt, int flags,
                              struct vk_blockdev **out)
{
    char *bpath = vk_backing_path(path, file);
    if (!bpath)
        return vk_error(-ENOMEM, "%s: out of memory", path);
    int r = vk_bd_open(bpath, fmt, flags, out);
    if (r < 0)
        vk_error_prefix(r, "%s: backing file: ", path);
    free(bpath);
    return r;
}

int vk_img_commit(const char *path, const char *fmt, vk_progress_fn progress, void *ctx)
{
    struct vk_blockdev *top = NULL, *base = NULL;
    struct vk_imginfo info;
    unsigned char *buf = NULL;
    uint64_t off = 0;
    int r;

    /* The top alone: what it allocates is exactly what is to commit. */
    if ((r = vk_bd_open(path, fmt, VK_OPEN_NOBACKING, &top)) < 0)
        return r;
    if ((r = vk_bd_info(top, &info)) < 0)
        goto out;
    if (!info.backing_file) {
        r = vk_error(-EINVAL, "%s: image has no backing file to commit into", path);
        goto out;
    }
    if ((r = open_named_backing(path, info.backing_file, info.backing_format,
                                VK_OPEN_RDWR | VK_OPEN_NOBACKING, &base)) < 0)
        goto out;
    if (base->size < top->size && (r = vk_bd_truncate(base, top->size, false)) < 0)
        goto out;
    if (!(buf = alloc_buf(CHUNK, path))) {
        r = -ENOMEM;
        goto out;
    }
    while (off < top->size) {
        uint64_t pnum;
        int st = vk_bd_block_status(top, off, min64(1u << 30, top->size - off), &pnum, NULL);
        if (st < 0) {
            r = st;
            goto out;
        }
        if (st & VK_BS_ALLOCATED) {
            r = (st & VK_BS_ZERO) ? vk_bd_write_zeroes(base, off, pnum, 0)
                                  : copy_range(top, base, off, pnum, buf);
            if (r < 0)
                goto out;
        }
        off += pnum;
        if (progress)
            progress(off, top->size, ctx);
    }
    r = vk_bd_flush(base);
out:
    free(buf);
    int c1 = vk_bd_close(base), c2 = vk_bd_close(top);
    if (r == 0)
        r = c1 < 0 ? c1 : c2;
    return r;
}

/* Safe rebase of the unallocated range [off, off+len) of top: where old
 * and new backing differ, write the old content into top, in blocks of g
 * bytes so only differing clusters get allocated. */
static int rebase_range(struct vk_blockdev *top, struct vk_blockdev *oldb, struct vk_blockdev *newb,
                        uint64_t off, uint64_t len, unsigned char *bo, unsigned char *bn)
{
    size_t g = top->cluster_size > 4096 ? top->cluster_size : 4096;
    while (len) {
        uint64_t n = min64(CHUNK, len);
        int r = read_padded(oldb, bo, n, off);
        if (r < 0 || (r = read_padded(newb, bn, n, off)) < 0)
            return r;
        for (size_t i = 0; i < n; i += g) {
            size_t m = min64(g, n - i);
            if (memcmp(bo + i, bn + i, m) && (r = vk_bd_pwrite(top, bo + i, m, off + i)) < 0)
                return r;
        }
        off += n;
        len -= n;
    }
    return 0;
}

int vk_img_rebase(const char *path, const char *fmt, const char *new_backing,
                  const char *new_fmt, bool unsafe)
{
    struct vk_blockdev *top = NULL, *oldb = NULL, *newb = NULL;
    struct vk_imginfo info;
    unsigned char *bo = NULL, *bn = NULL;
    const struct vk_format *probed;
    char *npath = NULL;
    int r;

    if (new_backing && !*new_backing)
        new_backing = NULL;
    if ((r = vk_bd_open(path, fmt, VK_OPEN_RDWR | VK_OPEN_NOBACKING, &top)) < 0)
        return r;
    if ((r = vk_bd_info(top, &info)) < 0)
        goto out;
    if (new_backing) {
        if (!(npath = vk_backing_path(path, new_backing))) {
            r = vk_error(-ENOMEM, "%s: out of memory", path);
            goto out;
        }
        if (!new_fmt) {
            /* Record the format, so QEMU never has to guess it. */
            if ((r = vk_format_probe(npath, &probed)) < 0) {
                if (!unsafe)
                    goto out;
                vk_error_clear();
                r = 0;
            } else {
                new_fmt = probed->name;
            }
        }
    }
    if (!unsafe) {
        if (info.backing_file &&
            (r = open_named_backing(path, info.backing_file, info.backing_format, 0, &oldb)) < 0)
            goto out;
        if (new_backing && (r = vk_bd_open(npath, new_fmt, 0, &newb)) < 0) {
            vk_error_prefix(r, "%s: new backing file: ", path);
            goto out;
        }
        if (!(bo = alloc_buf(CHUNK, path)) || !(bn = alloc_buf(CHUNK, path))) {
            r = -ENOMEM;
            goto out;
        }
        for (uint64_t off = 0, pnum; off < top->size; off += pnum) {
            int st = vk_bd_block_status(top, off, min64(1u << 30, top->size - off), &pnum, NULL);
            if (st < 0) {
                r = st;
                goto out;
            }
            if (!(st & VK_BS_ALLOCATED) &&
                (r = rebase_range(top, oldb, newb, off, pnum, bo, bn)) < 0)
                goto out;
        }
    }
    r = vk_bd_set_backing(top, new_backing, new_backing ? new_fmt : NULL);
out:
    free(bo);
    free(bn);
    free(npath);
    vk_bd_close(newb);
    vk_bd_close(oldb);
    int c = vk_bd_close(top);
    return r < 0 ? r : c;
}
