#!/bin/bash
# VM runtime benchmarks (TCG or KVM, whatever vmkit picks here):
#  (a) boot to readiness: from `vmkit create GUEST.cfg` to the guest's
#      VMKIT-READY line in its console log, against the very same QEMU
#      command line started by hand (the argv vmkit recorded in its runtime
#      dir, the kernel/initrd pygrub extracted copied aside), reading the
#      same console log; alternating runs, N each (BENCH_N, default 5);
#      medians and the ratio vmkit/qemu (target <= 1.05).
#  (b) `vmkit list` with 10 paused VMs (memory 32 MiB, each a 1 MiB
#      disk with a BIOS boot sector): median wall time of 20 calls (target < 50 ms).
#   BENCH_N=3 bash bench/vm.sh   for a quicker run.
set -u
TOP=$(cd "$(dirname "$0")/.." && pwd)
VMKIT=${VMKIT:-$TOP/build/vmkit}
N=${BENCH_N:-5}
. "$TOP/bench/lib.sh"   # vm_scratch, start_paused
vm_scratch

"$VMKIT" guest build -q "$D/g.img" >/dev/null || { echo "FAILED: vmkit guest build"; exit 1; }

# timed MODE NAME: seconds from start to VMKIT-READY in the console log.
#   MODE vmkit: run `vmkit create g.img.cfg name=NAME`, then watch
#               run/NAME/console.log; destroy the VM afterwards.
#   MODE qemu:  exec hand/argv (NUL-separated) directly, watch
#               hand/console.log; kill QEMU afterwards.
timed() {
    python3 - "$1" "$2" "$VMKIT" "$D" <<'PY'
import os, signal, subprocess, sys, time
mode, name, vmkit, d = sys.argv[1:5]
if mode == "vmkit":
    log = f"{d}/run/{name}/console.log"
else:
    log = f"{d}/hand/console.log"
    if os.path.exists(log):
        os.unlink(log)
    argv = open(f"{d}/hand/argv", "rb").read().split(b"\0")[:-1]
t0 = time.monotonic()
if mode == "vmkit":
    r = subprocess.run([vmkit, "create", f"{d}/g.img.cfg", f"name={name}"],
                       stderr=subprocess.PIPE)
    if r.returncode:
        sys.exit(r.stderr.decode(errors="replace"))
    started = time.monotonic() - t0
else:
    p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    started = time.monotonic() - t0
ready = None
while time.monotonic() - t0 < 120:
    try:
        with open(log, "rb") as f:
            if b"VMKIT-READY" in f.read():
                ready = time.monotonic() - t0
                break
    except FileNotFoundError:
        pass
    time.sleep(0.005)
if mode == "vmkit":
    subprocess.run([vmkit, "destroy", name], stderr=subprocess.DEVNULL)
else:
    p.send_signal(signal.SIGKILL)
    p.wait()
if ready is None:
    sys.exit(f"{mode}: no VMKIT-READY within 120 s")
print(f"{ready:.3f} {started:.3f}")
PY
}
median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# The hand-run command line: vmkit's own, recorded at start (paused, so
# the kernel/initrd pygrub extracted can be copied aside), with its
# runtime-dir paths moved to hand/ and -S (start paused) dropped.
"$VMKIT" create "$D/g.img.cfg" name=argv -p 2>/dev/null || { echo "FAILED: vmkit create"; exit 1; }
mkdir -p "$D/hand"
cp "$D/run/argv/kernel" "$D/run/argv/initrd" "$D/hand/"
python3 - "$D/run/argv/argv" "$D/run/argv" "$D/hand" >"$D/hand/argv" <<'PY'
import sys
src, old, new = sys.argv[1:4]
args = open(src, "rb").read().split(b"\0")[:-1]
out = [a.replace(old.encode(), new.encode()) for a in args if a != b"-S"]
sys.stdout.buffer.write(b"".join(a + b"\0" for a in out))
PY
"$VMKIT" destroy argv
accel=$(tr '\0' '\n' <"$D/hand/argv" | sed -n '/^-accel$/{n;p}')

echo "vm boot: vmkit create -> VMKIT-READY vs the same QEMU argv by hand, accel $accel, N=$N"
: >"$D/tv"; : >"$D/tq"; : >"$D/tc"
for i in $(seq "$N"); do
    t=$(timed qemu hand) || { echo "FAILED: qemu by hand"; exit 1; }
    echo "${t% *}" >>"$D/tq"
    t=$(timed vmkit "bench$i") || { echo "FAILED: vmkit create"; exit 1; }
    echo "${t% *}" >>"$D/tv"
    echo "${t#* }" >>"$D/tc"
done
tq=$(median <"$D/tq"); tv=$(median <"$D/tv"); tc=$(median <"$D/tc")
echo "qemu by hand:  ${tq}s (runs: $(tr '\n' ' ' <"$D/tq"))"
echo "vmkit create:  ${tv}s (runs: $(tr '\n' ' ' <"$D/tv"))"
echo "vmkit create itself returned after ${tc}s (median: pygrub copying the kernel out, monitor, QMP up)"
echo "ratio vmkit/qemu: $(echo "scale=3; $tv / $tq" | bc)"

# (b) vmkit list with 10 paused VMs
start_paused 10 list || exit 1
n=$("$VMKIT" list | grep -c '^paused.*--p---')
: >"$D/tl"
for _ in $(seq 20); do
    s=$(date +%s%N)
    "$VMKIT" list >/dev/null || { echo "FAILED: vmkit list"; exit 1; }
    e=$(date +%s%N)
    echo $(( (e - s) / 1000 )) >>"$D/tl"
done
tl=$(median <"$D/tl")
echo "vmkit list, $n paused VMs: median $(echo "scale=1; $tl / 1000" | bc) ms of 20 calls (target < 50 ms)"
s=$(date +%s%N); "$VMKIT" list --json >/dev/null; e=$(date +%s%N)
echo "vmkit list --json: $(( (e - s) / 1000000 )) ms"
for i in $(seq 10); do "$VMKIT" destroy "paused$i"; done
[ "$n" = 10 ]
