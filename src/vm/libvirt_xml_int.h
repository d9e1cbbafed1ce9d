/* Internal to the libvirt domain XML reader (libvirt_xml_in.c: the
 * document and <domain>'s own elements; libvirt_xml_dev.c: <devices>). */
#ifndef VK_VM_LIBVIRT_XML_INT_H
#define VK_VM_LIBVIRT_XML_INT_H

#include "vm/libvirt_xml.h"
#include "util/err.h"
#include "util/strbuf.h"

#include "util/xmlso.h"

struct lx {
    const char *fname;
    struct vk_domcfg *c;
    xmlNodePtr root;
    int accel_auto;       /* metadata said accel="auto" */
    int vncunused_set;    /* metadata gave vncunused */
    int boot_default;     /* metadata: the config had no boot key */
    int warned_address;
    int vnc_seen;         /* a <graphics type='vnc'> was read */
};

/* -EINVAL "FNAME: XPATH[='value']: not supported: why" for element or
 * attribute n (why NULL: "vmkit cannot express it"). */
int lx_refuse(struct lx *r, xmlNodePtr n, const char *why);

/* Refuse (lx_refuse) any attribute of n not in the blank-separated list
 * attrs and any child element not in kids (NULL: none allowed), and any
 * namespaced one; a child may appear once unless kids names it with a '*'
 * ("boot*").  <address> children (which libvirt fills in) are allowed
 * where kids lists them, with one warning per document. */
int lx_only(struct lx *r, xmlNodePtr n, const char *attrs, const char *kids);

/* 1 when n is the element name (no namespace). */
int lx_is(xmlNodePtr n, const char *name);

/* Attribute name of n, or n's text without surrounding blanks: malloc'd
 * (xmlFree), NULL when absent. */
char *lx_attr(xmlNodePtr n, const char *name);
char *lx_text(xmlNodePtr n);

/* vk_domcfg_set(printf(fmt, ...)); an error is prefixed with "FNAME:
 * XPATH-of-where: ". */
int lx_set(struct lx *r, xmlNodePtr where, const char *fmt, ...) VK_PRINTF(3, 4);
/* key="val" (quoted and escaped), as lx_set. */
int lx_set_str(struct lx *r, xmlNodePtr where, const char *key, const char *val);

/* s as a decimal in [min, max] into *out, or -EINVAL naming n. */
int lx_num(struct lx *r, xmlNodePtr n, const char *s, long min, long max, long *out);

/* The children of <devices> into r->c (libvirt_xml_dev.c). */
int lx_read_devices(struct lx *r, xmlNodePtr devices);

#endif
