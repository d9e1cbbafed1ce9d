#!/bin/bash
# xl.cfg -> QEMU argv, checked against the real QEMU: the argv of a config
# with raw, qcow2 and cdrom disks, a NIC with hostfwd and VNC starts
# qemu-system-x86_64 paused (-S, TCG on this host) and QMP reports the
# devices, name, uuid, VNC address and port forwards as configured.
. "$(dirname "$0")/lib.sh"

ARGV=$(dirname "$VMKIT")/tests/t_qemu_argv
QMP="python3 $TOP/tests/qmp.py"
need qemu-system-x86_64 qemu-img xorriso python3 || { finish; exit; }

R=$T/run; mkdir -m 700 "$R"
QPID=
# quit QEMU over QMP; kill it if it does not go within 60 s.  Sets rc.
stop_qemu() {
    $QMP "$R/qmp-cli.sock" quit >/dev/null 2>&1
    for _ in $(seq 600); do kill -0 $QPID 2>/dev/null || break; sleep 0.1; done
    kill $QPID 2>/dev/null && sleep 0.5
    wait $QPID; rc=$?
}
trap '[ -n "$QPID" ] && kill $QPID 2>/dev/null; rm -rf "$T"' EXIT
ok "qemu-img create root.img" qemu-img create -q -f raw "$T/root.img" 64M
ok "qemu-img create scsi.img" qemu-img create -q -f raw "$T/scsi.img" 16M
ok "qemu-img create data,1.qcow2" qemu-img create -q -f qcow2 "$T/data,1.qcow2" 32M
mkdir "$T/iso"; echo hello >"$T/iso/README"
ok "xorriso makes cd.iso" xorriso -as mkisofs -quiet -V VMKITCD -o "$T/cd.iso" "$T/iso"
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')

cat >"$T/web.cfg" <<CFG
# test domain
name   = "cfgtest"
uuid   = "3b1f0c1e-8a5d-4c1a-9d55-0f7a6b8a9e01"
memory = 96
maxmem = 192
vcpus  = 2
disk   = [ 'file:$T/root.img,xvda,w',
           'format=qcow2, vdev=hda, access=rw, target=$T/data,1.qcow2',
           '$T/cd.iso,hdc:cdrom,r',   # installer
           'format=raw,vdev=sdb,access=ro,target=$T/scsi.img',
         ]
vif    = [ 'mac=00:16:3e:27:84:7a,model=e1000,hostfwd=tcp:127.0.0.1:$PORT-:22' ]
vnc    = 1
boot   = "dc"
on_reboot = "restart"
CFG

"$ARGV" "$T/web.cfg" "$R" >"$T/argv" 2>"$T/argv.err"
eq "argv built" "$?" 0
has "auto acceleration on this host" "$(cat "$T/argv.err")" "accel"
if [ ! -e /sys/module/kvm_intel ] && [ ! -e /sys/module/kvm_amd ]; then
    has "no hardware virtualization: -accel tcg" "$(tr '\n' ' ' <"$T/argv")" "-accel tcg"
fi
mapfile -t A <"$T/argv"

"${A[@]}" >"$T/qemu.out" 2>&1 &
QPID=$!
for _ in $(seq 600); do [ -S "$R/qmp.sock" ] && [ -S "$R/qmp-cli.sock" ] && break; sleep 0.1; done
ok "QEMU starts and opens both QMP sockets" test -S "$R/qmp.sock" -a -S "$R/qmp-cli.sock"

out=$($QMP "$R/qmp-cli.sock" query-name query-uuid query-status query-vnc query-block \
      human-monitor-command '{"command-line":"info usernet"}' \
      human-monitor-command '{"command-line":"info network"}' \
      query-cpus-fast query-memory-size-summary \
      human-monitor-command '{"command-line":"info qtree"}' 2>&1)
q() { sed -n "${1}p" <<<"$out"; }
eq "query-name" "$(q 1)" '{"name": "cfgtest"}'
eq "query-uuid" "$(q 2)" '{"UUID": "3b1f0c1e-8a5d-4c1a-9d55-0f7a6b8a9e01"}'
has "paused before launch (-S)" "$(q 3)" '"status": "prelaunch"'
vnc=$(q 4)
has "VNC enabled" "$vnc" '"enabled": true'
has "VNC on 127.0.0.1" "$vnc" '"host": "127.0.0.1"'
has "VNC ipv4 only" "$vnc" '"family": "ipv4"'
blk=$(q 5)
devs=$(python3 -c '
import json, sys
for b in json.loads(sys.argv[1]):
    i = b.get("inserted")
    print(b["device"], i["file"] if i else "-", i["drv"] if i else "-", i["ro"] if i else "-", b["removable"])
' "$blk")
has "xvda: root.img raw read-write" "$devs" "disk0 $T/root.img raw False False"
has "hda: qcow2 (comma in name) read-write" "$devs" "ide0-hd0 $T/data,1.qcow2 qcow2 False False"
has "hdc: cdrom ISO read-only removable" "$devs" "ide1-cd0 $T/cd.iso raw True True"
has "sdb: raw read-only" "$devs" "disk3 $T/scsi.img raw True False"
# "info qtree": which device model holds which drive
tree=$(q 10 | python3 -c '
import json, re, sys
t = json.load(sys.stdin)
dev = None
for line in t.splitlines():
    m = re.match(r"\s*dev: ([^,]+),", line)
    if m: dev = m.group(1)
    m = re.match(r"\s*drive = \"(.*)\"", line)
    if m: print(dev, m.group(1))
    m = re.match(r"\s*scsi-id = (\d+)", line)
    if m: print(dev, "scsi-id", m.group(1))
')
has "xvda is virtio-blk" "$tree" "virtio-blk-device disk0"
has "hda is an IDE disk" "$tree" "ide-hd ide0-hd0"
has "hdc is an IDE cdrom" "$tree" "ide-cd ide1-cd0"
has "sdb is a scsi-hd" "$tree" "scsi-hd disk3"
has "sdb has scsi-id 1" "$tree" "scsi-hd scsi-id 1"
eq "2 vcpus" "$(q 8 | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')" 2
eq "96 MiB base memory" "$(q 9 | python3 -c 'import json,sys; print(json.load(sys.stdin)["base-memory"])')" $((96 << 20))
has "hostfwd 127.0.0.1:$PORT -> guest :22" "$(q 6 | tr -s " ")" "127.0.0.1 $PORT 10.0.2.15 22"
has "NIC model e1000 with mac" "$(q 7)" "model=e1000,macaddr=00:16:3e:27:84:7a"
ok "host port $PORT is forwarded (listening)" python3 -c "import socket; socket.create_connection(('127.0.0.1', $PORT), 5)"
ok "monitor QMP socket answers too" $QMP "$R/qmp.sock" query-status
eq "pidfile holds the QEMU pid" "$(cat "$R/qemu.pid" 2>/dev/null)" "$QPID"
has "uuid in /proc/PID/cmdline" "$(tr '\0' ' ' </proc/$QPID/cmdline)" "-uuid 3b1f0c1e-8a5d-4c1a-9d55-0f7a6b8a9e01"
stop_qemu
eq "QEMU quits cleanly" "$rc" 0
if [ $rc -ne 0 ]; then sed 's/^/#   /' "$T/qemu.out"; fi

# override memory and name like `xl create web.cfg memory=128 name=other`
"$ARGV" "$T/web.cfg" "$R" memory=128 name=other >"$T/argv2" 2>/dev/null
has "override memory" "$(tr '\n' ' ' <"$T/argv2")" "-m size=128M,slots=4,maxmem=192M"
has "override name" "$(tr '\n' ' ' <"$T/argv2")" "-name other,process=vmkit-other"

# a VNC password: QEMU starts with password=on, the runtime sets it over QMP
"$ARGV" "$T/web.cfg" "$R" 'disk=[]' 'vif=[]' vncpasswd=s3cret name=pw >"$T/argv3" 2>/dev/null
has "password=on in argv" "$(tr '\n' ' ' <"$T/argv3")" ",password=on"
case $(cat "$T/argv3") in *s3cret*) eq "password not in argv" leaked no ;; *) eq "password not in argv" no no ;; esac
mapfile -t A <"$T/argv3"
rm -f "$R"/*.sock
"${A[@]}" >"$T/qemu3.out" 2>&1 &
QPID=$!
for _ in $(seq 600); do [ -S "$R/qmp-cli.sock" ] && break; sleep 0.1; done
out=$($QMP "$R/qmp-cli.sock" query-vnc change-vnc-password '{"password":"s3cret"}' query-name 2>&1)
has "VNC requires the password" "$(q 1)" '"auth": "vnc"'
eq "change-vnc-password accepted" "$(q 2)" "{}"
eq "name overridden" "$(q 3)" '{"name": "pw"}'
stop_qemu
eq "second QEMU quits cleanly" "$rc" 0

# errors
rm "$T/cd.iso"
fails_with "missing disk file named with its spec" 1 "cfgtest: disk '$T/cd.iso,hdc:cdrom,r': $T/cd.iso: No such file or directory" \
    "$ARGV" "$T/web.cfg" "$R"
VMKIT_QEMU=qemu-system-nonesuch fails_with "missing QEMU named" 1 "qemu-system-nonesuch: not found in PATH" \
    "$ARGV" "$T/web.cfg" "$R" "disk=[]"
printf 'name = "x"\nmemory = "lots"\n' >"$T/bad.cfg"
fails_with "type error names file:line:col" 1 "$T/bad.cfg:2:10: memory: 'lots' is not a valid number" "$ARGV" "$T/bad.cfg" "$R"
finish
