/* Clonezilla image files as one decompressed stream (czin.h). */
#include "backup/czin.h"

#include "util/err.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zstd.h>

enum { CZ_RAW, CZ_ZSTD, CZ_GZIP };
#define IBUF (128u << 10)

/* Open piece z->piece; none more: z->last_piece. */
static int next_piece(struct vk_czin *z)
{
    if (z->fd >= 0)
        close(z->fd);
    z->fd = -1;
    if (z->piece >= 26 * 26) {
        z->last_piece = true;
        return 0;
    }
    char name[300];
    snprintf(name, sizeof name, "%s.%c%c", z->base, 'a' + z->piece / 26, 'a' + z->piece % 26);
    z->fd = openat(z->dirfd, name, O_RDONLY | O_CLOEXEC);
    int e = errno;
    if (z->fd < 0 && e == ENOENT && z->piece) {
        z->last_piece = true;       /* messages keep naming the last piece */
        return 0;
    }
    char *slash = strrchr(z->what, '/');
    size_t dl = slash ? (size_t)(slash - z->what) + 1 : 0;
    snprintf(z->what + dl, sizeof z->what - dl, "%s", name);
    if (z->fd < 0)
        return vk_error(-e, "%s: %s", z->what, strerror(e));
    z->piece++;
    return 0;
}

/* More compressed input into ibuf; 0 with ilen 0 at the very end. */
static int fill(struct vk_czin *z)
{
    z->ipos = z->ilen = 0;
    while (!z->last_piece) {
        ssize_t n = read(z->fd, z->ibuf, IBUF);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return vk_error(-errno, "%s: %s", z->what, strerror(errno));
        if (n > 0) {
            z->ilen = (size_t)n;
            return 0;
        }
        int r = next_piece(z);
        if (r < 0)
            return r;
    }
    return 0;
}

int vk_czin_open(struct vk_czin *z, int dirfd, const char *dir, const char *base)
{
    memset(z, 0, sizeof *z);
    z->fd = -1;
    z->dirfd = dirfd;
    snprintf(z->base, sizeof z->base, "%s", base);
    snprintf(z->what, sizeof z->what, "%s/%s", dir, base);
    const char *dot = strrchr(base, '.');
    const char *comp = dot ? dot + 1 : "";
    if (!strcmp(comp, "zst"))
        z->kind = CZ_ZSTD;
    else if (!strcmp(comp, "gz"))
        z->kind = CZ_GZIP;
    else if (!strcmp(comp, "uncomp"))
        z->kind = CZ_RAW;
    else
        return vk_error(-ENOTSUP, "%s: compression \"%s\" is not read (zstd, gzip and "
                        "uncompressed images are)", z->what, comp);
    if (!(z->ibuf = malloc(IBUF)))
        return vk_error(-ENOMEM, "out of memory");
    if (z->kind == CZ_ZSTD && !(z->zd = ZSTD_createDStream()))
        return vk_error(-ENOMEM, "out of memory for zstd");
    if (z->kind == CZ_GZIP) {
        if (inflateInit2(&z->gz, 15 + 16) != Z_OK)
            return vk_error(-ENOMEM, "out of memory for zlib");
        z->gz_on = true;
    }
    return next_piece(z);
}

static long read_zstd(struct vk_czin *z, void *buf, size_t len)
{
    ZSTD_outBuffer out = { buf, len, 0 };
    while (!out.pos) {
        if (z->ipos == z->ilen) {
            int r = fill(z);
            if (r < 0)
                return r;
            if (!z->ilen) {
                if (z->zleft)
                    return vk_error(-EIO, "%s: the zstd stream ends early (truncated)", z->what);
                return 0;
            }
        }
        ZSTD_inBuffer in = { z->ibuf, z->ilen, z->ipos };
        size_t k = ZSTD_decompressStream(z->zd, &out, &in);
        z->ipos = in.pos;
        if (ZSTD_isError(k))
            return vk_error(-EIO, "%s: zstd: %s", z->what, ZSTD_getErrorName(k));
        z->zleft = k;
    }
    return (long)out.pos;
}

static long read_gzip(struct vk_czin *z, void *buf, size_t len)
{
    z->gz.next_out = buf;
    z->gz.avail_out = len > (1u << 30) ? 1u << 30 : (uInt)len;
    size_t want = z->gz.avail_out;
    while (z->gz.avail_out == want) {
        if (z->ipos == z->ilen) {
            int r = fill(z);
            if (r < 0)
                return r;
            if (!z->ilen) {
                if (!z->gz_end)
                    return vk_error(-EIO, "%s: the gzip stream ends early (truncated)", z->what);
                return 0;
            }
        }
        if (z->gz_end) {                    /* another member follows */
            inflateReset(&z->gz);
            z->gz_end = false;
        }
        z->gz.next_in = z->ibuf + z->ipos;
        z->gz.avail_in = (uInt)(z->ilen - z->ipos);
        int e = inflate(&z->gz, Z_NO_FLUSH);
        z->ipos = z->ilen - z->gz.avail_in;
        if (e == Z_STREAM_END)
            z->gz_end = true;
        else if (e != Z_OK && e != Z_BUF_ERROR)
            return vk_error(-EIO, "%s: gzip: %s", z->what, z->gz.msg ? z->gz.msg : "damaged");
    }
    return (long)(want - z->gz.avail_out);
}

long vk_czin_read(void *ctx, void *buf, size_t len)
{
    struct vk_czin *z = ctx;
    if (!len)
        return 0;
    if (z->ppos < z->npeek) {
        size_t n = z->npeek - z->ppos < len ? z->npeek - z->ppos : len;
        memcpy(buf, z->peek + z->ppos, n);
        z->ppos += n;
        return (long)n;
    }
    if (len > (1u << 30))
        len = 1u << 30;
    if (z->kind == CZ_ZSTD)
        return read_zstd(z, buf, len);
    if (z->kind == CZ_GZIP)
        return read_gzip(z, buf, len);
    if (z->ipos == z->ilen) {
        int r = fill(z);
        if (r < 0)
            return r;
    }
    size_t n = z->ilen - z->ipos < len ? z->ilen - z->ipos : len;
    memcpy(buf, z->ibuf + z->ipos, n);
    z->ipos += n;
    return (long)n;
}

void vk_czin_unread(struct vk_czin *z, const void *buf, size_t n)
{
    n = n < sizeof z->peek ? n : sizeof z->peek;
    memcpy(z->peek, buf, n);
    z->npeek = n;
    z->ppos = 0;
}

void vk_czin_close(struct vk_czin *z)
{
    if (z->fd >= 0)
        close(z->fd);
    ZSTD_freeDStream(z->zd);
    if (z->gz_on)
        inflateEnd(&z->gz);
    free(z->ibuf);
    memset(z, 0, sizeof *z);
    z->fd = -1;
}
