#!/bin/bash
# qcow2 random-write torture: the same random writes (1 B - 4 MiB at
# unaligned offsets, write-zeroes, discards, close/reopen) applied through
# vmkit's qcow2 driver and, with plain pwrite/fallocate, to a raw file;
# then qemu-img compare must call them identical and qemu-img check clean.
# For cluster sizes 512, 4K, 64K, 2M; qcow2 v2 and v3; with and without a
# backing file filled with data first.  tests/tools/vkio.c applies the
# write script (generated here by python with a fixed seed per case).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/img_lib.sh"
cd "$T" || exit 1
VKIO=$(dirname "$VMKIT")/tools/vkio
SIZE=$((48 << 20))

qcow2_ok
ok "qemu-img create w.qcow2" qemu-img create -q -f qcow2 w.qcow2 1M
ok "vkio writes through vmkit's qcow2 driver" sh -c 'echo "w 1000 5000 7" | "$1" w.qcow2 qcow2' _ "$VKIO"

# script SEED N: N random commands for a disk of $SIZE bytes.
script() {
    python3 - "$1" "$2" "$SIZE" <<'PY'
import random, sys
r = random.Random(int(sys.argv[1])); n = int(sys.argv[2]); size = int(sys.argv[3])
for _ in range(n):
    k = r.random()
    ln = min(int(2 ** r.uniform(0, 22)), 4 << 20)     # 1 B .. 4 MiB, log-uniform
    if r.random() < 0.3:                             # some cluster-friendly ones
        ln = max(512, ln // 512 * 512)
    off = r.randrange(size - ln + 1)
    if r.random() < 0.3:
        off = off // 512 * 512
    if k < 0.62:
        seed = r.choice([r.randrange(1, 1 << 30)] * 6 + [0, -0x41])  # random, zeroes, 'A's
        print("w %d %d %d" % (off, ln, seed))
    elif k < 0.75:
        print("z %d %d" % (off, ln))
    elif k < 0.88:
        print("u %d %d" % (off, ln))
    elif k < 0.94:
        print("f")
    else:
        print("r")
# the last byte and the first byte, always
print("w %d 1 99" % (size - 1)); print("w 0 3 98")
PY
}

N=40; [ "$SAN" = 1 ] && N=24
# The backing image: qemu-io-free, filled by qemu-img convert from raw.
ok "qemu-img create back.raw" qemu-img create -q -f raw back.raw $SIZE
ok "fill back.raw" fill back.raw
ok "qemu-img convert back.raw to qcow2" qemu-img convert -O qcow2 -o cluster_size=65536 back.raw back.qcow2

case_n=0
for cs in 512 4096 65536 2097152; do
    for compat in 0.10 1.1; do
        for bk in none back; do
            case_n=$((case_n + 1))
            name="cs=$cs compat=$compat backing=$bk"
            rm -f t.qcow2 ref.raw
            if [ $bk = none ]; then
                ok "$name: qemu-img create ref.raw" qemu-img create -q -f raw ref.raw $SIZE
                ok "$name: vmkit img create" vmkit img create -f qcow2 -o cluster_size=$cs,compat=$compat t.qcow2 $SIZE ||
                    continue
            else
                ok "$name: copy back.raw" cp --sparse=always back.raw ref.raw
                ok "$name: vmkit img create -b" vmkit img create -f qcow2 -o cluster_size=$cs,compat=$compat \
                    -b back.qcow2 -F qcow2 t.qcow2 || continue
            fi
            script $((case_n * 1000)) $N >s1
            script $((case_n * 1000 + 1)) $N >s2
            ok "$name: vkio applies script 1 (plain)" "$VKIO" ref.raw plain <s1
            ok "$name: vkio applies script 1 (qcow2)" "$VKIO" t.qcow2 qcow2 <s1
            ok "$name: qemu-img compare after script 1" qemu-img compare -q -f raw -F qcow2 ref.raw t.qcow2
            ok "$name: qemu-img check after script 1" qemu-img check -q t.qcow2
            ok "$name: vkio applies script 2 (plain)" "$VKIO" ref.raw plain <s2
            ok "$name: vkio applies script 2 (qcow2)" "$VKIO" t.qcow2 qcow2 <s2
            ok "$name: qemu-img compare after script 2" qemu-img compare -q -f raw -F qcow2 ref.raw t.qcow2
            ok "$name: qemu-img check after script 2" qemu-img check -q t.qcow2
            ok "$name: vmkit img compare agrees" vmkit img compare ref.raw t.qcow2
            eq "$name: qemu-img sees compat $compat" \
                "$(qemu-img info --output=json t.qcow2 | python3 -c 'import json,sys; print(json.load(sys.stdin)["format-specific"]["data"]["compat"])')" "$compat"
            eq "$name: cluster size kept" "$(qinfo t.qcow2 cluster-size)" "$cs"
        done
    done
done
# 64-bit refcounts in 512-byte clusters: a refcount block covers exactly
# one L2 table's worth of clusters (a long run once never fit: endless loop).
for rb in 64 32; do
    rm -f t.qcow2 ref.raw
    ok "refcount_bits=$rb cs=512: qemu-img create ref.raw" qemu-img create -q -f raw ref.raw $SIZE
    ok "refcount_bits=$rb cs=512: create" vmkit img create -f qcow2 -o cluster_size=512,refcount_bits=$rb t.qcow2 $SIZE
    script $((77 + rb)) $N >s1
    ok "refcount_bits=$rb cs=512: the script on ref.raw (plain)" "$VKIO" ref.raw plain <s1
    ok "refcount_bits=$rb cs=512: vkio applies the script" timeout 120 "$VKIO" t.qcow2 qcow2 <s1
    ok "refcount_bits=$rb cs=512: qemu-img compare" qemu-img compare -q -f raw -F qcow2 ref.raw t.qcow2
    ok "refcount_bits=$rb cs=512: qemu-img check" qemu-img check -q t.qcow2
done
ok "backing file untouched" qemu-img compare -q -f raw -F qcow2 back.raw back.qcow2
ok "backing file still clean" qemu-img check -q back.qcow2
finish
