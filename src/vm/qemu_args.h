/* Building the QEMU command line for a domain, and choosing acceleration.
 *
 * Contract with the runtime (vmrun):
 *  - QEMU is started with `-action reboot=shutdown`: a guest reboot makes
 *    QEMU emit SHUTDOWN (reason "guest-reset") and stop; the monitor applies
 *    on_reboot (restart = start QEMU again).  Guest power-off emits SHUTDOWN
 *    reason "guest-shutdown"; a guest panic GUEST_PANICKED (-device pvpanic
 *    is present; `-action panic=shutdown` is NOT used, so the monitor sees
 *    the panic event and applies on_crash).  QEMU is never started with
 *    -no-reboot / -no-shutdown.
 *  - Two QMP sockets (-chardev socket,server=on,wait=off + -mon
 *    mode=control): qmp_monitor for the monitor process, qmp_cli for CLI
 *    commands.  Either may be NULL to omit it.
 *  - Serial ports (-device isa-serial,index=I): port 0 "pty" (the
 *    default) is the console, a -chardev socket at console_sock
 *    (server=on,wait=off, logfile=console_log when set); another "pty" port
 *    I is a socket rundir/serialI.sock (log serialI.log); the other serial
 *    forms are the chardev they name (devspec.h).
 *  - Extra files in rundir: channelI.sock for channel connection=pty,
 *    spice-secret (the SPICE password; the caller writes it, 0600, with
 *    vk_qemu_spice_secret's name) for -object secret.
 *  - VNC password (vncpasswd set): QEMU gets `password=on` and refuses all
 *    VNC clients until the runtime runs QMP
 *    {"execute":"change-vnc-password","arguments":{"password":...}}
 *    after start (the password never appears in argv).
 *  - `-name NAME,process=vmkit-NAME` and `-uuid UUID`: the runtime can
 *    recognise its QEMU in /proc/PID/cmdline by the uuid.
 *  - VNC beyond loopback (vk_domcfg_vnc_local false) when the host has a
 *    CA (`vmkit tls init`): the runtime sets vnc_tls_dir, and QEMU takes
 *    only VeNCrypt x509 clients with a certificate of that CA, not
 *    revoked when QEMU started (the server's certificate is tls.h's).
 *  - `-pidfile pidfile` and `-daemonize` are added only when set/asked.
 */
#ifndef VK_VM_QEMU_ARGS_H
#define VK_VM_QEMU_ARGS_H

#include "vm/config.h"
#include <stddef.h>

struct vk_qemu_setup {
    const char *qemu;          /* binary; NULL = qemu-system-x86_64 from PATH */
    const char *accel;         /* "kvm" or "tcg" (from vk_accel_choose) */
    const char *qmp_monitor;   /* unix socket path or NULL */
    const char *qmp_cli;       /* unix socket path or NULL */
    const char *console_sock;  /* serial chardev socket, or NULL = -serial none */
    const char *console_log;   /* serial log file, or NULL */
    const char *rundir;        /* the VM's runtime directory (extra sockets) */
    const char *pidfile;       /* or NULL */
    const char *kernel;        /* direct boot: overrides c->kernel (pygrub) */
    const char *initrd;        /* overrides c->ramdisk when kernel is set here */
    const char *append;        /* the whole kernel command line; overrides
                                * the one built from c (for pygrub the
                                * runtime joins the entry's args and
                                * c->extra itself) */
    const char *vnc_tls_dir;   /* QEMU's x509 directory (tls.h vk_tls_qemu_dir):
                                * VNC over TLS, clients need a certificate of
                                * it (verify-peer); NULL: plain VNC */
    int daemonize;             /* add -daemonize */
    int paused;                /* add -S (start paused) */
};

/* Build the argv (NULL-terminated, malloc'd array of malloc'd strings;
 * free with vk_argv_free) for domain c, which should have passed
 * vk_domcfg_check.  Kernel command line: setup->append, else c->cmdline,
 * else "root=R extra" from c->root/c->extra.  Returns 0 or a negative
 * errno: -ENOENT "qemu-system-x86_64: not found in PATH" when no binary,
 * -EINVAL for configs QEMU cannot express (e.g. 5 IDE disks, unknown
 * model, vnclisten with a bad display). */
int vk_qemu_argv(const struct vk_domcfg *c, const struct vk_qemu_setup *s,
                 char ***argv_out);
void vk_argv_free(char **argv);

/* -rtc base= for c now (rtc_timeoffset seconds from now, in UTC or local
 * time): the monitor calls it before each restart so the guest clock does
 * not go back by the time the VM ran.  Rewrites the word after "-rtc" in
 * argv (a malloc'd string); 0, or -ENOMEM. */
int vk_qemu_argv_restamp(char **argv, const struct vk_domcfg *c);

/* QEMU's block driver for a disk spec's format (NULL: "raw", as in xl;
 * "vhd" is QEMU's "vpc"). */
const char *vk_qemu_format(const char *format);

/* Find the QEMU binary: name as given if it contains '/', else searched
 * in $PATH.  Writes the path to buf.  0 or -ENOENT with a message. */
int vk_qemu_find(const char *name, char *buf, size_t len);

/* Choose acceleration.  requested: "kvm", "tcg" or NULL/"" (auto).  Auto
 * picks kvm only when /dev/kvm opens read-write AND hardware
 * virtualization is loaded (/sys/module/kvm_intel or kvm_amd exists);
 * otherwise tcg.  "kvm" fails (-ENODEV) when /dev/kvm is not usable.
 * *accel is set to a static "kvm"/"tcg"; why (may be NULL) gets a short
 * human reason ("kvm: /dev/kvm usable, kvm_intel loaded").  The roots
 * default to "/" and can be replaced by $VMKIT_SYSROOT (tests) — the
 * paths are then $VMKIT_SYSROOT/dev/kvm and $VMKIT_SYSROOT/sys/module/.
 * Returns 0 or a negative errno. */
int vk_accel_choose(const char *requested, const char **accel,
                    char *why, size_t whylen);

#endif
