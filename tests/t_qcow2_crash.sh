#!/bin/bash
# qcow2 crash safety: a writer (tests/tools/vkio) applying random writes,
# write-zeroes and discards to a qcow2 - some over a snapshot, so shared
# clusters are copied and freed - is killed with SIGKILL at a random
# moment, many times.  After every kill qemu-img check must find no
# corruption (leaked clusters are allowed: exit 0 or 3, never 2), and
# vmkit img check must agree; then vmkit img check --repair all leaves it
# clean for qemu-img.  This proves the metadata write order of
# src/block/qcow2_int.h: refcounts before the tables that use them, frees
# only after the tables stopped using them.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/img_lib.sh"
cd "$T" || exit 1
VKIO=$(dirname "$VMKIT")/tools/vkio
SIZE=$((32 << 20))

qcow2_ok

script() {
    python3 - "$1" "$SIZE" <<'PY'
import random, sys
r = random.Random(int(sys.argv[1])); size = int(sys.argv[2])
for i in range(5000):
    ln = min(int(2 ** r.uniform(0, 21)), 2 << 20)
    off = r.randrange(size - ln + 1)
    k = r.random()
    if k < 0.7:
        print("w %d %d %d" % (off, ln, r.randrange(1, 1 << 30)))
    elif k < 0.8:
        print("z %d %d" % (off, ln))
    elif k < 0.95:
        print("u %d %d" % (off, ln))
    elif k < 0.99:
        print("f")
    else:
        print("r")
PY
}

rounds=8
[ "$SAN" = 1 ] && rounds=4
for cs in 512 65536; do
    for v in 2 3; do
        compat=1.1; [ $v = 2 ] && compat=0.10
        qemu-img create -q -f qcow2 -o cluster_size=$cs,compat=$compat c.qcow2 $SIZE
        script 1 | head -200 | "$VKIO" c.qcow2 qcow2 >/dev/null
        qemu-img snapshot -c base c.qcow2
        bad=0; leaky=0
        for i in $(seq 1 $rounds); do
            script $((i * 7 + cs + v)) >s.txt
            "$VKIO" c.qcow2 qcow2 <s.txt >/dev/null 2>&1 &
            pid=$!
            sleep "0.0$((RANDOM % 9 + 1))"
            kill -9 $pid 2>/dev/null
            wait $pid 2>/dev/null
            qemu-img check -q c.qcow2 >check.out 2>&1
            rc=$?
            [ $rc = 3 ] && leaky=$((leaky + 1))
            if [ $rc != 0 ] && [ $rc != 3 ]; then
                bad=$((bad + 1))
                cp c.qcow2 "$T/corrupt-$cs-$v-$i.qcow2"
                sed 's/^/    #   /' check.out | head -5
            fi
            vrc=0; vmkit img check c.qcow2 >/dev/null 2>&1 || vrc=$?
            [ $vrc = 2 ] && bad=$((bad + 1))
            # repair the leaks so the next round starts clean
            [ $rc = 3 ] && vmkit img check --repair all c.qcow2 >/dev/null 2>&1
        done
        eq "cluster $cs v$v: $rounds kills, no corruption ($leaky left leaks)" "$bad" 0
        qcheck "cluster $cs v$v: clean after repair" c.qcow2
        has "cluster $cs v$v: snapshot kept" "$(qemu-img snapshot -l c.qcow2)" " base "
        rm -f c.qcow2
    done
done
finish
