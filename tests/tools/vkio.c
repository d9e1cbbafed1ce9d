/* vkio: apply a write script to a disk, for the torture tests.
 *
 *   vkio FILE FMT < SCRIPT
 *
 * FMT is a vmkit format ("raw", "qcow2": the file is opened read-write
 * through vk_bd_open, without locking) or "plain" (the file is written
 * with pwrite/fallocate directly, bypassing vmkit: the reference side of
 * a torture test).  SCRIPT has one command per line:
 *
 *   w OFF LEN SEED     write LEN bytes at OFF, content made from SEED
 *                      (SEED 0: zero bytes written as data; SEED < 0:
 *                      the byte -SEED repeated; else pseudo-random)
 *   z OFF LEN          write zeroes, keep allocation
 *   u OFF LEN          write zeroes, may deallocate (discard)
 *   f                  flush
 *   r                  close and reopen (metadata cache starts cold)
 *
 * Exit 0 when every command succeeded; on error prints "vkio: LINE: msg"
 * and exits 1.  With VKIO_PROGRESS=1 in the environment it prints the
 * line number of each command it has completed (one per line, flushed)
 * and "done" after the last: a crash test reads where its kill landed.  The content is a pure function of (SEED, LEN) so both
 * sides of a comparison receive the same bytes. */
#include "block/blockdev.h"
#include "util/err.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct disk {
    const char *path, *fmt;
    struct vk_blockdev *bd; /* NULL for plain */
    int fd;                 /* plain only */
};

static int disk_open(struct disk *d)
{
    if (!strcmp(d->fmt, "plain")) {
        d->fd = open(d->path, O_RDWR);
        return d->fd < 0 ? vk_error(-errno, "%s: %s", d->path, strerror(errno)) : 0;
    }
    return vk_bd_open(d->path, d->fmt, VK_OPEN_RDWR | VK_OPEN_NOLOCK, &d->bd);
}

static int disk_close(struct disk *d)
{
    if (d->bd) {
        int r = vk_bd_close(d->bd);
        d->bd = NULL;
        return r;
    }
    if (d->fd >= 0 && close(d->fd) < 0)
        return vk_error(-errno, "%s: close: %s", d->path, strerror(errno));
    d->fd = -1;
    return 0;
}

static void fill(uint8_t *buf, size_t len, long long seed)
{
    if (seed <= 0) {
        memset(buf, seed == 0 ? 0 : (int)(-seed & 0xff), len);
        return;
    }
    uint64_t x = (uint64_t)seed * 0x9e3779b97f4a7c15ull | 1;
    for (size_t i = 0; i < len; i++) {
        x ^= x << 13; x ^= x >> 7; x ^= x << 17;
        buf[i] = (uint8_t)(x >> 24);
    }
}

static int plain_zero(struct disk *d, uint64_t off, uint64_t len, bool punch)
{
    int mode = punch ? FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE : FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE;
    if (fallocate(d->fd, mode, (off_t)off, (off_t)len) == 0)
        return 0;
    static uint8_t zero[65536];
    while (len) {
        size_t n = len < sizeof zero ? len : sizeof zero;
        int r = vk_fd_pwrite_full(d->fd, zero, n, off, d->path);
        if (r < 0)
            return r;
        off += n;
        len -= n;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: vkio FILE raw|qcow2|plain < SCRIPT\n");
        return 2;
    }
    struct disk d = { .path = argv[1], .fmt = argv[2], .fd = -1 };
    char line[256];
    uint8_t *buf = NULL;
    size_t cap = 0;
    int lineno = 0, r = disk_open(&d);
    const char *pe = getenv("VKIO_PROGRESS");
    bool progress = pe && !strcmp(pe, "1");
    while (r >= 0 && fgets(line, sizeof line, stdin)) {
        if (progress && lineno > 0) {
            printf("%d\n", lineno);   /* the previous command is complete */
            fflush(stdout);
        }
        char op;
        unsigned long long off = 0, len = 0;
        long long seed = 0;
        lineno++;
        int n = sscanf(line, " %c %llu %llu %lld", &op, &off, &len, &seed);
        if (n < 1)
            continue;
        if ((op == 'w' && n != 4) || ((op == 'z' || op == 'u') && n < 3)) {
            r = vk_error(-EINVAL, "bad command");
            break;
        }
        switch (op) {
        case 'w':
            if (len > cap) {
                free(buf);
                buf = malloc(cap = len);
                if (!buf) {
                    r = vk_error(-ENOMEM, "out of memory");
                    break;
                }
            }
            fill(buf, len, seed);
            r = d.bd ? vk_bd_pwrite(d.bd, buf, len, off) : vk_fd_pwrite_full(d.fd, buf, len, off, d.path);
            break;
        case 'z':
        case 'u':
            r = d.bd ? vk_bd_write_zeroes(d.bd, off, len, op == 'u' ? VK_ZERO_MAY_UNMAP : 0)
                     : plain_zero(&d, off, len, op == 'u');
            break;
        case 'f':
            r = d.bd ? vk_bd_flush(d.bd) : (fdatasync(d.fd) < 0 ? -errno : 0);
            break;
        case 'r':
            if ((r = disk_close(&d)) >= 0)
                r = disk_open(&d);
            break;
        default:
            r = vk_error(-EINVAL, "unknown command '%c'", op);
        }
    }
    int c = disk_close(&d);
    free(buf);
    if (r >= 0 && c < 0)
        r = c;
    if (r < 0) {
        fprintf(stderr, "vkio: %s line %d: %s\n", d.path, lineno, vk_errmsg());
        return 1;
    }
    if (progress)
        printf("%d\ndone\n", lineno);
    return 0;
}
