/* The save file format (savefile.h): header, metadata, files, stream. */
#include "vm/savefile.h"
#include "block/blockdev.h"
#include "util/err.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#define BUF (1u << 20)

static uint64_t le64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}
static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static void put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++, v >>= 8)
        p[i] = (uint8_t)v;
}
static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++, v >>= 8)
        p[i] = (uint8_t)v;
}

static void hex(const uint8_t *sha, char *out)
{
    for (int i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", sha[i]);
}

static int unhex(const char *s, uint8_t *sha)
{
    if (!s || strlen(s) != 64)
        return -1;
    for (int i = 0; i < 32; i++) {
        unsigned v;
        if (sscanf(s + 2 * i, "%2x", &v) != 1)
            return -1;
        sha[i] = (uint8_t)v;
    }
    return 0;
}

/* Contract in savefile.h. */
int vk_savehdr_parse(const uint8_t *b, size_t len, uint64_t size, const char *name,
                     struct vk_savehdr *h)
{
    memset(h, 0, sizeof *h);
    if (len < VK_SAVE_HDR || memcmp(b, VK_SAVE_MAGIC, 8))
        return vk_error(-EINVAL, "%s: not a vmkit save file", name);
    if ((uint32_t)crc32(0, b, 124) != le32(b + 124))
        return vk_error(-EINVAL, "%s: save file header is damaged (checksum)", name);
    h->version = le32(b + 8);
    h->flags = le32(b + 12);
    if (h->version != VK_SAVE_VERSION)
        return vk_error(-EINVAL, "%s: save file version %u is not supported (this vmkit reads "
                        "version %d)", name, h->version, VK_SAVE_VERSION);
    if (h->flags & ~VK_SAVE_ZSTD)
        return vk_error(-EINVAL, "%s: save file has unknown flags 0x%x", name, h->flags);
    h->meta_off = le64(b + 16);
    h->meta_len = le64(b + 24);
    h->stream_off = le64(b + 32);
    h->stream_len = le64(b + 40);
    h->stream_raw = le64(b + 48);
    memcpy(h->meta_sha, b + 56, 32);
    memcpy(h->stream_sha, b + 88, 32);
    /* header | files | stream | metadata, with nothing after it */
    if (h->stream_off < VK_SAVE_HDR || h->stream_off > size || h->stream_len > size - h->stream_off ||
        h->meta_off != h->stream_off + h->stream_len || h->meta_len > VK_SAVE_MAX_META ||
        h->meta_len == 0 || h->meta_off > size || h->meta_len != size - h->meta_off)
        return vk_error(-EINVAL, "%s: save file is truncated or damaged (%llu bytes; the header "
                        "describes %llu)", name, (unsigned long long)size,
                        (unsigned long long)(h->meta_off + h->meta_len));
    return 0;
}

void vk_savemeta_free(struct vk_savemeta *m)
{
    free(m->config);
    free(m->accel);
    free(m->qemu);
    free(m->append);
    memset(m, 0, sizeof *m);
}

static int dupstr(json_t *o, const char *key, char **out, int required, const char *name)
{
    json_t *v = json_object_get(o, key);
    *out = NULL;
    if (!v && !required)
        return 0;
    if (!json_is_string(v))
        return vk_error(-EINVAL, "%s: save file metadata: '%s' is missing or not a string",
                        name, key);
    const char *s = json_string_value(v);
    if (strlen(s) != json_string_length(v))
        return vk_error(-EINVAL, "%s: save file metadata: '%s' holds a NUL byte", name, key);
    if (!(*out = strdup(s)))
        return vk_error(-ENOMEM, "out of memory");
    return 0;
}

/* Contract in savefile.h. */
int vk_savemeta_parse(const char *json, size_t len, const struct vk_savehdr *h,
                      const char *name, struct vk_savemeta *m)
{
    json_error_t je;
    memset(m, 0, sizeof *m);
    json_t *o = json_loadb(json, len, JSON_REJECT_DUPLICATES, &je);
    if (!o)
        return vk_error(-EINVAL, "%s: save file metadata is not JSON (%s)", name, je.text);
    int err = 0;
    if (!json_is_object(o))
        err = vk_error(-EINVAL, "%s: save file metadata is not a JSON object", name);
    if (!err && !(err = dupstr(o, "config", &m->config, 1, name)) &&
        !(err = dupstr(o, "accel", &m->accel, 1, name)) &&
        !(err = dupstr(o, "qemu", &m->qemu, 0, name)))
        err = dupstr(o, "append", &m->append, 0, name);
    json_t *files = err ? NULL : json_object_get(o, "files");
    if (!err && files && !json_is_array(files))
        err = vk_error(-EINVAL, "%s: save file metadata: 'files' is not an array", name);
    if (!err && json_array_size(files) > VK_SAVE_MAX_FILES)
        err = vk_error(-EINVAL, "%s: save file metadata: more than %d files", name,
                       VK_SAVE_MAX_FILES);
    size_t i;
    json_t *f;
    uint64_t end = VK_SAVE_HDR;
    if (!err)
        json_array_foreach(files, i, f) {
            struct vk_savefile_blob *b = &m->files[m->nfiles];
            const char *n = json_string_value(json_object_get(f, "name"));
            json_t *off = json_object_get(f, "offset"), *l = json_object_get(f, "length");
            if (!n || strlen(n) >= sizeof b->name || !*n || !json_is_integer(off) ||
                !json_is_integer(l) || json_integer_value(off) < 0 || json_integer_value(l) < 0 ||
                unhex(json_string_value(json_object_get(f, "sha256")), b->sha) < 0) {
                err = vk_error(-EINVAL, "%s: save file metadata: file entry %zu is malformed",
                               name, i);
                break;
            }
            snprintf(b->name, sizeof b->name, "%s", n);
            b->off = (uint64_t)json_integer_value(off);
            b->len = (uint64_t)json_integer_value(l);
            /* in order, between the header and the stream */
            if (b->off != end || b->len > h->stream_off - b->off) {
                err = vk_error(-EINVAL, "%s: save file metadata: file '%s' lies outside its place",
                               name, b->name);
                break;
            }
            end = b->off + b->len;
            m->nfiles++;
        }
    if (!err && end != h->stream_off)
        err = vk_error(-EINVAL, "%s: save file metadata: the files do not end where the stream "
                       "starts", name);
    json_decref(o);
    if (err)
        vk_savemeta_free(m);
    return err;
}

/* ---- reading -------------------------------------------------------- */

struct vk_savefile {
    char *path;
    int fd;
    struct vk_savehdr h;
    struct vk_savemeta m;
    /* the stream source */
    EVP_MD_CTX *md;
    ZSTD_DCtx *zd;
    uint8_t *in;             /* stored bytes read, not yet decompressed */
    ZSTD_inBuffer zin;
    uint64_t pos;            /* next stored byte to read */
    size_t zlast;            /* the last ZSTD_decompressStream result: 0 = a
                              * frame just ended */
    int ended, bad;
};

static int sha256(const void *buf, size_t len, uint8_t *out)
{
    unsigned ol = 32;
    if (!EVP_Digest(buf, len, out, &ol, EVP_sha256(), NULL))
        return vk_error(-EIO, "SHA-256 failed");
    return 0;
}

/* Contract in savefile.h. */
int vk_savefile_open(const char *path, struct vk_savefile **out)
{
    *out = NULL;
    struct vk_savefile *f = calloc(1, sizeof *f);
    if (!f || !(f->path = strdup(path))) {
        free(f);
        return vk_error(-ENOMEM, "out of memory");
    }
    int err = 0;
    char *meta = NULL;
    uint8_t hb[VK_SAVE_HDR], sha[32];
    struct stat st;
    f->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (f->fd < 0 || fstat(f->fd, &st) < 0) {
        err = vk_error(-errno, "%s: %s", path, strerror(errno));
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        err = vk_error(-EINVAL, "%s: not a regular file", path);
        goto out;
    }
    ssize_t n = pread(f->fd, hb, sizeof hb, 0);
    if (n < 0) {
        err = vk_error(-errno, "%s: %s", path, strerror(errno));
        goto out;
    }
    if (n < (ssize_t)sizeof hb) {
        err = vk_error(-EINVAL, "%s: not a vmkit save file (%zd bytes)", path, n);
        goto out;
    }
    if ((err = vk_savehdr_parse(hb, sizeof hb, (uint64_t)st.st_size, path, &f->h)) < 0)
        goto out;
    if (!(meta = malloc(f->h.meta_len))) {
        err = vk_error(-ENOMEM, "out of memory");
        goto out;
    }
    if ((err = vk_fd_pread_full(f->fd, meta, f->h.meta_len, f->h.meta_off, path)) < 0 ||
        (err = sha256(meta, f->h.meta_len, sha)) < 0)
        goto out;
    if (memcmp(sha, f->h.meta_sha, 32)) {
        err = vk_error(-EINVAL, "%s: save file metadata is damaged (checksum)", path);
        goto out;
    }
    err = vk_savemeta_parse(meta, f->h.meta_len, &f->h, path, &f->m);
out:
    free(meta);
    if (err) {
        vk_savefile_close(f);
        return err;
    }
    *out = f;
    return 0;
}

const struct vk_savemeta *vk_savefile_meta(const struct vk_savefile *f)
{
    return &f->m;
}

const struct vk_savehdr *vk_savefile_hdr(const struct vk_savefile *f)
{
    return &f->h;
}

/* Contract in savefile.h. */
int vk_savefile_extract(struct vk_savefile *f, const char *name, const char *dest)
{
    const struct vk_savefile_blob *b = NULL;
    for (int i = 0; i < f->m.nfiles && !b; i++)
        if (!strcmp(f->m.files[i].name, name))
            b = &f->m.files[i];
    if (!b)
        return -ENOENT;
    int out = open(dest, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (out < 0)
        return vk_error(-errno, "%s: %s", dest, strerror(errno));
    uint8_t *buf = malloc(BUF), sha[32];
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    int err = buf && md && EVP_DigestInit_ex(md, EVP_sha256(), NULL) ? 0
            : vk_error(-ENOMEM, "out of memory");
    for (uint64_t done = 0; !err && done < b->len;) {
        size_t k = b->len - done < BUF ? (size_t)(b->len - done) : BUF;
        if ((err = vk_fd_pread_full(f->fd, buf, k, b->off + done, f->path)) < 0 ||
            (err = vk_fd_pwrite_full(out, buf, k, done, dest)) < 0)
            break;
        EVP_DigestUpdate(md, buf, k);
        done += k;
    }
    unsigned ol = 32;
    if (!err && (!EVP_DigestFinal_ex(md, sha, &ol) || memcmp(sha, b->sha, 32)))
        err = vk_error(-EBADMSG, "%s: the saved %s is damaged (checksum)", f->path, name);
    if (close(out) < 0 && !err)
        err = vk_error(-errno, "%s: %s", dest, strerror(errno));
    if (err)
        unlink(dest);
    EVP_MD_CTX_free(md);
    free(buf);
    return err;
}

static ssize_t src_read(void *ctx, void *buf, size_t len)
{
    struct vk_savefile *f = ctx;
    uint64_t end = f->h.stream_off + f->h.stream_len;
    for (;;) {
        if (!f->zd) {   /* stored as is */
            if (f->pos >= end)
                break;
            size_t k = end - f->pos < len ? (size_t)(end - f->pos) : len;
            int err = vk_fd_pread_full(f->fd, buf, k, f->pos, f->path);
            if (err < 0)
                return err;
            EVP_DigestUpdate(f->md, buf, k);
            f->pos += k;
            return (ssize_t)k;
        }
        if (f->zin.pos == f->zin.size && f->pos < end) {
            size_t k = end - f->pos < BUF ? (size_t)(end - f->pos) : BUF;
            int err = vk_fd_pread_full(f->fd, f->in, k, f->pos, f->path);
            if (err < 0)
                return err;
            EVP_DigestUpdate(f->md, f->in, k);
            f->pos += k;
            f->zin = (ZSTD_inBuffer){ f->in, k, 0 };
        }
        if (f->zin.pos == f->zin.size && f->pos >= end && f->zlast == 0)
            break;   /* everything read and the last frame complete */
        ZSTD_outBuffer zo = { buf, len, 0 };
        size_t r = f->zlast = ZSTD_decompressStream(f->zd, &zo, &f->zin);
        if (ZSTD_isError(r)) {
            f->bad = 1;
            return vk_error(-EBADMSG, "%s: the migration stream is damaged (%s)", f->path,
                            ZSTD_getErrorName(r));
        }
        if (zo.pos)
            return (ssize_t)zo.pos;
        if (f->zin.pos == f->zin.size && f->pos >= end) {
            if (r != 0) {   /* the frame did not end */
                f->bad = 1;
                return vk_error(-EBADMSG, "%s: the migration stream is damaged (truncated "
                                "zstd frame)", f->path);
            }
            break;
        }
    }
    f->ended = 1;
    return 0;
}

/* Contract in savefile.h. */
void vk_savefile_source(struct vk_savefile *f, struct vk_mig_source *src)
{
    src->read = src_read;
    src->ctx = f;
    f->pos = f->h.stream_off;
    f->ended = f->bad = 0;
    if (!f->md)
        f->md = EVP_MD_CTX_new();
    if (f->md)
        EVP_DigestInit_ex(f->md, EVP_sha256(), NULL);
    if (f->h.flags & VK_SAVE_ZSTD) {
        if (!f->zd)
            f->zd = ZSTD_createDCtx();
        if (!f->in)
            f->in = malloc(BUF);
        if (f->zd)
            ZSTD_DCtx_reset(f->zd, ZSTD_reset_session_only);
        f->zin = (ZSTD_inBuffer){ f->in, 0, 0 };
        f->zlast = 1;
    }
}

/* Contract in savefile.h. */
int vk_savefile_stream_ok(struct vk_savefile *f)
{
    uint8_t sha[32];
    unsigned ol = 32;
    if (!f->md || ((f->h.flags & VK_SAVE_ZSTD) && (!f->zd || !f->in)))
        return vk_error(-ENOMEM, "out of memory");
    if (f->bad || !f->ended || !EVP_DigestFinal_ex(f->md, sha, &ol) ||
        memcmp(sha, f->h.stream_sha, 32))
        return vk_error(-EBADMSG, "%s: the migration stream is damaged (checksum)", f->path);
    return 0;
}

/* Contract in savefile.h. */
int vk_savefile_stream_fd(struct vk_savefile *f)
{
    if (f->h.flags & VK_SAVE_ZSTD)
        return -ENOTSUP;
    int fd = fcntl(f->fd, F_DUPFD_CLOEXEC, 3);
    if (fd < 0 || lseek(fd, (off_t)f->h.stream_off, SEEK_SET) < 0) {
        int e = errno;
        if (fd >= 0)
            close(fd);
        return vk_error(-e, "%s: %s", f->path, strerror(e));
    }
    return fd;
}

/* Contract in savefile.h. */
int vk_savefile_stream_verify(struct vk_savefile *f)
{
    struct vk_mig_source src;
    vk_savefile_source(f, &src);
    char *buf = malloc(BUF);
    if (!buf)
        return vk_error(-ENOMEM, "out of memory");
    ssize_t n;
    while ((n = src_read(f, buf, BUF)) > 0)
        ;
    free(buf);
    return n < 0 ? (int)n : vk_savefile_stream_ok(f);
}

void vk_savefile_close(struct vk_savefile *f)
{
    if (!f)
        return;
    if (f->fd >= 0)
        close(f->fd);
    vk_savemeta_free(&f->m);
    EVP_MD_CTX_free(f->md);
    ZSTD_freeDCtx(f->zd);
    free(f->in);
    free(f->path);
    free(f);
}

/* ---- writing -------------------------------------------------------- */

struct vk_savefile_w {
    char *path, *tmp;
    int fd;
    uint64_t pos;            /* where the next byte goes */
    uint64_t stream_off, raw;
    json_t *files;
    EVP_MD_CTX *md;
    ZSTD_CCtx *zc;
    uint8_t *zbuf;
};

void vk_savefile_abort(struct vk_savefile_w *w)
{
    if (!w)
        return;
    if (w->fd >= 0)
        close(w->fd);
    if (w->tmp)
        unlink(w->tmp);
    free(w->tmp);
    free(w->path);
    json_decref(w->files);
    EVP_MD_CTX_free(w->md);
    ZSTD_freeCCtx(w->zc);
    free(w->zbuf);
    free(w);
}

/* Contract in savefile.h. */
int vk_savefile_create(const char *path, int compress, struct vk_savefile_w **out)
{
    static unsigned counter;
    struct stat st;
    *out = NULL;
    if (lstat(path, &st) == 0)
        return vk_error(-EEXIST, "%s: file exists (save never overwrites; remove it first)", path);
    struct vk_savefile_w *w = calloc(1, sizeof *w);
    if (!w)
        return vk_error(-ENOMEM, "out of memory");
    w->fd = -1;
    w->pos = VK_SAVE_HDR;
    w->path = strdup(path);
    w->files = json_array();
    w->md = EVP_MD_CTX_new();
    if (!w->path || !w->files || !w->md || !EVP_DigestInit_ex(w->md, EVP_sha256(), NULL)) {
        vk_savefile_abort(w);
        return vk_error(-ENOMEM, "out of memory");
    }
    if (compress) {
        w->zc = ZSTD_createCCtx();
        w->zbuf = malloc(BUF);
        if (!w->zc || !w->zbuf) {
            vk_savefile_abort(w);
            return vk_error(-ENOMEM, "out of memory");
        }
        ZSTD_CCtx_setParameter(w->zc, ZSTD_c_compressionLevel, 1);
        /* 2 worker threads where libzstd has them (an error otherwise:
         * then it compresses in this thread) */
        ZSTD_CCtx_setParameter(w->zc, ZSTD_c_nbWorkers, 2);
    }
    for (int tries = 0; w->fd < 0 && tries < 100; tries++) {
        free(w->tmp);
        if (!(w->tmp = vk_tmp_name(path, counter++))) {
            vk_savefile_abort(w);
            return vk_error(-ENOMEM, "out of memory");
        }
        w->fd = open(w->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (w->fd < 0 && errno != EEXIST) {
            int e = errno;
            free(w->tmp);
            w->tmp = NULL;
            vk_savefile_abort(w);
            return vk_error(-e, "%s: %s", path, strerror(e));
        }
    }
    if (w->fd < 0) {
        vk_savefile_abort(w);
        return vk_error(-EEXIST, "%s: no free temporary name next to it", path);
    }
    *out = w;
    return 0;
}

/* Contract in savefile.h. */
int vk_savefile_add(struct vk_savefile_w *w, const char *name, const char *src)
{
    int in = open(src, O_RDONLY | O_CLOEXEC);
    if (in < 0)
        return vk_error(-errno, "%s: %s", src, strerror(errno));
    uint8_t *buf = malloc(BUF), sha[32];
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    int err = buf && md && EVP_DigestInit_ex(md, EVP_sha256(), NULL) ? 0
            : vk_error(-ENOMEM, "out of memory");
    uint64_t start = w->pos;
    while (!err) {
        ssize_t n = read(in, buf, BUF);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            err = vk_error(-errno, "%s: %s", src, strerror(errno));
        if (n <= 0)
            break;
        if ((err = vk_fd_pwrite_full(w->fd, buf, (size_t)n, w->pos, w->tmp)) < 0)
            break;
        EVP_DigestUpdate(md, buf, (size_t)n);
        w->pos += (uint64_t)n;
    }
    close(in);
    unsigned ol = 32;
    char h[65];
    if (!err && !EVP_DigestFinal_ex(md, sha, &ol))
        err = vk_error(-EIO, "SHA-256 failed");
    if (!err) {
        hex(sha, h);
        if (json_array_append_new(w->files, json_pack("{s:s, s:I, s:I, s:s}", "name", name,
                                                      "offset", (json_int_t)start, "length",
                                                      (json_int_t)(w->pos - start), "sha256", h)))
            err = vk_error(-ENOMEM, "out of memory");
    }
    EVP_MD_CTX_free(md);
    free(buf);
    return err;
}

static int store(struct vk_savefile_w *w, const void *buf, size_t len)
{
    int err = vk_fd_pwrite_full(w->fd, buf, len, w->pos, w->tmp);
    if (err < 0)
        return err;
    EVP_DigestUpdate(w->md, buf, len);
    w->pos += len;
    return 0;
}

/* Compress in with mode (continue or end) and store what comes out. */
static int zstore(struct vk_savefile_w *w, const void *buf, size_t len, ZSTD_EndDirective mode)
{
    ZSTD_inBuffer in = { buf, len, 0 };
    for (;;) {
        ZSTD_outBuffer o = { w->zbuf, BUF, 0 };
        size_t left = ZSTD_compressStream2(w->zc, &o, &in, mode);
        if (ZSTD_isError(left))
            return vk_error(-EIO, "%s: zstd: %s", w->path, ZSTD_getErrorName(left));
        if (o.pos) {
            int err = store(w, w->zbuf, o.pos);
            if (err < 0)
                return err;
        }
        if (mode == ZSTD_e_end ? left == 0 : in.pos == in.size)
            return 0;
    }
}

static int sink_write(void *ctx, const void *buf, size_t len)
{
    struct vk_savefile_w *w = ctx;
    if (!w->stream_off)
        w->stream_off = w->pos;
    w->raw += len;
    return w->zc ? zstore(w, buf, len, ZSTD_e_continue) : store(w, buf, len);
}

/* Contract in savefile.h. */
void vk_savefile_sink(struct vk_savefile_w *w, struct vk_mig_sink *sink)
{
    sink->write = sink_write;
    sink->ctx = w;
}

/* Contract in savefile.h. */
int vk_savefile_finish(struct vk_savefile_w *w, json_t *meta)
{
    uint8_t hb[VK_SAVE_HDR] = { 0 }, msha[32], ssha[32];
    unsigned ol = 32;
    char *text = NULL;
    int err = 0;
    if (!w->stream_off)
        w->stream_off = w->pos;
    if (w->zc)
        err = zstore(w, "", 0, ZSTD_e_end);
    uint64_t meta_off = w->pos;
    if (!err && !EVP_DigestFinal_ex(w->md, ssha, &ol))
        err = vk_error(-EIO, "SHA-256 failed");
    if (!err && (json_object_set(meta, "files", w->files) < 0 ||
                 !(text = json_dumps(meta, JSON_INDENT(1) | JSON_SORT_KEYS))))
        err = vk_error(-ENOMEM, "out of memory");
    size_t ml = text ? strlen(text) : 0;
    if (!err && !(err = sha256(text, ml, msha)))
        err = vk_fd_pwrite_full(w->fd, text, ml, meta_off, w->tmp);
    if (!err) {
        memcpy(hb, VK_SAVE_MAGIC, 8);
        put32(hb + 8, VK_SAVE_VERSION);
        put32(hb + 12, w->zc ? VK_SAVE_ZSTD : 0);
        put64(hb + 16, meta_off);
        put64(hb + 24, ml);
        put64(hb + 32, w->stream_off);
        put64(hb + 40, meta_off - w->stream_off);
        put64(hb + 48, w->raw);
        memcpy(hb + 56, msha, 32);
        memcpy(hb + 88, ssha, 32);
        put32(hb + 124, (uint32_t)crc32(0, hb, 124));
        err = vk_fd_pwrite_full(w->fd, hb, sizeof hb, 0, w->tmp);
    }
    free(text);
    if (!err && close(w->fd) < 0)
        err = vk_error(-errno, "%s: %s", w->tmp, strerror(errno));
    w->fd = -1;
    if (!err) {
        err = vk_publish(w->tmp, w->path);   /* fsync, rename without replacing */
        free(w->tmp);
        w->tmp = NULL;                        /* gone either way */
    }
    vk_savefile_abort(w);
    return err;
}
