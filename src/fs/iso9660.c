/* ISO 9660: the read-only fs ops over the index that iso9660_idx.c builds
 * with libarchive, the virtual /[BOOT] directory, mount.  The volume
 * descriptors (probe, El Torito) are read in iso9660_vd.c.
 */
#include "fs/iso9660_int.h"

#include "fs/path.h"
#include "util/err.h"
#include "util/vec.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char *const names[] = { "iso9660", NULL };

/* ---- the index ---- */

static size_t hash_of(uint32_t parent, const char *name, size_t len)
{
    uint64_t h = 1469598103934665603ull ^ parent;
    for (size_t i = 0; i < len; i++)
        h = (h ^ (uint8_t)name[i]) * 1099511628211ull;
    return (size_t)h;
}

static int rehash(struct iso_fs *x)
{
    size_t cap = x->hcap ? x->hcap * 2 : 1024;
    uint32_t *h = malloc(cap * sizeof *h);
    if (!h)
        return vk_error(-ENOMEM, "out of memory");
    memset(h, 0xff, cap * sizeof *h);
    for (uint32_t i = 1; i < x->n; i++) {
        size_t k = hash_of(x->v[i].parent, x->v[i].name, strlen(x->v[i].name)) & (cap - 1);
        while (h[k] != ISO_NONE)
            k = (k + 1) & (cap - 1);
        h[k] = i;
    }
    free(x->hash);
    x->hash = h;
    x->hcap = cap;
    return 0;
}

uint32_t iso_node_find(const struct iso_fs *x, uint32_t parent, const char *name, size_t len)
{
    if (!x->hcap)
        return ISO_NONE;
    for (size_t k = hash_of(parent, name, len) & (x->hcap - 1); x->hash[k] != ISO_NONE;
         k = (k + 1) & (x->hcap - 1)) {
        const struct iso_node *n = &x->v[x->hash[k]];
        if (n->parent == parent && !strncmp(n->name, name, len) && !n->name[len])
            return x->hash[k];
    }
    return ISO_NONE;
}

uint32_t iso_node_add(struct iso_fs *x, uint32_t parent, const char *name, size_t len, bool *fresh)
{
    uint32_t i = parent == ISO_NONE ? ISO_NONE : iso_node_find(x, parent, name, len);
    *fresh = i == ISO_NONE;
    if (i != ISO_NONE)
        return i;
    if (x->n >= UINT32_MAX - 1) {
        vk_error(-EFBIG, "%s: too many files", x->bd->name);
        return ISO_NONE;
    }
    if ((x->n + 1) * 2 > x->hcap && rehash(x) < 0)
        return ISO_NONE;
    struct iso_node *nv = vk_grow(x->v, &x->cap, x->n + 1, sizeof *x->v, 256);
    char *nm = strndup(name, len);
    if (!nv || !nm) {
        if (nv)
            x->v = nv;
        free(nm);
        vk_error(-ENOMEM, "out of memory");
        return ISO_NONE;
    }
    x->v = nv;
    i = (uint32_t)x->n++;
    struct iso_node *n = &x->v[i];
    memset(n, 0, sizeof *n);
    n->name = nm;
    n->parent = parent;
    n->child = n->next = ISO_NONE;
    n->raw_off = n->data_off = -1;
    n->st.ino = i + 1;
    if (parent != ISO_NONE) {
        /* Append, so listings keep libarchive's (on-disc) order. */
        uint32_t *p = &x->v[parent].child;
        while (*p != ISO_NONE)
            p = &x->v[*p].next;
        *p = i;
        size_t k = hash_of(parent, nm, len) & (x->hcap - 1);
        while (x->hash[k] != ISO_NONE)
            k = (k + 1) & (x->hcap - 1);
        x->hash[k] = i;
    }
    return i;
}

int iso_node_path(const struct iso_fs *x, uint32_t i, char *buf, size_t len)
{
    size_t at = len - 1;
    buf[at] = 0;
    for (; i != 0 && i != ISO_NONE; i = x->v[i].parent) {
        size_t l = strlen(x->v[i].name);
        if (l + 1 > at)
            return vk_error(-ENAMETOOLONG, "%s: path too long", x->bd->name);
        at -= l;
        memcpy(buf + at, x->v[i].name, l);
        buf[--at] = '/';
    }
    memmove(buf, buf + at, len - at);
    return 0;
}

/* Resolve path (normalized, absolute); follow a final symlink if asked.
 * Symlinks inside the path are followed always, at most 40 in all. */
static int lookup(struct iso_fs *x, const char *path, bool follow, uint32_t *out)
{
    char buf[4096], tmp[4096];
    int hops = 0;
    if (strlen(path) >= sizeof buf)
        return vk_error(-ENAMETOOLONG, "%s:%s: path too long", x->bd->name, path);
    strcpy(buf, path);
restart:;
    uint32_t cur = 0;
    const char *p = buf;
    while (*p) {
        while (*p == '/')
            p++;
        if (!*p)
            break;
        const char *e = strchr(p, '/');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (!S_ISDIR(x->v[cur].st.mode))
            return vk_error(-ENOTDIR, "%s:%s: not a directory", x->bd->name, path);
        uint32_t c = iso_node_find(x, cur, p, len);
        if (c == ISO_NONE)
            return vk_error(-ENOENT, "%s:%s: no such file or directory", x->bd->name, path);
        p += len;
        if (S_ISLNK(x->v[c].st.mode) && (*p || follow)) {
            if (++hops > 40)
                return vk_error(-ELOOP, "%s:%s: too many levels of symbolic links", x->bd->name, path);
            const char *t = x->v[c].link ? x->v[c].link : "";
            /* Relative targets are taken from the link's directory. */
            char dir[4096];
            if (t[0] == '/')
                dir[0] = 0;
            else if (iso_node_path(x, cur, dir, sizeof dir) < 0)
                return -ENAMETOOLONG;
            if (snprintf(tmp, sizeof tmp, "%s/%s%s", dir, t, p) >= (int)sizeof tmp ||
                vk_path_normalize(tmp, buf, sizeof buf) < 0)
                return vk_error(-ENAMETOOLONG, "%s:%s: symbolic link target too long", x->bd->name, path);
            goto restart;
        }
        cur = c;
    }
    *out = cur;
    return 0;
}

/* ---- fs ops ---- */

static int iso_statfs(struct vk_fs *fs, struct vk_statfs *out)
{
    struct iso_fs *x = fs->priv;
    snprintf(out->type, sizeof out->type, "iso9660");
    snprintf(out->label, sizeof out->label, "%s", x->probe.label);
    snprintf(out->uuid, sizeof out->uuid, "%s", x->probe.uuid);
    out->block_size = VK_ISO_BLOCK;
    out->blocks = x->probe.size / VK_ISO_BLOCK;
    out->files = x->n;
    return 0;
}

static int iso_stat(struct vk_fs *fs, const char *path, struct vk_stat *st, bool follow)
{
    struct iso_fs *x = fs->priv;
    uint32_t i;
    int r = lookup(x, path, follow, &i);
    if (r < 0)
        return r;
    *st = x->v[i].st;
    return 0;
}

/* ---- by index: the path ops resolve a path, the by-node ops take the
 * index from the node, and both end here ---- */

/* A node is an index into the tree: vk_node.id is the index too (the
 * index is a tree, so a directory has one index and is met once). */
static void node_of(const struct iso_fs *x, uint32_t i, struct vk_node *n)
{
    memset(n, 0, sizeof *n);
    n->ino = x->v[i].st.ino;
    n->type = x->v[i].st.mode & S_IFMT;
    n->id = i;
    n->drv[0] = i;
}

/* The index of node n, or -EINVAL if n is not one of this mount's. */
static int idx_of(const struct iso_fs *x, const struct vk_node *n, const char *path, uint32_t *out)
{
    if (n->drv[0] >= x->n)
        return vk_error(-EINVAL, "%s:%s: stale node %llu", x->bd->name, path,
                        (unsigned long long)n->drv[0]);
    *out = (uint32_t)n->drv[0];
    return 0;
}

static int readdir_idx(const struct iso_fs *x, uint32_t i, const char *path, vk_dirent_cb cb,
                       void *ctx)
{
    if (!S_ISDIR(x->v[i].st.mode))
        return vk_error(-ENOTDIR, "%s:%s: not a directory", x->bd->name, path);
    for (uint32_t c = x->v[i].child; c != ISO_NONE; c = x->v[c].next) {
        if (x->v[c].hidden)
            continue;
        struct vk_node n;
        node_of(x, c, &n);
        struct vk_dirent de = { .name = x->v[c].name, .ino = n.ino, .type = n.type, .node = &n };
        int r = cb(ctx, &de);
        if (r != 0)
            return r < 0 ? r : 0;
    }
    return 0;
}

static int readlink_idx(const struct iso_fs *x, uint32_t i, const char *path, char *buf, size_t len)
{
    if (!S_ISLNK(x->v[i].st.mode))
        return vk_error(-EINVAL, "%s:%s: not a symbolic link", x->bd->name, path);
    const char *t = x->v[i].link ? x->v[i].link : "";
    size_t n = strlen(t);
    memcpy(buf, t, n < len ? n : len);
    return (int)n;
}

static int open_idx(struct vk_fs *fs, uint32_t i, const char *path, struct vk_file **out);

static int iso_readdir(struct vk_fs *fs, const char *path, vk_dirent_cb cb, void *ctx)
{
    struct iso_fs *x = fs->priv;
    uint32_t i;
    int r = lookup(x, path, true, &i);
    return r < 0 ? r : readdir_idx(x, i, path, cb, ctx);
}

static int iso_readlink(struct vk_fs *fs, const char *path, char *buf, size_t len)
{
    struct iso_fs *x = fs->priv;
    uint32_t i;
    int r = lookup(x, path, false, &i);
    return r < 0 ? r : readlink_idx(x, i, path, buf, len);
}

static int iso_lookup_node(struct vk_fs *fs, const char *path, bool follow, struct vk_node *out)
{
    struct iso_fs *x = fs->priv;
    uint32_t i;
    int r = lookup(x, path, follow, &i);
    if (r < 0)
        return r;
    node_of(x, i, out);
    return 0;
}

static int iso_readdir_node(struct vk_fs *fs, const struct vk_node *dir, const char *path,
                            vk_dirent_cb cb, void *ctx)
{
    struct iso_fs *x = fs->priv;
    uint32_t i = 0;
    int r = idx_of(x, dir, path, &i);
    return r < 0 ? r : readdir_idx(x, i, path, cb, ctx);
}

static int iso_stat_node(struct vk_fs *fs, const struct vk_node *n, const char *path,
                         struct vk_stat *st)
{
    struct iso_fs *x = fs->priv;
    uint32_t i = 0;
    int r = idx_of(x, n, path, &i);
    if (r < 0)
        return r;
    *st = x->v[i].st;
    return 0;
}

static int iso_readlink_node(struct vk_fs *fs, const struct vk_node *n, const char *path,
                             char *buf, size_t len)
{
    struct iso_fs *x = fs->priv;
    uint32_t i = 0;
    int r = idx_of(x, n, path, &i);
    return r < 0 ? r : readlink_idx(x, i, path, buf, len);
}

static int iso_open_node(struct vk_fs *fs, const struct vk_node *n, const char *path,
                         struct vk_file **out)
{
    uint32_t i = 0;
    int r = idx_of(fs->priv, n, path, &i);
    return r < 0 ? r : open_idx(fs, i, path, out);
}

struct iso_file {
    struct vk_file f;
    uint32_t node;
    int64_t direct;         /* >= 0: read from the device at this offset */
    struct iso_reader *rd;
};

static int open_idx(struct vk_fs *fs, uint32_t i, const char *path, struct vk_file **out)
{
    struct iso_fs *x = fs->priv;
    if (S_ISDIR(x->v[i].st.mode))
        return vk_error(-EISDIR, "%s:%s: is a directory", x->bd->name, path);
    if (!S_ISREG(x->v[i].st.mode))
        return vk_error(-EINVAL, "%s:%s: not a regular file", x->bd->name, path);
    struct iso_file *f = calloc(1, sizeof *f);
    if (!f)
        return vk_error(-ENOMEM, "out of memory");
    f->f.fs = fs;
    f->f.priv = f;
    f->node = i;
    f->direct = x->v[i].raw_off >= 0 ? x->v[i].raw_off : iso_direct_off(x, i);
    *out = &f->f;
    return 0;
}

static int iso_open(struct vk_fs *fs, const char *path, int flags, uint32_t mode, struct vk_file **out)
{
    struct iso_fs *x = fs->priv;
    uint32_t i = 0;
    if (flags & (VK_O_WRONLY | VK_O_CREAT | VK_O_TRUNC))
        return vk_error(-EROFS, "%s:%s: read-only filesystem", x->bd->name, path);
    int r = lookup(x, path, true, &i);
    return r < 0 ? r : open_idx(fs, i, path, out);
}

static int64_t iso_read(struct vk_file *vf, void *buf, size_t len, uint64_t off)
{
    struct iso_file *f = vf->priv;
    struct iso_fs *x = vf->fs->priv;
    const struct iso_node *n = &x->v[f->node];
    if (off >= n->st.size)
        return 0;
    if (len > n->st.size - off)
        len = (size_t)(n->st.size - off);
    if (f->direct >= 0) {
        int r = vk_bd_pread(x->bd, buf, len, (uint64_t)f->direct + off);
        return r < 0 ? r : (int64_t)len;
    }
    int64_t got;
    int r = iso_reader_read(x, &f->rd, f->node, buf, len, off, &got);
    return r < 0 ? r : got;
}

static int iso_close_file(struct vk_file *vf)
{
    struct iso_file *f = vf->priv;
    iso_reader_free(f->rd);
    free(f);
    return 0;
}

static void iso_free(struct iso_fs *x)
{
    for (size_t i = 0; i < x->n; i++) {
        free(x->v[i].name);
        free(x->v[i].link);
        free(x->v[i].bad);
    }
    free(x->v);
    free(x->hash);
    free(x);
}

static int iso_unmount(struct vk_fs *fs)
{
    iso_free(fs->priv);
    free(fs);
    return 0;
}

static const struct vk_fs_ops iso_ops = {
    .statfs = iso_statfs,
    .stat = iso_stat,
    .readdir = iso_readdir,
    .readlink = iso_readlink,
    .open = iso_open,
    .read = iso_read,
    .close_file = iso_close_file,
    .lookup_node = iso_lookup_node,
    .readdir_node = iso_readdir_node,
    .stat_node = iso_stat_node,
    .readlink_node = iso_readlink_node,
    .open_node = iso_open_node,
    .node_id_name = "node",
    .unmount = iso_unmount,
};

/* The virtual /[BOOT] directory: the catalog and each boot image as files
 * read straight from their blocks. */
static int add_boot_nodes(struct iso_fs *x)
{
    bool fresh;
    if (!x->boot.catalog_lba)
        return 0;
    uint32_t d = iso_node_add(x, 0, "[BOOT]", 6, &fresh);
    if (d == ISO_NONE)
        return -ENOMEM;
    if (!fresh)
        return 0;                       /* the ISO has a /[BOOT] of its own: it wins */
    x->v[d].hidden = true;
    x->v[d].st.mode = S_IFDIR | 0555;
    x->v[d].st.nlink = 2;
    for (int k = -1; k < x->boot.n; k++) {
        char nm[64];
        uint64_t off, size;
        if (k < 0) {
            snprintf(nm, sizeof nm, "catalog");
            off = (uint64_t)x->boot.catalog_lba * VK_ISO_BLOCK;
            size = VK_ISO_BLOCK;
        } else {
            const struct vk_iso_boot_entry *b = &x->boot.e[k];
            vk_iso_boot_name(&x->boot, k, nm, sizeof nm);
            off = (uint64_t)b->lba * VK_ISO_BLOCK;
            size = b->size;
        }
        uint32_t i = iso_node_add(x, d, nm, strlen(nm), &fresh);
        if (i == ISO_NONE)
            return -ENOMEM;
        x->v[i].st.mode = S_IFREG | 0444;
        x->v[i].st.nlink = 1;
        x->v[i].st.size = size;
        x->v[i].st.blocks = (size + 511) / 512;
        x->v[i].raw_off = (int64_t)off;
    }
    return 0;
}

static int bd_pread(void *bd, void *buf, size_t len, uint64_t off)
{
    return vk_bd_pread(bd, buf, len, off);
}

static int iso_mount(struct vk_blockdev *bd, bool writable, struct vk_fs **out)
{
    if (writable)
        return vk_error(-EROFS, "%s: read-only filesystem (iso9660)", bd->name);
    struct iso_fs *x = calloc(1, sizeof *x);
    struct vk_fs *fs = calloc(1, sizeof *fs);
    int r = -ENOMEM;
    bool fresh;
    if (!x || !fs) {
        r = vk_error(-ENOMEM, "out of memory");
        goto fail;
    }
    x->bd = bd;
    if ((r = iso_probe(bd, &x->probe)) <= 0) {
        r = r < 0 ? r : vk_error(-EINVAL, "%s: not an ISO 9660 image", bd->name);
        goto fail;
    }
    if (x->probe.size > bd->size) {
        r = vk_error(-EINVAL, "%s: truncated ISO image: the volume is %llu bytes, the image %llu",
                     bd->name, (unsigned long long)x->probe.size, (unsigned long long)bd->size);
        goto fail;
    }
    if ((r = vk_iso_check_descriptors(bd_pread, bd, bd->size, bd->name)) < 0 ||
        (r = vk_iso_boot_read(bd, &x->boot)) < 0)
        goto fail;
    if (iso_node_add(x, ISO_NONE, "", 0, &fresh) == ISO_NONE ||
        (r = rehash(x)) < 0) {
        r = -ENOMEM;
        goto fail;
    }
    x->v[0].st.mode = S_IFDIR | 0755;
    x->v[0].st.nlink = 2;
    if ((r = iso_index_build(x)) < 0 || (r = add_boot_nodes(x)) < 0)
        goto fail;
    fs->ops = &iso_ops;
    fs->type = &vk_fs_iso;
    fs->bd = bd;
    fs->priv = x;
    *out = fs;
    return 0;
fail:
    if (x)
        iso_free(x);
    free(fs);
    return r;
}

/* ISOs are made from a tree (vk_iso_mkfs_*), not over a device. */
static int iso_mkfs(struct vk_blockdev *bd, const struct vk_mkfs_opts *o)
{
    return vk_error(-EINVAL, "%s: an iso9660 image is made from a tree: give --from DIR|TAR", bd->name);
}

const struct vk_fs_type vk_fs_iso = {
    .name = "iso9660",
    .mkfs_names = names,
    .probe = iso_probe,
    .mkfs = iso_mkfs,
    .mount = iso_mount,
};
