#!/bin/bash
# vmkit demo end to end (what `make demo` runs): guest build, img info,
# part list, pygrub, boot under QEMU, uname -a over the console, ACPI
# power-off; each step printed.
. "$(dirname "$0")/lib.sh"
cd "$T" || exit 1

vmkit demo --dir "$T/demo" >demo.out 2>&1; rc=$?
eq "vmkit demo exits 0" "$rc" 0
out=$(cat demo.out)
has "builds the guest" "$out" "==> Building a small Debian guest disk"
has "shows the partition table" "$out" "demo.img1   *          2048"
has "lists /boot inside the image (vmkit fs ls)" "$out" "vmlinuz-"
has "pygrub finds grub.cfg" "$out" "demo.img:1:/boot/grub/grub.cfg"
has "guest is ready" "$out" "guest console: vmkit guest demo ready"
has "guest answers uname -a" "$out" "guest says: Linux demo "
has "boots from its xl.cfg" "$out" "==> Booting it from its xl.cfg"
has "guest powers off" "$out" "guest powered off after"
ok "the demo disk verifies (sfdisk)" sfdisk --verify "$T/demo/demo.img"
fails "bad argument" 2 vmkit demo --bogus
finish
