#!/bin/bash
# `vmkit boot install-grub` into a 64 MiB qcow2 (MBR, ext4, a kernel in
# /boot): the core image built by grub-mkimage (--no-cache, the first
# install of a disk) and taken from the cache (a re-install, or a disk whose
# filesystem UUID was seen before), best of BENCH_RUNS each, every run on a
# fresh copy of the disk.  Target: under 100 ms, grub-mkimage included.
# grub-install needs root and a loop device, so the reference is the same
# boot-code work by hand on a raw copy in the same run: grub-mkimage, then
# dd of boot.img (440 bytes) and core.img to sector 1 (bootable as is:
# boot.img and diskboot.img default to exactly that layout), which copies
# no modules and writes no grub.cfg (that needs a mount, i.e. root).
# Prints wall times (and user+sys CPU of the process tree) and the ratio.
set -u
TOP=$(cd "$(dirname "$0")/.." && pwd)
VMKIT=${VMKIT:-$TOP/build/vmkit}
RUNS=${BENCH_RUNS:-5}
GRUBDIR=/usr/lib/grub/i386-pc
D=$(mktemp -d "${TMPDIR:-/tmp}/vmkit-bench.XXXXXX")
trap 'rm -rf "$D"' EXIT
export XDG_CACHE_HOME=$D/cache
command -v grub-mkimage >/dev/null || { echo "grub-mkimage missing (scripts/deps.sh)"; exit 1; }

head -c 8M /dev/urandom >"$D/vmlinuz"
head -c 2M /dev/urandom >"$D/initrd"
V() { "$VMKIT" "$@" >/dev/null || { echo "FAILED: vmkit $*"; exit 1; }; }
V img create -f qcow2 "$D/base.qcow2" 64M
V part init "$D/base.qcow2" mbr
V part add "$D/base.qcow2"
V fs mkfs -t ext4 "$D/base.qcow2:1"
V fs mkdir -p "$D/base.qcow2:1:/boot"
V fs put "$D/vmlinuz" "$D/base.qcow2:1:/boot/vmlinuz-6.1.0-test"
V fs put "$D/initrd" "$D/base.qcow2:1:/boot/initrd.img-6.1.0-test"
qemu-img convert -O raw "$D/base.qcow2" "$D/base.raw"
uuid=$("$VMKIT" fs probe "$D/base.qcow2:1" | sed -n 's/^UUID="\(.*\)"$/\1/p')
printf 'search.fs_uuid %s root hd0,msdos1\nset prefix=($root)/boot/grub\n' "$uuid" >"$D/early.cfg"

# best PREP CMD...: best of RUNS of CMD after PREP (a fresh copy), as
# "wall_ms cpu_ms" (CPU: user+sys of CMD and its children, bash's times)
best() {
    local prep=$1; shift
    local bw= bc=
    for _ in $(seq "$RUNS"); do
        eval "$prep"
        local s e t0 t1
        cpu t0
        s=$(date +%s%N)
        "$@" >/dev/null 2>"$D/err" || { echo "FAILED: $*"; cat "$D/err"; exit 1; }
        e=$(date +%s%N)
        cpu t1
        local w=$(( (e - s) / 1000 )) c=$(( t1 - t0 ))
        if [ -z "$bw" ] || [ $w -lt $bw ]; then bw=$w bc=$c; fi
    done
    echo "$bw $bc"
}
# cpu VAR: VAR = CPU microseconds (user + sys) of this shell's finished
# children so far, from bash's `times` (its second line).  `times` must run
# in this shell, not in a pipe or $(...), whose subshell has no children.
cpu() {
    times >"$D/times"
    printf -v "$1" '%s' "$(awk 'NR == 2 { t = 0; for (i = 1; i <= 2; i++) { split($i, a, /[ms]/); t += a[1] * 60 + a[2] }
                                           printf "%d", t * 1e6 }' "$D/times")"
}
ms() { echo "scale=1; $1 / 1000" | bc; }

by_hand() {
    grub-mkimage -O i386-pc -d $GRUBDIR -o "$D/core.img" -c "$D/early.cfg" -p '(,msdos1)/boot/grub' \
        biosdisk part_msdos ext2 search_fs_uuid serial terminal &&
    dd if=$GRUBDIR/boot.img of="$D/d.raw" bs=440 count=1 conv=notrunc status=none &&
    dd if="$D/core.img" of="$D/d.raw" bs=512 seek=1 conv=notrunc status=none
}

fresh_q='cp "$D/base.qcow2" "$D/d.qcow2"'
fresh_r='cp "$D/base.raw" "$D/d.raw"'
read -r cold_w cold_c < <(best "$fresh_q; rm -rf \"\$D/cache\"" "$VMKIT" boot install-grub "$D/d.qcow2")
read -r warm_w warm_c < <(best "$fresh_q" "$VMKIT" boot install-grub "$D/d.qcow2")
read -r hand_w hand_c < <(best "$fresh_r" by_hand)
read -r mk_w mk_c < <(best : grub-mkimage -O i386-pc -d $GRUBDIR -o "$D/core2.img" -c "$D/early.cfg" \
    -p '(,msdos1)/boot/grub' biosdisk part_msdos ext2 search_fs_uuid serial terminal)
qemu-img check -q "$D/d.qcow2" || echo "qemu-img check: NOT CLEAN"
nmod=$(ls $GRUBDIR/*.mod $GRUBDIR/*.lst | wc -l)

echo "install-grub into a 64 MiB qcow2 (MBR, ext4; $nmod modules and lists copied), best of $RUNS, load $(cut -d' ' -f1 /proc/loadavg)"
echo "  vmkit, grub-mkimage run (no cache):  $(ms "$cold_w") ms wall, $(ms "$cold_c") ms CPU"
echo "  vmkit, core image from the cache:    $(ms "$warm_w") ms wall, $(ms "$warm_c") ms CPU"
echo "  by hand on raw: grub-mkimage + dd:   $(ms "$hand_w") ms wall, $(ms "$hand_c") ms CPU (boot code only)"
echo "  grub-mkimage alone:                  $(ms "$mk_w") ms wall, $(ms "$mk_c") ms CPU"
echo "  ratio vmkit (no cache) / by hand:    $(echo "scale=2; $cold_w / $hand_w" | bc)"
echo "  target: under 100 ms with grub-mkimage: $([ "$cold_w" -lt 100000 ] && echo met || echo NOT met)"
