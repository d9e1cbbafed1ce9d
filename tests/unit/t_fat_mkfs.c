/* mkfs -t vfat / -t swap through the library, checked with the real tools:
 * fsck.fat -n is clean, the BPB matches mkfs.fat's for the same size,
 * blkid -p sees the label and UUID, mtools reads the volume; damaged boot
 * sectors are refused with a message naming the field. */
#include "fs/fs.h"
#include "util/err.h"

#include "tap.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char dir[] = "/tmp/vk-tfat.XXXXXX";

static int sh(const char *fmt, ...) VK_PRINTF(1, 2);
static int sh(const char *fmt, ...)
{
    char cmd[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    return system(cmd);
}

/* stdout of a command, trailing newline cut. */
static void capture(char *out, size_t len, const char *fmt, ...) VK_PRINTF(3, 4);
static void capture(char *out, size_t len, const char *fmt, ...)
{
    char cmd[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    out[0] = 0;
    FILE *p = popen(cmd, "r");
    if (!p)
        return;
    size_t n = fread(out, 1, len - 1, p);
    out[n] = 0;
    pclose(p);
    while (n && out[n - 1] == '\n')
        out[--n] = 0;
}

static int mkimg(const char *path, uint64_t size)
{
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (fd < 0)
        return -1;
    int r = ftruncate(fd, (off_t)size);
    close(fd);
    return r;
}

static bool fats_equal(const char *path);

static int do_mkfs(const char *path, const struct vk_mkfs_opts *o)
{
    struct vk_blockdev *bd;
    int r = vk_bd_open(path, "raw", VK_OPEN_RDWR, &bd);
    if (r < 0)
        return r;
    r = vk_fs_mkfs(bd, o);
    int c = vk_bd_close(bd);
    return r < 0 ? r : c;
}

static int do_probe(const char *path, struct vk_fsprobe *p)
{
    struct vk_blockdev *bd;
    int r = vk_bd_open(path, "raw", 0, &bd);
    if (r < 0)
        return r;
    r = vk_fs_probe(bd, p, NULL);
    vk_bd_close(bd);
    return r;
}

/* Boot sector bytes 11..35 (BPB) and, per type, the FAT32 extension up to
 * the drive number; the volume ID and label are left out. */
static void bpb_cmp(const char *what, uint64_t size, int bits, uint32_t cluster)
{
    char a[256], b[256], va[4096], vb[4096];
    snprintf(a, sizeof a, "%s/a.img", dir);
    snprintf(b, sizeof b, "%s/b.img", dir);
    unlink(b);
    mkimg(a, size);
    struct vk_mkfs_opts o = { .type = "vfat", .fat_bits = bits, .cluster_size = cluster,
                              .label = "VMKIT", .uuid = "1234-ABCD", .reserved_pct = -1 };
    int r = do_mkfs(a, &o);
    CHECK(r == 0, "%s: mkfs (%s)", what, r < 0 ? vk_errmsg() : "ok");
    char opts[64] = "";
    if (bits)
        snprintf(opts, sizeof opts, "-F %d", bits);
    if (cluster)
        snprintf(opts + strlen(opts), sizeof opts - strlen(opts), " -s %u", cluster / 512);
    sh("mkfs.fat %s -C %s %llu >/dev/null 2>&1", opts, b, (unsigned long long)(size / 1024));
    /* bytes 11..63: BPB and the FAT32 extension (FAT12/16: the volume
     * info, whose serial at 39..42 and label at 43..53 differ). */
    int end = bits == 32 || size >= (512u << 20) ? 64 : 39;
    capture(va, sizeof va, "od -An -tx1 -j11 -N%d %s", end - 11, a);
    capture(vb, sizeof vb, "od -An -tx1 -j11 -N%d %s", end - 11, b);
    CHECK(va[0] && !strcmp(va, vb), "%s: BPB equals mkfs.fat's", what);
    if (strcmp(va, vb))
        printf("#   vmkit:    %s\n#   mkfs.fat: %s\n", va, vb);
    CHECK(sh("fsck.fat -n %s >%s/fsck.out 2>&1", a, dir) == 0, "%s: fsck.fat -n clean", what);
    capture(va, sizeof va, "blkid -p -o value -s LABEL -s UUID -s TYPE %s | tr '\\n' ' '", a);
    CHECK(!strcmp(va, "VMKIT 1234-ABCD vfat "), "%s: blkid sees label, UUID, type (%s)", what, va);
    capture(va, sizeof va, "mdir -i %s :: 2>&1 | head -3", a);
    CHECK(strstr(va, "Volume in drive : is VMKIT") != NULL, "%s: mdir sees the label", what);
    struct vk_fsprobe p;
    r = do_probe(a, &p);
    CHECK(fats_equal(a), "%s: FAT copies equal", what);
    CHECK(r == 0 && !strcmp(p.type, "vfat") && !strcmp(p.label, "VMKIT") &&
          !strcmp(p.uuid, "1234-ABCD") && p.used_known,
          "%s: probe vfat VMKIT 1234-ABCD (%s %s %s)", what, p.type, p.label, p.uuid);
}

static void floppy(void)
{
    char a[256], b[256], va[4096], vb[4096];
    snprintf(a, sizeof a, "%s/floppy.img", dir);
    snprintf(b, sizeof b, "%s/floppy2.img", dir);
    mkimg(a, 1440 * 1024);
    struct vk_mkfs_opts o = { .type = "vfat", .reserved_pct = -1 };
    CHECK(do_mkfs(a, &o) == 0, "floppy: mkfs");
    sh("mkfs.fat -C %s 1440 >/dev/null 2>&1", b);
    capture(va, sizeof va, "od -An -tx1 -j11 -N28 %s", a);
    capture(vb, sizeof vb, "od -An -tx1 -j11 -N28 %s", b);
    CHECK(va[0] && !strcmp(va, vb), "floppy: BPB bytes 11..38 equal mkfs.fat -C floppy2.img 1440's");
    capture(va, sizeof va, "file -b %s", a);
    CHECK(strstr(va, "root entries 224") && strstr(va, "sectors 2880") && strstr(va, "sectors/FAT 9") &&
          strstr(va, "sectors/track 18") && strstr(va, "FAT (12 bit)"),
          "floppy: file says 224 root entries, 2880 sectors, 9 sectors/FAT, 18/track, FAT12 (%s)", va);
    /* bytes/sector 512, 1 sector/cluster, media 0xf0 at 21, 2 heads at 26 */
    capture(va, sizeof va, "od -An -tx1 -j11 -N3 %s; od -An -tx1 -j21 -N1 %s; od -An -tx1 -j26 -N2 %s | tr -d '\\n'", a, a, a);
    CHECK(!strcmp(va, " 00 02 01\n f0\n 00 02") || !strcmp(va, " 00 02 01\n f0\n 02 00"),
          "floppy: 512 B sectors, 1 sector/cluster, media 0xf0, 2 heads");
    CHECK(sh("fsck.fat -n %s >/dev/null 2>&1", a) == 0, "floppy: fsck.fat -n clean");
    struct vk_fsprobe p;
    CHECK(do_probe(a, &p) == 0 && p.size == 1440 * 1024 && p.used == 0 && !p.label[0] &&
          strlen(p.uuid) == 9 && p.uuid[4] == '-', "floppy: probe size 1440K, used 0, no label, UUID %s", p.uuid);
    /* A file put with mtools counts as used (one cluster of 512 bytes). */
    sh("echo hello | mcopy -i %s - ::HELLO.TXT", a);
    CHECK(do_probe(a, &p) == 0 && p.used == 512, "floppy: probe counts the cluster mcopy used (%llu)",
          (unsigned long long)p.used);
}

/* Compare the FAT copies byte for byte, geometry from the boot sector. */
static bool fats_equal(const char *path)
{
    FILE *f = fopen(path, "rb");
    unsigned char bs[512];
    bool same = false;
    if (f && fread(bs, 1, 512, f) == 512) {
        unsigned bps = bs[11] | bs[12] << 8, res = bs[14] | bs[15] << 8, n = bs[16];
        unsigned len = bs[22] | bs[23] << 8;
        if (!len)
            len = bs[36] | bs[37] << 8 | bs[38] << 16 | (unsigned)bs[39] << 24;
        size_t sz = (size_t)len * bps;
        unsigned char *a = malloc(sz), *b = malloc(sz);
        same = a && b && n >= 2;
        for (unsigned i = 1; same && i < n; i++) {
            same = fseek(f, (long)res * bps, SEEK_SET) == 0 && fread(a, 1, sz, f) == sz &&
                   fseek(f, (long)(res + i * len) * bps, SEEK_SET) == 0 && fread(b, 1, sz, f) == sz &&
                   !memcmp(a, b, sz);
        }
        free(a);
        free(b);
    }
    if (f)
        fclose(f);
    return same;
}

static void fat32_details(void)
{
    char a[256], v[4096];
    snprintf(a, sizeof a, "%s/f32.img", dir);
    mkimg(a, 40u << 20);
    struct vk_mkfs_opts o = { .type = "vfat", .fat_bits = 32, .label = "BIG", .reserved_pct = -1 };
    CHECK(do_mkfs(a, &o) == 0, "fat32 40M: mkfs -F 32");
    CHECK(sh("fsck.fat -n -V %s >/dev/null 2>&1", a) == 0, "fat32 40M: fsck.fat -n -V clean");
    capture(v, sizeof v, "dd if=%s bs=512 skip=6 count=1 2>/dev/null | cmp -n 512 - %s && echo same", a, a);
    CHECK(strstr(v, "same") != NULL, "fat32: backup boot sector at 6 equals sector 0");
    /* FSInfo free count as fsck.fat computes it: fill some, fsck must not
     * complain about the free count (it would with -n print a message). */
    sh("head -c 100000 /dev/urandom > %s/rnd; mcopy -i %s %s/rnd ::RND", dir, a, dir);
    capture(v, sizeof v, "fsck.fat -n %s 2>&1", a);
    CHECK(strstr(v, "Free cluster summary") == NULL, "fat32: fsck.fat finds the FSInfo free count right after mcopy");
    /* Both FAT copies equal. */
    CHECK(fats_equal(a), "fat32: both FAT copies equal");
}

static void swap(void)
{
    char a[256], b[256], v[4096], w[4096];
    snprintf(a, sizeof a, "%s/swap.img", dir);
    snprintf(b, sizeof b, "%s/swap2.img", dir);
    mkimg(a, 8u << 20);
    mkimg(b, 8u << 20);
    struct vk_mkfs_opts o = { .type = "swap", .label = "myswap",
                              .uuid = "0f5e2b1c-1111-4a2b-9c3d-123456789abc", .reserved_pct = -1 };
    CHECK(do_mkfs(a, &o) == 0, "swap: mkfs");
    capture(v, sizeof v, "blkid -p -o value -s TYPE -s LABEL -s UUID %s | tr '\\n' ' '", a);
    CHECK(!strcmp(v, "myswap 0f5e2b1c-1111-4a2b-9c3d-123456789abc swap "), "swap: blkid (%s)", v);
    sh("mkswap -L myswap -U 0f5e2b1c-1111-4a2b-9c3d-123456789abc %s >/dev/null 2>&1", b);
    capture(v, sizeof v, "od -An -tx1 -N4096 %s", a);
    capture(w, sizeof w, "od -An -tx1 -N4096 %s", b);
    CHECK(v[0] && !strcmp(v, w), "swap: first page byte-identical to mkswap's");
    struct vk_fsprobe p;
    CHECK(do_probe(a, &p) == 0 && !strcmp(p.type, "swap") && !strcmp(p.label, "myswap") &&
          !strcmp(p.uuid, "0f5e2b1c-1111-4a2b-9c3d-123456789abc") && p.size == (8u << 20),
          "swap: probe type, label, UUID, size");
    CHECK(do_probe(b, &p) == 0 && !strcmp(p.type, "swap") && !strcmp(p.label, "myswap"),
          "swap: probe reads mkswap's area");
    struct vk_blockdev *bd;
    struct vk_fs *fs = NULL;
    vk_bd_open(a, "raw", 0, &bd);
    int r = vk_fs_mount(bd, false, &fs);
    CHECK(r < 0 && strstr(vk_errmsg(), "holds no files"), "swap: mount says %s", vk_errmsg());
    vk_bd_close(bd);
    /* Too small, bad UUID, long label. */
    mkimg(a, 16384);
    CHECK(do_mkfs(a, &o) < 0 && strstr(vk_errmsg(), "too small"), "swap: 16K refused: %s", vk_errmsg());
    mkimg(a, 1 << 20);
    o.uuid = "not-a-uuid";
    CHECK(do_mkfs(a, &o) < 0 && strstr(vk_errmsg(), "bad UUID"), "swap: %s", vk_errmsg());
    o.uuid = NULL;
    o.label = "12345678901234567";
    CHECK(do_mkfs(a, &o) < 0 && strstr(vk_errmsg(), "longer than 16"), "swap: %s", vk_errmsg());
    o.label = NULL;
    CHECK(do_mkfs(a, &o) == 0 && do_probe(a, &p) == 0 && strlen(p.uuid) == 36 && p.uuid[14] == '4',
          "swap: random v4 UUID %s", p.uuid);
}

/* Patch bytes of a good floppy and expect probe to find nothing and the
 * BPB parser's message. */
static void bad_bpb(const char *what, unsigned off, const uint8_t *bytes, unsigned n)
{
    char a[256];
    snprintf(a, sizeof a, "%s/bad.img", dir);
    mkimg(a, 1440 * 1024);
    struct vk_mkfs_opts o = { .type = "vfat", .reserved_pct = -1 };
    do_mkfs(a, &o);
    int fd = open(a, O_RDWR);
    CHECK(fd >= 0 && pwrite(fd, bytes, n, off) == (ssize_t)n, "bad %s: patched", what);
    close(fd);
    struct vk_fsprobe p;
    int r = do_probe(a, &p);
    CHECK(r == -ENOENT && strstr(vk_errmsg(), "bad.img"), "bad %s: not taken for FAT (%s)", what, vk_errmsg());
}

static void bad_input(void)
{
    uint8_t b[4];
    b[0] = 0x00; b[1] = 0x03;          /* 768 bytes per sector */
    bad_bpb("bytes/sector 768", 11, b, 2);
    b[0] = 0x00; b[1] = 0x20;          /* 8192 */
    bad_bpb("bytes/sector 8192", 11, b, 2);
    b[0] = 0;
    bad_bpb("sectors/cluster 0", 13, b, 1);
    b[0] = 0; b[1] = 0;
    bad_bpb("FAT size 0", 22, b, 2);
    bad_bpb("reserved 0", 14, b, 2);
    b[0] = 0;
    bad_bpb("FAT count 0", 16, b, 1);
    b[0] = 0xff; b[1] = 0xff;
    bad_bpb("total sectors beyond the device", 19, b, 2);

    char a[256];
    snprintf(a, sizeof a, "%s/bad.img", dir);
    struct vk_mkfs_opts o = { .type = "vfat", .label = "a/b", .reserved_pct = -1 };
    CHECK(do_mkfs(a, &o) < 0 && strstr(vk_errmsg(), "not allowed"), "label a/b: %s", vk_errmsg());
    o.label = "TWELVECHARSX";
    CHECK(do_mkfs(a, &o) < 0 && strstr(vk_errmsg(), "longer than 11"), "label 12 chars: %s", vk_errmsg());
    o.label = NULL;
    o.uuid = "12345-678";
    CHECK(do_mkfs(a, &o) < 0 && strstr(vk_errmsg(), "XXXX-XXXX"), "volume id: %s", vk_errmsg());
    o.uuid = NULL;
    o.fat_bits = 12;
    mkimg(a, 600u << 20);
    CHECK(do_mkfs(a, &o) < 0 && strstr(vk_errmsg(), "FAT12"), "600M as FAT12: %s", vk_errmsg());
    o.fat_bits = 0;
    o.cluster_size = 3000;
    CHECK(do_mkfs(a, &o) < 0 && strstr(vk_errmsg(), "power of two"), "cluster 3000: %s", vk_errmsg());
    mkimg(a, 8192);
    o.cluster_size = 0;
    CHECK(do_mkfs(a, &o) < 0 && strstr(vk_errmsg(), "too small"), "8K: %s", vk_errmsg());
}

int main(void)
{
    if (!mkdtemp(dir))
        return 1;
    setenv("MTOOLS_SKIP_CHECK", "1", 1);
    floppy();
    bpb_cmp("64K", 64 << 10, 0, 0);
    bpb_cmp("200K", 200 << 10, 0, 0);
    bpb_cmp("720K", 720 << 10, 0, 0);
    bpb_cmp("2880K", 2880 << 10, 0, 0);
    bpb_cmp("5M", 5 << 20, 0, 0);
    bpb_cmp("20M", 20 << 20, 0, 0);
    bpb_cmp("20M FAT16", 20 << 20, 16, 0);
    bpb_cmp("100M", 100 << 20, 0, 0);
    bpb_cmp("20M -s 2", 20 << 20, 0, 1024);
    bpb_cmp("2M -s 1", 2 << 20, 0, 512);
    bpb_cmp("300M FAT32 -s 1", 300 << 20, 32, 512);
    bpb_cmp("100M -s 64", 100 << 20, 0, 32768);
    bpb_cmp("40M FAT32", 40 << 20, 32, 0);
    bpb_cmp("300M FAT32 -s 8", 300 << 20, 32, 4096);
    bpb_cmp("600M", 600u << 20, 0, 0);
    bpb_cmp("2G", 2048ull << 20, 0, 0);
    fat32_details();
    swap();
    bad_input();
    sh("rm -rf %s", dir);
    return tap_done();
}
