#!/bin/bash
# vmkit img on qcow2: create variants, convert round trips (compressed,
# zstd, cluster sizes 512 and 2M), resize, map; every image vmkit writes
# passes qemu-img check and matches qemu-img compare / info.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/img_lib.sh"
cd "$T" || exit 1

qcow2_ok

# create: variants, each checked by qemu-img.
ok "create qcow2" vmkit img create -f qcow2 a.qcow2 1G
qcheck "qemu-img check: new qcow2" a.qcow2
same_info "new qcow2" a.qcow2
ok "create compat=0.10" vmkit img create -f qcow2 -o compat=0.10 v2.qcow2 64M
eq "compat 0.10" "$(qemu-img info --output=json v2.qcow2 | python3 -c 'import json,sys; print(json.load(sys.stdin)["format-specific"]["data"]["compat"])')" 0.10
ok "create 512-byte clusters, zstd, lazy refcounts" \
    vmkit img create -f qcow2 -o cluster_size=512,compression_type=zstd,lazy_refcounts=on c.qcow2 64M
qcheck "qemu-img check: 512-byte clusters" c.qcow2
same_info "512-byte clusters" c.qcow2
ok "create refcount_bits=8 prealloc metadata" vmkit img create -f qcow2 -o refcount_bits=8 --prealloc metadata m.qcow2 64M
qcheck "qemu-img check: refcount_bits=8" m.qcow2

# Source data: a sparse raw made by qemu-img and filled with mixed data.
ok "qemu-img create src.raw" qemu-img create -q -f raw src.raw 64M
ok "fill src.raw" fill src.raw

ok "convert raw->qcow2" vmkit img convert -O qcow2 src.raw 1.qcow2
qcheck "qemu-img check: converted" 1.qcow2
both_compare "raw->qcow2" src.raw 1.qcow2
same_info "converted qcow2" 1.qcow2
ok "convert qcow2->raw" vmkit img convert -O raw 1.qcow2 2.raw
both_compare "qcow2->raw" src.raw 2.raw
test "$(kbytes 2.raw)" -lt 5800; ok "raw output from qcow2 stays sparse" test $? = 0
ok "convert raw->qcow2 -c" vmkit img convert -c -O qcow2 2.raw 3.qcow2
qcheck "qemu-img check: compressed" 3.qcow2
both_compare "compressed" src.raw 3.qcow2
test "$(stat -c %s 3.qcow2)" -lt "$(stat -c %s 1.qcow2)"; ok "compression makes it smaller" test $? = 0
ok "convert -c zstd" vmkit img convert -c -O qcow2 -o compression_type=zstd src.raw z.qcow2
qcheck "qemu-img check: zstd" z.qcow2
both_compare "zstd" src.raw z.qcow2
has "zstd recorded" "$(qemu-img info z.qcow2)" "compression type: zstd"
for cs in 512 2M; do
    ok "convert cluster_size=$cs" vmkit img convert -O qcow2 -o cluster_size=$cs src.raw cs$cs.qcow2
    qcheck "qemu-img check: cluster_size=$cs" cs$cs.qcow2
    both_compare "cluster_size=$cs" src.raw cs$cs.qcow2
    same_info "cluster_size=$cs" cs$cs.qcow2
    ok "convert -c cluster_size=$cs" vmkit img convert -c -O qcow2 -o cluster_size=$cs src.raw csc$cs.qcow2
    qcheck "qemu-img check: -c cluster_size=$cs" csc$cs.qcow2
    both_compare "-c cluster_size=$cs" src.raw csc$cs.qcow2
done

# Sources qemu-img made: plain, compressed, zstd, with a backing file.
ok "qemu-img convert to q.qcow2" qemu-img convert -O qcow2 src.raw q.qcow2
ok "qemu-img convert -c to qc.qcow2" qemu-img convert -c -O qcow2 src.raw qc.qcow2
ok "qemu-img convert -c zstd to qz.qcow2" qemu-img convert -c -O qcow2 -o compression_type=zstd src.raw qz.qcow2
for f in q qc qz; do
    ok "convert qemu-img's $f.qcow2 -> raw" vmkit img convert $f.qcow2 $f.raw
    both_compare "from qemu-img's $f.qcow2" src.raw $f.raw
    ok "convert qemu-img's $f.qcow2 -> qcow2 -c" vmkit img convert -c -O qcow2 $f.qcow2 $f-c.qcow2
    qcheck "qemu-img check: $f-c.qcow2" $f-c.qcow2
    both_compare "qemu-img's $f.qcow2 recompressed" src.raw $f-c.qcow2
done

# map agrees with qemu-img map on which guest ranges hold data.
runs() {  # map-json on stdin -> "start+length" of data runs, merged
    python3 -c '
import json,sys
out=[]
for e in json.load(sys.stdin):
    if not e["data"]: continue
    if out and out[-1][0]+out[-1][1]==e["start"]: out[-1][1]+=e["length"]
    else: out.append([e["start"], e["length"]])
print(" ".join("%d+%d" % tuple(x) for x in out))'
}
for f in q 1; do
    run_ok vm vmkit img map --json $f.qcow2
    run_ok qm qemu-img map --output=json $f.qcow2
    eq "map data runs agree with qemu-img ($f.qcow2)" "$(echo "$vm" | runs)" "$(echo "$qm" | runs)"
done

# resize: grow, shrink over unallocated space, refuse to drop data.
cp 1.qcow2 r.qcow2
ok "qcow2 grow +64M" vmkit img resize r.qcow2 +64M
eq "grown" "$(qinfo r.qcow2 virtual-size)" $((128 << 20))
qcheck "qemu-img check: grown" r.qcow2
ok "qcow2 shrink over free space" vmkit img resize --shrink r.qcow2 64M
eq "shrunk" "$(qinfo r.qcow2 virtual-size)" $((64 << 20))
qcheck "qemu-img check: shrunk" r.qcow2
both_compare "content kept by grow+shrink" src.raw r.qcow2
fails_with "shrink over data without --shrink" 1 "r.qcow2" vmkit img resize r.qcow2 8M
eq "size unchanged after refusal" "$(qinfo r.qcow2 virtual-size)" $((64 << 20))

# check: clean image output and exit status.
has "check clean" "$(vmkit img check 1.qcow2)" "No errors were found on the image."
ok "check exit 0" vmkit img check 1.qcow2
has "check image end offset" "$(vmkit img check 1.qcow2)" "Image end offset: "
eq "check json agrees with qemu-img on image-end-offset" \
    "$(vmkit img check --json 1.qcow2 | python3 -c 'import json,sys; print(json.load(sys.stdin)["image-end-offset"])')" \
    "$(qemu-img check --output=json 1.qcow2 | python3 -c 'import json,sys; print(json.load(sys.stdin)["image-end-offset"])')"
finish
