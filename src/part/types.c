/* Partition type names (MBR system ids, GPT type GUIDs), GUID text and
 * GPT attribute names as fdisk/sfdisk spell them. */
#include "part/part.h"

#include "util/err.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

static const struct { uint8_t id; const char *name; } mbr_types[] = {
    { 0x00, "Empty" }, { 0x01, "FAT12" }, { 0x04, "FAT16 <32M" }, { 0x05, "Extended" },
    { 0x06, "FAT16" }, { 0x07, "HPFS/NTFS/exFAT" }, { 0x0b, "W95 FAT32" },
    { 0x0c, "W95 FAT32 (LBA)" }, { 0x0e, "W95 FAT16 (LBA)" }, { 0x0f, "W95 Ext'd (LBA)" },
    { 0x82, "Linux swap / Solaris" }, { 0x83, "Linux" }, { 0x85, "Linux extended" },
    { 0x8e, "Linux LVM" }, { 0xa5, "FreeBSD" }, { 0xee, "GPT" }, { 0xef, "EFI (FAT-12/16/32)" },
    { 0xfd, "Linux raid autodetect" },
};

static const struct { const char *guid, *name, *alias; uint8_t mbr; } gpt_types[] = {
    { "0FC63DAF-8483-4772-8E79-3D69D8477DE4", "Linux filesystem", "linux", 0x83 },
    { "0657FD6D-A4AB-43C4-84E5-0933C84B4F4F", "Linux swap", "swap", 0x82 },
    { "C12A7328-F81F-11D2-BA4B-00A0C93EC93B", "EFI System", "efi", 0xef },
    { "21686148-6449-6E6F-744E-656564454649", "BIOS boot", "bios", 0 },
    { "E6D6D379-F507-44C2-A23C-238F2A3DF928", "Linux LVM", "lvm", 0x8e },
    { "EBD0A0A2-B9E5-4433-87C0-68B6B72699C7", "Microsoft basic data", "fat32", 0x0c },
    { "A19D880F-05FC-4D3B-A006-743F0F84911E", "Linux RAID", "raid", 0xfd },
    { "933AC7E1-2EB4-4F13-B844-0E14E2AEF915", "Linux home", "home", 0 },
    { "4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709", "Linux root (x86-64)", "root", 0 },
};

static const struct { const char *alias; uint8_t id; } mbr_alias[] = {
    { "linux", 0x83 }, { "swap", 0x82 }, { "fat32", 0x0c }, { "fat16", 0x06 }, { "efi", 0xef },
    { "lvm", 0x8e }, { "extended", 0x05 }, { "raid", 0xfd },
    /* sfdisk script shortcuts */
    { "L", 0x83 }, { "S", 0x82 }, { "E", 0x05 }, { "X", 0x85 }, { "U", 0xef }, { "V", 0x8e },
    { "R", 0xfd },
};

static const struct { const char *alias; const char *gpt_alias; } gpt_alias[] = {
    { "fat16", "fat32" }, { "L", "linux" }, { "S", "swap" }, { "U", "efi" }, { "V", "lvm" },
    { "R", "raid" }, { "H", "home" },
    { "bios_grub", "bios" },   /* parted's flag name for the same type */
};

void vk_guid_to_str(const uint8_t g[16], char out[37])
{
    snprintf(out, 37, "%02X%02X%02X%02X-%02X%02X-%02X%02X-%02X%02X-%02X%02X%02X%02X%02X%02X",
             g[3], g[2], g[1], g[0], g[5], g[4], g[7], g[6], g[8], g[9],
             g[10], g[11], g[12], g[13], g[14], g[15]);
}

int vk_guid_from_str(const char *s, uint8_t g[16])
{
    static const int order[16] = { 3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15 };
    int k = 0;

    for (int i = 0; i < 36; i++) {
        bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? s[i] != '-' : !isxdigit((unsigned char)s[i]))
            return -EINVAL;
    }
    if (s[36])
        return -EINVAL;
    for (int i = 0; i < 36 && k < 16; i++) {
        if (s[i] == '-')
            continue;
        unsigned v;
        sscanf(s + i, "%2x", &v);
        g[order[k++]] = (uint8_t)v;
        i++;
    }
    return 0;
}

static void fill_random(void *buf, size_t len)
{
    uint8_t *b = buf;
    size_t got = 0;
    while (got < len) {
        ssize_t n = getrandom(b + got, len - got, 0);
        if (n <= 0) {
            /* Never happens on Linux >= 3.17; fall back to something. */
            for (; got < len; got++)
                b[got] = (uint8_t)rand();
            return;
        }
        got += (size_t)n;
    }
}

void vk_guid_random(uint8_t g[16])
{
    fill_random(g, 16);
    g[7] = (g[7] & 0x0f) | 0x40;   /* version 4, high byte of field 3 (LE) */
    g[8] = (g[8] & 0x3f) | 0x80;   /* RFC 4122 variant */
}

uint32_t vk_random32(void)
{
    uint32_t v;
    do
        fill_random(&v, sizeof v);
    while (v == 0);
    return v;
}

static int gpt_by_alias(const char *s, uint8_t g[16])
{
    for (size_t i = 0; i < sizeof gpt_alias / sizeof *gpt_alias; i++)
        if (!strcmp(s, gpt_alias[i].alias))
            s = gpt_alias[i].gpt_alias;
    for (size_t i = 0; i < sizeof gpt_types / sizeof *gpt_types; i++)
        if (!strcasecmp(s, gpt_types[i].alias))
            return vk_guid_from_str(gpt_types[i].guid, g);
    return -ENOENT;
}

int vk_part_parse_type(const struct vk_ptable *t, const char *s, struct vk_part *p)
{
    char *end;

    if (t->label == VK_LABEL_GPT) {
        if (gpt_by_alias(s, p->type_guid) == 0 || vk_guid_from_str(s, p->type_guid) == 0)
            return 0;
        /* An MBR id given as hex: the GPT type that means the same. */
        unsigned long v = strtoul(s, &end, 16);
        if (*s && !*end && v <= 0xff)
            for (size_t i = 0; i < sizeof gpt_types / sizeof *gpt_types; i++)
                if (gpt_types[i].mbr == v && v)
                    return vk_guid_from_str(gpt_types[i].guid, p->type_guid);
        return vk_error(-EINVAL, "unknown GPT partition type '%s' (linux, swap, efi, bios|bios_grub, lvm, fat32, or a GUID)", s);
    }
    for (size_t i = 0; i < sizeof mbr_alias / sizeof *mbr_alias; i++)
        if (!strcasecmp(s, mbr_alias[i].alias) && (strlen(s) > 1 || !strcmp(s, mbr_alias[i].alias))) {
            p->mbr_type = mbr_alias[i].id;
            return 0;
        }
    if (!strcasecmp(s, "bios") || !strcasecmp(s, "bios_grub"))
        return vk_error(-EINVAL, "type '%s' (BIOS boot partition) exists on GPT tables only "
                        "(on MBR, GRUB uses the gap before the first partition)", s);
    const char *h = !strncasecmp(s, "0x", 2) ? s + 2 : s;
    unsigned long v = strtoul(h, &end, 16);
    if (!*h || *end || v == 0 || v > 0xff)
        return vk_error(-EINVAL, "unknown MBR partition type '%s' (linux, swap, fat32, fat16, efi, lvm, extended or a hex id 1-ff)", s);
    p->mbr_type = (uint8_t)v;
    return 0;
}

const char *vk_part_type_name(const struct vk_ptable *t, const struct vk_part *p)
{
    if (t->label == VK_LABEL_GPT) {
        char s[37];
        vk_guid_to_str(p->type_guid, s);
        for (size_t i = 0; i < sizeof gpt_types / sizeof *gpt_types; i++)
            if (!strcmp(s, gpt_types[i].guid))
                return gpt_types[i].name;
        return "unknown";
    }
    for (size_t i = 0; i < sizeof mbr_types / sizeof *mbr_types; i++)
        if (mbr_types[i].id == p->mbr_type)
            return mbr_types[i].name;
    return "Unknown";
}

void vk_gpt_attrs_str(uint64_t a, char *buf, size_t len)
{
    static const char *const names[3] = { "RequiredPartition", "NoBlockIOProtocol", "LegacyBIOSBootable" };
    size_t o = 0;
    buf[0] = 0;
    for (int b = 0; b < 64 && o < len; b++) {
        if (!(a >> b & 1))
            continue;
        if (b < 3)
            o += (size_t)snprintf(buf + o, len - o, "%s%s", o ? " " : "", names[b]);
        else
            o += (size_t)snprintf(buf + o, len - o, "%sGUID:%d", o ? " " : "", b);
    }
}

int vk_gpt_attrs_parse(const char *s, uint64_t *a)
{
    static const char *const names[3] = { "RequiredPartition", "NoBlockIOProtocol", "LegacyBIOSBootable" };
    *a = 0;
    while (*s) {
        while (*s == ' ' || *s == ',')
            s++;
        if (!*s)
            break;
        size_t n = strcspn(s, " ,");
        bool found = false;
        for (int b = 0; b < 3; b++)
            if (strlen(names[b]) == n && !strncmp(s, names[b], n)) {
                *a |= 1ull << b;
                found = true;
            }
        if (!found) {
            char *end;
            if (strncmp(s, "GUID:", 5))
                return vk_error(-EINVAL, "unknown GPT attribute '%.*s'", (int)n, s);
            unsigned long b = strtoul(s + 5, &end, 10);
            if (end != s + n || b > 63)
                return vk_error(-EINVAL, "bad GPT attribute '%.*s'", (int)n, s);
            *a |= 1ull << b;
        }
        s += n;
    }
    return 0;
}
