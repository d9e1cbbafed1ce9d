/* vmkit save / restore (contract in save.h). */
#include "vm/save.h"
#include "vm/hotplug.h"
#include "vm/control.h"
#include "vm/migstream.h"
#include "vm/monitor.h"
#include "vm/save_int.h"
#include "vm/savefile.h"
#include "util/err.h"
#include "util/str.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* QEMU's argv from DIR/argv (NUL-separated) as a JSON array, and the
 * word after -append into *append (malloc'd, NULL if none). */
static json_t *saved_argv(const char *dir, char **append)
{
    *append = NULL;
    char *b = malloc(4u << 20);   /* argv is bounded by the config's 1 MiB */
    json_t *a = json_array();
    if (!b || !a) {
        free(b);
        return a;
    }
    int n = vk_rt_read(dir, "argv", b, 4u << 20);
    for (int i = 0; n > 0 && i < n; i += (int)strlen(b + i) + 1) {
        json_array_append_new(a, json_string(b + i));
        if (!strcmp(b + i, "-append") && i + (int)strlen(b + i) + 1 < n && !*append)
            *append = strdup(b + i + strlen(b + i) + 1);
    }
    free(b);
    vk_error_clear();
    return a;
}

/* Contract in save_int.h. */
int vk_save_meta(struct vk_qmp *q, struct vk_vminfo *info, json_t **out)
{
    char *mach = NULL, *append = NULL, ver[64] = "";
    int err = vk_mig_machine(q, info->cfg.machine, &mach);
    if (err)
        return err;
    free(info->cfg.machine);
    info->cfg.machine = mach;
    json_t *v = NULL;
    if (vk_qmp_execute(q, "query-version", NULL, &v, VK_QMP_WAIT_MS) == 0) {
        json_t *qv = json_object_get(v, "qemu");
        snprintf(ver, sizeof ver, "%lld.%lld.%lld",
                 (long long)json_integer_value(json_object_get(qv, "major")),
                 (long long)json_integer_value(json_object_get(qv, "minor")),
                 (long long)json_integer_value(json_object_get(qv, "micro")));
    }
    json_decref(v);
    vk_error_clear();
    char *text = vk_domcfg_format(&info->cfg);
    if (!text)
        return -ENOMEM;
    json_t *argv = saved_argv(info->dir, &append);
    json_t *m = json_pack("{s:s, s:s%, s:s, s:o, s:I}", "config", text, "accel",
                          info->accel, (size_t)3, "qemu", ver, "argv", argv ? argv : json_array(),
                          "created", (json_int_t)time(NULL));
    free(text);
    if (m && append && info->cfg.bootloader)
        json_object_set_new(m, "append", json_string(append));
    free(append);
    if (!m)
        return vk_error(-ENOMEM, "out of memory");
    *out = m;
    return 0;
}

/* Contract in save_int.h. */
int vk_save_quit(struct vk_qmp *q, const struct vk_vminfo *info)
{
    int err = vk_qmp_execute(q, "quit", NULL, NULL, VK_QMP_WAIT_MS);
    if (err == -ECONNRESET || err == -EPIPE) {
        vk_error_clear();
        err = 0;
    }
    if (err)
        return err;
    struct stat st;
    long long end = now_ms() + 20000;
    while (stat(info->dir, &st) == 0 && now_ms() < end)
        poll(NULL, 0, 5);
    return 0;
}

/* Contract in save.h. */
int vk_vm_save(const char *name, const char *path, int flags, struct vk_save_stats *st)
{
    long long t0 = now_ms();
    struct vk_vminfo info;
    struct vk_qmp *q;
    struct vk_savefile_w *w = NULL;
    struct vk_save_stats local = { 0 };
    if (!st)
        st = &local;
    memset(st, 0, sizeof *st);
    int lk, err = vk_vm_qmp_open(name, &info, &lk, &q);
    if (err)
        return err;
    char state[64];
    int was_running = 0, stopped = 0;
    json_t *meta = NULL;
    if ((err = vk_hp_movable(&info)) < 0 ||
        (err = vk_savefile_create(path, flags & VK_SAVE_COMPRESS, &w)) < 0 ||
        (err = vk_qmp_runstate(q, state, sizeof state)) < 0)
        goto fail;
    if (strcmp(state, "running") && strcmp(state, "paused")) {
        err = vk_error(-EINVAL, "%s: cannot save a VM in state %s", name, state);
        goto fail;
    }
    was_running = !strcmp(state, "running");
    /* the CPUs stop first: the RAM goes out once, as it is at this moment */
    if (was_running && (err = vk_qmp_execute(q, "stop", NULL, NULL, VK_QMP_WAIT_MS)) < 0)
        goto fail;
    stopped = was_running;
    if ((err = vk_save_meta(q, &info, &meta)) < 0)
        goto fail;
    if (info.cfg.bootloader) {
        /* the kernel and initrd pygrub took out of the disk: the guest's
         * memory holds them, and a reboot after restore boots them again */
        char k[4200], i[4200];
        snprintf(k, sizeof k, "%s/kernel", info.dir);
        snprintf(i, sizeof i, "%s/initrd", info.dir);
        if ((err = vk_savefile_add(w, "kernel", k)) < 0 ||
            (access(i, F_OK) == 0 && (err = vk_savefile_add(w, "initrd", i)) < 0))
            goto fail;
    }
    struct vk_mig_sink sink;
    struct vk_mig_stats ms;
    vk_savefile_sink(w, &sink);
    if ((err = vk_mig_send(q, info.dir, &sink, &ms)) < 0) {
        vk_error_prefix(err, "%s: ", name);
        goto fail;
    }
    st->stream_bytes = ms.bytes;
    err = vk_savefile_finish(w, meta);
    w = NULL;
    if (err)
        goto fail;
    struct stat fs;
    if (stat(path, &fs) == 0)
        st->file_bytes = (uint64_t)fs.st_size;
    if (flags & VK_SAVE_PAUSED)
        err = 0;                          /* stays stopped (postmigrate) */
    else if (flags & VK_SAVE_KEEP)
        err = was_running ? vk_qmp_execute(q, "cont", NULL, NULL, VK_QMP_WAIT_MS) : 0;
    else
        err = vk_save_quit(q, &info);
    if (err)
        vk_error_prefix(err, "%s: saved to %s, but: ", name, path);
    else if (flags & (VK_SAVE_PAUSED | VK_SAVE_KEEP)) {
        const char *now = (flags & VK_SAVE_PAUSED) || !was_running ? "paused" : "running";
        vk_rt_write(info.dir, "state", now, strlen(now));
    }
    goto out;
fail:
    vk_savefile_abort(w);
    w = NULL;
    if (stopped) {
        /* the VM runs on as before; keep the first error's message */
        char keep[1024];
        snprintf(keep, sizeof keep, "%s", vk_errmsg_for(err));
        if (vk_qmp_execute(q, "cont", NULL, NULL, VK_QMP_WAIT_MS) < 0)
            vk_error(err, "%s (and resuming the VM failed: %s)", keep, vk_errmsg());
        else
            vk_error(err, "%s", keep);
    }
out:
    json_decref(meta);
    vk_qmp_close(q);
    vk_rt_unlock(lk);
    vk_vminfo_free(&info);
    st->ms = now_ms() - t0;
    return err;
}

/* vk_start_opts.boot_files: pygrub's kernel and initrd out of the file. */
static int extract_boot(const char *dir, void *ctx)
{
    struct vk_savefile *f = ctx;
    char k[4200], i[4200];
    int err;
    if ((err = vk_pathf(k, sizeof k, "%s/kernel", dir)) < 0 ||
        (err = vk_pathf(i, sizeof i, "%s/initrd", dir)) < 0)
        return err;
    if ((err = vk_savefile_extract(f, "kernel", k)) == -ENOENT)
        return vk_error(-EINVAL, "the save file holds no kernel for bootloader = \"pygrub\"");
    if (err < 0)
        return err;
    err = vk_savefile_extract(f, "initrd", i);
    return err == -ENOENT ? 0 : err;
}

/* Contract in save_int.h. */
int vk_save_config(const char *path, const struct vk_savemeta *m,
                          const struct vk_restore_opts *o, struct vk_domcfg *cfg)
{
    int err = vk_domcfg_parse(m->config, strlen(m->config), path, cfg);
    if (err)
        return err;
    if (o->name) {
        /* another VM: its own name and uuid (the first may run on) */
        char *n = strdup(o->name);
        if (!n) {
            vk_domcfg_free(cfg);
            return vk_error(-ENOMEM, "out of memory");
        }
        free(cfg->name);
        cfg->name = n;
        free(cfg->uuid);
        cfg->uuid = NULL;
    }
    for (int i = 0; i < o->n_overrides && !err; i++)
        err = vk_domcfg_set(cfg, o->overrides[i]);
    /* QEMU loads a stream only under the accelerator that wrote it */
    if (!err && !cfg->accel && !(cfg->accel = strdup(m->accel)))
        err = vk_error(-ENOMEM, "out of memory");
    if (!err && strcmp(cfg->accel, m->accel))
        err = vk_error(-EINVAL, "%s: saved under %s; it cannot be restored with accel=\"%s\"",
                       path, m->accel, cfg->accel);
    if (err)
        vk_domcfg_free(cfg);
    return err;
}

/* Contract in save.h. */
/* The checksum of a stream QEMU reads itself, checked by a child process
 * from before QEMU starts until it has loaded (the fork comes first,
 * while vmkit is one thread): the two cores share the work. */
struct verify_job {
    pid_t pid;
    int fd;     /* the child's verdict: "ERRNO MESSAGE" */
};

static int verify_start(struct vk_savefile *f, struct verify_job *j)
{
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0)
        return vk_error(-errno, "pipe: %s", strerror(errno));
    pid_t pid = fork();
    if (pid < 0) {
        int e = errno;
        close(p[0]);
        close(p[1]);
        return vk_error(-e, "fork: %s", strerror(e));
    }
    if (pid == 0) {
        close(p[0]);
        int err = vk_savefile_stream_verify(f);
        char msg[1100];
        int n = snprintf(msg, sizeof msg, "%d %s", -err, err ? vk_errmsg() : "");
        if (write(p[1], msg, n < (int)sizeof msg ? (size_t)n : sizeof msg - 1) < 0)
            _exit(1);
        _exit(0);
    }
    close(p[1]);
    j->pid = pid;
    j->fd = p[0];
    return 0;
}

/* Wait for the verdict: 0, or the child's error with its message. */
static int verify_finish(struct verify_job *j)
{
    char msg[1100];
    size_t got = 0;
    ssize_t n;
    while (got < sizeof msg - 1 && ((n = read(j->fd, msg + got, sizeof msg - 1 - got)) > 0 || (n < 0 && errno == EINTR)))
        got += n > 0 ? (size_t)n : 0;
    msg[got] = 0;
    close(j->fd);
    while (waitpid(j->pid, NULL, 0) < 0 && errno == EINTR)
        ;
    int e = 0, at = 0;
    if (sscanf(msg, "%d %n", &e, &at) < 1)
        return vk_error(-EIO, "checking the saved migration stream failed (the checker ended early)");
    return e ? vk_error(-e, "%s", msg + at) : 0;
}

/* Stop the checker (another error came first), keeping that error's message. */
static void verify_abandon(struct verify_job *j, int err)
{
    if (j->pid <= 0)
        return;
    char keep[1024];
    snprintf(keep, sizeof keep, "%s", vk_errmsg_for(err));
    kill(j->pid, SIGKILL);
    verify_finish(j);
    j->pid = -1;
    vk_error(err, "%s", keep);
}

int vk_vm_restore(const char *path, const struct vk_restore_opts *o, char *name_out, size_t len)
{
    struct vk_savefile *f;
    struct vk_domcfg cfg;
    int err = vk_savefile_open(path, &f);
    if (err)
        return err;
    const struct vk_savemeta *m = vk_savefile_meta(f);
    if ((err = vk_save_config(path, m, o, &cfg)) < 0) {
        vk_savefile_close(f);
        return err;
    }
    struct vk_start_opts so = { .paused = 1, .incoming = 1, .boot_files = extract_boot,
                                .boot_ctx = f, .boot_append = m->append };
    /* A stream stored as is goes to QEMU as a descriptor of the file: it
     * loads from the moment it starts, with no copy through vmkit, while
     * vmkit checks the checksum on the other core.  A compressed one is
     * fed through the migration socket. */
    struct verify_job vj = { .pid = -1, .fd = -1 };
    int direct = vk_savefile_stream_fd(f);
    if (direct < 0 && direct != -ENOTSUP) {
        err = direct;
        goto out;
    }
    if (direct > 0 && (err = verify_start(f, &vj)) < 0) {
        close(direct);
        goto out;
    }
    so.incoming_fd = direct > 0 ? direct : 0;
    err = vk_vm_start(&cfg, &so);
    if (direct > 0)
        close(direct);
    if (err < 0) {
        verify_abandon(&vj, err);
        goto out;
    }
    if (name_out)
        snprintf(name_out, len, "%s", cfg.name);
    struct vk_vminfo info;
    struct vk_qmp *q;
    int lk;
    if ((err = vk_vm_qmp_open(cfg.name, &info, &lk, &q)) == 0) {
        struct vk_mig_source src;
        if (direct > 0) {
            /* resumed only when every byte QEMU loaded was the saved one */
            err = vk_mig_wait_loaded(q, info.dir, info.pid);
            if (err) {
                verify_abandon(&vj, err);   /* QEMU's own words come first */
            } else {
                err = verify_finish(&vj);
                vj.pid = -1;
            }
        } else {
            vk_savefile_source(f, &src);
            err = vk_mig_recv(q, info.dir, info.pid, &src, NULL);
            if (!err)
                err = vk_savefile_stream_ok(f);
        }
        if (!err && !o->paused && (err = vk_qmp_execute(q, "cont", NULL, NULL, VK_QMP_WAIT_MS)) == 0)
            vk_rt_write(info.dir, "state", "running", 7);
        vk_qmp_close(q);
        vk_rt_unlock(lk);
        vk_vminfo_free(&info);
    }
    verify_abandon(&vj, err);   /* the QMP connection failed: not needed */
    if (err) {
        char keep[1024];
        snprintf(keep, sizeof keep, "%s", vk_errmsg_for(err));
        vk_vm_destroy(cfg.name);   /* nothing half-restored stays */
        vk_error(err, "%s", keep);
    }
out:
    vk_domcfg_free(&cfg);
    vk_savefile_close(f);
    return err;
}
