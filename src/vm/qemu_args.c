/* struct vk_domcfg -> QEMU argv; KVM or TCG. */
#include "vm/qemu_args.h"
#include "vm/store.h"
#include "util/err.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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
    if (strchr(name, '/')) {
        if (access(name, X_OK) < 0)
            return vk_error(-errno, "%s: %s", name, strerror(errno));
        if ((size_t)snprintf(buf, len, "%s", name) >= len)
            return vk_error(-ENAMETOOLONG, "%s: path too long", name);
        return 0;
    }
    const char *path = getenv("PATH");
    if (!path || !*path)
        path = "/usr/local/bin:/usr/bin:/bin";
    while (*path) {
        const char *e = strchr(path, ':');
        size_t dl = e ? (size_t)(e - path) : strlen(path);
        if ((size_t)snprintf(buf, len, "%.*s/%s", (int)dl, dl ? path : ".", name) < len) {
            struct stat st;
            if (stat(buf, &st) == 0 && S_ISREG(st.st_mode) && access(buf, X_OK) == 0)
                return 0;
        }
        if (!e)
            break;
        path = e + 1;
    }
    return vk_error(-ENOENT, "%s: not found in PATH (install qemu-system-x86)", name);
}

static const char *qemu_format(const char *f)
{
    return !strcmp(f, "vhd") ? "vpc" : f;
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
        char *file = d->target ? qesc(d->target) : NULL;
        if (d->target && !file)
            return vk_error(-ENOMEM, "out of memory");
        char opts[64];
        snprintf(opts, sizeof opts, "%s%s%s%s",
                 d->format ? ",format=" : "", d->format ? qemu_format(d->format) : "",
                 d->readonly ? ",readonly=on" : "", d->cdrom ? ",media=cdrom" : "");
        const char *fpre = file ? "file=" : "", *fval = file ? file : "", *fsep = file ? "," : "";
        if (d->bus == VK_BUS_IDE) {
            add(a, "-drive");
            add(a, "%s%s%sif=ide,index=%d%s", fpre, fval, fsep, d->index, opts);
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

static int add_vnc(struct argv *a, const struct vk_domcfg *c)
{
    if (!c->vnc) {
        add(a, "-display");
        add(a, "none");
        return 0;
    }
    char host[128] = "127.0.0.1";
    int display = c->vncdisplay;
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
            if (display < 0)
                display = (int)dn;
            hl = (size_t)(colon - l);
        }
        if (hl == 0 || hl + 3 > sizeof host)
            return vk_error(-EINVAL, "vnclisten '%s': bad address", l);
        for (size_t k = 0; k < hl; k++)
            if (!strchr("0123456789abcdefABCDEF.:-_", l[k]) &&
                !(l[k] >= 'g' && l[k] <= 'z') && !(l[k] >= 'G' && l[k] <= 'Z'))
                return vk_error(-EINVAL, "vnclisten '%s': bad address", l);
        if (memchr(l, ':', hl))
            snprintf(host, sizeof host, "[%.*s]", (int)hl, l);
        else
            snprintf(host, sizeof host, "%.*s", (int)hl, l);
        if (!c->vncpasswd && strcmp(host, "127.0.0.1") && strcmp(host, "localhost") &&
            strcmp(host, "[::1]"))
            vk_warn("%s: VNC listens on %s without a password (set vncpasswd)",
                    c->name ? c->name : "vm", host);
    }
    add(a, "-device");
    add(a, "VGA");
    add(a, "-vnc");
    if (display >= 0)
        add(a, "%s:%d%s", host, display, c->vncpasswd ? ",password=on" : "");
    else if (!c->vncunused)
        add(a, "%s:0%s", host, c->vncpasswd ? ",password=on" : "");
    else
        add(a, "%s:0,to=99%s", host, c->vncpasswd ? ",password=on" : "");
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

/* Contract in qemu_args.h. */
int vk_qemu_argv(const struct vk_domcfg *c, const struct vk_qemu_setup *s,
                 char ***argv_out)
{
    struct argv a = { 0 };
    char qemu[4096];
    int err;
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
    add(&a, "-machine");
    add(&a, "%s", c->machine ? c->machine : "pc");
    add(&a, "-accel");
    add(&a, "%s", accel);
    if (!strcmp(accel, "kvm")) {
        add(&a, "-cpu");
        add(&a, "host");
    }
    add(&a, "-m");
    unsigned mem = c->memory ? c->memory : 128;
    if (c->maxmem > mem)
        add(&a, "size=%uM,slots=4,maxmem=%uM", mem, c->maxmem);
    else
        add(&a, "%uM", mem);
    add(&a, "-smp");
    add(&a, "%u", c->vcpus ? c->vcpus : 1);
    /* Reboots become SHUTDOWN(guest-reset) events: the monitor applies
     * on_reboot.  Panics reach it as GUEST_PANICKED through pvpanic. */
    add(&a, "-action");
    add(&a, "reboot=shutdown");
    add(&a, "-device");
    add(&a, "pvpanic");
    if (s->qmp_monitor)
        add_chardev_mon(&a, "qmp-mon", s->qmp_monitor);
    if (s->qmp_cli)
        add_chardev_mon(&a, "qmp-cli", s->qmp_cli);
    if (s->console_sock) {
        char *p = qesc(s->console_sock), *l = s->console_log ? qesc(s->console_log) : NULL;
        if (!p || (s->console_log && !l)) {
            free(p);
            free(l);
            vk_argv_free(a.v);
            return vk_error(-ENOMEM, "out of memory");
        }
        add(&a, "-chardev");
        add(&a, "socket,id=console,path=%s,server=on,wait=off%s%s%s", p,
            l ? ",logfile=" : "", l ? l : "", l ? ",logappend=on" : "");
        add(&a, "-serial");
        add(&a, "chardev:console");
        free(p);
        free(l);
    } else {
        add(&a, "-serial");
        add(&a, "none");
    }
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
    if (err)
        goto fail;
    if ((err = add_vnc(&a, c)))
        goto fail;

    const char *kernel = s->kernel ? s->kernel : c->kernel;
    if (kernel) {
        const char *initrd = s->kernel ? s->initrd : c->ramdisk;
        add(&a, "-kernel");
        add(&a, "%s", kernel);
        if (initrd) {
            add(&a, "-initrd");
            add(&a, "%s", initrd);
        }
        if (s->append) {
            add(&a, "-append");
            add(&a, "%s", s->append);
        } else if (c->cmdline) {
            add(&a, "-append");
            add(&a, "%s", c->cmdline);
        } else if (c->root || c->extra) {
            add(&a, "-append");
            add(&a, "%s%s%s%s", c->root ? "root=" : "", c->root ? c->root : "",
                c->root && c->extra ? " " : "", c->extra ? c->extra : "");
        }
    }
    if (c->boot) {
        add(&a, "-boot");
        add(&a, "order=%s", c->boot);
    }
    if (s->paused)
        add(&a, "-S");
    if (s->daemonize)
        add(&a, "-daemonize");
    if (a.oom) {
        err = vk_error(-ENOMEM, "out of memory");
        goto fail;
    }
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
