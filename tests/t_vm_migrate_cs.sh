#!/bin/bash
# vmkit migrate --copy-storage, both ends on this machine (the "other
# host" is a second runtime and config dir behind an ssh stand-in, as in
# t_vm_migrate).  The guest's disk is a local qcow2 the other side cannot
# see: it is copied (QEMU's drive-mirror to the receiver's NBD export)
# into --storage-dir there, over TCP (--nbd-port); the guest writes there
# and comes back over a unix socket (the default).  After each migration
# the guest runs on the copy and reads what it wrote before; once both
# ends are gone the last copy equals its source (qemu-img compare).  Failures: a copy that
# would overwrite an existing file is refused; a pipe cut after the disks
# were copied; each time the source runs on and the receiver leaves no
# file, no VM, no QEMU.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/vm_lib.sh"
. "$TOP/tests/mig_lib.sh"   # after vm_lib.sh, which cds into $T
# a stand-in back from the other host
printf '#!/bin/sh\nshift 2\nexec env VMKIT_RUNTIME_DIR=%s/run VMKIT_CONFIG_DIR=%s/etc VMKIT_MONITOR_LOG=%s/monitor.log "%s" "$@"\n' "$T" "$T" "$T" "$VMKIT" >back.sh
# one whose pipe breaks after 3 MB: past the header, in QEMU's stream,
# so after the disks were copied
printf '#!/bin/sh\nshift 2\ndd bs=64K count=48 status=none | %s "%s" "$@"\n' "$R2" "$VMKIT" >cut.sh


ok "a local qcow2 disk for mv" qemu-img create -q -f qcow2 local.qcow2 32M
guest_cfg mv "disk = [ 'format=qcow2,vdev=xvda,access=rw,target=$T/local.qcow2' ]" >mv.cfg
ok "create mv" vmkit create mv.cfg
ok "mv boots" wait_log mv 'VMKIT-READY' 1 90
# data for the mirror to carry: a mark at the start, 4 MiB of noise after
has "the guest writes its disk" \
    "$(gsh mv 'echo CS-MARK-0815 | dd of=/dev/vda conv=fsync 2>/dev/null; dd if=/dev/urandom of=/dev/vda bs=1M count=4 seek=1 conv=fsync 2>/dev/null; echo WROTE')" WROTE

fails_with "--storage-dir without --copy-storage: usage" 2 "go with --copy-storage" \
    vmkit migrate -s "sh $T/ssh.sh" --storage-dir "$T/dst" mv other
fails_with "a relative --storage-dir: usage" 2 "an absolute path on HOST" \
    vmkit migrate -s "sh $T/ssh.sh" --copy-storage --storage-dir dst mv other
fails_with "--nbd-port 70000: usage" 2 "70000 is not a TCP port" \
    vmkit migrate -s "sh $T/ssh.sh" --copy-storage --nbd-port 70000 mv other
# without --storage-dir the copy goes to the same path, where (same
# machine) the source disk is: refused, the source disk untouched
fails_with "a copy onto an existing file is refused" 1 "must be a new file" \
    vmkit migrate -s "sh $T/ssh.sh" --copy-storage mv other
has "... naming the file" "$(cat "$T/.out")" "$T/local.qcow2"
none "no VM dir left on the other side (existing file)" ls run2
eq "nothing runs on the other side (existing file)" "$(nqemu run2)" 0
has "the source disk still holds the mark" "$(gsh mv 'dd if=/dev/vda bs=12 count=1 2>/dev/null; echo')" "CS-MARK-0815"

# the link goes down after the disks were copied: the source runs on,
# the receiver removes its copy
fails_with "a pipe cut mid-stream fails" 1 "migration to other failed" \
    vmkit migrate -s "sh $T/cut.sh" --copy-storage --storage-dir "$T/dst" --live mv other
has "... in the stream, after the copy" "$(cat "$T/.out")" "truncated"
runs_on "after the cut"

# the copy, over TCP on the loopback
port=$((20000 + RANDOM % 30000))
pid=$(qemu_pid mv)
ok "migrate --live --copy-storage --nbd-port $port mv" \
    vmkit migrate -s "sh $T/ssh.sh" --live --copy-storage --storage-dir "$T/dst" --nbd-port $port mv 127.0.0.1
has "it says the disks went too" "$(cat "$T/.out")" "Migrated mv and its disks to 127.0.0.1 live"
ok "/proc: the source's QEMU is gone" proc_gone "$pid"
ok "the source's VM dir is gone" wait_gone mv
eq "QMP: mv runs on the other side" "$(q2 query-status | _qjson 'r["status"]')" running
has "QMP: there it runs on the copy" "$(q2 query-block)" "$T/dst/local.qcow2"
has "the stored config there names the copy" "$(cat etc2/mv.cfg)" "$T/dst/local.qcow2"
has "the guest there reads what it wrote before the migration" \
    "$(gsh2 mv 'dd if=/dev/vda bs=12 count=1 2>/dev/null; echo')" "CS-MARK-0815"
sum_there=$(gsh2 mv 'dd if=/dev/vda bs=1M count=5 2>/dev/null | md5sum' | grep -o '[0-9a-f]\{32\}')
ok "the guest there reads its 5 MiB" test -n "$sum_there"
none "the NBD port is closed again" sh -c "ss -ltnH 'sport = :$port'"
ok "qemu-img check: the source disk is clean" qemu-img check -q local.qcow2
ok "the source disk as raw" qemu-img convert -O raw local.qcow2 src.raw
eq "the 5 MiB the guest read there are the source disk's" "$sum_there" \
    "$(head -c 5M src.raw | md5sum | cut -d' ' -f1)"

# and back, not live, over a unix socket (the default), to another dir
has "the guest there writes its disk" \
    "$(gsh2 mv 'echo CS-THERE-4711 | dd of=/dev/vda bs=512 seek=1 conv=fsync 2>/dev/null; echo WROTE')" WROTE
mkdir -p back
ok "migrate --copy-storage mv back" \
    $R2 "$VMKIT" migrate -s "sh $T/back.sh" --copy-storage --storage-dir "$T/back" mv here
ok "the NBD server stopped before the guest ran (no socket left)" test ! -e run/mv/nbd.sock
eq "QMP: mv runs here again" "$(qstatus mv)" running
has "QMP: on the second copy" "$(qmp mv query-block)" "$T/back/local.qcow2"
marks=$(gsh mv 'dd if=/dev/vda bs=12 count=1 2>/dev/null; echo; dd if=/dev/vda bs=512 skip=1 count=1 2>/dev/null | head -c 13; echo')
has "the guest reads the mark written before the first migration" "$marks" "CS-MARK-0815"
has "... and the one written over there" "$marks" "CS-THERE-4711"
ok "nothing of it left there" test ! -d run2/mv
ok "destroy mv" vmkit destroy mv
no_qemu_left "no QEMU left here"
eq "nothing runs there" "$(nqemu run2)" 0
ok "qemu-img compare: the copy equals its source disk" qemu-img compare dst/local.qcow2 back/local.qcow2
ok "qemu-img check: the copy is clean" qemu-img check -q back/local.qcow2
eq "the copy is a qcow2 of the same virtual size" \
    "$(qemu-img info --output=json back/local.qcow2 | python3 -c 'import json,sys; j=json.load(sys.stdin); print(j["format"], j["virtual-size"])')" "qcow2 33554432"
vm_finish
