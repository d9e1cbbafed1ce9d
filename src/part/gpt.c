/* The GPT label (UEFI spec 2.x, chapter 5): protective MBR in sector 0,
 * primary header at LBA 1 with its entry array at LBA 2, the backup entry
 * array and header at the end of the disk, both with CRC32s (zlib).
 * A damaged primary falls back to the backup with a warning; writes always
 * put both copies back, the backup at the (current) last sector. */
#include "part/part.h"

#include "util/err.h"
#include "util/utf16.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define MAX_ARRAY (4u << 20)   /* entry array bytes we accept */

struct hdr {
    uint64_t my, alt, first, last, elba;
    uint32_t n, esz;
    uint8_t guid[16];
};

static uint32_t le32(const uint8_t *p) { return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24; }
static uint64_t le64(const uint8_t *p) { return le32(p) | (uint64_t)le32(p + 4) << 32; }
static void put32(uint8_t *p, uint32_t v) { for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> 8 * i); }
static void put64(uint8_t *p, uint64_t v) { for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> 8 * i); }

static uint32_t crc(const uint8_t *b, size_t len)
{
    uLong c = crc32(0L, Z_NULL, 0);
    /* zlib takes uInt lengths; MAX_ARRAY keeps us far below. */
    return (uint32_t)crc32(c, b, (uInt)len);
}

/* The GPT name field (36 UTF-16LE units at u) as UTF-8. */
static void name_from_utf16(const uint8_t *u, char *out, size_t outlen)
{
    uint16_t units[VK_NAME_MAX];
    for (unsigned i = 0; i < VK_NAME_MAX; i++)
        units[i] = (uint16_t)(u[2 * i] | u[2 * i + 1] << 8);
    vk_utf16_to_utf8(units, VK_NAME_MAX, out, outlen);
}

/* UTF-8 to the 36-unit UTF-16LE name field; -EINVAL if too long or
 * malformed. */
static int name_to_utf16(const char *s, uint8_t *u)
{
    uint16_t units[VK_NAME_MAX];
    int n = vk_utf8_to_utf16(s, units, VK_NAME_MAX);
    if (n < 0)
        return -EINVAL;
    memset(u, 0, 2 * VK_NAME_MAX);
    for (int i = 0; i < n; i++) {
        u[2 * i] = (uint8_t)units[i];
        u[2 * i + 1] = (uint8_t)(units[i] >> 8);
    }
    return 0;
}

/* Read and check the header at lba and its entry array; *arr gets the
 * array (malloc'd).  Fails with a message saying what is wrong. */
static int load_hdr(struct vk_blockdev *bd, uint64_t nsec, uint64_t lba, struct hdr *h, uint8_t **arr)
{
    uint8_t s[512];
    int r;

    *arr = NULL;
    if (lba < 1 || lba >= nsec)
        return vk_error(-EINVAL, "header LBA %llu is outside the disk", (unsigned long long)lba);
    if ((r = vk_bd_pread(bd, s, sizeof s, lba * VK_SECTOR)) < 0)
        return r;
    if (memcmp(s, "EFI PART", 8))
        return vk_error(-EINVAL, "no GPT signature at LBA %llu", (unsigned long long)lba);
    uint32_t hs = le32(s + 12);
    if (hs < 92 || hs > 512)
        return vk_error(-EINVAL, "header at LBA %llu: bad header size %u", (unsigned long long)lba, hs);
    uint32_t want = le32(s + 16);
    put32(s + 16, 0);
    if (crc(s, hs) != want)
        return vk_error(-EINVAL, "header at LBA %llu: header CRC mismatch", (unsigned long long)lba);
    h->my = le64(s + 24);
    h->alt = le64(s + 32);
    h->first = le64(s + 40);
    h->last = le64(s + 48);
    memcpy(h->guid, s + 56, 16);
    h->elba = le64(s + 72);
    h->n = le32(s + 80);
    h->esz = le32(s + 84);
    uint32_t ecrc = le32(s + 88);
    if (h->my != lba)
        return vk_error(-EINVAL, "header at LBA %llu says it is at LBA %llu", (unsigned long long)lba,
                        (unsigned long long)h->my);
    if (h->esz < 128 || h->esz % 8 || h->esz > 4096)
        return vk_error(-EINVAL, "header at LBA %llu: bad partition entry size %u", (unsigned long long)lba, h->esz);
    if (h->n == 0 || (uint64_t)h->n * h->esz > MAX_ARRAY)
        return vk_error(-EINVAL, "header at LBA %llu: absurd partition entry count %u (of %u bytes)",
                        (unsigned long long)lba, h->n, h->esz);
    uint64_t alen = (uint64_t)h->n * h->esz, asec = (alen + VK_SECTOR - 1) / VK_SECTOR;
    if (h->first > h->last || h->last >= nsec || h->first < 2)
        return vk_error(-EINVAL, "header at LBA %llu: bad usable range %llu-%llu", (unsigned long long)lba,
                        (unsigned long long)h->first, (unsigned long long)h->last);
    if (h->elba < 2 || h->elba >= nsec || asec > nsec - h->elba)
        return vk_error(-EINVAL, "header at LBA %llu: entry array at LBA %llu is outside the disk",
                        (unsigned long long)lba, (unsigned long long)h->elba);
    if (!(h->elba + asec <= h->first || h->elba > h->last))
        return vk_error(-EINVAL, "header at LBA %llu: entry array overlaps the usable sectors",
                        (unsigned long long)lba);
    uint8_t *a = malloc(alen);
    if (!a)
        return vk_error(-ENOMEM, "out of memory");
    if ((r = vk_bd_pread(bd, a, alen, h->elba * VK_SECTOR)) < 0) {
        free(a);
        return r;
    }
    if (crc(a, alen) != ecrc) {
        free(a);
        return vk_error(-EINVAL, "header at LBA %llu: partition entries CRC mismatch", (unsigned long long)lba);
    }
    *arr = a;
    return 0;
}

static int parse_entries(struct vk_blockdev *bd, struct vk_ptable *t, const struct hdr *h, const uint8_t *a)
{
    static const uint8_t zero[16];
    for (uint32_t i = 0; i < h->n; i++) {
        const uint8_t *e = a + (size_t)i * h->esz;
        if (!memcmp(e, zero, 16))
            continue;
        struct vk_part p = { .number = i + 1 };
        memcpy(p.type_guid, e, 16);
        memcpy(p.uuid, e + 16, 16);
        uint64_t first = le64(e + 32), last = le64(e + 40);
        if (last < first)
            return vk_error(-EINVAL, "%s: partition %u: last sector %llu before first sector %llu", bd->name,
                            p.number, (unsigned long long)last, (unsigned long long)first);
        p.start = first;
        p.size = last - first + 1;
        p.attrs = le64(e + 48);
        name_from_utf16(e + 56, p.name, sizeof p.name);
        int r = vk_ptable_insert(t, &p);
        if (r < 0)
            return r;
    }
    return 0;
}

static void use_hdr(struct vk_ptable *t, const struct hdr *h)
{
    memcpy(t->disk_guid, h->guid, 16);
    t->first_lba = h->first;
    t->last_lba = h->last;
    t->gpt_nentries = h->n;
    t->gpt_entry_size = h->esz;
}

/* Both copies valid: what differs between them (into why), or false.
 * Two valid but different tables are as much a problem as a damaged one:
 * firmware and kernels pick either. */
static bool copies_differ(const struct hdr *h, const uint8_t *a, const struct hdr *b,
                          const uint8_t *ba, char *why, size_t len)
{
    if (memcmp(h->guid, b->guid, 16))
        snprintf(why, len, "the disk GUID");
    else if (h->first != b->first || h->last != b->last)
        snprintf(why, len, "the usable range (sectors %llu-%llu in the primary, %llu-%llu in the backup)",
                 (unsigned long long)h->first, (unsigned long long)h->last,
                 (unsigned long long)b->first, (unsigned long long)b->last);
    else if (b->alt != h->my)
        snprintf(why, len, "where the primary is (the backup header names LBA %llu)",
                 (unsigned long long)b->alt);
    else if (h->n != b->n || h->esz != b->esz)
        snprintf(why, len, "the entry array (%u entries of %u bytes in the primary, %u of %u in the backup)",
                 h->n, h->esz, b->n, b->esz);
    else if (memcmp(a, ba, (size_t)h->n * h->esz)) {
        uint32_t i = 0;
        while (!memcmp(a + (size_t)i * h->esz, ba + (size_t)i * h->esz, h->esz))
            i++;
        snprintf(why, len, "partition entry %u", i + 1);
    } else
        return false;
    return true;
}

static int gpt_read(struct vk_blockdev *bd, struct vk_ptable *t)
{
    uint64_t nsec = t->disk_sectors;
    struct hdr h, b;
    uint8_t *a = NULL, *ba = NULL;
    char why[200];
    int r;

    r = load_hdr(bd, nsec, 1, &h, &a);
    if (r == 0) {
        use_hdr(t, &h);
        r = parse_entries(bd, t, &h, a);
        if (r < 0) {
            free(a);
            return r;
        }
        if (h.alt != nsec - 1) {
            t->gpt_backup_bad = true;
            snprintf(t->gpt_problem, sizeof t->gpt_problem,
                     "backup GPT header is at LBA %llu, not at the end of the disk (LBA %llu)",
                     (unsigned long long)h.alt, (unsigned long long)(nsec - 1));
        }
        if (load_hdr(bd, nsec, h.alt, &b, &ba) < 0) {
            t->gpt_backup_bad = true;
            snprintf(t->gpt_problem, sizeof t->gpt_problem, "backup GPT header damaged: %s", vk_errmsg());
            vk_error_clear();
        } else if (copies_differ(&h, a, &b, ba, why, sizeof why)) {
            t->gpt_backup_bad = true;
            snprintf(t->gpt_problem, sizeof t->gpt_problem,
                     "the GPT copies differ in %s; the primary is used", why);
        }
        free(a);
        free(ba);
        return 0;
    }
    if (r == -ENOMEM || r == -EIO)
        return r;
    snprintf(why, sizeof why, "%s", vk_errmsg());
    r = load_hdr(bd, nsec, nsec - 1, &b, &ba);
    if (r < 0) {
        char bwhy[200];   /* copy: vk_error reuses the buffer vk_errmsg returns */
        snprintf(bwhy, sizeof bwhy, "%s", vk_errmsg());
        return vk_error(r, "%s: GPT primary header damaged (%s) and backup header unusable (%s)",
                        bd->name, why, bwhy);
    }
    vk_warn("%s: primary GPT header damaged (%s); using the backup header at LBA %llu",
            bd->name, why, (unsigned long long)(nsec - 1));
    t->gpt_primary_bad = true;
    snprintf(t->gpt_problem, sizeof t->gpt_problem, "primary GPT header damaged: %s", why);
    use_hdr(t, &b);
    r = parse_entries(bd, t, &b, ba);
    free(ba);
    return r;
}

static void put_hdr(uint8_t *s, uint64_t my, uint64_t alt, uint64_t first, uint64_t last,
                    const uint8_t guid[16], uint64_t elba, uint32_t n, uint32_t esz, uint32_t ecrc)
{
    memset(s, 0, 512);
    memcpy(s, "EFI PART", 8);
    put32(s + 8, 0x00010000);
    put32(s + 12, 92);
    put64(s + 24, my);
    put64(s + 32, alt);
    put64(s + 40, first);
    put64(s + 48, last);
    memcpy(s + 56, guid, 16);
    put64(s + 72, elba);
    put32(s + 80, n);
    put32(s + 84, esz);
    put32(s + 88, ecrc);
    put32(s + 16, crc(s, 92));
}

static int gpt_write(struct vk_blockdev *bd, const struct vk_ptable *t)
{
    uint64_t nsec = t->disk_sectors;
    uint32_t n = t->gpt_nentries, esz = t->gpt_entry_size;
    uint8_t s[512];
    int r;

    for (unsigned i = 0; i < t->n; i++)
        if (t->p[i].number > n)
            n = t->p[i].number;
    size_t alen = (size_t)n * esz;
    uint64_t asec = (alen + VK_SECTOR - 1) / VK_SECTOR;
    /* The backup always goes to the last sector; the usable range keeps
     * the table's last_lba (as sgdisk does) unless the disk shrank below
     * it.  `part fix` widens it after the disk grew. */
    uint64_t last = nsec - 2 - asec, belba = nsec - 1 - asec;
    if (t->last_lba && t->last_lba < last)
        last = t->last_lba;
    if (t->first_lba < 2 + asec || t->first_lba > last)
        return vk_error(-EINVAL, "%s: first usable sector %llu leaves no room for the %u-entry array",
                        bd->name, (unsigned long long)t->first_lba, n);
    uint8_t *a = calloc(1, alen);
    if (!a)
        return vk_error(-ENOMEM, "out of memory");
    for (unsigned i = 0; i < t->n; i++) {
        const struct vk_part *p = &t->p[i];
        uint8_t *e = a + (size_t)(p->number - 1) * esz;
        if (p->start + p->size - 1 > last) {
            r = vk_error(-EINVAL, "%s: partition %u (sectors %llu-%llu) ends beyond the last usable sector %llu",
                         bd->name, p->number, (unsigned long long)p->start,
                         (unsigned long long)(p->start + p->size - 1), (unsigned long long)last);
            goto out;
        }
        memcpy(e, p->type_guid, 16);
        memcpy(e + 16, p->uuid, 16);
        put64(e + 32, p->start);
        put64(e + 40, p->start + p->size - 1);
        put64(e + 48, p->attrs);
        if (name_to_utf16(p->name, e + 56) < 0) {
            r = vk_error(-EINVAL, "%s: partition %u: name '%s' is not UTF-8 of at most %d UTF-16 units",
                         bd->name, p->number, p->name, VK_NAME_MAX);
            goto out;
        }
    }
    uint32_t ecrc = crc(a, alen);

    /* Each copy is one write of its header and entries (adjacent on
     * disk): the backup first, then the primary, then the protective MBR,
     * each synced before the next (a power cut may otherwise keep a later
     * write and lose an earlier one).  A crash leaves both copies old,
     * both new, or an old primary beside a new backup - never a header
     * whose entries do not match it, nor a protective MBR before its GPT;
     * verify --repair then rewrites the backup from the primary. */
    size_t clen = (size_t)(asec + 1) * VK_SECTOR;
    uint8_t *c = calloc(1, clen);
    if (!c) {
        r = vk_error(-ENOMEM, "out of memory");
        goto out;
    }
    memcpy(c, a, alen);
    put_hdr(c + asec * VK_SECTOR, nsec - 1, 1, t->first_lba, last, t->disk_guid, belba, n, esz, ecrc);
    r = vk_bd_pwrite(bd, c, clen, belba * VK_SECTOR);
    if (r == 0 && (r = vk_bd_flush(bd)) == 0) {
        memset(c, 0, clen);
        put_hdr(c, 1, nsec - 1, t->first_lba, last, t->disk_guid, 2, n, esz, ecrc);
        memcpy(c + VK_SECTOR, a, alen);
        if ((r = vk_bd_pwrite(bd, c, clen, VK_SECTOR)) == 0)
            r = vk_bd_flush(bd);
    }
    free(c);
    if (r < 0)
        goto out;

    /* Protective MBR; a hybrid MBR (0xEE plus other entries, sgdisk -h)
     * is kept as it is.  Boot code is preserved either way. */
    if ((r = vk_bd_pread(bd, s, sizeof s, 0)) < 0)
        goto out;
    bool ee = false, other = false;
    if (s[510] == 0x55 && s[511] == 0xaa)
        for (int i = 0; i < 4; i++) {
            uint8_t ty = s[446 + 16 * i + 4];
            ee |= ty == 0xee;
            other |= ty && ty != 0xee;
        }
    if (!(ee && other)) {
        uint64_t size = nsec - 1 > UINT32_MAX ? UINT32_MAX : nsec - 1;
        memset(s + 446, 0, 64);
        uint8_t *e = s + 446;
        e[1] = 0; e[2] = 2; e[3] = 0;
        e[4] = 0xee;
        vk_lba_to_chs(size, e + 5);
        put32(e + 8, 1);
        put32(e + 12, (uint32_t)size);
        s[510] = 0x55; s[511] = 0xaa;
        r = vk_bd_pwrite(bd, s, sizeof s, 0);
    }
out:
    free(a);
    return r;
}

static int gpt_init(struct vk_ptable *t, bool legacy)
{
    (void)legacy;
    vk_guid_random(t->disk_guid);
    t->gpt_nentries = 128;
    t->gpt_entry_size = 128;
    t->first_lba = VK_ALIGN;
    t->last_lba = t->disk_sectors - 34;
    return 0;
}

const struct vk_label_ops vk_label_gpt = {
    .name = "gpt",
    .read = gpt_read,
    .write = gpt_write,
    .init = gpt_init,
};
