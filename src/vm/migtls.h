/* `vmkit migrate --copy-storage --tls`: the disk copies (QEMU's NBD
 * client on the sender, its NBD server on the receiver, connected
 * directly over TCP or a unix socket) under TLS with the host CA
 * (tls/tls.h), as libvirt's migrate --tls does for its NBD copies.
 *
 * QEMU's migration stream is not: vmkit relays it one way through
 * SSHCOMMAND's pipe (migrate.h), which has no channel back for a TLS
 * handshake; ssh itself encrypts and authenticates that pipe.
 *
 * Sender (TLS client): QEMU object tls-creds-x509 VK_MIGTLS_ID,
 * endpoint=client, dir=<tls dir>/migrate: the receiving host's CA as
 * ca-cert.pem and a client certificate it issued (`vmkit tls
 * issue-client NAME --qemu-dir DIR` there); QEMU checks the receiver's
 * server certificate against that CA for the name HOST.
 * Receiver (TLS server): endpoint=server, verify-peer=on, over its own
 * <tls dir>/qemu (vk_tls_qemu_dir): only a sender with a certificate of
 * this host's CA, not revoked, gets through. */
#ifndef VK_VM_MIGTLS_H
#define VK_VM_MIGTLS_H

#include "vm/qmp.h"

#include <stddef.h>

#define VK_MIGTLS_ID "vmkit-mig-tls"

/* Sender: add the client credentials to QEMU q (object VK_MIGTLS_ID) and
 * put the name to check the receiver's certificate for (host without
 * "user@" or brackets) into hostname.  -ENOENT naming the missing
 * directory. */
int vk_migtls_client(struct vk_qmp *q, const char *host, char *hostname, size_t len);

/* Receiver: add the server credentials to QEMU q (verify-peer).
 * -ENOENT "no CA: run vmkit tls init" when there is none. */
int vk_migtls_server(struct vk_qmp *q);

/* Sender, after a failed migration (vk_copy_finish removed the nodes
 * using them): remove the credentials, so a next migrate --tls can add
 * them again.  Errors are ignored (and cleared). */
void vk_migtls_drop(struct vk_qmp *q);

#endif
