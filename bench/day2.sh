#!/bin/bash
# Day-2 operations against the same operation done by hand in the same
# run (issue 12's targets in brackets):
#  (a) save of an idle 256 MiB guest (the test guest, direct boot) to a
#      file: `vmkit save NAME FILE` against QMP by hand on an identical VM
#      (stop; migrate to "exec:cat >FILE"; poll query-migrate; quit)
#      [vmkit within 1.5x];
#  (b) restore to running: `vmkit restore FILE` until it returns with the
#      VM running, against the same QEMU command line started by hand with
#      -incoming "exec:cat STREAM" until QMP reports it running
#      [vmkit under 200 ms];
#  (c) linked clone of a shut-off VM with a 2 GiB raw disk: `vmkit clone
#      --linked` against `qemu-img create -f qcow2 -b DISK -F raw`
#      [vmkit under 50 ms];
#  (d) full clone of that disk, 40 % of it written: `vmkit clone` against
#      `qemu-img convert -O raw` [ratio <= 1.0].  vmkit's copy is durable
#      before the clone's config names it (fsync'd); qemu-img returns with
#      its copy in the page cache, so the same copy made durable,
#      `qemu-img convert && sync --data`, is timed too.
# Alternating runs, N each (BENCH_N, default 3); medians.
#   BENCH_N=1 bash bench/day2.sh   for a quicker run.
set -u
TOP=$(cd "$(dirname "$0")/.." && pwd)
VMKIT=${VMKIT:-$TOP/build/vmkit}
N=${BENCH_N:-3}
. "$TOP/bench/lib.sh"
vm_scratch
# also the QEMUs started by hand (their paths are under $D/hand*)
trap 'pkill -KILL -f "$D/hand" 2>/dev/null; vm_scratch_cleanup' EXIT
median() { sort -n | awk '{ v[NR] = $1 } END { printf "%.3f\n", (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
fail() { echo "FAILED: $*"; exit 1; }

G=$(sh "$TOP/tests/fixtures/testguest.sh") || fail "the test guest"
cat >"$D/g.cfg" <<CFG
name = "g"
memory = 256
kernel = "$G/vmlinuz"
ramdisk = "$G/initrd.gz"
extra = "console=ttyS0 panic=-1 quiet"
vif = []
vnc = 0
CFG
ready() {  # NAME: wait for VMKIT-READY in its console log (120 s)
    for _ in $(seq 1200); do
        grep -q VMKIT-READY "$D/run/$1/console.log" 2>/dev/null && return 0
        sleep 0.1
    done
    return 1
}

# QMP by hand (python3, no vmkit code): save SOCK FILE | restore ARGV STREAM
cat >"$D/byhand.py" <<'PY'
import json, os, socket, subprocess, sys, time
def connect(path, wait=0):
    end = time.monotonic() + wait
    while True:
        try:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.connect(path)
            break
        except OSError:
            if time.monotonic() > end:
                raise
            time.sleep(0.002)
    f = s.makefile("rw")
    json.loads(f.readline())
    return s, f
def cmd(f, name, args=None):
    f.write(json.dumps({"execute": name, **({"arguments": args} if args else {})}) + "\n")
    f.flush()
    while True:
        r = json.loads(f.readline())
        if "event" in r:
            continue
        if "error" in r:
            sys.exit(f"{name}: {r['error']}")
        return r["return"]
mode = sys.argv[1]
t0 = time.monotonic()
if mode == "save":
    s, f = connect(sys.argv[2])
    cmd(f, "qmp_capabilities")
    cmd(f, "stop")
    cmd(f, "migrate", {"uri": "exec:cat >" + sys.argv[3]})
    while cmd(f, "query-migrate").get("status") not in ("completed", "failed"):
        time.sleep(0.002)
    cmd(f, "quit")
else:
    argv = open(sys.argv[2], "rb").read().split(b"\0")[:-1]
    argv += [b"-incoming", b"exec:cat " + sys.argv[3].encode()]
    p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    s, f = connect(sys.argv[4], 30)
    cmd(f, "qmp_capabilities")
    # the stream was taken from a stopped VM: QEMU leaves the loaded VM
    # paused (as vmkit restore finds it) and cont starts it
    while (st := cmd(f, "query-status")["status"]) != "running":
        if st == "paused":
            cmd(f, "cont")
        time.sleep(0.002)
    print(f"{time.monotonic() - t0:.3f}")
    p.kill()
    p.wait()
    sys.exit(0)
print(f"{time.monotonic() - t0:.3f}")
PY

# (a) save, (b) restore
echo "save / restore: idle 256 MiB guest, N=$N"
: >"$D/sv"; : >"$D/sq"; : >"$D/rv"; : >"$D/rq"
for i in $(seq "$N"); do
    "$VMKIT" create "$D/g.cfg" name=v$i >/dev/null || fail "vmkit create v$i"
    "$VMKIT" create "$D/g.cfg" name=h$i >/dev/null || fail "vmkit create h$i"
    ready v$i && ready h$i || fail "no VMKIT-READY"
    sleep 2                       # idle: the boot's last writes settled
    s=$(date +%s%N)
    "$VMKIT" save v$i "$D/v$i.sav" || fail "vmkit save"
    e=$(date +%s%N)
    echo "scale=3; ($e - $s) / 1000000000" | bc >>"$D/sv"
    # the hand-run restore needs h's command line with its paths moved
    mkdir -p "$D/hand$i"
    python3 - "$D/run/h$i/argv" "$D/run/h$i" "$D/hand$i" >"$D/hand$i/argv" <<'PY'
import sys
src, old, new = sys.argv[1:4]
args = open(src, "rb").read().split(b"\0")[:-1]
out = [a.replace(old.encode(), new.encode()) for a in args if a != b"-S"]
sys.stdout.buffer.write(b"".join(a + b"\0" for a in out))
PY
    python3 "$D/byhand.py" save "$D/run/h$i/qmp-cli.sock" "$D/h$i.mig" >>"$D/sq" ||
        fail "save by hand"
    "$VMKIT" destroy h$i >/dev/null 2>&1
    s=$(date +%s%N)
    "$VMKIT" restore "$D/v$i.sav" >/dev/null || fail "vmkit restore"
    e=$(date +%s%N)
    echo "scale=3; ($e - $s) / 1000000000" | bc >>"$D/rv"
    "$VMKIT" list | awk -v n=v$i '$1 == n && $5 ~ /^(r-----|-b----)$/ { ok = 1 } END { exit !ok }' ||
        fail "v$i is not running after restore: $("$VMKIT" list)"
    "$VMKIT" destroy v$i >/dev/null
    python3 "$D/byhand.py" restore "$D/hand$i/argv" "$D/h$i.mig" "$D/hand$i/qmp-cli.sock" >>"$D/rq" ||
        fail "restore by hand"
    rm -f "$D/v$i.sav" "$D/h$i.mig"
done
sv=$(median <"$D/sv"); sq=$(median <"$D/sq"); rv=$(median <"$D/rv"); rq=$(median <"$D/rq")
echo "save:    vmkit ${sv}s  QMP by hand ${sq}s  ratio $(ratio "$sv" "$sq") (target <= 1.5)"
echo "restore: vmkit ${rv}s  QEMU -incoming by hand ${rq}s  ratio $(ratio "$rv" "$rq")" \
     "(target: vmkit under 0.200 s)"

# (c) linked clone, (d) full clone of a 2 GiB disk, 40 % written
python3 - "$D/src.img" <<'PY'
import os, random, sys
random.seed(12)
size, chunk = 2 << 30, 1 << 20
with open(sys.argv[1], "wb") as f:
    f.truncate(size)
    for i in sorted(random.sample(range(size // chunk), size // chunk * 2 // 5)):
        f.seek(i * chunk)
        f.write(os.urandom(chunk))
PY
cat >"$D/src.cfg" <<CFG
name = "src"
memory = 128
disk = [ 'format=raw, vdev=xvda, access=rw, target=$D/src.img' ]
vif = []
vnc = 0
CFG
"$VMKIT" define "$D/src.cfg" >/dev/null || fail "vmkit define"
vclone() {  # [--linked]: clone src to c, then forget it again
    "$VMKIT" clone "$@" src c >/dev/null || return 1
    "$VMKIT" undefine c >/dev/null
}
# timed OUT CMD...: seconds CMD takes, OUT removed and the page cache's
# dirty pages written out first (the 800 MiB just written, or the other
# tool's output, would otherwise be flushed on whoever runs next)
timed() {
    out=$1; shift
    rm -f "$out"; sync
    s=$(date +%s%N)
    "$@" >/dev/null 2>&1 || { echo "FAILED: $*" >&2; echo 999; return; }
    e=$(date +%s%N)
    echo "scale=3; ($e - $s) / 1000000000" | bc
}
: >"$D/cl"; : >"$D/ql"; : >"$D/cf"; : >"$D/qf"; : >"$D/qs"
for i in $(seq "$N"); do
    timed "$D/c.img.qcow2" vclone --linked >>"$D/cl"
    timed "$D/q.qcow2" qemu-img create -q -f qcow2 -b "$D/src.img" -F raw "$D/q.qcow2" >>"$D/ql"
    rm -f "$D/c.img.qcow2"
    timed "$D/c.img" vclone >>"$D/cf"
    timed "$D/q.img" qemu-img convert -f raw -O raw "$D/src.img" "$D/q.img" >>"$D/qf"
    timed "$D/q.img" sh -c "qemu-img convert -f raw -O raw '$D/src.img' '$D/q.img' &&
        sync --data '$D/q.img'" >>"$D/qs"
done
! grep -q '^999$' "$D/cl" "$D/cf" || fail "vmkit clone"
! grep -q '^999$' "$D/ql" "$D/qf" "$D/qs" || fail "qemu-img"
cl=$(median <"$D/cl"); ql=$(median <"$D/ql"); cf=$(median <"$D/cf"); qf=$(median <"$D/qf")
qs=$(median <"$D/qs")
cmp -s "$D/c.img" "$D/src.img" || fail "the full clone's disk differs from the source"
echo "linked clone: vmkit ${cl}s  qemu-img create -b ${ql}s  (target: vmkit under 0.050 s)"
echo "full clone, 2 GiB 40 % written: vmkit ${cf}s  qemu-img convert ${qf}s  ratio $(ratio "$cf" "$qf") (target <= 1.0)"
echo "  durable copies: vmkit ${cf}s  qemu-img convert + sync --data ${qs}s  ratio $(ratio "$cf" "$qs")"
echo "  allocated: vmkit $(du -k "$D/c.img" | cut -f1) KiB, qemu-img $(du -k "$D/q.img" | cut -f1) KiB"
