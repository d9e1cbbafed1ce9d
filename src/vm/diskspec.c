/* xl disk specs (docs/misc/xl-disk-configuration.txt) and vif specs. */
#include "vm/config.h"
#include "util/err.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

static int set_str(char **dst, const char *s, size_t n)
{
    char *p = strndup(s, n);
    if (!p)
        return vk_error(-ENOMEM, "out of memory");
    free(*dst);
    *dst = p;
    return 0;
}

void vk_diskspec_free(struct vk_diskspec *d)
{
    free(d->target);
    free(d->vdev);
    free(d->format);
    free(d->backendtype);
    free(d->spec);
    memset(d, 0, sizeof *d);
}

/* vdev name -> bus, unit index and partition.  hdX, sdX, xvdX, vdX with X
 * one or two letters (a=0 ... z=25, aa=26 ...), optionally followed by a
 * partition number (xvda1: a PV disk that holds a filesystem directly; the
 * guest gets the image as a whole disk).  xm's "ioemu:" prefix is dropped.
 * fda and fdb (vmkit's extension: xl has no floppy) are the PC's two
 * floppy drives. */
static int vdev_decode(const char *v, enum vk_disk_bus *bus, int *index, int *part)
{
    const char *l;
    if (!strncmp(v, "ioemu:", 6))
        v += 6;
    if (!strncmp(v, "xvd", 3)) { *bus = VK_BUS_VIRTIO; l = v + 3; }
    else if (!strncmp(v, "vd", 2)) { *bus = VK_BUS_VIRTIO; l = v + 2; }
    else if (!strncmp(v, "hd", 2)) { *bus = VK_BUS_IDE; l = v + 2; }
    else if (!strncmp(v, "sd", 2)) { *bus = VK_BUS_SCSI; l = v + 2; }
    else if (!strncmp(v, "fd", 2)) { *bus = VK_BUS_FLOPPY; l = v + 2; }
    else return -1;
    size_t n = strspn(l, "abcdefghijklmnopqrstuvwxyz");
    if (n < 1 || n > 2)
        return -1;
    int idx = 0;
    for (size_t i = 0; i < n; i++)
        idx = idx * 26 + (l[i] - 'a' + 1);
    *index = idx - 1;
    *part = 0;
    if (*bus == VK_BUS_FLOPPY && (n != 1 || *index > 1 || l[n]))
        return -1;              /* a PC has two floppy drives, fda and fdb */
    if (l[n]) {
        if (strspn(l + n, "0123456789") != strlen(l + n) || l[n] == '0' || strlen(l + n) > 3)
            return -1;
        *part = atoi(l + n);
        *bus = VK_BUS_VIRTIO;   /* QEMU attaches whole disks: give it as one */
    }
    return 0;
}

static int is_access(const char *s)
{
    return !strcmp(s, "r") || !strcmp(s, "ro") || !strcmp(s, "w") || !strcmp(s, "rw");
}

static int is_format(const char *s)
{
    return !strcmp(s, "raw") || !strcmp(s, "qcow2") || !strcmp(s, "qcow") ||
           !strcmp(s, "vhd") || !strcmp(s, "vpc") || !strcmp(s, "vdi") || !strcmp(s, "qed") ||
           !strcmp(s, "empty") ||
           !strcmp(s, "vmdk") || !strcmp(s, "vhdx");   /* not xl's, but QEMU reads them */
}

/* Strip the deprecated target prefixes (file:, phy:, tap:aio:, qcow2: ...),
 * which may set the format or backend type.  QEMU network targets
 * (rbd:POOL/IMAGE, iscsi://, nbd://) are kept whole; xl's block-script
 * prefixes (iscsi:, nbd:, drbd:) run Xen hotplug scripts as root and are
 * refused. */
static const char *strip_prefixes(const char *t, struct vk_diskspec *d, int *err)
{
    static const struct { const char *p; const char *fmt; const char *bt; } px[] = {
        { "file:", NULL, NULL }, { "phy:", NULL, "phy" }, { "tap2:", NULL, "tap" },
        { "tap:", NULL, "tap" }, { "tapdisk:", NULL, "tap" }, { "aio:", "raw", NULL },
        { "ioemu:", NULL, NULL }, { "qcow2:", "qcow2", NULL }, { "qcow:", "qcow", NULL },
        { "raw:", "raw", NULL }, { "vhd:", "vhd", NULL },
    };
    for (int again = 1; again;) {
        again = 0;
        for (size_t i = 0; i < sizeof px / sizeof px[0]; i++) {
            size_t n = strlen(px[i].p);
            if (!strncmp(t, px[i].p, n)) {
                if (px[i].fmt && set_str(&d->format, px[i].fmt, strlen(px[i].fmt)))
                    *err = -ENOMEM;
                if (px[i].bt && set_str(&d->backendtype, px[i].bt, strlen(px[i].bt)))
                    *err = -ENOMEM;
                t += n;
                again = 1;
            }
        }
    }
    if (!strncmp(t, "rbd:", 4) || !strncmp(t, "iscsi://", 8) || !strncmp(t, "nbd://", 6) ||
        !strncmp(t, "nbd+unix://", 11)) {
        d->network = 1;
    } else if (!strncmp(t, "iscsi:", 6) || !strncmp(t, "nbd:", 4) || !strncmp(t, "enbd:", 5)) {
        *err = vk_error(-EINVAL, "disk '%s': xl's '%.*s:' prefix runs Xen's block-%.*s hotplug "
                        "script as root; not supported (QEMU's own client takes a URL: "
                        "target=%s://HOST/...)", d->spec, (int)strcspn(t, ":"), t,
                        (int)strcspn(t, ":"), t, t[0] == 'i' ? "iscsi" : "nbd");
    } else if (!strncmp(t, "drbd:", 5)) {
        *err = vk_error(-EINVAL, "disk '%s': drbd: runs Xen's block-drbd script, which makes the "
                        "host the DRBD primary (root only); not supported", d->spec);
    }
    return t;
}

static int disk_set(struct vk_diskspec *d, const char *key, const char *val,
                    size_t vlen, const char *spec)
{
    char v[256];
    if (vlen >= sizeof v && strcmp(key, "target"))
        return vk_error(-EINVAL, "disk '%s': %s value too long", spec, key);
    if (strcmp(key, "target")) {
        memcpy(v, val, vlen);
        v[vlen] = 0;
    }
    if (!strcmp(key, "target")) {
        int err = 0;
        char *t = strndup(val, vlen);
        if (!t)
            return vk_error(-ENOMEM, "out of memory");
        const char *s = strip_prefixes(t, d, &err);
        if (!err)
            err = set_str(&d->target, s, strlen(s));
        free(t);
        return err;
    }
    if (!strcmp(key, "vdev")) {
        char *c = strstr(v, ":cdrom");
        if (c && !c[6]) {
            *c = 0;
            d->cdrom = 1;
        }
        if (vdev_decode(v, &d->bus, &d->index, &d->partition))
            return vk_error(-EINVAL, "disk '%s': unknown vdev '%s' (want hdX, sdX, xvdX, vdX or fda/fdb)", spec, v);
        const char *name = strncmp(v, "ioemu:", 6) ? v : v + 6;
        if (name != v)
            vk_warn("disk '%s': 'ioemu:' is xm's mark for an emulated disk; read as %s", spec, name);
        return set_str(&d->vdev, name, strlen(name));
    }
    if (!strcmp(key, "access") || !strcmp(key, "mode")) {
        if (!is_access(v))
            return vk_error(-EINVAL, "disk '%s': access '%s' is not r, ro, w or rw", spec, v);
        d->readonly = v[0] == 'r' && strcmp(v, "rw");
        return 0;
    }
    if (!strcmp(key, "format")) {
        if (!is_format(v))
            return vk_error(-EINVAL, "disk '%s': unknown format '%s'", spec, v);
        if (!strcmp(v, "empty")) {
            free(d->format);
            d->format = NULL;
            return 0;
        }
        return set_str(&d->format, v, vlen);
    }
    if (!strcmp(key, "devtype")) {
        if (strcmp(v, "cdrom") && strcmp(v, "disk"))
            return vk_error(-EINVAL, "disk '%s': devtype '%s' is not cdrom", spec, v);
        d->cdrom = !strcmp(v, "cdrom");
        return 0;
    }
    if (!strcmp(key, "backendtype")) {
        if (strcmp(v, "phy") && strcmp(v, "qdisk") && strcmp(v, "tap") && strcmp(v, "standalone"))
            return vk_error(-EINVAL, "disk '%s': unknown backendtype '%s'", spec, v);
        return set_str(&d->backendtype, v, vlen);
    }
    if (!strcmp(key, "backend") || !strcmp(key, "script") || !strcmp(key, "discard") ||
        !strcmp(key, "no-discard") || !strcmp(key, "direct-io-safe") ||
        !strcmp(key, "trusted") || !strcmp(key, "untrusted") || !strcmp(key, "specification")) {
        vk_warn("disk '%s': '%s' has no meaning under QEMU, ignored", spec, key);
        return 0;
    }
    return vk_error(-EINVAL, "disk '%s': unknown key '%s'", spec, key);
}

/* Contract in config.h. */
int vk_diskspec_parse(const char *spec, struct vk_diskspec *d)
{
    memset(d, 0, sizeof *d);
    d->spec = strdup(spec);
    if (!d->spec)
        return vk_error(-ENOMEM, "out of memory");
    int err = 0, npos = 0, have_target = 0, have_format = 0, have_access = 0;
    const char *p = spec;
    while (!err) {
        while (isspace((unsigned char)*p))
            p++;
        /* target=... swallows the rest of the spec: paths may hold commas */
        if (!strncmp(p, "target=", 7)) {
            const char *t = p + 7;
            err = disk_set(d, "target", t, strlen(t), spec);
            have_target = 1;
            break;
        }
        const char *end = strchr(p, ',');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        while (n && isspace((unsigned char)*p)) { p++; n--; }
        while (n && isspace((unsigned char)p[n - 1])) n--;
        const char *eq = memchr(p, '=', n);
        if (eq) {
            char key[32];
            size_t kl = (size_t)(eq - p);
            if (kl == 0 || kl >= sizeof key) {
                err = vk_error(-EINVAL, "disk '%s': bad key", spec);
                break;
            }
            memcpy(key, p, kl);
            key[kl] = 0;
            err = disk_set(d, key, eq + 1, n - kl - 1, spec);
        } else {
            char tok[256];
            int last = !end;
            if (n >= sizeof tok && npos > 0) {
                err = vk_error(-EINVAL, "disk '%s': parameter too long", spec);
                break;
            }
            size_t tn = n < sizeof tok ? n : sizeof tok - 1;
            memcpy(tok, p, tn);
            tok[tn] = 0;
            char *colon = strstr(tok, ":cdrom");
            enum vk_disk_bus b; int ix, pt;
            if (colon) *colon = 0;
            int isvdev = !vdev_decode(tok, &b, &ix, &pt);
            if (colon) *colon = ':';
            if (!strcmp(tok, "cdrom")) {
                d->cdrom = 1;                       /* flag = devtype=cdrom */
            } else if (!strcmp(tok, "discard") || !strcmp(tok, "no-discard") ||
                       !strcmp(tok, "direct-io-safe") || !strcmp(tok, "trusted") ||
                       !strcmp(tok, "untrusted")) {
                /* flags with no meaning under QEMU */
            } else if (npos == 0 && !have_target && !(n == 0 && last)) {
                err = disk_set(d, "target", p, n, spec);  /* may be empty: cdrom */
                have_target = 1;
            } else if (n == 0) {
                /* an empty positional leaves that parameter unspecified */
            } else if (isvdev && !d->vdev) {
                err = disk_set(d, "vdev", tok, tn, spec);
            } else if (!d->vdev && !have_format && is_format(tok)) {
                err = disk_set(d, "format", tok, tn, spec);
                have_format = 1;
            } else if (d->vdev && !have_access && is_access(tok)) {
                err = disk_set(d, "access", tok, tn, spec);
                have_access = 1;
            } else if (!d->vdev) {
                err = vk_error(-EINVAL, "disk '%s': unknown vdev '%s' (want hdX, sdX, xvdX, vdX or fda/fdb)", spec, tok);
            } else {
                err = vk_error(-EINVAL, "disk '%s': unexpected '%s'", spec, tok);
            }
            npos++;
        }
        if (!end)
            break;
        p = end + 1;
    }
    if (!err && !d->vdev)
        err = vk_error(-EINVAL, "disk '%s': no vdev (e.g. xvda, hda, hdc:cdrom)", spec);
    if (!err && (!d->target || !d->target[0]) && !d->cdrom && d->bus != VK_BUS_FLOPPY)
        err = vk_error(-EINVAL, "disk '%s': no target (only a cdrom or floppy drive may be "
                       "empty)", spec);
    if (!err && d->cdrom && d->bus == VK_BUS_FLOPPY)
        err = vk_error(-EINVAL, "disk '%s': a floppy drive cannot be a cdrom", spec);
    if (!err && d->target && !d->target[0]) {
        free(d->target);
        d->target = NULL;
    }
    if (!err && d->cdrom)
        d->readonly = 1;
    if (!err && d->cdrom && d->partition)
        err = vk_error(-EINVAL, "disk '%s': a cdrom cannot be a partition vdev", spec);
    if (!err && d->network && d->format && strcmp(d->format, "raw"))
        err = vk_error(-EINVAL, "disk '%s': a network target is given to QEMU as raw", spec);
    if (err)
        vk_diskspec_free(d);
    return err;
}

void vk_vifspec_free(struct vk_vifspec *v)
{
    free(v->mac);
    free(v->bridge);
    free(v->model);
    for (unsigned i = 0; i < v->n_hostfwd; i++)
        free(v->hostfwd[i]);
    free(v->hostfwd);
    free(v->spec);
    memset(v, 0, sizeof *v);
}

static int mac_valid(const char *m)
{
    if (strlen(m) != 17)
        return 0;
    for (int i = 0; i < 17; i++)
        if (i % 3 == 2 ? m[i] != ':' : !isxdigit((unsigned char)m[i]))
            return 0;
    return !(strtol(m, NULL, 16) & 1);   /* not a multicast address */
}

/* QEMU user-net forward: (tcp|udp)?:[hostaddr]:hostport-[guestaddr]:guestport */
static int hostfwd_valid(const char *h)
{
    const char *dash = strchr(h, '-');
    if (!dash || strchr(dash + 1, '-') || !strchr(h, ':') || !strchr(dash, ':'))
        return 0;
    if (strncmp(h, "tcp:", 4) && strncmp(h, "udp:", 4) && h[0] != ':')
        return 0;
    for (const char *p = h; *p; p++)
        if (!isalnum((unsigned char)*p) && !strchr(":.-", *p))
            return 0;
    return 1;
}

static int add_hostfwd(struct vk_vifspec *v, const char *s, size_t n, const char *spec)
{
    while (n) {
        const char *semi = memchr(s, ';', n);
        size_t l = semi ? (size_t)(semi - s) : n;
        if (l) {
            if (v->n_hostfwd >= 64)
                return vk_error(-EINVAL, "vif '%s': too many hostfwd", spec);
            char *h = strndup(s, l);
            if (!h)
                return vk_error(-ENOMEM, "out of memory");
            if (!hostfwd_valid(h)) {
                vk_error(-EINVAL, "vif '%s': hostfwd '%s' is not like tcp::2222-:22", spec, h);
                free(h);
                return -EINVAL;
            }
            char **nh = realloc(v->hostfwd, (v->n_hostfwd + 1) * sizeof *nh);
            if (!nh) {
                free(h);
                return vk_error(-ENOMEM, "out of memory");
            }
            v->hostfwd = nh;
            v->hostfwd[v->n_hostfwd++] = h;
        }
        if (!semi)
            break;
        n -= l + 1;
        s = semi + 1;
    }
    return 0;
}

/* Contract in config.h. */
int vk_vifspec_parse(const char *spec, struct vk_vifspec *v)
{
    memset(v, 0, sizeof *v);
    v->spec = strdup(spec);
    if (!v->spec)
        return vk_error(-ENOMEM, "out of memory");
    int err = 0, type = -1, ovs = 0;
    const char *p = spec;
    while (!err && *p) {
        const char *end = strchr(p, ',');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        while (n && isspace((unsigned char)*p)) { p++; n--; }
        while (n && isspace((unsigned char)p[n - 1])) n--;
        const char *eq = memchr(p, '=', n);
        if (n && !eq) {
            err = vk_error(-EINVAL, "vif '%s': expected key=value, got '%.*s'", spec, (int)n, p);
            break;
        }
        if (n) {
            size_t kl = (size_t)(eq - p), vl = n - kl - 1;
            const char *val = eq + 1;
            char vb[64] = "";
            if (vl < sizeof vb) {
                memcpy(vb, val, vl);
                vb[vl] = 0;
            }
#define KEY(k) (kl == strlen(k) && !strncmp(p, k, kl))
            if (KEY("hostfwd")) {
                err = add_hostfwd(v, val, vl, spec);
            } else if (vl >= sizeof vb) {
                err = vk_error(-EINVAL, "vif '%s': value too long", spec);
            } else if (KEY("mac")) {
                if (!mac_valid(vb))
                    err = vk_error(-EINVAL, "vif '%s': bad mac '%s' (want 00:16:3e:xx:xx:xx)", spec, vb);
                else
                    err = set_str(&v->mac, vb, vl);
            } else if (KEY("bridge")) {
                for (size_t i = 0; i < vl && !err; i++)
                    if (!isalnum((unsigned char)vb[i]) && !strchr("_.-:", vb[i]))
                        err = vk_error(-EINVAL, "vif '%s': bad bridge name '%s'", spec, vb);
                if (!err && strchr(vb, ':'))
                    err = vk_error(-EINVAL, "vif '%s': bridge=%s is openvswitch's VLAN trunk "
                                   "syntax; setting ovs port tags and trunks needs root "
                                   "(ovs-vsctl); not supported: name a Linux bridge that carries "
                                   "the VLAN", spec, vb);
                if (!err && vl)
                    err = set_str(&v->bridge, vb, vl);
            } else if (KEY("script")) {
                const char *b = strrchr(vb, '/');
                b = b ? b + 1 : vb;
                if (!strcmp(b, "vif-openvswitch"))
                    ovs = 1;
                else if (strcmp(b, "vif-bridge"))
                    err = vk_error(-EINVAL, "vif '%s': script=%s configures the host's network as "
                                   "root; not supported (no bridge= gives rootless user-mode NAT, "
                                   "bridge= a Linux bridge through qemu-bridge-helper)", spec, vb);
            } else if (KEY("rate")) {
                err = vk_error(-EINVAL, "vif '%s': rate=%s: QEMU has no network rate limit "
                               "(filter-buffer only delays packets); not supported", spec, vb);
            } else if (KEY("model")) {
                const char *m = vb;
                if (!strcmp(m, "virtio") || !strcmp(m, "virtio-net"))
                    m = "virtio-net-pci";
                if (strcmp(m, "virtio-net-pci") && strcmp(m, "e1000") && strcmp(m, "rtl8139") &&
                    strcmp(m, "ne2k_pci") && strcmp(m, "pcnet") && strcmp(m, "e1000e"))
                    err = vk_error(-EINVAL, "vif '%s': unknown model '%s' (virtio-net-pci, e1000, rtl8139)", spec, vb);
                else
                    err = set_str(&v->model, m, strlen(m));
            } else if (KEY("type")) {
                if (!strcmp(vb, "user")) type = VK_VIF_USER;
                else if (!strcmp(vb, "bridge")) type = VK_VIF_BRIDGE;
                else if (strcmp(vb, "ioemu") && strcmp(vb, "vif"))
                    err = vk_error(-EINVAL, "vif '%s': type '%s' is not user or bridge", spec, vb);
            } else if (KEY("ip")) {
                vk_warn("vif '%s': ip= is given to Xen's hotplug scripts (host firewall rules), "
                        "not to the guest; ignored", spec);
            } else if (KEY("vifname") || KEY("gatewaydev") || KEY("devid")) {
                vk_warn("vif '%s': '%.*s' names Xen's backend interface; QEMU's tap device is "
                        "named by qemu-bridge-helper; ignored", spec, (int)kl, p);
            } else if (KEY("backend")) {
                if (strcmp(vb, "0") && strcmp(vb, "dom0") && strcmp(vb, "Domain-0"))
                    err = vk_error(-EINVAL, "vif '%s': backend=%s: backend domains exist only "
                                   "under Xen", spec, vb);
            } else {
                err = vk_error(-EINVAL, "vif '%s': unknown key '%.*s'", spec, (int)kl, p);
            }
#undef KEY
        }
        if (!end)
            break;
        p = end + 1;
    }
    if (!err) {
        v->type = type >= 0 ? (enum vk_vif_type)type : v->bridge ? VK_VIF_BRIDGE : VK_VIF_USER;
        if (v->type == VK_VIF_BRIDGE && !v->bridge)
            err = vk_error(-EINVAL, "vif '%s': type=bridge needs bridge=", spec);
        else if (v->type == VK_VIF_BRIDGE && v->n_hostfwd)
            err = vk_error(-EINVAL, "vif '%s': hostfwd works only with user networking", spec);
        else if (ovs && v->bridge && strchr(v->bridge, '.'))
            err = vk_error(-EINVAL, "vif '%s': bridge=%s with vif-openvswitch tags the port with "
                           "VLAN %s, which needs root (ovs-vsctl); not supported: name a Linux "
                           "bridge that carries the VLAN", spec, v->bridge,
                           strchr(v->bridge, '.') + 1);
    }
    if (err)
        vk_vifspec_free(v);
    return err;
}
