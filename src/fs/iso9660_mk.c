/* Making ISO 9660 images with libisofs (the library behind xorriso):
 * Rock Ridge and Joliet, ISO level 3 (files over 4 GiB), an optional El
 * Torito no-emulation boot image with isolinux's boot info table.
 *
 * A directory source goes to libisofs as it is (iso_tree_add_dir_rec, the
 * same walk xorriso makes).  A tar source is walked with libarchive; file
 * contents are "cut-out" nodes: byte ranges of the tar itself when it is
 * uncompressed, else of a spool file holding the decompressed data
 * (unlinked at once, reached through /proc/self/fd), so nothing is read
 * into memory and nothing is left behind.
 */
#include "fs/iso9660.h"

#include "fs/path.h"
#include "util/err.h"
#include "util/str.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#define LIBISOFS_WITHOUT_LIBBURN 1   /* libisofs then declares struct burn_source */
#include <libisofs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define OUT_CHUNK (1u << 20)

/* Our message for libisofs error code e: its queued message (which names
 * the file), else the code's text. */
static int iso_fail(int e, const char *name, const char *what)
{
    char msg[ISO_MSGS_MESSAGE_LEN], sev[80], last[ISO_MSGS_MESSAGE_LEN] = "";
    int code, id;
    while (iso_obtain_msgs("SORRY", &code, &id, msg, sev) > 0)
        snprintf(last, sizeof last, "%s", msg);
    return vk_error(-EIO, "%s: %s: %s", name, what, last[0] ? last : iso_error_to_msg(e));
}

struct tarsrc {
    const char *name;           /* for messages */
    struct archive *a;
    bool raw;                   /* uncompressed: cut file data out of the tar itself */
    char tarpath[64 + 4096];
    int spool;                  /* -1 until needed */
    char spoolpath[64];
    off_t spool_len;
};

static void set_attrs(IsoNode *n, struct archive_entry *e)
{
    iso_node_set_permissions(n, archive_entry_perm(e));
    iso_node_set_uid(n, (uid_t)archive_entry_uid(e));
    iso_node_set_gid(n, (gid_t)archive_entry_gid(e));
    iso_node_set_mtime(n, archive_entry_mtime(e));
    iso_node_set_atime(n, archive_entry_atime_is_set(e) ? archive_entry_atime(e) : archive_entry_mtime(e));
    iso_node_set_ctime(n, archive_entry_ctime_is_set(e) ? archive_entry_ctime(e) : archive_entry_mtime(e));
}

/* The directory at normalized path p, made (0755) where missing. */
static int dir_of(IsoImage *img, const char *p, IsoDir **out, const char *name)
{
    IsoDir *d = iso_image_get_root(img);
    char comp[VK_NAME_MAX + 1];
    while (*p) {
        p += *p == '/';
        size_t len = strcspn(p, "/");
        if (!len)
            break;
        memcpy(comp, p, len);
        comp[len] = 0;
        p += len;
        IsoNode *n;
        int r = iso_dir_get_node(d, comp, &n);
        if (r == 1 && iso_node_get_type(n) != LIBISO_DIR)
            return vk_error(-ENOTDIR, "%s: %s is in the archive both as a file and as a directory",
                            name, comp);
        if (r != 1) {
            IsoDir *nd;
            if ((r = iso_tree_add_new_dir(d, comp, &nd)) < 0)
                return iso_fail(r, name, comp);
            iso_node_set_permissions((IsoNode *)nd, 0755);
            n = (IsoNode *)nd;
        }
        d = (IsoDir *)n;
    }
    *out = d;
    return 0;
}

/* Where the data of the current entry lies: in the tar, or copied to the
 * spool file. */
static int data_range(struct tarsrc *t, struct archive_entry *e, const char **path, off_t *off)
{
    if (t->raw && !archive_entry_sparse_count(e)) {
        *path = t->tarpath;
        *off = (off_t)archive_filter_bytes(t->a, 0);
        return 0;
    }
    if (t->spool < 0) {
        char dir[4096];
        const char *td = getenv("TMPDIR");
        if (vk_pathf(dir, sizeof dir, "%s", td && *td ? td : "/tmp") < 0)
            return -ENAMETOOLONG;
        if ((t->spool = open(dir, O_TMPFILE | O_RDWR, 0600)) < 0)
            return vk_error(-errno, "%s: cannot make a spool file in %s: %s", t->name, dir, strerror(errno));
        snprintf(t->spoolpath, sizeof t->spoolpath, "/proc/self/fd/%d", t->spool);
    }
    *path = t->spoolpath;
    *off = t->spool_len;
    const void *b;
    size_t sz;
    la_int64_t o;
    int ar;
    while ((ar = archive_read_data_block(t->a, &b, &sz, &o)) == ARCHIVE_OK) {
        if (vk_fd_pwrite_full(t->spool, b, sz, (uint64_t)(*off + o), "spool file") < 0)
            return -EIO;
    }
    if (ar != ARCHIVE_EOF)
        return vk_error(-EIO, "%s: %s", t->name, archive_error_string(t->a));
    t->spool_len += archive_entry_size(e);
    return 0;
}

static int add_empty(IsoDir *d, const char *leaf, struct archive_entry *e, const char *name)
{
    IsoStream *s;
    IsoFile *f;
    unsigned char *b = malloc(1);
    int r = b ? iso_memory_stream_new(b, 0, &s) : (int)ISO_OUT_OF_MEM;
    if (r < 0) {
        free(b);
        return iso_fail(r, name, archive_entry_pathname(e));
    }
    if ((r = iso_tree_add_new_file(d, leaf, s, &f)) < 0) {
        iso_stream_unref(s);
        return iso_fail(r, name, archive_entry_pathname(e));
    }
    set_attrs((IsoNode *)f, e);
    return 0;
}

static int add_tar_entry(IsoImage *img, struct tarsrc *t, struct archive_entry *e)
{
    char norm[4096];
    char parent[4096];
    const char *leaf;
    const char *p = archive_entry_pathname(e);
    if (!p || vk_path_normalize(p, norm, sizeof norm) < 0) {
        vk_error_clear();
        return 0;
    }
    if (!strcmp(norm, "/")) {
        if (archive_entry_filetype(e) == AE_IFDIR)
            set_attrs((IsoNode *)iso_image_get_root(img), e);
        return 0;
    }
    if (vk_path_split(norm, parent, sizeof parent, &leaf) < 0)
        return vk_error(-ENAMETOOLONG, "%s: %s: name too long", t->name, p);
    IsoDir *d = NULL;
    IsoNode *n = NULL;
    int r = dir_of(img, parent, &d, t->name);
    if (r < 0)
        return r;
    mode_t type = archive_entry_filetype(e);
    if (iso_dir_get_node(d, leaf, &n) == 1) {
        if (type == AE_IFDIR && iso_node_get_type(n) == LIBISO_DIR) {
            set_attrs(n, e);            /* the directory's own entry, after its contents */
            return 0;
        }
        iso_node_remove(n);             /* a later entry of one name replaces it, as tar -x does */
        n = NULL;
    }
    const char *hl = archive_entry_hardlink(e);
    if (hl && archive_entry_size(e) == 0) {
        char hn[4096];
        IsoNode *tn;
        if (vk_path_normalize(hl, hn, sizeof hn) < 0 || iso_tree_path_to_node(img, hn, &tn) != 1 ||
            iso_node_get_type(tn) != LIBISO_FILE)
            return vk_error(-ENOENT, "%s: %s: hard link to '%s', which is not a file before it",
                            t->name, p, hl);
        /* A clone shares the stream: the data is written once. */
        if ((r = iso_tree_clone(tn, d, (char *)leaf, &n, 0)) < 0)
            return iso_fail(r, t->name, p);
        return 0;
    }
    switch (type) {
    case AE_IFDIR: {
        IsoDir *nd;
        r = iso_tree_add_new_dir(d, leaf, &nd);
        n = (IsoNode *)nd;
        break;
    }
    case AE_IFREG: {
        const char *src = NULL;
        off_t off = 0;
        if (archive_entry_size(e) <= 0)     /* libisofs cuts out no empty range */
            return add_empty(d, leaf, e, t->name);
        if ((r = data_range(t, e, &src, &off)) < 0)
            return r;
        r = iso_tree_add_new_cut_out_node(img, d, leaf, src, off, archive_entry_size(e), &n);
        break;
    }
    case AE_IFLNK: {
        IsoSymlink *l;
        const char *target = archive_entry_symlink(e);
        r = iso_tree_add_new_symlink(d, leaf, target ? target : "", &l);
        n = (IsoNode *)l;
        break;
    }
    default: {
        IsoSpecial *sp;
        r = iso_tree_add_new_special(d, leaf, archive_entry_mode(e), archive_entry_rdev(e), &sp);
        n = (IsoNode *)sp;
    }
    }
    if (r < 0)
        return iso_fail(r, t->name, p);
    set_attrs(n, e);
    return 0;
}

static int add_tar(IsoImage *img, const char *from, struct tarsrc *t)
{
    int r = 0;
    struct archive_entry *e;
    memset(t, 0, sizeof *t);
    t->name = from;
    t->spool = -1;
    if (!(t->a = archive_read_new()))
        return vk_error(-ENOMEM, "out of memory");
    archive_read_support_filter_all(t->a);
    archive_read_support_format_tar(t->a);
    archive_read_support_format_cpio(t->a);
    if (archive_read_open_filename(t->a, from, 1 << 16) != ARCHIVE_OK)
        return vk_error(-EINVAL, "%s: %s", from, archive_error_string(t->a));
    int ar;
    while ((ar = archive_read_next_header(t->a, &e)) != ARCHIVE_EOF) {
        if (ar < ARCHIVE_WARN)
            return vk_error(-EINVAL, "%s: %s", from, archive_error_string(t->a));
        /* Known only once the first header is read. */
        if (!t->tarpath[0])
            t->raw = archive_filter_count(t->a) == 1 && realpath(from, t->tarpath);
        if ((r = add_tar_entry(img, t, e)) < 0)
            break;
    }
    return r;
}

static void free_tar(struct tarsrc *t)
{
    if (t->a)
        archive_read_free(t->a);
    if (t->spool >= 0)
        close(t->spool);
}

/* "YYYY-MM-DD-HH-MM-SS-cc" (blkid's form) to libisofs' 16 digits. */
static int parse_uuid(const char *u, char out[17])
{
    int n = 0;
    for (const char *p = u; *p; p++) {
        if (*p >= '0' && *p <= '9' && n < 16)
            out[n++] = *p;
        else if (*p != '-' || n >= 16)
            return -EINVAL;
    }
    out[n] = 0;
    return n == 16 && strlen(u) == 22 ? 0 : -EINVAL;
}

/* The El Torito record of o->boot: no emulation, as xorriso -as mkisofs
 * -b BOOT -c CATALOG -no-emul-boot -boot-load-size N [-boot-info-table]. */
static int set_boot(IsoImage *img, const struct vk_iso_mkfs_opts *o)
{
    int r;
    char bp[4096], cp[4096];
    const char *leaf;
    ElToritoBootImage *b;
    if (vk_pathf(bp, sizeof bp, "%s%s", o->boot[0] == '/' ? "" : "/", o->boot) < 0)
        return -ENAMETOOLONG;
    if (o->boot_catalog) {
        if (vk_pathf(cp, sizeof cp, "%s%s", o->boot_catalog[0] == '/' ? "" : "/", o->boot_catalog) < 0)
            return -ENAMETOOLONG;
    } else {
        if (vk_path_split(bp, cp, sizeof cp - 16, &leaf) < 0)
            return -ENAMETOOLONG;
        strcat(cp, strcmp(cp, "/") ? "/boot.cat" : "boot.cat");
    }
    IsoNode *bn;
    if (iso_tree_path_to_node(img, bp, &bn) != 1 || iso_node_get_type(bn) != LIBISO_FILE)
        return vk_error(-ENOENT, "%s: boot image %s: no such file in the tree", o->from, bp);
    if ((r = iso_image_set_boot_image(img, bp, ELTORITO_NO_EMUL, cp, &b)) < 0)
        return iso_fail(r, o->from, "cannot set the boot image");
    el_torito_set_load_size(b, (short)(o->boot_load_size ? o->boot_load_size : 4));
    if (o->boot_info_table)
        el_torito_set_isolinux_options(b, 1, 0);
    return 0;
}

static int make_image(const struct vk_iso_mkfs_opts *o, IsoImage **imgp, struct tarsrc *t,
                      struct burn_source **bsp)
{
    const char *volid = o->volid ? o->volid : "CDROM";
    char uuid[17] = "";
    struct stat st;
    IsoImage *img;
    int r;

    if (strlen(volid) > 32)
        return vk_error(-EINVAL, "%s: volume id '%s' longer than 32 characters", o->from, volid);
    if (o->uuid && parse_uuid(o->uuid, uuid) < 0)
        return vk_error(-EINVAL, "bad ISO UUID '%s' (want YYYY-MM-DD-HH-MM-SS-cc)", o->uuid);
    if (stat(o->from, &st) < 0)
        return vk_error(-errno, "%s: %s", o->from, strerror(errno));
    if ((r = iso_image_new(volid, &img)) < 0)
        return iso_fail(r, o->from, "cannot start an image");
    *imgp = img;
    iso_tree_set_follow_symlinks(img, 0);
    iso_tree_set_ignore_hidden(img, 0);
    iso_tree_set_ignore_special(img, 0);
    if (S_ISDIR(st.st_mode)) {
        IsoNode *root = (IsoNode *)iso_image_get_root(img);
        char abs[4096];
        if (!realpath(o->from, abs))
            return vk_error(-errno, "%s: %s", o->from, strerror(errno));
        if ((r = iso_tree_add_dir_rec(img, iso_image_get_root(img), abs)) < 0)
            return iso_fail(r, o->from, "cannot add the tree");
        iso_node_set_permissions(root, st.st_mode & 07777);
        iso_node_set_uid(root, st.st_uid);
        iso_node_set_gid(root, st.st_gid);
        iso_node_set_mtime(root, st.st_mtime);
    } else if ((r = add_tar(img, o->from, t)) < 0) {
        return r;
    }
    if (o->boot && (r = set_boot(img, o)) < 0)
        return r;
    IsoWriteOpts *wo;
    if ((r = iso_write_opts_new(&wo, 0)) < 0)
        return iso_fail(r, o->from, "cannot set write options");
    iso_write_opts_set_iso_level(wo, 3);
    iso_write_opts_set_rockridge(wo, 1);
    iso_write_opts_set_joliet(wo, 1);
    iso_write_opts_set_joliet_longer_paths(wo, 1);
    /* As xorriso by default: deep trees stay where they are instead of
     * being relocated (libarchive refuses relocations into the root). */
    iso_write_opts_set_allow_deep_paths(wo, 1);
    iso_write_opts_set_allow_longer_paths(wo, 1);
    iso_write_opts_set_always_gmt(wo, 1);
    iso_write_opts_set_relaxed_vol_atts(wo, 1);     /* the volume id as given, as xorriso */
    if (uuid[0])
        iso_write_opts_set_pvd_times(wo, 0, 0, 0, 0, uuid);
    r = iso_image_create_burn_source(img, wo, bsp);
    iso_write_opts_free(wo);
    if (r < 0)
        return iso_fail(r, o->from, "cannot lay out the image");
    return 0;
}

/* Where the image's bytes go, in order. */
typedef int (*sink_fn)(void *ctx, const void *buf, size_t len, uint64_t off);

/* libisofs keeps process-wide state from iso_init() to iso_finish() (its
 * message queue, the local charset): one image at a time per process. */
static pthread_mutex_t iso_lock = PTHREAD_MUTEX_INITIALIZER;

static int write_iso_locked(const struct vk_iso_mkfs_opts *o, uint64_t room, const char *outname,
                            sink_fn sink, void *ctx)
{
    IsoImage *img = NULL;
    struct burn_source *bs = NULL;
    struct tarsrc t = { .spool = -1 };
    uint8_t *buf = NULL;
    int r = iso_init();
    if (r < 0)
        return iso_fail(r, o->from, "cannot start libisofs");
    /* libisofs's messages are queued for our error text; VK_ISO_DEBUG=1 in
     * the environment also prints all of them (a debugging aid). */
    iso_set_msgs_severities("SORRY", getenv("VK_ISO_DEBUG") ? "ALL" : "NEVER", "vmkit");
    iso_set_local_charset("UTF-8", 0);     /* names are UTF-8 whatever the locale */
    if ((r = make_image(o, &img, &t, &bs)) < 0)
        goto out;
    uint64_t size = (uint64_t)bs->get_size(bs);
    if (size > room) {
        r = vk_error(-ENOSPC, "%s: the ISO needs %llu bytes, there are %llu", outname,
                     (unsigned long long)size, (unsigned long long)room);
        bs->cancel(bs);
        goto out;
    }
    if (!(buf = malloc(OUT_CHUNK))) {
        r = vk_error(-ENOMEM, "out of memory");
        bs->cancel(bs);
        goto out;
    }
    /* The ring buffer answers a read only when it can fill it whole (a
     * short tail reads as end of data), so ask for exactly what is left. */
    for (uint64_t off = 0; off < size;) {
        int want = size - off < OUT_CHUNK ? (int)(size - off) : (int)OUT_CHUNK;
        int n = bs->read_xt(bs, buf, want);
        if (n <= 0) {
            r = iso_fail(ISO_WRITE_ERROR, o->from, "cannot make the image");
            break;
        }
        if ((r = sink(ctx, buf, (size_t)n, off)) < 0) {
            bs->cancel(bs);
            break;
        }
        off += (uint64_t)n;
    }
out:
    free(buf);
    if (bs) {
        bs->free_data(bs);
        free(bs);
    }
    if (img)
        iso_image_unref(img);
    free_tar(&t);
    iso_finish();
    return r;
}

/* Lay out the image of o and hand it to sink(ctx, buf, len, off) in
 * order; -ENOSPC before any of it when it needs more than room bytes. */
static int write_iso(const struct vk_iso_mkfs_opts *o, uint64_t room, const char *outname,
                     sink_fn sink, void *ctx)
{
    pthread_mutex_lock(&iso_lock);
    int r = write_iso_locked(o, room, outname, sink, ctx);
    pthread_mutex_unlock(&iso_lock);
    return r;
}

struct fd_out {
    int fd;
    const char *name;
};

static int fd_sink(void *ctx, const void *buf, size_t len, uint64_t off)
{
    struct fd_out *f = ctx;
    return vk_fd_pwrite_full(f->fd, buf, len, off, f->name);
}

int vk_iso_mkfs_file(const char *out, const struct vk_iso_mkfs_opts *o)
{
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.tmp.XXXXXX", out) >= (int)sizeof tmp)
        return vk_error(-ENAMETOOLONG, "%s: name too long", out);
    int fd = mkstemp(tmp);
    if (fd < 0)
        return vk_error(-errno, "%s: cannot create a temporary file next to it: %s", out, strerror(errno));
    mode_t um = umask(0);
    umask(um);
    fchmod(fd, 0666 & ~um);
    struct fd_out f = { fd, out };
    int r = write_iso(o, UINT64_MAX, out, fd_sink, &f);
    if (r >= 0 && close(fd) < 0)
        r = vk_error(-errno, "%s: %s", out, strerror(errno));
    else if (r < 0)
        close(fd);
    if (r >= 0 && rename(tmp, out) < 0)
        r = vk_error(-errno, "%s: %s", out, strerror(errno));
    if (r < 0)
        unlink(tmp);
    return r;
}

static int bd_sink(void *ctx, const void *buf, size_t len, uint64_t off)
{
    return vk_bd_pwrite(ctx, buf, len, off);
}

int vk_iso_mkfs_bd(struct vk_blockdev *bd, const struct vk_iso_mkfs_opts *o)
{
    int r = write_iso(o, bd->size, bd->name, bd_sink, bd);
    return r < 0 ? r : vk_bd_flush(bd);
}
