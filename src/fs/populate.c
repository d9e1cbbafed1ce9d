/* Fill a filesystem from a host directory or a tar archive, and export a
 * tree as a tar.  See populate.h. */
#include "fs/populate.h"

#include "fs/path.h"
#include "fs/walk.h"
#include "util/err.h"
#include "util/str.h"
#include "util/vec.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PMAX 4096

/* Hard links of a directory source: (dev, ino) -> first image path. */
struct hl {
    dev_t dev;
    ino_t ino;
    char *path;
};

struct dirtime {
    char *path;
    struct vk_stat st;
};

struct pop {
    struct vk_fs *fs;
    const char *dst;
    const char *src;            /* for messages */
    const struct vk_populate_opts *o;
    size_t strip;               /* prefix length of disk paths to drop */
    bool disk;
    struct hl *hl;
    size_t nhl, caphl;
    struct dirtime *dt;
    size_t ndt, capdt;
    char *buf;
};

static void pop_free(struct pop *p)
{
    for (size_t i = 0; i < p->nhl; i++)
        free(p->hl[i].path);
    free(p->hl);
    for (size_t i = 0; i < p->ndt; i++)
        free(p->dt[i].path);
    free(p->dt);
    free(p->buf);
}

static int archive_fail(struct pop *p, struct archive *a, const char *what)
{
    int e = archive_errno(a);
    return vk_error(e > 0 ? -e : -EIO, "%s: %s: %s", p->src, what,
                    archive_error_string(a) ? archive_error_string(a) : "archive error");
}

/* Image path for an entry name: dst + normalized name (".." clamps at
 * dst's root, so a hostile tar cannot climb out of the image path). */
static int image_path(struct pop *p, const char *name, char *out)
{
    char rel[PMAX], tmp[PMAX];
    int r = vk_path_normalize(name, rel, sizeof rel);
    if (r < 0)
        return r;
    if (snprintf(tmp, sizeof tmp, "%s%s", strcmp(p->dst, "/") ? p->dst : "",
                 strcmp(rel, "/") ? rel : "") >= (int)sizeof tmp)
        return vk_error(-ENAMETOOLONG, "%s: path too long", name);
    if (!tmp[0])
        strcpy(tmp, "/");
    return vk_path_normalize(tmp, out, PMAX) < 0 ? -ENAMETOOLONG : 0;
}

static int remember_link(struct pop *p, const struct stat *st, const char *path)
{
    struct hl *v = vk_grow(p->hl, &p->caphl, p->nhl + 1, sizeof *v, 64);
    if (!v)
        return vk_error(-ENOMEM, "out of memory");
    p->hl = v;
    if (!(p->hl[p->nhl].path = strdup(path)))
        return vk_error(-ENOMEM, "out of memory");
    p->hl[p->nhl].dev = st->st_dev;
    p->hl[p->nhl].ino = st->st_ino;
    p->nhl++;
    return 0;
}

static const char *find_link(struct pop *p, const struct stat *st)
{
    for (size_t i = p->nhl; i-- > 0;)
        if (p->hl[i].dev == st->st_dev && p->hl[i].ino == st->st_ino)
            return p->hl[i].path;
    return NULL;
}

/* Make way for an entry of type want (AE_IFDIR, AE_IFREG, 0 for a
 * link): remove what is at path, except a directory when want is one and
 * a regular file when want is one (opening it with VK_O_TRUNC replaces
 * its content in one step: removing it first would let a crash lose it). */
static int clear_path(struct pop *p, const char *path, mode_t want, bool *is_dir)
{
    bool keep_dir = want == AE_IFDIR;
    struct vk_fs *fs = p->fs;
    struct vk_stat st;
    *is_dir = false;
    /* A fresh filesystem holds nothing but its root and (ext) /lost+found. */
    if (p->disk && p->o->fresh && strcmp(path, p->dst) && strcmp(path, "/lost+found"))
        return 0;
    if (vk_fs_stat(fs, path, &st, false) < 0) {
        vk_error_clear();
        return 0;
    }
    if (S_ISDIR(st.mode)) {
        *is_dir = true;
        return keep_dir ? 0 : vk_error(-EISDIR, "%s:%s: a directory is in the way", fs->bd->name, path);
    }
    if (want == AE_IFREG && S_ISREG(st.mode) && st.nlink == 1)
        return 0;
    return vk_fs_unlink(fs, path);
}

static int set_meta(struct pop *p, const char *path, struct archive_entry *e, bool isdir)
{
    struct vk_stat st;
    memset(&st, 0, sizeof st);
    st.mode = archive_entry_perm(e);
    if (p->o->force_owner) {
        st.uid = p->o->uid;
        st.gid = p->o->gid;
    } else {
        /* never truncate an id the archive gives (2^32 would be root) */
        la_int64_t u = archive_entry_uid(e), g = archive_entry_gid(e);
        if (u < 0 || u > VK_ID_MAX || g < 0 || g > VK_ID_MAX)
            return vk_error(-ERANGE, "%s: %s: owner %lld:%lld out of range (0-%u); --owner U:G sets another",
                            p->src, path, (long long)u, (long long)g, VK_ID_MAX);
        st.uid = (uint32_t)u;
        st.gid = (uint32_t)g;
    }
    st.mtime.tv_sec = archive_entry_mtime(e);
    st.mtime.tv_nsec = archive_entry_mtime_nsec(e);
    if (archive_entry_atime_is_set(e)) {
        st.atime.tv_sec = archive_entry_atime(e);
        st.atime.tv_nsec = archive_entry_atime_nsec(e);
    } else {
        st.atime = st.mtime;
    }
    bool lnk = archive_entry_filetype(e) == AE_IFLNK;
    int mask = VK_SET_MTIME | VK_SET_ATIME | (lnk ? 0 : VK_SET_MODE);
    /* One call where owners are supported (ext), two where not (FAT). */
    int r = vk_fs_setattr(p->fs, path, mask | VK_SET_UID | VK_SET_GID, &st);
    if (r == -EPERM || r == -ENOTSUP) {
        vk_error_clear();
        r = vk_fs_setattr(p->fs, path, mask, &st);
    }
    if (r < 0)
        return r;
    /* Extended attributes (security.capability, user.*...). */
    const char *name;
    const void *val;
    size_t size;
    archive_entry_xattr_reset(e);
    while (archive_entry_xattr_next(e, &name, &val, &size) == ARCHIVE_OK) {
        r = vk_fs_setxattr(p->fs, path, name, val, size);
        if (r == -EPERM || r == -ENOTSUP) {
            vk_warn("%s: extended attribute %s not kept: %s", path, name, vk_errmsg());
            vk_error_clear();
            r = 0;
        }
        if (r < 0)
            return r;
    }
    if (isdir) {
        /* Children change a directory's mtime: set it again at the end. */
        struct dirtime *v = vk_grow(p->dt, &p->capdt, p->ndt + 1, sizeof *v, 64);
        if (!v)
            return vk_error(-ENOMEM, "out of memory");
        p->dt = v;
        if (!(p->dt[p->ndt].path = strdup(path)))
            return vk_error(-ENOMEM, "out of memory");
        p->dt[p->ndt++].st = st;
    }
    return 0;
}

static int write_data(struct pop *p, struct archive *a, struct archive_entry *e, const char *path)
{
    struct vk_file *f;
    int r = vk_fs_open(p->fs, path, VK_O_WRONLY | VK_O_CREAT | VK_O_TRUNC,
                       archive_entry_perm(e), &f);
    if (r < 0)
        return r;
    uint64_t end = 0;
    /* libarchive hands out data by block with offsets, skipping the holes
     * of sparse files (from disk and from sparse tar entries); runs of
     * zeroes inside plain tar data are skipped too, so they become holes
     * (the file is new or truncated, so holes read as zeroes). */
    const void *buf;
    size_t size;
    la_int64_t off;
    int ar;
    while ((ar = archive_read_data_block(a, &buf, &size, &off)) == ARCHIVE_OK) {
        const uint8_t *d = buf;
        for (size_t i = 0; i < size && r >= 0;) {
            size_t n = size - i < 65536 ? size - i : 65536;
            bool zero = !p->disk && d[i] == 0 && !memcmp(d + i, d + i + 1, n - 1);
            if (!zero) {
                int64_t w = vk_fs_write(f, d + i, n, (uint64_t)off + i);
                if (w < 0)
                    r = (int)w;
            }
            i += n;
        }
        if (r < 0)
            break;
        if ((uint64_t)off + size > end)
            end = (uint64_t)off + size;
    }
    if (r >= 0 && ar != ARCHIVE_EOF)
        r = archive_fail(p, a, archive_entry_pathname(e));
    /* A sparse tail: set the size before close where the driver can, so
     * the file is published whole (a crash never shows it shorter). */
    uint64_t want = archive_entry_size_is_set(e) ? (uint64_t)archive_entry_size(e) : end;
    if (r >= 0 && want > end && p->fs->ops->set_size) {
        r = p->fs->ops->set_size(f, want);
        end = want;
    }
    int c = vk_fs_close_file(f);
    if (r >= 0)
        r = c;
    if (r >= 0 && want > end) {
        struct vk_stat st = { .size = want };
        r = vk_fs_setattr(p->fs, path, VK_SET_SIZE, &st);
    }
    return r;
}

static int one_entry(struct pop *p, struct archive *a, struct archive_entry *e)
{
    const char *name = archive_entry_pathname(e);
    char path[PMAX];
    int r;
    if (!name)
        return 0;
    if (p->disk) {
        name += p->strip;
        if (!*name)
            name = "/";
    }
    if ((r = image_path(p, name, path)) < 0)
        return r;
    bool isdir;
    mode_t t = archive_entry_filetype(e);
    const char *hard = archive_entry_hardlink(e);
    if (p->disk && t != AE_IFDIR && archive_entry_nlink(e) > 1) {
        const struct stat *hs = archive_entry_stat(e);
        const char *first = find_link(p, hs);
        if (first) {
            if ((r = clear_path(p, path, 0, &isdir)) < 0)
                return r;
            return vk_fs_link(p->fs, first, path);
        }
        if ((r = remember_link(p, hs, path)) < 0)
            return r;
    }
    if (hard && !p->disk) {
        char target[PMAX];
        if ((r = image_path(p, hard, target)) < 0 ||
            (r = clear_path(p, path, 0, &isdir)) < 0)
            return r;
        return vk_fs_link(p->fs, target, path);
    }
    if ((r = clear_path(p, path, t, &isdir)) < 0)
        return r;
    switch (t) {
    case AE_IFDIR:
        if (!isdir && (r = vk_fs_mkdir(p->fs, path, archive_entry_perm(e))) < 0)
            return r;
        return set_meta(p, path, e, true);
    case AE_IFREG:
        if ((r = write_data(p, a, e, path)) < 0)
            return r;
        break;
    case AE_IFLNK: {
        const char *target = archive_entry_symlink(e);
        if (!target)
            return vk_error(-EINVAL, "%s: %s: symlink without a target", p->src, name);
        if ((r = vk_fs_symlink(p->fs, target, path)) < 0)
            return r;
        break;
    }
    case AE_IFCHR:
    case AE_IFBLK:
    case AE_IFIFO:
    case AE_IFSOCK:
        if ((r = vk_fs_mknod(p->fs, path, (uint32_t)(t | archive_entry_perm(e)),
                             archive_entry_rdevmajor(e), archive_entry_rdevminor(e))) < 0)
            return r;
        break;
    default:
        vk_warn("%s: %s: unknown file type skipped", p->src, name);
        return 0;
    }
    return set_meta(p, path, e, false);
}

static int finish_dirs(struct pop *p)
{
    for (size_t i = p->ndt; i-- > 0;) {
        int r = vk_fs_setattr(p->fs, p->dt[i].path, VK_SET_MTIME | VK_SET_ATIME, &p->dt[i].st);
        if (r < 0)
            return r;
    }
    return 0;
}

static int run(struct pop *p, struct archive *a)
{
    struct archive_entry *e;
    int r = 0, ar;
    while (r >= 0 && (ar = archive_read_next_header(a, &e)) != ARCHIVE_EOF) {
        if (ar == ARCHIVE_WARN) {
            vk_warn("%s: %s", p->src, archive_error_string(a));
        } else if (ar != ARCHIVE_OK) {
            r = archive_fail(p, a, "reading");
            break;
        }
        if (p->disk && archive_entry_filetype(e) == AE_IFDIR)
            archive_read_disk_descend(a);
        r = one_entry(p, a, e);
        if (r < 0 && p->disk)
            vk_error_prefix(r, "%s: ", archive_entry_pathname(e));
    }
    return r < 0 ? r : finish_dirs(p);
}

static int populate_dir(struct pop *p, const char *src)
{
    struct archive *a = archive_read_disk_new();
    if (!a)
        return vk_error(-ENOMEM, "out of memory");
    archive_read_disk_set_symlink_physical(a);
    archive_read_disk_set_behavior(a, ARCHIVE_READDISK_NO_TRAVERSE_MOUNTS |
                                          ARCHIVE_READDISK_NO_ACL |
                                          ARCHIVE_READDISK_NO_FFLAGS);
    archive_read_disk_set_standard_lookup(a);
    int r;
    if (archive_read_disk_open(a, src) != ARCHIVE_OK) {
        r = archive_fail(p, a, "opening");
    } else {
        p->disk = true;
        p->strip = strlen(src);
        r = run(p, a);
    }
    archive_read_free(a);
    return r;
}

static struct archive *tar_reader(void)
{
    struct archive *a = archive_read_new();
    if (a) {
        archive_read_support_filter_all(a);
        archive_read_support_format_tar(a);
        archive_read_support_format_cpio(a);
    }
    return a;
}

/* Fill p from the archive file path, or from fd when path is NULL. */
static int populate_archive(struct pop *p, const char *path, int fd)
{
    struct archive *a = tar_reader();
    if (!a)
        return vk_error(-ENOMEM, "out of memory");
    int r, opened = path ? archive_read_open_filename(a, path, 1 << 20)
                         : archive_read_open_fd(a, fd, 1 << 20);
    if (opened != ARCHIVE_OK)
        r = archive_fail(p, a, "opening");
    else
        r = run(p, a);
    archive_read_free(a);
    return r;
}

int vk_populate(struct vk_fs *fs, const char *dst, const char *src,
                const struct vk_populate_opts *o)
{
    struct pop p = { .fs = fs, .dst = dst, .src = src, .o = o };
    struct stat st;
    if (stat(src, &st) < 0)
        return vk_error(-errno, "%s: %s", src, strerror(errno));
    int r;
    if (S_ISDIR(st.st_mode)) {
        char s[PMAX];
        snprintf(s, sizeof s, "%s", src);
        size_t l = strlen(s);
        while (l > 1 && s[l - 1] == '/')
            s[--l] = 0;
        r = populate_dir(&p, s);
    } else {
        r = populate_archive(&p, src, -1);
    }
    pop_free(&p);
    return r;
}

int vk_populate_tar_fd(struct vk_fs *fs, const char *dst, int fd, const char *name,
                       const struct vk_populate_opts *o)
{
    struct pop p = { .fs = fs, .dst = dst, .src = name, .o = o };
    int r = populate_archive(&p, NULL, fd);
    pop_free(&p);
    return r;
}

/* ---- export ---- */

struct exp {
    struct vk_fs *fs;
    struct archive *a;
    const char *name;
    char *buf;
    size_t toplen;          /* length of the top's image path ("/": 0) */
    char *arc;              /* scratch: the member name */
    size_t arccap;
    int skipped;
};

/* Write the tar member of walk entry v. */
static int export_one(struct exp *x, const struct vk_walk_visit *v)
{
    const struct vk_stat *st = &v->e->st;
    const char *rel = v->depth ? v->path + x->toplen : "";
    char ab[VK_ABBREV_LEN];
    const char *mp = vk_path_abbrev(v->path, ab);
    char *an = vk_grow(x->arc, &x->arccap, strlen(rel) + 2, 1, 256);
    if (!an)
        return vk_error(-ENOMEM, "out of memory");
    x->arc = an;
    snprintf(an, strlen(rel) + 2, ".%s", rel);
    struct archive_entry *e = archive_entry_new();
    if (!e)
        return vk_error(-ENOMEM, "out of memory");
    archive_entry_set_pathname(e, an);
    archive_entry_set_mode(e, st->mode);
    archive_entry_set_uid(e, st->uid);
    archive_entry_set_gid(e, st->gid);
    archive_entry_set_mtime(e, st->mtime.tv_sec, st->mtime.tv_nsec);
    archive_entry_set_size(e, S_ISREG(st->mode) ? (la_int64_t)st->size : 0);
    if (S_ISCHR(st->mode) || S_ISBLK(st->mode)) {
        archive_entry_set_rdevmajor(e, st->rdev_major);
        archive_entry_set_rdevminor(e, st->rdev_minor);
    }
    int r;
    if (S_ISLNK(st->mode)) {
        char t[PMAX + 1];
        int n = vk_fs_readlink_node(x->fs, &v->e->node, mp, t, PMAX);
        if (n < 0) {
            archive_entry_free(e);
            return n;
        }
        t[n < PMAX ? n : PMAX] = 0;
        archive_entry_set_symlink(e, t);
    }
    /* Open before the header: a file that cannot be read leaves no
     * member that promises data. */
    struct vk_file *f = NULL;
    if (S_ISREG(st->mode) && (r = vk_fs_open_node(x->fs, &v->e->node, mp, &f)) < 0) {
        archive_entry_free(e);
        return r;
    }
    /* ARCHIVE_WARN: a name that is not UTF-8 went out as raw bytes, marked
     * hdrcharset=BINARY as POSIX says; the member is complete. */
    int ar = archive_write_header(x->a, e);
    r = ar == ARCHIVE_OK || ar == ARCHIVE_WARN ? 0
        : vk_error(-EIO, "%s: %s", x->name, archive_error_string(x->a));
    archive_entry_free(e);
    if (!f)
        return r;
    uint64_t off = 0;
    int64_t n = 0;
    while (r >= 0 && (n = vk_fs_read(f, x->buf, 1 << 20, off)) > 0) {
        if (archive_write_data(x->a, x->buf, (size_t)n) != n)
            r = vk_error(-EIO, "%s: %s", x->name, archive_error_string(x->a));
        off += (uint64_t)n;
    }
    vk_fs_close_file(f);
    return r < 0 ? r : n < 0 ? (int)n : 0;
}

static int export_visit(void *ctx, const struct vk_walk_visit *v)
{
    struct exp *x = ctx;
    switch (v->ev) {
    case VK_WALK_ERROR:
        /* What can be read still goes out; the error is told now and the
         * export fails at the end. */
        vk_warn("%s (left out of the tar)", vk_errmsg());
        x->skipped++;
        return 0;
    case VK_WALK_FILE:
    case VK_WALK_ENTER:
        return export_one(x, v);
    case VK_WALK_LEAVE:
        return 0;
    }
    return 0;
}

int vk_export_tar_fd(struct vk_fs *fs, const char *path, int fd, const char *name)
{
    struct exp x = { .fs = fs, .name = name, .buf = malloc(1 << 20),
                     .toplen = strcmp(path, "/") ? strlen(path) : 0 };
    x.a = archive_write_new();
    if (!x.a || !x.buf) {
        free(x.buf);
        if (x.a)
            archive_write_free(x.a);
        return vk_error(-ENOMEM, "out of memory");
    }
    archive_write_set_format_pax_restricted(x.a);
    int r = 0;
    if (archive_write_open_fd(x.a, fd) != ARCHIVE_OK)
        r = vk_error(-EIO, "%s: %s", name, archive_error_string(x.a));
    else
        r = vk_fs_walk(fs, path, VK_WALK_STAT, export_visit, &x);
    if (archive_write_close(x.a) != ARCHIVE_OK && r >= 0)
        r = vk_error(-EIO, "%s: %s", name, archive_error_string(x.a));
    archive_write_free(x.a);
    free(x.buf);
    free(x.arc);
    if (r >= 0 && x.skipped)
        r = vk_error(-EIO, "%s:%s: %d entr%s could not be read and %s missing from the tar",
                     fs->bd->name, path, x.skipped, x.skipped == 1 ? "y" : "ies",
                     x.skipped == 1 ? "is" : "are");
    return r;
}
