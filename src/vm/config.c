/* Defaults and consistency checks for a parsed domain configuration. */
#include "vm/config.h"
#include "vm/devspec.h"
#include "vm/store.h"
#include "util/err.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

/* Contract in store.h. */
int vk_name_valid(const char *name)
{
    size_t n = strlen(name);
    if (n < 1 || n > 64 || name[0] == '.' || name[0] == '-')
        return 0;
    for (size_t i = 0; i < n; i++) {
        char ch = name[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
              (ch >= '0' && ch <= '9') || ch == '_' || ch == '.' || ch == '-'))
            return 0;
    }
    return 1;
}

static int random_bytes(unsigned char *r, size_t len)
{
    size_t got = 0;
    while (got < len) {
        ssize_t n = getrandom(r + got, len - got, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return vk_error(-errno, "getrandom: %s", strerror(errno));
        }
        got += (size_t)n;
    }
    return 0;
}

/* Contract in config.h. */
int vk_mac_generate(char **out)
{
    unsigned char r[3];
    int err = random_bytes(r, sizeof r);
    if (err)
        return err;
    if (asprintf(out, "00:16:3e:%02x:%02x:%02x", r[0] & 0x7f, r[1], r[2]) < 0) {
        *out = NULL;
        return vk_error(-ENOMEM, "out of memory");
    }
    return 0;
}

/* No vif key means one NIC on user-mode NAT: made explicit, so its MAC is
 * part of the config (kept by define); every NIC without a MAC gets one. */
static int fill_macs(struct vk_domcfg *c)
{
    int err;
    if (!c->vif_set) {
        if (!(c->vifs = calloc(1, sizeof *c->vifs)))
            return vk_error(-ENOMEM, "out of memory");
        c->vifs[0].type = VK_VIF_USER;
        c->n_vifs = 1;
        c->vif_set = 1;
    }
    for (unsigned i = 0; i < c->n_vifs; i++)
        if (!c->vifs[i].mac && (err = vk_mac_generate(&c->vifs[i].mac)))
            return err;
    return 0;
}

static int gen_uuid(char **out)
{
    unsigned char r[16];
    int err = random_bytes(r, sizeof r);
    if (err)
        return err;
    r[6] = (r[6] & 0x0f) | 0x40;  /* version 4 */
    r[8] = (r[8] & 0x3f) | 0x80;  /* RFC 4122 variant */
    char *s = malloc(37);
    if (!s)
        return vk_error(-ENOMEM, "out of memory");
    snprintf(s, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
             r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10], r[11],
             r[12], r[13], r[14], r[15]);
    *out = s;
    return 0;
}

static int is_loopback(const char *host)
{
    return !strncmp(host, "127.", 4) || !strcmp(host, "localhost") || !strcmp(host, "::1") ||
           !strcmp(host, "[::1]");
}

/* The address part of vnclisten ("ADDR" or "ADDR:DISPLAY"; IPv6 in
 * brackets or bare). */
static void listen_host(const char *l, char *host, size_t len)
{
    const char *colon = strrchr(l, ':');
    size_t n = colon && strchr(l, ':') == colon ? (size_t)(colon - l) : strlen(l);
    if (n >= len)
        n = len - 1;
    memcpy(host, l, n);
    host[n] = 0;
}

/* Contract in config.h. */
bool vk_domcfg_vnc_local(const struct vk_domcfg *c)
{
    char host[256];
    if (!c->vnclisten)
        return true;
    listen_host(c->vnclisten, host, sizeof host);
    return is_loopback(host);
}

/* vfb = [ "type=vnc,..." ]: the display of a PV guest (xl makes a PV
 * framebuffer of it; under QEMU it is the VGA card's VNC display). */
static int fold_vfb(struct vk_domcfg *c, const char *who)
{
    if (!c->vfb.set)
        return 0;
    if (c->vfb.n > 1)
        return vk_error(-EINVAL, "%s: vfb: %u framebuffers given; QEMU shows one display", who,
                        c->vfb.n);
    if (c->type == VK_TYPE_HVM) {
        if (c->vfb.n)
            vk_warn("%s: vfb is a PV framebuffer; an HVM guest's display is set with vnc=, "
                    "vga= (ignored)", who);
    } else if (c->vfb.n) {
        struct vk_vfb f;
        int err = vk_vfb_parse(c->vfb.v[0], &f);
        if (err)
            return err;
        c->vnc = f.vnc;
#define TAKE(x) if (f.x) { free(c->x); c->x = f.x; f.x = NULL; }
        TAKE(vnclisten);
        TAKE(vncpasswd);
        TAKE(keymap);
#undef TAKE
        if (f.vncdisplay != VK_UNSET)
            c->vncdisplay = f.vncdisplay;
        if (f.vncunused >= 0)
            c->vncunused = f.vncunused;
        vk_vfb_free(&f);
    }
    for (unsigned i = 0; i < c->vfb.n; i++)
        free(c->vfb.v[i]);
    free(c->vfb.v);
    memset(&c->vfb, 0, sizeof c->vfb);
    return 0;
}

static int check_display(struct vk_domcfg *c, const char *who)
{
    int hvm = c->type == VK_TYPE_HVM;
    if (c->nographic == 1) {
        if (c->vnc == 1)
            vk_warn("%s: nographic = 1: no graphics card, so no VNC either", who);
        c->vnc = 0;
        if (c->vga && strcmp(c->vga, "none"))
            vk_warn("%s: nographic = 1 overrides vga = \"%s\"", who, c->vga);
        free(c->vga);
        if (!(c->vga = strdup("none")))
            return vk_error(-ENOMEM, "out of memory");
    }
    if (c->vnc < 0)
        c->vnc = hvm ? 1 : 0;          /* xl.cfg(5): vnc defaults to 1 for HVM */
    if (!c->vga && c->stdvga >= 0)
        c->vga = strdup(c->stdvga ? "stdvga" : "cirrus");
    else if (!c->vga && hvm)
        c->vga = strdup("cirrus");     /* xl's default card */
    else if (!c->vga && (c->vnc == 1 || c->spice == 1))
        c->vga = strdup("stdvga");     /* a PV framebuffer: a plain linear frame buffer */
    else if (!c->vga)
        c->vga = strdup("none");
    if (!c->vga)
        return vk_error(-ENOMEM, "out of memory");
    c->stdvga = -1;
    if (!strcmp(c->vga, "none") && (c->vnc == 1 || c->spice == 1))
        vk_warn("%s: vga = \"none\": the %s display shows no picture", who,
                c->vnc == 1 ? "VNC" : "SPICE");
    long minram = !strcmp(c->vga, "stdvga") ? 16 : !strcmp(c->vga, "cirrus") ? 8
                : !strcmp(c->vga, "qxl") ? 128 : 0;
    if (c->videoram != VK_UNSET && c->videoram < minram)
        return vk_error(-EINVAL, "%s: videoram = %ld: %s needs at least %ld MiB (as in xl)", who,
                        c->videoram, c->vga, minram);
    if (c->vnc == 1 && c->vnclisten && !c->vncpasswd) {
        char host[256];
        listen_host(c->vnclisten, host, sizeof host);
        if (!is_loopback(host))
            return vk_error(-EINVAL, "%s: vnclisten = \"%s\" without vncpasswd: anyone who can "
                            "reach this host gets the VM's screen and keyboard; set vncpasswd, "
                            "or vncpasswd = \"\" to allow that on purpose", who, c->vnclisten);
    }
    if (c->spice == 1) {
        if (c->spiceport == VK_UNSET)
            return vk_error(-EINVAL, "%s: spice = 1 needs spiceport (as in xl)", who);
        if (c->spicedisable_ticketing != 1 && !c->spicepasswd)
            return vk_error(-EINVAL, "%s: spice = 1 needs spicepasswd, or spicedisable_ticketing "
                            "= 1 to let anyone connect (as in xl)", who);
        if (c->spice_clipboard_sharing == 1 && c->spicevdagent != 1)
            return vk_error(-EINVAL, "%s: spice_clipboard_sharing needs spicevdagent = 1", who);
    }
    return 0;
}

/* Xen's HVM firmware named as the kernel (xm's way to say "HVM") means
 * BIOS boot, as xl reads it. */
static int check_boot(struct vk_domcfg *c, const char *who)
{
    if (c->kernel) {
        const char *b = strrchr(c->kernel, '/');
        b = b ? b + 1 : c->kernel;
        if (!strcmp(b, "hvmloader")) {
            if (c->type == VK_TYPE_PV || c->type == VK_TYPE_PVH)
                return vk_error(-EINVAL, "%s: kernel \"%s\" is Xen's HVM firmware, but the type "
                                "is not hvm", who, c->kernel);
            vk_warn("%s: kernel \"%s\" is Xen's HVM firmware: booting from the BIOS (boot = "
                    "\"%s\") instead", who, c->kernel, c->boot ? c->boot : "cd");
            free(c->kernel);
            c->kernel = NULL;
            c->type = VK_TYPE_HVM;
            c->hvmloader = 1;
        }
    }
    if (c->bootloader && c->kernel)
        return vk_error(-EINVAL, "%s: both bootloader and kernel given; pick one", who);
    if (c->bootloader && strcmp(c->bootloader, "pygrub") && !strstr(c->bootloader, "/pygrub"))
        return vk_error(-EINVAL, "%s: bootloader '%s' not supported (only pygrub)", who, c->bootloader);
    if (c->cmdline && (c->root || c->extra))
        vk_warn("%s: ignoring root= and extra= in favour of cmdline= (as xl does)", who);
    if ((c->ramdisk || c->cmdline || c->extra || c->root) && !c->kernel && !c->bootloader)
        vk_warn("%s: ramdisk/extra/root/cmdline without kernel or bootloader are ignored", who);
    if (c->firmware && (!strcmp(c->firmware, "uefi") || !strcmp(c->firmware, "ovmf")) &&
        (c->kernel || c->bootloader))
        return vk_error(-EINVAL, "%s: firmware = \"%s\" and a direct kernel boot: pick one", who,
                        c->firmware);
    return 0;
}

/* Contract in config.h. */
int vk_domcfg_check(struct vk_domcfg *c)
{
    const char *who = c->source ? c->source : c->name ? c->name : "<config>";
    int err;
    if (!c->name)
        return vk_error(-EINVAL, "%s: no name = \"...\" given", who);
    if (!vk_name_valid(c->name))
        return vk_error(-EINVAL, "%s: name '%s' is not valid (letters, digits, _ . -; at most 64)",
                        who, c->name);
    if ((!c->uuid && (err = gen_uuid(&c->uuid))) || (err = fill_macs(c)))
        return err;
    if (c->memory == VK_UNSET)
        c->memory = 128;
    if (c->maxmem != VK_UNSET && c->maxmem < c->memory)
        return vk_error(-EINVAL, "%s: maxmem (%ld) is less than memory (%ld)", who, c->maxmem,
                        c->memory);
    if (c->vcpu_avail != VK_UNSET) {
        /* xm: vcpus = the maximum, vcpu_avail = which are online */
        unsigned long m = (unsigned long)c->vcpu_avail;
        if (m & (m + 1))
            return vk_error(-EINVAL, "%s: vcpu_avail = %#lx: QEMU starts vCPUs 0..N-1 online; "
                            "other sets are not supported", who, m);
        if (c->maxvcpus == VK_UNSET && c->vcpus != VK_UNSET)
            c->maxvcpus = c->vcpus;
        c->vcpus = __builtin_popcountl(m);
        c->vcpu_avail = VK_UNSET;
    }
    if (c->vcpus == VK_UNSET)
        c->vcpus = 1;
    if (c->maxvcpus != VK_UNSET && c->maxvcpus < c->vcpus)
        return vk_error(-EINVAL, "%s: maxvcpus (%ld) < vcpus (%ld)", who, c->maxvcpus, c->vcpus);
    if ((err = check_boot(c, who)) || (err = fold_vfb(c, who)) || (err = check_display(c, who)))
        return err;
    if (c->serial.n > 4)
        return vk_error(-EINVAL, "%s: serial: %u ports given; a PC has 4 (ttyS0..ttyS3)", who,
                        c->serial.n);
    if (c->accel && strcmp(c->accel, "kvm") && strcmp(c->accel, "tcg"))
        return vk_error(-EINVAL, "%s: accel '%s' is not kvm or tcg", who, c->accel);
    for (unsigned i = 0; i < c->n_disks; i++) {
        const struct vk_diskspec *d = &c->disks[i];
        if (d->bus == VK_BUS_IDE && d->readonly && !d->cdrom)
            return vk_error(-EINVAL, "%s: disk '%s': a read-only IDE hard disk is not supported "
                            "(QEMU's IDE disk refuses read-only images, as libxl says for "
                            "qemu-xen); use an xvd/sd vdev, access=rw, or devtype=cdrom", who,
                            d->spec ? d->spec : d->vdev);
    }
    return 0;
}

static int check_path(const char *who, const char *what, const char *path, int dir, int rw)
{
    struct stat st;
    if (stat(path, &st) < 0)
        return vk_error(-errno, "%s: %s: %s: %s", who, what, path, strerror(errno));
    if (dir ? !S_ISDIR(st.st_mode) : !S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode))
        return vk_error(-EINVAL, "%s: %s: %s: not a %s", who, what, path,
                        dir ? "directory" : "file or block device");
    if (access(path, rw ? R_OK | W_OK : R_OK) < 0)
        return vk_error(-errno, "%s: %s: %s: %s", who, what, path, strerror(errno));
    return 0;
}

/* Contract in config.h. */
int vk_domcfg_validate_disks(const struct vk_domcfg *c)
{
    const char *who = c->name ? c->name : c->source ? c->source : "<config>";
    char what[600];
    for (unsigned i = 0; i < c->n_disks; i++) {
        const struct vk_diskspec *d = &c->disks[i];
        if (!d->target || d->network)
            continue;
        snprintf(what, sizeof what, "disk '%.500s'", d->spec ? d->spec : d->vdev);
        int err = check_path(who, what, d->target, 0, !d->readonly);
        if (err)
            return err;
    }
    for (unsigned i = 0; i < c->p9.n; i++) {
        struct vk_p9 p;
        int err = vk_p9_parse(c->p9.v[i], &p);
        if (!err) {
            snprintf(what, sizeof what, "p9 '%.500s'", c->p9.v[i]);
            err = check_path(who, what, p.path, 1, 0);
        }
        vk_p9_free(&p);
        if (err)
            return err;
    }
    return 0;
}

/* Contract in config.h. */
const char *vk_domcfg_kernel_args(const struct vk_domcfg *c, char *buf, size_t len)
{
    if (c->cmdline)
        return c->cmdline;
    if (!c->root)
        return c->extra;
    int n = snprintf(buf, len, "root=%s%s%s", c->root, c->extra ? " " : "",
                     c->extra ? c->extra : "");
    return n >= 0 && (size_t)n < len ? buf : NULL;
}

/* Contract in config.h. */
char *vk_pygrub_append(const struct vk_domcfg *c, const char *entry_args)
{
    char *buf = malloc(2 * VK_CFG_MAX_BYTES + 16), *out = NULL;
    if (!buf) {
        vk_error(-ENOMEM, "out of memory");
        return NULL;
    }
    const char *user = vk_domcfg_kernel_args(c, buf, 2 * VK_CFG_MAX_BYTES + 16);
    for (unsigned i = 0; i < c->bootloader_args.n; i++)
        if (!strncmp(c->bootloader_args.v[i], "--args=", 7))
            user = c->bootloader_args.v[i] + 7;      /* pygrub: the last --args wins */
    const char *e = entry_args ? entry_args : "";
    if (asprintf(&out, "%s%s%s", e, *e && user && *user ? " " : "", user ? user : "") < 0) {
        out = NULL;
        vk_error(-ENOMEM, "out of memory");
    }
    free(buf);
    return out;
}

/* Contract in config.h. */
const char *vk_action_name(enum vk_action a)
{
    return a == VK_ACT_RESTART ? "restart" : a == VK_ACT_PRESERVE ? "preserve"
         : a == VK_ACT_COREDUMP_DESTROY ? "coredump-destroy"
         : a == VK_ACT_COREDUMP_RESTART ? "coredump-restart" : "destroy";
}

/* Contract in config.h. */
int vk_action_parse(const char *s, enum vk_action *a)
{
    if (!strcmp(s, "destroy"))
        *a = VK_ACT_DESTROY;
    else if (!strcmp(s, "restart") || !strcmp(s, "rename-restart"))
        *a = VK_ACT_RESTART;
    else if (!strcmp(s, "coredump-destroy"))
        *a = VK_ACT_COREDUMP_DESTROY;
    else if (!strcmp(s, "coredump-restart"))
        *a = VK_ACT_COREDUMP_RESTART;
    else if (!strcmp(s, "preserve"))
        *a = VK_ACT_PRESERVE;
    else
        return -EINVAL;
    return 0;
}
