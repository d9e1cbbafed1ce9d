/* libFuzzer entry point: vmkit top's reading of QEMU's replies.  The input
 * is two JSON texts, a query-blockstats reply and a query-cpus-fast reply,
 * split at the first newline (either may fail to parse: NULL, as when
 * QEMU does not answer); the totals must stay the sum of the devices. */
#include "vm/top.h"
#include "util/err.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data, *nl = memchr(text, '\n', size);
    size_t first = nl ? (size_t)(nl - text) : size;
    json_t *bs = json_loadb(text, first, JSON_DECODE_ANY, NULL);
    json_t *cpus = nl ? json_loadb(nl + 1, size - first - 1, JSON_DECODE_ANY, NULL) : NULL;
    struct vk_top_vm v;
    memset(&v, 0, sizeof v);
    v.n_disks = -1;
    v.rd_ops = v.wr_ops = v.rd_bytes = v.wr_bytes = -1;
    pid_t tids[8];
    int n = vk_top_from_qmp(&v, bs, cpus, tids, 8);
    if (n > 8)
        abort();
    for (int i = 0; i < n; i++)
        if (tids[i] <= 0)
            abort();
    if (v.n_disks >= 0) {
        int64_t sum = 0;
        int known = 1;
        for (int i = 0; i < v.n_disks; i++) {
            known &= v.disks[i].rd_bytes >= 0 && sum <= INT64_MAX - v.disks[i].rd_bytes;
            if (known)
                sum += v.disks[i].rd_bytes;
        }
        if (known ? v.rd_bytes != sum : v.rd_bytes != -1)
            abort();
    }
    free(v.disks);
    json_decref(bs);
    json_decref(cpus);
    vk_error_clear();
    return 0;
}
