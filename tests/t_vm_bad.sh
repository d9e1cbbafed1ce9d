#!/bin/bash
# Bad input to the VM commands: each is exit 1 with a clear message naming
# the object, nothing left running, no runtime dir left behind.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/vm_lib.sh"

# clean DESC: no QEMU of this test runs and no runtime dir exists
clean() {
    eq "$1: nothing running" "$(pgrep -f "qemu-system.*$T/run/" | wc -l)" 0
    eq "$1: no runtime dir left" "$(ls "$T/run" | wc -l)" 0
}

guest_cfg noq >noq.cfg
printf 'name = "bad"\nmemory = 128\nvcpus = [ 1\n' >syntax.cfg
fails_with "malformed xl.cfg: error names file and line" 1 "syntax.cfg:3:" vmkit create syntax.cfg
printf 'name = "bad"\nmemory = "lots"\n' >value.cfg
fails_with "bad value: error names the line" 1 "value.cfg:2:" vmkit create value.cfg
fails_with "bad override: named" 1 "override 'memory=[':1:" vmkit create noq.cfg 'memory=['
fails_with "missing config file" 1 "nosuch.cfg" vmkit create nosuch.cfg
fails "no config file: usage" 2 vmkit create
clean "bad configs"

guest_cfg miss "disk = [ 'file:$T/nosuch.img,xvda,w' ]" >miss.cfg
fails_with "disk spec pointing at a missing file" 1 "$T/nosuch.img: No such file or directory" \
    vmkit create miss.cfg
clean "missing disk"

mkdir -p empty
fails_with "no QEMU in PATH" 1 "qemu-system-x86_64: not found" env PATH="$T/empty" "$VMKIT" create noq.cfg
clean "missing QEMU"

# a disk a running VM holds: QEMU's image locking refuses a second writer
truncate -s 16M d.img
guest_cfg holder "disk = [ 'format=raw,vdev=xvda,access=rw,target=$T/d.img' ]" >holder.cfg
ok "create holder (d.img writable)" vmkit create holder.cfg
eq "QMP: holder's disk is d.img, writable" "$(qblock holder)" "disk0 $T/d.img ro=False"
qp=$(qemu_pid holder)
fails_with "second VM on the same writable disk: refused by locking" 1 "lock" \
    vmkit create holder.cfg name=grabber
has "... and the error names the image" "$(cat "$T/.out")" "d.img"
ok "grabber left no runtime dir" test ! -e "$T/run/grabber"
eq "only the holder's QEMU runs" "$(pgrep -f "qemu-system.*$T/run/" | wc -l)" 1
fails_with "duplicate name" 1 "holder: a VM of that name is already running" vmkit create holder.cfg
eq "QMP: holder still runs" "$(qstatus holder)" running
ok "destroy holder" vmkit destroy holder
ok "/proc: holder's QEMU $qp is gone" proc_gone "$qp"
clean "locked disk"

if [ -r /etc/qemu/bridge.conf ] && grep -qs 'allow br0\|allow all' /etc/qemu/bridge.conf; then
    skip "bridge error" "qemu-bridge-helper allows br0 here"
else
    guest_cfg br "vif = [ 'bridge=br0' ]" >br.cfg
    fails_with "bridge=br0 without a bridge helper: clear error" 1 "br0" vmkit create br.cfg
    clean "bridge"
fi

fails_with "bad VM name" 1 "name '../x' is not valid" vmkit create noq.cfg 'name=../x'
for v in console shutdown reboot destroy pause unpause config; do
    fails_with "$v of an unknown VM" 1 "ghost: no such VM" vmkit $v ghost
done
fails "shutdown -t garbage: usage" 2 vmkit shutdown -t soon x
fails "list --bogus: usage" 2 vmkit list --bogus
clean "the end"
vm_finish
