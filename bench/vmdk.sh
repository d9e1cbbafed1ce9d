#!/bin/bash
# vmkit img convert against qemu-img convert for VMDK, in the same run:
# the mixed raw disk of bench/mkmixed.py (default 1 GiB, about 40% full)
# converted raw -> vmdk (streamOptimized: deflate; monolithicSparse) and
# each back to raw, by both tools.  Each conversion runs twice and the
# best time counts.  Prints the times, the ratio vmkit/qemu-img (target
# <= 1.0) and the sizes of both VMDK files (target: vmkit's no larger);
# every vmkit output is checked with qemu-img check/compare.  Below each
# row, the same compared like with like (lib.sh likewise): vmkit -t unsafe
# against qemu-img's unsynced default, and vmkit's synced default against
# qemu-img followed by sync --data.
#   BENCH_SIZE_MB=256 bash bench/vmdk.sh   for a quicker run.
set -u
TOP=$(cd "$(dirname "$0")/.." && pwd)
VMKIT=${VMKIT:-$TOP/build/vmkit}
SIZE_MB=${BENCH_SIZE_MB:-1024}
D=$(mktemp -d "${TMPDIR:-/tmp}/vmkit-bench.XXXXXX")
trap 'rm -rf "$D"' EXIT
python3 "$TOP/bench/mkmixed.py" "$D/src.raw" "$SIZE_MB"

. "$(dirname "$0")/lib.sh"   # best, ratio, likewise

echo "vmdk convert benchmark: ${SIZE_MB} MiB raw, $(du -m "$D/src.raw" | cut -f1) MiB allocated"
for sub in streamOptimized monolithicSparse; do
    tq=$(best "$D/q.vmdk" qemu-img convert -O vmdk -o subformat=$sub "$D/src.raw" "$D/q.vmdk")
    tv=$(best "$D/v.vmdk" "$VMKIT" img convert -O vmdk -o subformat=$sub "$D/src.raw" "$D/v.vmdk")
    printf 'raw->vmdk %-16s qemu-img %6.2fs   vmkit %6.2fs   ratio %s\n' "$sub" "$tq" "$tv" "$(ratio "$tv" "$tq")"
    likewise "$tq" "$tv" "$D/q.vmdk" "$D/v.vmdk" -O vmdk -o subformat=$sub "$D/src.raw"
    printf '     size %-16s qemu-img %d bytes   vmkit %d bytes\n' "$sub" \
        "$(stat -c %s "$D/q.vmdk" 2>/dev/null || echo 0)" "$(stat -c %s "$D/v.vmdk" 2>/dev/null || echo 0)"
    qemu-img check -q "$D/v.vmdk" || echo "qemu-img check failed on vmkit's $sub"
    qemu-img compare -q "$D/src.raw" "$D/v.vmdk" || echo "MISMATCH: vmkit's $sub differs from the source"
    tq2=$(best "$D/q.raw" qemu-img convert -O raw "$D/q.vmdk" "$D/q.raw")
    tv2=$(best "$D/v.raw" "$VMKIT" img convert -O raw "$D/q.vmdk" "$D/v.raw")
    printf 'vmdk->raw %-16s qemu-img %6.2fs   vmkit %6.2fs   ratio %s\n' "$sub" "$tq2" "$tv2" "$(ratio "$tv2" "$tq2")"
    likewise "$tq2" "$tv2" "$D/q.raw" "$D/v.raw" -O raw "$D/q.vmdk"
    cmp -s "$D/v.raw" "$D/src.raw" || echo "MISMATCH: vmkit's raw from qemu-img's $sub differs"
    rm -f "$D/q.vmdk" "$D/v.vmdk" "$D/q.raw" "$D/v.raw"
done
exit 0
