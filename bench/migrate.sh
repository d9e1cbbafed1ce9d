#!/bin/bash
# Live migration downtime (issue 12's target: at most 300 ms, QEMU's
# default downtime limit): an idle 128 MiB test guest (TCG, direct boot)
# migrated with `vmkit migrate --live` between two runtime/config dirs on
# this machine (the "other host" behind an ssh stand-in, as in
# tests/t_vm_migrate.sh), back and forth N times (BENCH_N, default 5).
# The figure is QEMU's own "downtime" from query-migrate, as migrate
# prints it; also how long the guest ran nowhere in all (until the
# receiver resumed it) and the same with --copy-storage (a 64 MiB qcow2
# disk, 16 MiB of it written, mirrored over NBD first).  Medians.
#   BENCH_N=3 bash bench/migrate.sh   for a quicker run.
set -u
TOP=$(cd "$(dirname "$0")/.." && pwd)
VMKIT=${VMKIT:-$TOP/build/vmkit}
N=${BENCH_N:-5}
. "$TOP/bench/lib.sh"
vm_scratch
mkdir -p -m 700 "$D/run2" "$D/etc2"
trap 'VMKIT_RUNTIME_DIR=$D/run2 "$VMKIT" destroy m >/dev/null 2>&1; vm_scratch_cleanup' EXIT
median() { sort -n | awk '{ v[NR] = $1 } END { printf "%d\n", (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
fail() { echo "FAILED: $*" >&2; exit 1; }

G=$(sh "$TOP/tests/fixtures/testguest.sh") || fail "the test guest"
# the two ends: A = $D/run, B = $D/run2; to.sh B|A is the ssh stand-in
for s in A B; do
    r=run; e=etc; [ $s = B ] && { r=run2; e=etc2; }
    printf '#!/bin/sh\nshift 2\nexec env VMKIT_RUNTIME_DIR=%s VMKIT_CONFIG_DIR=%s "%s" "$@"\n' \
        "$D/$r" "$D/$e" "$VMKIT" >"$D/to$s.sh"
done
at() {  # A|B CMD...: vmkit as that end's user
    if [ "$1" = A ]; then shift; "$VMKIT" "$@"
    else shift; VMKIT_RUNTIME_DIR=$D/run2 VMKIT_CONFIG_DIR=$D/etc2 "$VMKIT" "$@"; fi
}
qemu-img create -q -f qcow2 "$D/disk.qcow2" 64M || fail "qemu-img create"
qemu-io -f qcow2 -c "write -P 0x5a 0 16M" "$D/disk.qcow2" >/dev/null || fail "qemu-io"
cat >"$D/m.cfg" <<CFG
name = "m"
memory = 128
kernel = "$G/vmlinuz"
ramdisk = "$G/initrd.gz"
extra = "console=ttyS0 panic=-1 quiet"
vif = []
vnc = 0
disk = [ 'format=qcow2,vdev=xvda,access=rw,target=$D/disk.qcow2' ]
CFG
"$VMKIT" create "$D/m.cfg" >/dev/null || fail "vmkit create"
end=$(( $(date +%s) + 120 ))
until grep -q VMKIT-READY "$D/run/m/console.log" 2>/dev/null; do
    [ "$(date +%s)" -gt $end ] && fail "the guest did not boot"
    sleep 0.2
done

# run OPTS...: N migrations back and forth; "DOWN STOPPED" per line
run() {
    here=A there=B
    for i in $(seq "$N"); do
        out=$(at $here migrate -s "sh $D/to$there.sh" "$@" m other 2>&1) || fail "migrate: $out"
        echo "$out" | sed -n 's/.*downtime \([0-9]*\) ms (QEMU), guest stopped \([0-9]*\) ms.*/\1 \2/p'
        at $here undefine m >/dev/null 2>&1   # as virsh --undefinesource
        t=$here; here=$there; there=$t
    done
}
report() {  # LABEL FILE
    d=$(cut -d' ' -f1 "$2" | median); s=$(cut -d' ' -f2 "$2" | median)
    v=ok; [ "$d" -gt 300 ] && v=OVER
    printf '%-30s downtime %4d ms (QEMU; target <= 300 ms: %s), stopped %4d ms in all [runs: %s]\n' \
        "$1" "$d" "$v" "$s" "$(cut -d' ' -f1 "$2" | tr '\n' ' ' | sed 's/ $//')"
}
run --live >"$D/live.txt"
report "migrate --live" "$D/live.txt"
# copy storage: each copy into a new dir on the receiving end
[ $((N % 2)) = 1 ] && { at B migrate -s "sh $D/toA.sh" --live m back >/dev/null 2>&1 || fail "back"; at B undefine m >/dev/null 2>&1; }
here=A there=B
for i in $(seq "$N"); do
    mkdir -p "$D/copy$i"
    out=$(at $here migrate -s "sh $D/to$there.sh" --live --copy-storage --storage-dir "$D/copy$i" m other 2>&1) ||
        fail "migrate --copy-storage: $out"
    echo "$out" | sed -n 's/.*downtime \([0-9]*\) ms (QEMU), guest stopped \([0-9]*\) ms.*/\1 \2/p'
    at $here undefine m >/dev/null 2>&1
    t=$here; here=$there; there=$t
done >"$D/copy.txt"
report "migrate --live --copy-storage" "$D/copy.txt"
at $here destroy m >/dev/null 2>&1
