/* vmkit serve: the JSON API over the library (GET /api/vms, GET
 * /api/vms/NAME, POST /api/vms/NAME/ACTION).  No network code: a request
 * routed by req.h goes in, a status and a JSON text come out.  It reads
 * the same runtime dirs and config store as the CLI and keeps no state. */
#ifndef VK_SERVE_API_H
#define VK_SERVE_API_H

#include "serve/req.h"

#include <stddef.h>

struct vk_serve_resp {
    int status;         /* HTTP status */
    char *body;         /* malloc'd JSON text (free it) */
    size_t len;
};

/* Every VM, running (live state from the runtime dirs, as `vmkit list -l
 * --json`) and defined ("shut off"), as a JSON array text, sorted running
 * by id then defined by name; each object also has "defined": whether
 * NAME.cfg is stored.  0 and *out (malloc'd), or a negative errno. */
int vk_serve_vm_list(char **out, size_t *len);

/* Answer a routed API request (kind LIST, VM or ACTION; o the parsed body
 * of an ACTION).  Always fills *resp: 200 with the JSON answer, or an
 * error status with {"error": MESSAGE, "status": N}: 404 no such VM, 409
 * the action does not apply to the VM's state, 500 the library failed.
 * An action is taken synchronously (start returns once QEMU is up). */
void vk_serve_api(const struct vk_route *r, const struct vk_act_opts *o,
                  struct vk_serve_resp *resp);

/* Fill *resp with status and {"error": msg, "status": status}. */
void vk_serve_error(struct vk_serve_resp *resp, int status, const char *msg);

#endif
