/* One image file of a Clonezilla directory read as a stream: the pieces
 * BASE.aa, BASE.ab ... in order, decompressed by BASE's last suffix
 * (".zst" zstd, ".gz" gzip, ".uncomp" as is; others refused by name). */
#ifndef VK_BACKUP_CZIN_H
#define VK_BACKUP_CZIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <zlib.h>

struct vk_czin {
    int dirfd;
    char what[320];             /* "DIR/BASE.aa" (the piece being read) */
    char base[256];
    int kind;                   /* CZ_* in czin.c */
    unsigned piece;
    int fd;
    bool last_piece;            /* no further piece exists */
    uint8_t *ibuf;
    size_t ilen, ipos;
    void *zd;                   /* ZSTD_DStream */
    size_t zleft;               /* zstd: nonzero inside a frame */
    z_stream gz;
    bool gz_on, gz_end;
    uint8_t peek[16];
    size_t npeek, ppos;
};

/* Open BASE (the name without ".aa") in the directory dirfd, called dir
 * in messages.  -ENOTSUP naming a compression that is not read. */
int vk_czin_open(struct vk_czin *z, int dirfd, const char *dir, const char *base);
/* Up to len decompressed bytes into buf: how many (0 at the end), or a
 * negative errno (-EIO: a truncated or damaged stream, named). */
long vk_czin_read(void *z, void *buf, size_t len);
/* Push back the first n (<= 16) bytes read, to be read again. */
void vk_czin_unread(struct vk_czin *z, const void *buf, size_t n);
void vk_czin_close(struct vk_czin *z);

#endif
