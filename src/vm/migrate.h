/* Live migration, as `xl migrate` / `xl migrate-receive`.
 *
 * The sender runs "SSHCOMMAND HOST vmkit migrate-receive" (SSHCOMMAND
 * split at blanks, default "ssh"; no shell) and talks to it over the
 * child's stdin (what the sender sends, migproto.h) and stdout (the
 * receiver's one-line answers "ready", "ok" or "error: WHY"):
 *
 *   sender                          receiver
 *   header + metadata       ->      checks them; refuses ("error: ...")
 *                                   a name defined or running here, or a
 *                           <-      uuid another VM has; else "ready"
 *   boot files, stream,     ->      starts QEMU paused with the sender's
 *   trailer                         device layout (-incoming defer), feeds
 *                                   it the stream, checks the SHA-256,
 *                                   resumes the VM, defines it in its store
 *                           <-      "ok" (or "error: ...": nothing is
 *                                   left running there)
 *   ends its own QEMU (only after "ok")
 *
 * Without live the sender's CPUs stop before the stream starts (the RAM
 * goes once); with live QEMU migrates while the guest runs (pre-copy) and
 * stops it only for the last pass.  Whatever fails on the way (the
 * receiver refusing, dying, a damaged stream), the sender's VM runs on
 * as before (resumed if it ran) and the error says why, with the
 * receiver's words.  Without VK_MIGRATE_COPY disks are not copied: both
 * ends must see them at the same paths (shared storage).  With it, the
 * receiver answers the boot files with "nbd unix:PATH" (after creating
 * the disks and starting its QEMU), the sender mirrors the disks there
 * before the stream, and sends the trailer only once the copies are
 * complete (migcopy.h).  The sender's stored definition, if any,
 * stays (as `virsh migrate` without --undefinesource).
 */
#ifndef VK_VM_MIGRATE_H
#define VK_VM_MIGRATE_H

#include <stddef.h>
#include <stdint.h>

enum {
    VK_MIGRATE_LIVE = 1 << 0,   /* --live: migrate while the guest runs */
    VK_MIGRATE_COPY = 1 << 1,   /* --copy-storage: the disks go too (migcopy.h) */
    VK_MIGRATE_TLS = 1 << 2,    /* --tls: the disk copies under TLS (migtls.h) */
};

struct vk_migrate_stats {
    uint64_t stream_bytes;   /* QEMU's stream */
    long long total_ms;      /* QEMU's total-time of the migration */
    long long downtime_ms;   /* QEMU's downtime: how long the guest was
                              * stopped at the end (non-live: since the
                              * stream started) */
    long long stopped_ms;    /* how long the guest ran nowhere: from the
                              * moment its CPUs stopped here until the
                              * receiver reported it running (so with the
                              * receiver's loading and resuming) */
    long long ms;            /* wall time of the whole migrate */
};

/* Migrate running VM name to host through sshcmd (NULL: "ssh"); see
 * above.  storage_dir (may be NULL) and nbd_port (0: none) are passed on
 * as the receiver's --storage-dir (where copied disks go there) and
 * --nbd-port (it exports them on that TCP port, not a unix socket; for
 * two machines), both for VK_MIGRATE_COPY.  The caller ignores SIGPIPE (a receiver that dies must be an
 * error, not the end of the sender).  st may be NULL.  0 once the
 * receiver runs the VM and the local QEMU has ended, or a negative errno
 * "NAME: migration to HOST failed: WHY; NAME runs on here". */
int vk_vm_migrate(const char *name, const char *sshcmd, const char *host, int flags,
                  const char *storage_dir, int nbd_port, struct vk_migrate_stats *st);

/* The receiving end: read the sender's bytes from in, answer on out (see
 * above); copied disks go to storage_dir (NULL: the config's paths) and
 * are exported on TCP port nbd_port (0: a unix socket); with tls the
 * export takes only a sender with a certificate of this host's CA
 * (migtls.h).  The name of the VM (once known) goes to name_out.  0 when the
 * VM runs here and is defined; a negative errno (the same message also
 * went to out as "error: ...") with nothing left running here. */
int vk_vm_migrate_receive(int in, int out, const char *storage_dir, int nbd_port, int tls,
                          char *name_out, size_t len);

#endif
