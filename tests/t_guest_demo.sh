#!/bin/bash
# vmkit demo end to end (what `make demo` runs): guest build, img info,
# part list, fs ls, pygrub, then the real VM commands: vmkit create (pygrub
# boot under the monitor), list, the readiness line on the console log,
# uname -a through `vmkit console`, shutdown -w (ACPI), list without it.
# Each step printed.  Oracles: sfdisk --verify on the disk, e2fsck -fn on
# its partition after the guest shut down cleanly, the runtime dir gone.
. "$(dirname "$0")/lib.sh"
cd "$T" || exit 1
export VMKIT_RUNTIME_DIR=$T/run VMKIT_CONFIG_DIR=$T/etc
mkdir -p "$T/run" "$T/etc" && chmod 700 "$T/run" "$T/etc"
trap '"$VMKIT" destroy demo >/dev/null 2>&1; rm -rf "$T"' EXIT

s=$(date +%s)
vmkit demo --dir "$T/demo" >demo.out 2>&1; rc=$?
e=$(date +%s)
eq "vmkit demo exits 0" "$rc" 0
out=$(cat demo.out)
has "builds the guest" "$out" "==> Building a small Debian guest disk"
has "shows the partition table" "$out" "demo.img1   *          2048"
has "lists /boot inside the image (vmkit fs ls)" "$out" "vmlinuz-"
has "pygrub finds grub.cfg" "$out" "demo.img:1:/boot/grub/grub.cfg"
has "starts it with vmkit create" "$out" "\$ vmkit create $T/demo/demo.img.cfg"
first_list=$(sed -n '/^==> The running VMs$/,/^==>/p' demo.out)
has "vmkit list shows it running" "$first_list" "demo                                 1    256     1 r-----"
has "guest is ready" "$out" "guest console: vmkit guest demo ready"
has "talks through vmkit console" "$out" "\$ vmkit console --timeout 30 demo"
has "guest answers uname -a" "$out" "guest says: Linux demo "
has "shuts it down with vmkit shutdown -w" "$out" "\$ vmkit shutdown -w -t 30 demo"
has "guest powers off (ACPI)" "$out" "guest powered off after"
last_list=$(sed -n '/^==> The running VMs again/,$p' demo.out)
case $last_list in *"demo                "*) r=1 ;; *) r=0 ;; esac
eq "the last vmkit list does not show it" "$r" 0
[ ! -e "$T/run/demo" ]; eq "its runtime dir is gone" "$?" 0
eq "nothing running (list --json)" "$(vmkit list --json)" "[]"
[ $((e - s)) -lt 60 ]; eq "under a minute ($((e - s)) s)" "$?" 0
ok "the demo disk verifies (sfdisk)" sfdisk --verify "$T/demo/demo.img"
ok "root partition copied out" dd if="$T/demo/demo.img" of=p1 bs=1M skip=1 status=none
ok "clean shutdown: e2fsck -fn on the root partition" e2fsck -fn p1
fails "bad argument" 2 vmkit demo --bogus
finish
