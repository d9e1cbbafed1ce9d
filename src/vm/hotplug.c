/* Hot-plug of disks and NICs, balloon, vCPUs (contracts in hotplug.h). */
#include "vm/hotplug.h"
#include "vm/migstream.h"
#include "vm/qemu_args.h"
#include "vm/store.h"
#include "block/blockdev.h"
#include "util/err.h"
#include "util/str.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define QMP_MS        10000
#define UNPLUG_MS     30000   /* the guest acknowledges an ACPI eject */
#define REC_MAX       65536
#define MEM_MIN_MIB   32

/* ---- the runtime record: DIR/hotplug, lines "KIND KEY" ---- */

static int rec_read(const char *dir, char *buf, size_t len)
{
    int n = vk_rt_read(dir, "hotplug", buf, len);
    if (n == -ENOENT) {
        buf[0] = 0;
        return 0;
    }
    return n < 0 ? n : 0;
}

/* Contract in hotplug.h. */
int vk_hp_is_hot(const struct vk_vminfo *info, const char *kind, const char *key)
{
    char buf[REC_MAX], want[256];
    if (rec_read(info->dir, buf, sizeof buf) < 0) {
        vk_error_clear();
        return 0;
    }
    snprintf(want, sizeof want, "%s %s", kind, key);
    for (char *l = strtok(buf, "\n"); l; l = strtok(NULL, "\n"))
        if (!strcasecmp(l, want))
            return 1;
    return 0;
}

/* Contract in hotplug.h. */
int vk_hp_movable(const struct vk_vminfo *info)
{
    char buf[REC_MAX];
    if (rec_read(info->dir, buf, sizeof buf) < 0 || !buf[0]) {
        vk_error_clear();
        return 0;
    }
    buf[strcspn(buf, "\n")] = 0;
    return vk_error(-EBUSY, "%s: %s was hot-plugged into this run of QEMU: its state would not "
                    "load into the machine the config builds (other PCI slots); detach it, or "
                    "restart the VM, first", info->name, buf);
}

/* Add (add = 1) or drop the line "kind key" of dir's record. */
static int rec_edit(const char *dir, const char *kind, const char *key, int add)
{
    char buf[REC_MAX], out[REC_MAX], want[256];
    int err = rec_read(dir, buf, sizeof buf);
    if (err)
        return err;
    snprintf(want, sizeof want, "%s %s", kind, key);
    size_t o = 0;
    for (char *l = strtok(buf, "\n"); l; l = strtok(NULL, "\n"))
        if (strcasecmp(l, want) && o + strlen(l) + 2 < sizeof out)
            o += (size_t)snprintf(out + o, sizeof out - o, "%s\n", l);
    if (add) {
        if (o + strlen(want) + 2 >= sizeof out)
            return vk_error(-ENOSPC, "%s/hotplug: too many hot-plugged devices", dir);
        o += (size_t)snprintf(out + o, sizeof out - o, "%s\n", want);
    }
    return vk_rt_write(dir, "hotplug", out, o);
}

/* The effective config back into DIR/config. */
static int rt_config_save(const char *dir, const struct vk_domcfg *c)
{
    char *text = vk_domcfg_format(c);
    if (!text)
        return -ENOMEM;
    int err = vk_rt_write(dir, "config", text, strlen(text));
    free(text);
    return err;
}

/* Contract in hotplug.h. */
int vk_hp_reset(const char *dir, const struct vk_domcfg *c)
{
    char path[4200];
    int err = vk_pathf(path, sizeof path, "%s/hotplug", dir);
    if (err)
        return err;
    if (access(path, F_OK) < 0)
        return 0;               /* nothing was hot-plugged: config is c's */
    if ((err = rt_config_save(dir, c)))
        return err;
    if (unlink(path) < 0 && errno != ENOENT)
        return vk_error(-errno, "%s: %s", path, strerror(errno));
    return 0;
}

/* ---- the device lists of a config ---- */

static int disk_find(const struct vk_domcfg *c, const char *vdev)
{
    for (unsigned i = 0; i < c->n_disks; i++)
        if (!strcmp(c->disks[i].vdev, vdev))
            return (int)i;
    return -1;
}

/* Move *d to the end of c's disks (d is zeroed). */
static int disk_add(struct vk_domcfg *c, struct vk_diskspec *d)
{
    struct vk_diskspec *n = realloc(c->disks, (c->n_disks + 1) * sizeof *n);
    if (!n)
        return vk_error(-ENOMEM, "out of memory");
    c->disks = n;
    c->disks[c->n_disks++] = *d;
    memset(d, 0, sizeof *d);
    return 0;
}

static void disk_del(struct vk_domcfg *c, unsigned i)
{
    vk_diskspec_free(&c->disks[i]);
    memmove(&c->disks[i], &c->disks[i + 1], (c->n_disks - i - 1) * sizeof *c->disks);
    c->n_disks--;
}

/* The vif index of a MAC (case-insensitive) or of a decimal index; -1. */
static int vif_find(const struct vk_domcfg *c, const char *mac_or_index)
{
    const char *s = mac_or_index;
    if (*s && strspn(s, "0123456789") == strlen(s) && strlen(s) < 6) {
        unsigned i = (unsigned)atoi(s);
        return i < c->n_vifs ? (int)i : -1;
    }
    for (unsigned i = 0; i < c->n_vifs; i++)
        if (c->vifs[i].mac && !strcasecmp(c->vifs[i].mac, s))
            return (int)i;
    return -1;
}

static int vif_add(struct vk_domcfg *c, struct vk_vifspec *v)
{
    struct vk_vifspec *n = realloc(c->vifs, (c->n_vifs + 1) * sizeof *n);
    if (!n)
        return vk_error(-ENOMEM, "out of memory");
    c->vifs = n;
    c->vifs[c->n_vifs++] = *v;
    c->vif_set = 1;
    memset(v, 0, sizeof *v);
    return 0;
}

static void vif_del(struct vk_domcfg *c, unsigned i)
{
    vk_vifspec_free(&c->vifs[i]);
    memmove(&c->vifs[i], &c->vifs[i + 1], (c->n_vifs - i - 1) * sizeof *c->vifs);
    c->n_vifs--;
}

/* ---- a running VM's QMP, under its lock ---- */

/* Several QMP commands that no other vmkit command may interleave with:
 * the VM's info, its lock and its CLI QMP socket (migstream.h). */
struct session {
    struct vk_vminfo info;
    int lock;
    struct vk_qmp *q;
};

static void session_close(struct session *s)
{
    vk_qmp_close(s->q);
    s->q = NULL;
    vk_rt_unlock(s->lock);
    s->lock = -1;
    vk_vminfo_free(&s->info);
}

/* -ENOENT "no such VM", -EINVAL "not running" (a crashed VM's QEMU is
 * kept stopped for inspection: not running either). */
static int session_open(const char *name, struct session *s)
{
    int err = vk_vm_qmp_open(name, &s->info, &s->lock, &s->q);
    if (!err && s->info.state == VK_ST_CRASHED) {
        session_close(s);
        err = vk_error(-EINVAL, "%s: VM is not running (state crashed)", name);
    }
    return err;
}

/* ---- --persist: the stored config ---- */

static int persist_load(const char *name, struct vk_domcfg *pc)
{
    int err = vk_store_load(name, pc);
    if (err == -ENOENT)
        return vk_error(err, "%s: not a defined VM: --persist changes the stored config of "
                        "one (vmkit define)", name);
    return err;
}

static int persist_save(struct vk_domcfg *pc)
{
    int err = vk_domcfg_check(pc);
    return err ? err : vk_store_replace(pc);
}

/* Open a session on name.  With persist, a VM that does not run is no
 * error: *live is 0 and only the stored config changes. */
static int open_live(const char *name, int persist, struct session *s, int *live)
{
    int err = session_open(name, s);
    *live = !err;
    if (persist && (err == -ENOENT || err == -EINVAL)) {
        vk_error_clear();
        return 0;
    }
    char path[4096];
    if (err == -ENOENT && vk_store_path(name, path, sizeof path) == 0 && access(path, F_OK) == 0)
        err = vk_error(-EINVAL, "%s: VM is not running (defined, shut off: vmkit start %s; "
                       "--persist changes its stored config)", name, name);
    return err;
}

/* ---- QMP ---- */

static int qmp(struct session *s, const char *cmd, json_t *args, json_t **ret)
{
    int err = vk_qmp_execute(s->q, cmd, args, ret, QMP_MS);
    if (err)
        vk_error_prefix(err, "%s: ", s->info.name);
    return err;
}

/* Undo a half-done attach: run cmd with args; the first error stays the
 * one reported. */
static void undo(struct session *s, const char *cmd, json_t *args)
{
    char keep[1024];
    snprintf(keep, sizeof keep, "%s", vk_errmsg());
    int err = vk_qmp_execute(s->q, cmd, args, NULL, QMP_MS);
    if (err)
        vk_warn("%s: undoing the attach: %s", s->info.name, vk_errmsg());
    vk_error(-EIO, "%s", keep);
}

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* device_del id (a device id or QOM path) and wait for QEMU's
 * DEVICE_DELETED of it: the guest has let the device go. */
static int unplug(struct session *s, const char *id, const char *what)
{
    int err = qmp(s, "device_del", json_pack("{s:s}", "id", id), NULL);
    if (err)
        return err;
    long long end = now_ms() + UNPLUG_MS;
    for (;;) {
        long long left = end - now_ms();
        if (left <= 0)
            return vk_error(-ETIMEDOUT, "%s: the guest did not release %s within %d s (does it "
                            "handle ACPI hot-unplug?); it stays attached", s->info.name, what,
                            UNPLUG_MS / 1000);
        struct vk_qmp_msg m;
        int r = vk_qmp_event(s->q, &m, (int)left);
        if (r < 0)
            return vk_error_prefix(r, "%s: waiting for %s to go: ", s->info.name, what);
        if (r == 0)
            continue;
        int done = !strcmp(m.event, "DEVICE_DELETED") && m.data &&
                   ((json_string_value(json_object_get(m.data, "device")) &&
                     !strcmp(json_string_value(json_object_get(m.data, "device")), id)) ||
                    (json_string_value(json_object_get(m.data, "path")) &&
                     !strcmp(json_string_value(json_object_get(m.data, "path")), id)));
        vk_qmp_msg_free(&m);
        if (done)
            return 0;
    }
}

/* ---- disks ---- */

/* QEMU's names for disk vdev: node name and device id "hp-VDEV". */
static void disk_id(const char *vdev, char *buf, size_t len)
{
    if (!strncmp(vdev, "ioemu:", 6))
        vdev += 6;
    snprintf(buf, len, "hp-%s", vdev);
}

static int has_scsi(const struct vk_domcfg *c)
{
    for (unsigned i = 0; i < c->n_disks; i++)
        if (c->disks[i].bus == VK_BUS_SCSI)
            return 1;
    return 0;
}

/* What QEMU cannot hot-plug, refused before anything is asked of it. */
static int disk_pluggable(const char *name, const struct vk_diskspec *d)
{
    if (!d->target || d->cdrom)
        return vk_error(-EINVAL, "%s: disk '%s': cdrom drives cannot be hot-plugged (put them in "
                        "the config; cd-insert changes their medium)", name, d->spec);
    if (d->bus == VK_BUS_IDE || d->bus == VK_BUS_FLOPPY)
        return vk_error(-EINVAL, "%s: disk '%s': QEMU cannot hot-plug %s drives; use xvdX or vdX "
                        "(virtio)", name, d->spec, d->bus == VK_BUS_IDE ? "IDE" : "floppy");
    if (d->network)
        return vk_error(-EINVAL, "%s: disk '%s': network targets cannot be hot-plugged", name,
                        d->spec);
    return 0;
}

/* Refuse a writable attach of an image another process holds open for
 * writing (or refuses to share for writing): QEMU's lock bytes. */
static int image_free(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return vk_error(-errno, "%s: %s", path, strerror(errno));
    int err = vk_lock_image(fd, path, true);
    close(fd);                  /* drops the locks vk_lock_image took */
    return err;
}

/* QEMU's own image locking refused d (a read-only attach of an image
 * another process writes, or a race with one): say so plainly. */
static int busy_msg(struct session *s, const struct vk_diskspec *d, int err)
{
    if (!strstr(vk_errmsg(), " lock"))
        return err;
    return vk_error(-EBUSY, "%s: image is in use by another process (QEMU, attaching it to %s: "
                    "%s)", d->target, s->info.name, vk_errmsg());
}

/* blockdev-add and device_add for d (target already absolute). */
static int disk_plug(struct session *s, const struct vk_diskspec *d, const char *id)
{
    struct stat st;
    if (stat(d->target, &st) < 0)
        return vk_error(-errno, "%s: %s", d->target, strerror(errno));
    json_t *file = json_pack("{s:s, s:s}", "driver", S_ISBLK(st.st_mode) ? "host_device" : "file",
                             "filename", d->target);
    json_t *args = json_pack("{s:s, s:s, s:b, s:o}", "driver", vk_qemu_format(d->format),
                             "node-name", id, "read-only", d->readonly, "file", file);
    int err = qmp(s, "blockdev-add", args, NULL);
    if (err)
        return busy_msg(s, d, err);
    if (d->bus == VK_BUS_SCSI)
        args = json_pack("{s:s, s:s, s:s, s:s, s:i}", "driver", "scsi-hd", "id", id, "drive", id,
                         "bus", "scsi0.0", "scsi-id", d->index);
    else
        args = json_pack("{s:s, s:s, s:s}", "driver", "virtio-blk-pci", "id", id, "drive", id);
    if ((err = qmp(s, "device_add", args, NULL))) {
        undo(s, "blockdev-del", json_pack("{s:s}", "node-name", id));
        err = busy_msg(s, d, err);
    }
    return err;
}

/* Contract in hotplug.h. */
int vk_hp_block_attach(const char *name, const char *spec, int persist)
{
    struct vk_diskspec d;
    struct vk_domcfg pc;
    struct session s;
    int live = 0;
    vk_domcfg_init(&pc);
    int err = vk_diskspec_parse(spec, &d);
    if (err)
        return err;
    if ((err = disk_pluggable(name, &d)) || (persist && (err = persist_load(name, &pc))))
        goto out;
    if (persist && disk_find(&pc, d.vdev) >= 0) {
        err = vk_error(-EEXIST, "%s: the stored config has a disk %s already", name, d.vdev);
        goto out;
    }
    char *abs = realpath(d.target, NULL);
    if (!abs) {
        err = vk_error(-errno, "%s: disk '%s': %s: %s", name, spec, d.target, strerror(errno));
        goto out;
    }
    free(d.target);
    d.target = abs;
    struct vk_domcfg one;       /* the checks a start makes of its disks */
    vk_domcfg_init(&one);
    one.name = (char *)name;
    one.disks = &d;
    one.n_disks = 1;
    if ((err = vk_domcfg_validate_disks(&one)) || (!d.readonly && (err = image_free(d.target))))
        goto out;
    if ((err = open_live(name, persist, &s, &live)))
        goto out;
    char id[64];
    disk_id(d.vdev, id, sizeof id);
    if (live) {
        struct vk_domcfg *c = &s.info.cfg;
        for (unsigned i = 0; i < c->n_disks && !err; i++)
            if (!strcmp(c->disks[i].vdev, d.vdev) ||
                (c->disks[i].bus == d.bus && c->disks[i].index == d.index &&
                 c->disks[i].partition == d.partition))
                err = vk_error(-EEXIST, "%s: %s is in use by disk '%s'", name, d.vdev,
                               c->disks[i].spec ? c->disks[i].spec : c->disks[i].vdev);
        if (!err && d.bus == VK_BUS_SCSI && !has_scsi(c))
            err = vk_error(-EINVAL, "%s: no SCSI controller to plug %s into (the VM has no "
                           "sdX disk); use xvdX or vdX", name, d.vdev);
        if (!err)
            err = disk_plug(&s, &d, id);
        if (!err) {
            /* QEMU has the disk now: what follows only records it */
            struct vk_diskspec copy;
            if ((err = vk_diskspec_parse(spec, &copy)) == 0) {
                free(copy.target);
                copy.target = strdup(d.target);
                if (!copy.target)
                    err = vk_error(-ENOMEM, "out of memory");
                else if (!(err = disk_add(c, &copy)) &&
                         !(err = rec_edit(s.info.dir, "disk", d.vdev, 1)))
                    err = rt_config_save(s.info.dir, c);
                vk_diskspec_free(&copy);
            }
        }
        session_close(&s);
    }
    if (!err && persist && !(err = disk_add(&pc, &d)))
        err = persist_save(&pc);
out:
    vk_diskspec_free(&d);
    vk_domcfg_free(&pc);
    return err;
}

/* The QOM path of the device QEMU started with for disk d (found by its
 * file in query-block), into buf. */
static int boot_disk_path(struct session *s, const struct vk_diskspec *d, char *buf,
                          size_t len)
{
    json_t *r = NULL;
    int err = qmp(s, "query-block", NULL, &r);
    if (err)
        return err;
    char *want = realpath(d->target, NULL);
    size_t i;
    json_t *b;
    err = vk_error(-ENODEV, "%s: QEMU has no device for disk %s", s->info.name, d->vdev);
    json_array_foreach(r, i, b) {
        const char *qdev = json_string_value(json_object_get(b, "qdev"));
        const char *f = json_string_value(json_object_get(json_object_get(b, "inserted"),
                                                          "file"));
        if (!qdev || !f || (strcmp(f, d->target) && (!want || strcmp(f, want))))
            continue;
        size_t n = strlen(qdev);
        if (n > 15 && !strcmp(qdev + n - 15, "/virtio-backend"))
            n -= 15;
        snprintf(buf, len, "%.*s", (int)n, qdev);
        vk_error_clear();
        err = 0;
        break;
    }
    free(want);
    json_decref(r);
    return err;
}

/* Contract in hotplug.h. */
int vk_hp_block_detach(const char *name, const char *vdev, int persist)
{
    struct vk_domcfg pc;
    struct session s;
    int live = 0, pi = -1;
    vk_domcfg_init(&pc);
    int err = persist ? persist_load(name, &pc) : 0;
    if (!err && persist && (pi = disk_find(&pc, vdev)) < 0)
        err = vk_error(-ENOENT, "%s: the stored config has no disk %s", name, vdev);
    if (err || (err = open_live(name, persist, &s, &live)))
        goto out;
    if (live) {
        struct vk_domcfg *c = &s.info.cfg;
        int i = disk_find(c, vdev);
        char id[4200];
        const struct vk_diskspec *d = i >= 0 ? &c->disks[i] : NULL;
        int hot = d && vk_hp_is_hot(&s.info, "disk", vdev);
        if (!d)
            err = vk_error(-ENOENT, "%s: no disk %s (block-list shows its disks)", name, vdev);
        else if (d->cdrom || !d->target)
            err = vk_error(-EINVAL, "%s: %s is a cdrom drive: QEMU cannot unplug it (cd-eject "
                           "takes its medium out)", name, vdev);
        else if (d->bus == VK_BUS_IDE || d->bus == VK_BUS_FLOPPY)
            err = vk_error(-EINVAL, "%s: %s is an %s drive: QEMU cannot unplug it", name, vdev,
                           d->bus == VK_BUS_IDE ? "IDE" : "floppy");
        else if (hot)
            disk_id(vdev, id, sizeof id);
        else
            err = boot_disk_path(&s, d, id, sizeof id);
        if (!err)
            err = unplug(&s, id, vdev);
        /* a hot-plugged disk's block node stays until deleted; the drive
         * of a disk QEMU started with goes with its device */
        if (!err && hot)
            err = qmp(&s, "blockdev-del", json_pack("{s:s}", "node-name", id), NULL);
        if (!err) {
            disk_del(c, (unsigned)i);
            if (!(err = rec_edit(s.info.dir, "disk", vdev, 0)))
                err = rt_config_save(s.info.dir, c);
        }
        session_close(&s);
    }
    if (!err && persist) {
        disk_del(&pc, (unsigned)pi);
        err = persist_save(&pc);
    }
out:
    vk_domcfg_free(&pc);
    return err;
}

/* ---- NICs ---- */

/* netdev "hpnet-MAC" and device "hpnic-MAC" (MAC without colons). */
static void nic_ids(const char *mac, char *nd, char *dev, size_t len)
{
    char hex[32];
    size_t o = 0;
    for (const char *p = mac; *p && o + 1 < sizeof hex; p++)
        if (*p != ':')
            hex[o++] = (char)tolower((unsigned char)*p);
    hex[o] = 0;
    snprintf(nd, len, "hpnet-%s", hex);
    snprintf(dev, len, "hpnic-%s", hex);
}

static int nic_plug(struct session *s, const struct vk_vifspec *v)
{
    char nd[64], dev[64];
    nic_ids(v->mac, nd, dev, sizeof nd);
    json_t *args;
    if (v->type == VK_VIF_BRIDGE) {
        args = json_pack("{s:s, s:s, s:s, s:s}", "type", "bridge", "id", nd, "br", v->bridge,
                         "helper", "/usr/lib/qemu/qemu-bridge-helper");
    } else {
        args = json_pack("{s:s, s:s}", "type", "user", "id", nd);
        if (args && v->n_hostfwd) {
            json_t *fw = json_array();
            for (unsigned i = 0; i < v->n_hostfwd; i++)
                json_array_append_new(fw, json_pack("{s:s}", "str", v->hostfwd[i]));
            json_object_set_new(args, "hostfwd", fw);
        }
    }
    int err = qmp(s, "netdev_add", args, NULL);
    if (err)
        return err;
    args = json_pack("{s:s, s:s, s:s, s:s}", "driver", v->model ? v->model : "virtio-net-pci",
                     "id", dev, "netdev", nd, "mac", v->mac);
    if ((err = qmp(s, "device_add", args, NULL)))
        undo(s, "netdev_del", json_pack("{s:s}", "id", nd));
    return err;
}

/* Contract in hotplug.h. */
int vk_hp_nic_attach(const char *name, const char *spec, int persist)
{
    struct vk_vifspec v, copy;
    struct vk_domcfg pc;
    struct session s;
    int live = 0;
    memset(&copy, 0, sizeof copy);
    vk_domcfg_init(&pc);
    int err = vk_vifspec_parse(spec, &v);
    if (err)
        return err;
    if ((err = vk_vifspec_parse(spec, &copy)) ||
        (!v.mac && ((err = vk_mac_generate(&v.mac)) || !(copy.mac = strdup(v.mac)))))
        goto out;
    if (persist && (err = persist_load(name, &pc)))
        goto out;
    if (persist && vif_find(&pc, v.mac) >= 0) {
        err = vk_error(-EEXIST, "%s: the stored config has a NIC with MAC %s already", name, v.mac);
        goto out;
    }
    if ((err = open_live(name, persist, &s, &live)))
        goto out;
    if (live) {
        struct vk_domcfg *c = &s.info.cfg;
        if (vif_find(c, v.mac) >= 0)
            err = vk_error(-EEXIST, "%s: a NIC with MAC %s is attached already", name, v.mac);
        if (!err && !(err = nic_plug(&s, &v)) && !(err = rec_edit(s.info.dir, "nic", v.mac, 1)) &&
            !(err = vif_add(c, &copy)))
            err = rt_config_save(s.info.dir, c);
        session_close(&s);
    }
    if (!err && persist && !(err = vif_add(&pc, &v)))
        err = persist_save(&pc);
out:
    if (err == -ENOMEM && !*vk_errmsg())
        vk_error(err, "out of memory");
    vk_vifspec_free(&v);
    vk_vifspec_free(&copy);
    vk_domcfg_free(&pc);
    return err;
}

/* The QOM path and netdev of the NIC QEMU started with whose MAC is mac:
 * the devices without an id (-device ...,netdev=netN) are children of
 * /machine/peripheral-anon. */
static int boot_nic(struct session *s, const char *mac, char *path, char *nd, size_t len)
{
    static const char base[] = "/machine/peripheral-anon";
    json_t *r = NULL;
    int err = qmp(s, "qom-list", json_pack("{s:s}", "path", base), &r);
    if (err)
        return err;
    size_t i;
    json_t *e;
    err = vk_error(-ENODEV, "%s: QEMU has no NIC with MAC %s", s->info.name, mac);
    json_array_foreach(r, i, e) {
        const char *n = json_string_value(json_object_get(e, "name"));
        const char *t = json_string_value(json_object_get(e, "type"));
        if (!n || !t || strncmp(t, "child<", 6))
            continue;
        char p[512];
        snprintf(p, sizeof p, "%s/%s", base, n);
        json_t *m = NULL, *ndv = NULL;
        if (vk_qmp_execute(s->q, "qom-get", json_pack("{s:s, s:s}", "path", p, "property", "mac"),
                           &m, QMP_MS) == 0 && json_is_string(m) &&
            !strcasecmp(json_string_value(m), mac) &&
            vk_qmp_execute(s->q, "qom-get", json_pack("{s:s, s:s}", "path", p, "property",
                                                      "netdev"), &ndv, QMP_MS) == 0 &&
            json_is_string(ndv)) {
            snprintf(path, len, "%s", p);
            snprintf(nd, len, "%s", json_string_value(ndv));
            err = 0;
        }
        json_decref(m);
        json_decref(ndv);
        if (!err)
            break;
    }
    if (!err)
        vk_error_clear();
    else if (err != -ENODEV)
        err = vk_error(-ENODEV, "%s: QEMU has no NIC with MAC %s", s->info.name, mac);
    json_decref(r);
    return err;
}

/* Contract in hotplug.h. */
int vk_hp_nic_detach(const char *name, const char *which, int persist)
{
    struct vk_domcfg pc;
    struct session s;
    int live = 0, pi = -1;
    char mac[64] = "";
    vk_domcfg_init(&pc);
    int err = persist ? persist_load(name, &pc) : 0;
    if (err || (err = open_live(name, persist, &s, &live)))
        goto out;
    if (live) {
        struct vk_domcfg *c = &s.info.cfg;
        int i = vif_find(c, which);
        char dev[512], nd[512];
        if (i < 0 || !c->vifs[i].mac)
            err = vk_error(-ENOENT, "%s: no NIC %s (network-list shows its NICs)", name, which);
        else {
            snprintf(mac, sizeof mac, "%s", c->vifs[i].mac);
            if (vk_hp_is_hot(&s.info, "nic", mac))
                nic_ids(mac, nd, dev, sizeof nd);
            else
                err = boot_nic(&s, mac, dev, nd, sizeof dev);
        }
        if (!err && !(err = unplug(&s, dev, mac)) &&
            !(err = qmp(&s, "netdev_del", json_pack("{s:s}", "id", nd), NULL))) {
            vif_del(c, (unsigned)i);
            if (!(err = rec_edit(s.info.dir, "nic", mac, 0)))
                err = rt_config_save(s.info.dir, c);
        }
        session_close(&s);
    }
    if (!err && persist) {
        if ((pi = vif_find(&pc, *mac ? mac : which)) < 0)
            err = vk_error(-ENOENT, "%s: the stored config has no NIC %s", name,
                           *mac ? mac : which);
        else {
            vif_del(&pc, (unsigned)pi);
            err = persist_save(&pc);
        }
    }
out:
    vk_domcfg_free(&pc);
    return err;
}

/* Contract in hotplug.h. */
int vk_hp_info(const char *name, struct vk_vminfo *info)
{
    int err = vk_rt_info(name, 0, info);
    if (!err && !info->pid) {
        err = vk_error(-EINVAL, "%s: VM is not running (state %s)", name,
                       vk_vm_state_name(info->state));
        vk_vminfo_free(info);
    }
    return err;
}

/* ---- memory and vCPUs ---- */

/* Contract in hotplug.h. */
int vk_hp_mem_set(const char *name, long mib)
{
    struct session s;
    int live, err = open_live(name, 0, &s, &live);
    if (err)
        return err;
    long mem = s.info.cfg.memory != VK_UNSET ? s.info.cfg.memory : 128;
    if (mib > mem)
        err = vk_error(-ERANGE, "%s: %ld MiB is more than the VM's memory (%ld MiB): the balloon "
                       "gives back what it took, it cannot add memory", name, mib, mem);
    else if (mib < MEM_MIN_MIB)
        err = vk_error(-ERANGE, "%s: %ld MiB is too little (at least %d MiB: below that the "
                       "guest kernel runs out of memory)", name, mib, MEM_MIN_MIB);
    else if ((err = qmp(&s, "balloon", json_pack("{s:I}", "value", (json_int_t)mib << 20),
                        NULL)) && strstr(vk_errmsg(), "alloon"))
        err = vk_error(-ENODEV, "%s: QEMU has no balloon device (a VM started by an older "
                       "vmkit): restart it", name);
    session_close(&s);
    return err;
}

/* The id QEMU's device for a hot-pluggable CPU slot has: the last part of
 * its qom-path when vcpu-set added it (/machine/peripheral/ID), else
 * NULL (a CPU QEMU started with, or an empty slot). */
static const char *cpu_hot_id(json_t *slot)
{
    const char *p = json_string_value(json_object_get(slot, "qom-path"));
    static const char pre[] = "/machine/peripheral/";
    return p && !strncmp(p, pre, sizeof pre - 1) ? p + sizeof pre - 1 : NULL;
}

/* Contract in hotplug.h. */
int vk_hp_vcpu_set(const char *name, long n)
{
    struct session s;
    int live, err = open_live(name, 0, &s, &live);
    if (err)
        return err;
    struct vk_domcfg *c = &s.info.cfg;
    long maxv = c->maxvcpus != VK_UNSET ? c->maxvcpus : c->vcpus != VK_UNSET ? c->vcpus : 1;
    json_t *r = NULL;
    err = qmp(&s, "query-hotpluggable-cpus", NULL, &r);
    size_t total = json_array_size(r);
    long online = 0, boot = 0;
    for (size_t i = 0; !err && i < total; i++) {
        json_t *slot = json_array_get(r, i);
        if (json_object_get(slot, "qom-path")) {
            online++;
            boot += !cpu_hot_id(slot);
        }
    }
    if (!err && maxv <= boot && n != boot)
        err = vk_error(-EINVAL, "%s: no room for vCPUs to come or go: QEMU hot-plugs CPUs only "
                       "up to the maxvcpus the VM started with (%ld; set maxvcpus > vcpus in its "
                       "config)", name, maxv);
    else if (!err && (n < 1 || n > maxv))
        err = vk_error(-ERANGE, "%s: %ld vCPUs: give %ld to maxvcpus (%ld)", name, n, boot, maxv);
    else if (!err && n < online && !strncmp(s.info.accel, "tcg", 3))
        /* QEMU gives each vCPU thread a TCG context of maxvcpus and never
         * takes one back: a CPU plugged in after an unplug aborts QEMU
         * (tcg_register_thread: assertion n < tcg_max_ctxs) */
        err = vk_error(-EOPNOTSUPP, "%s: the VM runs under TCG, where QEMU cannot plug a CPU "
                       "in again once one was unplugged (it aborts): vmkit unplugs CPUs only "
                       "under KVM", name);
    else if (!err && n < boot)
        err = vk_error(-ERANGE, "%s: the VM started with %ld vCPUs; QEMU can unplug only those "
                       "vcpu-set added", name, boot);
    /* QEMU lists the slots highest first: plug from the end, unplug from
     * the front */
    for (size_t k = total; !err && online < n && k-- > 0;) {
        json_t *slot = json_array_get(r, k);
        if (json_object_get(slot, "qom-path"))
            continue;
        char id[32];
        snprintf(id, sizeof id, "hpcpu%zu", total - 1 - k);
        json_t *args = json_pack("{s:s, s:s}", "driver",
                                 json_string_value(json_object_get(slot, "type")), "id", id);
        if (args)
            json_object_update(args, json_object_get(slot, "props"));
        if (!(err = qmp(&s, "device_add", args, NULL)))
            online++;
    }
    for (size_t k = 0; !err && online > n && k < total; k++) {
        const char *id = cpu_hot_id(json_array_get(r, k));
        if (id && !(err = unplug(&s, id, id)))
            online--;
    }
    json_decref(r);
    if (!err) {
        c->vcpus = n;
        err = rt_config_save(s.info.dir, c);
    }
    session_close(&s);
    return err;
}
