/* vmkit guest seed: a cloud-init NoCloud seed, an ISO 9660 image whose
 * volume id is "cidata" holding user-data, meta-data and (optionally)
 * network-config at its root, as cloud-localds makes.  cloud-init in
 * Debian's, Ubuntu's and Fedora's cloud images finds it by that label.
 *
 * The ISO is written by vmkit's own ISO writer (fs/iso9660.h) where this
 * tree has it, else by xorriso (scripts/deps.sh); either way under a
 * temporary name next to OUT, renamed only when complete. */
#include "guest/guest_int.h"

#include "util/err.h"
#include "util/file.h"
#include "util/run.h"
#include "util/str.h"

#if __has_include("fs/iso9660.h")
#include "fs/iso9660.h"
#define VK_SEED_OWN_ISO 1
#else
#define VK_SEED_OWN_ISO 0
#endif

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#define SEED_FILE_MAX (1u << 20)

/* Copy the user's file src (a small text file) to dir/name. */
static int copy_in(const char *what, const char *src, const char *dir, const char *name)
{
    char *b = NULL;
    size_t n = 0;
    int r = vk_read_small_file(src, SEED_FILE_MAX, &b, &n);
    if (r < 0)
        return vk_error_prefix(r, "%s ", what);
    if (memchr(b, '\0', n))
        r = vk_error(-EINVAL, "%s %s: binary data; cloud-init reads YAML or a script", what, src);
    char p[PATH_MAX];
    if (r == 0 && (r = vk_pathf(p, sizeof p, "%s/%s", dir, name)) == 0)
        r = vk_guest_write_file(p, b, n, 0644);
    free(b);
    return r;
}

/* Contract in guest.h. */
int vk_guest_seed(const struct vk_guest_seed_opts *o)
{
    struct stat st;
    if (!o->user_data)
        return vk_error(-EINVAL, "%s: a seed needs user-data", o->out);
    if (lstat(o->out, &st) == 0)
        return vk_error(-EEXIST, "%s: already exists; not overwriting it", o->out);
    char tmp[PATH_MAX];
    const char *td = getenv("TMPDIR");
    int r = vk_pathf(tmp, sizeof tmp, "%s/vmkit-seed.XXXXXX", td && *td ? td : "/tmp");
    if (r < 0)
        return vk_error_prefix(r, "TMPDIR: ");
    if (!mkdtemp(tmp))
        return vk_error(-errno, "%s: %s", tmp, strerror(errno));
    char dir[PATH_MAX + 8];
    snprintf(dir, sizeof dir, "%s/cidata", tmp);
    if (mkdir(dir, 0755) < 0)
        r = vk_error(-errno, "%s: %s", dir, strerror(errno));
    if (r == 0)
        r = copy_in("--user-data", o->user_data, dir, "user-data");
    if (r == 0 && o->meta_data) {
        r = copy_in("--meta-data", o->meta_data, dir, "meta-data");
    } else if (r == 0) {
        /* cloud-init wants an instance-id; a new one runs the user-data */
        uint8_t u[8];
        char text[256], host[64];
        const char *b = strrchr(o->out, '/') ? strrchr(o->out, '/') + 1 : o->out;
        snprintf(host, sizeof host, "%s", o->hostname ? o->hostname : b);
        if (!o->hostname)
            host[strcspn(host, ".")] = '\0';
        for (char *c = host; *c; c++)
            if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-", *c))
                *c = '-';
        if (getrandom(u, sizeof u, 0) != sizeof u)
            r = vk_error(-errno, "getrandom: %s", strerror(errno));
        snprintf(text, sizeof text,
                 "instance-id: iid-vmkit-%02x%02x%02x%02x%02x%02x%02x%02x\nlocal-hostname: %s\n",
                 u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7], *host ? host : "vmkit");
        char p[PATH_MAX + 32];
        if (r == 0 && (r = vk_pathf(p, sizeof p, "%s/meta-data", dir)) == 0)
            r = vk_guest_write_file(p, text, strlen(text), 0644);
    }
    if (r == 0 && o->network_config)
        r = copy_in("--network-config", o->network_config, dir, "network-config");
#if VK_SEED_OWN_ISO
    if (r == 0) {
        struct vk_iso_mkfs_opts io = { .from = dir, .volid = "cidata" };
        r = vk_iso_mkfs_file(o->out, &io);
    }
#else
    char part[PATH_MAX + 32];
    if (r == 0)
        r = vk_pathf(part, sizeof part, "%s.vmkit-%s", o->out, strrchr(tmp, '.') + 1);
    if (r == 0) {
        /* Rock Ridge and Joliet keep the names as they are, as cloud-localds */
        const char *argv[] = { "xorriso", "-as", "mkisofs", "-quiet", "-output", part,
                               "-volid", "cidata", "-joliet", "-rock", dir, NULL };
        r = vk_run(argv, NULL, NULL, 0);
        if (r == 0 && renameat2(AT_FDCWD, part, AT_FDCWD, o->out, RENAME_NOREPLACE) < 0)
            r = vk_error(-errno, "%s: %s", o->out,
                         errno == EEXIST ? "appeared meanwhile; not overwriting it"
                                         : strerror(errno));
        if (r < 0)
            unlink(part);
    }
#endif
    vk_guest_rm_rf(tmp);
    return r;
}
