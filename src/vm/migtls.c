/* Migration's disk copies over TLS (contracts in migtls.h). */
#include "vm/migtls.h"

#include "tls/tls.h"
#include "util/err.h"
#include "util/str.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* object-add of tls-creds-x509 VK_MIGTLS_ID. */
static int add_creds(struct vk_qmp *q, const char *dir, const char *endpoint)
{
    int err = vk_qmp_execute(q, "object-add",
                             json_pack("{s:s, s:s, s:s, s:s, s:b}", "qom-type", "tls-creds-x509",
                                       "id", VK_MIGTLS_ID, "dir", dir, "endpoint", endpoint,
                                       "verify-peer", 1), NULL, VK_QMP_WAIT_MS);
    return err ? vk_error_prefix(err, "%s: QEMU refused the TLS credentials: ", dir) : 0;
}

/* Contract in migtls.h. */
int vk_migtls_client(struct vk_qmp *q, const char *host, char *hostname, size_t len)
{
    char dir[4200], ca[4300];
    int err = vk_tls_path(VK_TLS_MIGRATE, dir, sizeof dir);
    if (err || (err = vk_pathf(ca, sizeof ca, "%s/ca-cert.pem", dir)) < 0)
        return err;
    if (access(ca, F_OK) < 0)
        return vk_error(-ENOENT, "%s: no credentials for migrating with --tls: run `vmkit tls "
                        "issue-client NAME --qemu-dir DIR` on the receiving host and copy DIR here",
                        dir);
    const char *at = strrchr(host, '@');
    host = at ? at + 1 : host;
    size_t n = strlen(host);
    if (n >= 2 && host[0] == '[' && host[n - 1] == ']')
        snprintf(hostname, len, "%.*s", (int)(n - 2), host + 1);
    else
        snprintf(hostname, len, "%s", host);
    return add_creds(q, dir, "client");
}

/* Contract in migtls.h. */
int vk_migtls_server(struct vk_qmp *q)
{
    char dir[4300];
    int err = vk_tls_qemu_dir(dir, sizeof dir);
    return err ? err : add_creds(q, dir, "server");
}

/* Contract in migtls.h. */
void vk_migtls_drop(struct vk_qmp *q)
{
    vk_qmp_execute(q, "object-del", json_pack("{s:s}", "id", VK_MIGTLS_ID), NULL, VK_QMP_WAIT_MS);
    vk_error_clear();
}
