/* vmkit export-ova: a defined VM -> OVF 1.0 descriptor + streamOptimized
 * VMDKs + SHA256 manifest, in a ustar archive (see ova.h). */
#include "vm/ova.h"
#include "vm/ova_int.h"
#include "vm/runtime.h"
#include "vm/store.h"
#include "block/blockdev.h"
#include "block/imgops.h"
#include "util/err.h"
#include "util/str.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>
#include <openssl/evp.h>

/* Contract in ova_int.h. */
int ova_convert(const char *src, const char *sfmt, const char *dst, const char *dfmt,
                const char *subformat, uint64_t size, bool scratch)
{
    struct vk_blockdev *in;
    struct vk_create_opts o = { .subformat = subformat };
    struct vk_copy_opts co = { .unsafe = scratch };
    int r = vk_bd_open(src, sfmt, 0, &in);
    if (r < 0)
        return r;
    o.size = size > in->size ? size : in->size;
    r = vk_img_copy_new(in, dst, dfmt, &o, &co);
    vk_bd_close(in);
    return r;
}

/* Contract in ova_int.h. */
void ova_rmdir(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char p[PATH_MAX];
    while (d && (e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") &&
            snprintf(p, sizeof p, "%s/%s", dir, e->d_name) < (int)sizeof p)
            unlink(p);
    if (d)
        closedir(d);
    rmdir(dir);
}

/* Contract in ova_int.h. */
void ova_hex(const unsigned char *b, unsigned n, char *out)
{
    for (unsigned i = 0; i < n; i++)
        sprintf(out + 2 * i, "%02x", b[i]);
    out[2 * n] = 0;
}

struct odisk { char file[128]; uint64_t capacity; };

/* The OVF 1.0 descriptor for c with its n disks; malloc'd or NULL. */
static char *ovf_text(const struct vk_domcfg *c, const struct odisk *d, unsigned n, unsigned ncd)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        return NULL;
    fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
            "<Envelope ovf:version=\"1.0\" xml:lang=\"en-US\" xmlns=\"http://schemas.dmtf.org/ovf/envelope/1\"\n"
            "    xmlns:ovf=\"http://schemas.dmtf.org/ovf/envelope/1\"\n"
            "    xmlns:rasd=\"http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_ResourceAllocationSettingData\"\n"
            "    xmlns:vssd=\"http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_VirtualSystemSettingData\"\n"
            "    xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\">\n  <References>\n");
    for (unsigned i = 0; i < n; i++)
        fprintf(f, "    <File ovf:id=\"file%u\" ovf:href=\"%s\"/>\n", i + 1, d[i].file);
    fprintf(f, "  </References>\n  <DiskSection>\n    <Info>Virtual disk information</Info>\n");
    for (unsigned i = 0; i < n; i++)
        fprintf(f, "    <Disk ovf:capacity=\"%llu\" ovf:capacityAllocationUnits=\"byte\" ovf:diskId=\"vmdisk%u\" "
                "ovf:fileRef=\"file%u\" ovf:format=\"http://www.vmware.com/interfaces/specifications/"
                "vmdk.html#streamOptimized\"/>\n", (unsigned long long)d[i].capacity, i + 1, i + 1);
    fprintf(f, "  </DiskSection>\n  <NetworkSection>\n    <Info>The list of logical networks</Info>\n"
            "    <Network ovf:name=\"NAT\">\n      <Description>The NAT network</Description>\n"
            "    </Network>\n  </NetworkSection>\n"
            "  <VirtualSystem ovf:id=\"%s\">\n    <Info>A virtual machine</Info>\n    <Name>%s</Name>\n"
            "    <OperatingSystemSection ovf:id=\"1\">\n      <Info>The kind of installed guest operating system</Info>\n"
            "      <Description>Other</Description>\n    </OperatingSystemSection>\n"
            "    <VirtualHardwareSection>\n      <Info>Virtual hardware requirements</Info>\n"
            "      <System>\n        <vssd:ElementName>Virtual Hardware Family</vssd:ElementName>\n"
            "        <vssd:InstanceID>0</vssd:InstanceID>\n        <vssd:VirtualSystemIdentifier>%s</vssd:VirtualSystemIdentifier>\n"
            "        <vssd:VirtualSystemType>vmx-07</vssd:VirtualSystemType>\n      </System>\n",
            c->name, c->name, c->name);
    unsigned id = 1;
#define ITEM(body, ...) fprintf(f, "      <Item>\n" body "      </Item>\n", __VA_ARGS__)
    ITEM("        <rasd:AllocationUnits>hertz * 10^6</rasd:AllocationUnits>\n"
         "        <rasd:Description>Number of Virtual CPUs</rasd:Description>\n"
         "        <rasd:ElementName>%ld virtual CPU(s)</rasd:ElementName>\n        <rasd:InstanceID>%u</rasd:InstanceID>\n"
         "        <rasd:ResourceType>3</rasd:ResourceType>\n        <rasd:VirtualQuantity>%ld</rasd:VirtualQuantity>\n",
         c->vcpus, id, c->vcpus);
    id++;
    ITEM("        <rasd:AllocationUnits>byte * 2^20</rasd:AllocationUnits>\n"
         "        <rasd:Description>Memory Size</rasd:Description>\n"
         "        <rasd:ElementName>%ldMB of memory</rasd:ElementName>\n        <rasd:InstanceID>%u</rasd:InstanceID>\n"
         "        <rasd:ResourceType>4</rasd:ResourceType>\n        <rasd:VirtualQuantity>%ld</rasd:VirtualQuantity>\n",
         c->memory, id, c->memory);
    id++;
    /* Two devices per IDE controller, as on a PC: disks, then CD drives. */
    unsigned ndev = n + ncd, first_ctl = id;
    for (unsigned k = 0; k < (ndev + 1) / 2; k++, id++)
        ITEM("        <rasd:Address>%u</rasd:Address>\n        <rasd:Description>IDE Controller</rasd:Description>\n"
             "        <rasd:ElementName>ideController%u</rasd:ElementName>\n        <rasd:InstanceID>%u</rasd:InstanceID>\n"
             "        <rasd:ResourceType>5</rasd:ResourceType>\n", k, k, id);
    for (unsigned k = 0; k < ndev; k++, id++) {
        if (k < n)
            ITEM("        <rasd:AddressOnParent>%u</rasd:AddressOnParent>\n        <rasd:ElementName>disk%u</rasd:ElementName>\n"
                 "        <rasd:HostResource>ovf:/disk/vmdisk%u</rasd:HostResource>\n"
                 "        <rasd:InstanceID>%u</rasd:InstanceID>\n        <rasd:Parent>%u</rasd:Parent>\n"
                 "        <rasd:ResourceType>17</rasd:ResourceType>\n", k % 2, k + 1, k + 1, id, first_ctl + k / 2);
        else
            ITEM("        <rasd:AddressOnParent>%u</rasd:AddressOnParent>\n        <rasd:AutomaticAllocation>false</rasd:AutomaticAllocation>\n"
                 "        <rasd:ElementName>cdrom%u</rasd:ElementName>\n        <rasd:InstanceID>%u</rasd:InstanceID>\n"
                 "        <rasd:Parent>%u</rasd:Parent>\n        <rasd:ResourceType>15</rasd:ResourceType>\n",
                 k % 2, k - n + 1, id, first_ctl + k / 2);
    }
    for (unsigned k = 0; k < c->n_vifs; k++, id++) {
        const char *m = c->vifs[k].model ? c->vifs[k].model : "virtio-net-pci";
        ITEM("        <rasd:AutomaticAllocation>true</rasd:AutomaticAllocation>\n        <rasd:Connection>NAT</rasd:Connection>\n"
             "        <rasd:ElementName>ethernet%u</rasd:ElementName>\n        <rasd:InstanceID>%u</rasd:InstanceID>\n"
             "        <rasd:ResourceSubType>%s</rasd:ResourceSubType>\n        <rasd:ResourceType>10</rasd:ResourceType>\n",
             k, id, !strcmp(m, "e1000") ? "E1000" : !strcmp(m, "rtl8139") ? "PCNet32" : "VmxNet3");
    }
#undef ITEM
    fprintf(f, "    </VirtualHardwareSection>\n  </VirtualSystem>\n</Envelope>\n");
    if (fclose(f)) {
        free(buf);
        return NULL;
    }
    return buf;
}

static int add_entry(struct archive *a, const char *out, const char *name, int64_t size)
{
    struct archive_entry *e = archive_entry_new();
    if (!e)
        return vk_error(-ENOMEM, "out of memory");
    archive_entry_set_pathname(e, name);
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, 0644);
    archive_entry_set_size(e, size);
    archive_entry_set_mtime(e, 0, 0);
    int r = archive_write_header(a, e) == ARCHIVE_OK ? 0
          : vk_error(-EIO, "%s: %s: %s", out, name, archive_error_string(a));
    archive_entry_free(e);
    return r;
}

/* Add the text (ovf or mf) as name; its SHA256 appended to mf when mf. */
static int add_text(struct archive *a, const char *out, const char *name, const char *text, FILE *mf)
{
    size_t n = strlen(text);
    int r = add_entry(a, out, name, (int64_t)n);
    if (!r && archive_write_data(a, text, n) != (la_ssize_t)n)
        r = vk_error(-EIO, "%s: %s: %s", out, name, archive_error_string(a));
    if (!r && mf) {
        unsigned char md[32];
        unsigned ml = 0;
        char hex[65];
        EVP_Digest(text, n, md, &ml, EVP_sha256(), NULL);
        ova_hex(md, 32, hex);
        fprintf(mf, "SHA256(%s)= %s\n", name, hex);
    }
    return r;
}

/* Add the file at path as name, with its SHA256 line into mf. */
static int add_file(struct archive *a, const char *out, const char *path, const char *name, FILE *mf)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return vk_error(-errno, "%s: %s", path, strerror(errno));
    off_t size = lseek(fd, 0, SEEK_END);
    lseek(fd, 0, SEEK_SET);
    int r = add_entry(a, out, name, size);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (!ctx || !EVP_DigestInit_ex(ctx, EVP_sha256(), NULL))
        r = r ? r : vk_error(-ENOMEM, "out of memory");
    char buf[1 << 16];   /* on the stack: the library may run in several threads */
    ssize_t k;
    while (!r && (k = read(fd, buf, sizeof buf)) > 0) {
        EVP_DigestUpdate(ctx, buf, (size_t)k);
        if (archive_write_data(a, buf, (size_t)k) != k)
            r = vk_error(-EIO, "%s: %s: %s", out, name, archive_error_string(a));
    }
    if (!r && k < 0)
        r = vk_error(-errno, "%s: %s", path, strerror(errno));
    if (!r) {
        unsigned char md[32];
        char hex[65];
        EVP_DigestFinal_ex(ctx, md, NULL);
        ova_hex(md, 32, hex);
        fprintf(mf, "SHA256(%s)= %s\n", name, hex);
    }
    EVP_MD_CTX_free(ctx);
    close(fd);
    return r;
}

/* The tar out (already converted disks in tmpdir). */
static int write_ova(const struct vk_domcfg *c, const char *out, const char *tmpdir,
                     const struct odisk *d, unsigned n, unsigned ncd)
{
    char name[300], path[PATH_MAX], *mftext = NULL;
    size_t mflen = 0;
    char *ovf = ovf_text(c, d, n, ncd);
    FILE *mf = open_memstream(&mftext, &mflen);
    struct archive *a = archive_write_new();
    int r = 0;
    if (!ovf || !mf || !a)
        r = vk_error(-ENOMEM, "out of memory");
    else if (archive_write_set_format_ustar(a) != ARCHIVE_OK || archive_write_open_filename(a, out) != ARCHIVE_OK)
        r = vk_error(-EIO, "%s: %s", out, archive_error_string(a));
    snprintf(name, sizeof name, "%s.ovf", c->name);
    if (!r)
        r = add_text(a, out, name, ovf, mf);
    for (unsigned i = 0; i < n && !r; i++)
        if (!(r = vk_pathf(path, sizeof path, "%s/%s", tmpdir, d[i].file)))
            r = add_file(a, out, path, d[i].file, mf);
    if (mf && fclose(mf) && !r)
        r = vk_error(-ENOMEM, "out of memory");
    snprintf(name, sizeof name, "%s.mf", c->name);
    if (!r)
        r = add_text(a, out, name, mftext, NULL);
    if (a && archive_write_close(a) != ARCHIVE_OK && !r)
        r = vk_error(-EIO, "%s: %s", out, archive_error_string(a));
    if (a)
        archive_write_free(a);
    free(ovf);
    free(mftext);
    return r;
}

/* Contract in ova.h. */
int vk_ova_export(const char *name, const char *out)
{
    struct vk_domcfg c;
    struct vk_vminfo info;
    if (vk_rt_info(name, 0, &info) == 0) {
        vk_vminfo_free(&info);
        return vk_error(-EBUSY, "%s: the VM is running: shut it down before export-ova", name);
    }
    vk_error_clear();
    int r = vk_store_load(name, &c);
    if (r)
        return r;
    if ((r = vk_domcfg_check(&c))) {
        vk_domcfg_free(&c);
        return r;
    }
    char tmpdir[PATH_MAX], tmpout[PATH_MAX], path[PATH_MAX];
    const char *slash = strrchr(out, '/');
    int dl = slash ? (int)(slash - out) : 1;
    if ((r = vk_pathf(tmpdir, sizeof tmpdir, "%.*s/.%s.ova-XXXXXX", dl, slash ? out : ".", c.name)) ||
        (r = vk_pathf(tmpout, sizeof tmpout, "%s.tmp", out))) {
        vk_domcfg_free(&c);
        return r;
    }
    if (!access(out, F_OK) || !access(tmpout, F_OK)) {
        vk_domcfg_free(&c);
        return vk_error(-EEXIST, "%s: file exists (export-ova never overwrites; remove it first)",
                        access(out, F_OK) ? tmpout : out);
    }
    if (!mkdtemp(tmpdir)) {
        r = vk_error(-errno, "%s: %s", tmpdir, strerror(errno));
        vk_domcfg_free(&c);
        return r;
    }
    struct odisk *d = calloc(c.n_disks + 1, sizeof *d);
    unsigned n = 0, ncd = 0;
    if (!d)
        r = vk_error(-ENOMEM, "out of memory");
    for (unsigned i = 0; i < c.n_disks && !r; i++) {
        const struct vk_diskspec *s = &c.disks[i];
        if (s->cdrom) {
            ncd++;
            continue;
        }
        if (!s->target || s->network || s->bus == VK_BUS_FLOPPY) {
            r = vk_error(-EINVAL, "%s: disk '%s': not exportable to OVF (network or floppy disk)", name, s->spec);
            break;
        }
        snprintf(d[n].file, sizeof d[n].file, "%s-disk%u.vmdk", c.name, n + 1);
        if (!(r = vk_pathf(path, sizeof path, "%s/%s", tmpdir, d[n].file)))
            r = ova_convert(s->target, s->format ? s->format : "raw", path, "vmdk", "streamOptimized", 0, true);
        struct vk_blockdev *bd;
        if (!r && !(r = vk_bd_open(s->target, s->format ? s->format : "raw", 0, &bd))) {
            d[n].capacity = bd->size;
            vk_bd_close(bd);
        }
        if (r)
            vk_error_prefix(r, "%s: disk '%s'", name, s->spec);
        n++;
    }
    if (!r)
        r = write_ova(&c, tmpout, tmpdir, d, n, ncd);
    if (!r)
        r = vk_publish(tmpout, out);    /* synced, never over a file; removes tmpout on failure */
    else
        unlink(tmpout);
    ova_rmdir(tmpdir);
    free(d);
    vk_domcfg_free(&c);
    return r;
}
