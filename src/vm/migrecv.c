/* vmkit migrate-receive, the receiving end (contract and conversation in
 * migrate.h, the bytes in migproto.h). */
#include "vm/migrate.h"
#include "vm/control.h"
#include "vm/migcopy.h"
#include "vm/migproto.h"
#include "vm/migstream.h"
#include "vm/migtls.h"
#include "vm/monitor.h"
#include "vm/save_int.h"
#include "vm/store.h"
#include "util/endian.h"
#include "util/err.h"
#include "util/str.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define WHAT "migration stream"

/* Read exactly len bytes from fd: 0, or -EPIPE "migration stream:
 * truncated (...)" at an early end. */
static int read_full(int fd, void *buf, size_t len, const char *part)
{
    char *b = buf;
    size_t got = 0;
    while (got < len) {
        ssize_t n = read(fd, b + got, len - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return vk_error(-errno, WHAT ": %s", strerror(errno));
        if (n == 0)
            return vk_error(-EPIPE, WHAT ": truncated (%zu of %zu bytes of %s; the sender "
                            "went away)", got, len, part);
        got += (size_t)n;
    }
    return 0;
}

/* The stream source: frames from the sender, hashed, up to the trailer. */
struct fsrc {
    int fd;
    EVP_MD_CTX *md;
    uint64_t bytes;
    uint32_t left;           /* of the current frame */
    int done;
};

static ssize_t frame_read(void *ctx, void *buf, size_t len)
{
    struct fsrc *s = ctx;
    if (s->done)
        return 0;
    if (!s->left) {
        uint8_t h[4];
        int err = read_full(s->fd, h, 4, "a frame header");
        if (err)
            return err;
        s->left = vk_get_le32(h);
        if (s->left > VK_MIG_FRAME_MAX)
            return vk_error(-EBADMSG, WHAT ": frame of %u bytes (at most %u)", s->left,
                            VK_MIG_FRAME_MAX);
        if (!s->left) {
            /* the end: the trailer must describe what came */
            uint8_t t[VK_MIG_TRAILER], sha[32];
            if ((err = read_full(s->fd, t, sizeof t, "the trailer")) < 0)
                return err;
            EVP_DigestFinal_ex(s->md, sha, NULL);
            if ((err = vk_migtrailer_check(t, s->bytes, sha, WHAT)) < 0)
                return err;
            s->done = 1;
            return 0;
        }
    }
    if (len > s->left)
        len = s->left;
    int err = read_full(s->fd, buf, len, "a frame");
    if (err)
        return err;
    EVP_DigestUpdate(s->md, buf, len);
    s->left -= (uint32_t)len;
    s->bytes += len;
    return (ssize_t)len;
}

/* vk_start_opts.boot_files: pygrub's kernel and initrd off the pipe. */
struct bootctx {
    int fd;
    const struct vk_savemeta *m;
};

static int receive_boot(const char *dir, void *ctx)
{
    const struct bootctx *b = ctx;
    char *buf = malloc(1u << 20);
    if (!buf)
        return vk_error(-ENOMEM, "out of memory");
    int err = 0;
    for (int i = 0; i < b->m->nfiles && !err; i++) {
        const struct vk_savefile_blob *f = &b->m->files[i];
        char path[4200];
        if (strcmp(f->name, i ? "initrd" : "kernel")) {
            err = vk_error(-EINVAL, WHAT ": boot file %d is '%s'", i, f->name);
            break;
        }
        if ((err = vk_pathf(path, sizeof path, "%s/%s", dir, f->name)) < 0)
            break;
        int out = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (out < 0) {
            err = vk_error(-errno, "%s: %s", path, strerror(errno));
            break;
        }
        EVP_MD_CTX *md = EVP_MD_CTX_new();
        uint8_t sha[32];
        if (!md || !EVP_DigestInit_ex(md, EVP_sha256(), NULL))
            err = vk_error(-ENOMEM, "out of memory");
        for (uint64_t left = f->len; !err && left;) {
            size_t c = left < (1u << 20) ? (size_t)left : (1u << 20);
            if ((err = read_full(b->fd, buf, c, f->name)) < 0)
                break;
            EVP_DigestUpdate(md, buf, c);
            if (write(out, buf, c) != (ssize_t)c)
                err = vk_error(-EIO, "%s: short write", path);
            left -= c;
        }
        if (!err && (!EVP_DigestFinal_ex(md, sha, NULL) || memcmp(sha, f->sha, 32)))
            err = vk_error(-EBADMSG, WHAT ": the %s is damaged (checksum)", f->name);
        EVP_MD_CTX_free(md);
        close(out);
    }
    free(buf);
    if (!err && !b->m->nfiles)
        err = vk_error(-EINVAL, WHAT ": no kernel for bootloader = \"pygrub\"");
    return err;
}

/* Header and metadata off the pipe; the config the VM will run with.
 * Refused: a name or uuid already in use here. */
static int read_offer(int in, struct vk_mighdr *h, struct vk_savemeta *m, struct vk_domcfg *cfg,
                      struct vk_migdisk **disks, int *ndisks)
{
    uint8_t b[VK_MIG_HDR];
    int err = read_full(in, b, sizeof b, "the header");
    if (err || (err = vk_mighdr_parse(b, sizeof b, WHAT, h)) < 0)
        return err;
    char *json = malloc(h->meta_len);
    if (!json)
        return vk_error(-ENOMEM, "out of memory");
    if ((err = read_full(in, json, h->meta_len, "the metadata")) == 0 &&
        (err = vk_migmeta_parse(json, h, WHAT, m)) == 0 &&
        (err = vk_migdisks_parse(json, h->meta_len, WHAT, disks, ndisks)) < 0)
        vk_savemeta_free(m);
    free(json);
    if (err)
        return err;
    if (!(h->flags & VK_MIG_COPY) != !*ndisks) {
        free(*disks);
        vk_savemeta_free(m);
        return vk_error(-EINVAL, WHAT ": %s", *ndisks ? "disks to copy without copy storage"
                                                      : "copy storage without disks to copy");
    }
    struct vk_restore_opts none = { 0 };
    if ((err = vk_save_config(WHAT, m, &none, cfg)) < 0) {
        vk_savemeta_free(m);
        return err;
    }
    struct vk_domcfg old;
    struct vk_vminfo info;
    if (!cfg->name || !vk_name_valid(cfg->name))
        err = vk_error(-EINVAL, WHAT ": the config names no valid VM");
    else if (h->files_len && !cfg->bootloader)
        err = vk_error(-EINVAL, WHAT ": boot files for a VM without a bootloader");
    else if (vk_rt_info(cfg->name, 0, &info) == 0) {
        vk_vminfo_free(&info);
        err = vk_error(-EEXIST, "%s: a VM of that name is already running here", cfg->name);
    } else if (vk_store_load(cfg->name, &old) == 0) {
        vk_domcfg_free(&old);
        err = vk_error(-EEXIST, "%s: a VM of that name is already defined here", cfg->name);
    } else {
        err = vk_store_uuid_check(cfg);
    }
    if (err) {
        vk_domcfg_free(cfg);
        vk_savemeta_free(m);
        free(*disks);
    }
    return err;
}

/* One answer line to the sender. */
static void answer(int out, const char *line)
{
    size_t len = strlen(line);
    while (len) {
        ssize_t w = write(out, line, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return;   /* the sender is gone: nobody to tell */
        line += w;
        len -= (size_t)w;
    }
}

/* Load the stream into the paused VM cfg->name, check it, resume it.
 * With disks to copy, export them first and tell the sender where. */
static int load(int in, int out, const struct vk_domcfg *cfg, const struct vk_migdisk *disks,
                int ndisks, int port, int tls)
{
    struct vk_vminfo info;
    struct vk_qmp *q;
    int lk, err = vk_vm_qmp_open(cfg->name, &info, &lk, &q);
    if (err)
        return err;
    char sock[200] = "";
    int exported = 0;
    if (tls && (err = vk_migtls_server(q)) < 0)
        goto out;
    if (ndisks) {
        char line[240];
        if ((err = vk_copy_export(q, info.dir, cfg, disks, ndisks, port, tls ? VK_MIGTLS_ID : NULL,
                                  sock, sizeof sock)) == 0) {
            exported = 1;
            if (port)
                snprintf(line, sizeof line, "nbd tcp:%d\n", port);
            else
                snprintf(line, sizeof line, "nbd unix:%s\n", sock);
            answer(out, line);
        }
    }
    struct fsrc fs = { .fd = in, .md = EVP_MD_CTX_new() };
    if (!fs.md || !EVP_DigestInit_ex(fs.md, EVP_sha256(), NULL))
        err = vk_error(-ENOMEM, "out of memory");
    struct vk_mig_source src = { frame_read, &fs };
    if (!err)
        err = vk_mig_recv(q, info.dir, info.pid, &src, NULL);
    /* the trailer came after the sender's copies ended: stop serving the
     * disks before the guest runs */
    if (exported) {
        char keep[1024];
        snprintf(keep, sizeof keep, "%s", err ? vk_errmsg_for(err) : "");
        int e = vk_copy_unexport(q, sock);
        if (err)
            vk_error(err, "%s", keep);   /* the first error is the one to tell */
        else
            err = e;
    }
    /* QEMU may have all it needs before the trailer came: the VM runs
     * only when the trailer matched too */
    if (!err && !fs.done)
        err = vk_error(-EBADMSG, WHAT ": QEMU's stream ended before the sender's");
    if (!err && (err = vk_qmp_execute(q, "cont", NULL, NULL, VK_QMP_WAIT_MS)) == 0)
        vk_rt_write(info.dir, "state", "running", 7);
    EVP_MD_CTX_free(fs.md);
out:
    vk_qmp_close(q);
    vk_rt_unlock(lk);
    vk_vminfo_free(&info);
    return err;
}

/* Contract in migrate.h. */
int vk_vm_migrate_receive(int in, int out, const char *storage_dir, int nbd_port, int tls,
                          char *name_out, size_t len)
{
    struct vk_mighdr h;
    struct vk_savemeta m;
    struct vk_domcfg cfg;
    struct vk_migdisk *disks = NULL;
    char **created = NULL;
    int ndisks = 0, started = 0, err = read_offer(in, &h, &m, &cfg, &disks, &ndisks);
    if (err)
        goto reply;
    if (name_out)
        snprintf(name_out, len, "%s", cfg.name);
    answer(out, "ready\n");
    struct bootctx bc = { in, &m };
    struct vk_start_opts so = { .paused = 1, .incoming = 1, .boot_files = receive_boot,
                                .boot_ctx = &bc, .boot_append = m.append };
    if (ndisks)
        err = vk_copy_create(&cfg, disks, ndisks, storage_dir, &created);
    if (!err && (err = vk_vm_start(&cfg, &so)) == 0) {
        started = 1;
        if ((err = load(in, out, &cfg, disks, ndisks, nbd_port, tls)) == 0)
            err = vk_store_define(&cfg);
    }
    if (err && (started || created)) {
        char keep[1024];
        snprintf(keep, sizeof keep, "%s", vk_errmsg_for(err));
        if (started)
            vk_vm_destroy(cfg.name);   /* nothing half-received stays */
        vk_error(err, "%s", keep);
    }
    vk_copy_remove(created, err != 0);
    free(disks);
    vk_domcfg_free(&cfg);
    vk_savemeta_free(&m);
reply:
    if (!err) {
        answer(out, "ok\n");
        return 0;
    }
    char line[1200];
    snprintf(line, sizeof line, "error: %.1100s", vk_errmsg_for(err));
    for (char *c = line; *c; c++)
        if (*c == '\n')
            *c = ' ';
    strcat(line, "\n");   /* fits: 7 + 1100 < 1200 */
    answer(out, line);
    return err;
}
