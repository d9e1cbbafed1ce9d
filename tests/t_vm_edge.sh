#!/bin/bash
# Edge cases of the VM runtime: four `vmkit create` of one name at the
# same moment (exactly one wins, the others get the duplicate-name error,
# one QEMU runs); two VMs forwarding the same host port (the second fails
# with QEMU's own reason and leaves nothing behind); a disk shared
# read-only by two VMs (allowed) and then wanted writable by a third
# (refused by QEMU's image locking); a QEMU frozen with SIGSTOP (list stays
# fast, destroy still stops it); runtime files damaged by hand (list does
# not crash, destroy still works); a runtime directory whose path is too
# long for QEMU's unix sockets (a clear error before anything starts); a
# runtime directory holding the user's files (never deleted).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/vm_lib.sh"

n_qemu() { pgrep -f "qemu-system.*$T/run/$1/" | wc -l; }
millis() { date +%s%3N; }

guest_cfg race >race.cfg
for i in 1 2 3 4; do ( vmkit create race.cfg >race.$i 2>&1; echo "rc=$?" >>race.$i ) & done
wait
eq "4 simultaneous creates of one name: exactly one succeeds" "$(cat race.? | grep -c '^rc=0')" 1
eq "... the other three are refused as duplicates" \
    "$(cat race.? | grep -c 'race: a VM of that name is already running')" 3
eq "... and one QEMU runs" "$(n_qemu race)" 1
eq "QMP: it is named race" "$(qname race)" race
qp=$(qemu_pid race)
ok "destroy race" vmkit destroy race
ok "/proc: race's QEMU $qp is gone" proc_gone "$qp"

guest_cfg f1 'vif = [ "type=user,hostfwd=tcp:127.0.0.1:0-:22" ]' >f1.cfg
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
ok "create f1 forwarding 127.0.0.1:$port" vmkit create f1.cfg "vif=[\"type=user,hostfwd=tcp:127.0.0.1:$port-:22\"]"
has "QMP (info usernet): QEMU forwards 127.0.0.1:$port to the guest's port 22" \
    "$(qmp f1 human-monitor-command '{"command-line":"info usernet"}' | tr -s ' ')" "127.0.0.1 $port 10.0.2.15 22 "
ok "port $port takes connections (python connects)" \
    python3 -c "import socket; socket.create_connection(('127.0.0.1', $port), 5)"
fails_with "f2 forwarding the same port: QEMU's reason" 1 "Could not set up host forwarding" \
    vmkit create f1.cfg name=f2 "vif=[\"type=user,hostfwd=tcp:127.0.0.1:$port-:22\"]"
ok "f2 left no runtime dir" test ! -e "$T/run/f2"
eq "f2 left no QEMU" "$(n_qemu f2)" 0
ok "destroy f1" vmkit destroy f1

truncate -s 8M shared.img
guest_cfg r1 "disk = [ \"$T/shared.img,raw,xvda,r\" ]" >r1.cfg
ok "create r1 with a read-only disk" vmkit create r1.cfg
ok "create r2 with the same disk read-only: allowed" vmkit create r1.cfg name=r2
has "list -l shows the disk read-only" "$(vmkit list -l r2)" "xvda $T/shared.img ro"
eq "QMP: r1's disk is shared.img, read-only" "$(qblock r1)" "disk0 $T/shared.img ro=True"
eq "QMP: r2's disk is shared.img, read-only" "$(qblock r2)" "disk0 $T/shared.img ro=True"
fails_with "w3 wants it writable: refused by the lock" 1 "lock" \
    vmkit create r1.cfg name=w3 "disk=[\"$T/shared.img,raw,xvda,w\"]"
ok "w3 left no runtime dir" test ! -e "$T/run/w3"
eq "w3 left no QEMU" "$(n_qemu w3)" 0
eq "QMP: r1 still runs" "$(qstatus r1)" running
ok "destroy r1" vmkit destroy r1
ok "destroy r2" vmkit destroy r2

guest_cfg frozen >frozen.cfg
ok "create frozen" vmkit create frozen.cfg
qp=$(qemu_pid frozen)
kill -STOP "$qp"
t0=$(millis); vmkit list >/dev/null; lrc=$?; t1=$(millis)
eq "list with a frozen QEMU exits 0" "$lrc" 0
ok "list with a frozen QEMU returns within 2 s ($((t1 - t0)) ms)" test $((t1 - t0)) -lt 2000
ok "destroy of a frozen QEMU" vmkit destroy frozen
ok "frozen's runtime dir gone" test ! -e "$T/run/frozen"
eq "frozen's QEMU gone" "$(n_qemu frozen)" 0
ok "/proc: frozen's QEMU $qp is gone" proc_gone "$qp"

guest_cfg dmg >dmg.cfg
ok "create dmg" vmkit create dmg.cfg
qp=$(qemu_pid dmg)
echo garbage >"$T/run/dmg/id"
printf '\377\376' >"$T/run/dmg/state"
echo "x y z" >"$T/run/dmg/monitor.pid"
ok "list with damaged runtime files" vmkit list
ok "list --json with damaged runtime files parses" \
    sh -c "'$VMKIT' list --json | python3 -c 'import json,sys; json.load(sys.stdin)'"
ok "destroy dmg" vmkit destroy dmg
ok "dmg's runtime dir gone" test ! -e "$T/run/dmg"
eq "dmg's QEMU gone" "$(n_qemu dmg)" 0
ok "/proc: dmg's QEMU $qp is gone" proc_gone "$qp"

# A runtime directory too deep for a unix socket address: refused before
# anything is made (QEMU would only fail later, inside).
long=$T/$(printf 'x%.0s' $(seq 100))
mkdir -m 700 "$long"
fails_with "runtime dir path too long for QEMU's sockets" 1 "too long for QEMU's sockets" \
    env VMKIT_RUNTIME_DIR="$long" "$VMKIT" create race.cfg
none "... nothing made under it (but its lock)" \
    sh -c 'l=$(ls -A "$1") || exit 1; printf "%s" "$l" | grep -v "^\.lock$"; exit 0' _ "$long"

# VMKIT_RUNTIME_DIR pointed at a directory of the user's: list, destroy
# and create never delete what vmkit did not make.
mkdir -m 700 mine; mkdir mine/docs mine/proj mine/half
echo precious >mine/docs/thesis.txt
echo x >mine/proj/config; echo y >mine/proj/state     # names vmkit uses too
echo "999999 1" >mine/half/monitor.pid; echo keep >mine/half/notes.txt
before=$(cd mine && find . -type f | sort | xargs md5sum)
ok "list in the user's directory" env VMKIT_RUNTIME_DIR="$T/mine" "$VMKIT" list
fails_with "destroy docs: no such VM" 1 "docs: no such VM" env VMKIT_RUNTIME_DIR="$T/mine" "$VMKIT" destroy docs
fails_with "create over the user's docs/: refused" 1 "exists" \
    env VMKIT_RUNTIME_DIR="$T/mine" "$VMKIT" create race.cfg name=docs
eq "the user's files are all still there" \
    "$(cd mine && find . -type f ! -name monitor.pid ! -name .lock | sort | xargs md5sum)" \
    "$(echo "$before" | grep -v monitor.pid)"

eq "list empty at the end" "$(vmkit list --json)" "[]"
no_qemu_left "nothing of this test runs"
vm_finish
