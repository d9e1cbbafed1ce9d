#!/bin/bash
# pygrub reads guest disks in a sandboxed child (src/util/sandbox.c):
# results through the sandbox on ext and FAT, raw and qcow2 (with a
# backing chain), bare and partitioned, compared with cmp; a forbidden
# system call (the VMKIT_SANDBOX_TEST hooks) kills the child and is
# reported; limits give clear errors; the child's seccomp mode, no-new-
# privs flag, limits and open descriptors are read from /proc while it
# runs; `vmkit create` goes through the same sandbox.
. "$(dirname "$0")/lib.sh"
cd "$T" || exit 1

mkdir -p root/boot/grub out
head -c 300000 /dev/urandom >root/boot/vmlinuz
head -c 70000 /dev/urandom >root/boot/initrd.img
printf 'menuentry "Sandboxed" {\n  linux /boot/vmlinuz root=/dev/vda1 quiet\n  initrd /boot/initrd.img\n}\n' \
    >root/boot/grub/grub.cfg
check() {  # desc disk [config-location]
    local o
    rm -f out/kernel out/initrd
    o=$(vmkit guest pygrub "$2" out 2>&1)
    has "$1: found" "$o" "${3:-$2}"
    ok "$1: kernel (cmp)" cmp out/kernel root/boot/vmlinuz
    ok "$1: initrd (cmp)" cmp out/initrd root/boot/initrd.img
}

# ext4 on an MBR partition: raw, qcow2, a qcow2 overlay on that (the
# backing chain is opened before the filter, which forbids open)
truncate -s 64M ext.img
echo 'start=2048, type=83, bootable' | sfdisk -q ext.img >/dev/null
mke2fs -q -F -t ext4 -E offset=1048576 -d root ext.img 63M >/dev/null 2>&1
check "ext4, MBR, raw" ext.img "ext.img:1:/boot/grub/grub.cfg"
qemu-img convert -O qcow2 ext.img ext.qcow2
check "ext4, MBR, qcow2" ext.qcow2 "ext.qcow2:1:/boot/grub/grub.cfg"
qemu-img create -q -f qcow2 -b ext.qcow2 -F qcow2 over.qcow2
check "ext4, qcow2 overlay on a backing file" over.qcow2 "over.qcow2:1:/boot/grub/grub.cfg"

# FAT: a bare FAT16 filesystem, and FAT32 on a GPT partition in qcow2
fatfill() {  # image[@@offset]
    mmd -i "$1" ::/boot ::/boot/grub &&
        mcopy -i "$1" root/boot/vmlinuz root/boot/initrd.img ::/boot/ &&
        mcopy -i "$1" root/boot/grub/grub.cfg ::/boot/grub/
}
mkfs.fat -C fat.img 32768 >/dev/null
ok "FAT16: filled with mtools" fatfill fat.img
check "FAT16, bare, raw" fat.img "fat.img:/boot/grub/grub.cfg"
truncate -s 80M gfat.img
sgdisk -n 1:2048:0 -t 1:ef00 gfat.img >/dev/null
mkfs.fat -F 32 -C p1.fat $(( (80 * 1024 - 2048) / 2 )) >/dev/null
ok "FAT32: filled with mtools" fatfill p1.fat
dd if=p1.fat of=gfat.img bs=512 seek=2048 conv=notrunc status=none
qemu-img convert -O qcow2 gfat.img gfat.qcow2
check "FAT32, GPT, qcow2" gfat.qcow2 "gfat.qcow2:1:/boot/grub/grub.cfg"

# forbidden system calls: the child is killed, the parent says which,
# and OUTDIR keeps nothing
for h in open:openat execve:execve; do
    rm -f out/kernel out/initrd
    VMKIT_SANDBOX_TEST=${h%%:*} fails_with "${h%%:*}() in the sandbox: killed, reported" 1 \
        "ext.qcow2: boot reader killed by the sandbox (system call" vmkit guest pygrub ext.qcow2 out
    has "${h%%:*}: the system call named" "$(cat "$T/.out")" "${h##*:})"
    [ ! -e out/kernel ] && [ ! -e out/initrd ]; eq "${h%%:*}: nothing left in OUTDIR" "$?" 0
done

# limits: file size (a write past it fails with EFBIG, not SIGXFSZ) and
# address space (malloc fails: "out of memory")
VMKIT_SANDBOX_TEST=fsize=100000 fails_with "RLIMIT_FSIZE: clear error" 1 \
    "out/kernel: File too large (beyond the boot reader's file size limit)" \
    vmkit guest pygrub ext.img out
[ ! -e out/kernel ]; eq "RLIMIT_FSIZE: nothing left in OUTDIR" "$?" 0
# (the sanitizer's allocator aborts on failure unless told to return NULL)
ASAN_OPTIONS=$ASAN_OPTIONS:allocator_may_return_null=1 VMKIT_SANDBOX_TEST=mem=1000000 \
    fails_with "RLIMIT_AS: clear error" 1 "out of memory" vmkit guest pygrub ext.img out

# the child, observed from /proc while it spins until its CPU limit
VMKIT_SANDBOX_TEST=spin,cpu=3 "$VMKIT" guest pygrub ext.qcow2 out >spin.out 2>&1 &
parent=$!
child=
for _ in $(seq 300); do
    child=$(cat /proc/$parent/task/*/children 2>/dev/null | awk '{print $1}')
    [ -n "$child" ] && grep -q '^Seccomp:[[:space:]]*2' /proc/$child/status 2>/dev/null && break
    sleep 0.1
done
st=$(cat /proc/$child/status 2>/dev/null)
lim=$(cat /proc/$child/limits 2>/dev/null)
fds=$(for f in /proc/$child/fd/*; do readlink "$f"; done 2>/dev/null | sort)
has "child: seccomp filter mode" "$st" "$(printf 'Seccomp:\t2')"
has "child: no new privileges" "$st" "$(printf 'NoNewPrivs:\t1')"
has "child: CPU limit" "$lim" "$(printf 'Max cpu time              3                    4')"
has "child: no new descriptors" "$lim" "Max open files            0"
has "child: no core dumps" "$lim" "Max core file size        0"
if [ "$(id -u)" = 0 ]; then
    # only /dev/null (stdin, stdout), stderr, the outputs, the image and the answer pipe
    others=$(echo "$fds" | grep -v -e '^/dev/null$' -e "^$T/out/kernel$" -e "^$T/out/initrd$" \
        -e "^$T/ext.qcow2$" -e '^pipe:' -e "^$T/spin.out$")
    eq "child: nothing else open" "${others:-nothing else}" "nothing else"
    has "child: the image is open" "$fds" "$T/ext.qcow2"
else
    skip "child: nothing else open" "/proc/PID/fd of a non-dumpable process needs root"
fi
wait $parent
eq "CPU limit: exit 1" "$?" 1
has "CPU limit: clear error" "$(cat spin.out)" \
    "ext.qcow2: boot reader exceeded its CPU time limit (3 s)"

# a child asleep uses no CPU time: the parent's wall clock ends it
VMKIT_SANDBOX_TEST=hang,wall=3 fails_with "asleep in the sandbox: killed by the wall clock" 1 \
    "ext.qcow2: boot reader did not finish within 3 s" vmkit guest pygrub ext.qcow2 out
[ ! -e out/kernel ]; eq "asleep: nothing left in OUTDIR" "$?" 0

# vmkit create with bootloader = "pygrub" reads the disk through the same
# sandbox: a violation fails the create and leaves no runtime directory
export VMKIT_RUNTIME_DIR=$T/run VMKIT_CONFIG_DIR=$T/etc
mkdir -p -m 700 "$T/run" "$T/etc"
cat >sb.cfg <<CFG
name = "sbx"
memory = 128
bootloader = "pygrub"
disk = [ 'format=qcow2, vdev=xvda, access=rw, target=$T/ext.qcow2' ]
vif = []
vnc = 0
CFG
VMKIT_SANDBOX_TEST=execve fails_with "vmkit create: the boot reader runs sandboxed" 1 \
    "ext.qcow2: boot reader killed by the sandbox (system call 59, execve)" vmkit create sb.cfg
[ ! -e "$T/run/sbx" ]; eq "vmkit create: no runtime directory left" "$?" 0
finish
