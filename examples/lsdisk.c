/* lsdisk: list a disk image's partitions and print a file from inside it,
 * through libvmkit's public API.
 *
 *   cc lsdisk.c $(pkg-config --cflags --libs libvmkit) -o lsdisk
 *   ./lsdisk disk.img 1:/etc/hostname
 */
#include <vmkit/vmkit.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: lsdisk DISK N:/PATH\n");
        return 2;
    }
    vmkit_disk *d;
    if (vmkit_disk_open(argv[1], 0, &d) < 0) {
        fprintf(stderr, "lsdisk: %s\n", vmkit_errmsg());
        return 1;
    }
    struct vmkit_partition *p;
    int n = vmkit_disk_partitions(d, &p);
    if (n < 0) {
        fprintf(stderr, "lsdisk: %s\n", vmkit_errmsg());
        vmkit_disk_close(d);
        return 1;
    }
    printf("%s: %" PRIu64 " bytes, %d partitions (libvmkit %s)\n", argv[1],
           vmkit_disk_size(d), n, vmkit_version());
    for (int i = 0; i < n; i++)
        printf("%s:%u start %" PRIu64 " size %" PRIu64 " type %s%s\n", argv[1], p[i].number,
               p[i].offset, p[i].size, p[i].type, p[i].bootable ? " boot" : "");
    vmkit_partitions_free(p);
    vmkit_disk_close(d);

    char spec[4096], *data;
    size_t len;
    snprintf(spec, sizeof spec, "%s:%s", argv[1], argv[2]);
    if (vmkit_file_read(spec, 1 << 20, &data, &len) < 0) {
        fprintf(stderr, "lsdisk: %s\n", vmkit_errmsg());
        return 1;
    }
    fwrite(data, 1, len, stdout);
    free(data);
    return 0;
}
