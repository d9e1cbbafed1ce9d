/* libxml2, loaded when first needed.
 *
 * Only the libvirt XML and OVF readers and writers use libxml2, yet linked
 * normally it is loaded by every vmkit command, and with it ICU and
 * libstdc++: about 150 page faults and 3 ms of symbol binding at each
 * start, a fifth of what a quick command such as `fs cat` costs.  So, as
 * systemd does for its optional libraries, the functions vmkit uses are
 * looked up with dlopen/dlsym on first use.
 *
 * Include this header instead of <libxml/...>: the xml* names below then
 * call through the loaded table.  Every public entry point of a file that
 * uses them calls vk_xml_load() first. */
#ifndef VK_UTIL_XMLSO_H
#define VK_UTIL_XMLSO_H

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlerror.h>

/* X(name): each libxml2 function vmkit calls. */
#define VK_XML_FUNCS(X) \
    X(xmlCtxtGetLastError) X(xmlCtxtReadMemory) X(xmlDocDumpFormatMemoryEnc) \
    X(xmlDocGetRootElement) X(xmlDocSetRootElement) X(xmlFreeDoc) X(xmlFreeParserCtxt) \
    X(xmlGetLastError) X(xmlGetNoNsProp) X(xmlGetNodePath) X(xmlGetNsProp) X(xmlHasProp) \
    X(xmlNewDoc) X(xmlNewNode) X(xmlNewNs) X(xmlNewParserCtxt) X(xmlNewProp) \
    X(xmlNewTextChild) X(xmlNodeGetContent) X(xmlReadMemory) X(xmlSetNs) X(xmlStrEqual)

struct vk_xml_api {
#define VK_XML_FIELD(f) __typeof__(f) *f;
    VK_XML_FUNCS(VK_XML_FIELD)
#undef VK_XML_FIELD
    xmlFreeFunc *free;          /* libxml2's xmlFree is a variable */
};
extern struct vk_xml_api vk_xml_api;

/* Load libxml2 once (thread-safe); 0, or a negative errno with a message
 * naming what is missing.  Calls through the names below are valid only
 * after it returned 0. */
int vk_xml_load(void);

#ifndef VK_XMLSO_IMPL      /* xmlso.c fills the table by these names */
#define xmlCtxtGetLastError       (vk_xml_api.xmlCtxtGetLastError)
#define xmlCtxtReadMemory         (vk_xml_api.xmlCtxtReadMemory)
#define xmlDocDumpFormatMemoryEnc (vk_xml_api.xmlDocDumpFormatMemoryEnc)
#define xmlDocGetRootElement      (vk_xml_api.xmlDocGetRootElement)
#define xmlDocSetRootElement      (vk_xml_api.xmlDocSetRootElement)
#define xmlFreeDoc                (vk_xml_api.xmlFreeDoc)
#define xmlFreeParserCtxt         (vk_xml_api.xmlFreeParserCtxt)
#define xmlGetLastError           (vk_xml_api.xmlGetLastError)
#define xmlGetNoNsProp            (vk_xml_api.xmlGetNoNsProp)
#define xmlGetNodePath            (vk_xml_api.xmlGetNodePath)
#define xmlGetNsProp              (vk_xml_api.xmlGetNsProp)
#define xmlHasProp                (vk_xml_api.xmlHasProp)
#define xmlNewDoc                 (vk_xml_api.xmlNewDoc)
#define xmlNewNode                (vk_xml_api.xmlNewNode)
#define xmlNewNs                  (vk_xml_api.xmlNewNs)
#define xmlNewParserCtxt          (vk_xml_api.xmlNewParserCtxt)
#define xmlNewProp                (vk_xml_api.xmlNewProp)
#define xmlNewTextChild           (vk_xml_api.xmlNewTextChild)
#define xmlNodeGetContent         (vk_xml_api.xmlNodeGetContent)
#define xmlReadMemory             (vk_xml_api.xmlReadMemory)
#define xmlSetNs                  (vk_xml_api.xmlSetNs)
#define xmlStrEqual               (vk_xml_api.xmlStrEqual)
#undef xmlFree
#define xmlFree                   (*vk_xml_api.free)
#endif

#endif
