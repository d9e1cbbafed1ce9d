/* shutdown, reboot, destroy, pause, unpause of a running VM. */
#include "vm/control.h"
#include "vm/qmp.h"
#include "vm/runtime.h"
#include "util/err.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define LOCK_WAIT_MS 30000

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A process identified by pid and start time (immune to pid reuse). */
struct proc { pid_t pid; unsigned long long start; };

static struct proc proc_of(pid_t pid)
{
    struct proc p = { 0, 0 };
    if (pid > 0 && vk_proc_starttime(pid, &p.start) == 0)
        p.pid = pid;
    return p;
}

static int proc_alive(struct proc p)
{
    unsigned long long s;
    return p.pid > 0 && vk_proc_starttime(p.pid, &s) == 0 && s == p.start;
}

/* Wait until p is gone; 1 if it went within ms, 0 if not. */
static int wait_gone(struct proc p, int ms)
{
    long long end = now_ms() + ms;
    while (proc_alive(p)) {
        if (now_ms() >= end)
            return 0;
        poll(NULL, 0, 20);
    }
    return 1;
}

/* Run one QMP command on VM name's CLI socket under its lock.  The VM
 * must have a live QEMU.  gone_ok: the command may end QEMU before it
 * replies (system_reset under -action reboot=shutdown; a guest that
 * powers off at once), so the socket closing is success. */
static int vm_command_ret(const char *name, const char *cmd, json_t *args, int gone_ok,
                          const char *state_after, json_t **ret);

static int vm_command(const char *name, const char *cmd, json_t *args, int gone_ok,
                      const char *state_after)
{
    return vm_command_ret(name, cmd, args, gone_ok, state_after, NULL);
}

/* Contract in control.h. */
int vk_vm_qmp(const char *name, const char *cmd, json_t *args, json_t **ret)
{
    return vm_command_ret(name, cmd, args, 0, NULL, ret);
}

/* vm_command, and *ret (may be NULL) gets the command's return value. */
static int vm_command_ret(const char *name, const char *cmd, json_t *args, int gone_ok,
                          const char *state_after, json_t **ret)
{
    struct vk_vminfo info;
    int err = vk_rt_info(name, 0, &info);
    if (err) {
        json_decref(args);
        return err;
    }
    int lk = -1;
    if (!info.pid || info.state == VK_ST_CRASHED) {
        err = vk_error(-EINVAL, "%s: VM is not running (state %s)", name,
                       vk_vm_state_name(info.state));
    } else if ((lk = vk_rt_lock(info.dir, LOCK_WAIT_MS)) < 0) {
        err = lk;
    } else {
        char sock[4200];
        struct vk_qmp *q;
        snprintf(sock, sizeof sock, "%s/qmp-cli.sock", info.dir);
        if ((err = vk_qmp_connect(sock, VK_QMP_WAIT_MS, &q)) == 0) {
            err = vk_qmp_execute(q, cmd, args, ret, VK_QMP_WAIT_MS);
            args = NULL;
            if (gone_ok && (err == -EPIPE || err == -ECONNRESET)) {
                vk_error_clear();
                err = 0;
            }
            /* the monitor writes the same on QEMU's STOP/RESUME event; doing
             * it here too makes the next `vmkit list` right at once */
            if (!err && state_after)
                vk_rt_write(info.dir, "state", state_after, strlen(state_after));
            vk_qmp_close(q);
        }
        if (err)
            vk_error_prefix(err, "%s: ", name);
    }
    json_decref(args);
    vk_rt_unlock(lk);
    vk_vminfo_free(&info);
    return err;
}

/* Contract in control.h. */
int vk_vm_pause(const char *name)
{
    return vm_command(name, "stop", NULL, 0, "paused");
}

/* Contract in control.h. */
int vk_vm_unpause(const char *name)
{
    return vm_command(name, "cont", NULL, 0, "running");
}

/* Contract in control.h. */
int vk_vm_reboot(const char *name)
{
    return vm_command(name, "system_reset", NULL, 1, NULL);
}

/* Contract in control.h. */
int vk_vm_destroy(const char *name)
{
    struct vk_vminfo info;
    int err = vk_rt_info(name, 0, &info);
    if (err)
        return err;
    int lk = vk_rt_lock(info.dir, LOCK_WAIT_MS);
    if (lk < 0 && lk != -ENOENT) {
        vk_vminfo_free(&info);
        return lk;
    }
    struct proc mon = proc_of(info.monitor), qemu = proc_of(info.pid);
    /* the monitor kills QEMU and removes the state itself */
    if (mon.pid) {
        kill(mon.pid, SIGTERM);
        if (!wait_gone(mon, 10000)) {
            kill(mon.pid, SIGKILL);
            wait_gone(mon, 2000);
        }
    }
    /* no monitor (killed, or a preserved VM): do its work */
    if (proc_alive(qemu) && vk_proc_is_qemu(qemu.pid, info.cfg.uuid)) {
        kill(qemu.pid, SIGKILL);
        wait_gone(qemu, 5000);
    }
    err = vk_rt_remove(info.dir);
    vk_rt_unlock(lk);
    vk_vminfo_free(&info);
    return err;
}

/* Contract in control.h. */
int vk_vm_shutdown(const char *name, int wait, int timeout_s)
{
    struct vk_vminfo info;
    int err = vk_rt_info(name, 0, &info);
    if (err)
        return err;
    struct proc qemu = proc_of(info.pid), mon = proc_of(info.monitor);
    char dir[sizeof info.dir];
    snprintf(dir, sizeof dir, "%s", info.dir);
    vk_vminfo_free(&info);
    if ((err = vm_command(name, "system_powerdown", NULL, 1, NULL)) < 0)
        return err;
    if (!wait && timeout_s <= 0)
        return 0;
    /* ACPI button presses are events, not a level: a guest still booting
     * (no acpid yet) misses one.  Press again every 10 s while waiting. */
    long long deadline = timeout_s > 0 ? now_ms() + timeout_s * 1000LL : -1;
    for (;;) {
        long long left = deadline < 0 ? 10000 : deadline - now_ms();
        if (wait_gone(qemu, (int)(left > 10000 ? 10000 : left > 0 ? left : 0)))
            break;
        if (deadline >= 0 && now_ms() >= deadline)
            return vk_error(-ETIMEDOUT, "%s: still running after %d s", name, timeout_s);
        if (vm_command(name, "system_powerdown", NULL, 1, NULL) < 0)
            vk_error_clear();   /* QEMU may be going away right now */
    }
    /* QEMU is gone; give the monitor a moment to apply on_poweroff (remove
     * the state, or restart QEMU, which writes a new pidfile) */
    char was[32], now[32];
    snprintf(was, sizeof was, "%d\n", (int)qemu.pid);
    long long end = now_ms() + 10000;
    while (proc_alive(mon) && now_ms() < end) {
        if (vk_rt_read(dir, "pid", now, sizeof now) > 0 && strcmp(now, was))
            break;
        poll(NULL, 0, 20);
    }
    return 0;
}
