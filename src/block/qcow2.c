/* qcow2: placeholder until the qcow2 driver lands (issue 2). Recognises
 * the header so a qcow2 image is never mistaken for raw. */
#include "block/blockdev.h"

#include "util/err.h"

#include <errno.h>
#include <unistd.h>

static int qcow2_probe(const uint8_t *buf, size_t len, const char *filename)
{
    return len >= 8 && buf[0] == 'Q' && buf[1] == 'F' && buf[2] == 'I' && buf[3] == 0xfb ? 100 : 0;
}

static int qcow2_open(int fd, const char *name, int flags, struct vk_blockdev **out)
{
    close(fd);
    return vk_error(-ENOTSUP, "%s: qcow2 is not supported yet", name);
}

const struct vk_format vk_format_qcow2 = {
    .name = "qcow2",
    .probe = qcow2_probe,
    .open = qcow2_open,
};
