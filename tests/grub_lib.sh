# Helpers for the install-grub tests (tests/t_grub*.sh); source after lib.sh.
#   rawof IMG                 a raw view of IMG (qcow2 converted by qemu-img)
#   partof IMG N OUT          the bytes of partition N (sfdisk's numbers) into OUT
#   mkgrubdisk IMG FMT LABEL FS    a disk with the test kernels in /boot, made with vmkit
#   bootsec_ok DESC IMG LBA   sector 0 is GRUB's boot.img pointing at LBA
#   diskboot_ok DESC IMG LBA N  sector LBA is diskboot.img loading LBA+1.. (N sectors)
#   tail_of IMG               bytes 440-511 of sector 0 as hex
# GRUB's files come from $GRUBDIR (grub-pc-bin).  Core images are cached in
# $T/cache, never in the user's cache.
GRUBDIR=/usr/lib/grub/i386-pc
export XDG_CACHE_HOME=$T/cache

need_grub() {
    if ! command -v grub-mkimage >/dev/null || [ ! -f $GRUBDIR/boot.img ]; then
        skip "install-grub" "grub-mkimage or $GRUBDIR missing (scripts/deps.sh installs grub-pc-bin)"
        finish; exit
    fi
}

rawof() {
    case $1 in
    *.qcow2) qemu-img convert -O raw "$1" "$1.raw" && echo "$1.raw" ;;
    *) echo "$1" ;;
    esac
}

partof() {
    _r=$(rawof "$1")
    set -- "$_r" "$2" "$3" $(sfdisk -J "$_r" | python3 -c '
import json, sys
p = json.load(sys.stdin)["partitiontable"]["partitions"]
p = [x for x in p if x["node"].endswith(str(sys.argv[1]))][0]
print(p["start"], p["size"])' "$2")
    dd if="$1" of="$3" bs=512 skip="$4" count="$5" status=none
}

tail_of() { od -A n -t x1 -j 440 -N 72 "$(rawof "$1")" | tr -d ' \n'; }

# mkgrubdisk IMG FMT LABEL FS [KERNEL INITRD]: 64 MiB; GPT gets a 1 MiB BIOS boot
# partition first.  The filesystem partition's number goes to $PN.
mkgrubdisk() {
    _img=$1 _fmt=$2 _label=$3 _fs=$4 _k=${5:-$T/vmlinuz-fake} _i=${6:-$T/initrd-fake}
    [ -f "$T/vmlinuz-fake" ] || { head -c 70000 /dev/urandom >"$T/vmlinuz-fake"; head -c 9000 /dev/urandom >"$T/initrd-fake"; }
    rm -f "$_img"
    vmkit img create -f "$_fmt" "$_img" 64M >/dev/null &&
    vmkit part init "$_img" "$_label" >/dev/null || return 1
    if [ "$_label" = gpt ]; then
        vmkit part add "$_img" --size 1M --type bios_grub >/dev/null || return 1
    fi
    _t=linux; [ "$_fs" = vfat ] && _t=fat32
    PN=$(vmkit part add "$_img" --type $_t) &&
    vmkit fs mkfs -t "$_fs" "$_img:$PN" >/dev/null &&
    vmkit fs mkdir -p "$_img:$PN:/boot" &&
    vmkit fs put "$_k" "$_img:$PN:/boot/vmlinuz-6.1-test" &&
    vmkit fs put "$_i" "$_img:$PN:/boot/initrd.img-6.1-test"
}

bootsec_ok() {
    _r=$(rawof "$2")
    _o=$(python3 - "$_r" "$3" $GRUBDIR/boot.img <<'EOF' 2>&1
import sys
d = open(sys.argv[1], 'rb').read(512)
b = open(sys.argv[3], 'rb').read()
lba = int(sys.argv[2])
bad = []
if d[0:3] != b[0:3]: bad.append("jump")
if d[0x5a:0x5c] != b[0x5a:0x5c]: bad.append("0x5a")
if int.from_bytes(d[0x5c:0x64], 'little') != lba:
    bad.append("kernel sector %d" % int.from_bytes(d[0x5c:0x64], 'little'))
if d[0x64] != 0xff: bad.append("boot drive %#x" % d[0x64])
if d[0x66:0x68] != b'\x90\x90': bad.append("drive check not nop'd")
if d[0x68:440] != b[0x68:440]: bad.append("boot code differs from boot.img")
print(" ".join(bad) or "ok")
EOF
)
    eq "$1" "$_o" ok
}

diskboot_ok() {
    _r=$(rawof "$2")
    _o=$(python3 - "$_r" "$3" "$4" $GRUBDIR/diskboot.img <<'EOF' 2>&1
import sys
lba, n = int(sys.argv[2]), int(sys.argv[3])
with open(sys.argv[1], 'rb') as f:
    f.seek(lba * 512)
    s = f.read(512)
d = open(sys.argv[4], 'rb').read()
bad = []
if s[:488] != d[:488]: bad.append("not diskboot.img")
start = int.from_bytes(s[500:508], 'little')
ln = int.from_bytes(s[508:510], 'little')
seg = int.from_bytes(s[510:512], 'little')
if (start, ln, seg) != (lba + 1, n - 1, 0x820): bad.append("block list %d+%d@%#x" % (start, ln, seg))
if s[488:500] != bytes(12): bad.append("no terminator")
print(" ".join(bad) or "ok")
EOF
)
    eq "$1" "$_o" ok
}

# jfield JSON KEY: one field of install-grub --json
# boot_c_cfg NAME MEM QCOW2: an xl.cfg that boots QCOW2 through the BIOS
# (boot = "c": no kernel, no bootloader), no NIC, no VNC.
boot_c_cfg() {
    printf 'name = "%s"\nmemory = %s\nboot = "c"\nvif = []\nvnc = 0\n' "$1" "$2"
    printf "disk = [ 'format=qcow2, vdev=hda, access=rw, target=%s' ]\n" "$3"
}

jfield() { python3 -c 'import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$1" "$2" 2>&1; }

# ISOs for guest usbkey (xorriso, Rock Ridge + Joliet) holding KERNEL and
# INITRD, with the menus of the two Debian kinds:
#   mkiso_live ISO KERNEL INITRD ARGS   live-build: /live/vmlinuz, isolinux.cfg
#       INCLUDEs menu.cfg which MENU INCLUDEs live.cfg (MENU LABEL ^Live
#       system (amd64), a relative ../live/vmlinuz, APPEND boot=live ARGS)
#   mkiso_inst ISO KERNEL INITRD ARGS   debian-installer: /install.amd/,
#       grub.cfg whose default 'Graphical install' (menuentry --hotkey=g)
#       names a missing gtk/initrd.gz, then 'Install' with ARGS --- quiet
mkiso_live() {
    _d=$T/.iso.$$; rm -rf "$_d"; mkdir -p "$_d/live" "$_d/isolinux"
    cp "$2" "$_d/live/vmlinuz" && cp "$3" "$_d/live/initrd.img" || return 1
    printf 'path\ninclude menu.cfg\ndefault vesamenu.c32\nprompt 0\ntimeout 0\n' >"$_d/isolinux/isolinux.cfg"
    printf 'menu title Live\nmenu include live.cfg Live\n' >"$_d/isolinux/menu.cfg"
    printf 'label live-amd64\n\tmenu label ^Live system (amd64)\n\tmenu default\n\tlinux ../live/vmlinuz\n\tinitrd /live/initrd.img\n\tappend boot=live components %s\n' "$4" >"$_d/isolinux/live.cfg"
    xorriso -as mkisofs -quiet -R -J -V LIVE -o "$1" "$_d" 2>/dev/null; _s=$?
    rm -rf "$_d"; return $_s
}
mkiso_inst() {
    _d=$T/.iso.$$; rm -rf "$_d"; mkdir -p "$_d/install.amd" "$_d/boot/grub"
    cp "$2" "$_d/install.amd/vmlinuz" && cp "$3" "$_d/install.amd/initrd.gz" || return 1
    cat >"$_d/boot/grub/grub.cfg" <<CFG
if [ x\$feature_default_font_path = xy ] ; then
   font=unicode
fi
menuentry --hotkey=g 'Graphical install' {
    linux    /install.amd/vmlinuz vga=788 $4 --- quiet
    initrd   /install.amd/gtk/initrd.gz
}
menuentry --hotkey=i 'Install' {
    set background_color=black
    linux    /install.amd/vmlinuz vga=788 $4 --- quiet
    initrd   /install.amd/initrd.gz
}
CFG
    xorriso -as mkisofs -quiet -R -J -V NETINST -o "$1" "$_d" 2>/dev/null; _s=$?
    rm -rf "$_d"; return $_s
}
