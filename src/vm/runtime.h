/* Runtime state of running VMs: one 0700 directory per VM.
 *
 * Under vk_runtime_dir(NAME) (store.h) a running VM has:
 *   monitor.pid  "PID STARTTIME" of its monitor process (STARTTIME from
 *                /proc/PID/stat field 22, so a reused pid is detected)
 *   pid          QEMU's pid; it is believed only when /proc/PID/cmdline
 *                carries the VM's UUID (QEMU runs with -uuid)
 *   qmp.sock     QMP for the monitor;  qmp-cli.sock  QMP for CLI commands
 *   console.sock the serial console;   console.log   everything it printed
 *   config       the effective xl.cfg; argv  QEMU's argv, NUL-separated
 *   state        starting | running | paused | restarting | shutdown |
 *                crashed (the last two only when on_* = "preserve" kept it;
 *                a crashed VM keeps its QEMU, stopped in guest-panicked)
 *   id           the VM's small integer id;  accel  "tcg: why" / "kvm: why"
 *   vnc          the VNC address QEMU listens on ("127.0.0.1:5900")
 *   hotplug      the devices hot-plugged into this run of QEMU (hotplug.h)
 *   .lock        flock()ed around multi-step CLI operations (the runtime
 *                base has one too, around creating a VM)
 * A directory whose monitor and QEMU are both gone and which was not
 * preserved is stale: vk_rt_info() removes it, so a VM whose processes
 * were killed never shows up as running.  A directory without monitor.pid
 * is no VM's (or one being made): it is skipped, never removed.
 */
#ifndef VK_VM_RUNTIME_H
#define VK_VM_RUNTIME_H

#include "vm/config.h"

#include <stddef.h>
#include <sys/types.h>

enum vk_vm_state {
    VK_ST_STARTING, VK_ST_RUNNING, VK_ST_BLOCKED, VK_ST_PAUSED,
    VK_ST_SHUTDOWN, VK_ST_CRASHED,
};

/* "starting", "running", "blocked", "paused", "shutdown", "crashed". */
const char *vk_vm_state_name(enum vk_vm_state s);

/* Write text to dir/file atomically (temporary file + rename), mode 0600.
 * 0 or negative errno naming the file. */
int vk_rt_write(const char *dir, const char *file, const char *text, size_t len);

/* Read dir/file into buf (NUL-terminated, at most len-1 bytes).  Returns
 * the length or a negative errno (-ENOENT when absent; no message
 * recorded for ENOENT). */
int vk_rt_read(const char *dir, const char *file, char *buf, size_t len);

/* Start time of pid in clock ticks since boot (/proc/PID/stat field 22).
 * 0 or -ESRCH when there is no such process. */
int vk_proc_starttime(pid_t pid, unsigned long long *start);

/* CPU seconds (user + system) pid has used.  0 or -ESRCH. */
int vk_proc_cputime(pid_t pid, double *secs);

/* CPU seconds (user + system) that thread tid of process pid has used
 * (/proc/PID/task/TID/stat; tid 0: the whole process, its ended threads
 * included), and *age (may be NULL) the seconds since it started.  0 or
 * -ESRCH when there is no such thread. */
int vk_proc_task_times(pid_t pid, pid_t tid, double *secs, double *age);

/* 1 when pid is alive and its command line holds uuid as one argument
 * (our QEMU), 0 otherwise (dead, zombie, or pid reused by another
 * program). */
int vk_proc_is_qemu(pid_t pid, const char *uuid);

/* Record the calling process as dir's monitor ("PID STARTTIME"). */
int vk_rt_set_monitor(const char *dir, pid_t pid);

/* The monitor's pid when it is alive (same start time as recorded), else
 * 0.  Never negative. */
pid_t vk_rt_monitor(const char *dir);

/* QEMU's pid when the pidfile names a live process carrying uuid, else 0. */
pid_t vk_rt_qemu(const char *dir, const char *uuid);

/* Remove dir and the files vmkit makes in it (the names listed in
 * runtime.c; never anything else, so a directory that was not a VM's keeps
 * the user's files).  0, -ENOTEMPTY "DIR: holds files vmkit did not make;
 * left in place", or another negative errno; a missing dir is 0. */
int vk_rt_remove(const char *dir);

/* Take the exclusive lock dir/lock, waiting at most timeout_ms.  Returns
 * the lock fd (give it to vk_rt_unlock), or -ETIMEDOUT / -ENOENT (the VM
 * went away) / other negative errno. */
int vk_rt_lock(const char *dir, int timeout_ms);
void vk_rt_unlock(int fd);

/* What `vmkit list` shows about one VM. */
struct vk_vminfo {
    char name[80];
    char dir[4096];
    int id;
    enum vk_vm_state state;
    double cpu_secs;
    pid_t pid, monitor;       /* 0 when not running */
    char accel[128];          /* "tcg: /dev/kvm: ..." as chosen at start */
    char vnc[128];            /* "127.0.0.1:5900" (DIR/vnc, written by the
                               * monitor from query-vnc) or "" */
    struct vk_domcfg cfg;     /* the effective config (owned) */
};

/* Fill *info for VM name.  with_qmp asks QEMU (QMP, short timeout) for
 * the paused state and the VNC address; without it the state file is
 * used.  Returns 0, -ENOENT "NAME: no such VM" (also for a stale
 * directory, which is removed), or another negative errno.  Free with
 * vk_vminfo_free. */
int vk_rt_info(const char *name, int with_qmp, struct vk_vminfo *info);
void vk_vminfo_free(struct vk_vminfo *info);

/* All VMs with a runtime directory, sorted by id.  Returns the count and
 * *out (free with vk_vminfo_list_free), or a negative errno. */
int vk_rt_list(int with_qmp, struct vk_vminfo **out);
void vk_vminfo_list_free(struct vk_vminfo *v, int n);

/* The lowest id (>= 1) no VM in the runtime base uses; call with the base
 * lock held (vk_rt_lock on the base directory). */
int vk_rt_free_id(void);

#endif
