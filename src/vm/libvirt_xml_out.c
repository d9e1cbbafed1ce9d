/* xl.cfg -> libvirt domain XML (vmkit dumpxml), built as a libxml2 tree so
 * every name and path is escaped by the library, in the element order of
 * libvirt's own dumpxml.  The mapping is the reader's (libvirt_xml_in.c)
 * read backwards; what has no XML form is refused naming its key. */
#include "vm/libvirt_xml.h"
#include "vm/devspec.h"
#include "vm/qemu_args.h"
#include "util/err.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/xmlso.h"

struct w {
    const struct vk_domcfg *c;
    int oom;
};

static xmlNodePtr el(struct w *w, xmlNodePtr parent, const char *name, const char *text)
{
    if (!parent)
        return NULL;
    xmlNodePtr n = xmlNewTextChild(parent, NULL, BAD_CAST name, BAD_CAST text);
    if (!n)
        w->oom = 1;
    return n;
}

static void at(struct w *w, xmlNodePtr n, const char *k, const char *v)
{
    if (n && !xmlNewProp(n, BAD_CAST k, BAD_CAST v))
        w->oom = 1;
}

static void atf(struct w *w, xmlNodePtr n, const char *k, const char *fmt, ...)
    VK_PRINTF(4, 5);
static void atf(struct w *w, xmlNodePtr n, const char *k, const char *fmt, ...)
{
    char buf[64];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    at(w, n, k, buf);
}

static xmlNodePtr elf(struct w *w, xmlNodePtr parent, const char *name, const char *fmt, ...)
    VK_PRINTF(4, 5);
static xmlNodePtr elf(struct w *w, xmlNodePtr parent, const char *name, const char *fmt, ...)
{
    char buf[64];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    return el(w, parent, name, buf);
}

static int refuse(const struct w *w, const char *key, const char *why)
{
    return vk_error(-EINVAL, "%s: %s: no libvirt domain XML equivalent (%s)", w->c->name, key, why);
}

/* Settings the writer has no element for: refused before anything is built. */
static int check_expressible(const struct w *w)
{
    const struct vk_domcfg *c = w->c;
    if (c->bootloader)
        return refuse(w, "bootloader", "libvirt's QEMU driver boots the disk's own boot loader or "
                      "a kernel file, not pygrub");
    if (c->viridian.n)
        return refuse(w, "viridian", "Hyper-V enlightenments are not written yet");
    if (c->pae == 0)
        return refuse(w, "pae", "an x86_64 domain always has PAE");
    if (c->nx == 0 || c->nestedhvm == 1)
        return refuse(w, c->nx == 0 ? "nx" : "nestedhvm", "CPU feature flags are not written");
    if (c->spiceusbredirection != VK_UNSET && c->spiceusbredirection > 0)
        return refuse(w, "spiceusbredirection", "USB redirection is not written yet");
    if (c->on_poweroff >= VK_ACT_COREDUMP_DESTROY || c->on_reboot >= VK_ACT_COREDUMP_DESTROY)
        return refuse(w, c->on_poweroff >= VK_ACT_COREDUMP_DESTROY ? "on_poweroff" : "on_reboot",
                      "libvirt dumps core only on_crash");
    if (c->on_watchdog >= VK_ACT_COREDUMP_DESTROY)
        return refuse(w, "on_watchdog", "libvirt's watchdog dump keeps the guest running");
    for (unsigned i = 0; i < c->n_disks; i++) {
        const struct vk_diskspec *d = &c->disks[i];
        if (d->network)
            return refuse(w, "disk", "network disks are not written yet");
        if (d->backendtype && strcmp(d->backendtype, "phy"))
            return refuse(w, "disk", "backendtype other than phy");
    }
    for (unsigned i = 0; i < c->serial.n; i++) {
        const char *s = c->serial.v[i];
        if (strcmp(s, "pty") && strcmp(s, "null") && strcmp(s, "none") && strncmp(s, "file:", 5))
            return refuse(w, "serial", "only pty, null, none and file: ports are written");
    }
    return 0;
}

static const char *disk_bus(const struct vk_diskspec *d)
{
    switch (d->bus) {
    case VK_BUS_IDE:    return "ide";
    case VK_BUS_SCSI:   return "scsi";
    case VK_BUS_FLOPPY: return "fdc";
    default:            return "virtio";
    }
}

static void put_disks(struct w *w, xmlNodePtr dev)
{
    const struct vk_domcfg *c = w->c;
    int scsi = 0;
    for (unsigned i = 0; i < c->n_disks; i++) {
        const struct vk_diskspec *d = &c->disks[i];
        int blk = d->backendtype && !strcmp(d->backendtype, "phy");
        xmlNodePtr n = el(w, dev, "disk", NULL);
        at(w, n, "type", blk ? "block" : "file");
        at(w, n, "device", d->cdrom ? "cdrom" : d->bus == VK_BUS_FLOPPY ? "floppy" : "disk");
        xmlNodePtr drv = el(w, n, "driver", NULL);
        at(w, drv, "name", "qemu");
        if (d->target)   /* an empty drive has no format (xl writes none either) */
            at(w, drv, "type", d->format ? d->format : "raw");
        if (d->target)
            at(w, el(w, n, "source", NULL), blk ? "dev" : "file", d->target);
        xmlNodePtr t = el(w, n, "target", NULL);
        at(w, t, "dev", d->vdev);
        at(w, t, "bus", disk_bus(d));
        if (d->readonly)
            el(w, n, "readonly", NULL);
        scsi |= d->bus == VK_BUS_SCSI;
    }
    if (scsi) {   /* vmkit puts SCSI disks on one virtio-scsi HBA */
        xmlNodePtr n = el(w, dev, "controller", NULL);
        at(w, n, "type", "scsi");
        at(w, n, "index", "0");
        at(w, n, "model", "virtio-scsi");
    }
    xmlNodePtr u = el(w, dev, "controller", NULL);
    at(w, u, "type", "usb");
    at(w, u, "index", "0");
    if (c->usb != 1 && !c->usbdevice.n && c->usbversion == VK_UNSET)
        at(w, u, "model", "none");
    else
        at(w, u, "model", c->usbversion == 3 ? "qemu-xhci" : c->usbversion == 2 ? "ich9-ehci1"
                          : "piix3-uhci");
}

/* p9 shares as <filesystem type='mount'>: libvirt's accessmode squash is
 * QEMU's security_model none, mapped is mapped-xattr. */
static int put_fs(struct w *w, xmlNodePtr dev)
{
    for (unsigned i = 0; i < w->c->p9.n; i++) {
        struct vk_p9 p;
        int err = vk_p9_parse(w->c->p9.v[i], &p);
        const char *mode = err ? NULL : !strcmp(p.model, "none") ? "squash"
                         : !strcmp(p.model, "mapped-xattr") ? "mapped"
                         : !strcmp(p.model, "passthrough") ? "passthrough" : NULL;
        if (!err && !mode)
            err = refuse(w, "p9", "security_model=mapped-file has no libvirt accessmode");
        if (!err) {
            xmlNodePtr f = el(w, dev, "filesystem", NULL);
            at(w, f, "type", "mount");
            at(w, f, "accessmode", mode);
            at(w, el(w, f, "source", NULL), "dir", p.path);
            at(w, el(w, f, "target", NULL), "dir", p.tag);
        }
        vk_p9_free(&p);
        if (err)
            return err;
    }
    return 0;
}

/* channel specs as virtio-serial <channel>s: a unix socket QEMU listens
 * on (source mode bind), or a pty. */
static int put_channels(struct w *w, xmlNodePtr dev)
{
    for (unsigned i = 0; i < w->c->channel.n; i++) {
        struct vk_channel ch;
        int err = vk_channel_parse(w->c->channel.v[i], &ch);
        if (err)
            return err;
        xmlNodePtr n = el(w, dev, "channel", NULL);
        at(w, n, "type", ch.path ? "unix" : "pty");
        if (ch.path) {
            xmlNodePtr src = el(w, n, "source", NULL);
            at(w, src, "mode", "bind");
            at(w, src, "path", ch.path);
        }
        xmlNodePtr t = el(w, n, "target", NULL);
        at(w, t, "type", "virtio");
        at(w, t, "name", ch.name);
        vk_channel_free(&ch);
    }
    return 0;
}

static void put_vifs(struct w *w, xmlNodePtr dev)
{
    for (unsigned i = 0; i < w->c->n_vifs; i++) {
        const struct vk_vifspec *v = &w->c->vifs[i];
        xmlNodePtr n = el(w, dev, "interface", NULL);
        at(w, n, "type", v->type == VK_VIF_BRIDGE ? "bridge" : "user");
        if (v->mac)
            at(w, el(w, n, "mac", NULL), "address", v->mac);
        if (v->bridge)
            at(w, el(w, n, "source", NULL), "bridge", v->bridge);
        const char *m = v->model ? v->model : "virtio-net-pci";
        at(w, el(w, n, "model", NULL), "type", !strcmp(m, "virtio-net-pci") ? "virtio" : m);
        if (v->n_hostfwd)   /* libvirt forwards ports only through passt */
            at(w, el(w, n, "backend", NULL), "type", "passt");
        for (unsigned j = 0; j < v->n_hostfwd; j++) {
            /* PROTO:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT */
            char proto[8] = "tcp", addr[64] = "";
            unsigned hp = 0, gp = 0;
            const char *s = v->hostfwd[j];
            if (!strncmp(s, "udp:", 4) || !strncmp(s, "tcp:", 4)) {
                memcpy(proto, s, 3);
                s += 4;
            }
            if (sscanf(s, "%63[^:]:%u-:%u", addr, &hp, &gp) != 3 &&
                sscanf(s, ":%u-:%u", &hp, &gp) != 2)
                continue;   /* checked by check_hostfwd already */
            xmlNodePtr f = el(w, n, "portForward", NULL);
            at(w, f, "proto", proto);
            if (*addr)
                at(w, f, "address", addr);
            xmlNodePtr r = el(w, f, "range", NULL);
            atf(w, r, "start", "%u", hp);
            atf(w, r, "to", "%u", gp);
        }
    }
}

/* Each hostfwd must be one the portForward form can carry (no guest
 * address: passt forwards to the guest's own). */
static int check_hostfwd(const struct w *w)
{
    for (unsigned i = 0; i < w->c->n_vifs; i++)
        for (unsigned j = 0; j < w->c->vifs[i].n_hostfwd; j++) {
            const char *s = w->c->vifs[i].hostfwd[j];
            char addr[64];
            unsigned hp, gp;
            if (!strncmp(s, "udp:", 4) || !strncmp(s, "tcp:", 4))
                s += 4;
            if (sscanf(s, "%63[^:]:%u-:%u", addr, &hp, &gp) != 3 &&
                sscanf(s, ":%u-:%u", &hp, &gp) != 2)
                return refuse(w, "vif hostfwd", "only PROTO:[ADDR]:PORT-:PORT forwards are written "
                              "(portForward has no guest address)");
        }
    return 0;
}

static void put_serials(struct w *w, xmlNodePtr dev)
{
    const struct vk_domcfg *c = w->c;
    unsigned n = c->serial.set ? c->serial.n : 1;   /* unset: the console port */
    for (unsigned i = 0; i < n; i++) {
        const char *s = c->serial.set ? c->serial.v[i] : "pty";
        if (!strcmp(s, "none"))
            continue;
        xmlNodePtr p = el(w, dev, "serial", NULL);
        at(w, p, "type", !strncmp(s, "file:", 5) ? "file" : s);
        if (!strncmp(s, "file:", 5))
            at(w, el(w, p, "source", NULL), "path", s + 5);
        atf(w, el(w, p, "target", NULL), "port", "%u", i);
        if (i == 0) {
            xmlNodePtr k = el(w, dev, "console", NULL);
            at(w, k, "type", !strncmp(s, "file:", 5) ? "file" : s);
            if (!strncmp(s, "file:", 5))
                at(w, el(w, k, "source", NULL), "path", s + 5);
            xmlNodePtr t = el(w, k, "target", NULL);
            at(w, t, "type", "serial");
            at(w, t, "port", "0");
        }
    }
}

/* vnclisten "ADDR[:DISPLAY]" (IPv6 in brackets or bare) */
static void split_listen(const char *l, char *host, size_t len, long *display)
{
    const char *colon = strrchr(l, ':');
    int v6bare = colon && strchr(l, ':') != colon && l[0] != '[';
    size_t n = colon && !v6bare && (l[0] != '[' || colon[-1] == ']') ? (size_t)(colon - l) : strlen(l);
    if (n < strlen(l))
        *display = strtol(colon + 1, NULL, 10);
    if (l[0] == '[' && n >= 2 && l[n - 1] == ']') {
        l++;
        n -= 2;
    }
    if (n >= len)
        n = len - 1;
    memcpy(host, l, n);
    host[n] = 0;
}

static void put_graphics(struct w *w, xmlNodePtr dev)
{
    const struct vk_domcfg *c = w->c;
    if (c->vnc == 1) {
        char host[128] = "127.0.0.1";
        long disp = c->vncdisplay;
        if (c->vnclisten)
            split_listen(c->vnclisten, host, sizeof host, &disp);
        xmlNodePtr g = el(w, dev, "graphics", NULL);
        at(w, g, "type", "vnc");
        if (disp != VK_UNSET) {
            atf(w, g, "port", "%ld", 5900 + disp);
            at(w, g, "autoport", "no");
        } else {
            at(w, g, "port", "-1");
            at(w, g, "autoport", "yes");
        }
        if (c->keymap)
            at(w, g, "keymap", c->keymap);
        if (c->vncpasswd && *c->vncpasswd)
            at(w, g, "passwd", c->vncpasswd);
        xmlNodePtr l = el(w, g, "listen", NULL);
        at(w, l, "type", "address");
        at(w, l, "address", host);
    }
    if (c->spice == 1) {
        xmlNodePtr g = el(w, dev, "graphics", NULL);
        at(w, g, "type", "spice");
        atf(w, g, "port", "%ld", c->spiceport);
        at(w, g, "autoport", "no");
        if (c->spicepasswd && c->spicedisable_ticketing != 1)
            at(w, g, "passwd", c->spicepasswd);
        xmlNodePtr l = el(w, g, "listen", NULL);
        at(w, l, "type", "address");
        at(w, l, "address", c->spicehost ? c->spicehost : "0.0.0.0");
        if (c->spice_image_compression)
            at(w, el(w, g, "image", NULL), "compression", c->spice_image_compression);
        if (c->spice_streaming_video)
            at(w, el(w, g, "streaming", NULL), "mode", c->spice_streaming_video);
        if (c->spice_clipboard_sharing >= 0)
            at(w, el(w, g, "clipboard", NULL), "copypaste", c->spice_clipboard_sharing ? "yes" : "no");
        if (c->spiceagent_mouse >= 0)
            at(w, el(w, g, "mouse", NULL), "mode", c->spiceagent_mouse ? "client" : "server");
    }
}

static void put_video(struct w *w, xmlNodePtr dev)
{
    const char *v = w->c->vga ? w->c->vga : "none";
    xmlNodePtr m = el(w, el(w, dev, "video", NULL), "model", NULL);
    at(w, m, "type", !strcmp(v, "stdvga") ? "vga" : v);
    if (w->c->videoram != VK_UNSET && strcmp(v, "none"))
        atf(w, m, "vram", "%ld", w->c->videoram * 1024);
}

static int put_sound(struct w *w, xmlNodePtr dev)
{
    static const char *const map[][2] = { { "hda", "ich6" }, { "ac97", "ac97" },
                                          { "es1370", "es1370" }, { "sb16", "sb16" } };
    const char *s = w->c->soundhw;
    while (s && *s) {
        size_t l = strcspn(s, ",");
        size_t k = 0;
        while (k < 4 && (strlen(map[k][0]) != l || strncmp(map[k][0], s, l)))
            k++;
        if (k == 4)
            return refuse(w, "soundhw", "only hda, ac97, es1370 and sb16 are written");
        at(w, el(w, dev, "sound", NULL), "model", map[k][1]);
        s += l + (s[l] == ',');
    }
    return 0;
}

static void put_os(struct w *w, xmlNodePtr root)
{
    const struct vk_domcfg *c = w->c;
    xmlNodePtr os = el(w, root, "os", NULL);
    if (c->firmware)
        at(w, os, "firmware", !strcmp(c->firmware, "uefi") || !strcmp(c->firmware, "ovmf")
                                  ? "efi" : "bios");
    xmlNodePtr t = el(w, os, "type", "hvm");
    at(w, t, "arch", "x86_64");
    at(w, t, "machine", c->machine ? c->machine : "pc");
    if (c->bios_path_override) {
        xmlNodePtr l = el(w, os, "loader", c->bios_path_override);
        at(w, l, "type", "rom");
    }
    if (c->kernel) {
        char buf[8192];
        el(w, os, "kernel", c->kernel);
        if (c->ramdisk)
            el(w, os, "initrd", c->ramdisk);
        const char *args = vk_domcfg_kernel_args(c, buf, sizeof buf);
        if (args)
            el(w, os, "cmdline", args);
    }
    /* no boot key: xl's HVM default order (disk, then CD), which libvirt
     * would not assume; with a kernel libvirt writes hd itself */
    const char *order = c->boot ? c->boot : c->type == VK_TYPE_HVM && !c->kernel ? "cd" : NULL;
    for (const char *b = order; b && *b; b++) {
        const char *dev = *b == 'c' ? "hd" : *b == 'd' ? "cdrom" : *b == 'n' ? "network"
                        : *b == 'a' ? "fd" : NULL;
        if (dev)
            at(w, el(w, os, "boot", NULL), "dev", dev);
    }
}

static const char *act(enum vk_action a)
{
    return a == VK_ACT_COREDUMP_DESTROY ? "coredump-destroy"
         : a == VK_ACT_COREDUMP_RESTART ? "coredump-restart" : vk_action_name(a);
}

static void put_top(struct w *w, xmlNodePtr root)
{
    const struct vk_domcfg *c = w->c;
    static const char *const types[] = { NULL, "pv", "pvh", "hvm" };
    el(w, root, "name", c->name);
    if (c->uuid)
        el(w, root, "uuid", c->uuid);
    if (c->type != VK_TYPE_UNSET || !c->accel || c->vnc == 1 || !c->boot) {
        xmlNodePtr md = el(w, root, "metadata", NULL);
        xmlNodePtr x = el(w, md, "xl", NULL);
        xmlNsPtr ns = x ? xmlNewNs(x, BAD_CAST VK_XML_NS, BAD_CAST "vmkit") : NULL;
        if (x && !ns)
            w->oom = 1;
        xmlSetNs(x, ns);
        if (c->type != VK_TYPE_UNSET)
            at(w, x, "type", types[c->type]);
        if (!c->accel)
            at(w, x, "accel", "auto");
        if (c->vnc == 1)
            atf(w, x, "vncunused", "%d", c->vncunused == 1);
        if (!c->boot)
            at(w, x, "boot", "default");
    }
    long mem = c->memory != VK_UNSET ? c->memory : 128;
    if (c->maxmem != VK_UNSET && c->maxmem > mem) {
        xmlNodePtr m = elf(w, root, "maxMemory", "%ld", c->maxmem);
        at(w, m, "slots", "4");
        at(w, m, "unit", "MiB");
    }
    at(w, elf(w, root, "memory", "%ld", mem), "unit", "MiB");
    at(w, elf(w, root, "currentMemory", "%ld", mem), "unit", "MiB");
    long vcpus = c->vcpus != VK_UNSET ? c->vcpus : 1;
    long maxv = c->maxvcpus != VK_UNSET ? c->maxvcpus : vcpus;
    xmlNodePtr v = elf(w, root, "vcpu", "%ld", maxv);
    at(w, v, "placement", "static");
    if (maxv != vcpus)
        atf(w, v, "current", "%ld", vcpus);
    put_os(w, root);
    xmlNodePtr f = el(w, root, "features", NULL);
    if (c->acpi != 0)
        el(w, f, "acpi", NULL);
    if (c->apic != 0)
        el(w, f, "apic", NULL);
    el(w, f, "pae", NULL);
    if (c->maxmem != VK_UNSET && c->maxmem > mem) {
        /* libvirt plugs memory only into a NUMA node: one holding it all */
        xmlNodePtr cell = el(w, el(w, el(w, root, "cpu", NULL), "numa", NULL), "cell", NULL);
        at(w, cell, "id", "0");
        if (maxv > 1)
            atf(w, cell, "cpus", "0-%ld", maxv - 1);
        else
            at(w, cell, "cpus", "0");
        atf(w, cell, "memory", "%ld", mem);
        at(w, cell, "unit", "MiB");
    }
    xmlNodePtr clk = el(w, root, "clock", NULL);
    if (c->rtc_timeoffset != VK_UNSET) {
        at(w, clk, "offset", "variable");
        atf(w, clk, "adjustment", "%ld", c->rtc_timeoffset);
        at(w, clk, "basis", c->localtime == 1 ? "localtime" : "utc");
    } else {
        at(w, clk, "offset", c->localtime == 1 ? "localtime" : "utc");
    }
    if (c->hpet >= 0) {
        xmlNodePtr t = el(w, clk, "timer", NULL);
        at(w, t, "name", "hpet");
        at(w, t, "present", c->hpet ? "yes" : "no");
    }
    el(w, root, "on_poweroff", act(c->on_poweroff));
    el(w, root, "on_reboot", act(c->on_reboot));
    el(w, root, "on_crash", act(c->on_crash));
}

static const char *domain_type(const struct vk_domcfg *c, const char *accel)
{
    if (!accel)
        accel = c->accel;
    if (!accel && vk_accel_choose(NULL, &accel, NULL, 0) < 0)
        accel = "tcg";   /* auto never fails; keep the writer total */
    return strcmp(accel, "kvm") ? "qemu" : "kvm";
}

/* Contract in libvirt_xml.h. */
char *vk_libvirt_xml_write(const struct vk_domcfg *c, const char *accel)
{
    struct w w = { c, 0 };
    int err;
    if (!c->name)
        return vk_error(-EINVAL, "dumpxml: the config has no name"), NULL;
    if ((err = check_expressible(&w)) || (err = check_hostfwd(&w)))
        return NULL;
    if (vk_xml_load() < 0)
        return NULL;
    xmlDocPtr doc = xmlNewDoc(BAD_CAST "1.0");
    xmlNodePtr root = doc ? xmlNewNode(NULL, BAD_CAST "domain") : NULL;
    if (!root) {
        xmlFreeDoc(doc);
        return vk_error(-ENOMEM, "out of memory"), NULL;
    }
    xmlDocSetRootElement(doc, root);
    at(&w, root, "type", domain_type(c, accel));
    put_top(&w, root);
    xmlNodePtr dev = el(&w, root, "devices", NULL);
    el(&w, dev, "emulator", "/usr/bin/qemu-system-x86_64");
    put_disks(&w, dev);
    if ((err = put_fs(&w, dev))) {
        xmlFreeDoc(doc);
        return NULL;
    }
    put_vifs(&w, dev);
    put_serials(&w, dev);
    if ((err = put_channels(&w, dev))) {
        xmlFreeDoc(doc);
        return NULL;
    }
    xmlNodePtr in = el(&w, dev, "input", NULL);
    at(&w, in, "type", "mouse");
    at(&w, in, "bus", "ps2");
    in = el(&w, dev, "input", NULL);
    at(&w, in, "type", "keyboard");
    at(&w, in, "bus", "ps2");
    for (unsigned i = 0; i < c->usbdevice.n; i++) {
        const char *u = c->usbdevice.v[i];
        if (strcmp(u, "tablet") && strcmp(u, "mouse") && strcmp(u, "keyboard")) {
            xmlFreeDoc(doc);
            return refuse(&w, "usbdevice", "only tablet, mouse and keyboard are written"), NULL;
        }
        in = el(&w, dev, "input", NULL);
        at(&w, in, "type", u);
        at(&w, in, "bus", "usb");
    }
    put_graphics(&w, dev);
    if (c->spicevdagent == 1) {
        xmlNodePtr ch = el(&w, dev, "channel", NULL);
        at(&w, ch, "type", "spicevmc");
        xmlNodePtr t = el(&w, ch, "target", NULL);
        at(&w, t, "type", "virtio");
        at(&w, t, "name", "com.redhat.spice.0");
    }
    if ((err = put_sound(&w, dev))) {
        xmlFreeDoc(doc);
        return NULL;
    }
    put_video(&w, dev);
    if (c->on_watchdog >= 0) {
        static const char *const wact[] = { "poweroff", "reset", "pause" };
        xmlNodePtr wd = el(&w, dev, "watchdog", NULL);
        at(&w, wd, "model", "i6300esb");
        at(&w, wd, "action", wact[c->on_watchdog]);
    }
    at(&w, el(&w, dev, "memballoon", NULL), "model", "none");
    at(&w, el(&w, dev, "panic", NULL), "model", "isa");   /* vmkit's pvpanic */
    xmlChar *mem = NULL;
    int len = 0;
    if (!w.oom)
        xmlDocDumpFormatMemoryEnc(doc, &mem, &len, "UTF-8", 1);
    xmlFreeDoc(doc);
    char *out = NULL;
    if (mem) {
        /* drop the XML declaration: virsh dumpxml prints none either */
        const char *p = (const char *)mem;
        if (!strncmp(p, "<?xml", 5) && strchr(p, '\n'))
            p = strchr(p, '\n') + 1;
        size_t l = strlen(p);
        if ((out = malloc(l + 2))) {
            memcpy(out, p, l);
            if (!l || p[l - 1] != '\n')
                out[l++] = '\n';
            out[l] = 0;
        }
        xmlFree(mem);
    }
    if (!out)
        vk_error(-ENOMEM, "out of memory");
    return out;
}
