/* vmkit fs: what is particular to ISO 9660 — making one from a tree
 * (mkfs -t iso9660) and showing its El Torito boot record in probe. */
#include "cli/cli.h"

#include "block/blockdev.h"
#include "fs/fs.h"
#include "fs/iso9660.h"
#include "part/target.h"
#include "util/err.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* TARGET is a new or existing ISO file (replaced whole, through a
 * temporary name), a partition (disk.img:1) or a qcow2 disk, which get the
 * image written into them.  fmt (--format; NULL to probe) is the existing
 * image's format: "raw" replaces the whole file, any other writes into it. */
int cli_fs_mkfs_iso(const char *spec, const char *fmt_name, const struct vk_iso_mkfs_opts *o,
                    bool force)
{
    struct vk_target vt;
    const struct vk_format *fmt = NULL;
    struct vk_blockdev *bd = NULL;
    int r;
    if (!o->from)
        return cli_usage("fs mkfs", "-t iso9660 needs --from DIR|TAR");
    if (fmt_name && !vk_format_by_name(fmt_name))
        return cli_failf("%s: unknown image format '%s'", spec, fmt_name);
    if (vk_target_parse(spec, false, &vt) < 0) {
        if (fmt_name && strcmp(fmt_name, "raw"))
            return cli_fail(vk_error(-ENOENT, "%s: no such %s image (a new ISO file is raw)",
                                     spec, fmt_name));
        vk_error_clear();
        r = vk_iso_mkfs_file(spec, o);          /* a new file */
        return r < 0 ? cli_fail(r) : EXIT_OK;
    }
    if (fmt_name)
        fmt = vk_format_by_name(fmt_name);
    bool into = vt.part || ((fmt || vk_format_probe(vt.file, &fmt) == 0) && fmt != &vk_format_raw);
    if (!into) {
        /* Replacing a whole raw file: refuse to drop a partitioned disk
         * that is not an ISO unless told to. */
        struct vk_fsprobe p;
        uint64_t po, pl;
        if (!force && (r = vk_target_open(&vt, fmt_name, 0, &bd)) == 0) {
            bool iso = vk_fs_probe(bd, &p, NULL) == 0 && !strcmp(p.type, "iso9660");
            bool table = vk_part_locate(bd, 1, &po, &pl) == 0;
            vk_bd_close(bd);
            vk_error_clear();
            if (table && !iso) {
                vk_target_free(&vt);
                return cli_failf("%s: holds a partition table; name a partition (%s:1) or pass "
                                 "--force to replace the whole file with the ISO", spec, spec);
            }
        }
        vk_error_clear();
        r = vk_iso_mkfs_file(vt.file, o);
        vk_target_free(&vt);
        return r < 0 ? cli_fail(r) : EXIT_OK;
    }
    r = vk_target_open(&vt, fmt_name, VK_OPEN_RDWR, &bd);
    vk_target_free(&vt);
    if (r < 0)
        return cli_fail(r);
    r = vk_iso_mkfs_bd(bd, o);
    int c = vk_bd_close(bd);
    if (r >= 0)
        r = c;
    return r < 0 ? cli_fail(r) : EXIT_OK;
}

/* The El Torito boot record: a "boot" object for --json, BOOT_* lines
 * otherwise.  Nothing when the ISO has none; a damaged catalog is a
 * warning, since the probe itself succeeded. */
void cli_fs_probe_iso(struct vk_blockdev *bd, json_t *o)
{
    struct vk_iso_boot b;
    char name[64];
    if (vk_iso_boot_read(bd, &b) < 0) {
        fprintf(stderr, "vmkit: warning: %s\n", vk_errmsg());
        return;
    }
    if (!b.catalog_lba)
        return;
    json_t *imgs = json_array();
    if (!o)
        printf("BOOT_CATALOG=%u\n", b.catalog_lba);
    for (int k = 0; k < b.n; k++) {
        const struct vk_iso_boot_entry *e = &b.e[k];
        char path[80];
        vk_iso_boot_name(&b, k, name, sizeof name);
        snprintf(path, sizeof path, "/[BOOT]/%s", name);
        if (!o) {
            printf("BOOT_IMAGE%d=\"%s platform=%s emulation=%s%s lba=%u sectors=%u\"\n", k + 1, path,
                   vk_iso_platform_name(e->platform), vk_iso_media_name(e->media),
                   e->bootable ? " bootable" : "", e->lba, e->sectors);
            continue;
        }
        json_array_append_new(imgs, json_pack("{s:s, s:s, s:s, s:b, s:i, s:i, s:I, s:I}",
            "path", path, "platform", vk_iso_platform_name(e->platform),
            "emulation", vk_iso_media_name(e->media), "bootable", e->bootable,
            "load_segment", e->load_segment, "sectors", e->sectors,
            "lba", (json_int_t)e->lba, "size", (json_int_t)e->size));
    }
    if (!o) {
        json_decref(imgs);
        return;
    }
    json_object_set_new(o, "boot", json_pack("{s:I, s:s, s:o}", "catalog_lba", (json_int_t)b.catalog_lba,
                                             "catalog_path", "/[BOOT]/catalog", "images", imgs));
}
