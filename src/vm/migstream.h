/* Moving a VM's state out of QEMU and into another QEMU: the plumbing that
 * save/restore (save.h) and live migration share.
 *
 * Outgoing.  vk_mig_send() has QEMU (QMP "migrate") send its migration
 * stream to a unix socket vmkit listens on in the VM's runtime directory
 * (DIR/migrate.sock) and hands every byte to a sink until QEMU reports the
 * migration completed.  A VM stopped first ("stop") sends its RAM once; a
 * running one is migrated live (pre-copy, QEMU's downtime limit).  After a
 * completed migration the source QEMU stays stopped ("postmigrate") with
 * its disks released: "cont" takes them back and runs it again (a
 * checkpoint, or a migration whose receiver failed), "quit" ends it.
 *
 * Incoming.  A QEMU started with vk_start_opts.incoming (QEMU's
 * "-incoming defer", CPUs stopped) waits for a stream.  vk_mig_recv() asks
 * it (QMP "migrate-incoming") to listen on DIR/migrate.sock, connects,
 * writes what a source supplies, and waits until QEMU has loaded it: the
 * VM is then paused with the sender's state, ready for "cont".  The
 * monitor treats such a QEMU as not yet started: if it dies before its
 * first RESUME, the VM is removed (on_crash does not apply), so a failed
 * load leaves nothing running.
 *
 * The same device layout on both sides is the caller's business: the
 * receiver is started from the sender's effective config (with the same
 * concrete machine type, vk_mig_machine, and, for bootloader = "pygrub",
 * the kernel and initrd the sender booted: vk_start_opts.boot_files).
 */
#ifndef VK_VM_MIGSTREAM_H
#define VK_VM_MIGSTREAM_H

#include "vm/qmp.h"
#include "vm/runtime.h"

#include <stdint.h>
#include <sys/types.h>

/* Where the outgoing stream goes: write all of len bytes, 0 or -errno
 * (with a message). */
struct vk_mig_sink {
    int (*write)(void *ctx, const void *buf, size_t len);
    void *ctx;
};

/* Where an incoming stream comes from: bytes read (> 0), 0 at its end, or
 * -errno (with a message). */
struct vk_mig_source {
    ssize_t (*read)(void *ctx, void *buf, size_t len);
    void *ctx;
};

/* What QEMU reported about a finished outgoing migration. */
struct vk_mig_stats {
    uint64_t bytes;          /* bytes of stream handed to the sink */
    long long total_ms;      /* QEMU's total-time */
    long long downtime_ms;   /* QEMU's downtime (the VM did not run) */
};

/* A running VM's CLI QMP socket, held under the VM's lock (runtime.h) so
 * no other vmkit command interleaves.  Fills *info (free with
 * vk_vminfo_free), *lock (give to vk_rt_unlock) and *q (vk_qmp_close).
 * -ENOENT "NAME: no such VM", -EINVAL "NAME: VM is not running (state S)". */
int vk_vm_qmp_open(const char *name, struct vk_vminfo *info, int *lock, struct vk_qmp **q);

/* QEMU's run state (QMP query-status "status": running, paused,
 * postmigrate, inmigrate...) into buf.  0 or negative errno. */
int vk_qmp_runstate(struct vk_qmp *q, char *buf, size_t len);

/* The concrete machine type QEMU runs ("pc-i440fx-7.2" for "pc"): what a
 * receiver must be started with when the QEMU there is another version.
 * machine is the config's (NULL = "pc").  malloc'd into *out. */
int vk_mig_machine(struct vk_qmp *q, const char *machine, char **out);

/* Send VM dir's migration stream to sink (see above).  QEMU's bandwidth
 * limit is lifted (the stream goes to a local file or pipe, not over a
 * shared link).  Returns 0 once QEMU reports "completed" (the source is
 * then in postmigrate), or a negative errno: the sink's error (the
 * migration is cancelled, the source keeps its state and runs on after
 * "cont" if it ran), "NAME: migration failed: QEMU's reason". */
int vk_mig_send(struct vk_qmp *q, const char *dir, const struct vk_mig_sink *sink,
                struct vk_mig_stats *st);

/* Feed src into the QEMU of dir, started with vk_start_opts.incoming, and
 * wait until it has loaded the stream (run state "paused").  qemu is its
 * pid (to notice it dying).  *bytes (may be NULL) gets the bytes written.
 * Returns 0, the source's error, or -EIO "migration stream refused by
 * QEMU: ITS WORDS" (QEMU exits after a failed load; its log is quoted). */
int vk_mig_recv(struct vk_qmp *q, const char *dir, pid_t qemu, const struct vk_mig_source *src,
                uint64_t *bytes);

/* Wait until the QEMU of dir (pid qemu) has loaded its incoming stream
 * (its run state leaves "inmigrate"): 0 once it is "paused" or "running",
 * else -EIO "migration stream refused by QEMU: ITS WORDS", or -ETIMEDOUT
 * after 120 s. */
int vk_mig_wait_loaded(struct vk_qmp *q, const char *dir, pid_t qemu);

/* Drop "-incoming X" and the "-S" that came with it from a NULL-terminated
 * malloc'd argv, in place: the monitor restarts a restored VM that
 * rebooted as a fresh boot. */
void vk_mig_argv_drop_incoming(char **argv);

#endif
