/* backup import: a Clonezilla image directory (clonezilla.c lists its
 * files) as a new snapshot.  The disk is rebuilt in a sparse temporary
 * file: the table from <disk>-pt.sf (vmkit's sfdisk-script parser), the
 * MBR, hidden data and GPT copies byte for byte, and each partition's
 * used blocks from its partclone image (or every byte of a dd image);
 * then save's own path stores it, so an import is what save would have
 * made of the disk: the same chunks, deduplicated against the repository.
 * The temporary file is REPO/snapshots/.import-XXXXXX, a name readers
 * skip and gc removes should an import be killed. */
#include "backup/backup.h"
#include "backup/czin.h"
#include "backup/partclone.h"

#include "block/blockdev.h"
#include "part/part.h"
#include "util/err.h"
#include "util/file.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SMALL_MAX (1u << 20)            /* disk, parts, pt.sf */
#define HIDDEN_MAX (64u << 20)
#define PROBE_SIZE (1ull << 50)         /* the disk while its size is not known */
#define IO_BUF (1u << 20)

struct imp {
    const char *dir;
    int dirfd;
    char disk[64];              /* "sda" */
    int fd;                     /* the temporary disk */
    const char *tmp;
    uint64_t size;
};

/* The small file name of the directory as *text (malloc'd, NUL-ended);
 * optional: a missing one is *text NULL. */
static int small(struct imp *m, const char *name, char **text, bool optional)
{
    char path[PATH_MAX];
    size_t len;
    snprintf(path, sizeof path, "%s/%s", m->dir, name);
    int r = vk_read_small_file(path, strstr(name, "hidden") ? HIDDEN_MAX : SMALL_MAX, text, &len);
    if (r == -ENOENT && optional) {
        vk_error_clear();
        *text = NULL;
        return 0;
    }
    return r;
}

/* Write len bytes of data at off of the temporary disk. */
static int put_disk(struct imp *m, const void *data, size_t len, uint64_t off)
{
    const uint8_t *p = data;
    while (len) {
        ssize_t w = pwrite(m->fd, p, len, (off_t)off);
        if (w <= 0)
            return vk_error(w < 0 ? -errno : -EIO, "%s: %s", m->tmp,
                            w < 0 ? strerror(errno) : "short write");
        p += w;
        off += (uint64_t)w;
        len -= (size_t)w;
    }
    return 0;
}

/* The table from pt.sf: parsed against a disk too large to matter to
 * learn the disk's size (GPT: its last usable sector and the backup
 * table after it; MBR: the end of the last partition), then again against
 * a disk of that size, and written. */
static int build_table(struct imp *m, struct vk_ptable *t)
{
    char name[96], *sf;
    snprintf(name, sizeof name, "%s-pt.sf", m->disk);
    int r = small(m, name, &sf, false);
    if (r < 0)
        return r;
    for (int pass = 0; r >= 0 && pass < 2; pass++) {
        uint64_t size = pass ? m->size : PROBE_SIZE;
        /* The host filesystem's largest file will do for the probe. */
        while (ftruncate(m->fd, (off_t)size) < 0 && errno == EFBIG && !pass && size > (1ull << 32))
            size /= 2;
        if (ftruncate(m->fd, (off_t)size) < 0) {
            r = vk_error(-errno, "%s: %s", m->tmp, strerror(errno));
            break;
        }
        struct vk_blockdev *bd;
        if ((r = vk_bd_open(m->tmp, "raw", VK_OPEN_RDWR | VK_OPEN_NOLOCK | VK_OPEN_BULK, &bd)) < 0)
            break;
        FILE *f = fmemopen(sf, strlen(sf), "r");
        vk_ptable_free(t);
        memset(t, 0, sizeof *t);
        if (!f)
            r = vk_error(-ENOMEM, "out of memory");
        else if ((r = vk_ptable_load(bd, f, name, t)) < 0)
            r = vk_error_prefix(r, "%s/%s: ", m->dir, name);
        if (f)
            fclose(f);
        if (r >= 0 && !pass) {
            uint64_t end = 0;
            if (t->label == VK_LABEL_GPT) {
                end = t->last_lba + 2 +
                      ((uint64_t)t->gpt_nentries * t->gpt_entry_size + VK_SECTOR - 1) / VK_SECTOR;
            } else {
                for (unsigned i = 0; i < t->n; i++)
                    if (t->p[i].start + t->p[i].size > end)
                        end = t->p[i].start + t->p[i].size;
            }
            if (!t->n || end < 2)
                r = vk_error(-EINVAL, "%s/%s: no partitions", m->dir, name);
            m->size = end * VK_SECTOR;
        }
        if (r >= 0 && pass)
            r = vk_ptable_write(bd, t);
        int c = vk_bd_close(bd);
        if (r >= 0)
            r = c;
    }
    free(sf);
    return r;
}

/* A raw copy of sectors (the MBR, hidden data, GPT copies) at sector at;
 * len must be exactly want bytes unless want is 0 (then a whole number of
 * sectors ending by limit). */
static int overlay(struct imp *m, const char *suffix, uint64_t at, size_t want, uint64_t limit)
{
    char name[96], *data;
    snprintf(name, sizeof name, "%s-%s", m->disk, suffix);
    int r = small(m, name, &data, true);
    if (r < 0 || !data)
        return r;
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", m->dir, name);
    struct stat st;
    size_t len = fstatat(m->dirfd, name, &st, 0) == 0 ? (size_t)st.st_size : 0;
    if (want ? len != want : (len % VK_SECTOR || at * VK_SECTOR + len > limit * VK_SECTOR))
        r = vk_error(-EINVAL, "%s: %zu bytes do not fit sectors %llu-%llu of the disk", path, len,
                     (unsigned long long)at,
                     (unsigned long long)(want ? at + want / VK_SECTOR : limit) - 1);
    else if (at * VK_SECTOR + len > m->size)
        r = vk_error(-EINVAL, "%s: past the disk's end (%llu bytes)", path,
                     (unsigned long long)m->size);
    else
        r = put_disk(m, data, len, at * VK_SECTOR);
    free(data);
    return r;
}

struct part_out {
    struct imp *m;
    uint64_t start, size;       /* bytes */
};

static int put_block(void *ctx, uint64_t off, const void *buf, size_t len)
{
    struct part_out *p = ctx;
    return put_disk(p->m, buf, len, p->start + off);
}

/* A dd image: every byte, all-zero blocks left as holes. */
static int read_dd(struct vk_czin *z, struct part_out *p)
{
    uint8_t *buf = malloc(IO_BUF);
    if (!buf)
        return vk_error(-ENOMEM, "out of memory");
    uint64_t off = 0;
    long n;
    int r = 0;
    while (r >= 0 && (n = vk_czin_read(z, buf, IO_BUF)) != 0) {
        if (n < 0) {
            r = (int)n;
        } else if ((uint64_t)n > p->size - off) {
            r = vk_error(-EINVAL, "%s: larger than the partition (%llu bytes)", z->what,
                         (unsigned long long)p->size);
        } else {
            bool zero = !buf[0] && !memcmp(buf, buf + 1, (size_t)n - 1);
            if (!zero)
                r = put_disk(p->m, buf, (size_t)n, p->start + off);
            off += (uint64_t)n;
        }
    }
    free(buf);
    return r;
}

/* The image file of partition pname, without its .aa: *base (malloc'd;
 * NULL when there is none). */
static int find_image(struct imp *m, const char *pname, char **base)
{
    DIR *d = opendir(m->dir);
    if (!d)
        return vk_error(-errno, "%s: %s", m->dir, strerror(errno));
    size_t pl = strlen(pname);
    struct dirent *de;
    bool oom = false;
    *base = NULL;
    while (!*base && !oom && (de = readdir(d))) {
        size_t l = strlen(de->d_name);
        if (l > pl + 4 && !strncmp(de->d_name, pname, pl) && de->d_name[pl] == '.' &&
            !strcmp(de->d_name + l - 3, ".aa") &&
            (strstr(de->d_name + pl, "-ptcl-img.") || strstr(de->d_name + pl, ".dd-img."))) {
            *base = strndup(de->d_name, l - 3);
            oom = !*base;
        }
    }
    closedir(d);
    return oom ? vk_error(-ENOMEM, "out of memory") : 0;
}

static int import_part(struct imp *m, const struct vk_ptable *t, const char *pname)
{
    const char *num = pname + strlen(m->disk);
    if (*num == 'p')                            /* nvme0n1p1, mmcblk0p1 */
        num++;
    char *end;
    unsigned long n = strtoul(num, &end, 10);
    const struct vk_part *p = NULL;
    for (unsigned i = 0; i < t->n; i++)
        if (t->p[i].number == n)
            p = &t->p[i];
    if (strncmp(pname, m->disk, strlen(m->disk)) || !isdigit((unsigned char)*num) || *end || !p)
        return vk_error(-EINVAL, "%s/parts: \"%s\" is not a partition of %s in %s-pt.sf", m->dir,
                        pname, m->disk, m->disk);
    char *base;
    int r = find_image(m, pname, &base);
    if (r < 0)
        return r;
    if (!base) {
        char swap[96];
        struct stat st;
        snprintf(swap, sizeof swap, "swappt-%s.info", pname);
        if (fstatat(m->dirfd, swap, &st, 0) == 0)
            return 0;   /* swap: Clonezilla keeps its UUID only; nothing to store */
        return vk_error(-ENOENT, "%s: no image of %s (%s.*-ptcl-img.*.aa)", m->dir, pname, pname);
    }
    struct part_out po = { m, p->start * VK_SECTOR, p->size * VK_SECTOR };
    struct vk_czin z;
    r = vk_czin_open(&z, m->dirfd, m->dir, base);
    uint8_t head[16];
    size_t got = 0;
    while (r >= 0 && got < sizeof head) {
        long k = vk_czin_read(&z, head + got, sizeof head - got);
        if (k <= 0) {
            r = (int)k;
            break;
        }
        got += (size_t)k;
    }
    if (r >= 0) {
        vk_czin_unread(&z, head, got);
        struct vk_pc_info info;
        bool dd = strstr(base, ".dd-") && (got < 16 || memcmp(head, "partclone-image", 16));
        r = dd ? read_dd(&z, &po)
               : vk_pc_read(vk_czin_read, &z, z.what, po.size, &info, put_block, &po);
    }
    vk_czin_close(&z);
    free(base);
    return r;
}

/* Token i of text (space or newline separated) into buf; false if none. */
static bool token(const char *text, unsigned i, char *buf, size_t len)
{
    const char *p = text;
    for (;;) {
        p += strspn(p, " \t\r\n");
        if (!*p)
            return false;
        size_t l = strcspn(p, " \t\r\n");
        if (!i--) {
            snprintf(buf, len, "%.*s", (int)l, p);
            return l < len;
        }
        p += l;
    }
}

static int build_disk(struct imp *m)
{
    char *disk, *parts, tok[64];
    int r = small(m, "disk", &disk, false);
    if (r < 0)
        return r;
    if (!token(disk, 0, m->disk, sizeof m->disk) || strspn(m->disk, "abcdefghijklmnopqrstuvwxyz"
                                                           "0123456789") != strlen(m->disk))
        r = vk_error(-EINVAL, "%s/disk: no disk name", m->dir);
    else if (token(disk, 1, tok, sizeof tok))
        r = vk_error(-ENOTSUP, "%s/disk: more than one disk (import reads an image of one)",
                     m->dir);
    free(disk);
    if (r < 0 || (r = small(m, "parts", &parts, false)) < 0)
        return r;
    struct vk_ptable t;
    memset(&t, 0, sizeof t);
    r = build_table(m, &t);
    uint64_t first = m->size / VK_SECTOR;
    for (unsigned i = 0; i < t.n; i++)
        if (t.p[i].start < first)
            first = t.p[i].start;
    if (r >= 0)
        r = overlay(m, "mbr", 0, VK_SECTOR, 0);
    if (r >= 0)
        r = overlay(m, "hidden-data-after-mbr", 1, 0, first);
    if (r >= 0 && t.label == VK_LABEL_GPT)
        r = overlay(m, "gpt-1st", 0, 34 * VK_SECTOR, 0);
    if (r >= 0 && t.label == VK_LABEL_GPT)
        r = overlay(m, "gpt-2nd", m->size / VK_SECTOR - 33, 33 * VK_SECTOR, 0);
    if (r >= 0 && !token(parts, 0, tok, sizeof tok))
        r = vk_error(-EINVAL, "%s/parts: no partitions", m->dir);
    for (unsigned i = 0; r >= 0 && token(parts, i, tok, sizeof tok); i++)
        r = import_part(m, &t, tok);
    vk_ptable_free(&t);
    free(parts);
    return r;
}

int vk_bk_import(struct vk_bk_repo *r, const char *dir, const char *name,
                 vk_bk_progress_fn progress, void *pctx, struct vk_bk_snap *out)
{
    memset(out, 0, sizeof *out);
    struct imp m = { .dir = dir, .fd = -1 };
    char tmp[PATH_MAX];
    if ((m.dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
        return vk_error(-errno, "%s: %s", dir, strerror(errno));
    snprintf(tmp, sizeof tmp, "%s/snapshots/.import-XXXXXX", r->path);
    m.tmp = tmp;
    int e = (m.fd = mkostemp(tmp, O_CLOEXEC)) < 0 ? vk_error(-errno, "%s: %s", tmp,
                                                              strerror(errno)) : 0;
    if (e >= 0)
        e = build_disk(&m);
    if (e >= 0) {
        char base[PATH_MAX];
        snprintf(base, sizeof base, "%s", dir);
        size_t l = strlen(base);
        while (l > 1 && base[l - 1] == '/')
            base[--l] = 0;
        const char *b = strrchr(base, '/') ? strrchr(base, '/') + 1 : base;
        struct vk_blockdev *bd;
        if ((e = vk_bd_open(tmp, "raw", VK_OPEN_NOLOCK, &bd)) >= 0) {
            e = vk_bk_save_bd(r, bd, dir, "clonezilla", name ? name : b, progress, pctx, out);
            vk_bd_close(bd);
        }
    }
    if (m.fd >= 0) {
        close(m.fd);
        unlink(tmp);
    }
    close(m.dirfd);
    return e;
}
