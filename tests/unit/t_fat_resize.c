/* FAT resize in place (vk_fs_fat.resize), judged by fsck.fat -n, minfo
 * and mtools: shrinking a FAT16/FAT32 made by mkfs.fat and growing it back
 * (its FAT keeps room for the old size), files intact; growing past what
 * the FAT addresses, shrinking over used clusters and crossing a FAT type
 * boundary are refused with the limit and change nothing. */
#include "fs/fs.h"
#include "util/err.h"

#include "tap.h"

#define CHECK1(cond, ...) do { int ok1_ = (cond); CHECK(ok1_, __VA_ARGS__); } while (0)

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char dir[] = "/tmp/vk-tfatresize.XXXXXX";

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

/* Resize the image at path to size bytes (0: the file size). */
static int resize(const char *path, uint64_t size)
{
    struct vk_blockdev *bd;
    int r = vk_bd_open(path, "raw", VK_OPEN_RDWR, &bd);
    if (r < 0)
        return r;
    char *out = NULL;
    r = vk_fs_fat.resize(bd, size, &out);
    free(out);
    int c = vk_bd_close(bd);
    return r < 0 ? r : c;
}

/* minfo's sector count, both fields added. */
static long long sectors(const char *img)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd,
             "minfo -i %s :: | awk '/^small size:/ {s += $3} /^big size:/ {s += $3} END {print s}'", img);
    FILE *p = popen(cmd, "r");
    long long n = -1;
    if (p && fscanf(p, "%lld", &n) != 1)
        n = -1;
    if (p)
        pclose(p);
    return n;
}

static int intact(const char *img)
{
    return sh("fsck.fat -n %s >/dev/null 2>&1 && mtype -i %s ::/data.bin | cmp -s - %s/data.bin && "
              "mtype -i %s ::/sub/note.txt | grep -qx note", img, img, dir, img) == 0;
}

int main(void)
{
    if (!mkdtemp(dir))
        return 1;
    setenv("MTOOLS_SKIP_CHECK", "1", 1);
    char img[300];
    sh("head -c 300000 /dev/urandom >%s/data.bin; echo note >%s/note.txt", dir, dir);

    /* FAT16 of 40 MB shrunk to 20 MB and grown back to 40 MB. */
    snprintf(img, sizeof img, "%s/f16.img", dir);
    CHECK1(sh("mkfs.fat -C -F 16 %s 40960 >/dev/null && mcopy -i %s %s/data.bin :: && mmd -i %s ::/sub && "
              "mcopy -i %s %s/note.txt ::/sub", img, img, dir, img, img, dir) == 0, "FAT16 with files");
    CHECK1(resize(img, 20 << 20) == 0, "shrink FAT16 to 20 MiB (%s)", vk_errmsg());
    CHECK1(sectors(img) == 40960, "minfo: 40960 sectors (%lld)", sectors(img));
    CHECK1(intact(img), "fsck.fat clean, files intact after shrinking");
    CHECK1(resize(img, 0) == 0, "grow back to the whole image (%s)", vk_errmsg());
    CHECK1(sectors(img) == 81920, "minfo: 81920 sectors (%lld)", sectors(img));
    CHECK1(intact(img), "fsck.fat clean, files intact after growing");
    CHECK1(sh("mdir -i %s :: | grep -q '4[0-9] [0-9][0-9][0-9] [0-9][0-9][0-9] bytes free'", img) == 0,
           "mdir sees about 40 MB free");
    /* Past the FAT's reach (its FAT was sized for 40 MB). */
    sh("truncate -s 300M %s", img);
    CHECK1(resize(img, 0) == -ENOSPC && strstr(vk_errmsg(), "can grow to") && strstr(vk_errmsg(), "at most"),
           "growing past what the FAT addresses: refused with the limit (%s)", vk_errmsg());
    CHECK1(sectors(img) == 81920 && intact(img), "refused grow changed nothing");
    /* Used clusters past the new end. */
    sh("head -c 15000000 /dev/urandom >%s/big.bin && mcopy -i %s %s/big.bin ::", dir, img, dir);
    CHECK1(resize(img, 10 << 20) == -ENOSPC && strstr(vk_errmsg(), "in use beyond the new end") &&
           strstr(vk_errmsg(), "can shrink to"), "shrinking over used clusters: refused (%s)", vk_errmsg());
    CHECK1(sectors(img) == 81920 && intact(img), "refused shrink changed nothing");
    sh("mdel -i %s ::/big.bin", img);
    CHECK1(resize(img, 1 << 20) == -ENOSPC && strstr(vk_errmsg(), "needs at least 4085 clusters"),
           "FAT16 below 4085 clusters (would read as FAT12): refused (%s)", vk_errmsg());

    /* FAT32 of 96 MB shrunk to 40 MB and grown back; the backup boot
     * sector follows. */
    snprintf(img, sizeof img, "%s/f32.img", dir);
    CHECK1(sh("mkfs.fat -C -F 32 %s 98304 >/dev/null && mcopy -i %s %s/data.bin :: && mmd -i %s ::/sub && "
              "mcopy -i %s %s/note.txt ::/sub", img, img, dir, img, img, dir) == 0, "FAT32 with files");
    CHECK1(resize(img, 40 << 20) == 0, "shrink FAT32 to 40 MiB (%s)", vk_errmsg());
    CHECK1(sectors(img) == 81920 && intact(img), "FAT32 shrunk: 81920 sectors, fsck.fat clean, files intact");
    CHECK1(sh("cmp -s -i 0:3072 -n 512 %s %s", img, img) == 0 &&
           sh("test \"$(od -An -tx1 -j32 -N4 %s)\" = \"$(od -An -tx1 -j$((6*512+32)) -N4 %s)\"", img, img) == 0,
           "backup boot sector has the new size");
    CHECK1(resize(img, 0) == 0 && sectors(img) == 196608 && intact(img), "FAT32 grown back: fsck.fat clean");
    CHECK1(sh("fsck.fat -n -v %s 2>&1 | grep -q 'differences between boot sector and its backup'", img) != 0,
           "fsck.fat finds no difference to the backup boot sector");

    /* FAT12 cannot grow past 4084 clusters. */
    snprintf(img, sizeof img, "%s/f12.img", dir);
    sh("mkfs.fat -C -F 12 %s 1440 >/dev/null && truncate -s 64M %s", img, img);
    CHECK1(resize(img, 0) == -ENOSPC && strstr(vk_errmsg(), "FAT12"), "FAT12 growth limit (%s)", vk_errmsg());
    CHECK1(sh("fsck.fat -n %s >/dev/null 2>&1", img) == 0 && sectors(img) == 2880, "FAT12 unchanged");
    sh("rm -rf %s", dir);
    return tap_done();
}
