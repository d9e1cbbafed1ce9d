#!/bin/bash
# Networking under `vmkit create`: user-mode NAT with a hostfwd port
# forward really reaches the guest, and the guest reaches the host.
# The guest is `vmkit guest build`'s (virtio-net, DHCP from QEMU's
# user-mode NAT).  Inside it, busybox nc listens on port 22 and answers
# with the guest's hostname and eth0 address; the host connects to the
# forwarded port (python3 socket, the oracle here) and must read them.
# The other way, the guest fetches a file from a host HTTP server
# (python3 -m http.server) through the NAT gateway 10.0.2.2.
# A bridge without qemu-bridge-helper set up is a clear error.
. "$(dirname "$0")/lib.sh"
cd "$T" || exit 1
export VMKIT_RUNTIME_DIR=$T/run VMKIT_CONFIG_DIR=$T/etc
mkdir -p "$T/run" "$T/etc" && chmod 700 "$T/run" "$T/etc"

need qemu-system-x86_64 || { finish; exit; }
httpd=
cleanup() {
    for n in net1 netbr; do "$VMKIT" destroy "$n" >/dev/null 2>&1; done
    [ -n "$httpd" ] && kill "$httpd" 2>/dev/null
    rm -rf "$T"
}
trap cleanup EXIT

freeport() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
# wait_line NAME TEXT [SECS]: TEXT in the VM's console log
wait_line() {
    for _ in $(seq $((${3:-60} * 10))); do
        grep -qF "$2" "$T/run/$1/console.log" 2>/dev/null && return 0
        sleep 0.1
    done
    return 1
}
# guest NAME CMD: type CMD on the VM's console, return what it printed
guest() {
    (printf '%s\n' "$2"; sleep "${3:-2}") | "$VMKIT" console --timeout 10 "$1" 2>&1
}

ok "guest build" vmkit guest build -q --hostname netguest g.img
[ -f g.img ] || { finish; exit 1; }
ok "partition 1 copied out" dd if=g.img of=p1 bs=1M skip=1 status=none
kver=$(debugfs -R "ls -p /boot" p1 2>/dev/null | tr '/' '\n' | sed -n 's/^vmlinuz-//p' | head -1)
has "virtio_net module in the guest (debugfs)" \
    "$(debugfs -R "ls -p /lib/modules/$kver/kernel/drivers/net" p1 2>/dev/null)" "virtio_net.ko"
has "rcS asks DHCP for eth0 (debugfs)" "$(debugfs -R 'cat /etc/init.d/rcS' p1 2>/dev/null)" "udhcpc -i eth0"
rm -f p1

# bridge: this host has no /etc/qemu/bridge.conf allowing br0 (tried on
# the pristine disk: pygrub does not replay a journal a destroyed guest left)
if [ -r /etc/qemu/bridge.conf ] && grep -qs 'allow br0\|allow all' /etc/qemu/bridge.conf; then
    skip "bridge error" "qemu-bridge-helper allows br0 here"
else
    fails_with "bridge=br0 without qemu-bridge-helper: clear error" 1 "bridge helper failed" \
        vmkit create g.img.cfg name=netbr "vif=['bridge=br0']"
    has "the error names the bridge" "$(cat "$T/.out")" "br0"
    [ ! -e "$T/run/netbr" ]; eq "no state left behind" "$?" 0
fi

port=$(freeport)
hport=$(freeport)
mkdir -p www && echo "VMKIT-HOST-FILE $$" >www/hello.txt
python3 -m http.server -b 127.0.0.1 -d www "$hport" >http.log 2>&1 &
httpd=$!

ok "create with vif type=user,hostfwd" vmkit create g.img.cfg name=net1 \
    "vif=['type=user,model=virtio-net-pci,hostfwd=tcp:127.0.0.1:$port-:22']"
ok "guest ready" wait_line net1 VMKIT-READY
has "guest got 10.0.2.15 by DHCP" "$(cat "$T/run/net1/console.log")" "vmkit guest: eth0 10.0.2.15/24"
o=$(vmkit list -l net1)
has "list -l shows the forward" "$o" "$port-:22"
has "QMP (info usernet): QEMU forwards 127.0.0.1:$port to the guest's port 22" \
    "$(timeout 30 python3 "$TOP/tests/qmp.py" "$T/run/net1/qmp-cli.sock" human-monitor-command \
       '{"command-line":"info usernet"}' 2>&1 | tr -s ' ')" "127.0.0.1 $port 10.0.2.15 22 "
qp=$(cat "$T/run/net1/pid")

# the guest's answer: its hostname and address, from a script in the guest
guest net1 "printf '#!/bin/sh\necho VMKIT-NET-OK \$(hostname)\nip -4 -o addr show eth0\n' >/tmp/answer; chmod 755 /tmp/answer; nc -ll -p 22 -e /tmp/answer & echo nc-started" 2 >c1.out
has "nc listens in the guest" "$(cat c1.out)" "nc-started"
reply() {
    python3 - "$port" <<'PY'
import socket, sys, time
for _ in range(50):
    try:
        s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
        data = b""
        while True:
            b = s.recv(4096)
            if not b:
                break
            data += b
        if data:
            print(data.decode(errors="replace"))
            sys.exit(0)
    except OSError:
        pass
    time.sleep(0.2)
sys.exit(1)
PY
}
o=$(reply)
has "host -> forwarded port -> guest answers" "$o" "VMKIT-NET-OK netguest"
has "the answer comes from the guest's eth0" "$o" "inet 10.0.2.15/24"
o=$(reply)
has "a second connection is answered too" "$o" "VMKIT-NET-OK netguest"

o=$(guest net1 "wget -q -O- http://10.0.2.2:$hport/hello.txt" 3)
has "guest -> NAT gateway -> host HTTP server" "$o" "VMKIT-HOST-FILE $$"
has "the host server saw the guest's request" "$(cat http.log)" "GET /hello.txt"
ok "destroy" vmkit destroy net1
for _ in $(seq 600); do [ -d "/proc/$qp" ] || break; sleep 0.1; done
ok "/proc: net1's QEMU $qp is gone" test ! -d "/proc/$qp"
python3 -c "import socket; socket.create_connection(('127.0.0.1', $port), timeout=2)" 2>/dev/null
r=$?
[ $r -ne 0 ]; eq "the forwarded port is closed once the VM is gone" "$?" 0

eq "nothing running at the end" "$(vmkit list --json)" "[]"
finish
