/* ISO 9660 through libarchive: the directory walk that builds the index at
 * mount time, and reading file data.
 *
 * libarchive reads a stream.  Its source here is the block device with
 * skip and seek callbacks, so passing over file data is a seek, not a read:
 * a walk of the whole tree reads only directories (and Rock Ridge
 * continuation areas).  libarchive gives entries in the order of their
 * extents on the disc; an entry's ordinal in that sequence is how a later
 * read finds it again: reopen, step over ordinal headers, read its data.
 * A reader stays open between reads, so reading a file front to back is
 * one pass.
 *
 * Most files need no second walk: after libarchive's header of a file it
 * has seeked to the file's data, and its position is recorded.  A file in
 * one extent and not zisofs-compressed is those bytes as they are, so it
 * is read straight from the device (iso_direct_off).
 */
#include "fs/iso9660_int.h"

#include "fs/path.h"
#include "util/err.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <iconv.h>
#include <locale.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define CHUNK_MIN (32u << 10)   /* first read after a seek: directories are small */
#define CHUNK_MAX (128u << 10)  /* sequential reads grow up to this (not more:
                                   each fresh page of a buffer is a page fault) */

struct iso_src {
    struct vk_blockdev *bd;
    uint64_t pos;
    size_t chunk;
    uint8_t *buf;
};

static la_ssize_t src_read(struct archive *a, void *ctx, const void **out)
{
    struct iso_src *s = ctx;
    if (s->pos >= s->bd->size)
        return 0;
    size_t n = s->chunk;
    if (n > s->bd->size - s->pos)
        n = (size_t)(s->bd->size - s->pos);
    if (vk_bd_pread(s->bd, s->buf, n, s->pos) < 0) {
        archive_set_error(a, EIO, "%s", vk_errmsg());
        return -1;
    }
    s->pos += n;
    if (s->chunk < CHUNK_MAX)
        s->chunk *= 2;
    *out = s->buf;
    return (la_ssize_t)n;
}

static la_int64_t src_skip(struct archive *a, void *ctx, la_int64_t req)
{
    struct iso_src *s = ctx;
    uint64_t left = s->bd->size - (s->pos < s->bd->size ? s->pos : s->bd->size);
    if (req < 0)
        return 0;
    if ((uint64_t)req > left)
        req = (la_int64_t)left;
    s->pos += (uint64_t)req;
    s->chunk = CHUNK_MIN;
    return req;
}

static la_int64_t src_seek(struct archive *a, void *ctx, la_int64_t off, int whence)
{
    struct iso_src *s = ctx;
    int64_t base = whence == SEEK_SET ? 0 : whence == SEEK_CUR ? (int64_t)s->pos : (int64_t)s->bd->size;
    if (off > INT64_MAX - base || base + off < 0)
        return ARCHIVE_FATAL;
    s->pos = (uint64_t)(base + off);
    s->chunk = CHUNK_MIN;
    return (la_int64_t)s->pos;
}

/* libarchive turns Joliet's UTF-16 names into the current locale's
 * charset: in the C locale every non-ASCII name would be lost.  Headers
 * are read, and names taken from them, under C.UTF-8 (this thread only),
 * so names come out as UTF-8, as Rock Ridge names already are, and
 * archive_entry_pathname() needs no conversion. */
static locale_t utf8;
static pthread_once_t utf8_once = PTHREAD_ONCE_INIT;

static void make_utf8(void)
{
    utf8 = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
}

/* Switch this thread to C.UTF-8; returns what to give utf8_leave. */
static locale_t utf8_enter(void)
{
    pthread_once(&utf8_once, make_utf8);
    return utf8 ? uselocale(utf8) : (locale_t)0;
}

static void utf8_leave(locale_t old)
{
    if (old)
        uselocale(old);
}

void vk_iso_warmup(void)
{
    locale_t old = utf8_enter();
    /* glibc reads its gconv module cache on the first iconv_open of the
     * process, whatever the pair; libarchive opens one for Joliet names */
    iconv_t ic = iconv_open("UTF-8", "UTF-16BE");
    if (ic != (iconv_t)-1)
        iconv_close(ic);
    utf8_leave(old);
}

/* An archive reading x's device, positioned before the first header. */
static int arc_open(struct iso_fs *x, struct iso_src *s, struct archive **out)
{
    memset(s, 0, sizeof *s);
    s->bd = x->bd;
    s->chunk = CHUNK_MIN;
    struct archive *a = archive_read_new();
    if (!a || !(s->buf = malloc(CHUNK_MAX))) {
        archive_read_free(a);
        free(s->buf);
        return vk_error(-ENOMEM, "out of memory");
    }
    archive_read_support_format_iso9660(a);
    archive_read_set_read_callback(a, src_read);
    archive_read_set_skip_callback(a, src_skip);
    archive_read_set_seek_callback(a, src_seek);
    archive_read_set_callback_data(a, s);
    if (archive_read_open1(a) != ARCHIVE_OK) {
        int r = vk_error(-EINVAL, "%s: %s", x->bd->name, archive_error_string(a));
        archive_read_free(a);
        free(s->buf);
        return r;
    }
    *out = a;
    return 0;
}

static void arc_close(struct archive *a, struct iso_src *s)
{
    archive_read_free(a);
    free(s->buf);
}

static int arc_fail(struct iso_fs *x, struct archive *a)
{
    const char *m = archive_error_string(a);
    return vk_error(-EINVAL, "%s: %s", x->bd->name, m ? m : "cannot read the ISO directory tree");
}

static void fill_stat(struct vk_stat *st, struct archive_entry *e)
{
    st->mode = archive_entry_mode(e);
    st->uid = (uint32_t)archive_entry_uid(e);
    st->gid = (uint32_t)archive_entry_gid(e);
    st->nlink = archive_entry_nlink(e);
    la_int64_t size = archive_entry_size(e);
    st->size = size > 0 && !S_ISDIR(st->mode) ? (uint64_t)size : 0;
    st->blocks = (st->size + 511) / 512;
    st->rdev_major = archive_entry_rdevmajor(e);
    st->rdev_minor = archive_entry_rdevminor(e);
    st->mtime.tv_sec = archive_entry_mtime(e);
    st->atime.tv_sec = archive_entry_atime_is_set(e) ? archive_entry_atime(e) : st->mtime.tv_sec;
    st->ctime.tv_sec = archive_entry_ctime_is_set(e) ? archive_entry_ctime(e) : st->mtime.tv_sec;
    st->crtime.tv_sec = archive_entry_birthtime_is_set(e) ? archive_entry_birthtime(e) : 0;
}

/* The node of normalized path p, creating missing directories on the way
 * (an entry may come before its parent's own).  ISO_NONE if a component on
 * the way is not a directory, or out of memory (*err set). */
static uint32_t make_path(struct iso_fs *x, const char *p, bool *fresh, int *err)
{
    uint32_t cur = 0;
    *fresh = false;
    while (*p) {
        p += *p == '/';
        if (!*p)
            break;
        const char *e = strchr(p, '/');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (!S_ISDIR(x->v[cur].st.mode))
            return ISO_NONE;
        uint32_t c = iso_node_add(x, cur, p, len, fresh);
        if (c == ISO_NONE) {
            *err = -ENOMEM;
            return ISO_NONE;
        }
        if (*fresh) {
            x->v[c].st.mode = S_IFDIR | 0755;   /* until its own entry comes */
            x->v[c].st.nlink = 2;
            x->v[c].entry = UINT64_MAX;
        }
        cur = c;
        p += len;
    }
    return cur;
}

static char *dup_str(const char *s)
{
    return s ? strdup(s) : NULL;
}

static int add_entry(struct iso_fs *x, struct archive *a, struct archive_entry *e, uint64_t ord,
                     const char *warn)
{
    char norm[4096];
    const char *name = archive_entry_pathname(e);
    if (!name || vk_path_normalize(name, norm, sizeof norm) < 0) {
        vk_error_clear();
        return 0;                       /* nameless or overlong: not reachable by path */
    }
    bool fresh;
    int err = 0;
    uint32_t i = make_path(x, norm, &fresh, &err);
    if (i == ISO_NONE)
        return err;
    struct iso_node *n = &x->v[i];
    if (!fresh && n->entry != UINT64_MAX && i != 0)
        return 0;                       /* a second entry of one name: the first wins */
    const char *hl = archive_entry_hardlink(e);
    if (hl) {
        char hn[4096];
        bool f2;
        uint32_t t = vk_path_normalize(hl, hn, sizeof hn) < 0 ? ISO_NONE : make_path(x, hn, &f2, &err);
        n = &x->v[i];
        if (t == ISO_NONE || f2 || !S_ISREG(x->v[t].st.mode)) {
            vk_error_clear();
            return err;
        }
        n->st = x->v[t].st;
        n->entry = x->v[t].entry;
        n->data_off = x->v[t].data_off;
        n->bad = dup_str(x->v[t].bad);
        return 0;
    }
    if (i == 0) {
        fill_stat(&n->st, e);
        n->st.mode = S_IFDIR | (n->st.mode & 07777);
        n->st.ino = 1;
        return 0;
    }
    uint64_t ino = n->st.ino;
    fill_stat(&n->st, e);
    n->st.ino = ino;
    n->entry = ord;
    if (S_ISREG(n->st.mode) && n->st.size && !warn)
        n->data_off = archive_filter_bytes(a, 0);
    if (S_ISLNK(n->st.mode)) {
        const char *t = archive_entry_symlink(e);
        if (!(n->link = strdup(t ? t : "")))
            return vk_error(-ENOMEM, "out of memory");
        n->st.size = strlen(n->link);
    }
    if (warn && !(n->bad = strdup(warn)))
        return vk_error(-ENOMEM, "out of memory");
    return 0;
}

int iso_index_build(struct iso_fs *x)
{
    struct iso_src s;
    struct archive *a;
    struct archive_entry *e;
    int r = arc_open(x, &s, &a);
    if (r < 0)
        return r;
    x->v[0].entry = UINT64_MAX;
    locale_t old = utf8_enter();
    for (uint64_t ord = 0;; ord++) {
        int ar = archive_read_next_header(a, &e);
        if (ar == ARCHIVE_EOF)
            break;
        if (ar < ARCHIVE_WARN) {
            r = arc_fail(x, a);
            break;
        }
        if (ord >= vk_iso_entry_limit(x->bd->size)) {
            r = vk_error(-EINVAL, "%s: more directory entries than the image has room for "
                         "(a directory tree that repeats itself)", x->bd->name);
            break;
        }
        if ((r = add_entry(x, a, e, ord, ar == ARCHIVE_WARN ? archive_error_string(a) : NULL)) < 0)
            break;
    }
    utf8_leave(old);
    arc_close(a, &s);
    return r < 0 ? r : 0;
}

/* zisofs (RRIP "ZF") files begin with this header: 8 magic bytes, the
 * uncompressed size (LE32), header size / 4, log2 of the block size. */
static const uint8_t zisofs_magic[8] = { 0x37, 0xe4, 0x53, 0x96, 0xc9, 0xdb, 0xd6, 0x07 };

int64_t iso_direct_off(struct iso_fs *x, uint32_t idx)
{
    const struct iso_node *n = &x->v[idx];
    uint8_t h[16];
    /* Beyond one extent's 4 GiB - 2 KiB a file has several extents,
     * which need not be contiguous. */
    if (n->data_off < 0 || n->bad || n->st.size > 0xfffff800u ||
        (uint64_t)n->data_off + n->st.size > x->bd->size)
        return -1;
    /* A file that merely looks like zisofs is read right by libarchive too. */
    if (n->st.size >= sizeof h && vk_bd_pread(x->bd, h, sizeof h, (uint64_t)n->data_off) == 0 &&
        !memcmp(h, zisofs_magic, sizeof zisofs_magic))
        return -1;
    vk_error_clear();
    return n->data_off;
}

struct iso_reader {
    struct archive *a;
    struct iso_src src;
    uint32_t node;
    uint64_t pos;               /* file offset of blk */
    const uint8_t *blk;         /* libarchive's current data block */
    size_t blk_len;
};

void iso_reader_free(struct iso_reader *r)
{
    if (r) {
        arc_close(r->a, &r->src);
        free(r);
    }
}

/* A reader positioned at the start of node idx's data. */
static int reader_open(struct iso_fs *x, uint32_t idx, struct iso_reader **out)
{
    struct iso_reader *r = calloc(1, sizeof *r);
    struct archive_entry *e;
    if (!r)
        return vk_error(-ENOMEM, "out of memory");
    int rc = arc_open(x, &r->src, &r->a);
    if (rc < 0) {
        free(r);
        return rc;
    }
    r->node = idx;
    locale_t old = utf8_enter();
    for (uint64_t k = 0; k <= x->v[idx].entry; k++) {
        int ar = archive_read_next_header(r->a, &e);
        if (ar < ARCHIVE_WARN || ar == ARCHIVE_EOF) {
            utf8_leave(old);
            rc = ar == ARCHIVE_EOF ? vk_error(-EIO, "%s: the ISO changed while it was read", x->bd->name)
                                   : arc_fail(x, r->a);
            iso_reader_free(r);
            return rc;
        }
    }
    utf8_leave(old);
    *out = r;
    return 0;
}

int iso_reader_read(struct iso_fs *x, struct iso_reader **rp, uint32_t idx, void *buf,
                    size_t len, uint64_t off, int64_t *got)
{
    const struct iso_node *n = &x->v[idx];
    char path[4096];
    if (n->bad || n->entry == UINT64_MAX) {
        iso_node_path(x, idx, path, sizeof path);
        return vk_error(-EIO, "%s:%s: %s", x->bd->name, path, n->bad ? n->bad : "no data");
    }
    struct iso_reader *r = *rp;
    if (r && off < r->pos) {            /* backwards: start over */
        iso_reader_free(r);
        *rp = r = NULL;
    }
    if (!r) {
        int rc = reader_open(x, idx, rp);
        if (rc < 0)
            return rc;
        r = *rp;
    }
    size_t done = 0;
    while (done < len) {
        uint64_t at = off + done;
        if (at < r->pos) {              /* a hole before the block */
            size_t k = (size_t)(r->pos - at < len - done ? r->pos - at : len - done);
            memset((uint8_t *)buf + done, 0, k);
            done += k;
            continue;
        }
        if (at < r->pos + r->blk_len) {
            size_t k = (size_t)(r->pos + r->blk_len - at);
            if (k > len - done)
                k = len - done;
            memcpy((uint8_t *)buf + done, r->blk + (at - r->pos), k);
            done += k;
            continue;
        }
        const void *b;
        size_t sz;
        la_int64_t o;
        int ar = archive_read_data_block(r->a, &b, &sz, &o);
        if (ar == ARCHIVE_EOF)
            break;
        if (ar < ARCHIVE_OK) {
            iso_node_path(x, idx, path, sizeof path);
            return vk_error(-EIO, "%s:%s: %s", x->bd->name, path, archive_error_string(r->a));
        }
        r->pos = o < 0 ? r->pos + r->blk_len : (uint64_t)o;
        r->blk = b;
        r->blk_len = sz;
    }
    if (done < len && off + done < n->st.size) {
        iso_node_path(x, idx, path, sizeof path);
        return vk_error(-EIO, "%s:%s: file data ends early, at byte %llu of %llu", x->bd->name,
                        path, (unsigned long long)(off + done), (unsigned long long)n->st.size);
    }
    *got = (int64_t)done;
    return 0;
}
