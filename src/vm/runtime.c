/* Runtime directories: state files, process identity, locks, listing. */
#include "vm/runtime.h"
#include "vm/qmp.h"
#include "vm/store.h"
#include "util/err.h"
#include "util/str.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const char *const state_names[] = {
    [VK_ST_STARTING] = "starting", [VK_ST_RUNNING] = "running",
    [VK_ST_BLOCKED] = "blocked",   [VK_ST_PAUSED] = "paused",
    [VK_ST_SHUTDOWN] = "shutdown", [VK_ST_CRASHED] = "crashed",
};

const char *vk_vm_state_name(enum vk_vm_state s)
{
    return (unsigned)s < sizeof state_names / sizeof *state_names ? state_names[s] : "?";
}

/* Contract in runtime.h. */
int vk_rt_write(const char *dir, const char *file, const char *text, size_t len)
{
    char tmp[4200], path[4200];
    int r;
    if ((r = vk_pathf(path, sizeof path, "%s/%s", dir, file)) < 0 ||
        (r = vk_pathf(tmp, sizeof tmp, "%s/.%s.%d", dir, file, (int)getpid())) < 0)
        return r;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return vk_error(-errno, "%s: %s", path, strerror(errno));
    size_t off = 0;
    while (off < len) {
        ssize_t w = write(fd, text + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0) {
            int e = errno;
            close(fd);
            unlink(tmp);
            return vk_error(-e, "%s: %s", path, strerror(e));
        }
        off += (size_t)w;
    }
    if (close(fd) < 0 || rename(tmp, path) < 0) {
        int e = errno;
        unlink(tmp);
        return vk_error(-e, "%s: %s", path, strerror(e));
    }
    return 0;
}

/* Contract in runtime.h. */
int vk_rt_read(const char *dir, const char *file, char *buf, size_t len)
{
    char path[4200];
    int r = vk_pathf(path, sizeof path, "%s/%s", dir, file);
    if (r < 0)
        return r;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? -ENOENT : vk_error(-errno, "%s: %s", path, strerror(errno));
    size_t off = 0;
    while (off + 1 < len) {
        ssize_t n = read(fd, buf + off, len - 1 - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int e = errno;
            close(fd);
            return vk_error(-e, "%s: %s", path, strerror(e));
        }
        if (n == 0)
            break;
        off += (size_t)n;
    }
    close(fd);
    buf[off] = 0;
    return (int)off;
}

/* Read /proc/PID/stat (tid > 0: /proc/PID/task/TID/stat, one thread's)
 * and return the fields after the command name (which may hold spaces and
 * parentheses) in buf: field 3 (state) first. */
static int proc_task_stat(pid_t pid, pid_t tid, char *buf, size_t len)
{
    char path[96], raw[1024];
    if (tid > 0)
        snprintf(path, sizeof path, "/proc/%d/task/%d", (int)pid, (int)tid);
    else
        snprintf(path, sizeof path, "/proc/%d", (int)pid);
    int n = pid > 0 ? vk_rt_read(path, "stat", raw, sizeof raw) : -ESRCH;
    if (n <= 0)
        return -ESRCH;
    char *p = strrchr(raw, ')');
    if (!p || p[1] != ' ')
        return -ESRCH;
    snprintf(buf, len, "%s", p + 2);
    return 0;
}

static int proc_stat(pid_t pid, char *buf, size_t len)
{
    return proc_task_stat(pid, 0, buf, len);
}

/* Field number f (1-based as in proc(5)) of a proc_stat() result. */
static const char *stat_field(const char *s, int f)
{
    for (int i = 3; i < f && s; i++) {
        s = strchr(s, ' ');
        if (s)
            s++;
    }
    return s;
}

/* Contract in runtime.h. */
int vk_proc_starttime(pid_t pid, unsigned long long *start)
{
    char s[1024];
    if (proc_stat(pid, s, sizeof s) < 0 || s[0] == 'Z' || s[0] == 'X')
        return -ESRCH;
    const char *f = stat_field(s, 22);
    if (!f)
        return -ESRCH;
    *start = strtoull(f, NULL, 10);
    return 0;
}

/* Contract in runtime.h. */
int vk_proc_cputime(pid_t pid, double *secs)
{
    return vk_proc_task_times(pid, 0, secs, NULL);
}

/* Contract in runtime.h. */
int vk_proc_task_times(pid_t pid, pid_t tid, double *secs, double *age)
{
    char s[1024];
    if (proc_task_stat(pid, tid, s, sizeof s) < 0)
        return -ESRCH;
    const char *u = stat_field(s, 14), *k = stat_field(s, 15), *st = stat_field(s, 22);
    if (!u || !k || !st)
        return -ESRCH;
    long hz = sysconf(_SC_CLK_TCK);
    double tick = 1.0 / (double)(hz > 0 ? hz : 100);
    *secs = (double)(strtoull(u, NULL, 10) + strtoull(k, NULL, 10)) * tick;
    if (age) {
        /* start times count from boot, as CLOCK_BOOTTIME does */
        struct timespec now;
        clock_gettime(CLOCK_BOOTTIME, &now);
        *age = (double)now.tv_sec + (double)now.tv_nsec / 1e9 -
               (double)strtoull(st, NULL, 10) * tick;
    }
    return 0;
}

/* Contract in runtime.h. */
int vk_proc_is_qemu(pid_t pid, const char *uuid)
{
    char path[64], buf[16384];
    unsigned long long st;
    if (pid <= 0 || !uuid || !*uuid || vk_proc_starttime(pid, &st) < 0)
        return 0;
    snprintf(path, sizeof path, "/proc/%d", (int)pid);
    int n = vk_rt_read(path, "cmdline", buf, sizeof buf);
    for (int i = 0; i < n; i += (int)strlen(buf + i) + 1)
        if (!strcmp(buf + i, uuid))
            return 1;
    return 0;
}

/* Contract in runtime.h. */
int vk_rt_set_monitor(const char *dir, pid_t pid)
{
    unsigned long long st;
    if (vk_proc_starttime(pid, &st) < 0)
        return vk_error(-ESRCH, "process %d: not running", (int)pid);
    char t[64];
    int n = snprintf(t, sizeof t, "%d %llu\n", (int)pid, st);
    return vk_rt_write(dir, "monitor.pid", t, (size_t)n);
}

/* Contract in runtime.h. */
pid_t vk_rt_monitor(const char *dir)
{
    char t[64];
    int pid;
    unsigned long long want, st;
    if (vk_rt_read(dir, "monitor.pid", t, sizeof t) <= 0 ||
        sscanf(t, "%d %llu", &pid, &want) != 2 || pid <= 0)
        return 0;
    if (vk_proc_starttime(pid, &st) < 0 || st != want)
        return 0;
    return pid;
}

/* Contract in runtime.h. */
pid_t vk_rt_qemu(const char *dir, const char *uuid)
{
    char t[32];
    if (vk_rt_read(dir, "pid", t, sizeof t) <= 0)
        return 0;
    int pid = atoi(t);
    return vk_proc_is_qemu(pid, uuid) ? pid : 0;
}

/* The files vmkit makes in a runtime directory (runtime.h, monitor.c,
 * pygrub's kernel and initrd, qemu_args.h's extra serial and channel
 * sockets, the SPICE secret, screen.c's screendump, migcopy.c's NBD
 * socket: a migration receiver's QEMU that ends on a failed load is
 * removed by its monitor, maybe before the receiver unlinked it).  Only these are ever
 * removed: a directory that is not really a VM's (VMKIT_RUNTIME_DIR
 * pointed at a directory of the user's) keeps everything else, and then
 * itself. */
static const char *const rt_files[] = {
    "monitor.pid", "pid", "qmp.sock", "qmp-cli.sock", "console.sock", "console.log",
    "config", "argv", "state", "id", "accel", "vnc", ".lock", "monitor.log", "qemu.log", "coredump",
    "kernel", "initrd", "spice-secret", "screendump.png", "migrate.sock", "nbd.sock", "hotplug",
    "serial1.sock", "serial1.log", "serial2.sock", "serial2.log", "serial3.sock", "serial3.log",
    NULL,
};

/* qemu_args.h's per-port files: channelN.sock (connection=pty channels). */
static int rt_numbered_ours(const char *name)
{
    return !strncmp(name, "channel", 7) && name[7] &&
           strspn(name + 7, "0123456789") == strlen(name + 7) - 5 &&
           !strcmp(name + strlen(name) - 5, ".sock");
}

/* 1 when name is one of rt_files or vk_rt_write's temporary for one
 * (".FILE.PID"). */
static int rt_file_ours(const char *name)
{
    if (rt_numbered_ours(name))
        return 1;
    for (const char *const *f = rt_files; *f; f++) {
        size_t l = strlen(*f);
        if (!strcmp(name, *f))
            return 1;
        if (name[0] == '.' && !strncmp(name + 1, *f, l) && name[l + 1] == '.' &&
            name[l + 2] && strspn(name + l + 2, "0123456789") == strlen(name + l + 2))
            return 1;
    }
    return 0;
}

/* Contract in runtime.h. */
int vk_rt_remove(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return errno == ENOENT ? 0 : vk_error(-errno, "%s: %s", dir, strerror(errno));
    struct dirent *e;
    int fd = dirfd(d);
    while ((e = readdir(d)))
        if (rt_file_ours(e->d_name))
            unlinkat(fd, e->d_name, 0);
    closedir(d);
    if (rmdir(dir) < 0 && errno != ENOENT) {
        if (errno == ENOTEMPTY || errno == EEXIST)
            return vk_error(-ENOTEMPTY, "%s: holds files vmkit did not make; left in place", dir);
        return vk_error(-errno, "%s: %s", dir, strerror(errno));
    }
    return 0;
}

/* Contract in runtime.h. */
int vk_rt_lock(const char *dir, int timeout_ms)
{
    char path[4200];
    int pr = vk_pathf(path, sizeof path, "%s/.lock", dir);
    if (pr < 0)
        return pr;
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0)
        return vk_error(-errno, "%s: %s", path, strerror(errno));
    for (int waited = 0;; waited += 20) {
        if (flock(fd, LOCK_EX | LOCK_NB) == 0)
            return fd;
        if (errno != EWOULDBLOCK && errno != EINTR) {
            int e = errno;
            close(fd);
            return vk_error(-e, "%s: %s", path, strerror(e));
        }
        if (waited >= timeout_ms) {
            close(fd);
            return vk_error(-ETIMEDOUT, "%s: busy (another vmkit command holds it)", dir);
        }
        poll(NULL, 0, 20);
    }
}

void vk_rt_unlock(int fd)
{
    if (fd >= 0)
        close(fd);
}

void vk_vminfo_free(struct vk_vminfo *info)
{
    vk_domcfg_free(&info->cfg);
}

void vk_vminfo_list_free(struct vk_vminfo *v, int n)
{
    for (int i = 0; i < n; i++)
        vk_vminfo_free(&v[i]);
    free(v);
}

/* running when some QEMU thread is runnable right now, else blocked (the
 * guest is idle), as xm's r/b flags. */
static enum vk_vm_state run_or_blocked(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/task", (int)pid);
    DIR *d = opendir(path);
    if (!d)
        return VK_ST_RUNNING;
    enum vk_vm_state s = VK_ST_BLOCKED;
    struct dirent *e;
    while ((e = readdir(d)) && s == VK_ST_BLOCKED) {
        if (!isdigit((unsigned char)e->d_name[0]))
            continue;
        char st[1024];
        if (proc_stat(atoi(e->d_name), st, sizeof st) == 0 && st[0] == 'R')
            s = VK_ST_RUNNING;
    }
    closedir(d);
    return s;
}

/* Ask QEMU for its run state and VNC address over the CLI socket. */
static void query_qmp(struct vk_vminfo *info)
{
    char sock[4200];
    struct vk_qmp *q;
    snprintf(sock, sizeof sock, "%s/qmp-cli.sock", info->dir);
    if (vk_qmp_connect(sock, 1000, &q) < 0) {
        vk_error_clear();
        return;
    }
    json_t *r = NULL;
    if (vk_qmp_execute(q, "query-status", NULL, &r, 1000) == 0) {
        const char *st = json_string_value(json_object_get(r, "status"));
        if (st && (!strcmp(st, "paused") || !strcmp(st, "prelaunch") ||
                   !strcmp(st, "suspended") || !strcmp(st, "debug") ||
                   !strcmp(st, "inmigrate") || !strcmp(st, "postmigrate") ||
                   !strcmp(st, "save-vm") || !strcmp(st, "restore-vm")))
            info->state = VK_ST_PAUSED;
        else if (st && (!strcmp(st, "shutdown")))
            info->state = VK_ST_SHUTDOWN;
        else if (st && (!strcmp(st, "guest-panicked") || !strcmp(st, "internal-error") ||
                        !strcmp(st, "io-error")))
            info->state = VK_ST_CRASHED;
    }
    json_decref(r);
    r = NULL;
    if (info->cfg.vnc && vk_qmp_execute(q, "query-vnc", NULL, &r, 1000) == 0 &&
        json_is_true(json_object_get(r, "enabled"))) {
        const char *h = json_string_value(json_object_get(r, "host"));
        const char *p = json_string_value(json_object_get(r, "service"));
        if (h && p)
            snprintf(info->vnc, sizeof info->vnc, strchr(h, ':') ? "[%s]:%s" : "%s:%s", h, p);
    }
    json_decref(r);
    vk_qmp_close(q);
    vk_error_clear();
}

/* Contract in runtime.h. */
int vk_rt_info(const char *name, int with_qmp, struct vk_vminfo *info)
{
    memset(info, 0, sizeof *info);
    vk_domcfg_init(&info->cfg);
    int err = vk_runtime_dir(name, info->dir, sizeof info->dir, 0);
    if (err)
        return err;
    snprintf(info->name, sizeof info->name, "%s", name);
    struct stat st;
    if (lstat(info->dir, &st) < 0 || !S_ISDIR(st.st_mode))
        return vk_error(-ENOENT, "%s: no such VM", name);
    char state[64] = "", t[64];
    vk_rt_read(info->dir, "state", state, sizeof state);
    state[strcspn(state, "\n")] = 0;
    if (vk_rt_read(info->dir, "id", t, sizeof t) > 0)
        info->id = atoi(t);
    if (vk_rt_read(info->dir, "accel", info->accel, sizeof info->accel) > 0)
        info->accel[strcspn(info->accel, "\n")] = 0;
    if (vk_rt_read(info->dir, "vnc", info->vnc, sizeof info->vnc) > 0)
        info->vnc[strcspn(info->vnc, "\n")] = 0;
    char cfgpath[4200];
    if ((err = vk_pathf(cfgpath, sizeof cfgpath, "%s/config", info->dir)) < 0)
        return err;
    if (access(cfgpath, F_OK) == 0) {
        if ((err = vk_domcfg_load(cfgpath, &info->cfg)) < 0)
            return err;
    }
    info->monitor = vk_rt_monitor(info->dir);
    info->pid = vk_rt_qemu(info->dir, info->cfg.uuid);
    int preserved = !strcmp(state, "crashed") || !strcmp(state, "shutdown");
    if (!info->monitor && !info->pid) {
        if (preserved) {
            info->state = !strcmp(state, "crashed") ? VK_ST_CRASHED : VK_ST_SHUTDOWN;
            return 0;
        }
        /* Without monitor.pid (made right after the directory, under the
         * base lock) it is no VM's directory, or one being made this very
         * moment: neither is ours to remove. */
        char mp[4200];
        snprintf(mp, sizeof mp, "%s/monitor.pid", info->dir);
        if (access(mp, F_OK) < 0) {
            vk_domcfg_free(&info->cfg);
            return vk_error(-ENOENT, "%s: no such VM", name);
        }
        /* nobody owns it any more: a leftover, not a VM */
        vk_rt_remove(info->dir);
        vk_domcfg_free(&info->cfg);
        return vk_error(-ENOENT, "%s: no such VM", name);
    }
    if (!info->pid) {
        /* the monitor lives but QEMU does not: starting, restarting or
         * just ended; never shown as running */
        info->state = !strcmp(state, "starting") || !strcmp(state, "restarting")
                      ? VK_ST_STARTING : VK_ST_SHUTDOWN;
        return 0;
    }
    vk_proc_cputime(info->pid, &info->cpu_secs);
    /* the state file follows QEMU's STOP/RESUME events (the monitor
     * writes it; vmkit pause/unpause too, at once); QMP asks QEMU itself */
    info->state = !with_qmp && !strcmp(state, "paused") ? VK_ST_PAUSED
                                                          : run_or_blocked(info->pid);
    /* on_crash = "preserve" keeps the panicked QEMU (status guest-panicked)
     * for inspection: crashed, though its process lives */
    if (preserved)
        info->state = !strcmp(state, "crashed") ? VK_ST_CRASHED : VK_ST_SHUTDOWN;
    if (with_qmp)
        query_qmp(info);
    return 0;
}

static int cmp_id(const void *a, const void *b)
{
    const struct vk_vminfo *x = a, *y = b;
    return x->id != y->id ? (x->id < y->id ? -1 : 1) : strcmp(x->name, y->name);
}

/* Contract in runtime.h. */
int vk_rt_list(int with_qmp, struct vk_vminfo **out)
{
    char base[4096];
    *out = NULL;
    int err = vk_runtime_base(base, sizeof base, 0);
    if (err)
        return err;
    DIR *d = opendir(base);
    if (!d)
        return errno == ENOENT ? 0 : vk_error(-errno, "%s: %s", base, strerror(errno));
    struct vk_vminfo *v = NULL;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!vk_name_valid(e->d_name))
            continue;
        struct vk_vminfo *nv = realloc(v, (size_t)(n + 1) * sizeof *nv);
        if (!nv) {
            closedir(d);
            vk_vminfo_list_free(v, n);
            return vk_error(-ENOMEM, "out of memory");
        }
        v = nv;
        if (vk_rt_info(e->d_name, with_qmp, &v[n]) == 0)
            n++;
        else
            vk_error_clear();
    }
    closedir(d);
    if (n)
        qsort(v, (size_t)n, sizeof *v, cmp_id);
    else {
        free(v);    /* only dirs being set up or torn down: callers free nothing */
        v = NULL;
    }
    *out = v;
    return n;
}

/* Contract in runtime.h. */
int vk_rt_free_id(void)
{
    struct vk_vminfo *v;
    int n = vk_rt_list(0, &v);
    if (n < 0)
        return n;
    int id = 1;
    for (int i = 0; i < n; i++)       /* sorted by id */
        if (v[i].id == id)
            id++;
    vk_vminfo_list_free(v, n);
    return id;
}
