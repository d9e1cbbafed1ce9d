/* OVF descriptor reader and writer (see ova.h).
 *
 * The reader matches elements by namespace and local name: OVF 1.0 and
 * 2.0 envelopes (ovftool, VirtualBox) use different prefixes, and a
 * document may bind them as it likes.  RASD/EPASD item properties are
 * read by local name within an Item. */
#include "vm/ova.h"
#include "util/err.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/xmlso.h"

#define NS_OVF1 "http://schemas.dmtf.org/ovf/envelope/1"
#define NS_OVF2 "http://schemas.dmtf.org/ovf/envelope/2"
#define VMDK_FMT "http://www.vmware.com/interfaces/specifications/vmdk.html"

/* Contract in ova.h. */
void vk_ovf_free(struct vk_ovf *o)
{
    free(o->name);
    for (unsigned i = 0; i < o->n_files; i++) {
        free(o->files[i].id);
        free(o->files[i].href);
    }
    for (unsigned i = 0; i < o->n_disks; i++) {
        free(o->disks[i].id);
        free(o->disks[i].file);
    }
    free(o->files);
    free(o->disks);
    memset(o, 0, sizeof *o);
}

static int is_ovf(xmlNodePtr n, const char *local)
{
    return n->type == XML_ELEMENT_NODE && n->ns && n->ns->href &&
           (xmlStrEqual(n->ns->href, BAD_CAST NS_OVF1) || xmlStrEqual(n->ns->href, BAD_CAST NS_OVF2)) &&
           xmlStrEqual(n->name, BAD_CAST local);
}

static xmlNodePtr child(xmlNodePtr n, const char *local)
{
    for (xmlNodePtr k = n->children; k; k = k->next)
        if (is_ovf(k, local))
            return k;
    return NULL;
}

/* An ovf:NAME attribute (either envelope version), malloc'd or NULL. */
static char *ovf_attr(xmlNodePtr n, const char *name)
{
    xmlChar *v = xmlGetNsProp(n, BAD_CAST name, BAD_CAST NS_OVF1);
    if (!v)
        v = xmlGetNsProp(n, BAD_CAST name, BAD_CAST NS_OVF2);
    if (!v)
        return NULL;
    char *s = strdup((const char *)v);
    xmlFree(v);
    return s;
}

/* Text of the item property called local (any namespace), malloc'd. */
static char *item_prop(xmlNodePtr item, const char *local)
{
    for (xmlNodePtr k = item->children; k; k = k->next)
        if (k->type == XML_ELEMENT_NODE && xmlStrEqual(k->name, BAD_CAST local)) {
            xmlChar *v = xmlNodeGetContent(k);
            char *s = v ? strdup((const char *)v) : NULL;
            xmlFree(v);
            return s;
        }
    return NULL;
}

static int parse_u64(const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    while (*s == ' ' || *s == '\t' || *s == '\n')
        s++;
    if (*s < '0' || *s > '9')
        return -1;
    unsigned long long v = strtoull(s, &end, 10);
    while (*end == ' ' || *end == '\t' || *end == '\n')
        end++;
    if (errno || *end)
        return -1;
    *out = v;
    return 0;
}

/* The power of two an allocation unit names: "byte * 2^20", "byte",
 * "MegaBytes", "KiloBytes", "GigaBytes".  -1 when unknown. */
static int unit_shift(const char *u, int dflt)
{
    if (!u)
        return dflt;
    if (!strcmp(u, "byte") || !strcmp(u, "bytes"))
        return 0;
    if (!strcmp(u, "KiloBytes") || !strcmp(u, "KB"))
        return 10;
    if (!strcmp(u, "MegaBytes") || !strcmp(u, "MB"))
        return 20;
    if (!strcmp(u, "GigaBytes") || !strcmp(u, "GB"))
        return 30;
    int sh, n = -1;
    if (sscanf(u, "byte * 2^%d%n", &sh, &n) == 1 && n == (int)strlen(u) && sh >= 0 && sh <= 40)
        return sh;
    return -1;
}

/* value * 2^shift, refused over max.  0 or -1. */
static int scaled(const char *val, const char *unit, int dflt, uint64_t max, uint64_t *out)
{
    uint64_t v;
    int sh = unit_shift(unit, dflt);
    if (!val || sh < 0 || parse_u64(val, &v) || v > (max >> sh))
        return -1;
    *out = v << sh;
    return 0;
}

struct rd {
    const char *fname;
    struct vk_ovf *o;
};

static int bad(struct rd *r, xmlNodePtr n, const char *what)
{
    xmlChar *p = xmlGetNodePath(n);
    int e = vk_error(-EINVAL, "%s: %s: %s", r->fname, p ? (const char *)p : "?", what);
    xmlFree(p);
    return e;
}

static int read_refs(struct rd *r, xmlNodePtr refs)
{
    for (xmlNodePtr f = refs ? refs->children : NULL; f; f = f->next) {
        if (!is_ovf(f, "File"))
            continue;
        if (r->o->n_files >= VK_OVF_MAX_ITEMS)
            return bad(r, f, "too many files");
        struct vk_ovf_file nf = { ovf_attr(f, "id"), ovf_attr(f, "href") };
        struct vk_ovf_file *v = realloc(r->o->files, (r->o->n_files + 1) * sizeof *v);
        if (!v) {
            free(nf.id);
            free(nf.href);
            return vk_error(-ENOMEM, "out of memory");
        }
        r->o->files = v;
        v[r->o->n_files++] = nf;
        if (!nf.id || !nf.href)
            return bad(r, f, "File needs ovf:id and ovf:href");
    }
    return 0;
}

static const char *file_href(struct vk_ovf *o, const char *id)
{
    for (unsigned i = 0; i < o->n_files; i++)
        if (!strcmp(o->files[i].id, id))
            return o->files[i].href;
    return NULL;
}

static int read_disk(struct rd *r, xmlNodePtr d)
{
    struct vk_ovf *o = r->o;
    if (o->n_disks >= VK_OVF_MAX_ITEMS)
        return bad(r, d, "too many disks");
    struct vk_ovf_disk *v = realloc(o->disks, (o->n_disks + 1) * sizeof *v);
    if (!v)
        return vk_error(-ENOMEM, "out of memory");
    o->disks = v;
    struct vk_ovf_disk *nd = &v[o->n_disks++];
    memset(nd, 0, sizeof *nd);
    nd->id = ovf_attr(d, "diskId");
    char *ref = ovf_attr(d, "fileRef"), *fmt = ovf_attr(d, "format");
    char *cap = ovf_attr(d, "capacity"), *unit = ovf_attr(d, "capacityAllocationUnits");
    int err = 0;
    if (!nd->id)
        err = bad(r, d, "Disk without ovf:diskId");
    else if (!ref)
        err = bad(r, d, "Disk without ovf:fileRef (an empty disk): not supported");
    else if (!fmt || strncmp(fmt, VMDK_FMT, strlen(VMDK_FMT)))
        err = bad(r, d, "disk format is not VMDK: not supported");
    else if (!file_href(o, ref))
        err = bad(r, d, "ovf:fileRef names no File in References");
    else if (scaled(cap, unit, 0, UINT64_C(1) << 50, &nd->capacity) || !nd->capacity)
        err = bad(r, d, "bad ovf:capacity or ovf:capacityAllocationUnits");
    else if (!(nd->file = strdup(file_href(o, ref))))
        err = vk_error(-ENOMEM, "out of memory");
    free(ref);
    free(fmt);
    free(cap);
    free(unit);
    return err;
}

static int read_hw(struct rd *r, xmlNodePtr hw)
{
    for (xmlNodePtr it = hw->children; it; it = it->next) {
        if (!is_ovf(it, "Item") && !is_ovf(it, "StorageItem") && !is_ovf(it, "EthernetPortItem"))
            continue;
        char *rt = item_prop(it, "ResourceType");
        uint64_t t = 0, v = 0;
        int err = 0;
        if (!rt || parse_u64(rt, &t))
            err = bad(r, it, "item without a numeric ResourceType");
        free(rt);
        if (err)
            return err;
        if (t == 3 || t == 4) {
            char *q = item_prop(it, "VirtualQuantity"), *u = item_prop(it, "AllocationUnits");
            if (t == 3 ? (!q || parse_u64(q, &v) || !v || v > VK_CFG_MAX_VCPUS)
                       : (scaled(q, u, 20, (uint64_t)VK_CFG_MAX_MEM << 20, &v) || v < (1u << 20)))
                err = bad(r, it, t == 3 ? "bad CPU VirtualQuantity" : "bad memory VirtualQuantity or AllocationUnits");
            else if (t == 3)
                r->o->vcpus = (long)v;
            else
                r->o->memory = (long)(v >> 20);
            free(q);
            free(u);
        } else if (t == 10) {
            r->o->n_nics++;
        } else if (t == 15 || t == 16) {
            r->o->n_cdroms++;
        }
        if (err)
            return err;
    }
    return 0;
}

/* Contract in ova.h. */
int vk_ovf_parse(const char *xml, size_t len, const char *fname, struct vk_ovf *out)
{
    memset(out, 0, sizeof *out);
    out->memory = out->vcpus = VK_UNSET;
    if (len > VK_OVF_MAX_BYTES)
        return vk_error(-EFBIG, "%s: descriptor over %u bytes", fname, VK_OVF_MAX_BYTES);
    int lr = vk_xml_load();
    if (lr < 0)
        return lr;
    xmlDocPtr doc = xmlReadMemory(xml, (int)len, fname, NULL,
                                  XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    if (!doc) {
        const xmlError *e = xmlGetLastError();
        return vk_error(-EINVAL, "%s: not well-formed XML%s%s", fname, e && e->message ? ": " : "",
                        e && e->message ? e->message : "");
    }
    struct rd r = { fname, out };
    int err = 0;
    xmlNodePtr root = xmlDocGetRootElement(doc), vs = NULL;
    if (doc->intSubset || doc->extSubset)
        err = vk_error(-EINVAL, "%s: a DOCTYPE is not accepted in an OVF descriptor", fname);
    else if (!root || !is_ovf(root, "Envelope"))
        err = vk_error(-EINVAL, "%s: not an OVF descriptor (root is not an OVF 1.0/2.0 Envelope)", fname);
    else if (child(root, "VirtualSystemCollection"))
        err = bad(&r, child(root, "VirtualSystemCollection"),
                  "several virtual systems (a VirtualSystemCollection): not supported, import one VM at a time");
    else if (!(vs = child(root, "VirtualSystem")))
        err = vk_error(-EINVAL, "%s: no VirtualSystem", fname);
    if (!err)
        err = read_refs(&r, child(root, "References"));
    xmlNodePtr ds = err ? NULL : child(root, "DiskSection");
    for (xmlNodePtr d = ds ? ds->children : NULL; d && !err; d = d->next)
        if (is_ovf(d, "Disk"))
            err = read_disk(&r, d);
    if (!err) {
        xmlNodePtr hw = child(vs, "VirtualHardwareSection"), nm = child(vs, "Name");
        if (!hw)
            err = bad(&r, vs, "no VirtualHardwareSection");
        else
            err = read_hw(&r, hw);
        xmlChar *n = nm ? xmlNodeGetContent(nm) : NULL;
        out->name = n ? strdup((const char *)n) : ovf_attr(vs, "id");
        xmlFree(n);
    }
    xmlFreeDoc(doc);
    if (err)
        vk_ovf_free(out);
    return err;
}
