#!/bin/bash
# qcow2 structures vmkit does not interpret, and headers QEMU refuses.
#
# Persistent dirty bitmaps (qemu-img bitmap, with data written by qemu-io
# so the bitmaps have tables and data clusters): img check counts their
# directory, tables and data clusters as references, so check --repair
# leaks|all never frees them - qemu-img check stays clean and qemu-img
# still lists (and can remove) the bitmaps.  A vmkit write drops the
# bitmaps as QEMU would (autoclear bit and extension gone: their clusters
# are leaks, never dangling).  A structure vmkit cannot see into (unknown
# extension, feature bit or header field, broken bitmap directory) makes
# repair refuse, with the image untouched.  Every header QEMU refuses to
# open (qemu-img info is the oracle) vmkit refuses too, so img check never
# calls it clean; hostile offsets near 2^64 are refused without wrapping.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/img_lib.sh"
cd "$T" || exit 1
VKIO=$(dirname "$VMKIT")/tools/vkio
CRAFT="python3 $TOP/tests/qcow2_craft.py"
BITMAPS=0x23852875
sum() { sha256sum "$1" | cut -d' ' -f1; }

# bitmaps FILE: "name table-entries data-clusters" per bitmap, read from
# the file itself (independent of both vmkit and qemu).
bitmaps() {
    python3 - "$1" <<'PY'
import struct, sys
f = open(sys.argv[1], 'rb'); h = f.read(1 << 16)
p = struct.unpack('>I', h[100:104])[0]
while True:
    t, l = struct.unpack('>II', h[p:p + 8])
    if t == 0:
        break
    if t == 0x23852875:
        nb, _, ds, do = struct.unpack('>IIQQ', h[p + 8:p + 32])
        f.seek(do); d = f.read(ds); q = 0
        for i in range(nb):
            to, ts, fl, ty, gb, ns, es = struct.unpack('>QIIBBHI', d[q:q + 24])
            f.seek(to); tab = struct.unpack('>%dQ' % ts, f.read(8 * ts))
            name = d[q + 24 + es:q + 24 + es + ns].decode()
            print(name, ts, sum(1 for e in tab if e & 0x00fffffffffffe00))
            q += (24 + es + ns + 7) // 8 * 8
    p += 8 + (l + 7) // 8 * 8
PY
}

# leak FILE: one more cluster at the end of the file, counted but unused.
leak() {
    cs=$(qinfo "$1" cluster-size)
    size=$(stat -c %s "$1")
    end=$(( (size + cs - 1) / cs ))
    truncate -s $(( (end + 1) * cs )) "$1"
    $CRAFT "$1" refcount "$end" 1
}

# qleaks FILE: leaks qemu-img check counts.
qleaks() {
    qemu-img check --output=json "$1" 2>/dev/null |
        python3 -c 'import json,sys; print(json.load(sys.stdin).get("leaks", 0))'
}

# --- images with bitmaps -----------------------------------------------
# big.qcow2: 64 KiB clusters, two auto bitmaps dirtied by qemu-io, a
# disabled one filled by --merge.  small.qcow2: 512-byte clusters and
# 512-byte granularity: a bitmap table of several entries, some with data.
qemu-img create -q -f qcow2 big.qcow2 64M
qemu-io -c 'write -P 0x11 0 1M' big.qcow2 >/dev/null
qemu-img bitmap --add big.qcow2 b0
qemu-img bitmap --add -g 131072 big.qcow2 b1
qemu-io -c 'write -P 0x22 2M 3M' -c 'write -P 0x33 40M 1M' big.qcow2 >/dev/null
qemu-img bitmap --add --disable big.qcow2 b2
qemu-img bitmap --merge b0 big.qcow2 b2
qemu-img create -q -f qcow2 -o cluster_size=512 small.qcow2 8M
qemu-img bitmap --add -g 512 small.qcow2 fine
qemu-io -c 'write -P 0x44 0 1M' -c 'write -P 0x55 6M 100k' small.qcow2 >/dev/null
eq "big: three bitmaps with data (file layout)" "$(bitmaps big.qcow2)" "b0 1 1
b1 1 1
b2 1 1"
eq "small: a 4-entry bitmap table, 2 data clusters" "$(bitmaps small.qcow2)" "fine 4 2"

for img in big small; do
    ok "$img: qemu-img check clean to start" qemu-img check -q $img.qcow2
    ok "$img: vmkit img check counts the bitmaps (no leaks)" vmkit img check $img.qcow2
    before=$(bitmaps $img.qcow2)
    for mode in leaks all; do
        cp $img.qcow2 r.qcow2
        leak r.qcow2
        eq "$img -r $mode: qemu-img sees exactly the one planted leak" "$(qleaks r.qcow2)" 1
        fails_with "$img -r $mode: vmkit sees it too" 3 "1 leaked clusters" vmkit img check r.qcow2
        ok "$img -r $mode: repair" vmkit img check --repair $mode r.qcow2
        ok "$img -r $mode: qemu-img check clean after repair" qemu-img check r.qcow2
        eq "$img -r $mode: bitmap directory, tables and data kept" "$(bitmaps r.qcow2)" "$before"
        has "$img -r $mode: qemu-img info still lists the bitmaps" \
            "$(qemu-img info r.qcow2)" "$(bitmaps $img.qcow2 | head -1 | cut -d' ' -f1)"
        ok "$img -r $mode: content unchanged" qemu-img compare $img.qcow2 r.qcow2
        ok "$img -r $mode: qemu-img can still remove a bitmap" \
            qemu-img bitmap --remove r.qcow2 "$(bitmaps $img.qcow2 | head -1 | cut -d' ' -f1)"
        ok "$img -r $mode: and the image stays clean" qemu-img check r.qcow2
    done
done

# Lazy refcounts left dirty: the rebuild (check -r all) counts bitmaps.
cp small.qcow2 dirty.qcow2
$CRAFT dirty.qcow2 set incompatible_features 1
ok "dirty: vmkit img check -r all" vmkit img check -r all dirty.qcow2
ok "dirty: qemu-img check clean" qemu-img check dirty.qcow2
eq "dirty: bitmap kept" "$(bitmaps dirty.qcow2)" "fine 4 2"

# A vmkit write: it keeps no bitmaps in step, so it clears the autoclear
# bit and drops the extension; the bitmap clusters become leaks.
cp big.qcow2 w.qcow2
echo "w 0 4096 7" | "$VKIO" w.qcow2 qcow2 >/dev/null
fails "vmkit write: qemu-img check finds only leaks" 3 qemu-img check w.qcow2
leaks=$(qleaks w.qcow2)
fails_with "vmkit write: vmkit agrees on the leaks" 3 "$leaks leaked clusters" vmkit img check w.qcow2
none "vmkit write: bitmaps extension dropped" bitmaps w.qcow2
qemu-img info w.qcow2 >info.out 2>&1
eq "vmkit write: qemu-img no longer warns about bitmaps" "$(grep -c 'lacking bitmap' info.out)" 0
eq "vmkit write: autoclear bits cleared" "$($CRAFT w.qcow2 get autoclear_features)" 0
ok "vmkit write: repair the leaks" vmkit img check -r leaks w.qcow2
ok "vmkit write: qemu-img check clean" qemu-img check w.qcow2

# --- structures vmkit cannot see into: repair refuses ------------------
refuse() {  # DESC FILE
    s=$(sum "$2")
    fails_with "$1: check -r leaks refused" 1 "not repairing" vmkit img check -r leaks "$2"
    fails_with "$1: check -r all refused" 1 "not repairing" vmkit img check -r all "$2"
    eq "$1: image untouched" "$(sum "$2")" "$s"
}
cp small.qcow2 u.qcow2; leak u.qcow2; $CRAFT u.qcow2 ext 0x1234abcd 0011223344556677
fails_with "unknown extension: check warns the leak may be in use" 3 "unknown header extension 0x1234abcd" \
    vmkit img check u.qcow2
refuse "unknown extension" u.qcow2
cp small.qcow2 u2.qcow2; leak u2.qcow2; $CRAFT u2.qcow2 set compatible_features 4
refuse "unknown compatible feature" u2.qcow2
cp small.qcow2 u3.qcow2; leak u3.qcow2; $CRAFT u3.qcow2 set autoclear_features 0x11
refuse "unknown autoclear feature" u3.qcow2
# A bitmap directory entry whose table is past the end of the file.
cp small.qcow2 bd.qcow2; leak bd.qcow2
dir=$($CRAFT bd.qcow2 extget $BITMAPS 16)
python3 -c "import struct,sys; f=open('bd.qcow2','r+b'); f.seek($dir); f.write(struct.pack('>Q', 1 << 40))"
fails "broken bitmap directory: check reports corruption" 2 vmkit img check bd.qcow2
refuse "broken bitmap directory" bd.qcow2
# Unknown header fields past the known 112 bytes survive a header rewrite.
qemu-img create -q -f qcow2 hx.qcow2 8M
$CRAFT hx.qcow2 set header_length 120
python3 - <<'PY'
import struct
f = open('hx.qcow2', 'r+b'); f.seek(112); rest = f.read(400)
f.seek(112); f.write(struct.pack('>Q', 0x0102030405060708) + rest[:392])
PY
ok "extra header field: qemu-img accepts it" qemu-img info hx.qcow2
ok "extra header field: vmkit resize rewrites the header" vmkit img resize hx.qcow2 16M
eq "extra header field: kept" "$(od -An -tx1 -j112 -N8 hx.qcow2 | tr -d ' ')" 0102030405060708
ok "extra header field: qemu-img check clean" qemu-img check hx.qcow2

# --- headers QEMU refuses ----------------------------------------------
qemu-img create -q -f qcow2 base.qcow2 4M
qemu-io -c 'write -P 0x5a 0 64k' base.qcow2 >/dev/null
qemu-img create -q -f qcow2 zero.qcow2 0
refused() {  # DESC FILE [noqemu]
    [ -z "${3:-}" ] && fails "$1: qemu-img refuses it (oracle)" 1 qemu-img info "$2"
    fails_with "$1: vmkit img info refuses" 1 "$2" vmkit img info "$2"
    fails_with "$1: vmkit img check does not call it clean" 1 "$2" vmkit img check "$2"
}
mk() { n=$1; from=$2; shift 2; cp "$from" "$n"; $CRAFT "$n" "$@"; }
mk snapoff.qcow2 base.qcow2 set snapshots_offset 65537
refused "snapshot table at a misaligned offset (no snapshots)" snapoff.qcow2
mk l1off.qcow2 zero.qcow2 set l1_table_offset 65537
refused "empty L1 table at a misaligned offset" l1off.qcow2
mk l1big.qcow2 zero.qcow2 set l1_table_offset "1<<63"
refused "empty L1 table past 2^63" l1big.qcow2
mk snapbig.qcow2 base.qcow2 set snapshots_offset "1<<63"
refused "no snapshots, table offset past 2^63" snapbig.qcow2
mk zlibbit.qcow2 base.qcow2 set incompatible_features 8
refused "compression type bit with zlib" zlibbit.qcow2
mk rawbit.qcow2 base.qcow2 set autoclear_features 2
# (QEMU 7.2 still opens this one; later versions refuse it, as the spec
# allows the bit only with an external data file.)
refused "raw external data bit without a data file" rawbit.qcow2 noqemu
mk crypto.qcow2 base.qcow2 ext 0x0537be77 00000000000100000000000000010000
refused "encryption header extension without encryption" crypto.qcow2
mk bfmt.qcow2 base.qcow2 ext 0xe2792aca 616161616161616161616161616161616161
refused "backing format name of 18 bytes" bfmt.qcow2
# The bitmaps extension: nb_bitmaps(4) reserved(4) dir_size(8) dir_offset(8).
w0=$($CRAFT small.qcow2 extget $BITMAPS 0); doff=$($CRAFT small.qcow2 extget $BITMAPS 16)
mk bmnb.qcow2 small.qcow2 extset $BITMAPS 0 0
refused "bitmaps extension with no bitmaps" bmnb.qcow2
mk bmres.qcow2 small.qcow2 extset $BITMAPS 0 $((w0 | 1))
refused "bitmaps extension reserved field set" bmres.qcow2
mk bmsize.qcow2 small.qcow2 extset $BITMAPS 8 0
refused "bitmap directory of size 0" bmsize.qcow2
mk bmoff.qcow2 small.qcow2 extset $BITMAPS 16 $((doff + 8))
refused "bitmap directory at a misaligned offset" bmoff.qcow2
cp base.qcow2 snap.qcow2; qemu-img snapshot -c s1 snap.qcow2
so=$($CRAFT snap.qcow2 get snapshots_offset)
python3 -c "import struct; f=open('snap.qcow2','r+b'); f.seek($so + 36); f.write(struct.pack('>I', 2000))"
refused "snapshot entry with 2000 bytes of extra data" snap.qcow2

# Offsets near 2^64: refused as invalid, never wrapped into the file.
mk w1.qcow2 base.qcow2 set l1_table_offset "(1<<64)-65536"
fails_with "L1 offset near 2^64 refused" 1 "L1 table" vmkit img info w1.qcow2
mk w2.qcow2 base.qcow2 set refcount_table_offset "(1<<64)-65536"
fails_with "refcount table offset near 2^64 refused" 1 "refcount table" vmkit img info w2.qcow2
cp base.qcow2 w3.qcow2; qemu-img snapshot -c s1 w3.qcow2
so=$($CRAFT w3.qcow2 get snapshots_offset)
python3 -c "import struct; f=open('w3.qcow2','r+b'); f.seek($so); f.write(struct.pack('>Q', (1<<64)-65536))"
fails "snapshot L1 near 2^64: check reports corruption" 2 vmkit img check w3.qcow2
cp small.qcow2 w4.qcow2
$CRAFT w4.qcow2 extset $BITMAPS 16 "(1<<64)-512"
fails "bitmap directory near 2^64: check reports corruption" 2 vmkit img check w4.qcow2
finish
