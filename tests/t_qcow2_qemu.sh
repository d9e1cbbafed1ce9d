#!/bin/bash
# vmkit reads every kind of qcow2 image qemu-img / qemu-io write: v2 and
# v3, cluster sizes 512 B - 2 MiB, preallocation off/metadata/falloc/full,
# zlib and zstd compression, refcount_bits 1..64, lazy refcounts with the
# dirty bit left set (qemu-io abort), a 3-deep backing chain with relative
# paths, internal snapshots, extended L2 entries.  For each: img info
# agrees with qemu-img info, the content (img convert -O raw, img compare)
# agrees with qemu-img convert, img map is consistent with the content and
# agrees with qemu-img map on data runs; then a vmkit write leaves it
# clean for qemu-img check, equal to the same write on raw, and internal
# snapshots listed and unchanged.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/img_lib.sh"
cd "$T" || exit 1
VKIO=$(dirname "$VMKIT")/tools/vkio
SZ=$((16 << 20))

qcow2_ok

ok "qemu-img create -f raw src.raw 16M" qemu-img create -q -f raw src.raw $SZ
ok "fill src.raw" fill src.raw
# a write script touching allocated, compressed, zero and unallocated parts
cat >ws <<'W'
w 4000 70000 11
w 1048576 65536 0
w 5300000 1 12
u 7340032 131072
z 9500000 300000
w 16700000 77216 13
W

# mapcheck MAP-JSON RAW SIZE: the map covers [0, SIZE) in order, and every
# range not marked data (or marked zero) reads as zeroes in RAW.
mapcheck() {
    python3 - "$@" <<'PY'
import json, sys
m = json.load(open(sys.argv[1])); raw = open(sys.argv[2], 'rb'); size = int(sys.argv[3])
pos = 0
for e in m:
    if e['start'] != pos:
        sys.exit('gap or overlap at %d (entry starts at %d)' % (pos, e['start']))
    if not e['data'] or e['zero']:
        raw.seek(e['start']); n = e['length']
        while n:
            b = raw.read(min(n, 1 << 20))
            if b.count(0) != len(b):
                sys.exit('range at %d marked %s reads non-zero' % (e['start'], 'zero' if e['zero'] else 'no data'))
            n -= len(b)
    pos += e['length']
if pos != size:
    sys.exit('map ends at %d, disk is %d' % (pos, size))
PY
}
runs() {  # map-json on stdin -> data runs, merged (as in t_img_qcow2.sh)
    python3 -c '
import json,sys
out=[]
for e in json.load(sys.stdin):
    if not e["data"] or e.get("zero"): continue
    if out and out[-1][0]+out[-1][1]==e["start"]: out[-1][1]+=e["length"]
    else: out.append([e["start"], e["length"]])
print(" ".join("%d+%d" % tuple(x) for x in out))'
}

# reads DESC IMG [strictmap]: info, content, compare and map checks.
reads() {
    d=$1; img=$2
    same_info "$d" "$img"
    rm -f q.raw v.raw
    ok "$d: qemu-img convert -O raw $img q.raw" qemu-img convert -O raw "$img" q.raw
    ok "$d: vmkit img convert -O raw" vmkit img convert -O raw "$img" v.raw
    ok "$d: content equals qemu-img's" cmp q.raw v.raw
    both_compare "$d: compare with the source" q.raw "$img"
    ok "$d: img map --json" sh -c '"$0" img map --json "$1" >map.json' "$VMKIT" "$img"
    ok "$d: img map --json printed a map" test -s map.json
    ok "$d: map consistent with content" mapcheck map.json q.raw "$(qinfo "$img" virtual-size)"
    if [ "${3:-}" = strictmap ]; then
        eq "$d: map data runs agree with qemu-img" "$(runs <map.json)" \
            "$(qemu-img map --output=json "$img" | runs)"
    fi
}

# writes DESC IMG: the write script through vmkit and on a raw copy of the
# content; qemu-img check clean and compare equal.
writes() {
    d=$1; img=$2
    ok "$d: qemu-img convert -O raw $img ref.raw" qemu-img convert -O raw "$img" ref.raw
    ok "$d: vmkit write" "$VKIO" "$img" qcow2 <ws
    ok "$d: vkio ref.raw plain <ws" "$VKIO" ref.raw plain <ws
    qcheck "$d: qemu-img check after vmkit write" "$img"
    ok "$d: qemu-img compare after vmkit write" qemu-img compare -q -f raw ref.raw "$img"
}

# The sanitizer build (slow on every small cluster) samples the layouts;
# the plain build and check-long run them all.
for compat in 0.10 1.1; do
    css=$(pick "512 4096 65536 1048576 2097152" "512 65536" "512 4096 65536 1048576 2097152")
    [ $compat = 0.10 ] && css=$(pick "512 65536 2097152" "2097152" "512 65536 2097152")
    for cs in $css; do
        f=c$compat-$cs.qcow2
        ok "qemu-img convert -O qcow2 -o compat=$compat,cluster_size=$cs src.raw $f" qemu-img convert -O qcow2 -o compat=$compat,cluster_size=$cs src.raw $f
        reads "compat=$compat cluster_size=$cs" $f strictmap
        writes "compat=$compat cluster_size=$cs" $f
    done
done
for pa in $(pick "off metadata falloc full" "off full" "off metadata falloc full"); do
    f=pa-$pa.qcow2
    ok "qemu-img convert -O qcow2 -o preallocation=$pa src.raw $f" qemu-img convert -O qcow2 -o preallocation=$pa src.raw $f
    reads "preallocation=$pa" $f
    writes "preallocation=$pa" $f
done
for ct in zlib zstd; do
    css=$(pick "512 65536 2097152" "65536" "512 65536 2097152"); [ $ct = zstd ] && css="4096 65536"
    for cs in $css; do
        f=z-$ct-$cs.qcow2
        ok "qemu-img convert -c -O qcow2 -o compression_type=$ct,cluster_size=$cs src.raw $f" qemu-img convert -c -O qcow2 -o compression_type=$ct,cluster_size=$cs src.raw $f
        reads "compressed $ct cluster_size=$cs" $f strictmap
        writes "compressed $ct cluster_size=$cs" $f
    done
done
for rb in $(pick "1 2 8 32 64" "1 16 64" "1 2 8 32 64"); do
    f=rb$rb.qcow2
    ok "qemu-img convert -O qcow2 -o refcount_bits=$rb src.raw $f" qemu-img convert -O qcow2 -o refcount_bits=$rb src.raw $f
    reads "refcount_bits=$rb" $f strictmap
    writes "refcount_bits=$rb" $f
    has "refcount_bits=$rb: info" "$(vmkit img info --json $f)" "\"refcount-bits\": $rb"
done

# A 3-deep backing chain with relative names, each layer written by qemu-io.
mkdir -p chain/mid
ok "qemu-img convert -O qcow2 -o cluster_size=4096 src.raw chain/base.qcow2" qemu-img convert -O qcow2 -o cluster_size=4096 src.raw chain/base.qcow2
ok "qemu-img create -f qcow2 -b ../base.qcow2 -F qcow2 chain/mid/mid.qcow2" qemu-img create -q -f qcow2 -b ../base.qcow2 -F qcow2 chain/mid/mid.qcow2
ok "qemu-io -c 'write -P 0x21 2M 1M' -c 'write -z 5M 64k' chain/mid/mid.qcow2" qemu-io -c 'write -P 0x21 2M 1M' -c 'write -z 5M 64k' chain/mid/mid.qcow2
ok "qemu-img create -f qcow2 -o cluster_size=512 -b mid/mid.qcow2 -F qcow2 chain/top.qcow2" qemu-img create -q -f qcow2 -o cluster_size=512 -b mid/mid.qcow2 -F qcow2 chain/top.qcow2
ok "qemu-io -c 'write -P 0x42 2500k 10k' -c 'discard 0 64k' chain/top.qcow2" qemu-io -c 'write -P 0x42 2500k 10k' -c 'discard 0 64k' chain/top.qcow2
reads "3-deep relative backing chain (from the top's directory)" chain/top.qcow2 strictmap
ok "chain converted from another working directory" \
    sh -c 'cd chain/mid && "$0" img convert -O raw ../top.qcow2 ../../fromsub.raw' "$VMKIT"
ok "chain read from another working directory" cmp fromsub.raw q.raw
eq "backing chain depth (img info --backing-chain --json)" \
    "$(vmkit img info --backing-chain --json chain/top.qcow2 2>/dev/null | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))' 2>&1)" 3
sb=$(sha256sum chain/base.qcow2 chain/mid/mid.qcow2)
writes "3-deep backing chain" chain/top.qcow2
eq "backing files untouched by writes to the top" "$(sha256sum chain/base.qcow2 chain/mid/mid.qcow2)" "$sb"

# Internal snapshots: read the active layer; writes keep them intact.
ok "qemu-img convert -O qcow2 src.raw snap.qcow2" qemu-img convert -O qcow2 src.raw snap.qcow2
ok "qemu-img snapshot -c s1 snap.qcow2" qemu-img snapshot -c s1 snap.qcow2
ok "qemu-io -c 'write -P 0x66 0 1M' -c 'write -z 3M 2M' snap.qcow2" qemu-io -c 'write -P 0x66 0 1M' -c 'write -z 3M 2M' snap.qcow2
ok "qemu-img snapshot -c s2 snap.qcow2" qemu-img snapshot -c s2 snap.qcow2
ok "qemu-io -c 'write -P 0x67 8M 100k' snap.qcow2" qemu-io -c 'write -P 0x67 8M 100k' snap.qcow2
ok "qemu-img convert -O raw -l snapshot.name=s1 snap.qcow2 s1.before" qemu-img convert -O raw -l snapshot.name=s1 snap.qcow2 s1.before
ok "qemu-img convert -O raw -l snapshot.name=s2 snap.qcow2 s2.before" qemu-img convert -O raw -l snapshot.name=s2 snap.qcow2 s2.before
reads "internal snapshots" snap.qcow2 strictmap
writes "internal snapshots" snap.qcow2
if :; then
    has "snapshot s1 still listed" "$(qemu-img snapshot -l snap.qcow2)" " s1 "
    has "snapshot s2 still listed" "$(qemu-img snapshot -l snap.qcow2)" " s2 "
    ok "qemu-img convert -O raw -l snapshot.name=s1 snap.qcow2 s1.after" qemu-img convert -O raw -l snapshot.name=s1 snap.qcow2 s1.after
    ok "qemu-img convert -O raw -l snapshot.name=s2 snap.qcow2 s2.after" qemu-img convert -O raw -l snapshot.name=s2 snap.qcow2 s2.after
    ok "snapshot s1 content unchanged" cmp s1.before s1.after
    ok "snapshot s2 content unchanged" cmp s2.before s2.after
    # resize: done keeping the snapshots, or refused cleanly
    s=$(sha256sum <snap.qcow2)
    if vmkit img resize snap.qcow2 +16M >rs.out 2>&1; then
        qcheck "qemu-img check after resize with snapshots" snap.qcow2
        ok "qemu-img convert -O raw -l snapshot.name=s1 snap.qcow2 s1.after" qemu-img convert -O raw -l snapshot.name=s1 snap.qcow2 s1.after
        ok "snapshot s1 content unchanged after resize (its old size; qemu-img reads it at the new one)" cmp -n "$(stat -c %s s1.before)" s1.before s1.after
    else
        has "resize with snapshots refused naming the file" "$(cat rs.out)" "snap.qcow2"
        eq "resize with snapshots refused: file unchanged" "$(sha256sum <snap.qcow2)" "$s"
    fi
fi

# Lazy refcounts with the dirty bit left set: qemu-io aborts after writing.
ok "qemu-img convert -O qcow2 -o lazy_refcounts=on src.raw lazy.qcow2" qemu-img convert -O qcow2 -o lazy_refcounts=on src.raw lazy.qcow2
qemu-io -c 'write -P 0x71 12M 1M' -c 'write -P 0x72 100k 4k' -c abort lazy.qcow2 >/dev/null 2>&1
eq "dirty bit left set by the abort" "$(qinfo lazy.qcow2 dirty-flag)" True
eq "vmkit info sees the dirty bit" "$(vinfo lazy.qcow2 dirty-flag)" True
reads "lazy refcounts, dirty" lazy.qcow2
if :; then
    ok "qemu-img convert -O raw lazy.qcow2 ref.raw" qemu-img convert -O raw lazy.qcow2 ref.raw
    s=$(sha256sum <lazy.qcow2)
    if "$VKIO" lazy.qcow2 qcow2 <ws >w.out 2>&1; then
        ok "vkio ref.raw plain <ws" "$VKIO" ref.raw plain <ws
        qcheck "dirty image written: qemu-img check clean (refcounts rebuilt)" lazy.qcow2
        ok "dirty image written: content" qemu-img compare -q -f raw ref.raw lazy.qcow2
    else
        eq "dirty image: write refused, file unchanged" "$(sha256sum <lazy.qcow2)" "$s"
    fi
fi

# Extended L2 entries: supported, or refused with a clear error.
ok "qemu-img convert -O qcow2 -o extended_l2=on,cluster_size=65536 src.raw el2.qcow2" qemu-img convert -O qcow2 -o extended_l2=on,cluster_size=65536 src.raw el2.qcow2
ok "qemu-io -c 'write -P 0x31 40000 3000' el2.qcow2" qemu-io -c 'write -P 0x31 40000 3000' el2.qcow2
if vmkit img convert -O raw el2.qcow2 el2.raw >el2.out 2>&1; then
    reads "extended_l2=on" el2.qcow2
    writes "extended_l2=on" el2.qcow2
else
    has "extended_l2 refused naming the file" "$(cat el2.out)" "el2.qcow2"
    eq "extended_l2 refused with exit 1" "$(vmkit img info el2.qcow2 >/dev/null 2>&1; echo $?)" 1
fi
finish
