/* vk_grub_install: GRUB for BIOS into a disk image, rootless.  The plan
 * (which filesystem, where the core image goes, which core fits) is made
 * and the core image built and patched before anything is written; then
 * the filesystem files, the core image, and sector 0 last, so a disk is
 * never left with boot code pointing at nothing.
 *
 * One exception, for speed: where the gap holds any core image
 * (VK_GRUB_CORE_MAX: a first partition at 1 MiB or later), grub-mkimage
 * (~45 ms) runs in a thread while GRUB's modules are copied into the
 * filesystem (~40 ms), as grub-install also copies them before it runs
 * grub-mkimage.  So if grub-mkimage fails, the filesystem has gained
 * /boot/grub/i386-pc/ and its modules and nothing else: no boot code, no
 * core image in the gap, no grub.cfg. */
#include "boot/grub_install_int.h"

#include "fs/fs.h"
#include "util/err.h"
#include "util/run.h"

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define MODULE_MAX (4u << 20)

/* What one partition's filesystem looks like to GRUB. */
struct fsinfo {
    unsigned part;
    uint64_t off, len;          /* bytes */
    struct vk_fsprobe probe;
    const char *fs_module;      /* NULL: GRUB's core cannot read it here */
    bool boot_dir;              /* has /boot */
    bool boot_root;             /* kernels or /grub at its root: a /boot partition */
    bool etc;                   /* has /etc: a root filesystem */
};

struct plan {
    struct vk_blockdev *disk;
    const char *name;
    struct vk_ptable t;
    struct fsinfo fs;
    const char *boot;           /* "/boot" or "" */
    char grubdir[64];           /* BOOT/grub */
    char root_uuid[40];
    const char *part_module, *label;
    uint64_t room_lba, room;
    unsigned bios_part;
    bool cfg_exists;
    struct vk_grub_kernel *k;
    size_t nk;
};

static const char *fs_module(const char *type)
{
    if (!strcmp(type, "ext2") || !strcmp(type, "ext3") || !strcmp(type, "ext4"))
        return "ext2";
    return !strcmp(type, "vfat") ? "fat" : NULL;
}

static bool is_dir(struct vk_fs *fs, const char *path)
{
    struct vk_stat st;
    bool d = vk_fs_stat(fs, path, &st, true) == 0 && S_ISDIR(st.mode);
    vk_error_clear();
    return d;
}

static int open_part(struct plan *pl, const struct vk_part *p, struct vk_blockdev **slice)
{
    char name[4200];
    snprintf(name, sizeof name, "%s:%u", pl->name, p->number);
    uint64_t off = p->start * VK_SECTOR, len = p->size * VK_SECTOR;
    return vk_slice_open(pl->disk, off, len, name, false, slice);
}

/* Probe partition p; a filesystem GRUB reads is mounted read-only to see
 * what it holds.  Returns 0 also for partitions with no filesystem (then
 * fs_module is NULL and probe.type may be empty). */
static int inspect(struct plan *pl, const struct vk_part *p, struct fsinfo *fi)
{
    struct vk_blockdev *bd;
    const struct vk_fs_type *type;
    memset(fi, 0, sizeof *fi);
    fi->part = p->number;
    fi->off = p->start * VK_SECTOR;
    fi->len = p->size * VK_SECTOR;
    int r = open_part(pl, p, &bd);
    if (r < 0)
        return r;
    if (vk_fs_probe(bd, &fi->probe, &type) < 0) {
        vk_error_clear();
        vk_bd_close(bd);
        return 0;
    }
    fi->fs_module = fs_module(fi->probe.type);
    struct vk_fs *fs = NULL;
    if (fi->fs_module && (r = vk_fs_mount(bd, false, &fs)) == 0) {
        fi->boot_dir = is_dir(fs, "/boot");
        fi->etc = is_dir(fs, "/etc");
        struct vk_names n = { 0 };
        if (is_dir(fs, "/grub"))
            fi->boot_root = true;
        else if (vk_fs_list(fs, "/", &n) == 0)
            for (size_t i = 0; i < n.n; i++)
                if (!strncmp(n.v[i], "vmlinuz", 7))
                    fi->boot_root = true;
        vk_names_free(&n);
        vk_error_clear();
        vk_fs_unmount(fs);
    }
    vk_bd_close(bd);
    return r;
}

static bool is_bios_boot(const struct plan *pl, const struct vk_part *p)
{
    return pl->t.label == VK_LABEL_GPT && p->number == pl->bios_part;
}

static bool is_linux(const struct plan *pl, const struct vk_part *p)
{
    if (pl->t.label == VK_LABEL_MBR)
        return p->mbr_type == 0x83;
    uint8_t g[16];
    vk_guid_from_str("0FC63DAF-8483-4772-8E79-3D69D8477DE4", g);
    return !memcmp(p->type_guid, g, 16);
}

static int choose_part(struct plan *pl, unsigned want)
{
    struct fsinfo fi, linux_fi;
    bool have_linux = false;
    int r;
    if (want) {
        struct vk_part *p = vk_ptable_find(&pl->t, want);
        if (!p)
            return vk_error(-ENOENT, "%s: no partition %u", pl->name, want);
        if (pl->t.label == VK_LABEL_MBR && !p->logical && vk_mbr_is_extended(p->mbr_type))
            return vk_error(-EINVAL, "%s:%u: an extended partition (a container of logical "
                            "ones) holds no filesystem for GRUB", pl->name, want);
        if (is_bios_boot(pl, p))
            return vk_error(-EINVAL, "%s:%u: the BIOS boot partition is where GRUB's core "
                            "image goes; name the filesystem holding /boot", pl->name, want);
        if ((r = inspect(pl, p, &fi)) < 0)
            return r;
        if (!strcmp(fi.probe.type, "swap"))
            return vk_error(-EINVAL, "%s:%u: swap space, not a filesystem: GRUB reads its "
                            "modules and grub.cfg from ext2/3/4 or FAT", pl->name, want);
        if (!fi.fs_module)
            return vk_error(-EINVAL, "%s:%u: %s%s: GRUB's files go on ext2/3/4 or FAT here",
                            pl->name, want, *fi.probe.type ? "filesystem " : "no filesystem",
                            fi.probe.type);
        pl->fs = fi;
        return 0;
    }
    for (unsigned i = 0; i < pl->t.n; i++) {
        const struct vk_part *p = &pl->t.p[i];
        if (is_bios_boot(pl, p) ||
            (pl->t.label == VK_LABEL_MBR && !p->logical && vk_mbr_is_extended(p->mbr_type)))
            continue;
        /* a filesystem that does not mount is not a candidate */
        if (inspect(pl, p, &fi) < 0) {
            vk_error_clear();
            continue;
        }
        if (!fi.fs_module)
            continue;
        if (fi.boot_dir || fi.boot_root) {
            pl->fs = fi;
            return 0;
        }
        if (!have_linux && is_linux(pl, p)) {
            linux_fi = fi;
            have_linux = true;
        }
    }
    if (!have_linux)
        return vk_error(-ENOENT, "%s: no partition holds /boot or an ext2/3/4 or FAT "
                        "filesystem of type Linux; name one with --part N", pl->name);
    pl->fs = linux_fi;
    return 0;
}

/* The root filesystem for root=UUID=: the target itself, unless it is a
 * separate /boot partition and another one has /etc. */
static int find_root(struct plan *pl)
{
    snprintf(pl->root_uuid, sizeof pl->root_uuid, "%s", pl->fs.probe.uuid);
    if (*pl->boot)
        return 0;
    for (unsigned i = 0; i < pl->t.n; i++) {
        struct fsinfo fi;
        const struct vk_part *p = &pl->t.p[i];
        if (p->number == pl->fs.part || is_bios_boot(pl, p) ||
            (pl->t.label == VK_LABEL_MBR && !p->logical && vk_mbr_is_extended(p->mbr_type)))
            continue;
        if (inspect(pl, p, &fi) < 0) {
            vk_error_clear();
            continue;
        }
        if (fi.etc && *fi.probe.uuid) {
            snprintf(pl->root_uuid, sizeof pl->root_uuid, "%s", fi.probe.uuid);
            break;
        }
    }
    return 0;
}

/* Read the target filesystem: where BOOT is, its kernels, an old grub.cfg. */
static int read_target(struct plan *pl)
{
    struct vk_blockdev *bd;
    struct vk_fs *fs;
    int r = open_part(pl, vk_ptable_find(&pl->t, pl->fs.part), &bd);
    if (r < 0)
        return r;
    if ((r = vk_fs_mount(bd, false, &fs)) < 0) {
        vk_bd_close(bd);
        return r;
    }
    pl->boot = pl->fs.boot_dir || !pl->fs.boot_root ? "/boot" : "";
    snprintf(pl->grubdir, sizeof pl->grubdir, "%s/grub", pl->boot);
    struct vk_names n = { 0 };
    if (is_dir(fs, *pl->boot ? pl->boot : "/") && (r = vk_fs_list(fs, *pl->boot ? pl->boot : "/", &n)) == 0)
        r = vk_grub_find_kernels(n.v, n.n, &pl->k, &pl->nk);
    vk_names_free(&n);
    char cfg[80];
    snprintf(cfg, sizeof cfg, "%s/grub.cfg", pl->grubdir);
    struct vk_stat st;
    pl->cfg_exists = vk_fs_stat(fs, cfg, &st, false) == 0;
    vk_error_clear();
    vk_fs_unmount(fs);
    vk_bd_close(bd);
    return r;
}

static int refuse_unpartitioned(struct vk_blockdev *disk)
{
    struct vk_fsprobe probe;
    const struct vk_fs_type *type;
    if (vk_fs_probe(disk, &probe, &type) == 0)
        return vk_error(-EINVAL, "%s: no partition table: the whole disk is one %s "
                        "filesystem, where GRUB can embed nothing (there is no gap before a "
                        "first partition for its core image, and grub-install refuses the "
                        "blocklist install into a filesystem as unreliable); partition the "
                        "disk (vmkit part init/add) and put the filesystem in a partition",
                        disk->name, probe.type);
    vk_error_clear();
    return vk_error(-EINVAL, "%s: no partition table (make one: vmkit part init %s mbr, "
                    "then vmkit part add)", disk->name, disk->name);
}

/* Pick the richest core image that fits the room. */
static int build_core(struct plan *pl, const struct vk_grub_opts *o, struct vk_grub_core *core,
                      const char **kind)
{
    static const struct { const char *kind; bool search, serial; } tiers[] = {
        { "full", true, true }, { "standard", true, false }, { "minimal", false, false },
    };
    char prefix[128], cfg[512];
    snprintf(prefix, sizeof prefix, "(,%s%u)%s", pl->label, pl->fs.part, pl->grubdir);
    unsigned need = 0;
    for (size_t i = 0; i < sizeof tiers / sizeof *tiers; i++) {
        const char *mods[8] = { "biosdisk", pl->part_module, pl->fs.fs_module };
        size_t n = 3, c = 0;
        cfg[0] = 0;
        if (tiers[i].serial) {
            mods[n++] = "serial";
            mods[n++] = "terminal";
            c += (size_t)snprintf(cfg + c, sizeof cfg - c, "serial --unit=0 --speed=115200\n"
                                  "terminal_input serial console\n"
                                  "terminal_output serial console\n");
        }
        if (tiers[i].search && *pl->fs.probe.uuid) {
            mods[n++] = "search_fs_uuid";
            snprintf(cfg + c, sizeof cfg - c, "search.fs_uuid %s root hd0,%s%u\n"
                     "set prefix=($root)'%s'\n", pl->fs.probe.uuid, pl->label, pl->fs.part,
                     pl->grubdir);
        }
        int r = vk_grub_mkimage(o, prefix, *cfg ? cfg : NULL, mods, core);
        if (r < 0)
            return r;
        need = (unsigned)((core->len + VK_SECTOR - 1) / VK_SECTOR);
        if (need <= pl->room) {
            *kind = tiers[i].kind;
            core->len = (size_t)need * VK_SECTOR;   /* read_host left room, zeroed */
            return 0;
        }
        free(core->data);
        core->data = NULL;
    }
    if (pl->bios_part)
        return vk_error(-ENOSPC, "%s:%u: the BIOS boot partition has %llu sectors; GRUB's "
                        "smallest core image for %s needs %u (make it 1 MiB)", pl->name,
                        pl->bios_part, (unsigned long long)pl->room, pl->fs.probe.type, need);
    return vk_error(-ENOSPC, "%s: no room for GRUB's core image: the first partition starts "
                    "at sector %llu, leaving %llu sector%s before it, and the smallest core "
                    "image for %s on MBR needs %u (sectors 1-%u); nothing was written. "
                    "Start the first partition at sector 2048 (as vmkit part add does "
                    "without --legacy-chs)", pl->name, (unsigned long long)pl->room + 1,
                    (unsigned long long)pl->room, pl->room == 1 ? "" : "s", pl->fs.probe.type,
                    need, need);
}

/* BOOT/grub/i386-pc/: every module and list of GRUB's directory, as
 * grub-install copies them; core.img and boot.img for reference. */
static int copy_modules(struct vk_fs *fs, const char *dst, const char *src)
{
    DIR *d = opendir(src);
    if (!d)
        return vk_error(-errno, "%s: %s", src, strerror(errno));
    int r = 0;
    struct dirent *de;
    uint8_t *data = NULL;
    size_t cap = 0, len;
    while (r >= 0 && (de = readdir(d))) {
        size_t l = strlen(de->d_name);
        if (l < 5 || (strcmp(de->d_name + l - 4, ".mod") && strcmp(de->d_name + l - 4, ".lst")))
            continue;
        char host[4400], path[4400];
        snprintf(host, sizeof host, "%s/%s", src, de->d_name);
        snprintf(path, sizeof path, "%s/%s", dst, de->d_name);
        if ((r = vk_grub_read_host_into(host, MODULE_MAX, &data, &cap, &len)) < 0)
            break;
        r = vk_fs_write_file(fs, path, data, len, 0644);
    }
    free(data);
    closedir(d);
    return r;
}

/* Building the core image, perhaps in a thread of its own while the
 * modules are copied, then patching sector 0 for it (in the calling
 * thread: the disk's driver is not shared between threads). */
struct core_job {
    struct plan *pl;
    const struct vk_grub_opts *o;
    const uint8_t *boot_img;
    struct vk_grub_core core;
    const char *kind;
    uint8_t sector0[VK_SECTOR];
    int r;
    char msg[1024];             /* the thread's error message (errors are per thread) */
    bool threaded, patched;
    pthread_t thread;
};

/* No disk I/O here: grub-mkimage (or the cache) and host files only. */
static void *core_build(void *p)
{
    struct core_job *j = p;
    j->r = build_core(j->pl, j->o, &j->core, &j->kind);
    if (j->r < 0)
        snprintf(j->msg, sizeof j->msg, "%s", vk_errmsg());
    return NULL;
}

static void core_join(struct core_job *j)
{
    if (j->threaded)
        pthread_join(j->thread, NULL);
    j->threaded = false;
}

/* Wait for the core image and patch sector 0 for it: 0 or the error,
 * with its message in this thread. */
static int core_finish(struct core_job *j)
{
    core_join(j);
    if (j->r < 0)
        return vk_error(j->r, "%s", j->msg);
    if (j->patched)
        return 0;
    struct plan *pl = j->pl;
    int r = vk_bd_pread(pl->disk, j->sector0, VK_SECTOR, 0);
    if (r == 0)
        r = vk_grub_patch(j->sector0, j->boot_img, j->core.data, j->core.len, pl->room_lba,
                          pl->disk->name);
    j->patched = r == 0;
    return r;
}

/* Start the core image: in a thread when the gap holds any core image (so
 * it cannot fail for want of room once modules are copied) and
 * grub-mkimage is there (its absence is the common failure: found here,
 * it is refused before anything is written); else here and now, patch
 * included, before anything is written. */
static int core_start(struct core_job *j)
{
    char tool[4096];
    if (j->pl->room * VK_SECTOR >= VK_GRUB_CORE_MAX &&
        vk_which(j->o->mkimage ? j->o->mkimage : "grub-mkimage", tool, sizeof tool) == 0 &&
        pthread_create(&j->thread, NULL, core_build, j) == 0) {
        j->threaded = true;
        return 0;
    }
    vk_error_clear();
    core_build(j);
    return core_finish(j);
}

static int write_files(struct plan *pl, const struct vk_grub_opts *o, struct core_job *job,
                       const uint8_t *boot_img, struct vk_grub_result *res)
{
    const char *src = o->grub_dir ? o->grub_dir : VK_GRUB_DIR_DEFAULT;
    char *text = NULL;
    int r = 0;
    if (!pl->cfg_exists || o->force_config) {
        struct vk_grub_cfg c = {
            .uuid = pl->fs.probe.uuid, .root_uuid = pl->root_uuid, .boot = pl->boot,
            .fs_module = pl->fs.fs_module, .part_module = pl->part_module,
            .timeout = o->timeout ? o->timeout : o->timeout_set ? 0 : 5, .append = o->append,
        };
        if ((r = vk_grub_config(&c, pl->k, pl->nk, &text)) < 0)
            return r;
        res->entries = (unsigned)pl->nk;
        if (!pl->nk)
            vk_warn("%s:%u: no kernel (vmlinuz-VERSION) in %s/: grub.cfg has no menu entry",
                    pl->name, pl->fs.part, *pl->boot ? pl->boot : "");
    }
    res->config_kept = !text;
    struct vk_blockdev *bd;
    struct vk_fs *fs = NULL;
    if ((r = open_part(pl, vk_ptable_find(&pl->t, pl->fs.part), &bd)) < 0) {
        free(text);
        return r;
    }
    char dir[128], path[160];
    snprintf(dir, sizeof dir, "%s/i386-pc", pl->grubdir);
    if ((r = vk_fs_mount(bd, true, &fs)) == 0 && (r = vk_fs_mkdir_p(fs, dir, 0755)) == 0)
        r = copy_modules(fs, dir, src);
    if (r == 0)
        r = core_finish(job);
    if (r == 0) {
        snprintf(path, sizeof path, "%s/core.img", dir);
        r = vk_fs_write_file(fs, path, job->core.data, job->core.len, 0644);
        snprintf(path, sizeof path, "%s/boot.img", dir);
        if (r == 0)
            r = vk_fs_write_file(fs, path, boot_img, VK_SECTOR, 0644);
        snprintf(path, sizeof path, "%s/grub.cfg", pl->grubdir);
        if (r == 0 && text)
            r = vk_fs_write_file(fs, path, text, strlen(text), 0644);
    }
    if (fs) {
        int u = vk_fs_unmount(fs);
        if (r == 0)
            r = u;
    }
    vk_bd_close(bd);
    free(text);
    return r;
}

static int plan(struct plan *pl, unsigned part)
{
    int r = vk_ptable_probe(pl->disk);
    if (r < 0)
        return r;
    if (r == VK_LABEL_NONE)
        return refuse_unpartitioned(pl->disk);
    if ((r = vk_ptable_read(pl->disk, &pl->t)) < 0)
        return r;
    bool gpt = pl->t.label == VK_LABEL_GPT;
    pl->label = gpt ? "gpt" : "msdos";
    pl->part_module = gpt ? "part_gpt" : "part_msdos";
    if ((r = vk_grub_room(&pl->t, pl->name, &pl->room_lba, &pl->room, &pl->bios_part)) < 0)
        return r;
    if ((r = choose_part(pl, part)) < 0 || (r = read_target(pl)) < 0)
        return r;
    return find_root(pl);
}

/* Contract in boot/grub_install.h. */
int vk_grub_install(struct vk_blockdev *disk, unsigned part, const struct vk_grub_opts *o,
                    struct vk_grub_result *res)
{
    static const struct vk_grub_opts defaults;
    struct vk_grub_result dummy;
    struct plan pl = { .disk = disk, .name = disk->name };
    uint8_t *boot_img = NULL;
    size_t boot_len;
    o = o ? o : &defaults;
    res = res ? res : &dummy;
    memset(res, 0, sizeof *res);
    if (!(disk->flags & VK_OPEN_RDWR))
        return vk_error(-EROFS, "%s: opened read-only", disk->name);
    char bootpath[4200];
    snprintf(bootpath, sizeof bootpath, "%s/boot.img", o->grub_dir ? o->grub_dir : VK_GRUB_DIR_DEFAULT);
    int r = plan(&pl, part);
    if (r == 0 && (r = vk_grub_read_host(bootpath, VK_SECTOR, &boot_img, &boot_len)) < 0) {
        char why[512];
        snprintf(why, sizeof why, "%s", vk_errmsg());
        vk_error(r, "%s (GRUB's boot sector: install Debian's grub-pc-bin)", why);
    }
    if (r == 0 && boot_len != VK_SECTOR)
        r = vk_error(-EINVAL, "%s: %zu bytes, not one sector", bootpath, boot_len);
    struct core_job job = { .pl = &pl, .o = o, .boot_img = boot_img };
    if (r == 0)
        r = core_start(&job);
    if (r == 0)
        r = write_files(&pl, o, &job, boot_img, res);
    core_join(&job);                    /* when write_files failed before waiting */
    struct vk_grub_core *core = &job.core;
    if (r == 0 && (r = vk_bd_pwrite(disk, core->data, core->len, pl.room_lba * VK_SECTOR)) == 0 &&
        (r = vk_bd_flush(disk)) == 0 && (r = vk_bd_pwrite(disk, job.sector0, 440, 0)) == 0)
        r = vk_bd_flush(disk);
    if (r == 0) {
        res->part = pl.fs.part;
        snprintf(res->fs_type, sizeof res->fs_type, "%s", pl.fs.probe.type);
        snprintf(res->uuid, sizeof res->uuid, "%s", pl.fs.probe.uuid);
        snprintf(res->grub_dir, sizeof res->grub_dir, "%s", pl.grubdir);
        res->core_lba = pl.room_lba;
        res->core_sectors = (unsigned)(core->len / VK_SECTOR);
        res->room = pl.room;
        res->bios_part = pl.bios_part;
        res->core_kind = job.kind;
        res->cache_hit = core->cache_hit;
    }
    free(core->data);
    free(boot_img);
    vk_grub_kernels_free(pl.k, pl.nk);
    vk_ptable_free(&pl.t);
    return r;
}
