/* The MBR (DOS) label: four primary entries in sector 0, logical
 * partitions in a chain of EBRs inside the extended partition.  Boot code
 * (bytes 0-439 of sector 0) is preserved on every write. */
#include "part/part.h"

#include "util/err.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define MAX_LOGICAL 1024

static uint32_t le32(const uint8_t *p)
{
    return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); p[2] = (uint8_t)(v >> 16); p[3] = (uint8_t)(v >> 24);
}

void vk_lba_to_chs(uint64_t lba, uint8_t chs[3])
{
    uint64_t c = lba / VK_CYL, h = lba / VK_SPT % VK_HEADS, s = lba % VK_SPT + 1;
    if (c > 1023) {
        c = 1023; h = 254; s = 63;
    }
    chs[0] = (uint8_t)h;
    chs[1] = (uint8_t)(s | (c >> 2 & 0xc0));
    chs[2] = (uint8_t)c;
}

static void put_entry(uint8_t *e, bool boot, uint8_t type, uint64_t start, uint64_t size, uint64_t rel)
{
    memset(e, 0, 16);
    if (!type)
        return;
    e[0] = boot ? 0x80 : 0;
    vk_lba_to_chs(start, e + 1);
    e[4] = type;
    vk_lba_to_chs(start + size - 1, e + 5);
    put32(e + 8, (uint32_t)(start - rel));
    put32(e + 12, (uint32_t)size);
}

static int read_chain(struct vk_blockdev *bd, struct vk_ptable *t, const struct vk_part *ext)
{
    uint64_t *seen = malloc(MAX_LOGICAL * sizeof *seen);
    uint64_t ebr = ext->start;
    unsigned nseen = 0, number = 5;
    uint8_t s[512];
    int r = 0;

    if (!seen)
        return vk_error(-ENOMEM, "out of memory");
    for (;;) {
        if (ebr < ext->start || ebr >= ext->start + ext->size || ebr >= t->disk_sectors) {
            r = vk_error(-EINVAL, "%s: EBR at sector %llu lies outside extended partition %u (sectors %llu-%llu)",
                         bd->name, (unsigned long long)ebr, ext->number, (unsigned long long)ext->start,
                         (unsigned long long)(ext->start + ext->size - 1));
            break;
        }
        for (unsigned i = 0; i < nseen; i++)
            if (seen[i] == ebr) {
                r = vk_error(-ELOOP, "%s: the extended partition chain loops back to the EBR at sector %llu",
                             bd->name, (unsigned long long)ebr);
                goto out;
            }
        if (nseen == MAX_LOGICAL) {
            r = vk_error(-EINVAL, "%s: more than %d EBRs in the extended partition", bd->name, MAX_LOGICAL);
            break;
        }
        seen[nseen++] = ebr;
        if ((r = vk_bd_pread(bd, s, sizeof s, ebr * VK_SECTOR)) < 0)
            break;
        if (s[510] != 0x55 || s[511] != 0xaa) {
            if (ebr == ext->start)
                break;   /* an empty extended partition */
            r = vk_error(-EINVAL, "%s: EBR at sector %llu has no 55AA signature", bd->name, (unsigned long long)ebr);
            break;
        }
        const uint8_t *d = s + 446, *l = s + 462;
        if (d[4] && le32(d + 12)) {
            struct vk_part p = { .number = number++, .logical = true, .ebr = ebr,
                                 .start = ebr + le32(d + 8), .size = le32(d + 12),
                                 .mbr_type = d[4], .bootable = d[0] == 0x80 };
            if ((r = vk_ptable_insert(t, &p)) < 0)
                break;
        }
        if (!l[4] || !vk_mbr_is_extended(l[4]) || !le32(l + 12))
            break;
        ebr = ext->start + le32(l + 8);
    }
out:
    free(seen);
    return r;
}

static int mbr_read(struct vk_blockdev *bd, struct vk_ptable *t)
{
    uint8_t s[512];
    int r;

    if ((r = vk_bd_pread(bd, s, sizeof s, 0)) < 0)
        return r;
    t->disk_sig = le32(s + 440);
    t->first_lba = 1;
    t->last_lba = t->disk_sectors - 1;
    for (int i = 0; i < 4; i++) {
        const uint8_t *e = s + 446 + 16 * i;
        if (!e[4] || !le32(e + 12))
            continue;
        struct vk_part p = { .number = (unsigned)i + 1, .start = le32(e + 8), .size = le32(e + 12),
                             .mbr_type = e[4], .bootable = e[0] == 0x80 };
        if ((r = vk_ptable_insert(t, &p)) < 0)
            return r;
        /* An isohybrid ISO's partition starts at sector 0 and holds the
         * MBR itself (xorriso -isohybrid-mbr, partition_offset=0): list
         * it as sfdisk does rather than refuse the table. */
        if (p.start == 0)
            t->first_lba = 0;
    }
    struct vk_part *ext = vk_ptable_extended(t);
    if (ext) {
        struct vk_part e = *ext;
        if (e.start + e.size > t->disk_sectors)
            return vk_error(-EINVAL, "%s: extended partition %u (sectors %llu-%llu) ends beyond the last sector %llu",
                            bd->name, e.number, (unsigned long long)e.start,
                            (unsigned long long)(e.start + e.size - 1), (unsigned long long)t->last_lba);
        return read_chain(bd, t, &e);
    }
    return 0;
}

/* Where each logical partition's EBR goes: the first at the start of the
 * extended partition, the others where they were read from if that still
 * fits, else one alignment unit (or as much as the gap allows) before the
 * partition.  ebrs[i] belongs to t->p[i] (logical ones only). */
static int place_ebrs(const struct vk_ptable *t, const struct vk_part *ext, uint64_t *ebrs, const char *name)
{
    uint64_t align = t->legacy_chs ? VK_SPT : VK_ALIGN;

    for (unsigned i = 0; i < t->n; i++) {
        const struct vk_part *p = &t->p[i];
        if (!p->logical)
            continue;
        if (p->number == 5) {
            ebrs[i] = ext->start;
            continue;
        }
        uint64_t lo = ext->start + 1;
        for (unsigned j = 0; j < t->n; j++) {
            const struct vk_part *q = &t->p[j];
            if (q->logical && q->start + q->size <= p->start && q->start + q->size > lo)
                lo = q->start + q->size;
        }
        if (lo >= p->start)
            return vk_error(-EINVAL, "%s: no free sector before logical partition %u (sectors %llu-%llu) for its EBR",
                            name, p->number, (unsigned long long)p->start,
                            (unsigned long long)(p->start + p->size - 1));
        if (p->ebr >= lo && p->ebr < p->start)
            ebrs[i] = p->ebr;
        else
            ebrs[i] = p->start >= lo + align ? p->start - align : lo;
    }
    return 0;
}

/* An MBR replacing a GPT: erase the GPT headers (LBA 1 and, unless a
 * partition holds it, the last sector), as sfdisk does, so no tool finds
 * the old label. */
static int wipe_gpt(struct vk_blockdev *bd, const struct vk_ptable *t)
{
    uint8_t s[512];
    uint64_t lbas[2] = { 1, t->disk_sectors - 1 };
    int r;

    for (int i = 0; i < 2; i++) {
        bool used = false;
        for (unsigned j = 0; j < t->n; j++)
            used |= lbas[i] >= t->p[j].start && lbas[i] < t->p[j].start + t->p[j].size;
        if (used || lbas[i] >= t->disk_sectors)
            continue;
        if ((r = vk_bd_pread(bd, s, sizeof s, lbas[i] * VK_SECTOR)) < 0)
            return r;
        if (memcmp(s, "EFI PART", 8))
            continue;
        memset(s, 0, sizeof s);
        if ((r = vk_bd_pwrite(bd, s, sizeof s, lbas[i] * VK_SECTOR)) < 0)
            return r;
    }
    return 0;
}

static int mbr_write(struct vk_blockdev *bd, const struct vk_ptable *t)
{
    uint8_t s[512];
    int r;

    uint64_t *ebrs = calloc(t->n + 1, sizeof *ebrs);
    if (!ebrs)
        return vk_error(-ENOMEM, "out of memory");
    const struct vk_part *ext = vk_ptable_extended((struct vk_ptable *)t);
    if (ext && (r = place_ebrs(t, ext, ebrs, bd->name)) < 0)
        goto out;

    /* The EBR chain first, from its end: each EBR is written, and
     * synced, before the one that links to it, so a link never points at
     * a sector still waiting for its EBR - after a crash or a power cut
     * (without the syncs the disk may keep the writes in any order);
     * sector 0 next, so a failure leaves the old primary table pointing
     * at an extended partition at worst; an old GPT's headers last (a
     * disk whose MBR is not protective is an MBR disk to every tool, but
     * a protective MBR with its GPT gone would be no table at all). */
    if (ext) {
        unsigned nl = 0;
        for (unsigned i = 0; i < t->n; i++)
            nl += t->p[i].logical;
        if (!nl) {
            memset(s, 0, sizeof s);
            s[510] = 0x55; s[511] = 0xaa;
            if ((r = vk_bd_pwrite(bd, s, sizeof s, ext->start * VK_SECTOR)) < 0 ||
                (r = vk_bd_flush(bd)) < 0)
                goto out;
        }
        for (unsigned i = t->n; i-- > 0;) {
            const struct vk_part *p = &t->p[i];
            if (!p->logical)
                continue;
            memset(s, 0, sizeof s);
            put_entry(s + 446, p->bootable, p->mbr_type, p->start, p->size, ebrs[i]);
            /* The next logical is the next array element (sorted by number). */
            if (i + 1 < t->n && t->p[i + 1].logical) {
                const struct vk_part *q = &t->p[i + 1];
                uint64_t e = ebrs[i + 1];
                put_entry(s + 462, false, 0x05, e, q->start + q->size - e, ext->start);
            }
            s[510] = 0x55; s[511] = 0xaa;
            if ((r = vk_bd_pwrite(bd, s, sizeof s, ebrs[i] * VK_SECTOR)) < 0 ||
                (r = vk_bd_flush(bd)) < 0)
                goto out;
        }
    }
    if ((r = vk_bd_pread(bd, s, sizeof s, 0)) < 0)
        goto out;
    put32(s + 440, t->disk_sig);
    memset(s + 446, 0, 64);
    for (unsigned i = 0; i < t->n; i++) {
        const struct vk_part *p = &t->p[i];
        if (!p->logical)
            put_entry(s + 446 + 16 * (p->number - 1), p->bootable, p->mbr_type, p->start, p->size, 0);
    }
    s[510] = 0x55; s[511] = 0xaa;
    if ((r = vk_bd_pwrite(bd, s, sizeof s, 0)) == 0 && (r = vk_bd_flush(bd)) == 0)
        r = wipe_gpt(bd, t);
out:
    free(ebrs);
    return r;
}

static int mbr_init(struct vk_ptable *t, bool legacy)
{
    t->legacy_chs = legacy;
    t->disk_sig = legacy ? 0 : vk_random32();
    t->first_lba = 1;
    t->last_lba = t->disk_sectors - 1;
    return 0;
}

const struct vk_label_ops vk_label_mbr = {
    .name = "dos",
    .read = mbr_read,
    .write = mbr_write,
    .init = mbr_init,
};
