/* libvirt domain XML -> xl.cfg (vmkit define --xml).
 *
 * libxml2 parses (no network, no DTD, so no entity is ever expanded); each
 * element is then read by a handler that names the attributes and child
 * elements it understands (only()): anything else is refused with its
 * XPath, so nothing a document says is dropped without a word.  Values go
 * into the config through vk_domcfg_set, the path of `xl create X.cfg
 * key=value`, so the xl.cfg checks (vdev names, MAC syntax, actions,
 * ranges) judge them too.  Device handlers are in libvirt_xml_dev.c. */
#include "vm/libvirt_xml_int.h"
#include "util/err.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/xmlso.h"

/* Contract in libvirt_xml_int.h. */
int lx_refuse(struct lx *r, xmlNodePtr n, const char *why)
{
    xmlChar *path = xmlGetNodePath(n);
    char val[80] = "";
    if (n->type == XML_ATTRIBUTE_NODE) {
        xmlChar *v = xmlNodeGetContent(n);
        snprintf(val, sizeof val, "='%.60s'", v ? (const char *)v : "");
        xmlFree(v);
    }
    int err = vk_error(-EINVAL, "%s: %s%s: not supported: %s", r->fname,
                       path ? (const char *)path : (const char *)n->name, val,
                       why ? why : "vmkit cannot express it");
    xmlFree(path);
    return err;
}

/* 1 when name is in the blank-separated list, 2 when it is there with a
 * '*' after it (may repeat), 0 when not. */
static int in_list(const char *list, const xmlChar *name)
{
    size_t l = strlen((const char *)name);
    for (const char *p = list; p && *p;) {
        size_t k = strcspn(p, " ");
        size_t w = k && p[k - 1] == '*' ? k - 1 : k;
        if (w == l && !strncmp(p, (const char *)name, l))
            return w < k ? 2 : 1;
        p += k + (p[k] == ' ');
    }
    return 0;
}

static int seen_before(xmlNodePtr k)
{
    for (xmlNodePtr p = k->prev; p; p = p->prev)
        if (p->type == XML_ELEMENT_NODE && !p->ns && xmlStrEqual(p->name, k->name))
            return 1;
    return 0;
}

/* Contract in libvirt_xml_int.h. */
int lx_only(struct lx *r, xmlNodePtr n, const char *attrs, const char *kids)
{
    for (xmlAttrPtr a = n->properties; a; a = a->next)
        if (a->ns || !in_list(attrs, a->name))
            return lx_refuse(r, (xmlNodePtr)a, NULL);
    for (xmlNodePtr k = n->children; k; k = k->next) {
        if (k->type != XML_ELEMENT_NODE)
            continue;
        int m = k->ns ? 0 : in_list(kids, k->name);
        if (!m)
            return lx_refuse(r, k, NULL);
        if (m == 1 && seen_before(k))
            return lx_refuse(r, k, "given twice");
        if (!strcmp((const char *)k->name, "address") && !r->warned_address) {
            vk_warn("%s: device <address> elements ignored: QEMU assigns the slots", r->fname);
            r->warned_address = 1;
        }
    }
    return 0;
}

/* Contract in libvirt_xml_int.h. */
int lx_is(xmlNodePtr n, const char *name)
{
    return n->type == XML_ELEMENT_NODE && !n->ns && !strcmp((const char *)n->name, name);
}

/* Contract in libvirt_xml_int.h. */
char *lx_attr(xmlNodePtr n, const char *name)
{
    return (char *)xmlGetNoNsProp(n, BAD_CAST name);
}

/* Contract in libvirt_xml_int.h. */
char *lx_text(xmlNodePtr n)
{
    char *t = (char *)xmlNodeGetContent(n);
    if (!t)
        return NULL;
    /* libvirt trims nothing, but its own output never pads: allow the
     * blanks a hand edit leaves around a value */
    char *s = t + strspn(t, " \t\r\n");
    size_t l = strlen(s);
    while (l && strchr(" \t\r\n", s[l - 1]))
        l--;
    memmove(t, s, l);
    t[l] = 0;
    return t;
}

/* Contract in libvirt_xml_int.h. */
int lx_set(struct lx *r, xmlNodePtr where, const char *fmt, ...)
{
    char *a = NULL;
    va_list ap;
    va_start(ap, fmt);
    int n = vasprintf(&a, fmt, ap);
    va_end(ap);
    if (n < 0)
        return vk_error(-ENOMEM, "out of memory");
    int err = vk_domcfg_set(r->c, a);
    free(a);
    if (err) {
        xmlChar *path = xmlGetNodePath(where);
        err = vk_error_prefix(err, "%s: %s: ", r->fname, path ? (const char *)path : "?");
        xmlFree(path);
    }
    return err;
}

/* Contract in libvirt_xml_int.h. */
int lx_set_str(struct lx *r, xmlNodePtr where, const char *key, const char *val)
{
    struct vk_strbuf b = { 0 };
    vk_strbuf_printf(&b, "%s=", key);
    vk_strbuf_xl_quoted(&b, val);
    int err = b.oom ? vk_error(-ENOMEM, "out of memory") : lx_set(r, where, "%s", b.p);
    free(b.p);
    return err;
}

/* Contract in libvirt_xml_int.h. */
int lx_num(struct lx *r, xmlNodePtr n, const char *s, long min, long max, long *out)
{
    char *end;
    errno = 0;
    long v = s ? strtol(s, &end, 10) : 0;
    if (!s || !*s || *end || errno || v < min || v > max) {
        xmlChar *path = xmlGetNodePath(n);
        int err = vk_error(-EINVAL, "%s: %s: '%.40s' is not a number in %ld..%ld", r->fname,
                           path ? (const char *)path : "?", s ? s : "", min, max);
        xmlFree(path);
        return err;
    }
    *out = v;
    return 0;
}

/* A memory size element (<memory unit='KiB'>N</memory>) in MiB. */
static int mem_mib(struct lx *r, xmlNodePtr n, long *mib)
{
    static const struct { const char *u; long long mul; } units[] = {
        { "b", 1 }, { "bytes", 1 }, { "KB", 1000 }, { "k", 1024 }, { "KiB", 1024 },
        { "MB", 1000000 }, { "M", 1 << 20 }, { "MiB", 1 << 20 }, { "GB", 1000000000 },
        { "G", 1LL << 30 }, { "GiB", 1LL << 30 }, { "T", 1LL << 40 }, { "TiB", 1LL << 40 },
        { "TB", 1000000000000LL },
    };
    int err = lx_only(r, n, "unit slots", NULL);
    char *u = lx_attr(n, "unit"), *t = lx_text(n);
    long long mul = 0;
    long v = 0;
    for (size_t i = 0; i < sizeof units / sizeof units[0] && !err; i++)
        if (!strcmp(u ? u : "KiB", units[i].u))
            mul = units[i].mul;
    if (!err && !mul)
        err = lx_refuse(r, (xmlNodePtr)xmlHasProp(n, BAD_CAST "unit"), "unknown unit");
    if (!err)
        err = lx_num(r, n, t, 0, 1L << 50, &v);
    if (!err && (long long)v > (long long)VK_CFG_MAX_MEM * (1 << 20) / mul)
        err = lx_refuse(r, n, "more memory than vmkit gives a VM (16 TiB)");
    if (!err && ((long long)v * mul) % (1 << 20))
        err = lx_refuse(r, n, "vmkit sizes memory in whole MiB");
    if (!err)
        *mib = (long)((long long)v * mul / (1 << 20));
    xmlFree(u);
    xmlFree(t);
    return err;
}

static int rd_metadata(struct lx *r, xmlNodePtr md)
{
    for (xmlNodePtr k = md->children; k; k = k->next) {
        if (k->type != XML_ELEMENT_NODE)
            continue;
        if (!k->ns || !k->ns->href || strcmp((const char *)k->ns->href, VK_XML_NS) ||
            strcmp((const char *)k->name, "xl")) {
            vk_warn("%s: <metadata> of other applications ignored (%s)", r->fname,
                    k->ns && k->ns->href ? (const char *)k->ns->href : (const char *)k->name);
            continue;
        }
        int err = lx_only(r, k, "type accel vncunused boot", NULL);
        char *t = lx_attr(k, "type"), *a = lx_attr(k, "accel"), *v = lx_attr(k, "vncunused");
        char *b = lx_attr(k, "boot");
        if (!err && b && strcmp(b, "default"))
            err = lx_refuse(r, (xmlNodePtr)xmlHasProp(k, BAD_CAST "boot"), "only 'default'");
        r->boot_default |= b != NULL;
        xmlFree(b);
        if (!err && t)
            err = lx_set_str(r, k, "type", t);
        if (!err && a && strcmp(a, "auto"))
            err = lx_refuse(r, (xmlNodePtr)xmlHasProp(k, BAD_CAST "accel"), "only 'auto'");
        r->accel_auto |= a != NULL;
        if (!err && v) {
            err = lx_set(r, k, "vncunused=%d", strcmp(v, "0") != 0);
            r->vncunused_set = 1;
        }
        xmlFree(t);
        xmlFree(a);
        xmlFree(v);
        if (err)
            return err;
    }
    return 0;
}

static int rd_vcpu(struct lx *r, xmlNodePtr n)
{
    int err = lx_only(r, n, "placement current", NULL);
    char *p = lx_attr(n, "placement"), *cur = lx_attr(n, "current"), *t = lx_text(n);
    long max = 0, c = 0;
    if (!err && p && strcmp(p, "static"))
        err = lx_refuse(r, (xmlNodePtr)xmlHasProp(n, BAD_CAST "placement"),
                        "vCPU threads are not placed by NUMA advice");
    if (!err)
        err = lx_num(r, n, t, 1, VK_CFG_MAX_VCPUS, &max);
    if (!err && cur)
        err = lx_num(r, n, cur, 1, max, &c);
    if (!err)
        err = lx_set(r, n, "vcpus=%ld", cur ? c : max);
    if (!err && cur && c != max)
        err = lx_set(r, n, "maxvcpus=%ld", max);
    xmlFree(p);
    xmlFree(cur);
    xmlFree(t);
    return err;
}

static int rd_os(struct lx *r, xmlNodePtr os)
{
    int err = lx_only(r, os, "firmware", "type loader kernel initrd cmdline boot*");
    char *fw = lx_attr(os, "firmware");
    if (!err && fw)
        err = lx_set_str(r, os, "firmware", !strcmp(fw, "efi") ? "uefi" : fw);
    xmlFree(fw);
    char boot[8] = "";
    for (xmlNodePtr k = os->children; k && !err; k = k->next) {
        if (k->type != XML_ELEMENT_NODE)
            continue;
        char *t = lx_text(k);
        if (lx_is(k, "type")) {
            char *arch = lx_attr(k, "arch"), *m = lx_attr(k, "machine");
            err = lx_only(r, k, "arch machine", NULL);
            if (!err && strcmp(t ? t : "", "hvm"))
                err = lx_refuse(r, k, "vmkit runs full (hvm) QEMU guests");
            if (!err && arch && strcmp(arch, "x86_64") && strcmp(arch, "i686"))
                err = lx_refuse(r, (xmlNodePtr)xmlHasProp(k, BAD_CAST "arch"),
                                "vmkit runs qemu-system-x86_64");
            if (!err && m && strcmp(m, "pc"))
                err = lx_set_str(r, k, "machine", m);
            xmlFree(arch);
            xmlFree(m);
        } else if (lx_is(k, "loader")) {
            char *ty = lx_attr(k, "type");
            err = lx_only(r, k, "type", NULL);
            if (!err && (!ty || strcmp(ty, "rom")))
                err = lx_refuse(r, k, "only a ROM image (-bios) is loaded; use firmware='efi' "
                                "for UEFI");
            if (!err)
                err = lx_set_str(r, k, "bios_path_override", t ? t : "");
            xmlFree(ty);
        } else if (lx_is(k, "boot")) {
            char *d = lx_attr(k, "dev");
            const char *l = !d ? NULL : !strcmp(d, "hd") ? "c" : !strcmp(d, "cdrom") ? "d"
                          : !strcmp(d, "network") ? "n" : !strcmp(d, "fd") ? "a" : NULL;
            err = lx_only(r, k, "dev", NULL);
            if (!err && !l)
                err = lx_refuse(r, k, "boot dev is hd, cdrom, network or fd");
            if (!err && strlen(boot) < sizeof boot - 1)
                strcat(boot, l);
            xmlFree(d);
        } else {
            const char *key = lx_is(k, "kernel") ? "kernel" : lx_is(k, "initrd") ? "ramdisk"
                                                                                 : "cmdline";
            err = lx_only(r, k, NULL, NULL);
            if (!err)
                err = lx_set_str(r, k, key, t ? t : "");
        }
        xmlFree(t);
    }
    /* the order xl assumes without a boot key, as the writer spelt it out
     * (HVM: disk then CD), and the hd libvirt adds beside a kernel, are
     * no boot key */
    int kernel = 0;
    for (xmlNodePtr k = os->children; k; k = k->next)
        kernel |= lx_is(k, "kernel");
    if (!err && *boot && !(kernel && !strcmp(boot, "c")) &&
        !(r->boot_default && !strcmp(boot, "cd")))
        err = lx_set_str(r, os, "boot", boot);
    return err;
}

static int rd_features(struct lx *r, xmlNodePtr f)
{
    int err = f ? lx_only(r, f, NULL, "acpi apic pae") : 0;
    int seen[2] = { 0, 0 };
    for (xmlNodePtr k = f ? f->children : NULL; k && !err; k = k->next) {
        if (k->type != XML_ELEMENT_NODE)
            continue;
        err = lx_only(r, k, NULL, NULL);
        seen[0] |= lx_is(k, "acpi");
        seen[1] |= lx_is(k, "apic");
    }
    /* libvirt: a feature not listed is off */
    if (!err && !seen[0])
        err = lx_set(r, f ? f : r->root, "acpi=0");
    if (!err && !seen[1])
        err = lx_set(r, f ? f : r->root, "apic=0");
    return err;
}

static int rd_clock(struct lx *r, xmlNodePtr n)
{
    int err = lx_only(r, n, "offset adjustment basis", "timer*");
    char *o = lx_attr(n, "offset"), *adj = lx_attr(n, "adjustment"), *b = lx_attr(n, "basis");
    long v = 0;
    if (!err && o && !strcmp(o, "localtime"))
        err = lx_set(r, n, "localtime=1");
    else if (!err && o && !strcmp(o, "variable")) {
        err = lx_num(r, n, adj ? adj : "0", -(1L << 40), 1L << 40, &v);
        if (!err)
            err = lx_set(r, n, "rtc_timeoffset=\"%ld\"", v);
        if (!err && b && !strcmp(b, "localtime"))
            err = lx_set(r, n, "localtime=1");
        else if (!err && b && strcmp(b, "utc"))
            err = lx_refuse(r, (xmlNodePtr)xmlHasProp(n, BAD_CAST "basis"), NULL);
    } else if (!err && o && strcmp(o, "utc"))
        err = lx_refuse(r, (xmlNodePtr)xmlHasProp(n, BAD_CAST "offset"), NULL);
    if (!err && o && strcmp(o, "variable") && (adj || b))
        err = lx_refuse(r, (xmlNodePtr)xmlHasProp(n, BAD_CAST (adj ? "adjustment" : "basis")),
                        "only with offset='variable'");
    for (xmlNodePtr t = n->children; t && !err; t = t->next) {
        if (t->type != XML_ELEMENT_NODE)
            continue;
        char *name = lx_attr(t, "name"), *p = lx_attr(t, "present");
        err = lx_only(r, t, "name present", NULL);
        if (!err && (!name || strcmp(name, "hpet") || !p))
            err = lx_refuse(r, t, "only <timer name='hpet' present='yes|no'/>");
        if (!err)
            err = lx_set(r, t, "hpet=%d", !strcmp(p, "yes"));
        xmlFree(name);
        xmlFree(p);
    }
    xmlFree(o);
    xmlFree(adj);
    xmlFree(b);
    return err;
}

/* <cpu><numa><cell id='0' cpus=.. memory=../></numa></cpu>: one node (no
 * NUMA), which libvirt needs before it plugs memory. */
static int rd_cpu(struct lx *r, xmlNodePtr n)
{
    int err = lx_only(r, n, NULL, "numa"), cells = 0;
    for (xmlNodePtr k = n->children; k && !err; k = k->next) {
        if (k->type != XML_ELEMENT_NODE)
            continue;
        err = lx_only(r, k, NULL, "cell*");
        for (xmlNodePtr c = k->children; c && !err; c = c->next)
            if (c->type == XML_ELEMENT_NODE) {
                err = lx_only(r, c, "id cpus memory unit", NULL);
                if (!err && ++cells > 1)
                    err = lx_refuse(r, c, "guest NUMA nodes are not built (one cell only)");
            }
    }
    return err;
}

static int rd_pm(struct lx *r, xmlNodePtr n)
{
    int err = lx_only(r, n, NULL, "suspend-to-mem suspend-to-disk");
    for (xmlNodePtr k = n->children; k && !err; k = k->next) {
        if (k->type != XML_ELEMENT_NODE)
            continue;
        char *e = lx_attr(k, "enabled");
        err = lx_only(r, k, "enabled", NULL);
        if (!err)
            err = lx_set(r, k, "%s=%d", lx_is(k, "suspend-to-mem") ? "acpi_s3" : "acpi_s4",
                         e && !strcmp(e, "yes"));
        xmlFree(e);
    }
    return err;
}

static int rd_resource(struct lx *r, xmlNodePtr n)
{
    int err = lx_only(r, n, NULL, "partition");
    for (xmlNodePtr k = n->children; k && !err; k = k->next) {
        if (k->type != XML_ELEMENT_NODE)
            continue;
        char *t = lx_text(k);
        err = lx_only(r, k, NULL, NULL);
        if (!err && strcmp(t ? t : "", "/machine"))
            err = lx_refuse(r, k, "vmkit puts QEMU in no cgroup partition");
        xmlFree(t);
    }
    return err;
}

static int rd_domain(struct lx *r, xmlNodePtr d)
{
    int err = lx_only(r, d, "type id", "name uuid metadata memory currentMemory maxMemory vcpu "
                      "os features cpu clock on_poweroff on_reboot on_crash pm resource devices");
    if (err)
        return err;
    xmlNodePtr feat = NULL;
    long mem = VK_UNSET, cur = VK_UNSET, max = VK_UNSET;
    for (xmlNodePtr k = d->children; k; k = k->next)   /* vmkit's keys first */
        if (lx_is(k, "metadata") && (err = rd_metadata(r, k)))
            return err;
    char *type = lx_attr(d, "type");
    if (!type || (strcmp(type, "kvm") && strcmp(type, "qemu")))
        err = type ? lx_refuse(r, (xmlNodePtr)xmlHasProp(d, BAD_CAST "type"),
                               "vmkit runs QEMU: type='kvm' or 'qemu'")
                   : vk_error(-EINVAL, "%s: /domain: no type= (kvm or qemu)", r->fname);
    else if (!r->accel_auto)
        err = lx_set(r, d, "accel=%s", strcmp(type, "kvm") ? "tcg" : "kvm");
    xmlFree(type);
    for (xmlNodePtr k = d->children; k && !err; k = k->next) {
        if (k->type != XML_ELEMENT_NODE || lx_is(k, "metadata"))
            continue;
        const char *n = (const char *)k->name;
        if (lx_is(k, "name") || lx_is(k, "uuid") || !strncmp(n, "on_", 3)) {
            char *t = lx_text(k);
            err = lx_only(r, k, NULL, NULL);
            if (!err)
                err = lx_set_str(r, k, n, t ? t : "");
            xmlFree(t);
        } else if (lx_is(k, "memory")) {
            err = mem_mib(r, k, &mem);
        } else if (lx_is(k, "currentMemory")) {
            err = mem_mib(r, k, &cur);
        } else if (lx_is(k, "maxMemory")) {
            err = mem_mib(r, k, &max);
        } else if (lx_is(k, "vcpu")) {
            err = rd_vcpu(r, k);
        } else if (lx_is(k, "os")) {
            err = rd_os(r, k);
        } else if (lx_is(k, "features")) {
            feat = k;
        } else if (lx_is(k, "cpu")) {
            err = rd_cpu(r, k);
        } else if (lx_is(k, "clock")) {
            err = rd_clock(r, k);
        } else if (lx_is(k, "pm")) {
            err = rd_pm(r, k);
        } else if (lx_is(k, "resource")) {
            err = rd_resource(r, k);
        } else if (lx_is(k, "devices")) {
            err = lx_read_devices(r, k);
        }
    }
    if (!err)
        err = rd_features(r, feat);
    if (!err && mem == VK_UNSET)
        err = vk_error(-EINVAL, "%s: /domain: no <memory>", r->fname);
    if (!err && cur != VK_UNSET && cur != mem && max == VK_UNSET)
        vk_warn("%s: /domain/currentMemory (%ld MiB) ignored: the guest starts with <memory> "
                "(%ld MiB)", r->fname, cur, mem);
    if (!err)
        err = lx_set(r, d, "memory=%ld", max != VK_UNSET && cur != VK_UNSET ? cur : mem);
    if (!err && max != VK_UNSET)
        err = lx_set(r, d, "maxmem=%ld", max);
    return err;
}

/* Contract in libvirt_xml.h. */
int vk_libvirt_xml_read(const char *xml, size_t len, const char *fname, struct vk_domcfg *out)
{
    vk_domcfg_init(out);
    const char *fn = fname ? fname : "<xml>";
    if (len > VK_CFG_MAX_BYTES)
        return vk_error(-EFBIG, "%s: larger than %u bytes", fn, VK_CFG_MAX_BYTES);
    int lr = vk_xml_load();
    if (lr < 0)
        return lr;
    xmlParserCtxtPtr ctx = xmlNewParserCtxt();
    if (!ctx)
        return vk_error(-ENOMEM, "out of memory");
    xmlDocPtr doc = xmlCtxtReadMemory(ctx, xml, (int)len, fn, NULL,
                                      XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    int err = 0;
    if (!doc) {
        const xmlError *e = xmlCtxtGetLastError(ctx);
        char msg[200] = "not well-formed";
        if (e && e->message) {
            snprintf(msg, sizeof msg, "%s", e->message);
            msg[strcspn(msg, "\n")] = 0;
        }
        err = vk_error(-EINVAL, "%s:%d: not a libvirt domain XML: %s", fn, e ? e->line : 0, msg);
        xmlFreeParserCtxt(ctx);
        return err;
    }
    xmlFreeParserCtxt(ctx);
    xmlNodePtr root = xmlDocGetRootElement(doc);
    if (doc->intSubset || doc->extSubset)
        err = vk_error(-EINVAL, "%s: a <!DOCTYPE> is not accepted in a domain XML (libvirt "
                       "writes none)", fn);
    else if (!root || !lx_is(root, "domain"))
        err = vk_error(-EINVAL, "%s: not a libvirt domain XML: the root element is <%s>, not "
                       "<domain>", fn, root ? (const char *)root->name : "?");
    if (!err) {
        struct lx r = { .fname = fn, .c = out, .root = root };
        err = rd_domain(&r, root);
        if (!err && fname && !(out->source = strdup(fname)))
            err = vk_error(-ENOMEM, "out of memory");
    }
    xmlFreeDoc(doc);
    if (err)
        vk_domcfg_free(out);
    return err;
}
