/* FAT writing through the library: sizes beyond 4 GiB - 1 are refused
 * (EFBIG), truncate/extend through setattr read back as zeroes with
 * mtools, ENOSPC mid-write drops the new version whole (a new file is not
 * created, a replaced one keeps its old content) and leaves fsck.fat clean, setattr mtime shows in
 * stat, the read-only attribute follows chmod. */
#include "fs/fs.h"
#include "util/err.h"

#include "tap.h"

/* CHECK evaluates its condition twice: evaluate side effects once. */
#define CHECK1(cond, ...) do { int ok1_ = (cond); CHECK(ok1_, __VA_ARGS__); } while (0)

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[] = "/tmp/vk-tfatrw.XXXXXX";
static char img[300];

static int sh(const char *fmt, ...) VK_PRINTF(1, 2);
static int sh(const char *fmt, ...)
{
    char cmd[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    return system(cmd);
}

static struct vk_blockdev *bd;

static struct vk_fs *mount_rw(void)
{
    struct vk_fs *fs = NULL;
    if (vk_bd_open(img, "raw", VK_OPEN_RDWR, &bd) < 0)
        return NULL;
    if (vk_fs_mount(bd, true, &fs) < 0) {
        vk_bd_close(bd);
        return NULL;
    }
    return fs;
}

static void umount(struct vk_fs *fs)
{
    vk_fs_unmount(fs);
    vk_bd_close(bd);
}

int main(void)
{
    if (!mkdtemp(dir))
        return 1;
    setenv("MTOOLS_SKIP_CHECK", "1", 1);
    setenv("TZ", "UTC", 1);
    snprintf(img, sizeof img, "%s/f.img", dir);
    sh("mkfs.fat -C %s 1440 >/dev/null", img);

    struct vk_fs *fs = mount_rw();
    CHECK1(fs != NULL, "mount read-write (%s)", fs ? "ok" : vk_errmsg());
    if (!fs)
        return tap_done();
    struct vk_file *f;
    CHECK1(vk_fs_open(fs, "/data.bin", VK_O_WRONLY | VK_O_CREAT, 0644, &f) == 0, "create");
    CHECK1(vk_fs_write(f, "abc", 3, 0xffffffffull) == -EFBIG && strstr(vk_errmsg(), "4 GiB"),
          "write past 4 GiB - 1: EFBIG (%s)", vk_errmsg());
    CHECK1(vk_fs_write(f, "hello", 5, 0) == 5, "write 5 bytes");
    CHECK1(vk_fs_write(f, "X", 1, 2000) == 1, "write at 2000 (hole zero-filled)");
    CHECK1(vk_fs_close_file(f) == 0, "close");
    struct vk_stat st = { .size = 10000 };
    CHECK1(vk_fs_setattr(fs, "/data.bin", VK_SET_SIZE, &st) == 0, "extend to 10000");
    st.size = 1ull << 32;
    CHECK1(vk_fs_setattr(fs, "/data.bin", VK_SET_SIZE, &st) == -EFBIG, "extend to 4 GiB: EFBIG");
    st.mtime.tv_sec = 1262401445;   /* 2010-01-02 03:04:05 UTC */
    CHECK1(vk_fs_setattr(fs, "/data.bin", VK_SET_MTIME, &st) == 0, "set mtime");
    st.mode = 0444;
    CHECK1(vk_fs_setattr(fs, "/data.bin", VK_SET_MODE, &st) == 0, "chmod 0444");
    CHECK1(vk_fs_stat(fs, "/DATA.BIN", &st, true) == 0 && st.size == 10000 && (st.mode & 0777) == 0444 &&
          st.mtime.tv_sec == 1262401444, "stat: size 10000, mode 0444, mtime at FAT's 2 s resolution (%lld)",
          (long long)st.mtime.tv_sec);
    CHECK1(vk_fs_open(fs, "/data.bin", VK_O_WRONLY, 0, &f) == -EACCES, "read-only file refuses writing");
    umount(fs);

    CHECK1(sh("fsck.fat -n %s >/dev/null", img) == 0, "fsck.fat clean");
    sh("mtype -i %s ::/data.bin > %s/got", img, dir);
    sh("(printf hello; head -c 1995 /dev/zero; printf X; head -c 7999 /dev/zero) > %s/want", dir);
    CHECK1(sh("cmp -s %s/got %s/want", dir, dir) == 0, "mtype: data, zero-filled hole, zero-filled extension");
    CHECK1(sh("mdir -i %s ::/ | grep -q '2010-01-02   3:04'", img) == 0, "mdir shows the mtime");
    CHECK1(sh("mattrib -i %s ::/data.bin | grep -q R", img) == 0, "mattrib: read-only");

    fs = mount_rw();
    st.mode = 0644;
    CHECK1(fs && vk_fs_setattr(fs, "/data.bin", VK_SET_MODE, &st) == 0, "chmod 0644");
    st.size = 3;
    CHECK1(vk_fs_setattr(fs, "/data.bin", VK_SET_SIZE, &st) == 0, "truncate to 3");
    /* Fill the disk: the write that does not fit fails whole. */
    char *big = calloc(1, 2u << 20);
    CHECK1(vk_fs_open(fs, "/big", VK_O_WRONLY | VK_O_CREAT, 0644, &f) == 0, "create big");
    CHECK1(vk_fs_write(f, big, 1000000, 0) == 1000000, "write 1 MB");
    CHECK1(vk_fs_write(f, big, 1000000, 1000000) == -ENOSPC, "next 1 MB: ENOSPC (%s)", vk_errmsg());
    CHECK1(vk_fs_close_file(f) == 0, "close after ENOSPC");
    CHECK1(vk_fs_stat(fs, "/big", &st, true) == -ENOENT, "the failed new file is dropped whole");
    vk_error_clear();
    /* A replacement that fails keeps the old content. */
    CHECK1(vk_fs_open(fs, "/keep", VK_O_WRONLY | VK_O_CREAT, 0644, &f) == 0 &&
           vk_fs_write(f, "old!", 4, 0) == 4 && vk_fs_close_file(f) == 0, "create keep");
    CHECK1(vk_fs_open(fs, "/keep", VK_O_WRONLY | VK_O_TRUNC, 0644, &f) == 0, "reopen keep truncating");
    CHECK1(vk_fs_write(f, big, 1000000, 0) == 1000000, "write 1 MB into the new version");
    CHECK1(vk_fs_write(f, big, 1000000, 1000000) == -ENOSPC, "next 1 MB: ENOSPC");
    CHECK1(vk_fs_close_file(f) == 0, "close after ENOSPC");
    CHECK1(vk_fs_stat(fs, "/keep", &st, true) == 0 && st.size == 4, "keep has its old size");
    /* Then the space of the dropped versions is free again. */
    CHECK1(vk_fs_open(fs, "/big", VK_O_WRONLY | VK_O_CREAT, 0644, &f) == 0 &&
           vk_fs_write(f, big, 1000000, 0) == 1000000 && vk_fs_close_file(f) == 0, "1 MB fits again");
    free(big);
    CHECK1(vk_fs_stat(fs, "/big", &st, true) == 0 && st.size == 1000000, "big has 1 MB");
    umount(fs);
    CHECK1(sh("test \"$(mtype -i %s ::/keep)\" = old!", img) == 0, "mtype: keep says old!");
    CHECK1(sh("fsck.fat -n %s >/dev/null", img) == 0, "fsck.fat clean after ENOSPC and truncate");
    CHECK1(sh("test \"$(mtype -i %s ::/data.bin)\" = hel", img) == 0, "mtype: truncated to 'hel'");
    CHECK1(sh("mattrib -i %s ::/data.bin | grep -q ' R '", img) != 0, "read-only cleared");
    sh("rm -rf %s", dir);
    return tap_done();
}
