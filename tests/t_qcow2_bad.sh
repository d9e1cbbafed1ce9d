#!/bin/bash
# Damaged qcow2 images (crafted with tests/qcow2_craft.py from images
# qemu-io wrote): every vmkit command that meets the damage fails with a
# message naming the file and exit 1, never a crash or sanitizer report,
# and the image is byte-identical afterwards (sha256).  Then img check
# finds a leaked cluster and a refcount too low, and img check --repair
# fixes them so that qemu-img check is clean and the content is kept.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/img_lib.sh"
cd "$T" || exit 1
VKIO=$(dirname "$VMKIT")/tools/vkio
CRAFT="python3 $TOP/tests/qcow2_craft.py"
MASK=0x00fffffffffffe00

qcow2_ok

# base.qcow2: v3, 64 KiB clusters, data at 0 (200 KiB) and at 10 MiB.
ok "qemu-img create base.qcow2" qemu-img create -q -f qcow2 base.qcow2 64M
ok "qemu-io writes base.qcow2" qemu-io -c 'write -P 0x5a 0 200k' -c 'write -P 0x33 10M 64k' base.qcow2
ok "qemu-img convert base.qcow2 to raw" qemu-img convert -O raw base.qcow2 base.raw
# comp.qcow2: compressed clusters.
ok "qemu-img convert -c to comp.qcow2" qemu-img convert -c -O qcow2 base.raw comp.qcow2

sum() { sha256sum "$1" | cut -d' ' -f1; }

# unchanged DESC FILE SUM: the file is byte-identical.
unchanged() { eq "$1: file unchanged" "$(sum "$2")" "$3"; }

# mk NAME FROM CRAFT-ARGS...: copy FROM to NAME and apply one craft.
mk() { n=$1; from=$2; shift 2; ok "craft $n: $*" _mk "$n" "$from" "$@"; }
_mk() { cp "$2" "$1" && $CRAFT "$1" "${@:3}"; }
# craft VAR ARGS...: a value qcow2_craft.py reads (a check: never empty)
craft() { _cv=$1; shift; run_ok "$_cv" $CRAFT "$@" && [ -n "${!_cv}" ]; }

# refused DESC FILE: open-time damage: info, convert, a metadata write
# (resize) and a data write all fail naming the file; nothing changes.
refused() {
    s=$(sum "$2")
    fails_with "$1: img info" 1 "$2" vmkit img info "$2"
    fails_with "$1: img info --json" 1 "$2" vmkit img info --json "$2"
    fails_with "$1: img convert" 1 "$2" vmkit img convert -O raw "$2" out.raw
    fails_with "$1: img resize" 1 "$2" vmkit img resize "$2" +1M
    fails_with "$1: img check" 1 "$2" vmkit img check "$2"
    fails "$1: data write" 1 "$VKIO" "$2" qcow2 <<<"w 0 4096 5"
    unchanged "$1" "$2" "$s"
    rm -f out.raw
}

# no_write DESC FILE [noresize]: reading may or may not work, but writes
# (data and metadata) are refused and the file stays byte-identical.  With
# noresize the damage is in an L2 table, which resize never reads.
no_write() {
    s=$(sum "$2")
    vmkit img info "$2" >info.out 2>&1; rc=$?
    ok "$1: img info exits 0 or 1, no crash" test $rc -le 1 -a -z "$(grep -E 'Sanitizer|runtime error' info.out)"
    fails "$1: data write to a new cluster" 1 "$VKIO" "$2" qcow2 <<<"w $((20 << 20)) 4096 5"
    fails "$1: data write over data" 1 "$VKIO" "$2" qcow2 <<<"w 0 4096 5"
    [ "${3:-}" = noresize ] || fails_with "$1: img resize" 1 "$2" vmkit img resize "$2" +1M
    unchanged "$1" "$2" "$s"
}

# unreadable DESC FILE: reading the damaged part fails naming the file.
unreadable() {
    s=$(sum "$2")
    fails_with "$1: img convert" 1 "$2" vmkit img convert -O raw "$2" out.raw
    fails_with "$1: img compare (exit 2 = error, as qemu-img)" 2 "$2" vmkit img compare base.raw "$2"
    unchanged "$1" "$2" "$s"
    rm -f out.raw
}

# --- damage found when opening ---
ok "cut base.qcow2 at 50, 100, 65536 bytes" \
    sh -c 'head -c 50 base.qcow2 >trunc50.qcow2 && head -c 100 base.qcow2 >trunc100.qcow2 && head -c 65536 base.qcow2 >trunc64k.qcow2' 
refused "header truncated to 50 bytes" trunc50.qcow2
refused "v3 header truncated to 100 bytes" trunc100.qcow2
refused "file cut after the header cluster" trunc64k.qcow2
mk v4.qcow2 base.qcow2 set version 4;                refused "version 4" v4.qcow2
mk v1.qcow2 base.qcow2 set version 1;                refused "version 1" v1.qcow2
mk cb8.qcow2 base.qcow2 set cluster_bits 8;          refused "cluster_bits 8" cb8.qcow2
mk cb22.qcow2 base.qcow2 set cluster_bits 22;        refused "cluster_bits 22" cb22.qcow2
mk l1big.qcow2 base.qcow2 set l1_size 0x7fffffff;    refused "l1_size absurd" l1big.qcow2
mk l1una.qcow2 base.qcow2 set l1_table_offset 0x30200; refused "L1 offset unaligned" l1una.qcow2
mk l1eof.qcow2 base.qcow2 set l1_table_offset '1<<40'; refused "L1 offset past EOF" l1eof.qcow2
mk rtuna.qcow2 base.qcow2 set refcount_table_offset 0x10200; refused "refcount table unaligned" rtuna.qcow2
mk rtbig.qcow2 base.qcow2 set refcount_table_clusters 0x7fffffff; refused "refcount table absurdly large" rtbig.qcow2
mk incompat.qcow2 base.qcow2 set incompatible_features '1<<20'
refused "unknown incompatible feature" incompat.qcow2
mk vsize.qcow2 base.qcow2 set size '1<<62';          refused "virtual size 2^62" vsize.qcow2
mk hlen.qcow2 base.qcow2 set header_length 0xffffff00; refused "header_length absurd" hlen.qcow2
mk snaps.qcow2 base.qcow2 set nb_snapshots 100000;   refused "nb_snapshots absurd" snaps.qcow2
mk crypt.qcow2 base.qcow2 set crypt_method 1;        refused "encrypted (crypt_method 1)" crypt.qcow2
mk bflen.qcow2 base.qcow2 set backing_file_offset 0x1000
ok "craft bflen.qcow2: backing_file_size 2000" $CRAFT bflen.qcow2 set backing_file_size 2000
ok "craft bflen.qcow2: a 2000-byte name" python3 -c "f=open('bflen.qcow2','r+b'); f.seek(0x1000); f.write(b'a'*2000)"
refused "backing_file_size 2000 (> 1023)" bflen.qcow2
mk bfeof.qcow2 base.qcow2 set backing_file_offset '1<<40'
ok "craft bfeof.qcow2: backing_file_size 10" $CRAFT bfeof.qcow2 set backing_file_size 10
refused "backing file name past EOF" bfeof.qcow2

# Backing chain problems: the chain is opened to read.
ok "qemu-img create miss.qcow2 -b nothere" qemu-img create -q -f qcow2 -u -b nothere.qcow2 -F qcow2 miss.qcow2 64M
s=$(sum miss.qcow2)
fails_with "missing backing file: convert names it" 1 "nothere.qcow2" vmkit img convert -O raw miss.qcow2 out.raw
fails_with "missing backing file: compare names it (exit 2)" 2 "nothere.qcow2" vmkit img compare miss.qcow2 base.raw
unchanged "missing backing file" miss.qcow2 "$s"
ok "qemu-img create la.qcow2 over base" qemu-img create -q -f qcow2 -b base.qcow2 -F qcow2 la.qcow2
ok "qemu-img create lb.qcow2 over la" qemu-img create -q -f qcow2 -b la.qcow2 -F qcow2 lb.qcow2
ok "qemu-img rebase -u la onto lb (a loop)" qemu-img rebase -u -b lb.qcow2 -F qcow2 la.qcow2
sa=$(sum la.qcow2); sb=$(sum lb.qcow2)
fails_with "backing loop a->b->a: convert" 1 "qcow2" vmkit img convert -O raw lb.qcow2 out.raw
fails_with "backing loop a->b->a: info --backing-chain" 1 "qcow2" vmkit img info --backing-chain lb.qcow2
fails "backing loop a->b->a: data write" 1 "$VKIO" lb.qcow2 qcow2 <<<"w 0 4096 5"
unchanged "backing loop a" la.qcow2 "$sa"
unchanged "backing loop b" lb.qcow2 "$sb"
ok "qemu-img create self.qcow2" qemu-img create -q -f qcow2 self.qcow2 64M
ok "qemu-img rebase -u self.qcow2 onto itself" qemu-img rebase -u -f qcow2 -b self.qcow2 -F qcow2 self.qcow2
fails_with "image its own backing file" 1 "self.qcow2" vmkit img convert -O raw self.qcow2 out.raw
rm -f out.raw

# --- damage in the tables, met when reading or writing ---
craft l1e base.qcow2 l1get 0
l2=$(( l1e & MASK ))
mk l2eof.qcow2 base.qcow2 l1 0 '(1<<63)|(1<<40)'
unreadable "L2 table past EOF" l2eof.qcow2;     no_write "L2 table past EOF" l2eof.qcow2 noresize
mk l2una.qcow2 base.qcow2 l1 0 "(1<<63)|($l2 + 0x200)"
unreadable "L2 table offset unaligned" l2una.qcow2; no_write "L2 table offset unaligned" l2una.qcow2 noresize
# An L2 table on top of the refcount table: a write through it would
# overwrite refcount metadata (qemu refuses it as an overlap too).
craft rto base.qcow2 get refcount_table_offset
mk l2rt.qcow2 base.qcow2 l1 0 "(1<<63)|$rto"
s=$(sum l2rt.qcow2)
fails "L2 table over the refcount table: data write refused" 1 "$VKIO" l2rt.qcow2 qcow2 <<<"w 0 4096 5"
unchanged "L2 table over the refcount table" l2rt.qcow2 "$s"
craft l1o base.qcow2 get l1_table_offset
mk l2l1.qcow2 base.qcow2 l1 0 "(1<<63)|$l1o"
s=$(sum l2l1.qcow2)
fails "L2 table over the L1 table: data write refused" 1 "$VKIO" l2l1.qcow2 qcow2 <<<"w 0 4096 5"
unchanged "L2 table over the L1 table" l2l1.qcow2 "$s"
# A data cluster past EOF: qemu reads it as zeroes; vmkit does the same
# or refuses naming the file, and never crashes or changes the file.
mk daeof.qcow2 base.qcow2 l2 0 '(1<<63)|(1<<40)'
s=$(sum daeof.qcow2)
ok "qemu-img reads daeof.qcow2" qemu-img convert -O raw daeof.qcow2 daeof.q.raw
if vmkit img convert -O raw daeof.qcow2 daeof.v.raw >daeof.out 2>&1; then
    ok "data cluster past EOF: read as zeroes like qemu" cmp daeof.q.raw daeof.v.raw
else
    fails_with "data cluster past EOF: refused naming the file" 1 daeof.qcow2 vmkit img convert -O raw daeof.qcow2 x.raw
fi
unchanged "data cluster past EOF" daeof.qcow2 "$s"
mk l1hdr.qcow2 base.qcow2 set l1_table_offset 0
unreadable "L1 table over the header" l1hdr.qcow2; no_write "L1 table over the header" l1hdr.qcow2
mk rthdr.qcow2 base.qcow2 set refcount_table_offset 0
no_write "refcount table over the header" rthdr.qcow2
mk rteof.qcow2 base.qcow2 set refcount_table_offset '1<<40'
no_write "refcount table past EOF" rteof.qcow2
craft ce comp.qcow2 l2get 0
cbits=$((62 - (16 - 8)))
mk zeof.qcow2 comp.qcow2 l2 0 "($ce & ~((1<<$cbits)-1)) | (1<<40)"
unreadable "compressed cluster past EOF" zeof.qcow2
mk zjunk.qcow2 comp.qcow2 l2 0 "($ce & ~((1<<$cbits)-1)) | 0"
unreadable "compressed cluster is the header (not deflate data)" zjunk.qcow2

# --- the corrupt bit: read-only works, writes refused ---
mk corrupt.qcow2 base.qcow2 set incompatible_features 2
s=$(sum corrupt.qcow2)
ok "corrupt bit: img info works" vmkit img info corrupt.qcow2
eq "corrupt bit: info --json says corrupt" \
    "$(vmkit img info --json corrupt.qcow2 | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["format-specific"]["data"]["corrupt"])' 2>&1)" True
ok "corrupt bit: convert works" vmkit img convert -O raw corrupt.qcow2 c.raw
ok "corrupt bit: content right" cmp c.raw base.raw
fails_with "corrupt bit: resize refused" 1 corrupt.qcow2 vmkit img resize corrupt.qcow2 +1M
fails "corrupt bit: data write refused" 1 "$VKIO" corrupt.qcow2 qcow2 <<<"w 0 4096 5"
unchanged "corrupt bit" corrupt.qcow2 "$s"

# --- check and repair ---
# A leaked cluster: one more cluster at the end of the file, counted once.
end=$(stat -c %s base.qcow2)
cp base.qcow2 leak.qcow2; truncate -s $((end + 65536)) leak.qcow2
ok "craft leak.qcow2: one leaked cluster" $CRAFT leak.qcow2 refcount $((end / 65536)) 1
fails "leak: qemu-img check agrees it leaks" 3 qemu-img check leak.qcow2
s=$(sum leak.qcow2)
fails "leak: img check exit 3" 3 vmkit img check leak.qcow2
has "leak: img check counts it" "$(vmkit img check leak.qcow2)" "1 leaked clusters were found"
eq "leak: json" "$(vmkit img check --json leak.qcow2 | python3 -c 'import json,sys; print(json.load(sys.stdin)["leaks"])' 2>&1)" 1
unchanged "leak: check without repair" leak.qcow2 "$s"
ok "leak: img check --repair leaks" vmkit img check --repair leaks leak.qcow2
qcheck "leak: qemu-img check clean after repair" leak.qcow2
ok "leak: content kept" qemu-img compare -q base.raw leak.qcow2
ok "leak: img check clean after repair" vmkit img check leak.qcow2

# A refcount too low: the data cluster at guest 0 counted 0.
craft l2e base.qcow2 l2get 0
h=$(( l2e & MASK ))
mk low.qcow2 base.qcow2 refcount $((h / 65536)) 0
fails "low refcount: qemu-img check agrees it is corrupt" 2 qemu-img check low.qcow2
s=$(sum low.qcow2)
fails "low refcount: img check exit 2" 2 vmkit img check low.qcow2
has "low refcount: reported as errors" "$(vmkit img check low.qcow2)" "errors were found on the image"
unchanged "low refcount: check without repair" low.qcow2 "$s"
# The cluster counted free is in use: a write allocating there would
# overwrite data, so vmkit refuses to write until it is repaired.
fails "low refcount: a write is refused before repair" 1 "$VKIO" low.qcow2 qcow2 <<<"w $((20 << 20)) 65536 5"
unchanged "low refcount: refused write" low.qcow2 "$s"
fails "low refcount: --repair leaks does not fix corruption" 2 vmkit img check --repair leaks low.qcow2
ok "low refcount: img check --repair all" vmkit img check --repair all low.qcow2
qcheck "low refcount: qemu-img check clean after repair" low.qcow2
ok "low refcount: content kept" qemu-img compare -q base.raw low.qcow2
ok "low refcount: writes work after repair" "$VKIO" low.qcow2 qcow2 <<<"w $((20 << 20)) 65536 5"
qcheck "low refcount: qemu-img check clean after a write" low.qcow2
finish
