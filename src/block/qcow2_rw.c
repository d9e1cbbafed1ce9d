/* qcow2 guest I/O: mapping guest offsets through L1/L2, reading (backing
 * file, zero and compressed clusters), writing with copy-on-write into
 * fresh clusters, zeroing, compressed writes and the allocation map. */
#include "block/qcow2_int.h"

#include "util/err.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <zlib.h>
#include <zstd.h>

enum q2_kind { K_UNALLOC, K_ZERO, K_ZERO_ALLOC, K_NORMAL, K_COMPRESSED };

static enum q2_kind classify(const struct q2 *s, uint64_t e)
{
    if (e & QCOW2_OFLAG_COMPRESSED)
        return K_COMPRESSED;
    uint64_t host = e & QCOW2_OFFSET_MASK;
    if (s->version >= 3 && (e & QCOW2_OFLAG_ZERO))
        return host ? K_ZERO_ALLOC : K_ZERO;
    return host ? K_NORMAL : K_UNALLOC;
}

static uint64_t l2_span(const struct q2 *s)
{
    return s->l2_entries * s->cs;   /* guest bytes one L2 table maps */
}

/* The L2 table for L1 index l1i, or *e NULL when there is none. */
static int get_l2(struct q2 *s, uint64_t l1i, struct q2_centry **e)
{
    *e = NULL;
    if (l1i >= s->l1_size)
        return 0;
    uint64_t off = s->l1[l1i] & QCOW2_OFFSET_MASK;
    if (!off)
        return 0;
    if (off & (s->cs - 1))
        return vk_error(-EINVAL, "%s: L1 entry %llu points to an unaligned L2 table offset %llu",
                        s->bd->name, (unsigned long long)l1i, (unsigned long long)off);
    if (off + s->cs > s->file_size)
        return vk_error(-EINVAL, "%s: L1 entry %llu points to an L2 table beyond the end of the file",
                        s->bd->name, (unsigned long long)l1i);
    /* An L2 table on top of the L1 or refcount table would have guest
     * writes overwrite that metadata (qemu refuses it as an overlap). */
    uint64_t l1_end = s->l1_off + (uint64_t)s->l1_size * 8;
    uint64_t rt_end = s->rt_off + (uint64_t)s->rt_clusters * s->cs;
    if ((off < l1_end && s->l1_off < off + s->cs) || (off < rt_end && s->rt_off < off + s->cs))
        return vk_error(-EINVAL, "%s: L1 entry %llu points to an L2 table overlapping the %s table",
                        s->bd->name, (unsigned long long)l1i,
                        off < l1_end && s->l1_off < off + s->cs ? "L1" : "refcount");
    return q2_cache_get(s, &s->l2c, off, true, e);
}

/* What guest offset off maps to: *kind, its L2 entry, and in *pnum how
 * many bytes from off (at most len, within one L2 table) share the kind
 * and, for normal clusters, the COPIED flag and contiguous host offsets. */
static int lookup(struct q2 *s, uint64_t off, uint64_t len, uint64_t *pnum, uint64_t *l2e,
                  enum q2_kind *kind)
{
    uint64_t span = l2_span(s);
    uint64_t room = span - off % span;
    if (room > len)
        room = len;
    struct q2_centry *t;
    int r = get_l2(s, off / span, &t);
    if (r < 0)
        return r;
    if (!t) {
        *pnum = room;
        *l2e = 0;
        *kind = K_UNALLOC;
        return 0;
    }
    uint64_t i = (off / s->cs) % s->l2_entries;
    uint64_t e0 = q2_be64(t->data + 8 * i);
    enum q2_kind k = classify(s, e0);
    uint64_t host0 = e0 & QCOW2_OFFSET_MASK;
    if (k == K_NORMAL && (host0 & (s->cs - 1)))
        return vk_error(-EINVAL, "%s: L2 entry for guest offset %llu points to unaligned host offset %llu",
                        s->bd->name, (unsigned long long)off, (unsigned long long)host0);
    if (k == K_NORMAL && host0 >= s->file_size)
        return vk_error(-EINVAL, "%s: L2 entry for guest offset %llu points beyond the end of the file",
                        s->bd->name, (unsigned long long)off);
    uint64_t n = s->cs - off % s->cs;
    for (uint64_t j = i + 1; n < room && j < s->l2_entries && k != K_COMPRESSED; j++) {
        uint64_t e = q2_be64(t->data + 8 * j);
        if (classify(s, e) != k)
            break;
        if (k == K_NORMAL && ((e & QCOW2_OFFSET_MASK) != host0 + (j - i) * s->cs ||
                              (e & QCOW2_OFLAG_COPIED) != (e0 & QCOW2_OFLAG_COPIED)))
            break;
        n += s->cs;
    }
    *pnum = n < room ? n : room;
    *l2e = e0;
    *kind = k;
    return 0;
}

static int decompress(struct q2 *s, uint64_t l2e)
{
    if (s->dbuf && s->dbuf_l2e == l2e)
        return 0;
    if (!s->dbuf && !(s->dbuf = malloc(s->cs)))
        return vk_error(-ENOMEM, "out of memory");
    if (!s->zbuf && !(s->zbuf = malloc(2 * (size_t)s->cs + 512)))
        return vk_error(-ENOMEM, "out of memory");
    s->dbuf_l2e = 0;
    uint64_t co = q2_coffset(s, l2e);
    size_t csize = (size_t)(q2_csectors(s, l2e) * 512 - (co & 511));
    if (co >= s->file_size)
        return vk_error(-EINVAL, "%s: compressed cluster at host offset %llu is beyond the end of the file",
                        s->bd->name, (unsigned long long)co);
    int r = q2_host_read(s, s->zbuf, csize, co);
    if (r < 0)
        return r;
    size_t got = 0;
    if (s->compression == QCOW2_COMP_ZSTD) {
        ZSTD_DCtx *dc = ZSTD_createDCtx();
        if (!dc)
            return vk_error(-ENOMEM, "out of memory");
        ZSTD_inBuffer in = { s->zbuf, csize, 0 };
        ZSTD_outBuffer out = { s->dbuf, s->cs, 0 };
        while (out.pos < out.size) {
            size_t z = ZSTD_decompressStream(dc, &out, &in);
            if (ZSTD_isError(z) || (z && in.pos == in.size && out.pos < out.size) || (!z && out.pos < out.size))
                break;
        }
        got = out.pos;
        ZSTD_freeDCtx(dc);
    } else {
        z_stream z = { 0 };
        if (inflateInit2(&z, -12) != Z_OK)
            return vk_error(-ENOMEM, "out of memory");
        z.next_in = s->zbuf;
        z.avail_in = (uInt)csize;
        z.next_out = s->dbuf;
        z.avail_out = s->cs;
        int zr = inflate(&z, Z_FINISH);
        if (zr == Z_STREAM_END || (zr == Z_BUF_ERROR && z.avail_out == 0))
            got = s->cs - z.avail_out;
        inflateEnd(&z);
    }
    if (got != s->cs)
        return vk_error(-EIO, "%s: compressed cluster at host offset %llu is damaged",
                        s->bd->name, (unsigned long long)co);
    s->dbuf_l2e = l2e;
    return 0;
}

/* How many of the n bytes at off the backing file holds (0 past its end:
 * those read as zeroes). */
static uint64_t backing_part(const struct vk_blockdev *bd, uint64_t off, uint64_t n)
{
    if (!bd->backing || off >= bd->backing->size)
        return 0;
    return bd->backing->size - off < n ? bd->backing->size - off : n;
}

/* Read guest bytes [off, off+len) as the image maps them now. */
static int read_range(struct q2 *s, uint8_t *p, uint64_t len, uint64_t off)
{
    struct vk_blockdev *bd = s->bd;
    while (len) {
        uint64_t n, e, m;
        enum q2_kind k;
        int r = lookup(s, off, len, &n, &e, &k);
        if (r < 0)
            return r;
        switch (k) {
        case K_UNALLOC:
            m = backing_part(bd, off, n);
            if (m && (r = vk_bd_pread(bd->backing, p, (size_t)m, off)) < 0)
                return r;
            memset(p + m, 0, (size_t)(n - m));
            break;
        case K_ZERO:
        case K_ZERO_ALLOC:
            memset(p, 0, (size_t)n);
            break;
        case K_NORMAL:
            if ((r = q2_host_read(s, p, (size_t)n, (e & QCOW2_OFFSET_MASK) + off % s->cs)) < 0)
                return r;
            break;
        case K_COMPRESSED:
            if ((r = decompress(s, e)) < 0)
                return r;
            memcpy(p, s->dbuf + off % s->cs, (size_t)n);
            break;
        }
        p += n;
        off += n;
        len -= n;
    }
    return 0;
}

int q2_pread(struct vk_blockdev *bd, void *buf, size_t len, uint64_t off)
{
    return read_range(bd->priv, buf, len, off);
}

/* The L2 table for L1 index l1i, made writable: allocated when missing,
 * copied when shared with a snapshot (L1 entry without COPIED). */
static int writable_l2(struct q2 *s, uint64_t l1i, struct q2_centry **out)
{
    if (l1i >= s->l1_size)
        return vk_error(-EINVAL, "%s: write beyond the L1 table", s->bd->name);
    uint64_t l1e = s->l1[l1i], old = l1e & QCOW2_OFFSET_MASK;
    int r;
    if (old && !(l1e & QCOW2_OFLAG_COPIED)) {
        uint64_t rc;
        if ((r = q2_get_refcount(s, old / s->cs, &rc)) < 0)
            return r;
        if (rc == 1) {   /* not shared after all: only the flag was missing */
            s->l1[l1i] = old | QCOW2_OFLAG_COPIED;
            s->l1_dirty = true;
            l1e = s->l1[l1i];
        }
    }
    if (old && (l1e & QCOW2_OFLAG_COPIED))
        return get_l2(s, l1i, out);
    uint64_t nw;
    if ((r = q2_alloc(s, 1, &nw)) < 0)
        return r;
    uint8_t *copy = NULL;
    if (old) {
        struct q2_centry *e;
        if ((r = get_l2(s, l1i, &e)) < 0)
            return r;
        if (!(copy = malloc(s->cs)))
            return vk_error(-ENOMEM, "out of memory");
        memcpy(copy, e->data, s->cs);
    }
    struct q2_centry *e;
    if ((r = q2_cache_get(s, &s->l2c, nw, false, &e)) < 0) {
        free(copy);
        return r;
    }
    if (copy)
        memcpy(e->data, copy, s->cs);
    free(copy);
    e->dirty = true;
    s->l1[l1i] = nw | QCOW2_OFLAG_COPIED;
    s->l1_dirty = true;
    if (old && (r = q2_defer_free(s, old, 1)) < 0)
        return r;
    *out = e;
    return 0;
}

/* Point guest clusters [c0, c0+k) (one L2 table) at entries[i]; what the
 * old entries held is freed after the next flush. */
static int set_entries(struct q2 *s, uint64_t c0, uint64_t k, const uint64_t *entries, uint64_t host,
                       uint64_t flags)
{
    struct q2_centry *t;
    int r = writable_l2(s, c0 / s->l2_entries, &t);
    if (r < 0)
        return r;
    uint64_t i0 = c0 % s->l2_entries;
    for (uint64_t i = 0; i < k; i++) {
        uint64_t old = q2_be64(t->data + 8 * (i0 + i));
        uint64_t nw = entries ? entries[i] : host ? (host + i * s->cs) | flags : flags;
        q2_put64(t->data + 8 * (i0 + i), nw);
        enum q2_kind ok = classify(s, old);
        /* A zero cluster keeping its allocation keeps the same host cluster. */
        bool same = (old & QCOW2_OFFSET_MASK) && (old & QCOW2_OFFSET_MASK) == (nw & QCOW2_OFFSET_MASK) &&
                    !(old & QCOW2_OFLAG_COMPRESSED) && !(nw & QCOW2_OFLAG_COMPRESSED);
        if ((ok == K_NORMAL || ok == K_ZERO_ALLOC || ok == K_COMPRESSED) && !same &&
            (r = q2_defer_free_l2e(s, old)) < 0)
            return r;
    }
    t->dirty = true;
    return 0;
}

/* Write guest bytes [off, off+n) (within one L2 table) into k fresh,
 * contiguous clusters, filling partial first and last clusters from what
 * they read as now: one write call for the whole run. */
static int write_fresh(struct q2 *s, const uint8_t *p, uint64_t n, uint64_t off)
{
    uint64_t c0 = off / s->cs, c1 = (off + n - 1) / s->cs + 1, k = c1 - c0, h;
    uint64_t g0 = c0 * s->cs, gend = c1 * s->cs, end = off + n;
    uint8_t *head = NULL, *tail = NULL;
    struct iovec iov[3];
    int niov = 0, r = 0;
    bool head_part = off != g0 || (k == 1 && end != gend);
    bool tail_part = !(k == 1 && head_part) && end != gend;
    if ((r = q2_alloc(s, k, &h)) < 0)
        return r;
    if (head_part) {
        if (!(head = malloc(s->cs)))
            return vk_error(-ENOMEM, "out of memory");
        if ((r = read_range(s, head, s->cs, g0)) < 0)
            goto out;
        uint64_t m = (end < g0 + s->cs ? end : g0 + s->cs) - off;
        memcpy(head + (off - g0), p, (size_t)m);
        iov[niov++] = (struct iovec){ head, s->cs };
    }
    uint64_t mid0 = head_part ? g0 + s->cs : g0, mid1 = tail_part ? gend - s->cs : gend;
    if (mid1 > mid0)
        iov[niov++] = (struct iovec){ (void *)(p + (mid0 - off)), (size_t)(mid1 - mid0) };
    if (tail_part) {
        if (!(tail = malloc(s->cs))) {
            r = vk_error(-ENOMEM, "out of memory");
            goto out;
        }
        if ((r = read_range(s, tail, s->cs, gend - s->cs)) < 0)
            goto out;
        memcpy(tail, p + (gend - s->cs - off), (size_t)(end - (gend - s->cs)));
        iov[niov++] = (struct iovec){ tail, s->cs };
    }
    if ((r = q2_host_writev(s, iov, niov, h)) == 0)
        r = set_entries(s, c0, k, NULL, h, QCOW2_OFLAG_COPIED);
out:
    free(head);
    free(tail);
    return r;
}

int q2_pwrite(struct vk_blockdev *bd, const void *buf, size_t len, uint64_t off)
{
    struct q2 *s = bd->priv;
    const uint8_t *p = buf;
    while (len) {
        uint64_t n, e;
        enum q2_kind k;
        int r = lookup(s, off, len, &n, &e, &k);
        if (r < 0)
            return r;
        if (k == K_NORMAL && (e & QCOW2_OFLAG_COPIED))
            r = q2_host_write(s, p, (size_t)n, (e & QCOW2_OFFSET_MASK) + off % s->cs);
        else
            r = write_fresh(s, p, n, off);
        if (r < 0)
            return r;
        p += n;
        off += n;
        len -= (size_t)n;
    }
    return 0;
}

static int write_zero_bytes(struct vk_blockdev *bd, uint64_t off, uint64_t len)
{
    static const uint8_t zero[65536];
    while (len) {
        size_t n = len < sizeof zero ? (size_t)len : sizeof zero;
        int r = q2_pwrite(bd, zero, n, off);
        if (r < 0)
            return r;
        off += n;
        len -= n;
    }
    return 0;
}

int q2_write_zeroes(struct vk_blockdev *bd, uint64_t off, uint64_t len, int flags)
{
    struct q2 *s = bd->priv;
    uint64_t end = off + len;
    uint64_t a = (off + s->cs - 1) / s->cs * s->cs, b = end / s->cs * s->cs;
    /* Whole clusters past the end of the disk count as whole too. */
    if (end == bd->size && end % s->cs)
        b = (end + s->cs - 1) / s->cs * s->cs;
    int r;
    if (a >= b)
        return write_zero_bytes(bd, off, len);
    if (a > off && (r = write_zero_bytes(bd, off, a - off)) < 0)
        return r;
    for (uint64_t g = a; g < b;) {
        uint64_t n, e;
        enum q2_kind k;
        if ((r = lookup(s, g, b - g, &n, &e, &k)) < 0)
            return r;
        uint64_t c0 = g / s->cs, cn = n / s->cs;
        bool reads_zero = k == K_ZERO || (k == K_UNALLOC && !bd->backing);
        if (reads_zero) {
            /* nothing to do */
        } else if (s->version >= 3) {
            if (!(flags & VK_ZERO_MAY_UNMAP) && k == K_NORMAL && (e & QCOW2_OFLAG_COPIED)) {
                uint64_t *v = malloc(cn * sizeof *v);
                if (!v)
                    return vk_error(-ENOMEM, "out of memory");
                for (uint64_t i = 0; i < cn; i++)
                    v[i] = ((e & QCOW2_OFFSET_MASK) + i * s->cs) | QCOW2_OFLAG_ZERO | QCOW2_OFLAG_COPIED;
                r = set_entries(s, c0, cn, v, 0, 0);
                free(v);
            } else {
                r = set_entries(s, c0, cn, NULL, 0, QCOW2_OFLAG_ZERO);
            }
        } else if (!bd->backing) {
            r = set_entries(s, c0, cn, NULL, 0, 0);   /* v2: unallocated reads as zero */
        } else {
            r = write_zero_bytes(bd, g, n);
        }
        if (r < 0)
            return r;
        g += n;
    }
    if (end > b && b > a)
        return write_zero_bytes(bd, b, end - b);
    return 0;
}

int q2_block_status(struct vk_blockdev *bd, uint64_t off, uint64_t len, uint64_t *pnum,
                    uint64_t *host_off)
{
    struct q2 *s = bd->priv;
    uint64_t n, e;
    enum q2_kind k;
    int r = lookup(s, off, len, &n, &e, &k);
    if (r < 0)
        return r;
    *pnum = n;
    switch (k) {
    case K_UNALLOC:
        if (backing_part(bd, off, n)) {
            uint64_t bn, bh;
            int st = vk_bd_block_status(bd->backing, off, backing_part(bd, off, n), &bn, &bh);
            if (st < 0)
                return st;
            *pnum = bn;
            return st & ~(VK_BS_ALLOCATED | VK_BS_OFFSET_VALID);
        }
        return VK_BS_ZERO;
    case K_ZERO:
        return VK_BS_ZERO | VK_BS_ALLOCATED;
    case K_ZERO_ALLOC:
        if (host_off)
            *host_off = (e & QCOW2_OFFSET_MASK) + off % s->cs;
        return VK_BS_ZERO | VK_BS_ALLOCATED | VK_BS_OFFSET_VALID;
    case K_NORMAL:
        if (host_off)
            *host_off = (e & QCOW2_OFFSET_MASK) + off % s->cs;
        return VK_BS_DATA | VK_BS_ALLOCATED | VK_BS_OFFSET_VALID;
    default:
        return VK_BS_DATA | VK_BS_ALLOCATED | VK_BS_COMPRESSED;
    }
}

/* Room for size bytes of compressed data, packed after the previous
 * compressed cluster when they fit or continue into the next cluster.
 * Each host cluster the bytes touch gains one reference. */
static int alloc_bytes(struct q2 *s, uint64_t size, uint64_t *out)
{
    uint64_t cur = s->cbyte_off, room = cur % s->cs ? s->cs - cur % s->cs : 0;
    int r;
    if (room >= size) {
        uint64_t rc;
        if ((r = q2_get_refcount(s, cur / s->cs, &rc)) < 0 ||
            (r = q2_set_refcount(s, cur / s->cs, rc + 1)) < 0)
            return r;
        *out = cur;
        s->cbyte_off = cur + size;
        return 0;
    }
    uint64_t k = (size + s->cs - 1) / s->cs, h;
    if ((r = q2_alloc(s, k, &h)) < 0)
        return r;
    if (room && h == cur + room) {
        /* Contiguous: start in the partly used cluster. */
        uint64_t rc, used = (size - room + s->cs - 1) / s->cs;
        if ((r = q2_get_refcount(s, cur / s->cs, &rc)) < 0 ||
            (r = q2_set_refcount(s, cur / s->cs, rc + 1)) < 0)
            return r;
        for (uint64_t c = used; c < k; c++)   /* never referenced: back at once */
            if ((r = q2_set_refcount(s, h / s->cs + c, 0)) < 0)
                return r;
        *out = cur;
    } else {
        *out = h;
    }
    s->cbyte_off = *out + size;
    return 0;
}

int q2_pwrite_compressed(struct vk_blockdev *bd, const void *buf, size_t len, uint64_t off)
{
    struct q2 *s = bd->priv;
    if (off % s->cs || len > s->cs)
        return vk_error(-EINVAL, "%s: compressed writes take whole clusters", bd->name);
    uint8_t *in = malloc(s->cs), *out = malloc(s->cs);
    int r = 0;
    if (!in || !out) {
        r = vk_error(-ENOMEM, "out of memory");
        goto done;
    }
    memcpy(in, buf, len);
    memset(in + len, 0, s->cs - len);
    size_t clen = 0;
    if (s->compression == QCOW2_COMP_ZSTD) {
        size_t z = ZSTD_compress(out, s->cs - 1, in, s->cs, 1);
        clen = ZSTD_isError(z) ? 0 : z;
    } else {
        z_stream z = { 0 };
        if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -12, 9, Z_DEFAULT_STRATEGY) != Z_OK) {
            r = vk_error(-ENOMEM, "out of memory");
            goto done;
        }
        z.next_in = in;
        z.avail_in = s->cs;
        z.next_out = out;
        z.avail_out = s->cs - 1;
        if (deflate(&z, Z_FINISH) == Z_STREAM_END)
            clen = s->cs - 1 - z.avail_out;
        deflateEnd(&z);
    }
    if (!clen) {   /* does not shrink: store it as a normal cluster */
        r = q2_pwrite(bd, in, len, off);
        goto done;
    }
    uint64_t h;
    if ((r = alloc_bytes(s, clen, &h)) < 0 || (r = q2_host_write(s, out, clen, h)) < 0)
        goto done;
    uint64_t extra = ((h + clen - 1) >> 9) - (h >> 9);
    uint64_t desc = QCOW2_OFLAG_COMPRESSED | h | extra << q2_csize_shift(s);
    r = set_entries(s, off / s->cs, 1, &desc, 0, 0);
    s->dbuf_l2e = 0;
done:
    free(in);
    free(out);
    return r;
}

int q2_preallocate(struct q2 *s, uint64_t off, uint64_t len, uint64_t *first_host,
                   uint64_t *end_host)
{
    *first_host = UINT64_MAX;
    *end_host = 0;
    while (len) {
        uint64_t n, e;
        enum q2_kind k;
        int r = lookup(s, off, len, &n, &e, &k);
        if (r < 0)
            return r;
        if (k == K_UNALLOC) {
            uint64_t c0 = off / s->cs, cn = (off + n + s->cs - 1) / s->cs - c0, h;
            if ((r = q2_alloc(s, cn, &h)) < 0 || (r = set_entries(s, c0, cn, NULL, h, QCOW2_OFLAG_COPIED)) < 0)
                return r;
            if (h < *first_host)
                *first_host = h;
            if (h + cn * s->cs > *end_host)
                *end_host = h + cn * s->cs;
        }
        off += n;
        len -= n;
    }
    return 0;
}

int q2_discard_tail(struct q2 *s, uint64_t off, bool *had_data, bool dry_run)
{
    uint64_t end = (uint64_t)s->l1_size * l2_span(s);
    *had_data = false;
    while (off < end) {
        uint64_t n, e;
        enum q2_kind k;
        int r = lookup(s, off, end - off, &n, &e, &k);
        if (r < 0)
            return r;
        if (k == K_NORMAL || k == K_ZERO_ALLOC || k == K_COMPRESSED) {
            *had_data = true;
            if (dry_run)
                return 0;
        }
        if (!dry_run && k != K_UNALLOC &&
            (r = set_entries(s, off / s->cs, n / s->cs, NULL, 0, 0)) < 0)
            return r;
        off += n;
    }
    return 0;
}
