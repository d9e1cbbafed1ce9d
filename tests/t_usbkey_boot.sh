#!/bin/bash
# A key from `vmkit guest usbkey` boots ISO files with QEMU's BIOS and the
# key's GRUB alone (no -kernel, no pygrub): two ISOs built here hold the
# test guest's kernel and initramfs (tests/fixtures/testguest.sh) behind a
# live-build isolinux menu and a debian-installer grub.cfg.  GRUB's menu
# must list both; the chosen entry's kernel, loaded by loopback from inside
# its ISO, must show the key's arguments (findiso= / iso-scan/filename=)
# on its command line and its initramfs must print VMKIT-READY.
#   key1  raw, plain qemu-system-x86_64, the default entry (the live ISO)
#   key2  qcow2, grub.cfg's default set to 1 with vmkit fs, booted by
#         vmkit create with boot = "c" (the installer ISO)
#   key3  raw, booted by vmkit with bootloader = "pygrub" and
#         bootloader_args = ["--entry=1"]: pygrub follows the entry's
#         `loopback` into the installer ISO (no GRUB runs)
# Before any boot, `guest pygrub` copies each entry's kernel and initrd out
# of its ISO, compared with the files the ISOs were made from.
# The sanitizer run boots key2 and key3 only; the keys are built under ASan there.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/grub_lib.sh"
. "$(dirname "$0")/vm_lib.sh"      # cd's into $T: last
need_grub
need xorriso || { finish; exit; }

pids=""
boot_cleanup() {
    for p in $pids; do kill "$p" 2>/dev/null; done
    vm_cleanup
}
trap boot_cleanup EXIT

# no_timer_check: under load TCG can miss the IO-APIC timer check's ticks;
# ignore_loglevel: the "Kernel command line:" notice shows despite the
# installer menu's "--- quiet"
A="console=ttyS0 panic=-1 no_timer_check ignore_loglevel"
ok "live ISO from the test kernel" mkiso_live live-a.iso "$G/vmlinuz" "$G/initrd.gz" "$A vmkit.iso=live"
ok "installer ISO from the test kernel" mkiso_inst netinst-b.iso "$G/vmlinuz" "$G/initrd.gz" "$A vmkit.iso=inst"
ok "key1: raw" vmkit guest usbkey -q --timeout 1 key1.img --iso live-a.iso --iso netinst-b.iso
ok "key2: qcow2" vmkit guest usbkey -q -f qcow2 --timeout 1 key2.qcow2 --iso live-a.iso --iso netinst-b.iso
ok "key2: default entry 1" sh -c "\"$VMKIT\" fs cat key2.qcow2:1:/boot/grub/grub.cfg |
    sed 's/^set default=0\$/set default=1/' >g.cfg && grep -q '^set default=1' g.cfg &&
    \"$VMKIT\" fs put g.cfg key2.qcow2:1:/boot/grub/grub.cfg"
ok "key2: qemu-img check" qemu-img check -q key2.qcow2

# pygrub follows loopback: the default entry's files come out of live-a.iso,
# entry 1's out of netinst-b.iso, with each entry's arguments.
o=$(vmkit guest pygrub --json key1.img out0 2>&1)
ok "pygrub key1 (default entry)" test -s out0/kernel
ok "pygrub: the default entry's kernel is the live ISO's (cmp)" cmp out0/kernel "$G/vmlinuz"
ok "pygrub: ... and its initrd (cmp)" cmp out0/initrd "$G/initrd.gz"
has "pygrub: the live entry's command line" "$o" "boot=live components $A vmkit.iso=live findiso=/isos/live-a.iso"
o=$(vmkit guest pygrub --json --entry=1 key1.img out1 2>&1)
has "pygrub --entry=1: the installer entry's command line" "$o" "vmkit.iso=inst iso-scan/filename=/isos/netinst-b.iso"
ok "pygrub --entry=1: its kernel (cmp)" cmp out1/kernel "$G/vmlinuz"
# pygrub on a bare ISO: read in the sandbox (libarchive's first use of the
# locale and iconv happens before the filter)
ok "pygrub --entry=1 on the installer ISO itself" vmkit guest pygrub --entry=1 netinst-b.iso outiso
ok "pygrub on the ISO: its kernel (cmp)" cmp outiso/kernel "$G/vmlinuz"
# a key whose ISO is gone: the error names the loopback image
ok "key4: a copy of key1" cp key1.img key4.img
ok "key4: the live ISO removed" vmkit fs rm key4.img:1:/isos/live-a.iso
fails_with "pygrub: a missing loopback image is named" 1 "key4.img:1:/isos/live-a.iso" \
    vmkit guest pygrub key4.img out4
# an ISO that is not one: the error says the image holds no filesystem
ok "key5: a copy of key1" cp key1.img key5.img
ok "key5: live-a.iso replaced by zeroes" sh -c 'head -c 1048576 /dev/zero >zero.bin &&
    "$0" fs put zero.bin key5.img:1:/isos/live-a.iso' "$VMKIT"
fails_with "pygrub: a loopback image without a filesystem is refused" 1 "no filesystem" \
    vmkit guest pygrub key5.img out5

DEADLINE=$(( $(date +%s) + 600 ))
wait_for() {
    while :; do
        grep -aqF -- "$2" "$1" 2>/dev/null && return 0
        [ "$(date +%s)" -le $DEADLINE ] || return 1
        sleep 0.5
    done
}

all="key1 key2 key3"
[ "$(pick 3 2 3)" = 2 ] && all="key2 key3"
for k in $all; do
    case $k in
    key1) qemu-system-x86_64 -m 160 -nodefaults -display none -no-reboot \
              -serial "file:$T/key1.log" -drive "file=$T/key1.img,format=raw" >"$T/key1.qemu" 2>&1 &
          pids="$pids $!" ;;
    key2) boot_c_cfg usbkey2 160 "$T/key2.qcow2" >key2.cfg
          ok "key2: vmkit create (boot = \"c\", no kernel, no bootloader)" vmkit create key2.cfg ;;
    key3) cp key1.img key3.img
          printf 'name = "usbkey3"\nmemory = 160\nbootloader = "pygrub"\nbootloader_args = ["--entry=1"]\nvif = []\nvnc = 0\n' >key3.cfg
          printf "disk = [ 'format=raw, vdev=xvda, access=rw, target=%s' ]\n" "$T/key3.img" >>key3.cfg
          ok "key3: vmkit create (pygrub, --entry=1)" vmkit create key3.cfg ;;
    esac
done
for k in $all; do
    log=$T/$k.log
    [ $k = key2 ] && log=$T/run/usbkey2/console.log
    if [ $k = key3 ]; then
        log=$T/run/usbkey3/console.log
        ok "$k: pygrub's kernel from inside the installer ISO, with its arguments" wait_for "$log" \
            "Kernel command line: vga=788 $A vmkit.iso=inst iso-scan/filename=/isos/netinst-b.iso --- quiet"
    else
        ok "$k: GRUB's menu on the serial console" wait_for "$log" "GNU GRUB  version"
        ok "$k: the menu lists the live ISO" wait_for "$log" "live-a.iso: Live system (amd64)"
        ok "$k: the menu lists the installer ISO" wait_for "$log" "netinst-b.iso: Install"
        if [ $k = key1 ]; then
            ok "$k: GRUB boots the live ISO's entry" wait_for "$log" "Booting \`live-a.iso: Live system (amd64)'"
            ok "$k: its kernel, from inside the ISO, with findiso=" wait_for "$log" \
                "Kernel command line: BOOT_IMAGE=(loop)/live/vmlinuz boot=live components $A vmkit.iso=live findiso=/isos/live-a.iso"
        else
            ok "$k: GRUB boots the installer ISO's entry" wait_for "$log" "Booting \`netinst-b.iso: Install'"
            ok "$k: its kernel, from inside the ISO, with iso-scan/filename= before ---" wait_for "$log" \
                "Kernel command line: BOOT_IMAGE=(loop)/install.amd/vmlinuz vga=788 $A vmkit.iso=inst iso-scan/filename=/isos/netinst-b.iso --- quiet"
        fi
    fi
    if wait_for "$log" VMKIT-READY; then r=0; else r=1; tail -c 2000 "$log" | tr -d '\033' | tail -15 >"$T/.out"; fi
    [ $r = 0 ] && _report 0 "$k: the ISO's initramfs reaches VMKIT-READY" ||
        _report 1 "$k: the ISO's initramfs reaches VMKIT-READY" "$T/.out"
done
case " $all " in *" key2 "*) ok "key2: destroy" vmkit destroy usbkey2 ;; esac
case " $all " in *" key3 "*) ok "key3: destroy" vmkit destroy usbkey3 ;; esac
for p in $pids; do kill "$p" 2>/dev/null; done
pids=""
vm_finish
