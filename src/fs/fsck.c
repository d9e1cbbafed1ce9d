/* fs check / repair / resize through the real tools on a temporary copy.
 * See fsck.h. */
#include "fs/fsck.h"

#include "fs/fs.h"
#include "util/err.h"
#include "util/run.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define CHUNK (1u << 20)

static bool all_zero(const uint8_t *p, size_t n)
{
    return n == 0 || (p[0] == 0 && !memcmp(p, p + 1, n - 1));
}

int vk_fs_copy_out(struct vk_blockdev *bd, struct vk_fs_copy *c)
{
    const char *td = getenv("TMPDIR");
    memset(c, 0, sizeof *c);
    c->bd = bd;
    c->fd = -1;
    if (snprintf(c->path, sizeof c->path, "%s/vmkit-fs-XXXXXX", td && *td ? td : "/tmp") >=
        (int)sizeof c->path)
        return vk_error(-ENAMETOOLONG, "%s: temporary directory name too long", bd->name);
    if ((c->fd = mkostemp(c->path, O_CLOEXEC)) < 0) {
        int e = errno;
        c->path[0] = 0;
        return vk_error(-e, "%s: temporary file: %s", bd->name, strerror(e));
    }
    if (ftruncate(c->fd, (off_t)bd->size) < 0)
        return vk_error(-errno, "%s: %s: %s", bd->name, c->path, strerror(errno));
    uint8_t *buf = malloc(CHUNK);
    if (!buf)
        return vk_error(-ENOMEM, "%s: out of memory", bd->name);
    int r = 0;
    for (uint64_t off = 0; off < bd->size && r >= 0;) {
        uint64_t pnum = 0;
        int st = vk_bd_block_status(bd, off, bd->size - off, &pnum, NULL);
        if (st < 0) {
            r = st;
            break;
        }
        if (!pnum)
            pnum = 1;
        if ((st & VK_BS_ZERO) || !(st & VK_BS_DATA)) {
            off += pnum;
            continue;
        }
        for (uint64_t end = off + pnum; off < end && r >= 0;) {
            size_t n = end - off < CHUNK ? (size_t)(end - off) : CHUNK;
            if ((r = vk_bd_pread(bd, buf, n, off)) >= 0 && !all_zero(buf, n))
                r = vk_fd_pwrite_full(c->fd, buf, n, off, c->path);
            off += n;
        }
    }
    free(buf);
    return r < 0 ? r : 0;
}

int vk_fs_copy_in(struct vk_fs_copy *c)
{
    struct vk_blockdev *bd = c->bd;
    uint8_t *a = malloc(CHUNK), *b = malloc(CHUNK);
    int r = a && b ? 0 : vk_error(-ENOMEM, "%s: out of memory", bd->name);
    /* Only where the copy holds data can it differ: the tool writes what
     * it changes, and holes were zeroes on the device too. */
    off_t pos = 0;
    while (r >= 0 && (uint64_t)pos < bd->size) {
        off_t d = lseek(c->fd, pos, SEEK_DATA);
        if (d < 0)
            break;      /* ENXIO: no more data */
        off_t h = lseek(c->fd, d, SEEK_HOLE);
        if (h < 0 || (uint64_t)h > bd->size)
            h = (off_t)bd->size;
        for (uint64_t off = (uint64_t)d; off < (uint64_t)h && r >= 0;) {
            size_t n = (uint64_t)h - off < CHUNK ? (size_t)((uint64_t)h - off) : CHUNK;
            if ((r = vk_fd_pread_full(c->fd, a, n, off, c->path)) < 0 ||
                (r = vk_bd_pread(bd, b, n, off)) < 0)
                break;
            /* Compare by 4 KiB so a changed bitmap rewrites one block. */
            for (size_t i = 0; i < n && r >= 0; i += 4096) {
                size_t k = n - i < 4096 ? n - i : 4096;
                if (memcmp(a + i, b + i, k))
                    r = vk_bd_pwrite(bd, a + i, k, off + i);
            }
            off += n;
        }
        pos = h;
    }
    free(a);
    free(b);
    return r < 0 ? r : vk_bd_flush(bd);
}

void vk_fs_copy_rename(const struct vk_fs_copy *c, char **output)
{
    size_t lp = strlen(c->path), ln = strlen(c->bd->name), n = 0;
    if (!*output || !lp)
        return;
    for (const char *q = *output; (q = strstr(q, c->path)); q += lp)
        n++;
    if (!n)
        return;
    char *r = malloc(strlen(*output) + n * ln + 1), *w = r;
    if (!r)
        return;
    const char *q = *output, *hit;
    while ((hit = strstr(q, c->path))) {
        memcpy(w, q, (size_t)(hit - q));
        w += hit - q;
        memcpy(w, c->bd->name, ln);
        w += ln;
        q = hit + lp;
    }
    strcpy(w, q);
    free(*output);
    *output = r;
}

void vk_fs_copy_free(struct vk_fs_copy *c)
{
    if (c->fd >= 0)
        close(c->fd);
    if (c->path[0])
        unlink(c->path);
    c->fd = -1;
    c->path[0] = 0;
}

/* Append b to *a (both may be NULL); frees b. */
static void append(char **a, char *b)
{
    if (!b)
        return;
    if (!*a) {
        *a = b;
        return;
    }
    size_t la = strlen(*a), lb = strlen(b);
    char *n = realloc(*a, la + lb + 1);
    if (n) {
        memcpy(n + la, b, lb + 1);
        *a = n;
    }
    free(b);
}

/* How each checker is run and what its exit statuses mean. */
struct checker {
    const char *type;           /* vk_fsprobe type prefix */
    const char *prog;
    const char *check[4], *repair[4];
    int clean_max;              /* status <= this: clean */
    int found;                  /* status <= this: it ran (errors found,
                                   fixed or left); above: it failed */
};

static const struct checker checkers[] = {
    /* e2fsck: 0 clean, 1/2 corrected, 4 left uncorrected, 8+ failed. */
    { "ext", "e2fsck", { "-f", "-n" }, { "-f", "-y" }, 0, 4 },
    /* fsck.fat: 0 clean, 1 errors found (or fixed with -a). */
    { "vfat", "fsck.fat", { "-n" }, { "-a", "-w" }, 0, 1 },
};

static int run_checker(const struct checker *k, const char *const *opts, const char *file,
                       int *status, char **output)
{
    const char *argv[8];
    size_t n = 0;
    argv[n++] = k->prog;
    for (size_t i = 0; i < 4 && opts[i]; i++)
        argv[n++] = opts[i];
    argv[n++] = file;
    argv[n] = NULL;
    return vk_run_capture(argv, NULL, status, output);
}

int vk_fs_check(struct vk_blockdev *bd, bool repair, char **output)
{
    struct vk_fsprobe p;
    *output = NULL;
    int r = vk_fs_probe(bd, &p, NULL);
    if (r < 0)
        return r;
    const struct checker *k = NULL;
    for (size_t i = 0; i < sizeof checkers / sizeof *checkers; i++)
        if (!strncmp(p.type, checkers[i].type, strlen(checkers[i].type)))
            k = &checkers[i];
    if (!k)
        return vk_error(-ENOTSUP, "%s: no checker for a %s filesystem", bd->name, p.type);
    if (repair && !(bd->flags & VK_OPEN_RDWR))
        return vk_error(-EROFS, "%s: opened read-only", bd->name);
    struct vk_fs_copy c;
    if ((r = vk_fs_copy_out(bd, &c)) < 0) {
        vk_fs_copy_free(&c);
        return r;
    }
    int st = 0, res = VK_FSCK_CLEAN;
    char *out = NULL;
    if ((r = run_checker(k, repair ? k->repair : k->check, c.path, &st, &out)) < 0)
        goto done;
    if (st > k->found) {
        r = vk_error(-EIO, "%s: %s failed (exit %d)", bd->name, k->prog, st);
        goto done;
    }
    if (!repair) {
        res = st <= k->clean_max ? VK_FSCK_CLEAN : VK_FSCK_ERRORS;
        goto done;
    }
    /* Write back what the repair changed, then check the result. */
    if (st && (r = vk_fs_copy_in(&c)) < 0)
        goto done;
    char *again = NULL;
    int st2 = 0;
    if ((r = run_checker(k, k->check, c.path, &st2, st ? &again : NULL)) < 0)
        goto done;
    if (st2 > k->clean_max) {
        res = VK_FSCK_ERRORS;
        append(&out, again);
    } else {
        res = st ? VK_FSCK_FIXED : VK_FSCK_CLEAN;
        free(again);
    }
done:
    vk_fs_copy_rename(&c, &out);
    vk_fs_copy_free(&c);
    *output = out;
    return r < 0 ? r : res;
}

int vk_fs_resize(struct vk_blockdev *bd, uint64_t size, char **output)
{
    struct vk_fsprobe p;
    const struct vk_fs_type *t;
    *output = NULL;
    int r = vk_fs_probe(bd, &p, &t);
    if (r < 0)
        return r;
    if (!t->resize)
        return vk_error(-ENOTSUP, "%s: resizing a %s filesystem is not supported", bd->name,
                        p.type);
    if (size > bd->size)
        return vk_error(-ENOSPC, "%s: %llu bytes do not fit in the %llu bytes of the device",
                        bd->name, (unsigned long long)size, (unsigned long long)bd->size);
    if (!(bd->flags & VK_OPEN_RDWR))
        return vk_error(-EROFS, "%s: opened read-only", bd->name);
    return t->resize(bd, size, output);
}
