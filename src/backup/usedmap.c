/* The used-block map of a whole disk for backup: which byte ranges are
 * free (to be stored as zeroes, never as data).
 *
 * Kept whole: the partition table, the boot code and the gap before the
 * first partition (where GRUB's core image lives), anything outside the
 * partitions (the GPT backup, EBRs), and partitions whose contents vmkit
 * cannot map (LVM, LUKS, unknown).  Inside ext, FAT and swap partitions
 * the filesystem's own map decides (fs.h vk_fs_type.used).  Kept bytes
 * that are zero cost nothing either: an all-zero chunk is a hole. */
#include "backup/usedmap.h"

#include "fs/fs.h"
#include "part/part.h"
#include "util/err.h"
#include "util/vec.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int add_free(struct vk_bk_map *m, uint64_t off, uint64_t len)
{
    if (!len)
        return 0;
    if (m->n && m->v[m->n - 1].off + m->v[m->n - 1].len == off) {
        m->v[m->n - 1].len += len;
        return 0;
    }
    struct vk_bk_range *nv = vk_grow(m->v, &m->cap, m->n + 1, sizeof *m->v, 64);
    if (!nv)
        return vk_error(-ENOMEM, "out of memory for the used-block map");
    m->v = nv;
    m->v[m->n++] = (struct vk_bk_range){ off, len };
    return 0;
}

/* Turns the filesystem's used ranges (relative to its partition) into
 * the free ranges between them (absolute). */
struct walk {
    struct vk_bk_map *m;
    uint64_t base, cursor;      /* cursor: relative, end of the last used */
    uint64_t used;
};

static int on_used(void *ctx, uint64_t off, uint64_t len)
{
    struct walk *w = ctx;
    if (off < w->cursor)        /* a driver's contract; never trust it blindly */
        return vk_error(-EINVAL, "used-block map out of order at %llu", (unsigned long long)off);
    int r = add_free(w->m, w->base + w->cursor, off - w->cursor);
    w->cursor = off + len;
    w->used += len;
    return r;
}

/* Map the filesystem on [start, start+size) of disk; fills p. */
static int map_area(struct vk_blockdev *disk, uint64_t start, uint64_t size, const char *label,
                    struct vk_bk_map *m, struct vk_bk_part *p)
{
    struct vk_blockdev *sl;
    struct vk_fsprobe fp;
    const struct vk_fs_type *type = NULL;
    p->start = start;
    p->size = size;
    p->kept = size;
    int r = vk_slice_open(disk, start, size, label, false, &sl);
    if (r < 0)
        return r;
    if (vk_fs_probe(sl, &fp, &type) < 0 || !type->used) {
        if (type)
            snprintf(p->fs, sizeof p->fs, "%s", fp.type);
        vk_error_clear();
        vk_bd_close(sl);
        return 0;               /* kept whole */
    }
    snprintf(p->fs, sizeof p->fs, "%s", fp.type);
    size_t n0 = m->n;
    struct walk w = { m, start, 0, 0 };
    uint64_t span = 0;
    r = vk_fs_used(sl, type, on_used, &w, &span);
    if (r == 0 && span > w.cursor)
        r = add_free(m, start + w.cursor, span - w.cursor);
    if (r < 0) {
        /* Cannot map it (damaged): keep every byte rather than lose any. */
        vk_warn("%s: %s: keeping every block", label, vk_errmsg());
        vk_error_clear();
        m->n = n0;
        r = 0;
    } else {
        p->kept = size - (span - w.used);
    }
    vk_bd_close(sl);
    return r;
}

static int cmp_part(const void *a, const void *b)
{
    const struct vk_part *x = a, *y = b;
    return x->start < y->start ? -1 : x->start > y->start;
}

int vk_bk_map_disk(struct vk_blockdev *disk, struct vk_bk_map *m, char table[8],
                   struct vk_bk_part **parts, size_t *nparts)
{
    memset(m, 0, sizeof *m);
    *parts = NULL;
    *nparts = 0;
    int r = vk_ptable_probe(disk);
    if (r < 0)
        return r;
    if (r == VK_LABEL_NONE) {
        /* A filesystem on the whole disk, or whatever it is: partition 0 */
        snprintf(table, 8, "none");
        if (!(*parts = calloc(1, sizeof **parts)))
            return vk_error(-ENOMEM, "out of memory");
        *nparts = 1;
        return map_area(disk, 0, disk->size, disk->name, m, *parts);
    }
    struct vk_ptable t;
    memset(&t, 0, sizeof t);
    if ((r = vk_ptable_read(disk, &t)) < 0) {
        /* A damaged table: nothing can be called free. */
        vk_warn("%s: keeping every block", vk_errmsg());
        vk_error_clear();
        snprintf(table, 8, "none");
        return 0;
    }
    snprintf(table, 8, "%s", r == 0 && t.label == VK_LABEL_GPT ? "gpt" : "mbr");
    struct vk_part *v = calloc(t.n ? t.n : 1, sizeof *v);
    struct vk_bk_part *bp = calloc(t.n ? t.n : 1, sizeof *bp);
    size_t n = 0;
    if (!v || !bp)
        r = vk_error(-ENOMEM, "out of memory");
    for (unsigned i = 0; r >= 0 && i < t.n; i++) {
        /* The extended container is EBRs and logical partitions: the
         * logical ones are mapped, the EBRs kept as "outside". */
        if (t.label == VK_LABEL_MBR && vk_mbr_is_extended(t.p[i].mbr_type))
            continue;
        v[n++] = t.p[i];
    }
    if (r >= 0)
        qsort(v, n, sizeof *v, cmp_part);
    for (size_t i = 0; r >= 0 && i < n; i++) {
        uint64_t start = v[i].start * VK_SECTOR, size = v[i].size * VK_SECTOR;
        if (start >= disk->size)
            continue;
        if (size > disk->size - start)
            size = disk->size - start;
        char label[64];
        snprintf(label, sizeof label, "%.40s:%u", disk->name, v[i].number);
        bp[*nparts].number = v[i].number;
        r = map_area(disk, start, size, label, m, &bp[*nparts]);
        (*nparts)++;
    }
    free(v);
    vk_ptable_free(&t);
    if (r < 0) {
        free(bp);
        vk_bk_map_free(m);
        *nparts = 0;
        return r;
    }
    *parts = bp;
    return 0;
}

void vk_bk_map_free(struct vk_bk_map *m)
{
    free(m->v);
    memset(m, 0, sizeof *m);
}
