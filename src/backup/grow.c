/* restore --grow: after a disk was restored to a bigger image, the last
 * partition and its filesystem are grown to the image's end; restore to a
 * smaller image: the last partition and its filesystem are shrunk to fit
 * before the image is cut.  The table is
 * edited and written by src/part (GPT: backup header and array moved to
 * the new end, CRCs by the label driver, as `part fix`); the filesystem is
 * grown by its driver's resize op (fs/fsck.h: resize2fs for ext, the FAT
 * resizer in place), as `vmkit fs resize` does. */
#include "backup/backup.h"

#include "block/blockdev.h"
#include "fs/fsck.h"
#include "part/part.h"
#include "util/err.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The non-extended partition that ends last, or NULL. */
static struct vk_part *last_part(struct vk_ptable *t)
{
    struct vk_part *last = NULL;
    for (unsigned i = 0; i < t->n; i++) {
        struct vk_part *p = &t->p[i];
        if (t->label == VK_LABEL_MBR && vk_mbr_is_extended(p->mbr_type) && !p->logical)
            continue;
        if (!last || p->start + p->size > last->start + last->size)
            last = p;
    }
    return last;
}

/* Grow partition n to end at sector hi (legacy CHS: the last whole
 * cylinder, which vk_part_resize finds by itself). */
static int grow_to(struct vk_ptable *t, unsigned n, uint64_t hi, const char *name)
{
    struct vk_part *p = vk_ptable_find(t, n);
    if (t->label == VK_LABEL_MBR && t->legacy_chs)
        return vk_part_resize(t, n, 0, name);
    if (hi + 1 <= p->start + p->size)
        return 0;       /* already there */
    return vk_part_resize(t, n, hi - p->start + 1, name);
}

/* Grow the filesystem on [off, off+len) of disk to its end; what cannot
 * be grown (no resize op, a FAT that would need a bigger FAT) is not an
 * error: it goes to g->note. */
int vk_bk_grow_fs(struct vk_blockdev *disk, uint64_t off, uint64_t len, const char *name,
                  struct vk_bk_grown *g)
{
    struct vk_blockdev *sl;
    int r = vk_slice_open(disk, off, len, name, false, &sl);
    if (r < 0)
        return r;
    char *out = NULL;
    r = vk_fs_resize(sl, 0, &out);
    vk_bd_close(sl);
    if (r >= 0)
        g->fs_grown = true;
    else if (r == -ENOTSUP || r == -ENOSPC || r == -ENOENT) {
        snprintf(g->note, sizeof g->note, "%s", vk_errmsg());
        vk_error_clear();
        r = 0;
    } else if (out)
        snprintf(g->note, sizeof g->note, "%s", out);   /* the tool's words, for the caller */
    free(out);
    return r;
}

/* Shrink the filesystem on [off, off+len) of disk to new_len bytes.  One
 * that cannot shrink (no resize op, more data than fits, a FAT whose last
 * clusters are in use) is an error here: the restore is refused. */
static int shrink_fs(struct vk_blockdev *disk, uint64_t off, uint64_t len, uint64_t new_len,
                     const char *name, struct vk_bk_grown *g)
{
    struct vk_blockdev *sl;
    int r = vk_slice_open(disk, off, len, name, false, &sl);
    if (r < 0)
        return r;
    char *out = NULL;
    r = vk_fs_resize(sl, new_len, &out);
    vk_bd_close(sl);
    if (r >= 0)
        g->fs_grown = true;
    else if (out)
        snprintf(g->note, sizeof g->note, "%s", out);
    free(out);
    return r < 0 ? vk_error_prefix(r, "cannot shrink %s to %llu bytes: ", name,
                                   (unsigned long long)new_len) : 0;
}

int vk_bk_grow_last(struct vk_blockdev *disk, const char *dname, uint64_t old_size,
                    struct vk_bk_grown *g)
{
    struct vk_ptable t;
    memset(g, 0, sizeof *g);
    int r = vk_ptable_read(disk, &t);
    if (r == -ENOENT) {         /* a filesystem on the whole disk */
        vk_error_clear();
        g->part_size = disk->size;
        return vk_bk_grow_fs(disk, 0, disk->size, dname, g);
    }
    if (r < 0)
        return r;
    if (t.label == VK_LABEL_GPT) {
        /* The old backup header and array would stay behind, mid-disk. */
        uint64_t asec = ((uint64_t)t.gpt_nentries * t.gpt_entry_size + VK_SECTOR - 1) / VK_SECTOR;
        uint64_t n = (asec + 1) * VK_SECTOR;
        if (old_size >= n && (r = vk_bd_write_zeroes(disk, old_size - n, n, 0)) < 0)
            goto out;
    }
    vk_ptable_fit_disk(&t, disk->size / VK_SECTOR);
    uint64_t hi = vk_ptable_usable_end(&t);
    if (t.label == VK_LABEL_MBR && hi > UINT32_MAX)
        hi = UINT32_MAX;        /* an MBR addresses 2 TiB */
    struct vk_part *p = last_part(&t);
    if (p && p->logical) {
        struct vk_part *ext = vk_ptable_extended(&t);
        if ((r = grow_to(&t, ext->number, hi, disk->name)) < 0)
            goto out;
        p = last_part(&t);
        hi = ext->start + ext->size - 1;
    }
    if (p && (r = grow_to(&t, p->number, hi, disk->name)) < 0)
        goto out;
    if ((r = vk_ptable_write(disk, &t)) < 0 || !p)
        goto out;
    p = last_part(&t);
    char name[4200];
    snprintf(name, sizeof name, "%s:%u", dname, p->number);
    g->part = p->number;
    g->part_size = p->size * VK_SECTOR;
    r = vk_bk_grow_fs(disk, p->start * VK_SECTOR, p->size * VK_SECTOR, name, g);
out:
    vk_ptable_free(&t);
    return r;
}

int vk_bk_shrink_last(struct vk_blockdev *disk, const char *dname, uint64_t new_size,
                      struct vk_bk_grown *g)
{
    struct vk_ptable t;
    char name[4200];
    memset(g, 0, sizeof *g);
    int r = vk_ptable_read(disk, &t);
    if (r == -ENOENT) {         /* a filesystem on the whole disk */
        vk_error_clear();
        g->part_size = new_size;
        snprintf(name, sizeof name, "%s", dname);
        r = shrink_fs(disk, 0, disk->size, new_size, name, g);
        return r < 0 ? r : vk_bd_truncate(disk, new_size, true);
    }
    if (r < 0)
        return r;
    vk_ptable_fit_disk(&t, new_size / VK_SECTOR);
    uint64_t hi = vk_ptable_usable_end(&t);
    struct vk_part *p = last_part(&t);
    if (!p || p->start + p->size - 1 <= hi) {
        /* Nothing to cut (or no partition): only the table moves. */
    } else if (p->start + VK_ALIGN > hi) {
        r = vk_error(-ENOSPC, "%s: %llu bytes end before partition %u has room (it starts at "
                     "byte %llu)", dname, (unsigned long long)new_size, p->number,
                     (unsigned long long)(p->start * VK_SECTOR));
    } else {
        uint64_t old_len = p->size * VK_SECTOR;
        p->size = hi - p->start + 1;
        struct vk_part *ext = p->logical ? vk_ptable_extended(&t) : NULL;
        if (ext)
            ext->size = hi - ext->start + 1;
        g->part = p->number;
        g->part_size = p->size * VK_SECTOR;
        snprintf(name, sizeof name, "%s:%u", dname, p->number);
        if ((r = vk_ptable_validate(&t, dname)) == 0)
            r = shrink_fs(disk, p->start * VK_SECTOR, old_len, g->part_size, name, g);
    }
    /* Only the last partition can shrink: another past the end is named. */
    if (r == 0 && (r = vk_ptable_validate(&t, dname)) < 0)
        vk_error_prefix(r, "only the partition that ends last can shrink: ");
    /* The table first (GPT's backup lands at the new end, inside the
     * disk), then the cut. */
    if (r == 0 && (r = vk_ptable_write(disk, &t)) == 0)
        r = vk_bd_truncate(disk, new_size, true);
    vk_ptable_free(&t);
    return r;
}
