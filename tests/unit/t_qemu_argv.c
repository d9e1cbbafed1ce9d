/* QEMU argv builder.  Without arguments: TAP checks of the argv built for
 * a set of configs.  With arguments (used by tests/t_vm_config.sh):
 *     t_qemu_argv CFG RUNDIR [key=value ...]
 * loads CFG, applies the overrides, checks it, chooses the accelerator and
 * prints the argv one word per line, with the QMP sockets, console socket,
 * console log and pidfile in RUNDIR and the guest paused (-S). */
#include "tap.h"
#include "vm/config.h"
#include "vm/qemu_args.h"
#include "util/err.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHK(cond, ...)             \
    do {                           \
        int cond_ = (cond) != 0;   \
        CHECK(cond_, __VA_ARGS__); \
    } while (0)

static int print_argv(int argc, char **argv)
{
    struct vk_domcfg c;
    int err = vk_domcfg_load(argv[1], &c);
    for (int i = 3; !err && i < argc; i++)
        err = vk_domcfg_set(&c, argv[i]);
    if (!err)
        err = vk_domcfg_check(&c);
    const char *accel = NULL;
    char why[256], p[5][4096];
    if (!err)
        err = vk_accel_choose(c.accel, &accel, why, sizeof why);
    const char *names[5] = { "qmp.sock", "qmp-cli.sock", "console.sock", "console.log", "qemu.pid" };
    for (int i = 0; i < 5; i++)
        snprintf(p[i], sizeof p[i], "%s/%s", argv[2], names[i]);
    struct vk_qemu_setup s = { .accel = accel, .qmp_monitor = p[0], .qmp_cli = p[1],
                               .console_sock = p[2], .console_log = p[3], .pidfile = p[4],
                               .rundir = argv[2], .paused = 1, .qemu = getenv("VMKIT_QEMU") };
    char **av = NULL;
    if (!err)
        err = vk_domcfg_validate_disks(&c);
    if (!err)
        err = vk_qemu_argv(&c, &s, &av);
    if (err) {
        fprintf(stderr, "vmkit: %s\n", vk_errmsg());
        vk_domcfg_free(&c);
        return 1;
    }
    for (char **a = av; *a; a++)
        printf("%s\n", *a);
    fprintf(stderr, "accel %s\n", why);
    vk_argv_free(av);
    vk_domcfg_free(&c);
    return 0;
}

/* The argv as one space-joined string, for substring checks. */
static char *build(const char *text, const struct vk_qemu_setup *s, int *err)
{
    struct vk_domcfg c;
    *err = vk_domcfg_parse(text, strlen(text), "t.cfg", &c);
    if (!*err)
        *err = vk_domcfg_check(&c);
    char **av = NULL;
    if (!*err)
        *err = vk_qemu_argv(&c, s, &av);
    vk_domcfg_free(&c);
    if (*err)
        return NULL;
    size_t n = 1;
    for (char **a = av; *a; a++)
        n += strlen(*a) + 1;
    char *j = calloc(1, n);
    for (char **a = av; *a; a++) {
        strcat(j, *a);
        if (a[1])
            strcat(j, " ");
    }
    vk_argv_free(av);
    return j;
}

static void has(const char *j, const char *needle, const char *what)
{
    CHK(j && strstr(j, needle), "%s: argv has '%s'", what, needle);
}

static void hasnt(const char *j, const char *needle, const char *what)
{
    CHK(j && !strstr(j, needle), "%s: argv lacks '%s'", what, needle);
}

int main(int argc, char **argv)
{
    if (argc >= 3)
        return print_argv(argc, argv);

    struct vk_qemu_setup s = { .qemu = "/bin/true", .accel = "tcg", .qmp_monitor = "/r/q,1.sock",
                               .qmp_cli = "/r/c.sock", .console_sock = "/r/con.sock",
                               .console_log = "/r/con.log", .pidfile = "/r/pid" };
    int err;
    char *j = build("name='web'\nuuid='e5a1a5a0-4f3b-4b8e-9d2c-0123456789ab'\nmemory=512\nvcpus=2\n"
                    "disk=['vdev=xvda,access=w,target=/v/a,b.qcow2', 'format=raw,vdev=hda,access=rw,target=/v/h.img',"
                    "'/v/cd.iso,hdc:cdrom,r', ',hdd:cdrom,r', '/v/s.img,sdb,w']\n"
                    "vif=['mac=00:16:3e:27:84:7a,hostfwd=tcp::2222-:22;tcp:127.0.0.1:8080-:80',"
                    "'bridge=br0,model=e1000']\nvnc=1\nboot='dc'\n", &s, &err);
    CHK(err == 0, "full config builds (%s)", err ? vk_errmsg() : "");
    has(j, "/bin/true -name web,process=vmkit-web -uuid e5a1a5a0-4f3b-4b8e-9d2c-0123456789ab "
           "-nodefaults -no-user-config -machine pc -accel tcg -m 512M -smp 2 -action reboot=shutdown,panic=pause",
        "head");
    hasnt(j, "-no-reboot", "no -no-reboot");
    has(j, "-chardev socket,id=qmp-mon,path=/r/q,,1.sock,server=on,wait=off -mon chardev=qmp-mon,mode=control",
        "monitor QMP, comma doubled");
    has(j, "-chardev socket,id=qmp-cli,path=/r/c.sock,server=on,wait=off -mon chardev=qmp-cli,mode=control",
        "CLI QMP");
    has(j, "socket,id=console,path=/r/con.sock,server=on,wait=off,logfile=/r/con.log,logappend=on -device isa-serial,chardev=console,index=0",
        "serial console");
    has(j, "-pidfile /r/pid", "pidfile");
    has(j, "-drive file=/v/a,,b.qcow2,if=none,id=disk0,format=raw -device virtio-blk-pci,drive=disk0", "virtio disk without format= is raw: QEMU never probes");
    has(j, "-drive file=/v/h.img,if=ide,index=0,format=raw", "IDE hda raw");
    has(j, "-drive file=/v/cd.iso,if=ide,index=2,format=raw,readonly=on,media=cdrom", "IDE cdrom hdc");
    has(j, "-drive if=ide,index=3,readonly=on,media=cdrom", "empty cdrom hdd");
    has(j, "-device virtio-scsi-pci,id=scsi0 -drive file=/v/s.img,if=none,id=disk4,format=raw "
           "-device scsi-hd,drive=disk4,bus=scsi0.0,scsi-id=1", "SCSI sdb");
    has(j, "-netdev user,id=net0,hostfwd=tcp::2222-:22,hostfwd=tcp:127.0.0.1:8080-:80 "
           "-device virtio-net-pci,netdev=net0,mac=00:16:3e:27:84:7a", "user net with hostfwd");
    has(j, "-netdev bridge,id=net1,br=br0,helper=/usr/lib/qemu/qemu-bridge-helper -device e1000,netdev=net1",
        "bridge net, e1000");
    has(j, "-device VGA -vnc 127.0.0.1:0,to=99", "vnc default 127.0.0.1 auto display");
    has(j, "-boot order=dc", "boot order");
    hasnt(j, "-S", "not paused");
    free(j);

    j = build("name='k'\nkernel='/b/vmlinuz'\nramdisk='/b/initrd'\nroot='/dev/vda1 ro'\nextra='console=ttyS0'\n"
              "maxmem=1024\nmemory=256\nvnc=0\naccel='kvm'\n", &s, &err);
    has(j, "-m size=256M,slots=4,maxmem=1024M", "maxmem");
    has(j, "-kernel /b/vmlinuz -initrd /b/initrd -append root=/dev/vda1 ro console=ttyS0", "direct boot");
    has(j, "-display none", "vnc=0");
    has(j, "-netdev user,id=net0 -device virtio-net-pci,netdev=net0", "default NIC is user NAT");
    free(j);

    struct vk_qemu_setup s2 = s;
    s2.kernel = "/tmp/pygrub-k";
    s2.initrd = NULL;
    s2.append = "root=LABEL=r";
    s2.paused = 1;
    s2.daemonize = 1;
    s2.console_sock = NULL;
    j = build("name='p'\nbootloader='pygrub'\nvif=[]\nvnc=1\nvnclisten='0.0.0.0:5'\nvncpasswd='x'\n", &s2, &err);
    has(j, "-kernel /tmp/pygrub-k -append root=LABEL=r", "setup kernel (from pygrub) wins");
    hasnt(j, "-initrd", "no initrd");
    hasnt(j, "-netdev", "vif=[] means no NIC");
    has(j, "-vnc 0.0.0.0:5,password=on", "vnclisten ADDR:DISPLAY with password");
    hasnt(j, "x", "password never in argv") ;
    hasnt(j, "isa-serial", "no console socket: no serial port");
    has(j, "-S -daemonize", "paused and daemonized");
    free(j);

    struct vk_qemu_setup s3 = s;
    s3.vnc_tls_dir = "/cfg/a,b/tls/qemu";
    j = build("name='t'\nvnc=1\nvnclisten='0.0.0.0'\nvncdisplay=3\nvncpasswd='pw'\n", &s3, &err);
    has(j, "-object tls-creds-x509,id=vnc-tls,endpoint=server,verify-peer=on,dir=/cfg/a,,b/tls/qemu "
        "-vnc 0.0.0.0:3,password=on,tls-creds=vnc-tls", "VNC over TLS: x509 creds, client certificates, commas doubled");
    free(j);

    j = build("name='v6'\nvnc=1\nvnclisten='::1'\nvncdisplay=7\n", &s, &err);
    has(j, "-vnc [::1]:7", "IPv6 vnclisten bracketed");
    free(j);

    j = build("name='a'\ndisk=['/a,hda','/b,hdb','/c,hdc','/d,hdd','/e,hde']\n", &s, &err);
    CHK(!j && err == -EINVAL && strstr(vk_errmsg(), "disk '/e,hde': IDE has only hda..hdd"), "fifth IDE disk refused");
    j = build("name='a'\ndisk=['/a,hdb,r']\n", &s, &err);
    CHK(!j && err == -EINVAL && strstr(vk_errmsg(), "a read-only IDE hard disk is not supported"),
        "read-only IDE disk refused before QEMU runs (%s)", vk_errmsg());
    j = build("name='a'\ndisk=['/a,xvdc:cdrom,r']\n", &s, &err);
    CHK(!j && err == -EINVAL && strstr(vk_errmsg(), "a cdrom must be hdX or sdX"), "virtio cdrom refused");
    s2 = s;
    s2.qemu = "qemu-system-vmkit-none";
    j = build("name='a'\n", &s2, &err);
    CHK(!j && err == -ENOENT && !strcmp(vk_errmsg(), "qemu-system-vmkit-none: not found in PATH (install qemu-system-x86)"),
        "missing QEMU named (%s)", vk_errmsg());
    j = build("memory=64\n", &s, &err);
    CHK(!j && err == -EINVAL, "config without name refused");

    char path[4096];
    CHK(vk_qemu_find("sh", path, sizeof path) == 0 && strstr(path, "/sh"), "finds sh in PATH (%s)", path);
    return tap_done();
}
