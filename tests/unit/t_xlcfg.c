/* xl.cfg parser, writer, overrides, disk/vif specs, accel choice. */
#include "tap.h"
#include "vm/config.h"
#include "vm/devspec.h"
#include "vm/qemu_args.h"
#include "vm/store.h"
#include "util/err.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <unistd.h>

/* tap.h's CHECK evaluates its condition twice; these conditions parse and
 * allocate, so evaluate once. */
#define CHK(cond, ...)                 \
    do {                               \
        int cond_ = (cond) != 0;       \
        CHECK(cond_, __VA_ARGS__);     \
    } while (0)

static char warned[4096];
static void on_warn(const char *m, void *ctx)
{
    (void)ctx;
    strncat(warned, m, sizeof warned - strlen(warned) - 2);
    strcat(warned, "\n");
}

static int parse(const char *t, struct vk_domcfg *c)
{
    return vk_domcfg_parse(t, strlen(t), "web.cfg", c);
}

static int S(const char *a, const char *b) { return a && b ? !strcmp(a, b) : a == b; }

/* Parse text; expect failure with exactly this message. */
static void bad(const char *text, const char *msg)
{
    struct vk_domcfg c;
    int r = parse(text, &c);
    CHK(r == -EINVAL && !strcmp(vk_errmsg(), msg), "error '%s' (got %d '%s')", msg, r, vk_errmsg());
}

/* Two configs are equal when they format to the same text (the writer
 * covers every key). */
static int cfg_equal(const struct vk_domcfg *a, const struct vk_domcfg *b)
{
    char *x = vk_domcfg_format(a), *y = vk_domcfg_format(b);
    int eq = x && y && !strcmp(x, y);
    free(x);
    free(y);
    return eq;
}

static void roundtrip(const struct vk_domcfg *c, const char *what)
{
    char *t = vk_domcfg_format(c);
    struct vk_domcfg d;
    int r = t ? vk_domcfg_parse(t, strlen(t), "fmt.cfg", &d) : -1;
    CHK(r == 0 && cfg_equal(c, &d), "%s: format parses back to the same config%s%s", what,
          r ? ": " : "", r ? vk_errmsg() : "");
    if (r == 0) {
        char *t2 = vk_domcfg_format(&d);
        CHK(t2 && !strcmp(t, t2), "%s: formatting is stable", what);
        free(t2);
        vk_domcfg_free(&d);
    }
    free(t);
}

static void test_design_example(void)
{
    const char *t =
        "name    = \"web\"\n"
        "memory  = 512\n"
        "vcpus   = 2\n"
        "bootloader = \"pygrub\"            # or kernel= ramdisk= extra= root=\n"
        "disk    = [ 'file:/vms/web.qcow2,xvda,w', 'file:/isos/netinst.iso,hdc:cdrom,r' ]\n"
        "vif     = [ 'mac=00:16:3e:27:84:7a,bridge=br0' ]   # default: user-mode NAT\n"
        "vnc     = 1                      # listens on 127.0.0.1 unless vnclisten says otherwise\n"
        "serial  = \"pty\"\n"
        "on_poweroff = \"destroy\"\n"
        "on_reboot   = \"restart\"\n"
        "on_crash    = \"restart\"\n";
    struct vk_domcfg c;
    int r = parse(t, &c);
    CHK(r == 0, "DESIGN.md example parses (%s)", r ? vk_errmsg() : "");
    if (r)
        return;
    CHK(S(c.name, "web") && c.memory == 512 && c.vcpus == 2 && S(c.bootloader, "pygrub"),
          "name, memory, vcpus, bootloader");
    CHK(c.n_disks == 2, "two disks");
    CHK(S(c.disks[0].target, "/vms/web.qcow2") && S(c.disks[0].vdev, "xvda") &&
          c.disks[0].bus == VK_BUS_VIRTIO && c.disks[0].index == 0 && !c.disks[0].readonly &&
          !c.disks[0].cdrom && !c.disks[0].format, "disk 0: file: prefix, xvda, rw");
    CHK(S(c.disks[1].target, "/isos/netinst.iso") && S(c.disks[1].vdev, "hdc") &&
          c.disks[1].bus == VK_BUS_IDE && c.disks[1].index == 2 && c.disks[1].readonly &&
          c.disks[1].cdrom, "disk 1: hdc:cdrom, ro, IDE index 2");
    CHK(c.n_vifs == 1 && S(c.vifs[0].mac, "00:16:3e:27:84:7a") && S(c.vifs[0].bridge, "br0") &&
          c.vifs[0].type == VK_VIF_BRIDGE, "vif: mac and bridge");
    CHK(c.vnc == 1 && c.serial.n == 1 && S(c.serial.v[0], "pty") && c.on_poweroff == VK_ACT_DESTROY &&
          c.on_reboot == VK_ACT_RESTART && c.on_crash == VK_ACT_RESTART, "vnc, serial, actions");
    int had_uuid = c.uuid != NULL;
    r = vk_domcfg_check(&c);
    CHK(!had_uuid && r == 0 && c.uuid && strlen(c.uuid) == 36 && c.uuid[14] == '4',
          "check generates a v4 uuid");
    CHK(S(c.source, "web.cfg"), "source recorded");
    roundtrip(&c, "DESIGN.md example");
    vk_domcfg_free(&c);
}

static void test_xen_pv(void)
{
    /* in the style of xen's tools/examples/xlexample.pvlinux */
    const char *t =
        "# =====================================================================\n"
        "# Example PV Linux guest configuration\n"
        "name = \"pvlinux\"\n"
        "uuid = \"e5a1a5a0-4f3b-4b8e-9d2c-0123456789ab\"\n"
        "type = \"pv\"\n"
        "bootloader = \"pygrub\"\n"
        "bootloader_args = [ \"--entry=1\", '--kernel=/boot/vmlinuz' ]\n"
        "memory = 128\n"
        "maxmem = 512\n"
        "vcpus = 2\n"
        "vif = [ '' ]\n"
        "disk = [ '/dev/vg/guest-volume,raw,xvda,rw' ]\n"
        "on_crash = 'coredump-destroy'; on_reboot = 'rename-restart'\n";
    struct vk_domcfg c;
    warned[0] = 0;
    int r = parse(t, &c);
    CHK(r == 0, "Xen PV example parses (%s)", r ? vk_errmsg() : "");
    if (r)
        return;
    CHK(c.type == VK_TYPE_PV && !strstr(warned, "type"), "type=pv understood");
    CHK(c.bootloader_args.n == 2 && S(c.bootloader_args.v[1], "--kernel=/boot/vmlinuz"),
          "bootloader_args list");
    CHK(c.maxmem == 512 && c.memory == 128, "maxmem");
    CHK(c.vif_set && c.n_vifs == 1 && c.vifs[0].type == VK_VIF_USER && !c.vifs[0].mac,
          "vif [''] is one user NIC");
    CHK(c.n_disks == 1 && S(c.disks[0].format, "raw") && S(c.disks[0].target, "/dev/vg/guest-volume") &&
          S(c.disks[0].vdev, "xvda"), "positional target,format,vdev,access");
    CHK(c.on_crash == VK_ACT_COREDUMP_DESTROY && c.on_reboot == VK_ACT_RESTART,
          "coredump-destroy/rename-restart map; ';' separates");
    roundtrip(&c, "Xen PV example");
    vk_domcfg_free(&c);
}

static void test_xen_hvm(void)
{
    const char *t =
        "builder = 'hvm'\n"
        "name = \"win\"\n"
        "memory = 2048\n"
        "vcpus = 4\n"
        "disk = [\n"
        "    'phy:/dev/vg/win,hda,w',\n"
        "    'file:/srv/iso/win.iso,hdc:cdrom,r',   # installer\n"
        "    'format=qcow2, vdev=sdb, access=rw, target=/srv/data,with,commas.qcow2',\n"
        "    ',hdd:cdrom,r',\n"
        "    'tap:aio:/srv/x.img,xvdb,w',\n"
        "    'tap:qcow2:/srv/y.qcow2,vdc,r',\n"
        "]\n"
        "boot = \"dc\"\n"
        "vnc = 1\n"
        "vnclisten = '0.0.0.0'\n"
        "vncdisplay = 3\n"
        "vncpasswd = \"s3cr\\\"et\"\n"
        "accel = \"tcg\"\n";
    struct vk_domcfg c;
    int r = parse(t, &c);
    CHK(r == 0, "Xen HVM example parses (%s)", r ? vk_errmsg() : "");
    if (r)
        return;
    CHK(c.n_disks == 6, "six disks");
    CHK(c.disks[0].bus == VK_BUS_IDE && c.disks[0].index == 0 && S(c.disks[0].backendtype, "phy"),
          "phy: hda");
    CHK(S(c.disks[2].target, "/srv/data,with,commas.qcow2") && S(c.disks[2].format, "qcow2") &&
          c.disks[2].bus == VK_BUS_SCSI && c.disks[2].index == 1, "key=value spec, target with commas, sdb");
    CHK(c.disks[3].cdrom && !c.disks[3].target && c.disks[3].index == 3, "empty cdrom hdd");
    CHK(S(c.disks[4].target, "/srv/x.img") && S(c.disks[4].format, "raw") && c.disks[4].index == 1,
          "tap:aio: prefix");
    CHK(S(c.disks[5].target, "/srv/y.qcow2") && S(c.disks[5].format, "qcow2") &&
          c.disks[5].readonly && c.disks[5].bus == VK_BUS_VIRTIO && c.disks[5].index == 2,
          "tap:qcow2: prefix, vdc read-only");
    CHK(S(c.boot, "dc") && S(c.vnclisten, "0.0.0.0") && c.vncdisplay == 3 &&
          S(c.vncpasswd, "s3cr\"et") && S(c.accel, "tcg"), "boot, vnc settings, escaped quote");
    CHK(!c.vif_set && c.n_vifs == 0, "no vif given");
    roundtrip(&c, "Xen HVM example");
    vk_domcfg_free(&c);
}

static void test_errors(void)
{
    bad("name = \"web\nmemory = 5\n", "web.cfg:1:8: unterminated string");
    bad("name = 'web'\nmemory 512\n", "web.cfg:2:8: expected '=' after key");
    bad("name = 'w'\n\ndisk = [ 'a,xvda,w' 'b,xvdb,w' ]\n", "web.cfg:3:21: expected ',' or ']' in list");
    bad("disk = [ 'a,xvda,w',\n  'b,xvdb'\n", "web.cfg:1:8: unterminated list");
    bad("memory = \"lots\"\n", "web.cfg:1:10: memory: 'lots' is not a valid number");
    bad("memory = 99999999999999999999999\n", "web.cfg:1:10: memory: '99999999999999999999999' is out of range");
    bad("memory = 999999999\n", "web.cfg:1:10: memory: 999999999 is out of range (16..16777216)");
    bad("vcpus = 12abc\n", "web.cfg:1:9: vcpus: '12abc' is not a valid number");
    bad("name = web\n", "web.cfg:1:8: this looks like Python (an xm config): vmkit, like xl, reads only `key = value` settings, not Python code; run the file through Python and write the values it computes as plain settings (https://wiki.xenproject.org/wiki/PythonInXlConfig)");
    bad("name = 'a' 'b'\n", "web.cfg:1:12: expected end of line after value");
    bad("  = 5\n", "web.cfg:1:3: expected a key");
    bad("name = [ 'x' ]\n", "web.cfg:1:8: name: expected a single value, not a list");
    bad("on_crash = 'explode'\n", "web.cfg:1:12: on_crash: unknown action 'explode' (destroy, restart, preserve)");
    bad("x = \"a\\qb\"\n", "web.cfg:1:7: invalid character after backslash in quoted string");
    bad("\n\ndisk = [ 'file:/a.img,xvz1,w' ]\n",
        "web.cfg:3:10: disk 'file:/a.img,xvz1,w': unknown vdev 'xvz1' (want hdX, sdX, xvdX, vdX or fda/fdb)");
    bad("disk = [ '/a,xvda,rx' ]\n", "web.cfg:1:10: disk '/a,xvda,rx': unexpected 'rx'");
    bad("disk = [ '/a,xvda', '/b,xvda' ]\n", "web.cfg:1:21: disk: vdev 'xvda' used twice");
    bad("disk = [ ',xvda,w' ]\n", "web.cfg:1:10: disk ',xvda,w': no target (only a cdrom or floppy drive may be empty)");
    bad("vif = [ 'mac=00:16:3e:zz:00:01' ]\n",
        "web.cfg:1:9: vif 'mac=00:16:3e:zz:00:01': bad mac '00:16:3e:zz:00:01' (want 00:16:3e:xx:xx:xx)");
    bad("vif = [ 'hostfwd=tcp::2222' ]\n",
        "web.cfg:1:9: vif 'hostfwd=tcp::2222': hostfwd 'tcp::2222' is not like tcp::2222-:22");
    bad("vif = [ 'bridge=br0,hostfwd=tcp::1-:2' ]\n",
        "web.cfg:1:9: vif 'bridge=br0,hostfwd=tcp::1-:2': hostfwd works only with user networking");
    bad("accel = 'xen'\n", "web.cfg:1:9: accel: expected \"kvm\" or \"tcg\"");
    bad("uuid = 'abc'\n", "web.cfg:1:8: uuid: expected xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx");

    /* size and list bounds */
    size_t big = VK_CFG_MAX_BYTES + 1;
    char *t = malloc(big);
    memset(t, '#', big);
    struct vk_domcfg c;
    CHK(vk_domcfg_parse(t, big, "huge.cfg", &c) == -EFBIG && strstr(vk_errmsg(), "huge.cfg: config is larger"),
          "over 1 MiB refused");
    free(t);
    size_t n = 0;
    t = malloc(VK_CFG_MAX_LIST * 6 + 64);
    n += (size_t)sprintf(t, "bootloader_args = [");
    for (int i = 0; i <= VK_CFG_MAX_LIST; i++)
        n += (size_t)sprintf(t + n, "'a',");
    sprintf(t + n, "]\n");
    CHK(parse(t, &c) == -EINVAL && strstr(vk_errmsg(), "list too long"), "list bound (%s)", vk_errmsg());
    free(t);

    /* unknown key: a warning, not an error */
    warned[0] = 0;
    CHK(parse("name='a'\nfrobnicate = 3\n", &c) == 0 &&
          strstr(warned, "web.cfg:2: unknown key 'frobnicate' ignored"), "unknown key warns");
    vk_domcfg_free(&c);

    /* check() */
    CHK(parse("memory = 64\n", &c) == 0 && vk_domcfg_check(&c) == -EINVAL &&
          !strcmp(vk_errmsg(), "web.cfg: no name = \"...\" given"), "check: no name");
    vk_domcfg_free(&c);
    CHK(parse("name='a/b'\n", &c) == 0 && vk_domcfg_check(&c) == -EINVAL &&
          strstr(vk_errmsg(), "name 'a/b' is not valid"), "check: bad name");
    vk_domcfg_free(&c);
    CHK(parse("name='a'\nmemory=512\nmaxmem=256\n", &c) == 0 && vk_domcfg_check(&c) == -EINVAL &&
          strstr(vk_errmsg(), "maxmem (256) is less than memory (512)"), "check: maxmem < memory");
    vk_domcfg_free(&c);
    CHK(parse("name='a'\nkernel='/k'\nbootloader='pygrub'\n", &c) == 0 && vk_domcfg_check(&c) == -EINVAL &&
          strstr(vk_errmsg(), "both bootloader and kernel"), "check: kernel and bootloader");
    vk_domcfg_free(&c);
    CHK(parse("name='a'\nmachine='pc,accel=kvm'\n", &c) == -EINVAL &&
          strstr(vk_errmsg(), "machine: 'pc,accel=kvm' is not a QEMU machine type name"), "machine name");
    CHK(parse("name='a'\n", &c) == 0 && vk_domcfg_check(&c) == 0 && c.memory == 128 && c.vcpus == 1,
          "check: defaults memory 128, vcpus 1");
    vk_domcfg_free(&c);
}

/* libxlu's grammar: numbers, quoting, +=, escapes, nesting, Python. */
static void test_libxlu_syntax(void)
{
    struct vk_domcfg c;
    warned[0] = 0;
    int r = parse("name = 'n'\nmemory = 0400\nvcpus = \"0x2\"\nmaxvcpus = 010\n"
                  "extra = 'a\\tb'\nextra += \" c\\\\d\\\"\"\n"
                  "serial = [ 'pty' ]\nserial += [ \"tcp::1,server\" , ]\n"
                  "vsnd_like = [ [ 'a', [ 'b' ] ], 'c' ]\n"
                  "rtc_timeoffset = \"-3600\"; acpi = 0x0\n", &c);
    CHK(r == 0, "libxlu syntax parses (%s)", r ? vk_errmsg() : "");
    if (r)
        return;
    CHK(c.memory == 256, "memory = 0400 is octal: 256 (%ld)", c.memory);
    CHK(c.vcpus == 2 && c.maxvcpus == 8, "quoted \"0x2\" and 010 are numbers (%ld, %ld)", c.vcpus,
        c.maxvcpus);
    CHK(S(c.extra, "a\tb c\\d\""), "escapes in both quotes, += concatenates ('%s')", c.extra);
    CHK(c.serial.n == 2 && S(c.serial.v[1], "tcp::1,server"), "+= appends to a list");
    CHK(c.rtc_timeoffset == -3600 && c.acpi == 0, "negative number quoted; hex bool");
    CHK(strstr(warned, "unknown key 'vsnd_like' ignored") != NULL, "a nested list parses");
    roundtrip(&c, "libxlu syntax");
    vk_domcfg_free(&c);

    bad("memory = 512\nmemory += 5\n", "web.cfg:2:11: memory: can't use += with numbers");
    bad("memory = 08\n", "web.cfg:1:10: memory: '08' is not a valid number");
    bad("extra = \"\\x41\"\n", "web.cfg:1:10: \\x escapes are not supported: xl's parser rejects "
        "every one (write the character itself)");
    bad("extra = '\\101'\n", "web.cfg:1:10: octal escapes are not supported: xl's parser drops "
        "them without a word (write the character itself)");
    bad("Memory = 5\n", "web.cfg:1:1: expected a key (xl keys are lower case: [a-z][a-z0-9_]*)");
    bad("vnuma = [ [ 'pnode=0', 'size=512' ] ]\n", "web.cfg:1:1: vnuma: not supported: virtual NUMA "
        "nodes bound to host nodes are not built (no -numa mapping yet)");
    bad("disk = [ [ 'a,xvda' ] ]\n", "web.cfg:1:10: disk: expected a string, not a nested list");
    bad("pci = [ '01:00.0' ]\n", "web.cfg:1:1: pci: not supported: passes host hardware to the "
        "guest, which needs root (VFIO) and is not supported");
    CHK(parse("import os\nname = 'x'\n", &c) == -EINVAL &&
        strstr(vk_errmsg(), "web.cfg:1:1: this looks like Python (an xm config)"), "import refused");
    CHK(parse("name = 'x'\nmemory = 256 + 2\n", &c) == -EINVAL &&
        strstr(vk_errmsg(), "web.cfg:2:14: this looks like Python"), "expression refused (%s)",
        vk_errmsg());
    char deep[64] = "x = ";
    for (int i = 0; i < 9; i++)
        strcat(deep, "[");
    CHK(parse(deep, &c) == -EINVAL && strstr(vk_errmsg(), "nested too deeply"), "nesting bounded");
    /* check(): the xl meanings */
    CHK(parse("name='h'\nbuilder='hvm'\nkernel='/usr/lib/xen/boot/hvmloader'\n", &c) == 0 &&
        vk_domcfg_check(&c) == 0 && !c.kernel && c.hvmloader && c.type == VK_TYPE_HVM &&
        c.vnc == 1 && S(c.vga, "cirrus"), "hvmloader kernel: BIOS boot, HVM defaults");
    vk_domcfg_free(&c);
    CHK(parse("name='v'\nvnc=1\nvnclisten='0.0.0.0'\n", &c) == 0 && vk_domcfg_check(&c) == -EINVAL &&
        strstr(vk_errmsg(), "without vncpasswd: anyone who can reach this host"), "open VNC refused");
    vk_domcfg_free(&c);
    CHK(parse("name='v'\nvnc=1\nvnclisten='0.0.0.0'\nvncpasswd=''\n", &c) == 0 &&
        vk_domcfg_check(&c) == 0, "open VNC with vncpasswd = \"\" on purpose");
    vk_domcfg_free(&c);
    CHK(parse("name='v'\nvcpus=4\nvcpu_avail=3\n", &c) == 0 && vk_domcfg_check(&c) == 0 &&
        c.vcpus == 2 && c.maxvcpus == 4, "xm vcpu_avail: 2 of 4 online");
    vk_domcfg_free(&c);
    CHK(parse("name='v'\nvcpus=4\nvcpu_avail=5\n", &c) == 0 && vk_domcfg_check(&c) == -EINVAL,
        "vcpu_avail with a hole refused");
    vk_domcfg_free(&c);
    CHK(parse("name='p'\nbootloader='pygrub'\nroot='/dev/xvda1'\nextra='quiet'\n", &c) == 0, "pygrub cfg");
    char *ap = vk_pygrub_append(&c, "ro console=tty0");
    CHK(ap && S(ap, "ro console=tty0 root=/dev/xvda1 quiet"), "pygrub: entry args, then root= extra ('%s')", ap);
    free(ap);
    vk_domcfg_set(&c, "bootloader_args=['--args=single']");
    ap = vk_pygrub_append(&c, "ro");
    CHK(ap && S(ap, "ro single"), "pygrub: --args= replaces them ('%s')", ap);
    free(ap);
    vk_domcfg_free(&c);
}

static void test_overrides(void)
{
    struct vk_domcfg c;
    parse("name = 'web'\nmemory = 512\n", &c);
    CHK(vk_domcfg_set(&c, "memory=1024") == 0 && c.memory == 1024, "memory=1024");
    CHK(vk_domcfg_set(&c, "name=\"db\"") == 0 && S(c.name, "db"), "name=\"db\"");
    CHK(vk_domcfg_set(&c, "name=plain") == 0 && S(c.name, "plain"), "bare word name=plain");
    CHK(vk_domcfg_set(&c, "vcpus = 2") == 0 && c.vcpus == 2, "vcpus = 2");
    CHK(vk_domcfg_set(&c, "disk=['/x.img,xvda,w']") == 0 && c.n_disks == 1, "disk list override");
    CHK(vk_domcfg_set(&c, "vif=[]") == 0 && c.vif_set && c.n_vifs == 0, "vif=[] means no NIC");
    CHK(vk_domcfg_set(&c, "memory=lots") == -EINVAL &&
          !strcmp(vk_errmsg(), "override 'memory=lots':1:8: memory: 'lots' is not a valid number"),
          "bad override names itself (%s)", vk_errmsg());
    CHK(vk_domcfg_set(&c, "memory") == -EINVAL && strstr(vk_errmsg(), "expected key=value"),
          "override without =");
    roundtrip(&c, "overridden");
    vk_domcfg_free(&c);
}

static void test_specs(void)
{
    struct vk_diskspec d;
    CHK(vk_diskspec_parse("/a.img,xvdab,ro", &d) == 0 && d.index == 27 && d.readonly, "xvdab index 27");
    vk_diskspec_free(&d);
    CHK(vk_diskspec_parse("vdev=hdc,devtype=cdrom,target=", &d) == 0 && d.cdrom && !d.target &&
          d.readonly, "key=value empty cdrom");
    vk_diskspec_free(&d);
    CHK(vk_diskspec_parse("qcow2:/a.q,vda", &d) == 0 && S(d.format, "qcow2") && !d.readonly,
          "qcow2: prefix, default rw");
    vk_diskspec_free(&d);
    /* the equivalent forms of xl-disk-configuration(5) */
    static const char *hda[] = { "/dev/vg/guest-volume,,hda", "/dev/vg/guest-volume,raw,hda,rw",
                                 "format=raw, vdev=hda, access=rw, target=/dev/vg/guest-volume",
                                 "raw:/dev/vg/guest-volume,hda,w" };
    for (int i = 0; i < 4; i++) {
        int r = vk_diskspec_parse(hda[i], &d);
        CHK(r == 0 && S(d.target, "/dev/vg/guest-volume") && d.bus == VK_BUS_IDE && d.index == 0 &&
            !d.readonly && !d.cdrom && (i == 0 || S(d.format, "raw")), "xl doc form '%s'", hda[i]);
        if (!r)
            vk_diskspec_free(&d);
    }
    static const char *hdc[] = { "/root/image.iso,,hdc,cdrom", "/root/image.iso,,hdc,,cdrom",
                                 "/root/image.iso,raw,hdc,devtype=cdrom",
                                 "format=raw, vdev=hdc, access=ro, devtype=cdrom, target=/root/image.iso",
                                 "raw:/root/image.iso,hdc:cdrom,ro" };
    for (int i = 0; i < 5; i++) {
        int r = vk_diskspec_parse(hdc[i], &d);
        CHK(r == 0 && S(d.target, "/root/image.iso") && d.bus == VK_BUS_IDE && d.index == 2 &&
            d.readonly && d.cdrom, "xl doc form '%s'", hdc[i]);
        if (!r)
            vk_diskspec_free(&d);
    }
    CHK(vk_diskspec_parse("/a.img,sda,w,rw", &d) == -EINVAL, "access given twice refused");
    CHK(vk_diskspec_parse("/a.img", &d) == -EINVAL && strstr(vk_errmsg(), "no vdev"), "no vdev");
    CHK(vk_diskspec_parse("format=bochs,vdev=xvda,target=/a", &d) == -EINVAL &&
          strstr(vk_errmsg(), "unknown format 'bochs'"), "unknown format");

    struct vk_vifspec v;
    CHK(vk_vifspec_parse("hostfwd=tcp::2222-:22;udp:127.0.0.1:5353-:53,hostfwd=tcp::8080-:80,model=e1000", &v) == 0 &&
          v.n_hostfwd == 3 && S(v.hostfwd[1], "udp:127.0.0.1:5353-:53") && S(v.model, "e1000") &&
          v.type == VK_VIF_USER, "hostfwd by ';' and repeated, model e1000");
    vk_vifspec_free(&v);
    CHK(vk_vifspec_parse("model=virtio,type=ioemu", &v) == 0 && S(v.model, "virtio-net-pci"),
          "model virtio normalised, type ioemu accepted");
    vk_vifspec_free(&v);
    CHK(vk_vifspec_parse("type=bridge", &v) == -EINVAL && strstr(vk_errmsg(), "needs bridge="),
          "type=bridge without bridge");
    CHK(vk_vifspec_parse("model=pcnet2", &v) == -EINVAL, "unknown model");
    CHK(vk_vifspec_parse("mac=01:16:3e:00:00:01", &v) == -EINVAL, "multicast mac refused");
    CHK(vk_vifspec_parse("nonsense", &v) == -EINVAL, "not key=value");
}

static void mkfile(const char *path)
{
    int fd = open(path, O_CREAT | O_WRONLY, 0644);
    if (fd >= 0)
        close(fd);
}

static void test_accel(void)
{
    char dir[] = "/tmp/vmkit-accel.XXXXXX", p[256], why[256];
    const char *a;
    if (!mkdtemp(dir)) {
        CHK(0, "mkdtemp");
        return;
    }
    setenv("VMKIT_SYSROOT", dir, 1);
    snprintf(p, sizeof p, "%s/dev", dir); mkdir(p, 0755);
    snprintf(p, sizeof p, "%s/sys", dir); mkdir(p, 0755);
    snprintf(p, sizeof p, "%s/sys/module", dir); mkdir(p, 0755);

    CHK(vk_accel_choose(NULL, &a, why, sizeof why) == 0 && !strcmp(a, "tcg") &&
          strstr(why, "/dev/kvm"), "no /dev/kvm: tcg (%s)", why);
    CHK(vk_accel_choose("kvm", &a, why, sizeof why) == -ENODEV, "kvm forced without /dev/kvm fails");
    snprintf(p, sizeof p, "%s/dev/kvm", dir); mkfile(p);
    CHK(vk_accel_choose("", &a, why, sizeof why) == 0 && !strcmp(a, "tcg") &&
          strstr(why, "neither kvm_intel nor kvm_amd"), "kvm device but no vmx/svm module: tcg");
    snprintf(p, sizeof p, "%s/sys/module/kvm_amd", dir); mkdir(p, 0755);
    CHK(vk_accel_choose(NULL, &a, why, sizeof why) == 0 && !strcmp(a, "kvm") &&
          strstr(why, "kvm_amd"), "kvm_amd loaded: kvm (%s)", why);
    CHK(vk_accel_choose("tcg", &a, why, sizeof why) == 0 && !strcmp(a, "tcg"), "tcg forced");
    CHK(vk_accel_choose("xen", &a, why, sizeof why) == -EINVAL, "unknown accel");
    snprintf(p, sizeof p, "%s/dev/kvm", dir); chmod(p, 0);
    if (geteuid() != 0)
        CHK(vk_accel_choose(NULL, &a, why, sizeof why) == 0 && !strcmp(a, "tcg"),
              "unopenable /dev/kvm: tcg");
    rmdir(strcat(strcpy(p, dir), "/sys/module/kvm_amd"));
    unlink(strcat(strcpy(p, dir), "/dev/kvm"));
    rmdir(strcat(strcpy(p, dir), "/sys/module"));
    rmdir(strcat(strcpy(p, dir), "/sys"));
    rmdir(strcat(strcpy(p, dir), "/dev"));
    rmdir(dir);
    unsetenv("VMKIT_SYSROOT");

    /* this machine: /dev/kvm is there (PVM), but no kvm_intel/kvm_amd */
    struct stat st;
    if (stat("/sys/module/kvm_intel", &st) && stat("/sys/module/kvm_amd", &st))
        CHK(vk_accel_choose(NULL, &a, why, sizeof why) == 0 && !strcmp(a, "tcg"),
              "this host (no kvm_intel/kvm_amd): auto gives tcg (%s)", why);
    else
        CHK(vk_accel_choose(NULL, &a, why, sizeof why) == 0, "this host has hardware kvm: %s", why);
}

static void test_store(void)
{
    char dir[] = "/tmp/vmkit-store.XXXXXX", p[512];
    if (!mkdtemp(dir)) {
        CHK(0, "mkdtemp");
        return;
    }
    snprintf(p, sizeof p, "%s/cfg", dir);
    setenv("VMKIT_CONFIG_DIR", p, 1);
    struct vk_domcfg c, d;
    parse("name='web'\nmemory=256\ndisk=['/x.img,xvda,w']\nvncpasswd='pw'\n", &c);
    vk_domcfg_check(&c);
    char **names;
    CHK(vk_store_list(&names) == 0, "empty store lists nothing");
    int r = vk_store_define(&c);
    CHK(r == 0, "define");
    struct stat st;
    snprintf(p, sizeof p, "%s/cfg/web.cfg", dir);
    CHK(stat(p, &st) == 0 && (st.st_mode & 0777) == 0600, "NAME.cfg mode 0600");
    CHK(vk_store_define(&c) == -EEXIST && strstr(vk_errmsg(), "already defined"), "duplicate refused");
    CHK(vk_store_load("web", &d) == 0 && cfg_equal(&c, &d), "load gives the same config (uuid kept)");
    vk_domcfg_free(&d);
    int n = vk_store_list(&names);
    CHK(n == 1 && !strcmp(names[0], "web"), "list");
    if (n > 0)
        vk_store_list_free(names, n);
    CHK(vk_store_load("nope", &d) == -ENOENT && strstr(vk_errmsg(), "nope: no such domain"), "load missing");
    CHK(vk_store_load("../etc/passwd", &d) == -EINVAL, "path in name refused");
    r = vk_store_undefine("web");
    int r2 = vk_store_undefine("web");
    CHK(r == 0 && r2 == -ENOENT, "undefine, twice");
    vk_domcfg_free(&c);
    snprintf(p, sizeof p, "%s/cfg", dir);
    rmdir(p);
    unsetenv("VMKIT_CONFIG_DIR");

    snprintf(p, sizeof p, "%s/run/deep", dir);
    setenv("VMKIT_RUNTIME_DIR", p, 1);
    char rd[512];
    CHK(vk_runtime_dir("web", rd, sizeof rd, 1) == 0 && stat(rd, &st) == 0 &&
          S_ISDIR(st.st_mode) && (st.st_mode & 0777) == 0700, "runtime dir created 0700");
    rmdir(rd);
    chmod(p, 0755);
    CHK(vk_runtime_dir("web", rd, sizeof rd, 1) == -EPERM && strstr(vk_errmsg(), "accessible by others"),
          "open runtime base refused");
    rmdir(p);
    snprintf(p, sizeof p, "%s/run", dir);
    rmdir(p);
    rmdir(dir);
    unsetenv("VMKIT_RUNTIME_DIR");
    unsetenv("XDG_RUNTIME_DIR");
    if (geteuid() != 0) {
        CHK(vk_runtime_dir("web", rd, sizeof rd, 0) == 0 && !strncmp(rd, "/tmp/vmkit-", 11),
              "no XDG_RUNTIME_DIR: /tmp/vmkit-UID (%s)", rd);
    } else {
        CHK(vk_runtime_dir("web", rd, sizeof rd, 0) == 0 && !strcmp(rd, "/run/vmkit/web"),
              "root: /run/vmkit/NAME (%s)", rd);
    }
}

/* t_xlcfg --keys-md: the README's two key lists (honoured / not
 * honoured), from vmkit's key table; t_xlcfg --key K...: "K STATUS: text"
 * per key (tests/t_xlcfg_corpus.sh walks xl.cfg(5)'s list with it). */
static int key_modes(int argc, char **argv)
{
    static const char *const names[] = { "unknown", "honoured", "ignored", "refused" };
    const char *what = NULL;
    if (argc >= 3 && !strcmp(argv[1], "--key")) {
        int unknown = 0;
        for (int i = 2; i < argc; i++) {
            what = NULL;
            enum vk_key_status st = vk_cfg_key_status(argv[i], &what);
            printf("%s %s: %s\n", argv[i], names[st], what ? what : "");
            unknown |= st == VK_KEY_UNKNOWN;
        }
        return unknown;
    }
    for (int pass = 0; pass < 2; pass++) {
        printf(pass ? "\n**Not honoured** (a warning says why and the key has no effect, or an "
                      "error refuses the config):\n\n| key | | why |\n|---|---|---|\n"
                    : "**Honoured** (what each key becomes under QEMU):\n\n| key | becomes |\n"
                      "|---|---|\n");
        const char *k;
        for (unsigned i = 0; (k = vk_cfg_key_name(i)); i++) {
            enum vk_key_status st = vk_cfg_key_status(k, &what);
            if ((st == VK_KEY_HONOURED) != !pass)
                continue;
            if (pass)
                printf("| `%s` | %s | %s |\n", k, st == VK_KEY_REFUSED ? "error" : "warning", what);
            else
                printf("| `%s` | %s |\n", k, what);
        }
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc > 1)
        return key_modes(argc, argv);
    vk_set_warn_handler(on_warn, NULL);
    test_design_example();
    test_xen_pv();
    test_xen_hvm();
    test_errors();
    test_libxlu_syntax();
    test_overrides();
    test_specs();
    test_accel();
    test_store();
    return tap_done();
}
