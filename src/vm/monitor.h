/* Starting a VM: its runtime directory and its monitor process.
 *
 * Each running VM has one small monitor process (forked twice and
 * setsid()'d, so it belongs to no terminal and its parent is init) that
 * owns QEMU as its child, listens to QEMU's events on the first QMP
 * socket, and applies the domain's actions:
 *   SHUTDOWN reason guest-shutdown             -> on_poweroff
 *   SHUTDOWN reason guest-reset / host-qmp-system-reset -> on_reboot
 *   GUEST_PANICKED, SHUTDOWN guest-panic, or QEMU dying without a
 *   SHUTDOWN event (kill -9, a QEMU crash)     -> on_crash
 *   SHUTDOWN host-qmp-quit / host-signal, or SIGTERM to the monitor
 *                                              -> destroy
 * destroy removes the runtime directory; restart runs QEMU again with the
 * same argv (the guest boots again; console.log is appended to);
 * preserve keeps the directory with state "shutdown" or "crashed" until
 * `vmkit destroy`.  Restarting more than VK_MAX_RESTARTS times within
 * VK_RESTART_WINDOW seconds gives up and preserves the VM as crashed.
 * QEMU writes the serial log itself (chardev logfile=); the monitor never
 * touches the console.  QEMU gets PR_SET_PDEATHSIG SIGKILL: a VM never
 * outlives its monitor.
 *
 * $VMKIT_MONITOR_LOG names a file the monitor appends its diagnostics to
 * (default DIR/monitor.log, which goes away with the directory); the
 * tests use it to see sanitizer reports of the monitor.
 */
#ifndef VK_VM_MONITOR_H
#define VK_VM_MONITOR_H

#include "vm/config.h"

#define VK_MAX_RESTARTS   5
#define VK_RESTART_WINDOW 60

struct vk_start_opts {
    int paused;          /* start with the CPUs stopped (QEMU -S) */
    int timeout_ms;      /* how long QEMU may take to come up; 0 = 60 s */
    /* Restore and migration (migstream.h): QEMU waits for a migration
     * stream ("-incoming defer", implies paused); a QEMU that ends before
     * its first RESUME removes the VM instead of applying on_crash. */
    int incoming;
    /* With incoming: > 0, QEMU reads the stream itself from this
     * descriptor of the caller's, at its current offset (-incoming fd:N),
     * from the moment it starts, instead of waiting for migrate-incoming.
     * The monitor hands it to QEMU and closes its own copy. */
    int incoming_fd;
    /* bootloader = "pygrub" with the kernel and initrd the VM booted
     * already at hand (a restored VM keeps them): boot_files(dir, ctx)
     * writes DIR/kernel and DIR/initrd (optional) instead of running
     * pygrub, and boot_append is the kernel command line. */
    int (*boot_files)(const char *dir, void *ctx);
    void *boot_ctx;
    const char *boot_append;
};

/* Start domain c (vk_domcfg_check is applied to it: a uuid is generated
 * when absent): check the disks, choose acceleration, create the runtime
 * directory (refusing -EEXIST "NAME: a VM of that name is already
 * running" or "... preserved ..."), write config/id/accel/argv, extract
 * kernel and initrd when bootloader = "pygrub", then fork the monitor,
 * which starts QEMU.  Returns 0 once QEMU answers on QMP (the guest is
 * running or, with paused, stopped), or a negative errno with a message
 * (for a QEMU that exits at once: its own error text).  On failure no
 * process is left running and the runtime directory is gone. */
int vk_vm_start(struct vk_domcfg *c, const struct vk_start_opts *o);

/* A dry run, as `xl create -n`: every check vk_vm_start makes before it
 * creates anything (config, disks, acceleration, QEMU binary, the runtime
 * base, a VM of that name already running), pygrub into a temporary
 * directory that is removed again, and the argv QEMU would get, with the
 * paths of the runtime directory a real start would use.  Starts and
 * leaves nothing.  Returns 0 and *argv (free with vk_argv_free), or the
 * error vk_vm_start would return. */
int vk_vm_dryrun(struct vk_domcfg *c, const struct vk_start_opts *o, char ***argv);

#endif
