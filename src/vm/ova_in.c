/* vmkit import-ova: extract an OVA into a private temporary directory,
 * check its manifest, read its OVF, convert its disks and define the VM
 * (see ova.h).  Every file it makes is removed again on failure. */
#include "vm/ova.h"
#include "vm/ova_int.h"
#include "vm/store.h"
#include "util/err.h"
#include "util/file.h"
#include "util/str.h"
#include "util/strbuf.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>
#include <openssl/evp.h>

#define MAX_ENTRIES 256

struct member { char name[256]; char sha256[65], sha1[41]; };

struct imp {
    const char *in;
    char tmpdir[PATH_MAX];
    struct member m[MAX_ENTRIES];
    unsigned n;
    int ovf, mf;        /* index of the .ovf / .mf member, or -1 */
};

static const char *suffix(const char *s, const char *suf)
{
    size_t a = strlen(s), b = strlen(suf);
    return a > b && !strcmp(s + a - b, suf) ? s + a - b : NULL;
}

static struct member *find(struct imp *x, const char *name)
{
    for (unsigned i = 0; i < x->n; i++)
        if (!strcmp(x->m[i].name, name))
            return &x->m[i];
    return NULL;
}

/* Extract one member into tmpdir, hashing it on the way. */
static int extract(struct imp *x, struct archive *a, struct archive_entry *e)
{
    const char *p = archive_entry_pathname(e);
    if (p && !strncmp(p, "./", 2))
        p += 2;
    if (archive_entry_filetype(e) != AE_IFREG)
        return vk_error(-EINVAL, "%s: member '%s' is not a regular file", x->in, p ? p : "?");
    if (!p || !*p || *p == '.' || strchr(p, '/') || strlen(p) >= sizeof x->m[0].name)
        return vk_error(-EINVAL, "%s: member name '%s' refused (OVA members are plain file names)",
                        x->in, p ? p : "");
    if (find(x, p))
        return vk_error(-EINVAL, "%s: member '%s' appears twice", x->in, p);
    if (x->n >= MAX_ENTRIES)
        return vk_error(-EINVAL, "%s: more than %d members", x->in, MAX_ENTRIES);
    struct member *m = &x->m[x->n];
    snprintf(m->name, sizeof m->name, "%s", p);
    char path[PATH_MAX];
    int r = vk_pathf(path, sizeof path, "%s/%s", x->tmpdir, p);
    if (r)
        return r;
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        return vk_error(-errno, "%s: %s", path, strerror(errno));
    x->n++;
    EVP_MD_CTX *c2 = EVP_MD_CTX_new(), *c1 = EVP_MD_CTX_new();
    if (!c1 || !c2 || !EVP_DigestInit_ex(c2, EVP_sha256(), NULL) || !EVP_DigestInit_ex(c1, EVP_sha1(), NULL))
        r = vk_error(-ENOMEM, "out of memory");
    char buf[1 << 16];   /* on the stack: the library may run in several threads */
    la_ssize_t k;
    while (!r && (k = archive_read_data(a, buf, sizeof buf)) != 0) {
        if (k < 0) {
            r = vk_error(-EINVAL, "%s: %s: %s", x->in, p, archive_error_string(a));
            break;
        }
        EVP_DigestUpdate(c2, buf, (size_t)k);
        EVP_DigestUpdate(c1, buf, (size_t)k);
        if (write(fd, buf, (size_t)k) != k)
            r = vk_error(-EIO, "%s: short write", path);
    }
    if (!r) {
        unsigned char md[32];
        EVP_DigestFinal_ex(c2, md, NULL);
        ova_hex(md, 32, m->sha256);
        EVP_DigestFinal_ex(c1, md, NULL);
        ova_hex(md, 20, m->sha1);
    }
    EVP_MD_CTX_free(c1);
    EVP_MD_CTX_free(c2);
    if (close(fd) && !r)
        r = vk_error(-EIO, "%s: %s", path, strerror(errno));
    if (!r && suffix(p, ".ovf") && x->ovf < 0)
        x->ovf = (int)(x->n - 1);
    if (!r && suffix(p, ".mf") && x->mf < 0)
        x->mf = (int)(x->n - 1);
    return r;
}

static int extract_all(struct imp *x)
{
    struct archive *a = archive_read_new();
    struct archive_entry *e;
    int r = 0, h;
    if (!a)
        return vk_error(-ENOMEM, "out of memory");
    archive_read_support_format_tar(a);
    if (access(x->in, R_OK))
        r = vk_error(-errno, "%s: %s", x->in, strerror(errno));
    else if (archive_read_open_filename(a, x->in, 1 << 16) != ARCHIVE_OK)
        r = vk_error(-EINVAL, "%s: not a tar archive (an OVA is one): %s", x->in, archive_error_string(a));
    while (!r && (h = archive_read_next_header(a, &e)) != ARCHIVE_EOF) {
        if (h != ARCHIVE_OK && h != ARCHIVE_WARN)
            r = vk_error(-EINVAL, "%s: not a tar archive (an OVA is one): %s", x->in, archive_error_string(a));
        else
            r = extract(x, a, e);
    }
    archive_read_free(a);
    if (!r && x->ovf < 0)
        r = vk_error(-EINVAL, "%s: no .ovf descriptor in the archive", x->in);
    return r;
}

/* Check every "SHA256(f)= hex" / "SHA1(f)= hex" line of the manifest. */
static int check_manifest(struct imp *x)
{
    char path[PATH_MAX], *text = NULL, *save = NULL;
    size_t len;
    int r = vk_pathf(path, sizeof path, "%s/%s", x->tmpdir, x->m[x->mf].name);
    if (r || (r = vk_read_small_file(path, 1 << 20, &text, &len)))
        return r;
    for (char *l = strtok_r(text, "\r\n", &save); l && !r; l = strtok_r(NULL, "\r\n", &save)) {
        char alg[8], file[256], hex[130];
        l = vk_trim(l);
        if (!*l)
            continue;
        if (sscanf(l, "%7[A-Z0-9](%255[^)])= %129s", alg, file, hex) != 3 ||
            (strcmp(alg, "SHA256") && strcmp(alg, "SHA1"))) {
            r = vk_error(-EINVAL, "%s: %s: cannot read manifest line '%.80s' (SHA256 and SHA1 are supported)",
                         x->in, x->m[x->mf].name, l);
            break;
        }
        struct member *m = find(x, file);
        const char *have = m ? (alg[3] == '2' ? m->sha256 : m->sha1) : NULL;
        for (char *c = hex; *c; c++)
            if (*c >= 'A' && *c <= 'F')
                *c += 'a' - 'A';
        if (!m)
            r = vk_error(-EINVAL, "%s: the manifest names '%s', which is not in the OVA", x->in, file);
        else if (strcmp(have, hex))
            r = vk_error(-EINVAL, "%s: %s: %s digest mismatch (manifest %s, file %s): the OVA is damaged",
                         x->in, file, alg, hex, have);
    }
    free(text);
    return r;
}

/* Append s to the xl list being built in l: ", " between entries, each
 * one an xl.cfg quoted string. */
static void list_add(struct vk_strbuf *l, const char *s)
{
    if (l->n)
        vk_strbuf_printf(l, ", ");
    vk_strbuf_xl_quoted(l, s);
}

static int set(struct vk_domcfg *c, const char *fmt, ...) VK_PRINTF(2, 3);
static int set(struct vk_domcfg *c, const char *fmt, ...)
{
    char *s = NULL;
    va_list ap;
    va_start(ap, fmt);
    int k = vasprintf(&s, fmt, ap);
    va_end(ap);
    if (k < 0)
        return vk_error(-ENOMEM, "out of memory");
    int r = vk_domcfg_set(c, s);
    free(s);
    return r;
}

/* Convert the disks and define the VM.  made[] collects the published
 * disk paths (for the caller to remove on failure). */
static int build(struct imp *x, const struct vk_ovf *o, const char *name, const char *dir,
                 const char *fmt, char made[][PATH_MAX], unsigned *nmade)
{
    static const char *ide[] = { "hda", "hdb", "hdd" };
    struct vk_domcfg c;
    char src[PATH_MAX], spec[PATH_MAX + 80], vdev[8];
    struct vk_strbuf disks = { 0 }, vifs = { 0 };
    int r = 0;
    vk_domcfg_init(&c);
    for (unsigned i = 0; i < o->n_disks && !r; i++) {
        if (!find(x, o->disks[i].file)) {
            r = vk_error(-EINVAL, "%s: disk file '%s' (named by the OVF) is missing from the OVA", x->in, o->disks[i].file);
            break;
        }
        if ((r = vk_pathf(src, sizeof src, "%s/%s", x->tmpdir, o->disks[i].file)) ||
            (r = vk_pathf(made[*nmade], PATH_MAX, "%s/%s-disk%u.%s", dir, name, i + 1, fmt)))
            break;
        if (strchr(made[*nmade], ',')) {
            r = vk_error(-EINVAL, "%s: a comma in the disk path is not supported", made[*nmade]);
            break;
        }
        if (!access(made[*nmade], F_OK)) {
            r = vk_error(-EEXIST, "%s: file exists (import-ova never overwrites)", made[*nmade]);
            break;
        }
        if ((r = ova_convert(src, "vmdk", made[*nmade], fmt, NULL, o->disks[i].capacity, false))) {
            vk_error_prefix(r, "%s: disk '%s'", x->in, o->disks[i].file);
            break;
        }
        if (i < 3)
            snprintf(vdev, sizeof vdev, "%s", ide[i]);
        else
            snprintf(vdev, sizeof vdev, "sd%c", 'a' + (int)(i - 3) % 26);
        snprintf(spec, sizeof spec, "format=%s, vdev=%s, access=rw, target=%s", fmt, vdev, made[*nmade]);
        (*nmade)++;
        list_add(&disks, spec);
    }
    if (!r && o->n_cdroms)
        list_add(&disks, "format=raw, vdev=hdc, access=ro, devtype=cdrom, target=");
    for (unsigned i = 0; i < o->n_nics && !r; i++)
        list_add(&vifs, "model=e1000");
    if (!r && (disks.oom || vifs.oom))
        r = vk_error(-ENOMEM, "out of memory");
    if (!r)
        r = set(&c, "name=\"%s\"", name);
    if (!r && o->memory != VK_UNSET)
        r = set(&c, "memory=%ld", o->memory);
    if (!r && o->vcpus != VK_UNSET)
        r = set(&c, "vcpus=%ld", o->vcpus);
    if (!r && disks.n)
        r = set(&c, "disk=[%s]", disks.p);
    if (!r)
        r = set(&c, "vif=[%s]", vifs.n ? vifs.p : "");
    if (!r)
        r = set(&c, "type=\"hvm\"");
    if (!r && !(r = vk_domcfg_check(&c)))
        r = vk_store_define(&c);
    free(disks.p);
    free(vifs.p);
    vk_domcfg_free(&c);
    return r;
}

/* Contract in ova.h. */
int vk_ova_import(const char *in, const char *as_name, const char *dir, const char *fmt, char **name_out)
{
    struct imp *x = calloc(1, sizeof *x);
    struct vk_ovf o = { 0 };
    char rdir[PATH_MAX], (*made)[PATH_MAX] = NULL, *text = NULL;
    unsigned nmade = 0;
    size_t len;
    int r = 0;
    if (!x)
        return vk_error(-ENOMEM, "out of memory");
    x->in = in;
    x->ovf = x->mf = -1;
    if (!dir) {
        const char *s = strrchr(in, '/');
        snprintf(rdir, sizeof rdir, "%.*s", s ? (int)(s - in) + (s == in) : 1, s ? in : ".");
        dir = rdir;
    }
    char *abs = realpath(dir, NULL);
    if (!abs)
        r = vk_error(-errno, "%s: %s", dir, strerror(errno));
    if (!r && (r = vk_pathf(x->tmpdir, sizeof x->tmpdir, "%s/.ova-import-XXXXXX", abs)) == 0 && !mkdtemp(x->tmpdir)) {
        r = vk_error(-errno, "%s: %s", x->tmpdir, strerror(errno));
        x->tmpdir[0] = 0;
    }
    if (!r)
        r = extract_all(x);
    if (!r && x->mf >= 0)
        r = check_manifest(x);
    char path[PATH_MAX];
    if (!r && !(r = vk_pathf(path, sizeof path, "%s/%s", x->tmpdir, x->m[x->ovf].name)) &&
        !(r = vk_read_small_file(path, VK_OVF_MAX_BYTES, &text, &len)))
        r = vk_ovf_parse(text, len, x->m[x->ovf].name, &o);
    const char *name = as_name ? as_name : o.name;
    if (!r && (!name || !vk_name_valid(name)))
        r = vk_error(-EINVAL, "%s: VM name '%s' from the OVF is not a valid vmkit name: give --name",
                     in, name ? name : "");
    if (!r && !o.n_disks)
        vk_warn("%s: the OVF has no disks", in);
    if (!r && !(made = calloc(o.n_disks + 1, sizeof *made)))
        r = vk_error(-ENOMEM, "out of memory");
    if (!r)
        r = build(x, &o, name, abs, fmt, made, &nmade);
    if (!r && name_out && !(*name_out = strdup(name)))
        r = vk_error(-ENOMEM, "out of memory");
    if (r)
        for (unsigned i = 0; i < nmade; i++)
            unlink(made[i]);
    if (x->tmpdir[0])
        ova_rmdir(x->tmpdir);
    vk_ovf_free(&o);
    free(made);
    free(text);
    free(abs);
    free(x);
    return r;
}
