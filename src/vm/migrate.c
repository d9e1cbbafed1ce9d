/* vmkit migrate, the sending end (contract and conversation in migrate.h;
 * the receiving end is migrecv.c, the bytes migproto.h). */
#include "vm/migrate.h"
#include "vm/hotplug.h"
#include "vm/migcopy.h"
#include "vm/migproto.h"
#include "vm/migstream.h"
#include "vm/migtls.h"
#include "vm/save_int.h"
#include "util/endian.h"
#include "util/err.h"
#include "util/file.h"
#include "util/str.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define READY_MS      60000    /* ssh and the receiver's checks */
#define LOADED_MS     180000   /* the receiver loads, resumes, defines */
#define MAX_ARGS      64

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The receiver: a child process, its stdin (to), stdout (from) and a
 * temporary file holding its stderr. */
struct peer {
    const char *host;
    pid_t pid;
    int to, from, err;
    int said;              /* it answered "error: ..." (its words are in the message) */
};

/* Start "SSHCOMMAND HOST vmkit migrate-receive". */
static int spawn(const char *sshcmd, const char *host, const char *storage_dir, int nbd_port,
                 int tls, struct peer *p)
{
    char *words = strdup(sshcmd), *argv[MAX_ARGS + 8], *save = NULL, port[16];
    int n = 0;
    if (!words)
        return vk_error(-ENOMEM, "out of memory");
    for (char *w = strtok_r(words, " \t", &save); w && n < MAX_ARGS; w = strtok_r(NULL, " \t", &save))
        argv[n++] = w;
    if (n == 0 || n == MAX_ARGS) {
        free(words);
        return vk_error(-EINVAL, "'%s': not a usable ssh command", sshcmd);
    }
    argv[n++] = (char *)host;
    argv[n++] = "vmkit";
    argv[n++] = "migrate-receive";
    if (storage_dir) {
        argv[n++] = "--storage-dir";
        argv[n++] = (char *)storage_dir;
    }
    if (nbd_port) {
        snprintf(port, sizeof port, "%d", nbd_port);
        argv[n++] = "--nbd-port";
        argv[n++] = port;
    }
    if (tls)
        argv[n++] = "--tls";
    argv[n] = NULL;
    int in[2], out[2], err;
    char tmpl[] = "/tmp/vmkit-migrate-XXXXXX";
    p->err = mkostemp(tmpl, O_CLOEXEC);
    if (p->err < 0) {
        free(words);
        return vk_error(-errno, "%s: %s", tmpl, strerror(errno));
    }
    unlink(tmpl);
    if (pipe2(in, O_CLOEXEC) < 0) {
        err = vk_error(-errno, "pipe: %s", strerror(errno));
        goto fail;
    }
    if (pipe2(out, O_CLOEXEC) < 0) {
        err = vk_error(-errno, "pipe: %s", strerror(errno));
        close(in[0]);
        close(in[1]);
        goto fail;
    }
    p->pid = fork();
    if (p->pid == 0) {
        dup2(in[0], 0);
        dup2(out[1], 1);
        dup2(p->err, 2);
        signal(SIGPIPE, SIG_DFL);
        execvp(argv[0], argv);
        dprintf(2, "%s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    err = p->pid < 0 ? vk_error(-errno, "fork: %s", strerror(errno)) : 0;
    close(in[0]);
    close(out[1]);
    p->to = in[1];
    p->from = out[0];
    free(words);
    return err;
fail:
    close(p->err);
    p->err = -1;
    free(words);
    return err;
}

/* The last lines the receiver wrote to its stderr, on one line. */
static void peer_stderr(const struct peer *p, char *buf, size_t len)
{
    char t[2048];
    buf[0] = 0;
    off_t end = lseek(p->err, 0, SEEK_END);
    if (end <= 0)
        return;
    off_t from = end > (off_t)sizeof t - 1 ? end - (off_t)sizeof t + 1 : 0;
    ssize_t n = pread(p->err, t, sizeof t - 1, from);
    if (n <= 0)
        return;
    t[n] = 0;
    char *s = vk_trim(t);
    for (char *c = s; *c; c++)
        if (*c == '\n')
            *c = ';';
    snprintf(buf, len, "%s", s);
}

/* Wait (at most ms) for the receiver to end; kill it after that.  Its
 * exit status (or -1). */
static int peer_wait(struct peer *p, int ms)
{
    int status = 0;
    long long end = now_ms() + ms;
    while (p->pid > 0) {
        pid_t r = waitpid(p->pid, &status, WNOHANG);
        if (r < 0 && errno == EINTR)
            continue;
        if (r != 0) {
            p->pid = 0;
            return r > 0 && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        }
        if (now_ms() >= end) {
            kill(p->pid, SIGKILL);   /* our own child */
            end = now_ms() + 60000;
        }
        poll(NULL, 0, 10);
    }
    return -1;
}

/* The receiver is gone (or hangs): its exit and its stderr. */
static int peer_gone(struct peer *p, int err, const char *what)
{
    if (p->to >= 0)
        close(p->to);
    p->to = -1;
    int st = peer_wait(p, 5000);
    char why[1024];
    peer_stderr(p, why, sizeof why);
    return vk_error(err, "%s: the receiver %s (exit status %d)%s%s", p->host, what, st,
                    *why ? ": " : "", why);
}

/* Write all of len bytes to the receiver. */
static int peer_write(struct peer *p, const void *buf, size_t len)
{
    const char *b = buf;
    while (len) {
        ssize_t w = write(p->to, b, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return peer_gone(p, -EPIPE, "went away");
        b += w;
        len -= (size_t)w;
    }
    return 0;
}

/* Read the receiver's next line into line[1024]: 0, or -EIO "HOST
 * refused: WHY" for its "error: WHY". */
static int peer_line(struct peer *p, char *line, int ms)
{
    size_t n = 0;
    long long end = now_ms() + ms;
    for (;;) {
        struct pollfd pf = { .fd = p->from, .events = POLLIN };
        long long left = end - now_ms();
        int r = left > 0 ? poll(&pf, 1, (int)left) : 0;
        if (r < 0 && errno == EINTR)
            continue;
        if (r == 0)
            return peer_gone(p, -ETIMEDOUT, "did not answer in time");
        char c;
        ssize_t got = read(p->from, &c, 1);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            return peer_gone(p, -EPIPE, "ended without answering");
        if (c == '\n')
            break;
        if (n < 1023)
            line[n++] = c;
    }
    line[n] = 0;
    if (!strncmp(line, "error: ", 7)) {
        p->said = 1;
        return vk_error(-EIO, "%s refused: %s", p->host, line + 7);
    }
    return 0;
}

/* Read the receiver's next line and expect want. */
static int peer_expect(struct peer *p, const char *want, int ms)
{
    char line[1024];
    int err = peer_line(p, line, ms);
    if (err || !strcmp(line, want))
        return err;
    return vk_error(-EPROTO, "%s: the receiver answered '%.200s' (is vmkit there?)", p->host,
                    line);
}

/* The sink: QEMU's stream in frames, hashed. */
struct fsink {
    struct peer *p;
    EVP_MD_CTX *md;
    uint64_t bytes;
    int err;
    char msg[1024];          /* the sink's own error (vk_mig_send cancels
                              * QEMU's migration after it, which records
                              * its own) */
};

static int frame_write(void *ctx, const void *buf, size_t len)
{
    struct fsink *s = ctx;
    const char *b = buf;
    while (len) {
        size_t c = len < VK_MIG_FRAME_MAX ? len : VK_MIG_FRAME_MAX;
        uint8_t h[4];
        vk_put_le32(h, (uint32_t)c);
        int err = peer_write(s->p, h, 4);
        if (!err)
            err = peer_write(s->p, b, c);
        if (err) {
            s->err = err;
            snprintf(s->msg, sizeof s->msg, "%s", vk_errmsg_for(err));
            return err;
        }
        EVP_DigestUpdate(s->md, b, c);
        s->bytes += c;
        b += c;
        len -= c;
    }
    return 0;
}

/* pygrub's kernel and initrd of a VM, read to be sent. */
struct bootfiles {
    char *data[2];
    size_t len[2];
    int n;
};

/* Read pygrub's kernel and initrd of dir, and describe them in meta's
 * "files" (offsets as a save file has them); their total length into
 * *total. */
static int describe_files(const char *dir, json_t *meta, struct bootfiles *bf, uint64_t *total)
{
    static const char *const names[] = { "kernel", "initrd" };
    json_t *arr = json_array();
    *total = 0;
    for (int i = 0; i < 2; i++) {
        char path[4200];
        int err = vk_pathf(path, sizeof path, "%s/%s", dir, names[i]);
        if (!err && i == 1 && access(path, F_OK) < 0)
            break;
        if (!err)
            err = vk_read_small_file(path, VK_MIG_MAX_FILES - *total, &bf->data[i], &bf->len[i]);
        if (err < 0) {
            json_decref(arr);
            return err;
        }
        bf->n = i + 1;
        uint8_t sha[32];
        char hex[65];
        EVP_Digest(bf->data[i], bf->len[i], sha, NULL, EVP_sha256(), NULL);
        for (int k = 0; k < 32; k++)
            snprintf(hex + 2 * k, 3, "%02x", sha[k]);
        json_array_append_new(arr, json_pack("{s:s, s:I, s:I, s:s}", "name", names[i], "offset",
                                             (json_int_t)(VK_SAVE_HDR + *total), "length",
                                             (json_int_t)bf->len[i], "sha256", hex));
        *total += bf->len[i];
    }
    json_object_set_new(meta, "files", arr);
    return 0;
}

/* Header and metadata to the receiver; wait for its "ready". */
static int offer(struct peer *p, json_t *meta, uint64_t files_len, int flags)
{
    char *text = json_dumps(meta, JSON_COMPACT);
    if (!text)
        return vk_error(-ENOMEM, "out of memory");
    struct vk_mighdr h = { .flags = (flags & VK_MIGRATE_LIVE ? VK_MIG_LIVE : 0) |
                                    (flags & VK_MIGRATE_COPY ? VK_MIG_COPY : 0),
                           .meta_len = strlen(text), .files_len = files_len };
    uint8_t b[VK_MIG_HDR];
    EVP_Digest(text, h.meta_len, h.meta_sha, NULL, EVP_sha256(), NULL);
    vk_mighdr_encode(&h, b);
    int err = peer_write(p, b, sizeof b);
    if (!err)
        err = peer_write(p, text, h.meta_len);
    free(text);
    return err ? err : peer_expect(p, "ready", READY_MS);
}

/* The stream (after the boot files), its end and trailer; wait for "ok". */
static int transfer(struct peer *p, struct vk_qmp *q, const char *dir,
                    const struct bootfiles *bf, struct vk_copyset *cs, const char *tls_host,
                    struct vk_migrate_stats *st, long long *stop_at)
{
    int err = 0;
    for (int i = 0; i < bf->n && !err; i++)
        err = peer_write(p, bf->data[i], bf->len[i]);
    if (err)
        return err;
    if (cs->n) {
        /* the receiver's QEMU exports the new disks: copy them first */
        char line[1024], sock[108];
        int port;
        if ((err = peer_line(p, line, READY_MS)) < 0 ||
            (err = vk_mignbd_parse(line, p->host, sock, sizeof sock, &port)) < 0 ||
            (err = vk_copy_mirror(q, cs, sock, p->host, port, tls_host ? VK_MIGTLS_ID : NULL,
                                  tls_host)) < 0)
            return err;
    }
    struct fsink fs = { .p = p, .md = EVP_MD_CTX_new() };
    if (!fs.md || !EVP_DigestInit_ex(fs.md, EVP_sha256(), NULL)) {
        EVP_MD_CTX_free(fs.md);
        return vk_error(-ENOMEM, "out of memory");
    }
    struct vk_mig_sink sink = { frame_write, &fs };
    struct vk_mig_stats ms;
    err = vk_mig_send(q, dir, &sink, &ms);
    if (err && fs.err)
        vk_error(err, "%s", fs.msg);
    uint8_t end[4 + VK_MIG_TRAILER], sha[32];
    if (!err) {
        st->stream_bytes = ms.bytes;
        st->total_ms = ms.total_ms;
        st->downtime_ms = ms.downtime_ms;
        if (!*stop_at)   /* live: QEMU stopped it for its last pass */
            *stop_at = now_ms() - ms.downtime_ms;
        /* the guest is stopped: the copies are complete and consistent */
        err = vk_copy_finish(q, cs, 0);
    }
    if (!err) {
        EVP_DigestFinal_ex(fs.md, sha, NULL);
        vk_put_le32(end, 0);
        vk_migtrailer_encode(fs.bytes, sha, end + 4);
        err = peer_write(p, end, sizeof end);
    }
    EVP_MD_CTX_free(fs.md);
    return err ? err : peer_expect(p, "ok", LOADED_MS);
}

/* Contract in migrate.h. */
int vk_vm_migrate(const char *name, const char *sshcmd, const char *host, int flags,
                  const char *storage_dir, int nbd_port, struct vk_migrate_stats *st)
{
    long long t0 = now_ms();
    struct vk_migrate_stats local;
    struct vk_vminfo info;
    struct vk_qmp *q;
    struct peer p = { .host = host, .to = -1, .from = -1, .err = -1 };
    struct bootfiles bf = { 0 };
    struct vk_copyset cs = { 0 };
    json_t *meta = NULL;
    if (!st)
        st = &local;
    memset(st, 0, sizeof *st);
    int lk, err = vk_vm_qmp_open(name, &info, &lk, &q);
    if (err)
        return err;
    char state[64];
    int was_running = 0;
    uint64_t files_len = 0;
    if (info.cfg.nomigrate == 1) {
        err = vk_error(-EPERM, "%s: its config sets nomigrate = 1: it is not to be migrated", name);
        goto out;
    }
    if ((err = vk_hp_movable(&info)) < 0 || (err = vk_qmp_runstate(q, state, sizeof state)) < 0)
        goto out;
    if (strcmp(state, "running") && strcmp(state, "paused")) {
        err = vk_error(-EINVAL, "%s: cannot migrate a VM in state %s", name, state);
        goto out;
    }
    was_running = !strcmp(state, "running");
    char tls_host[256];
    int tls = 0;
    if ((flags & VK_MIGRATE_TLS) && (err = vk_migtls_client(q, host, tls_host, sizeof tls_host)) < 0)
        goto out;
    tls = (flags & VK_MIGRATE_TLS) != 0;
    if ((err = spawn(sshcmd ? sshcmd : "ssh", host, storage_dir, nbd_port, tls, &p)) < 0 ||
        (err = vk_save_meta(q, &info, &meta)) < 0 ||
        ((flags & VK_MIGRATE_COPY) && (err = vk_copy_collect(q, &info.cfg, meta, &cs)) < 0) ||
        (info.cfg.bootloader && (err = describe_files(info.dir, meta, &bf, &files_len)) < 0))
        goto fail;
    /* as xl: not live, the CPUs stop first and the RAM goes once */
    long long stop_at = 0;
    if (was_running && !(flags & VK_MIGRATE_LIVE)) {
        if ((err = vk_qmp_execute(q, "stop", NULL, NULL, VK_QMP_WAIT_MS)) < 0)
            goto fail;
        stop_at = now_ms();
    }
    if ((err = offer(&p, meta, files_len, flags)) < 0 ||
        (err = transfer(&p, q, info.dir, &bf, &cs, tls ? tls_host : NULL, st, &stop_at)) < 0)
        goto fail;
    st->stopped_ms = was_running ? now_ms() - stop_at : 0;
    /* the receiver runs the VM: only now does this one end */
    close(p.to);
    p.to = -1;
    peer_wait(&p, 10000);
    if ((err = vk_save_quit(q, &info)) < 0)
        vk_error_prefix(err, "%s: migrated to %s, but ending it here failed: ", name, host);
    goto out;
fail: {
        char keep[1536];
        snprintf(keep, sizeof keep, "%s", vk_errmsg_for(err));
        vk_copy_finish(q, &cs, 1);   /* the copies there are dropped */
        if (tls)
            vk_migtls_drop(q);
        if (p.to >= 0)
            close(p.to);
        p.to = -1;
        if (p.pid > 0 && !p.said && err != -EPIPE && err != -ETIMEDOUT) {
            /* its stderr says more than our side of the pipe */
            peer_wait(&p, 5000);
            char why[1024];
            peer_stderr(&p, why, sizeof why);
            if (*why)
                snprintf(keep + strlen(keep), sizeof keep - strlen(keep), " (%s: %s)", host, why);
        }
        /* the VM runs on here as it did (QEMU left it stopped, in
         * postmigrate after a complete stream, when it was not live) */
        const char *resume = "";
        if (was_running && vk_qmp_runstate(q, state, sizeof state) == 0 &&
            strcmp(state, "running") &&
            vk_qmp_execute(q, "cont", NULL, NULL, VK_QMP_WAIT_MS) < 0)
            resume = " (and resuming it failed)";
        vk_error(err, "%s: migration to %s failed: %s; %s %s here%s", name, host, keep, name,
                 was_running ? "runs on" : "stays paused", resume);
    }
out:
    if (p.to >= 0)
        close(p.to);
    if (p.from >= 0)
        close(p.from);
    if (p.pid > 0)
        peer_wait(&p, 60000);   /* a receiver cleaning up after a failure (ASan, load) */
    if (p.err >= 0)
        close(p.err);
    for (int i = 0; i < bf.n; i++)
        free(bf.data[i]);
    vk_copyset_free(&cs);
    json_decref(meta);
    vk_qmp_close(q);
    vk_rt_unlock(lk);
    vk_vminfo_free(&info);
    st->ms = now_ms() - t0;
    return err;
}
