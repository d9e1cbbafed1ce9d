#!/bin/bash
# One boot of a `vmkit guest build --rootfs-dir` guest (Debian's generic
# kernel: it has 9p, USB and i6300esb drivers, the cloud kernel none of
# them) shows what the config side can only put on QEMU's command line:
#  - its root filesystem is a host directory shared over 9p (the rootless
#    counterpart of an NFS root): /proc/mounts in the guest says so, and a
#    file the guest writes appears in the host directory;
#  - a second 9p share: the guest reads a host file through it;
#  - usb = 1 + usbdevice = [ "tablet" ]: the guest's input layer lists
#    the QEMU USB Tablet;
#  - on_watchdog: the guest arms the i6300esb and stops feeding it; QEMU
#    sends WATCHDOG (seen by our own QMP client on the VM's socket), powers
#    off, and the monitor applies on_watchdog = "preserve" (listed crashed).
# The guest's answers are read from its own console output.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/vm_lib.sh"

# say NAME TEXT: type TEXT (one shell line) on NAME's console
say() { printf '%s\n' "$2" | timeout 30 "$VMKIT" console --timeout 2 "$1" >/dev/null 2>&1; }

out=$("$VMKIT" guest build -q --rootfs-dir r9 2>&1); st=$?
if [ $st -ne 0 ] && grep -q 'apt-get' <<<"$out"; then
    skip "9p root guest" "cannot fetch linux-image-amd64 ($out)"; vm_finish; exit
fi
eq "guest build --rootfs-dir r9" "$st" 0
ok "r9 is a directory tree with the kernel" sh -c 'ls r9/boot/vmlinuz-* r9/bin/busybox'
has "r9.cfg: root on 9p" "$(cat r9.cfg)" "p9 = [ 'tag=root,security_model=none,path=$T/r9' ]"
ok "create -n r9.cfg" vmkit create -n r9.cfg

tok=tok$$$RANDOM
mkdir share && echo "host-file-$tok" >share/hello.txt
cat r9.cfg - >dev.cfg <<CFG
name = "dev"
p9 += [ 'tag=share,security_model=none,path=$T/share' ]
usb = 1
usbdevice = [ "tablet" ]
on_watchdog = "preserve"
vnc = 0
CFG
ok "create dev (9p root, 9p share, USB tablet, watchdog)" vmkit create dev.cfg
ok "dev reaches VMKIT-READY" wait_log dev VMKIT-READY 1 240
[ -d "$T/run/dev" ] || { vm_finish; exit; }

say dev "grep ' / ' /proc/mounts | sed 's/^/ROOTIS /'"
ok "guest: / is the 9p share 'root'" wait_log dev "ROOTIS root / 9p" 1 60
say dev "echo guest-wrote-$tok >/root/from-guest; sync; echo WROTE-$tok"
ok "guest wrote its file" wait_log dev "^WROTE-$tok" 1 60
eq "... and the host sees it in the root directory" "$(cat r9/root/from-guest 2>&1)" "guest-wrote-$tok"
say dev "mkdir -p /mnt && mount -t 9p -o trans=virtio,version=9p2000.L share /mnt && cat /mnt/hello.txt"
ok "guest reads the host file through the 9p share" wait_log dev "^host-file-$tok" 1 60
say dev "grep -c 'QEMU USB Tablet' /proc/bus/input/devices | sed 's/^/TABLETS /'"
ok "guest: the USB tablet is an input device" wait_log dev "TABLETS 1" 1 60

# our own QMP client waits for QEMU's WATCHDOG event
python3 - "$T/run/dev/qmp-cli.sock" >wd.out 2>&1 <<'PY' &
import json, socket, sys
s = socket.socket(socket.AF_UNIX); s.settimeout(180); s.connect(sys.argv[1])
f = s.makefile("rw"); f.readline()
f.write('{"execute": "qmp_capabilities"}\n'); f.flush()
while True:
    line = f.readline()
    if not line:
        break
    m = json.loads(line)
    if m.get("event") == "WATCHDOG":
        print("WATCHDOG", m["data"].get("action")); break
PY
qp=$!
sleep 1
say dev "rmmod i6300esb; insmod \$(find /lib/modules -name i6300esb.ko) heartbeat=2 && echo 1 >/dev/watchdog && echo ARMED"
ok "guest armed the watchdog" wait_log dev "^ARMED" 1 60
wait $qp
eq "QEMU sent WATCHDOG (our QMP client)" "$(cat wd.out)" "WATCHDOG poweroff"
for _ in $(seq 600); do vmkit list dev 2>/dev/null | grep -q -- '----c-' && break; sleep 0.1; done
has "on_watchdog preserve: listed crashed" "$(vmkit list dev)" "----c-"
has "the monitor saw it" "$(cat "$T/monitor.log")" "event WATCHDOG"
ok "destroy dev" vmkit destroy dev
no_qemu_left "nothing of this test runs"
vm_finish
