/* libvirt domain XML in and out (virsh dumpxml / virsh define).
 *
 * The writer turns an effective xl.cfg (after vk_domcfg_check) into a
 * domain XML that virt-xml-validate accepts and libvirt's QEMU driver
 * defines; the reader turns such a document back into a vk_domcfg through
 * the xl.cfg key=value path (vk_domcfg_set), so the same checks apply.
 * Both refuse what they cannot express instead of dropping it: the writer
 * names the xl.cfg key, the reader the element or attribute by its XPath
 * ("/domain/devices/hostdev", "/domain/devices/disk[2]/driver/@cache").
 *
 * What XML has no word for but vmkit needs for an identical round trip
 * (xl's type, automatic acceleration, vncunused) travels in
 * <metadata><vmkit:xl xmlns:vmkit="VK_XML_NS" .../></metadata>, which
 * libvirt keeps and ignores; a document without it reads with xl's
 * defaults. */
#ifndef VK_VM_LIBVIRT_XML_H
#define VK_VM_LIBVIRT_XML_H

#include "vm/config.h"
#include <stddef.h>

#define VK_XML_NS "https://vmkit.invalid/xmlns/xl/1"

/* Domain XML for c (checked: name, uuid, memory, vcpus and the display
 * defaults filled).  accel names the domain type: "kvm" gives type='kvm',
 * "tcg" type='qemu'; NULL uses c->accel, and when that is unset too
 * (automatic) what vk_accel_choose picks on this host.  Returns a
 * malloc'd NUL-terminated document, or NULL after vk_error: -EINVAL
 * "NAME: KEY ...: no libvirt domain XML equivalent" for a setting the
 * writer cannot express (bootloader, viridian, network disks, CPU flags,
 * a p9 security_model=mapped-file ...),
 * -ENOMEM. */
char *vk_libvirt_xml_write(const struct vk_domcfg *c, const char *accel);

/* Parse len bytes of a libvirt domain XML (fname names it in messages)
 * into *out (init'd first; freed again on failure).  Not checked: the
 * caller runs vk_domcfg_check as for an xl.cfg.  Returns 0, or -EINVAL
 * "FNAME: what" for text that is not well-formed XML (with libxml2's
 * line and message), a root that is not <domain>, a DOCTYPE (entities
 * are never expanded), and for every element or attribute vmkit cannot
 * honour ("FNAME: /domain/devices/hostdev: not supported: ..."); -EFBIG
 * over VK_CFG_MAX_BYTES.  Elements libvirt fills in by default
 * (<emulator>, controller pci-root, memballoon, device <address>es ...)
 * are accepted; some only with a vk_warn saying they are ignored. */
int vk_libvirt_xml_read(const char *xml, size_t len, const char *fname, struct vk_domcfg *out);

#endif
