/* Unit tests of part/: CHS encoding, GUID text, type parsing, GPT
 * attribute names, the allocator and validation on in-memory tables. */
#include "part/part.h"
#include "util/err.h"

#include <errno.h>
#include <string.h>

#include "tap.h"

static struct vk_ptable mbr_table(uint64_t sectors, bool legacy)
{
    struct vk_ptable t = { .label = VK_LABEL_MBR, .disk_sectors = sectors, .legacy_chs = legacy,
                           .first_lba = 1, .last_lba = sectors - 1 };
    return t;
}

int main(void)
{
    uint8_t chs[3], g[16];
    char s[37];

    vk_lba_to_chs(63, chs);
    CHECK(chs[0] == 1 && chs[1] == 1 && chs[2] == 0, "sector 63 is C0/H1/S1");
    vk_lba_to_chs(8080694, chs);
    CHECK(chs[0] == 254 && chs[1] == 0x7f && chs[2] == 0xf6, "sector 8080694 is C502/H254/S63");
    vk_lba_to_chs(20000000, chs);
    CHECK(chs[0] == 254 && chs[1] == 0xff && chs[2] == 0xff, "beyond 1024 cylinders: 1023/254/63");

    CHECK(vk_guid_from_str("0FC63DAF-8483-4772-8E79-3D69D8477DE4", g) == 0, "parse GUID");
    CHECK(g[0] == 0xaf && g[3] == 0x0f && g[4] == 0x83 && g[6] == 0x72 && g[8] == 0x8e, "GUID mixed-endian bytes");
    vk_guid_to_str(g, s);
    CHECK(!strcmp(s, "0FC63DAF-8483-4772-8E79-3D69D8477DE4"), "GUID round trip");
    CHECK(vk_guid_from_str("0FC63DAF-8483-4772-8E79-3D69D8477DE", g) < 0, "short GUID refused");
    CHECK(vk_guid_from_str("0FC63DAF-8483-4772-8E79-3D69D8477DEZ", g) < 0, "non-hex GUID refused");
    vk_guid_random(g);
    CHECK((g[7] & 0xf0) == 0x40 && (g[8] & 0xc0) == 0x80, "random GUID is version 4");

    uint64_t a;
    char buf[200];
    CHECK(vk_gpt_attrs_parse("RequiredPartition LegacyBIOSBootable GUID:60", &a) == 0 &&
          a == (1ull | 4ull | 1ull << 60), "attrs parse");
    vk_gpt_attrs_str(a, buf, sizeof buf);
    CHECK(!strcmp(buf, "RequiredPartition LegacyBIOSBootable GUID:60"), "attrs print");
    CHECK(vk_gpt_attrs_parse("Bogus", &a) < 0, "unknown attr refused");

    struct vk_ptable t = mbr_table(131072, false);
    struct vk_part p = { 0 };
    CHECK(vk_part_parse_type(&t, "swap", &p) == 0 && p.mbr_type == 0x82, "MBR swap is 82");
    CHECK(vk_part_parse_type(&t, "0x0c", &p) == 0 && p.mbr_type == 0x0c, "MBR hex with 0x");
    CHECK(vk_part_parse_type(&t, "bios", &p) < 0, "bios refused on MBR");
    CHECK(vk_part_parse_type(&t, "100", &p) < 0, "id > ff refused");

    /* Allocation on an in-memory table: aligned, numbered, refused. */
    struct vk_part_req r = { .size = 2048 * 16 };
    unsigned n = 0;
    int rc = vk_part_add(&t, &r, "mem", &n);
    CHECK(rc == 0 && n == 1 && t.p[0].start == 2048, "first at 2048");
    r = (struct vk_part_req){ .type = "extended" };
    rc = vk_part_add(&t, &r, "mem", &n);
    CHECK(rc == 0 && n == 2, "extended is 2");
    r = (struct vk_part_req){ .logical = true, .size = 2048 };
    rc = vk_part_add(&t, &r, "mem", &n);
    CHECK(rc == 0 && n == 5, "logical is 5");
    CHECK(vk_ptable_find(&t, 5)->start == vk_ptable_find(&t, 2)->start + 2048, "logical one grain into the extended");
    r = (struct vk_part_req){ .start = 4096, .size = 10 };
    rc = vk_part_add(&t, &r, "mem", &n);
    CHECK(rc == -EINVAL && strstr(vk_errmsg(), "inside partition 1"), "overlap refused: %s", vk_errmsg());
    rc = vk_part_del(&t, 2, "mem");
    CHECK(rc == 0 && t.n == 1, "deleting the extended drops its logicals");
    struct vk_part bad = { .number = 3, .start = 100000, .size = 100000, .mbr_type = 0x83 };
    vk_ptable_insert(&t, &bad);
    rc = vk_ptable_validate(&t, "mem");
    CHECK(rc < 0 && strstr(vk_errmsg(), "partition 3 (sectors 100000-199999) ends beyond"),
          "out of disk named: %s", vk_errmsg());
    vk_ptable_free(&t);

    /* Legacy: cylinders. */
    t = mbr_table(8089600, true);
    r = (struct vk_part_req){ 0 };
    rc = vk_part_add(&t, &r, "leg", &n);
    CHECK(rc == 0 && t.p[0].start == 63 && t.p[0].size == 8080632,
          "legacy whole disk: 63 + 8080632");
    vk_ptable_detect_legacy(&t);
    CHECK(t.legacy_chs, "detected as legacy");
    vk_ptable_free(&t);
    t = mbr_table(8089600, false);
    t.disk_sig = 0x1234;
    vk_ptable_detect_legacy(&t);
    CHECK(!t.legacy_chs, "empty table with a signature is modern");
    return tap_done();
}
