#!/bin/bash
# vmkit img convert against qemu-img convert, in the same run:
#   a 2 GiB raw image about 40% full of mixed data (random, compressible
#   text, explicit zero runs, holes; deterministic), converted
#   raw -> qcow2 and qcow2 -> raw by both tools.  Each conversion runs
#   twice and the best time counts.  Prints each time, the ratio
#   vmkit/qemu-img (target <= 1.0) and the sizes of both qcow2 files
#   (target: vmkit's no larger); the same for compressed output (-c)
#   and for reading a compressed image back to raw.
#   Then raw -> vdi, raw -> vhd (vpc) and back, with the sizes.
#   Below each plain conversion, the same compared like with like
#   (lib.sh likewise): vmkit -t unsafe against qemu-img's unsynced
#   default, and vmkit's synced default against qemu-img + sync --data.
#   BENCH_SIZE_MB=512 sh bench/convert.sh   for a quicker run.
set -u
TOP=$(cd "$(dirname "$0")/.." && pwd)
VMKIT=${VMKIT:-$TOP/build/vmkit}
SIZE_MB=${BENCH_SIZE_MB:-2048}
D=$(mktemp -d "${TMPDIR:-/tmp}/vmkit-bench.XXXXXX")
trap 'rm -rf "$D"' EXIT

# Mixed data, about 40 % allocated (bench/mkmixed.py).
python3 "$(dirname "$0")/mkmixed.py" "$D/src.raw" "$SIZE_MB"

. "$(dirname "$0")/lib.sh"   # best, ratio, likewise

echo "convert benchmark: ${SIZE_MB} MiB raw, $(du -m "$D/src.raw" | cut -f1) MiB allocated"
tq=$(best "$D/q.qcow2" qemu-img convert -O qcow2 "$D/src.raw" "$D/q.qcow2")
tv=$(best "$D/v.qcow2" "$VMKIT" img convert -O qcow2 "$D/src.raw" "$D/v.qcow2")
printf 'raw->qcow2   qemu-img %6.2fs   vmkit %6.2fs   ratio %s\n' "$tq" "$tv" "$(ratio "$tv" "$tq")"
likewise "$tq" "$tv" "$D/q.qcow2" "$D/v.qcow2" -O qcow2 "$D/src.raw"
sq=$(stat -c %s "$D/q.qcow2" 2>/dev/null || echo 0)
sv=$(stat -c %s "$D/v.qcow2" 2>/dev/null || echo 0)
printf 'qcow2 size   qemu-img %d bytes   vmkit %d bytes\n' "$sq" "$sv"
if [ -s "$D/v.qcow2" ]; then
    qemu-img compare -q "$D/src.raw" "$D/v.qcow2" || echo "MISMATCH: vmkit's qcow2 differs from the source"
    qemu-img check -q "$D/v.qcow2" || echo "qemu-img check failed on vmkit's qcow2"
fi
tq2=$(best "$D/q.raw" qemu-img convert -O raw "$D/q.qcow2" "$D/q.raw")
tv2=$(best "$D/v.raw" "$VMKIT" img convert -O raw "$D/q.qcow2" "$D/v.raw")
printf 'qcow2->raw   qemu-img %6.2fs   vmkit %6.2fs   ratio %s\n' "$tq2" "$tv2" "$(ratio "$tv2" "$tq2")"
likewise "$tq2" "$tv2" "$D/q.raw" "$D/v.raw" -O raw "$D/q.qcow2"
[ -s "$D/v.raw" ] && printf 'raw out      qemu-img %d MiB used   vmkit %d MiB used\n' \
    "$(du -m "$D/q.raw" | cut -f1)" "$(du -m "$D/v.raw" | cut -f1)"
"$VMKIT" img info "$D/v.qcow2" >/dev/null 2>&1 && {
    tv4=$(best "$D/v4.raw" "$VMKIT" img convert -O raw "$D/v.qcow2" "$D/v4.raw")
    printf "qcow2->raw   (vmkit's own qcow2)          vmkit %6.2fs\n" "$tv4"
    cmp -s "$D/v4.raw" "$D/src.raw" || echo "MISMATCH: vmkit qcow2->raw of its own image differs"
    rm -f "$D/v4.raw"
}
# Compressed output (-c): both tools, zlib; then sizes.
tqc=$(best "$D/qc.qcow2" qemu-img convert -c -O qcow2 "$D/src.raw" "$D/qc.qcow2")
tvc=$(best "$D/vc.qcow2" "$VMKIT" img convert -c -O qcow2 "$D/src.raw" "$D/vc.qcow2")
printf 'raw->qcow2 -c qemu-img %6.2fs  vmkit %6.2fs   ratio %s\n' "$tqc" "$tvc" "$(ratio "$tvc" "$tqc")"
printf 'qcow2 -c size qemu-img %d bytes   vmkit %d bytes\n' \
    "$(stat -c %s "$D/qc.qcow2" 2>/dev/null || echo 0)" "$(stat -c %s "$D/vc.qcow2" 2>/dev/null || echo 0)"
if [ -s "$D/vc.qcow2" ]; then
    qemu-img compare -q "$D/src.raw" "$D/vc.qcow2" || echo "MISMATCH: vmkit's compressed qcow2 differs from the source"
    qemu-img check -q "$D/vc.qcow2" || echo "qemu-img check failed on vmkit's compressed qcow2"
fi
tqd=$(best "$D/qd.raw" qemu-img convert -O raw "$D/qc.qcow2" "$D/qd.raw")
tvd=$(best "$D/vd.raw" "$VMKIT" img convert -O raw "$D/qc.qcow2" "$D/vd.raw")
printf 'qcow2 -c->raw qemu-img %6.2fs  vmkit %6.2fs   ratio %s\n' "$tqd" "$tvd" "$(ratio "$tvd" "$tqd")"
rm -f "$D/qc.qcow2" "$D/vc.qcow2" "$D/qd.raw" "$D/vd.raw" "$D/q.raw" "$D/v.raw"
tq3=$(best "$D/q2.raw" qemu-img convert -O raw "$D/src.raw" "$D/q2.raw")
tv3=$(best "$D/v2.raw" "$VMKIT" img convert -O raw "$D/src.raw" "$D/v2.raw")
printf 'raw->raw     qemu-img %6.2fs   vmkit %6.2fs   ratio %s\n' "$tq3" "$tv3" "$(ratio "$tv3" "$tq3")"
likewise "$tq3" "$tv3" "$D/q2.raw" "$D/v2.raw" -O raw "$D/src.raw"
rm -f "$D/q2.raw" "$D/v2.raw"
# VDI (VirtualBox) and VHD (vpc, dynamic): raw -> FMT and back, sizes.
for fmt in vdi vpc; do
    tq=$(best "$D/q.$fmt" qemu-img convert -O $fmt "$D/src.raw" "$D/q.$fmt")
    tv=$(best "$D/v.$fmt" "$VMKIT" img convert -O $fmt "$D/src.raw" "$D/v.$fmt")
    printf 'raw->%-7s qemu-img %6.2fs   vmkit %6.2fs   ratio %s\n' $fmt "$tq" "$tv" "$(ratio "$tv" "$tq")"
    likewise "$tq" "$tv" "$D/q.$fmt" "$D/v.$fmt" -O $fmt "$D/src.raw"
    printf '%-4s size    qemu-img %d bytes   vmkit %d bytes\n' $fmt \
        "$(stat -c %s "$D/q.$fmt" 2>/dev/null || echo 0)" "$(stat -c %s "$D/v.$fmt" 2>/dev/null || echo 0)"
    if [ -s "$D/v.$fmt" ]; then
        qemu-img compare -q "$D/src.raw" "$D/v.$fmt" || echo "MISMATCH: vmkit's $fmt differs from the source"
        [ $fmt = vpc ] || qemu-img check -q "$D/v.$fmt" || echo "qemu-img check failed on vmkit's $fmt"
    fi
    tq=$(best "$D/qb.raw" qemu-img convert -O raw "$D/q.$fmt" "$D/qb.raw")
    tv=$(best "$D/vb.raw" "$VMKIT" img convert -O raw "$D/q.$fmt" "$D/vb.raw")
    printf '%-4s->raw    qemu-img %6.2fs   vmkit %6.2fs   ratio %s\n' $fmt "$tq" "$tv" "$(ratio "$tv" "$tq")"
    likewise "$tq" "$tv" "$D/qb.raw" "$D/vb.raw" -O raw "$D/q.$fmt"
    [ -s "$D/vb.raw" ] && { qemu-img compare -q "$D/src.raw" "$D/vb.raw" || echo "MISMATCH: vmkit $fmt->raw differs"; }
    rm -f "$D/q.$fmt" "$D/v.$fmt" "$D/qb.raw" "$D/vb.raw"
done
exit 0
