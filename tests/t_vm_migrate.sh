#!/bin/bash
# vmkit migrate / migrate-receive, as xl migrate, both ends on this
# machine: the "other host" is a second runtime and config dir, reached
# through a stand-in for ssh (ssh.sh) that ignores HOST.  The witness is
# the test guest's per-second counter: a migrated guest counts on where
# it was (no new boot: no VMKIT-READY on the receiver's console), the
# source's QEMU is gone, the receiver runs and has it defined.  Whatever
# goes wrong (a receiver that already has the name, a pipe cut or a
# receiver killed mid-stream), the source runs on.  Garbage, truncated or
# damaged protocol input to migrate-receive: one clear error, exit 1,
# nothing left running.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/vm_lib.sh"

R2="env VMKIT_RUNTIME_DIR=$T/run2 VMKIT_CONFIG_DIR=$T/etc2 VMKIT_MONITOR_LOG=$T/monitor2.log"
mkdir -p run2 etc2 run3 etc3 && chmod 700 run2 etc2 run3 etc3
cleanup2() {
    for r in run2 run3; do
        for d in "$T/$r"/*/; do
            [ -d "$d" ] && VMKIT_RUNTIME_DIR=$T/$r "$VMKIT" destroy "$(basename "$d")" >/dev/null 2>&1
        done
        pkill -KILL -f "$T/$r/" 2>/dev/null
    done
    vm_cleanup
}
trap cleanup2 EXIT

# ssh stand-ins: ARGS are HOST vmkit migrate-receive
cat >ssh.sh <<EOF
#!/bin/sh
shift 2
exec $R2 "$VMKIT" "\$@"
EOF
# ... that keeps a copy of what the sender sent
cat >tee.sh <<EOF
#!/bin/sh
shift 2
tee "$T/stream.bin" | $R2 "$VMKIT" "\$@"
EOF
# ... whose pipe breaks after at most 3 MB (the link goes down mid-stream;
# dd passes short reads on at once, where head -c waits to fill a buffer)
cat >cut.sh <<EOF
#!/bin/sh
shift 2
dd bs=64K count=48 status=none | $R2 "$VMKIT" "\$@"
EOF
# ... whose receiver is killed (-9) once its QEMU runs
cat >kill.sh <<EOF
#!/bin/sh
shift 2
exec 3<&0   # (an asynchronous command's stdin is /dev/null in sh)
$R2 "$VMKIT" "\$@" <&3 3<&- &
r=\$!
n=0
# once 5 MB of the stream went through it
while [ "\$(awk '/^rchar/ {print \$2}' /proc/\$r/io 2>/dev/null || echo 0)" -lt 5000000 ] &&
      [ \$n -lt 1200 ]; do sleep 0.05; n=\$((n + 1)); done
kill -9 \$r
echo "receiver killed" >&2
wait \$r
EOF
# back from the other host
cat >back.sh <<EOF
#!/bin/sh
shift 2
exec env VMKIT_RUNTIME_DIR=$T/run VMKIT_CONFIG_DIR=$T/etc VMKIT_MONITOR_LOG=$T/monitor.log "$VMKIT" "\$@"
EOF

count_in() { sed -n 's/.*VMKIT-COUNT \([0-9]*\).*/\1/p' "$1/mv/console.log" | "$2" -1; }
nqemu() { pgrep -f "qemu-system.*$T/$1/" | wc -l; }
q2() { timeout 30 python3 "$TOP/tests/qmp.py" "$T/run2/mv/qmp-cli.sock" query-status 2>&1 |
       python3 -c 'import json,sys; print(json.loads(sys.stdin.readline())["status"])' 2>&1; }
# until_ SECS CMD...: until CMD succeeds (CMD is eval'ed again each time)
until_() {
    _end=$(( $(date +%s) + $1 )); shift
    until eval "$@"; do [ "$(date +%s)" -gt $_end ] && return 1; sleep 0.1; done
}
# runs_on: mv still runs here and counts on
runs_on() {
    eq "QMP: mv still runs here ($1)" "$(qstatus mv)" running
    ok "... and counts on ($1)" wait_log mv "VMKIT-COUNT $(( $(count_in run tail) + 1 ))" 1 30
    eq "nothing runs on the other side ($1)" "$(nqemu run2)" 0
    none "no VM dir left on the other side ($1)" ls run2
}

# its disk is on "shared storage": both sides use it in place
ok "a qcow2 disk for mv" qemu-img create -q -f qcow2 shared.qcow2 16M
guest_cfg mv "disk = [ 'format=qcow2,vdev=xvda,access=rw,target=$T/shared.qcow2' ]" >mv.cfg
ok "create mv (counting)" vmkit create mv.cfg 'extra="console=ttyS0 panic=-1 quiet vmkit.counter"'
ok "mv counts" wait_log mv 'VMKIT-COUNT 3' 1 90

# an ssh that is not there, an empty one: refused, mv runs on
fails_with "an ssh command that does not exist" 1 "nosuch-ssh: No such file or directory" \
    vmkit migrate -s nosuch-ssh mv other
fails_with "an empty ssh command" 1 "not a usable ssh command" vmkit migrate -s " " mv other
runs_on "after a missing ssh"
# nomigrate = 1 (xl.cfg(5)): refused, the VM stays where it is
guest_cfg nm "nomigrate = 1" >nm.cfg
ok "create nm (nomigrate = 1, paused)" vmkit create -p nm.cfg
fails_with "nomigrate = 1: migrate refuses" 1 "nm: its config sets nomigrate = 1" \
    vmkit migrate -s "sh $T/ssh.sh" nm other
eq "QMP: nm still here, as it was (created paused)" "$(qstatus nm)" prelaunch
ok "destroy nm" vmkit destroy nm

# refused before anything moves: the name is defined, or running, there
ok "define mv on the other side" $R2 "$VMKIT" define mv.cfg
fails_with "a receiver with mv defined refuses" 1 "mv: a VM of that name is already defined here" \
    vmkit migrate -s "sh $T/ssh.sh" mv other
runs_on "after the refusal"
ok "undefine mv there" $R2 "$VMKIT" undefine mv

# the pipe breaks mid-stream: the source runs on, nothing stays there
fails_with "a pipe cut mid-stream fails" 1 "migration to other failed" \
    vmkit migrate -s "sh $T/cut.sh" mv other
has "... saying the receiver went away, in its own words" "$(cat "$T/.out")" "truncated"
runs_on "after the cut"
if [ "$SAN" != 1 ]; then
    fails_with "a receiver killed mid-migration fails" 1 "receiver killed" \
        vmkit migrate -s "sh $T/kill.sh" --live mv other
    ok "the receiver's QEMU goes away by itself" until_ 30 'test "$(nqemu run2)" = 0'
    ok "... and its VM dir" until_ 30 'test -z "$(ls run2)"'
    runs_on "after the receiver was killed"
fi

# live migration: the guest counts on over there, from where it was
pid=$(qemu_pid mv)
at=$(count_in run tail)
ok "migrate --live mv" vmkit migrate -s "sh $T/tee.sh" --live mv other
out=$(cat "$T/.out")
has "it reports QEMU's downtime" "$out" "downtime"
echo "$out" | sed -n 's/.*downtime \([0-9]*\) ms (QEMU), guest stopped \([0-9]*\) ms.*/# live migration downtime: \1 ms (QEMU), guest stopped \2 ms in all/p'

ok "/proc: the source's QEMU is gone" proc_gone "$pid"
ok "the source's VM dir is gone" wait_gone mv
eq "QMP: mv runs on the other side" "$(q2)" running
ok "mv is defined there" test -s etc2/mv.cfg
ok "it counts there" wait_log ../run2/mv 'VMKIT-COUNT' 1 60
f=$(count_in run2 head)
ok "it counts on from $at (first count there $f), not from 1" test "${f:-0}" -ge "$at" -a "${f:-0}" -le $((at + 15))
ok "it did not boot again (no VMKIT-READY there)" sh -c "! grep -q VMKIT-READY run2/mv/console.log"
has "QMP: there it uses the shared disk in place" \
    "$(timeout 30 python3 "$TOP/tests/qmp.py" "$T/run2/mv/qmp-cli.sock" query-block 2>&1)" "$T/shared.qcow2"

# another mv (paused, on a third host) to a side where mv runs: refused
R3="env VMKIT_RUNTIME_DIR=$T/run3 VMKIT_CONFIG_DIR=$T/etc3"
guest_cfg mv >mv3.cfg
ok "create a second mv elsewhere" $R3 "$VMKIT" create mv3.cfg
ok "pause it" $R3 "$VMKIT" pause mv
fails_with "a receiver with mv running refuses" 1 "mv: a VM of that name is already running here" \
    $R3 "$VMKIT" migrate -s "sh $T/ssh.sh" mv other
has "... and says the paused mv stays paused" "$(cat "$T/.out")" "mv stays paused here"
eq "QMP: the second mv is still there, paused" \
    "$(timeout 30 python3 "$TOP/tests/qmp.py" "$T/run3/mv/qmp-cli.sock" query-status 2>&1 |
       python3 -c 'import json,sys; print(json.loads(sys.stdin.readline())["status"])' 2>&1)" paused
eq "QMP: the first mv still runs over there" "$(q2)" running
ok "destroy the second mv" $R3 "$VMKIT" destroy mv

if [ "$SAN" != 1 ]; then
    # and back, not live (paused for the transfer), as the other side's user
    at=$(count_in run2 tail)
    ok "migrate mv back (not live)" $R2 "$VMKIT" migrate -s "sh $T/back.sh" mv here
    out=$(cat "$T/.out")
    has "... with its downtime" "$out" "downtime"
    echo "$out" | sed -n 's/.*downtime \([0-9]*\) ms (QEMU), guest stopped \([0-9]*\) ms.*/# non-live migration downtime: \1 ms (QEMU), guest stopped \2 ms in all/p'

    eq "QMP: mv runs here again" "$(qstatus mv)" running
    ok "it counts on here, past $at" until_ 30 'test "$(count_in run tail)" -gt "$at"'
    ok "nothing of it left there" wait_gone ../run2/mv
    ok "destroy mv" vmkit destroy mv
else
    ok "destroy mv there" $R2 "$VMKIT" destroy mv
fi

# bad protocol input: one clear error, exit 1, an "error:" line for the
# sender, nothing left running
fed() {  # DESC FILE MESSAGE (one run: the message on stderr, the line on stdout)
    fails_with "migrate-receive: $1" 1 "$3" sh -c "$R3 '$VMKIT' migrate-receive <'$2' >out3"
    has "... with an error line on stdout ($1)" "$(cat out3)" "error: "
    none "... nothing left running ($1)" ls run3
    eq "... no QEMU ($1)" "$(nqemu run3)" 0
}
ok "the stream was captured" test -s stream.bin
head -c 200000 /dev/urandom >garbage.bin
: >empty.bin
head -c 60 stream.bin >shorthdr.bin
head -c 300 stream.bin >shortmeta.bin
head -c 2000000 stream.bin >shortstream.bin
python3 - stream.bin <<'PY'
import sys, struct, zlib
b = bytearray(open(sys.argv[1], 'rb').read())
w = bytearray(b); w[0:8] = b'VMKITXXX'; open('magic.bin', 'wb').write(w[:4096])
v = bytearray(b[:4096]); v[8] = 9; v[64:68] = struct.pack('<I', zlib.crc32(bytes(v[:64]))); open('version.bin', 'wb').write(v)
c = bytearray(b[:4096]); c[20] ^= 1; open('crc.bin', 'wb').write(c)
m = bytearray(b[:4096]); m[100] ^= 0x20; open('meta.bin', 'wb').write(m)
s = bytearray(b); s[len(s) // 2] ^= 0xff; open('flip.bin', 'wb').write(s)
PY
fed "garbage" garbage.bin "migration stream: not a vmkit migration stream"
fed "nothing" empty.bin "migration stream: truncated (0 of 72 bytes of the header"
fed "a short header" shorthdr.bin "truncated (60 of 72 bytes of the header"
fed "a short metadata" shortmeta.bin "of the metadata"
fed "a wrong magic" magic.bin "not a vmkit migration stream"
fed "another version" version.bin "migration protocol version 9 is not supported"
fed "a damaged header" crc.bin "migration header is damaged (checksum)"
fed "damaged metadata" meta.bin "metadata is damaged (checksum)"
fed "a stream cut short" shortstream.bin "truncated"
fed "a damaged stream" flip.bin "migration stream"
no_qemu_left "no QEMU left"
ok "qemu-img check: the shared disk is clean after it all" qemu-img check -q shared.qcow2
vm_finish
