/* xl.cfg's small device specs: serial, p9, channel, usbdevice, vfb,
 * viridian, soundhw (contracts in devspec.h). */
#include "vm/devspec.h"
#include "util/err.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A -chardev option value: commas doubled (QEMU's escaping). */
static void esc(char *out, size_t len, const char *s, size_t n)
{
    size_t o = 0;
    for (size_t i = 0; i < n && o + 3 < len; i++) {
        out[o++] = s[i];
        if (s[i] == ',')
            out[o++] = ',';
    }
    out[o] = 0;
}

/* "[host]:port" -> host/port; the port must be 1..65535 (0 for udp's
 * local side). */
static int host_port(const char *s, size_t n, char *host, size_t hlen, long *port, long minport)
{
    const char *colon = NULL;
    for (size_t i = 0; i < n; i++)
        if (s[i] == ':')
            colon = s + i;
    if (!colon)
        return -1;
    size_t hl = (size_t)(colon - s);
    if (hl >= hlen)
        return -1;
    memcpy(host, s, hl);
    host[hl] = 0;
    if (hl > 1 && host[0] == '[' && host[hl - 1] == ']') {   /* [::1] */
        memmove(host, host + 1, hl - 2);
        host[hl - 2] = 0;
    }
    for (size_t i = 0; host[i]; i++)
        if (!isalnum((unsigned char)host[i]) && !strchr(".-:_", host[i]))
            return -1;
    char pb[16];
    size_t pl = n - hl - 1;
    if (pl == 0 || pl >= sizeof pb)
        return -1;
    memcpy(pb, colon + 1, pl);
    pb[pl] = 0;
    char *ep;
    *port = strtol(pb, &ep, 10);
    return *ep || *port < minport || *port > 65535 ? -1 : 0;
}

/* The ",server,nowait" style flags after a tcp:/telnet:/unix: address,
 * old (server, nowait) and new (server=on, wait=off) forms alike. */
static int socket_flags(const char *f, char *out, size_t len, int *server)
{
    size_t o = 0;
    out[0] = 0;
    while (*f) {
        if (*f == ',')
            f++;
        size_t n = strcspn(f, ",");
        char w[32];
        if (n >= sizeof w)
            return -1;
        memcpy(w, f, n);
        w[n] = 0;
        const char *add = NULL;
        char rb[48];
        if (!strcmp(w, "server") || !strcmp(w, "server=on")) {
            *server = 1;
        } else if (!strcmp(w, "server=off")) {
            *server = 0;
        } else if (!strcmp(w, "nowait") || !strcmp(w, "wait=off")) {
            add = ",wait=off";
        } else if (!strcmp(w, "wait") || !strcmp(w, "wait=on")) {
            add = ",wait=on";
        } else if (!strcmp(w, "nodelay") || !strcmp(w, "nodelay=on")) {
            add = ",nodelay=on";
        } else if (!strncmp(w, "reconnect=", 10) && w[10] && strspn(w + 10, "0123456789") == n - 10) {
            snprintf(rb, sizeof rb, ",%s", w);
            add = rb;
        } else {
            return -1;
        }
        if (add) {
            size_t al = strlen(add);
            if (o + al + 1 > len)
                return -1;
            memcpy(out + o, add, al + 1);
            o += al;
        }
        f += n;
    }
    return 0;
}

static int serial_err(const char *spec, const char *fmt, ...) VK_PRINTF(2, 3);
static int serial_err(const char *spec, const char *fmt, ...)
{
    char m[300];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(m, sizeof m, fmt, ap);
    va_end(ap);
    return vk_error(-EINVAL, "serial '%.200s': %s", spec, m);
}

static int serial_parse(const char *spec, enum vk_serial_kind *kind, char **opts, int warn)
{
    char o[1200], host[256], p[600], fl[128];
    long port;
    int server = 0;
    *opts = NULL;
    *kind = VK_SER_CHARDEV;
    if (strlen(spec) > 512)
        return serial_err(spec, "too long");
    if (!strcmp(spec, "pty")) {
        *kind = VK_SER_PTY;
        return 0;
    }
    if (!strcmp(spec, "none")) {
        *kind = VK_SER_NONE;
        return 0;
    }
    if (!strcmp(spec, "null") || !strcmp(spec, "msmouse")) {
        snprintf(o, sizeof o, "%s", spec);
    } else if (!strcmp(spec, "vc") || !strncmp(spec, "vc:", 3)) {
        /* vc:WxH in pixels, vc:WCxHC in characters (QEMU's -serial syntax) */
        char *e1, *e2;
        unsigned long w = 0, h = 0;
        int cw = 0, ch = 0;
        if (spec[2]) {
            w = strtoul(spec + 3, &e1, 10);
            if ((cw = *e1 == 'C'))
                e1++;
            if (*e1 != 'x')
                return serial_err(spec, "expected vc, vc:WxH or vc:WCxHC");
            h = strtoul(e1 + 1, &e2, 10);
            if ((ch = *e2 == 'C'))
                e2++;
            if (*e2 || cw != ch || !w || !h || w > 100000 || h > 100000 || e2 == e1 + 1)
                return serial_err(spec, "expected vc, vc:WxH or vc:WCxHC");
        }
        if (!spec[2])
            snprintf(o, sizeof o, "vc");
        else
            snprintf(o, sizeof o, cw ? "vc,cols=%lu,rows=%lu" : "vc,width=%lu,height=%lu", w, h);
    } else if (!strcmp(spec, "stdio")) {
        return serial_err(spec, "QEMU runs detached under vmkit and has no terminal; "
                          "\"pty\" is the console that vmkit console attaches to");
    } else if (!strncmp(spec, "file:", 5) || !strncmp(spec, "pipe:", 5)) {
        if (!spec[5])
            return serial_err(spec, "no path");
        esc(p, sizeof p, spec + 5, strlen(spec + 5));
        snprintf(o, sizeof o, "%.4s,path=%s", spec, p);
    } else if (!strncmp(spec, "tcp:", 4) || !strncmp(spec, "telnet:", 7)) {
        const char *a = strchr(spec, ':') + 1;
        size_t n = strcspn(a, ",");
        if (host_port(a, n, host, sizeof host, &port, 1) || socket_flags(a + n, fl, sizeof fl, &server))
            return serial_err(spec, "expected %s[HOST]:PORT[,server][,nowait][,nodelay]",
                              spec[0] == 't' && spec[1] == 'c' ? "tcp:" : "telnet:");
        if (warn && server && (!*host || !strcmp(host, "0.0.0.0") || !strcmp(host, "::")))
            vk_warn("serial '%s': listens on every interface; anyone who reaches port %ld "
                    "gets the serial console", spec, port);
        snprintf(o, sizeof o, "socket%s%s,port=%ld,server=%s%s%s", *host ? ",host=" : "", host,
                 port, server ? "on" : "off", fl, spec[1] == 'e' ? ",telnet=on" : "");
    } else if (!strncmp(spec, "udp:", 4)) {
        const char *a = spec + 4, *at = strchr(a, '@');
        size_t n = at ? (size_t)(at - a) : strlen(a);
        char lhost[256] = "";
        long lport = -1;
        if (host_port(a, n, host, sizeof host, &port, 1) ||
            (at && host_port(at + 1, strlen(at + 1), lhost, sizeof lhost, &lport, 0)))
            return serial_err(spec, "expected udp:[REMOTE]:PORT[@[SRC]:SRCPORT]");
        int l = snprintf(o, sizeof o, "udp%s%s,port=%ld", *host ? ",host=" : "", host, port);
        if (at)
            snprintf(o + l, sizeof o - (size_t)l, "%s%s,localport=%ld", *lhost ? ",localaddr=" : "",
                     lhost, lport);
    } else if (!strncmp(spec, "unix:", 5)) {
        const char *a = spec + 5;
        size_t n = strcspn(a, ",");
        if (!n || socket_flags(a + n, fl, sizeof fl, &server))
            return serial_err(spec, "expected unix:PATH[,server][,nowait]");
        esc(p, sizeof p, a, n);
        snprintf(o, sizeof o, "socket,path=%s,server=%s%s", p, server ? "on" : "off", fl);
    } else if (!strncmp(spec, "/dev/", 5)) {
        if (strchr(spec, ','))
            return serial_err(spec, "bad device path");
        snprintf(o, sizeof o, "%s,path=%s", !strncmp(spec, "/dev/parport", 12) ? "parallel" : "serial",
                 spec);
    } else if (!strncmp(spec, "mon:", 4)) {
        return serial_err(spec, "QEMU's monitor belongs to vmkit (its QMP sockets); not supported");
    } else if (!strncmp(spec, "chardev:", 8)) {
        return serial_err(spec, "names a chardev of a hand-written QEMU command line; not supported");
    } else {
        return serial_err(spec, "not a serial device QEMU knows (pty, none, null, vc, file:, "
                          "pipe:, tcp:, telnet:, udp:, unix:, /dev/...)");
    }
    if (!(*opts = strdup(o)))
        return vk_error(-ENOMEM, "out of memory");
    return 0;
}

/* Contract in devspec.h. */
int vk_serial_parse(const char *spec, enum vk_serial_kind *kind, char **opts)
{
    return serial_parse(spec, kind, opts, 1);
}

/* Contract in devspec.h. */
int vk_serial_check(const char *spec)
{
    enum vk_serial_kind k;
    char *o;
    int err = serial_parse(spec, &k, &o, 0);
    free(o);
    return err;
}

/* key=value,... specs: calls fn for each pair (keys and values trimmed). */
static int each_pair(const char *what, const char *spec,
                     int (*fn)(void *ctx, const char *k, const char *v), void *ctx)
{
    char buf[1024];
    if (strlen(spec) >= sizeof buf)
        return vk_error(-EINVAL, "%s '%.100s...': too long", what, spec);
    strcpy(buf, spec);
    for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        while (isspace((unsigned char)*t))
            t++;
        char *eq = strchr(t, '=');
        if (!eq) {
            if (!*t)
                continue;
            return vk_error(-EINVAL, "%s '%s': expected key=value, got '%s'", what, spec, t);
        }
        *eq = 0;
        char *v = eq + 1, *e = eq;
        while (e > t && isspace((unsigned char)e[-1]))
            *--e = 0;
        while (isspace((unsigned char)*v))
            v++;
        for (e = v + strlen(v); e > v && isspace((unsigned char)e[-1]);)
            *--e = 0;
        int err = fn(ctx, t, v);
        if (err == -EINVAL)
            return vk_error(-EINVAL, "%s '%s': %s", what, spec, vk_errmsg());
        if (err)
            return err;
    }
    return 0;
}

static int set(char **dst, const char *v)
{
    free(*dst);
    return (*dst = strdup(v)) ? 0 : vk_error(-ENOMEM, "out of memory");
}

static int dom0_backend(const char *k, const char *v)
{
    if (!strcmp(v, "0") || !strcmp(v, "dom0") || !strcmp(v, "Domain-0"))
        return 0;
    return vk_error(-EINVAL, "%s=%s: backend domains exist only under Xen; vmkit's backend "
                    "is QEMU on this host", k, v);
}

static int p9_pair(void *ctx, const char *k, const char *v)
{
    struct vk_p9 *p = ctx;
    if (!strcmp(k, "tag")) {
        if (!*v || strlen(v) > 31)
            return vk_error(-EINVAL, "tag must be 1..31 bytes (virtio-9p's mount tag)");
        return set(&p->tag, v);
    }
    if (!strcmp(k, "path")) {
        if (v[0] != '/')
            return vk_error(-EINVAL, "path '%s' is not absolute", v);
        return set(&p->path, v);
    }
    if (!strcmp(k, "security_model")) {
        const char *m = !strcmp(v, "mapped") ? "mapped-xattr" : v;
        if (!strcmp(m, "passthrough") && geteuid() != 0)
            return vk_error(-EINVAL, "security_model=passthrough gives files the guest's owners, "
                            "which needs root (use none or mapped-xattr)");
        if (strcmp(m, "none") && strcmp(m, "mapped-xattr") && strcmp(m, "mapped-file") &&
            strcmp(m, "passthrough"))
            return vk_error(-EINVAL, "security_model '%s' is not none, mapped-xattr or mapped-file", v);
        return set(&p->model, m);
    }
    if (!strcmp(k, "backend"))
        return dom0_backend(k, v);
    return vk_error(-EINVAL, "unknown key '%s' (tag, path, security_model)", k);
}

/* Contract in devspec.h. */
int vk_p9_parse(const char *spec, struct vk_p9 *p)
{
    memset(p, 0, sizeof *p);
    int err = each_pair("p9", spec, p9_pair, p);
    if (!err && (!p->tag || !p->path || !p->model))
        err = vk_error(-EINVAL, "p9 '%s': tag=, path= and security_model= are all required "
                       "(as in xl)", spec);
    if (err)
        vk_p9_free(p);
    return err;
}

int vk_p9_check(const char *spec)
{
    struct vk_p9 p;
    int err = vk_p9_parse(spec, &p);
    vk_p9_free(&p);
    return err;
}

void vk_p9_free(struct vk_p9 *p)
{
    free(p->tag);
    free(p->path);
    free(p->model);
    memset(p, 0, sizeof *p);
}

struct chan_ctx { struct vk_channel *ch; int conn; };   /* conn: 0 unset, 1 socket, 2 pty */

static int chan_pair(void *ctx, const char *k, const char *v)
{
    struct chan_ctx *c = ctx;
    if (!strcmp(k, "name")) {
        for (const char *q = v; *q; q++)
            if (!isalnum((unsigned char)*q) && !strchr("._-", *q))
                return vk_error(-EINVAL, "name '%s': letters, digits, . _ - only", v);
        return *v ? set(&c->ch->name, v) : vk_error(-EINVAL, "empty name");
    }
    if (!strcmp(k, "path"))
        return set(&c->ch->path, v);
    if (!strcmp(k, "connection")) {
        if (!strcmp(v, "socket")) c->conn = 1;
        else if (!strcmp(v, "pty")) c->conn = 2;
        else return vk_error(-EINVAL, "unknown connection '%s' (socket, pty)", v);
        return 0;
    }
    if (!strcmp(k, "backend"))
        return dom0_backend(k, v);
    return vk_error(-EINVAL, "unknown key '%s' (name, connection, path)", k);
}

/* Contract in devspec.h. */
int vk_channel_parse(const char *spec, struct vk_channel *ch)
{
    memset(ch, 0, sizeof *ch);
    struct chan_ctx c = { ch, 0 };
    int err = each_pair("channel", spec, chan_pair, &c);
    if (!err && !ch->name)
        err = vk_error(-EINVAL, "channel '%s': name= is required", spec);
    else if (!err && !c.conn)
        err = vk_error(-EINVAL, "channel '%s': connection= is required (socket or pty)", spec);
    else if (!err && c.conn == 1 && (!ch->path || ch->path[0] != '/'))
        err = vk_error(-EINVAL, "channel '%s': connection=socket needs an absolute path=", spec);
    if (!err && c.conn == 2) {
        free(ch->path);
        ch->path = NULL;
    }
    if (err)
        vk_channel_free(ch);
    return err;
}

int vk_channel_check(const char *spec)
{
    struct vk_channel ch;
    int err = vk_channel_parse(spec, &ch);
    vk_channel_free(&ch);
    return err;
}

void vk_channel_free(struct vk_channel *ch)
{
    free(ch->name);
    free(ch->path);
    memset(ch, 0, sizeof *ch);
}

/* Contract in devspec.h. */
const char *vk_usbdevice_qemu(const char *spec)
{
    if (!strcmp(spec, "tablet")) return "usb-tablet";
    if (!strcmp(spec, "mouse")) return "usb-mouse";
    if (!strcmp(spec, "keyboard")) return "usb-kbd";
    if (!strcmp(spec, "wacom-tablet")) return "usb-wacom-tablet";
    if (!strncmp(spec, "host:", 5))
        vk_error(-EINVAL, "usbdevice '%s': host USB devices need root; not supported", spec);
    else
        vk_error(-EINVAL, "usbdevice '%s': not supported (tablet, mouse, keyboard, wacom-tablet)", spec);
    return NULL;
}

int vk_usbdevice_check(const char *spec)
{
    return vk_usbdevice_qemu(spec) ? 0 : -EINVAL;
}

static int vfb_pair(void *ctx, const char *k, const char *v)
{
    struct vk_vfb *f = ctx;
    char *ep;
    long l = strtol(v, &ep, 10);
    int isnum = *v && !*ep;
    if (!strcmp(k, "type")) {
        if (!strcmp(v, "vnc"))
            return 0;
        return vk_error(-EINVAL, "type=%s: only vnc (vmkit runs QEMU detached from any X display)", v);
    }
    if (!strcmp(k, "vnc") || !strcmp(k, "vncunused") || !strcmp(k, "sdl") || !strcmp(k, "opengl") ||
        !strcmp(k, "vncdisplay")) {
        if (!isnum)
            return vk_error(-EINVAL, "%s=%s: not a number", k, v);
        if (!strcmp(k, "vnc")) f->vnc = l != 0;
        else if (!strcmp(k, "vncunused")) f->vncunused = l != 0;
        else if (!strcmp(k, "vncdisplay")) {
            if (l < 0 || l > 59535)
                return vk_error(-EINVAL, "vncdisplay=%s: out of range", v);
            f->vncdisplay = l;
        } else if (l)
            return vk_error(-EINVAL, "%s=%s: vmkit runs QEMU detached from any X display (use vnc)", k, v);
        return 0;
    }
    if (!strcmp(k, "vnclisten")) return set(&f->vnclisten, v);
    if (!strcmp(k, "vncpasswd")) return set(&f->vncpasswd, v);
    if (!strcmp(k, "keymap")) return set(&f->keymap, v);
    if (!strcmp(k, "display") || !strcmp(k, "xauthority"))
        return 0;                          /* SDL's, which is off */
    return vk_error(-EINVAL, "unknown key '%s'", k);
}

/* Contract in devspec.h. */
int vk_vfb_parse(const char *spec, struct vk_vfb *f)
{
    memset(f, 0, sizeof *f);
    f->vnc = 1;
    f->vncdisplay = VK_UNSET;
    f->vncunused = -1;
    int err = each_pair("vfb", spec, vfb_pair, f);
    if (err)
        vk_vfb_free(f);
    return err;
}

int vk_vfb_check(const char *spec)
{
    struct vk_vfb f;
    int err = vk_vfb_parse(spec, &f);
    vk_vfb_free(&f);
    return err;
}

void vk_vfb_free(struct vk_vfb *f)
{
    free(f->vnclisten);
    free(f->vncpasswd);
    free(f->keymap);
    memset(f, 0, sizeof *f);
}

/* Xen's viridian groups and the QEMU Hyper-V flags that give the guest
 * the same enlightenments (QEMU has no separate switch for the last three:
 * sparse VP sets come with hv-tlbflush/hv-ipi, and it sets no VP limit). */
static const struct { const char *group; unsigned bits; } vgroups[] = {
    { "base", 1 | 2 | 4 },            /* hv-relaxed, hv-vapic, hv-vpindex */
    { "freq", 8 },
    { "time_ref_count", 16 },
    { "reference_tsc", 16 },
    { "hcall_remote_tlb_flush", 32 },
    { "apic_assist", 2 },
    { "crash_ctl", 64 },
    { "stimer", 4 | 16 | 128 | 256 },  /* synic and stimer need vpindex, time */
    { "hcall_ipi", 512 },
    { "ex_processor_masks", 0 },
    { "no_vp_limit", 0 },
    { "cpu_hotplug", 0 },
};
static const char *const vflags[] = { "hv-relaxed", "hv-vapic", "hv-vpindex", "hv-frequencies",
                                      "hv-time", "hv-tlbflush", "hv-crash", "hv-synic",
                                      "hv-stimer", "hv-ipi" };

static int vgroup_bits(const char *g, unsigned *bits)
{
    if (!strcmp(g, "all")) {
        *bits = 1023;
        return 0;
    }
    if (!strcmp(g, "defaults")) {
        static const char *const d[] = { "base", "freq", "time_ref_count", "apic_assist",
                                         "crash_ctl", "stimer", "no_vp_limit", "cpu_hotplug" };
        *bits = 0;
        for (size_t i = 0; i < sizeof d / sizeof d[0]; i++) {
            unsigned b;
            vgroup_bits(d[i], &b);
            *bits |= b;
        }
        return 0;
    }
    for (size_t i = 0; i < sizeof vgroups / sizeof vgroups[0]; i++)
        if (!strcmp(vgroups[i].group, g)) {
            *bits = vgroups[i].bits;
            return 0;
        }
    return -1;
}

int vk_viridian_check(const char *group)
{
    unsigned b;
    const char *g = group[0] == '!' ? group + 1 : group;
    if (vgroup_bits(g, &b) || (group[0] == '!' && (!strcmp(g, "all") || !strcmp(g, "defaults"))))
        return vk_error(-EINVAL, "viridian: unknown enlightenment group '%s'", group);
    return 0;
}

/* Contract in devspec.h. */
int vk_viridian_flags(const struct vk_strv *groups, char *buf, size_t len)
{
    unsigned on = 0, b;
    for (unsigned i = 0; i < groups->n; i++) {
        const char *g = groups->v[i];
        int neg = g[0] == '!';
        if (vk_viridian_check(g))
            return -EINVAL;
        vgroup_bits(g + neg, &b);
        if (neg)
            on &= ~b;    /* later groups win, as xl applies them in order */
        else
            on |= b;
    }
    size_t o = 0;
    buf[0] = 0;
    for (unsigned i = 0; i < sizeof vflags / sizeof vflags[0]; i++)
        if (on & (1u << i)) {
            int n = snprintf(buf + o, len - o, "%s%s", o ? "," : "", vflags[i]);
            if (n < 0 || (size_t)n >= len - o)
                return vk_error(-ENAMETOOLONG, "viridian flags too long");
            o += (size_t)n;
        }
    return 0;
}

static const struct { const char *name, *dev; } cards[] = {
    { "hda", "intel-hda" }, { "ac97", "AC97" }, { "es1370", "ES1370" }, { "sb16", "sb16" },
    { "adlib", "adlib" }, { "cs4231a", "cs4231a" }, { "gus", "gus" },
};

/* Contract in devspec.h. */
int vk_soundhw_devices(const char *spec, const char **devs, int max)
{
    int n = 0;
    size_t nc = sizeof cards / sizeof cards[0];
    if (!strcmp(spec, "all")) {
        for (size_t i = 0; i < nc && n < max; i++)
            devs[n++] = cards[i].dev;
        return n;
    }
    for (const char *p = spec; *p;) {
        size_t l = strcspn(p, ",");
        size_t i;
        for (i = 0; i < nc; i++)
            if (strlen(cards[i].name) == l && !strncmp(cards[i].name, p, l))
                break;
        if (i == nc)
            return vk_error(-EINVAL, "soundhw '%s': unknown card '%.*s' (hda, ac97, es1370, "
                            "sb16, adlib, cs4231a, gus)", spec, (int)l, p);
        if (n < max)
            devs[n++] = cards[i].dev;
        p += l;
        if (*p == ',')
            p++;
    }
    return n ? n : vk_error(-EINVAL, "soundhw '%s': no card named", spec);
}

int vk_soundhw_check(const char *spec)
{
    const char *d[16];
    int n = vk_soundhw_devices(spec, d, 16);
    return n < 0 ? n : 0;
}
