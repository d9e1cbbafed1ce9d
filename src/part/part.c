/* Generic partition-table code: probe, read/write dispatch, validation and
 * the edits of `part add/del/resize`.  Label formats live in mbr.c, gpt.c. */
#include "part/part.h"

#include "util/err.h"
#include "util/size.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

const struct vk_label_ops *vk_label_ops(enum vk_label_type l)
{
    return l == VK_LABEL_MBR ? &vk_label_mbr : l == VK_LABEL_GPT ? &vk_label_gpt : NULL;
}

bool vk_mbr_is_extended(uint8_t type)
{
    return type == 0x05 || type == 0x0f || type == 0x85;
}

int vk_ptable_probe(struct vk_blockdev *bd)
{
    uint8_t s[1024];
    int r;

    if (bd->size < 2 * VK_SECTOR)
        return VK_LABEL_NONE;
    if ((r = vk_bd_pread(bd, s, sizeof s, 0)) < 0)
        return r;
    bool sig = s[510] == 0x55 && s[511] == 0xaa;
    bool gpt_hdr = !memcmp(s + 512, "EFI PART", 8);
    if (sig) {
        bool plausible = true, pmbr = false;
        for (int i = 0; i < 4; i++) {
            const uint8_t *e = s + 446 + 16 * i;
            if (e[0] != 0 && e[0] != 0x80)
                plausible = false;
            if (e[4] == 0xee)
                pmbr = true;
        }
        if (pmbr)
            return VK_LABEL_GPT;
        if (plausible)
            return VK_LABEL_MBR;
    }
    /* No MBR: a GPT whose protective MBR was lost is still a GPT, and one
     * whose primary header is lost may still have its backup at the end. */
    if (gpt_hdr)
        return VK_LABEL_GPT;
    if (!sig) {
        uint8_t b[8];
        if (vk_bd_pread(bd, b, 8, bd->size / VK_SECTOR * VK_SECTOR - VK_SECTOR) == 0 &&
            !memcmp(b, "EFI PART", 8))
            return VK_LABEL_GPT;
    }
    return VK_LABEL_NONE;
}

void vk_ptable_free(struct vk_ptable *t)
{
    free(t->p);
    t->p = NULL;
    t->n = t->cap = 0;
}

int vk_ptable_read(struct vk_blockdev *bd, struct vk_ptable *t)
{
    int l = vk_ptable_probe(bd);

    memset(t, 0, sizeof *t);
    if (l < 0)
        return l;
    if (l == VK_LABEL_NONE)
        return vk_error(-ENOENT, "%s: no partition table", bd->name);
    t->label = l;
    t->disk_sectors = bd->size / VK_SECTOR;
    int r = vk_label_ops(l)->read(bd, t);
    if (r < 0) {
        vk_ptable_free(t);
        return r;
    }
    if (l == VK_LABEL_MBR)
        vk_ptable_detect_legacy(t);
    r = vk_ptable_validate(t, bd->name);
    if (r < 0)
        vk_ptable_free(t);
    return r;
}

int vk_ptable_init(struct vk_blockdev *bd, struct vk_ptable *t, enum vk_label_type l, bool legacy)
{
    memset(t, 0, sizeof *t);
    t->label = l;
    t->disk_sectors = bd->size / VK_SECTOR;
    if (legacy && l != VK_LABEL_MBR)
        return vk_error(-EINVAL, "%s: legacy CHS geometry applies to MBR tables only", bd->name);
    if (t->disk_sectors < (legacy ? VK_CYL : 2048 + 68))
        return vk_error(-EINVAL, "%s: disk of %llu bytes is too small for a partition table",
                        bd->name, (unsigned long long)bd->size);
    return vk_label_ops(l)->init(t, legacy);
}

int vk_ptable_write(struct vk_blockdev *bd, struct vk_ptable *t)
{
    int r;

    if (!(bd->flags & VK_OPEN_RDWR))
        return vk_error(-EROFS, "%s: opened read-only", bd->name);
    if ((r = vk_ptable_validate(t, bd->name)) < 0)
        return r;
    if ((r = vk_label_ops(t->label)->write(bd, t)) < 0)
        return r;
    return vk_bd_flush(bd);
}

struct vk_part *vk_ptable_find(struct vk_ptable *t, unsigned n)
{
    for (unsigned i = 0; i < t->n; i++)
        if (t->p[i].number == n)
            return &t->p[i];
    return NULL;
}

struct vk_part *vk_ptable_extended(struct vk_ptable *t)
{
    if (t->label != VK_LABEL_MBR)
        return NULL;
    for (unsigned i = 0; i < t->n; i++)
        if (!t->p[i].logical && vk_mbr_is_extended(t->p[i].mbr_type))
            return &t->p[i];
    return NULL;
}

int vk_ptable_insert(struct vk_ptable *t, const struct vk_part *p)
{
    if (t->n == t->cap) {
        unsigned cap = t->cap ? t->cap * 2 : 8;
        struct vk_part *np = realloc(t->p, cap * sizeof *np);
        if (!np)
            return vk_error(-ENOMEM, "out of memory");
        t->p = np;
        t->cap = cap;
    }
    unsigned i = t->n;
    while (i > 0 && t->p[i - 1].number > p->number) {
        t->p[i] = t->p[i - 1];
        i--;
    }
    t->p[i] = *p;
    t->n++;
    return 0;
}

void vk_ptable_detect_legacy(struct vk_ptable *t)
{
    uint64_t low = UINT64_MAX;
    bool aligned = true;
    unsigned prim = 0;

    for (unsigned i = 0; i < t->n; i++) {
        if (t->p[i].logical)
            continue;
        prim++;
        if (t->p[i].start < low)
            low = t->p[i].start;
        if ((t->p[i].start + t->p[i].size) % VK_CYL)
            aligned = false;
    }
    t->legacy_chs = prim ? (low == VK_SPT && aligned) : t->disk_sig == 0;
}

void vk_ptable_fit_disk(struct vk_ptable *t, uint64_t disk_sectors)
{
    t->disk_sectors = disk_sectors;
    if (t->label == VK_LABEL_GPT) {
        uint64_t asec = ((uint64_t)t->gpt_nentries * t->gpt_entry_size + VK_SECTOR - 1) / VK_SECTOR;
        t->last_lba = disk_sectors - 2 - asec;
    } else
        t->last_lba = disk_sectors - 1;
}

uint64_t vk_ptable_usable_end(const struct vk_ptable *t)
{
    if (t->label == VK_LABEL_MBR && t->legacy_chs) {
        uint64_t cyl = t->disk_sectors / VK_CYL;
        return cyl ? cyl * VK_CYL - 1 : 0;
    }
    return t->last_lba;
}

#define SECS(p) (unsigned long long)(p)->start, (unsigned long long)((p)->start + (p)->size - 1)

static int cmp_start(const void *a, const void *b)
{
    const struct vk_part *x = *(const struct vk_part *const *)a, *y = *(const struct vk_part *const *)b;
    return x->start < y->start ? -1 : x->start > y->start;
}

/* Pairwise overlaps in O(n log n): sort each group by start and compare
 * every partition with the one reaching furthest before it.  Groups: MBR
 * primary (incl. the extended container) and MBR logical; GPT all. */
static int check_overlaps(const struct vk_ptable *t, const char *name)
{
    const struct vk_part **v = malloc((t->n + 1) * sizeof *v);
    int r = 0;
    if (!v)
        return vk_error(-ENOMEM, "out of memory");
    for (int logical = 0; logical < 2 && !r; logical++) {
        unsigned k = 0;
        for (unsigned i = 0; i < t->n; i++)
            if (t->p[i].logical == (bool)logical)
                v[k++] = &t->p[i];
        qsort(v, k, sizeof *v, cmp_start);
        const struct vk_part *far = NULL;
        for (unsigned i = 0; i < k; i++) {
            if (far && v[i]->start < far->start + far->size) {
                const struct vk_part *a = v[i]->number > far->number ? v[i] : far, *b = a == far ? v[i] : far;
                r = vk_error(-EINVAL, "%s: partition %u (sectors %llu-%llu) overlaps partition %u (sectors %llu-%llu)",
                             name, a->number, SECS(a), b->number, SECS(b));
                break;
            }
            if (!far || v[i]->start + v[i]->size > far->start + far->size)
                far = v[i];
        }
    }
    free(v);
    return r;
}

int vk_ptable_validate(const struct vk_ptable *t, const char *name)
{
    const struct vk_part *ext = NULL;
    unsigned next_logical = 5;
    int r;

    for (unsigned i = 0; i < t->n; i++) {
        const struct vk_part *p = &t->p[i];
        if (p->size == 0)
            return vk_error(-EINVAL, "%s: partition %u has no sectors", name, p->number);
        if (p->start < t->first_lba)
            return vk_error(-EINVAL, "%s: partition %u (sectors %llu-%llu) starts before the first usable sector %llu",
                            name, p->number, SECS(p), (unsigned long long)t->first_lba);
        if (p->start + p->size - 1 > t->last_lba || p->start + p->size < p->start)
            return vk_error(-EINVAL, "%s: partition %u (sectors %llu-%llu) ends beyond the last usable sector %llu",
                            name, p->number, SECS(p), (unsigned long long)t->last_lba);
        if (t->label == VK_LABEL_GPT) {
            if (p->number < 1 || p->number > t->gpt_nentries)
                return vk_error(-EINVAL, "%s: partition %u: the table has %u entries", name,
                                p->number, t->gpt_nentries);
        } else {
            if (p->start > UINT32_MAX || p->size > UINT32_MAX)
                return vk_error(-EINVAL, "%s: partition %u (sectors %llu-%llu) lies beyond the 2 TiB an MBR can address",
                                name, p->number, SECS(p));
            if (p->logical) {
                if (p->number != next_logical++)
                    return vk_error(-EINVAL, "%s: logical partitions are not numbered 5, 6, ... (found %u)",
                                    name, p->number);
            } else if (p->number < 1 || p->number > 4) {
                return vk_error(-EINVAL, "%s: primary partition number %u not in 1-4", name, p->number);
            } else if (vk_mbr_is_extended(p->mbr_type)) {
                if (ext)
                    return vk_error(-EINVAL, "%s: partitions %u and %u are both extended partitions",
                                    name, ext->number, p->number);
                ext = p;
            }
        }
    }
    if ((r = check_overlaps(t, name)) < 0)
        return r;
    if (t->label != VK_LABEL_MBR)
        return 0;
    for (unsigned i = 0; i < t->n; i++) {
        const struct vk_part *p = &t->p[i];
        if (!p->logical)
            continue;
        if (!ext)
            return vk_error(-EINVAL, "%s: logical partition %u without an extended partition", name, p->number);
        /* Its EBR takes at least one sector before it inside the extended. */
        if (p->start <= ext->start || p->start + p->size > ext->start + ext->size)
            return vk_error(-EINVAL, "%s: logical partition %u (sectors %llu-%llu) is not inside extended partition %u (sectors %llu-%llu)",
                            name, p->number, SECS(p), ext->number, SECS(ext));
        for (unsigned j = 0; j < t->n; j++) {
            const struct vk_part *q = &t->p[j];
            if (q != p && q->logical && q->start + q->size == p->start)
                return vk_error(-EINVAL, "%s: logical partition %u (sectors %llu-%llu) leaves no sector for its EBR after partition %u",
                                name, p->number, SECS(p), q->number);
        }
    }
    return 0;
}

int vk_part_check_align(const struct vk_ptable *t, const struct vk_part *p, const char *name)
{
    uint64_t end = p->start + p->size;

    if (t->label == VK_LABEL_MBR && t->legacy_chs) {
        struct vk_part *ext = vk_ptable_extended((struct vk_ptable *)t);
        bool ok = p->logical ? (p->start >= VK_SPT && (p->start - VK_SPT) % VK_CYL == 0) ||
                                   (ext && p->start == ext->start + VK_SPT)
                             : p->start == VK_SPT || p->start % VK_CYL == 0;
        if (!ok || end % VK_CYL)
            return vk_error(-EINVAL, "%s: partition %u (sectors %llu-%llu) is not aligned to cylinders of %u sectors",
                            name, p->number, SECS(p), VK_CYL);
        return 0;
    }
    if (p->start % VK_ALIGN)
        return vk_error(-EINVAL, "%s: partition %u (sectors %llu-%llu) does not start on a 1 MiB boundary (multiple of %u sectors)",
                        name, p->number, SECS(p), VK_ALIGN);
    return 0;
}

/* The free gap containing sector s in region [lo, hi], considering the
 * partitions of the same kind (primary or logical); false if s is used. */
static bool free_gap(const struct vk_ptable *t, bool logical, uint64_t s, uint64_t lo, uint64_t hi,
                     uint64_t *gend, unsigned skip)
{
    uint64_t e = hi;
    if (s < lo || s > hi)
        return false;
    for (unsigned i = 0; i < t->n; i++) {
        const struct vk_part *p = &t->p[i];
        if (p->number == skip || p->logical != logical)
            continue;
        uint64_t ps = p->start, pe = p->start + p->size - 1;
        if (logical)
            ps = ps > lo ? ps - 1 : ps;   /* its EBR */
        if (s >= ps && s <= pe)
            return false;
        if (ps > s && ps - 1 < e)
            e = ps - 1;
    }
    *gend = e;
    return true;
}

/* First sector at or after s that a new partition may start at.  Legacy
 * CHS (DOS-compatible) layout: the first partition at sector 63 (track 1),
 * other primary and extended ones on a cylinder start, logical ones one
 * track into a cylinder (the EBR takes the first track). */
static uint64_t align_up(const struct vk_ptable *t, uint64_t s, bool logical, bool extended)
{
    (void)extended;
    if (t->label == VK_LABEL_MBR && t->legacy_chs) {
        if (s <= VK_SPT)
            return VK_SPT;
        if (logical)
            return (s - VK_SPT + VK_CYL - 1) / VK_CYL * VK_CYL + VK_SPT;
        return vk_round_up(s, VK_CYL);
    }
    return vk_round_up(s, VK_ALIGN);
}

static int region(const struct vk_ptable *t, bool logical, const char *name, uint64_t *lo, uint64_t *hi)
{
    if (logical) {
        struct vk_part *ext = vk_ptable_extended((struct vk_ptable *)t);
        if (!ext)
            return vk_error(-EINVAL, "%s: a logical partition needs an extended partition", name);
        *lo = ext->start + 1;
        *hi = ext->start + ext->size - 1;
    } else {
        *lo = t->first_lba;
        *hi = vk_ptable_usable_end(t);
        /* An MBR addresses 2^32 sectors (2 TiB); the rest of a bigger
         * disk stays unused, as with sfdisk. */
        if (t->label == VK_LABEL_MBR && *hi > UINT32_MAX)
            *hi = UINT32_MAX;
    }
    return 0;
}

int vk_part_add(struct vk_ptable *t, const struct vk_part_req *r, const char *name, unsigned *number)
{
    struct vk_part p = { 0 };
    uint64_t lo, hi, gend;
    int rc;

    if ((rc = vk_part_parse_type(t, r->type ? r->type : "linux", &p)) < 0)
        return rc;
    p.logical = r->logical || (t->label == VK_LABEL_MBR && r->number >= 5);
    if (p.logical && t->label != VK_LABEL_MBR)
        return vk_error(-EINVAL, "%s: logical partitions exist on MBR tables only", name);
    bool ext = t->label == VK_LABEL_MBR && !p.logical && vk_mbr_is_extended(p.mbr_type);
    if (p.logical && vk_mbr_is_extended(p.mbr_type))
        return vk_error(-EINVAL, "%s: a logical partition cannot be extended", name);
    if ((rc = region(t, p.logical, name, &lo, &hi)) < 0)
        return rc;

    /* Number. */
    if (r->number) {
        p.number = r->number;
        if (vk_ptable_find(t, p.number))
            return vk_error(-EEXIST, "%s: partition %u already exists", name, p.number);
    } else if (p.logical) {
        p.number = 5;
        while (vk_ptable_find(t, p.number))
            p.number++;
    } else {
        unsigned max = t->label == VK_LABEL_MBR ? 4 : t->gpt_nentries;
        for (p.number = 1; p.number <= max && vk_ptable_find(t, p.number); p.number++)
            ;
        if (p.number > max)
            return vk_error(-ENOSPC, "%s: all %u %s slots are in use%s", name, max,
                            t->label == VK_LABEL_MBR ? "primary" : "partition",
                            t->label == VK_LABEL_MBR && !vk_ptable_extended(t) ? "" :
                            t->label == VK_LABEL_MBR ? " (use --logical)" : "");
    }

    /* Start. */
    if (r->start) {
        p.start = r->start;
        if (!free_gap(t, p.logical, p.start, lo, hi, &gend, 0))
            goto in_use;
    } else {
        uint64_t s = lo;
        if (p.logical)
            s = lo + (t->legacy_chs ? VK_SPT - 1 : VK_ALIGN - 1);  /* room for the EBR */
        for (;;) {
            s = r->exact ? s : align_up(t, s, p.logical, ext);
            if (s > hi)
                return vk_error(-ENOSPC, "%s: no free space for a new partition (sectors %llu-%llu are in use)",
                                name, (unsigned long long)lo, (unsigned long long)hi);
            if (free_gap(t, p.logical, s, lo, hi, &gend, 0))
                break;
            /* Jump past the partition that holds s. */
            uint64_t next = s + 1;
            for (unsigned i = 0; i < t->n; i++) {
                const struct vk_part *q = &t->p[i];
                if (q->logical == p.logical && s + (p.logical ? 1 : 0) >= q->start && s < q->start + q->size)
                    next = q->start + q->size + (p.logical ? 1 : 0);
            }
            s = next;
        }
        p.start = s;
    }

    /* Size. */
    if (r->size) {
        p.size = r->size;
        if (!r->exact && t->label == VK_LABEL_MBR && t->legacy_chs) {
            uint64_t end = vk_round_up(p.start + p.size, VK_CYL);
            if (end - 1 > gend)
                end = gend + 1;
            p.size = end - p.start;
        }
        if (p.start + p.size - 1 > gend)
            return vk_error(-ENOSPC, "%s: partition %u (sectors %llu-%llu) does not fit: the free space ends at sector %llu",
                            name, p.number, SECS(&p), (unsigned long long)gend);
    } else {
        uint64_t end = gend + 1;
        if (t->label == VK_LABEL_MBR && t->legacy_chs && !r->exact)
            end = end / VK_CYL * VK_CYL;
        else if (!r->exact && end / VK_ALIGN * VK_ALIGN > p.start)
            end = end / VK_ALIGN * VK_ALIGN;   /* as sfdisk: end on 1 MiB too */
        if (end <= p.start)
            return vk_error(-ENOSPC, "%s: no room for partition %u at sector %llu", name, p.number,
                            (unsigned long long)p.start);
        p.size = end - p.start;
    }
    if (!r->exact && (rc = vk_part_check_align(t, &p, name)) < 0)
        return rc;

    p.attrs = r->attrs;
    if (t->label == VK_LABEL_GPT) {
        if (r->bootable)
            p.attrs |= VK_GPT_ATTR_BIOS_BOOTABLE;
    } else {
        p.bootable = r->bootable;
    }
    if (r->name) {
        if (t->label != VK_LABEL_GPT)
            return vk_error(-EINVAL, "%s: partition names exist on GPT tables only", name);
        if (strlen(r->name) >= sizeof p.name)
            return vk_error(-EINVAL, "%s: partition name too long", name);
        strcpy(p.name, r->name);
    }
    if (t->label == VK_LABEL_GPT) {
        if (r->uuid)
            memcpy(p.uuid, r->uuid, 16);
        else
            vk_guid_random(p.uuid);
    }
    /* Logical numbers follow chain order: a new one goes last. */
    struct vk_ptable nt = *t;
    nt.p = malloc((t->n + 1) * sizeof *nt.p);
    if (!nt.p)
        return vk_error(-ENOMEM, "out of memory");
    if (t->n)
        memcpy(nt.p, t->p, t->n * sizeof *nt.p);
    nt.cap = t->n + 1;
    vk_ptable_insert(&nt, &p);
    if ((rc = vk_ptable_validate(&nt, name)) < 0) {
        free(nt.p);
        return rc;
    }
    free(t->p);
    *t = nt;
    if (number)
        *number = p.number;
    return 0;
in_use:
    for (unsigned i = 0; i < t->n; i++) {
        const struct vk_part *q = &t->p[i];
        if (q->logical == p.logical && p.start + (p.logical ? 1 : 0) >= q->start && p.start < q->start + q->size)
            return vk_error(-EINVAL, "%s: partition %u: start sector %llu is inside partition %u (sectors %llu-%llu)",
                            name, p.number, (unsigned long long)p.start, q->number, SECS(q));
    }
    return vk_error(-EINVAL, "%s: partition %u: start sector %llu is outside the usable sectors %llu-%llu",
                    name, p.number, (unsigned long long)p.start, (unsigned long long)lo, (unsigned long long)hi);
}

int vk_part_del(struct vk_ptable *t, unsigned n, const char *name)
{
    struct vk_part *p = vk_ptable_find(t, n);
    if (!p)
        return vk_error(-ENOENT, "%s: no partition %u", name, n);
    bool ext = t->label == VK_LABEL_MBR && !p->logical && vk_mbr_is_extended(p->mbr_type);
    unsigned w = 0;
    for (unsigned i = 0; i < t->n; i++) {
        struct vk_part *q = &t->p[i];
        if (q->number == n || (ext && q->logical))
            continue;
        /* Logical partitions after a deleted one move up in the chain. */
        if (q->logical && n >= 5 && q->number > n)
            q->number--;
        t->p[w++] = *q;
    }
    t->n = w;
    return 0;
}

int vk_part_resize(struct vk_ptable *t, unsigned n, uint64_t size, const char *name)
{
    struct vk_part *p = vk_ptable_find(t, n);
    uint64_t lo, hi, gend;
    int r;

    if (!p)
        return vk_error(-ENOENT, "%s: no partition %u", name, n);
    if ((r = region(t, p->logical, name, &lo, &hi)) < 0)
        return r;
    if (!free_gap(t, p->logical, p->start, lo, hi, &gend, n))
        return vk_error(-EINVAL, "%s: partition %u lies outside its region", name, n);
    struct vk_part np = *p;
    if (size == 0) {
        uint64_t end = gend + 1;
        if (t->label == VK_LABEL_MBR && t->legacy_chs)
            end = end / VK_CYL * VK_CYL;
        else if (end / VK_ALIGN * VK_ALIGN > np.start)
            end = end / VK_ALIGN * VK_ALIGN;   /* as `add --size rest` */
        if (end <= np.start)
            return vk_error(-ENOSPC, "%s: no room to grow partition %u", name, n);
        np.size = end - np.start;
    } else {
        np.size = size;
        if (t->label == VK_LABEL_MBR && t->legacy_chs)
            np.size = vk_round_up(np.start + size, VK_CYL) - np.start;
        if (np.start + np.size - 1 > gend)
            return vk_error(-ENOSPC, "%s: partition %u (sectors %llu-%llu) would overlap the next partition or pass the end (free up to sector %llu)",
                            name, n, SECS(&np), (unsigned long long)gend);
    }
    if (vk_mbr_is_extended(np.mbr_type) && !np.logical) {
        for (unsigned i = 0; i < t->n; i++)
            if (t->p[i].logical && t->p[i].start + t->p[i].size > np.start + np.size)
                return vk_error(-EINVAL, "%s: extended partition %u (sectors %llu-%llu) would cut logical partition %u",
                                name, n, SECS(&np), t->p[i].number);
    }
    if (t->label == VK_LABEL_MBR && t->legacy_chs && np.size && (np.start + np.size) % VK_CYL)
        return vk_part_check_align(t, &np, name);
    *p = np;
    return vk_ptable_validate(t, name);
}
