/* The core image, built by GRUB's own grub-mkimage (package grub-pc-bin)
 * and cached under ~/.cache/vmkit/grub keyed by a SHA-256 of everything
 * that goes into it: the tool and GRUB's files (path, size, mtime), the
 * modules, the prefix and the early config.  A package update changes
 * the key, so a stale image is never used. */
#include "boot/grub_install_int.h"

#include "util/err.h"
#include "util/run.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Contract in boot/grub_install_int.h. */
int vk_grub_read_host_into(const char *path, size_t max, uint8_t **buf, size_t *cap,
                           size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return vk_error(-errno, "%s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) < 0) {
        int e = errno;
        close(fd);
        return vk_error(-e, "%s: %s", path, strerror(e));
    }
    if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size > max) {
        close(fd);
        return vk_error(-EINVAL, "%s: not a regular file of at most %zu bytes", path, max);
    }
    /* room to pad a core image to whole sectors */
    size_t size = (size_t)st.st_size, need = (size + 511) / 512 * 512;
    if (need > *cap || !*buf) {
        uint8_t *b = realloc(*buf, need ? need : 1);
        if (!b) {
            close(fd);
            return vk_error(-ENOMEM, "out of memory");
        }
        *buf = b;
        *cap = need;
    }
    int r = vk_fd_pread_full(fd, *buf, size, 0, path);
    close(fd);
    if (r < 0)
        return r;
    memset(*buf + size, 0, need - size);
    *len = size;
    return 0;
}

/* Contract in boot/grub_install_int.h. */
int vk_grub_read_host(const char *path, size_t max, uint8_t **data, size_t *len)
{
    uint8_t *b = NULL;
    size_t cap = 0;
    int r = vk_grub_read_host_into(path, max, &b, &cap, len);
    if (r < 0) {
        free(b);
        return r;
    }
    *data = b;
    return 0;
}

static int cache_dir(const struct vk_grub_opts *o, char *buf, size_t len)
{
    const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    if (o->cache_dir)
        snprintf(buf, len, "%s", o->cache_dir);
    else if (xdg && *xdg)
        snprintf(buf, len, "%s/vmkit/grub", xdg);
    else if (home && *home)
        snprintf(buf, len, "%s/.cache/vmkit/grub", home);
    else
        return -ENOENT;
    /* mkdir -p; a cache that cannot be made only costs time */
    for (char *p = buf + 1;; p++) {
        if (*p && *p != '/')
            continue;
        char c = *p;
        *p = 0;
        if (mkdir(buf, 0755) < 0 && errno != EEXIST)
            return -errno;
        if (!(*p = c))
            break;
    }
    return 0;
}

static void hash_file(EVP_MD_CTX *h, const char *path)
{
    struct stat st;
    char line[4200];
    int n = stat(path, &st) < 0 ? snprintf(line, sizeof line, "%s -\n", path)
          : snprintf(line, sizeof line, "%s %lld %lld.%09ld\n", path, (long long)st.st_size,
                     (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
    EVP_DigestUpdate(h, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
}

/* The cache key: hex SHA-256 of what goes into the image. */
static int cache_key(const char *tool, const char *dir, const char *prefix, const char *config,
                     const char *const *modules, char hex[65])
{
    static const char *const files[] = { "kernel.img", "diskboot.img", "lzma_decompress.img",
                                         "moddep.lst" };
    EVP_MD_CTX *h = EVP_MD_CTX_new();
    if (!h || !EVP_DigestInit_ex(h, EVP_sha256(), NULL)) {
        EVP_MD_CTX_free(h);
        return vk_error(-ENOMEM, "SHA-256: out of memory");
    }
    EVP_DigestUpdate(h, "vmkit grub core 1\n", 18);
    hash_file(h, tool);
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
        char p[4200];
        snprintf(p, sizeof p, "%s/%s", dir, files[i]);
        hash_file(h, p);
    }
    for (size_t i = 0; modules[i]; i++) {
        EVP_DigestUpdate(h, modules[i], strlen(modules[i]));
        EVP_DigestUpdate(h, " ", 1);
    }
    EVP_DigestUpdate(h, "\nprefix ", 8);
    EVP_DigestUpdate(h, prefix, strlen(prefix));
    EVP_DigestUpdate(h, "\nconfig ", 8);
    if (config)
        EVP_DigestUpdate(h, config, strlen(config) + 1);
    unsigned char md[32];
    unsigned mdlen = 0;
    EVP_DigestFinal_ex(h, md, &mdlen);
    EVP_MD_CTX_free(h);
    for (unsigned i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
    return 0;
}

/* A temporary file in dir holding text; its path goes to path. */
static int temp_file(const char *dir, const char *text, char *path, size_t len)
{
    snprintf(path, len, "%s/.vmkit-grub-XXXXXX", dir);
    int fd = mkstemp(path);
    if (fd < 0)
        return vk_error(-errno, "%s: %s", path, strerror(errno));
    int r = text ? vk_fd_pwrite_full(fd, text, strlen(text), 0, path) : 0;
    close(fd);
    if (r < 0)
        unlink(path);
    return r;
}

static int run_mkimage(const char *tool, const char *dir, const char *workdir,
                       const char *prefix, const char *config, const char *const *modules,
                       char *out, size_t outlen)
{
    char cfg[4200] = "";
    int r;
    if ((r = temp_file(workdir, NULL, out, outlen)) < 0)
        return r;
    if (config && (r = temp_file(workdir, config, cfg, sizeof cfg)) < 0) {
        unlink(out);
        return r;
    }
    const char *argv[64] = { tool, "-O", "i386-pc", "-d", dir, "-o", out, "-p", prefix };
    size_t n = 9;
    if (config) {
        argv[n++] = "-c";
        argv[n++] = cfg;
    }
    for (size_t i = 0; modules[i] && n < 63; i++)
        argv[n++] = modules[i];
    char msg[2048];
    r = vk_run(argv, NULL, msg, sizeof msg);
    if (*cfg)
        unlink(cfg);
    if (r < 0)
        unlink(out);
    return r;
}

/* Contract in boot/grub_install_int.h. */
int vk_grub_mkimage(const struct vk_grub_opts *o, const char *prefix, const char *config,
                    const char *const *modules, struct vk_grub_core *core)
{
    const char *dir = o->grub_dir ? o->grub_dir : VK_GRUB_DIR_DEFAULT;
    char tool[4096], cdir[4096], hex[65], path[4200], tmp[4200];
    int r = vk_which(o->mkimage ? o->mkimage : "grub-mkimage", tool, sizeof tool);
    if (r < 0) {
        char why[512];
        snprintf(why, sizeof why, "%s", vk_errmsg());
        return vk_error(r, "%s (GRUB's core image builder: install Debian's grub-pc-bin, "
                        "as scripts/deps.sh does)", why);
    }
    memset(core, 0, sizeof *core);
    bool cached = !o->no_cache && cache_dir(o, cdir, sizeof cdir) == 0;
    if (cached) {
        if ((r = cache_key(tool, dir, prefix, config, modules, hex)) < 0)
            return r;
        snprintf(path, sizeof path, "%s/core-%s.img", cdir, hex);
        if (access(path, R_OK) == 0 &&
            vk_grub_read_host(path, VK_GRUB_CORE_MAX, &core->data, &core->len) == 0) {
            core->cache_hit = true;
            return 0;
        }
        vk_error_clear();
    }
    const char *work = cached ? cdir : getenv("TMPDIR") && *getenv("TMPDIR") ? getenv("TMPDIR")
                                                                            : "/tmp";
    if ((r = run_mkimage(tool, dir, work, prefix, config, modules, tmp, sizeof tmp)) < 0)
        return r;
    r = vk_grub_read_host(tmp, VK_GRUB_CORE_MAX, &core->data, &core->len);
    /* publish atomically: a reader never sees half an image */
    if (r < 0 || !cached || rename(tmp, path) < 0)
        unlink(tmp);
    return r;
}
