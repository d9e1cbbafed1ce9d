/* screenshot, cd-insert, cd-eject of a running VM (contracts in screen.h). */
#include "vm/screen.h"
#include "vm/control.h"
#include "vm/runtime.h"
#include "util/err.h"
#include "util/str.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The mode a new file of the caller's gets, 0666 less its umask, read
 * from /proc (umask(2) can only be read by changing it, which would race
 * with the embedding program's other threads). */
static mode_t new_file_mode(void)
{
    mode_t mask = 022;
    FILE *f = fopen("/proc/self/status", "re");
    char line[256];
    while (f && fgets(line, sizeof line, f)) {
        unsigned m;
        if (sscanf(line, "Umask: %o", &m) == 1) {
            mask = (mode_t)m;
            break;
        }
    }
    if (f)
        fclose(f);
    return 0666 & ~mask;
}

/* Copy src to a temporary file next to dst, then rename it over dst: dst
 * is never seen half written, and has src's mode.  0 or negative errno
 * naming dst. */
static int copy_into_place(const char *src, const char *dst)
{
    char tmp[4096];
    int err = vk_pathf(tmp, sizeof tmp, "%s.XXXXXX", dst);
    if (err)
        return err;
    int in = open(src, O_RDONLY | O_CLOEXEC);
    if (in < 0)
        return vk_error(-errno, "%s: %s", src, strerror(errno));
    int out = mkstemp(tmp);
    if (out < 0) {
        err = vk_error(-errno, "%s: %s", dst, strerror(errno));
        close(in);
        return err;
    }
    char buf[65536];
    for (;;) {
        ssize_t n = read(in, buf, sizeof buf);
        if (n < 0) {
            err = vk_error(-errno, "%s: %s", src, strerror(errno));
            break;
        }
        if (n == 0)
            break;
        for (ssize_t w = 0; w < n;) {
            ssize_t k = write(out, buf + w, (size_t)(n - w));
            if (k < 0) {
                err = vk_error(-errno, "%s: %s", dst, strerror(errno));
                break;
            }
            w += k;
        }
        if (err)
            break;
    }
    struct stat st;
    if (!err && (fstat(in, &st) < 0 || fchmod(out, st.st_mode & 07777) < 0))
        err = vk_error(-errno, "%s: %s", dst, strerror(errno));
    if (close(out) < 0 && !err)
        err = vk_error(-errno, "%s: %s", dst, strerror(errno));
    close(in);
    if (!err && rename(tmp, dst) < 0)
        err = vk_error(-errno, "%s: %s", dst, strerror(errno));
    if (err)
        unlink(tmp);
    return err;
}

/* Contract in screen.h. */
int vk_vm_screenshot(const char *name, const char *out)
{
    struct vk_vminfo info;
    int err = vk_rt_info(name, 0, &info);
    if (err)
        return err;
    char tmp[4200];
    if (!info.pid)
        err = vk_error(-EINVAL, "%s: VM is not running (state %s)", name,
                       vk_vm_state_name(info.state));
    else if (info.cfg.nographic == 1 || !info.cfg.vga || !strcmp(info.cfg.vga, "none"))
        err = vk_error(-ENODEV, "%s: the VM has no display (%s): there is no screen to save",
                       name, info.cfg.nographic == 1 ? "nographic = 1" : "vga = \"none\"");
    else
        err = vk_pathf(tmp, sizeof tmp, "%s/screendump.png", info.dir);
    vk_vminfo_free(&info);
    if (err)
        return err;
    unlink(tmp);
    json_t *args = json_pack("{s:s, s:s}", "filename", tmp, "format", "png");
    if (!args)
        return vk_error(-ENOMEM, "out of memory");
    if ((err = vk_vm_qmp(name, "screendump", args, NULL)) < 0) {
        unlink(tmp);
        if (strstr(vk_errmsg(), "'format'"))
            return vk_error(err, "%s: this QEMU cannot write PNG screendumps (QEMU 7.1 or later "
                            "with libpng can)", name);
        return err;
    }
    /* QEMU has written the whole file when it replies; it is the user's
     * new file, with the mode the user's umask gives (the monitor's is 077) */
    chmod(tmp, new_file_mode());
    if (rename(tmp, out) == 0)
        return 0;
    if (errno != EXDEV) {
        err = vk_error(-errno, "%s: %s", out, strerror(errno));
        unlink(tmp);
        return err;
    }
    err = copy_into_place(tmp, out);
    unlink(tmp);
    return err;
}

/* QEMU's block backend name for the drive vdev of name's config, as
 * qemu_args.c attached it: -drive if=ide,index=N is "ide<N/2>-cd<N%2>"
 * (a cdrom), if=floppy "floppy<N>", an SCSI cdrom "disk<I>".  Refuses a
 * vdev that is not a removable drive.  0 or negative errno. */
static int drive_name(const char *name, const char *vdev, int want_file, char *buf, size_t len)
{
    struct vk_vminfo info;
    int err = vk_rt_info(name, 0, &info);
    if (err)
        return err;
    const struct vk_diskspec *d = NULL;
    unsigned idx = 0;
    for (unsigned i = 0; i < info.cfg.n_disks && !d; i++)
        if (!strcmp(info.cfg.disks[i].vdev, vdev))
            d = &info.cfg.disks[idx = i];
    if (!info.pid)
        err = vk_error(-EINVAL, "%s: VM is not running (state %s)", name,
                       vk_vm_state_name(info.state));
    else if (!d)
        err = vk_error(-ENOENT, "%s: no drive %s (the config's disks name the drives)", name,
                       vdev);
    else if (d->bus == VK_BUS_FLOPPY)
        snprintf(buf, len, "floppy%d", d->index);
    else if (!d->cdrom)
        err = vk_error(-EINVAL, "%s: %s is a disk, not a cdrom or floppy drive: its medium "
                       "cannot be %s", name, vdev, want_file ? "changed" : "ejected");
    else if (d->bus == VK_BUS_IDE)
        snprintf(buf, len, "ide%d-cd%d", d->index / 2, d->index % 2);
    else
        snprintf(buf, len, "disk%u", idx);
    vk_vminfo_free(&info);
    return err;
}

/* Contract in screen.h. */
int vk_vm_media_insert(const char *name, const char *vdev, const char *file)
{
    char dev[64];
    struct stat st;
    int err = drive_name(name, vdev, 1, dev, sizeof dev);
    if (err)
        return err;
    if (stat(file, &st) < 0)
        return vk_error(-errno, "%s: %s", file, strerror(errno));
    if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode))
        return vk_error(-EINVAL, "%s: not a file or block device", file);
    char *abs = realpath(file, NULL);
    if (!abs)
        return vk_error(-errno, "%s: %s", file, strerror(errno));
    int cd = strncmp(dev, "floppy", 6) != 0;
    /* raw, as every disk vmkit gives QEMU: it never probes a guest's image */
    json_t *args = json_pack("{s:s, s:s, s:s, s:s}", "device", dev, "filename", abs,
                             "format", "raw", "read-only-mode", cd ? "read-only" : "retain");
    free(abs);
    if (!args)
        return vk_error(-ENOMEM, "out of memory");
    return vk_vm_qmp(name, "blockdev-change-medium", args, NULL);
}

/* Contract in screen.h. */
int vk_vm_media_eject(const char *name, const char *vdev)
{
    char dev[64];
    int err = drive_name(name, vdev, 0, dev, sizeof dev);
    if (err)
        return err;
    json_t *args = json_pack("{s:s, s:b}", "device", dev, "force", 1);
    if (!args)
        return vk_error(-ENOMEM, "out of memory");
    return vk_vm_qmp(name, "eject", args, NULL);
}
