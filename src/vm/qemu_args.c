/* struct vk_domcfg -> QEMU argv; KVM or TCG. */
#include "vm/qemu_args.h"
#include "vm/devspec.h"
#include "vm/store.h"
#include "util/err.h"
#include "util/run.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct argv {
    char **v;
    size_t n, cap;
    int oom;
};

static void add(struct argv *a, const char *fmt, ...) VK_PRINTF(2, 3);
static void add(struct argv *a, const char *fmt, ...)
{
    if (a->oom)
        return;
    if (a->n + 2 > a->cap) {
        size_t nc = a->cap ? a->cap * 2 : 64;
        char **nv = realloc(a->v, nc * sizeof *nv);
        if (!nv) {
            a->oom = 1;
            return;
        }
        a->v = nv;
        a->cap = nc;
    }
    va_list ap;
    va_start(ap, fmt);
    int r = vasprintf(&a->v[a->n], fmt, ap);
    va_end(ap);
    if (r < 0) {
        a->oom = 1;
        return;
    }
    a->v[++a->n] = NULL;
}

/* A value inside a QEMU option list: commas are doubled.  Returns a
 * malloc'd string or NULL. */
static char *qesc(const char *s)
{
    size_t n = 0;
    for (const char *p = s; *p; p++)
        n += *p == ',' ? 2 : 1;
    char *o = malloc(n + 1), *q = o;
    if (!o)
        return NULL;
    for (const char *p = s; *p; p++) {
        *q++ = *p;
        if (*p == ',')
            *q++ = ',';
    }
    *q = 0;
    return o;
}

void vk_argv_free(char **argv)
{
    if (!argv)
        return;
    for (char **p = argv; *p; p++)
        free(*p);
    free(argv);
}

/* Contract in qemu_args.h. */
int vk_qemu_find(const char *name, char *buf, size_t len)
{
    int r = vk_which(name, buf, len);
    if (r == -ENOENT && !strchr(name, '/'))
        return vk_error(r, "%s: not found in PATH (install qemu-system-x86)", name);
    return r;
}

/* Contract in qemu_args.h. */
const char *vk_qemu_format(const char *f)
{
    return !f ? "raw" : !strcmp(f, "vhd") ? "vpc" : f;   /* no format: raw, as in xl */
}

static int add_disks(struct argv *a, const struct vk_domcfg *c)
{
    int have_scsi = 0;
    for (unsigned i = 0; i < c->n_disks; i++) {
        const struct vk_diskspec *d = &c->disks[i];
        const char *name = d->spec ? d->spec : d->vdev;
        if (d->bus == VK_BUS_IDE && d->index > 3)
            return vk_error(-EINVAL, "disk '%s': IDE has only hda..hdd", name);
        if (d->bus == VK_BUS_SCSI && d->index > 7)
            return vk_error(-EINVAL, "disk '%s': SCSI disks go up to sdh", name);
        if (d->bus == VK_BUS_VIRTIO && d->cdrom)
            return vk_error(-EINVAL, "disk '%s': a cdrom must be hdX or sdX", name);
        if (d->bus == VK_BUS_IDE && d->readonly && !d->cdrom)
            return vk_error(-EINVAL, "disk '%s': QEMU's IDE disk refuses read-only images", name);
        char *file = d->target ? qesc(d->target) : NULL;
        if (d->target && !file)
            return vk_error(-ENOMEM, "out of memory");
        /* an empty cdrom drive has no medium and so no format */
        char opts[64];
        snprintf(opts, sizeof opts, "%s%s%s%s", d->target ? ",format=" : "",
                 d->target ? vk_qemu_format(d->format) : "", d->readonly ? ",readonly=on" : "",
                 d->cdrom ? ",media=cdrom" : "");
        const char *fpre = file ? "file=" : "", *fval = file ? file : "", *fsep = file ? "," : "";
        if (d->bus == VK_BUS_IDE || d->bus == VK_BUS_FLOPPY) {
            add(a, "-drive");
            add(a, "%s%s%sif=%s,index=%d%s", fpre, fval, fsep,
                d->bus == VK_BUS_IDE ? "ide" : "floppy", d->index, opts);
        } else {
            if (d->bus == VK_BUS_SCSI && !have_scsi) {
                add(a, "-device");
                add(a, "virtio-scsi-pci,id=scsi0");
                have_scsi = 1;
            }
            add(a, "-drive");
            add(a, "%s%s%sif=none,id=disk%u%s", fpre, fval, fsep, i, opts);
            add(a, "-device");
            if (d->bus == VK_BUS_SCSI)
                add(a, "%s,drive=disk%u,bus=scsi0.0,scsi-id=%d",
                    d->cdrom ? "scsi-cd" : "scsi-hd", i, d->index);
            else
                add(a, "virtio-blk-pci,drive=disk%u", i);
        }
        free(file);
    }
    return 0;
}

static int add_vif(struct argv *a, const struct vk_vifspec *v, unsigned i)
{
    char *net = NULL;
    if (v->type == VK_VIF_BRIDGE) {
        if (asprintf(&net, "bridge,id=net%u,br=%s,helper=/usr/lib/qemu/qemu-bridge-helper",
                     i, v->bridge) < 0)
            net = NULL;
    } else {
        size_t need = 32;
        for (unsigned j = 0; j < v->n_hostfwd; j++)
            need += strlen(v->hostfwd[j]) + 10;
        net = malloc(need);
        if (net) {
            size_t o = (size_t)snprintf(net, need, "user,id=net%u", i);
            for (unsigned j = 0; j < v->n_hostfwd; j++)
                o += (size_t)snprintf(net + o, need - o, ",hostfwd=%s", v->hostfwd[j]);
        }
    }
    if (!net)
        return vk_error(-ENOMEM, "out of memory");
    add(a, "-netdev");
    add(a, "%s", net);
    free(net);
    add(a, "-device");
    add(a, "%s,netdev=net%u%s%s", v->model ? v->model : "virtio-net-pci", i,
        v->mac ? ",mac=" : "", v->mac ? v->mac : "");
    return 0;
}

/* The graphics card vga= names (none: no device). */
static int add_vga(struct argv *a, const struct vk_domcfg *c)
{
    const char *vga = c->vga ? c->vga : "none";
    long ram = c->videoram;
    if (!strcmp(vga, "none"))
        return 0;
    add(a, "-device");
    if (!strcmp(vga, "stdvga")) {
        add(a, ram == VK_UNSET ? "VGA" : "VGA,vgamem_mb=%ld", ram);
    } else if (!strcmp(vga, "cirrus")) {
        if (ram != VK_UNSET && ram != 8 && ram != 16)
            return vk_error(-EINVAL, "videoram = %ld: QEMU's Cirrus card has 8 or 16 MiB", ram);
        add(a, ram == VK_UNSET ? "cirrus-vga" : "cirrus-vga,vgamem_mb=%ld", ram);
    } else {
        if (ram == VK_UNSET)
            add(a, "qxl-vga");
        else
            add(a, "qxl-vga,ram_size_mb=%ld,vram_size_mb=%ld", ram / 2, ram / 2);
    }
    return 0;
}

static int add_vnc(struct argv *a, const struct vk_domcfg *c, const struct vk_qemu_setup *s)
{
    if (c->vnc != 1) {
        if (c->spice != 1) {
            add(a, "-display");
            add(a, "none");
        }
        return 0;
    }
    char host[128] = "127.0.0.1";
    long display = c->vncdisplay;
    if (c->vnclisten) {
        const char *l = c->vnclisten;
        const char *colon = strrchr(l, ':');
        size_t hl = strlen(l);
        /* xl allows "ADDR:DISPLAY"; a bare IPv6 address has several colons */
        if (colon && strchr(l, ':') == colon) {
            char *end;
            long dn = strtol(colon + 1, &end, 10);
            if (*end || end == colon + 1 || dn < 0 || dn > 59535)
                return vk_error(-EINVAL, "vnclisten '%s': bad display number", l);
            if (display != VK_UNSET)
                return vk_error(-EINVAL, "vnclisten '%s' and vncdisplay both give the display "
                                "(xl refuses that too)", l);
            display = dn;
            hl = (size_t)(colon - l);
        }
        if (hl == 0 || hl + 3 > sizeof host)
            return vk_error(-EINVAL, "vnclisten '%s': bad address", l);
        for (size_t k = 0; k < hl; k++)
            if (!strchr("0123456789abcdefABCDEF.:-_[]", l[k]) &&
                !(l[k] >= 'g' && l[k] <= 'z') && !(l[k] >= 'G' && l[k] <= 'Z'))
                return vk_error(-EINVAL, "vnclisten '%s': bad address", l);
        if (memchr(l, ':', hl) && l[0] != '[')
            snprintf(host, sizeof host, "[%.*s]", (int)hl, l);
        else
            snprintf(host, sizeof host, "%.*s", (int)hl, l);
    }
    char opts[64];
    snprintf(opts, sizeof opts, "%s%s", c->vncpasswd && *c->vncpasswd ? ",password=on" : "",
             s->vnc_tls_dir ? ",tls-creds=vnc-tls" : "");
    if (s->vnc_tls_dir) {
        char *d = qesc(s->vnc_tls_dir);
        if (!d)
            return vk_error(-ENOMEM, "out of memory");
        add(a, "-object");
        add(a, "tls-creds-x509,id=vnc-tls,endpoint=server,verify-peer=on,dir=%s", d);
        free(d);
    }
    add(a, "-vnc");
    if (display != VK_UNSET)
        add(a, "%s:%ld%s", host, display, opts);
    else if (!c->vncunused)
        add(a, "%s:0%s", host, opts);
    else
        add(a, "%s:0,to=99%s", host, opts);
    return 0;
}

static int ensure_vser(struct argv *a, int *have)
{
    if (!*have) {
        add(a, "-device");
        add(a, "virtio-serial-pci,id=vser0");
        *have = 1;
    }
    return 0;
}

/* A path in the runtime directory, comma-escaped for a QEMU option. */
static char *rt_path(const struct vk_qemu_setup *s, const char *fmt, unsigned i)
{
    char name[64], *p = NULL;
    snprintf(name, sizeof name, fmt, i);
    if (!s->rundir) {
        vk_error(-EINVAL, "no runtime directory for %s", name);
        return NULL;
    }
    if (asprintf(&p, "%s/%s", s->rundir, name) < 0) {
        vk_error(-ENOMEM, "out of memory");
        return NULL;
    }
    char *e = qesc(p);
    free(p);
    if (!e)
        vk_error(-ENOMEM, "out of memory");
    return e;
}

static int add_spice(struct argv *a, const struct vk_domcfg *c, const struct vk_qemu_setup *s,
                     int *have_vser)
{
    if (c->spice != 1)
        return 0;
    for (const char *p = c->spicehost; p && *p; p++)
        if (*p == ',')
            return vk_error(-EINVAL, "spicehost '%s': bad address", c->spicehost);
    /* A memory stream, not a fixed buffer: spicehost is as long as the
     * config makes it. */
    char *opts = NULL;
    size_t opts_len = 0;
    FILE *f = open_memstream(&opts, &opts_len);
    if (!f)
        return vk_error(-ENOMEM, "out of memory");
    fprintf(f, "port=%ld", c->spiceport);
    if (c->spicehost)
        fprintf(f, ",addr=%s", c->spicehost);
    if (c->spicedisable_ticketing == 1) {
        fputs(",disable-ticketing=on", f);
    } else {
        char *sec = rt_path(s, "spice-secret", 0);
        if (!sec) {
            fclose(f);
            free(opts);
            return -EINVAL;
        }
        add(a, "-object");
        add(a, "secret,id=spicesec,file=%s", sec);
        free(sec);
        fputs(",password-secret=spicesec", f);
    }
    fprintf(f, ",agent-mouse=%s", c->spiceagent_mouse == 0 ? "off" : "on");
    fprintf(f, ",disable-copy-paste=%s", c->spice_clipboard_sharing == 1 ? "off" : "on");
    if (c->spice_image_compression)
        fprintf(f, ",image-compression=%s", c->spice_image_compression);
    if (c->spice_streaming_video)
        fprintf(f, ",streaming-video=%s", c->spice_streaming_video);
    if (fclose(f) != 0) {
        free(opts);
        return vk_error(-ENOMEM, "out of memory");
    }
    add(a, "-spice");
    add(a, "%s", opts);
    free(opts);
    if (c->spicevdagent == 1) {
        ensure_vser(a, have_vser);
        add(a, "-chardev");
        add(a, "spicevmc,id=vdagent,name=vdagent");
        add(a, "-device");
        add(a, "virtserialport,bus=vser0.0,chardev=vdagent,name=com.redhat.spice.0");
    }
    return 0;
}

static int add_serials(struct argv *a, const struct vk_domcfg *c, const struct vk_qemu_setup *s)
{
    static char *const dflt[] = { "pty" };
    char *const *v = c->serial.set ? c->serial.v : dflt;
    unsigned n = c->serial.set ? c->serial.n : 1;
    for (unsigned i = 0; i < n; i++) {
        enum vk_serial_kind k;
        char *opts = NULL, *path = NULL, *log = NULL, id[24];
        int err = vk_serial_parse(v[i], &k, &opts);
        if (err)
            return err;
        if (k == VK_SER_NONE || (k == VK_SER_PTY && i == 0 && !s->console_sock))
            continue;                       /* no port at this index */
        if (i == 0 && k == VK_SER_PTY)
            strcpy(id, "console");
        else
            snprintf(id, sizeof id, "serial%u", i % 100);
        if (k == VK_SER_PTY && i == 0) {
            path = qesc(s->console_sock);
            log = s->console_log ? qesc(s->console_log) : NULL;
            if (!path || (s->console_log && !log))
                err = vk_error(-ENOMEM, "out of memory");
        } else if (k == VK_SER_PTY) {
            if (!(path = rt_path(s, "serial%u.sock", i)) || !(log = rt_path(s, "serial%u.log", i)))
                err = -EINVAL;
        }
        if (!err) {
            add(a, "-chardev");
            if (path)
                add(a, "socket,id=%s,path=%s,server=on,wait=off%s%s%s", id, path,
                    log ? ",logfile=" : "", log ? log : "", log ? ",logappend=on" : "");
            else
                add(a, "%s,id=%s", opts, id);
            add(a, "-device");
            add(a, "isa-serial,chardev=%s,index=%u", id, i);
        }
        free(opts);
        free(path);
        free(log);
        if (err)
            return err;
    }
    return 0;
}

static void add_usb(struct argv *a, const struct vk_domcfg *c)
{
    long redir = c->spice == 1 && c->spiceusbredirection != VK_UNSET ? c->spiceusbredirection : 0;
    if (c->usb != 1 && !c->usbdevice.n && !redir && c->usbversion == VK_UNSET)
        return;
    long ver = c->usbversion == VK_UNSET ? (redir ? 2 : 1) : c->usbversion;
    add(a, "-device");
    add(a, "%s,id=usb", ver == 1 ? "piix3-usb-uhci" : ver == 2 ? "usb-ehci" : "qemu-xhci");
    for (unsigned i = 0; i < c->usbdevice.n; i++) {
        const char *d = vk_usbdevice_qemu(c->usbdevice.v[i]);
        if (!d)
            continue;                       /* refused at parse time */
        add(a, "-device");
        add(a, "%s,bus=usb.0", d);
    }
    for (long i = 0; i < redir; i++) {
        add(a, "-chardev");
        add(a, "spicevmc,name=usbredir,id=usbredir%ld", i);
        add(a, "-device");
        add(a, "usb-redir,chardev=usbredir%ld,bus=usb.0", i);
    }
}

static int add_sound(struct argv *a, const struct vk_domcfg *c)
{
    if (!c->soundhw)
        return 0;
    const char *devs[16];
    int n = vk_soundhw_devices(c->soundhw, devs, 16);
    if (n < 0)
        return n;
    add(a, "-audiodev");
    add(a, "none,id=snd0");
    for (int i = 0; i < n; i++) {
        add(a, "-device");
        if (!strcmp(devs[i], "intel-hda")) {
            add(a, "intel-hda,id=hda%d", i);
            add(a, "-device");
            add(a, "hda-duplex,bus=hda%d.0,audiodev=snd0", i);
        } else {
            add(a, "%s,audiodev=snd0", devs[i]);
        }
    }
    return 0;
}

static int add_p9(struct argv *a, const struct vk_domcfg *c)
{
    for (unsigned i = 0; i < c->p9.n; i++) {
        struct vk_p9 p;
        int err = vk_p9_parse(c->p9.v[i], &p);
        if (err)
            return err;
        char *path = qesc(p.path), *tag = qesc(p.tag);
        if (path && tag) {
            add(a, "-fsdev");
            add(a, "local,id=fs%u,path=%s,security_model=%s", i, path, p.model);
            add(a, "-device");
            add(a, "virtio-9p-pci,fsdev=fs%u,mount_tag=%s", i, tag);
        }
        free(path);
        free(tag);
        vk_p9_free(&p);
        if (!path || !tag)
            return vk_error(-ENOMEM, "out of memory");
    }
    return 0;
}

static int add_channels(struct argv *a, const struct vk_domcfg *c, const struct vk_qemu_setup *s,
                        int *have_vser)
{
    for (unsigned i = 0; i < c->channel.n; i++) {
        struct vk_channel ch;
        int err = vk_channel_parse(c->channel.v[i], &ch);
        if (err)
            return err;
        char *path = ch.path ? qesc(ch.path) : rt_path(s, "channel%u.sock", i);
        if (path) {
            ensure_vser(a, have_vser);
            add(a, "-chardev");
            add(a, "socket,id=channel%u,path=%s,server=on,wait=off", i, path);
            add(a, "-device");
            add(a, "virtserialport,bus=vser0.0,chardev=channel%u,name=%s", i, ch.name);
        }
        free(path);
        vk_channel_free(&ch);
        if (!path)
            return ch.path ? vk_error(-ENOMEM, "out of memory") : -EINVAL;
    }
    return 0;
}

/* -cpu: the model (host under KVM) and the flags pae/nx/apic/nestedhvm/
 * viridian ask for; nothing when TCG's default will do. */
static int add_cpu(struct argv *a, const struct vk_domcfg *c, const char *accel)
{
    int kvm = !strcmp(accel, "kvm");
    char flags[512] = "", hv[256];
    size_t o = 0;
    if (c->pae == 0) o += (size_t)snprintf(flags + o, sizeof flags - o, ",-pae");
    if (c->nx == 0) o += (size_t)snprintf(flags + o, sizeof flags - o, ",-nx");
    if (c->apic == 0) o += (size_t)snprintf(flags + o, sizeof flags - o, ",-apic");
    if (c->nestedhvm == 1) {
        const char *root = getenv("VMKIT_SYSROOT");
        char p[4096];
        snprintf(p, sizeof p, "%s/sys/module/kvm_intel", root ? root : "");
        int intel = kvm && access(p, F_OK) == 0;
        o += (size_t)snprintf(flags + o, sizeof flags - o, intel ? ",+vmx" : ",+svm");
    }
    if (c->viridian.n) {
        int err = vk_viridian_flags(&c->viridian, hv, sizeof hv);
        if (err)
            return err;
        if (!kvm)
            vk_warn("%s: viridian: QEMU gives Hyper-V enlightenments only under KVM; this "
                    "guest runs under TCG and gets none", c->name);
        else if (*hv)
            snprintf(flags + o, sizeof flags - o, ",%s", hv);
    }
    if (!kvm && !flags[0])
        return 0;
    add(a, "-cpu");
    add(a, "%s%s", kvm ? "host" : "qemu64", flags);
    return 0;
}

static void add_rtc(struct argv *a, const struct vk_domcfg *c)
{
    if (c->rtc_timeoffset == VK_UNSET && c->localtime != 1)
        return;
    add(a, "-rtc");
    add(a, "base=localtime");   /* vk_qemu_argv_restamp sets the offset */
}

/* Contract in qemu_args.h. */
int vk_qemu_argv_restamp(char **argv, const struct vk_domcfg *c)
{
    if (c->rtc_timeoffset == VK_UNSET)
        return 0;
    for (char **p = argv; *p && p[1]; p++)
        if (!strcmp(*p, "-rtc")) {
            time_t t = time(NULL) + c->rtc_timeoffset;
            struct tm tm;
            char b[64];
            if (c->localtime == 1)
                localtime_r(&t, &tm);
            else
                gmtime_r(&t, &tm);
            strftime(b, sizeof b, "base=%Y-%m-%dT%H:%M:%S", &tm);
            char *n = strdup(b);
            if (!n)
                return vk_error(-ENOMEM, "out of memory");
            free(p[1]);
            p[1] = n;
            return 0;
        }
    return 0;
}

static void add_chardev_mon(struct argv *a, const char *id, const char *path)
{
    char *p = qesc(path);
    if (!p) {
        a->oom = 1;
        return;
    }
    add(a, "-chardev");
    add(a, "socket,id=%s,path=%s,server=on,wait=off", id, p);
    add(a, "-mon");
    add(a, "chardev=%s,mode=control", id);
    free(p);
}

static void add_machine(struct argv *a, const struct vk_domcfg *c)
{
    add(a, "-machine");
    add(a, "%s%s%s", c->machine ? c->machine : "pc", c->acpi == 0 ? ",acpi=off" : "",
        c->hpet == 0 ? ",hpet=off" : "");
}

static int add_firmware(struct argv *a, const struct vk_domcfg *c)
{
    if (c->bios_path_override) {
        add(a, "-bios");
        add(a, "%s", c->bios_path_override);
        return 0;
    }
    if (!c->firmware || (strcmp(c->firmware, "uefi") && strcmp(c->firmware, "ovmf")))
        return 0;
    static const char *const ovmf[] = { "/usr/share/ovmf/OVMF.fd", "/usr/share/OVMF/OVMF.fd",
                                        "/usr/share/qemu/OVMF.fd", NULL };
    for (int i = 0; ovmf[i]; i++)
        if (access(ovmf[i], R_OK) == 0) {
            add(a, "-bios");
            add(a, "%s", ovmf[i]);
            return 0;
        }
    return vk_error(-ENOENT, "firmware = \"%s\": no OVMF image (%s); install the ovmf package",
                    c->firmware, ovmf[0]);
}

static void add_kernel(struct argv *a, const struct vk_domcfg *c, const struct vk_qemu_setup *s)
{
    const char *kernel = s->kernel ? s->kernel : c->kernel;
    if (!kernel)
        return;
    const char *initrd = s->kernel ? s->initrd : c->ramdisk;
    add(a, "-kernel");
    add(a, "%s", kernel);
    if (initrd) {
        add(a, "-initrd");
        add(a, "%s", initrd);
    }
    if (s->append) {
        add(a, "-append");
        add(a, "%s", s->append);
    } else {
        char *buf = malloc(2 * VK_CFG_MAX_BYTES + 16);
        const char *args = buf ? vk_domcfg_kernel_args(c, buf, 2 * VK_CFG_MAX_BYTES + 16) : NULL;
        if (!buf)
            a->oom = 1;
        if (args) {
            add(a, "-append");
            add(a, "%s", args);
        }
        free(buf);
    }
}

/* Contract in qemu_args.h. */
int vk_qemu_argv(const struct vk_domcfg *c, const struct vk_qemu_setup *s,
                 char ***argv_out)
{
    struct argv a = { 0 };
    char qemu[4096];
    int err, have_vser = 0;
    *argv_out = NULL;
    if (!c->name || !c->uuid || !vk_name_valid(c->name))
        return vk_error(-EINVAL, "config has no valid name/uuid (call vk_domcfg_check first)");
    if ((err = vk_qemu_find(s->qemu ? s->qemu : "qemu-system-x86_64", qemu, sizeof qemu)))
        return err;
    const char *accel = s->accel ? s->accel : "tcg";
    if (strcmp(accel, "kvm") && strcmp(accel, "tcg"))
        return vk_error(-EINVAL, "accel '%s' is not kvm or tcg", accel);

    add(&a, "%s", qemu);
    add(&a, "-name");
    add(&a, "%s,process=vmkit-%s", c->name, c->name);   /* names hold no commas */
    add(&a, "-uuid");
    add(&a, "%s", c->uuid);
    add(&a, "-nodefaults");
    add(&a, "-no-user-config");
    add_machine(&a, c);
    add(&a, "-accel");
    add(&a, "%s", accel);
    if ((err = add_cpu(&a, c, accel)))
        goto fail;
    add(&a, "-m");
    long mem = c->memory != VK_UNSET ? c->memory : 128;
    if (c->maxmem != VK_UNSET && c->maxmem > mem)
        add(&a, "size=%ldM,slots=4,maxmem=%ldM", mem, c->maxmem);
    else
        add(&a, "%ldM", mem);
    add(&a, "-smp");
    long vcpus = c->vcpus != VK_UNSET ? c->vcpus : 1;
    if (c->maxvcpus != VK_UNSET && c->maxvcpus > vcpus)
        add(&a, "%ld,maxcpus=%ld", vcpus, c->maxvcpus);
    else
        add(&a, "%ld", vcpus);
    /* Reboots become SHUTDOWN(guest-reset) events: the monitor applies
     * on_reboot.  Panics reach it as GUEST_PANICKED through pvpanic, with
     * the guest stopped (status guest-panicked) rather than QEMU gone, so
     * the monitor can preserve it as it is or dump its memory first. */
    add(&a, "-action");
    add(&a, "reboot=shutdown,panic=pause");
    add(&a, "-device");
    add(&a, "pvpanic");
    if (s->qmp_monitor)
        add_chardev_mon(&a, "qmp-mon", s->qmp_monitor);
    if (s->qmp_cli)
        add_chardev_mon(&a, "qmp-cli", s->qmp_cli);
    if ((err = add_firmware(&a, c)) || (err = add_serials(&a, c, s)))
        goto fail;
    if (s->pidfile) {
        add(&a, "-pidfile");
        add(&a, "%s", s->pidfile);
    }
    if ((err = add_disks(&a, c)))
        goto fail;
    if (!c->vif_set) {
        struct vk_vifspec def = { .type = VK_VIF_USER };
        err = add_vif(&a, &def, 0);
    } else {
        for (unsigned i = 0; i < c->n_vifs && !err; i++)
            err = add_vif(&a, &c->vifs[i], i);
    }
    if (err || (err = add_vga(&a, c)) || (err = add_vnc(&a, c, s)) ||
        (err = add_spice(&a, c, s, &have_vser)))
        goto fail;
    if (c->keymap) {
        add(&a, "-k");
        add(&a, "%s", c->keymap);
    }
    add_usb(&a, c);
    if ((err = add_sound(&a, c)) || (err = add_p9(&a, c)) ||
        (err = add_channels(&a, c, s, &have_vser)))
        goto fail;
    if (c->on_watchdog >= 0) {
        add(&a, "-device");
        add(&a, "i6300esb");
        add(&a, "-watchdog-action");
        add(&a, "poweroff");
    }
    /* A balloon, as libvirt's default <memballoon model='virtio'/> and
     * every Xen guest have: `vmkit mem-set` works on any VM.  Last of the
     * PCI devices, so the slots of the others stay where they were (a
     * saved state or a migration stream names devices by slot). */
    add(&a, "-device");
    add(&a, "virtio-balloon-pci,id=balloon0");
    add_rtc(&a, c);
    add_kernel(&a, c, s);
    if (c->boot || (c->type == VK_TYPE_HVM && !c->kernel && !s->kernel)) {
        add(&a, "-boot");
        add(&a, "order=%s", c->boot ? c->boot : "cd");   /* xl's default for HVM */
    }
    if (s->paused)
        add(&a, "-S");
    if (s->daemonize)
        add(&a, "-daemonize");
    if (a.oom) {
        err = vk_error(-ENOMEM, "out of memory");
        goto fail;
    }
    if ((err = vk_qemu_argv_restamp(a.v, c)))
        goto fail;
    *argv_out = a.v;
    return 0;
fail:
    vk_argv_free(a.v);
    return err;
}

static int path_exists(const char *root, const char *rel)
{
    char p[4096];
    struct stat st;
    snprintf(p, sizeof p, "%s%s", root, rel);
    return stat(p, &st) == 0;
}

/* Contract in qemu_args.h. */
int vk_accel_choose(const char *requested, const char **accel, char *why, size_t whylen)
{
    char dev[4096], tmp[8];
    const char *root = getenv("VMKIT_SYSROOT");
    if (!root)
        root = "";
    if (!why) {
        why = tmp;
        whylen = sizeof tmp;
    }
    snprintf(dev, sizeof dev, "%s/dev/kvm", root);
    if (requested && !*requested)
        requested = NULL;
    if (requested && !strcmp(requested, "tcg")) {
        *accel = "tcg";
        snprintf(why, whylen, "tcg: requested by accel=\"tcg\"");
        return 0;
    }
    if (requested && strcmp(requested, "kvm"))
        return vk_error(-EINVAL, "accel '%s' is not kvm or tcg", requested);
    int fd = open(dev, O_RDWR | O_CLOEXEC);
    int kvm_err = fd < 0 ? errno : 0;
    if (fd >= 0)
        close(fd);
    if (requested) {
        if (kvm_err)
            return vk_error(-ENODEV, "accel=\"kvm\": %s: %s", dev, strerror(kvm_err));
        *accel = "kvm";
        snprintf(why, whylen, "kvm: requested by accel=\"kvm\"");
        return 0;
    }
    const char *mod = path_exists(root, "/sys/module/kvm_intel") ? "kvm_intel"
                    : path_exists(root, "/sys/module/kvm_amd") ? "kvm_amd" : NULL;
    if (!kvm_err && mod) {
        *accel = "kvm";
        snprintf(why, whylen, "kvm: /dev/kvm usable, %s loaded", mod);
    } else {
        *accel = "tcg";
        if (kvm_err)
            snprintf(why, whylen, "tcg: /dev/kvm: %s", strerror(kvm_err));
        else
            snprintf(why, whylen, "tcg: /dev/kvm present but no hardware virtualization "
                     "(neither kvm_intel nor kvm_amd loaded)");
    }
    return 0;
}
