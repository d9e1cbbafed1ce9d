/* Drives the public API of an installed libvmkit for tests/t_pkg_install.sh
 * (built there with pkg-config against the installed tree).  One verb per
 * run; prints what it did, errors as "api: MESSAGE" with exit 1.
 *
 *   api pwrite SPEC OFFSET TEXT   write TEXT at OFFSET of a disk/partition
 *   api pread SPEC OFFSET LEN     print LEN bytes at OFFSET
 *   api write SPEC TEXT           vmkit_file_write (mode 0640)
 *   api cat SPEC MAX              vmkit_file_read with max_size MAX
 *   api vms                       vmkit_vm_list: "NAME ID STATE MEM VCPUS"
 *   api start NAME | create CFG | destroy NAME | shutdown NAME SECS
 */
#include <vmkit/vmkit.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fail(void)
{
    fprintf(stderr, "api: %s\n", vmkit_errmsg());
    return 1;
}

static int disk_io(const char *verb, const char *spec, const char *off, const char *arg)
{
    vmkit_disk *d;
    int w = !strcmp(verb, "pwrite");
    if (vmkit_disk_open(spec, w ? VMKIT_RDWR : 0, &d) < 0)
        return fail();
    uint64_t o = strtoull(off, NULL, 0);
    int r;
    if (w) {
        r = vmkit_disk_pwrite(d, arg, strlen(arg), o);
    } else {
        size_t n = strtoul(arg, NULL, 0);
        char *buf = malloc(n + 1);
        r = buf ? vmkit_disk_pread(d, buf, n, o) : -1;
        if (r >= 0)
            fwrite(buf, 1, n, stdout);
        free(buf);
    }
    if (r < 0) {
        fprintf(stderr, "api: %s\n", vmkit_errmsg());
        vmkit_disk_close(d);
        return 1;
    }
    return vmkit_disk_close(d) < 0 ? fail() : 0;
}

int main(int argc, char **argv)
{
    const char *v = argc > 1 ? argv[1] : "";
    if ((!strcmp(v, "pwrite") || !strcmp(v, "pread")) && argc == 5)
        return disk_io(v, argv[2], argv[3], argv[4]);
    if (!strcmp(v, "write") && argc == 4)
        return vmkit_file_write(argv[2], argv[3], strlen(argv[3]), 0640) < 0 ? fail() : 0;
    if (!strcmp(v, "cat") && argc == 4) {
        char *data;
        size_t len;
        if (vmkit_file_read(argv[2], strtoul(argv[3], NULL, 0), &data, &len) < 0)
            return fail();
        fwrite(data, 1, len, stdout);
        free(data);
        return 0;
    }
    if (!strcmp(v, "vms") && argc == 2) {
        struct vmkit_vm *vm;
        int n = vmkit_vm_list(&vm);
        if (n < 0)
            return fail();
        for (int i = 0; i < n; i++)
            printf("%s %d %s %ld %ld\n", vm[i].name, vm[i].id, vm[i].state, vm[i].memory_mb,
                   vm[i].vcpus);
        vmkit_vm_list_free(vm);
        return 0;
    }
    if (!strcmp(v, "start") && argc == 3)
        return vmkit_vm_start(argv[2]) < 0 ? fail() : 0;
    if (!strcmp(v, "create") && argc == 3)
        return vmkit_vm_create(argv[2]) < 0 ? fail() : 0;
    if (!strcmp(v, "destroy") && argc == 3)
        return vmkit_vm_destroy(argv[2]) < 0 ? fail() : 0;
    if (!strcmp(v, "shutdown") && argc == 4)
        return vmkit_vm_shutdown(argv[2], atoi(argv[3])) < 0 ? fail() : 0;
    fprintf(stderr, "usage: api VERB ARGS (see the source)\n");
    return 2;
}
