/* <devices> of a libvirt domain XML -> xl.cfg disk, vif, serial, display
 * and the other device keys.  Lists (disk, vif, serial, usbdevice,
 * soundhw) are gathered as xl.cfg list text and set once at the end. */
#include "vm/libvirt_xml_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEV_KIDS " address alias"
#define MAX_SERIAL 4

struct devs {
    struct vk_strbuf disk, vif, usbdev, sound, channel, p9;
    char *serial[MAX_SERIAL];
    int n_disk, n_vif, n_usbdev, usb_ctrl, n_video, n_channel, n_p9;
};

/* A spec xl would refuse, refused here with the XPath of the element it
 * came from (the list is only set at the end). */
static int spec_ok(struct lx *r, xmlNodePtr n, const char *spec, int disk)
{
    struct vk_diskspec ds;
    struct vk_vifspec vs;
    int err = disk ? vk_diskspec_parse(spec, &ds) : vk_vifspec_parse(spec, &vs);
    if (!err && disk)
        vk_diskspec_free(&ds);
    else if (!err)
        vk_vifspec_free(&vs);
    if (err) {
        xmlChar *path = xmlGetNodePath(n);
        err = vk_error_prefix(err, "%s: %s: ", r->fname, path ? (const char *)path : "?");
        xmlFree(path);
    }
    return err;
}

/* Append s to the xl list text b (", " between items). */
static void item(struct vk_strbuf *b, int *n, const char *s)
{
    if ((*n)++)
        vk_strbuf_printf(b, ", ");
    vk_strbuf_xl_quoted(b, s);
}

static xmlNodePtr attr_node(xmlNodePtr n, const char *a)
{
    xmlAttrPtr p = xmlHasProp(n, BAD_CAST a);
    return p ? (xmlNodePtr)p : n;
}

static xmlNodePtr child(xmlNodePtr n, const char *name)
{
    for (xmlNodePtr k = n->children; k; k = k->next)
        if (lx_is(k, name))
            return k;
    return NULL;
}

/* The vdev for <target dev= bus=>: the prefix the bus means under vmkit
 * (hd IDE, sd SCSI, vd/xvd virtio, fd floppy), the unit from dev. */
static int vdev_of(struct lx *r, xmlNodePtr t, char *out, size_t len)
{
    char *dev = lx_attr(t, "dev"), *bus = lx_attr(t, "bus");
    static const char *const pfx[] = { "xvd", "hd", "sd", "vd", "fd" };
    int err = 0;
    size_t pl = 0;
    for (size_t i = 0; dev && i < 5 && !pl; i++)
        if (!strncmp(dev, pfx[i], strlen(pfx[i])))
            pl = strlen(pfx[i]);
    const char *want = NULL;
    if (!dev || !pl || !dev[pl])
        err = lx_refuse(r, dev ? attr_node(t, "dev") : t, "target dev= must be hdX, sdX, vdX, "
                        "xvdX or fdX");
    else if (bus && !strcmp(bus, "ide"))
        want = "hd";
    else if (bus && !strcmp(bus, "scsi"))
        want = "sd";
    else if (bus && !strcmp(bus, "fdc"))
        want = "fd";
    else if (bus && !strcmp(bus, "virtio"))
        want = pl == 3 ? "xvd" : "vd";
    else if (bus)
        err = lx_refuse(r, attr_node(t, "bus"), "vmkit's disk buses are ide, scsi, virtio and fdc");
    if (!err)
        snprintf(out, len, "%s%s", want ? want : "", want ? dev + pl : dev);
    xmlFree(dev);
    xmlFree(bus);
    return err;
}

static int rd_disk(struct lx *r, struct devs *d, xmlNodePtr n)
{
    int err = lx_only(r, n, "type device", "driver source target readonly backingStore" DEV_KIDS);
    char *type = lx_attr(n, "type"), *device = lx_attr(n, "device");
    char *fmt = NULL, *path = NULL, vdev[40] = "";
    int ro = 0, blk = type && !strcmp(type, "block");
    if (!err && type && strcmp(type, "file") && !blk)
        err = lx_refuse(r, attr_node(n, "type"), "disks are files or block devices");
    if (!err && device && strcmp(device, "disk") && strcmp(device, "cdrom") &&
        strcmp(device, "floppy"))
        err = lx_refuse(r, attr_node(n, "device"), "disk, cdrom or floppy");
    for (xmlNodePtr k = n->children; k && !err; k = k->next) {
        if (k->type != XML_ELEMENT_NODE)
            continue;
        if (lx_is(k, "driver")) {
            char *name = lx_attr(k, "name");
            err = lx_only(r, k, "name type", NULL);
            if (!err && name && strcmp(name, "qemu"))
                err = lx_refuse(r, attr_node(k, "name"), "the driver is qemu");
            if (!err)
                fmt = lx_attr(k, "type");
            xmlFree(name);
        } else if (lx_is(k, "source")) {
            err = lx_only(r, k, blk ? "dev index" : "file index", NULL);
            if (!err)
                path = lx_attr(k, blk ? "dev" : "file");
        } else if (lx_is(k, "target")) {
            err = lx_only(r, k, "dev bus", NULL);
            if (!err)
                err = vdev_of(r, k, vdev, sizeof vdev);
        } else if (lx_is(k, "readonly")) {
            err = lx_only(r, k, NULL, NULL);
            ro = 1;
        }   /* backingStore: vmkit follows the image's own backing chain */
    }
    if (!err && !*vdev)
        err = lx_refuse(r, n, "a disk needs <target dev=.../>");
    if (!err) {
        struct vk_strbuf s = { 0 };
        if (path)
            vk_strbuf_printf(&s, "format=%s,", fmt ? fmt : "raw");
        vk_strbuf_printf(&s, "vdev=%s,access=%s%s%s,target=%s", vdev, ro ? "ro" : "rw",
               device && !strcmp(device, "cdrom") ? ",devtype=cdrom" : "",
               blk ? ",backendtype=phy" : "", path ? path : "");
        if (s.oom)
            err = vk_error(-ENOMEM, "out of memory");
        else if (!path && (!device || !strcmp(device, "disk")))
            err = lx_refuse(r, n, "a hard disk needs <source>");
        else if (fmt && strspn(fmt, "abcdefghijklmnopqrstuvwxyz0123456789") != strlen(fmt))
            err = lx_refuse(r, n, "bad driver type");
        else if (!(err = spec_ok(r, n, s.p, 1)))
            item(&d->disk, &d->n_disk, s.p);
        free(s.p);
    }
    xmlFree(type);
    xmlFree(device);
    xmlFree(fmt);
    xmlFree(path);
    return err;
}

static int rd_controller(struct lx *r, struct devs *d, xmlNodePtr n)
{
    int err = lx_only(r, n, "type index model", DEV_KIDS);
    char *t = lx_attr(n, "type"), *m = lx_attr(n, "model"), *i = lx_attr(n, "index");
    if (!err && i && strcmp(i, "0"))
        err = lx_refuse(r, attr_node(n, "index"), "one controller of each type");
    else if (!err && t && !strcmp(t, "pci")) {
        if (m && strcmp(m, "pci-root"))
            err = lx_refuse(r, attr_node(n, "model"), "the pc machine's PCI root only");
    } else if (!err && t && !strcmp(t, "usb")) {
        if (!m || !strcmp(m, "piix3-uhci"))
            d->usb_ctrl = 1;
        else if (!strcmp(m, "ich9-ehci1"))
            d->usb_ctrl = 2;
        else if (!strcmp(m, "qemu-xhci") || !strcmp(m, "nec-xhci"))
            d->usb_ctrl = 3;
        else if (!strcmp(m, "none"))
            d->usb_ctrl = 0;
        else
            err = lx_refuse(r, attr_node(n, "model"), "piix3-uhci, ich9-ehci1, qemu-xhci or none");
    } else if (!err && t && !strcmp(t, "scsi")) {
        if (m && strcmp(m, "virtio-scsi"))
            err = lx_refuse(r, attr_node(n, "model"), "vmkit's SCSI disks are on virtio-scsi");
    } else if (!err && (!t || (strcmp(t, "ide") && strcmp(t, "fdc") && strcmp(t, "virtio-serial"))))
        err = lx_refuse(r, t ? attr_node(n, "type") : n, NULL);
    else if (!err && m)
        err = lx_refuse(r, attr_node(n, "model"), NULL);
    xmlFree(t);
    xmlFree(m);
    xmlFree(i);
    return err;
}

/* <portForward proto= address=><range start= to=/></portForward> ->
 * hostfwd "PROTO:ADDR:START-:TO" into s. */
static int rd_forward(struct lx *r, xmlNodePtr f, struct vk_strbuf *s, int *nfw)
{
    int err = lx_only(r, f, "proto address", "range*");
    char *proto = lx_attr(f, "proto"), *addr = lx_attr(f, "address");
    if (!err && (!proto || (strcmp(proto, "tcp") && strcmp(proto, "udp"))))
        err = lx_refuse(r, proto ? attr_node(f, "proto") : f, "proto is tcp or udp");
    for (xmlNodePtr g = f->children; g && !err; g = g->next) {
        if (g->type != XML_ELEMENT_NODE)
            continue;
        char *st = lx_attr(g, "start"), *to = lx_attr(g, "to");
        long a = 0, b = 0;
        err = lx_only(r, g, "start to", NULL);
        if (!err)
            err = lx_num(r, g, st, 1, 65535, &a);
        if (!err)
            err = lx_num(r, g, to ? to : st, 1, 65535, &b);
        if (!err && addr && strspn(addr, "0123456789.") != strlen(addr))
            err = lx_refuse(r, attr_node(f, "address"), "an IPv4 address");
        if (!err)
            vk_strbuf_printf(s, "%s%s:%s:%ld-:%ld", (*nfw)++ ? ";" : ",hostfwd=", proto, addr ? addr : "",
                   a, b);
        xmlFree(st);
        xmlFree(to);
    }
    xmlFree(proto);
    xmlFree(addr);
    return err;
}

static int rd_interface(struct lx *r, struct devs *d, xmlNodePtr n)
{
    int err = lx_only(r, n, "type", "mac source model backend portForward* target" DEV_KIDS);
    char *type = lx_attr(n, "type");
    int user = type && !strcmp(type, "user"), nfw = 0;
    struct vk_strbuf s = { 0 };
    if (!err && !user && (!type || strcmp(type, "bridge")))
        err = lx_refuse(r, type ? attr_node(n, "type") : n, type && !strcmp(type, "network")
                        ? "vmkit has no libvirt networks: use type='bridge' with <source "
                          "bridge='virbr0'/>, or type='user'" : "user or bridge");
    vk_strbuf_printf(&s, "type=%s", user ? "user" : "bridge");
    for (xmlNodePtr k = n->children; k && !err; k = k->next) {
        if (k->type != XML_ELEMENT_NODE)
            continue;
        const char *a = lx_is(k, "mac") ? "address" : lx_is(k, "source") ? "bridge"
                      : lx_is(k, "model") || lx_is(k, "backend") ? "type" : NULL;
        char *v = a ? lx_attr(k, a) : NULL;
        if (lx_is(k, "portForward")) {
            err = rd_forward(r, k, &s, &nfw);
        } else if (lx_is(k, "target")) {
            err = lx_only(r, k, "dev", NULL);
            vk_warn("%s: interface <target dev=> ignored: QEMU's tap is named by "
                    "qemu-bridge-helper", r->fname);
        } else if (a) {
            err = lx_only(r, k, a, NULL);
            if (!err && (!v || strpbrk(v, ",;\"\\")))
                err = lx_refuse(r, v ? attr_node(k, a) : k, "bad value");
            else if (!err && lx_is(k, "backend") && (!user || strcmp(v, "passt")))
                err = lx_refuse(r, attr_node(k, a), "QEMU's user networking is vmkit's");
            else if (!err && lx_is(k, "source") && user)
                err = lx_refuse(r, k, "a user-mode NIC has no bridge");
            else if (!err && lx_is(k, "model") && strcmp(v, "virtio"))
                vk_strbuf_printf(&s, ",model=%s", v);
            else if (!err && !lx_is(k, "model") && !lx_is(k, "backend"))
                vk_strbuf_printf(&s, ",%s=%s", lx_is(k, "mac") ? "mac" : "bridge", v);
        }
        xmlFree(v);
    }
    if (!err && nfw && !user)
        err = lx_refuse(r, n, "port forwards need type='user'");
    if (!err && s.oom)
        err = vk_error(-ENOMEM, "out of memory");
    if (!err && !(err = spec_ok(r, n, s.p, 0)))
        item(&d->vif, &d->n_vif, s.p);
    free(s.p);
    xmlFree(type);
    return err;
}

/* <serial>/<console> type= with <source path=> -> xl serial spec. */
static int chardev(struct lx *r, xmlNodePtr n, char **spec, long *port)
{
    int err = lx_only(r, n, "type", "source target" DEV_KIDS);
    char *type = lx_attr(n, "type");
    *spec = NULL;
    for (xmlNodePtr k = n->children; k && !err; k = k->next) {
        if (lx_is(k, "source")) {
            char *p = lx_attr(k, "path");
            err = lx_only(r, k, "path", NULL);
            if (!err && p && type && !strcmp(type, "file") && asprintf(spec, "file:%s", p) < 0) {
                *spec = NULL;
                err = vk_error(-ENOMEM, "out of memory");
            }
            xmlFree(p);
        } else if (lx_is(k, "target")) {
            char *t = lx_attr(k, "type"), *p = lx_attr(k, "port");
            err = lx_only(r, k, "type port", lx_is(n, "serial") ? "model" : NULL);
            if (!err && t && strcmp(t, lx_is(n, "serial") ? "isa-serial" : "serial"))
                err = lx_refuse(r, attr_node(k, "type"), "ISA serial ports only");
            if (!err && p)
                err = lx_num(r, k, p, 0, MAX_SERIAL - 1, port);
            for (xmlNodePtr m = k->children; m && !err; m = m->next)
                if (m->type == XML_ELEMENT_NODE) {
                    char *name = lx_attr(m, "name");
                    err = lx_only(r, m, "name", NULL);
                    if (!err && (!name || strcmp(name, "isa-serial")))
                        err = lx_refuse(r, m, "ISA serial ports only");
                    xmlFree(name);
                }
            xmlFree(t);
            xmlFree(p);
        }
    }
    if (!err && !*spec) {
        if (type && (!strcmp(type, "pty") || !strcmp(type, "null")))
            *spec = strdup(type);
        else
            err = lx_refuse(r, type ? attr_node(n, "type") : n, "pty, null or file ports only");
        if (!err && !*spec)
            err = vk_error(-ENOMEM, "out of memory");
    }
    if (err) {
        free(*spec);
        *spec = NULL;
    }
    xmlFree(type);
    return err;
}

static int rd_serial(struct lx *r, struct devs *d, xmlNodePtr n)
{
    long port = -1;
    char *spec;
    int err = chardev(r, n, &spec, &port);
    if (err)
        return err;
    if (port < 0)   /* libvirt numbers unnumbered ports in order */
        for (port = 0; port < MAX_SERIAL && d->serial[port]; port++)
            ;
    if (lx_is(n, "console")) {
        /* the console of a serial port is that port; alone it makes one */
        if (port == 0 && d->serial[0] && strcmp(d->serial[0], spec))
            err = lx_refuse(r, n, "the console must be serial port 0");
        if (!err && !d->serial[0]) {
            d->serial[0] = spec;
            spec = NULL;
        }
        free(spec);
        return err;
    }
    if (port >= MAX_SERIAL || d->serial[port]) {
        free(spec);
        return lx_refuse(r, n, "a PC has serial ports 0..3, each once");
    }
    d->serial[port] = spec;
    return 0;
}

static int rd_input(struct lx *r, struct devs *d, xmlNodePtr n)
{
    int err = lx_only(r, n, "type bus", DEV_KIDS);
    char *t = lx_attr(n, "type"), *b = lx_attr(n, "bus");
    int ps2 = !b || !strcmp(b, "ps2"), usb = b && !strcmp(b, "usb");
    if (!err && t && ps2 && (!strcmp(t, "mouse") || !strcmp(t, "keyboard")))
        ;   /* the PC's own PS/2 devices */
    else if (!err && t && usb && (!strcmp(t, "tablet") || !strcmp(t, "mouse") ||
                                  !strcmp(t, "keyboard")))
        item(&d->usbdev, &d->n_usbdev, t);
    else if (!err)
        err = lx_refuse(r, n, "PS/2 mouse and keyboard, USB tablet, mouse and keyboard");
    xmlFree(t);
    xmlFree(b);
    return err;
}

/* <listen type='address' address=/> or the listen= attribute. */
static char *listen_addr(struct lx *r, xmlNodePtr g, int *err)
{
    char *a = lx_attr(g, "listen");
    for (xmlNodePtr k = g->children; k && !*err; k = k->next)
        if (lx_is(k, "listen")) {
            char *t = lx_attr(k, "type");
            *err = lx_only(r, k, "type address", NULL);
            if (!*err && (!t || strcmp(t, "address")))
                *err = lx_refuse(r, k, "listening on an address only");
            xmlFree(t);
            if (!*err) {
                xmlFree(a);
                a = lx_attr(k, "address");
            }
        }
    return a;
}

static int set_yes(struct lx *r, xmlNodePtr k, const char *attr, const char *key, const char *yes)
{
    char *v = lx_attr(k, attr);
    int err = lx_only(r, k, attr, NULL);
    if (!err)
        err = lx_set(r, k, "%s=%d", key, v && !strcmp(v, yes));
    xmlFree(v);
    return err;
}

static int rd_graphics(struct lx *r, xmlNodePtr g)
{
    char *type = lx_attr(g, "type"), *port = lx_attr(g, "port"), *ap = lx_attr(g, "autoport");
    char *pw = lx_attr(g, "passwd"), *km = lx_attr(g, "keymap"), *addr = NULL;
    int vnc = type && !strcmp(type, "vnc"), spice = type && !strcmp(type, "spice");
    int autop = !ap || !strcmp(ap, "yes"), err;
    long p = -1;
    err = lx_only(r, g, vnc ? "type port autoport listen keymap passwd"
                            : "type port autoport listen passwd",
                  vnc ? "listen" : "listen image streaming clipboard mouse");
    if (!err && !vnc && !spice)
        err = lx_refuse(r, type ? attr_node(g, "type") : g, "VNC and SPICE displays only");
    if (!err)
        addr = listen_addr(r, g, &err);
    if (!err && port && !autop)
        err = lx_num(r, g, port, vnc ? 5900 : 1, 65535, &p);
    if (!err && !autop && p < 0)
        err = lx_refuse(r, g, "autoport='no' needs a port");
    if (!err && vnc) {
        err = lx_set(r, g, "vnc=1");
        r->vnc_seen = 1;
        if (!err && addr && strcmp(addr, "127.0.0.1"))
            err = lx_set_str(r, g, "vnclisten", addr);
        if (!err && p >= 0)
            err = lx_set(r, g, "vncdisplay=%ld", p - 5900);
        if (!err && !r->vncunused_set)
            err = lx_set(r, g, "vncunused=%d", autop);
        if (!err && pw)
            err = lx_set_str(r, g, "vncpasswd", pw);
        if (!err && km)
            err = lx_set_str(r, g, "keymap", km);
    } else if (!err) {
        if (autop)
            err = lx_refuse(r, g, "SPICE needs a fixed port (autoport='no' port=N), as xl's "
                            "spiceport");
        if (!err)
            err = lx_set(r, g, "spice=1");
        if (!err)
            err = lx_set(r, g, "spiceport=%ld", p);
        if (!err && addr && strcmp(addr, "0.0.0.0"))
            err = lx_set_str(r, g, "spicehost", addr);
        if (!err)
            err = pw ? lx_set_str(r, g, "spicepasswd", pw) : lx_set(r, g, "spicedisable_ticketing=1");
        for (xmlNodePtr k = g->children; k && !err; k = k->next) {
            if (lx_is(k, "clipboard"))
                err = set_yes(r, k, "copypaste", "spice_clipboard_sharing", "yes");
            else if (lx_is(k, "mouse"))
                err = set_yes(r, k, "mode", "spiceagent_mouse", "client");
            else if (lx_is(k, "image") || lx_is(k, "streaming")) {
                const char *a = lx_is(k, "image") ? "compression" : "mode";
                char *v = lx_attr(k, a);
                err = lx_only(r, k, a, NULL);
                if (!err)
                    err = lx_set_str(r, k, lx_is(k, "image") ? "spice_image_compression"
                                                           : "spice_streaming_video", v ? v : "");
                xmlFree(v);
            }
        }
    }
    xmlFree(type);
    xmlFree(port);
    xmlFree(ap);
    xmlFree(pw);
    xmlFree(km);
    xmlFree(addr);
    return err;
}

static int rd_video(struct lx *r, struct devs *d, xmlNodePtr v)
{
    int err = lx_only(r, v, NULL, "model" DEV_KIDS);
    xmlNodePtr m = child(v, "model");
    if (!err && ++d->n_video > 1)
        err = lx_refuse(r, v, "one graphics card");
    if (!err && !m)
        err = lx_refuse(r, v, "<video> needs <model type=/>");
    if (err)
        return err;
    char *t = lx_attr(m, "type"), *vram = lx_attr(m, "vram"), *h = lx_attr(m, "heads");
    char *pr = lx_attr(m, "primary");
    long kib = 0;
    const char *vga = !t ? NULL : !strcmp(t, "vga") ? "stdvga" : !strcmp(t, "cirrus") ? "cirrus"
                    : !strcmp(t, "qxl") ? "qxl" : !strcmp(t, "none") ? "none" : NULL;
    err = lx_only(r, m, "type vram heads primary", NULL);
    if (!err && !vga)
        err = lx_refuse(r, t ? attr_node(m, "type") : m, "vga, cirrus, qxl or none");
    if (!err && h && strcmp(h, "1"))
        err = lx_refuse(r, attr_node(m, "heads"), "one head");
    if (!err && pr && strcmp(pr, "yes"))
        err = lx_refuse(r, attr_node(m, "primary"), NULL);
    if (!err)
        err = lx_set_str(r, m, "vga", vga);
    /* 16 MiB is QEMU's own VGA memory, which libvirt writes out: unset */
    if (!err && vram && strcmp(vga, "none") && (strcmp(vram, "16384") || !strcmp(vga, "qxl"))) {
        err = lx_num(r, m, vram, 1024, 1024 * 1024, &kib);
        if (!err && kib % 1024)
            err = lx_refuse(r, attr_node(m, "vram"), "whole MiB");
        if (!err)
            err = lx_set(r, m, "videoram=%ld", kib / 1024);
    }
    xmlFree(t);
    xmlFree(vram);
    xmlFree(h);
    xmlFree(pr);
    return err;
}

static int rd_misc(struct lx *r, struct devs *d, xmlNodePtr n)
{
    int err = lx_only(r, n, lx_is(n, "watchdog") ? "model action" : "model", DEV_KIDS);
    char *m = lx_attr(n, "model"), *a = lx_attr(n, "action");
    if (err) {
    } else if (lx_is(n, "sound")) {
        const char *hw = !m ? NULL : !strcmp(m, "ich6") ? "hda" : !strcmp(m, "ac97") ? "ac97"
                       : !strcmp(m, "es1370") ? "es1370" : !strcmp(m, "sb16") ? "sb16" : NULL;
        if (!hw)
            err = lx_refuse(r, m ? attr_node(n, "model") : n, "ich6, ac97, es1370 or sb16");
        else
            vk_strbuf_printf(&d->sound, "%s%s", d->sound.n ? "," : "", hw);
    } else if (lx_is(n, "watchdog")) {
        const char *act = !a || !strcmp(a, "reset") ? "restart" : !strcmp(a, "poweroff")
                        ? "destroy" : !strcmp(a, "pause") ? "preserve" : NULL;
        if (!m || strcmp(m, "i6300esb"))
            err = lx_refuse(r, m ? attr_node(n, "model") : n, "the i6300esb watchdog");
        else if (!act)
            err = lx_refuse(r, attr_node(n, "action"), "reset, poweroff or pause");
        else
            err = lx_set(r, n, "on_watchdog=%s", act);
    } else if (lx_is(n, "memballoon")) {
        if (m && strcmp(m, "virtio") && strcmp(m, "none"))
            err = lx_refuse(r, attr_node(n, "model"), NULL);
    } else if (lx_is(n, "panic")) {
        if (m && strcmp(m, "isa"))   /* vmkit always has pvpanic at the ISA port */
            err = lx_refuse(r, attr_node(n, "model"), "the ISA pvpanic device only");
    }
    xmlFree(m);
    xmlFree(a);
    return err;
}

/* <channel type='spicevmc'><target type='virtio' name='com.redhat.spice.0'/>:
 * SPICE's agent channel; type unix (source mode bind) or pty with a
 * virtio target: an xl channel spec. */
static int rd_channel(struct lx *r, struct devs *d, xmlNodePtr n)
{
    int err = lx_only(r, n, "type", "source target" DEV_KIDS);
    char *type = lx_attr(n, "type");
    xmlNodePtr t = child(n, "target"), src = child(n, "source");
    char *tt = t ? lx_attr(t, "type") : NULL, *name = t ? lx_attr(t, "name") : NULL;
    char *mode = src ? lx_attr(src, "mode") : NULL, *path = src ? lx_attr(src, "path") : NULL;
    int spice = type && !strcmp(type, "spicevmc"), unix_ = type && !strcmp(type, "unix");
    if (!err && t)
        err = lx_only(r, t, "type name", NULL);
    if (!err && src)
        err = lx_only(r, src, unix_ ? "mode path" : "", NULL);
    if (!err && (!tt || strcmp(tt, "virtio")))
        err = lx_refuse(r, t ? t : n, "virtio-serial channels only (<target type='virtio'/>)");
    else if (!err && spice && name && strcmp(name, "com.redhat.spice.0"))
        err = lx_refuse(r, attr_node(t, "name"), "the spicevmc channel is SPICE's agent");
    else if (!err && spice)
        err = lx_set(r, n, "spicevdagent=1");
    else if (!err && !unix_ && (!type || strcmp(type, "pty")))
        err = lx_refuse(r, type ? attr_node(n, "type") : n, "unix, pty or spicevmc channels");
    else if (!err && (!name || strpbrk(name, ",\"\\")))
        err = lx_refuse(r, t, "a channel needs a name= (no commas)");
    else if (!err && unix_ && (!mode || strcmp(mode, "bind") || !path || path[0] != '/' ||
                               strpbrk(path, ",\"\\")))
        err = lx_refuse(r, src ? src : n, "a unix channel is <source mode='bind' path='/...'/> "
                        "(QEMU listens)");
    else if (!err) {
        struct vk_strbuf s = { 0 };
        vk_strbuf_printf(&s, "name=%s,connection=%s%s%s", name, unix_ ? "socket" : "pty",
               unix_ ? ",path=" : "", unix_ ? path : "");
        if (s.oom)
            err = vk_error(-ENOMEM, "out of memory");
        else
            item(&d->channel, &d->n_channel, s.p);
        free(s.p);
    }
    xmlFree(type);
    xmlFree(tt);
    xmlFree(name);
    xmlFree(mode);
    xmlFree(path);
    return err;
}

/* <filesystem type='mount' accessmode=><source dir=/><target dir=/>: a 9p
 * share (xl's p9; libvirt's squash is security_model none). */
static int rd_filesystem(struct lx *r, struct devs *d, xmlNodePtr n)
{
    int err = lx_only(r, n, "type accessmode", "source target" DEV_KIDS);
    char *type = lx_attr(n, "type"), *am = lx_attr(n, "accessmode");
    xmlNodePtr src = child(n, "source"), t = child(n, "target");
    char *dir = src ? lx_attr(src, "dir") : NULL, *tag = t ? lx_attr(t, "dir") : NULL;
    const char *model = !am || !strcmp(am, "passthrough") ? "passthrough"
                      : !strcmp(am, "mapped") ? "mapped-xattr" : !strcmp(am, "squash") ? "none"
                      : NULL;
    if (!err && type && strcmp(type, "mount"))
        err = lx_refuse(r, attr_node(n, "type"), "host directories (type='mount') only");
    if (!err && src)
        err = lx_only(r, src, "dir", NULL);
    if (!err && t)
        err = lx_only(r, t, "dir", NULL);
    if (!err && !model)
        err = lx_refuse(r, attr_node(n, "accessmode"), "passthrough, mapped or squash");
    else if (!err && (!dir || !tag || strpbrk(dir, ",\"\\") || strpbrk(tag, ",\"\\")))
        err = lx_refuse(r, n, "a share needs <source dir=/> and <target dir=/> (no commas)");
    else if (!err) {
        struct vk_strbuf s = { 0 };
        vk_strbuf_printf(&s, "tag=%s,path=%s,security_model=%s", tag, dir, model);
        if (s.oom)
            err = vk_error(-ENOMEM, "out of memory");
        else
            item(&d->p9, &d->n_p9, s.p);
        free(s.p);
    }
    xmlFree(type);
    xmlFree(am);
    xmlFree(dir);
    xmlFree(tag);
    return err;
}

static int set_list(struct lx *r, xmlNodePtr n, const char *key, struct vk_strbuf *b, int count)
{
    if (b->oom)
        return vk_error(-ENOMEM, "out of memory");
    return count ? lx_set(r, n, "%s=[%s]", key, b->p) : 0;
}

/* Contract in libvirt_xml_int.h. */
int lx_read_devices(struct lx *r, xmlNodePtr devs)
{
    struct devs d = { .usb_ctrl = -1 };
    int err = lx_only(r, devs, NULL, "emulator disk* controller* interface* serial* console* "
                      "input* graphics* video* sound* watchdog memballoon panic channel* "
                      "filesystem*");
    for (xmlNodePtr k = devs->children; k && !err; k = k->next) {
        if (k->type != XML_ELEMENT_NODE)
            continue;
        if (lx_is(k, "emulator"))
            err = lx_only(r, k, NULL, NULL);   /* vmkit runs qemu-system-x86_64 from PATH */
        else if (lx_is(k, "disk"))
            err = rd_disk(r, &d, k);
        else if (lx_is(k, "controller"))
            err = rd_controller(r, &d, k);
        else if (lx_is(k, "interface"))
            err = rd_interface(r, &d, k);
        else if (lx_is(k, "serial") || lx_is(k, "console"))
            err = rd_serial(r, &d, k);
        else if (lx_is(k, "input"))
            err = rd_input(r, &d, k);
        else if (lx_is(k, "graphics"))
            err = rd_graphics(r, k);
        else if (lx_is(k, "video"))
            err = rd_video(r, &d, k);
        else if (lx_is(k, "channel"))
            err = rd_channel(r, &d, k);
        else if (lx_is(k, "filesystem"))
            err = rd_filesystem(r, &d, k);
        else
            err = rd_misc(r, &d, k);
    }
    if (!err)
        err = set_list(r, devs, "disk", &d.disk, d.n_disk);
    if (!err)   /* no <interface>: no NIC (an empty vif list, not xl's default one) */
        err = d.n_vif ? set_list(r, devs, "vif", &d.vif, d.n_vif) : lx_set(r, devs, "vif=[]");
    if (!err && (d.usb_ctrl >= 0 || d.n_usbdev) && d.usb_ctrl != 0) {
        if (!d.n_usbdev && d.usb_ctrl >= 1)
            err = lx_set(r, devs, "usb=1");
        if (!err && d.usb_ctrl >= 2)
            err = lx_set(r, devs, "usbversion=%d", d.usb_ctrl);
    } else if (!err && d.usb_ctrl == 0 && d.n_usbdev) {
        err = lx_refuse(r, devs, "USB input devices with controller usb model='none'");
    }
    if (!err)
        err = set_list(r, devs, "usbdevice", &d.usbdev, d.n_usbdev);
    if (!err)
        err = set_list(r, devs, "channel", &d.channel, d.n_channel);
    if (!err)
        err = set_list(r, devs, "p9", &d.p9, d.n_p9);
    if (!err && d.sound.n)
        err = lx_set_str(r, devs, "soundhw", d.sound.p);
    /* the serial ports; a single pty port 0 is vmkit's default console */
    int last = -1;
    for (int i = 0; i < MAX_SERIAL; i++)
        if (d.serial[i])
            last = i;
    if (!err && !(last == 0 && !strcmp(d.serial[0], "pty"))) {
        struct vk_strbuf s = { 0 };
        int n = 0;
        for (int i = 0; i <= last; i++)
            item(&s, &n, d.serial[i] ? d.serial[i] : "none");
        err = last < 0 ? lx_set(r, devs, "serial=[]") : set_list(r, devs, "serial", &s, n);
        free(s.p);
    }
    if (!err && !d.n_video)
        err = lx_set(r, devs, "vga=\"none\"");
    if (!err && !r->vnc_seen)   /* xl turns VNC on for HVM unless told */
        err = lx_set(r, devs, "vnc=0");
    for (int i = 0; i < MAX_SERIAL; i++)
        free(d.serial[i]);
    free(d.disk.p);
    free(d.vif.p);
    free(d.usbdev.p);
    free(d.sound.p);
    free(d.channel.p);
    free(d.p9.p);
    return err;
}
