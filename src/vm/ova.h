/* OVA in and out (vmkit export-ova / import-ova).
 *
 * An OVA is a POSIX (ustar) tar: the OVF descriptor first, then the disks
 * as streamOptimized VMDKs, then a manifest (.mf) of "SHA256(file)= hex"
 * lines.  The descriptor (DMTF OVF 1.0; 2.0 read too) maps to the xl.cfg
 * model: memory, vCPUs, disks, NICs (user networking) and CD drives
 * (empty).  What does not map is refused, never dropped silently. */
#ifndef VK_VM_OVA_H
#define VK_VM_OVA_H

#include "vm/config.h"
#include <stddef.h>
#include <stdint.h>

#define VK_OVF_MAX_BYTES (4u << 20)   /* larger descriptors are refused */
#define VK_OVF_MAX_ITEMS 256          /* files, disks */

struct vk_ovf_file { char *id, *href; };
struct vk_ovf_disk {
    char *id;           /* ovf:diskId */
    char *file;         /* href of the File its ovf:fileRef names */
    uint64_t capacity;  /* bytes */
};

/* What vmkit reads from an OVF descriptor. */
struct vk_ovf {
    char *name;         /* VirtualSystem's Name, else its ovf:id */
    long memory;        /* MiB, or VK_UNSET */
    long vcpus;         /* or VK_UNSET */
    unsigned n_nics, n_cdroms;
    struct vk_ovf_file *files; unsigned n_files;
    struct vk_ovf_disk *disks; unsigned n_disks;   /* in DiskSection order */
};

/* Parse len bytes of an OVF descriptor (fname names it in messages) into
 * *out.  libxml2 without network or DTD: a DOCTYPE is refused, entities
 * are never expanded.  Returns 0, or -EINVAL "FNAME: what" for malformed
 * XML, a root other than an OVF Envelope, a VirtualSystemCollection
 * (several VMs), a disk whose format is not VMDK, a disk naming a File
 * that is not in References, numbers out of range; -EFBIG over
 * VK_OVF_MAX_BYTES.  On failure *out is freed. */
int vk_ovf_parse(const char *xml, size_t len, const char *fname, struct vk_ovf *out);
void vk_ovf_free(struct vk_ovf *o);

/* Export defined, shut-off VM name as the OVA out (written to OUT.tmp,
 * renamed when complete).  Each disk (not cdroms) is converted to a
 * streamOptimized VMDK in a temporary directory next to out.  0 or
 * negative errno after vk_error naming the VM, disk or file. */
int vk_ova_export(const char *name, const char *out);

/* Import the OVA in: check the manifest's SHA256/SHA1 digests (when
 * there is one), convert each disk to fmt ("qcow2" or "raw") as
 * DIR/NAME-diskN.FMT, define the VM (name = as_name, else the OVF's).
 * dir NULL = the OVA's directory.  On failure nothing is left behind (no
 * config, no disk file).  *name_out (malloc'd) gets the VM's name. */
int vk_ova_import(const char *in, const char *as_name, const char *dir, const char *fmt,
                  char **name_out);

#endif
