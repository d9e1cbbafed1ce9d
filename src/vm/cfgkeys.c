/* The xl.cfg keys: one table says, for every key xl.cfg(5) documents (and
 * the xm keys still seen in old configs), where its value goes and what it
 * becomes under QEMU, or why vmkit ignores or refuses it.  The parser
 * (vk_cfg_apply), the writer (vk_domcfg_format), init/free and
 * vk_cfg_key_status all walk this table. */
#include "vm/cfg_int.h"
#include "vm/devspec.h"
#include "util/err.h"
#include "util/strbuf.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum kind {
    K_STR,      /* char *: a string (a NUMBER token is its text, as in xl) */
    K_NUM,      /* long: strtol base 0 on the atom, within [min, max] */
    K_BOOL,     /* int: a number, 0 false, anything else true */
    K_ACT,      /* enum vk_action / int: destroy, restart, preserve ... */
    K_STRV,     /* struct vk_strv: a list of strings */
    K_FN,       /* a function of its own (disk, vif, type ...) */
    K_IGNORE,   /* accepted; a warning gives the reason */
    K_REFUSE,   /* an error gives the reason */
};

#define F_SINGLE   1   /* K_STRV: a plain string is a one-item list (xl's old form) */
#define F_SPLIT    2   /* K_STRV: a plain string is split at blanks (bootloader_args) */
#define F_BOOLLIST 4   /* K_STRV: a number means [] (0) or ["defaults"] (1) */
#define F_ZERO_OK  8   /* K_REFUSE: the value 0 / "" asks for nothing: accepted */
#define F_NOFMT   16   /* not written back by vk_domcfg_format (folded by check) */

struct ctx {
    struct vk_domcfg *c;
    const struct vk_cfgpos *kp;
    const char *key;
};

struct keydef {
    const char *key;
    enum kind kind;
    size_t off;
    long min, max;
    int flags;
    int (*fn)(struct ctx *x, int add, struct vk_cfgval *v);   /* K_FN, or a check */
    const char *what;   /* honoured: what it maps to; else the reason */
};

static int key_err(struct ctx *x, const struct vk_cfgval *v, const char *fmt, ...)
    VK_PRINTF(3, 4);
static int key_err(struct ctx *x, const struct vk_cfgval *v, const char *fmt, ...)
{
    char m[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(m, sizeof m, fmt, ap);
    va_end(ap);
    return vk_error(-EINVAL, "%s:%d:%d: %s: %s", x->kp->fname, v ? v->line : x->kp->line,
                    v ? v->col : x->kp->col, x->key, m);
}

/* A spec parser's error gets the position of the value in front. */
static int spec_err(struct ctx *x, const struct vk_cfgval *v, int err)
{
    if (err == -ENOMEM)
        return err;
    return vk_error_prefix(err, "%s:%d:%d: ", x->kp->fname, v->line, v->col);
}

static int want_atom(struct ctx *x, const struct vk_cfgval *v)
{
    return v->list ? key_err(x, v, "expected a single value, not a list") : 0;
}

/* strtol base 0 on the whole atom, as xlu_cfg_get_bounded_long. */
static int to_long(struct ctx *x, const struct vk_cfgval *v, long min, long max, long *out)
{
    int err = want_atom(x, v);
    if (err)
        return err;
    char *ep;
    errno = 0;
    long l = strtol(v->s, &ep, 0);
    if (errno == ERANGE)
        return key_err(x, v, "'%.40s' is out of range", v->s);
    if (*ep || ep == v->s)
        return key_err(x, v, "'%.40s' is not a valid number", v->s);
    if (l < min || l > max)
        return key_err(x, v, "%ld is out of range (%ld..%ld)", l, min, max);
    *out = l;
    return 0;
}

static int set_strv_item(struct vk_strv *sv, char *s)
{
    char **nv = realloc(sv->v, (sv->n + 1) * sizeof *nv);
    if (!nv) {
        free(s);
        return vk_error(-ENOMEM, "out of memory");
    }
    sv->v = nv;
    sv->v[sv->n++] = s;
    return 0;
}

static void strv_free(struct vk_strv *sv)
{
    for (unsigned i = 0; i < sv->n; i++)
        free(sv->v[i]);
    free(sv->v);
    memset(sv, 0, sizeof *sv);
}

/* ---- keys with a function of their own ---- */

static int fn_type(struct ctx *x, int add, struct vk_cfgval *v)
{
    (void)add;
    int err = want_atom(x, v);
    if (err)
        return err;
    const char *s = v->s;
    enum vk_dom_type t;
    if (!strcmp(x->key, "builder")) {
        if (!strcmp(s, "hvm"))
            t = VK_TYPE_HVM;
        else if (!strcmp(s, "generic") || !strcmp(s, "linux"))
            t = VK_TYPE_PV;
        else
            return key_err(x, v, "'%.40s' is not hvm or generic", s);
    } else if (!strcmp(s, "hvm")) {
        t = VK_TYPE_HVM;
    } else if (!strcmp(s, "pv")) {
        t = VK_TYPE_PV;
    } else if (!strcmp(s, "pvh")) {
        t = VK_TYPE_PVH;
    } else {
        return key_err(x, v, "'%.40s' is not pv, pvh or hvm", s);
    }
    x->c->type = t;
    return 0;
}

static int fn_uuid(struct ctx *x, int add, struct vk_cfgval *v)
{
    (void)add;
    int err = want_atom(x, v);
    if (err)
        return err;
    const char *s = v->s;
    int ok = strlen(s) == 36;
    for (int i = 0; ok && i < 36; i++)
        ok = (i == 8 || i == 13 || i == 18 || i == 23) ? s[i] == '-' : isxdigit((unsigned char)s[i]);
    if (!ok)
        return key_err(x, v, "expected xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx");
    free(x->c->uuid);
    x->c->uuid = v->s;
    v->s = NULL;
    return 0;
}

static int fn_accel(struct ctx *x, int add, struct vk_cfgval *v)
{
    (void)add;
    int err = want_atom(x, v);
    if (err)
        return err;
    if (strcmp(v->s, "kvm") && strcmp(v->s, "tcg"))
        return key_err(x, v, "expected \"kvm\" or \"tcg\"");
    free(x->c->accel);
    x->c->accel = v->s;
    v->s = NULL;
    return 0;
}

/* The items of a list value as strings (xm's single string too). */
static int list_items(struct ctx *x, struct vk_cfgval *v, int single_ok, struct vk_cfgval **it,
                      unsigned *n)
{
    if (!v->list) {
        if (!single_ok)
            return key_err(x, v, "expected a list [ '...', ... ]");
        *it = v;
        *n = 1;
        return 0;
    }
    for (unsigned i = 0; i < v->n; i++)
        if (v->it[i].list)
            return key_err(x, &v->it[i], "expected a string, not a nested list");
    *it = v->it;
    *n = v->n;
    return 0;
}

static void free_disks(struct vk_domcfg *c)
{
    for (unsigned i = 0; i < c->n_disks; i++)
        vk_diskspec_free(&c->disks[i]);
    free(c->disks);
    c->disks = NULL;
    c->n_disks = 0;
}

/* Drop the disks for which drop(d, arg) is true, keeping the order. */
static void drop_disks(struct vk_domcfg *c, int (*drop)(const struct vk_diskspec *, const void *),
                       const void *arg)
{
    unsigned k = 0;
    for (unsigned i = 0; i < c->n_disks; i++) {
        if (drop(&c->disks[i], arg))
            vk_diskspec_free(&c->disks[i]);
        else
            c->disks[k++] = c->disks[i];
    }
    c->n_disks = k;
}

static int not_fdkey(const struct vk_diskspec *d, const void *arg)
{
    (void)arg;
    return !d->fdkey;
}

static int same_vdev(const struct vk_diskspec *d, const void *arg)
{
    const struct vk_diskspec *o = arg;
    return d->bus == o->bus && d->index == o->index && d->partition == o->partition;
}

/* fda = "FILE" / fdb = "FILE" (vmkit's extension: xl has no floppy key):
 * the floppy drive with that image, read-write as a PC floppy is ("" is
 * an empty drive).  The same as a disk spec 'FILE,fda,w', kept apart from
 * the disk list so that a later `disk = [...]` does not drop it. */
static int fn_floppy(struct ctx *x, int add, struct vk_cfgval *v)
{
    struct vk_domcfg *c = x->c;
    int err = want_atom(x, v);
    if (err)
        return err;
    if (add)
        return key_err(x, v, "can't use += with a floppy image");
    char *spec;
    if (asprintf(&spec, "vdev=%s,access=rw,target=%s", x->key, v->s) < 0)
        return vk_error(-ENOMEM, "out of memory");
    struct vk_diskspec d;
    err = vk_diskspec_parse(spec, &d);
    free(spec);
    if (err)
        return spec_err(x, v, err);
    d.fdkey = 1;
    drop_disks(c, same_vdev, &d);
    struct vk_diskspec *nd = realloc(c->disks, (c->n_disks + 1) * sizeof *nd);
    if (!nd) {
        vk_diskspec_free(&d);
        return vk_error(-ENOMEM, "out of memory");
    }
    c->disks = nd;
    c->disks[c->n_disks++] = d;
    return 0;
}

static void free_vifs(struct vk_domcfg *c)
{
    for (unsigned i = 0; i < c->n_vifs; i++)
        vk_vifspec_free(&c->vifs[i]);
    free(c->vifs);
    c->vifs = NULL;
    c->n_vifs = 0;
}

static int fn_disk(struct ctx *x, int add, struct vk_cfgval *v)
{
    struct vk_domcfg *c = x->c;
    struct vk_cfgval *it = NULL;
    unsigned n = 0;
    /* xm also took one string: disk = "phy:/dev/vg/root,xvda,w" */
    int err = list_items(x, v, 1, &it, &n);
    if (err)
        return err;
    if (!v->list)
        vk_warn("%s:%d: disk: a single string is xm's form; read as a one-disk list",
                x->kp->fname, v->line);
    if (!add)
        drop_disks(c, not_fdkey, NULL);   /* fda/fdb keys are not in the list */
    struct vk_diskspec *nd = realloc(c->disks, (c->n_disks + n + 1) * sizeof *nd);
    if (!nd)
        return vk_error(-ENOMEM, "out of memory");
    c->disks = nd;
    for (unsigned i = 0; i < n; i++) {
        struct vk_diskspec *d = &c->disks[c->n_disks];
        if ((err = vk_diskspec_parse(it[i].s, d)))
            return spec_err(x, &it[i], err);
        c->n_disks++;
        for (unsigned j = 0; j + 1 < c->n_disks; j++)
            if (c->disks[j].bus == d->bus && c->disks[j].index == d->index &&
                c->disks[j].partition == d->partition)
                return key_err(x, &it[i], "vdev '%s' used twice", d->vdev);
    }
    return 0;
}

static int fn_vif(struct ctx *x, int add, struct vk_cfgval *v)
{
    struct vk_domcfg *c = x->c;
    struct vk_cfgval *it = NULL;
    unsigned n = 0;
    int err = list_items(x, v, 0, &it, &n);
    if (err)
        return err;
    if (!add)
        free_vifs(c);
    c->vif_set = 1;
    struct vk_vifspec *nv = realloc(c->vifs, (c->n_vifs + n + 1) * sizeof *nv);
    if (!nv)
        return vk_error(-ENOMEM, "out of memory");
    c->vifs = nv;
    for (unsigned i = 0; i < n; i++) {
        if ((err = vk_vifspec_parse(it[i].s, &c->vifs[c->n_vifs])))
            return spec_err(x, &it[i], err);
        c->n_vifs++;
    }
    return 0;
}

/* Checks run on a K_STRV's items as they are stored (spec errors point
 * at the item). */
static int chk_items(struct ctx *x, struct vk_cfgval *it, unsigned n,
                     int (*check)(const char *spec))
{
    for (unsigned i = 0; i < n; i++) {
        int err = check(it[i].s);
        if (err)
            return spec_err(x, &it[i], err);
    }
    return 0;
}

/* Every item of a list value (or the one string, when single_ok) passes
 * check(). */
static int check_list(struct ctx *x, struct vk_cfgval *v, int single_ok,
                      int (*check)(const char *spec))
{
    struct vk_cfgval *it = NULL;
    unsigned n = 0;
    int err = list_items(x, v, single_ok, &it, &n);
    return err ? err : chk_items(x, it, n, check);
}

static int chk_serial(struct ctx *x, int add, struct vk_cfgval *v)
{
    (void)add;
    return check_list(x, v, 1, vk_serial_check);
}

static int chk_p9(struct ctx *x, int add, struct vk_cfgval *v)
{
    (void)add;
    return check_list(x, v, 0, vk_p9_check);
}

static int chk_channel(struct ctx *x, int add, struct vk_cfgval *v)
{
    (void)add;
    return check_list(x, v, 0, vk_channel_check);
}

static int chk_usbdevice(struct ctx *x, int add, struct vk_cfgval *v)
{
    (void)add;
    return check_list(x, v, 1, vk_usbdevice_check);
}

static int chk_vfb(struct ctx *x, int add, struct vk_cfgval *v)
{
    (void)add;
    return check_list(x, v, 0, vk_vfb_check);
}

static int chk_viridian(struct ctx *x, int add, struct vk_cfgval *v)
{
    (void)add;
    if (!v->list)
        return 0;             /* the boolean form, converted by the caller */
    return check_list(x, v, 0, vk_viridian_check);
}

static int chk_vga(struct ctx *x, int add, struct vk_cfgval *v)
{
    (void)add;
    if (v->list || (strcmp(v->s, "stdvga") && strcmp(v->s, "cirrus") && strcmp(v->s, "none") &&
                    strcmp(v->s, "qxl")))
        return key_err(x, v, "expected \"stdvga\", \"cirrus\", \"qxl\" or \"none\"");
    return 0;
}

static int chk_firmware(struct ctx *x, int add, struct vk_cfgval *v)
{
    (void)add;
    const char *s = v->list ? "" : v->s;
    if (!strcmp(s, "pvgrub32") || !strcmp(s, "pvgrub64"))
        return key_err(x, v, "not supported: pvgrub is a Xen PV kernel; vmkit boots the "
                       "guest's own kernel with bootloader = \"pygrub\"");
    if (strcmp(s, "bios") && strcmp(s, "seabios") && strcmp(s, "uefi") && strcmp(s, "ovmf") &&
        strcmp(s, "rombios"))
        return key_err(x, v, "'%.60s' is not bios, seabios, rombios, uefi or ovmf "
                       "(a firmware file path is not supported)", s);
    return 0;
}

static int chk_keymap(struct ctx *x, int add, struct vk_cfgval *v)
{
    (void)add;
    for (const char *p = v->s; *p; p++)
        if (!islower((unsigned char)*p) && *p != '-')
            return key_err(x, v, "'%.40s' is not a keymap name (en-us, de, fr-ch ...)", v->s);
    return *v->s ? 0 : key_err(x, v, "empty keymap");
}

static int chk_soundhw(struct ctx *x, int add, struct vk_cfgval *v)
{
    (void)add;
    return vk_soundhw_check(v->s) ? spec_err(x, v, -EINVAL) : 0;
}

static int chk_boot(struct ctx *x, int add, struct vk_cfgval *v)
{
    (void)add;
    for (const char *p = v->s; *p; p++)
        if (!strchr("acdn", *p))
            return key_err(x, v, "\"%.20s\": each letter must be a, c, d or n", v->s);
    return 0;
}

static int chk_machine(struct ctx *x, int add, struct vk_cfgval *v)
{
    (void)add;
    for (const char *p = v->s; *p; p++)
        if (!isalnum((unsigned char)*p) && !strchr("-._", *p))
            return key_err(x, v, "'%.40s' is not a QEMU machine type name", v->s);
    return 0;
}

static int chk_spice_str(struct ctx *x, int add, struct vk_cfgval *v)
{
    (void)add;
    static const char *const ic[] = { "auto_glz", "auto_lz", "quic", "glz", "lz", "off", NULL };
    static const char *const sv[] = { "filter", "all", "off", NULL };
    const char *const *ok = !strcmp(x->key, "spice_image_compression") ? ic : sv;
    for (int i = 0; ok[i]; i++)
        if (!strcmp(v->s, ok[i]))
            return 0;
    return key_err(x, v, "'%.40s' is not one of the values xl.cfg(5) lists", v->s);
}

#define O(f) offsetof(struct vk_domcfg, f)
#define HON(k, kind, f, what) { k, kind, O(f), 0, 0, 0, NULL, what }
#define HONF(k, kind, f, flags, fn, what) { k, kind, O(f), 0, 0, flags, fn, what }
#define NUM(k, f, lo, hi, what) { k, K_NUM, O(f), lo, hi, 0, NULL, what }
#define FN(k, fn, what) { k, K_FN, 0, 0, 0, 0, fn, what }
#define IGN(k, why) { k, K_IGNORE, 0, 0, 0, 0, NULL, why }
#define REF(k, why) { k, K_REFUSE, 0, 0, 0, 0, NULL, why }
#define REF0(k, why) { k, K_REFUSE, 0, 0, 0, F_ZERO_OK, NULL, why }

static const char xen_internal[] = "tunes the Xen hypervisor itself; there is no Xen under vmkit";
static const char no_pt[] = "passes host hardware to the guest, which needs root (VFIO) and "
                            "is not supported";
static const char xen_pv[] = "a Xen paravirtual device protocol with no QEMU counterpart";
static const char arm_only[] = "an Arm-only Xen setting; vmkit runs x86 guests";
static const char stubdom[] = "Xen stub domains do not exist under QEMU; the device model is "
                              "an ordinary QEMU process";

static const struct keydef keys[] = {
    /* identity and type */
    HON("name", K_STR, name, "`-name NAME`; the VM's name in every command"),
    HONF("uuid", K_FN, uuid, 0, fn_uuid, "`-uuid`; generated and kept by `define` when absent"),
    FN("type", fn_type, "`hvm`: BIOS/HVM defaults (VNC, Cirrus VGA); `pv`/`pvh`: direct or pygrub "
       "kernel boot, no display unless asked"),
    FN("builder", fn_type, "xm's type: `hvm` = type hvm, `generic` = type pv"),
    /* CPUs and memory */
    NUM("vcpus", vcpus, 1, VK_CFG_MAX_VCPUS, "`-smp N` (online at start)"),
    NUM("maxvcpus", maxvcpus, 1, VK_CFG_MAX_VCPUS, "`-smp N,maxcpus=M`: the rest can be hot-plugged "
        "(QMP device_add)"),
    NUM("vcpu_avail", vcpu_avail, 1, LONG_MAX, "xm: bitmask of the vCPUs online at start; must be "
        "vCPUs 0..N-1 (QEMU starts the first N)"),
    NUM("memory", memory, 16, VK_CFG_MAX_MEM, "`-m` MiB"),
    NUM("maxmem", maxmem, 16, VK_CFG_MAX_MEM, "`-m size=,slots=4,maxmem=` (memory hot-plug room)"),
    IGN("pool", xen_internal),
    IGN("cpus", "vCPU pinning to host CPUs is not applied (QEMU's threads float)"),
    IGN("cpus_soft", "soft vCPU affinity is not applied (QEMU's threads float)"),
    IGN("cpu_weight", "Xen credit-scheduler weight; QEMU runs as an ordinary process"),
    IGN("cap", "Xen credit-scheduler cap; vmkit sets no CPU limit"),
    REF("vnuma", "virtual NUMA nodes bound to host nodes are not built (no -numa mapping yet)"),
    /* actions */
    HON("on_poweroff", K_ACT, on_poweroff, "guest power-off: destroy, restart or preserve"),
    HON("on_reboot", K_ACT, on_reboot, "guest reboot (QEMU `-action reboot=shutdown`)"),
    HON("on_crash", K_ACT, on_crash, "guest panic (pvpanic) or QEMU dying"),
    HON("on_watchdog", K_ACT, on_watchdog, "adds an i6300esb watchdog (`-watchdog-action "
        "poweroff`); when it fires the monitor applies this action"),
    IGN("on_soft_reset", "Xen's soft reset (kexec of a Xen-aware HVM guest) does not exist under QEMU"),
    /* boot */
    HON("kernel", K_STR, kernel, "`-kernel` (direct boot); Xen's hvmloader with type hvm = BIOS boot"),
    HON("ramdisk", K_STR, ramdisk, "`-initrd`"),
    HON("cmdline", K_STR, cmdline, "`-append` (wins over root/extra, as in xl)"),
    HON("root", K_STR, root, "`-append \"root=ROOT EXTRA\"`; with pygrub appended to the entry's arguments"),
    HON("extra", K_STR, extra, "appended to the kernel command line (see root)"),
    HONF("firmware", K_STR, firmware, 0, chk_firmware, "`bios`/`seabios`/`rombios`: SeaBIOS; "
         "`uefi`/`ovmf`: `-bios` OVMF (package ovmf)"),
    HONF("bios", K_STR, firmware, F_NOFMT, chk_firmware, "as firmware"),
    HON("bios_path_override", K_STR, bios_path_override, "`-bios FILE`: the firmware image QEMU loads"),
    HON("bootloader", K_STR, bootloader, "`pygrub` only: vmkit reads the boot menu and copies "
        "kernel and initrd out of the disk"),
    HONF("bootloader_args", K_STRV, bootloader_args, F_SPLIT, NULL, "pygrub's options "
         "(`--entry=`, `-q`); a string is split at blanks as xl does"),
    IGN("bootloader_restrict", "vmkit's pygrub is not a separate program run as another user"),
    IGN("bootloader_user", "vmkit's pygrub is not a separate program run as another user"),
    HONF("boot", K_STR, boot, 0, chk_boot, "`-boot order=` (c disk, d cdrom, n network)"),
    IGN("pvshim", "the PV shim is a Xen hypervisor image; vmkit runs the guest under QEMU"),
    IGN("pvshim_path", "the PV shim is a Xen hypervisor image"),
    IGN("pvshim_cmdline", "the PV shim is a Xen hypervisor image"),
    IGN("pvshim_extra", "the PV shim is a Xen hypervisor image"),
    /* devices */
    FN("disk", fn_disk, "`-drive` (always with format=, raw when none is given: QEMU never probes)"),
    FN("fda", fn_floppy, "vmkit extension (xl has no floppy): the first floppy drive "
       "(`-drive if=floppy`), a raw image, \"\" for an empty drive; a disk spec "
       "`vdev=fda` is the same"),
    FN("fdb", fn_floppy, "vmkit extension: the second floppy drive, as fda"),
    FN("vif", fn_vif, "`-netdev user` or `bridge` + NIC (see NIC specs: VLAN bridges, rate=)"),
    HONF("p9", K_STRV, p9, 0, chk_p9, "`-fsdev local` + `virtio-9p-pci` (mount_tag = tag)"),
    HONF("channel", K_STRV, channel, 0, chk_channel, "`virtio-serial` port named name=, on a unix "
         "socket (connection=socket,path=) or in the runtime directory (pty)"),
    HONF("vfb", K_STRV, vfb, F_NOFMT, chk_vfb, "`type=vnc`: the VNC display (vnclisten, vncdisplay, "
         "vncunused, vncpasswd, keymap)"),
    REF("vtpm", "Xen vTPM stub domains; QEMU's TPM emulator (swtpm) is not wired"),
    REF("pvcalls", xen_pv),
    REF("vdispl", xen_pv),
    REF("vsnd", xen_pv),
    REF("vkb", xen_pv),
    REF("virtio", arm_only),
    REF("usbctrl", "PV USB controllers carry host USB devices, which needs root"),
    REF("usbdev", "host USB device passthrough needs root"),
    REF("pci", no_pt),
    REF0("pci_permissive", no_pt),
    REF0("pci_msitranslate", no_pt),
    REF0("pci_seize", no_pt),
    REF0("pci_power_mgmt", no_pt),
    REF0("gfx_passthru", no_pt),
    REF("dtdev", no_pt),
    REF("ioports", no_pt),
    REF("iomem", no_pt),
    REF("irqs", no_pt),
    IGN("rdm", "reserved device memory only matters for PCI passthrough, which is not supported"),
    IGN("rdm_mem_boundary", "reserved device memory only matters for PCI passthrough"),
    IGN("passthrough", "IOMMU mode for PCI passthrough, which is not supported"),
    IGN("e820_host", "the host memory map is a PV PCI passthrough aid"),
    IGN("max_event_channels", xen_internal),
    IGN("max_grant_frames", xen_internal),
    IGN("max_maptrack_frames", xen_internal),
    IGN("max_grant_version", xen_internal),
    IGN("seclabel", "XSM labels are Xen's security modules"),
    IGN("init_seclabel", "XSM labels are Xen's security modules"),
    HON("nomigrate", K_BOOL, nomigrate, "`vmkit migrate` refuses the VM"),
    IGN("driver_domain", xen_internal),
    IGN("device_tree", arm_only),
    IGN("xend_suspend_evtchn_compat", xen_internal),
    IGN("vmtrace_buf_kb", xen_internal),
    IGN("vpmu", arm_only),
    IGN("dm_restrict", "QEMU already runs as the invoking user"),
    IGN("device_model_user", "QEMU already runs as the invoking user"),
    REF("tee", arm_only),
    REF("gic_version", arm_only),
    REF("vuart", arm_only),
    REF("sve", arm_only),
    /* HVM platform */
    IGN("hdtype", "IDE disks stay on the PIIX IDE controller (AHCI is not offered)"),
    IGN("hap", xen_internal),
    IGN("oos", xen_internal),
    IGN("shadow_memory", xen_internal),
    HON("pae", K_BOOL, pae, "`pae=0`: `-cpu ...,-pae`"),
    HON("acpi", K_BOOL, acpi, "`acpi=0`: `-machine acpi=off`"),
    IGN("acpi_s3", "QEMU's default S3/S4 support is kept"),
    IGN("acpi_s4", "QEMU's default S3/S4 support is kept"),
    IGN("acpi_laptop_slate", "QEMU has no laptop/slate switch device"),
    HON("apic", K_BOOL, apic, "`apic=0`: `-cpu ...,-apic` (single vCPU guests)"),
    HON("nx", K_BOOL, nx, "`nx=0`: `-cpu ...,-nx`"),
    HON("hpet", K_BOOL, hpet, "`hpet=0`: `-machine hpet=off`"),
    IGN("altp2m", xen_internal),
    IGN("altp2mhvm", xen_internal),
    HON("nestedhvm", K_BOOL, nestedhvm, "`-cpu ...,+vmx` (KVM on Intel) or `+svm` (KVM on AMD, TCG)"),
    REF("cpuid", "Xen CPUID policy strings are not translated to QEMU -cpu flags"),
    IGN("acpi_firmware", "extra ACPI tables are not passed (QEMU -acpitable is not wired)"),
    IGN("smbios_firmware", "SMBIOS structures are not passed (QEMU -smbios file= is not wired)"),
    REF("smbios", "SMBIOS strings are not translated to QEMU -smbios yet"),
    IGN("ms_vm_genid", "no VM generation ID device is added"),
    IGN("tsc_mode", "QEMU/KVM manage the guest TSC"),
    HON("localtime", K_BOOL, localtime, "`-rtc base=localtime`"),
    NUM("rtc_timeoffset", rtc_timeoffset, -(1L << 40), 1L << 40, "`-rtc base=` now + SECONDS "
        "(recomputed at each restart)"),
    IGN("vpt_align", xen_internal),
    IGN("timer_mode", "Xen's virtual timer modes; QEMU's timers are used"),
    IGN("mmio_hole", "QEMU's pc machine keeps its own MMIO hole below 4 GiB"),
    IGN("xen_platform_pci", "the Xen platform device exists only under Xen; the guest uses the "
        "emulated and virtio devices"),
    HONF("viridian", K_STRV, viridian, F_BOOLLIST, chk_viridian, "Hyper-V enlightenments `-cpu "
         "...,hv-relaxed,hv-vapic,...` (KVM only)"),
    IGN("hvm_pirq", xen_internal),
    /* display */
    NUM("videoram", videoram, 1, 1024, "video memory: `vgamem_mb=` (stdvga, cirrus), "
        "`ram_size_mb`/`vram_size_mb` (qxl)"),
    HON("stdvga", K_BOOL, stdvga, "`stdvga=1`: `-device VGA` (vga = \"stdvga\")"),
    HONF("vga", K_STR, vga, 0, chk_vga, "`stdvga`: VGA, `cirrus`: cirrus-vga (HVM default), "
         "`qxl`: qxl-vga, `none`"),
    HON("vnc", K_BOOL, vnc, "`-vnc` (default on for HVM, as in xl; on loopback)"),
    HON("vnclisten", K_STR, vnclisten, "`-vnc ADDR:N`; a non-loopback address needs vncpasswd "
        "(or vncpasswd = \"\" on purpose), and takes only clients with a certificate of the "
        "host's CA when it has one (`vmkit tls init`)"),
    NUM("vncdisplay", vncdisplay, 0, 59535, "`-vnc :N` (port 5900+N)"),
    HON("vncunused", K_BOOL, vncunused, "`-vnc ...,to=99`: first free display"),
    HON("vncpasswd", K_STR, vncpasswd, "set over QMP after start (never on the command line); "
        "\"\" = no password on purpose"),
    HONF("keymap", K_STR, keymap, 0, chk_keymap, "`-k LANG`"),
    HON("nographic", K_BOOL, nographic, "no graphics card, no VNC"),
    REF0("sdl", "vmkit runs QEMU detached from any X display (use vnc)"),
    REF0("opengl", "vmkit runs QEMU detached from any X display (use vnc)"),
    IGN("display", "X display for SDL, which vmkit does not use"),
    IGN("xauthority", "X authority for SDL, which vmkit does not use"),
    HON("spice", K_BOOL, spice, "`-spice` (with qxl when vga is unset)"),
    HON("spicehost", K_STR, spicehost, "`-spice addr=` (default: all interfaces, as in xl)"),
    NUM("spiceport", spiceport, 1, 65535, "`-spice port=`"),
    REF0("spicetls_port", "SPICE over TLS needs certificates vmkit does not manage"),
    HON("spicedisable_ticketing", K_BOOL, spicedisable_ticketing, "`-spice disable-ticketing=on`"),
    HON("spicepasswd", K_STR, spicepasswd, "`-spice password-secret=` from a 0600 file in the "
        "runtime directory (never on the command line)"),
    HON("spiceagent_mouse", K_BOOL, spiceagent_mouse, "`-spice agent-mouse=`"),
    HON("spicevdagent", K_BOOL, spicevdagent, "`virtio-serial` port `com.redhat.spice.0` on a "
        "`spicevmc` chardev"),
    HON("spice_clipboard_sharing", K_BOOL, spice_clipboard_sharing, "`-spice disable-copy-paste=off`"),
    NUM("spiceusbredirection", spiceusbredirection, 0, 4, "N `usb-redir` devices on `spicevmc` "
        "chardevs (adds a USB controller)"),
    HONF("spice_image_compression", K_STR, spice_image_compression, 0, chk_spice_str,
         "`-spice image-compression=`"),
    HONF("spice_streaming_video", K_STR, spice_streaming_video, 0, chk_spice_str,
         "`-spice streaming-video=`"),
    /* other emulated hardware */
    HONF("serial", K_STRV, serial, F_SINGLE, chk_serial, "serial ports in order (ttyS0, ttyS1 ...): "
         "`pty` is vmkit's console socket, `tcp:`, `telnet:`, `udp:`, `unix:`, `file:`, `pipe:`, "
         "`null`, `none`, `vc`, `stdio` become the QEMU chardev they name"),
    HONF("soundhw", K_STR, soundhw, 0, chk_soundhw, "`hda`, `ac97`, `es1370`, `sb16`, `adlib`, "
         "`cs4231a`, `gus`: the card, on `-audiodev none` (the sound is discarded)"),
    IGN("vkb_device", "the Xen PV keyboard; the guest has QEMU's PS/2 keyboard"),
    HON("usb", K_BOOL, usb, "a USB controller (`piix3-usb-uhci`)"),
    NUM("usbversion", usbversion, 1, 3, "USB 1: `piix3-usb-uhci`, 2: `usb-ehci`, 3: `qemu-xhci`"),
    HONF("usbdevice", K_STRV, usbdevice, F_SINGLE, chk_usbdevice, "`tablet`, `mouse`, `keyboard`: "
         "`usb-tablet`, `usb-mouse`, `usb-kbd` (host: devices need root: refused)"),
    IGN("vendor_device", "the XenServer PV device exists only under Xen"),
    /* device model */
    IGN("device_model_version", "the device model is the host's QEMU, whatever this says"),
    IGN("device_model_override", "vmkit runs qemu-system-x86_64 from PATH"),
    IGN("stubdomain_kernel", stubdom),
    IGN("stubdomain_cmdline", stubdom),
    IGN("stubdomain_ramdisk", stubdom),
    IGN("stubdomain_memory", stubdom),
    IGN("device_model_stubdomain_override", stubdom),
    IGN("device_model_stubdomain_seclabel", stubdom),
    REF("device_model_args", "arbitrary QEMU arguments could contradict the ones vmkit relies on "
        "(sockets, actions); use the keys above"),
    REF("device_model_args_pv", "arbitrary QEMU arguments could contradict the ones vmkit relies on"),
    REF("device_model_args_hvm", "arbitrary QEMU arguments could contradict the ones vmkit relies on"),
    IGN("mca_caps", xen_internal),
    IGN("msr_relaxed", xen_internal),
    /* xm keys that xl dropped */
    IGN("device_model", "xm's device model path; xl ignores it too"),
    IGN("vncviewer", "xl ignores it too (use a VNC client on the address `vmkit list -l` shows)"),
    IGN("vncconsole", "xl ignores it too (use a VNC client on the address `vmkit list -l` shows)"),
    IGN("vif2", "netchannel2 is gone from Xen; xl ignores it too"),
    IGN("extid", "xm's Viridian id; use viridian"),
    IGN("on_xend_start", "xend is gone; xl ignores it too"),
    IGN("on_xend_stop", "xend is gone; xl ignores it too"),
    IGN("ip", "xm built the kernel's ip= from it; xl ignores it: put ip=... in extra"),
    IGN("netmask", "xm built the kernel's ip= from it; xl ignores it: put ip=... in extra"),
    IGN("gateway", "xm built the kernel's ip= from it; xl ignores it: put ip=... in extra"),
    IGN("hostname", "xm built the kernel's ip= from it; xl ignores it: put ip=... in extra"),
    IGN("dhcp", "xm built the kernel's ip= from it; xl ignores it: put ip=dhcp in extra"),
    IGN("nfs_server", "xm built root=/dev/nfs from it; xl ignores it: use extra, or p9 for a host directory"),
    IGN("nfs_root", "xm built root=/dev/nfs from it; xl ignores it: use extra, or p9 for a host directory"),
    /* vmkit's own */
    HONF("accel", K_FN, accel, 0, fn_accel, "vmkit: `kvm` or `tcg` (default: KVM when usable)"),
    HONF("machine", K_STR, machine, 0, chk_machine, "vmkit: the QEMU machine type (default `pc`)"),
};

#define NKEYS (sizeof keys / sizeof keys[0])

static const struct keydef *find_key(const char *k)
{
    for (size_t i = 0; i < NKEYS; i++)
        if (!strcmp(keys[i].key, k))
            return &keys[i];
    return NULL;
}

/* Contract in config.h. */
enum vk_key_status vk_cfg_key_status(const char *key, const char **what)
{
    const struct keydef *k = find_key(key);
    if (!k)
        return VK_KEY_UNKNOWN;
    if (what)
        *what = k->what;
    return k->kind == K_IGNORE ? VK_KEY_IGNORED : k->kind == K_REFUSE ? VK_KEY_REFUSED
                                                                      : VK_KEY_HONOURED;
}

/* Contract in devspec.h. */
const char *vk_cfg_key_name(unsigned i)
{
    return i < NKEYS ? keys[i].key : NULL;
}

static int is_zero(const struct vk_cfgval *v)
{
    if (v->list)
        return v->n == 0;
    if (!*v->s)
        return 1;
    char *ep;
    long l = strtol(v->s, &ep, 0);
    return !*ep && l == 0;
}

/* Contract in cfg_int.h. */
int vk_cfg_apply(void *cv, const char *key, int add, struct vk_cfgval *v,
                 const struct vk_cfgpos *kp)
{
    struct ctx x = { cv, kp, key };
    const struct keydef *k = find_key(key);
    if (!k) {
        vk_warn("%s:%d: unknown key '%s' ignored (xl ignores it too)", kp->fname, kp->line, key);
        return 0;
    }
    char *base = (char *)cv + k->off;
    int err;
    if (add && (k->kind == K_NUM || k->kind == K_BOOL || k->kind == K_ACT))
        return key_err(&x, v, "can't use += with numbers");
    switch (k->kind) {
    case K_IGNORE:
        vk_warn("%s:%d: '%s' ignored: %s", kp->fname, kp->line, key, k->what);
        return 0;
    case K_REFUSE:
        if ((k->flags & F_ZERO_OK) && is_zero(v))
            return 0;
        return key_err(&x, NULL, "not supported: %s", k->what);
    case K_FN:
        return k->fn(&x, add, v);
    default:
        break;
    }
    if (k->fn && !v->list && (err = k->fn(&x, add, v)))
        return err;
    switch (k->kind) {
    case K_STR: {
        if ((err = want_atom(&x, v)))
            return err;
        char **dst = (char **)base;
        if (add && *dst) {
            char *s;
            if (asprintf(&s, "%s%s", *dst, v->s) < 0)
                return vk_error(-ENOMEM, "out of memory");
            free(*dst);
            *dst = s;
        } else {
            free(*dst);
            *dst = v->s;
            v->s = NULL;
        }
        return 0;
    }
    case K_NUM:
        return to_long(&x, v, k->min, k->max, (long *)base);
    case K_BOOL: {
        long l;
        if ((err = to_long(&x, v, LONG_MIN, LONG_MAX, &l)))
            return err;
        *(int *)base = l != 0;
        return 0;
    }
    case K_ACT: {
        enum vk_action a;
        if ((err = want_atom(&x, v)))
            return err;
        if (vk_action_parse(v->s, &a))
            return key_err(&x, v, "unknown action '%.40s' (destroy, restart, preserve)", v->s);
        if (!strcmp(v->s, "rename-restart"))
            vk_warn("%s:%d: %s: rename-restart restarts the domain without keeping the old one "
                    "renamed (under QEMU it would keep its disks locked)", x.kp->fname, v->line,
                    k->key);
        *(int *)base = (int)a;
        return 0;
    }
    case K_STRV: {
        struct vk_strv *sv = (struct vk_strv *)base;
        if (!add)
            strv_free(sv);
        sv->set = 1;
        if (!v->list && (k->flags & F_BOOLLIST)) {
            long l;
            char *ep;
            l = strtol(v->s, &ep, 0);
            if (*ep || ep == v->s) {
                if ((err = k->fn(&x, add, &(struct vk_cfgval){ .list = 1, .n = 1, .it = v,
                                                               .line = v->line, .col = v->col })))
                    return err;
            } else {
                char *d = l ? strdup("defaults") : NULL;
                return l ? (d ? set_strv_item(sv, d) : vk_error(-ENOMEM, "out of memory")) : 0;
            }
        } else if (!v->list && (k->flags & F_SPLIT)) {
            vk_warn("%s:%d: %s as a string is deprecated (split at blanks, as xl does)",
                    kp->fname, kp->line, key);
            for (char *p = v->s; *p;) {
                size_t l = strcspn(p, " \t\n");
                if (l) {
                    char *w = strndup(p, l);
                    if (!w || (err = set_strv_item(sv, w)))
                        return w ? err : vk_error(-ENOMEM, "out of memory");
                }
                p += l;
                p += strspn(p, " \t\n");
            }
            return 0;
        } else if (k->fn && v->list && (err = k->fn(&x, add, v))) {
            return err;
        }
        struct vk_cfgval *it = NULL;
        unsigned n = 0;
        if ((err = list_items(&x, v, 1, &it, &n)))
            return err;
        for (unsigned i = 0; i < n; i++) {
            if ((err = set_strv_item(sv, it[i].s)))
                return err;
            it[i].s = NULL;
        }
        return 0;
    }
    default:
        return 0;
    }
}

void vk_domcfg_init(struct vk_domcfg *c)
{
    memset(c, 0, sizeof *c);
    for (size_t i = 0; i < NKEYS; i++) {
        char *base = (char *)c + keys[i].off;
        if (keys[i].kind == K_NUM)
            *(long *)base = VK_UNSET;
        else if (keys[i].kind == K_BOOL)
            *(int *)base = -1;
    }
    c->vncunused = 1;
    c->on_poweroff = VK_ACT_DESTROY;
    c->on_reboot = VK_ACT_RESTART;
    c->on_crash = VK_ACT_DESTROY;
    c->on_watchdog = -1;
}

void vk_domcfg_free(struct vk_domcfg *c)
{
    for (size_t i = 0; i < NKEYS; i++) {
        char *base = (char *)c + keys[i].off;
        if (keys[i].kind == K_STR || (keys[i].kind == K_FN && keys[i].off)) {
            free(*(char **)base);
            *(char **)base = NULL;
        } else if (keys[i].kind == K_STRV) {
            strv_free((struct vk_strv *)base);
        }
    }
    free(c->source);
    free_disks(c);
    free_vifs(c);
    vk_domcfg_init(c);
}

/* ---- writing the config back ---- */

static void put_list(struct vk_strbuf *b, const char *key, char *const *v, unsigned n)
{
    vk_strbuf_printf(b, "%s = [", key);
    for (unsigned i = 0; i < n; i++) {
        vk_strbuf_printf(b, i ? ", " : " ");
        vk_strbuf_xl_quoted(b, v[i]);
    }
    vk_strbuf_printf(b, " ]\n");
}

/* Canonical key=value disk spec: target last, since paths may hold commas. */
static void put_disk(struct vk_strbuf *b, const struct vk_diskspec *d)
{
    struct vk_strbuf t = { 0 };
    if (d->format || d->target)
        vk_strbuf_printf(&t, "format=%s,", d->format ? d->format : "raw");   /* xl's default */
    vk_strbuf_printf(&t, "vdev=%s,access=%s%s", d->vdev, d->readonly ? "ro" : "rw",
        d->cdrom ? ",devtype=cdrom" : "");
    if (d->backendtype)
        vk_strbuf_printf(&t, ",backendtype=%s", d->backendtype);
    vk_strbuf_printf(&t, ",target=%s", d->target ? d->target : "");
    if (t.oom)
        b->oom = 1;
    else
        vk_strbuf_xl_quoted(b, t.p);
    free(t.p);
}

static void put_vif(struct vk_strbuf *b, const struct vk_vifspec *v)
{
    struct vk_strbuf t = { 0 };
    vk_strbuf_printf(&t, "type=%s", v->type == VK_VIF_BRIDGE ? "bridge" : "user");
    if (v->mac) vk_strbuf_printf(&t, ",mac=%s", v->mac);
    if (v->bridge) vk_strbuf_printf(&t, ",bridge=%s", v->bridge);
    if (v->model) vk_strbuf_printf(&t, ",model=%s", v->model);
    if (v->n_hostfwd) {
        vk_strbuf_printf(&t, ",hostfwd=");
        for (unsigned i = 0; i < v->n_hostfwd; i++)
            vk_strbuf_printf(&t, "%s%s", i ? ";" : "", v->hostfwd[i]);
    }
    if (t.oom)
        b->oom = 1;
    else
        vk_strbuf_xl_quoted(b, t.p);
    free(t.p);
}

static void put_key(struct vk_strbuf *b, const struct vk_domcfg *c, const struct keydef *k)
{
    const char *base = (const char *)c + k->off;
    static const char *const types[] = { NULL, "pv", "pvh", "hvm" };
    if (k->flags & F_NOFMT)
        return;
    switch (k->kind) {
    case K_STR:
        if (*(char *const *)base) {
            vk_strbuf_printf(b, "%s = ", k->key);
            vk_strbuf_xl_quoted(b, *(char *const *)base);
            vk_strbuf_printf(b, "\n");
        }
        return;
    case K_NUM:
        if (*(const long *)base != VK_UNSET)
            vk_strbuf_printf(b, "%s = %s%ld%s\n", k->key, *(const long *)base < 0 ? "\"" : "",
                *(const long *)base, *(const long *)base < 0 ? "\"" : "");
        return;
    case K_BOOL:
        if (*(const int *)base >= 0)
            vk_strbuf_printf(b, "%s = %d\n", k->key, *(const int *)base);
        return;
    case K_ACT:
        if (*(const int *)base >= 0)
            vk_strbuf_printf(b, "%s = \"%s\"\n", k->key, vk_action_name((enum vk_action)*(const int *)base));
        return;
    case K_STRV: {
        const struct vk_strv *sv = (const struct vk_strv *)base;
        if (sv->set)
            put_list(b, k->key, sv->v, sv->n);
        return;
    }
    case K_FN:
        break;
    default:
        return;
    }
    if (!strcmp(k->key, "uuid") || !strcmp(k->key, "accel")) {
        if (*(char *const *)base) {
            vk_strbuf_printf(b, "%s = ", k->key);
            vk_strbuf_xl_quoted(b, *(char *const *)base);
            vk_strbuf_printf(b, "\n");
        }
    } else if (!strcmp(k->key, "type") && c->type != VK_TYPE_UNSET) {
        vk_strbuf_printf(b, "type = \"%s\"\n", types[c->type]);
    } else if (!strcmp(k->key, "disk") && c->n_disks) {
        vk_strbuf_printf(b, "disk = [\n");
        for (unsigned i = 0; i < c->n_disks; i++) {
            vk_strbuf_printf(b, "    ");
            put_disk(b, &c->disks[i]);
            vk_strbuf_printf(b, ",\n");
        }
        vk_strbuf_printf(b, "]\n");
    } else if (!strcmp(k->key, "vif") && (c->vif_set || c->n_vifs)) {
        vk_strbuf_printf(b, "vif = [");
        for (unsigned i = 0; i < c->n_vifs; i++) {
            vk_strbuf_printf(b, " ");
            put_vif(b, &c->vifs[i]);
            vk_strbuf_printf(b, ",");
        }
        vk_strbuf_printf(b, " ]\n");
    }
}

/* Contract in config.h. */
char *vk_domcfg_format(const struct vk_domcfg *c)
{
    struct vk_strbuf b = { 0 };
    vk_strbuf_printf(&b, "# vmkit domain configuration (xl.cfg syntax)\n");
    for (size_t i = 0; i < NKEYS; i++)
        put_key(&b, c, &keys[i]);
    if (b.oom) {
        free(b.p);
        vk_error(-ENOMEM, "out of memory");
        return NULL;
    }
    return b.p;
}
