/* vmkit migrate --copy-storage: the disks go with the VM, as libvirt's
 * non-shared-storage migration does (migrate.h has the conversation).
 *
 * Sender: every writable disk image of the VM (not CD-ROMs, read-only or
 * network disks: those must be at the same paths there) is listed in the
 * metadata's "copy" with its virtual size.  Once the receiver answers
 * with its NBD address, QEMU's drive-mirror (sync=full, mode=existing)
 * copies each disk to it while the guest runs on, and keeps the copy in
 * step with the guest's writes.  When every job is ready, the normal
 * migration runs; after it completed (the guest stopped here) the jobs
 * are cancelled, which in the ready state leaves a consistent copy, and
 * only then does the sender send the trailer.
 *
 * Receiver: it creates each disk as a NEW file (never an existing one) of
 * the same format and virtual size: at the config's path, or with
 * --storage-dir DIR at DIR/<the file's name>; the config it runs and
 * defines names the new paths.  Its QEMU (paused, -incoming) exports
 * them writable over NBD on a unix socket in its runtime dir, and stops
 * the NBD server once the stream (and so the disks) arrived, before the
 * VM resumes.  On any failure the files it created are removed.
 */
#ifndef VK_VM_MIGCOPY_H
#define VK_VM_MIGCOPY_H

#include "vm/config.h"
#include "vm/migproto.h"
#include "vm/qmp.h"

#include <jansson.h>

struct vk_copyjob {
    char vdev[16];
    char dev[64];           /* QEMU's block device name (query-block) */
    uint64_t size;
    int started;
};

struct vk_copyset {
    struct vk_copyjob *j;
    int n;
};

/* Sender: the disks of cfg to copy (see above), found in QEMU q, into
 * *cs (free with vk_copyset_free) and into meta's "copy".  -EINVAL
 * "NAME: no disk to copy" when there is none. */
int vk_copy_collect(struct vk_qmp *q, const struct vk_domcfg *cfg, json_t *meta,
                    struct vk_copyset *cs);

/* Sender: mirror every disk of cs to the NBD server at unix socket sock
 * or, with port > 0, at host:port (host as given to migrate; a "user@"
 * is dropped), each export a blockdev node ("vmkit-copy-VDEV-nbd"), over TLS
 * with QEMU's credentials object tls (NULL: plain) checking the server
 * for the name tls_host, and wait until all are ready.  0 or a negative
 * errno naming the disk. */
int vk_copy_mirror(struct vk_qmp *q, struct vk_copyset *cs, const char *sock, const char *host,
                   int port, const char *tls, const char *tls_host);

/* Sender: end the jobs of cs that were started and remove their target
 * nodes: with force = 0 after a
 * completed migration (a consistent copy; an error if a job failed),
 * with force = 1 after a failure (errors ignored). */
int vk_copy_finish(struct vk_qmp *q, struct vk_copyset *cs, int force);

void vk_copyset_free(struct vk_copyset *cs);

/* Receiver: create the n disks d of cfg as new files (see above; dir =
 * --storage-dir or NULL) and point cfg at them.  The paths created go to
 * *created (a NULL-terminated malloc'd list; vk_copy_remove).  0 or a
 * negative errno naming the disk or path (what it created is removed);
 * -EINVAL for a dir that is not absolute. */
int vk_copy_create(struct vk_domcfg *cfg, const struct vk_migdisk *d, int n, const char *dir,
                   char ***created);

/* Receiver: remove the files of list (if rm) and free it. */
void vk_copy_remove(char **list, int rm);

/* Receiver: export the n disks d of cfg (started paused, -incoming) from
 * QEMU q writable over NBD on the unix socket VMDIR/nbd.sock (its path
 * into sock) or, with port > 0, on TCP port port of all IPv4 addresses
 * (sock gets ""); over TLS with QEMU's credentials object tls (NULL:
 * plain). */
int vk_copy_export(struct vk_qmp *q, const char *vmdir, const struct vk_domcfg *cfg,
                   const struct vk_migdisk *d, int n, int port, const char *tls, char *sock,
                   size_t len);

/* Receiver: stop the NBD server (and so its exports) and remove its
 * unix socket sock (if not ""). */
int vk_copy_unexport(struct vk_qmp *q, const char *sock);

#endif
