#!/bin/bash
# qcow2 cluster allocation across refcount widths: writes that need new
# refcount blocks (runs longer than one refcount block covers, as with
# refcount_bits=64 where a block covers exactly one L2 table) must finish,
# stay contiguous (the file no larger than the data plus metadata), and
# leave an image qemu-img check calls clean and qemu-img compare calls
# equal to a raw file given the same writes.  Also growing such an image
# (the L1 table moves to a long run of new clusters), and preallocation.
. "$(dirname "$0")/lib.sh"
cd "$T" || exit 1
VKIO=$(dirname "$VMKIT")/tools/vkio
SIZE=$((64 << 20))

# 20 MB + 9 MB written, 5 MB rewritten in place, 1 MB discarded, a small
# write into the freed space; a close/reopen in between (cold caches).
cat >script <<'EOF'
w 0 20000000 5
w 30000000 9000000 7
r
w 100 5000000 9
u 0 1000000
w 40000000 3000 4
w 1000 7000 11
f
EOF

for rb in 1 8 16 32 64; do
    for cs in 512 4096 65536; do
        c="refcount_bits=$rb cluster_size=$cs"
        rm -f a.qcow2 a.raw
        ok "$c: create" vmkit img create -f qcow2 -o "cluster_size=$cs,refcount_bits=$rb" a.qcow2 $SIZE
        ok "$c: qemu-img create a.raw" qemu-img create -q -f raw a.raw $SIZE
        ok "$c: writes finish" timeout 60 "$VKIO" a.qcow2 qcow2 <script
        ok "$c: the same writes to a.raw (plain)" "$VKIO" a.raw plain <script
        ok "$c: qemu-img check clean" qemu-img check -q a.qcow2
        ok "$c: qemu-img compare equal to raw" qemu-img compare -q a.raw a.qcow2
        sz=$(stat -c %s a.qcow2)
        # 29 MB of data; metadata is well under 2 MB at any of these sizes.
        ok "$c: file size $sz is data plus metadata" test "$sz" -lt $((31 << 20))
        ok "$c: grow to 20G" vmkit img resize a.qcow2 20G
        ok "$c: clean after growing" qemu-img check -q a.qcow2
        ok "$c: content kept after growing" qemu-img compare -q a.raw a.qcow2
    done
done

# Preallocation: with small clusters the L2 tables and refcount blocks lie
# among the data clusters, and "full" must zero the data, not them.
ok "qemu-img create z.raw" qemu-img create -q -f raw z.raw 8M
for p in metadata falloc full; do
    for cs in 512 65536; do
        for rb in 16 64; do
            c="--prealloc $p cluster_size=$cs refcount_bits=$rb"
            rm -f p.qcow2
            ok "$c: create" vmkit img create -f qcow2 --prealloc $p -o "cluster_size=$cs,refcount_bits=$rb" p.qcow2 8M
            ok "$c: qemu-img check clean" qemu-img check -q p.qcow2
            ok "$c: reads as zeroes (qemu-img compare)" qemu-img compare -q z.raw p.qcow2
            run_ok map qemu-img map --output=json p.qcow2
            alloc=$(echo "$map" | python3 -c '
import json, sys
print(sum(e["length"] for e in json.load(sys.stdin) if e["data"]))')
            eq "$c: every cluster allocated (qemu-img map)" "$alloc" $((8 << 20))
        done
    done
done
finish
