/* VMDK (VMware): monolithicSparse, streamOptimized (one "KDMV" file with
 * an embedded descriptor), monolithicFlat and twoGbMaxExtentSparse/Flat
 * (a text descriptor naming extent files).  The guest disk is the extents
 * end to end; this file spreads I/O over them, opens and creates images,
 * and reports info.  Sparse extents are vmdk_sparse.c, the descriptor
 * vmdk_desc.c. */
#include "block/vmdk_int.h"

#include "util/err.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct vmdk_state {
    struct vmdk v;
    uint64_t bad;       /* entries img check found wrong */
};

static int vmdk_probe(const uint8_t *buf, size_t len, const char *filename)
{
    if (len >= 4 && (vmdk_le32(buf) == VMDK4_MAGIC || !memcmp(buf, "COWD", 4)))
        return 100;     /* COWD (VMware 3) is refused by name at open */
    /* A text descriptor: comments and blank lines, then version=N. */
    size_t i = 0;
    while (i < len) {
        if (buf[i] == '#') {
            while (i < len && buf[i] != '\n')
                i++;
            i++;
        } else if (buf[i] == ' ' || buf[i] == '\t' || buf[i] == '\r' || buf[i] == '\n') {
            i++;
        } else {
            break;
        }
    }
    if (i < len && len - i >= 10 && !memcmp(buf + i, "version=", 8) && buf[i + 8] >= '1' && buf[i + 8] <= '3' &&
        (buf[i + 9] == '\n' || buf[i + 9] == '\r'))
        return 100;
    return 0;
}

static struct vmdk_extent *find_extent(struct vmdk *v, uint64_t off)
{
    size_t lo = 0, hi = v->n_ext;
    while (lo < hi) {   /* the first extent ending after off */
        size_t mid = (lo + hi) / 2;
        if (v->ext[mid].start + v->ext[mid].size <= off)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < v->n_ext ? &v->ext[lo] : NULL;
}

/* Call fn for each extent piece of [off, off+len). */
#define FOR_PIECES(v, off, len, e, eoff, n)                                              \
    for (uint64_t done_ = 0, eoff, n; done_ < (len) &&                                    \
         (e = find_extent(v, (off) + done_)) &&                                          \
         ((eoff = (off) + done_ - e->start), (n = e->size - eoff < (len) - done_ ? e->size - eoff : (len) - done_), 1); \
         done_ += n)

static int vmdk_pread(struct vk_blockdev *bd, void *buf, size_t len, uint64_t off)
{
    struct vmdk *v = bd->priv;
    struct vmdk_extent *e;
    uint8_t *p = buf;
    FOR_PIECES(v, off, len, e, eoff, n) {
        int r = 0;
        if (e->type == VMDK_EXT_ZERO)
            memset(p, 0, n);
        else if (e->type == VMDK_EXT_FLAT)
            r = vk_fd_pread_full(e->fd, p, n, e->flat_off + eoff, e->path);
        else
            r = vmdk_sparse_read(e, p, n, eoff);
        if (r < 0)
            return r;
        p += n;
    }
    return 0;
}

static int check_writable(struct vk_blockdev *bd, struct vmdk_extent *e)
{
    if (e->type == VMDK_EXT_ZERO || !e->rw)
        return vk_error(-EROFS, "%s: extent %s is read-only (%s)", bd->name, e->path,
                        e->type == VMDK_EXT_ZERO ? "a ZERO extent" : "not RW in the descriptor");
    return 0;
}

static int vmdk_pwrite(struct vk_blockdev *bd, const void *buf, size_t len, uint64_t off)
{
    struct vmdk *v = bd->priv;
    struct vmdk_extent *e;
    const uint8_t *p = buf;
    bool sync = !(bd->flags & VK_OPEN_NOFLUSH);
    FOR_PIECES(v, off, len, e, eoff, n) {
        int r = check_writable(bd, e);
        if (r == 0)
            r = e->type == VMDK_EXT_FLAT ? vk_fd_pwrite_full(e->fd, p, n, e->flat_off + eoff, e->path)
                                         : vmdk_sparse_write(e, p, n, eoff, sync);
        if (r < 0)
            return r;
        p += n;
    }
    return 0;
}

/* qemu-img's -c, and how a stream-optimized target is filled: whole
 * grains (the copy loop asks for them when needs_compressed_writes). */
static int vmdk_pwrite_compressed(struct vk_blockdev *bd, const void *buf, size_t len, uint64_t off)
{
    return vmdk_pwrite(bd, buf, len, off);
}

/* Write deferred table entries; with sync, make everything durable. */
static int flush_all(struct vk_blockdev *bd, bool sync)
{
    struct vmdk *v = bd->priv;
    for (size_t i = 0; i < v->n_ext; i++) {
        struct vmdk_extent *e = &v->ext[i];
        int r = e->type == VMDK_EXT_SPARSE && e->rw ? vmdk_sparse_flush(e, sync) : 0;
        if (r < 0)
            return r;
        if (sync && e->fd >= 0 && e->rw && fdatasync(e->fd) < 0 && errno != EINVAL)
            return vk_error(-errno, "%s: flush: %s", e->path, strerror(errno));
    }
    if (sync && fdatasync(v->fd) < 0 && errno != EINVAL)
        return vk_error(-errno, "%s: flush: %s", bd->name, strerror(errno));
    return 0;
}

static int vmdk_flush(struct vk_blockdev *bd)
{
    return flush_all(bd, true);
}

static int vmdk_write_zeroes(struct vk_blockdev *bd, uint64_t off, uint64_t len, int flags)
{
    struct vmdk *v = bd->priv;
    struct vmdk_extent *e;
    bool sync = !(bd->flags & VK_OPEN_NOFLUSH);
    FOR_PIECES(v, off, len, e, eoff, n) {
        int r = check_writable(bd, e);
        if (r == 0 && e->type == VMDK_EXT_SPARSE)
            r = vmdk_sparse_zero(e, eoff, n, sync);
        else if (r == 0)
            r = vk_fd_write_zeroes(e->fd, e->flat_off + eoff, n, false, e->path);
        if (r < 0)
            return r;
    }
    return 0;
}

/* A flat extent reads as zeroes in the holes of its file: allocated data
 * that is zero, as qemu reports it (DATA|ZERO). */
static int flat_status(struct vmdk_extent *e, uint64_t off, uint64_t len, uint64_t *pnum)
{
    uint64_t at = e->flat_off + off;
    off_t data = lseek(e->fd, (off_t)at, SEEK_DATA);
    if (data < 0 && errno == ENXIO) {
        *pnum = len;
        return VK_BS_DATA | VK_BS_ZERO | VK_BS_ALLOCATED;
    }
    if (data < 0) {
        *pnum = len;
        return VK_BS_DATA | VK_BS_ALLOCATED;
    }
    if ((uint64_t)data > at) {
        *pnum = (uint64_t)data - at < len ? (uint64_t)data - at : len;
        return VK_BS_DATA | VK_BS_ZERO | VK_BS_ALLOCATED;
    }
    off_t hole = lseek(e->fd, (off_t)at, SEEK_HOLE);
    uint64_t n = hole < 0 || (uint64_t)hole <= at ? len : (uint64_t)hole - at;
    *pnum = n < len ? n : len;
    return VK_BS_DATA | VK_BS_ALLOCATED;
}

static int vmdk_block_status(struct vk_blockdev *bd, uint64_t off, uint64_t len,
                             uint64_t *pnum, uint64_t *host_off)
{
    struct vmdk *v = bd->priv;
    struct vmdk_extent *e = find_extent(v, off);
    if (!e)
        return vk_error(-EIO, "%s: no extent at offset %llu", bd->name, (unsigned long long)off);
    uint64_t eoff = off - e->start, n = e->size - eoff < len ? e->size - eoff : len;
    int st;
    if (e->type == VMDK_EXT_ZERO) {
        *pnum = n;
        return VK_BS_ZERO | VK_BS_ALLOCATED;
    }
    if (e->type == VMDK_EXT_FLAT)
        return flat_status(e, eoff, n, pnum);
    st = vmdk_sparse_status(e, eoff, n, pnum, host_off);
    if (e->fd != v->fd)     /* the offset is in another file than bd's */
        st &= ~VK_BS_OFFSET_VALID;
    return st;
}

static uint64_t file_blocks(int fd)
{
    struct stat st;
    return fstat(fd, &st) == 0 ? (uint64_t)st.st_blocks * 512 : 0;
}

static int vmdk_info(struct vk_blockdev *bd, struct vk_imginfo *info)
{
    struct vmdk *v = bd->priv;
    info->disk_size = file_blocks(v->fd);
    for (size_t i = 0; i < v->n_ext; i++)
        if (v->ext[i].own_fd)
            info->disk_size += file_blocks(v->ext[i].fd);
    if (v->n_ext && v->ext[0].type == VMDK_EXT_SPARSE)
        info->cluster_size = (uint32_t)v->ext[0].grain;
    info->format_specific = v->specific;
    return 0;
}

/* qemu-img check for VMDK: every grain inside its file, nothing shared
 * (counted at open, with VK_OPEN_CHECK). */
static int vmdk_check(struct vk_blockdev *bd, struct vk_check_report *r, int repair)
{
    struct vmdk_state *s = bd->priv;
    if (repair)
        return vk_error(-ENOTSUP, "%s: VMDK images cannot be repaired", bd->name);
    r->corruptions = s->bad;
    return 0;
}

static void free_state(struct vmdk *v)
{
    for (size_t i = 0; i < v->n_ext; i++)
        vmdk_extent_free(&v->ext[i]);
    free(v->ext);
    free(v->create_type);
    free(v->specific);
    if (v->fd >= 0)
        close(v->fd);
}

static int vmdk_close(struct vk_blockdev *bd)
{
    struct vmdk *v = bd->priv;
    int r = 0;
    if (bd->flags & VK_OPEN_RDWR)
        r = flush_all(bd, !(bd->flags & VK_OPEN_NOFLUSH));
    free_state(v);
    vk_bd_free(bd);
    return r;
}

static int vmdk_truncate(struct vk_blockdev *bd, uint64_t size, bool allow_shrink);

static const struct vk_blockdev_ops vmdk_ops = {
    .pread = vmdk_pread,
    .pwrite = vmdk_pwrite,
    .pwrite_compressed = vmdk_pwrite_compressed,
    .flush = vmdk_flush,
    .write_zeroes = vmdk_write_zeroes,
    .block_status = vmdk_block_status,
    .info = vmdk_info,
    .check = vmdk_check,
    .truncate = vmdk_truncate,
    .close = vmdk_close,
};

/* The "format-specific" block of `img info --json`, as qemu-img's. */
static int make_specific(struct vmdk *v)
{
    json_t *d = json_object(), *arr = json_array();
    if (!d || !arr) {
        json_decref(d);
        json_decref(arr);
        return vk_error(-ENOMEM, "out of memory");
    }
    json_object_set_new(d, "cid", json_integer(v->cid));
    json_object_set_new(d, "parent-cid", json_integer(v->parent_cid));
    json_object_set_new(d, "create-type", json_string(v->create_type));
    for (size_t i = 0; i < v->n_ext; i++) {
        const struct vmdk_extent *e = &v->ext[i];
        json_t *x = json_object();
        if (e->compressed)
            json_object_set_new(x, "compressed", json_true());
        json_object_set_new(x, "virtual-size", json_integer((json_int_t)e->size));
        json_object_set_new(x, "filename", json_string(e->path ? e->path : ""));
        if (e->type == VMDK_EXT_SPARSE)
            json_object_set_new(x, "cluster-size", json_integer((json_int_t)e->grain));
        json_object_set_new(x, "format", json_string(e->type_name ? e->type_name : ""));
        json_array_append_new(arr, x);
    }
    json_object_set_new(d, "extents", arr);
    v->specific = json_dumps(d, JSON_PRESERVE_ORDER | JSON_COMPACT);
    json_decref(d);
    return v->specific ? 0 : vk_error(-ENOMEM, "out of memory");
}

static int add_extent(struct vmdk *v, struct vmdk_extent **out, const char *name)
{
    void *nv = realloc(v->ext, (v->n_ext + 1) * sizeof *v->ext);
    if (!nv)
        return vk_error(-ENOMEM, "%s: out of memory", name);
    v->ext = nv;
    struct vmdk_extent *e = &v->ext[v->n_ext++];
    memset(e, 0, sizeof *e);
    e->fd = -1;
    *out = e;
    return 0;
}

/* One "KDMV" file: monolithicSparse or streamOptimized. */
static int open_monolithic(struct vmdk_state *s, const char *name, int flags)
{
    struct vmdk *v = &s->v;
    struct vmdk_extent *e;
    uint64_t cap, doff, dsize;
    int r = add_extent(v, &e, name);
    if (r < 0)
        return r;
    e->fd = v->fd;
    e->type = VMDK_EXT_SPARSE;
    e->rw = flags & VK_OPEN_RDWR;
    if (!(e->path = strdup(name)) || !(e->type_name = strdup("")))
        return vk_error(-ENOMEM, "out of memory");
    if ((r = vmdk_sparse_open(e, &cap, &doff, &dsize, flags & VK_OPEN_CHECK, &s->bad)) < 0)
        return r;
    v->create_type = strdup(e->compressed ? "streamOptimized" : "monolithicSparse");
    v->parent_cid = 0xffffffffu;
    if (!v->create_type)
        return vk_error(-ENOMEM, "out of memory");
    if (doff && dsize) {
        uint64_t len = dsize * VMDK_SECTOR;
        if (len > VMDK_MAX_DESC || doff > e->file_size / VMDK_SECTOR || doff * VMDK_SECTOR + len > e->file_size)
            return vk_error(-EINVAL, "%s: embedded descriptor (sector %llu, %llu sectors) is outside the file",
                            name, (unsigned long long)doff, (unsigned long long)dsize);
        char *text = malloc(len);
        struct vmdk_desc d = { 0 };
        if (!text)
            return vk_error(-ENOMEM, "out of memory");
        r = vk_fd_pread_full(v->fd, text, len, doff * VMDK_SECTOR, name);
        if (r == 0)
            r = vmdk_desc_parse(name, text, len, &d);
        v->desc_off = doff * VMDK_SECTOR;
        v->desc_len = len;
        free(text);
        if (r == 0 && d.has_parent)
            r = vk_error(-ENOTSUP, "%s: VMDK images with a parent (parentFileNameHint) are not supported", name);
        v->cid = d.cid;
        v->parent_cid = d.parent_cid;
        vmdk_desc_free(&d);
        if (r < 0)
            return r;
    }
    return 0;
}

static bool supported_type(const char *t)
{
    static const char *const ok[] = { "monolithicFlat", "twoGbMaxExtentFlat", "twoGbMaxExtentSparse",
                                      "vmfs", "monolithicSparse", "streamOptimized", "custom" };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
        if (!strcmp(t, ok[i]))
            return true;
    return false;
}

/* Open extent x of a descriptor file (its name is checked: no path). */
static int open_extent(struct vmdk_state *s, const char *name, int flags,
                       const struct vmdk_desc_extent *x, uint64_t start)
{
    struct vmdk *v = &s->v;
    struct vmdk_extent *e;
    int r = add_extent(v, &e, name);
    if (r < 0)
        return r;
    e->start = start;
    e->size = x->sectors * VMDK_SECTOR;
    if (!(e->type_name = strdup(x->type)))
        return vk_error(-ENOMEM, "out of memory");
    if (!strcmp(x->type, "ZERO")) {
        e->type = VMDK_EXT_ZERO;
        return 0;
    }
    if (!strcmp(x->type, "FLAT") || !strcmp(x->type, "VMFS"))
        e->type = VMDK_EXT_FLAT;
    else if (!strcmp(x->type, "SPARSE"))
        e->type = VMDK_EXT_SPARSE;
    else
        return vk_error(-ENOTSUP, "%s: extent type %s is not supported", name, x->type);
    if (!(e->path = vk_backing_path(name, x->file)))
        return vk_error(-ENOMEM, "out of memory");
    bool rw = (flags & VK_OPEN_RDWR) && x->rw;
    e->fd = open(e->path, (rw ? O_RDWR : O_RDONLY) | O_CLOEXEC | O_NOFOLLOW);
    if (e->fd < 0)
        return vk_error(-errno, "%s: extent %s: %s", name, e->path, strerror(errno));
    e->own_fd = true;
    e->rw = rw;
    struct stat st;
    if (fstat(e->fd, &st) < 0 || !S_ISREG(st.st_mode))
        return vk_error(-EINVAL, "%s: extent %s is not a regular file", name, e->path);
    if (!(flags & VK_OPEN_NOLOCK) && (r = vk_lock_image(e->fd, e->path, rw)) < 0)
        return r;
    if (e->type == VMDK_EXT_FLAT) {
        e->flat_off = x->offset * VMDK_SECTOR;
        if ((uint64_t)st.st_size < e->flat_off + e->size)
            return vk_error(-EINVAL, "%s: extent %s is truncated: %llu bytes, the descriptor needs %llu",
                            name, e->path, (unsigned long long)st.st_size,
                            (unsigned long long)(e->flat_off + e->size));
        return 0;
    }
    uint64_t cap, doff, dsize;
    return vmdk_sparse_open(e, &cap, &doff, &dsize, flags & VK_OPEN_CHECK, &s->bad);
}

static int open_descriptor(struct vmdk_state *s, const char *name, int flags)
{
    struct vmdk *v = &s->v;
    struct vmdk_desc d = { 0 };
    struct stat st;
    if (fstat(v->fd, &st) < 0)
        return vk_error(-errno, "%s: %s", name, strerror(errno));
    if ((uint64_t)st.st_size > VMDK_MAX_DESC)
        return vk_error(-EINVAL, "%s: not a VMDK image (a %llu-byte file without a sparse header)",
                        name, (unsigned long long)st.st_size);
    size_t len = (size_t)st.st_size;
    char *text = malloc(len + 1);
    if (!text)
        return vk_error(-ENOMEM, "out of memory");
    int r = vk_fd_pread_full(v->fd, text, len, 0, name);
    if (r == 0)
        r = vmdk_desc_parse(name, text, len, &d);
    free(text);
    if (r == 0 && d.has_parent)
        r = vk_error(-ENOTSUP, "%s: VMDK images with a parent (parentFileNameHint) are not supported", name);
    if (r == 0 && !supported_type(d.create_type))
        r = vk_error(-ENOTSUP, "%s: VMDK createType '%s' is not supported", name, d.create_type);
    uint64_t start = 0;
    for (size_t i = 0; r == 0 && i < d.n_ext; i++) {
        r = open_extent(s, name, flags, &d.ext[i], start);
        start += d.ext[i].sectors * VMDK_SECTOR;
    }
    if (r == 0) {
        v->cid = d.cid;
        v->parent_cid = d.parent_cid;
        if (!(v->create_type = strdup(d.create_type)))
            r = vk_error(-ENOMEM, "out of memory");
    }
    vmdk_desc_free(&d);
    return r;
}

static int vmdk_open(int fd, const char *name, int flags, struct vk_blockdev **out)
{
    struct vk_blockdev *bd = vk_bd_alloc(&vmdk_ops, &vk_format_vmdk, name, sizeof(struct vmdk_state));
    uint8_t magic[4];
    int r;

    if (!bd) {
        close(fd);
        return vk_error(-ENOMEM, "%s: out of memory", name);
    }
    struct vmdk_state *s = bd->priv;
    s->v.fd = fd;
    bd->flags = flags;
    ssize_t n = pread(fd, magic, sizeof magic, 0);
    if (n < 0)
        r = vk_error(-errno, "%s: %s", name, strerror(errno));
    else if (n == 4 && vmdk_le32(magic) == VMDK4_MAGIC)
        r = open_monolithic(s, name, flags);
    else if (n == 4 && !memcmp(magic, "COWD", 4))
        r = vk_error(-ENOTSUP, "%s: VMware 3 (COWD) sparse VMDK images are not supported", name);
    else
        r = open_descriptor(s, name, flags);
    uint64_t size = 0;
    bool compressed = false;
    for (size_t i = 0; r == 0 && i < s->v.n_ext; i++) {
        const struct vmdk_extent *e = &s->v.ext[i];
        if (e->type == VMDK_EXT_SPARSE && e->version == 3 && !e->compressed && (flags & VK_OPEN_RDWR))
            r = vk_error(-EROFS, "%s: VMDK version 3 sparse extents (changed block tracking) are read-only", e->path);
        compressed |= e->compressed;
        size += e->size;
    }
    if (r == 0)
        r = make_specific(&s->v);
    if (r < 0) {
        if ((flags & VK_OPEN_CHECK) && r != -ENOMEM)
            vk_error_prefix(r, "%s: ", "cannot check");
        free_state(&s->v);
        vk_bd_free(bd);
        return r;
    }
    bd->size = size;
    bd->cluster_size = s->v.n_ext && s->v.ext[0].type == VMDK_EXT_SPARSE ? (uint32_t)s->v.ext[0].grain : 512;
    bd->needs_compressed_writes = compressed;
    *out = bd;
    return 0;
}

/* --- create --- */

static int parse_create(const char *path, const struct vk_create_opts *o, struct vmdk_create *c)
{
    static const char *const subs[] = { "monolithicSparse", "monolithicFlat", "twoGbMaxExtentSparse",
                                        "twoGbMaxExtentFlat", "streamOptimized" };
    static const char *const adapters[] = { "ide", "lsilogic", "buslogic", "legacyESX" };
    bool ok = false;
    memset(c, 0, sizeof *c);
    c->subformat = o->subformat ? o->subformat : "monolithicSparse";
    for (size_t i = 0; i < sizeof subs / sizeof subs[0]; i++)
        ok |= !strcmp(c->subformat, subs[i]);
    if (!ok)
        return vk_error(-EINVAL, "%s: subformat '%s' is not one of monolithicSparse, monolithicFlat, "
                        "twoGbMaxExtentSparse, twoGbMaxExtentFlat, streamOptimized", path, c->subformat);
    c->adapter_type = o->adapter_type ? o->adapter_type : "ide";
    ok = false;
    for (size_t i = 0; i < sizeof adapters / sizeof adapters[0]; i++)
        ok |= !strcmp(c->adapter_type, adapters[i]);
    if (!ok)
        return vk_error(-EINVAL, "%s: adapter_type '%s' is not one of ide, lsilogic, buslogic, legacyESX",
                        path, c->adapter_type);
    c->hwversion = o->hwversion && strcmp(o->hwversion, "undefined") ? o->hwversion : "4";
    if (strlen(c->hwversion) > 16 || strpbrk(c->hwversion, "\"\n\r"))
        return vk_error(-EINVAL, "%s: hwversion '%s' is not a version", path, c->hwversion);
    c->zeroed_grain = o->zeroed_grain;
    if (o->backing_file)
        return vk_error(-ENOTSUP, "%s: VMDK backing files are not supported", path);
    if (o->prealloc && strcmp(o->prealloc, "off"))
        return vk_error(-ENOTSUP, "%s: VMDK preallocation '%s' is not supported (only off)", path, o->prealloc);
    if (o->cluster_size && o->cluster_size != 65536)
        return vk_error(-EINVAL, "%s: VMDK grains are 64 KiB (cluster_size is fixed)", path);
    if (c->zeroed_grain && strstr(c->subformat, "Flat"))
        return vk_error(-EINVAL, "%s: a flat image cannot have zeroed grains", path);
    return 0;
}

/* "dir/disk.vmdk" + "-f001" -> "dir/disk-f001.vmdk" (qemu-img's names). */
static char *extent_name(const char *final, const char *tag)
{
    const char *base = strrchr(final, '/');
    base = base ? base + 1 : final;
    const char *dot = strrchr(base, '.');
    size_t pre = dot ? (size_t)(dot - final) : strlen(final);
    char *s = NULL;
    if (asprintf(&s, "%.*s%s%s", (int)pre, final, tag, dot ? dot : "") < 0)
        return NULL;
    return s;
}

static const char *base_of(const char *p)
{
    const char *b = strrchr(p, '/');
    return b ? b + 1 : p;
}

static int create_extent_file(const char *path, uint64_t size, bool flat,
                              const struct vmdk_create *c)
{
    int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0)
        return vk_error(-errno, "%s: %s", path, errno == EEXIST ? "file exists (remove it first)" : strerror(errno));
    int r = 0;
    if (flat) {
        if (ftruncate(fd, (off_t)size) < 0)
            r = vk_error(-errno, "%s: %s", path, strerror(errno));
    } else {
        r = vmdk_sparse_create(fd, path, size, true, false, c->zeroed_grain);
    }
    if (r == 0 && fsync(fd) < 0)
        r = vk_error(-errno, "%s: %s", path, strerror(errno));
    close(fd);
    return r;
}

static int vmdk_create(const char *path, const struct vk_create_opts *o)
{
    struct vmdk_create c;
    int r = parse_create(path, o, &c);
    if (r < 0)
        return r;
    const char *final = o->final_path ? o->final_path : path;
    uint64_t size = (o->size + VMDK_SECTOR - 1) / VMDK_SECTOR * VMDK_SECTOR;
    bool flat = strstr(c.subformat, "Flat") != NULL;
    bool split = !strncmp(c.subformat, "twoGb", 5);
    bool mono = !flat && !split;
    char *lines = NULL, **made = NULL;
    size_t n_made = 0, lines_len = 0;
    uint32_t cid;
    if (getrandom(&cid, sizeof cid, 0) != sizeof cid)
        cid = (uint32_t)getpid() ^ (uint32_t)time(NULL);

    int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0)
        return vk_error(-errno, "%s: %s", path, strerror(errno));
    FILE *ls = open_memstream(&lines, &lines_len);
    if (!ls) {
        r = vk_error(-ENOMEM, "out of memory");
        goto out;
    }
    if (mono) {
        r = vmdk_sparse_create(fd, path, size, true, !strcmp(c.subformat, "streamOptimized"), c.zeroed_grain);
        fprintf(ls, "RW %" PRIu64 " SPARSE \"%s\"\n", size / VMDK_SECTOR, base_of(final));
    } else {
        uint64_t chunk = split ? VMDK_SPLIT_SIZE : size;
        for (uint64_t done = 0, i = 1; done < size && r == 0; done += chunk, i++) {
            uint64_t n = size - done < chunk ? size - done : chunk;
            char tag[16];
            if (split)
                snprintf(tag, sizeof tag, "-%c%03u", flat ? 'f' : 's', (unsigned)i);
            else
                snprintf(tag, sizeof tag, "-flat");
            char *ext = extent_name(final, tag);
            void *nv = realloc(made, (n_made + 1) * sizeof *made);
            if (!ext || !nv) {
                free(ext);
                if (nv)
                    made = nv;
                r = vk_error(-ENOMEM, "out of memory");
                break;
            }
            made = nv;
            if ((r = create_extent_file(ext, n, flat, &c)) < 0) {
                free(ext);
                break;
            }
            made[n_made++] = ext;
            if (flat)
                fprintf(ls, "RW %" PRIu64 " FLAT \"%s\" 0\n", n / VMDK_SECTOR, base_of(ext));
            else
                fprintf(ls, "RW %" PRIu64 " SPARSE \"%s\"\n", n / VMDK_SECTOR, base_of(ext));
        }
    }
    if (fclose(ls) != 0 && r == 0)
        r = vk_error(-ENOMEM, "out of memory");
    if (r < 0)
        goto out;
    char *desc = vmdk_desc_make(cid, c.subformat, lines, size, &c);
    if (!desc) {
        r = vk_error(-ENOMEM, "out of memory");
        goto out;
    }
    size_t dl = strlen(desc);
    if (mono && dl > 20 * VMDK_SECTOR)
        r = vk_error(-EINVAL, "%s: descriptor too long for its 20 sectors", path);
    else
        r = vk_fd_pwrite_full(fd, desc, dl, mono ? VMDK_SECTOR : 0, path);
    free(desc);
    if (r == 0 && fsync(fd) < 0)
        r = vk_error(-errno, "%s: %s", path, strerror(errno));
out:
    close(fd);
    if (r < 0) {
        unlink(path);
        for (size_t i = 0; i < n_made; i++)
            unlink(made[i]);    /* we created them: leave nothing half-made */
    }
    for (size_t i = 0; i < n_made; i++)
        free(made[i]);
    free(made);
    free(lines);
    return r;
}

/* --- resize --- */

/* Rewrite the descriptor for a disk of size bytes: the last extent line
 * says last_sectors, extra lines follow it.  An embedded descriptor is
 * rewritten in its room; a descriptor file in place (it only grows: the
 * numbers in it do), as qemu rewrites it for a new CID. */
static int rewrite_descriptor(struct vk_blockdev *bd, uint64_t last_sectors, const char *extra, uint64_t size)
{
    struct vmdk *v = bd->priv;
    struct stat st;
    bool embedded = v->n_ext == 1 && v->ext[0].fd == v->fd;
    if (embedded && !v->desc_len)
        return 0;   /* no descriptor in the file: the header is all */
    if (!embedded && fstat(v->fd, &st) < 0)
        return vk_error(-errno, "%s: %s", bd->name, strerror(errno));
    size_t len = embedded ? v->desc_len : (size_t)st.st_size;
    uint64_t at = embedded ? v->desc_off : 0;
    char *text = malloc(len ? len : 1), *nt = NULL;
    if (!text)
        return vk_error(-ENOMEM, "out of memory");
    int r = vk_fd_pread_full(v->fd, text, len, at, bd->name);
    if (r == 0 && !(nt = vmdk_desc_regrow(text, len, last_sectors, extra, size)))
        r = vk_error(-EINVAL, "%s: cannot rewrite the descriptor (no extent line?)", bd->name);
    size_t nl = nt ? strlen(nt) : 0;
    if (r == 0 && embedded && nl >= len)
        r = vk_error(-ENOSPC, "%s: the grown descriptor (%zu bytes) does not fit its %zu bytes", bd->name, nl, len);
    if (r == 0 && nl < len) {
        /* The new text and NULs over all the old bytes, in one write: an
         * embedded descriptor keeps its size; a file that shrinks (qemu's
         * CID update leaves a NUL and an old tail behind its text) is cut
         * after, so a crash before the cut leaves the text ended by a NUL,
         * not followed by old lines. */
        memset(text, 0, len);
        memcpy(text, nt, nl);
        r = vk_fd_pwrite_full(v->fd, text, len, at, bd->name);
        if (r == 0 && !embedded && ftruncate(v->fd, (off_t)nl) < 0)
            r = vk_error(-errno, "%s: %s", bd->name, strerror(errno));
    } else if (r == 0) {
        r = vk_fd_pwrite_full(v->fd, nt, nl, 0, bd->name);
    }
    if (r == 0 && fdatasync(v->fd) < 0)
        r = vk_error(-errno, "%s: flush: %s", bd->name, strerror(errno));
    free(text);
    free(nt);
    return r;
}

/* Whether path is an extent file exactly as create_extent_file makes it
 * for n bytes and holding nothing: a flat file of n bytes that is all
 * hole, or a sparse extent of that capacity with no grain allocated.  An
 * interrupted resize leaves such a file before the descriptor names it;
 * taking it over loses nothing. */
static bool blank_extent(const char *path, uint64_t n, bool flat)
{
    struct vmdk_extent e = { .fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW), .own_fd = true };
    struct stat st;
    bool blank = false;
    if (e.fd < 0 || fstat(e.fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        /* not ours */
    } else if (flat) {
        blank = (uint64_t)st.st_size == n && lseek(e.fd, 0, SEEK_DATA) < 0 && errno == ENXIO;
    } else if ((e.path = strdup(path)) && (e.type_name = strdup("SPARSE"))) {
        uint64_t cap, doff, dsize;
        blank = vmdk_sparse_open(&e, &cap, &doff, &dsize, false, NULL) == 0 && cap * VMDK_SECTOR == n &&
                !e.compressed;
        for (uint64_t g = 0; blank && g < (uint64_t)e.n_gt * e.gtes; g++)
            blank = e.gt[g] == 0;
    }
    vmdk_extent_free(&e);
    vk_error_clear();
    return blank;
}

/* Make the extent file path of n bytes: built and synced under a hidden
 * temporary name, then renamed into place (never over a file there), so
 * that a crash never leaves a half-made file at path.  A file already at
 * path that an interrupted resize left (blank_extent) is taken over. */
static int publish_extent(const char *path, uint64_t n, bool flat, const struct vmdk_create *c)
{
    static unsigned counter;
    char *tmp = NULL;
    int r = -EEXIST;
    for (int tries = 0; r == -EEXIST && tries < 100; tries++) {
        free(tmp);
        if (!(tmp = vk_tmp_name(path, counter++)))
            return vk_error(-ENOMEM, "out of memory");
        if ((r = create_extent_file(tmp, n, flat, c)) < 0 && r != -EEXIST)
            unlink(tmp);    /* ours, half made */
    }
    if (r == 0 && (r = vk_publish(tmp, path)) == -EEXIST)   /* tmp is gone */
        r = blank_extent(path, n, flat) ? 0 : vk_error(-EEXIST, "%s: file exists (remove it first)", path);
    free(tmp);
    return r;
}

/* Grow the disk, as vmware-vdiskmanager -x (qemu-img has no resize for
 * VMDK): the last extent grows (a flat file is extended, a sparse one
 * gets grain tables: vmdk_sparse_grow), and a twoGbMaxExtent image that
 * passes 2 GiB in it gets new extent files; then the descriptor names
 * the new sizes.  Each step is synced before the next: a crash leaves the
 * old disk, with unused space or unnamed new files (resizing again
 * takes those over: publish_extent), or a disk as
 * large as the last extent's header says (QEMU takes a sparse extent's
 * size from its header); never changed data.  Shrinking is refused, as
 * VMware does not shrink a disk's capacity. */
static int vmdk_truncate(struct vk_blockdev *bd, uint64_t size, bool allow_shrink)
{
    struct vmdk_state *s = bd->priv;
    struct vmdk *v = &s->v;
    (void)allow_shrink;
    size = (size + VMDK_SECTOR - 1) / VMDK_SECTOR * VMDK_SECTOR;
    if (size < bd->size)
        return vk_error(-ENOTSUP, "%s: VMDK images are not shrunk (VMware does not shrink a disk's capacity either; "
                        "convert to qcow2 or raw and resize that)", bd->name);
    if (!v->n_ext)
        return vk_error(-EINVAL, "%s: the descriptor names no extents", bd->name);
    struct vmdk_extent *last = &v->ext[v->n_ext - 1];
    if (last->type == VMDK_EXT_ZERO || !last->rw)
        return vk_error(-ENOTSUP, "%s: the last extent (%s) is %s: it cannot grow", bd->name,
                        last->path ? last->path : "ZERO", last->type == VMDK_EXT_ZERO ? "a ZERO extent" : "read-only");
    if (last->compressed || last->markers)
        return vk_error(-ENOTSUP, "%s: a streamOptimized VMDK cannot be resized; convert it to monolithicSparse first",
                        bd->name);
    bool split = !strncmp(v->create_type, "twoGbMaxExtent", 14);
    for (size_t i = 0; split && i + 1 < v->n_ext; i++)
        if (v->ext[i].size != VMDK_SPLIT_SIZE)
            split = false;  /* not laid out as VMware splits: only the last one grows */
    uint64_t last_size = size - last->start;
    if (split && last_size > VMDK_SPLIT_SIZE)
        last_size = VMDK_SPLIT_SIZE;
    if (last->type == VMDK_EXT_FLAT) {
        for (size_t i = 0; i + 1 < v->n_ext; i++)
            if (v->ext[i].path && !strcmp(v->ext[i].path, last->path))
                return vk_error(-ENOTSUP, "%s: the last extent's file %s holds another extent too: it cannot grow",
                                bd->name, last->path);
    }
    int r = flush_all(bd, true);
    if (r < 0)
        return r;
    /* First the new extent files, each made whole and synced (named by
     * nothing yet: a refused name changes nothing); then the last extent
     * grows; then the descriptor names it all. */
    bool flat = last->type == VMDK_EXT_FLAT;
    struct vmdk_create c = { .zeroed_grain = last->zero_grain };
    char *lines = NULL;
    size_t lines_len = 0, n_new = 0, n_old = v->n_ext;
    uint64_t at = last->start + last_size;
    FILE *ls = open_memstream(&lines, &lines_len);
    if (!ls)
        return vk_error(-ENOMEM, "out of memory");
    struct vmdk_desc_extent *nx = NULL;
    for (; at < size && r == 0; at += VMDK_SPLIT_SIZE) {
        uint64_t n = size - at < VMDK_SPLIT_SIZE ? size - at : VMDK_SPLIT_SIZE;
        char tag[16];
        snprintf(tag, sizeof tag, "-%c%03zu", flat ? 'f' : 's', n_old + n_new + 1);
        char *path = extent_name(bd->name, tag);
        void *nv = realloc(nx, (n_new + 1) * sizeof *nx);
        if (!path || !nv) {
            free(path);
            if (nv)
                nx = nv;
            r = vk_error(-ENOMEM, "out of memory");
            break;
        }
        nx = nv;
        struct vmdk_desc_extent x = { .rw = true, .sectors = n / VMDK_SECTOR, .file = strdup(base_of(path)) };
        snprintf(x.type, sizeof x.type, "%s", flat ? "FLAT" : "SPARSE");
        if (!x.file)
            r = vk_error(-ENOMEM, "out of memory");
        else
            r = publish_extent(path, n, flat, &c);
        if (r == 0) {
            nx[n_new++] = x;
            fprintf(ls, flat ? "RW %" PRIu64 " FLAT \"%s\" 0\n" : "RW %" PRIu64 " SPARSE \"%s\"\n",
                    x.sectors, x.file);
        } else {
            free(x.file);
        }
        free(path);
    }
    if (fclose(ls) != 0 && r == 0)
        r = vk_error(-ENOMEM, "out of memory");
    if (r == 0 && last->type == VMDK_EXT_SPARSE) {
        r = vmdk_sparse_grow(last, last_size);
    } else if (r == 0) {
        struct stat st;
        if (fstat(last->fd, &st) < 0)
            r = vk_error(-errno, "%s: %s", last->path, strerror(errno));
        else if ((uint64_t)st.st_size < last->flat_off + last_size &&
                 (ftruncate(last->fd, (off_t)(last->flat_off + last_size)) < 0 || fsync(last->fd) < 0))
            r = vk_error(-errno, "%s: growing it: %s", last->path, strerror(errno));
    }
    if (r < 0) {    /* named by nothing yet: remove the files this call made */
        for (size_t i = 0; i < n_new; i++) {
            char *p = vk_backing_path(bd->name, nx[i].file);
            if (p)
                unlink(p);
            free(p);
        }
    }
    if (r == 0)
        r = rewrite_descriptor(bd, last_size / VMDK_SECTOR, lines, size);
    /* the disk is grown on disk; now in memory */
    if (r == 0) {
        v->ext[v->n_ext - 1].size = last_size;
        for (size_t i = 0; i < n_new && r == 0; i++)
            r = open_extent(s, bd->name, bd->flags, &nx[i], last_size + v->ext[n_old - 1].start + i * VMDK_SPLIT_SIZE);
        free(v->specific);
        v->specific = NULL;
        if (r == 0)
            r = make_specific(v);
        if (r == 0)
            bd->size = size;
    }
    for (size_t i = 0; i < n_new; i++)
        free(nx[i].file);
    free(nx);
    free(lines);
    return r;
}

/* Remove the image at path and the extent files its descriptor names
 * (only plain names next to it: vmdk_desc_parse refuses others). */
static int vmdk_remove(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd >= 0) {
        char buf[8192];
        ssize_t n = pread(fd, buf, sizeof buf, 0);
        struct vmdk_desc d = { 0 };
        if (n > 4 && vmdk_le32(buf) != VMDK4_MAGIC && vmdk_desc_parse(path, buf, (size_t)n, &d) == 0) {
            for (size_t i = 0; i < d.n_ext; i++) {
                char *p = d.ext[i].file ? vk_backing_path(path, d.ext[i].file) : NULL;
                if (p)
                    unlink(p);
                free(p);
            }
        }
        vmdk_desc_free(&d);
        close(fd);
    }
    if (unlink(path) < 0 && errno != ENOENT)
        return vk_error(-errno, "%s: %s", path, strerror(errno));
    return 0;
}

const struct vk_format vk_format_vmdk = {
    .name = "vmdk",
    .probe = vmdk_probe,
    .open = vmdk_open,
    .create = vmdk_create,
    .remove = vmdk_remove,
};
